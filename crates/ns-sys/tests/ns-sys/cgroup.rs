//! A cgroup per sandbox: entered at clone, limits where the controllers
//! are enabled (a clear refusal where not), killed and removed at the end,
//! frozen and measured on the way. Cgroups are made only below the test
//! process's own, and removed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use butter_tests::{become_nobody, exit_code, fork_child, skip};
use ns_sys::{
    Cgroup, CgroupLimits, ChildStatus, ErrorKind, Namespaces, Sandbox, Stdio, own_cgroup,
};

/// This process's cgroup v2 directory, where tests may make cgroups, or a
/// skip saying why not.
fn own() -> PathBuf {
    let dir = match own_cgroup() {
        Ok(dir) => dir,
        Err(e) => skip(&format!("no cgroup v2 here: {e}")),
    };
    let probe = dir.join(format!("butter-probe-{}", std::process::id()));
    match std::fs::create_dir(&probe) {
        Ok(()) => {
            std::fs::remove_dir(&probe).unwrap();
            dir
        }
        Err(e) => skip(&format!(
            "cannot make a cgroup below this process's own ({}): {e}",
            dir.display()
        )),
    }
}

fn ours_left(parent: &Path) -> Vec<String> {
    let prefix = format!("butter-{}-", std::process::id());
    std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// Whether `pid` still runs (a zombie has ended).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(") ").next().map(|r| !r.starts_with('Z')))
        .unwrap_or(false)
}

/// The program starts inside its cgroup (`/proc/self/cgroup` names it);
/// what it leaves running when it exits (a daemon, no pid namespace to
/// take it down) is killed; the cgroup is removed.
pub(crate) fn entered_at_clone_and_nothing_survives() {
    let parent = own();
    let out = Sandbox::new("sh")
        .unshare(Namespaces::USER)
        .cgroup(Some(parent.clone()), CgroupLimits::default())
        .args([
            "-c",
            "grep '^0::' /proc/self/cgroup; sleep 1000 >/dev/null 2>&1 & echo daemon=$!",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status,
        ChildStatus::Exited(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8(out.stdout).unwrap();
    let own_rel = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let own_rel = own_rel
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let want = format!("0::{own_rel}/butter-{}-", std::process::id());
    assert!(said.starts_with(&want), "{said:?} (want {want}…)");
    let daemon: u32 = said
        .lines()
        .find_map(|l| l.strip_prefix("daemon="))
        .unwrap()
        .parse()
        .unwrap();
    // Killed with the cgroup; the host's init reaps it when it gets to it.
    let end = Instant::now() + Duration::from_secs(10);
    while running(daemon) {
        assert!(
            Instant::now() < end,
            "the daemon {daemon} survived the sandbox"
        );
        std::thread::yield_now();
    }
    assert!(ours_left(&parent).is_empty(), "{:?}", ours_left(&parent));
    assert!(out.usage.is_some_and(|u| u.cpu_usec > 0), "{:?}", out.usage);
}

/// Freeze and thaw a running sandbox through its cgroup; its CPU time
/// stops while frozen; usage comes back after the end.
pub(crate) fn freeze_thaw_and_usage() {
    let parent = own();
    let mut s = Sandbox::new("sh");
    s.unshare(Namespaces::USER)
        .cgroup(Some(parent.clone()), CgroupLimits::default())
        .stdin(Stdio::Piped)
        .args(["-c", "while :; do :; done"]);
    let mut child = s.spawn().unwrap();
    let cgroup = child.cgroup().unwrap();
    assert!(cgroup.is_populated().unwrap());
    assert_eq!(cgroup.procs().unwrap(), [child.pid()]);
    // Let it burn some CPU first: wait until the kernel has counted some.
    let end = Instant::now() + Duration::from_secs(10);
    while cgroup.usage().unwrap().cpu_usec == 0 {
        assert!(Instant::now() < end);
        std::thread::yield_now();
    }
    cgroup.freeze(true, Duration::from_secs(10)).unwrap();
    let frozen_at = cgroup.usage().unwrap().cpu_usec;
    let state = std::fs::read_to_string(format!("/proc/{}/stat", child.pid())).unwrap();
    assert!(
        !state.rsplit(") ").next().unwrap().starts_with('R'),
        "{state}"
    );
    assert_eq!(
        cgroup.usage().unwrap().cpu_usec,
        frozen_at,
        "no CPU while frozen"
    );
    cgroup.freeze(false, Duration::from_secs(10)).unwrap();
    cgroup.kill().unwrap();
    assert_eq!(
        child.wait().unwrap(),
        ChildStatus::Killed {
            signal: ns_sys::Signal::KILL,
            core_dumped: false
        }
    );
    assert!(child.cgroup().is_none());
    let usage = child.usage().unwrap();
    assert!(usage.cpu_usec >= frozen_at, "{usage:?}");
    assert!(ours_left(&parent).is_empty());
}

/// Limits: where the controller is enabled for the new cgroup they hold
/// (memory.max kills the hog inside, pids.max stops the fork past it);
/// where it is not, the refusal names the directory and the controller,
/// and no cgroup is left. Both are what the kernel here says.
pub(crate) fn limits_or_a_clear_refusal() {
    let parent = own();
    let probe = Cgroup::create(
        &parent,
        &format!("butter-{}-probe", std::process::id()),
        &CgroupLimits::default(),
    )
    .unwrap();
    let have = probe.controllers().unwrap();
    drop(probe);
    let memory = CgroupLimits {
        memory_max: Some(16 << 20),
        swap_max: Some(0),
        ..CgroupLimits::default()
    };
    let pids = CgroupLimits {
        pids_max: Some(4),
        ..CgroupLimits::default()
    };
    for (controller, limits, script) in [
        (
            "memory",
            memory,
            "x=$(head -c 64000000 /dev/zero | tr '\\0' x); echo survived",
        ),
        (
            "pids",
            pids,
            "for i in 1 2 3 4 5 6 7 8; do sleep 10 & done 2>&1 | grep -c 'fork\\|Resource' ; kill $(jobs -p) 2>/dev/null; true",
        ),
    ] {
        let run = Sandbox::new("sh")
            .unshare(Namespaces::USER)
            .cgroup(Some(parent.clone()), limits)
            .args(["-c", script])
            .output();
        if have.iter().any(|c| c == controller) {
            let out = run.unwrap();
            let said = String::from_utf8_lossy(&out.stdout).into_owned();
            match controller {
                "memory" => assert!(
                    !said.contains("survived") && out.usage.unwrap().oom_kills.unwrap_or(0) > 0,
                    "{said:?} {:?}",
                    out.usage
                ),
                _ => assert_ne!(said.trim(), "0", "no fork failed past pids.max"),
            }
        } else {
            eprintln!(
                "partly skipped: the {controller} controller is not enabled below {} (it has: {have:?}); the refusal is checked instead",
                parent.display()
            );
            let e = run.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
            let text = e.to_string();
            assert!(
                text.contains(controller) && text.contains(&parent.display().to_string()),
                "{text}"
            );
        }
        assert!(ours_left(&parent).is_empty(), "{:?}", ours_left(&parent));
    }
}

/// A parent the caller may not write, and one that is no cgroup: refused
/// before anything runs, naming the directory.
pub(crate) fn parents_refused() {
    let parent = own();
    let e = Sandbox::new("true")
        .cgroup(Some("/proc".into()), CgroupLimits::default())
        .spawn()
        .unwrap_err();
    assert!(e.to_string().contains("/proc"), "{e}");
    let e = Cgroup::open("/tmp").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("cgroup.procs"), "{e}");
    let path = parent.clone();
    let pid = fork_child(move || {
        become_nobody();
        let e = Sandbox::new("true")
            .unshare(Namespaces::USER)
            .cgroup(Some(path.clone()), CgroupLimits::default())
            .spawn()
            .unwrap_err();
        let ok = e.errno() == libc::EACCES && e.to_string().contains(&path.display().to_string());
        if !ok {
            eprintln!("{e}");
        }
        i32::from(!ok)
    });
    assert_eq!(exit_code(pid), 0);
    assert!(ours_left(&parent).is_empty());
}

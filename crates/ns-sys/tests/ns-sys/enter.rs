//! Entering a running "container" made with the sandbox: by pid, through
//! stub container tools, beside util-linux `nsenter`.

use std::collections::BTreeMap;
use std::process::Command;

use butter_tests::{TempDir, become_nobody, fork_child, skip};
use ns_sys::{
    Child, ChildStatus, Enter, ErrorKind, IdMap, Namespace, Namespaces, NsFd, Sandbox, Signal,
    Target,
};

use crate::{container_root, fields, need_userns};

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A running container: a sleeping init in fresh namespaces and a new
/// root. As root its user namespace maps 65536 ids (so that user `app`,
/// 1000, exists inside); unprivileged, only root.
fn container(root: &TempDir) -> Child {
    let mut s = Sandbox::new("sleep");
    container_root(&mut s, root.path());
    s.unshare(
        Namespaces::USER
            | Namespaces::PID
            | Namespaces::UTS
            | Namespaces::IPC
            | Namespaces::NET
            | Namespaces::CGROUP,
    )
    .hostname("box")
    .death_signal(Signal::KILL)
    .arg("1000");
    if is_root() {
        // Its root belongs to its own root, as a container's image does.
        for entry in walk(root.path()) {
            std::os::unix::fs::lchown(&entry, Some(200_000), Some(200_000)).unwrap();
        }
        let range = vec![IdMap {
            inside: 0,
            outside: 200_000,
            count: 65536,
        }];
        s.uid_map(range.clone()).gid_map(range);
    }
    s.spawn().expect("start the container")
}

/// `path` and everything under it.
fn walk(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![path.to_path_buf()];
    if path.is_dir() && !path.is_symlink() {
        for e in std::fs::read_dir(path).unwrap() {
            out.extend(walk(&e.unwrap().path()));
        }
    }
    out
}

const SCRIPT: &str = r#"
for n in user mnt pid uts ipc net cgroup time; do echo "$n=$(readlink /proc/self/ns/$n)"; done
echo host=$(hostname)
echo uid=$(id -u)
echo gid=$(id -g)
echo groups=$(id -G)
echo marker=$(cat /inside-marker)
echo shell_pid=$$
echo cwd=$(pwd)
echo env_home=$HOME
echo env_user=$USER
"#;

/// Every namespace the entered command is in is the target's.
fn check_namespaces(f: &BTreeMap<String, String>, target: u32) {
    for kind in Namespace::ALL {
        let id = NsFd::open(target, kind).unwrap().id().unwrap();
        assert_eq!(
            f[kind.name()],
            format!("{kind}:[{}]", id.ino),
            "{kind}: {f:?}"
        );
    }
}

pub(crate) fn by_pid_root() {
    if !is_root() {
        skip("the root variant maps 65536 ids; enter_by_pid_unprivileged covers the rest");
    }
    let root = TempDir::new("enter");
    let mut target = container(&root);
    let out = Enter::new(target.pid())
        .user("app")
        .command("sh", ["-c", SCRIPT])
        .output()
        .unwrap();
    assert_eq!(
        out.status,
        ChildStatus::Exited(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = fields(&out.stdout);
    check_namespaces(&f, target.pid());
    assert_eq!(f["host"], "box");
    assert_eq!((f["uid"].as_str(), f["gid"].as_str()), ("1000", "1000"));
    assert_eq!(f["groups"], "1000 2000", "primary and supplementary groups");
    assert_eq!(f["marker"], "in the container");
    assert_eq!(
        (f["env_home"].as_str(), f["env_user"].as_str()),
        ("/home/app", "app")
    );
    let pid: u32 = f["shell_pid"].parse().unwrap();
    assert!(
        pid > 2 && pid < 100,
        "a pid of the container's namespace: {pid}"
    );
    // Exit statuses come back: a code, and a death by signal.
    let mut e = Enter::new(target.pid());
    assert_eq!(
        e.command("sh", ["-c", "exit 7"]).status().unwrap(),
        ChildStatus::Exited(7)
    );
    assert_eq!(
        e.command("sh", ["-c", "kill -TERM $$"]).status().unwrap(),
        ChildStatus::Killed {
            signal: Signal::TERM,
            core_dumped: false
        }
    );
    // Only some namespaces: the rest stay ours.
    let out = Enter::new(target.pid())
        .namespaces(Namespaces::UTS)
        .root_and_cwd(false, false)
        .command("hostname", [""; 0])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"box\n");
    target.kill(Signal::KILL).unwrap();
    target.wait().unwrap();
}

pub(crate) fn by_pid_unprivileged() {
    let root = TempDir::new("enter-nobody");
    rustix::fs::chown(
        root.path(),
        Some(rustix::process::Uid::from_raw(65534)),
        None,
    )
    .unwrap();
    become_nobody();
    need_userns();
    let mut target = container(&root);
    // Default user: root of the container's user namespace.
    let out = Enter::new(target.pid())
        .command("sh", ["-c", SCRIPT])
        .output()
        .unwrap();
    assert_eq!(
        out.status,
        ChildStatus::Exited(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = fields(&out.stdout);
    check_namespaces(&f, target.pid());
    assert_eq!((f["uid"].as_str(), f["host"].as_str()), ("0", "box"));
    assert_eq!(f["marker"], "in the container");
    // A user the container has but whose id is not mapped: setresuid says so.
    let e = Enter::new(target.pid())
        .user("app")
        .command("true", [""; 0])
        .spawn()
        .unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL, "{e}");
    assert!(e.to_string().contains("setres"), "{e}");
    target.kill(Signal::KILL).unwrap();
    target.wait().unwrap();
}

/// Stub container tools: each prints what the real one prints for the
/// container `box` (and pid 0 for `stopped`), and fails like it otherwise.
fn stub_tools(dir: &std::path::Path, pid: u32) {
    let stubs = [
        ("docker", 4, format!("{pid}")),
        ("podman", 4, format!("{pid}")),
        ("lxc-info", 2, format!("{pid}")),
        (
            "lxc",
            2,
            format!("Name: box\nStatus: RUNNING\nType: container\nPID: {pid}\n"),
        ),
        ("machinectl", 2, format!("{pid}")),
    ];
    for (tool, arg, out) in stubs {
        let script = format!(
            "#!/bin/sh\ncase \"${arg}\" in\n  box) printf '%s\\n' '{out}' ;;\n  stopped) echo 0 ;;\n  \
             *) echo \"Error: No such object: ${arg}\" >&2; exit 1 ;;\nesac\n"
        );
        // Made executable and complete under another name, then renamed:
        // no moment where a lookup finds it half-written or not executable.
        let path = dir.join(tool);
        let part = dir.join(format!(".{tool}.part"));
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o755)
                .open(&part)
                .unwrap();
            f.write_all(script.as_bytes()).unwrap();
        }
        std::fs::rename(&part, &path).unwrap();
    }
}

pub(crate) fn by_stub_tools() {
    if !is_root() {
        need_userns();
    }
    let root = TempDir::new("stubs-root");
    let mut target = container(&root);
    let bin = TempDir::new("stubs");
    stub_tools(bin.path(), target.pid());
    // The stubs first, and no directory that holds a real one of the
    // tools: a docker or podman on this machine must never answer in a
    // stub's place (a stub that cannot run then fails with its errno).
    let path = std::env::var_os("PATH").unwrap_or_default();
    let tools = ["docker", "podman", "lxc", "lxc-info", "machinectl"];
    let mut with_stubs = bin.path().as_os_str().to_owned();
    for dir in std::env::split_paths(&path) {
        if !tools.iter().any(|t| dir.join(t).exists()) {
            with_stubs.push(":");
            with_stubs.push(&dir);
        }
    }
    // SAFETY: this test process is single-threaded (the harness forked it).
    unsafe { std::env::set_var("PATH", &with_stubs) };
    let named = |n: &str| {
        [
            Target::Docker(n.into()),
            Target::Podman(n.into()),
            Target::Lxc(n.into()),
            Target::Lxd(n.into()),
            Target::Machine(n.into()),
        ]
    };
    for t in named("box") {
        assert_eq!(t.leader_pid().unwrap(), target.pid(), "{t}");
        let out = Enter::target(&t)
            .unwrap()
            .command("hostname", [""; 0])
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"box\n", "{t}");
    }
    for t in named("nope") {
        let e = t.leader_pid().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{t}: {e}");
        assert!(e.to_string().contains("No such object: nope"), "{t}: {e}");
    }
    let e = Target::Docker("stopped".into()).leader_pid().unwrap_err();
    assert!(e.to_string().contains("not running"), "{e}");
    // A tool that is not installed.
    let empty = TempDir::new("no-tools");
    // SAFETY: as above.
    unsafe { std::env::set_var("PATH", empty.path()) };
    let e = Target::Podman("box".into()).leader_pid().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("podman is not installed"), "{e}");
    target.kill(Signal::KILL).unwrap();
    target.wait().unwrap();
}

pub(crate) fn errors() {
    let e = Enter::new(0x3fff_fff0).spawn().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    // A process that has exited (a zombie we do not reap): the pidfd says
    // so, or its namespaces are gone.
    let zombie = fork_child(|| 0);
    let mut status = std::mem::MaybeUninit::<libc::siginfo_t>::uninit();
    // SAFETY: waitid with WNOWAIT writes a siginfo and leaves the zombie.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            zombie,
            status.as_mut_ptr(),
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    assert_eq!(r, 0);
    let e = Enter::new(zombie)
        .command("true", [""; 0])
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    butter_tests::exit_code(zombie);

    if !is_root() {
        need_userns();
    }
    let root = TempDir::new("enter-errors");
    let mut target = container(&root);
    let e = Enter::new(target.pid())
        .user("nobody-here")
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(
        e.to_string().contains("no user \"nobody-here\"") && e.to_string().contains("etc/passwd"),
        "{e}"
    );
    let e = Enter::new(target.pid())
        .command("no-such-program", [""; 0])
        .spawn()
        .unwrap_err();
    assert_eq!(e.errno(), libc::ENOENT);
    assert!(
        e.to_string()
            .contains("execve of \"no-such-program\" inside the target"),
        "{e}"
    );
    target.kill(Signal::KILL).unwrap();
    target.wait().unwrap();
    // Its namespaces are gone with it.
    let e = Enter::new(target.pid()).spawn().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
}

/// The same command through util-linux `nsenter -a -r -w` and through us:
/// the same namespaces, root, directory, user and host name.
pub(crate) fn beside_nsenter() {
    if Command::new("nsenter").arg("--version").output().is_err() {
        skip("util-linux nsenter is not installed");
    }
    if !is_root() {
        need_userns();
    }
    let root = TempDir::new("nsenter");
    let mut target = container(&root);
    let pid = target.pid().to_string();
    let theirs = Command::new("nsenter")
        .args(["-a", "-r", "-w", "-t", &pid, "sh", "-c", SCRIPT])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(
        theirs.status.success(),
        "{}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    let ours = Enter::new(target.pid())
        .command("sh", ["-c", SCRIPT])
        .output()
        .unwrap();
    assert_eq!(
        ours.status,
        ChildStatus::Exited(0),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let (mut theirs, mut ours) = (fields(&theirs.stdout), fields(&ours.stdout));
    // Their environment is ours (nsenter keeps it); ours is the user's.
    for k in ["env_home", "env_user", "shell_pid"] {
        theirs.remove(k);
        ours.remove(k);
    }
    assert_eq!(ours, theirs);
    target.kill(Signal::KILL).unwrap();
    target.wait().unwrap();
}

/// What the command entered into a confined sandbox can do: no more than
/// the sandbox's own processes (its bounding, effective and permitted
/// sets, `no_new_privs`), in the sandbox's cgroup, as `docker exec` runs a
/// command; `confine(false)` and `join_cgroup(false)` keep nsenter's
/// behaviour (the caller's own).
pub(crate) fn takes_on_the_containers_confinement() {
    let Ok(own) = ns_sys::own_cgroup() else {
        skip("no cgroup v2 here, so the cgroup join cannot be shown");
    };
    let keep: ns_sys::CapSet = "CAP_CHOWN,CAP_SETUID,CAP_SETGID,CAP_KILL".parse().unwrap();
    let mut target = Sandbox::new("sleep")
        .unshare(Namespaces::USER | Namespaces::PID | Namespaces::MNT)
        .capabilities(keep)
        .no_new_privs(true)
        .cgroup(Some(own), ns_sys::CgroupLimits::default())
        .death_signal(Signal::KILL)
        .arg("1000")
        .spawn()
        .unwrap();
    let pid = target.pid();
    let status_of = |text: &str| -> BTreeMap<String, String> {
        text.lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect()
    };
    let theirs = status_of(&std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap());
    let their_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("0::"))
        .unwrap()
        .to_owned();
    let look = "grep -E '^(CapBnd|CapEff|CapPrm|CapInh|CapAmb|NoNewPrivs):' /proc/self/status; \
                sed -n 's/^0::/cgroup:/p' /proc/self/cgroup";
    let run = |e: &mut Enter| {
        let out = e.command("sh", ["-c", look]).output().unwrap();
        assert_eq!(
            out.status,
            ChildStatus::Exited(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        status_of(&String::from_utf8(out.stdout).unwrap())
    };
    let ours = run(&mut Enter::new(pid));
    for k in [
        "CapBnd",
        "CapEff",
        "CapPrm",
        "CapInh",
        "CapAmb",
        "NoNewPrivs",
    ] {
        assert_eq!(
            ours.get(k),
            theirs.get(k),
            "{k}: entered {ours:?}, target {theirs:?}"
        );
    }
    assert_eq!(
        format!("0::{}", ours["cgroup"]),
        their_cgroup,
        "the entered command is in the target's cgroup"
    );
    // Without: the caller's own (nsenter's) — every capability over the
    // namespace, no no_new_privs, the caller's cgroup.
    let loose = run(Enter::new(pid).confine(false).join_cgroup(false));
    assert_ne!(loose["CapBnd"], theirs["CapBnd"], "{loose:?}");
    assert_eq!(loose["NoNewPrivs"], "0");
    assert_ne!(format!("0::{}", loose["cgroup"]), their_cgroup);
    target.kill(Signal::KILL).unwrap();
    target.wait().unwrap();
}

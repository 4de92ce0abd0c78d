//! Untrusted code in `butter run --sandbox`: a program that tries every
//! way out this layer set is meant to stop, and fails at each; beside it,
//! the same program run plainly, which succeeds, so each check can fail.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::text;

/// Tries each escape and prints `NAME=ok` (it worked) or `NAME=denied
/// (errno)`. argv: outside file to write, pid outside to signal and trace,
/// work directory (allowed), and the number of forks to try.
const ESCAPE_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <unistd.h>

static void report(const char *name, int ok) {
    if (ok) printf("%s=ok\n", name);
    else printf("%s=denied (%s)\n", name, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 5) return 2;
    pid_t outside = atoi(argv[2]);
    int forks = atoi(argv[4]);
    char path[4096];

    int fd = open(argv[1], O_WRONLY | O_APPEND);
    report("write_outside", fd >= 0 && write(fd, "escaped\n", 8) == 8);
    snprintf(path, sizeof path, "%s/inside", argv[3]);
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    report("write_inside", fd >= 0);

    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    syscall(SYS_capget, &h, d);
    d[0].effective |= 1u << CAP_SYS_ADMIN;
    d[0].permitted |= 1u << CAP_SYS_ADMIN;
    report("raise_cap", syscall(SYS_capset, &h, d) == 0);
    report("ambient_cap", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0) == 0);
    errno = EPERM;
    report("new_privs", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0);

    char c = 'x';
    report("tiocsti", ioctl(0, TIOCSTI, &c) == 0);
    /* On its own work directory: nothing else even if run unconfined. */
    report("mount", mount("none", argv[3], "tmpfs", 0, 0) == 0);
    report("signal_outside", kill(outside, 0) == 0);
    report("ptrace_outside", ptrace(PTRACE_ATTACH, outside, 0, 0) == 0);

    int made = 0;
    for (int i = 0; i < forks; i++) {
        pid_t p = fork();
        if (p == 0) { close(1); close(2); pause(); _exit(0); }
        if (p < 0) break;
        made++;
    }
    errno = EAGAIN;
    report("fork_past_limit", made == forks);

    /* A daemon: a grandchild in a session of its own, left running. */
    pid_t p = fork();
    if (p == 0) {
        setsid();
        if (fork() == 0) { close(1); close(2); for (;;) pause(); }
        _exit(0);
    }
    waitpid(p, NULL, 0);
    printf("daemon=started\n");
    return 0;
}
"#;

fn have_cc() -> bool {
    let ok = Command::new("cc").arg("--version").output().is_ok();
    if !ok {
        eprintln!("skipped: no C compiler (cc) to build the escape program");
    }
    ok
}

/// Runs `argv` with a fresh pty as its controlling terminal and stdin
/// (util-linux `setsid --ctty`), so TIOCSTI has a terminal to type into.
fn on_a_pty(argv: &[&str]) -> std::process::Output {
    let master =
        rustix::pty::openpt(rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY)
            .unwrap();
    rustix::pty::grantpt(&master).unwrap();
    rustix::pty::unlockpt(&master).unwrap();
    let name = rustix::pty::ptsname(&master, Vec::new()).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    let out = Command::new("setsid")
        .arg("--ctty")
        .args(argv)
        .stdin(Stdio::from(slave))
        .output()
        .unwrap();
    drop(master);
    out
}

fn fields(out: &[u8]) -> std::collections::BTreeMap<String, String> {
    text(out)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Every process still running the escape program (a zombie has ended).
fn still_running(probe: &Path) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == probe)
                && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.rsplit(") ").next().is_some_and(|r| !r.starts_with('Z')))
        })
        .collect()
}

#[test]
fn untrusted_code_fails_at_every_step() {
    if !have_cc() || Command::new("setsid").arg("--version").output().is_err() {
        return;
    }
    if !Command::new("unshare")
        .args(["-U", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("skipped: user namespaces are refused here");
        return;
    }
    let dir = crate::scratch("escape");
    let probe = dir.join("escape");
    let built = Command::new("cc")
        .arg("-o")
        .arg(&probe)
        .arg("-x")
        .arg("c")
        .arg("-")
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(ESCAPE_C.as_bytes())?;
            c.wait()
        });
    if !built.is_ok_and(|s| s.success()) {
        eprintln!("skipped: the escape program did not build");
        return;
    }
    let outside = dir.join("outside");
    std::fs::write(&outside, "mine\n").unwrap();
    let work = dir.join("work");
    std::fs::create_dir(&work).unwrap();
    // Something outside to signal and trace: a sleep of ours.
    let mut target = Command::new("sleep").arg("1000").spawn().unwrap();
    let target_pid = target.id().to_string();
    let pids_enabled = butter::ns::own_cgroup().ok().and_then(|own| {
        let c = butter::ns::Cgroup::create(
            &own,
            &format!("butter-escape-probe-{}", std::process::id()),
            &Default::default(),
        )
        .ok()?;
        Some(c.controllers().ok()?.iter().any(|c| c == "pids"))
    }) == Some(true);
    let forks = "32";
    let args_of = |outside: &Path| -> Vec<String> {
        vec![
            probe.display().to_string(),
            outside.display().to_string(),
            target_pid.clone(),
            work.display().to_string(),
            forks.to_owned(),
        ]
    };
    // Without the sandbox's layers the same program gets out (so each
    // check below can fail); it runs in a user and mount namespace of its
    // own all the same, so its `mount` and the rest change nothing here.
    let mut plain_argv = vec!["unshare", "-Urm", "--propagation", "private"];
    let plain_args = args_of(&outside);
    plain_argv.extend(plain_args.iter().map(String::as_str));
    let plain = on_a_pty(&plain_argv);
    let p = fields(&plain.stdout);
    for k in [
        "write_outside",
        "write_inside",
        "signal_outside",
        "mount",
        "fork_past_limit",
    ] {
        assert_eq!(p.get(k).map(String::as_str), Some("ok"), "plain {k}: {p:?}");
    }
    // The plain run's daemon and forks are ours to end.
    for pid in still_running(&probe) {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    std::fs::write(&outside, "mine\n").unwrap();

    let mut sandbox: Vec<String> = ["run", "--sandbox", "--new-cgroup", "--no-init"]
        .map(String::from)
        .to_vec();
    if pids_enabled {
        sandbox.extend(["--pids-max".into(), "16".into()]);
    }
    for d in ["/usr", "/bin", "/lib", "/lib64"] {
        if Path::new(d).exists() {
            sandbox.extend(["--landlock-rox".into(), d.into()]);
        }
    }
    sandbox.extend([
        "--landlock-rox".into(),
        probe.display().to_string(),
        "--landlock-rw".into(),
        work.display().to_string(),
        "--".into(),
    ]);
    sandbox.extend(args_of(&outside));
    let mut argv = vec![env!("CARGO_BIN_EXE_butter")];
    argv.extend(sandbox.iter().map(String::as_str));
    let out = on_a_pty(&argv);
    let f = fields(&out.stdout);
    eprintln!("in the sandbox: {f:?}\n{}", text(&out.stderr));
    let denied = |k: &str| f.get(k).is_some_and(|v| v.starts_with("denied"));
    assert_eq!(
        f.get("write_inside").map(String::as_str),
        Some("ok"),
        "{f:?}"
    );
    for k in [
        "write_outside",
        "raise_cap",
        "ambient_cap",
        "new_privs",
        "tiocsti",
        "mount",
        "signal_outside",
        "ptrace_outside",
    ] {
        assert!(denied(k), "{k} was not stopped: {f:?}");
    }
    if pids_enabled {
        assert!(denied("fork_past_limit"), "{f:?}");
    } else {
        eprintln!(
            "partly skipped: no pids controller here, so the fork past pids.max is not tried"
        );
    }
    assert_eq!(f.get("daemon").map(String::as_str), Some("started"));
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "mine\n");
    // When butter run returns, nothing of the program is left running:
    // its pid namespace and its cgroup took the daemon and the forks.
    assert_eq!(still_running(&probe), Vec::<u32>::new());
    target.kill().unwrap();
    target.wait().unwrap();
}

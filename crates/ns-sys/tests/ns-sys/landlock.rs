//! Landlock: policies built in the parent, enforced by the sandboxed
//! process; denials checked by what the kernel answers.

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use butter_tests::{TempDir, become_nobody, exit_code, fork_child, skip};
use ns_sys::landlock::abi;
use ns_sys::{AccessFs, ChildStatus, ErrorKind, Landlock, Namespaces, Sandbox, Scope};

use crate::{fields, need_userns};

/// The ABI the tests need, or a skip saying why not.
fn need_abi(abi_needed: u32, what: &str) {
    let have = abi();
    if have < abi_needed {
        skip(&format!(
            "{what} needs Landlock ABI {abi_needed}; this kernel has {have}"
        ));
    }
}

/// The host's program directories, read and execute, and `/dev/null`.
fn programs(policy: &mut Landlock) -> &mut Landlock {
    for dir in ["/usr", "/bin", "/lib", "/lib64", "/etc"] {
        if Path::new(dir).exists() {
            policy.read_execute(dir);
        }
    }
    policy.allow("/dev/null", AccessFs::READ_FILE | AccessFs::WRITE_FILE)
}

/// What the script can do under `rw`, `ro` and `none`, one field per try.
const TRIES: &str = r#"
try() { name=$1; shift; if "$@" >/dev/null 2>&1; then echo "$name=ok"; else echo "$name=denied"; fi; }
try read_ro cat "$D/ro/f"
try write_ro sh -c 'echo x >> "$D/ro/f"'
try create_ro touch "$D/ro/new"
try remove_ro rm -f "$D/ro/f"
try list_ro ls "$D/ro"
try read_rw cat "$D/rw/f"
try write_rw sh -c 'echo x >> "$D/rw/f"'
try create_rw touch "$D/rw/new"
try mkdir_rw mkdir "$D/rw/sub"
try exec_rw "$D/rw/script"
try exec_x "$D/x/script"
try write_x sh -c 'echo x >> "$D/x/script"'
try read_none cat "$D/none/f"
try list_none ls "$D/none"
try create_top touch "$D/new"
try move_rw_to_ro mv "$D/rw/f" "$D/ro/moved"
"#;

fn layout(dir: &Path) {
    for sub in ["ro", "rw", "x", "none"] {
        std::fs::create_dir(dir.join(sub)).unwrap();
        std::fs::write(dir.join(sub).join("f"), b"data\n").unwrap();
        let script = dir.join(sub).join("script");
        std::fs::write(&script, b"#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // Open to anyone, so uid 65534 meets Landlock and not the modes.
    for entry in walk(dir) {
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut all = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            all.extend(walk(&e.path()));
        } else {
            all.push(e.path());
        }
    }
    all
}

fn tries(dir: &Path, as_nobody: bool) -> BTreeMap<String, String> {
    let mut policy = Landlock::new();
    programs(&mut policy)
        .read(dir.join("ro"))
        .read_write(dir.join("rw"))
        .read_execute(dir.join("x"));
    let mut s = Sandbox::new("sh");
    s.args(["-c", TRIES]).env("D", dir).landlock(policy);
    if as_nobody {
        // Unprivileged: a user namespace, and no_new_privs for Landlock.
        s.unshare(Namespaces::USER).no_new_privs(true);
    }
    let out = s.output().unwrap();
    assert_eq!(
        out.status,
        ChildStatus::Exited(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fields(&out.stdout)
}

fn check_tries(f: &BTreeMap<String, String>) {
    let want = [
        ("read_ro", "ok"),
        ("write_ro", "denied"),
        ("create_ro", "denied"),
        ("remove_ro", "denied"),
        ("list_ro", "ok"),
        ("read_rw", "ok"),
        ("write_rw", "ok"),
        ("create_rw", "ok"),
        ("mkdir_rw", "ok"),
        ("exec_rw", "denied"),
        ("exec_x", "ok"),
        ("write_x", "denied"),
        ("read_none", "denied"),
        ("list_none", "denied"),
        ("create_top", "denied"),
        ("move_rw_to_ro", "denied"),
    ];
    for (k, v) in want {
        assert_eq!(f.get(k).map(String::as_str), Some(v), "{k}: {f:?}");
    }
}

/// Read-only, read-write and execute paths, as root and as uid 65534 in a
/// user namespace: each try gets the answer its rule gives, and nothing
/// outside the rules is reachable.
pub(crate) fn paths_as_root_and_nobody() {
    need_abi(1, "a filesystem policy");
    let dir = TempDir::new("landlock");
    layout(dir.path());
    check_tries(&tries(dir.path(), false));
    // The root run changed rw/: lay it out again for the unprivileged one.
    let dir = TempDir::new("landlock-nobody");
    layout(dir.path());
    let path = dir.path().to_path_buf();
    let pid = fork_child(move || {
        become_nobody();
        need_userns();
        check_tries(&tries(&path, true));
        0
    });
    assert_eq!(exit_code(pid), 0);
}

/// The denial is the kernel's `EACCES` on the path itself, seen by the
/// program; the setup (mounts, the new root) is not confined.
pub(crate) fn denial_is_eacces_and_setup_is_free() {
    need_abi(1, "a filesystem policy");
    let dir = TempDir::new("landlock-eacces");
    std::fs::write(dir.path().join("secret"), b"s").unwrap();
    let mut policy = Landlock::new();
    programs(&mut policy);
    let out = Sandbox::new("cat")
        .arg(dir.path().join("secret"))
        .unshare(Namespaces::USER | Namespaces::MNT | Namespaces::PID)
        .landlock(policy)
        .output()
        .unwrap();
    assert_eq!(out.status, ChildStatus::Exited(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Permission denied"), "{err}");
}

/// TCP: only the allowed port connects (and binds); what the policy does
/// not handle (UDP) is untouched. In a forked child through
/// [`Ruleset::restrict_self`], as a library user restricts itself.
pub(crate) fn tcp_ports() {
    need_abi(4, "TCP rules");
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let (ok_port, denied_port) = (
        open.local_addr().unwrap().port(),
        closed.local_addr().unwrap().port(),
    );
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let bind_port = free.local_addr().unwrap().port();
    drop(free);
    let pid = fork_child(move || {
        let mut policy = Landlock::new();
        policy
            .handle_fs(AccessFs::empty())
            .connect_tcp(ok_port)
            .bind_tcp(bind_port);
        let ruleset = policy.create().unwrap().unwrap();
        rustix::thread::set_no_new_privs(true).unwrap();
        ruleset.restrict_self().unwrap();
        let mut fails = 0;
        if TcpStream::connect(("127.0.0.1", ok_port)).is_err() {
            eprintln!("connect to the allowed port failed");
            fails += 1;
        }
        match TcpStream::connect(("127.0.0.1", denied_port)) {
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => {}
            other => {
                eprintln!("connect to another port: {other:?}");
                fails += 1;
            }
        }
        if TcpListener::bind(("127.0.0.1", bind_port)).is_err() {
            eprintln!("bind to the allowed port failed");
            fails += 1;
        }
        match TcpListener::bind("127.0.0.1:0") {
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => {}
            other => {
                eprintln!("bind to another port: {other:?}");
                fails += 1;
            }
        }
        if std::net::UdpSocket::bind("127.0.0.1:0").is_err() {
            eprintln!("UDP, which the policy does not handle, was refused");
            fails += 1;
        }
        fails
    });
    assert_eq!(exit_code(pid), 0);
    drop((open, closed));
}

/// Scopes: a restricted process cannot signal a process outside its
/// domain or connect to an abstract unix socket made outside it, but can
/// signal a child it started itself.
pub(crate) fn scopes_signals_and_abstract_sockets() {
    need_abi(6, "scopes");
    let name = format!("butter-landlock-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    let outside = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    let outside_pid = outside.id();
    let pid = fork_child(move || {
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        // Before the restriction both work.
        let before = std::os::unix::net::UnixStream::connect_addr(&addr).is_ok()
            && rustix::process::test_kill_process(
                rustix::process::Pid::from_raw(i32::try_from(outside_pid).unwrap()).unwrap(),
            )
            .is_ok();
        let ruleset = Landlock::scoped(Scope::all()).create().unwrap().unwrap();
        rustix::thread::set_no_new_privs(true).unwrap();
        ruleset.restrict_self().unwrap();
        let mut fails = i32::from(!before);
        match std::os::unix::net::UnixStream::connect_addr(&addr) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
            other => {
                eprintln!("abstract socket outside: {other:?}");
                fails += 1;
            }
        }
        let target = rustix::process::Pid::from_raw(i32::try_from(outside_pid).unwrap()).unwrap();
        match rustix::process::test_kill_process(target) {
            Err(e) if e == rustix::io::Errno::PERM => {}
            other => {
                eprintln!("signal outside: {other:?}");
                fails += 1;
            }
        }
        let mut inside = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        if inside.kill().is_err() {
            eprintln!("a child of the domain could not be signalled");
            fails += 1;
        }
        let _ = inside.wait();
        fails
    });
    let code = exit_code(pid);
    let mut outside = outside;
    outside.kill().unwrap();
    outside.wait().unwrap();
    drop(listener);
    assert_eq!(code, 0);
}

/// What a caller can get wrong, and what the kernel can lack: each refused
/// before anything runs, naming what.
pub(crate) fn refusals() {
    need_abi(1, "a filesystem policy");
    // A path that is not there: named.
    let mut p = Landlock::new();
    p.read("/nonexistent/butter-landlock");
    let e = p.create().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(
        e.to_string().contains("/nonexistent/butter-landlock"),
        "{e}"
    );
    // The same through the sandbox, before any process exists.
    let e = Sandbox::new("true").landlock(p).spawn().unwrap_err();
    assert!(
        e.to_string().contains("/nonexistent/butter-landlock"),
        "{e}"
    );
    // A file given only directory rights grants nothing.
    let dir = TempDir::new("landlock-refusals");
    let file = dir.path().join("f");
    std::fs::write(&file, b"").unwrap();
    let mut p = Landlock::new();
    p.allow(&file, AccessFs::READ_DIR | AccessFs::MAKE_REG);
    let e = p.create().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("file rights"), "{e}");
    // A policy that handles nothing.
    let mut p = Landlock::new();
    p.handle_fs(AccessFs::empty());
    let e = p.create().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    // Capabilities dropped without no_new_privs: Landlock could not be
    // enforced; said before the clone.
    let mut p = Landlock::new();
    programs(&mut p);
    let e = Sandbox::new("true")
        .unshare(Namespaces::USER)
        .capabilities(ns_sys::CapSet::EMPTY)
        .landlock(p.clone())
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("no_new_privs"), "{e}");
    // Unprivileged, no user namespace, no no_new_privs: the kernel's EPERM,
    // naming the step.
    let pid = fork_child(move || {
        become_nobody();
        let e = Sandbox::new("true").landlock(p).spawn().unwrap_err();
        if e.errno() == libc::EPERM && e.to_string().contains("Landlock") {
            0
        } else {
            eprintln!("{e}");
            1
        }
    });
    assert_eq!(exit_code(pid), 0);
}

/// A kernel without Landlock, made for real: a seccomp filter answers
/// `ENOSYS` for `landlock_create_ruleset` (as a container profile older
/// than Landlock does). Strict refuses, naming it; best effort runs the
/// program unrestricted and says what was left out.
pub(crate) fn without_landlock() {
    let pid = fork_child(|| {
        use seccomp_lite::{Action, Filter, Rule};
        Filter::new(Action::Allow)
            .rule(Rule::new(
                "landlock_create_ruleset",
                Action::Errno(u16::try_from(libc::ENOSYS).unwrap()),
            ))
            .compile()
            .unwrap()
            .load()
            .unwrap();
        let mut fails = 0;
        if abi() != 0 {
            eprintln!("abi() is {} under the filter", abi());
            fails += 1;
        }
        let mut p = Landlock::new();
        programs(&mut p);
        match p.create() {
            Err(e)
                if e.kind() == ErrorKind::Unsupported && e.to_string().contains("no Landlock") => {}
            other => {
                eprintln!("strict: {other:?}");
                fails += 1;
            }
        }
        p.best_effort(true);
        match p.create() {
            Ok(None) => {}
            other => {
                eprintln!("best effort: {other:?}");
                fails += 1;
            }
        }
        let out = Sandbox::new("cat")
            .arg("/proc/self/status")
            .landlock(p.clone())
            .output();
        match out {
            Ok(out) if out.status.success() => {}
            other => {
                eprintln!("best-effort sandbox: {other:?}");
                fails += 1;
            }
        }
        if p.not_enforced_at(abi()).is_empty() {
            fails += 1;
        }
        fails
    });
    assert_eq!(exit_code(pid), 0);
}

/// Best effort on this kernel leaves nothing out; the ruleset says its ABI.
pub(crate) fn ruleset_reports_what_it_enforces() {
    need_abi(1, "a filesystem policy");
    let mut p = Landlock::new();
    p.best_effort(true).read("/usr");
    let r = p.create().unwrap().unwrap();
    assert_eq!(r.abi(), abi());
    assert!(r.not_enforced().is_empty(), "{:?}", r.not_enforced());
    let dbg = format!("{r:?}");
    assert!(dbg.contains("abi"), "{dbg}");
    let fd: std::os::fd::OwnedFd = r.into();
    let link = std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ))
    .unwrap();
    assert_eq!(link.to_str(), Some("anon_inode:[landlock-ruleset]"));
}

//! The sandbox spawner.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use butter_tests::{TempDir, become_nobody, exit_code, fork_child, skip};
use ns_sys::{
    Bind, CapSet, ChildStatus, ErrorKind, IdMap, Namespace, Namespaces, NsFd, Resource, Sandbox,
    Signal, Stdio,
};

use crate::{container_root, fields, need_userns};

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

const CONTAINER_SCRIPT: &str = r#"
echo pid=$$
echo uid=$(id -u)
echo gid=$(id -g)
echo host=$(hostname)
echo map=$(cat /proc/self/uid_map)
echo top=$(ls / | tr '\n' ' ')
echo marker=$(cat /inside-marker)
if [ -e "$HOST_PATH" ]; then echo host_path=visible; else echo host_path=hidden; fi
if touch /usr/butter-probe 2>/dev/null; then echo usr=rw; else echo usr=ro; fi
if mount -o remount,rw /usr 2>/dev/null; then echo remount=yes; else echo remount=no; fi
# Counted by the shell itself (a pipeline's processes come and go as
# they are counted): every process its own /proc shows.
set -- /proc/[0-9]*; echo procs=$#
if touch /tmp/t; then echo tmp=ok; fi
echo dev=$(ls /dev | tr '\n' ' ')
echo nets=$(grep -c : /proc/net/dev)
"#;

/// A container: a scratch root with the host's programs, fresh
/// namespaces, the script's fields.
fn run_container(owner_uid: Option<u32>) -> BTreeMap<String, String> {
    let root = TempDir::new("container");
    let host_path = root.path().parent().unwrap().to_path_buf();
    if let Some(uid) = owner_uid {
        rustix::fs::chown(root.path(), Some(rustix::process::Uid::from_raw(uid)), None).unwrap();
        become_nobody();
        need_userns();
    }
    let mut s = Sandbox::new("sh");
    container_root(&mut s, root.path());
    s.unshare(
        Namespaces::USER | Namespaces::PID | Namespaces::UTS | Namespaces::IPC | Namespaces::NET,
    )
    .hostname("box")
    .env("HOST_PATH", &host_path)
    .args(["-c", CONTAINER_SCRIPT]);
    let out = s.output().unwrap();
    assert_eq!(
        out.status,
        ChildStatus::Exited(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fields(&out.stdout)
}

fn check_container(f: &BTreeMap<String, String>, outside_uid: u32) {
    let get = |k: &str| f.get(k).map_or("", String::as_str);
    assert_eq!(get("pid"), "2", "pid 1 is the init, the shell pid 2: {f:?}");
    assert_eq!(get("uid"), "0");
    assert_eq!(get("gid"), "0");
    assert_eq!(get("host"), "box");
    let map: Vec<&str> = get("map").split_whitespace().collect();
    assert_eq!(map, ["0", &outside_uid.to_string(), "1"]);
    assert_eq!(get("marker"), "in the container");
    assert_eq!(get("host_path"), "hidden", "{f:?}");
    for entry in ["dev", "etc", "proc", "tmp", "usr", "inside-marker"] {
        assert!(
            get("top").split(' ').any(|e| e == entry),
            "{entry} in {f:?}"
        );
    }
    assert_eq!(get("usr"), "ro");
    assert_eq!(
        get("remount"),
        "no",
        "a read-only bind stays read-only in a user namespace"
    );
    let procs: u32 = get("procs").parse().unwrap();
    assert!(procs <= 6, "its own /proc shows only its processes: {f:?}");
    assert_eq!(get("tmp"), "ok");
    for dev in ["null", "zero", "full", "random", "urandom", "fd", "stdin"] {
        assert!(get("dev").split(' ').any(|e| e == dev), "/dev/{dev}: {f:?}");
    }
    assert_eq!(
        get("nets"),
        "1",
        "a new network namespace has only lo: {f:?}"
    );
}

pub(crate) fn container_as_root() {
    if !is_root() {
        skip("the root variant runs as root; sandbox_container_unprivileged covers the rest");
    }
    let f = run_container(None);
    check_container(&f, 0);
}

pub(crate) fn container_unprivileged() {
    let f = run_container(Some(65534));
    check_container(&f, 65534);
}

/// A scratch root for the tests that need `/tmp` and `/proc` of their own.
fn small_container(s: &mut Sandbox, root: &TempDir) {
    container_root(s, root.path());
    s.unshare(Namespaces::USER | Namespaces::PID)
        .death_signal(Signal::KILL);
}

pub(crate) fn pid1_without_init() {
    let root = TempDir::new("pid1");
    let mut s = Sandbox::new("sh");
    small_container(&mut s, &root);
    s.init(false).args(["-c", "echo pid=$$"]);
    let out = s.output().unwrap();
    assert_eq!(fields(&out.stdout)["pid"], "1");
}

/// An orphan: a background shell whose parent exits at once; it writes its
/// pid, and exits once told to. With our init as pid 1 the script (pid 2,
/// not its parent) watches its `/proc` entry go.
const ORPHAN_SCRIPT: &str = r#"
( sh -c 'echo $$ > /tmp/orphan; until [ -e /tmp/go ]; do :; done' & )
until [ -s /tmp/orphan ]; do :; done
read pid < /tmp/orphan
: > /tmp/go
i=0
while [ $i -lt 1000000 ]; do
  if [ ! -e /proc/$pid ]; then echo orphan=reaped; exit 0; fi
  i=$((i+1))
done
echo orphan=left
"#;

/// The same orphan, then pid 1 becomes `cat`, which never waits.
const ORPHAN_THEN_CAT: &str = r#"
( sh -c 'echo $$ > /tmp/orphan; until [ -e /tmp/go ]; do :; done' & )
until [ -s /tmp/orphan ]; do :; done
read pid < /tmp/orphan
echo pid=$pid
exec cat
"#;

pub(crate) fn init_reaps_and_forwards() {
    let root = TempDir::new("orphans");
    let mut s = Sandbox::new("sh");
    small_container(&mut s, &root);
    s.args(["-c", ORPHAN_SCRIPT]);
    let out = s.output().unwrap();
    assert_eq!(fields(&out.stdout)["orphan"], "reaped");

    // Without the init, orphans are the program's to reap: a pid 1 that
    // never waits leaves them zombies (seen from outside through the
    // sandbox's own /proc).
    let root = TempDir::new("zombies");
    let mut s = Sandbox::new("sh");
    small_container(&mut s, &root);
    s.init(false)
        .args(["-c", ORPHAN_THEN_CAT])
        .stdin(Stdio::Piped)
        .stdout(Stdio::Piped);
    let mut child = s.spawn().unwrap();
    let mut line = String::new();
    let mut out = child.stdout.take().unwrap();
    let mut byte = [0u8; 1];
    while !line.ends_with('\n') {
        out.read_exact(&mut byte).unwrap();
        line.push(byte[0] as char);
    }
    let inner: u32 = line.trim().strip_prefix("pid=").unwrap().parse().unwrap();
    let inside = format!("/proc/{}/root", child.pid());
    // The orphan may exit only once pid 1 is `cat`: a shell that has not
    // yet reached its `exec` reaps whatever child it is told of.
    let comm = format!("/proc/{}/comm", child.pid());
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&comm).unwrap() != "cat\n" {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "pid 1 never became cat"
        );
        std::thread::yield_now();
    }
    std::fs::write(format!("{inside}/tmp/go"), b"").unwrap();
    let status = format!("{inside}/proc/{inner}/status");
    let state = || {
        std::fs::read_to_string(&status)
            .unwrap_or_else(|e| panic!("{status}: {e} (was the orphan reaped?)"))
            .lines()
            .find_map(|l| {
                l.strip_prefix("State:")
                    .map(|s| s.trim().chars().next().unwrap())
            })
            .unwrap()
    };
    let start = std::time::Instant::now();
    while state() != 'Z' {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "the orphan never exited"
        );
        std::thread::yield_now();
    }
    assert_eq!(state(), 'Z', "nobody reaps it");
    drop(child.stdin.take());
    assert_eq!(child.wait().unwrap(), ChildStatus::Exited(0));

    // The init passes SIGTERM on; the program dies of it; the init exits
    // with 128 + 15, as a shell reports it.
    let root = TempDir::new("forward");
    let mut s = Sandbox::new("sleep");
    small_container(&mut s, &root);
    s.arg("1000");
    let mut child = s.spawn().unwrap();
    child.kill(Signal::TERM).unwrap();
    assert_eq!(child.wait().unwrap(), ChildStatus::Exited(143));
    // Without the init, the program is pid 1 and the kernel drops a
    // SIGTERM it has no handler for: it is still running after the send.
    let mut s = Sandbox::new("sleep");
    small_container(&mut s, &root);
    s.arg("1000").init(false);
    let mut child = s.spawn().unwrap();
    child.kill(Signal::TERM).unwrap();
    assert_eq!(child.try_wait().unwrap(), None);
    assert!(
        !child
            .pidfd()
            .wait_exit(Some(std::time::Duration::ZERO))
            .unwrap()
    );
    child.kill(Signal::KILL).unwrap();
    assert_eq!(
        child.wait().unwrap(),
        ChildStatus::Killed {
            signal: Signal::KILL,
            core_dumped: false
        }
    );
}

/// Processes in a pid namespace whose pid 1 has exited: none, the kernel
/// killed them; with our init or with the program as pid 1.
pub(crate) fn pid1_exit_kills_the_rest() {
    for init in [false, true] {
        let root = TempDir::new("pid1-exit");
        let mut s = Sandbox::new("sh");
        small_container(&mut s, &root);
        s.init(init)
            .args(["-c", "sleep 1000 & echo started; read x; exit 0"])
            .stdin(Stdio::Piped)
            .stdout(Stdio::Piped);
        let mut child = s.spawn().unwrap();
        let mut line = [0u8; 8];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut line)
            .unwrap();
        assert_eq!(&line, b"started\n");
        let ns = NsFd::open(child.pid(), Namespace::Pid)
            .unwrap()
            .id()
            .unwrap();
        let members = || {
            std::fs::read_dir("/proc")
                .unwrap()
                .filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .filter(|e| {
                    let pid: u32 = e.file_name().to_string_lossy().parse().unwrap();
                    NsFd::open(pid, Namespace::Pid)
                        .and_then(|f| f.id())
                        .is_ok_and(|id| id == ns)
                })
                .count()
        };
        assert!(members() >= 2, "the shell and its sleep (init {init})");
        drop(child.stdin.take());
        assert_eq!(child.wait().unwrap(), ChildStatus::Exited(0));
        assert_eq!(
            members(),
            0,
            "init {init}: every process of the namespace is gone"
        );
    }
}

pub(crate) fn busy_threads() {
    // One thread holds a lock for the whole test; two allocate without end.
    let lock = Arc::new(Mutex::new(()));
    let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let lock = Arc::clone(&lock);
        std::thread::spawn(move || {
            let _guard = lock.lock().unwrap();
            held_tx.send(()).unwrap();
            let _ = hold_rx.recv();
        })
    };
    held_rx.recv().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let churners: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let v: Vec<String> = (0..64).map(|i| format!("{i}")).collect();
                    n = n.wrapping_add(v.len());
                }
                n
            })
        })
        .collect();
    let ns = if is_root() {
        Namespaces::UTS | Namespaces::IPC | Namespaces::PID | Namespaces::MNT
    } else {
        Namespaces::USER | Namespaces::UTS | Namespaces::PID | Namespaces::MNT
    };
    for _ in 0..40 {
        let status = Sandbox::new("true")
            .unshare(ns)
            .spawn()
            .unwrap()
            .wait()
            .unwrap();
        assert_eq!(status, ChildStatus::Exited(0));
    }
    stop.store(true, Ordering::Relaxed);
    for c in churners {
        c.join().unwrap();
    }
    hold_tx.send(()).unwrap();
    holder.join().unwrap();
}

/// The vfork-style path (no user namespace, no init: the child shares our
/// memory until its `execve`): from two threads at once while two others
/// allocate without end, every program gets its own arguments and stdio
/// and exits as it should, a failing step is reported from the shared
/// memory's child as from a copy, and our memory is as it was.
pub(crate) fn vfork_style_beside_threads() {
    let canary: Vec<u64> = (0..(1u64 << 17))
        .map(|i| i.wrapping_mul(0x9E37_79B9))
        .collect();
    let before: u64 = canary.iter().fold(0, |a, &b| a.wrapping_add(b));
    let stop = Arc::new(AtomicBool::new(false));
    let churners: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let v: Vec<String> = (0..64).map(|i| format!("{i}")).collect();
                    n = n.wrapping_add(v.len());
                }
                n
            })
        })
        .collect();
    // As root, namespaces that need no id maps take the same path.
    let with_ns = if is_root() {
        Namespaces::UTS | Namespaces::IPC | Namespaces::MNT | Namespaces::NET
    } else {
        Namespaces::empty()
    };
    let spawners: Vec<_> = (0..2u32)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..60u32 {
                    let tag = format!("t{t}-{i}");
                    let code = (t * 60 + i) % 200;
                    let ns = if i % 2 == 0 {
                        Namespaces::empty()
                    } else {
                        with_ns
                    };
                    let out = Sandbox::new("sh")
                        .args(["-c", "printf %s \"$0\"; exit \"$1\""])
                        .arg(&tag)
                        .arg(code.to_string())
                        .unshare(ns)
                        .output()
                        .unwrap();
                    assert_eq!(String::from_utf8_lossy(&out.stdout), tag);
                    assert_eq!(out.status, ChildStatus::Exited(code.try_into().unwrap()));
                }
                // A failing step, and a failing exec, from this thread.
                let e = Sandbox::new("true")
                    .current_dir("/no/such/dir")
                    .spawn()
                    .unwrap_err();
                assert_eq!(e.errno(), libc::ENOENT, "{e}");
                assert!(e.to_string().contains("chdir to /no/such/dir"), "{e}");
                let e = Sandbox::new("no-such-program-xyz").spawn().unwrap_err();
                assert_eq!((e.call(), e.errno()), ("execve", libc::ENOENT), "{e}");
            })
        })
        .collect();
    for s in spawners {
        s.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for c in churners {
        c.join().unwrap();
    }
    let after: u64 = canary.iter().fold(0, |a, &b| a.wrapping_add(b));
    assert_eq!(before, after, "our memory changed under the children");
    no_children_left();
}

const LIST_FDS: &str = "for f in /proc/$$/fd/*; do printf '%s ' ${f##*/}; done";

pub(crate) fn closes_unasked_fds() {
    // An fd without close-on-exec, as a careless library leaves them (at
    // 50, apart from what the shell opens itself).
    let file = std::fs::File::open("/dev/null").unwrap();
    let leaky = rustix::io::fcntl_dupfd_cloexec(&file, 50).unwrap();
    fd_core::set_cloexec(&leaky, false).unwrap();
    let leaked = std::os::fd::AsRawFd::as_raw_fd(&leaky).to_string();
    // std passes it on.
    let out = Command::new("sh").args(["-c", LIST_FDS]).output().unwrap();
    let theirs = String::from_utf8(out.stdout).unwrap();
    assert!(
        theirs.split(' ').any(|f| f == leaked),
        "std leaks {leaked}: {theirs}"
    );
    // We do not; a passed fd arrives where asked.
    let passed: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
    let mut s = Sandbox::new("sh");
    s.args(["-c", LIST_FDS]).pass_fd(passed, 7);
    let out = s.output().unwrap();
    let ours = String::from_utf8(out.stdout).unwrap();
    let ours: Vec<&str> = ours.split_whitespace().collect();
    // 3 is the directory the shell's glob is reading.
    assert_eq!(
        ours,
        ["0", "1", "2", "3", "7"],
        "only stdio and the passed fd"
    );
    assert!(!ours.contains(&leaked.as_str()));
}

pub(crate) fn bad_input() {
    let scratch = TempDir::new("bad-input");
    let file = scratch.join("file");
    std::fs::write(&file, b"").unwrap();
    let kind_and_text = |s: &Sandbox| {
        let e = s.spawn().unwrap_err();
        (e.kind(), e.to_string())
    };
    let (k, t) = kind_and_text(Sandbox::new("true").root(scratch.join("missing")));
    assert_eq!(k, ErrorKind::NotFound);
    assert!(t.contains("new root") && t.contains("missing"), "{t}");
    let (k, t) = kind_and_text(Sandbox::new("true").root(&file));
    assert_eq!(k, ErrorKind::InvalidInput);
    assert!(t.contains("is not a directory"), "{t}");
    let (k, t) = kind_and_text(Sandbox::new("true").bind(Bind {
        source: scratch.join("nope"),
        target: "/x".into(),
        read_only: false,
        devices: false,
    }));
    assert_eq!(k, ErrorKind::InvalidInput);
    assert!(t.contains("bind source") && t.contains("nope"), "{t}");
    let (k, t) = kind_and_text(Sandbox::new("true").bind(Bind {
        source: file.clone(),
        target: "relative".into(),
        read_only: false,
        devices: false,
    }));
    assert_eq!(k, ErrorKind::InvalidInput);
    assert!(t.contains("not an absolute path"), "{t}");
    let (k, t) = kind_and_text(Sandbox::new("true").hostname("h".repeat(65)));
    assert_eq!(k, ErrorKind::InvalidInput);
    assert!(t.contains("at most 64"), "{t}");
    let (_, t) = kind_and_text(Sandbox::new("true").uid_map(vec![IdMap::one(0, 0)]));
    assert!(t.contains("need a new user namespace"), "{t}");
    let null = || -> OwnedFd { std::fs::File::open("/dev/null").unwrap().into() };
    let (_, t) = kind_and_text(Sandbox::new("true").pass_fd(null(), 1));
    assert!(t.contains("stdio"), "{t}");
    let (_, t) = kind_and_text(Sandbox::new("true").pass_fd(null(), 9).pass_fd(null(), 9));
    assert!(t.contains("passed twice"), "{t}");
    let (_, t) = kind_and_text(Sandbox::new("true").arg("a\0b"));
    assert!(t.contains("NUL"), "{t}");
    let (_, t) = kind_and_text(&Sandbox::new(""));
    assert!(t.contains("no program"), "{t}");
    // A filter is a checked seccomp_lite::Program: bad bytes never get
    // as far as the sandbox.
    let e = seccomp_lite::Program::from_bytes(&[0; 12]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    // Maps that break the kernel's rules, as an unprivileged caller.
    let pid = fork_child(|| {
        become_nobody();
        let e = Sandbox::new("true")
            .unshare(Namespaces::USER)
            .uid_map(vec![IdMap {
                inside: 0,
                outside: 65534,
                count: 10,
            }])
            .spawn()
            .unwrap_err();
        i32::from(!(e.kind() == ErrorKind::InvalidInput && e.to_string().contains("CAP_SETUID")))
    });
    assert_eq!(exit_code(pid), 0);
}

/// No child is left behind after a failed spawn.
fn no_children_left() {
    let r = rustix::process::waitid(
        rustix::process::WaitId::All,
        rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOHANG,
    );
    assert_eq!(r.unwrap_err(), rustix::io::Errno::CHILD);
}

pub(crate) fn failing_steps() {
    let ns = if is_root() {
        Namespaces::UTS
    } else {
        Namespaces::UTS | Namespaces::USER
    };
    let e = Sandbox::new("no-such-program-xyz")
        .unshare(ns)
        .spawn()
        .unwrap_err();
    assert_eq!((e.kind(), e.errno()), (ErrorKind::NotFound, libc::ENOENT));
    assert!(
        e.to_string().contains("execve of \"no-such-program-xyz\""),
        "{e}"
    );
    assert_eq!(e.call(), "execve");
    no_children_left();
    let scratch = TempDir::new("steps");
    let script = scratch.join("not-executable");
    std::fs::write(&script, b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = Sandbox::new(&script).unshare(ns).spawn().unwrap_err();
    assert_eq!((e.call(), e.errno()), ("execve", libc::EACCES), "{e}");
    no_children_left();
    // A mount point under a regular file: mkdir fails with ENOTDIR, and
    // the error names the step.
    let root = TempDir::new("steps-root");
    std::fs::write(root.join("file"), b"").unwrap();
    let mut s = Sandbox::new("true");
    s.unshare(ns | Namespaces::USER)
        .root(root.path())
        .bind(Bind {
            source: "/usr".into(),
            target: "/file/usr".into(),
            read_only: false,
            devices: false,
        });
    let e = s.spawn().unwrap_err();
    assert_eq!(e.errno(), libc::ENOTDIR, "{e}");
    assert!(e.to_string().contains("file/usr"), "{e}");
    no_children_left();
    // chdir into a directory that does not exist in the sandbox.
    let e = Sandbox::new("true")
        .unshare(ns)
        .current_dir("/no/such/dir")
        .spawn()
        .unwrap_err();
    assert_eq!(e.errno(), libc::ENOENT);
    assert!(e.to_string().contains("chdir to /no/such/dir"), "{e}");
    no_children_left();
}

pub(crate) fn stdio_env_cwd() {
    let mut s = Sandbox::new("cat");
    s.stdin(Stdio::Piped).stdout(Stdio::Piped);
    let mut child = s.spawn().unwrap();
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"through the sandbox")
        .unwrap();
    drop(child.stdin.take());
    let mut got = String::new();
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_to_string(&mut got)
        .unwrap();
    assert_eq!(got, "through the sandbox");
    assert_eq!(child.wait().unwrap(), ChildStatus::Exited(0));

    // Exactly the environment asked for (`env` found by the default PATH).
    let out = Sandbox::new("env")
        .env_clear()
        .env("A", "1")
        .env("B", "2")
        .env_remove("B")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "A=1\n");
    let out = Sandbox::new("pwd").current_dir("/usr").output().unwrap();
    assert_eq!(out.stdout, b"/usr\n");

    // stdin /dev/null by default for output(); an fd as stdout.
    let scratch = TempDir::new("stdio");
    let file = std::fs::File::create(scratch.join("out")).unwrap();
    let status = Sandbox::new("sh")
        .args(["-c", "cat; echo written"])
        .stdin(Stdio::Null)
        .stdout(Stdio::Fd(file.into()))
        .spawn()
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(status, ChildStatus::Exited(0));
    assert_eq!(
        std::fs::read_to_string(scratch.join("out")).unwrap(),
        "written\n"
    );
    let out = Sandbox::new("sh")
        .args(["-c", "echo err >&2; exit 3"])
        .output()
        .unwrap();
    assert_eq!(
        (out.status, out.stderr.as_slice()),
        (ChildStatus::Exited(3), &b"err\n"[..])
    );
}

/// The bytes `seccomp_export_bpf` writes, as the checked program the
/// sandbox takes.
fn program(bytes: &[u8]) -> seccomp_lite::Program {
    seccomp_lite::Program::from_bytes(bytes).unwrap()
}

/// One classic BPF instruction in the bytes `seccomp_export_bpf` writes.
fn insn(code: u16, jt: u8, jf: u8, k: u32) -> Vec<u8> {
    let mut v = code.to_ne_bytes().to_vec();
    v.push(jt);
    v.push(jf);
    v.extend_from_slice(&k.to_ne_bytes());
    v
}

/// `ret k` for every call.
fn filter(ret: u32) -> Vec<u8> {
    insn(0x06, 0, 0, ret) // BPF_RET | BPF_K
}

/// `execve` fails with EPERM, everything else is allowed.
fn deny_execve() -> Vec<u8> {
    let mut v = insn(0x20, 0, 0, 0); // BPF_LD | BPF_W | BPF_ABS: seccomp_data.nr
    v.extend(insn(0x15, 0, 1, u32::try_from(libc::SYS_execve).unwrap())); // BPF_JMP | BPF_JEQ | BPF_K
    v.extend(insn(0x06, 0, 0, 0x0005_0000 | libc::EPERM as u32)); // SECCOMP_RET_ERRNO
    v.extend(insn(0x06, 0, 0, 0x7fff_0000)); // SECCOMP_RET_ALLOW
    v
}

pub(crate) fn nnp_and_seccomp() {
    let status_of = |s: &mut Sandbox| {
        let out = s
            .args(["NoNewPrivs|Seccomp:", "/proc/self/status"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let out = status_of(Sandbox::new("grep").arg("-E").no_new_privs(true));
    assert!(
        out.contains("NoNewPrivs:\t1") && out.contains("Seccomp:\t0"),
        "{out}"
    );
    let out = status_of(
        Sandbox::new("grep")
            .arg("-E")
            .no_new_privs(true)
            .seccomp_filter(&program(&filter(0x7fff_0000))),
    );
    assert!(out.contains("Seccomp:\t2"), "{out}");
    // A filter that fails execve with EPERM: it is in force at exec.
    let e = Sandbox::new("true")
        .no_new_privs(true)
        .seccomp_filter(&program(&deny_execve()))
        .spawn()
        .unwrap_err();
    assert_eq!(e.errno(), libc::EPERM, "{e}");
    assert!(e.to_string().contains("execve"), "{e}");
    // Unprivileged without no_new_privs: the kernel refuses the filter.
    let pid = fork_child(|| {
        become_nobody();
        let e = Sandbox::new("true")
            .seccomp_filter(&program(&filter(0x7fff_0000)))
            .spawn()
            .unwrap_err();
        i32::from(!(e.errno() == libc::EACCES && e.to_string().contains("seccomp")))
    });
    assert_eq!(exit_code(pid), 0);
}

pub(crate) fn death_signal() {
    let child = std::thread::spawn(|| {
        Sandbox::new("sleep")
            .arg("1000")
            .death_signal(Signal::KILL)
            .spawn()
            .unwrap()
    })
    .join()
    .unwrap();
    // The thread that spawned it has exited: the kernel sent SIGKILL.
    let mut child = child;
    assert_eq!(
        child.wait().unwrap(),
        ChildStatus::Killed {
            signal: Signal::KILL,
            core_dumped: false
        }
    );
}

/// `sync_fd` (bwrap's `--sync-fd`): the program never has the fd, the
/// far end stays open while the sandbox runs and reads end of file once
/// it has ended; with a pid namespace the init holds it, without one a
/// supervisor that ends as the program did (its exit status, its signal).
pub(crate) fn sync_fd_held_by_the_sandbox_alone() {
    use std::os::fd::AsFd;
    use std::time::Duration;
    let (with_pid, without) = if is_root() {
        (Namespaces::PID | Namespaces::MNT, Namespaces::UTS)
    } else {
        (
            Namespaces::USER | Namespaces::PID | Namespaces::MNT,
            Namespaces::USER,
        )
    };
    for ns in [with_pid, without, Namespaces::empty()] {
        if ns.is_empty() && !is_root() {
            continue; // as without, but vfork-style only for root's namespaces
        }
        let (far, near) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let mut s = Sandbox::new("sh");
        s.args([
            "-c",
            "ls /proc/self/fd | tr '\\n' ' '; echo '|'; read x; exit 5",
        ])
        .unshare(ns)
        .stdin(Stdio::Piped)
        .stdout(Stdio::Piped)
        .sync_fd(near);
        let mut child = s.spawn().unwrap();
        drop(s); // it held our copy of the near end
        let mut seen = Vec::new();
        let mut stdout = child.stdout.take().unwrap();
        let mut byte = [0u8; 1];
        while !seen.ends_with(b"|\n") {
            assert_eq!(stdout.read(&mut byte).unwrap(), 1, "{seen:?}");
            seen.push(byte[0]);
        }
        // ls's own directory fd is 3: nothing else is open in the program.
        assert_eq!(String::from_utf8_lossy(&seen), "0 1 2 3 |\n", "{ns:?}");
        assert!(
            !fd_core::wait_readable(far.as_fd(), Some(Duration::ZERO)).unwrap(),
            "the sync fd closed while the sandbox runs ({ns:?})"
        );
        drop(child.stdin.take());
        assert_eq!(child.wait().unwrap(), ChildStatus::Exited(5), "{ns:?}");
        assert!(
            fd_core::wait_readable(far.as_fd(), Some(Duration::from_secs(10))).unwrap(),
            "the sync fd stayed open after the sandbox ended ({ns:?})"
        );
        assert_eq!(rustix::io::read(&far, &mut byte).unwrap(), 0);
    }
    // The supervisor dies of the signal the program died of.
    let (_far, near) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let status = Sandbox::new("sh")
        .args(["-c", "kill -TERM $$; exit 9"])
        .unshare(without)
        .sync_fd(near)
        .spawn()
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(
        status,
        ChildStatus::Killed {
            signal: Signal::TERM,
            core_dumped: false
        }
    );
}

const COMPARE_SCRIPT: &str = r#"
echo pid=$$
echo uid=$(id -u)
echo gid=$(id -g)
echo uid_map=$(cat /proc/self/uid_map)
echo gid_map=$(cat /proc/self/gid_map)
echo setgroups=$(cat /proc/self/setgroups)
# Counted by the shell itself (a pipeline's processes come and go as
# they are counted): every process its own /proc shows.
set -- /proc/[0-9]*; echo procs=$#
echo host=$(hostname)
"#;

/// The same workload through util-linux `unshare` and through us.
pub(crate) fn beside_unshare() {
    if Command::new("unshare").arg("--version").output().is_err() {
        skip("util-linux unshare is not installed");
    }
    become_nobody();
    need_userns();
    let theirs = Command::new("unshare")
        .args([
            "-Urpf",
            "--mount-proc",
            "--uts",
            "--ipc",
            "sh",
            "-c",
            COMPARE_SCRIPT,
        ])
        .output()
        .unwrap();
    assert!(
        theirs.status.success(),
        "{}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    let ours = Sandbox::new("sh")
        .unshare(
            Namespaces::USER
                | Namespaces::PID
                | Namespaces::MNT
                | Namespaces::UTS
                | Namespaces::IPC,
        )
        .init(false)
        .args(["-c", COMPARE_SCRIPT])
        .output()
        .unwrap();
    assert_eq!(ours.status, ChildStatus::Exited(0));
    assert_eq!(fields(&ours.stdout), fields(&theirs.stdout));
}

/// A sandboxed child awaited on async-io's reactor through its pidfd,
/// while another task runs.
pub(crate) fn async_wait() {
    let ns = if is_root() {
        Namespaces::PID | Namespaces::MNT
    } else {
        Namespaces::USER | Namespaces::PID | Namespaces::MNT
    };
    let child = Sandbox::new("sh")
        .unshare(ns)
        .args(["-c", "exit 4"])
        .spawn()
        .unwrap();
    let pidfd = signal_fd::AsyncPidFd::new(child.into_pidfd()).unwrap();
    let status = futures_lite::future::block_on(pidfd.exit()).unwrap();
    assert_eq!(status, ChildStatus::Exited(4));
}

/// The mount points a sandbox makes in the caller's root (`dev`, `tmp`,
/// `proc`, a bind target and its parents) are gone once it is reaped; one
/// that someone filled meanwhile stays, and is named. The root holds what
/// it held before, nothing more.
pub(crate) fn root_is_left_as_it_was() {
    let root = TempDir::new("tidy");
    let data = TempDir::new("tidy-data");
    std::fs::write(data.join("f"), b"bound\n").unwrap();
    let mut s = Sandbox::new("sh");
    small_container(&mut s, &root);
    s.bind(Bind {
        source: data.join("f"),
        target: "/data/sub/f".into(),
        read_only: true,
        devices: false,
    })
    .args(["-c", "cat /data/sub/f"]);
    let listing = |dir: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = listing(root.path());
    let out = s.output().unwrap();
    assert_eq!(
        out.stdout,
        b"bound\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(listing(root.path()), before, "nothing left in the root");
    // Something put into a mount point while it runs stays, and is named.
    let mut s2 = Sandbox::new("sh");
    small_container(&mut s2, &root);
    s2.stdin(Stdio::Piped).args(["-c", "read x"]);
    let mut child = s2.spawn().unwrap();
    std::fs::write(root.join("tmp/keep"), b"mine").unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert_eq!(child.wait().unwrap(), ChildStatus::Exited(0));
    assert_eq!(child.left_in_root(), [root.join("tmp")]);
    assert_eq!(std::fs::read(root.join("tmp/keep")).unwrap(), b"mine");
    let mut expected = before.clone();
    expected.push("tmp".into());
    expected.sort();
    assert_eq!(listing(root.path()), expected);
    // A failing step tidies up too.
    std::fs::remove_dir_all(root.join("tmp")).unwrap();
    let mut s3 = Sandbox::new("no-such-program-xyz");
    small_container(&mut s3, &root);
    assert!(s3.spawn().is_err());
    assert_eq!(listing(root.path()), before);
}

/// A signal the caller ignores (`SIG_IGN`, which `execve` keeps) is back
/// to its default in the sandboxed program: the child resets every
/// disposition with `rt_sigaction` and the kernel's own struct. Beside it,
/// std's `Command` (which resets only SIGPIPE) leaves it ignored.
pub(crate) fn ignored_signals_are_default_again() {
    // SAFETY: this test runs alone in its forked harness child; SIG_IGN
    // installs no handler.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::signal(libc::SIGUSR1, libc::SIG_IGN);
    }
    let script = "kill -TERM $$; kill -USR1 $$; exit 7";
    let by_std = Command::new("sh").args(["-c", script]).status().unwrap();
    assert_eq!(
        by_std.code(),
        Some(7),
        "std keeps the ignored signals ignored"
    );
    let ours = Sandbox::new("sh")
        .args(["-c", script])
        .spawn()
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(
        ours,
        ChildStatus::Killed {
            signal: Signal::TERM,
            core_dumped: false
        }
    );
}

/// The program `tiocsti` pushes one byte into its stdin's terminal with
/// `TIOCSTI` as uid 65534 (so without `CAP_SYS_ADMIN`, which would let it
/// into any terminal) and exits 0, or with the errno it got.
const TIOCSTI_C: &str = r#"
#include <errno.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <unistd.h>
int main(void) {
    char c = 'x';
    if (setgroups(0, 0) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) return 100;
    return ioctl(0, TIOCSTI, &c) == 0 ? 0 : errno;
}
"#;

/// `new_session`: a sandboxed program cannot type into the caller's
/// terminal. The caller is a session leader with a pty as its controlling
/// terminal; a program given that terminal as stdin pushes a byte into it
/// with `TIOCSTI` unless the sandbox put it in a new session, where the
/// terminal is no longer its controlling one (`EPERM`), as under bwrap
/// `--new-session`.
pub(crate) fn new_session_stops_tiocsti() {
    if !is_root() {
        skip("needs root to run the probe as uid 65534 in a plain sandbox");
    }
    let legacy = std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti").unwrap_or_default();
    if legacy.trim() == "0" {
        skip(
            "dev.tty.legacy_tiocsti is 0: this kernel refuses TIOCSTI to everyone without CAP_SYS_ADMIN",
        );
    }
    let dir = TempDir::new("tiocsti");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("tiocsti.c"), TIOCSTI_C).unwrap();
    let built = Command::new("cc")
        .arg("-o")
        .arg(dir.join("tiocsti"))
        .arg(dir.join("tiocsti.c"))
        .status();
    if !built.is_ok_and(|s| s.success()) {
        skip("no C compiler (cc) to build the TIOCSTI probe");
    }
    let probe = dir.join("tiocsti");
    let child = fork_child(move || {
        // A session leader whose controlling terminal is a fresh pty.
        rustix::process::setsid().unwrap();
        let master =
            rustix::pty::openpt(rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY)
                .unwrap();
        rustix::pty::grantpt(&master).unwrap();
        rustix::pty::unlockpt(&master).unwrap();
        let name = rustix::pty::ptsname(&master, Vec::new()).unwrap();
        // Opened without O_NOCTTY by a session leader with none: its terminal.
        let slave: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().unwrap())
            .unwrap()
            .into();
        let run = |new_session: bool| {
            let mut s = Sandbox::new(&probe);
            s.stdin(Stdio::Fd(slave.try_clone().unwrap()))
                .new_session(new_session);
            match s.spawn().unwrap().wait().unwrap() {
                ChildStatus::Exited(code) => code,
                other => panic!("probe: {other}"),
            }
        };
        let same = run(false);
        let own = run(true);
        eprintln!("TIOCSTI from the sandbox: same session {same}, new session {own}");
        // Closing the master now would hang the terminal up and send this
        // session leader SIGHUP before it exits: it closes with the process.
        std::mem::forget(master);
        // 0: it typed into our terminal; EPERM: it could not.
        i32::from(!(same == 0 && own == libc::EPERM))
    });
    assert_eq!(exit_code(child), 0, "see the TIOCSTI line above");
}

/// `rlimit`: the program starts with the limits asked for, as util-linux
/// `prlimit` gives them; a soft limit over the hard one is refused before
/// anything runs, and raising a hard limit without the privilege fails
/// naming the step and `prlimit64`.
pub(crate) fn rlimits_as_prlimit() {
    let script = "ulimit -n; ulimit -Hn; ulimit -c";
    let ours = Sandbox::new("sh")
        .args(["-c", script])
        .rlimit(Resource::Nofile, Some(64), Some(128))
        .rlimit(Resource::Core, Some(0), None)
        .output()
        .unwrap();
    assert_eq!(ours.status, ChildStatus::Exited(0));
    assert_eq!(String::from_utf8_lossy(&ours.stdout), "64\n128\n0\n");
    if let Ok(theirs) = Command::new("prlimit")
        .args(["--nofile=64:128", "--core=0:unlimited", "sh", "-c", script])
        .output()
    {
        assert_eq!(theirs.stdout, ours.stdout, "beside prlimit");
    }
    assert_eq!("NOFILE".parse::<Resource>().unwrap(), Resource::Nofile);
    assert_eq!("rlimit_as".parse::<Resource>().unwrap(), Resource::As);
    let e = "files".parse::<Resource>().unwrap_err();
    assert!(e.to_string().contains("nofile"), "{e}");

    let e = Sandbox::new("true")
        .rlimit(Resource::Nofile, Some(100), Some(10))
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(
        e.to_string()
            .contains("soft nofile limit 100 is over the hard limit 10"),
        "{e}"
    );

    let pid = fork_child(|| {
        become_nobody();
        let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum;
        let e = Sandbox::new("true")
            .rlimit(Resource::Nofile, Some(16), hard.map(|h| h + 1))
            .spawn()
            .unwrap_err();
        let text = e.to_string();
        i32::from(
            !(e.errno() == libc::EPERM && e.call() == "prlimit64" && text.contains("nofile limit")),
        )
    });
    assert_eq!(exit_code(pid), 0);
}

/// The capability lines of `/proc/self/status` as the program saw them.
fn caps_inside(configure: impl FnOnce(&mut Sandbox)) -> BTreeMap<String, u64> {
    let mut s = Sandbox::new("sh");
    s.args(["-c", "grep '^Cap' /proc/self/status; mount -t tmpfs none /tmp 2>/dev/null && echo mount=yes || echo mount=no"])
        .unshare(Namespaces::USER | Namespaces::MNT | Namespaces::PID);
    configure(&mut s);
    let out = s.output().unwrap();
    assert_eq!(
        out.status,
        ChildStatus::Exited(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            if let Some((k, v)) = l.split_once(":\t") {
                Some((k.to_owned(), u64::from_str_radix(v.trim(), 16).unwrap()))
            } else {
                l.strip_prefix("mount=")
                    .map(|v| ("mount".to_owned(), u64::from(v == "yes")))
            }
        })
        .collect()
}

/// `capabilities`: unset, root inside keeps every capability over its
/// namespace (a mount works, as under `unshare -r`); `CapSet::EMPTY` leaves
/// every set empty (the mount is refused, as under bwrap `--cap-drop ALL`);
/// a kept one is the only one in every set, ambient included. Names match
/// libcap's `capsh --decode`.
pub(crate) fn capabilities_kept_and_dropped() {
    need_userns();
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let all = (1u64 << (last + 1)) - 1;
    let mut s = Sandbox::new("true");
    assert!(
        format!("{s:?}").contains("caps: AsTheNamespacesGive"),
        "{s:?}"
    );
    s.capabilities(CapSet::EMPTY);
    assert!(format!("{s:?}").contains("caps: Only(CapSet())"), "{s:?}");
    let full = caps_inside(|_| {});
    assert_eq!(
        (full["CapBnd"], full["CapEff"], full["mount"]),
        (all, all, 1),
        "{full:?}"
    );

    let none = caps_inside(|s| {
        s.capabilities(CapSet::EMPTY);
    });
    for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(none[k], 0, "{k}: {none:?}");
    }
    assert_eq!(none["mount"], 0, "a mount with no capabilities: {none:?}");

    let keep: CapSet = "CAP_SYS_ADMIN,net_admin".parse().unwrap();
    let some = caps_inside(|s| {
        s.capabilities(keep);
    });
    for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(some[k], keep.bits(), "{k}: {some:?}");
    }
    assert_eq!(some["mount"], 1, "CAP_SYS_ADMIN kept: {some:?}");

    if let Ok(out) = Command::new("capsh")
        .arg(format!("--decode={:#x}", keep.bits()))
        .output()
    {
        let said = String::from_utf8_lossy(&out.stdout).to_uppercase();
        assert!(
            said.contains("CAP_NET_ADMIN,CAP_SYS_ADMIN"),
            "capsh: {said}"
        );
        assert_eq!(keep.to_string(), "CAP_NET_ADMIN,CAP_SYS_ADMIN");
    }
    if Command::new("bwrap").arg("--version").output().is_ok() {
        let out = Command::new("bwrap")
            .args([
                "--unshare-user",
                "--uid",
                "0",
                "--dev-bind",
                "/",
                "/",
                "--cap-drop",
                "ALL",
                "--cap-add",
                "CAP_NET_ADMIN",
                "--cap-add",
                "CAP_SYS_ADMIN",
                "grep",
                "^Cap",
                "/proc/self/status",
            ])
            .output()
            .unwrap();
        // Every set, field by field, as bwrap leaves them.
        let theirs: BTreeMap<String, u64> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(":\t"))
            .map(|(k, v)| (k.to_owned(), u64::from_str_radix(v.trim(), 16).unwrap()))
            .collect();
        assert_eq!(
            theirs.len(),
            5,
            "bwrap: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (k, v) in &theirs {
            assert_eq!(some[k], *v, "{k}: ours {some:?}, bwrap {theirs:?}");
        }
    } else {
        eprintln!("partly skipped: bwrap is not installed (.ci/run installs bubblewrap)");
    }

    // A non-root uid inside cannot drop the bounding set: refused first.
    let e = Sandbox::new("true")
        .unshare(Namespaces::USER)
        .uid_map(vec![IdMap::one(1000, rustix::process::geteuid().as_raw())])
        .gid_map(vec![IdMap::one(1000, rustix::process::getegid().as_raw())])
        .ids(1000, 1000)
        .capabilities(CapSet::EMPTY)
        .spawn()
        .unwrap_err();
    assert!(e.to_string().contains("CAP_SETPCAP"), "{e}");
}

/// A new network namespace has its loopback up, 127.0.0.1 and ::1 on it
/// (as bwrap --unshare-net leaves it), a TCP connection over it works; with
/// `loopback(false)` it stays down (as `unshare --net`). As root and as uid
/// 65534.
pub(crate) fn loopback_beside_bwrap() {
    // `lo`'s IPv4 and IPv6 addresses, from /proc/net (the process's own
    // namespace; /sys/class/net is the namespace of whoever mounted /sys).
    const LOOK: &str = r#"
if grep -q '127.0.0.1' /proc/net/fib_trie; then echo v4=yes; else echo v4=no; fi
if grep -q ' lo$' /proc/net/if_inet6; then echo v6=yes; else echo v6=no; fi
"#;
    let ours = |up: bool| {
        let out = Sandbox::new("sh")
            .unshare(Namespaces::USER | Namespaces::NET)
            .loopback(up)
            .args(["-c", LOOK])
            .output()
            .unwrap();
        assert_eq!(
            out.status,
            ChildStatus::Exited(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        fields(&out.stdout)
    };
    let up = ours(true);
    assert_eq!(up["v4"], "yes", "{up:?}");
    assert_eq!(up["v6"], "yes", "{up:?}");
    let down = ours(false);
    assert_eq!(down["v4"], "no", "{down:?}");
    assert_eq!(down["v6"], "no", "{down:?}");
    // A connection over it, made in the sandbox by a program of its own.
    let connect = Sandbox::new("sh")
        .unshare(Namespaces::USER | Namespaces::NET)
        .args([
            "-c",
            "command -v bash >/dev/null || { echo skipped; exit 0; }; \
             bash -c 'exec 3<>/dev/tcp/127.0.0.1/9' 2>&1 | grep -q 'Connection refused' && echo refused",
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&connect.stdout).into_owned();
    assert!(said == "refused\n" || said == "skipped\n", "{said:?}");
    let pid = fork_child(|| {
        become_nobody();
        need_userns();
        i32::from(ours(true)["v4"] != "yes")
    });
    assert_eq!(exit_code(pid), 0);
    if Command::new("bwrap").arg("--version").output().is_err() {
        eprintln!("partly skipped: bwrap is not installed (.ci/run installs bubblewrap)");
        return;
    }
    let out = Command::new("bwrap")
        .args([
            "--unshare-user",
            "--unshare-net",
            "--dev-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "sh",
            "-c",
            LOOK,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fields(&out.stdout), up, "bwrap and ours");
}

//! User notifications for real: a filtered thread (or child) and a
//! supervisor answering it.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use butter_tests::{TempDir, skip};
use fd_core::EventSource;
use seccomp_lite::{
    Action, AddFd, Arg, ErrorKind, Filter, Listener, Response, Rule, SeccompCommandExt, handoff,
};

const LIMIT: Duration = Duration::from_secs(20);

fn notify_filter(names: &[&'static str]) -> seccomp_lite::Program {
    Filter::new(Action::Allow)
        .with_action(Action::UserNotif, names.iter().copied())
        .compile()
        .unwrap()
}

/// A thread that installs `program` on itself only (no TSYNC), hands the
/// listener over, then runs `work`.
fn filtered_thread<T: Send + 'static>(
    program: seccomp_lite::Program,
    work: impl FnOnce() -> T + Send + 'static,
) -> (Listener, i32, std::thread::JoinHandle<T>) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let listener = program
            .loader()
            .load_listener()
            .expect("load with a listener");
        tx.send((listener, butter_tests::gettid())).unwrap();
        work()
    });
    let (listener, tid) = rx.recv().unwrap();
    (listener, tid, handle)
}

fn openat(path: &CString) -> Result<OwnedFd, i32> {
    // SAFETY: a NUL-terminated path that outlives the call.
    let fd = unsafe {
        libc::openat(
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        // SAFETY: the kernel just returned this fd to us.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

fn read_all(fd: OwnedFd) -> String {
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s).unwrap();
    s
}

pub(crate) fn continue_addfd_errno_value() {
    let dir = TempDir::new("seccomp-notify");
    let real = dir.join("real");
    std::fs::write(&real, "from the disk").unwrap();
    let path = CString::new(real.to_str().unwrap()).unwrap();
    let p2 = path.clone();
    let (listener, tid, worker) =
        filtered_thread(notify_filter(&["openat", "getppid"]), move || {
            let continued = openat(&p2).map(read_all);
            let injected = openat(&p2).map(read_all);
            let denied = openat(&p2).map(read_all);
            // SAFETY: a raw syscall without arguments.
            let value = unsafe { libc::syscall(libc::SYS_getppid) };
            (continued, injected, denied, value)
        });
    let mut seen_ids = Vec::new();
    for step in 0..4 {
        assert!(
            listener.wait_readable(Some(LIMIT)).unwrap(),
            "a notification within {LIMIT:?}"
        );
        let n = listener.recv().unwrap();
        assert_eq!(n.pid, tid as u32, "the caller is the filtered thread");
        assert!(listener.id_valid(n.id).unwrap());
        seen_ids.push(n.id);
        if step < 3 {
            assert_eq!(n.syscall_name(), Some("openat"));
            let got = listener.read_cstr(&n, n.data.args[1], 4096).unwrap();
            assert_eq!(got, path, "the path read from the caller's memory");
        }
        match step {
            0 => listener.respond(n.id, Response::Continue).unwrap(),
            1 => {
                let (r, mut w) = std::io::pipe().unwrap();
                w.write_all(b"from the supervisor").unwrap();
                drop(w);
                let at = listener
                    .add_fd(n.id, OwnedFd::from(r), AddFd::new().cloexec().send())
                    .unwrap();
                assert!(at > 2, "installed at {at}");
            }
            2 => listener
                .respond(n.id, Response::Errno(libc::EACCES))
                .unwrap(),
            _ => {
                assert_eq!(n.syscall_name(), Some("getppid"));
                listener.respond(n.id, Response::Value(4242)).unwrap();
            }
        }
        assert!(
            !listener.id_valid(n.id).unwrap(),
            "answered: no longer valid"
        );
    }
    let (continued, injected, denied, value) = worker.join().unwrap();
    assert_eq!(continued.unwrap(), "from the disk");
    assert_eq!(injected.unwrap(), "from the supervisor");
    assert_eq!(denied.unwrap_err(), libc::EACCES);
    assert_eq!(value, 4242);
    seen_ids.dedup();
    assert_eq!(seen_ids.len(), 4, "each call its own id");
    // Answering twice: the caller is no longer waiting.
    let e = listener
        .respond(seen_ids[0], Response::Continue)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("gone"), "{e}");
    let e = listener
        .respond(seen_ids[0], Response::Errno(5000))
        .unwrap_err();
    assert!(e.to_string().contains("4095"), "{e}");
    // The filtered thread has exited: nobody is left for the filter, the
    // listener hangs up.
    let mut fds = [rustix::event::PollFd::new(
        &listener,
        rustix::event::PollFlags::IN,
    )];
    rustix::event::poll(&mut fds, None).unwrap();
    assert!(
        fds[0].revents().contains(rustix::event::PollFlags::HUP),
        "{:?}",
        fds[0].revents()
    );
}

pub(crate) fn target_killed_mid_answer() {
    let dir = TempDir::new("seccomp-kill");
    let file = dir.join("f");
    std::fs::write(&file, "x").unwrap();
    let program = notify_filter(&["openat"]);
    let (sender, receiver) = handoff().unwrap();
    let mut cmd = Command::new("cat");
    cmd.arg(&file).stdout(Stdio::null());
    cmd.seccomp_listener(&program, sender).unwrap();
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let listener = receiver.receive().unwrap();
    assert!(listener.wait_readable(Some(LIMIT)).unwrap());
    let n = listener.recv().unwrap();
    assert_eq!(n.pid, child.id());
    child.kill().unwrap();
    let status = child.wait().unwrap(); // reaped: certainly gone
    assert!(!status.success());
    assert!(!listener.id_valid(n.id).unwrap());
    let e = listener.respond(n.id, Response::Continue).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("gone"), "{e}");
    let e = listener.read_cstr(&n, n.data.args[1], 4096).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = listener
        .add_fd(n.id, std::io::stdin().as_fd(), AddFd::new())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
}

pub(crate) fn handoff_errors() {
    // A sender dropped without sending: the receiver hears the end.
    let (sender, receiver) = handoff().unwrap();
    drop(sender);
    let e = receiver.receive().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("without sending"), "{e}");
    // A filter that would notify the handoff's own sendmsg is refused.
    let (sender, _receiver) = handoff().unwrap();
    let program = notify_filter(&["sendmsg"]);
    let e = Command::new("true")
        .seccomp_listener(&program, sender)
        .map(|_| ())
        .unwrap_err();
    assert!(e.to_string().contains("sendmsg"), "{e}");
    // Excluding the handoff's fd makes it fine.
    let (sender, receiver) = handoff().unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&sender);
    let program = Filter::new(Action::Allow)
        .rule(Rule::new("sendmsg", Action::UserNotif).when(Arg::i32(0).not_equal(fd)))
        .compile()
        .unwrap();
    let mut cmd = Command::new("true");
    cmd.seccomp_listener(&program, sender).unwrap();
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let _listener = receiver.receive().unwrap();
    assert!(child.wait().unwrap().success());
}

pub(crate) fn strace_and_trace_see_the_same_opens() {
    // What `butter seccomp trace` does, beside strace: the paths a program opens.
    let dir = TempDir::new("seccomp-strace");
    let files: Vec<_> = (0..3).map(|i| dir.join(format!("f{i}"))).collect();
    for f in &files {
        std::fs::write(f, "x").unwrap();
    }
    let Some(strace_paths) = butter_tests::strace_opens("cat", &files) else {
        skip("strace is not installed (.ci/run installs it)");
    };
    let program = notify_filter(&["openat"]);
    let (sender, receiver) = handoff().unwrap();
    let mut cmd = Command::new("cat");
    cmd.args(&files).stdout(Stdio::null());
    cmd.seccomp_listener(&program, sender).unwrap();
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let listener = receiver.receive().unwrap();
    let mut ours = Vec::new();
    loop {
        if !listener.wait_readable(Some(LIMIT)).unwrap() {
            panic!("no notification or hang-up within {LIMIT:?}");
        }
        let n = match listener.recv() {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        };
        ours.push(
            listener
                .read_cstr(&n, n.data.args[1], 4096)
                .unwrap()
                .into_string()
                .unwrap(),
        );
        listener.respond(n.id, Response::Continue).unwrap();
        if ours
            .iter()
            .filter(|p| p.starts_with(dir.path().to_str().unwrap()))
            .count()
            == files.len()
        {
            break;
        }
    }
    assert!(child.wait().unwrap().success());
    let mine: Vec<&String> = ours
        .iter()
        .filter(|p| p.contains("seccomp-strace"))
        .collect();
    let theirs: Vec<&String> = strace_paths
        .iter()
        .filter(|p| p.contains("seccomp-strace"))
        .collect();
    assert_eq!(
        mine, theirs,
        "strace saw {strace_paths:?}, the listener {ours:?}"
    );
    assert_eq!(ours, strace_paths, "every openat, in order, the same");
}

#[cfg(feature = "async")]
pub(crate) fn async_listener_two_executors() {
    use futures_lite::StreamExt;
    use seccomp_lite::AsyncListener;
    for executor in ["async-executor", "block_on"] {
        let (listener, _tid, worker) = filtered_thread(notify_filter(&["getppid"]), || {
            // SAFETY: raw syscalls without arguments.
            (0..20)
                .map(|_| unsafe { libc::syscall(libc::SYS_getppid) })
                .collect::<Vec<_>>()
        });
        let listener = AsyncListener::new(listener).unwrap();
        let serve = async {
            let mut stream = &listener;
            for i in 0..20 {
                let n = if i % 2 == 0 {
                    stream.next().await.unwrap().unwrap()
                } else {
                    listener.recv().await.unwrap()
                };
                listener.respond(n.id, Response::Value(1000 + i)).unwrap();
            }
        };
        match executor {
            "block_on" => futures_lite::future::block_on(serve),
            _ => {
                let ex = async_executor::Executor::new();
                futures_lite::future::block_on(ex.run(serve));
            }
        }
        let values = worker.join().unwrap();
        assert_eq!(values, (1000..1020).collect::<Vec<i64>>(), "{executor}");
    }
}

pub(crate) fn listener_source_without_blocking() {
    let (listener, _tid, worker) = filtered_thread(notify_filter(&["getppid"]), || {
        // SAFETY: a raw syscall without arguments.
        unsafe { libc::syscall(libc::SYS_getppid) }
    });
    // Nothing yet? Perhaps; once it arrives the non-blocking read gets it.
    listener.set_nonblocking(true).unwrap();
    let n = loop {
        match listener.recv() {
            Ok(n) => break n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(listener.wait_readable(Some(LIMIT)).unwrap());
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(
        listener.recv().unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "only one call was made"
    );
    assert_eq!(listener.try_read_event().unwrap(), None);
    listener.respond(n.id, Response::Value(7)).unwrap();
    assert_eq!(worker.join().unwrap(), 7);
    assert!(listener.sizes().notif >= 80);
    // The filtered thread is gone: nothing can come any more. recv says so
    // (it spun on ENOENT before), in either mode; a blocking recv does not
    // wait forever.
    let e = listener.recv().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("no tasks left"), "{e}");
    listener.set_nonblocking(false).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(listener.recv().map(|_| ()).map_err(|e| e.kind())));
    assert_eq!(
        rx.recv_timeout(LIMIT).expect("a blocking recv returns"),
        Err(ErrorKind::NotFound)
    );
}

#[cfg(feature = "oci")]
pub(crate) fn container_profile_runs_a_shell() {
    use seccomp_lite::{Arch, Profile, ProfileOptions};
    let path = "/usr/share/containers/seccomp.json";
    let Ok(json) = std::fs::read_to_string(path) else {
        skip(
            "no /usr/share/containers/seccomp.json (Debian's golang-github-containers-common; .ci/run installs it)",
        );
    };
    let profile = Profile::parse(&json).unwrap();
    let filter = profile.to_filter(&ProfileOptions::default()).unwrap();
    let start = std::time::Instant::now();
    let program = filter.compile().unwrap();
    eprintln!(
        "{path}: {} rules, {} instructions, depth {}, compiled in {:?}; skipped (unknown here): {:?}",
        filter.rules().len(),
        program.len(),
        program.depth(),
        start.elapsed(),
        program.skipped()
    );
    let arch = Arch::native().unwrap();
    assert_eq!(
        program.simulate_name(arch, "read", [0; 6]).unwrap(),
        Action::Allow
    );
    // No CAP_SYS_ADMIN in the default set: bpf is refused (the entry is
    // excluded for containers that have it); kexec_load always is.
    assert_eq!(
        program.simulate_name(arch, "bpf", [0; 6]).unwrap(),
        Action::Errno(1)
    );
    assert_eq!(
        program.simulate_name(arch, "kexec_load", [0; 6]).unwrap(),
        Action::Errno(1)
    );
    let admin = ProfileOptions {
        caps: vec!["CAP_SYS_ADMIN".into()],
        ..ProfileOptions::default()
    };
    let as_admin = profile.to_filter(&admin).unwrap().compile().unwrap();
    assert_eq!(
        as_admin.simulate_name(arch, "bpf", [0; 6]).unwrap(),
        Action::Allow,
        "the refusal is excluded for CAP_SYS_ADMIN"
    );
    // personality(0) is allowed, personality(1) is not.
    assert_eq!(
        program.simulate_name(arch, "personality", [0; 6]).unwrap(),
        Action::Allow
    );
    assert_ne!(
        program
            .simulate_name(arch, "personality", [1, 0, 0, 0, 0, 0])
            .unwrap(),
        Action::Allow
    );
    let out = Command::new("sh")
        .args(["-c", "echo ok; grep Seccomp: /proc/self/status"])
        .seccomp(&program)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.starts_with("ok\n") && text.contains("Seccomp:\t2"),
        "{text}"
    );
    // The kernel agrees with the simulator on the refused call.
    let bpf = arch.syscall("bpf").unwrap();
    let pid = butter_tests::fork_child(|| {
        // SAFETY: bpf(-1, NULL, 0): refused before any pointer is read.
        let before = unsafe { libc::syscall(libc::c_long::from(bpf as i32), -1, 0, 0) };
        let before_errno = std::io::Error::last_os_error().raw_os_error();
        program.load().unwrap();
        // SAFETY: as above.
        let after = unsafe { libc::syscall(libc::c_long::from(bpf as i32), -1, 0, 0) };
        let after_errno = std::io::Error::last_os_error().raw_os_error();
        i32::from(
            !(before == -1
                && before_errno != Some(libc::EPERM)
                && after == -1
                && after_errno == Some(libc::EPERM)),
        )
    });
    assert_eq!(
        butter_tests::exit_code(pid),
        0,
        "bpf: the kernel's answer under the profile"
    );
    // The profile's own errors.
    let e = Profile::parse(r#"{"defaultAction":"SCMP_ACT_FROB"}"#)
        .unwrap()
        .to_filter(&ProfileOptions::default())
        .unwrap_err();
    assert!(e.to_string().contains("SCMP_ACT_FROB"), "{e}");
    let bad_op = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_SOMETIMES"}]}]}"#;
    let e = Profile::parse(bad_op)
        .unwrap()
        .to_filter(&ProfileOptions::default())
        .unwrap_err();
    assert!(
        e.to_string().contains("SCMP_CMP_SOMETIMES") && e.to_string().contains("syscalls[0]"),
        "{e}"
    );
    let bad_index = bad_op
        .replace("SCMP_CMP_SOMETIMES", "SCMP_CMP_EQ")
        .replace("\"index\":0", "\"index\":6");
    let e = Profile::parse(&bad_index)
        .unwrap()
        .to_filter(&ProfileOptions::default())
        .unwrap_err();
    assert!(e.to_string().contains("index 6"), "{e}");
    let e = Profile::parse("{\"defaultAction\": 3}").unwrap_err();
    assert!(e.to_string().contains("line 1"), "{e}");
    // includes/excludes and repeated indices (runc's OR).
    let json = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_AARCH64"],
      "syscalls":[
        {"names":["read"],"action":"SCMP_ACT_ALLOW"},
        {"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}},
        {"names":["getppid"],"action":"SCMP_ACT_ALLOW","excludes":{"arches":["arm64"]}},
        {"names":["write"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]},
        {"names":["no_such_call"],"action":"SCMP_ACT_ALLOW"}]}"#;
    let profile = Profile::parse(json).unwrap();
    let with = |caps: &[&str], arch| {
        let opts = ProfileOptions {
            arch: Some(arch),
            caps: caps.iter().map(|s| (*s).to_string()).collect(),
            kernel: Some((6, 1)),
            ..ProfileOptions::default()
        };
        profile.to_filter(&opts).unwrap().compile().unwrap()
    };
    let p = with(&[], Arch::X86_64);
    assert_eq!(p.skipped(), ["no_such_call"]);
    assert_eq!(
        p.simulate_name(Arch::X86_64, "mount", [0; 6]).unwrap(),
        Action::Errno(38)
    );
    assert_eq!(
        with(&["CAP_SYS_ADMIN"], Arch::X86_64)
            .simulate_name(Arch::X86_64, "mount", [0; 6])
            .unwrap(),
        Action::Allow
    );
    assert_eq!(
        p.simulate_name(Arch::X86_64, "getppid", [0; 6]).unwrap(),
        Action::Allow
    );
    assert_eq!(
        with(&[], Arch::Aarch64)
            .simulate_name(Arch::Aarch64, "getppid", [0; 6])
            .unwrap(),
        Action::Errno(38)
    );
    for (fd, want) in [
        (1, Action::Allow),
        (2, Action::Allow),
        (3, Action::Errno(38)),
    ] {
        assert_eq!(
            p.simulate_name(Arch::X86_64, "write", [fd, 0, 0, 0, 0, 0])
                .unwrap(),
            want,
            "write({fd})"
        );
    }
}

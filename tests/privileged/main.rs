//! Tests that change process-wide state or need privileges: each runs in a
//! forked child (see `butter_tests`), in private namespaces where it mounts
//! or renames anything. Nothing here changes the machine.

use std::io::ErrorKind as IoKind;

use butter_tests::{become_nobody, fill_fd_table, harness_mountinfo, harness_namespace, skip};
use event_fd::EventFd;
use fd_core::ErrorKind;
use timer_fd::{Clock, TimerFd, TimerFdFlags};

fn main() -> std::process::ExitCode {
    butter_tests::run(&[
        butter_tests::test!(Isolation, fork_child_refuses_a_threaded_process),
        butter_tests::test!(Namespaces, harness_namespaces_are_private),
        butter_tests::test!(Isolation, eventfd_out_of_fds),
        butter_tests::test!(Isolation, eventfd_try_clone_out_of_fds),
        butter_tests::test!(Isolation, timerfd_out_of_fds),
        butter_tests::test!(Isolation, alarm_clocks_need_cap_wake_alarm),
        butter_tests::test!(Isolation, pipe_out_of_fds),
        butter_tests::test!(Isolation, scan_leaves_late_file_to_the_kernel),
    ])
}

/// The race behind "a file complete twice" (and a file reported complete
/// before it was written), made deterministic: a new directory's scan is
/// stopped between placing the watch and listing (its reader thread's
/// `getdents64` goes to a seccomp listener this test answers), and a file
/// appears in that moment with no writer, as a file created by
/// `open(O_CREAT|O_WRONLY)` is before its writer counts as one. Then the
/// file is written and closed. The kernel reported its creation, so the
/// kernel's `CLOSE_WRITE` is the one: exactly one "complete", after the
/// write. (The watcher before this fix reported the scan's too.)
fn scan_leaves_late_file_to_the_kernel() {
    use butter::EventSource;
    use butter::notify::inotify::{EventMask, PathEvent, RecursiveOptions, RecursiveWatcher};
    use butter::seccomp::{Action, Filter, Response};
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    const LIMIT: Duration = Duration::from_secs(20);
    let dir = butter_tests::TempDir::new("late-file");
    let root = dir.path().to_path_buf();
    let watcher = RecursiveWatcher::with_options(
        &root,
        EventMask::CREATE | EventMask::CLOSE_WRITE,
        RecursiveOptions {
            scanned_close_write: true,
            ..RecursiveOptions::default()
        },
    )
    .unwrap();
    let program = Filter::new(Action::Allow)
        .with_action(Action::UserNotif, ["getdents64"])
        .compile()
        .unwrap();
    let done = AtomicBool::new(false);
    let late = root.join("d/late");
    let (watcher, late, done, program) = (&watcher, &late, &done, &program);
    let events = std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        let (seen_tx, seen) = std::sync::mpsc::channel();
        let reader = s.spawn(move || {
            // However this thread ends, the one answering its listings stops.
            struct Done<'a>(&'a AtomicBool);
            impl Drop for Done<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::Release);
                }
            }
            let _done = Done(done);
            // This thread only (no TSYNC): its listings wait for us.
            tx.send(program.loader().load_listener().unwrap()).unwrap();
            let mut events = Vec::new();
            loop {
                let Some(event) = watcher.read_event_timeout(LIMIT).unwrap() else {
                    panic!("no end event within {LIMIT:?}; got {events:#?}");
                };
                if matches!(&event, PathEvent::Event { path, mask, .. }
                    if path == late && mask.contains(EventMask::CREATE))
                {
                    seen_tx.send(()).unwrap();
                }
                let end = matches!(&event, PathEvent::Event { path, mask, .. }
                    if path.ends_with("end") && mask.contains(EventMask::CLOSE_WRITE));
                events.push(event);
                if end {
                    return events;
                }
            }
        });
        let listener = rx.recv().unwrap();
        std::fs::create_dir(root.join("d")).unwrap();
        // The reader saw `d` created, watched it, and is about to list it.
        assert!(
            listener.wait_readable(Some(LIMIT)).unwrap(),
            "the scan of d never listed it"
        );
        let first = listener.recv().unwrap();
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CREAT)
            .mode(0o600)
            .open(late)
            .unwrap();
        listener.respond(first.id, Response::Continue).unwrap();
        // Every later listing goes on at once.
        listener.set_nonblocking(true).unwrap();
        let answer = s.spawn(move || {
            while !done.load(Ordering::Acquire) {
                if !listener
                    .wait_readable(Some(Duration::from_millis(50)))
                    .unwrap()
                {
                    continue;
                }
                match listener.recv() {
                    Ok(n) => {
                        let _ = listener.respond(n.id, Response::Continue);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    // The reader is gone (it ended, or failed): nothing
                    // more will come.
                    Err(e) if e.kind() == ErrorKind::NotFound => return,
                    Err(e) => panic!("answering the reader's listings: {e}"),
                }
            }
        });
        // The scan of d is over once its report of `late` comes out of the
        // reader's queue; only then is the file written, as a writer that
        // had just opened it would.
        seen.recv_timeout(LIMIT).expect("d/late reported created");
        std::fs::write(late, b"written after the scan").unwrap();
        std::fs::write(root.join("end"), b"").unwrap();
        let events = reader.join().unwrap();
        answer.join().unwrap();
        events
    });
    let complete: Vec<&PathEvent> = events
        .iter()
        .filter(|e| {
            matches!(e, PathEvent::Event { path, mask, .. }
            if path == late && mask.contains(EventMask::CLOSE_WRITE))
        })
        .collect();
    assert_eq!(
        complete.len(),
        1,
        "one complete event for d/late: {events:#?}"
    );
    assert!(
        matches!(
            complete[0],
            PathEvent::Event {
                from_scan: false,
                ..
            }
        ),
        "the kernel's, after the write: {events:#?}"
    );
    let created = events
        .iter()
        .filter(|e| {
            matches!(e, PathEvent::Event { path, mask, .. }
            if path == late && mask.contains(EventMask::CREATE))
        })
        .count();
    assert_eq!(created, 1, "d/late created once: {events:#?}");
}

/// The harness's promise: hostname and mounts changed in a test stay in the
/// test's namespaces. The harness process stays in the original ones, so
/// the child compares itself with the harness's view.
fn harness_namespaces_are_private() {
    for ns in ["mnt", "uts", "ipc"] {
        let mine = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let theirs = harness_namespace(ns);
        assert!(!theirs.as_os_str().is_empty());
        assert_ne!(mine, theirs, "{ns} namespace is shared with the harness");
    }
    rustix::system::sethostname(b"butter-test").expect("sethostname in a private UTS namespace");
    assert_eq!(
        rustix::system::uname().nodename().to_bytes(),
        b"butter-test"
    );

    butter_tests::mount_tmpfs("butter-test-tmpfs", std::path::Path::new("/tmp"));
    std::fs::write("/tmp/marker", b"inside").unwrap();
    let mine = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let theirs = harness_mountinfo();
    assert!(theirs.contains(" / / "), "not a mount table: {theirs}");
    assert!(mine.contains("butter-test-tmpfs"));
    assert!(
        !theirs.contains("butter-test-tmpfs"),
        "the tmpfs leaked to the harness's namespace"
    );
}

fn assert_out_of_fds(err: fd_core::Error, call: &str) {
    assert_eq!(err.kind(), ErrorKind::ResourceLimit, "{err}");
    assert_eq!(err.errno(), libc::EMFILE);
    assert_eq!(err.call(), call);
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), IoKind::QuotaExceeded);
    assert_eq!(fd_core::Error::errno_of(&io), Some(libc::EMFILE));
}

fn eventfd_out_of_fds() {
    let full = fill_fd_table(32);
    assert_out_of_fds(EventFd::new().unwrap_err(), "eventfd2");
    drop(full);
    EventFd::new().expect("works again once fds are free");
}

fn eventfd_try_clone_out_of_fds() {
    let efd = EventFd::new().unwrap();
    let _full = fill_fd_table(32);
    assert_out_of_fds(efd.try_clone().unwrap_err(), "fcntl(F_DUPFD_CLOEXEC)");
}

fn timerfd_out_of_fds() {
    let timer = TimerFd::new().unwrap();
    let _full = fill_fd_table(32);
    assert_out_of_fds(TimerFd::new().unwrap_err(), "timerfd_create");
    assert_out_of_fds(timer.try_clone().unwrap_err(), "fcntl(F_DUPFD_CLOEXEC)");
}

fn alarm_clocks_need_cap_wake_alarm() {
    become_nobody();
    if fd_core::probe::has_capability(fd_core::probe::CAP_WAKE_ALARM).unwrap() {
        skip("this process keeps CAP_WAKE_ALARM and cannot drop it");
    }
    for clock in [Clock::RealtimeAlarm, Clock::BoottimeAlarm] {
        let err = TimerFd::with_clock(clock, TimerFdFlags::empty()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        assert_eq!(err.errno(), libc::EPERM);
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("{} needs CAP_WAKE_ALARM", clock.name())),
            "{msg}"
        );
    }
    // The other clocks need nothing.
    TimerFd::with_clock(Clock::Boottime, TimerFdFlags::empty()).unwrap();
}

fn pipe_out_of_fds() {
    let _full = fill_fd_table(32);
    assert_out_of_fds(zerocopy_pipe::Pipe::new().unwrap_err(), "pipe2");
}

/// The harness's `fork_child` is safe because it checks that the process
/// has one thread: with a second thread alive it refuses before forking,
/// and after that thread is gone it forks again.
fn fork_child_refuses_a_threaded_process() {
    let child = butter_tests::fork_child(|| 7);
    assert_eq!(butter_tests::exit_code(child), 7);
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        let _ = stop_rx.recv();
    });
    // The refusal is a panic; keep its expected message off stderr.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let refused = std::panic::catch_unwind(|| butter_tests::fork_child(|| 0));
    std::panic::set_hook(hook);
    let message = refused.expect_err("forked with two threads");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| message.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    assert!(text.contains("more than one thread"), "{text}");
    drop(stop_tx);
    other.join().unwrap();
    butter_tests::wait_for(
        "the second thread gone",
        std::time::Duration::from_secs(10),
        butter_tests::single_threaded,
    );
    let child = butter_tests::fork_child(|| 9);
    assert_eq!(butter_tests::exit_code(child), 9);
}

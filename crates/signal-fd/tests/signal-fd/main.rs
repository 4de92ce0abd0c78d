//! signal-fd against the real kernel: real signals, real processes.
//!
//! Signals and masks are process-wide, so every test runs in a forked,
//! single-threaded child (`butter_tests::run`): it blocks what it needs
//! first and spawns threads only after, as the crate tells its users to.

use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use butter_tests::{fill_fd_table, skip};
use fd_core::{ErrorKind, EventSource};
use signal_fd::{
    ChildStatus, How, PidFd, SigCode, SigInfo, SigSet, Signal, SignalFd, SignalFdFlags, Signals,
    kill, kill_self, pthread_sigmask, signalfd_read, signalfd_set_mask, sigpending, sigprocmask,
    sigqueue, tgkill, thread_mask, unblocked_threads,
};

const LIMIT: Duration = Duration::from_secs(10);

fn main() -> std::process::ExitCode {
    #[allow(unused_mut)]
    let mut tests = vec![
        butter_tests::test!(Isolation, child_status_is_std_exit_status),
        butter_tests::test!(Isolation, signals_try_clone_and_nonblocking),
        butter_tests::test!(Isolation, kill_to_self_reports_sender),
        butter_tests::test!(Isolation, sigqueue_value_comes_back),
        butter_tests::test!(Isolation, realtime_queue_standard_coalesce),
        butter_tests::test!(Isolation, tgkill_reaches_only_that_thread),
        butter_tests::test!(Isolation, unblocking_thread_takes_the_signal),
        butter_tests::test!(Isolation, thread_check_names_the_culprit),
        butter_tests::test!(
            Isolation,
            spawned_programs_inherit_the_mask_unless_unblocked
        ),
        butter_tests::test!(Isolation, sigchld_exit_and_kill),
        butter_tests::test!(Namespaces, sigchld_core_dumped),
        butter_tests::test!(Isolation, sigchld_core_limit_zero),
        butter_tests::test!(Isolation, pidfd_sees_every_exit),
        butter_tests::test!(Isolation, pidfd_signals_and_errors),
        butter_tests::test!(Isolation, mask_guards_restore_exactly),
        butter_tests::test!(Isolation, sigkill_and_sigstop_are_refused),
        butter_tests::test!(Isolation, signalfd_error_paths),
        butter_tests::test!(Isolation, signalfd_out_of_fds),
        butter_tests::test!(Isolation, sigqueue_full_queue_would_block),
        butter_tests::test!(Isolation, change_mask_and_wait),
    ];
    #[cfg(feature = "async")]
    tests.extend([
        butter_tests::test!(Isolation, async_signals_on_block_on),
        butter_tests::test!(Isolation, async_on_a_thread_pool),
    ]);
    butter_tests::run(&tests)
}

fn me() -> u32 {
    std::process::id()
}

fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

use butter_tests::fork_child;

/// Reads one record, failing the test after `LIMIT`.
fn read_one(source: &impl EventSource<Event = SigInfo>) -> SigInfo {
    source
        .read_event_timeout(LIMIT)
        .unwrap()
        .expect("no signal arrived in time")
}

fn kill_to_self_reports_sender() {
    let signals = Signals::new([Signal::USR1, Signal::HUP]).unwrap();
    assert!(fd_core::is_cloexec(&signals).unwrap());
    kill_self(Signal::HUP).unwrap();
    let info = read_one(&signals);
    assert_eq!(info.signal(), Signal::HUP);
    assert_eq!(info.code(), SigCode::User);
    assert_eq!(info.code().name(info.signal()), Some("SI_USER"));
    assert_eq!((info.pid(), info.uid()), (me(), uid()));
    assert_eq!(info.child_status(), None);
    assert_eq!(signals.signal_fd().try_read().unwrap(), None);
}

fn sigqueue_value_comes_back() {
    let rt = Signal::rt(2).unwrap();
    let signals = Signals::new(rt).unwrap();
    sigqueue(me(), rt, -123_456).unwrap();
    let info = read_one(&signals);
    assert_eq!(
        (info.signal(), info.code(), info.value_int()),
        (rt, SigCode::Queue, -123_456)
    );
    assert_eq!((info.pid(), info.uid()), (me(), uid()));
}

fn realtime_queue_standard_coalesce() {
    let rt = Signal::rt(5).unwrap();
    let signals = Signals::with_flags([rt, Signal::USR2], SignalFdFlags::NONBLOCK).unwrap();
    for value in 0..100 {
        sigqueue(me(), rt, value).unwrap();
    }
    for _ in 0..5 {
        kill_self(Signal::USR2).unwrap();
    }
    let mut got = Vec::new();
    while let Ok(n) = signals.read_events(&mut got) {
        assert!(n >= 1);
    }
    let (rts, usr2): (Vec<SigInfo>, Vec<SigInfo>) = got.iter().partition(|i| i.signal() == rt);
    assert_eq!(usr2.len(), 1, "standard signals coalesce while pending");
    let values: Vec<i32> = rts.iter().map(SigInfo::value_int).collect();
    assert_eq!(
        values,
        (0..100).collect::<Vec<_>>(),
        "real-time signals queue, in order"
    );
    assert_eq!(
        signals.signal_fd().read().unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
}

fn tgkill_reaches_only_that_thread() {
    let signals = Signals::with_flags(Signal::USR1, SignalFdFlags::NONBLOCK).unwrap();
    let (tid_tx, tid_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let sfd = signals.signal_fd();
    thread::scope(|s| {
        let worker = s.spawn(move || {
            tid_tx.send(butter_tests::gettid()).unwrap();
            go_rx.recv_timeout(LIMIT).unwrap();
            // The signal is pending for this thread: the fd shows it here.
            sfd.read_event_timeout(LIMIT).unwrap()
        });
        let tid = tid_rx.recv_timeout(LIMIT).unwrap().unsigned_abs();
        tgkill(tid, Signal::USR1).unwrap();
        // Not pending for the process or this thread: invisible from here.
        assert_eq!(signals.signal_fd().try_read().unwrap(), None);
        assert!(!sigpending().unwrap().contains(Signal::USR1));
        go_tx.send(()).unwrap();
        let info = worker.join().unwrap().expect("the worker saw its signal");
        assert_eq!((info.signal(), info.code()), (Signal::USR1, SigCode::Tkill));
        assert_eq!(info.pid(), me());
    });
}

fn unblocking_thread_takes_the_signal() {
    // SIGWINCH's default action is to ignore it, so a thread that does not
    // block it takes it and nothing happens: the signalfd never sees it.
    let signals = Signals::with_flags(Signal::WINCH, SignalFdFlags::NONBLOCK).unwrap();
    let (tid_tx, tid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    thread::scope(|s| {
        s.spawn(move || {
            let _unblocked = pthread_sigmask(How::Unblock, &Signal::WINCH.into()).unwrap();
            tid_tx.send(butter_tests::gettid()).unwrap();
            let _ = done_rx.recv_timeout(LIMIT);
        });
        let tid = tid_rx.recv_timeout(LIMIT).unwrap().unsigned_abs();
        let culprits = signals.unblocked_threads().unwrap();
        assert_eq!(culprits.iter().map(|t| t.tid).collect::<Vec<_>>(), [tid]);

        // Aimed at that thread: the kernel drops it at once (ignored there).
        tgkill(tid, Signal::WINCH).unwrap();
        assert_eq!(signals.signal_fd().try_read().unwrap(), None);

        // Aimed at the process: it waits in the shared pending set until the
        // thread that does not block it wakes and takes it; once taken, the
        // fd has nothing. (Read before that, the fd could still win the race:
        // "may go to those threads" is all the kernel promises.)
        kill_self(Signal::WINCH).unwrap();
        let start = std::time::Instant::now();
        while sigpending().unwrap().contains(Signal::WINCH) {
            assert!(
                start.elapsed() < LIMIT,
                "the unblocking thread never took SIGWINCH"
            );
            thread::yield_now();
        }
        assert_eq!(signals.signal_fd().try_read().unwrap(), None);
        done_tx.send(()).unwrap();
    });
}

fn thread_check_names_the_culprit() {
    let (tid_tx, tid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let gone = thread::scope(|s| {
        // Spawned before the signals are blocked: it does not block them.
        thread::Builder::new()
            .name("late-blocker".into())
            .spawn_scoped(s, move || {
                tid_tx.send(butter_tests::gettid()).unwrap();
                let _ = done_rx.recv_timeout(LIMIT);
            })
            .unwrap();
        let tid = tid_rx.recv_timeout(LIMIT).unwrap().unsigned_abs();
        let signals = Signals::new([Signal::USR1, Signal::TERM]).unwrap();
        let found = signals.unblocked_threads().unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].tid, found[0].name.as_str()),
            (tid, "late-blocker")
        );
        assert_eq!(
            found[0].unblocked,
            SigSet::from([Signal::USR1, Signal::TERM])
        );
        let err = signals.check_threads().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let msg = err.to_string();
        assert!(
            msg.contains(&format!(
                "thread {tid} (\"late-blocker\") does not block {{SIGUSR1, SIGTERM}}"
            )),
            "{msg}"
        );
        assert!(
            msg.contains("block the signals before spawning threads"),
            "{msg}"
        );
        done_tx.send(()).unwrap();
        tid
    });
    // Once that thread is gone, the check passes. A joined thread's task
    // can outlive the join a moment (later on a busy machine): wait,
    // bounded, for the kernel to remove it.
    let task = format!("/proc/self/task/{gone}");
    let start = std::time::Instant::now();
    while std::path::Path::new(&task).exists() {
        assert!(start.elapsed() < LIMIT, "thread {gone} never went away");
        thread::yield_now();
    }
    let signals = Signals::new(Signal::USR1).unwrap();
    signals.check_threads().unwrap();
    assert!(
        unblocked_threads(&SigSet::from(Signal::USR1))
            .unwrap()
            .is_empty()
    );
}

#[allow(unsafe_code)]
fn pause_forever() -> i32 {
    loop {
        // SAFETY: pause only waits for a signal.
        unsafe { libc::pause() };
    }
}

/// The `SigBlk` mask of a program spawned by `cmd`, as it sees it.
fn spawned_mask(cmd: &mut std::process::Command) -> u64 {
    let out = cmd.args(["SigBlk", "/proc/self/status"]).output().unwrap();
    assert!(out.status.success(), "grep failed: {out:?}");
    let line = String::from_utf8(out.stdout).unwrap();
    let hex = line.trim().strip_prefix("SigBlk:").unwrap().trim();
    u64::from_str_radix(hex, 16).unwrap()
}

fn spawned_programs_inherit_the_mask_unless_unblocked() {
    use signal_fd::SignalCommandExt;
    use std::process::Command;
    let signals = Signals::new([Signal::TERM, Signal::USR1]).unwrap();
    let bit = |s: Signal| 1u64 << (s.raw() - 1);
    // What the standard library does on its own: the mask goes with it.
    let inherited = spawned_mask(&mut Command::new("grep"));
    assert_eq!(inherited & bit(Signal::TERM), bit(Signal::TERM));
    assert_eq!(inherited & bit(Signal::USR1), bit(Signal::USR1));
    // Unblocking TERM only: USR1 stays blocked, as asked.
    let cleared = spawned_mask(Command::new("grep").unblock_signals(Signal::TERM));
    assert_eq!(cleared & bit(Signal::TERM), 0);
    assert_eq!(cleared & bit(Signal::USR1), bit(Signal::USR1));
    let cleared = spawned_mask(Command::new("grep").unblock_signals(signals.set()));
    assert_eq!(cleared & (bit(Signal::TERM) | bit(Signal::USR1)), 0);
    // The parent's own mask is untouched.
    assert!(thread_mask().unwrap().contains(Signal::TERM));
}

fn sigchld_exit_and_kill() {
    let signals = Signals::new(Signal::CHLD).unwrap();
    let exited = fork_child(|| 3);
    let info = read_one(&signals);
    assert_eq!(
        (info.signal(), info.code(), info.pid()),
        (Signal::CHLD, SigCode::ChildExited, exited)
    );
    assert_eq!(info.child_status(), Some(ChildStatus::Exited(3)));
    assert_eq!(info.status_raw(), 3);
    PidFd::open(exited).unwrap().wait().unwrap();

    let sleeper = fork_child(pause_forever);
    let pidfd = PidFd::open(sleeper).unwrap();
    kill(sleeper, Signal::TERM).unwrap();
    let info = read_one(&signals);
    assert_eq!(info.code(), SigCode::ChildKilled);
    assert_eq!(
        info.child_status(),
        Some(ChildStatus::Killed {
            signal: Signal::TERM,
            core_dumped: false
        })
    );
    assert_eq!(
        info.child_status().unwrap().to_string(),
        "killed by signal SIGTERM"
    );
    assert_eq!(
        pidfd.wait().unwrap(),
        ChildStatus::Killed {
            signal: Signal::TERM,
            core_dumped: false
        }
    );
}

#[allow(unsafe_code)]
fn abort_with_core_limit(limit: u64) -> i32 {
    use rustix::process::{Resource, Rlimit, setrlimit};
    if setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(limit),
            maximum: Some(limit),
        },
    )
    .is_err()
    {
        return 100;
    }
    // SAFETY: abort raises SIGABRT; nothing else runs in this grandchild.
    unsafe { libc::abort() }
}

/// A real core dump: `core_pattern` is a file name, written into the
/// grandchild's working directory, which is a tmpfs in this test's private
/// mount namespace, so the core never reaches the machine.
fn sigchld_core_dumped() {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    if pattern.starts_with('|') {
        skip(&format!(
            "core_pattern pipes cores to {:?}: a dump would reach the host",
            pattern.trim()
        ));
    }
    if pattern.contains('/') {
        skip(&format!(
            "core_pattern {:?} names a directory outside this test's tmpfs",
            pattern.trim()
        ));
    }
    butter_tests::mount_tmpfs("butter-core", std::path::Path::new("/tmp"));
    std::env::set_current_dir("/tmp").unwrap();
    let signals = Signals::new(Signal::CHLD).unwrap();
    let child = fork_child(|| abort_with_core_limit(u64::MAX));
    let pidfd = PidFd::open(child).unwrap();
    let info = read_one(&signals);
    assert_eq!(info.code(), SigCode::ChildDumped, "{info:?}");
    let dumped = ChildStatus::Killed {
        signal: Signal::ABRT,
        core_dumped: true,
    };
    assert_eq!(info.child_status(), Some(dumped));
    assert_eq!(pidfd.wait().unwrap(), dumped, "waitid agrees");
    let cores = std::fs::read_dir("/tmp")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("core"))
        .count();
    assert_eq!(cores, 1, "the core file was written on the private tmpfs");
}

/// With a core size limit of 0 nothing is dumped (for a file pattern), and
/// both the signalfd record and waitid say so.
fn sigchld_core_limit_zero() {
    let signals = Signals::new(Signal::CHLD).unwrap();
    let child = fork_child(|| abort_with_core_limit(0));
    let pidfd = PidFd::open(child).unwrap();
    let info = read_one(&signals);
    let by_waitid = pidfd.wait().unwrap();
    assert_eq!(
        info.child_status(),
        Some(by_waitid),
        "signalfd and waitid agree"
    );
    let ChildStatus::Killed {
        signal,
        core_dumped,
    } = by_waitid
    else {
        panic!("{by_waitid:?}")
    };
    assert_eq!(signal, Signal::ABRT);
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    if !pattern.starts_with('|') {
        assert!(
            !core_dumped,
            "RLIMIT_CORE 0 with a file pattern writes no core"
        );
        assert_eq!(info.code(), SigCode::ChildKilled);
    }
}

fn pidfd_sees_every_exit() {
    let signals = Signals::with_flags(Signal::CHLD, SignalFdFlags::NONBLOCK).unwrap();
    let pids: Vec<u32> = (1..=3).map(|code| fork_child(move || code)).collect();
    let pidfds: Vec<PidFd> = pids.iter().map(|&p| PidFd::open(p).unwrap()).collect();
    for pidfd in &pidfds {
        assert!(
            pidfd.wait_exit(Some(LIMIT)).unwrap(),
            "child {} did not end",
            pidfd.pid()
        );
    }
    // Every child has ended; SIGCHLD was blocked the whole time, so its
    // three instances coalesced into one pending signal.
    let mut records = Vec::new();
    while signals.read_events(&mut records).is_ok() {}
    assert_eq!(records.len(), 1, "{records:?}");
    let codes: Vec<ChildStatus> = pidfds.iter().map(|p| p.wait().unwrap()).collect();
    assert_eq!(
        codes,
        [
            ChildStatus::Exited(1),
            ChildStatus::Exited(2),
            ChildStatus::Exited(3)
        ]
    );
}

fn pidfd_signals_and_errors() {
    let child = fork_child(pause_forever);
    let pidfd = PidFd::open_nonblocking(child).unwrap();
    assert!(fd_core::is_cloexec(&pidfd).unwrap());
    assert_eq!(pidfd.try_wait().unwrap(), None);
    assert_eq!(pidfd.wait().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert!(!pidfd.wait_exit(Some(Duration::ZERO)).unwrap());
    pidfd.send_signal(Signal::rt(1).unwrap()).unwrap(); // default action: terminate
    assert!(pidfd.wait_exit(Some(LIMIT)).unwrap());
    let status = pidfd.wait().unwrap();
    assert_eq!(
        status,
        ChildStatus::Killed {
            signal: Signal::rt(1).unwrap(),
            core_dumped: false
        }
    );
    // Adopting an fd: a pidfd is recognised with its pid, a reaped one
    // and a non-pidfd are refused with the reason.
    let second = fork_child(pause_forever);
    let raw = rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(i32::try_from(second).unwrap()).unwrap(),
        rustix::process::PidfdFlags::empty(),
    )
    .unwrap();
    let adopted = PidFd::from_fd(raw).unwrap();
    assert_eq!(adopted.pid(), second);
    adopted.send_signal(Signal::KILL).unwrap();
    adopted.wait().unwrap();
    let gone = PidFd::from_fd(adopted.try_clone().unwrap().into()).unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound, "{gone}");
    let (pipe, _) = rustix::pipe::pipe().unwrap();
    let not = PidFd::from_fd(pipe).unwrap_err();
    assert_eq!(not.kind(), ErrorKind::InvalidInput);
    assert!(not.to_string().contains("not a pidfd"), "{not}");

    // Reaped: waitid has nothing more, and the process is gone for signals.
    let err = pidfd.wait().unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::NotFound, libc::ECHILD)
    );
    let err = pidfd.send_signal(Signal::TERM).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::NotFound, libc::ESRCH)
    );

    // The parent (the harness) is not our child: poll works, waitid refuses.
    let parent = rustix::process::getppid().unwrap().as_raw_nonzero().get();
    let parent = PidFd::open(u32::try_from(parent).unwrap()).unwrap();
    assert!(!parent.wait_exit(Some(Duration::ZERO)).unwrap());
    let err = parent.wait().unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::NotFound, libc::ECHILD)
    );

    let err = PidFd::open(0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let max = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse::<u32>()
        .unwrap();
    let err = PidFd::open(max + 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = kill(max + 1, Signal::TERM).unwrap_err();
    assert_eq!((err.kind(), err.call()), (ErrorKind::NotFound, "kill"));
    assert_eq!(
        kill(0, Signal::TERM).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert!(format!("{pidfd:?}").contains(&format!("pid: {child}")));
}

fn mask_guards_restore_exactly() {
    let before = thread_mask().unwrap();
    assert!(!before.contains(Signal::USR1));
    {
        let outer =
            pthread_sigmask(How::Block, &SigSet::from([Signal::USR1, Signal::USR2])).unwrap();
        assert_eq!(outer.previous(), before);
        assert!(thread_mask().unwrap().contains(Signal::USR2));
        {
            let _inner = pthread_sigmask(How::Unblock, &Signal::USR2.into()).unwrap();
            let now = thread_mask().unwrap();
            assert!(now.contains(Signal::USR1) && !now.contains(Signal::USR2));
            {
                let _set = sigprocmask(How::SetMask, &Signal::HUP.into()).unwrap();
                let now = thread_mask().unwrap();
                assert!(now.contains(Signal::HUP) && !now.contains(Signal::USR1));
            }
            assert!(!thread_mask().unwrap().contains(Signal::HUP));
        }
        assert!(thread_mask().unwrap().contains(Signal::USR2));
    }
    assert_eq!(thread_mask().unwrap(), before);
    // forget keeps the new mask.
    pthread_sigmask(How::Block, &Signal::PIPE.into())
        .unwrap()
        .forget();
    assert!(thread_mask().unwrap().contains(Signal::PIPE));
    // KILL and STOP cannot be blocked; the kernel ignores them in a mask.
    let _all = pthread_sigmask(How::Block, &SigSet::full()).unwrap();
    let now = thread_mask().unwrap();
    assert!(
        !now.contains(Signal::KILL) && !now.contains(Signal::STOP) && now.contains(Signal::TERM)
    );
}

fn sigkill_and_sigstop_are_refused() {
    for sig in [Signal::KILL, Signal::STOP] {
        let set = SigSet::from([Signal::INT, sig]);
        for err in [
            SignalFd::new(&set).unwrap_err(),
            Signals::new(set).unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(!err.is_from_kernel());
            assert!(
                err.to_string().contains(&format!("{sig} cannot be caught")),
                "{err}"
            );
        }
        let sfd = SignalFd::new(&Signal::INT.into()).unwrap();
        assert_eq!(
            sfd.set_mask(&set).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
    // Nothing was blocked by the refused Signals::new.
    assert!(!thread_mask().unwrap().contains(Signal::INT));
    SignalFd::new(&SigSet::catchable()).unwrap();
}

fn signalfd_error_paths() {
    let (r, w) = rustix::pipe::pipe().unwrap();
    let err = signalfd_set_mask(&r, &Signal::USR1.into()).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::InvalidInput, libc::EINVAL)
    );
    let mut out = Vec::new();
    let err = signalfd_read(&w, &mut out, 1).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::InvalidInput, libc::EBADF)
    );
    rustix::io::write(&w, b"abc").unwrap();
    let err = signalfd_read(&r, &mut out, 1).unwrap_err();
    assert!(err.to_string().contains("not a signalfd"), "{err}");
    assert!(out.is_empty());
    let sfd = SignalFd::with_flags(&Signal::USR1.into(), SignalFdFlags::NONBLOCK).unwrap();
    let err = sfd.read().unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::WouldBlock, libc::EAGAIN)
    );
    let clone = sfd.try_clone().unwrap();
    assert!(fd_core::is_cloexec(&clone).unwrap());
    assert_ne!(clone.as_raw_fd(), sfd.as_raw_fd());
}

fn signalfd_out_of_fds() {
    let _full = fill_fd_table(32);
    let err = SignalFd::new(&Signal::USR1.into()).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno(), err.call()),
        (ErrorKind::ResourceLimit, libc::EMFILE, "signalfd4")
    );
    let err = PidFd::open(me()).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::ResourceLimit, libc::EMFILE)
    );
}

fn sigqueue_full_queue_would_block() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let rt = Signal::rt(3).unwrap();
    let _signals = Signals::new(rt).unwrap();
    // The queue is counted per user; allow exactly what is queued now plus one.
    let queued: u64 = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("SigQ:"))
        .and_then(|q| q.trim().split('/').next()?.parse().ok())
        .unwrap();
    let hard = getrlimit(Resource::Sigpending).maximum;
    setrlimit(
        Resource::Sigpending,
        Rlimit {
            current: Some(queued + 1),
            maximum: hard,
        },
    )
    .unwrap();
    sigqueue(me(), rt, 1).unwrap();
    let err = sigqueue(me(), rt, 2).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno(), err.call()),
        (ErrorKind::WouldBlock, libc::EAGAIN, "sigqueue")
    );
}

fn change_mask_and_wait() {
    let _blocked =
        pthread_sigmask(How::Block, &SigSet::from([Signal::USR1, Signal::USR2])).unwrap();
    let sfd = SignalFd::new(&Signal::USR1.into()).unwrap();
    kill_self(Signal::USR2).unwrap();
    assert!(
        !sfd.wait_readable(Some(Duration::from_millis(1))).unwrap(),
        "USR2 is not in the fd's set"
    );
    sfd.set_mask(&Signal::USR2.into()).unwrap();
    assert!(sfd.wait_readable(Some(LIMIT)).unwrap());
    assert_eq!(sfd.read().unwrap().signal(), Signal::USR2);
}

#[cfg(feature = "async")]
fn async_signals_on_block_on() {
    use futures_lite::{StreamExt, future};
    use signal_fd::{AsyncPidFd, AsyncSignals};
    // The signals are blocked first and the child forked before the
    // reactor starts its thread (fork_child wants one thread); its SIGCHLD
    // waits in the signalfd, its pidfd works on the zombie.
    let signals = Signals::new([Signal::USR1, Signal::CHLD]).unwrap();
    let pid = fork_child(|| 7);
    let signals = AsyncSignals::new(signals).unwrap();
    future::block_on(async {
        let mut stream = &signals;
        kill_self(Signal::USR1).unwrap();
        let first = stream.next().await.unwrap().unwrap().signal();
        let child = AsyncPidFd::new(PidFd::open(pid).unwrap()).unwrap();
        assert_eq!(child.exit().await.unwrap(), ChildStatus::Exited(7));
        // Both pending: the kernel hands out the lower standard signal
        // first (USR1 is 10, CHLD 17), whichever was queued first.
        assert_eq!(first, Signal::USR1);
        let chld = stream.next().await.unwrap().unwrap();
        assert_eq!(chld.signal(), Signal::CHLD);
        assert_eq!(chld.child_status(), Some(ChildStatus::Exited(7)));
    });
}

#[cfg(feature = "async")]
fn async_on_a_thread_pool() {
    use event_fd::{AsyncEventFd, EventFd, EventFdFlags};
    use futures_lite::{StreamExt, future};
    use signal_fd::AsyncSignals;
    let rt = Signal::rt(4).unwrap();
    // Blocked before any thread exists: every executor thread inherits it.
    let signals = AsyncSignals::new(Signals::new(rt).unwrap()).unwrap();
    // Each executor thread takes one unit of this semaphore to stop.
    let stop = AsyncEventFd::new(EventFd::with_flags(0, EventFdFlags::SEMAPHORE).unwrap()).unwrap();
    let ex = async_executor::Executor::new();
    let values = thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| future::block_on(ex.run(stop.read())));
        }
        let values = future::block_on(ex.spawn(async {
            for v in 0..10 {
                sigqueue(me(), rt, v).unwrap();
            }
            let mut stream = &signals;
            let mut values = Vec::new();
            while values.len() < 10 {
                values.push(stream.next().await.unwrap().unwrap().value_int());
            }
            values
        }));
        stop.get_ref().write(2).unwrap();
        values
    });
    assert_eq!(values, (0..10).collect::<Vec<_>>());
    assert!(signals.get_ref().unblocked_threads().unwrap().is_empty());
}

/// `ChildStatus` and std's `ExitStatus` say the same of the same program:
/// std's status converts to ours and back unchanged, and a pidfd reaping
/// the same program reports what std reports.
fn child_status_is_std_exit_status() {
    use std::process::{Command, ExitStatus};
    let cases: [(&str, ChildStatus); 4] = [
        ("exit 0", ChildStatus::Exited(0)),
        ("exit 3", ChildStatus::Exited(3)),
        (
            "kill -TERM $$",
            ChildStatus::Killed {
                signal: Signal::TERM,
                core_dumped: false,
            },
        ),
        (
            "kill -KILL $$",
            ChildStatus::Killed {
                signal: Signal::KILL,
                core_dumped: false,
            },
        ),
    ];
    for (script, want) in cases {
        let by_std = Command::new("sh").args(["-c", script]).status().unwrap();
        let ours = ChildStatus::try_from(by_std).unwrap();
        assert_eq!(ours, want, "{script}");
        assert_eq!(ExitStatus::from(ours), by_std, "{script}");
        assert_eq!(ours.success(), by_std.success(), "{script}");
        assert_eq!(ours.code(), by_std.code(), "{script}");
        assert_eq!(
            ours.signal().map(Signal::raw),
            std::os::unix::process::ExitStatusExt::signal(&by_std),
            "{script}"
        );
        // Reaped through the pidfd, not by std.
        #[allow(clippy::zombie_processes, reason = "reaped by PidFd::wait below")]
        let child = Command::new("sh").args(["-c", script]).spawn().unwrap();
        let reaped = PidFd::open(child.id()).unwrap().wait().unwrap();
        assert_eq!(reaped, want, "{script} through a pidfd");
        assert_eq!(ExitStatus::from(reaped), by_std, "{script} through a pidfd");
    }
    // A status no wait(2) reports is refused, not guessed at.
    let made_up: ExitStatus = std::os::unix::process::ExitStatusExt::from_raw(0x7f7f);
    let err = ChildStatus::try_from(made_up).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

/// `Signals::try_clone` reads the same signalfd; `set_nonblocking` makes
/// an empty read `WouldBlock` instead of a wait.
fn signals_try_clone_and_nonblocking() {
    let signals = Signals::new(Signal::USR2).unwrap();
    let clone = signals.try_clone().unwrap();
    assert_eq!(clone.set(), signals.set());
    clone.set_nonblocking(true).unwrap();
    assert_eq!(
        signals.read_event().unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "shared mode"
    );
    kill_self(Signal::USR2).unwrap();
    assert_eq!(clone.read_event().unwrap().signal(), Signal::USR2);
    assert_eq!(
        clone.read_event().unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
}

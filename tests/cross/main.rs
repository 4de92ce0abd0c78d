//! Cross-crate tests: the butter types together, as a program uses them.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::thread;
use std::time::{Duration, Instant};

use butter::eventfd::{AsyncEventFd, EventFd, EventFdFlags};
use butter::timerfd::{AsyncTimerFd, TimerEvent, TimerFd, TimerFdFlags, TimerSpec};
use butter::{ErrorKind, EventSource};
use futures_lite::{StreamExt, future};
use rustix::event::epoll;

const LIMIT: Duration = Duration::from_secs(10);
const MS: Duration = Duration::from_millis(1);

/// One epoll loop drives an eventfd fed by another thread and a periodic
/// timerfd, through nothing but `AsFd`.
#[test]
fn one_epoll_loop_drives_an_eventfd_and_a_timerfd() {
    let efd = EventFd::with_flags(0, EventFdFlags::NONBLOCK).unwrap();
    let timer = TimerFd::with_clock(Default::default(), TimerFdFlags::NONBLOCK).unwrap();
    timer.set(&TimerSpec::periodic(MS)).unwrap();
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).unwrap();
    epoll::add(
        &ep,
        efd.as_fd(),
        epoll::EventData::new_u64(1),
        epoll::EventFlags::IN,
    )
    .unwrap();
    epoll::add(
        &ep,
        timer.as_fd(),
        epoll::EventData::new_u64(2),
        epoll::EventFlags::IN,
    )
    .unwrap();

    let (mut values, mut ticks) = (0u64, 0u64);
    let deadline = Instant::now() + LIMIT;
    thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..5 {
                efd.write(1).unwrap();
            }
        });
        let mut events = Vec::with_capacity(4);
        let timeout = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        while values < 5 || ticks < 5 {
            assert!(
                Instant::now() < deadline,
                "values {values}, ticks {ticks} after {LIMIT:?}"
            );
            events.clear();
            epoll::wait(
                &ep,
                rustix::buffer::spare_capacity(&mut events),
                Some(&timeout),
            )
            .unwrap();
            for event in events.drain(..) {
                let data = event.data;
                match data.u64() {
                    1 => values += efd.try_read().unwrap().unwrap_or(0),
                    2 => ticks += timer.try_read().unwrap().map_or(0, TimerEvent::count),
                    other => panic!("unknown token {other}"),
                }
            }
        }
    });
    assert_eq!(values, 5);
    assert!(ticks >= 5);
}

/// Generic code over `EventSource` works with every crate's type.
fn drain<S: EventSource>(source: &S) -> Vec<S::Event> {
    let mut out = Vec::new();
    while let Some(event) = source.try_read_event().unwrap() {
        out.push(event);
    }
    out
}

#[test]
fn event_source_is_generic_across_crates() {
    let sem = EventFd::with_flags(3, EventFdFlags::SEMAPHORE).unwrap();
    assert_eq!(drain(&sem), [1, 1, 1]);
    let timer = TimerFd::new().unwrap();
    timer.set(&TimerSpec::oneshot(MS)).unwrap();
    assert!(timer.wait_readable(Some(LIMIT)).unwrap());
    assert_eq!(drain(&&timer), [TimerEvent::Expired(1)]);
}

#[test]
fn errors_from_every_crate_share_one_model() {
    let from_eventfd = EventFd::new().unwrap().write(u64::MAX).unwrap_err();
    let from_timerfd = TimerFd::new()
        .unwrap()
        .set(&TimerSpec::oneshot(Duration::ZERO))
        .unwrap_err();
    let kinds: HashMap<&str, ErrorKind> = [
        (from_eventfd.call(), from_eventfd.kind()),
        (from_timerfd.call(), from_timerfd.kind()),
    ]
    .into();
    assert_eq!(kinds["eventfd_write"], ErrorKind::InvalidInput);
    assert_eq!(kinds["timerfd_settime"], ErrorKind::InvalidInput);
    let io: std::io::Error = from_timerfd.into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
    assert!(io.to_string().contains("zero start"));
    // Types are the same through every path.
    let _: butter::Error = event_fd::Error::from_errno("x", 1);
    let _: timer_fd::Error = fd_core::Error::from_errno("x", 1);
}

/// A task waits on an eventfd and a timer at once; the same code runs on
/// two executors.
async fn first_of_eventfd_and_timer(efd: &AsyncEventFd, timer: &AsyncTimerFd) -> (u64, u64) {
    let mut got = (0, 0);
    let (mut efd_stream, mut timer_stream) = (efd, timer);
    while got.0 == 0 || got.1 == 0 {
        let next = future::or(
            async { (efd_stream.next().await.unwrap().unwrap(), 0) },
            async { (0, timer_stream.next().await.unwrap().unwrap().count()) },
        )
        .await;
        got.0 += next.0;
        got.1 += next.1;
    }
    got
}

#[test]
fn async_types_on_futures_lite_block_on() {
    let efd = AsyncEventFd::new(EventFd::new().unwrap()).unwrap();
    let timer = AsyncTimerFd::new(TimerFd::new().unwrap()).unwrap();
    efd.get_ref().write(7).unwrap();
    timer.set(&TimerSpec::oneshot(2 * MS)).unwrap();
    let (value, ticks) = future::block_on(first_of_eventfd_and_timer(&efd, &timer));
    assert_eq!((value, ticks), (7, 1));
}

#[test]
fn async_types_on_a_multi_threaded_executor() {
    let efd = AsyncEventFd::new(EventFd::new().unwrap()).unwrap();
    let timer = AsyncTimerFd::new(TimerFd::new().unwrap()).unwrap();
    let stop = AsyncEventFd::new(EventFd::with_flags(0, EventFdFlags::SEMAPHORE).unwrap()).unwrap();
    let ex = async_executor::Executor::new();
    let got = thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| future::block_on(ex.run(stop.read())));
        }
        let task = ex.spawn(first_of_eventfd_and_timer(&efd, &timer));
        // Feed it from this thread, after the task exists.
        efd.get_ref().write(9).unwrap();
        timer.set(&TimerSpec::oneshot(2 * MS)).unwrap();
        let got = future::block_on(task);
        stop.get_ref().write(2).unwrap();
        got
    });
    assert_eq!(got, (9, 1));
}

/// ns-sys's sandbox applies a seccomp-lite program in the child, last
/// before exec: the command runs in its namespaces under the filter.
#[test]
fn sandbox_runs_under_a_compiled_filter() {
    use butter::ns::{Namespaces, Sandbox};
    use butter::seccomp::{Action, Filter, Rule};
    let program = Filter::new(Action::Allow)
        .rule(Rule::new("uname", Action::Errno(13)))
        .compile()
        .unwrap();
    let mut sandbox = Sandbox::new("/bin/sh");
    sandbox
        .arg("-c")
        .arg("grep Seccomp: /proc/self/status; uname || echo uname refused");
    sandbox.seccomp_filter(&program);
    let plain = sandbox.output().unwrap();
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(
        text.contains("Seccomp:\t2") && text.contains("uname refused"),
        "{text}"
    );
    // With namespaces too, where user namespaces are allowed.
    sandbox.unshare(Namespaces::USER | Namespaces::UTS);
    match sandbox.output() {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("uname refused"), "{text}");
        }
        Err(e) => eprintln!("partly skipped: the namespaced half: {e}"),
    }
}

/// Every `from_fd` adopts its own kind of fd and refuses any other the
/// same way: `InvalidInput`, naming the API, the fd, what it is and what
/// it wanted.
#[test]
fn every_from_fd_checks_what_it_adopts() {
    use std::os::fd::{AsRawFd, OwnedFd};
    fn pipe() -> OwnedFd {
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .unwrap()
            .0
    }
    fn refused<T: std::fmt::Debug>(
        api: &'static str,
        adopt: impl FnOnce(OwnedFd) -> butter::Result<T>,
    ) {
        let fd = pipe();
        let raw = fd.as_raw_fd();
        let err = adopt(fd).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{api}: {err}");
        let text = err.to_string();
        assert!(text.contains(api), "{text}");
        assert!(text.contains(&format!("fd {raw} is pipe:[")), "{text}");
        // The API in the context, a system call's name in `call`.
        assert_eq!(err.context(), Some(api), "{text}");
        assert!(
            !err.call().contains("::"),
            "call {:?} is not a syscall: {text}",
            err.call()
        );
    }
    refused("EventFd::from_fd", EventFd::from_fd);
    refused("TimerFd::from_fd", TimerFd::from_fd);
    refused("SignalFd::from_fd", butter::signalfd::SignalFd::from_fd);
    refused("PidFd::from_fd", butter::signalfd::PidFd::from_fd);
    refused(
        "Inotify::from_fd",
        butter::notify::inotify::Inotify::from_fd,
    );
    refused(
        "Fanotify::from_fd",
        butter::notify::fanotify::Fanotify::from_fd,
    );
    refused("FsContext::from_fd", butter::ns::FsContext::from_fd);
    refused("MountFd::from_fd", butter::ns::MountFd::from_fd);
    refused("NsFd::from_fd", |fd| butter::ns::NsFd::from_fd(fd, None));
    refused("Listener::from_fd", butter::seccomp::Listener::from_fd);

    // And each takes back its own kind.
    let e = EventFd::new().unwrap();
    EventFd::from_fd(e.into()).unwrap();
    let i = butter::notify::inotify::Inotify::new().unwrap();
    butter::notify::inotify::Inotify::from_fd(i.into()).unwrap();
    let set = butter::signalfd::SigSet::from_iter([butter::signalfd::Signal::USR2]);
    let s = butter::signalfd::SignalFd::new(&set).unwrap();
    butter::signalfd::SignalFd::from_fd(s.into()).unwrap();
    if let Ok(f) = butter::notify::fanotify::Fanotify::new(
        butter::notify::fanotify::Class::Notif,
        butter::notify::fanotify::InitFlags::REPORT_DFID_NAME
            | butter::notify::fanotify::InitFlags::NONBLOCK,
    ) {
        let back = butter::notify::fanotify::Fanotify::from_fd(f.into()).unwrap();
        assert_eq!(back.class(), butter::notify::fanotify::Class::Notif);
        assert!(
            format!("{back:?}").contains("REPORT_DIR_FID | REPORT_NAME"),
            "{back:?}"
        );
    }
}

/// Which public types may cross threads, pinned at compile time: a change
/// that makes one `!Send` or `!Sync` (an `Rc`, a raw pointer, a `Cell`)
/// stops this test from building. Everything that owns an fd is both (the
/// queued sources lock their queue); `Context` is `Send` (it is moved to a
/// reaper thread) and is `Sync` too: its mutating calls take `&mut self`.
#[test]
fn send_and_sync_are_pinned() {
    fn both<T: Send + Sync>() {}
    use butter::aio::{AlignedBuf, AsyncContext, Completion, Context};
    use butter::notify::inotify::{Inotify, PathEvent, RecursiveWatcher};
    use butter::notify::{AsyncFanotify, AsyncInotify, AsyncRecursiveWatcher, fanotify};
    use butter::ns::{Child, Enter, FsContext, MountFd, NsFd, Sandbox};
    use butter::pipe::{AsyncPipe, Pipe};
    use butter::seccomp::{AsyncListener, Filter, Listener, Notification, Program};
    use butter::signalfd::{AsyncSignalFd, AsyncSignals, PidFd, SignalFd, Signals};
    both::<butter::Error>();
    both::<EventFd>();
    both::<AsyncEventFd>();
    both::<TimerFd>();
    both::<AsyncTimerFd>();
    both::<SignalFd>();
    both::<AsyncSignalFd>();
    both::<Signals>();
    both::<AsyncSignals>();
    both::<PidFd>();
    both::<Inotify>();
    both::<AsyncInotify>();
    both::<RecursiveWatcher>();
    both::<AsyncRecursiveWatcher>();
    both::<PathEvent>();
    both::<fanotify::Fanotify>();
    both::<AsyncFanotify>();
    both::<fanotify::Event>();
    both::<Pipe>();
    both::<AsyncPipe>();
    both::<Context>();
    both::<AsyncContext>();
    both::<Completion>();
    both::<AlignedBuf>();
    both::<NsFd>();
    both::<FsContext>();
    both::<MountFd>();
    both::<Sandbox>();
    both::<Child>();
    both::<Enter>();
    both::<Listener>();
    both::<AsyncListener>();
    both::<Notification>();
    both::<Filter>();
    both::<Program>();
}

/// Every example in the members' item docs is written as a `butter` user
/// writes it (`use butter::signalfd::…`, not `use signal_fd::…`): those
/// docs are the pages of `cargo doc -p butter`, and each member's doctests
/// run them through the umbrella (its path-only dev-dependency on
/// `butter`). A crate path in a visible example line fails here, naming
/// the file and line. (A crate's own `//!` front page may use its name.)
#[test]
fn doc_examples_use_butter_paths() {
    let members = [
        "event_fd",
        "timer_fd",
        "signal_fd",
        "notify_fd",
        "zerocopy_pipe",
        "kernel_aio",
        "ns_sys",
        "seccomp_lite",
        "fd_core",
    ];
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
    let mut found = Vec::new();
    let mut stack = vec![crates];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !["target", "tests", "examples", "butter-cli", "butter-bench"]
                    .contains(&name.as_str())
                {
                    stack.push(path);
                }
                continue;
            }
            if !name.ends_with(".rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let mut in_code = false;
            for (n, line) in text.lines().enumerate() {
                let Some(doc) = line.trim_start().strip_prefix("///") else {
                    in_code = false;
                    continue;
                };
                let doc = doc.strip_prefix(' ').unwrap_or(doc);
                if doc.starts_with("```") {
                    in_code = !in_code;
                    continue;
                }
                if in_code && !doc.starts_with('#') {
                    for m in members {
                        if doc.contains(&format!("{m}::"))
                            && !doc.contains(&format!("butter::{m}::"))
                        {
                            found.push(format!("{}:{}: {doc}", path.display(), n + 1));
                        }
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "examples a butter user cannot paste:\n{}",
        found.join("\n")
    );
}

/// Every type that owns an fd composes the same way: `AsFd`, `AsRawFd`,
/// `Debug`, and `Into<OwnedFd>` (so it goes into tokio's `AsyncFd`, any
/// reactor, or back to a plain fd). Pinned at compile time.
#[test]
fn every_owning_type_composes() {
    use std::os::fd::{AsRawFd, OwnedFd};
    fn owns<T: AsFd + AsRawFd + std::fmt::Debug + Into<OwnedFd>>() {}
    owns::<EventFd>();
    owns::<TimerFd>();
    owns::<butter::signalfd::SignalFd>();
    owns::<butter::signalfd::Signals>();
    owns::<butter::signalfd::PidFd>();
    owns::<butter::notify::inotify::Inotify>();
    owns::<butter::notify::inotify::RecursiveWatcher>();
    owns::<butter::notify::fanotify::Fanotify>();
    owns::<butter::ns::NsFd>();
    owns::<butter::ns::FsContext>();
    owns::<butter::ns::MountFd>();
    owns::<butter::seccomp::Listener>();
    owns::<butter::seccomp::HandoffSender>();
    owns::<butter::seccomp::HandoffReceiver>();
}

/// The two-thread contract for the sources that keep no queue (eventfd,
/// timerfd): they hold no lock, so a reader blocked in `read_event` locks
/// nobody out, and the bounds of another thread's `try_read_event`,
/// `read_event_timeout` and `wait_readable` hold; then one event wakes the
/// blocked reader. Shared in non-blocking mode (as the trait's docs say for
/// several readers), two timed readers get one event once, neither past
/// its bound.
fn two_threads_on<S>(source: S, fire: impl Fn(&S))
where
    S: EventSource + Send + Sync + 'static,
    S::Event: Send + std::fmt::Debug + 'static,
{
    use std::sync::{Arc, mpsc};
    let source = Arc::new(source);
    let (tid_tx, tid_rx) = mpsc::channel();
    let (got_tx, got_rx) = mpsc::channel();
    let reader = Arc::clone(&source);
    thread::spawn(move || {
        tid_tx
            .send(rustix::thread::gettid().as_raw_nonzero().get())
            .unwrap();
        let _ = got_tx.send(reader.read_event().map(|e| format!("{e:?}")));
    });
    let tid = tid_rx.recv().unwrap();
    let blocked = || {
        let text =
            std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).unwrap_or_default();
        text.split_whitespace()
            .next()
            .and_then(|n| n.parse::<i64>().ok())
            == Some(libc::SYS_read)
    };
    let start = Instant::now();
    while !blocked() {
        assert!(start.elapsed() < LIMIT, "reader A never blocked in read");
        thread::yield_now();
    }
    let t = Instant::now();
    assert!(source.try_read_event().unwrap().is_none());
    assert!(source.read_event_timeout(50 * MS).unwrap().is_none());
    assert!(!source.wait_readable(Some(20 * MS)).unwrap());
    let took = t.elapsed();
    assert!(
        took >= 70 * MS && took < LIMIT,
        "bounds beside a blocked reader: {took:?}"
    );
    fire(&source);
    got_rx
        .recv_timeout(LIMIT)
        .expect("reader A never woke")
        .unwrap();

    fd_core_set_nonblocking(source.as_fd());
    let bound = Duration::from_millis(300);
    let (tx, rx) = mpsc::channel();
    for _ in 0..2 {
        let r = Arc::clone(&source);
        let tx = tx.clone();
        thread::spawn(move || {
            let (mut got, mut worst) = (0, Duration::ZERO);
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(900) {
                let t = Instant::now();
                if r.read_event_timeout(bound).unwrap().is_some() {
                    got += 1;
                }
                worst = worst.max(t.elapsed());
            }
            let _ = tx.send((got, worst));
        });
    }
    fire(&source);
    let mut total = 0;
    for _ in 0..2 {
        let (got, worst) = rx
            .recv_timeout(LIMIT)
            .expect("a timed reader overran by seconds");
        assert!(worst < bound + Duration::from_secs(3), "overran: {worst:?}");
        total += got;
    }
    assert_eq!(total, 1, "one event, read once");
}

fn fd_core_set_nonblocking(fd: std::os::fd::BorrowedFd<'_>) {
    fd_core::set_nonblocking(fd, true).unwrap();
}

#[test]
fn eventfd_two_threads() {
    two_threads_on(EventFd::new().unwrap(), |e| e.notify().unwrap());
}

#[test]
fn timerfd_two_threads() {
    two_threads_on(TimerFd::new().unwrap(), |t| {
        t.set(&TimerSpec::oneshot(MS)).unwrap();
    });
}

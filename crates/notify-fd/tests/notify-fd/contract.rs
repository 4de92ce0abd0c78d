//! The contract every queued source keeps (docs/architecture.md, "Reading
//! ahead and threads"): a poll loop that reads once per wake-up sees every
//! event, an edge-triggered epoll loop does too, and a reader blocked in a
//! read locks no other thread out (their bounds hold). Each is run for
//! `Inotify`, `RecursiveWatcher` and `Fanotify`.

use super::*;
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use notify_fd::fanotify::{
    Class, EventMask as Fm, Fanotify, FidKind, InitFlags as FanInit, MarkFlags, MarkTarget,
};

/// How many files each workload makes: enough that one `read(2)` takes
/// several, so a source that read ahead has a queue.
const FILES: usize = 40;

/// A source, with what makes events on it and how to name them.
struct Subject<S: EventSource> {
    source: S,
    dir: PathBuf,
    /// The file name an event is about, if it is a creation.
    created: fn(&S, &<S as EventSource>::Event) -> Option<OsString>,
}

fn make_files(dir: &std::path::Path, prefix: &str, n: usize) {
    for i in 0..n {
        std::fs::write(dir.join(format!("{prefix}{i}")), b"").unwrap();
    }
}

/// The file names created, in the order first seen.
fn names<S: EventSource>(subject: &Subject<S>, events: &[S::Event]) -> BTreeSet<OsString> {
    events
        .iter()
        .filter_map(|e| (subject.created)(&subject.source, e))
        .collect()
}

fn inotify_subject(tmp: &TempDir) -> Subject<Inotify> {
    let ino = Inotify::new().unwrap();
    ino.add_watch(tmp.path(), EventMask::CREATE, WatchFlags::empty())
        .unwrap();
    Subject {
        source: ino,
        dir: tmp.path().to_path_buf(),
        created: |_, c| match c {
            Change::Event(e) if e.mask.contains(EventMask::CREATE) => e.name.clone(),
            _ => None,
        },
    }
}

fn recursive_subject(tmp: &TempDir) -> Subject<RecursiveWatcher> {
    recursive_subject_with(tmp, notify_fd::inotify::Backend::Inotify)
}

/// The fanotify backend marks the whole filesystem: `/tmp` is made a
/// tmpfs of the test's own first (a `Root` test's private namespace).
fn fan_tree_subject(tmp: &TempDir) -> Subject<RecursiveWatcher> {
    recursive_subject_with(tmp, notify_fd::inotify::Backend::Fanotify)
}

fn recursive_subject_with(
    tmp: &TempDir,
    backend: notify_fd::inotify::Backend,
) -> Subject<RecursiveWatcher> {
    let options = notify_fd::inotify::RecursiveOptions {
        backend,
        poll_interval: Duration::from_millis(20),
        ..Default::default()
    };
    let watcher = RecursiveWatcher::with_options(tmp.path(), EventMask::CREATE, options).unwrap();
    assert_eq!(watcher.backend(), backend);
    Subject {
        source: watcher,
        dir: tmp.path().to_path_buf(),
        created: |_, e| match e {
            PathEvent::Event { path, mask, .. } if mask.contains(EventMask::CREATE) => {
                path.file_name().map(OsStr::to_os_string)
            }
            _ => None,
        },
    }
}

/// Unprivileged fanotify (Linux 5.13): a notification group reporting
/// names, with an inode mark. Skips where the kernel has no such mode.
fn fanotify_subject(tmp: &TempDir) -> Subject<Fanotify> {
    let group = match Fanotify::new(Class::Notif, FanInit::REPORT_DFID_NAME) {
        Ok(g) => g,
        Err(e) => butter_tests::skip(&format!("fanotify with REPORT_DFID_NAME: {e}")),
    };
    group
        .mark(
            MarkTarget::Inode,
            tmp.path(),
            Fm::CREATE | Fm::EVENT_ON_CHILD,
            MarkFlags::empty(),
        )
        .unwrap();
    Subject {
        source: group,
        dir: tmp.path().to_path_buf(),
        created: |_, e| {
            e.mask()
                .contains(Fm::CREATE)
                .then(|| {
                    e.fid(FidKind::DfidName)
                        .and_then(|(_, n)| n.map(OsStr::to_os_string))
                })
                .flatten()
        },
    }
}

fn want(prefix: &str, n: usize) -> BTreeSet<OsString> {
    (0..n)
        .map(|i| OsString::from(format!("{prefix}{i}")))
        .collect()
}

/// A plain `poll(2)` loop that reads once per wake-up with the method the
/// docs give for poll loops (`read_events`): every event must come, and
/// the poll must not time out while any is still inside the source. After
/// a single `read_event`, what is left is visible: the fd is readable or
/// `queued()` counts it.
fn poll_loop<S: EventSource>(subject: Subject<S>) {
    use rustix::event::{PollFd, PollFlags, poll};
    make_files(&subject.dir, "p", FILES);
    let want = want("p", FILES);

    // One read_event first: the rest of its batch must be visible.
    let first = subject.source.read_event().unwrap();
    let mut got: Vec<S::Event> = vec![first];
    let readable = fd_core::readable_now(subject.source.as_fd()).unwrap();
    assert!(
        readable || subject.source.queued() > 0 || names(&subject, &got) == want,
        "after one read_event, events remain where neither poll nor queued() sees them"
    );
    // Hand the queue out, as the docs say to before polling again.
    if subject.source.queued() > 0 {
        subject.source.read_events(&mut got).unwrap();
        assert_eq!(subject.source.queued(), 0, "read_events left a queue");
    }

    let timeout = rustix::time::Timespec {
        tv_sec: 2,
        tv_nsec: 0,
    };
    let start = Instant::now();
    while names(&subject, &got) != want {
        assert!(start.elapsed() < LIMIT, "poll loop: gave up");
        let mut fds = [PollFd::new(&subject.source, PollFlags::IN)];
        let n = poll(&mut fds, Some(&timeout)).unwrap();
        let missing: Vec<_> = want.difference(&names(&subject, &got)).cloned().collect();
        assert!(
            n > 0,
            "poll timed out with {} events missing ({missing:?}), queued() = {}",
            missing.len(),
            subject.source.queued()
        );
        subject.source.read_events(&mut got).unwrap();
        assert_eq!(subject.source.queued(), 0, "read_events left a queue");
    }
}

/// An edge-triggered epoll loop: on each wake-up, `read_event` until
/// `WouldBlock`. Two waves, so the second edge must come after the first
/// drain.
fn epoll_edge<S: EventSource>(subject: Subject<S>) {
    use rustix::event::epoll;
    fd_core::set_nonblocking(subject.source.as_fd(), true).unwrap();
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).unwrap();
    epoll::add(
        &ep,
        &subject.source,
        epoll::EventData::new_u64(1),
        epoll::EventFlags::IN | epoll::EventFlags::ET,
    )
    .unwrap();
    let mut got = Vec::new();
    for wave in ["a", "b"] {
        make_files(&subject.dir, wave, FILES);
        let want = want(wave, FILES);
        let start = Instant::now();
        loop {
            let seen = names(&subject, &got);
            if want.is_subset(&seen) {
                break;
            }
            assert!(start.elapsed() < LIMIT, "epoll loop: gave up");
            let mut events: Vec<epoll::Event> = Vec::with_capacity(4);
            let timeout = rustix::time::Timespec {
                tv_sec: 2,
                tv_nsec: 0,
            };
            epoll::wait(
                &ep,
                rustix::buffer::spare_capacity(&mut events),
                Some(&timeout),
            )
            .unwrap();
            assert!(
                !events.is_empty(),
                "edge-triggered epoll timed out in wave {wave} with {} missing, queued() = {}",
                want.difference(&seen).count(),
                subject.source.queued()
            );
            loop {
                match subject.source.read_event() {
                    Ok(e) => got.push(e),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("read_event: {e}"),
                }
            }
        }
    }
}

/// Whether thread `tid` sleeps in a read or a poll (the reader's wait).
fn blocked(tid: i32) -> bool {
    let text =
        std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).unwrap_or_default();
    let nr = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<i64>().ok());
    nr.is_some_and(|nr| [libc::SYS_read, libc::SYS_poll, libc::SYS_ppoll].contains(&nr))
}

/// Runs `op` on a thread and returns its result, failing if it takes
/// longer than `LIMIT` (a thread locked out by another's blocked read).
fn bounded<T: Send + 'static>(
    what: &str,
    op: impl FnOnce() -> T + Send + 'static,
) -> (T, Duration) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let start = Instant::now();
        let out = op();
        let _ = tx.send((out, start.elapsed()));
    });
    rx.recv_timeout(LIMIT)
        .unwrap_or_else(|_| panic!("{what}: still blocked after {LIMIT:?}"))
}

/// Thread A blocks in `read_event`; thread B's `try_read_event`, timed
/// read, `wait` and the type's own `also` (add a watch, a root, a mark)
/// finish within their bounds; then one event wakes A. Then two threads in
/// timed reads share one event: one gets it, neither overruns its bound.
fn two_threads<S>(subject: Subject<S>, also: fn(&S, &std::path::Path))
where
    S: EventSource + Send + Sync + 'static,
    S::Event: Send + Debug + 'static,
{
    let created = subject.created;
    let dir = subject.dir.clone();
    let source = Arc::new(subject.source);
    let (tid_tx, tid_rx) = mpsc::channel();
    let (event_tx, event_rx) = mpsc::channel();
    let reader = Arc::clone(&source);
    std::thread::spawn(move || {
        tid_tx.send(butter_tests::gettid()).unwrap();
        let _ = event_tx.send(reader.read_event().map_err(|e| e.to_string()));
    });
    let tid = tid_rx.recv().unwrap();
    butter_tests::wait_for("reader A asleep in read or poll", LIMIT, || blocked(tid));

    let b = Arc::clone(&source);
    let (none, _) = bounded("try_read_event beside a blocked reader", move || {
        b.try_read_event().map(|e| e.is_none())
    });
    assert!(none.unwrap(), "try_read_event found an event nobody made");
    let b = Arc::clone(&source);
    let (timed, took) = bounded("read_event_timeout beside a blocked reader", move || {
        b.read_event_timeout(Duration::from_millis(50))
            .map(|e| e.is_none())
    });
    assert!(timed.unwrap());
    assert!(
        took >= Duration::from_millis(50),
        "returned early: {took:?}"
    );
    let b = Arc::clone(&source);
    let (ready, _) = bounded("wait beside a blocked reader", move || {
        b.wait_readable(Some(Duration::from_millis(20)))
    });
    assert!(!ready.unwrap());
    let b = Arc::clone(&source);
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    bounded("the type's own call beside a blocked reader", move || {
        also(&b, &sub)
    });
    // The directory made just now is an event too: A wakes on it or on
    // the file; drain so the next part starts empty.
    std::fs::write(dir.join("wake"), b"").unwrap();
    event_rx
        .recv_timeout(LIMIT)
        .expect("reader A never woke")
        .unwrap();
    let mut rest = Vec::new();
    while let Some(e) = source.try_read_event().unwrap() {
        rest.push(e);
    }

    // Two timed readers, one event: neither overruns its bound.
    let bound = Duration::from_millis(300);
    let (tx, rx) = mpsc::channel();
    for _ in 0..2 {
        let r = Arc::clone(&source);
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut worst = Duration::ZERO;
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(900) {
                let t = Instant::now();
                if let Some(e) = r.read_event_timeout(bound).unwrap() {
                    got.push(e);
                }
                worst = worst.max(t.elapsed());
            }
            let _ = tx.send((got, worst));
        });
    }
    std::fs::write(dir.join("shared"), b"").unwrap();
    let mut total = Vec::new();
    for _ in 0..2 {
        let (got, worst) = rx
            .recv_timeout(LIMIT)
            .expect("a timed reader overran its bound by seconds (blocked in a read)");
        // The bound plus what a loaded machine may add; a reader stuck in
        // a blocking read would take until the next event (never).
        assert!(worst < bound + Duration::from_secs(3), "overran: {worst:?}");
        total.extend(got);
    }
    let shared: Vec<_> = total
        .iter()
        .filter(|e| created(&source, e).is_some_and(|n| n == "shared"))
        .collect();
    assert_eq!(
        shared.len(),
        1,
        "the one event went to {} readers",
        shared.len()
    );
}

pub(super) fn inotify_poll_loop() {
    let tmp = TempDir::new("contract");
    poll_loop(inotify_subject(&tmp));
}

pub(super) fn inotify_epoll_edge() {
    let tmp = TempDir::new("contract");
    epoll_edge(inotify_subject(&tmp));
}

pub(super) fn inotify_two_threads() {
    let tmp = TempDir::new("contract");
    two_threads(inotify_subject(&tmp), |ino, sub| {
        ino.add_watch(sub, EventMask::CREATE, WatchFlags::empty())
            .unwrap();
    });
}

pub(super) fn recursive_poll_loop() {
    let tmp = TempDir::new("contract");
    poll_loop(recursive_subject(&tmp));
}

pub(super) fn recursive_epoll_edge() {
    let tmp = TempDir::new("contract");
    epoll_edge(recursive_subject(&tmp));
}

pub(super) fn recursive_two_threads() {
    let tmp = TempDir::new("contract");
    two_threads(recursive_subject(&tmp), |w, _| {
        w.rescan().unwrap();
        let other = TempDir::new("contract-root");
        w.add_root(other.path()).unwrap();
    });
}

pub(super) fn fan_tree_poll_loop() {
    private_tmpfs();
    let tmp = TempDir::new("contract");
    poll_loop(fan_tree_subject(&tmp));
}

pub(super) fn fan_tree_epoll_edge() {
    private_tmpfs();
    let tmp = TempDir::new("contract");
    epoll_edge(fan_tree_subject(&tmp));
}

pub(super) fn fan_tree_two_threads() {
    private_tmpfs();
    let tmp = TempDir::new("contract");
    two_threads(fan_tree_subject(&tmp), |w, _| {
        w.rescan().unwrap();
        let other = TempDir::new("contract-root");
        w.add_root(other.path()).unwrap();
        assert!(w.sync(Duration::from_secs(10)).unwrap());
    });
}

pub(super) fn poll_tree_poll_loop() {
    let tmp = TempDir::new("contract");
    poll_loop(recursive_subject_with(
        &tmp,
        notify_fd::inotify::Backend::Poll,
    ));
}

pub(super) fn poll_tree_epoll_edge() {
    let tmp = TempDir::new("contract");
    epoll_edge(recursive_subject_with(
        &tmp,
        notify_fd::inotify::Backend::Poll,
    ));
}

pub(super) fn poll_tree_two_threads() {
    let tmp = TempDir::new("contract");
    two_threads(
        recursive_subject_with(&tmp, notify_fd::inotify::Backend::Poll),
        |w, _| {
            w.rescan().unwrap();
            let other = TempDir::new("contract-root");
            w.add_root(other.path()).unwrap();
            assert!(w.sync(Duration::from_secs(10)).unwrap());
        },
    );
}

pub(super) fn fanotify_poll_loop() {
    let tmp = TempDir::new("contract");
    poll_loop(fanotify_subject(&tmp));
}

pub(super) fn fanotify_epoll_edge() {
    let tmp = TempDir::new("contract");
    epoll_edge(fanotify_subject(&tmp));
}

pub(super) fn fanotify_two_threads() {
    let tmp = TempDir::new("contract");
    two_threads(fanotify_subject(&tmp), |group, sub| {
        group
            .mark(
                MarkTarget::Inode,
                sub,
                Fm::CREATE | Fm::EVENT_ON_CHILD,
                MarkFlags::empty(),
            )
            .unwrap();
    });
}

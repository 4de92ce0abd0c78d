//! notify-fd rows: draining a full inotify queue, keeping up with a live
//! producer, and allocations per event.
//!
//! Events come from opening and closing one file: `IN_OPEN` and
//! `IN_CLOSE_NOWRITE` alternate, so the kernel cannot merge them and every
//! open makes exactly two. The machine's `max_queued_events` is left as it
//! is; a drain round fills the queue to just below it and times the reading.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use butter::notify::inotify::{Event, EventBuffer, EventMask, Inotify, WatchFlags};

use crate::harness::{Plan, Row, interleaved, timed};
use crate::{alloc_count, c};

/// A scratch file on tmpfs where there is one (`/dev/shm`), removed on drop.
pub(crate) struct Scratch {
    dir: PathBuf,
    file: PathBuf,
}

impl Scratch {
    pub(crate) fn new() -> Scratch {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("butter-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let file = dir.join("f");
        std::fs::write(&file, b"").expect("scratch file");
        Scratch { dir, file }
    }

    pub(crate) fn file(&self) -> &Path {
        &self.file
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const MASK: EventMask = EventMask::OPEN.union(EventMask::CLOSE_NOWRITE);

/// Two events per pair: open, close.
fn produce(file: &Path, pairs: u64) {
    for _ in 0..pairs {
        drop(std::fs::File::open(file).expect("open"));
    }
}

/// Events a drain round queues: as many as fit, an even number.
pub(crate) fn queue_events() -> u64 {
    let max = fd_core_max_queued();
    (max.min(16_384) - 2) & !1
}

fn fd_core_max_queued() -> u64 {
    butter::probe::read_proc_u64("/proc/sys/fs/inotify/max_queued_events").unwrap_or(16_384)
}

fn raw_inotify(file: &Path) -> OwnedFd {
    let fd = butter::notify::inotify::inotify_init1(Default::default()).expect("inotify");
    butter::notify::inotify::inotify_add_watch(&fd, file, MASK, WatchFlags::empty())
        .expect("watch");
    fd
}

/// Counts events from ours until `want`, or an overflow; with `buf` reused.
fn read_ours(inotify: &Inotify, buf: &mut EventBuffer, want: u64) -> u64 {
    let mut seen = 0;
    while seen < want {
        for event in inotify.read_batch(buf).expect("read") {
            match event {
                Event::Watch(_) => seen += 1,
                Event::Overflow => return seen,
            }
        }
    }
    seen
}

fn read_peer(peer: &mut inotify::Inotify, buf: &mut [u8], want: u64) -> u64 {
    let mut seen = 0;
    while seen < want {
        for event in peer.read_events_blocking(buf).expect("read") {
            if event.mask.contains(inotify::EventMask::Q_OVERFLOW) {
                return seen;
            }
            seen += 1;
        }
    }
    seen
}

fn new_peer(file: &Path) -> inotify::Inotify {
    let peer = inotify::Inotify::init().expect("inotify");
    peer.watches()
        .add(
            file,
            inotify::WatchMask::OPEN | inotify::WatchMask::CLOSE_NOWRITE,
        )
        .expect("watch");
    peer
}

/// `reps` rounds of: fill the queue (untimed), drain it (timed). Also
/// returns the allocations made while draining.
pub(crate) fn drain_ours(file: &Path, reps: u32, buf: &mut EventBuffer) -> (Duration, u64) {
    let n = queue_events();
    let inotify = Inotify::new().expect("inotify");
    inotify
        .add_watch(file, MASK, WatchFlags::empty())
        .expect("watch");
    let (mut total, mut allocs) = (Duration::ZERO, 0);
    for _ in 0..reps {
        produce(file, n / 2);
        let before = alloc_count::allocations();
        let mut seen = 0;
        total += timed(|| seen = read_ours(&inotify, buf, n));
        allocs += alloc_count::allocations() - before;
        assert_eq!(seen, n, "ours drained {seen} of {n}");
    }
    (total, allocs)
}

pub(crate) fn drain_c(file: &Path, reps: u32) -> Duration {
    let n = queue_events();
    let fd = raw_inotify(file);
    let mut total = Duration::ZERO;
    for _ in 0..reps {
        produce(file, n / 2);
        let mut seen = None;
        total += timed(|| seen = c::inotify_read(fd.as_fd(), n));
        assert_eq!(seen, Some(n));
    }
    total
}

pub(crate) fn drain_peer(file: &Path, reps: u32) -> (Duration, u64) {
    let n = queue_events();
    let mut peer = new_peer(file);
    let mut buf = vec![0u8; 64 * 1024];
    let (mut total, mut allocs) = (Duration::ZERO, 0);
    for _ in 0..reps {
        produce(file, n / 2);
        let before = alloc_count::allocations();
        let mut seen = 0;
        total += timed(|| seen = read_peer(&mut peer, &mut buf, n));
        allocs += alloc_count::allocations() - before;
        assert_eq!(seen, n);
    }
    (total, allocs)
}

/// A producer thread makes `pairs` open/close pairs while `read` keeps up;
/// returns the time until the reader has all `2 * pairs` events, and
/// whether any were lost to an overflow.
fn live(file: &Path, pairs: u64, read: impl FnOnce(u64) -> u64 + Send) -> (Duration, bool) {
    let want = 2 * pairs;
    let mut seen = 0;
    let took = timed(|| {
        std::thread::scope(|s| {
            s.spawn(|| produce(file, pairs));
            seen = read(want);
        });
    });
    (took, seen < want)
}

pub(crate) fn live_ours(file: &Path, pairs: u64, buf: &mut EventBuffer) -> (Duration, bool) {
    let inotify = Inotify::new().expect("inotify");
    inotify
        .add_watch(file, MASK, WatchFlags::empty())
        .expect("watch");
    live(file, pairs, |want| read_ours(&inotify, buf, want))
}

pub(crate) fn live_c(file: &Path, pairs: u64) -> (Duration, bool) {
    let fd = raw_inotify(file);
    live(file, pairs, |want| {
        c::inotify_read(fd.as_fd(), want).unwrap_or(0)
    })
}

pub(crate) fn live_peer(file: &Path, pairs: u64) -> (Duration, bool) {
    let mut peer = new_peer(file);
    let mut buf = vec![0u8; 64 * 1024];
    live(file, pairs, |want| read_peer(&mut peer, &mut buf, want))
}

pub(crate) fn rows(plan: &Plan) -> Vec<Row> {
    use butter::notify::inotify::EventBuffer;
    let scratch = Scratch::new();
    let file = scratch.file();
    let reps = plan.drain_reps;
    let events = (queue_events() * u64::from(reps)) as f64;
    let mut buf = EventBuffer::default();
    // Allocations are counted in the measured rounds only: the warm-up
    // round grows the reused buffer to the queue's size, once.
    let (mut ours_allocs, mut peer_allocs) = (0, 0);
    let (mut ours_runs, mut peer_runs) = (0, 0);
    let m = interleaved(
        plan.notify_rounds,
        &mut [
            &mut || {
                let (t, a) = drain_ours(file, reps, &mut buf);
                if ours_runs > 0 {
                    ours_allocs += a;
                }
                ours_runs += 1;
                t
            },
            &mut || drain_c(file, reps),
            &mut || {
                let (t, a) = drain_peer(file, reps);
                if peer_runs > 0 {
                    peer_allocs += a;
                }
                peer_runs += 1;
                t
            },
        ],
    );
    let rate = |s: f64| events / s;
    let drain = Row {
        name: "inotify: drain a full queue",
        unit: "events/s",
        ours: rate(m[0]),
        c: Some(rate(m[1])),
        peer: Some(("inotify crate", rate(m[2]))),
        higher_is_better: true,
        note: format!("{} events per fill", queue_events()),
    };
    let drained = events * plan.notify_rounds as f64;
    let allocs = Row {
        name: "inotify: allocations per event while draining",
        unit: "allocs/event",
        ours: ours_allocs as f64 / drained,
        c: None,
        peer: Some(("inotify crate", peer_allocs as f64 / drained)),
        higher_is_better: false,
        note: "after the warm-up round grew the reused buffer".into(),
    };
    let pairs = plan.live_pairs;
    let (mut lost_ours, mut lost_c, mut lost_peer) = (false, false, false);
    let m = interleaved(
        plan.notify_rounds,
        &mut [
            &mut || {
                let (t, l) = live_ours(file, pairs, &mut buf);
                lost_ours |= l;
                t
            },
            &mut || {
                let (t, l) = live_c(file, pairs);
                lost_c |= l;
                t
            },
            &mut || {
                let (t, l) = live_peer(file, pairs);
                lost_peer |= l;
                t
            },
        ],
    );
    let rate = |s: f64| (2 * pairs) as f64 / s;
    let said = |l: bool| if l { "YES" } else { "none" };
    let live = Row {
        name: "inotify: live producer on tmpfs",
        unit: "events/s",
        ours: rate(m[0]),
        c: Some(rate(m[1])),
        peer: Some(("inotify crate", rate(m[2]))),
        higher_is_better: true,
        note: format!(
            "producer-bound (a reader that wakes less often leaves the producer more CPU); lost: ours {}, C {}, peer {}",
            said(lost_ours),
            said(lost_c),
            said(lost_peer)
        ),
    };
    vec![drain, live, allocs]
}

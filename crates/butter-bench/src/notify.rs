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

use crate::{alloc_count, c, timed};

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

//! `Debouncer` on the real kernel: each path's events settle, a plain poll
//! loop on its fd wakes when they do, and nothing comes early.

use std::path::Path;
use std::time::{Duration, Instant};

use butter_tests::TempDir;
use fd_core::EventSource;
use notify_fd::Debouncer;
use notify_fd::inotify::{EventMask, PathEvent, RecursiveWatcher};

const LIMIT: Duration = Duration::from_secs(10);

fn debouncer(root: &Path, settle: Duration) -> Debouncer {
    let mask = EventMask::CREATE
        | EventMask::MODIFY
        | EventMask::CLOSE_WRITE
        | EventMask::DELETE
        | EventMask::MOVE;
    Debouncer::new(RecursiveWatcher::new(root, mask).unwrap(), settle).unwrap()
}

/// One line per event, relative to `root`.
fn lines(root: &Path, events: &[PathEvent]) -> Vec<String> {
    let rel = |p: &Path| p.strip_prefix(root).unwrap().display().to_string();
    events
        .iter()
        .map(|e| match e {
            PathEvent::Event { path, mask, .. } => format!("{mask} {}", rel(path)),
            PathEvent::Renamed { from, to, .. } => format!("renamed {} -> {}", rel(from), rel(to)),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Reads with a plain poll loop on the debouncer's fd until `n` events
/// came (bounded).
fn poll_for(d: &Debouncer, n: usize) -> Vec<PathEvent> {
    use rustix::event::{PollFd, PollFlags, poll};
    let start = Instant::now();
    let mut got = Vec::new();
    while got.len() < n {
        assert!(start.elapsed() < LIMIT, "only {got:?}");
        let mut fds = [PollFd::new(d, PollFlags::IN)];
        let ts = rustix::time::Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        if poll(&mut fds, Some(&ts)).unwrap() > 0 {
            d.read_events(&mut got).unwrap();
        }
    }
    got
}

pub(crate) fn bursts_settle_into_one_event() {
    let root = TempDir::new("debounce");
    let settle = Duration::from_millis(300);
    let d = debouncer(root.path(), settle);
    d.set_nonblocking(true).unwrap();
    let began = Instant::now();
    {
        use std::io::Write;
        let mut f = std::fs::File::create(root.join("log")).unwrap();
        for i in 0..200 {
            writeln!(f, "line {i}").unwrap();
        }
    }
    std::fs::write(root.join("tmp"), b"x").unwrap();
    std::fs::remove_file(root.join("tmp")).unwrap();
    std::fs::write(root.join("a"), b"x").unwrap();
    std::fs::rename(root.join("a"), root.join("b")).unwrap();
    std::fs::create_dir_all(root.join("d/e")).unwrap();
    std::fs::write(root.join("d/e/f"), b"x").unwrap();
    assert!(d.watcher().sync(LIMIT).unwrap());
    // Nothing has settled yet (unless this machine stalled for longer).
    let mut early = Vec::new();
    let taken = d.read_events(&mut early);
    if began.elapsed() < settle {
        assert!(
            matches!(taken, Err(ref e) if e.kind() == fd_core::ErrorKind::WouldBlock),
            "handed out before settling: {early:?}"
        );
    }
    let mut got = early;
    got.extend(poll_for(&d, 5usize.saturating_sub(got.len())));
    let mut shown = lines(root.path(), &got);
    shown.sort();
    assert_eq!(
        shown,
        [
            // Scanned: made and written before its directory's watch.
            "close_write|create d/e/f",
            "create|isdir d",
            "create|isdir d/e",
            // Made, written and renamed: made at its last name.
            "modify|close_write|create b",
            // 200 writes: one event.
            "modify|close_write|create log",
            // tmp, made and removed: nothing.
        ]
        .map(String::from)
        .to_vec(),
        "{got:#?}"
    );
}

/// As a `Stream` on async-io (feature `async`): settled events come
/// through `next()`, woken by the debouncer's timer.
#[cfg(feature = "async")]
pub(crate) fn async_debouncer() {
    use futures_lite::{StreamExt, future};
    use notify_fd::AsyncDebouncer;
    let root = TempDir::new("async-debounce");
    let d = AsyncDebouncer::new(debouncer(root.path(), Duration::from_millis(100))).unwrap();
    let got = future::block_on(async {
        for _ in 0..50 {
            std::fs::write(root.join("f"), b"again").unwrap();
        }
        // Bounded by the harness, which kills a test child that hangs.
        let mut stream = &d;
        stream.next().await.unwrap().unwrap()
    });
    assert_eq!(
        got,
        PathEvent::Event {
            path: root.join("f"),
            mask: EventMask::CREATE | EventMask::MODIFY | EventMask::CLOSE_WRITE,
            from_scan: false
        }
    );
}

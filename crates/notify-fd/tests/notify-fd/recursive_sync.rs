//! `RecursiveWatcher::sync`: once it returns, every change made before it
//! is in the watcher's queue, with no stopped reader and no guessing; the
//! sync file is never reported and never left behind.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use butter_tests::TempDir;
use fd_core::{ErrorKind, EventSource};
use notify_fd::PathFilter;
use notify_fd::inotify::{EventMask, PathEvent, RecursiveOptions, RecursiveWatcher};

const LIMIT: Duration = Duration::from_secs(10);

/// What is in the queue now, taken without waiting.
fn queued_now(w: &RecursiveWatcher) -> Vec<PathEvent> {
    let mut out = Vec::new();
    loop {
        match w.try_read_event() {
            Ok(Some(e)) => out.push(e),
            Ok(None) => return out,
            Err(e) => panic!("try_read_event: {e}"),
        }
    }
}

fn created(root: &Path, events: &[PathEvent]) -> Vec<String> {
    let mut out: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            PathEvent::Event { path, mask, .. } if mask.contains(EventMask::CREATE) => {
                Some(path.strip_prefix(root).unwrap().display().to_string())
            }
            _ => None,
        })
        .collect();
    out.sort();
    out
}

fn no_sync_file(root: &Path, events: &[PathEvent]) {
    let shown = format!("{events:?}");
    assert!(
        !shown.contains(".butter-sync"),
        "sync file reported: {shown}"
    );
    let left: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".butter-sync"))
        .collect();
    assert!(left.is_empty(), "sync file left behind: {left:?}");
}

pub(crate) fn everything_before_is_queued() {
    let root = TempDir::new("sync");
    let w = RecursiveWatcher::new(
        root.path(),
        EventMask::CREATE | EventMask::CLOSE_WRITE | EventMask::DELETE | EventMask::OPEN,
    )
    .unwrap();
    let mut want = Vec::new();
    for round in 0..20 {
        // Each round: a new tree (its scan), files in it, and nothing read
        // in between but what `sync` reads.
        let top = format!("r{round}");
        std::fs::create_dir_all(root.join(&top).join("a/b")).unwrap();
        std::fs::write(root.join(&top).join("a/b/f"), b"x").unwrap();
        std::fs::write(root.join(format!("{top}.txt")), b"x").unwrap();
        assert!(w.sync(LIMIT).unwrap(), "sync timed out in round {round}");
        let got = queued_now(&w);
        no_sync_file(root.path(), &got);
        want.clear();
        want.extend([
            top.clone(),
            format!("{top}.txt"),
            format!("{top}/a"),
            format!("{top}/a/b"),
            format!("{top}/a/b/f"),
        ]);
        want.sort();
        assert_eq!(created(root.path(), &got), want, "round {round}: {got:#?}");
    }
    // Filters do not see it: an include glob it would not match changes
    // nothing, and nor does one that would.
    for glob in ["*.rs", ".butter-sync*"] {
        let mut filter = PathFilter::new();
        filter.include(glob).unwrap();
        let options = RecursiveOptions {
            filter,
            ..RecursiveOptions::default()
        };
        let w =
            RecursiveWatcher::with_options(root.path(), EventMask::ALL_EVENTS, options).unwrap();
        std::fs::write(root.join("x.rs"), b"").unwrap();
        assert!(w.sync(LIMIT).unwrap());
        let got = queued_now(&w);
        no_sync_file(root.path(), &got);
        if glob == "*.rs" {
            assert_eq!(created(root.path(), &got), ["x.rs"], "{got:#?}");
        } else {
            assert_eq!(created(root.path(), &got), Vec::<String>::new(), "{got:#?}");
        }
        std::fs::remove_file(root.join("x.rs")).unwrap();
    }
}

/// A second thread reads the same watcher the whole time: `sync` still
/// returns, and between the two of them every event was handed out.
pub(crate) fn beside_another_reader() {
    let root = TempDir::new("sync-two");
    let w = RecursiveWatcher::new(root.path(), EventMask::CREATE).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut got = Vec::new();
            while !stop.load(Ordering::Acquire) {
                if let Some(e) = w.read_event_timeout(Duration::from_millis(50)).unwrap() {
                    got.push(e);
                }
            }
            got
        });
        let mut synced = Vec::new();
        for i in 0..50 {
            std::fs::create_dir(root.join(format!("d{i}"))).unwrap();
            std::fs::write(root.join(format!("d{i}/f")), b"").unwrap();
            let start = Instant::now();
            assert!(w.sync(LIMIT).unwrap(), "sync {i} timed out");
            assert!(start.elapsed() < LIMIT);
            synced.extend(queued_now(&w));
        }
        stop.store(true, Ordering::Release);
        let mut all = reader.join().unwrap();
        all.extend(synced);
        all.extend(queued_now(&w));
        no_sync_file(root.path(), &all);
        let mut want: Vec<String> = (0..50)
            .flat_map(|i| [format!("d{i}"), format!("d{i}/f")])
            .collect();
        want.sort();
        assert_eq!(created(root.path(), &all), want);
    });
}

/// Overflow the queue with the reader stopped: `sync` returns (its file's
/// events may be among the lost), with the overflow reported.
pub(crate) fn after_an_overflow() {
    let root = TempDir::new("sync-overflow");
    // OPEN and CLOSE_NOWRITE alternate, so the kernel merges none.
    let w = RecursiveWatcher::new(root.path(), EventMask::OPEN | EventMask::CLOSE_NOWRITE).unwrap();
    let f = root.join("f");
    std::fs::write(&f, b"").unwrap();
    let max = fd_core::probe::read_proc_u64("/proc/sys/fs/inotify/max_queued_events").unwrap();
    for _ in 0..=max / 2 {
        drop(std::fs::File::open(&f).unwrap());
    }
    assert!(w.sync(LIMIT).unwrap());
    let got = queued_now(&w);
    assert!(
        got.contains(&PathEvent::RescanNeeded),
        "no overflow in {} events",
        got.len()
    );
    no_sync_file(root.path(), &got);
    // (That looked at the root: its OPEN and CLOSE_NOWRITE are in the way.)
    assert!(w.sync(LIMIT).unwrap());
    queued_now(&w);
    // And the next one is exact again.
    std::fs::create_dir(root.join("after")).unwrap();
    drop(std::fs::File::open(&f).unwrap());
    assert!(w.sync(LIMIT).unwrap());
    let got = queued_now(&w);
    let event = |mask| PathEvent::Event {
        path: f.clone(),
        mask,
        from_scan: false,
    };
    assert_eq!(
        got,
        [event(EventMask::OPEN), event(EventMask::CLOSE_NOWRITE)]
    );
}

/// No root can take the file: an error naming the root, nothing queued.
pub(crate) fn no_root_takes_the_file() {
    let top = TempDir::new("sync-gone");
    let root = top.join("root");
    std::fs::create_dir(&root).unwrap();
    let w = RecursiveWatcher::new(&root, EventMask::CREATE).unwrap();
    std::fs::remove_dir(&root).unwrap();
    let e = w.sync(LIMIT).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains(&*root.to_string_lossy()), "{e}");
    // A second root that can take it answers for both.
    let other = top.join("other");
    std::fs::create_dir(&other).unwrap();
    w.add_root(&other).unwrap();
    std::fs::write(other.join("f"), b"").unwrap();
    assert!(w.sync(LIMIT).unwrap());
    let got = queued_now(&w);
    assert!(
        got.iter()
            .any(|e| matches!(e, PathEvent::Event { path, .. } if path == &other.join("f"))),
        "{got:#?}"
    );
    no_sync_file(&other, &got);
}

//! The recursive watcher where races live: every workload runs while the
//! watcher does not read, so the kernel hands it everything in one batch,
//! or with a reader running at the same time; renames, deletes and
//! re-creations mid-way; queues overflowed on purpose.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use butter_tests::{TempDir, drain, skip};
use fd_core::EventSource;
use notify_fd::inotify::{EventMask, PathEvent, RecursiveOptions, RecursiveWatcher};

use crate::LIMIT;

/// How often each (path, event name) was reported, scanned or not.
fn counts(events: &[PathEvent]) -> BTreeMap<(PathBuf, String), usize> {
    let mut out = BTreeMap::new();
    for e in events {
        let key = match e {
            PathEvent::Event { path, mask, .. } => {
                (path.clone(), (*mask - EventMask::ISDIR).to_string())
            }
            PathEvent::Renamed { to, .. } => (to.clone(), "renamed_to".into()),
            PathEvent::MovedIn { path, .. } => (path.clone(), "moved_in".into()),
            PathEvent::MovedOut { path, .. } => (path.clone(), "moved_out".into()),
            PathEvent::RescanNeeded => (PathBuf::new(), "rescan".into()),
            PathEvent::NotWatched { path, .. } => (path.clone(), "not_watched".into()),
            other => (PathBuf::new(), format!("{other:?}")),
        };
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

fn created(events: &[PathEvent], path: &Path) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, PathEvent::Event { path: p, mask, .. } if p == path && mask.contains(EventMask::CREATE)))
        .count()
}

/// 20 directories created and renamed before the watcher saw the create:
/// each is watched under its new name, so what is made in it later is
/// reported (inotifywait -r: 20 of 20; the old watcher lost most).
pub(crate) fn created_then_renamed_before_handled() {
    let root = TempDir::new("race-create-rename");
    let watcher = RecursiveWatcher::new(root.path(), EventMask::CREATE | EventMask::MOVE).unwrap();
    for i in 0..20 {
        std::fs::create_dir(root.join(format!("d{i}"))).unwrap();
        std::fs::rename(root.join(format!("d{i}")), root.join(format!("e{i}"))).unwrap();
    }
    let first = drain(&watcher);
    for i in 0..20 {
        assert!(
            first.contains(&PathEvent::Renamed {
                from: root.join(format!("d{i}")),
                to: root.join(format!("e{i}")),
                is_dir: true
            }),
            "{first:?}"
        );
        std::fs::write(root.join(format!("e{i}/file")), b"").unwrap();
        std::fs::create_dir(root.join(format!("e{i}/sub"))).unwrap();
        std::fs::write(root.join(format!("e{i}/sub/deeper")), b"").unwrap();
    }
    let later = drain(&watcher);
    for i in 0..20 {
        for rel in ["file", "sub", "sub/deeper"] {
            let p = root.join(format!("e{i}/{rel}"));
            assert_eq!(created(&later, &p), 1, "{p:?} in {later:?}");
        }
    }
    assert_eq!(watcher.watched_dirs(), 41, "{:?}", watcher.watched_paths());
}

/// A watched directory moved out and a new one made under the same name at
/// once: the new one keeps its watch (the old watcher dropped it).
pub(crate) fn moved_out_and_recreated() {
    let root = TempDir::new("race-recreate");
    let outside = TempDir::new("race-recreate-out");
    for i in 0..20 {
        std::fs::create_dir(root.join(format!("x{i}"))).unwrap();
    }
    let watcher = RecursiveWatcher::new(root.path(), EventMask::CREATE | EventMask::MOVE).unwrap();
    assert_eq!(watcher.watched_dirs(), 21);
    for i in 0..20 {
        std::fs::rename(root.join(format!("x{i}")), outside.join(format!("x{i}"))).unwrap();
        std::fs::create_dir(root.join(format!("x{i}"))).unwrap();
    }
    let first = drain(&watcher);
    for i in 0..20 {
        std::fs::write(root.join(format!("x{i}/later")), b"").unwrap();
        // The moved-out one is not ours any more.
        std::fs::write(outside.join(format!("x{i}/outside")), b"").unwrap();
    }
    let later = drain(&watcher);
    for i in 0..20 {
        assert_eq!(
            created(&later, &root.join(format!("x{i}/later"))),
            1,
            "{later:?}"
        );
    }
    assert!(
        !later.iter().any(|e| format!("{e:?}").contains("outside")),
        "{later:?}"
    );
    assert_eq!(watcher.watched_dirs(), 21, "{first:?}");
}

/// A reader that fell behind sees the kernel's order: `moved_out x`
/// before the `create x` that followed it.
pub(crate) fn kernel_order_for_a_stopped_reader() {
    let root = TempDir::new("race-order");
    let outside = TempDir::new("race-order-out");
    std::fs::write(root.join("x"), b"").unwrap();
    let watcher = RecursiveWatcher::new(root.path(), EventMask::CREATE | EventMask::MOVE).unwrap();
    std::fs::rename(root.join("x"), outside.join("x")).unwrap();
    std::fs::write(root.join("x"), b"").unwrap();
    std::fs::write(root.join("y"), b"").unwrap();
    let got = drain(&watcher);
    assert_eq!(
        got,
        vec![
            PathEvent::MovedOut {
                path: root.join("x"),
                is_dir: false
            },
            PathEvent::Event {
                path: root.join("x"),
                mask: EventMask::CREATE,
                from_scan: false
            },
            PathEvent::Event {
                path: root.join("y"),
                mask: EventMask::CREATE,
                from_scan: false
            },
        ]
    );
}

/// Each event carries the path its directory had when it was queued, and
/// no path gains a trailing slash through a rename.
pub(crate) fn paths_follow_renames_in_order() {
    let root = TempDir::new("race-paths");
    std::fs::create_dir_all(root.join("d1/inner")).unwrap();
    let watcher = RecursiveWatcher::new(root.path(), EventMask::CREATE | EventMask::MOVE).unwrap();
    std::fs::write(root.join("d1/a"), b"").unwrap();
    std::fs::rename(root.join("d1"), root.join("d2")).unwrap();
    std::fs::write(root.join("d2/b"), b"").unwrap();
    std::fs::write(root.join("d2/inner/c"), b"").unwrap();
    let got = drain(&watcher);
    let shown: Vec<String> = got
        .iter()
        .map(|e| match e {
            PathEvent::Event { path, .. } => path
                .strip_prefix(root.path())
                .unwrap()
                .display()
                .to_string(),
            PathEvent::Renamed { from, to, .. } => format!(
                "{} -> {}",
                from.strip_prefix(root.path()).unwrap().display(),
                to.strip_prefix(root.path()).unwrap().display()
            ),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(shown, ["d1/a", "d1 -> d2", "d2/b", "d2/inner/c"]);
    assert!(
        watcher
            .watched_paths()
            .iter()
            .all(|p| !p.as_os_str().to_string_lossy().ends_with('/')),
        "{:?}",
        watcher.watched_paths()
    );
}

/// Starting on a large tree with every event asked for: the watcher's own
/// listing makes no events and cannot overflow the queue (it did, with 16k
/// events from 10,000 directories).
pub(crate) fn startup_on_a_large_tree_is_quiet() {
    let root = TempDir::new("race-large");
    let limit =
        fd_core::probe::read_proc_u64("/proc/sys/fs/inotify/max_user_watches").unwrap_or(8192);
    let want = 10_000u64.min(limit.saturating_sub(100));
    if want < 6_000 {
        skip(&format!(
            "max_user_watches is {limit}: too few watches for a tree larger than the event queue"
        ));
    }
    let side = want.isqrt();
    for a in 0..side {
        for b in 0..side {
            std::fs::create_dir_all(root.join(format!("{a}/{b}"))).unwrap();
        }
    }
    let watcher = RecursiveWatcher::new(root.path(), EventMask::ALL_EVENTS).unwrap();
    assert_eq!(watcher.watched_dirs() as u64, 1 + side + side * side);
    let got = drain(&watcher);
    assert!(
        got.is_empty(),
        "{} events from our own listing: {:?}",
        got.len(),
        &got[..got.len().min(5)]
    );
    // And it watches for everything now.
    std::fs::write(root.join("0/0/f"), b"x").unwrap();
    let got = drain(&watcher);
    let names: Vec<String> = counts(&got).into_keys().map(|(_, m)| m).collect();
    assert!(names.iter().any(|m| m.contains("close_write")), "{got:?}");
}

/// A directory created later, with every event asked for: one `create`,
/// none of the `open`/`access`/`close_nowrite` its listing causes.
pub(crate) fn own_listing_is_not_reported() {
    let root = TempDir::new("race-own");
    let watcher = RecursiveWatcher::new(root.path(), EventMask::ALL_EVENTS).unwrap();
    std::fs::create_dir_all(root.join("new/inner")).unwrap();
    std::fs::write(root.join("new/inner/f"), b"").unwrap();
    let got = drain(&watcher);
    let c = counts(&got);
    for rel in ["new", "new/inner", "new/inner/f"] {
        assert_eq!(
            c.get(&(root.join(rel), "create".into())),
            Some(&1),
            "{rel}: {got:?}"
        );
    }
    assert!(
        !got.iter().any(|e| matches!(e, PathEvent::Event { mask, .. } if mask.intersects(EventMask::OPEN | EventMask::ACCESS | EventMask::CLOSE_NOWRITE))),
        "{got:?}"
    );
    // A real listing of the new directory later (`ls new`) is reported,
    // each event once: the kernel reports it on the directory's own watch
    // and on its parent's, under its name; one line per event.
    let _ = std::fs::read_dir(root.join("new")).unwrap().count();
    let got = drain(&watcher);
    let c = counts(&got);
    for event in ["open", "close_nowrite"] {
        assert_eq!(
            c.get(&(root.join("new"), event.into())),
            Some(&1),
            "{event}: {got:?}"
        );
    }
    // One ACCESS per getdents64 that read entries or the end (two here),
    // not two per call.
    let accesses = c.get(&(root.join("new"), "access".into())).copied();
    assert!(matches!(accesses, Some(1 | 2)), "{got:?}");
    // The root's own events have no parent watch to repeat them: kept.
    let _ = std::fs::read_dir(root.path()).unwrap().count();
    let c = counts(&drain(&watcher));
    assert_eq!(c.get(&(root.path().to_path_buf(), "open".into())), Some(&1));
}

/// Overflow with the reader stopped and a directory made meanwhile: the
/// watcher walks the tree again by itself, so what is made in the new
/// directory afterwards is reported.
pub(crate) fn overflow_rescans_by_itself() {
    let root = TempDir::new("race-overflow");
    std::fs::write(root.join("f"), b"").unwrap();
    // OPEN and CLOSE_NOWRITE alternate, so the kernel cannot merge them.
    let watcher = RecursiveWatcher::new(
        root.path(),
        EventMask::OPEN | EventMask::CLOSE_NOWRITE | EventMask::CREATE,
    )
    .unwrap();
    let max = fd_core::probe::read_proc_u64("/proc/sys/fs/inotify/max_queued_events").unwrap();
    for i in 0..=max {
        drop(std::fs::File::open(root.join("f")).unwrap());
        if i == max / 2 {
            std::fs::create_dir(root.join("during")).unwrap();
        }
    }
    let got = drain(&watcher);
    assert!(got.contains(&PathEvent::RescanNeeded), "no overflow seen");
    assert_eq!(watcher.watched_dirs(), 2, "{:?}", watcher.watched_paths());
    std::fs::write(root.join("during/after"), b"").unwrap();
    let got = drain(&watcher);
    assert_eq!(created(&got, &root.join("during/after")), 1, "{got:?}");
}

/// A root that is a symbolic link to a directory is followed (as
/// inotifywait does), under the path given.
pub(crate) fn symlink_root_is_followed() {
    let dir = TempDir::new("race-link");
    std::fs::create_dir(dir.join("real")).unwrap();
    std::os::unix::fs::symlink(dir.join("real"), dir.join("link")).unwrap();
    let watcher = RecursiveWatcher::new(dir.join("link"), EventMask::CREATE).unwrap();
    std::fs::create_dir(dir.join("real/sub")).unwrap();
    std::fs::write(dir.join("real/sub/f"), b"").unwrap();
    let got = drain(&watcher);
    assert_eq!(created(&got, &dir.join("link/sub")), 1, "{got:?}");
    assert_eq!(created(&got, &dir.join("link/sub/f")), 1, "{got:?}");
    // Links below the root are not followed.
    std::os::unix::fs::symlink(dir.join("real"), dir.join("real/loop")).unwrap();
    drain(&watcher);
    assert_eq!(watcher.watched_dirs(), 2);
}

/// What an upload directory wants: creations and finished files, with
/// scanned files checked for writers.
fn upload_watcher(root: &Path) -> RecursiveWatcher {
    let opts = RecursiveOptions {
        scanned_close_write: true,
        ..RecursiveOptions::default()
    };
    RecursiveWatcher::with_options(root, EventMask::CREATE | EventMask::CLOSE_WRITE, opts).unwrap()
}

/// `mkdir -p a/b/c` and a file written in it: every path created once and
/// the file complete once, with the reader stopped.
fn upload_tree_once(root: &Path, watcher: &RecursiveWatcher, tag: &str) -> Vec<PathEvent> {
    let top = root.join(tag);
    std::fs::create_dir_all(top.join("b/c")).unwrap();
    std::fs::write(top.join("b/c/file.txt"), b"payload").unwrap();
    drain(watcher)
}

fn assert_once(events: &[PathEvent], top: &Path) {
    let c = counts(events);
    for rel in ["", "b", "b/c", "b/c/file.txt"] {
        let p = if rel.is_empty() {
            top.to_path_buf()
        } else {
            top.join(rel)
        };
        assert_eq!(
            c.get(&(p.clone(), "create".into())),
            Some(&1),
            "{p:?}: {events:?}"
        );
    }
    assert_eq!(
        c.get(&(top.join("b/c/file.txt"), "close_write".into())),
        Some(&1),
        "{events:?}"
    );
    assert!(c.values().all(|n| *n == 1), "a duplicate: {events:?}");
}

/// Issue 14's tree with the reader stopped: once each.
pub(crate) fn each_creation_once_stopped_reader() {
    let root = TempDir::new("race-once");
    let watcher = upload_watcher(root.path());
    for i in 0..20 {
        let tag = format!("t{i}");
        let got = upload_tree_once(root.path(), &watcher, &tag);
        assert_once(&got, &root.join(&tag));
    }
}

/// The same with a reader running while the tree is made, 100 times: the
/// scan and the kernel both see entries; each is still reported once.
pub(crate) fn each_creation_once_live_reader() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let root = TempDir::new("race-once-live");
    let watcher = upload_watcher(root.path());
    let done = AtomicBool::new(false);
    let events = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut out = Vec::new();
            let start = std::time::Instant::now();
            loop {
                let finished = done.load(Ordering::Acquire);
                match watcher
                    .read_event_timeout(Duration::from_millis(5))
                    .unwrap()
                {
                    Some(e) => out.push(e),
                    None if finished => break,
                    None => assert!(start.elapsed() < LIMIT * 3, "reader gave up"),
                }
            }
            out.extend(drain(&watcher));
            out
        });
        for i in 0..100 {
            let top = root.join(format!("t{i}"));
            std::fs::create_dir_all(top.join("b/c")).unwrap();
            std::fs::write(top.join("b/c/file.txt"), b"payload").unwrap();
        }
        done.store(true, Ordering::Release);
        reader.join().unwrap()
    });
    for i in 0..100 {
        let top = root.join(format!("t{i}"));
        let mine: Vec<PathEvent> = events
            .iter()
            .filter(|e| matches!(e, PathEvent::Event { path, .. } if path.starts_with(&top)))
            .cloned()
            .collect();
        assert_once(&mine, &top);
    }
}

/// A file still open for writing when its directory is scanned: no
/// `close_write` from the scan (the kernel's comes when it is closed), and
/// exactly one in all.
pub(crate) fn scanned_file_still_being_written() {
    use std::io::Write;
    let root = TempDir::new("race-writer");
    let watcher = upload_watcher(root.path());
    std::fs::create_dir(root.join("d")).unwrap();
    let mut writer = std::fs::File::create(root.join("d/f")).unwrap();
    std::fs::write(root.join("d/done"), b"finished").unwrap();
    let got = drain(&watcher);
    let c = counts(&got);
    assert_eq!(
        c.get(&(root.join("d/f"), "create".into())),
        Some(&1),
        "{got:?}"
    );
    assert_eq!(
        c.get(&(root.join("d/f"), "close_write".into())),
        None,
        "reported complete while open: {got:?}"
    );
    assert!(
        got.contains(&PathEvent::Event {
            path: root.join("d/done"),
            mask: EventMask::CLOSE_WRITE,
            from_scan: true
        }),
        "{got:?}"
    );
    writer.write_all(b"more").unwrap();
    drop(writer);
    let got = drain(&watcher);
    assert_eq!(
        got,
        vec![PathEvent::Event {
            path: root.join("d/f"),
            mask: EventMask::CLOSE_WRITE,
            from_scan: false
        }]
    );
}

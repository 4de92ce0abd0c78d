//! The polling backend: the same workload beside the inotify backend, the
//! differences each listing finds, renames paired by inode, and the timer
//! that ticks without `sync`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use butter_tests::TempDir;
use fd_core::EventSource;
use notify_fd::inotify::{Backend, EventMask, PathEvent, RecursiveOptions, RecursiveWatcher};

const LIMIT: Duration = Duration::from_secs(10);
const MASK: EventMask = EventMask::CREATE
    .union(EventMask::DELETE)
    .union(EventMask::MODIFY)
    .union(EventMask::ATTRIB)
    .union(EventMask::MOVE);

fn watcher(root: &Path, backend: Backend, interval: Duration) -> RecursiveWatcher {
    let options = RecursiveOptions {
        backend,
        poll_interval: interval,
        wait_for_roots: true,
        ..RecursiveOptions::default()
    };
    RecursiveWatcher::with_options(root, MASK, options).unwrap()
}

fn lines(base: &Path, events: &[PathEvent]) -> Vec<String> {
    let rel = |p: &Path| p.strip_prefix(base).unwrap().display().to_string();
    events
        .iter()
        .map(|e| match e {
            PathEvent::Event { path, mask, .. } => format!("{mask} {}", rel(path)),
            PathEvent::Renamed { from, to, .. } => format!("renamed {} -> {}", rel(from), rel(to)),
            PathEvent::RootGone { path } => format!("root_gone {}", rel(path)),
            PathEvent::RootAppeared { path } => format!("root_appeared {}", rel(path)),
            other => format!("{other:?}"),
        })
        .collect()
}

fn synced(w: &RecursiveWatcher) -> Vec<PathEvent> {
    assert!(w.sync(LIMIT).unwrap());
    let mut out = Vec::new();
    while let Some(e) = w.try_read_event().unwrap() {
        out.push(e);
    }
    out
}

pub(crate) fn poll_reports_what_changed() {
    let tmp = TempDir::new("poll");
    let base = tmp.path();
    let root = base.join("root");
    std::fs::create_dir_all(root.join("dir/inner")).unwrap();
    std::fs::write(root.join("dir/inner/x"), b"1").unwrap();
    std::fs::write(root.join("edit"), b"1").unwrap();
    std::fs::write(root.join("old"), b"1").unwrap();
    std::fs::write(root.join("bye"), b"1").unwrap();
    std::fs::write(root.join("perm"), b"1").unwrap();
    // A long interval: only sync lists.
    let poll = watcher(&root, Backend::Poll, Duration::from_secs(3600));
    assert_eq!(poll.backend(), Backend::Poll);
    assert_eq!(poll.watched_dirs(), 3);
    let ino = watcher(&root, Backend::Inotify, Duration::from_secs(1));
    std::fs::create_dir_all(root.join("new/a")).unwrap();
    std::fs::write(root.join("new/a/f"), b"x").unwrap();
    std::fs::write(root.join("edit"), b"22").unwrap();
    std::fs::rename(root.join("old"), root.join("renamed")).unwrap();
    std::fs::rename(root.join("dir"), root.join("moved")).unwrap();
    std::fs::remove_file(root.join("bye")).unwrap();
    std::fs::set_permissions(root.join("perm"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let got = lines(base, &synced(&poll));
    assert_eq!(
        got,
        [
            "renamed root/dir -> root/moved",
            "renamed root/old -> root/renamed",
            "delete root/bye",
            "create|isdir root/new",
            "create|isdir root/new/a",
            "create root/new/a/f",
            "modify root/edit",
            "attrib root/perm",
        ],
        "{got:#?}"
    );
    // The inotify backend saw each of those too (and more: it sees every
    // step, where a listing sees only the difference).
    let theirs = lines(base, &synced(&ino));
    for line in &got {
        let seen = theirs
            .iter()
            .any(|t| t == line || t.replace("|isdir", "") == *line);
        assert!(seen, "inotify did not report {line:?}: {theirs:#?}");
    }
    // Nothing changed: nothing.
    assert_eq!(lines(base, &synced(&poll)), Vec::<String>::new());
    // The root goes and comes back.
    std::fs::remove_dir_all(&root).unwrap();
    assert_eq!(lines(base, &synced(&poll)), ["root_gone root"]);
    std::fs::create_dir_all(root.join("again")).unwrap();
    assert_eq!(
        lines(base, &synced(&poll)),
        ["root_appeared root", "create|isdir root/again"]
    );
}

/// Without `sync`: the timer ticks and a poll loop on the fd wakes.
pub(crate) fn poll_ticks_on_its_own() {
    let tmp = TempDir::new("poll-tick");
    let w = watcher(tmp.path(), Backend::Poll, Duration::from_millis(50));
    std::fs::write(tmp.join("f"), b"").unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    while got.is_empty() {
        assert!(start.elapsed() < LIMIT, "no tick");
        if w.wait_readable(Some(Duration::from_millis(200))).unwrap() {
            w.read_events(&mut got).unwrap();
        }
    }
    assert_eq!(lines(tmp.path(), &got), ["create f"]);
    // A zero interval is refused.
    let zero = RecursiveOptions {
        backend: Backend::Poll,
        poll_interval: Duration::ZERO,
        ..RecursiveOptions::default()
    };
    let e = RecursiveWatcher::with_options(tmp.path(), MASK, zero).unwrap_err();
    assert_eq!(e.kind(), fd_core::ErrorKind::InvalidInput);
}

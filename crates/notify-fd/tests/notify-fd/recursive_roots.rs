//! Roots that are not there yet, go away and come back, and are removed,
//! on both backends, each workload run while the watcher does not read.
//! An anchor root that is always there takes `sync`'s file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use butter_tests::{TempDir, private_tmpfs};
use fd_core::{ErrorKind, EventSource};
use notify_fd::inotify::{Backend, EventMask, PathEvent, RecursiveOptions, RecursiveWatcher};

const LIMIT: Duration = Duration::from_secs(10);
const MASK: EventMask = EventMask::CREATE
    .union(EventMask::CLOSE_WRITE)
    .union(EventMask::DELETE);

/// Scratch space: a private tmpfs for fanotify (it marks the whole
/// filesystem), a temporary directory for inotify.
fn scratch(backend: Backend) -> (Option<TempDir>, PathBuf) {
    match backend {
        Backend::Fanotify => (None, private_tmpfs().join("roots")),
        _ => {
            let t = TempDir::new("roots");
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

fn watcher(anchor: &Path, backend: Backend) -> RecursiveWatcher {
    let options = RecursiveOptions {
        backend,
        wait_for_roots: true,
        ..RecursiveOptions::default()
    };
    let w = RecursiveWatcher::with_options(anchor, MASK, options).unwrap();
    assert_eq!(w.backend(), backend);
    w
}

/// Everything up to now, one line per event relative to `base`.
fn synced(w: &RecursiveWatcher, base: &Path) -> Vec<String> {
    assert!(w.sync(LIMIT).unwrap(), "sync timed out");
    let rel = |p: &Path| p.strip_prefix(base).unwrap().display().to_string();
    let mut out = Vec::new();
    while let Some(e) = w.try_read_event().unwrap() {
        out.push(match e {
            PathEvent::Event {
                path,
                mask,
                from_scan,
            } => format!(
                "{mask}{} {}",
                if from_scan { " scanned" } else { "" },
                rel(&path)
            ),
            PathEvent::RootAppeared { path } => format!("root_appeared {}", rel(&path)),
            PathEvent::RootGone { path } => format!("root_gone {}", rel(&path)),
            other => format!("{other:?}"),
        });
    }
    out
}

fn roots_come_and_go(backend: Backend) {
    let (_keep, base) = scratch(backend);
    let anchor = base.join("anchor");
    std::fs::create_dir_all(&anchor).unwrap();
    let w = watcher(&anchor, backend);
    // Not there yet, three levels down.
    let root = base.join("a/b/root");
    w.add_root(&root).unwrap();
    assert_eq!(w.roots(), [anchor.clone(), root.clone()]);
    assert!(!w.watched_paths().contains(&root));
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/f"), b"x").unwrap();
    assert_eq!(
        synced(&w, &base),
        [
            "root_appeared a/b/root",
            "create|isdir scanned a/b/root/sub",
            "create scanned a/b/root/sub/f",
            "close_write scanned a/b/root/sub/f",
        ]
    );
    std::fs::write(root.join("g"), b"x").unwrap();
    assert_eq!(
        synced(&w, &base),
        ["create a/b/root/g", "close_write a/b/root/g"]
    );
    // Deleted and made again before the watcher looked.
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("h"), b"x").unwrap();
    let got = synced(&w, &base);
    let tail = [
        "root_gone a/b/root",
        "root_appeared a/b/root",
        "create scanned a/b/root/h",
        "close_write scanned a/b/root/h",
    ];
    assert!(got.ends_with(&tail.map(String::from)), "{got:#?}");
    for d in ["delete a/b/root/g", "delete a/b/root/sub/f"] {
        assert!(got.iter().any(|l| l == d), "no {d}: {got:#?}");
    }
    // Moved away: gone, and back when made again (a level above it too).
    std::fs::rename(base.join("a"), base.join("a.old")).unwrap();
    std::fs::write(base.join("a.old/b/root/late"), b"").unwrap();
    let got = synced(&w, &base);
    if backend == Backend::Inotify {
        // inotify sees no rename above a root: it follows the root.
        assert_eq!(got, ["create a/b/root/late", "close_write a/b/root/late"]);
        std::fs::rename(base.join("a.old/b/root"), base.join("moved")).unwrap();
        assert_eq!(synced(&w, &base), ["root_gone a/b/root"]);
    } else {
        assert_eq!(
            got,
            ["root_gone a/b/root"],
            "fanotify sees the rename above"
        );
    }
    std::fs::create_dir_all(root.join("x")).unwrap();
    assert_eq!(
        synced(&w, &base),
        ["root_appeared a/b/root", "create|isdir scanned a/b/root/x"]
    );
    // Removed: nothing more from it; the anchor goes on.
    w.remove_root(&root).unwrap();
    assert_eq!(w.roots(), std::slice::from_ref(&anchor));
    std::fs::write(root.join("after"), b"").unwrap();
    std::fs::write(anchor.join("after"), b"").unwrap();
    assert_eq!(
        synced(&w, &base),
        ["create anchor/after", "close_write anchor/after"]
    );
    let e = w.remove_root(&root).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains(&*root.to_string_lossy()), "{e}");
    // A waited-for root removed before it came.
    let never = base.join("never/here");
    w.add_root(&never).unwrap();
    w.remove_root(&never).unwrap();
    std::fs::create_dir_all(&never).unwrap();
    std::fs::write(never.join("f"), b"").unwrap();
    assert_eq!(synced(&w, &base), Vec::<String>::new());
    // Without the option a missing root is still an error naming it.
    let plain = RecursiveOptions {
        backend,
        ..RecursiveOptions::default()
    };
    let e = RecursiveWatcher::with_options(base.join("nope"), MASK, plain).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("nope"), "{e}");
}

pub(crate) fn inotify_roots_come_and_go() {
    roots_come_and_go(Backend::Inotify);
}

pub(crate) fn fanotify_roots_come_and_go() {
    roots_come_and_go(Backend::Fanotify);
}

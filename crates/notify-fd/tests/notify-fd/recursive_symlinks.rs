//! `RecursiveOptions::follow_symlinks`: links to directories below a root
//! are followed, loops are not, and links made, moved and removed later
//! keep the watches in step. Workloads run while the watcher does not
//! read; `sync` takes what they caused.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use butter_tests::TempDir;
use fd_core::{ErrorKind, EventSource};
use notify_fd::inotify::{Backend, EventMask, PathEvent, RecursiveOptions, RecursiveWatcher};

const LIMIT: Duration = Duration::from_secs(10);
const MASK: EventMask = EventMask::CREATE.union(EventMask::DELETE);

fn created(w: &RecursiveWatcher, base: &Path) -> Vec<String> {
    assert!(w.sync(LIMIT).unwrap());
    let mut out = Vec::new();
    while let Some(e) = w.try_read_event().unwrap() {
        if let PathEvent::Event { path, mask, .. } = e
            && mask.contains(EventMask::CREATE)
        {
            out.push(path.strip_prefix(base).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

fn watched(w: &RecursiveWatcher, base: &Path) -> Vec<String> {
    w.watched_paths()
        .iter()
        .map(|p| p.strip_prefix(base).unwrap().display().to_string())
        .collect()
}

pub(crate) fn links_are_followed_loops_are_not() {
    let tmp = TempDir::new("symlinks");
    let base = tmp.path();
    let root = base.join("root");
    std::fs::create_dir_all(root.join("real")).unwrap();
    std::fs::create_dir_all(base.join("outside/sub")).unwrap();
    std::fs::create_dir_all(base.join("other/deep")).unwrap();
    symlink("../outside", root.join("link")).unwrap();
    symlink(".", root.join("real/loop")).unwrap(); // back to real
    symlink("..", root.join("real/up")).unwrap(); // back to root
    // Not followed unless asked.
    let plain = RecursiveWatcher::new(&root, MASK).unwrap();
    assert_eq!(watched(&plain, base), ["root", "root/real"]);
    drop(plain);
    let options = RecursiveOptions {
        follow_symlinks: true,
        ..RecursiveOptions::default()
    };
    let w = RecursiveWatcher::with_options(&root, MASK, options.clone()).unwrap();
    assert_eq!(
        watched(&w, base),
        ["root", "root/link", "root/link/sub", "root/real"],
        "each directory once, loops not walked"
    );
    // Into what a link leads to: under the link's path.
    std::fs::write(base.join("outside/sub/f"), b"").unwrap();
    // A link made later: followed, and what it leads to scanned.
    symlink("../other", root.join("link2")).unwrap();
    std::fs::write(base.join("other/deep/g"), b"").unwrap();
    assert_eq!(
        created(&w, base),
        [
            "root/link/sub/f",
            "root/link2",
            "root/link2/deep",
            "root/link2/deep/g"
        ]
    );
    // Renamed: followed under the new name.
    std::fs::rename(root.join("link2"), root.join("link3")).unwrap();
    std::fs::write(base.join("other/h"), b"").unwrap();
    assert_eq!(created(&w, base), ["root/link3/h"]);
    // Removed: what it led to is watched no more; the directory is untouched.
    std::fs::remove_file(root.join("link")).unwrap();
    std::fs::write(base.join("outside/sub/after"), b"").unwrap();
    assert_eq!(created(&w, base), Vec::<String>::new());
    assert_eq!(
        watched(&w, base),
        ["root", "root/link3", "root/link3/deep", "root/real"]
    );
    assert!(base.join("outside/sub/after").exists());
    // The fanotify backend refuses, saying why; Auto takes inotify.
    let fan = RecursiveOptions {
        backend: Backend::Fanotify,
        ..options.clone()
    };
    match RecursiveWatcher::with_options(&root, MASK, fan) {
        Err(e) => assert!(
            e.kind() == ErrorKind::InvalidInput && e.to_string().contains("symbolic links")
                || e.kind() == ErrorKind::PermissionDenied,
            "{e}"
        ),
        Ok(_) => panic!("the fanotify backend took follow_symlinks"),
    }
    let auto = RecursiveOptions {
        backend: Backend::Auto,
        ..options
    };
    let w = RecursiveWatcher::with_options(&root, MASK, auto).unwrap();
    assert_eq!(w.backend(), Backend::Inotify);
}

//! The fanotify backend of `RecursiveWatcher` beside the inotify one: the
//! same workloads, run while neither reads, must give the same events
//! where both can see the change (root: filesystem marks; each on a tmpfs
//! of its own in a private mount namespace).

use std::path::Path;
use std::time::{Duration, Instant};

use butter_tests::private_tmpfs;
use fd_core::{ErrorKind, EventSource};
use notify_fd::PathFilter;
use notify_fd::inotify::{Backend, EventMask, PathEvent, RecursiveOptions, RecursiveWatcher};

const LIMIT: Duration = Duration::from_secs(10);

fn watcher(
    root: &Path,
    events: EventMask,
    backend: Backend,
    filter: PathFilter,
) -> RecursiveWatcher {
    let options = RecursiveOptions {
        backend,
        filter,
        ..RecursiveOptions::default()
    };
    let w = RecursiveWatcher::with_options(root, events, options).unwrap();
    assert_eq!(w.backend(), backend);
    w
}

/// Everything up to now, through `sync`.
fn synced(w: &RecursiveWatcher) -> Vec<PathEvent> {
    assert!(w.sync(LIMIT).unwrap(), "sync timed out");
    let mut out = Vec::new();
    while let Some(e) = w.try_read_event().unwrap() {
        out.push(e);
    }
    out
}

/// Each event as one line relative to `root`, `from_scan` left out (the
/// fanotify backend never needs a scan).
fn lines(root: &Path, events: &[PathEvent]) -> Vec<String> {
    let rel = |p: &Path| p.strip_prefix(root).unwrap().display().to_string();
    events
        .iter()
        .map(|e| match e {
            PathEvent::Event { path, mask, .. } => format!("{mask} {}", rel(path)),
            PathEvent::Renamed { from, to, is_dir } => {
                format!(
                    "renamed{} {} -> {}",
                    if *is_dir { "/" } else { "" },
                    rel(from),
                    rel(to)
                )
            }
            PathEvent::MovedOut { path, is_dir } => {
                format!("moved_out{} {}", if *is_dir { "/" } else { "" }, rel(path))
            }
            PathEvent::MovedIn { path, is_dir } => {
                format!("moved_in{} {}", if *is_dir { "/" } else { "" }, rel(path))
            }
            other => format!("{other:?}"),
        })
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

const MASK: EventMask = EventMask::CREATE
    .union(EventMask::DELETE)
    .union(EventMask::MOVE)
    .union(EventMask::CLOSE_WRITE);

/// One workload with both watchers stopped, then what each read.
fn both(root: &Path, filter: PathFilter, work: impl FnOnce()) -> (Vec<String>, Vec<String>) {
    let ino = watcher(root, MASK, Backend::Inotify, filter.clone());
    let fan = watcher(root, MASK, Backend::Fanotify, filter);
    work();
    (lines(root, &synced(&ino)), lines(root, &synced(&fan)))
}

pub(crate) fn same_events_as_inotify() {
    let tmp = private_tmpfs();
    let root = tmp.join("tree");
    let outside = tmp.join("outside");
    for d in ["old/x/y", "keep", "leaving/deep"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::create_dir_all(outside.join("arriving/inner")).unwrap();
    std::fs::write(outside.join("arriving/inner/f"), b"").unwrap();
    let (ino, fan) = both(&root, PathFilter::new(), || {
        let r = |p: &str| root.join(p);
        // Into a directory that existed before, and a new tree in one go.
        std::fs::write(r("keep/a.txt"), b"1").unwrap();
        std::fs::create_dir_all(r("new/b/c")).unwrap();
        std::fs::write(r("new/b/c/f"), b"2").unwrap();
        // Renames: a file, a directory, below a renamed directory.
        std::fs::rename(r("keep/a.txt"), r("keep/b.txt")).unwrap();
        std::fs::rename(r("old"), r("renamed")).unwrap();
        std::fs::write(r("renamed/x/y/g"), b"3").unwrap();
        // Out of the tree and into it.
        std::fs::rename(r("leaving"), tmp.join("left")).unwrap();
        std::fs::rename(outside.join("arriving"), r("arrived")).unwrap();
        std::fs::write(r("arrived/inner/h"), b"4").unwrap();
        // Nothing outside the tree is reported.
        std::fs::write(tmp.join("left/deep/z"), b"").unwrap();
        std::fs::write(tmp.join("elsewhere"), b"").unwrap();
    });
    // The inotify backend reports what a new directory held when scanned
    // and the kernel the rest; the order of those can differ, the set not.
    assert_eq!(
        sorted(fan.clone()),
        sorted(ino.clone()),
        "fanotify {fan:#?}\ninotify {ino:#?}"
    );
    for want in [
        "renamed/ old -> renamed",
        "close_write renamed/x/y/g",
        "create|isdir new/b/c",
        "close_write new/b/c/f",
        "create|isdir arrived/inner",
        "close_write arrived/inner/f",
        "moved_out/ leaving",
    ] {
        assert!(fan.iter().any(|l| l == want), "no {want:?} in {fan:#?}");
    }
    assert!(
        !fan.iter()
            .any(|l| l.contains("elsewhere") || l.contains("deep/z")),
        "{fan:#?}"
    );
    // Deleted, and made again under the same name; a tree removed.
    let (ino, fan) = both(&root, PathFilter::new(), || {
        std::fs::remove_file(root.join("keep/b.txt")).unwrap();
        std::fs::write(root.join("keep/b.txt"), b"5").unwrap();
        std::fs::remove_dir_all(root.join("new/b")).unwrap();
    });
    assert_eq!(fan, ino);
    assert_eq!(
        fan,
        [
            "delete keep/b.txt",
            "create keep/b.txt",
            "close_write keep/b.txt",
            "delete new/b/c/f",
            "delete|isdir new/b/c",
            "delete|isdir new/b",
        ]
    );
}

/// A pruned tree reports nothing on either backend; includes alike.
pub(crate) fn filters_alike() {
    let tmp = private_tmpfs();
    let root = tmp.join("tree");
    for d in ["src", "node_modules/x", ".git/objects"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let mut filter = PathFilter::new();
    filter
        .exclude("node_modules")
        .unwrap()
        .exclude(".git")
        .unwrap();
    filter.include("*.rs").unwrap().include("src").unwrap();
    let (ino, fan) = both(&root, filter, || {
        std::fs::write(root.join("src/a.rs"), b"").unwrap();
        std::fs::write(root.join("src/a.txt"), b"").unwrap();
        std::fs::write(root.join("node_modules/x/b.rs"), b"").unwrap();
        std::fs::write(root.join(".git/objects/c.rs"), b"").unwrap();
        std::fs::rename(root.join("src/a.rs"), root.join("node_modules/a.rs")).unwrap();
        std::fs::create_dir(root.join("node_modules/y")).unwrap();
        std::fs::write(root.join("node_modules/y/d.rs"), b"").unwrap();
    });
    assert_eq!(fan, ino);
    assert_eq!(
        fan,
        [
            "create src/a.rs",
            "close_write src/a.rs",
            "moved_out src/a.rs"
        ]
    );
}

/// Start-up does not grow with the tree: ready on 20,201 directories
/// with no watch at all, in a fraction of the inotify backend's time.
pub(crate) fn startup_needs_no_walk() {
    let tmp = private_tmpfs();
    let root = tmp.join("big");
    for i in 0..200 {
        for j in 0..100 {
            std::fs::create_dir_all(root.join(format!("{i}/{j}"))).unwrap();
        }
    }
    let start = Instant::now();
    let fan = watcher(&root, MASK, Backend::Fanotify, PathFilter::new());
    let fan_took = start.elapsed();
    let start = Instant::now();
    let ino = watcher(&root, MASK, Backend::Inotify, PathFilter::new());
    let ino_took = start.elapsed();
    assert_eq!(fan.watched_dirs(), 1);
    assert_eq!(ino.watched_dirs(), 20_201);
    eprintln!("start-up on 20,201 directories: fanotify {fan_took:?}, inotify {ino_took:?}");
    std::fs::write(root.join("199/99/f"), b"").unwrap();
    let got = lines(&root, &synced(&fan));
    assert_eq!(got, ["create 199/99/f", "close_write 199/99/f"]);
}

/// `Backend::Auto` takes fanotify as root; as a user without the
/// privilege, inotify, and says why not fanotify.
pub(crate) fn auto_picks_what_works() {
    let tmp = private_tmpfs();
    let root = tmp.join("tree");
    std::fs::create_dir(&root).unwrap();
    let options = RecursiveOptions {
        backend: Backend::Auto,
        ..RecursiveOptions::default()
    };
    let w = RecursiveWatcher::with_options(&root, MASK, options.clone()).unwrap();
    assert_eq!(w.backend(), Backend::Fanotify);
    assert!(w.fanotify_refused().is_none());
    drop(w);
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let code = butter_tests::fork_child(move || {
        butter_tests::become_nobody();
        let w = RecursiveWatcher::with_options(&root, MASK, options.clone()).unwrap();
        if w.backend() != Backend::Inotify {
            return 1;
        }
        let why = w
            .fanotify_refused()
            .map(ToString::to_string)
            .unwrap_or_default();
        if !why.contains("CAP_SYS_ADMIN") {
            eprintln!("refusal says: {why}");
            return 2;
        }
        // Asked for by name, it is an error that says the same.
        let fan = RecursiveOptions {
            backend: Backend::Fanotify,
            ..RecursiveOptions::default()
        };
        match RecursiveWatcher::with_options(&root, MASK, fan) {
            Err(e)
                if e.kind() == ErrorKind::PermissionDenied
                    && e.to_string().contains("CAP_SYS_ADMIN") =>
            {
                0
            }
            other => {
                eprintln!("fanotify as nobody: {other:?}");
                3
            }
        }
    });
    assert_eq!(butter_tests::exit_code(code), 0);
}

/// A root that is not a directory, or is not there: the same errors as
/// the inotify backend, naming the path.
pub(crate) fn fanotify_root_errors() {
    let tmp = private_tmpfs();
    std::fs::write(tmp.join("file"), b"").unwrap();
    for (path, kind) in [
        (tmp.join("file"), ErrorKind::InvalidInput),
        (tmp.join("missing"), ErrorKind::NotFound),
    ] {
        let options = RecursiveOptions {
            backend: Backend::Fanotify,
            ..RecursiveOptions::default()
        };
        let e = RecursiveWatcher::with_options(&path, MASK, options).unwrap_err();
        assert_eq!(e.kind(), kind, "{e}");
        assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
    }
}

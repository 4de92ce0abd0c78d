//! Pruning by glob: a left-out directory gets no watch at all, at start-up
//! and when it appears later; nothing under it is reported; a rename across
//! the boundary is reported as the side that is watched. Every workload
//! runs while the watcher does not read.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use butter_tests::{TempDir, drain};
use fd_core::EventSource;
use notify_fd::PathFilter;
use notify_fd::inotify::{EventMask, PathEvent, RecursiveOptions, RecursiveWatcher};

fn watcher(root: &Path, exclude: &[&str], include: &[&str]) -> RecursiveWatcher {
    let mut filter = PathFilter::new();
    for g in exclude {
        filter.exclude(g).unwrap();
    }
    for g in include {
        filter.include(g).unwrap();
    }
    let options = RecursiveOptions {
        filter,
        ..RecursiveOptions::default()
    };
    RecursiveWatcher::with_options(
        root,
        EventMask::CREATE | EventMask::MOVE | EventMask::DELETE,
        options,
    )
    .unwrap()
}

/// Reads until `marker` is reported created (bounded), then what is left.
fn until_created(w: &RecursiveWatcher, marker: &Path) -> Vec<PathEvent> {
    let start = Instant::now();
    let mut out = Vec::new();
    while !out
        .iter()
        .any(|e| matches!(e, PathEvent::Event { path, .. } if path == marker))
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no {marker:?} in {out:#?}"
        );
        if w.wait_readable(Some(Duration::from_millis(100))).unwrap() {
            w.read_events(&mut out).unwrap();
        }
    }
    out.extend(drain(w));
    out
}

/// Each event as (kind, path relative to the root).
fn shown(root: &Path, events: &[PathEvent]) -> Vec<(String, String)> {
    let rel = |p: &PathBuf| p.strip_prefix(root).unwrap().display().to_string();
    events
        .iter()
        .map(|e| match e {
            PathEvent::Event {
                path,
                mask,
                from_scan,
            } => (
                format!("{mask}{}", if *from_scan { " scanned" } else { "" }),
                rel(path),
            ),
            PathEvent::Renamed { from, to, .. } => {
                ("renamed".into(), format!("{} -> {}", rel(from), rel(to)))
            }
            PathEvent::MovedOut { path, .. } => ("moved_out".into(), rel(path)),
            PathEvent::MovedIn { path, .. } => ("moved_in".into(), rel(path)),
            other => (format!("{other:?}"), String::new()),
        })
        .collect()
}

fn mkdirs(root: &Path, dirs: &[&str]) {
    for d in dirs {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
}

pub(crate) fn excluded_trees_get_no_watch() {
    let root = TempDir::new("filter-prune");
    mkdirs(
        root.path(),
        &[
            "src",
            "node_modules/x/y/z",
            ".git/objects/ab",
            "target/debug/deps",
            "docs/node_modules",
        ],
    );
    std::fs::write(root.join("src/a.rs"), b"").unwrap();
    let w = watcher(root.path(), &["node_modules", ".git", "/target"], &[]);
    let watched = |w: &RecursiveWatcher| -> Vec<String> {
        w.watched_paths()
            .iter()
            .map(|p| p.strip_prefix(root.path()).unwrap().display().to_string())
            .collect()
    };
    // Not one watch under what is left out.
    assert_eq!(watched(&w), ["", "docs", "src"]);
    // With the reader stopped: into, out of and across the boundary.
    std::fs::write(root.join("node_modules/new.js"), b"").unwrap();
    std::fs::write(root.join("src/b.rs"), b"").unwrap();
    mkdirs(root.path(), &["pkg/node_modules/q"]);
    std::fs::rename(root.join("src/b.rs"), root.join("target/b.rs")).unwrap();
    std::fs::rename(root.join("node_modules/x"), root.join("lib")).unwrap();
    std::fs::rename(root.join("src/a.rs"), root.join("src/c.rs")).unwrap();
    std::fs::create_dir(root.join("src/target")).unwrap(); // "/target" is the root's only
    std::fs::write(root.join("done"), b"").unwrap();
    let events = until_created(&w, &root.join("done"));
    let want: Vec<(String, String)> = [
        ("create", "src/b.rs"),
        ("create|isdir", "pkg"),
        ("moved_out", "src/b.rs"),
        ("moved_in", "lib"),
        ("create|isdir scanned", "lib/y"),
        ("create|isdir scanned", "lib/y/z"),
        ("renamed", "src/a.rs -> src/c.rs"),
        ("create|isdir", "src/target"),
        ("create", "done"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(shown(root.path(), &events), want);
    assert_eq!(
        watched(&w),
        [
            "",
            "docs",
            "lib",
            "lib/y",
            "lib/y/z",
            "pkg",
            "src",
            "src/target"
        ]
    );
}

pub(crate) fn include_reports_only_what_matches() {
    let root = TempDir::new("filter-include");
    mkdirs(root.path(), &["src", "target"]);
    let w = watcher(root.path(), &["target"], &["*.rs", "done"]);
    std::fs::write(root.join("src/lib.rs"), b"").unwrap();
    std::fs::write(root.join("src/notes.md"), b"").unwrap();
    std::fs::write(root.join("target/gen.rs"), b"").unwrap();
    mkdirs(root.path(), &["src/deep/er"]);
    std::fs::write(root.join("src/deep/er/x.rs"), b"").unwrap();
    std::fs::rename(root.join("src/notes.md"), root.join("src/notes.rs")).unwrap();
    std::fs::write(root.join("done"), b"").unwrap();
    let events = until_created(&w, &root.join("done"));
    let got = shown(root.path(), &events);
    let paths: Vec<&str> = got.iter().map(|(_, p)| p.as_str()).collect();
    // A directory is watched (to find matches below it) but not reported;
    // a rename from a left-out name to a kept one is its kept side. A
    // file made in a new directory before its watch shows as scanned.
    assert_eq!(
        paths,
        ["src/lib.rs", "src/deep/er/x.rs", "src/notes.rs", "done"],
        "{got:#?}"
    );
    assert_eq!(got[2].0, "moved_in", "{got:#?}");
}

/// A glob that does not parse is refused before a watch exists.
pub(crate) fn bad_globs_are_refused() {
    let mut f = PathFilter::new();
    let e = f.exclude("src/[a").unwrap_err();
    assert_eq!(e.kind(), fd_core::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("src/[a"), "{e}");
}

//! Tree-watcher rows: how long a recursive watch of 10k and 100k
//! directories takes to be ready, and the memory it costs, for our inotify
//! and fanotify backends beside inotifywait and the notify crate; and
//! events per second through each backend.
//!
//! Every start-up is a process of its own (this binary with
//! `--tree-child`, or inotifywait), timed from spawn to its "ready" line,
//! so each pays the same exec and none inherits another's heap. Memory is
//! the process's resident set once ready, less what the same program has
//! on an empty directory: what the tree costs it (the kernel's own memory
//! per inotify watch is not counted, for any of them).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Plan, Row, median};

/// A tree of `top × 100` directories under a scratch directory on tmpfs
/// (`/dev/shm` where there is one), removed on drop.
struct Tree {
    dir: PathBuf,
    root: PathBuf,
    empty: PathBuf,
    dirs: usize,
}

impl Tree {
    fn new(tag: &str, top: usize) -> Tree {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("butter-bench-tree-{tag}-{}", std::process::id()));
        let root = dir.join("root");
        let empty = dir.join("empty");
        std::fs::create_dir_all(&empty).expect("scratch dir");
        for i in 0..top {
            for j in 0..100 {
                std::fs::create_dir_all(root.join(format!("{i}/{j}"))).expect("tree");
            }
        }
        Tree {
            dir,
            root,
            empty,
            dirs: 1 + top * 101,
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `VmRSS` of a process, in KiB.
fn rss_kib(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(f64::NAN)
}

/// The child: watches `dir` with `how`, prints `ready`, and waits for
/// its stdin to close.
pub(crate) fn child(how: &str, dir: &str) -> std::process::ExitCode {
    use butter::notify::inotify::{Backend, EventMask, RecursiveOptions, RecursiveWatcher};
    let mask = EventMask::CREATE | EventMask::DELETE | EventMask::MOVE | EventMask::CLOSE_WRITE;
    let hold: Box<dyn std::any::Any> = match how {
        "inotify" | "fanotify" => {
            let backend = if how == "fanotify" {
                Backend::Fanotify
            } else {
                Backend::Inotify
            };
            let options = RecursiveOptions {
                backend,
                // As inotifywait and notify: no leases taken on files.
                scanned_close_write: false,
                ..RecursiveOptions::default()
            };
            match RecursiveWatcher::with_options(dir, mask, options) {
                Ok(w) => Box::new(w),
                Err(e) => {
                    eprintln!("tree child: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            }
        }
        _ => {
            use notify::Watcher;
            let mut w = notify::recommended_watcher(|_: notify::Result<notify::Event>| {})
                .expect("notify watcher");
            w.watch(Path::new(dir), notify::RecursiveMode::Recursive)
                .expect("notify watch");
            Box::new(w)
        }
    };
    println!("ready");
    let _ = std::io::stdout().flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(hold);
    std::process::ExitCode::SUCCESS
}

/// One start-up: seconds from spawn to ready, and KiB resident then.
fn start_once(variant: &str, dir: &Path) -> Option<(f64, f64)> {
    let mut cmd = if variant == "inotifywait" {
        let mut c = Command::new("inotifywait");
        c.args(["-m", "-r", "-e", "create,delete,move,close_write"])
            .arg(dir);
        c
    } else {
        let mut c = Command::new(std::env::current_exe().ok()?);
        c.args(["--tree-child", variant]).arg(dir);
        c
    };
    let started = Instant::now();
    let mut child: Child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    // inotifywait says it on stderr, the child on stdout.
    let reader: Box<dyn Read + Send> = if variant == "inotifywait" {
        Box::new(child.stderr.take()?)
    } else {
        Box::new(child.stdout.take()?)
    };
    let mut lines = BufReader::new(reader);
    let mut line = String::new();
    let ready = loop {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) | Err(_) => break false,
            Ok(_) if line.contains("ready") || line.contains("Watches established") => break true,
            Ok(_) => {}
        }
    };
    let took = started.elapsed().as_secs_f64();
    let rss = rss_kib(&child.id().to_string());
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    ready.then_some((took, rss))
}

/// Median start-up seconds and tree memory (KiB) of `variant` on `tree`,
/// over `rounds`, or `None` where it cannot run here.
fn measure(variant: &str, tree: &Tree, rounds: usize) -> Option<(f64, f64)> {
    let (_, base) = start_once(variant, &tree.empty)?;
    start_once(variant, &tree.root)?; // warm-up: the dentry cache
    let (mut times, mut mems) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (t, rss) = start_once(variant, &tree.root)?;
        times.push(t);
        mems.push(rss - base);
    }
    Some((median(&mut times), median(&mut mems)))
}

/// Events per second through `backend`: `files` files made, one per
/// directory of a 1000-directory tree in turn, by another thread while
/// this one reads; timed until the last is read.
fn events_per_second(backend: butter::notify::inotify::Backend, files: usize) -> Option<f64> {
    use butter::EventSource;
    use butter::notify::inotify::{EventMask, PathEvent, RecursiveOptions, RecursiveWatcher};
    let tree = Tree::new(&format!("rate-{backend}"), 10);
    let options = RecursiveOptions {
        backend,
        scanned_close_write: false,
        ..RecursiveOptions::default()
    };
    let w = RecursiveWatcher::with_options(&tree.root, EventMask::CREATE, options).ok()?;
    let dirs: Vec<PathBuf> = (0..10)
        .flat_map(|i| (0..100).map(move |j| (i, j)))
        .map(|(i, j)| tree.root.join(format!("{i}/{j}")))
        .collect();
    let start = Instant::now();
    let mut seen = 0;
    std::thread::scope(|s| {
        s.spawn(|| {
            for n in 0..files {
                let _ = std::fs::File::create(dirs[n % dirs.len()].join(format!("f{n}")));
            }
        });
        let mut events = Vec::new();
        while seen < files && start.elapsed() < Duration::from_secs(60) {
            events.clear();
            if w.wait_readable(Some(Duration::from_millis(100)))
                .unwrap_or(false)
            {
                let _ = w.read_events(&mut events);
            }
            seen += events
                .iter()
                .filter(|e| matches!(e, PathEvent::Event { mask, .. } if mask.contains(EventMask::CREATE)))
                .count();
        }
    });
    (seen >= files).then(|| files as f64 / start.elapsed().as_secs_f64())
}

fn have_inotifywait() -> bool {
    Command::new("inotifywait")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

pub(crate) fn rows(plan: &Plan) -> Vec<Row> {
    let rounds = plan.notify_rounds.clamp(1, 3);
    let peer = have_inotifywait();
    if !peer {
        eprintln!(
            "butter-bench: inotifywait is not installed: the tree rows have no tool beside them"
        );
    }
    let mut rows = Vec::new();
    for (top, start_name, mem_name, fan_name) in [
        (
            99,
            "tree: ready on 10k dirs (inotify backend)",
            "tree: memory for 10k dirs (inotify backend)",
            "tree: ready on 10k dirs (fanotify backend)",
        ),
        (
            990,
            "tree: ready on 100k dirs (inotify backend)",
            "tree: memory for 100k dirs (inotify backend)",
            "tree: ready on 100k dirs (fanotify backend)",
        ),
    ] {
        let tree = Tree::new(&top.to_string(), top);
        let ours = measure("inotify", &tree, rounds);
        let theirs = if peer {
            measure("inotifywait", &tree, rounds)
        } else {
            None
        };
        let notify = measure("notify", &tree, rounds);
        let fan = measure("fanotify", &tree, rounds);
        let Some((ours_t, ours_m)) = ours else {
            eprintln!(
                "butter-bench: the inotify tree watcher did not start on {} dirs",
                tree.dirs
            );
            continue;
        };
        let note = |extra: &str| {
            format!(
                "{} dirs, spawn to ready; notify crate {}{extra}",
                tree.dirs,
                notify.map_or("-".to_owned(), |(t, m)| format!(
                    "{:.0} ms, {m:.0} KiB",
                    t * 1e3
                )),
            )
        };
        rows.push(Row {
            name: start_name,
            unit: "ms",
            ours: ours_t * 1e3,
            c: None,
            peer: theirs.map(|(t, _)| ("inotifywait", t * 1e3)),
            higher_is_better: false,
            note: note(""),
        });
        rows.push(Row {
            name: mem_name,
            unit: "KiB",
            ours: ours_m,
            c: None,
            peer: theirs.map(|(_, m)| ("inotifywait", m)),
            higher_is_better: false,
            note: format!(
                "resident, less the same program on an empty dir; {}",
                note("")
            ),
        });
        match fan {
            Some((t, m)) => rows.push(Row {
                name: fan_name,
                unit: "ms",
                ours: t * 1e3,
                c: None,
                peer: theirs.map(|(t, _)| ("inotifywait", t * 1e3)),
                higher_is_better: false,
                note: format!("{} dirs, one filesystem mark; {m:.0} KiB", tree.dirs),
            }),
            None => eprintln!(
                "butter-bench: the fanotify backend cannot run here (it needs root): its start-up row is left out"
            ),
        }
    }
    let files = 20_000;
    if let (Some(fan), Some(ino)) = (
        events_per_second(butter::notify::inotify::Backend::Fanotify, files),
        events_per_second(butter::notify::inotify::Backend::Inotify, files),
    ) {
        rows.push(Row {
            name: "tree: creations read, fanotify backend",
            unit: "events/s",
            ours: fan,
            c: None,
            peer: Some(("inotify backend", ino)),
            higher_is_better: true,
            note: format!("{files} files over 1000 dirs, made by another thread; producer-bound"),
        });
    }
    rows
}

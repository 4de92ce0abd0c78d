//! butter-bench: the butter crates against plain C and the best peer crate,
//! side by side in one run.
//!
//! Every row runs its variants interleaved (ours, C, peer, ours, C, peer, …)
//! for several rounds after a warm-up round, and reports the median of the
//! rounds, so that noise on a shared 2-core machine hits all variants alike.
//! Ratios are ours ÷ baseline in time: 1.00 is equal, below 1 is faster.
//! Nothing here asserts a speed: a slow machine gives slow figures, not
//! failures. `cargo xtask bench` runs it and keeps the JSON.
//!
//! Usage: `butter-bench [--quick] [--only eventfd|timerfd|signals|inotify|tree|copy|fanotify|ns|aio|seccomp] [--json PATH]`

#![deny(unsafe_code)]

mod aio;
mod alloc_count;
mod c;
mod copy;
mod eventfd;
mod fanotify;
mod harness;
mod notify;
mod ns;
mod seccomp;
mod signals;
mod timerfd;
mod tree;

use harness::{FULL, Plan, QUICK, Row, print_table, to_json};

#[global_allocator]
static ALLOCATOR: alloc_count::Counting = alloc_count::Counting;

use std::path::PathBuf;
use std::process::ExitCode;

fn rows(plan: &Plan, only: Option<&str>) -> Vec<Row> {
    let want = |group: &str| only.is_none_or(|o| o == group);
    let mut rows = Vec::new();
    if want("eventfd") {
        rows.extend(eventfd::rows(plan));
    }
    if want("timerfd") {
        rows.extend(timerfd::rows(plan));
    }
    if want("signals") {
        rows.extend(signals::rows(plan));
    }
    if want("inotify") {
        rows.extend(notify::rows(plan));
    }
    if want("tree") {
        rows.extend(tree::rows(plan));
    }
    if want("copy") {
        rows.extend(copy::rows(plan));
    }
    if want("fanotify") {
        rows.extend(fanotify::rows(plan));
    }
    if want("ns") {
        rows.extend(ns::rows(plan));
    }
    if want("aio") {
        rows.extend(aio::rows(plan));
    }
    if want("seccomp") {
        rows.extend(seccomp::rows(plan));
    }
    rows
}

fn main() -> ExitCode {
    // The seccomp rows' timing child: a process of its own per filter.
    let argv: Vec<String> = std::env::args().collect();
    if argv.len() == 4 && argv[1] == "--seccomp-child" {
        return seccomp::timing_child(&argv[2], &argv[3]);
    }
    // The tree rows' start-up child: one watcher per process.
    if argv.len() == 4 && argv[1] == "--tree-child" {
        return tree::child(&argv[2], &argv[3]);
    }
    // Before any thread exists: every thread inherits the blocked signals.
    signals::block_bench_signals();
    let mut plan = FULL;
    let mut json_path: Option<PathBuf> = None;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => plan = QUICK,
            "--only" => match args.next() {
                Some(group)
                    if [
                        "eventfd", "timerfd", "signals", "inotify", "tree", "copy", "fanotify",
                        "ns", "aio", "seccomp",
                    ]
                    .contains(&group.as_str()) =>
                {
                    only = Some(group);
                }
                _ => {
                    eprintln!(
                        "butter-bench: --only takes eventfd, timerfd, signals, inotify, tree, copy, fanotify, ns, aio or seccomp"
                    );
                    return ExitCode::from(2);
                }
            },
            "--json" => match args.next() {
                Some(p) => json_path = Some(p.into()),
                None => {
                    eprintln!("butter-bench: --json needs a path");
                    return ExitCode::from(2);
                }
            },
            // `cargo bench` passes --bench; accept and ignore it.
            "--bench" => {}
            other => {
                eprintln!(
                    "butter-bench: unknown argument {other:?}\nUsage: butter-bench [--quick] [--only GROUP] [--json PATH]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let rows = rows(&plan, only.as_deref());
    print_table(&rows, &plan);
    if let Some(path) = json_path {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(&path, to_json(&rows, &plan) + "\n") {
            eprintln!("butter-bench: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

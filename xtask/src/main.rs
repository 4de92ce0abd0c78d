//! `cargo xtask`: the butter workspace's test and benchmark driver.
//!
//! - `cargo xtask test`: formatting, clippy (`-D warnings`, with all features
//!   and with none), every crate's unit, integration and doc tests, the
//!   cross-crate tests, the privileged tests (forked children in private
//!   namespaces: as root, or in a user namespace; skips are explained),
//!   every example program's self-check (the async one on tokio and smol),
//!   `cargo package` of every member (each builds from its own tarball), and rustdoc with
//!   warnings denied. Prints a summary and fails if anything did.
//! - `cargo xtask bench`: builds `butter-bench` in release mode, runs it, and
//!   writes the table as JSON to `target/butter-bench.json`.

mod syscalls;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "\
Usage: cargo xtask <COMMAND>

Commands:
  test    fmt, clippy, every test (unit, integration, doc, cross-crate,
          privileged) and rustdoc; prints a summary
  bench   run butter-bench (release) and write target/butter-bench.json
  gen-syscalls --libseccomp DIR [--linux-raw-sys DIR]
          regenerate seccomp-lite's syscall tables from linux-raw-sys
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("test") => test(&root, &args[1..]),
        Some("bench") => bench(&root, &args[1..]),
        Some("gen-syscalls") => match syscalls::generate(&root, &args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xtask gen-syscalls: {e}");
                ExitCode::FAILURE
            }
        },
        Some("-h" | "--help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("xtask: unknown command {other:?}\n\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Cargo verifies each tarball against the others through a local registry
/// in `target/package`, and unpacks that registry's crates under
/// `$CARGO_HOME/registry/src/-<hash>/NAME-VERSION` once: a later run with
/// the same version would build against the stale copy of a member whose
/// API has changed since. So those unpacked copies of our own members (and
/// only those: crates.io's are left alone) go first. Cargo also takes a
/// registry crate's build as fresh by its name and version alone: the
/// verification builds go to a target directory of their own
/// (`verify_dir`), where our members' fingerprints are removed too, so
/// they are rebuilt from the new tarballs while crates.io's stay built.
fn forget_packaged_members(root: &Path, verify_dir: &Path) {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry/src")) else {
        return;
    };
    let mut names = Vec::new();
    for dir in ["crates", "."] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let manifest = entry.path().join("Cargo.toml");
            let Ok(text) = std::fs::read_to_string(&manifest) else {
                continue;
            };
            if let Some(name) = text.lines().find_map(|l| {
                l.strip_prefix("name = \"")
                    .and_then(|r| r.strip_suffix('"'))
            }) {
                names.push(format!("{name}-"));
            }
        }
    }
    let ours = |file: &str, sep: &str| {
        names.iter().any(|n| {
            let stem = n.trim_end_matches('-');
            file.strip_prefix(stem)
                .and_then(|r| r.strip_prefix(sep))
                .is_some()
        })
    };
    for profile in ["debug", "release"] {
        let fingerprints = verify_dir.join(profile).join(".fingerprint");
        for entry in std::fs::read_dir(&fingerprints)
            .into_iter()
            .flatten()
            .flatten()
        {
            if ours(&entry.file_name().to_string_lossy(), "-") {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let Ok(registries) = std::fs::read_dir(&src) else {
        return;
    };
    for registry in registries.flatten() {
        // Local registries are named `-<hash>`; crates.io's is not.
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        let Ok(unpacked) = std::fs::read_dir(registry.path()) else {
            continue;
        };
        for krate in unpacked.flatten() {
            let file = krate.file_name().to_string_lossy().into_owned();
            let ours = names.iter().any(|n| {
                file.strip_prefix(n.as_str())
                    .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            });
            if ours {
                let _ = std::fs::remove_dir_all(krate.path());
            }
        }
    }
}

fn cargo(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root);
    cmd
}

/// A step made of one run per item (a crate, an example): fails if any
/// did, and names those.
fn run_each(name: &'static str, items: &[String], mut run: impl FnMut(&str) -> bool) -> Step {
    println!("\n== xtask: {name} ==");
    let start = Instant::now();
    let failed: Vec<&str> = items
        .iter()
        .map(String::as_str)
        .filter(|item| !run(item))
        .collect();
    Step {
        name,
        ok: failed.is_empty(),
        took: start.elapsed(),
        note: if failed.is_empty() {
            String::new()
        } else {
            format!("failed: {}", failed.join(", "))
        },
    }
}

/// One step's result in the summary.
struct Step {
    name: &'static str,
    ok: bool,
    took: Duration,
    note: String,
}

/// Test counts read from libtest's `test result:` lines and the skip lines
/// tests print to stderr.
///
/// A whole test that skips prints a line starting `skipped` on stderr
/// (`partly skipped: …` is a part of a test, which still passed). The
/// fork-per-test harness counts its skips itself (its `N passed, M failed,
/// K skipped` line; its `test result:` line lists them as ignored); a
/// libtest test that skips returns early and libtest counts it passed. So
/// [`finish`](Counts::finish) moves the libtest skips out of `passed` and
/// the harness skips out of `ignored`: each skip is counted once, as a skip.
#[derive(Default)]
struct Counts {
    passed: u64,
    failed: u64,
    ignored: u64,
    skipped: u64,
    harness_skipped: u64,
}

impl Counts {
    fn read_harness_line(&mut self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [_, "passed,", _, "failed,", k, "skipped"] = words.as_slice()
            && let Ok(k) = k.parse::<u64>()
        {
            self.harness_skipped += k;
        }
    }

    fn finish(&mut self) {
        let libtest_skipped = self.skipped.saturating_sub(self.harness_skipped);
        self.passed = self.passed.saturating_sub(libtest_skipped);
        self.ignored = self.ignored.saturating_sub(self.harness_skipped);
    }

    fn read_result_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(number)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = number.parse::<u64>() else {
                continue;
            };
            match label {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

fn test(root: &Path, args: &[String]) -> ExitCode {
    if let Some(extra) = args.first() {
        eprintln!("xtask test: takes no arguments (got {extra:?})");
        return ExitCode::from(2);
    }
    for (tool, component) in [("fmt", "rustfmt"), ("clippy", "clippy")] {
        let present = cargo(root)
            .args([tool, "--version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !present {
            eprintln!(
                "xtask test: `cargo {tool}` is missing; install it with `rustup component add {component}`"
            );
            return ExitCode::FAILURE;
        }
    }

    let mut steps = Vec::new();
    let mut counts = Counts::default();

    steps.push(run_step(
        "fmt",
        cargo(root).args(["fmt", "--all", "--", "--check"]),
        None,
    ));
    steps.push(run_step(
        "clippy (all features)",
        cargo(root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]),
        None,
    ));
    // One cargo call per crate: features unify across every package of one
    // build (butter-cli turns on `async` everywhere), which would hide a
    // crate that does not build without its features.
    steps.push(run_each(
        "clippy (each crate alone, no default features)",
        &member_crates(root),
        |krate| {
            cargo(root)
                .args([
                    "clippy",
                    "--quiet",
                    "--all-targets",
                    "--no-default-features",
                ])
                .args(["-p", krate, "--", "-D", "warnings"])
                .status()
                .is_ok_and(|s| s.success())
        },
    ));
    steps.push(run_step(
        "tests (unit, integration, doc, cross-crate, privileged)",
        cargo(root).args(["test", "--workspace", "--all-features", "--no-fail-fast"]),
        Some(&mut counts),
    ));
    // Every member packs and builds from its own tarball (what a publish
    // would upload), offline: the tests above fetched every dependency.
    let verify_dir = root.join("target").join("package-verify");
    forget_packaged_members(root, &verify_dir);
    steps.push(run_step(
        "package (each member builds from its own tarball)",
        cargo(root)
            .args([
                "package",
                "--workspace",
                "--allow-dirty",
                "--offline",
                "--quiet",
            ])
            .env("CARGO_TARGET_DIR", &verify_dir),
        None,
    ));
    // Every example is a program with a self-check: run without arguments
    // it does its work on scratch data and fails if the result is wrong.
    // The upload watcher runs on two executors, 100 trees each.
    let examples: Vec<String> = [
        "event-fd/wake_poll_loop",
        "timer-fd/metronome",
        "signal-fd/supervise",
        "zerocopy-pipe/zcat",
        "notify-fd/settled",
        "notify-fd/who_wrote",
        "ns-sys/sandbox",
        "kernel-aio/readall",
        "seccomp-lite/no_network",
        "butter/upload_watch_tokio",
        "butter/upload_watch_smol",
    ]
    .map(String::from)
    .into();
    steps.push(run_each("examples (self-checks)", &examples, |item| {
        let (package, example) = item.split_once('/').expect("package/example");
        let mut cmd = cargo(root);
        cmd.args(["run", "--quiet", "-p", package, "--example", example]);
        if package == "butter" {
            cmd.args(["--features", "async", "--", "--self-test", "100"]);
        }
        let ok = cmd.status().is_ok_and(|s| s.success());
        if ok {
            counts.passed += 1;
        } else {
            counts.failed += 1;
        }
        ok
    }));
    steps.push(run_step(
        "rustdoc (warnings denied)",
        cargo(root)
            .args(["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-D warnings"),
        None,
    ));

    counts.finish();
    println!("\n== xtask test summary ==");
    for step in &steps {
        let verdict = if step.ok { "ok" } else { "FAILED" };
        println!(
            "  {:<58} {verdict:<6} {:>6.1}s {}",
            step.name,
            step.took.as_secs_f64(),
            step.note
        );
    }
    let all_ok = steps.iter().all(|s| s.ok);
    println!(
        "  (ignored: {}; skipped with a reason on stderr, each counted once: {})",
        counts.ignored, counts.skipped
    );
    // A failed step that is not a test failure still counts as one failure.
    let failed = counts.failed + steps.iter().filter(|s| !s.ok && s.note.is_empty()).count() as u64;
    println!(
        "summary: {} passed, {} failed, {} skipped",
        counts.passed, failed, counts.skipped
    );
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs one step, printing a header, and says how it went.
fn run_step(name: &'static str, cmd: &mut Command, counts: Option<&mut Counts>) -> Step {
    println!("\n== xtask: {name} ==");
    let _ = std::io::stdout().flush();
    let start = Instant::now();
    let (ok, note) = match counts {
        None => match cmd.status() {
            Ok(status) => (status.success(), String::new()),
            Err(e) => (false, format!("could not run: {e}")),
        },
        Some(counts) => run_counting(cmd, counts),
    };
    Step {
        name,
        ok,
        took: start.elapsed(),
        note,
    }
}

/// The packages under `crates/` (each directory is named after its package).
fn member_crates(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("crates"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.path().join("Cargo.toml").is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Runs `cmd`, echoing its stdout and stderr as they come, and reads the
/// test counts from them.
fn run_counting(cmd: &mut Command, counts: &mut Counts) -> (bool, String) {
    let mut child = match cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(e) => return (false, format!("could not run: {e}")),
    };
    let stderr = child.stderr.take().expect("piped stderr");
    let skips = std::thread::spawn(move || {
        let mut skipped = 0;
        let mut out = std::io::stderr();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // A whole test's skip; `partly skipped: …` is not one.
            if line.starts_with("skipped") {
                skipped += 1;
            }
            let _ = writeln!(out, "{line}");
        }
        skipped
    });
    let stdout = child.stdout.take().expect("piped stdout");
    let mut out = std::io::stdout();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        counts.read_result_line(&line);
        counts.read_harness_line(&line);
        let _ = writeln!(out, "{line}");
    }
    counts.skipped += skips.join().unwrap_or(0);
    match child.wait() {
        Ok(status) if status.success() => (true, String::new()),
        Ok(_) if counts.failed > 0 => (false, format!("{} failed", counts.failed)),
        Ok(status) => (false, format!("cargo test: {status}")),
        Err(e) => (false, format!("waiting for cargo test: {e}")),
    }
}

fn bench(root: &Path, args: &[String]) -> ExitCode {
    let json = root.join("target").join("butter-bench.json");
    let status = cargo(root)
        .args([
            "run",
            "--release",
            "--quiet",
            "--package",
            "butter-bench",
            "--",
            "--json",
        ])
        .arg(&json)
        .args(args)
        .status();
    match status {
        Ok(s) if s.success() => {
            println!("\nJSON written to {}", json.display());
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask bench: could not run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Counts;

    #[test]
    fn reads_libtest_result_lines() {
        let mut c = Counts::default();
        c.read_result_line("test result: ok. 22 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.05s");
        c.read_result_line(
            "test result: FAILED. 4 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out",
        );
        c.read_result_line("running 3 tests");
        assert_eq!((c.passed, c.failed, c.ignored), (26, 1, 1));
    }
}

#[cfg(test)]
mod count_tests {
    use super::Counts;

    /// A harness binary with one skip and a libtest binary with one skip:
    /// each skip counted once, as a skip, never as passed or ignored.
    #[test]
    fn skips_are_counted_once() {
        let mut c = Counts::default();
        // The harness: 3 ran, 1 of them skipped (listed as ignored).
        c.read_result_line(
            "test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out",
        );
        c.read_harness_line("2 passed, 0 failed, 1 skipped");
        // libtest: 4 ran, 1 returned early after a skip line.
        c.read_result_line("test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.1s");
        c.skipped = 2; // the two `skipped…` lines on stderr
        c.finish();
        assert_eq!((c.passed, c.ignored, c.skipped), (5, 0, 2));
    }
}

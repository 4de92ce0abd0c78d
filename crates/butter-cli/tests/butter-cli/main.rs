//! The `butter` binary, run for real.

use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

mod copy_safety;
mod escape;
mod ns_vs_tools;
mod seccomp_vs_tools;
mod watch_vs_tools;

fn butter(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_butter"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn doctor_prints_a_table_of_every_crate() {
    let out = butter(&["doctor"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("butter doctor: Linux "), "{stdout}");
    for needle in [
        "CRATE",
        "event-fd",
        "timer-fd",
        "CLOCK_BOOTTIME_ALARM",
        "fanotify",
        "seccomp filter actions",
        "available,",
    ] {
        assert!(stdout.contains(needle), "no {needle:?} in\n{stdout}");
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert!(stdout.contains(release.trim()), "kernel release missing");
}

#[test]
fn doctor_json_is_valid_and_complete() {
    let out = butter(&["doctor", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let features = v["features"].as_array().unwrap();
    assert!(features.len() >= 20);
    for f in features {
        let status = f["status"].as_str().unwrap();
        assert!(
            ["yes", "no", "needs-privilege", "unknown"].contains(&status),
            "{f}"
        );
        assert!(f["crate"].is_string() && f["feature"].is_string() && f["since"].is_string());
    }
    let eventfd = features
        .iter()
        .find(|f| f["feature"] == "eventfd2")
        .unwrap();
    assert_eq!(eventfd["status"], "yes");
    assert_eq!(
        v["euid"].as_u64(),
        Some(u64::from(rustix::process::geteuid().as_raw()))
    );
}

#[test]
fn doctor_as_an_unprivileged_user_says_what_root_adds() {
    if !rustix::process::geteuid().is_root() {
        eprintln!(
            "skipped doctor_as_an_unprivileged_user_says_what_root_adds: not root, cannot switch to uid 65534"
        );
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_butter"))
        .arg("doctor")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("running as uid 65534"), "{stdout}");
    assert!(stdout.contains("needs CAP_WAKE_ALARM"), "{stdout}");
    assert!(
        stdout.contains("Run as root to use and confirm: CLOCK_REALTIME_ALARM"),
        "{stdout}"
    );
}

#[test]
fn usage_errors_exit_2_with_a_hint() {
    // No command: the help, on stderr, status 2.
    let out = butter(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("Usage: butter <COMMAND>"),
        "{}",
        text(&out.stderr)
    );
    for args in [&["frobnicate"][..], &["doctor", "--bogus"], &["--bogus"]] {
        let out = butter(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("For more information, try '--help'"),
            "{args:?}: {stderr}"
        );
    }
    assert!(text(&butter(&["frobnicate"]).stderr).contains("unrecognized subcommand 'frobnicate'"));
    assert!(text(&butter(&["doctor", "--bogus"]).stderr).contains("--bogus"));
    // Mistakes found after parsing read the same way, with the command's usage.
    let stderr = text(&butter(&["signals"]).stderr);
    assert!(
        stderr.contains("Usage: butter signals") && stderr.contains("try '--help'"),
        "{stderr}"
    );
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = butter(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = text(&out.stdout);
        for word in ["watch", "fanotify", "recursive", "deny"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    assert_eq!(butter(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn help_and_version() {
    let help = butter(&["--help"]);
    assert!(help.status.success());
    assert!(text(&help.stdout).contains("doctor [--json]"));
    let version = butter(&["-V"]);
    assert_eq!(
        text(&version.stdout),
        format!("butter {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert!(text(&butter(&["doctor", "--help"]).stdout).starts_with("Usage: butter doctor"));
}

#[test]
fn closed_stdout_is_not_a_crash() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_butter"))
        .arg("doctor")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before butter writes
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!text(&out.stderr).contains("panicked"));
}

/// Starts `butter COMMAND ARGS` and returns once it says on stderr that it
/// is watching (signals blocked, or watches in place), with its stdout.
fn start(
    command: &str,
    args: &[&str],
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
) {
    use std::io::BufRead;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_butter"))
        .arg(command)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut ready = String::new();
    stderr.read_line(&mut ready).unwrap();
    assert!(ready.contains("watching"), "{ready:?}");
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    (child, stdout)
}

fn start_signals(
    args: &[&str],
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
) {
    start("signals", args)
}

#[test]
fn signals_prints_each_signal_with_its_sender_as_json() {
    use butter::signalfd::{Signal, kill, sigqueue};
    use std::io::BufRead;
    let (mut child, stdout) = start_signals(&["--json", "--count", "2", "USR1", "rtmin+2"]);
    let pid = child.id();
    kill(pid, Signal::USR1).unwrap();
    sigqueue(pid, Signal::rt(2).unwrap(), 77).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(child.wait().unwrap().success());
    assert_eq!(lines.len(), 2);
    let me = u64::from(std::process::id());
    assert_eq!(lines[0]["signal"], "SIGUSR1");
    assert_eq!(
        (lines[0]["pid"].as_u64(), lines[0]["code_name"].as_str()),
        (Some(me), Some("SI_USER"))
    );
    assert_eq!(lines[1]["signal"], "SIGRTMIN+2");
    assert_eq!(
        (lines[1]["code_name"].as_str(), lines[1]["value"].as_i64()),
        (Some("SI_QUEUE"), Some(77))
    );
    assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn signals_text_lines_and_a_closed_pipe() {
    use butter::signalfd::{Signal, kill};
    use std::io::BufRead;
    let (mut child, mut stdout) = start_signals(&["HUP"]);
    kill(child.id(), Signal::HUP).unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(
        line.contains(&format!("SIGHUP from pid {} uid", std::process::id())),
        "{line}"
    );
    assert!(line.trim_end().ends_with("(SI_USER)"), "{line}");
    // The reader goes away; the next signal's line hits a closed pipe and
    // butter exits cleanly instead of running on. Another test thread's
    // fork may hold a copy of the read end for a moment (until its exec),
    // letting one write through, so signal again until butter is gone.
    drop(stdout);
    let pidfd = butter::signalfd::PidFd::from_child(&child).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        kill(child.id(), Signal::HUP).unwrap();
        if pidfd
            .wait_exit(Some(std::time::Duration::from_millis(100)))
            .unwrap()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "butter signals kept running with no reader"
        );
    }
    assert!(child.wait().unwrap().success());
}

#[test]
fn signals_usage_and_runtime_errors() {
    let out = butter(&["signals", "FOO"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown signal \"FOO\""));
    let out = butter(&["signals"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("name at least one signal"));
    let out = butter(&["signals", "--count", "x", "INT"]);
    assert_eq!(out.status.code(), Some(2));
    let out = butter(&["signals", "KILL"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("SIGKILL cannot be caught"),
        "{}",
        text(&out.stderr)
    );
}

fn start_watch(
    args: &[&str],
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
) {
    start("watch", args)
}

/// A scratch directory in the temp dir, removed when dropped: also when
/// the test fails, so that no run leaves anything behind on the machine.
struct Scratch(std::path::PathBuf);

impl std::ops::Deref for Scratch {
    type Target = std::path::PathBuf;
    fn deref(&self) -> &std::path::PathBuf {
        &self.0
    }
}

impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(tag: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("butter-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    Scratch(dir)
}

#[test]
fn watch_prints_events_and_pairs_renames() {
    use std::io::BufRead;
    let dir = scratch("watch");
    let d = dir.to_str().unwrap();
    let (mut child, stdout) = start_watch(&["-e", "create|move", "--count", "2", d]);
    std::fs::write(dir.join("a"), b"").unwrap();
    std::fs::rename(dir.join("a"), dir.join("b")).unwrap();
    let lines: Vec<String> = stdout.lines().map(Result::unwrap).collect();
    assert!(child.wait().unwrap().success());
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].ends_with(&format!(" create {d}/a")), "{lines:?}");
    assert!(
        lines[1].contains(&format!(" moved_from|moved_to {d}/a -> {d}/b cookie ")),
        "{lines:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn watch_recursive_json_reports_every_level() {
    use std::io::BufRead;
    let dir = scratch("watch-r");
    let (mut child, stdout) = start_watch(&["-r", "--json", "-e", "create", dir.to_str().unwrap()]);
    std::fs::create_dir_all(dir.join("a/b/c")).unwrap();
    std::fs::write(dir.join("a/b/c/f"), b"").unwrap();
    let want = dir.join("a/b/c/f");
    let mut seen = Vec::new();
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let path = std::path::PathBuf::from(v["path"].as_str().unwrap());
        assert!(v["events"].as_str().unwrap().starts_with("create"), "{v}");
        seen.push(path.clone());
        if path == want {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for level in ["a", "a/b", "a/b/c", "a/b/c/f"] {
        assert!(
            seen.contains(&dir.join(level)),
            "{level} missing from {seen:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn watch_timeout_and_errors() {
    let dir = scratch("watch-errors");
    let d = dir.to_str().unwrap();
    let out = butter(&["watch", "--timeout", "0.05", d]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty());
    let missing = format!("{d}/missing");
    let out = butter(&["watch", &missing]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("No such file or directory (ENOENT)"),
        "{}",
        text(&out.stderr)
    );
    let out = butter(&["watch", "-e", "frob", d]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown inotify event \"frob\""));
    let out = butter(&["watch"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        butter(&["watch", "--timeout", "-1", d]).status.code(),
        Some(2)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn copy_reports_the_method_and_copies_exactly() {
    let dir = scratch("copy");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("a"), &data).unwrap();
    let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
    let out = butter(&["copy", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text(&out.stderr).contains("3000000 bytes (2.86 MiB) by copy-file-range"),
        "{}",
        text(&out.stderr)
    );
    assert!(std::fs::read(&b).unwrap() == data);
    let out = butter(&[
        "copy",
        "--method",
        "read-write",
        "--progress",
        "--limit",
        "1000000",
        a.to_str().unwrap(),
        c.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("100%") && stderr.contains("by read-write"),
        "{stderr}"
    );
    assert!(std::fs::read(&c).unwrap() == data[..1_000_000]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn copy_stdin_to_stdout() {
    use std::io::Write;
    use std::process::Stdio;
    let data: Vec<u8> = (0..500_000u32).map(|i| (i % 253) as u8).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_butter"))
        .args(["copy", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let out = std::thread::scope(|s| {
        s.spawn(move || stdin.write_all(&data[..]).unwrap());
        child.wait_with_output().unwrap()
    });
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout
            == (0..500_000u32)
                .map(|i| (i % 253) as u8)
                .collect::<Vec<u8>>()
    );
    assert!(
        text(&out.stderr).contains("by splice"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn copy_errors() {
    let out = butter(&["copy", "--method", "bogus", "a", "b"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown copy method \"bogus\""));
    assert_eq!(butter(&["copy", "only-one"]).status.code(), Some(2));
    let out = butter(&["copy", "/nonexistent/src", "/dev/null"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/nonexistent/src"),
        "{}",
        text(&out.stderr)
    );
}

fn need_root(test: &str) -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        eprintln!("skipped {test}: fanotify marks need root (CAP_SYS_ADMIN)");
    }
    root
}

#[test]
fn fanotify_deny_answers_permission_events() {
    use std::io::BufRead;
    if !need_root("fanotify_deny_answers_permission_events") {
        return;
    }
    let dir = scratch("fan-deny");
    std::fs::write(dir.join("secret"), b"s").unwrap();
    std::fs::write(dir.join("fine"), b"f").unwrap();
    let (mut child, stdout) = start(
        "fanotify",
        &["--deny", "*secret*", "--count", "2", dir.to_str().unwrap()],
    );
    let denied = std::fs::File::open(dir.join("secret")).unwrap_err();
    assert_eq!(denied.raw_os_error(), Some(libc::EPERM));
    std::fs::File::open(dir.join("fine")).unwrap();
    let lines: Vec<String> = stdout.lines().map(Result::unwrap).collect();
    assert!(child.wait().unwrap().success());
    assert!(
        lines[0].contains("open_perm") && lines[0].ends_with("secret [denied]"),
        "{lines:?}"
    );
    assert!(lines[1].ends_with("fine [allowed]"), "{lines:?}");
    assert!(
        lines[0].contains(&format!(" {} ", std::process::id())),
        "the pid is ours: {lines:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fanotify_json_by_file_handle() {
    use std::io::BufRead;
    if !need_root("fanotify_json_by_file_handle") {
        return;
    }
    let dir = scratch("fan-json");
    let (mut child, mut stdout) = start(
        "fanotify",
        &[
            "-e",
            "create",
            "--json",
            "--count",
            "1",
            dir.to_str().unwrap(),
        ],
    );
    std::fs::write(dir.join("made"), b"").unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(child.wait().unwrap().success());
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["events"], "create");
    assert_eq!(v["path"], dir.join("made").to_str().unwrap());
    assert_eq!(v["pid"].as_u64(), Some(u64::from(std::process::id())));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fanotify_usage_and_runtime_errors() {
    assert_eq!(butter(&["fanotify"]).status.code(), Some(2));
    let out = butter(&["fanotify", "-e", "frob", "/tmp"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown fanotify event \"frob\""));
    let out = butter(&["fanotify", "--timeout", "0.01", "/nonexistent/path"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("fanotify"), "{stderr}");
}

/// The long options in a synopsis block, by command (`watch`, `seccomp
/// compile`): lines from `butter CMD` on, until the next `butter`.
fn synopsis_options(
    block: &str,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut by_cmd: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        std::collections::BTreeMap::new();
    let mut current: Option<String> = None;
    for line in block.lines() {
        if line.trim().is_empty() && current.is_some() {
            break;
        }
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("butter ") {
            let words: Vec<&str> = rest
                .split_whitespace()
                .take_while(|w| {
                    w.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !w.starts_with('-')
                })
                .collect();
            current = Some(words.join(" "));
        }
        let Some(cmd) = &current else { continue };
        // A description follows the synopsis after a run of spaces.
        let body = line.trim_start();
        let synopsis = body.find("   ").map_or(body, |end| &body[..end]);
        let set = by_cmd.entry(cmd.clone()).or_default();
        for w in synopsis.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            if let Some(name) = w.strip_prefix("--")
                && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            {
                set.insert(format!("--{name}"));
            } else if w.len() == 2 && w.starts_with('-') && w.as_bytes()[1].is_ascii_alphabetic() {
                set.insert(w.to_owned());
            }
        }
    }
    by_cmd
}

/// The options `butter CMD --help` lists: the long name, and the short
/// one where it has one.
fn help_options(cmd: &str) -> Vec<(String, Option<String>)> {
    let mut args: Vec<&str> = cmd.split(' ').collect();
    args.push("--help");
    let out = butter(&args);
    assert!(out.status.success(), "{args:?}");
    let name = |r: &str| -> String {
        r.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect()
    };
    text(&out.stdout)
        .lines()
        .filter_map(|l| {
            // Options start at column 2 or 6; descriptions (which may
            // begin with an option's name) further in.
            if l.len() - l.trim_start().len() > 6 {
                return None;
            }
            let l = l.trim_start();
            let (short, long) = match l.split_once(", --") {
                Some((s, rest)) if s.len() == 2 && s.starts_with('-') => (Some(s.to_owned()), rest),
                _ => (None, l.strip_prefix("--")?),
            };
            Some((format!("--{}", name(long)), short))
        })
        .filter(|(o, _)| o != "--help" && o != "--version" && o.len() > 2)
        .collect()
}

/// The README's synopsis and the one under `butter --help` name exactly
/// the long options each command's `--help` has: neither drifts from the
/// parser.
#[test]
fn synopses_name_every_option_and_only_real_ones() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme
        .find("```text\nbutter doctor")
        .expect("the README's synopsis block");
    let block = &readme[start + 8..];
    let block = &block[..block.find("```").unwrap()];
    let top = text(&butter(&["--help"]).stdout);
    let top = &top[top.find("Synopsis:").expect("the synopsis under --help")..];
    for (source, synopsis) in [
        ("README", synopsis_options(block)),
        ("butter --help", synopsis_options(top)),
    ] {
        assert!(synopsis.len() >= 10, "{source}: {synopsis:?}");
        for (cmd, opts) in synopsis {
            if cmd.is_empty() || cmd == "seccomp" {
                continue;
            }
            let help = help_options(&cmd);
            let missing: Vec<_> = help
                .iter()
                .filter(|(l, s)| !opts.contains(l) && !s.as_ref().is_some_and(|s| opts.contains(s)))
                .map(|(l, _)| l)
                .collect();
            let known = |o: &String| help.iter().any(|(l, s)| l == o || s.as_ref() == Some(o));
            let unknown: Vec<_> = opts.iter().filter(|o| !known(o)).collect();
            assert!(
                missing.is_empty() && unknown.is_empty(),
                "{source}'s synopsis of `butter {cmd}`: leaves out {missing:?}, names {unknown:?} that --help does not have"
            );
        }
    }
}

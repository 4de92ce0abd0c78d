//! `butter watch` and `butter fanotify` side by side with inotifywait and
//! the conventions people know, on racy workloads with the reader stopped.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use butter::signalfd::{Signal, kill};

use crate::{butter, need_root, scratch, text};

const LIMIT: Duration = Duration::from_secs(10);

/// Taken by a test that floods the filesystem the scratch directories are on
/// (the overflow test: 16k opens) and by a test that watches that whole
/// filesystem (a filesystem mark, fatrace): the flood overflows the
/// watcher's queue, and fatrace neither sizes its queue nor reports an
/// overflow (it lost all four directory events of a CI run that way).
static WHOLE_FS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn whole_fs() -> std::sync::MutexGuard<'static, ()> {
    WHOLE_FS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running watcher: its lines arrive on a channel, so waits are bounded.
struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    /// Starts `program args`; returns once its stderr says its watches are
    /// in place (`ready` appears in a line).
    fn start(program: &str, args: &[&str], ready: &str) -> Running {
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "{program} ended before it was ready"
            );
            if line.contains(ready) {
                break;
            }
        }
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    fn signal(&self, sig: Signal) {
        kill(self.child.id(), sig).unwrap();
    }

    /// Reads lines until `done` holds for what was seen, or `limit` passes;
    /// returns whether `done` held.
    fn wait_for(&mut self, limit: Duration, done: impl Fn(&[String]) -> bool) -> bool {
        let end = Instant::now() + limit;
        while !done(&self.seen) {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => return false,
            }
        }
        true
    }

    /// Reads lines until one satisfies `want`, or `limit` passes.
    fn wait_line(&mut self, limit: Duration, want: impl Fn(&str) -> bool) -> bool {
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = want(&line);
                    self.seen.push(line);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
    }

    fn count(&self, needle: &str) -> usize {
        self.seen.iter().filter(|l| l.contains(needle)).count()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "note: {tool} is not installed: the side-by-side part is skipped (.ci/run installs it)"
        );
    }
    found
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// 20 directories created and renamed while both readers are stopped, then
/// a file made in each: butter watch -r reports all 20, as inotifywait -r.
#[test]
fn created_then_renamed_directories_side_by_side_with_inotifywait() {
    let dir = scratch("vs-inotifywait");
    let ours_args = ["watch", "-r", "-e", "create", "-e", "moved_to", s(&dir)];
    let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &ours_args, "watching");
    let mut theirs = have("inotifywait").then(|| {
        Running::start(
            "inotifywait",
            &["-m", "-r", "-e", "create", "-e", "moved_to", s(&dir)],
            "Watches established",
        )
    });
    ours.signal(Signal::STOP);
    if let Some(t) = &theirs {
        t.signal(Signal::STOP);
    }
    for i in 0..20 {
        std::fs::create_dir(dir.join(format!("d{i}"))).unwrap();
        std::fs::rename(dir.join(format!("d{i}")), dir.join(format!("e{i}"))).unwrap();
    }
    ours.signal(Signal::CONT);
    if let Some(t) = &theirs {
        t.signal(Signal::CONT);
    }
    // Each has handled the renames once it has printed them.
    assert!(
        ours.wait_for(LIMIT, |l| l.iter().filter(|l| l.contains(" -> ")).count()
            == 20),
        "{:?}",
        ours.seen
    );
    if let Some(t) = &mut theirs {
        t.wait_for(LIMIT, |l| {
            l.iter().filter(|l| l.contains("MOVED_TO")).count() == 20
        });
    }
    for i in 0..20 {
        std::fs::write(dir.join(format!("e{i}/later")), b"").unwrap();
    }
    let want = |l: &[String]| l.iter().filter(|l| l.contains("later")).count() == 20;
    assert!(ours.wait_for(LIMIT, want), "butter watch: {:?}", ours.seen);
    for i in 0..20 {
        assert_eq!(ours.count(&format!("e{i}/later")), 1, "{:?}", ours.seen);
    }
    if let Some(t) = &mut theirs {
        let got = t.wait_for(LIMIT, want);
        eprintln!(
            "inotifywait -r reported {} of 20 later files; butter watch -r 20",
            t.count("later")
        );
        assert!(got, "inotifywait missed some: {:?}", t.seen);
    }
    drop(ours);
    drop(theirs);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An overflow while the reader is stopped, a directory made meanwhile:
/// butter prints overflow|rescan and has watched the new directory.
#[test]
fn overflow_with_a_stopped_reader_rescans() {
    let _flood = whole_fs();
    let dir = scratch("vs-overflow");
    std::fs::write(dir.join("f"), b"").unwrap();
    let args = ["watch", "-r", "-e", "open,close_nowrite,create", s(&dir)];
    let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &args, "watching");
    ours.signal(Signal::STOP);
    let max =
        butter::fd_core::probe::read_proc_u64("/proc/sys/fs/inotify/max_queued_events").unwrap();
    for i in 0..=max {
        drop(std::fs::File::open(dir.join("f")).unwrap());
        if i == max / 2 {
            std::fs::create_dir(dir.join("during")).unwrap();
        }
    }
    ours.signal(Signal::CONT);
    assert!(ours.wait_line(LIMIT, |l| l.contains("overflow|rescan")));
    std::fs::write(dir.join("during/after"), b"").unwrap();
    let after = format!("create {}", s(&dir.join("during/after")));
    assert!(
        ours.wait_line(LIMIT, |l| l.ends_with(&after)),
        "{:?}",
        &ours.seen[ours.seen.len().saturating_sub(5)..]
    );
    drop(ours);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `-e` repeated adds up; `ignored` is not printed under `-e create`;
/// `--timeout 0` and `--count 0` mean no limit, as inotifywait's -t 0.
#[test]
fn watch_event_options_agree_with_inotifywait() {
    let dir = scratch("vs-options");
    let (d1, d2) = (dir.join("d1"), dir.join("d2"));
    std::fs::create_dir(&d1).unwrap();
    std::fs::create_dir(&d2).unwrap();
    std::fs::write(d2.join("old"), b"").unwrap();
    let args = [
        "watch",
        "-e",
        "create",
        "-e",
        "delete",
        "--timeout",
        "0",
        "--count",
        "2",
        s(&d1),
        s(&d2),
    ];
    let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &args, "watching");
    std::fs::remove_dir(&d1).unwrap(); // IGNORED for d1: not asked for
    std::fs::write(d2.join("new"), b"").unwrap();
    std::fs::remove_file(d2.join("old")).unwrap();
    assert!(ours.wait_for(LIMIT, |l| l.len() == 2), "{:?}", ours.seen);
    assert!(
        ours.seen[0].ends_with(&format!(" create {}", s(&d2.join("new")))),
        "{:?}",
        ours.seen
    );
    assert!(
        ours.seen[1].ends_with(&format!(" delete {}", s(&d2.join("old")))),
        "{:?}",
        ours.seen
    );
    assert!(ours.child.wait().unwrap().success(), "--count 2 ends it");
    // --count 0: no limit (ends here by its timeout, after every event).
    let args = [
        "watch",
        "--count",
        "0",
        "--timeout",
        "1",
        "-e",
        "create",
        s(&d2),
    ];
    let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &args, "watching");
    for n in ["a", "b", "c"] {
        std::fs::write(d2.join(n), b"").unwrap();
    }
    assert!(ours.child.wait().unwrap().success());
    ours.wait_for(LIMIT, |l| l.len() == 3);
    assert_eq!(ours.seen.len(), 3, "{:?}", ours.seen);
    // Bad numbers are usage errors.
    for bad in [["--count", "-1"], ["--timeout", "x"]] {
        assert_eq!(
            butter(&["watch", bad[0], bad[1], s(&d2)]).status.code(),
            Some(2)
        );
    }
    drop(ours);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `-r` on a symbolic link to a directory follows it, as inotifywait does;
/// paths keep no trailing slash after a directory rename.
#[test]
fn recursive_watch_follows_a_symlinked_root() {
    let dir = scratch("vs-link");
    std::fs::create_dir_all(dir.join("real/d1")).unwrap();
    std::os::unix::fs::symlink(dir.join("real"), dir.join("link")).unwrap();
    let link = dir.join("link");
    let args = ["watch", "-r", "-e", "create,move", s(&link)];
    let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &args, "watching");
    std::fs::rename(dir.join("real/d1"), dir.join("real/d2")).unwrap();
    std::fs::write(dir.join("real/d2/f"), b"").unwrap();
    assert!(ours.wait_for(LIMIT, |l| l.len() == 2), "{:?}", ours.seen);
    assert!(
        ours.seen[0].ends_with(&format!(
            "{} -> {}",
            s(&link.join("d1")),
            s(&link.join("d2"))
        )),
        "{:?}",
        ours.seen
    );
    assert!(
        ours.seen[1].ends_with(&format!(" create {}", s(&link.join("d2/f")))),
        "{:?}",
        ours.seen
    );
    drop(ours);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A rename of a non-UTF-8 name: both ends byte-exact in the JSON.
#[test]
fn json_keeps_the_bytes_of_both_rename_ends() {
    use std::os::unix::ffi::OsStrExt;
    let dir = scratch("vs-bytes");
    let old = dir.join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    let new = dir.join(std::ffi::OsStr::from_bytes(b"th\xe9"));
    std::fs::write(&old, b"").unwrap();
    let args = ["watch", "--json", "-e", "move", "--count", "1", s(&dir)];
    let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &args, "watching");
    std::fs::rename(&old, &new).unwrap();
    assert!(ours.wait_for(LIMIT, |l| l.len() == 1));
    let v: serde_json::Value = serde_json::from_str(&ours.seen[0]).unwrap();
    let bytes = |k: &str| -> Vec<u8> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|b| u8::try_from(b.as_u64().unwrap()).unwrap())
            .collect()
    };
    assert_eq!(bytes("path_bytes"), old.as_os_str().as_bytes());
    assert_eq!(bytes("to_bytes"), new.as_os_str().as_bytes());
    drop(ours);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A `sigqueue` with a pointer-sized value: all 64 bits shown.
#[test]
fn signals_show_the_whole_pointer_value() {
    use butter::signalfd::sigqueue_ptr;
    let args = ["signals", "--json", "--count", "1", "USR2"];
    let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &args, "watching");
    sigqueue_ptr(ours.child.id(), Signal::USR2, 0x1234_5678_9abc).unwrap();
    assert!(ours.wait_for(LIMIT, |l| l.len() == 1));
    let v: serde_json::Value = serde_json::from_str(&ours.seen[0]).unwrap();
    assert_eq!(v["ptr"].as_u64(), Some(0x1234_5678_9abc), "{v}");
    assert_eq!(v["value"].as_i64(), Some(0x5678_9abc), "{v}");
    let args = ["signals", "--count", "1", "USR2"];
    let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &args, "watching");
    sigqueue_ptr(ours.child.id(), Signal::USR2, 0x1234_5678_9abc).unwrap();
    assert!(ours.wait_for(LIMIT, |l| l.len() == 1));
    assert!(
        ours.seen[0].ends_with("ptr 0x123456789abc"),
        "{:?}",
        ours.seen
    );
}

/// `--fs` reports directories (mkdir, rename, rmdir) with both rename ends,
/// as fatrace reports directory events.
#[test]
fn fanotify_fs_mark_reports_directories_and_both_rename_ends() {
    if !need_root("fanotify_fs_mark_reports_directories_and_both_rename_ends") {
        return;
    }
    let _observer = whole_fs();
    let dir = scratch("vs-fan-dirs");
    let args = ["fanotify", "--fs", s(&dir), "-e", "create,delete,rename"];
    let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &args, "watching");
    // fatrace on the same workload, when it is installed: it watches the
    // mount of its working directory. Its stdout is made line-buffered
    // (stdbuf) and read as it comes, so the test waits for the lines
    // themselves instead of guessing when fatrace has read its queue.
    let fatrace = have("fatrace").then(|| {
        let mut child = Command::new("stdbuf")
            .args(["-oL", "fatrace", "-c", "-f", "+D<>"])
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        wait_for_fanotify_marks(child.id());
        (child, rx)
    });
    std::fs::create_dir(dir.join("d1")).unwrap();
    std::fs::rename(dir.join("d1"), dir.join("d2")).unwrap();
    std::fs::remove_dir(dir.join("d2")).unwrap();
    if let Some((child, rx)) = fatrace {
        // fatrace names the directory the entry is in, not the entry, and
        // its group merges events on one directory into one line.
        let wanted = [("mkdir", '+'), ("mv", '<'), ("mv", '>'), ("rmdir", 'D')];
        let end = Instant::now() + LIMIT;
        let mut theirs: Vec<String> = Vec::new();
        let mut flags = String::new();
        // What else fatrace printed for this process (a path it could not
        // resolve shows as "(deleted)" or a device and inode), and how much
        // it printed in all: what a failure needs to be understood.
        let me = format!("({}): ", std::process::id());
        let (mut mine_elsewhere, mut others) = (Vec::new(), 0usize);
        while !wanted.iter().all(|(_, f)| flags.contains(*f)) {
            let left = end.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.ends_with(s(&dir)) => {
                    if let Some(f) = line
                        .split(": ")
                        .nth(1)
                        .and_then(|r| r.split_whitespace().next())
                    {
                        flags.push_str(f);
                    }
                    theirs.push(line);
                }
                Ok(line) if line.contains(&me) && mine_elsewhere.len() < 20 => {
                    mine_elsewhere.push(line);
                }
                Ok(_) => others += 1,
                Err(_) => break,
            }
        }
        kill(child.id(), Signal::INT).unwrap();
        let said = child.wait_with_output().unwrap();
        let said = text(&said.stderr);
        eprintln!("fatrace saw: {theirs:?}");
        for (tool, flag) in wanted {
            assert!(
                flags.contains(flag),
                "fatrace did not report the {tool} ({flag}) within {LIMIT:?}: {theirs:?}; \
                 its other lines for this process: {mine_elsewhere:?}; \
                 {others} lines for others; its stderr: {said:?}"
            );
        }
    }
    let mine = |l: &String| l.contains(s(&dir));
    assert!(
        ours.wait_for(LIMIT, |l| l.iter().filter(|l| mine(l)).count() >= 3),
        "{:?}",
        ours.seen
    );
    let lines: Vec<&String> = ours.seen.iter().filter(|l| mine(l)).collect();
    assert!(
        lines[0].contains("create|ondir") && lines[0].ends_with(s(&dir.join("d1"))),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("rename|ondir")
            && lines[1].ends_with(&format!("{} -> {}", s(&dir.join("d1")), s(&dir.join("d2")))),
        "{lines:?}"
    );
    assert!(lines[2].contains("delete|ondir"), "{lines:?}");
    drop(ours);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Waits (bounded) until process `pid` holds a fanotify group with a mark:
/// its `/proc/PID/fdinfo` lists marks as `fanotify …` lines.
fn wait_for_fanotify_marks(pid: u32) {
    let end = Instant::now() + LIMIT;
    loop {
        let marked = std::fs::read_dir(format!("/proc/{pid}/fdinfo"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .any(|info| info.lines().any(|l| l.starts_with("fanotify ")));
        if marked {
            return;
        }
        assert!(Instant::now() < end, "fatrace never placed its mark");
        std::thread::yield_now();
    }
}

/// What cannot go together is a usage error saying why.
#[test]
fn fanotify_usage_explains_impossible_combinations() {
    let out = butter(&["fanotify", "--deny", "*x*", "-e", "create", "/tmp"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("--deny cannot go with create") && err.contains("file handle"),
        "{err}"
    );
    for flag in ["ondir", "event_on_child"] {
        let out = butter(&["fanotify", "-e", flag, "/tmp"]);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        assert!(
            text(&out.stderr).contains("mark flags, not events"),
            "{}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        butter(&["fanotify", "-e", "isdir", "/tmp"]).status.code(),
        Some(2)
    );
}

/// As a normal user: the pid the kernel withholds is shown as -, and the
/// path is resolved against the marked directory.
#[test]
fn fanotify_unprivileged_resolves_paths_and_says_what_it_cannot_know() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to start butter as another user (uid 65534)");
        return;
    }
    let dir = scratch("vs-fan-unpriv");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_butter"))
        .args(["fanotify", "-e", "create", "--count", "1", s(&dir)])
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("watching") {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            let _ = child.wait();
            panic!("butter fanotify as uid 65534 ended: {said}");
        }
        said.push_str(&line);
    }
    std::fs::write(dir.join("made"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
    said.push_str(&rest);
    if said.contains("fanotify_init") {
        eprintln!("skipped: this kernel has no unprivileged fanotify: {said}");
        return;
    }
    assert!(out.status.success(), "{said}");
    assert!(said.contains("withheld"), "{said}");
    let line = text(&out.stdout);
    assert!(line.contains(" - - create "), "{line}");
    assert!(line.trim_end().ends_with(s(&dir.join("made"))), "{line}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A file name cannot forge a line: a newline followed by a made-up event,
/// an escape sequence, a backslash and bytes that are not UTF-8 come out
/// escaped as `ls -b` shows them, each event on one line, no byte lost
/// (inotifywait prints them raw: a second line, the terminal's colours).
#[test]
fn text_output_escapes_what_could_forge_a_line() {
    use std::os::unix::ffi::OsStrExt;
    let dir = scratch("vs-forge");
    let names: [&[u8]; 4] = [
        b"x\n2026-01-01T00:00:00Z create shadow",
        b"\x1b[31mred",
        b"back\\slash",
        b"caf\xe9",
    ];
    let args = ["watch", "-e", "create", "--count", "4", s(&dir)];
    let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &args, "watching");
    for name in names {
        std::fs::write(dir.join(std::ffi::OsStr::from_bytes(name)), b"").unwrap();
    }
    assert!(ours.wait_for(LIMIT, |l| l.len() >= 4), "{:?}", ours.seen);
    assert!(
        !ours.wait_line(Duration::from_millis(1), |_| true),
        "a fifth line: {:?}",
        ours.seen
    );
    let d = s(&dir);
    for (line, escaped) in ours.seen.iter().zip([
        r"x\n2026-01-01T00:00:00Z create shadow",
        r"\033[31mred",
        r"back\\slash",
        r"caf\351",
    ]) {
        assert!(line.ends_with(&format!(" create {d}/{escaped}")), "{line}");
        assert!(!line.chars().any(char::is_control), "{line:?}");
    }
    drop(ours);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `butter fanotify --fs DIR > DIR/log` leaves out its own writes to the
/// log, as fatrace leaves out its own (they were 21,932 of 24,692 lines in
/// 1.5 s). Deterministic: butter's write of f's line queues its event on
/// the log before the test writes g, so the old behaviour shows a line
/// for the log before g's.
#[test]
fn fanotify_leaves_out_its_own_accesses() {
    if !need_root("fanotify_leaves_out_its_own_accesses") {
        return;
    }
    let dir = scratch("vs-fan-self");
    let log = dir.join("log");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec '{}' fanotify --fs '{}' -e modify > '{}'",
            env!("CARGO_BIN_EXE_butter"),
            s(&dir),
            s(&log)
        ))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("watching") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "butter fanotify ended"
        );
    }
    let wait_for = |name: &str| {
        let end = Instant::now() + LIMIT;
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.lines().any(|l| l.ends_with(&format!("/{name}"))) {
                return text;
            }
            assert!(Instant::now() < end, "no line for {name}: {text}");
            std::thread::yield_now();
        }
    };
    std::fs::write(dir.join("f"), b"x").unwrap();
    wait_for("f");
    std::fs::write(dir.join("g"), b"x").unwrap();
    let text = wait_for("g");
    let _ = child.kill();
    let _ = child.wait();
    let pid = child.id().to_string();
    assert!(
        !text
            .lines()
            .any(|l| l.ends_with("/log") || l.split_whitespace().nth(1) == Some(pid.as_str())),
        "its own writes were reported:\n{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--exclude` and `--include` beside inotifywait's regex options on the
/// same workload: the same events printed (inotifywait matches its regex
/// against the whole path; these globs name the same files), options in
/// either order and before or after `-r`; a glob that does not parse is a
/// usage error naming it.
#[test]
fn exclude_and_include_agree_with_inotifywait() {
    let dir = scratch("vs-exclude");
    for d in ["src", "node_modules/pkg", "docs"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let workload = |tag: &str| {
        std::fs::write(dir.join(format!("node_modules/pkg/{tag}.js")), b"").unwrap();
        std::fs::write(dir.join(format!("src/{tag}.rs")), b"").unwrap();
        std::fs::write(dir.join(format!("docs/{tag}.md")), b"").unwrap();
        std::fs::write(dir.join(format!("{tag}.rs")), b"").unwrap();
    };
    // The printed paths of create events, in order.
    let creates = |r: &Running| -> Vec<String> {
        r.seen
            .iter()
            .filter_map(|l| l.split_once(" create ").map(|(_, p)| p.to_owned()))
            .collect()
    };
    let ours_args = [
        "watch",
        "--exclude",
        "node_modules",
        "-r",
        "-e",
        "create",
        "--include",
        "*.rs",
        "--include",
        "*.md",
        s(&dir),
    ];
    let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &ours_args, "watching");
    workload("a");
    assert!(ours.wait_for(LIMIT, |l| l.len() >= 3), "{:?}", ours.seen);
    let want: Vec<String> = ["src/a.rs", "docs/a.md", "a.rs"]
        .iter()
        .map(|p| s(&dir.join(p)).to_owned())
        .collect();
    assert_eq!(creates(&ours), want);
    drop(ours);
    if have("inotifywait") {
        let theirs_args = [
            "-m",
            "-r",
            "-e",
            "create",
            "--format",
            "%e %w%f",
            // It takes one of --exclude and --include, and one of each
            // kind; for this workload this one regex says as much.
            "--include",
            r"\.(rs|md)$",
            s(&dir),
        ];
        let mut theirs = Running::start("inotifywait", &theirs_args, "Watches established");
        workload("b");
        assert!(
            theirs.wait_for(LIMIT, |l| l.len() >= 3),
            "{:?}",
            theirs.seen
        );
        let theirs_paths: Vec<String> = theirs
            .seen
            .iter()
            .filter_map(|l| l.strip_prefix("CREATE ").map(|p| p.replace("/b.", "/a.")))
            .collect();
        assert_eq!(theirs_paths, want);
    }
    for bad in [["--exclude", "[x"], ["--include", "{a"]] {
        let out = butter(&["watch", "-r", bad[0], bad[1], s(&dir)]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains(&format!("{} {}", bad[0], bad[1])),
            "{}",
            text(&out.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `watch -r --backend fanotify` prints what `watch -r` (inotify) prints
/// on the same workload, and the paths fsnotifywait -S (fanotify, the
/// whole filesystem) prints under the tree; `--backend` in any place,
/// `auto` says what it chose, and misuse is a usage error.
#[test]
fn fanotify_backend_agrees_with_inotify_and_fsnotifywait() {
    for (args, says) in [
        (vec!["watch", "--backend", "fanotify", "."], "needs -r"),
        (
            vec!["watch", "-r", "--backend", "dnotify", "."],
            "inotify, fanotify, auto or poll",
        ),
    ] {
        let out = butter(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(says), "{}", text(&out.stderr));
    }
    if !need_root("fanotify_backend_agrees_with_inotify_and_fsnotifywait") {
        return;
    }
    let dir = scratch("vs-backend");
    std::fs::create_dir_all(dir.join("old/x")).unwrap();
    let workload = |tag: &str| {
        let d = dir.join(format!("{tag}/b/c"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("f"), b"x").unwrap();
        std::fs::write(dir.join(format!("old/x/{tag}.txt")), b"x").unwrap();
        std::fs::rename(
            dir.join(format!("old/x/{tag}.txt")),
            dir.join(format!("{tag}.txt")),
        )
        .unwrap();
        std::fs::write(dir.join(format!("{tag}.done")), b"").unwrap();
    };
    // (events, path) of each line, the tag made "t", the time left out,
    // and "scanned" (whether inotify's scan or the kernel saw an entry
    // first depends on timing; fanotify never needs a scan).
    let shape = |r: &Running, tag: &str| -> Vec<String> {
        r.seen
            .iter()
            .filter_map(|l| {
                l.split_once(' ')
                    .map(|(_, rest)| rest.replace(tag, "t").replace("|scanned", ""))
            })
            .collect()
    };
    let mut lines = Vec::new();
    for (i, backend) in ["inotify", "fanotify", "auto"].iter().enumerate() {
        let tag = format!("run{i}");
        let args: Vec<&str> = if i % 2 == 0 {
            vec![
                "watch",
                "-r",
                "--backend",
                backend,
                "-e",
                "create,close_write,move",
                s(&dir),
            ]
        } else {
            vec![
                "watch",
                "--backend",
                backend,
                "-e",
                "create,close_write,move",
                "-r",
                s(&dir),
            ]
        };
        let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &args, "watching");
        workload(&tag);
        let done = format!("{tag}.done");
        assert!(
            ours.wait_for(LIMIT, |l| l
                .iter()
                .any(|x| x.contains(&done) && x.contains("close_write"))),
            "{backend}: {:?}",
            ours.seen
        );
        let mut got = shape(&ours, &tag);
        got.sort();
        lines.push(got);
        drop(ours);
    }
    assert_eq!(lines[0], lines[1], "inotify vs fanotify");
    assert_eq!(lines[1], lines[2], "fanotify vs auto");
    if have("fsnotifywait") {
        // Its fanotify mode (-F -r) marks each directory, so it can miss a
        // directory made in a new one (mkdir -p): every path it prints we
        // print; we print each one the workload made.
        let args = [
            "-m",
            "-F",
            "-r",
            "-e",
            "create",
            "--format",
            "%e %w%f",
            s(&dir),
        ];
        let mut theirs = Running::start("fsnotifywait", &args, "Watches established");
        workload("fsn");
        assert!(
            theirs.wait_for(LIMIT, |l| l.iter().any(|x| x.ends_with("fsn.done"))),
            "{:?}",
            theirs.seen
        );
        let theirs_paths: Vec<String> = theirs
            .seen
            .iter()
            .filter(|l| l.starts_with("CREATE"))
            .filter_map(|l| l.split_once(' ').map(|(_, p)| p.replace("fsn", "t")))
            .collect();
        let ours_paths: Vec<String> = lines[1]
            .iter()
            .filter_map(|l| {
                l.strip_prefix("create ")
                    .or_else(|| l.strip_prefix("create|isdir "))
            })
            .map(str::to_owned)
            .collect();
        for p in &theirs_paths {
            assert!(
                ours_paths.contains(p),
                "fsnotifywait saw {p}, we did not: {ours_paths:?}"
            );
        }
        assert!(!theirs_paths.is_empty());
        eprintln!(
            "fsnotifywait -F -r: {} creations of the {} we reported",
            theirs_paths.len(),
            ours_paths.len()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `watch -r --wait-for-roots` on a path that is not there yet: it starts
/// (inotifywait refuses such a path), prints root_appeared when it is made
/// with what it already holds, and root_gone when it goes; without -r it
/// is a usage error.
#[test]
fn wait_for_roots_watches_a_path_once_it_is_made() {
    let out = butter(&["watch", "--wait-for-roots", "/nonexistent/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("needs -r"),
        "{}",
        text(&out.stderr)
    );
    let dir = scratch("vs-wait-roots");
    let root = dir.join("later/root");
    if have("inotifywait") {
        let out = Command::new("inotifywait")
            .args(["-r", "-t", "1", s(&root)])
            .output()
            .unwrap();
        assert!(!out.status.success(), "inotifywait watched a missing path");
    }
    for order in [
        ["-r", "--wait-for-roots", "-e", "create,delete"],
        ["--wait-for-roots", "-e", "create,delete", "-r"],
    ] {
        let mut args: Vec<&str> = vec!["watch"];
        args.extend(order);
        args.push(s(&root));
        let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &args, "watching");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        assert!(
            ours.wait_for(LIMIT, |l| l.iter().any(|x| x.contains("sub"))),
            "{:?}",
            ours.seen
        );
        std::fs::remove_dir_all(dir.join("later")).unwrap();
        assert!(
            ours.wait_for(LIMIT, |l| l.iter().any(|x| x.contains("root_gone"))),
            "{:?}",
            ours.seen
        );
        let shown: Vec<String> = ours
            .seen
            .iter()
            .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest.to_owned()))
            .collect();
        let r = s(&root);
        assert_eq!(
            shown[..2],
            [
                format!("root_appeared {r}"),
                format!("create|isdir|scanned {r}/sub")
            ],
            "{shown:?}"
        );
        assert!(shown.contains(&format!("root_gone {r}")), "{shown:?}");
        drop(ours);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `watch -r --settle`: a burst of writes prints one line, a file made
/// and removed meanwhile none; options in either order; a duration
/// without a unit, or --settle without -r, is a usage error.
#[test]
fn settle_prints_one_line_per_burst() {
    for (args, says) in [
        (vec!["watch", "--settle", "200ms", "."], "needs -r"),
        (vec!["watch", "-r", "--settle", "200", "."], "needs a unit"),
        (vec!["watch", "-r", "--settle", "0ms", "."], "above zero"),
    ] {
        let out = butter(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(says), "{}", text(&out.stderr));
    }
    let dir = scratch("vs-settle");
    for (i, order) in [
        [
            "-r",
            "--settle",
            "300ms",
            "-e",
            "create,modify,close_write,delete",
        ],
        [
            "--settle",
            "0.3s",
            "-e",
            "create,modify,close_write,delete",
            "-r",
        ],
    ]
    .iter()
    .enumerate()
    {
        let mut args: Vec<&str> = vec!["watch"];
        args.extend(order.iter());
        args.push(s(&dir));
        let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &args, "watching");
        let log = dir.join(format!("log{i}"));
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&log).unwrap();
            for n in 0..100 {
                writeln!(f, "{n}").unwrap();
            }
        }
        std::fs::write(dir.join("tmp"), b"x").unwrap();
        std::fs::remove_file(dir.join("tmp")).unwrap();
        let done = dir.join(format!("done{i}"));
        std::fs::write(&done, b"").unwrap();
        let done_s = s(&done).to_owned();
        assert!(
            ours.wait_for(LIMIT, |l| l.iter().any(|x| x.ends_with(&done_s))),
            "{:?}",
            ours.seen
        );
        let shown: Vec<String> = ours
            .seen
            .iter()
            .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest.to_owned()))
            .collect();
        assert_eq!(
            shown,
            [
                format!("modify|close_write|create {}", s(&log)),
                format!("close_write|create {done_s}"),
            ],
            "{shown:?}"
        );
        drop(ours);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `watch -r -L` follows a link to a directory (as fswatch -L), prints
/// events there under the link's path, and does not loop on a link back
/// up; without -r it is a usage error.
#[test]
fn follow_links_prints_under_the_link() {
    let out = butter(&["watch", "-L", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("needs -r"),
        "{}",
        text(&out.stderr)
    );
    let dir = scratch("vs-follow");
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(dir.join("elsewhere")).unwrap();
    std::os::unix::fs::symlink("../elsewhere", root.join("link")).unwrap();
    std::os::unix::fs::symlink(".", root.join("loop")).unwrap();
    for flag in ["-L", "--follow-links"] {
        let args = ["watch", "-r", "-e", "create", flag, s(&root)];
        let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &args, "watching");
        let f = format!("f{flag}");
        std::fs::write(dir.join("elsewhere").join(&f), b"").unwrap();
        let want = format!("create {}", s(&root.join("link").join(&f)));
        assert!(
            ours.wait_for(LIMIT, |l| l.iter().any(|x| x.ends_with(&want))),
            "{:?}",
            ours.seen
        );
        drop(ours);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `watch -r --backend poll` prints what changed between listings; a
/// --poll-interval without --backend poll is a usage error.
#[test]
fn poll_backend_prints_changes() {
    let out = butter(&["watch", "-r", "--poll-interval", "100ms", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("needs --backend poll"),
        "{}",
        text(&out.stderr)
    );
    let dir = scratch("vs-poll");
    std::fs::write(dir.join("edit"), b"1").unwrap();
    let args = [
        "watch",
        "--poll-interval",
        "50ms",
        "-r",
        "--backend",
        "poll",
        s(&dir),
    ];
    let mut ours = Running::start(env!("CARGO_BIN_EXE_butter"), &args, "watching");
    std::fs::write(dir.join("edit"), b"22").unwrap();
    std::fs::write(dir.join("new"), b"").unwrap();
    let (edit, new) = (
        s(&dir.join("edit")).to_owned(),
        s(&dir.join("new")).to_owned(),
    );
    assert!(
        ours.wait_for(LIMIT, |l| {
            l.iter().any(|x| x.ends_with(&format!("modify {edit}")))
                && l.iter().any(|x| x.ends_with(&format!("create {new}")))
        }),
        "{:?}",
        ours.seen
    );
    drop(ours);
    std::fs::remove_dir_all(&dir).unwrap();
}

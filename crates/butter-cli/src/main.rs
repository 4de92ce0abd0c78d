//! `butter`: Linux's low-level kernel features, put to use.
//!
//! Run `butter --help` for the commands.

#![deny(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use butter_cli::doctor::Report;

const USAGE: &str = "\
butter: Linux's low-level kernel features, put to use

Usage: butter <COMMAND> [OPTIONS]

Commands:
  doctor [--json]   Probe this machine: kernel version, every feature the
                    butter crates use, limits, and what root would add
  signals [--json] [--count N] SIGNAL...
                    Block the signals and print each one as it arrives, with
                    its sender's pid and uid and why it was sent
  watch [-r] [-e EVENTS] [--json] [--timeout SECS] [--count N] PATH...
                    Print file events as they happen, like inotifywait -m
  copy [--method M] [--limit BYTES] [--progress] SRC DST
                    Copy with the fastest kernel path (copy_file_range,
                    sendfile, splice) and say which it used
  fanotify [--mount P | --fs P | PATH...] [-e EVENTS] [--json] [--deny GLOB]
                    Print who touches which file, like fatrace; with --deny,
                    refuse opens of matching paths (needs root)

Options:
  -h, --help        Print this help
  -V, --version     Print the version
";

/// A command-line mistake: reported with the usage hint, exit status 2.
struct Usage(String);

impl From<lexopt::Error> for Usage {
    fn from(e: lexopt::Error) -> Usage {
        Usage(e.to_string())
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(Usage(msg)) => {
            eprintln!("butter: {msg}\nTry 'butter --help'.");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, Usage> {
    use lexopt::prelude::*;
    let mut args = lexopt::Parser::from_env();
    let command = match args.next()? {
        Some(Short('h') | Long("help")) => return Ok(print(USAGE)),
        Some(Short('V') | Long("version")) => {
            return Ok(print(&format!("butter {}\n", env!("CARGO_PKG_VERSION"))));
        }
        Some(Value(cmd)) => cmd.string()?,
        Some(other) => return Err(other.unexpected().into()),
        None => return Err(Usage("a command is required".into())),
    };
    match command.as_str() {
        "doctor" => doctor(args),
        "signals" => signals(args),
        "watch" => watch(args),
        "copy" => copy_command(args),
        "fanotify" => fanotify_command(args),
        other => Err(Usage(format!("unknown command {other:?}"))),
    }
}

fn doctor(mut args: lexopt::Parser) -> Result<ExitCode, Usage> {
    use lexopt::prelude::*;
    let mut as_json = false;
    while let Some(arg) = args.next()? {
        match arg {
            Long("json") => as_json = true,
            Short('h') | Long("help") => {
                return Ok(print(
                    "Usage: butter doctor [--json]\n\nProbes every kernel feature the butter crates use.\n",
                ));
            }
            other => return Err(other.unexpected().into()),
        }
    }
    let report = Report::collect();
    Ok(print(&if as_json {
        report.to_json() + "\n"
    } else {
        report.to_text()
    }))
}

const SIGNALS_USAGE: &str = "\
Usage: butter signals [--json] [--count N] SIGNAL...

Blocks the signals and prints each one as it arrives: time, signal, sender pid
and uid, and the code saying why (SI_USER for kill, SI_QUEUE with its value,
CLD_EXITED with the child's status, ...). Signals are names (INT, SIGTERM,
usr1), numbers, or SIGRTMIN+N. Runs until --count signals have arrived, or
until a signal it does not watch ends it (Ctrl-C, unless INT is watched).

  --json       one JSON object per line
  --count N    exit after N signals (0: no limit)
";

fn signals(mut args: lexopt::Parser) -> Result<ExitCode, Usage> {
    use butter::signalfd::{SigSet, Signal, Signals};
    use lexopt::prelude::*;
    let (mut as_json, mut count, mut set) = (false, None::<u64>, SigSet::empty());
    while let Some(arg) = args.next()? {
        match arg {
            Long("json") => as_json = true,
            Long("count") => count = parse_count(&mut args)?,
            Short('h') | Long("help") => return Ok(print(SIGNALS_USAGE)),
            Value(name) => {
                let name = name.string()?;
                let sig: Signal = name.parse().map_err(|e: butter::Error| {
                    Usage(e.detail().unwrap_or("bad signal").to_owned())
                })?;
                set.insert(sig);
            }
            other => return Err(other.unexpected().into()),
        }
    }
    if set.is_empty() {
        return Err(Usage("signals: name at least one signal to watch".into()));
    }
    // Single-threaded here, so blocking in this thread blocks them for the process.
    let watcher = match Signals::new(set) {
        Ok(w) => w,
        Err(e) => return Ok(fail(&e)),
    };
    eprintln!("butter signals: pid {} watching {set}", std::process::id());
    let mut seen = 0;
    while count.is_none_or(|n| seen < n) {
        let info = match watcher.read() {
            Ok(info) => info,
            Err(e) => return Ok(fail(&e)),
        };
        seen += 1;
        let now = std::time::SystemTime::now();
        let line = if as_json {
            butter_cli::signals::json_line(&info, now)
        } else {
            butter_cli::signals::text_line(&info, now)
        };
        if let Some(code) = emit(line) {
            return Ok(code);
        }
    }
    Ok(ExitCode::SUCCESS)
}

const WATCH_USAGE: &str = "\
Usage: butter watch [-r] [-e EVENTS]... [--json] [--timeout SECS] [--count N] PATH...

Prints file events as they happen, one line each: time, events, path (and
the new path of a rename, paired from its two halves), in the kernel's
order. Says on stderr when its watches are in place.

  -r, --recursive   watch directories and everything below them: new
                    directories are watched and scanned at once (what the
                    scan finds is marked scanned, and each entry is printed
                    once); a PATH that is a symbolic link is followed. Its
                    own listings print nothing. After a queue overflow
                    (overflow|rescan) the tree is walked again at once, so
                    directories made meanwhile are watched.
  -e, --events E    events to print, such as create|delete|moved_to, or
                    create,delete; repeat -e to add more (access modify
                    attrib close_write close_nowrite open moved_from
                    moved_to create delete delete_self move_self close move
                    unmount ignored all). Default: all of them
  --json            one JSON object per line; a path that is not UTF-8 is
                    also given as bytes (path_bytes, to_bytes)
  --timeout SECS    stop after SECS seconds (0: no timeout, as inotifywait)
  --count N         stop after N events (0: no limit)
";

/// `-e` values, combined: `create|delete`, `create,delete`, several `-e`.
fn parse_events<M>(text: &str, so_far: Option<M>) -> Result<M, Usage>
where
    M: std::str::FromStr<Err = butter::Error> + std::ops::BitOr<Output = M>,
{
    let mask: M = text
        .replace(',', "|")
        .parse()
        .map_err(|e: butter::Error| Usage(e.detail().unwrap_or("bad events").to_owned()))?;
    Ok(match so_far {
        Some(m) => m | mask,
        None => mask,
    })
}

/// `--timeout SECS`: 0 means none, as for inotifywait.
fn parse_timeout(args: &mut lexopt::Parser) -> Result<Option<std::time::Duration>, Usage> {
    use lexopt::ValueExt;
    let secs: f64 = args.value()?.parse()?;
    let d = std::time::Duration::try_from_secs_f64(secs)
        .map_err(|_| Usage(format!("--timeout {secs}: not a number of seconds")))?;
    Ok((!d.is_zero()).then_some(d))
}

/// `--count N`: 0 means no limit.
fn parse_count(args: &mut lexopt::Parser) -> Result<Option<u64>, Usage> {
    use lexopt::ValueExt;
    let n: u64 = args.value()?.parse()?;
    Ok((n != 0).then_some(n))
}

fn watch(mut args: lexopt::Parser) -> Result<ExitCode, Usage> {
    use butter::notify::inotify::EventMask;
    use lexopt::prelude::*;
    let mut events = None::<EventMask>;
    let mut opts = WatchOptions {
        recursive: false,
        events: EventMask::ALL_EVENTS,
        json: false,
        timeout: None,
        count: None,
    };
    let mut paths = Vec::new();
    while let Some(arg) = args.next()? {
        match arg {
            Short('r') | Long("recursive") => opts.recursive = true,
            Short('e') | Long("events") => {
                events = Some(parse_events(&args.value()?.string()?, events)?);
            }
            Long("json") => opts.json = true,
            Long("timeout") => opts.timeout = parse_timeout(&mut args)?,
            Long("count") => opts.count = parse_count(&mut args)?,
            Short('h') | Long("help") => return Ok(print(WATCH_USAGE)),
            Value(path) => paths.push(std::path::PathBuf::from(path)),
            other => return Err(other.unexpected().into()),
        }
    }
    if paths.is_empty() {
        return Err(Usage("watch: name at least one path".into()));
    }
    // Not asked for: every event, and the ones the kernel reports unasked.
    opts.events = events.unwrap_or(EventMask::ALL_EVENTS | EventMask::UNMOUNT | EventMask::IGNORED);
    Ok(match run_watch(&paths, &opts) {
        Ok(code) => code,
        Err(e) => fail(&e),
    })
}

struct WatchOptions {
    recursive: bool,
    /// What to print; may hold `UNMOUNT` and `IGNORED`, which are never
    /// asked of the kernel.
    events: butter::notify::inotify::EventMask,
    json: bool,
    timeout: Option<std::time::Duration>,
    count: Option<u64>,
}

/// Watches `paths` and prints records until the count or the deadline.
fn run_watch(paths: &[std::path::PathBuf], opts: &WatchOptions) -> butter::Result<ExitCode> {
    use butter::EventSource;
    use butter::notify::inotify::{EventMask, Inotify, RecursiveWatcher, WatchFlags};
    use butter_cli::watch::{Record, from_change, from_path_event, json_line, text_line};
    use std::time::{Duration, Instant};

    enum Source {
        Flat(Inotify, std::collections::HashMap<i32, std::path::PathBuf>),
        Tree(Box<RecursiveWatcher>),
    }
    let asked = opts.events - EventMask::REPORTED_ONLY;
    let source = if opts.recursive {
        let tree = RecursiveWatcher::new(&paths[0], opts.events - EventMask::IGNORED)?;
        for path in &paths[1..] {
            tree.add_root(path)?;
        }
        Source::Tree(Box::new(tree))
    } else {
        let inotify = Inotify::new()?;
        let mut dirs = std::collections::HashMap::new();
        for path in paths {
            let wd = inotify.add_watch(path, asked, WatchFlags::empty())?;
            dirs.insert(wd.raw(), path.clone());
        }
        Source::Flat(inotify, dirs)
    };
    eprintln!("butter watch: watching {} path(s)", paths.len());
    // The kernel reports these whatever was asked: print them only if wanted.
    let shown = |mask: EventMask| (mask - EventMask::ISDIR).intersects(opts.events);
    let deadline = opts.timeout.and_then(|t| Instant::now().checked_add(t));
    let mut printed = 0u64;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Ok(ExitCode::SUCCESS);
        }
        let records: Vec<Record> = match &source {
            Source::Flat(inotify, dirs) => {
                if !inotify.wait(left)? {
                    continue;
                }
                let mut changes = Vec::new();
                inotify.read_events(&mut changes)?;
                changes
                    .iter()
                    .filter(|c| match c {
                        butter::notify::inotify::Change::Event(e) => shown(e.mask),
                        _ => true,
                    })
                    .map(|c| from_change(dirs, c))
                    .collect()
            }
            Source::Tree(tree) => {
                if !tree.wait(left)? {
                    continue;
                }
                let mut events = Vec::new();
                tree.read_events(&mut events)?;
                events.iter().map(from_path_event).collect()
            }
        };
        for record in records {
            let now = std::time::SystemTime::now();
            let line = if opts.json {
                json_line(&record, now)
            } else {
                text_line(&record, now)
            };
            if let Some(code) = emit(line) {
                return Ok(code);
            }
            printed += 1;
            if opts.count.is_some_and(|n| printed >= n) {
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
}

const COPY_USAGE: &str = "\
Usage: butter copy [--method M] [--limit BYTES] [--progress] SRC DST

Copies SRC to DST (files, devices, or - for stdin/stdout) by the fastest
correct kernel path for the pair, and reports on stderr which method moved
the bytes, which were passed over and why, and the throughput.

DST is created, and truncated only after SRC was checked: a directory SRC,
or a DST that is SRC (through hard or symbolic links, or stdout appending to
SRC), is refused with DST untouched. Holes in a sparse SRC stay holes. A
pipe on stdin or stdout is grown to 1 MiB, which copies through it several
times faster. If the reader of stdout goes away (| head), it stops quietly
with exit status 141, as cat does when SIGPIPE ends it.

  --method M       auto (default), copy-file-range, sendfile, splice or
                   read-write
  --limit BYTES    copy at most BYTES: 4096, 64k, 1.5M, 2GiB (k, M, G, T
                   and KiB... are 1024s; kB, MB, GB are 1000s)
  --progress       show a progress bar with rate and ETA on stderr
";

fn copy_command(mut args: lexopt::Parser) -> Result<ExitCode, Usage> {
    use butter::pipe::Method;
    use lexopt::prelude::*;
    let (mut method, mut limit, mut progress, mut paths) =
        (None::<Method>, None::<u64>, false, Vec::new());
    while let Some(arg) = args.next()? {
        match arg {
            Long("method") => {
                let name = args.value()?.string()?;
                method = match name.as_str() {
                    "auto" => None,
                    other => Some(other.parse().map_err(|e: butter::Error| {
                        Usage(e.detail().unwrap_or("bad method").to_owned())
                    })?),
                };
            }
            Long("limit") => {
                let text = args.value()?.string()?;
                limit = Some(
                    butter_cli::copy::parse_size(&text)
                        .map_err(|e| Usage(format!("--limit {e}")))?,
                );
            }
            Long("progress") => progress = true,
            Short('h') | Long("help") => return Ok(print(COPY_USAGE)),
            Value(path) => paths.push(path),
            other => return Err(other.unexpected().into()),
        }
    }
    let [src, dst] = <[std::ffi::OsString; 2]>::try_from(paths)
        .map_err(|_| Usage("copy: give exactly a source and a destination".into()))?;
    Ok(
        match butter_cli::copy::run(&src, &dst, method, limit, progress) {
            Ok(summary) => {
                eprintln!("{summary}");
                ExitCode::SUCCESS
            }
            Err(butter_cli::copy::CopyFailed::BrokenPipe) => ExitCode::from(141),
            Err(butter_cli::copy::CopyFailed::Error(message)) => {
                eprintln!("butter: {message}");
                ExitCode::FAILURE
            }
        },
    )
}

const FANOTIFY_USAGE: &str = "\
Usage: butter fanotify [--mount PATH | --fs PATH | PATH...] [-e EVENTS]... [--json]
                       [--deny GLOB] [--count N] [--timeout SECS]

Prints one line per file event: time, pid, process name, events, path, like
fatrace; directories included. Needs CAP_SYS_ADMIN for --mount and --fs;
PATHs are marked inode by inode (with their children for directories). Says
on stderr when its marks are in place.

Without CAP_SYS_ADMIN (Linux 5.13+, PATHs only, create/delete/rename/attrib
events): the kernel gives no fds and withholds other processes' pids, shown
as - (your own are shown); paths are resolved against the marked
directories, and ? stands for what cannot be resolved.

  --mount PATH    every file on PATH's mount
  --fs PATH       every file on PATH's filesystem, on any mount
  -e EVENTS       such as open|close_write|modify or open,modify; repeat -e
                  to add more (default open|access|modify|close); create,
                  delete, moved_from, moved_to, rename, attrib report by
                  file handle; rename shows OLD -> NEW
  --json          one JSON object per line; a path that is not UTF-8 is
                  also given as bytes (path_bytes, to_bytes)
  --deny GLOB     answer open permission events: deny paths matching GLOB
                  (* and ?), allow the rest; the verdict ends each line. Not
                  with create/delete/rename events (one group cannot both
                  hand out fds for permission events and report by file
                  handle). An open with O_CREAT that is denied still leaves
                  the file it created: the kernel creates it before it asks.
  --count N       stop after N events (0: no limit)
  --timeout SECS  stop after SECS seconds (0: no timeout)
";

fn fanotify_command(mut args: lexopt::Parser) -> Result<ExitCode, Usage> {
    use butter::notify::fanotify::{EventMask, MarkTarget};
    use lexopt::prelude::*;
    let mut events = None::<EventMask>;
    let (mut json, mut deny, mut count, mut timeout) = (false, None::<String>, None::<u64>, None);
    let mut marks: Vec<(MarkTarget, std::path::PathBuf)> = Vec::new();
    while let Some(arg) = args.next()? {
        match arg {
            Long("mount") => marks.push((MarkTarget::Mount, args.value()?.into())),
            Long("fs") => marks.push((MarkTarget::Filesystem, args.value()?.into())),
            Short('e') | Long("events") => {
                events = Some(parse_events(&args.value()?.string()?, events)?);
            }
            Long("json") => json = true,
            Long("deny") => deny = Some(args.value()?.string()?),
            Long("count") => count = parse_count(&mut args)?,
            Long("timeout") => timeout = parse_timeout(&mut args)?,
            Short('h') | Long("help") => return Ok(print(FANOTIFY_USAGE)),
            Value(path) => marks.push((MarkTarget::Inode, path.into())),
            other => return Err(other.unexpected().into()),
        }
    }
    if marks.is_empty() {
        return Err(Usage(
            "fanotify: give --mount PATH, --fs PATH or PATHs to watch".into(),
        ));
    }
    let events = events
        .unwrap_or(EventMask::OPEN | EventMask::ACCESS | EventMask::MODIFY | EventMask::CLOSE);
    let flags = EventMask::ONDIR | EventMask::EVENT_ON_CHILD;
    if events.intersects(flags) {
        return Err(Usage(format!(
            "fanotify: {} {} mark flags, not events: directories and children are always included",
            events & flags,
            if (events & flags).bits().count_ones() > 1 {
                "are"
            } else {
                "is"
            },
        )));
    }
    if (events - flags).is_empty() {
        return Err(Usage("fanotify: -e names no event".into()));
    }
    if deny.is_some() && events.intersects(EventMask::DIRENT) {
        return Err(Usage(format!(
            "fanotify: --deny cannot go with {}: permission events hand out an fd of the file, \
             {} are reported by file handle, and one fanotify group cannot do both; run two \
             butter fanotify",
            events & EventMask::DIRENT,
            events & EventMask::DIRENT
        )));
    }
    Ok(
        match run_fanotify(&marks, events, json, deny.as_deref(), count, timeout) {
            Ok(code) => code,
            Err(e) => fail(&e),
        },
    )
}

fn run_fanotify(
    marks: &[(butter::notify::fanotify::MarkTarget, std::path::PathBuf)],
    events: butter::notify::fanotify::EventMask,
    json: bool,
    deny: Option<&str>,
    count: Option<u64>,
    timeout: Option<std::time::Duration>,
) -> butter::Result<ExitCode> {
    use butter::EventSource;
    use butter::notify::fanotify::{
        Class, EventMask, Fanotify, InitFlags, MarkFlags, MarkTarget, Response,
    };
    use butter_cli::fanotify::{event_paths, glob_match, json_line, text_line, who};
    use std::time::Instant;
    let by_handle = events.intersects(EventMask::DIRENT);
    let class = if deny.is_some() {
        Class::Content
    } else {
        Class::Notif
    };
    let flags = if by_handle {
        InitFlags::REPORT_DFID_NAME | InitFlags::REPORT_FID
    } else {
        InitFlags::empty()
    };
    let group = Fanotify::new(class, flags)?;
    let mut mask = events;
    if deny.is_some() {
        mask |= EventMask::OPEN_PERM;
    }
    for (target, path) in marks {
        // Directories too, as fatrace reports them (mkdir, rmdir, mv of a
        // directory, opens of one).
        let mut m = mask | EventMask::ONDIR;
        if *target == MarkTarget::Inode && path.is_dir() {
            m |= EventMask::EVENT_ON_CHILD;
        }
        group.mark(*target, path, m, MarkFlags::empty())?;
    }
    eprintln!("butter fanotify: watching {} mark(s)", marks.len());
    if group.is_unprivileged() {
        eprintln!(
            "butter fanotify: unprivileged: other processes' pids are withheld by the kernel (shown as -); \
             paths resolve against the marked directories"
        );
    }
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut printed = 0u64;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(std::time::Duration::ZERO) {
            return Ok(ExitCode::SUCCESS);
        }
        if !group.wait(left)? {
            continue;
        }
        let mut batch = Vec::new();
        group.read_events(&mut batch)?;
        // Names first: a short-lived process is gone by the time paths are resolved.
        let whos: Vec<_> = batch.iter().map(who).collect();
        for (mut event, who) in batch.into_iter().zip(whos) {
            let (path, to) = event_paths(&group, &event);
            let verdict = if event.is_permission() {
                let denied = deny
                    .zip(path.as_deref())
                    .is_some_and(|(g, p)| glob_match(g, &p.to_string_lossy()));
                event.respond(
                    if denied {
                        Response::Deny
                    } else {
                        Response::Allow
                    },
                    false,
                )?;
                Some(if denied { "denied" } else { "allowed" })
            } else {
                None
            };
            let now = std::time::SystemTime::now();
            let line = if json {
                json_line(&event, &who, path.as_deref(), to.as_deref(), verdict, now)
            } else {
                text_line(&event, &who, path.as_deref(), to.as_deref(), verdict, now)
            };
            drop(event);
            if let Some(code) = emit(line) {
                return Ok(code);
            }
            printed += 1;
            if count.is_some_and(|n| printed >= n) {
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
}

/// Reports a runtime error and returns exit status 1.
fn fail(err: &butter::Error) -> ExitCode {
    eprintln!("butter: {err}");
    ExitCode::FAILURE
}

/// Writes one output line, flushed; `Some(exit code)` when the run should
/// end: the reader went away (`butter ... | head`: success), or writing failed.
fn emit(line: String) -> Option<ExitCode> {
    match write_out(&(line + "\n")) {
        Ok(()) => None,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Some(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("butter: writing output: {e}");
            Some(ExitCode::FAILURE)
        }
    }
}

/// Writes `text` to stdout and flushes it, so that each line reaches a pipe
/// as it happens.
fn write_out(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes `text` to stdout; a closed stdout (`butter doctor | head`) is not
/// an error worth a panic.
fn print(text: &str) -> ExitCode {
    match write_out(text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("butter: writing output: {e}");
            ExitCode::FAILURE
        }
    }
}

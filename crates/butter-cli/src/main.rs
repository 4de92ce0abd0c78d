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
  --count N    exit after N signals
";

fn signals(mut args: lexopt::Parser) -> Result<ExitCode, Usage> {
    use butter::signalfd::{SigSet, Signal, Signals};
    use lexopt::prelude::*;
    let (mut as_json, mut count, mut set) = (false, None::<u64>, SigSet::empty());
    while let Some(arg) = args.next()? {
        match arg {
            Long("json") => as_json = true,
            Long("count") => count = Some(args.value()?.parse()?),
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
Usage: butter watch [-r] [-e EVENTS] [--json] [--timeout SECS] [--count N] PATH...

Prints file events as they happen, one line each: time, events, path (and
the new path of a rename, paired from its two halves). Says on stderr when
its watches are in place.

  -r, --recursive   watch directories and everything below them; new
                    directories are watched and scanned at once
  -e, --events E    events to watch for, such as create|delete|moved_to
                    (access modify attrib close_write close_nowrite open
                    moved_from moved_to create delete delete_self
                    move_self close move all); default all
  --json            one JSON object per line
  --timeout SECS    stop after SECS seconds
  --count N         stop after N events
";

fn watch(mut args: lexopt::Parser) -> Result<ExitCode, Usage> {
    use butter::notify::inotify::EventMask;
    use lexopt::prelude::*;
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
                let text = args.value()?.string()?;
                opts.events = text.parse().map_err(|e: butter::Error| {
                    Usage(e.detail().unwrap_or("bad events").to_owned())
                })?;
            }
            Long("json") => opts.json = true,
            Long("timeout") => {
                let secs: f64 = args.value()?.parse()?;
                opts.timeout =
                    Some(std::time::Duration::try_from_secs_f64(secs).map_err(|_| {
                        Usage(format!("--timeout {secs}: not a number of seconds"))
                    })?);
            }
            Long("count") => opts.count = Some(args.value()?.parse()?),
            Short('h') | Long("help") => return Ok(print(WATCH_USAGE)),
            Value(path) => paths.push(std::path::PathBuf::from(path)),
            other => return Err(other.unexpected().into()),
        }
    }
    if paths.is_empty() {
        return Err(Usage("watch: name at least one path".into()));
    }
    Ok(match run_watch(&paths, &opts) {
        Ok(code) => code,
        Err(e) => fail(&e),
    })
}

struct WatchOptions {
    recursive: bool,
    events: butter::notify::inotify::EventMask,
    json: bool,
    timeout: Option<std::time::Duration>,
    count: Option<u64>,
}

/// Watches `paths` and prints records until the count or the deadline.
fn run_watch(paths: &[std::path::PathBuf], opts: &WatchOptions) -> butter::Result<ExitCode> {
    use butter::EventSource;
    use butter::notify::inotify::{Inotify, RecursiveWatcher, WatchFlags};
    use butter_cli::watch::{Record, from_change, from_path_event, json_line, text_line};
    use std::time::{Duration, Instant};

    enum Sources {
        Flat(Inotify, std::collections::HashMap<i32, std::path::PathBuf>),
        Trees(Vec<RecursiveWatcher>),
    }
    let sources = if opts.recursive {
        Sources::Trees(
            paths
                .iter()
                .map(|p| RecursiveWatcher::new(p, opts.events))
                .collect::<Result<_, _>>()?,
        )
    } else {
        let inotify = Inotify::new()?;
        let mut dirs = std::collections::HashMap::new();
        for path in paths {
            let wd = inotify.add_watch(path, opts.events, WatchFlags::empty())?;
            dirs.insert(wd.raw(), path.clone());
        }
        Sources::Flat(inotify, dirs)
    };
    eprintln!("butter watch: watching {} path(s)", paths.len());
    let deadline = opts.timeout.and_then(|t| Instant::now().checked_add(t));
    let mut printed = 0u64;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Ok(ExitCode::SUCCESS);
        }
        let records: Vec<Record> = match &sources {
            Sources::Flat(inotify, dirs) => {
                if !inotify.wait(left)? {
                    continue;
                }
                let mut changes = Vec::new();
                inotify.read_events(&mut changes)?;
                changes.iter().map(|c| from_change(dirs, c)).collect()
            }
            Sources::Trees(watchers) => {
                let ready: Vec<&RecursiveWatcher> = watchers
                    .iter()
                    .filter(|w| w.wait(Some(Duration::ZERO)).unwrap_or(true))
                    .collect();
                if ready.is_empty() {
                    wait_any(watchers, left)?;
                    continue;
                }
                let mut events = Vec::new();
                for w in ready {
                    w.read_events(&mut events)?;
                }
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

/// Waits until any of the watchers' fds is readable, or `timeout` passes.
fn wait_any(
    watchers: &[butter::notify::inotify::RecursiveWatcher],
    timeout: Option<std::time::Duration>,
) -> butter::Result<()> {
    use butter::fd_core::SyscallResult;
    use rustix::event::{PollFd, PollFlags, poll};
    let mut fds: Vec<PollFd<'_>> = watchers
        .iter()
        .map(|w| PollFd::new(w, PollFlags::IN))
        .collect();
    let ts = timeout
        .map(|t| butter::fd_core::duration_to_timespec("poll", t))
        .transpose()?;
    match poll(&mut fds, ts.as_ref()) {
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
        Err(e) => Err(e).syscall("poll"),
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
Usage: butter fanotify [--mount PATH | --fs PATH | PATH...] [-e EVENTS] [--json]
                       [--deny GLOB] [--count N] [--timeout SECS]

Prints one line per file event: time, pid, process name, events, path, like
fatrace. Needs CAP_SYS_ADMIN for --mount and --fs; PATHs are marked inode by
inode (with their children for directories). Says on stderr when its marks
are in place.

  --mount PATH    every file on PATH's mount
  --fs PATH       every file on PATH's filesystem, on any mount
  -e EVENTS       such as open|close_write|modify (default
                  open|access|modify|close); create, delete, moved_from,
                  moved_to, rename, attrib report by file handle
  --json          one JSON object per line
  --deny GLOB     answer open permission events: deny paths matching GLOB
                  (* and ?), allow the rest; the verdict ends each line
  --count N       stop after N events
  --timeout SECS  stop after SECS seconds
";

fn fanotify_command(mut args: lexopt::Parser) -> Result<ExitCode, Usage> {
    use butter::notify::fanotify::{EventMask, MarkTarget};
    use lexopt::prelude::*;
    let mut events = EventMask::OPEN | EventMask::ACCESS | EventMask::MODIFY | EventMask::CLOSE;
    let (mut json, mut deny, mut count, mut timeout) = (false, None::<String>, None::<u64>, None);
    let mut marks: Vec<(MarkTarget, std::path::PathBuf)> = Vec::new();
    while let Some(arg) = args.next()? {
        match arg {
            Long("mount") => marks.push((MarkTarget::Mount, args.value()?.into())),
            Long("fs") => marks.push((MarkTarget::Filesystem, args.value()?.into())),
            Short('e') | Long("events") => {
                let text = args.value()?.string()?;
                events = text.parse().map_err(|e: butter::Error| {
                    Usage(e.detail().unwrap_or("bad events").to_owned())
                })?;
            }
            Long("json") => json = true,
            Long("deny") => deny = Some(args.value()?.string()?),
            Long("count") => count = Some(args.value()?.parse()?),
            Long("timeout") => {
                let secs: f64 = args.value()?.parse()?;
                timeout =
                    Some(std::time::Duration::try_from_secs_f64(secs).map_err(|_| {
                        Usage(format!("--timeout {secs}: not a number of seconds"))
                    })?);
            }
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
    use butter_cli::fanotify::{event_path, glob_match, json_line, text_line};
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
        let mut m = mask;
        if *target == MarkTarget::Inode && path.is_dir() {
            m |= EventMask::EVENT_ON_CHILD | EventMask::ONDIR;
        }
        group.mark(*target, path, m, MarkFlags::empty())?;
    }
    eprintln!("butter fanotify: watching {} mark(s)", marks.len());
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
        for mut event in batch {
            let path = event_path(&group, &event);
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
                json_line(&event, path.as_deref(), verdict, now)
            } else {
                text_line(&event, path.as_deref(), verdict, now)
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

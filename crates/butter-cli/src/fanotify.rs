//! `butter fanotify`: who touches which file, like `fatrace`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use butter::notify::fanotify::{Event, EventMask, Fanotify, FidKind, MarkTarget};

use crate::output::{parse_mask, parse_timeout};
use crate::{json, time};

/// Compiles a `--deny` glob: `*` matches any run of characters (`/`
/// included, so `*secret*` matches anywhere in a path), `?` one character,
/// `[abc]` and `{a,b}` as usual (globset).
///
/// # Errors
/// globset's message for a malformed pattern.
pub fn parse_glob(glob: &str) -> Result<globset::GlobMatcher, String> {
    globset::GlobBuilder::new(glob)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| e.to_string())
}

/// The process's name, from `/proc/<pid>/comm`; `?` once it is gone.
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map_or_else(|_| "?".to_owned(), |s| s.trim_end().to_owned())
}

/// The event's path: from its fd, or from its file-handle record.
pub fn event_path(group: &Fanotify, event: &Event) -> Option<PathBuf> {
    if let Ok(p) = event.path() {
        return Some(p);
    }
    [
        FidKind::DfidName,
        FidKind::OldDfidName,
        FidKind::NewDfidName,
        FidKind::Fid,
        FidKind::Dfid,
    ]
    .into_iter()
    .find_map(|kind| resolve(group, event, kind))
}

fn resolve(group: &Fanotify, event: &Event, kind: FidKind) -> Option<PathBuf> {
    let (handle, name) = event.fid(kind)?;
    group.path_of(&handle, name).ok()
}

/// The event's path, and for a rename (`FAN_RENAME`, which carries both
/// ends) the new path too.
pub fn event_paths(group: &Fanotify, event: &Event) -> (Option<PathBuf>, Option<PathBuf>) {
    if event.fid(FidKind::OldDfidName).is_some() || event.fid(FidKind::NewDfidName).is_some() {
        return (
            resolve(group, event, FidKind::OldDfidName),
            resolve(group, event, FidKind::NewDfidName),
        );
    }
    (event_path(group, event), None)
}

fn show(path: Option<&Path>) -> String {
    path.map_or_else(|| "?".to_owned(), crate::output::escape_path)
}

/// Who caused an event: its pid (`None` where the kernel withheld it: an
/// unprivileged group sees only its own) and process name (`?` once the
/// process is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    /// The pid, if the kernel gave it.
    pub pid: Option<u32>,
    /// The name from `/proc/PID/comm`.
    pub comm: String,
}

/// Reads who caused `event`. Call it as soon as the event is read, before
/// anything slower: a short-lived process (`mkdir`, `mv`) is soon gone.
pub fn who(event: &Event) -> Who {
    match event.pid() {
        0 => Who {
            pid: None,
            comm: "-".into(),
        },
        pid => Who {
            pid: Some(pid),
            comm: comm(pid),
        },
    }
}

/// `TIME PID NAME EVENTS PATH [-> NEW] [verdict]`.
pub fn text_line(
    event: &Event,
    who: &Who,
    path: Option<&Path>,
    to: Option<&Path>,
    verdict: Option<&str>,
    at: SystemTime,
) -> String {
    let pid = who.pid.map_or_else(|| "-".to_owned(), |p| p.to_string());
    let mut line = format!(
        "{} {pid} {} {} {}",
        time::rfc3339(at),
        crate::output::escape_bytes(who.comm.as_bytes()),
        event.mask(),
        show(path)
    );
    if let Some(to) = to {
        line.push_str(&format!(" -> {}", crate::output::escape_path(to)));
    }
    if let Some(v) = verdict {
        line.push_str(&format!(" [{v}]"));
    }
    line
}

/// One JSON object per event; `pid` and `comm` are `null` where the kernel
/// withheld the pid, `path` is `null` where it could not be resolved.
pub fn json_line(
    event: &Event,
    who: &Who,
    path: Option<&Path>,
    to: Option<&Path>,
    verdict: Option<&str>,
    at: SystemTime,
) -> String {
    let mut o = json::Map::new();
    o.insert("time".into(), time::rfc3339(at).into());
    o.insert("pid".into(), who.pid.into());
    o.insert("comm".into(), who.pid.map(|_| who.comm.clone()).into());
    o.insert("events".into(), event.mask().to_string().into());
    match path {
        Some(p) => json::put_path(&mut o, "path", p),
        None => {
            o.insert("path".into(), json::Value::Null);
        }
    }
    if let Some(to) = to {
        json::put_path(&mut o, "to", to);
    }
    if let Some(v) = verdict {
        o.insert("verdict".into(), v.into());
    }
    json::line(o)
}

/// `butter fanotify`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    help_template = crate::output::HELP_TEMPLATE,
    about = "Who touches which file, like fatrace; --deny refuses opens",
    long_about = "Prints one line per file event: time, pid, process name, events, path, like \
fatrace; directories included; its own accesses (such as writing its output) are left out, as \
fatrace leaves out its own. Needs CAP_SYS_ADMIN for --mount and --fs; PATHs are marked inode by \
inode (with their children for directories). Says on stderr when its marks are in place.\n\n\
Without CAP_SYS_ADMIN (Linux 5.13+, PATHs only, create/delete/rename/attrib events): the kernel \
gives no fds and withholds other processes' pids, shown as - (your own are shown); paths are \
resolved against the marked directories, and ? stands for what cannot be resolved.\n\n\
In names and paths, backslashes, control characters and bytes that are not UTF-8 are escaped as \
ls -b does (\\\\, \\n, \\033, \\377), so each event is one line; --json keeps the exact bytes."
)]
pub struct Args {
    /// Every file on PATH's mount.
    #[arg(long, value_name = "PATH")]
    pub mount: Vec<PathBuf>,
    /// Every file on PATH's filesystem, on any mount.
    #[arg(long, value_name = "PATH")]
    pub fs: Vec<PathBuf>,
    /// Such as open|close_write|modify or open,modify; repeat -e to add
    /// more (default open|access|modify|close). create, delete, moved_from,
    /// moved_to, rename, attrib report by file handle; rename shows OLD ->
    /// NEW.
    #[arg(short, long = "events", value_name = "EVENTS", value_parser = parse_mask::<EventMask>)]
    pub events: Vec<EventMask>,
    /// One JSON object per line; a path that is not UTF-8 is also given as
    /// bytes (path_bytes, to_bytes).
    #[arg(long)]
    pub json: bool,
    /// Answer open permission events: deny paths matching GLOB, allow the
    /// rest (see the command's help for the syntax and limits).
    #[arg(
        long,
        value_name = "GLOB",
        value_parser = parse_glob,
        help = "Answer open permission events: deny paths matching GLOB (*, ?, [abc], {a,b}), \
allow the rest; the verdict ends each line. Not with create/delete/rename events (one group \
cannot both hand out fds for permission events and report by file handle). An open with O_CREAT \
that is denied still leaves the file it created: the kernel creates it before it asks."
    )]
    pub deny: Option<globset::GlobMatcher>,
    /// Stop after N events (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub count: u64,
    /// Stop after SECS seconds (0: no timeout).
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,
    /// Files and directories to mark inode by inode.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Runs `butter fanotify`.
pub fn run(args: &Args) -> crate::output::Outcome {
    use crate::output::{UsageError, fail};
    let mut marks: Vec<(MarkTarget, PathBuf)> = Vec::new();
    marks.extend(args.mount.iter().map(|p| (MarkTarget::Mount, p.clone())));
    marks.extend(args.fs.iter().map(|p| (MarkTarget::Filesystem, p.clone())));
    marks.extend(args.paths.iter().map(|p| (MarkTarget::Inode, p.clone())));
    if marks.is_empty() {
        return Err(UsageError(
            "fanotify: give --mount PATH, --fs PATH or PATHs to watch".into(),
        ));
    }
    let events = args
        .events
        .iter()
        .copied()
        .reduce(|a, b| a | b)
        .unwrap_or(EventMask::OPEN | EventMask::ACCESS | EventMask::MODIFY | EventMask::CLOSE);
    let flags = EventMask::ONDIR | EventMask::EVENT_ON_CHILD;
    if events.intersects(flags) {
        let these = events & flags;
        let verb = if these.bits().count_ones() > 1 {
            "are"
        } else {
            "is"
        };
        return Err(UsageError(format!(
            "fanotify: {these} {verb} mark flags, not events: directories and children are always included"
        )));
    }
    if args.deny.is_some() && events.intersects(EventMask::DIRENT) {
        let these = events & EventMask::DIRENT;
        return Err(UsageError(format!(
            "fanotify: --deny cannot go with {these}: permission events hand out an fd of the file, \
             {these} are reported by file handle, and one fanotify group cannot do both; run two \
             butter fanotify"
        )));
    }
    Ok(match watch(args, &marks, events) {
        Ok(code) => code,
        Err(e) => fail(&e),
    })
}

fn watch(
    args: &Args,
    marks: &[(MarkTarget, PathBuf)],
    events: EventMask,
) -> butter::Result<std::process::ExitCode> {
    use crate::output::Bounds;
    use butter::EventSource;
    use butter::notify::fanotify::{Class, InitFlags, MarkFlags, Response};
    use std::process::ExitCode;
    let by_handle = events.intersects(EventMask::DIRENT);
    let class = if args.deny.is_some() {
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
    if args.deny.is_some() {
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
            "butter fanotify: unprivileged: other processes' pids are withheld by the kernel \
             (shown as -); paths resolve against the marked directories"
        );
    }
    // What this process does itself (writing its output to a file on the
    // marked mount, reading /proc to name a process) is not reported, as
    // fatrace leaves out its own: `butter fanotify --mount /tmp > /tmp/log`
    // would otherwise log its own writes to the log.
    let me = std::process::id();
    let mut bounds = Bounds::new(args.timeout, args.count);
    loop {
        let Some(left) = bounds.left() else {
            return Ok(ExitCode::SUCCESS);
        };
        if !group.wait_readable(left)? {
            continue;
        }
        let mut batch = Vec::new();
        group.read_events(&mut batch)?;
        // Names first: a short-lived process is gone by the time paths are resolved.
        let whos: Vec<Who> = batch.iter().map(who).collect();
        for (mut event, who) in batch.into_iter().zip(whos) {
            if event.pid() == me {
                if event.is_permission() {
                    event.respond(Response::Allow, false)?;
                }
                continue;
            }
            let (path, to) = event_paths(&group, &event);
            let verdict = if event.is_permission() {
                let denied = args
                    .deny
                    .as_ref()
                    .zip(path.as_deref())
                    .is_some_and(|(g, p)| g.is_match(p));
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
            let now = SystemTime::now();
            let line = if args.json {
                json_line(&event, &who, path.as_deref(), to.as_deref(), verdict, now)
            } else {
                text_line(&event, &who, path.as_deref(), to.as_deref(), verdict, now)
            };
            drop(event);
            if let Some(code) = bounds.emit(line) {
                return Ok(code);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_glob;

    #[test]
    fn globs() {
        let m = |g: &str, p: &str| parse_glob(g).unwrap().is_match(p);
        assert!(m("*secret*", "/tmp/x/secret.txt"));
        assert!(m("/tmp/?.log", "/tmp/a.log"));
        assert!(!m("/tmp/?.log", "/tmp/ab.log"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("**.rs", "src/main.rs"));
        assert!(m("/srv/{a,b}/*.txt", "/srv/b/x.txt"));
        assert!(m("*.[ch]", "/src/x.h"));
        assert!(!m("", "x"));
        let err = parse_glob("a[b").unwrap_err();
        assert!(err.contains("unclosed character class"), "{err}");
    }
}

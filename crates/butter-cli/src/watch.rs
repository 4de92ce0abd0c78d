//! `butter watch`: file events as they happen, like `inotifywait -m`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use butter::notify::inotify::{Change, EventMask, PathEvent, WatchEvent};

use crate::output::{parse_mask, parse_timeout};
use crate::{json, time};

/// One line of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The file or directory (the old path for a rename).
    pub path: PathBuf,
    /// What happened, as `create|isdir`, `moved_from|moved_to`, `overflow`.
    pub events: String,
    /// The new path, for a rename.
    pub to: Option<PathBuf>,
    /// The rename cookie, when the kernel gave one.
    pub cookie: u32,
}

impl Record {
    fn new(path: PathBuf, events: impl Into<String>) -> Record {
        Record {
            path,
            events: events.into(),
            to: None,
            cookie: 0,
        }
    }
}

fn join(dirs: &HashMap<i32, PathBuf>, e: &WatchEvent<OsString>) -> PathBuf {
    let dir = dirs.get(&e.wd.raw()).cloned().unwrap_or_default();
    match &e.name {
        Some(name) => dir.join(name),
        None => dir,
    }
}

/// A record for a change from a flat (non-recursive) watch; `dirs` maps
/// watch descriptors to the paths given on the command line.
pub fn from_change(dirs: &HashMap<i32, PathBuf>, change: &Change<OsString>) -> Record {
    match change {
        Change::Event(e) => Record {
            cookie: e.cookie,
            ..Record::new(join(dirs, e), e.mask.to_string())
        },
        Change::Renamed { from, to } => Record {
            to: Some(join(dirs, to)),
            cookie: from.cookie,
            ..Record::new(join(dirs, from), (from.mask | to.mask).to_string())
        },
        Change::MovedOut(e) => Record {
            cookie: e.cookie,
            ..Record::new(join(dirs, e), e.mask.to_string())
        },
        Change::MovedIn(e) => Record {
            cookie: e.cookie,
            ..Record::new(join(dirs, e), e.mask.to_string())
        },
        Change::Overflow => Record::new(PathBuf::new(), "overflow"),
    }
}

/// Warns on stderr about a directory the watcher could not watch, as
/// inotifywait does ("Couldn't watch new directory"), and says whether
/// `event` was that.
fn warn_not_watched(event: &PathEvent) -> bool {
    let PathEvent::NotWatched { path, errno } = event else {
        return false;
    };
    let why = if *errno == libc_enospc() {
        // The limit in force for this user namespace (the machine's
        // fs.inotify.max_user_watches outside any).
        format!(
            "the inotify watch limit ({}) is reached (sysctl fs.inotify.max_user_watches=N raises it)",
            std::fs::read_to_string("/proc/sys/user/max_inotify_watches")
                .or_else(|_| std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches"))
                .unwrap_or_default()
                .trim()
        )
    } else {
        std::io::Error::from_raw_os_error(*errno).to_string()
    };
    eprintln!(
        "butter watch: warning: could not watch new directory {}: {why}; events inside it are not reported",
        crate::output::escape_path(path)
    );
    true
}

fn libc_enospc() -> i32 {
    rustix::io::Errno::NOSPC.raw_os_error()
}

/// A record for an event from a recursive watch.
pub fn from_path_event(event: &PathEvent) -> Record {
    let dir_bit = |is_dir: bool| {
        if is_dir {
            EventMask::ISDIR
        } else {
            EventMask::empty()
        }
    };
    match event {
        PathEvent::Event {
            path,
            mask,
            from_scan,
        } => {
            let mut events = mask.to_string();
            if *from_scan {
                events.push_str("|scanned");
            }
            Record::new(path.clone(), events)
        }
        PathEvent::Renamed { from, to, is_dir } => Record {
            to: Some(to.clone()),
            ..Record::new(
                from.clone(),
                (EventMask::MOVE | dir_bit(*is_dir)).to_string(),
            )
        },
        PathEvent::MovedOut { path, is_dir } => Record::new(
            path.clone(),
            (EventMask::MOVED_FROM | dir_bit(*is_dir)).to_string(),
        ),
        PathEvent::MovedIn { path, is_dir } => Record::new(
            path.clone(),
            (EventMask::MOVED_TO | dir_bit(*is_dir)).to_string(),
        ),
        PathEvent::RescanNeeded => Record::new(PathBuf::new(), "overflow|rescan"),
        PathEvent::NotWatched { path, .. } => Record::new(path.clone(), "not_watched"),
        PathEvent::RootAppeared { path } => Record::new(path.clone(), "root_appeared"),
        PathEvent::RootGone { path } => Record::new(path.clone(), "root_gone"),
        // A kind a newer notify-fd reports: named by its Debug form.
        other => Record::new(PathBuf::new(), format!("{other:?}")),
    }
}

fn show(path: &Path) -> String {
    crate::output::escape_path(path)
}

/// `TIME EVENTS PATH [-> NEW] [cookie N]`.
pub fn text_line(record: &Record, at: SystemTime) -> String {
    let mut line = format!(
        "{} {} {}",
        time::rfc3339(at),
        record.events,
        show(&record.path)
    );
    if let Some(to) = &record.to {
        line.push_str(&format!(" -> {}", show(to)));
    }
    if record.cookie != 0 {
        line.push_str(&format!(" cookie {}", record.cookie));
    }
    line
}

/// One JSON object per event. Paths that are not UTF-8 are written with
/// replacement characters; `path_bytes` (and `to_bytes` for a rename's new
/// path) keep the exact bytes then.
pub fn json_line(record: &Record, at: SystemTime) -> String {
    let mut o = json::Map::new();
    o.insert("time".into(), time::rfc3339(at).into());
    o.insert("events".into(), record.events.clone().into());
    json::put_path(&mut o, "path", &record.path);
    if let Some(to) = &record.to {
        json::put_path(&mut o, "to", to);
    }
    if record.cookie != 0 {
        o.insert("cookie".into(), record.cookie.into());
    }
    json::line(o)
}

/// `butter watch`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    help_template = crate::output::HELP_TEMPLATE,
    about = "Print file events as they happen, like inotifywait -m",
    long_about = "Prints file events as they happen, one line each: time, events, path (and the \
new path of a rename, paired from its two halves), in the kernel's order. Says on stderr when its \
watches are in place. In names, backslashes, control characters and bytes that are not UTF-8 are \
escaped as ls -b does (\\\\, \\n, \\033, \\377), so each event is one line; --json keeps the exact \
bytes."
)]
pub struct Args {
    /// Watch directories and everything below them: new directories are
    /// watched and scanned at once (what the scan finds is marked scanned,
    /// and each entry is printed once); a PATH that is a symbolic link is
    /// followed; its own listings print nothing. After a queue overflow
    /// (overflow|rescan) the tree is walked again at once, so directories
    /// made meanwhile are watched.
    #[arg(short, long)]
    pub recursive: bool,
    /// Events to print, such as create|delete|moved_to or create,delete;
    /// repeat -e to add more (access modify attrib close_write
    /// close_nowrite open moved_from moved_to create delete delete_self
    /// move_self close move unmount ignored all). Default: all of them.
    #[arg(short, long = "events", value_name = "EVENTS", value_parser = parse_mask::<EventMask>)]
    pub events: Vec<EventMask>,
    /// One JSON object per line; a path that is not UTF-8 is also given as
    /// bytes (path_bytes, to_bytes).
    #[arg(long)]
    pub json: bool,
    /// Stop after SECS seconds (0: no timeout, as inotifywait -t 0).
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,
    /// Stop after N events (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub count: u64,
    /// Leave out what matches GLOB (repeatable): with -r a matching
    /// directory is never watched, nor anything below it. A glob without
    /// a / matches a name at any depth (node_modules, *.o); one with a /
    /// the path from the watched directory (build/out, src/**/*.rs), as
    /// .gitignore patterns; like inotifywait's --exclude, with globs.
    #[arg(long, value_name = "GLOB", action = clap::ArgAction::Append)]
    pub exclude: Vec<String>,
    /// Print only events whose path matches GLOB (repeatable; any of them),
    /// as inotifywait's --include, with globs as --exclude takes them.
    #[arg(long, value_name = "GLOB", action = clap::ArgAction::Append)]
    pub include: Vec<String>,
    /// With -r, how the tree is watched: inotify (a watch on every
    /// directory; the default), fanotify (one mark on each PATH's whole
    /// filesystem, needs root: no watch limit, ready at once on any tree),
    /// auto (fanotify where it works, inotify otherwise), or poll (the
    /// tree listed again every --poll-interval, for filesystems that
    /// report nothing: NFS changed elsewhere, FUSE, sysfs). Says on stderr
    /// which one it uses, and with auto why not fanotify.
    #[arg(long, value_name = "BACKEND", value_parser = parse_backend)]
    pub backend: Option<butter::notify::inotify::Backend>,
    /// With -r, a PATH that does not exist yet is waited for (from the
    /// nearest directory above it that does) and watched once it is made,
    /// printed as root_appeared; one deleted or moved away prints
    /// root_gone and is waited for again.
    #[arg(long)]
    pub wait_for_roots: bool,
    /// With -r, print each path's events only once it has been quiet for
    /// DURATION (200ms, 1.5s): a burst of writes is one line with the
    /// events joined, a file made and removed meanwhile is none, a file
    /// made and renamed is made at its last name, a removed tree is one
    /// delete of its top.
    #[arg(long, value_name = "DURATION", value_parser = parse_settle)]
    pub settle: Option<std::time::Duration>,
    /// With --backend poll, how often the tree is listed (1s unless set).
    #[arg(long, value_name = "DURATION", value_parser = parse_settle)]
    pub poll_interval: Option<std::time::Duration>,
    /// With -r, follow symbolic links to directories below PATH (as
    /// fswatch -L, find -L): what they lead to is watched under the link's
    /// path, each directory once, loops not walked. inotify backend only.
    #[arg(short = 'L', long)]
    pub follow_links: bool,
    /// Files and directories to watch.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

/// `--settle`: a number with `ms` or `s`.
fn parse_settle(s: &str) -> Result<std::time::Duration, String> {
    let (number, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        return Err(format!("{s:?} needs a unit: 200ms or 1.5s"));
    };
    number
        .parse::<f64>()
        .ok()
        .and_then(|v| std::time::Duration::try_from_secs_f64(v * scale).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{s:?} is not a duration above zero (200ms, 1.5s)"))
}

fn parse_backend(s: &str) -> Result<butter::notify::inotify::Backend, String> {
    s.parse()
        .map_err(|e: butter::Error| e.detail().unwrap_or_default().to_owned())
}

/// The --exclude and --include globs, or a usage error naming the one
/// that does not parse.
fn path_filter(args: &Args) -> Result<butter::notify::PathFilter, crate::output::UsageError> {
    let mut filter = butter::notify::PathFilter::new();
    for g in &args.exclude {
        filter.exclude(g).map_err(|e| {
            crate::output::UsageError(format!("--exclude {g}: {}", e.detail().unwrap_or_default()))
        })?;
    }
    for g in &args.include {
        filter.include(g).map_err(|e| {
            crate::output::UsageError(format!("--include {g}: {}", e.detail().unwrap_or_default()))
        })?;
    }
    Ok(filter)
}

/// Runs `butter watch`.
pub fn run(args: &Args) -> crate::output::Outcome {
    let filter = path_filter(args)?;
    if args.backend.is_some() && !args.recursive {
        return Err(crate::output::UsageError(
            "--backend chooses how a tree is watched: it needs -r".to_owned(),
        ));
    }
    if args.settle.is_some() && !args.recursive {
        return Err(crate::output::UsageError(
            "--settle settles a tree watcher's events: it needs -r".to_owned(),
        ));
    }
    if args.poll_interval.is_some() && args.backend != Some(butter::notify::inotify::Backend::Poll)
    {
        return Err(crate::output::UsageError(
            "--poll-interval is how often --backend poll lists the tree: it needs --backend poll"
                .to_owned(),
        ));
    }
    if args.follow_links && !args.recursive {
        return Err(crate::output::UsageError(
            "--follow-links follows links below a tree's root: it needs -r".to_owned(),
        ));
    }
    if args.wait_for_roots && !args.recursive {
        return Err(crate::output::UsageError(
            "--wait-for-roots waits for a tree's root: it needs -r".to_owned(),
        ));
    }
    Ok(match watch(args, filter) {
        Ok(code) => code,
        Err(e) => crate::output::fail(&e),
    })
}

fn watch(
    args: &Args,
    filter: butter::notify::PathFilter,
) -> butter::Result<std::process::ExitCode> {
    use crate::output::Bounds;
    use butter::EventSource;
    use butter::notify::inotify::{Inotify, RecursiveOptions, RecursiveWatcher, WatchFlags};
    use std::process::ExitCode;

    enum Source {
        Flat(Inotify, HashMap<i32, PathBuf>),
        Tree(Box<RecursiveWatcher>),
        Settled(Box<butter::notify::Debouncer>),
    }
    // Not asked for: every event, and the ones the kernel reports unasked.
    let wanted = args
        .events
        .iter()
        .copied()
        .reduce(|a, b| a | b)
        .unwrap_or(EventMask::ALL_EVENTS | EventMask::UNMOUNT | EventMask::IGNORED);
    let paths = &args.paths;
    let source = if args.recursive {
        let options = RecursiveOptions {
            filter: filter.clone(),
            backend: args.backend.unwrap_or_default(),
            wait_for_roots: args.wait_for_roots,
            follow_symlinks: args.follow_links,
            poll_interval: args
                .poll_interval
                .unwrap_or(std::time::Duration::from_secs(1)),
            ..RecursiveOptions::default()
        };
        let tree = RecursiveWatcher::with_options(&paths[0], wanted - EventMask::IGNORED, options)?;
        for path in &paths[1..] {
            tree.add_root(path)?;
        }
        if args.backend.is_some() {
            match tree.fanotify_refused() {
                Some(why) => eprintln!(
                    "butter watch: backend {} (not fanotify: {why})",
                    tree.backend()
                ),
                None => eprintln!("butter watch: backend {}", tree.backend()),
            }
        }
        match args.settle {
            Some(settle) => {
                let settled = butter::notify::Debouncer::new(tree, settle)?;
                // Woken by its timer, it may have nothing: never block then.
                settled.set_nonblocking(true)?;
                Source::Settled(Box::new(settled))
            }
            None => Source::Tree(Box::new(tree)),
        }
    } else {
        let inotify = Inotify::new()?;
        let mut dirs = HashMap::new();
        for path in paths {
            let wd =
                inotify.add_watch(path, wanted - EventMask::REPORTED_ONLY, WatchFlags::empty())?;
            dirs.insert(wd.raw(), path.clone());
        }
        Source::Flat(inotify, dirs)
    };
    eprintln!("butter watch: watching {} path(s)", paths.len());
    // The kernel reports IGNORED and UNMOUNT whatever was asked: print them
    // only if wanted.
    let shown = |mask: EventMask| (mask - EventMask::ISDIR).intersects(wanted);
    let mut bounds = Bounds::new(args.timeout, args.count);
    loop {
        let Some(left) = bounds.left() else {
            return Ok(ExitCode::SUCCESS);
        };
        let records: Vec<Record> = match &source {
            Source::Flat(inotify, dirs) => {
                if !inotify.wait_readable(left)? {
                    continue;
                }
                let mut changes = Vec::new();
                inotify.read_events(&mut changes)?;
                changes
                    .iter()
                    .filter(|c| {
                        // The name in the watched directory is the path
                        // the globs see; the watched path itself passes.
                        let passes = |e: &WatchEvent<OsString>| {
                            e.name.as_ref().is_none_or(|n| filter.reports(Path::new(n)))
                        };
                        match c {
                            Change::Event(e) => shown(e.mask) && passes(e),
                            Change::MovedOut(e) | Change::MovedIn(e) => passes(e),
                            Change::Renamed { from, to } => passes(from) || passes(to),
                            Change::Overflow => true,
                        }
                    })
                    .map(|c| from_change(dirs, c))
                    .collect()
            }
            Source::Tree(tree) => {
                if !tree.wait_readable(left)? {
                    continue;
                }
                let mut events = Vec::new();
                tree.read_events(&mut events)?;
                events
                    .iter()
                    .filter(|e| !warn_not_watched(e))
                    .map(from_path_event)
                    .collect()
            }
            Source::Settled(settled) => {
                if !settled.wait_readable(left)? {
                    continue;
                }
                let mut events = Vec::new();
                match settled.read_events(&mut events) {
                    Ok(_) => {}
                    // The timer woke us for a path that had settled
                    // already: nothing more to print.
                    Err(e) if e.kind() == butter::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                events
                    .iter()
                    .filter(|e| !warn_not_watched(e))
                    .map(from_path_event)
                    .collect()
            }
        };
        for record in records {
            let now = SystemTime::now();
            let line = if args.json {
                json_line(&record, now)
            } else {
                text_line(&record, now)
            };
            if let Some(code) = bounds.emit(line) {
                return Ok(code);
            }
        }
    }
}

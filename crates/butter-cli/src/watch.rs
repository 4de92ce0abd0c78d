//! `butter watch`: file events as they happen, like `inotifywait -m`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use butter::notify::inotify::{Change, EventMask, PathEvent, WatchEvent};

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
    }
}

fn show(path: &Path) -> String {
    path.to_string_lossy().into_owned()
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
    let mut o = json::Object::new()
        .str("time", &time::rfc3339(at))
        .str("events", &record.events)
        .path("path", &record.path);
    if let Some(to) = &record.to {
        o = o.path("to", to);
    }
    if record.cookie != 0 {
        o = o.int("cookie", i128::from(record.cookie));
    }
    o.finish()
}

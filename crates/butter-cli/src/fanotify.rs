//! `butter fanotify`: who touches which file, like `fatrace`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use butter::notify::fanotify::{Event, Fanotify, FidKind};

use crate::{json, time};

/// Whether `path` matches `glob`: `*` any run of characters (`/` included),
/// `?` one character, anything else itself.
pub fn glob_match(glob: &str, path: &str) -> bool {
    let (g, p): (Vec<char>, Vec<char>) = (glob.chars().collect(), path.chars().collect());
    // Iterative matching with one backtrack point for the last `*`.
    let (mut gi, mut pi, mut star, mut mark) = (0, 0, None, 0);
    while pi < p.len() {
        if gi < g.len() && (g[gi] == '?' || g[gi] == p[pi]) {
            gi += 1;
            pi += 1;
        } else if gi < g.len() && g[gi] == '*' {
            star = Some(gi);
            mark = pi;
            gi += 1;
        } else if let Some(s) = star {
            gi = s + 1;
            mark += 1;
            pi = mark;
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|c| *c == '*')
}

/// The process's name, from `/proc/<pid>/comm`; `?` once it is gone.
pub fn comm(pid: i32) -> String {
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
    path.map_or_else(|| "?".to_owned(), |p| p.to_string_lossy().into_owned())
}

/// Who caused an event: its pid (`None` where the kernel withheld it: an
/// unprivileged group sees only its own) and process name (`?` once the
/// process is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    /// The pid, if the kernel gave it.
    pub pid: Option<i32>,
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
        who.comm,
        event.mask(),
        show(path)
    );
    if let Some(to) = to {
        line.push_str(&format!(" -> {}", to.to_string_lossy()));
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
    let mut o = json::Object::new().str("time", &time::rfc3339(at));
    o = match who.pid {
        None => o.raw("pid", "null").raw("comm", "null"),
        Some(pid) => o.int("pid", i128::from(pid)).str("comm", &who.comm),
    };
    o = o.str("events", &event.mask().to_string());
    o = match path {
        Some(p) => o.path("path", p),
        None => o.raw("path", "null"),
    };
    if let Some(to) = to {
        o = o.path("to", to);
    }
    if let Some(v) = verdict {
        o = o.str("verdict", v);
    }
    o.finish()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("*secret*", "/tmp/x/secret.txt"));
        assert!(glob_match("/tmp/?.log", "/tmp/a.log"));
        assert!(!glob_match("/tmp/?.log", "/tmp/ab.log"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(glob_match("**.rs", "src/main.rs"));
        assert!(!glob_match("", "x"));
    }
}

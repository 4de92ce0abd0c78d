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
    for kind in [
        FidKind::DfidName,
        FidKind::NewDfidName,
        FidKind::Fid,
        FidKind::Dfid,
    ] {
        if let Some((handle, name)) = event.fid(kind)
            && let Ok(p) = group.path_of(&handle, name)
        {
            return Some(p);
        }
    }
    None
}

fn show(path: Option<&Path>) -> String {
    path.map_or_else(|| "?".to_owned(), |p| p.to_string_lossy().into_owned())
}

/// `TIME PID NAME EVENTS PATH [-> denied]`.
pub fn text_line(
    event: &Event,
    path: Option<&Path>,
    verdict: Option<&str>,
    at: SystemTime,
) -> String {
    let mut line = format!(
        "{} {} {} {} {}",
        time::rfc3339(at),
        event.pid(),
        comm(event.pid()),
        event.mask(),
        show(path)
    );
    if let Some(v) = verdict {
        line.push_str(&format!(" [{v}]"));
    }
    line
}

/// One JSON object per event.
pub fn json_line(
    event: &Event,
    path: Option<&Path>,
    verdict: Option<&str>,
    at: SystemTime,
) -> String {
    let mut o = json::Object::new()
        .str("time", &time::rfc3339(at))
        .int("pid", i128::from(event.pid()))
        .str("comm", &comm(event.pid()))
        .str("events", &event.mask().to_string())
        .str("path", &show(path));
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

//! User and group id maps of a user namespace: `/proc/PID/uid_map`,
//! `gid_map` and `setgroups`, with the kernel's rules checked before
//! writing so that a refusal says which rule.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;

use fd_core::probe::has_capability;
use fd_core::{Error, ErrorKind, Result};

/// The most lines a map takes (Linux 4.15+).
pub const MAX_RANGES: usize = 340;

/// `CAP_SETUID`.
const CAP_SETUID: u32 = 7;
/// `CAP_SETGID`.
const CAP_SETGID: u32 = 6;

/// One line of a map: `count` ids from `inside` (in the namespace) map to
/// ids from `outside` (in the writer's namespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdMap {
    /// First id inside the namespace.
    pub inside: u32,
    /// First id outside (in the parent namespace).
    pub outside: u32,
    /// How many.
    pub count: u32,
}

impl IdMap {
    /// One id: `inside` is `outside`.
    pub fn one(inside: u32, outside: u32) -> IdMap {
        IdMap {
            inside,
            outside,
            count: 1,
        }
    }
}

impl fmt::Display for IdMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.inside, self.outside, self.count)
    }
}

impl std::str::FromStr for IdMap {
    type Err = Error;

    /// Parses `INSIDE:OUTSIDE:COUNT` (as `unshare --map-users` takes) or
    /// the file's own `INSIDE OUTSIDE COUNT`.
    fn from_str(s: &str) -> Result<IdMap> {
        let parts: Vec<&str> = if s.contains(':') {
            s.split(':').collect()
        } else {
            s.split_whitespace().collect()
        };
        let bad = || {
            Error::invalid_input_in(
                "IdMap::from_str",
                "write",
                format!("{s:?} is not INSIDE:OUTSIDE:COUNT (three unsigned numbers)"),
            )
        };
        let [a, b, c] = parts.as_slice() else {
            return Err(bad());
        };
        let n = |x: &str| x.trim().parse::<u32>().map_err(|_| bad());
        Ok(IdMap {
            inside: n(a)?,
            outside: n(b)?,
            count: n(c)?,
        })
    }
}

/// Which map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// `uid_map`.
    User,
    /// `gid_map`.
    Group,
}

impl IdKind {
    fn file(self) -> &'static str {
        match self {
            IdKind::User => "uid_map",
            IdKind::Group => "gid_map",
        }
    }
}

fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
    let (a0, a1) = (u64::from(a.0), u64::from(a.0) + u64::from(a.1));
    let (b0, b1) = (u64::from(b.0), u64::from(b.0) + u64::from(b.1));
    a0 < b1 && b0 < a1
}

/// Checks `maps` against the kernel's rules for a writer that is
/// `privileged` (holds `CAP_SETUID`/`CAP_SETGID` over the parent
/// namespace) or not, with effective id `writer_id`.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] naming the rule: no line, over
/// [`MAX_RANGES`] lines, a count of 0, a range past 2³²−1, overlapping
/// ranges inside or outside, or for an unprivileged writer anything but
/// one line mapping one id to its own.
pub fn check_maps(kind: IdKind, maps: &[IdMap], privileged: bool, writer_id: u32) -> Result<()> {
    const CALL: &str = "write id map";
    let file = kind.file();
    let refuse = |why: String| Err(Error::invalid_input(CALL, format!("{file}: {why}")));
    if maps.is_empty() {
        return refuse("a map needs at least one line".into());
    }
    if maps.len() > MAX_RANGES {
        return refuse(format!(
            "{} lines; the kernel takes at most {MAX_RANGES}",
            maps.len()
        ));
    }
    for (i, m) in maps.iter().enumerate() {
        if m.count == 0 {
            return refuse(format!("line {} ({m}) maps no id (count 0)", i + 1));
        }
        let end = |first: u32| u64::from(first) + u64::from(m.count);
        if end(m.inside) > u64::from(u32::MAX) || end(m.outside) > u64::from(u32::MAX) {
            return refuse(format!(
                "line {} ({m}) runs past id 4294967294 (ids are 32-bit and -1 is not an id)",
                i + 1
            ));
        }
        for (j, other) in maps.iter().enumerate().take(i) {
            if overlaps((m.inside, m.count), (other.inside, other.count)) {
                return refuse(format!(
                    "lines {} ({other}) and {} ({m}) overlap inside the namespace",
                    j + 1,
                    i + 1
                ));
            }
            if overlaps((m.outside, m.count), (other.outside, other.count)) {
                return refuse(format!(
                    "lines {} ({other}) and {} ({m}) overlap outside the namespace",
                    j + 1,
                    i + 1
                ));
            }
        }
    }
    if !privileged {
        let what = match kind {
            IdKind::User => ("uid", "CAP_SETUID"),
            IdKind::Group => ("gid", "CAP_SETGID"),
        };
        let one_own = maps.len() == 1 && maps[0].count == 1 && maps[0].outside == writer_id;
        if !one_own {
            return refuse(format!(
                "without {} the writer may map only its own {} ({writer_id}), \
                 as one line with a count of 1 (newuidmap/newgidmap do more, by /etc/sub{}id)",
                what.1, what.0, what.0
            ));
        }
    }
    Ok(())
}

fn write_once(pid: u32, file: &str, content: &[u8]) -> Result<()> {
    let path = format!("/proc/{pid}/{file}");
    let fail = |e: std::io::Error| {
        let err = Error::from_io("write id map", e);
        let detail = match err.errno() {
            libc::EPERM => format!(
                "{path}: the kernel refused the write (already written once, \
                 setgroups not denied before an unprivileged gid_map, or not allowed over that process)"
            ),
            libc::EINVAL => format!("{path}: the kernel found the map invalid"),
            _ => path.clone(),
        };
        err.with_detail(detail)
    };
    let current = std::fs::read(&path).map_err(fail)?;
    if file != "setgroups" && !current.is_empty() {
        return Err(Error::invalid_input(
            "write id map",
            format!("{path} was already written (the kernel takes one write)"),
        ));
    }
    let mut f = OpenOptions::new().write(true).open(&path).map_err(fail)?;
    f.write_all(content).map_err(fail)
}

/// Writes `deny` to `/proc/PID/setgroups`: the process (and its user
/// namespace) can never call `setgroups`, which an unprivileged writer
/// must do before writing `gid_map`.
///
/// # Errors
/// [`ErrorKind::PermissionDenied`] after `gid_map` was written;
/// [`ErrorKind::NotFound`] for no such process.
pub fn deny_setgroups(pid: u32) -> Result<()> {
    write_once(pid, "setgroups", b"deny")
}

fn format_maps(maps: &[IdMap]) -> Vec<u8> {
    let mut out = String::new();
    for m in maps {
        out.push_str(&format!("{m}\n"));
    }
    out.into_bytes()
}

/// Whether the caller may write several ranges (`CAP_SETUID` or
/// `CAP_SETGID` in its effective set).
fn privileged(kind: IdKind) -> bool {
    let cap = match kind {
        IdKind::User => CAP_SETUID,
        IdKind::Group => CAP_SETGID,
    };
    has_capability(cap).unwrap_or(false)
}

/// Writes `/proc/PID/uid_map` in one write, after [`check_maps`].
///
/// # Errors
/// - [`ErrorKind::InvalidInput`]: a rule [`check_maps`] names, or the map
///   was already written.
/// - [`ErrorKind::PermissionDenied`]: the kernel refused (it says why in
///   the detail).
pub fn write_uid_map(pid: u32, maps: &[IdMap]) -> Result<()> {
    let euid = rustix::process::geteuid().as_raw();
    check_maps(IdKind::User, maps, privileged(IdKind::User), euid)?;
    write_once(pid, "uid_map", &format_maps(maps))
}

/// Writes `/proc/PID/gid_map` in one write, after [`check_maps`]; an
/// unprivileged caller denies `setgroups` first, as the kernel requires.
///
/// # Errors
/// As [`write_uid_map`].
pub fn write_gid_map(pid: u32, maps: &[IdMap]) -> Result<()> {
    let egid = rustix::process::getegid().as_raw();
    let privileged = privileged(IdKind::Group);
    check_maps(IdKind::Group, maps, privileged, egid)?;
    if !privileged {
        deny_setgroups(pid)?;
    }
    write_once(pid, "gid_map", &format_maps(maps))
}

/// The first subordinate range of ids `/etc/subuid` (or `/etc/subgid`)
/// gives the user `uid` (a line `NAME:START:COUNT` or `UID:START:COUNT`, as
/// shadow's newuidmap reads it): `(start, count)`.
///
/// # Errors
/// [`ErrorKind::NotFound`]: no line for the user, naming the file;
/// reading the file.
pub fn subordinate_ids(kind: IdKind, uid: u32) -> Result<(u32, u32)> {
    let file = match kind {
        IdKind::User => "/etc/subuid",
        IdKind::Group => "/etc/subgid",
    };
    let name = crate::container::lookup_user(std::path::Path::new("/"), &uid.to_string())
        .ok()
        .map(|u| u.name);
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::from_io("open", e)
            .with_context("subordinate_ids")
            .with_detail(file)
    })?;
    for line in text.lines() {
        let mut parts = line.trim().split(':');
        let (Some(who), Some(start), Some(count)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let matches = who == uid.to_string() || name.as_deref() == Some(who);
        if let (true, Ok(start), Ok(count)) = (matches, start.parse(), count.parse()) {
            return Ok((start, count));
        }
    }
    Err(Error::from_errno("open", libc::ENOENT)
        .with_context("subordinate_ids")
        .with_kind(ErrorKind::NotFound)
        .with_detail(format!(
            "{file} has no range for uid {uid}{} (its administrator adds one: usermod --add-subuids)",
            name.map(|n| format!(" ({n})")).unwrap_or_default()
        )))
}

/// Writes a map through shadow's setuid helper (`newuidmap` or
/// `newgidmap PID INSIDE OUTSIDE COUNT ...`), which allows what
/// `/etc/subuid` and `/etc/subgid` give the caller.
///
/// # Errors
/// The helper is missing (`ENOENT`, naming it and its package `uidmap`),
/// or refused: its message in the detail.
pub fn write_map_with_helper(pid: u32, kind: IdKind, maps: &[IdMap]) -> Result<()> {
    let helper = match kind {
        IdKind::User => "newuidmap",
        IdKind::Group => "newgidmap",
    };
    let mut cmd = std::process::Command::new(helper);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.inside.to_string(),
            m.outside.to_string(),
            m.count.to_string(),
        ]);
    }
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            Error::from_io("execve", e)
                .with_context("write id map")
                .with_detail(format!(
                    "{helper} (shadow's uidmap package) could not be run"
                ))
        })?;
    if !out.status.success() {
        return Err(Error::from_errno("write id map", libc::EPERM)
            .with_kind(ErrorKind::PermissionDenied)
            .with_detail(format!(
                "{helper} refused {}: {}",
                maps.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
    }
    Ok(())
}

/// Reads a process's map back (`/proc/PID/uid_map` or `gid_map`).
///
/// # Errors
/// [`ErrorKind::NotFound`] for no such process.
pub fn read_map(pid: u32, kind: IdKind) -> Result<Vec<IdMap>> {
    let path = format!("/proc/{pid}/{}", kind.file());
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::from_io("read id map", e).with_detail(path.clone()))?;
    text.lines()
        .map(|l| {
            l.parse::<IdMap>().map_err(|e| {
                e.with_kind(ErrorKind::Other)
                    .with_detail(format!("{path}: {l:?}"))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(inside: u32, outside: u32, count: u32) -> IdMap {
        IdMap {
            inside,
            outside,
            count,
        }
    }

    fn why(maps: &[IdMap], privileged: bool) -> String {
        check_maps(IdKind::User, maps, privileged, 1000)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn rules_are_named() {
        assert!(why(&[], true).contains("at least one line"));
        assert!(why(&[m(0, 0, 0)], true).contains("count 0"));
        assert!(why(&[m(0, u32::MAX - 1, 2)], true).contains("runs past"));
        assert!(why(&[m(0, 100, 10), m(5, 200, 1)], true).contains("overlap inside"));
        assert!(why(&[m(0, 100, 10), m(50, 105, 1)], true).contains("overlap outside"));
        assert!(why(&vec![m(0, 0, 1); 341], true).contains("at most 340"));
        assert!(why(&[m(0, 1000, 2)], false).contains("only its own uid (1000)"));
        assert!(why(&[m(0, 0, 1)], false).contains("CAP_SETUID"));
        check_maps(IdKind::User, &[m(0, 1000, 1)], false, 1000).unwrap();
        check_maps(
            IdKind::User,
            &[m(0, 1000, 1), m(1, 100_000, 65536)],
            true,
            0,
        )
        .unwrap();
        // Adjacent ranges do not overlap.
        check_maps(IdKind::User, &[m(0, 0, 10), m(10, 10, 10)], true, 0).unwrap();
        // The last id that may be mapped is 4294967294.
        check_maps(IdKind::User, &[m(0, u32::MAX - 1, 1)], true, 0).unwrap();
    }

    #[test]
    fn parses_both_forms() {
        assert_eq!("0:1000:1".parse::<IdMap>().unwrap(), m(0, 1000, 1));
        assert_eq!(
            "  0  1000  65536".parse::<IdMap>().unwrap(),
            m(0, 1000, 65536)
        );
        assert!("0:1000".parse::<IdMap>().is_err());
        assert!("a:b:c".parse::<IdMap>().is_err());
    }
}

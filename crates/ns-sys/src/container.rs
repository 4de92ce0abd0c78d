//! Finding a container's leader process with the tool that manages it, and
//! reading users and groups from its `/etc/passwd` and `/etc/group`.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::process::Command;

use fd_core::{Error, ErrorKind, Result};

/// A process to enter: by pid, or a container by name through the tool
/// that runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A process id.
    Pid(u32),
    /// `docker inspect --format {{.State.Pid}} NAME`.
    Docker(String),
    /// `podman inspect --format {{.State.Pid}} NAME`.
    Podman(String),
    /// LXC: `lxc-info -n NAME -p -H`.
    Lxc(String),
    /// LXD / Incus: `lxc info NAME` (its `PID:` line).
    Lxd(String),
    /// systemd-nspawn: `machinectl show NAME --property=Leader --value`.
    Machine(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Pid(pid) => write!(f, "pid {pid}"),
            Target::Docker(n) => write!(f, "docker container {n:?}"),
            Target::Podman(n) => write!(f, "podman container {n:?}"),
            Target::Lxc(n) => write!(f, "LXC container {n:?}"),
            Target::Lxd(n) => write!(f, "LXD container {n:?}"),
            Target::Machine(n) => write!(f, "machine {n:?}"),
        }
    }
}

const CALL: &str = "Target::leader_pid";

impl Target {
    /// The command that tells the leader pid, as (program, arguments).
    fn command(&self) -> Option<(&'static str, Vec<String>)> {
        let fmt = "{{.State.Pid}}".to_owned();
        Some(match self {
            Target::Pid(_) => return None,
            Target::Docker(n) => (
                "docker",
                vec!["inspect".into(), "--format".into(), fmt, n.clone()],
            ),
            Target::Podman(n) => (
                "podman",
                vec!["inspect".into(), "--format".into(), fmt, n.clone()],
            ),
            Target::Lxc(n) => (
                "lxc-info",
                vec!["-n".into(), n.clone(), "-p".into(), "-H".into()],
            ),
            Target::Lxd(n) => ("lxc", vec!["info".into(), n.clone()]),
            Target::Machine(n) => (
                "machinectl",
                vec![
                    "show".into(),
                    n.clone(),
                    "--property=Leader".into(),
                    "--value".into(),
                ],
            ),
        })
    }

    /// The pid of the container's leader process (its init), in the
    /// caller's pid namespace.
    ///
    /// # Errors
    /// - [`ErrorKind::NotFound`]: the tool is not installed (not in
    ///   `PATH`), or it does not know the name (its own message is in the
    ///   error), or the container is not running.
    /// - [`ErrorKind::Other`]: the tool's output holds no pid (the output
    ///   is in the error).
    pub fn leader_pid(&self) -> Result<u32> {
        let Some((tool, args)) = self.command() else {
            let Target::Pid(pid) = self else {
                unreachable!()
            };
            return Ok(*pid);
        };
        let out = Command::new(tool).args(&args).output().map_err(|e| {
            let err = Error::from_io("execve", e).with_context(CALL);
            if err.errno() == libc::ENOENT {
                err.with_detail(format!(
                    "{tool} is not installed (not found in PATH), so the {self} cannot be found"
                ))
            } else {
                err.with_detail(format!("running {tool}"))
            }
        })?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr);
            let said = said.trim();
            return Err(Error::from_errno("execve", libc::ENOENT)
                .with_context(CALL)
                .with_detail(format!(
                    "{tool} {} failed ({}): {}",
                    args.join(" "),
                    out.status,
                    if said.is_empty() { stdout.trim() } else { said }
                )));
        }
        let pid = parse_pid(&stdout).ok_or_else(|| {
            Error::from_errno("read", libc::EINVAL)
                .with_context(CALL)
                .with_kind(ErrorKind::Other)
                .with_detail(format!(
                    "no pid in what {tool} printed: {:?}",
                    stdout.trim()
                ))
        })?;
        if pid == 0 {
            return Err(Error::from_errno("execve", libc::ESRCH)
                .with_context(CALL)
                .with_detail(format!("the {self} is not running ({tool} reports pid 0)")));
        }
        Ok(pid)
    }
}

/// The pid in a tool's output: a bare number (`docker`, `podman`,
/// `lxc-info -H`, `machinectl --value`), or the number after `PID:` /
/// `Pid:` / `Leader:` (`lxc-info`, `lxc info`, `machinectl status`).
fn parse_pid(out: &str) -> Option<u32> {
    let number = |s: &str| {
        s.split_whitespace()
            .next()
            .and_then(|w| w.parse::<u32>().ok())
    };
    let trimmed = out.trim();
    if let Ok(pid) = trimmed.parse::<u32>() {
        return Some(pid);
    }
    out.lines().find_map(|line| {
        let line = line.trim();
        ["PID:", "Pid:", "Leader:"]
            .iter()
            .find_map(|key| line.strip_prefix(key))
            .and_then(number)
    })
}

/// A user of `/etc/passwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The login name.
    pub name: String,
    /// The uid.
    pub uid: u32,
    /// The primary gid.
    pub gid: u32,
    /// Supplementary groups from `/etc/group`, primary first.
    pub groups: Vec<u32>,
    /// The home directory.
    pub home: OsString,
    /// The login shell.
    pub shell: OsString,
}

/// Looks up `name` (or a numeric uid) in `ROOT/etc/passwd` and its groups
/// in `ROOT/etc/group`.
///
/// # Errors
/// - [`ErrorKind::NotFound`]: no such user in that `passwd` (the error says
///   which file), or no `passwd` file.
/// - [`ErrorKind::Other`]: a malformed line for that user.
pub fn lookup_user(root: &Path, name: &str) -> Result<User> {
    const CALL: &str = "lookup_user";
    let passwd = root.join("etc/passwd");
    let text = std::fs::read(&passwd).map_err(|e| {
        Error::from_io("execve", e)
            .with_context(CALL)
            .with_detail(format!("{}", passwd.display()))
    })?;
    let text = String::from_utf8_lossy(&text);
    let wanted_uid = name.parse::<u32>().ok();
    let line = text
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| {
            f.len() >= 7 && (f[0] == name || wanted_uid.is_some_and(|u| f[2].parse() == Ok(u)))
        })
        .ok_or_else(|| {
            Error::from_errno(CALL, libc::ENOENT)
                .with_detail(format!("no user {name:?} in {}", passwd.display()))
        })?;
    let bad = || {
        Error::from_errno("read", libc::EINVAL)
            .with_context(CALL)
            .with_kind(ErrorKind::Other)
            .with_detail(format!(
                "malformed line for {name:?} in {}",
                passwd.display()
            ))
    };
    let uid = line[2].parse::<u32>().map_err(|_| bad())?;
    let gid = line[3].parse::<u32>().map_err(|_| bad())?;
    let user_name = line[0].to_owned();
    let mut groups = vec![gid];
    if let Ok(group) = std::fs::read(root.join("etc/group")) {
        for l in String::from_utf8_lossy(&group).lines() {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() >= 4
                && f[3].split(',').any(|m| m == user_name)
                && let Ok(g) = f[2].parse::<u32>()
                && !groups.contains(&g)
            {
                groups.push(g);
            }
        }
    }
    Ok(User {
        name: user_name,
        uid,
        gid,
        groups,
        home: line[5].into(),
        shell: line[6].into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_in_tool_output() {
        assert_eq!(parse_pid("1234\n"), Some(1234));
        assert_eq!(
            parse_pid("Name: web\nState: RUNNING\nPID:            4321\n"),
            Some(4321)
        );
        assert_eq!(
            parse_pid("Status: Running\nType: container\nPid: 77\n"),
            Some(77)
        );
        assert_eq!(parse_pid("  Leader: 999 (systemd)\n"), Some(999));
        assert_eq!(parse_pid("no such thing"), None);
    }
}

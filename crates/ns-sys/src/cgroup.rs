//! [`Cgroup`]: a cgroup v2 directory a sandbox runs in, with its limits,
//! its kill switch and what it used.
//!
//! A sandbox's cgroup is made below one the caller may write (its own, or
//! a delegated one), entered atomically by the new process
//! (`CLONE_INTO_CGROUP`: nothing it runs is ever outside it), limited with
//! `memory.max`, `pids.max` and `cpu.max` where those controllers are
//! enabled for it, killed as a whole (`cgroup.kill`) when the sandbox ends,
//! so nothing it forked survives, and removed.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fd_core::{Error, ErrorKind, Result};

const CALL: &str = "Cgroup";

/// Limits for a sandbox's cgroup; `None` leaves one as the kernel has it
/// (no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CgroupLimits {
    /// `memory.max`, bytes: past it the kernel reclaims, then kills
    /// (the OOM killer, inside the cgroup only).
    pub memory_max: Option<u64>,
    /// `memory.swap.max`, bytes.
    pub swap_max: Option<u64>,
    /// `pids.max`: processes and threads together; past it `fork` and
    /// `clone` fail with `EAGAIN`.
    pub pids_max: Option<u64>,
    /// `cpu.max`: at most `quota` microseconds of CPU per `period`
    /// microseconds (`(50_000, 100_000)` is half a CPU).
    pub cpu_max: Option<(u64, u64)>,
}

impl CgroupLimits {
    /// The controllers these limits need, with the file each is set in.
    fn needs(&self) -> Vec<(&'static str, &'static str, String)> {
        let mut v = Vec::new();
        if let Some(n) = self.memory_max {
            v.push(("memory", "memory.max", n.to_string()));
        }
        if let Some(n) = self.swap_max {
            v.push(("memory", "memory.swap.max", n.to_string()));
        }
        if let Some(n) = self.pids_max {
            v.push(("pids", "pids.max", n.to_string()));
        }
        if let Some((quota, period)) = self.cpu_max {
            v.push(("cpu", "cpu.max", format!("{quota} {period}")));
        }
        v
    }
}

/// What a cgroup used, from its own files; `None` where the controller is
/// not enabled for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CgroupUsage {
    /// CPU time, microseconds (`cpu.stat usage_usec`; always there).
    pub cpu_usec: u64,
    /// User CPU time, microseconds.
    pub user_usec: u64,
    /// System CPU time, microseconds.
    pub system_usec: u64,
    /// The most memory it held at once (`memory.peak`, 5.19+).
    pub memory_peak: Option<u64>,
    /// The most processes it had at once (`pids.peak`, 6.11+).
    pub pids_peak: Option<u64>,
    /// How often `memory.max` made the kernel kill in it
    /// (`memory.events oom_kill`).
    pub oom_kills: Option<u64>,
}

/// A cgroup v2 directory, open.
///
/// One made by [`Cgroup::create`] is removed when dropped (its processes
/// killed first, as [`remove`](Cgroup::remove) does, waiting at most a
/// second); one opened with [`Cgroup::open`] is left.
#[derive(Debug)]
pub struct Cgroup {
    dir: PathBuf,
    fd: OwnedFd,
    made: bool,
}

/// The cgroup v2 mount and this process's cgroup path in it, from
/// `/proc/self/mountinfo` and `/proc/self/cgroup` (the `0::` line).
///
/// # Errors
/// [`ErrorKind::Unsupported`] with no cgroup v2 mount or no `0::` line
/// (cgroup v1 only).
pub fn own_cgroup() -> Result<PathBuf> {
    let unsupported = |why: &str| {
        Err(Error::from_errno("open", libc::ENOENT)
            .with_context(CALL)
            .with_kind(ErrorKind::Unsupported)
            .with_detail(why.to_owned()))
    };
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| Error::from_io("open", e).with_detail("/proc/self/cgroup"))?;
    let Some(own) = cgroup.lines().find_map(|l| l.strip_prefix("0::")) else {
        return unsupported("this process is in no cgroup v2 (no 0:: line in /proc/self/cgroup)");
    };
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::from_io("open", e).with_detail("/proc/self/mountinfo"))?;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if fields.get(dash + 1) != Some(&"cgroup2") {
            continue;
        }
        let (Some(root), Some(point)) = (fields.get(3), fields.get(4)) else {
            continue;
        };
        // The mount shows the hierarchy from `root` down; our path is
        // relative to the cgroup namespace's root, which is that mount's
        // root when the namespace mounted it.
        let rel = own
            .strip_prefix(root.trim_end_matches('/'))
            .unwrap_or(own)
            .trim_start_matches('/');
        let point = PathBuf::from(unescape(point));
        return Ok(if rel.is_empty() {
            point
        } else {
            point.join(rel)
        });
    }
    unsupported("no cgroup v2 filesystem is mounted (cgroup2 in /proc/self/mountinfo)")
}

/// A mountinfo field with its `\040`-style escapes undone.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(oct) = field.get(i + 1..i + 4)
            && let Ok(b) = u8::from_str_radix(oct, 8)
        {
            out.push(b);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn io_err(call: &'static str, path: &Path, e: std::io::Error) -> Error {
    Error::from_io(call, e)
        .with_context(CALL)
        .with_detail(path.display().to_string())
}

impl Cgroup {
    /// Makes a new cgroup `name` below `parent` (a cgroup v2 directory the
    /// caller may write) and sets `limits` in it.
    ///
    /// # Errors
    /// - [`ErrorKind::InvalidInput`]: `name` is not one plain directory
    ///   name.
    /// - `mkdir`'s error naming the directory (`EACCES`: not delegated to
    ///   you; `EEXIST`).
    /// - [`ErrorKind::Unsupported`]: a limit whose controller is not
    ///   enabled for the new cgroup, naming the directory, the controller
    ///   and where to enable it (`+memory` in the parent's
    ///   `cgroup.subtree_control`); the new cgroup is removed again.
    pub fn create(parent: impl AsRef<Path>, name: &str, limits: &CgroupLimits) -> Result<Cgroup> {
        let parent = parent.as_ref();
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(Error::invalid_input_in(
                CALL,
                "mkdir",
                format!("{name:?} is not a cgroup name (one directory name)"),
            ));
        }
        let dir = parent.join(name);
        std::fs::create_dir(&dir).map_err(|e| io_err("mkdir", &dir, e))?;
        let fd = match open_dir(&dir) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                return Err(e);
            }
        };
        let cgroup = Cgroup {
            dir,
            fd,
            made: true,
        };
        // Dropped (removed) on any error below.
        cgroup.set_limits(limits)?;
        Ok(cgroup)
    }

    /// Opens an existing cgroup v2 directory, which is left when dropped.
    ///
    /// # Errors
    /// `open`'s error; [`ErrorKind::InvalidInput`] when the directory is
    /// not a cgroup v2 one (it has no `cgroup.procs`).
    pub fn open(dir: impl AsRef<Path>) -> Result<Cgroup> {
        let dir = dir.as_ref().to_path_buf();
        let fd = open_dir(&dir)?;
        Ok(Cgroup {
            dir,
            fd,
            made: false,
        })
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The controllers available to it (`cgroup.controllers`).
    ///
    /// # Errors
    /// Reading the file.
    pub fn controllers(&self) -> Result<Vec<String>> {
        Ok(self
            .read("cgroup.controllers")?
            .split_whitespace()
            .map(str::to_owned)
            .collect())
    }

    /// Sets the limits, each only if its controller is available.
    ///
    /// # Errors
    /// As [`create`](Cgroup::create) for a missing controller; writing a
    /// limit file.
    pub fn set_limits(&self, limits: &CgroupLimits) -> Result<()> {
        let needs = limits.needs();
        if needs.is_empty() {
            return Ok(());
        }
        let have = self.controllers()?;
        let parent = self.dir.parent().unwrap_or(Path::new("/"));
        for (controller, file, value) in needs {
            if !have.iter().any(|c| c == controller) {
                return Err(Error::from_errno("open", libc::ENOENT)
                    .with_context(CALL)
                    .with_kind(ErrorKind::Unsupported)
                    .with_detail(format!(
                        "{file} cannot be set in {}: the {controller} controller is not \
                         enabled for it (it has: {}); it is enabled by writing +{controller} to \
                         {}/cgroup.subtree_control, which needs that controller delegated there",
                        self.dir.display(),
                        if have.is_empty() {
                            "none".to_owned()
                        } else {
                            have.join(" ")
                        },
                        parent.display()
                    )));
            }
            self.write(file, &value)?;
        }
        Ok(())
    }

    fn read(&self, file: &str) -> Result<String> {
        let path = self.dir.join(file);
        std::fs::read_to_string(&path).map_err(|e| io_err("read", &path, e))
    }

    fn write(&self, file: &str, value: &str) -> Result<()> {
        let path = self.dir.join(file);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| io_err("open", &path, e))?;
        f.write_all(value.as_bytes())
            .map_err(|e| io_err("write", &path, e))
    }

    /// A `key value` field of a flat-keyed file (`cgroup.events`,
    /// `cpu.stat`).
    fn field(&self, file: &str, key: &str) -> Result<Option<u64>> {
        Ok(self.read(file)?.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        }))
    }

    /// The processes in it (`cgroup.procs`), not in cgroups below.
    ///
    /// # Errors
    /// Reading the file.
    pub fn procs(&self) -> Result<Vec<u32>> {
        Ok(self
            .read("cgroup.procs")?
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect())
    }

    /// Whether a process is in it or below (`cgroup.events populated`).
    ///
    /// # Errors
    /// Reading the file.
    pub fn is_populated(&self) -> Result<bool> {
        Ok(self.field("cgroup.events", "populated")? == Some(1))
    }

    /// Kills every process in it and below with `SIGKILL` (`cgroup.kill`,
    /// 5.14; before that, each process of `cgroup.procs` in turn until it
    /// is empty, the cgroup frozen meanwhile so none can fork away).
    ///
    /// # Errors
    /// Writing the files.
    pub fn kill(&self) -> Result<()> {
        match self.write("cgroup.kill", "1") {
            Err(e) if e.errno() == libc::ENOENT => {}
            other => return other,
        }
        let _ = self.write("cgroup.freeze", "1");
        for pid in self.procs()? {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX))
                    .unwrap_or(rustix::process::Pid::INIT),
                rustix::process::Signal::KILL,
            );
        }
        let _ = self.write("cgroup.freeze", "0");
        Ok(())
    }

    /// Freezes (`true`) or thaws its processes (`cgroup.freeze`, 5.2) and
    /// waits, at most `limit`, until the kernel says it is done
    /// (`cgroup.events frozen`).
    ///
    /// # Errors
    /// Writing the file; [`ErrorKind::TimedOut`] if the kernel had not
    /// finished within `limit`.
    pub fn freeze(&self, frozen: bool, limit: Duration) -> Result<()> {
        self.write("cgroup.freeze", if frozen { "1" } else { "0" })?;
        let want = u64::from(frozen);
        self.wait_events(limit, |c| {
            Ok(c.field("cgroup.events", "frozen")? == Some(want))
        })
    }

    /// Waits until `done`, woken by the kernel's notification on
    /// `cgroup.events` (a `POLLPRI` on it when a field changes), at most
    /// `limit`.
    fn wait_events(&self, limit: Duration, done: impl Fn(&Cgroup) -> Result<bool>) -> Result<()> {
        let path = self.dir.join("cgroup.events");
        let events = File::open(&path).map_err(|e| io_err("open", &path, e))?;
        let end = Instant::now() + limit;
        loop {
            // Read before checking, so a change after the check wakes the
            // poll (the kernel notifies on change since the last read).
            let mut sink = String::new();
            let _ = (&events).read_to_string(&mut sink);
            if done(self)? {
                return Ok(());
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::from_errno("poll", libc::ETIMEDOUT)
                    .with_context(CALL)
                    .with_kind(ErrorKind::TimedOut)
                    .with_detail(format!(
                        "{} did not change within {limit:?}",
                        path.display()
                    )));
            }
            let mut fds = [rustix::event::PollFd::new(
                &events,
                rustix::event::PollFlags::PRI,
            )];
            let timeout = rustix::time::Timespec {
                tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    return Err(Error::from_errno("poll", e.raw_os_error()).with_context(CALL));
                }
            }
            use std::io::Seek;
            let _ = (&events).seek(std::io::SeekFrom::Start(0));
        }
    }

    /// What it used so far.
    ///
    /// # Errors
    /// Reading `cpu.stat`.
    pub fn usage(&self) -> Result<CgroupUsage> {
        let optional = |file: &str| -> Option<u64> { self.read(file).ok()?.trim().parse().ok() };
        Ok(CgroupUsage {
            cpu_usec: self.field("cpu.stat", "usage_usec")?.unwrap_or(0),
            user_usec: self.field("cpu.stat", "user_usec")?.unwrap_or(0),
            system_usec: self.field("cpu.stat", "system_usec")?.unwrap_or(0),
            memory_peak: optional("memory.peak"),
            pids_peak: optional("pids.peak"),
            oom_kills: self.field("memory.events", "oom_kill").ok().flatten(),
        })
    }

    /// Kills everything in it, waits (at most `limit`) until it is empty,
    /// and removes it.
    ///
    /// # Errors
    /// As [`kill`](Cgroup::kill); [`ErrorKind::TimedOut`] if it was still
    /// populated after `limit`; `rmdir`'s error (`EBUSY`: a cgroup below it
    /// that someone else made).
    pub fn remove(mut self, limit: Duration) -> Result<()> {
        self.made = false;
        self.kill()?;
        self.wait_events(limit, |c| Ok(!c.is_populated()?))?;
        std::fs::remove_dir(&self.dir).map_err(|e| io_err("rmdir", &self.dir, e))
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if self.made {
            let _ = self.kill();
            let _ = self.wait_events(Duration::from_secs(1), |c| Ok(!c.is_populated()?));
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

fn open_dir(dir: &Path) -> Result<OwnedFd> {
    let fd = rustix::fs::open(
        dir,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| {
        Error::from_errno("open", e.raw_os_error())
            .with_context(CALL)
            .with_detail(dir.display().to_string())
    })?;
    if rustix::fs::statat(&fd, "cgroup.procs", rustix::fs::AtFlags::empty()).is_err() {
        return Err(Error::invalid_input_in(
            CALL,
            "open",
            format!(
                "{} is not a cgroup v2 directory (no cgroup.procs)",
                dir.display()
            ),
        ));
    }
    Ok(fd)
}

impl AsFd for Cgroup {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Cgroup {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_their_controllers() {
        let l = CgroupLimits {
            memory_max: Some(64 << 20),
            pids_max: Some(16),
            cpu_max: Some((50_000, 100_000)),
            swap_max: None,
        };
        let n = l.needs();
        assert_eq!(n[0], ("memory", "memory.max", "67108864".into()));
        assert_eq!(n[1], ("pids", "pids.max", "16".into()));
        assert_eq!(n[2], ("cpu", "cpu.max", "50000 100000".into()));
        assert!(CgroupLimits::default().needs().is_empty());
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape("/sys/fs/cgroup"), "/sys/fs/cgroup");
        assert_eq!(unescape("/a\\040b"), "/a b");
    }
}

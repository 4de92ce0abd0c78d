//! Kernel feature probing: the types every crate's probes share.
//!
//! Each butter crate owns the probes of its own syscalls, next to them
//! (`event_fd::probe()`, `notify_fd::probe()`, …); the umbrella crate's
//! `butter::probe::machine()` gathers those of the enabled crates, and
//! `butter doctor` prints them. A probe asks the kernel directly: it
//! creates the object and closes it again, asks a question that changes
//! nothing, reads a limit from `/proc/sys` ([`Probe::limit`]), or, for
//! "would an unprivileged user be allowed", tries in a forked child that has
//! dropped to uid 65534 ([`in_child`]). Nothing on the machine is changed.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Result};

pub use crate::sys::in_child;

/// A Linux kernel release, as in `uname -r` (`6.8.0-45-generic` → 6.8.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch level (0 when the release string has none).
    pub patch: u32,
}

impl KernelVersion {
    /// A version from its parts.
    pub const fn new(major: u32, minor: u32, patch: u32) -> KernelVersion {
        KernelVersion {
            major,
            minor,
            patch,
        }
    }

    /// The running kernel's version, from `uname(2)`.
    ///
    /// # Errors
    /// [`ErrorKind::Other`] if the release string does not start with a
    /// version (which no Linux kernel does).
    pub fn current() -> Result<KernelVersion> {
        let uname = rustix::system::uname();
        let release = uname.release().to_string_lossy();
        release.parse().map_err(|()| {
            Error::from_errno("uname", libc::EINVAL)
                .with_kind(ErrorKind::Other)
                .with_detail(format!("unparsable kernel release {release:?}"))
        })
    }

    /// Whether this version is `major.minor` or newer.
    pub fn at_least(self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

impl FromStr for KernelVersion {
    type Err = ();

    /// Parses the leading `X.Y[.Z]` of a release string; what follows the
    /// numbers (`-45-generic`, `+`, `-rc3`) is ignored.
    fn from_str(s: &str) -> std::result::Result<KernelVersion, ()> {
        let mut parts = s.splitn(3, '.');
        let number = |part: Option<&str>| -> Option<u32> {
            let part = part?;
            let end = part
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(part.len());
            part[..end].parse().ok()
        };
        let major = number(parts.next()).ok_or(())?;
        let minor = number(parts.next()).ok_or(())?;
        let patch = number(parts.next()).unwrap_or(0);
        Ok(KernelVersion {
            major,
            minor,
            patch,
        })
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Whether a feature can be used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// It works for this process.
    Available,
    /// It works, but only with a privilege this process lacks.
    NeedsPrivilege,
    /// This kernel or its configuration does not offer it.
    Unavailable,
    /// The probe itself failed; the detail says how.
    Unknown,
}

impl Status {
    /// A short lowercase word for tables and JSON: `yes`, `needs-privilege`,
    /// `no`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Available => "yes",
            Status::NeedsPrivilege => "needs-privilege",
            Status::Unavailable => "no",
            Status::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One probed feature: a row of `butter doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The butter crate the feature belongs to, such as `"timer-fd"`.
    pub group: &'static str,
    /// The feature, such as `"CLOCK_BOOTTIME_ALARM"`.
    pub feature: &'static str,
    /// The first kernel that has it, such as `"5.13"`.
    pub since: &'static str,
    /// What the probe found.
    pub status: Status,
    /// A value (a limit), or why the status is what it is.
    pub detail: String,
}

impl Probe {
    /// A row for `feature` of crate `group`, first in kernel `since`; its
    /// status is [`Status::Unknown`] until set.
    pub fn new(group: &'static str, feature: &'static str, since: &'static str) -> Probe {
        Probe {
            group,
            feature,
            since,
            status: Status::Unknown,
            detail: String::new(),
        }
    }

    /// Sets the status and the detail.
    #[must_use]
    pub fn with_status(mut self, status: Status, detail: impl Into<String>) -> Probe {
        self.status = status;
        self.detail = detail.into();
        self
    }

    /// Sets the status from the result of trying the feature: success is
    /// available, a permission error needs `privilege`, an unsupported error
    /// is unavailable, anything else unknown.
    #[must_use]
    pub fn tried<T>(self, result: Result<T>, privilege: &str) -> Probe {
        match result {
            Ok(_) => self.with_status(Status::Available, ""),
            Err(e) => match e.kind() {
                ErrorKind::PermissionDenied => {
                    self.with_status(Status::NeedsPrivilege, format!("needs {privilege} ({e})"))
                }
                ErrorKind::Unsupported => self.with_status(Status::Unavailable, e.to_string()),
                // fanotify_init and friends answer EINVAL for flags this kernel
                // does not know.
                ErrorKind::InvalidInput => self.with_status(
                    Status::Unavailable,
                    format!("kernel refuses the flags ({e})"),
                ),
                _ => self.with_status(Status::Unknown, e.to_string()),
            },
        }
    }

    /// A row whose detail is a limit read from `/proc/sys`.
    #[must_use]
    pub fn limit(self, path: &str) -> Probe {
        match read_proc_value(path) {
            Ok(value) => self.with_status(Status::Available, format!("{value} ({path})")),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.with_status(Status::Unavailable, format!("{path} does not exist"))
            }
            Err(e) => self.with_status(Status::Unknown, e.to_string()),
        }
    }
}

/// Reads a one-line value such as `/proc/sys/fs/pipe-max-size`, trimmed.
///
/// # Errors
/// [`ErrorKind::NotFound`] if the file does not exist (the feature is not
/// built into this kernel); [`ErrorKind::PermissionDenied`] if it is not
/// readable.
pub fn read_proc_value(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.trim().to_owned()),
        Err(e) => Err(Error::from_io("open", e).with_detail(path.display().to_string())),
    }
}

/// Reads a numeric value from `/proc/sys` (or any one-number file).
///
/// # Errors
/// As [`read_proc_value`]; [`ErrorKind::Other`] if the file does not hold a
/// number.
pub fn read_proc_u64(path: impl AsRef<Path>) -> Result<u64> {
    let path = path.as_ref();
    let text = read_proc_value(path)?;
    text.parse().map_err(|_| {
        Error::from_errno("read", libc::EINVAL)
            .with_kind(ErrorKind::Other)
            .with_detail(format!("{} holds {text:?}, not a number", path.display()))
    })
}

/// Whether the process's effective capability set contains capability
/// number `cap` (`CAP_SYS_ADMIN` is 21), from `/proc/self/status`.
pub fn has_capability(cap: u32) -> Result<bool> {
    let status = read_proc_value("/proc/self/status")?;
    let hex = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .map(str::trim)
        .ok_or_else(|| {
            Error::from_errno("read", libc::EINVAL)
                .with_kind(ErrorKind::Other)
                .with_detail("/proc/self/status has no CapEff line")
        })?;
    let mask = u64::from_str_radix(hex, 16).map_err(|_| {
        Error::from_errno("read", libc::EINVAL)
            .with_kind(ErrorKind::Other)
            .with_detail(format!("CapEff {hex:?} is not hexadecimal"))
    })?;
    Ok(cap < 64 && mask & (1 << cap) != 0)
}

/// `CAP_SYS_ADMIN`: mounts, namespaces, fanotify with all its features.
pub const CAP_SYS_ADMIN: u32 = 21;
/// `CAP_WAKE_ALARM`: the `*_ALARM` timer clocks.
pub const CAP_WAKE_ALARM: u32 = 35;

/// A row for a syscall probed with arguments it must refuse: `ENOSYS`
/// means this kernel does not have it; any other answer (`EBADF`, `EINVAL`,
/// or success) that it does.
pub fn exists(
    group: &'static str,
    feature: &'static str,
    since: &'static str,
    answer: std::result::Result<(), i32>,
) -> Probe {
    let probe = Probe::new(group, feature, since);
    match answer {
        Err(libc::ENOSYS) => {
            probe.with_status(Status::Unavailable, "ENOSYS: this kernel does not have it")
        }
        _ => probe.with_status(Status::Available, ""),
    }
}

/// The errno of a rustix call as [`Probe::tried`] wants it.
pub fn rustix_err(call: &'static str) -> impl Fn(rustix::io::Errno) -> Error {
    move |e| Error::from_errno(call, e.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_strings() {
        let cases = [
            ("6.8.0-45-generic", (6, 8, 0)),
            ("6.18.44-fc-v769", (6, 18, 44)),
            ("5.15", (5, 15, 0)),
            ("6.1.0+", (6, 1, 0)),
            ("6.10-rc3", (6, 10, 0)),
            ("4.19.0-26-amd64", (4, 19, 0)),
        ];
        for (s, (a, b, c)) in cases {
            assert_eq!(
                s.parse::<KernelVersion>(),
                Ok(KernelVersion::new(a, b, c)),
                "{s}"
            );
        }
        for bad in ["", "linux", "6", "x.1", "6.x"] {
            assert_eq!(bad.parse::<KernelVersion>(), Err(()), "{bad}");
        }
    }

    #[test]
    fn compares_versions() {
        let v = KernelVersion::new(5, 13, 2);
        assert!(v.at_least(5, 13));
        assert!(v.at_least(4, 20));
        assert!(!v.at_least(5, 14));
        assert!(!v.at_least(6, 0));
        assert_eq!(v.to_string(), "5.13.2");
    }

    #[test]
    fn current_kernel_matches_uname() {
        let v = KernelVersion::current().unwrap();
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert!(
            release.starts_with(&format!("{}.{}", v.major, v.minor)),
            "{release} vs {v}"
        );
    }

    #[test]
    fn proc_values() {
        assert!(read_proc_u64("/proc/sys/fs/pipe-max-size").unwrap() >= 4096);
        let missing = read_proc_u64("/proc/sys/fs/no-such-knob").unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        assert!(missing.to_string().contains("no-such-knob"), "{missing}");
        let not_number = read_proc_u64("/proc/sys/kernel/osrelease").unwrap_err();
        assert_eq!(not_number.kind(), ErrorKind::Other);
        assert!(
            not_number.to_string().contains("not a number"),
            "{not_number}"
        );
    }

    #[test]
    fn capability_check_agrees_with_alarm_clock() {
        // CLOCK_REALTIME_ALARM is refused exactly when CAP_WAKE_ALARM is missing
        // (or, with it, where the machine has no RTC: then it is ENODEV).
        let has = has_capability(CAP_WAKE_ALARM).unwrap();
        let res = rustix::time::timerfd_create(
            rustix::time::TimerfdClockId::RealtimeAlarm,
            rustix::time::TimerfdFlags::CLOEXEC,
        );
        if has {
            assert_ne!(res.err(), Some(rustix::io::Errno::PERM));
        } else {
            assert_eq!(res.err(), Some(rustix::io::Errno::PERM));
        }
    }
}

//! Kernel feature probing: what this machine offers the butter crates.
//!
//! Every probe asks the kernel directly: it creates the object and closes it
//! again (an eventfd, an fanotify group, an AIO context), asks a question that
//! changes nothing (`SECCOMP_GET_ACTION_AVAIL`), reads a limit from
//! `/proc/sys`, or, for "would an unprivileged user be allowed", tries in a
//! forked child that has dropped to uid 65534. Nothing on the machine is
//! changed. [`machine`] runs them all; `butter doctor` prints the result.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Result};
use crate::sys::{self, MountApiCall};

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
    fn new(group: &'static str, feature: &'static str, since: &'static str) -> Probe {
        Probe {
            group,
            feature,
            since,
            status: Status::Unknown,
            detail: String::new(),
        }
    }

    fn status(mut self, status: Status, detail: impl Into<String>) -> Probe {
        self.status = status;
        self.detail = detail.into();
        self
    }

    /// Sets the status from the result of trying the feature: success is
    /// available, a permission error needs `privilege`, an unsupported error
    /// is unavailable, anything else unknown.
    fn tried<T>(self, result: Result<T>, privilege: &str) -> Probe {
        match result {
            Ok(_) => self.status(Status::Available, ""),
            Err(e) => match e.kind() {
                ErrorKind::PermissionDenied => {
                    self.status(Status::NeedsPrivilege, format!("needs {privilege} ({e})"))
                }
                ErrorKind::Unsupported => self.status(Status::Unavailable, e.to_string()),
                // fanotify_init and friends answer EINVAL for flags this kernel
                // does not know.
                ErrorKind::InvalidInput => self.status(
                    Status::Unavailable,
                    format!("kernel refuses the flags ({e})"),
                ),
                _ => self.status(Status::Unknown, e.to_string()),
            },
        }
    }

    /// A row whose detail is a limit read from `/proc/sys`.
    fn limit(self, path: &str) -> Probe {
        match read_proc_value(path) {
            Ok(value) => self.status(Status::Available, format!("{value} ({path})")),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.status(Status::Unavailable, format!("{path} does not exist"))
            }
            Err(e) => self.status(Status::Unknown, e.to_string()),
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

/// The seccomp filter actions, with their names, in precedence order.
pub const SECCOMP_ACTIONS: &[(&str, u32)] = &[
    ("KILL_PROCESS", libc::SECCOMP_RET_KILL_PROCESS),
    ("KILL_THREAD", libc::SECCOMP_RET_KILL_THREAD),
    ("TRAP", libc::SECCOMP_RET_TRAP),
    ("ERRNO", libc::SECCOMP_RET_ERRNO),
    ("USER_NOTIF", libc::SECCOMP_RET_USER_NOTIF),
    ("TRACE", libc::SECCOMP_RET_TRACE),
    ("LOG", libc::SECCOMP_RET_LOG),
    ("ALLOW", libc::SECCOMP_RET_ALLOW),
];

/// Probes everything the butter crates cover, grouped by crate.
///
/// Takes a few milliseconds; forks up to three short-lived children. The
/// rows say what root would add when this process lacks it.
pub fn machine() -> Vec<Probe> {
    let mut rows = Vec::new();
    let root = has_capability(CAP_SYS_ADMIN).unwrap_or(false);

    rows.push(Probe::new("event-fd", "eventfd2", "2.6.27").tried(
        rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).map_err(err("eventfd2")),
        "nothing",
    ));

    rows.extend(timer_probes());

    rows.push(
        Probe::new("signal-fd", "signalfd4", "2.6.27").tried(sys::signalfd_empty(), "nothing"),
    );
    rows.push(
        Probe::new("signal-fd", "pidfd_open", "5.3").tried(
            rustix::process::pidfd_open(
                rustix::process::getpid(),
                rustix::process::PidfdFlags::empty(),
            )
            .map_err(err("pidfd_open")),
            "nothing",
        ),
    );

    rows.push(
        Probe::new("notify-fd", "inotify_init1", "2.6.27").tried(
            rustix::fs::inotify::init(rustix::fs::inotify::CreateFlags::CLOEXEC)
                .map_err(err("inotify_init1")),
            "nothing",
        ),
    );
    for (feature, path) in [
        (
            "inotify max_user_watches",
            "/proc/sys/fs/inotify/max_user_watches",
        ),
        (
            "inotify max_user_instances",
            "/proc/sys/fs/inotify/max_user_instances",
        ),
        (
            "inotify max_queued_events",
            "/proc/sys/fs/inotify/max_queued_events",
        ),
    ] {
        rows.push(Probe::new("notify-fd", feature, "2.6.13").limit(path));
    }
    rows.extend(fanotify_probes(root));

    rows.push(exists_probe(
        "zerocopy-pipe",
        "splice",
        "2.6.17",
        splice_exists(),
    ));
    rows.push(exists_probe(
        "zerocopy-pipe",
        "copy_file_range",
        "4.5",
        copy_file_range_exists(),
    ));
    rows.push(
        Probe::new("zerocopy-pipe", "pipe-max-size", "2.6.35").limit("/proc/sys/fs/pipe-max-size"),
    );
    rows.push(
        Probe::new("zerocopy-pipe", "pipe-user-pages-soft", "4.5")
            .limit("/proc/sys/fs/pipe-user-pages-soft"),
    );

    rows.push(Probe::new("kernel-aio", "io_setup", "2.6.0").tried(
        sys::aio_context_roundtrip().map_err(|e| {
            if e.errno() == libc::EAGAIN {
                e.with_kind(ErrorKind::ResourceLimit)
                    .with_detail("aio-nr has reached aio-max-nr")
            } else {
                e
            }
        }),
        "nothing",
    ));
    rows.push(Probe::new("kernel-aio", "aio-max-nr", "2.6.0").limit("/proc/sys/fs/aio-max-nr"));
    rows.push(Probe::new("kernel-aio", "aio-nr (in use)", "2.6.0").limit("/proc/sys/fs/aio-nr"));

    rows.extend(namespace_probes(root));
    rows.extend(seccomp_probes());
    rows
}

/// A row for a syscall probed with an invalid fd: `EBADF` means the kernel
/// has it (and looked at the fd), `ENOSYS` that it does not.
fn exists_probe(
    group: &'static str,
    feature: &'static str,
    since: &'static str,
    answer: rustix::io::Errno,
) -> Probe {
    let probe = Probe::new(group, feature, since);
    match answer {
        rustix::io::Errno::NOSYS => {
            probe.status(Status::Unavailable, "ENOSYS: this kernel does not have it")
        }
        rustix::io::Errno::BADF => probe.status(Status::Available, ""),
        other => probe.status(
            Status::Unknown,
            format!("probe answered errno {}", other.raw_os_error()),
        ),
    }
}

/// `splice` on fd -1: the kernel checks the fds first.
fn splice_exists() -> rustix::io::Errno {
    sys::splice_errno(-1)
}

/// `copy_file_range` on fd -1.
fn copy_file_range_exists() -> rustix::io::Errno {
    sys::copy_file_range_errno(-1)
}

fn err(call: &'static str) -> impl Fn(rustix::io::Errno) -> Error {
    move |e| Error::from_errno(call, e.raw_os_error())
}

fn timer_probes() -> Vec<Probe> {
    use rustix::time::{TimerfdClockId as C, TimerfdFlags, timerfd_create};
    let clocks = [
        ("CLOCK_MONOTONIC", C::Monotonic, "2.6.25"),
        ("CLOCK_REALTIME", C::Realtime, "2.6.25"),
        ("CLOCK_BOOTTIME", C::Boottime, "3.15"),
        ("CLOCK_REALTIME_ALARM", C::RealtimeAlarm, "3.11"),
        ("CLOCK_BOOTTIME_ALARM", C::BoottimeAlarm, "3.11"),
    ];
    clocks
        .into_iter()
        .map(|(name, clock, since)| {
            Probe::new("timer-fd", name, since).tried(
                timerfd_create(clock, TimerfdFlags::CLOEXEC).map_err(err("timerfd_create")),
                "CAP_WAKE_ALARM",
            )
        })
        .collect()
}

fn fanotify_probes(root: bool) -> Vec<Probe> {
    let mut rows = Vec::new();
    let flag_rows: [(&str, &str, u32); 5] = [
        ("fanotify (notification)", "2.6.37", libc::FAN_CLASS_NOTIF),
        (
            "fanotify permission events",
            "2.6.37",
            libc::FAN_CLASS_CONTENT,
        ),
        (
            "fanotify FAN_REPORT_FID",
            "5.1",
            libc::FAN_CLASS_NOTIF | libc::FAN_REPORT_FID,
        ),
        (
            "fanotify FAN_REPORT_DFID_NAME",
            "5.9",
            libc::FAN_CLASS_NOTIF | libc::FAN_REPORT_DFID_NAME,
        ),
        (
            "fanotify FAN_REPORT_PIDFD",
            "5.15",
            libc::FAN_CLASS_NOTIF | libc::FAN_REPORT_PIDFD,
        ),
    ];
    for (feature, since, flags) in flag_rows {
        rows.push(
            Probe::new("notify-fd", feature, since)
                .tried(sys::fanotify_init(flags), "CAP_SYS_ADMIN"),
        );
    }
    let unprivileged = Probe::new(
        "notify-fd",
        "fanotify unprivileged (FID, inode marks)",
        "5.13",
    );
    let (body, who): (fn() -> i32, &str) = if root {
        (
            sys::child_fanotify_fid_as_nobody,
            "tried as uid 65534 in a child",
        )
    } else {
        (sys::child_fanotify_fid, "tried as this user")
    };
    rows.push(match sys::in_child(body) {
        Ok(Ok(())) => unprivileged.status(Status::Available, who),
        Ok(Err(errno)) if errno == libc::EPERM => unprivileged.status(
            Status::Unavailable,
            format!("EPERM {who}: kernel older than 5.13"),
        ),
        Ok(Err(errno)) => unprivileged.tried::<()>(
            Err(Error::from_errno("fanotify_init", errno)),
            "CAP_SYS_ADMIN",
        ),
        Err(e) => unprivileged.status(Status::Unknown, e.to_string()),
    });
    rows
}

fn namespace_probes(root: bool) -> Vec<Probe> {
    let mut rows = Vec::new();
    let userns = Probe::new("ns-sys", "user namespaces (this process)", "3.8");
    rows.push(match sys::in_child(sys::child_unshare_user) {
        Ok(Ok(())) => userns.status(Status::Available, ""),
        Ok(Err(errno)) => userns.status(Status::Unavailable, userns_refusal(errno)),
        Err(e) => userns.status(Status::Unknown, e.to_string()),
    });
    let unpriv = Probe::new("ns-sys", "user namespaces (unprivileged users)", "3.8");
    rows.push(if root {
        match sys::in_child(sys::child_unshare_user_as_nobody) {
            Ok(Ok(())) => unpriv.status(Status::Available, "tried as uid 65534 in a child"),
            Ok(Err(errno)) => unpriv.status(Status::Unavailable, userns_refusal(errno)),
            Err(e) => unpriv.status(Status::Unknown, e.to_string()),
        }
    } else {
        let same = rows[rows.len() - 1].clone();
        unpriv.status(
            same.status,
            "this process is unprivileged: same as the row above",
        )
    });
    rows.push(
        Probe::new("ns-sys", "max_user_namespaces", "4.9")
            .limit("/proc/sys/user/max_user_namespaces"),
    );
    for (feature, call) in [
        ("fsopen (new mount API)", MountApiCall::Fsopen),
        ("open_tree", MountApiCall::OpenTree),
        ("mount_setattr", MountApiCall::MountSetattr),
    ] {
        let since = if matches!(call, MountApiCall::MountSetattr) {
            "5.12"
        } else {
            "5.2"
        };
        let probe = Probe::new("ns-sys", feature, since);
        rows.push(if sys::mount_api_known(call) {
            let detail = if root {
                ""
            } else {
                "using it needs CAP_SYS_ADMIN (in a user namespace is enough)"
            };
            probe.status(Status::Available, detail)
        } else {
            probe.status(
                Status::Unavailable,
                "ENOSYS: kernel older than the new mount API",
            )
        });
    }
    rows
}

/// Why the kernel refused a user namespace, in words.
fn userns_refusal(errno: i32) -> String {
    let knobs = [
        "/proc/sys/kernel/unprivileged_userns_clone",
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    ];
    let settings: Vec<String> = knobs
        .iter()
        .filter_map(|k| read_proc_value(k).ok().map(|v| format!("{k} = {v}")))
        .collect();
    let max = read_proc_value("/proc/sys/user/max_user_namespaces").unwrap_or_default();
    let name = crate::error::errno_info(errno).map_or("errno", |i| i.name);
    let mut why = match errno {
        libc::ENOSPC => format!("{name}: max_user_namespaces is {max}"),
        libc::EPERM | libc::EACCES => format!("{name}: refused by policy"),
        libc::EINVAL => format!("{name}: kernel built without CONFIG_USER_NS"),
        _ => format!("{name} ({errno})"),
    };
    if !settings.is_empty() {
        why.push_str("; ");
        why.push_str(&settings.join(", "));
    }
    why
}

fn seccomp_probes() -> Vec<Probe> {
    let mut rows = Vec::new();
    let mode = Probe::new("seccomp-lite", "seccomp (this process's mode)", "3.5");
    rows.push(match sys::seccomp_mode() {
        Ok(0) => mode.status(Status::Available, "not filtered"),
        Ok(2) => mode.status(
            Status::Available,
            "already filtered (mode 2): new filters stack",
        ),
        Ok(n) => mode.status(Status::Available, format!("mode {n}")),
        Err(e) => mode.tried::<()>(Err(e), "nothing"),
    });
    let mut available = Vec::new();
    let mut missing = Vec::new();
    for &(name, action) in SECCOMP_ACTIONS {
        match sys::seccomp_action_available(action) {
            Ok(()) => available.push(name),
            Err(_) => missing.push(name),
        }
    }
    let actions = Probe::new("seccomp-lite", "seccomp filter actions", "4.14");
    rows.push(if missing.is_empty() {
        actions.status(Status::Available, available.join(" "))
    } else if available.is_empty() {
        actions.status(
            Status::Unavailable,
            "SECCOMP_GET_ACTION_AVAIL refused every action",
        )
    } else {
        actions.status(
            Status::Available,
            format!("{} (missing: {})", available.join(" "), missing.join(" ")),
        )
    });
    rows
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
    fn machine_probe_covers_every_crate() {
        let rows = machine();
        for group in [
            "event-fd",
            "timer-fd",
            "signal-fd",
            "notify-fd",
            "zerocopy-pipe",
            "kernel-aio",
            "ns-sys",
            "seccomp-lite",
        ] {
            assert!(rows.iter().any(|r| r.group == group), "no row for {group}");
        }
        // eventfd and timerfd exist on every kernel this workspace supports.
        let eventfd = rows.iter().find(|r| r.feature == "eventfd2").unwrap();
        assert_eq!(eventfd.status, Status::Available, "{eventfd:?}");
        let mono = rows
            .iter()
            .find(|r| r.feature == "CLOCK_MONOTONIC")
            .unwrap();
        assert_eq!(mono.status, Status::Available);
        // A limit row carries the number it read.
        let pipe = rows.iter().find(|r| r.feature == "pipe-max-size").unwrap();
        let expect = read_proc_value("/proc/sys/fs/pipe-max-size").unwrap();
        assert!(pipe.detail.starts_with(&expect), "{pipe:?}");
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

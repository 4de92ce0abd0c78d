//! What this kernel offers `notify-fd`, for `butter doctor`.

use fd_core::probe::{CAP_SYS_ADMIN, Probe, Status, has_capability, rustix_err};
use fd_core::{Error, Result};

use crate::fanotify::{Class, Fanotify, InitFlags};

/// Probes inotify and its limits, and fanotify: each class and report
/// flag by making a group, and whether an unprivileged user may use it
/// (tried as uid 65534 in a forked child when this process is root).
pub fn probe() -> Vec<Probe> {
    let mut rows = vec![
        Probe::new("notify-fd", "inotify_init1", "2.6.27").tried(
            rustix::fs::inotify::init(rustix::fs::inotify::CreateFlags::CLOEXEC)
                .map_err(rustix_err("inotify_init1")),
            "nothing",
        ),
    ];
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
    let groups: [(&str, &str, Class, InitFlags); 5] = [
        (
            "fanotify (notification)",
            "2.6.37",
            Class::Notif,
            InitFlags::empty(),
        ),
        (
            "fanotify permission events",
            "2.6.37",
            Class::Content,
            InitFlags::empty(),
        ),
        (
            "fanotify FAN_REPORT_FID",
            "5.1",
            Class::Notif,
            InitFlags::REPORT_FID,
        ),
        (
            "fanotify FAN_REPORT_DFID_NAME",
            "5.9",
            Class::Notif,
            InitFlags::REPORT_DFID_NAME,
        ),
        (
            "fanotify FAN_REPORT_PIDFD",
            "5.15",
            Class::Notif,
            InitFlags::REPORT_PIDFD,
        ),
    ];
    for (feature, since, class, flags) in groups {
        let made: Result<Fanotify> = Fanotify::new(class, flags);
        rows.push(Probe::new("notify-fd", feature, since).tried(made, "CAP_SYS_ADMIN"));
    }
    let root = has_capability(CAP_SYS_ADMIN).unwrap_or(false);
    let unprivileged = Probe::new(
        "notify-fd",
        "fanotify unprivileged (FID, inode marks)",
        "5.13",
    );
    let who = if root {
        "tried as uid 65534 in a child"
    } else {
        "tried as this user"
    };
    rows.push(match crate::fanotify::probe_unprivileged(root) {
        Ok(Ok(())) => unprivileged.with_status(Status::Available, who),
        Ok(Err(libc::EPERM)) => unprivileged.with_status(
            Status::Unavailable,
            format!("EPERM {who}: kernel older than 5.13"),
        ),
        Ok(Err(errno)) => unprivileged.tried::<()>(
            Err(Error::from_errno("fanotify_init", errno)),
            "CAP_SYS_ADMIN",
        ),
        Err(e) => unprivileged.with_status(Status::Unknown, e.to_string()),
    });
    rows
}

//! The raw layer: `inotify_init1`, `inotify_add_watch`, `inotify_rm_watch`,
//! with errors that name the limits.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use fd_core::{Error, Result, SyscallResult};
use rustix::fs::inotify as rx;

use super::{EventMask, WatchFlags};

bitflags::bitflags! {
    /// Flags for [`inotify_init1`]. `IN_CLOEXEC` is always added.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct InitFlags: u32 {
        /// `IN_NONBLOCK`: a read with nothing queued fails with
        /// [`fd_core::ErrorKind::WouldBlock`].
        const NONBLOCK = rx::CreateFlags::NONBLOCK.bits();
    }
}

/// `inotify_init1(flags | IN_CLOEXEC)`: a new inotify instance.
///
/// # Errors
/// [`fd_core::ErrorKind::ResourceLimit`]: `EMFILE` when out of fds or past
/// `max_user_instances`, `ENFILE`, `ENOMEM`.
///
/// # References
/// - [`inotify_init1(2)`](https://man7.org/linux/man-pages/man2/inotify_init1.2.html)
pub fn inotify_init1(flags: InitFlags) -> Result<OwnedFd> {
    let flags = rx::CreateFlags::from_bits_retain(flags.bits()) | rx::CreateFlags::CLOEXEC;
    rx::init(flags).syscall("inotify_init1")
}

/// `inotify_add_watch(fd, path, events | flags)`: watches `path`, or changes
/// the watch already on its inode; returns the watch descriptor number.
///
/// # Errors
/// - [`fd_core::ErrorKind::InvalidInput`], checked before the call: no
///   event at all, a reported-only bit (`UNMOUNT`, `Q_OVERFLOW`, `IGNORED`,
///   `ISDIR`), or `MASK_ADD` with `MASK_CREATE`.
/// - [`fd_core::ErrorKind::NotFound`] (`ENOENT`): no such path.
/// - [`fd_core::ErrorKind::InvalidInput`] (`ENOTDIR`): `ONLYDIR` on a non-directory;
///   (`EEXIST`): `MASK_CREATE` on an inode already watched.
/// - [`fd_core::ErrorKind::PermissionDenied`] (`EACCES`): no read access.
/// - [`fd_core::ErrorKind::ResourceLimit`] (`ENOSPC`): `max_user_watches`
///   reached; the message names the limit and how to raise it.
pub fn inotify_add_watch(
    fd: impl AsFd,
    path: impl AsRef<Path>,
    events: EventMask,
    flags: WatchFlags,
) -> Result<i32> {
    const CALL: &str = "inotify_add_watch";
    let path = path.as_ref();
    if events.intersects(EventMask::REPORTED_ONLY) {
        return Err(Error::invalid_input(
            CALL,
            format!(
                "{} are reported by the kernel, not watched for",
                events.intersection(EventMask::REPORTED_ONLY)
            ),
        ));
    }
    if events.is_empty() {
        return Err(Error::invalid_input(CALL, "no event to watch for"));
    }
    if flags.contains(WatchFlags::MASK_ADD | WatchFlags::MASK_CREATE) {
        return Err(Error::invalid_input(
            CALL,
            "MASK_ADD (add to the existing watch) and MASK_CREATE (fail if there is one) contradict each other",
        ));
    }
    let bits = rx::WatchFlags::from_bits_retain(events.bits() | flags.bits());
    rx::add_watch(fd, path, bits)
        .syscall(CALL)
        .map_err(|e| explain_add_watch(e, path))
}

/// Adds what the caller needs to know to an `inotify_add_watch` error.
pub(crate) fn explain_add_watch(err: Error, path: &Path) -> Error {
    let detail = match err.errno() {
        libc::ENOSPC => {
            let max = fd_core::probe::read_proc_value("/proc/sys/fs/inotify/max_user_watches")
                .unwrap_or_default();
            format!(
                "{}: the user's inotify watch limit max_user_watches ({max}) is reached; raise it with \
                 `sysctl fs.inotify.max_user_watches=N` (or /proc/sys/user/max_inotify_watches in a user namespace)",
                path.display()
            )
        }
        libc::ENOTDIR => format!("{}: not a directory (ONLYDIR was given)", path.display()),
        libc::EEXIST => format!(
            "{}: already watched by this instance (MASK_CREATE was given)",
            path.display()
        ),
        _ => path.display().to_string(),
    };
    err.with_detail(detail)
}

/// `inotify_rm_watch(fd, wd)`: removes a watch; an `IN_IGNORED` event follows.
///
/// # Errors
/// [`fd_core::ErrorKind::InvalidInput`] (`EINVAL`): no such watch (already
/// removed, or gone with its file: an `IN_IGNORED` was reported).
pub fn inotify_rm_watch(fd: impl AsFd, wd: i32) -> Result<()> {
    rx::remove_watch(fd, wd)
        .syscall("inotify_rm_watch")
        .map_err(|e| {
            if e.errno() == libc::EINVAL {
                e.with_detail(format!(
                    "watch {wd} does not exist: already removed, or gone with its file \
                 (an IN_IGNORED event reported it)"
                ))
            } else {
                e
            }
        })
}

//! The raw layer: `fanotify_init` and `fanotify_mark` over typed flags,
//! for callers who keep the group fd themselves. [`Fanotify`](super::Fanotify)
//! adds the checks, the error sentences and the reading on top.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use fd_core::Result;
use rustix::fs::OFlags;

use super::sys;
use super::{Class, EventMask, InitFlags, MarkFlags, MarkTarget};

/// What a [`fanotify_mark`] call does to the marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkOp {
    /// `FAN_MARK_ADD`: add the events to the mark (creating it).
    Add,
    /// `FAN_MARK_REMOVE`: remove the events from the mark.
    Remove,
    /// `FAN_MARK_FLUSH`: remove every mark of the target's kind.
    Flush,
}

impl MarkOp {
    fn bits(self) -> u32 {
        match self {
            MarkOp::Add => libc::FAN_MARK_ADD,
            MarkOp::Remove => libc::FAN_MARK_REMOVE,
            MarkOp::Flush => libc::FAN_MARK_FLUSH,
        }
    }
}

/// `fanotify_init(class | flags | FAN_CLOEXEC, event_flags | O_CLOEXEC)`: a
/// new fanotify group.
///
/// # Errors
/// - [`ErrorKind::PermissionDenied`](fd_core::ErrorKind::PermissionDenied)
///   (`EPERM`): without `CAP_SYS_ADMIN`, only [`Class::Notif`] with FID
///   reporting is allowed (Linux 5.13).
/// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput)
///   (`EINVAL`): a flag this kernel does not know, or a combination it
///   refuses ([`Fanotify::new`](super::Fanotify::new) checks those first).
/// - [`ErrorKind::ResourceLimit`](fd_core::ErrorKind::ResourceLimit)
///   (`EMFILE`): too many groups or fds.
///
/// # References
/// - [`fanotify_init(2)`](https://man7.org/linux/man-pages/man2/fanotify_init.2.html)
pub fn fanotify_init(class: Class, flags: InitFlags, event_flags: OFlags) -> Result<OwnedFd> {
    sys::fanotify_init(class.bits() | flags.bits(), event_flags.bits())
}

/// `fanotify_mark(group, op | target | flags, mask, dirfd, path)`: changes
/// the group's marks; `dirfd` `None` is `AT_FDCWD`, `path` `None` marks
/// `dirfd` itself (and is what [`MarkOp::Flush`] takes).
///
/// # Errors
/// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput)
///   (`EINVAL`): events the target cannot have (directory-entry events on a
///   mount mark, or without FID reporting), unknown bits.
/// - [`ErrorKind::PermissionDenied`](fd_core::ErrorKind::PermissionDenied)
///   (`EPERM`): mount and filesystem marks without `CAP_SYS_ADMIN`.
/// - [`ErrorKind::NotFound`](fd_core::ErrorKind::NotFound) (`ENOENT`): no
///   such path, or removing a mark that does not exist.
/// - [`ErrorKind::Unsupported`](fd_core::ErrorKind::Unsupported) (`EXDEV`,
///   `ENODEV`): FID reporting on a filesystem that cannot give handles.
///
/// # References
/// - [`fanotify_mark(2)`](https://man7.org/linux/man-pages/man2/fanotify_mark.2.html)
pub fn fanotify_mark(
    group: impl AsFd,
    op: MarkOp,
    target: MarkTarget,
    flags: MarkFlags,
    mask: EventMask,
    dirfd: Option<BorrowedFd<'_>>,
    path: Option<&Path>,
) -> Result<()> {
    sys::fanotify_mark(
        group.as_fd(),
        op.bits() | target.bits() | flags.bits(),
        mask.bits(),
        dirfd,
        path,
    )
}

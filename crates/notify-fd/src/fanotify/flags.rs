//! fanotify classes, init flags, event bits and mark flags.

use std::fmt;
use std::str::FromStr;

use fd_core::Error;

/// Newer kernel constants that libc does not carry yet (values from
/// `<linux/fanotify.h>`).
pub(crate) mod k {
    /// `FAN_REPORT_FD_ERROR` (6.13): an fd error in the event instead of failing the read.
    pub(crate) const FAN_REPORT_FD_ERROR: u32 = 0x0000_2000;
    /// `FAN_PRE_ACCESS` (6.14): pre-content access permission event.
    pub(crate) const FAN_PRE_ACCESS: u64 = 0x0010_0000;
    /// `FAN_MNT_ATTACH` / `FAN_MNT_DETACH` (6.15): mount namespace events.
    pub(crate) const FAN_MNT_ATTACH: u64 = 0x0100_0000;
    pub(crate) const FAN_MNT_DETACH: u64 = 0x0200_0000;
    /// `FAN_MARK_MNTNS` (6.15).
    pub(crate) const FAN_MARK_MNTNS: u32 = 0x0000_0110;
    /// `FAN_EVENT_INFO_TYPE_RANGE` (6.14) and `_MNT` (6.15).
    pub(crate) const INFO_RANGE: u8 = 6;
    pub(crate) const INFO_MNT: u8 = 7;
    /// `FAN_ERRNO_SHIFT` for `FAN_DENY_ERRNO(e)` (6.14).
    pub(crate) const FAN_ERRNO_SHIFT: u32 = 24;
}

/// The notification class of a group: what it may do with events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Class {
    /// `FAN_CLASS_NOTIF`: events after the fact. The default, and the only
    /// class allowed without `CAP_SYS_ADMIN`.
    #[default]
    Notif,
    /// `FAN_CLASS_CONTENT`: permission events once the content is final.
    Content,
    /// `FAN_CLASS_PRE_CONTENT`: permission events before the content is
    /// final (for hierarchical storage managers).
    PreContent,
}

impl Class {
    pub(crate) fn bits(self) -> u32 {
        match self {
            Class::Notif => libc::FAN_CLASS_NOTIF,
            Class::Content => libc::FAN_CLASS_CONTENT,
            Class::PreContent => libc::FAN_CLASS_PRE_CONTENT,
        }
    }
}

bitflags::bitflags! {
    /// Flags for [`Fanotify::new`](super::Fanotify::new) besides the class.
    /// `FAN_CLOEXEC` is always added.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct InitFlags: u32 {
        /// `FAN_NONBLOCK`: a read with nothing queued fails with would-block.
        const NONBLOCK = libc::FAN_NONBLOCK;
        /// `FAN_UNLIMITED_QUEUE`: no 16384-event queue limit (needs CAP_SYS_ADMIN).
        const UNLIMITED_QUEUE = libc::FAN_UNLIMITED_QUEUE;
        /// `FAN_UNLIMITED_MARKS`: no per-user mark limit (needs CAP_SYS_ADMIN).
        const UNLIMITED_MARKS = libc::FAN_UNLIMITED_MARKS;
        /// `FAN_ENABLE_AUDIT`: permission responses may ask for an audit record.
        const ENABLE_AUDIT = libc::FAN_ENABLE_AUDIT;
        /// `FAN_REPORT_TID`: report the thread id instead of the process id.
        const REPORT_TID = libc::FAN_REPORT_TID;
        /// `FAN_REPORT_FID`: identify objects by file handle (an FID record)
        /// instead of an open fd.
        const REPORT_FID = libc::FAN_REPORT_FID;
        /// `FAN_REPORT_DIR_FID`: report the directory's file handle (DFID).
        const REPORT_DIR_FID = libc::FAN_REPORT_DIR_FID;
        /// `FAN_REPORT_NAME`: with `REPORT_DIR_FID`, the entry's name (DFID_NAME).
        const REPORT_NAME = libc::FAN_REPORT_NAME;
        /// `FAN_REPORT_DFID_NAME`: `REPORT_DIR_FID | REPORT_NAME`.
        const REPORT_DFID_NAME = libc::FAN_REPORT_DFID_NAME;
        /// `FAN_REPORT_TARGET_FID`: with DFID_NAME and FID, also the child's FID.
        const REPORT_TARGET_FID = libc::FAN_REPORT_TARGET_FID;
        /// `FAN_REPORT_PIDFD`: a pidfd of the acting process in each event.
        const REPORT_PIDFD = libc::FAN_REPORT_PIDFD;
        /// `FAN_REPORT_FD_ERROR` (6.13): a failure to open the event's fd is
        /// reported in the event rather than failing the read.
        const REPORT_FD_ERROR = k::FAN_REPORT_FD_ERROR;
    }
}

bitflags::bitflags! {
    /// fanotify event bits: what a mark watches for, and what an event reports.
    ///
    /// Prints and parses as `"open|close_write|ondir"`; accepts the C names
    /// (`FAN_OPEN`) and the combinations `close` and `move`.
    #[repr(transparent)]
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct EventMask: u64 {
        /// `FAN_ACCESS`: a file was read.
        const ACCESS = libc::FAN_ACCESS;
        /// `FAN_MODIFY`: a file was written.
        const MODIFY = libc::FAN_MODIFY;
        /// `FAN_ATTRIB`: metadata changed (FID groups only).
        const ATTRIB = libc::FAN_ATTRIB;
        /// `FAN_CLOSE_WRITE`: a file opened for writing was closed.
        const CLOSE_WRITE = libc::FAN_CLOSE_WRITE;
        /// `FAN_CLOSE_NOWRITE`: a file opened read-only was closed.
        const CLOSE_NOWRITE = libc::FAN_CLOSE_NOWRITE;
        /// `FAN_OPEN`: a file was opened.
        const OPEN = libc::FAN_OPEN;
        /// `FAN_MOVED_FROM`: an entry left a directory (FID groups only).
        const MOVED_FROM = libc::FAN_MOVED_FROM;
        /// `FAN_MOVED_TO`: an entry arrived in a directory (FID groups only).
        const MOVED_TO = libc::FAN_MOVED_TO;
        /// `FAN_CREATE`: an entry was created (FID groups only).
        const CREATE = libc::FAN_CREATE;
        /// `FAN_DELETE`: an entry was deleted (FID groups only).
        const DELETE = libc::FAN_DELETE;
        /// `FAN_DELETE_SELF`: the marked object was deleted (FID groups only).
        const DELETE_SELF = libc::FAN_DELETE_SELF;
        /// `FAN_MOVE_SELF`: the marked object was moved (FID groups only).
        const MOVE_SELF = libc::FAN_MOVE_SELF;
        /// `FAN_OPEN_EXEC`: a file was opened to be executed.
        const OPEN_EXEC = libc::FAN_OPEN_EXEC;
        /// `FAN_Q_OVERFLOW` (reported only): events were lost.
        const Q_OVERFLOW = libc::FAN_Q_OVERFLOW;
        /// `FAN_FS_ERROR`: a filesystem error (filesystem marks, FID groups).
        const FS_ERROR = libc::FAN_FS_ERROR;
        /// `FAN_OPEN_PERM`: permission to open (content classes).
        const OPEN_PERM = libc::FAN_OPEN_PERM;
        /// `FAN_ACCESS_PERM`: permission to read (content classes).
        const ACCESS_PERM = libc::FAN_ACCESS_PERM;
        /// `FAN_OPEN_EXEC_PERM`: permission to execute (content classes).
        const OPEN_EXEC_PERM = libc::FAN_OPEN_EXEC_PERM;
        /// `FAN_PRE_ACCESS` (6.14): permission before content is accessed
        /// (pre-content class), with a RANGE record.
        const PRE_ACCESS = k::FAN_PRE_ACCESS;
        /// `FAN_MNT_ATTACH` (6.15): a mount appeared in a marked namespace.
        const MNT_ATTACH = k::FAN_MNT_ATTACH;
        /// `FAN_MNT_DETACH` (6.15): a mount left a marked namespace.
        const MNT_DETACH = k::FAN_MNT_DETACH;
        /// `FAN_RENAME`: one event with the old and new names (DFID_NAME groups).
        const RENAME = libc::FAN_RENAME;
        /// `FAN_ONDIR`: also report events on directories / the subject is one.
        const ONDIR = libc::FAN_ONDIR;
        /// `FAN_EVENT_ON_CHILD`: on a directory mark, events on its children too.
        const EVENT_ON_CHILD = libc::FAN_EVENT_ON_CHILD;
    }
}

const NAMES: &[(&str, EventMask)] = &[
    ("access", EventMask::ACCESS),
    ("modify", EventMask::MODIFY),
    ("attrib", EventMask::ATTRIB),
    ("close_write", EventMask::CLOSE_WRITE),
    ("close_nowrite", EventMask::CLOSE_NOWRITE),
    ("open", EventMask::OPEN),
    ("moved_from", EventMask::MOVED_FROM),
    ("moved_to", EventMask::MOVED_TO),
    ("create", EventMask::CREATE),
    ("delete", EventMask::DELETE),
    ("delete_self", EventMask::DELETE_SELF),
    ("move_self", EventMask::MOVE_SELF),
    ("open_exec", EventMask::OPEN_EXEC),
    ("q_overflow", EventMask::Q_OVERFLOW),
    ("fs_error", EventMask::FS_ERROR),
    ("open_perm", EventMask::OPEN_PERM),
    ("access_perm", EventMask::ACCESS_PERM),
    ("open_exec_perm", EventMask::OPEN_EXEC_PERM),
    ("pre_access", EventMask::PRE_ACCESS),
    ("mnt_attach", EventMask::MNT_ATTACH),
    ("mnt_detach", EventMask::MNT_DETACH),
    ("rename", EventMask::RENAME),
    ("ondir", EventMask::ONDIR),
    ("event_on_child", EventMask::EVENT_ON_CHILD),
];

impl EventMask {
    /// `FAN_CLOSE`: both close events.
    pub const CLOSE: EventMask = EventMask::CLOSE_WRITE.union(EventMask::CLOSE_NOWRITE);
    /// `FAN_MOVE`: both move halves.
    pub const MOVE: EventMask = EventMask::MOVED_FROM.union(EventMask::MOVED_TO);
    /// Every permission event: the group must answer these.
    pub const PERMISSION: EventMask = EventMask::OPEN_PERM
        .union(EventMask::ACCESS_PERM)
        .union(EventMask::OPEN_EXEC_PERM)
        .union(EventMask::PRE_ACCESS);
    /// Events about directory entries, which need FID reporting.
    pub const DIRENT: EventMask = EventMask::CREATE
        .union(EventMask::DELETE)
        .union(EventMask::MOVE)
        .union(EventMask::RENAME)
        .union(EventMask::DELETE_SELF)
        .union(EventMask::MOVE_SELF)
        .union(EventMask::ATTRIB);

    /// Whether this is a permission event that must be answered.
    pub fn is_permission(self) -> bool {
        self.intersects(EventMask::PERMISSION)
    }
}

fn names() -> Vec<(&'static str, u64)> {
    NAMES.iter().map(|(n, b)| (*n, b.bits())).collect()
}

impl fmt::Display for EventMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::names::write(f, &names(), self.bits())
    }
}

impl fmt::Debug for EventMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventMask({self})")
    }
}

impl FromStr for EventMask {
    type Err = Error;

    fn from_str(s: &str) -> Result<EventMask, Error> {
        let extra = [
            ("close", EventMask::CLOSE.bits()),
            ("move", EventMask::MOVE.bits()),
        ];
        let bits = crate::names::parse(
            s,
            "fan_",
            &names(),
            &extra,
            ("EventMask::from_str", "fanotify_mark"),
            "fanotify event",
            "a name such as open, close_write, create, open_perm",
        )?;
        Ok(EventMask::from_bits_retain(bits))
    }
}

/// What a mark is placed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MarkTarget {
    /// `FAN_MARK_INODE`: the file or directory itself.
    #[default]
    Inode,
    /// `FAN_MARK_MOUNT`: every object on the mount.
    Mount,
    /// `FAN_MARK_FILESYSTEM`: every object on the filesystem, any mount.
    Filesystem,
    /// `FAN_MARK_MNTNS` (6.15): the mount namespace the path's fd refers to.
    MountNs,
}

impl MarkTarget {
    pub(crate) fn bits(self) -> u32 {
        match self {
            MarkTarget::Inode => libc::FAN_MARK_INODE,
            MarkTarget::Mount => libc::FAN_MARK_MOUNT,
            MarkTarget::Filesystem => libc::FAN_MARK_FILESYSTEM,
            MarkTarget::MountNs => k::FAN_MARK_MNTNS,
        }
    }
}

bitflags::bitflags! {
    /// How a mark behaves.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct MarkFlags: u32 {
        /// `FAN_MARK_DONT_FOLLOW`: mark a symbolic link itself.
        const DONT_FOLLOW = libc::FAN_MARK_DONT_FOLLOW;
        /// `FAN_MARK_ONLYDIR`: fail unless the path is a directory.
        const ONLYDIR = libc::FAN_MARK_ONLYDIR;
        /// `FAN_MARK_IGNORED_MASK`: the mask is events to ignore (old style).
        const IGNORED_MASK = libc::FAN_MARK_IGNORED_MASK;
        /// `FAN_MARK_IGNORED_SURV_MODIFY`: the ignore mask survives a modification.
        const IGNORED_SURV_MODIFY = libc::FAN_MARK_IGNORED_SURV_MODIFY;
        /// `FAN_MARK_IGNORE` (6.0): the mask is events to ignore, with
        /// directory events ignored only with `ONDIR`.
        const IGNORE = libc::FAN_MARK_IGNORE;
        /// `FAN_MARK_EVICTABLE` (5.19): the inode mark does not pin the inode.
        const EVICTABLE = libc::FAN_MARK_EVICTABLE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (name, bit) in NAMES {
            assert_eq!(name.parse::<EventMask>().unwrap(), *bit);
            assert_eq!(bit.to_string(), *name);
            assert_eq!(
                format!("FAN_{}", name.to_uppercase())
                    .parse::<EventMask>()
                    .unwrap(),
                *bit
            );
        }
        let m: EventMask = "open|close_write|ondir".parse().unwrap();
        assert_eq!(m.to_string(), "close_write|open|ondir");
        assert_eq!("close".parse::<EventMask>().unwrap(), EventMask::CLOSE);
        assert!(
            "frob"
                .parse::<EventMask>()
                .unwrap_err()
                .to_string()
                .contains("unknown fanotify event \"frob\"")
        );
        assert!(EventMask::OPEN_PERM.is_permission() && !EventMask::OPEN.is_permission());
        assert_eq!(EventMask::empty().to_string(), "none");
    }
}

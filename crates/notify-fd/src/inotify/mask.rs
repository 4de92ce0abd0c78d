//! Event bits and watch flags, kept apart.
//!
//! The kernel takes both in one `u32`; the `inotify` crate exposes them in
//! one type, so `WatchMask::all()` there includes `IN_ONESHOT` and other
//! flags that change how a watch behaves. Here [`EventMask`] holds only
//! events and [`WatchFlags`] only behaviour.

use std::fmt;
use std::str::FromStr;

use fd_core::Error;

bitflags::bitflags! {
    /// Inotify event bits: what to watch for, and what an event reports.
    ///
    /// The first twelve can be watched for. [`EventMask::UNMOUNT`],
    /// [`EventMask::Q_OVERFLOW`], [`EventMask::IGNORED`] and
    /// [`EventMask::ISDIR`] only appear in events the kernel reports.
    ///
    /// Parses and prints as `"create|delete|moved_to"`; also accepts the C
    /// names (`IN_CREATE`) and the combinations `close`, `move` and `all`.
    ///
    /// ```
    /// use butter::notify::inotify::EventMask;
    ///
    /// let mask: EventMask = "create|delete|moved_to".parse()?;
    /// assert_eq!(mask, EventMask::CREATE | EventMask::DELETE | EventMask::MOVED_TO);
    /// assert_eq!(mask.to_string(), "moved_to|create|delete");
    /// assert_eq!("move".parse::<EventMask>()?, EventMask::MOVE);
    /// # Ok::<(), butter::Error>(())
    /// ```
    #[repr(transparent)]
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct EventMask: u32 {
        /// `IN_ACCESS`: a file was read.
        const ACCESS = libc::IN_ACCESS;
        /// `IN_MODIFY`: a file was written.
        const MODIFY = libc::IN_MODIFY;
        /// `IN_ATTRIB`: metadata changed (permissions, timestamps, links, owner).
        const ATTRIB = libc::IN_ATTRIB;
        /// `IN_CLOSE_WRITE`: a file opened for writing was closed.
        const CLOSE_WRITE = libc::IN_CLOSE_WRITE;
        /// `IN_CLOSE_NOWRITE`: a file or directory not opened for writing was closed.
        const CLOSE_NOWRITE = libc::IN_CLOSE_NOWRITE;
        /// `IN_OPEN`: a file or directory was opened.
        const OPEN = libc::IN_OPEN;
        /// `IN_MOVED_FROM`: an entry was renamed away from the watched directory.
        const MOVED_FROM = libc::IN_MOVED_FROM;
        /// `IN_MOVED_TO`: an entry was renamed into the watched directory.
        const MOVED_TO = libc::IN_MOVED_TO;
        /// `IN_CREATE`: an entry was created in the watched directory.
        const CREATE = libc::IN_CREATE;
        /// `IN_DELETE`: an entry was deleted from the watched directory.
        const DELETE = libc::IN_DELETE;
        /// `IN_DELETE_SELF`: the watched file or directory itself was deleted.
        const DELETE_SELF = libc::IN_DELETE_SELF;
        /// `IN_MOVE_SELF`: the watched file or directory itself was moved.
        const MOVE_SELF = libc::IN_MOVE_SELF;
        /// `IN_UNMOUNT` (reported only): the filesystem was unmounted; an
        /// `IN_IGNORED` follows.
        const UNMOUNT = libc::IN_UNMOUNT;
        /// `IN_Q_OVERFLOW` (reported only): the queue overflowed and events
        /// were lost (watch descriptor -1).
        const Q_OVERFLOW = libc::IN_Q_OVERFLOW;
        /// `IN_IGNORED` (reported only): the watch is gone (removed, its file
        /// deleted, its filesystem unmounted, or a one-shot watch fired).
        const IGNORED = libc::IN_IGNORED;
        /// `IN_ISDIR` (reported only): the subject of the event is a directory.
        const ISDIR = libc::IN_ISDIR;
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
    ("unmount", EventMask::UNMOUNT),
    ("q_overflow", EventMask::Q_OVERFLOW),
    ("ignored", EventMask::IGNORED),
    ("isdir", EventMask::ISDIR),
];

impl EventMask {
    /// `IN_CLOSE`: both close events.
    pub const CLOSE: EventMask = EventMask::CLOSE_WRITE.union(EventMask::CLOSE_NOWRITE);
    /// `IN_MOVE`: both halves of a rename.
    pub const MOVE: EventMask = EventMask::MOVED_FROM.union(EventMask::MOVED_TO);
    /// `IN_ALL_EVENTS`: every event that can be watched for.
    pub const ALL_EVENTS: EventMask = EventMask::from_bits_truncate(libc::IN_ALL_EVENTS);
    /// The bits the kernel reports on its own and that cannot be watched for.
    pub const REPORTED_ONLY: EventMask = EventMask::UNMOUNT
        .union(EventMask::Q_OVERFLOW)
        .union(EventMask::IGNORED)
        .union(EventMask::ISDIR);
}

fn names() -> Vec<(&'static str, u64)> {
    NAMES
        .iter()
        .map(|(n, b)| (*n, u64::from(b.bits())))
        .collect()
}

impl fmt::Display for EventMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::names::write(f, &names(), u64::from(self.bits()))
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
            ("all", u64::from(EventMask::ALL_EVENTS.bits())),
            ("all_events", u64::from(EventMask::ALL_EVENTS.bits())),
            ("close", u64::from(EventMask::CLOSE.bits())),
            ("move", u64::from(EventMask::MOVE.bits())),
        ];
        let bits = crate::names::parse(
            s,
            "in_",
            &names(),
            &extra,
            ("EventMask::from_str", "inotify_add_watch"),
            "inotify event",
            "access, modify, attrib, close_write, close_nowrite, open, moved_from, moved_to, create, delete, \
             delete_self, move_self, close, move or all",
        )?;
        Ok(EventMask::from_bits_retain(
            u32::try_from(bits).unwrap_or(u32::MAX),
        ))
    }
}

bitflags::bitflags! {
    /// How a watch behaves: flags for [`inotify_add_watch`](super::inotify_add_watch),
    /// apart from the events.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct WatchFlags: u32 {
        /// `IN_ONLYDIR`: fail with `ENOTDIR` unless the path is a directory.
        const ONLYDIR = libc::IN_ONLYDIR;
        /// `IN_DONT_FOLLOW`: watch a symbolic link itself, not its target.
        const DONT_FOLLOW = libc::IN_DONT_FOLLOW;
        /// `IN_EXCL_UNLINK`: no events for children after they are unlinked.
        const EXCL_UNLINK = libc::IN_EXCL_UNLINK;
        /// `IN_MASK_ADD`: add the events to an existing watch's mask
        /// instead of replacing it.
        const MASK_ADD = libc::IN_MASK_ADD;
        /// `IN_MASK_CREATE` (Linux 4.18): fail with `EEXIST` if the inode
        /// is already watched, instead of changing that watch.
        const MASK_CREATE = libc::IN_MASK_CREATE;
        /// `IN_ONESHOT`: remove the watch after its first event.
        const ONESHOT = libc::IN_ONESHOT;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        for (name, bit) in NAMES {
            assert_eq!(name.parse::<EventMask>().unwrap(), *bit);
            assert_eq!(bit.to_string(), *name);
            assert_eq!(
                format!("IN_{}", name.to_uppercase())
                    .parse::<EventMask>()
                    .unwrap(),
                *bit
            );
        }
        let all: EventMask = "all".parse().unwrap();
        assert_eq!(all, EventMask::ALL_EVENTS);
        assert_eq!(all.to_string().parse::<EventMask>().unwrap(), all);
        assert_eq!(EventMask::ALL_EVENTS.bits(), 0xfff);
        assert_eq!("close".parse::<EventMask>().unwrap(), EventMask::CLOSE);
        assert_eq!(EventMask::empty().to_string(), "none");
        assert_eq!(
            EventMask::from_bits_retain(0x8000_0000 | 1).to_string(),
            "access|0x80000000"
        );
    }

    #[test]
    fn unknown_names_are_invalid_input() {
        let err = "create|frob".parse::<EventMask>().unwrap_err();
        assert_eq!(err.kind(), fd_core::ErrorKind::InvalidInput);
        assert!(
            err.to_string().contains("unknown inotify event \"frob\""),
            "{err}"
        );
    }

    #[test]
    fn events_and_flags_do_not_overlap() {
        assert!(EventMask::all().bits() & WatchFlags::all().bits() == 0);
        assert!(!EventMask::ALL_EVENTS.intersects(EventMask::REPORTED_ONLY));
    }
}

//! Reading: the reusable [`EventBuffer`], the [`Events`] of one read, and
//! [`Change`]s with renames paired in the kernel's order.

use std::ffi::{OsStr, OsString};

use super::{Event, EventIter, EventMask, MIN_BUFFER, WatchEvent};

/// A reusable read buffer for [`Inotify::read_batch`](crate::inotify::Inotify::read_batch).
///
/// Its size is the most one read takes. The default, 64 KiB (about 4,000
/// events without names), is chosen by measurement: decoding a batch while
/// it is still in the CPU's cache is faster than taking a whole full queue
/// (256 KiB and more) in one read, and sizing every read with `FIONREAD`
/// costs more still, because for inotify the kernel answers `FIONREAD` by
/// walking the whole queue. Draining a full queue this way runs at the
/// speed of a plain C reader with the same buffer. To take a known backlog
/// in one read anyway, size a buffer with [`Inotify::queued_bytes`](crate::inotify::Inotify::queued_bytes).
#[derive(Debug, Clone)]
pub struct EventBuffer {
    pub(crate) bytes: Vec<u8>,
    pub(crate) len: usize,
}

impl EventBuffer {
    /// The default size: 64 KiB, about 2,000 events with short names.
    pub const DEFAULT: usize = 64 * 1024;

    /// A buffer of `size` bytes (at least [`MIN_BUFFER`], below which the
    /// kernel refuses a read with `EINVAL`).
    pub fn with_capacity(size: usize) -> EventBuffer {
        EventBuffer {
            bytes: vec![0; size.max(MIN_BUFFER)],
            len: 0,
        }
    }

    /// The buffer's size in bytes.
    pub fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

impl Default for EventBuffer {
    fn default() -> EventBuffer {
        EventBuffer::with_capacity(EventBuffer::DEFAULT)
    }
}

/// The events of one read: iterate for raw [`Event`]s, or call
/// [`changes`](Events::changes) for renames paired.
#[derive(Debug, Clone, Copy)]
pub struct Events<'b> {
    pub(crate) bytes: &'b [u8],
    pub(crate) instance: u64,
}

impl<'b> Events<'b> {
    /// The raw events, in the kernel's order.
    pub fn iter(&self) -> EventIter<'b> {
        EventIter::new(self.bytes, self.instance)
    }

    /// How many bytes the read returned.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// The events with renames paired, in the kernel's order: a
    /// `MOVED_FROM` and a `MOVED_TO` with the same cookie become one
    /// [`Change::Renamed`] where the first half stood (the kernel queues
    /// the two halves of one `rename` next to each other); a half whose
    /// partner is not in this batch (the other directory is not watched,
    /// or the read ended between them) is a [`Change::MovedOut`] or
    /// [`Change::MovedIn`] where it stood, so a reader that fell behind
    /// sees `moved_from a` before a later `create a`. No allocation.
    pub fn changes(&self) -> Changes<'b> {
        Changes {
            events: *self,
            main: self.iter(),
        }
    }
}

impl<'b> IntoIterator for Events<'b> {
    type Item = Event<&'b OsStr>;
    type IntoIter = EventIter<'b>;

    fn into_iter(self) -> EventIter<'b> {
        self.iter()
    }
}

/// What happened, with renames paired. `N` holds names as in [`WatchEvent`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Change<N> {
    /// Any event but a rename half.
    Event(WatchEvent<N>),
    /// An entry was renamed; both directories are watched.
    Renamed {
        /// The `MOVED_FROM` half: old directory and name.
        from: WatchEvent<N>,
        /// The `MOVED_TO` half: new directory and name.
        to: WatchEvent<N>,
    },
    /// An entry left a watched directory for one that is not watched.
    MovedOut(WatchEvent<N>),
    /// An entry arrived from a directory that is not watched.
    MovedIn(WatchEvent<N>),
    /// The queue overflowed: events were lost.
    Overflow,
}

impl Change<&OsStr> {
    /// An owned copy.
    pub fn to_owned_change(&self) -> Change<OsString> {
        match self {
            Change::Event(e) => Change::Event(e.to_owned_event()),
            Change::Renamed { from, to } => Change::Renamed {
                from: from.to_owned_event(),
                to: to.to_owned_event(),
            },
            Change::MovedOut(e) => Change::MovedOut(e.to_owned_event()),
            Change::MovedIn(e) => Change::MovedIn(e.to_owned_event()),
            Change::Overflow => Change::Overflow,
        }
    }
}

/// The iterator behind [`Events::changes`].
#[derive(Debug, Clone)]
pub struct Changes<'b> {
    events: Events<'b>,
    main: EventIter<'b>,
}

fn is_move_half(e: &WatchEvent<&OsStr>, half: EventMask) -> bool {
    e.mask.contains(half) && e.cookie != 0
}

/// The `MOVED_TO` partner of a `MOVED_FROM` with `cookie`, among the events
/// `after` has left.
fn partner_after<'b>(after: &EventIter<'b>, cookie: u32) -> Option<WatchEvent<&'b OsStr>> {
    after.clone().find_map(|e| match e {
        Event::Watch(w) if is_move_half(&w, EventMask::MOVED_TO) && w.cookie == cookie => Some(w),
        _ => None,
    })
}

/// Whether a `MOVED_FROM` with `cookie` is anywhere in `events` (the kernel
/// always queues it before its `MOVED_TO`).
fn has_from(events: Events<'_>, cookie: u32) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::Watch(w) if is_move_half(&w, EventMask::MOVED_FROM) && w.cookie == cookie))
}

impl<'b> Iterator for Changes<'b> {
    type Item = Change<&'b OsStr>;

    fn next(&mut self) -> Option<Self::Item> {
        for event in self.main.by_ref() {
            let w = match event {
                Event::Overflow => return Some(Change::Overflow),
                Event::Watch(w) => w,
            };
            if is_move_half(&w, EventMask::MOVED_FROM) {
                return Some(match partner_after(&self.main, w.cookie) {
                    Some(to) => Change::Renamed { from: w, to },
                    None => Change::MovedOut(w),
                });
            }
            if is_move_half(&w, EventMask::MOVED_TO) {
                if has_from(self.events, w.cookie) {
                    continue; // reported with its MOVED_FROM
                }
                return Some(Change::MovedIn(w));
            }
            return Some(Change::Event(w));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inotify::decode::encode;

    fn changes(buf: &[u8]) -> Vec<Change<OsString>> {
        Events {
            bytes: buf,
            instance: 1,
        }
        .changes()
        .map(|c| c.to_owned_change())
        .collect()
    }

    #[test]
    fn renames_pair_and_everything_keeps_the_kernels_order() {
        let mut buf = Vec::new();
        encode(&mut buf, 1, libc::IN_MOVED_FROM, 5, b"out");
        encode(&mut buf, 1, libc::IN_CREATE, 0, b"c");
        encode(&mut buf, 1, libc::IN_MOVED_FROM, 7, b"old");
        encode(&mut buf, 2, libc::IN_MOVED_TO, 7, b"new");
        encode(&mut buf, 1, libc::IN_MOVED_TO, 9, b"in");
        encode(&mut buf, -1, libc::IN_Q_OVERFLOW, 0, b"");
        encode(&mut buf, 1, libc::IN_CREATE, 0, b"out");
        let got = changes(&buf);
        let name = |e: &WatchEvent<OsString>| e.name.clone().unwrap().into_string().unwrap();
        assert_eq!(got.len(), 6, "{got:?}");
        assert!(matches!(&got[0], Change::MovedOut(e) if name(e) == "out"));
        assert!(matches!(&got[1], Change::Event(e) if name(e) == "c"));
        assert!(
            matches!(&got[2], Change::Renamed { from, to } if name(from) == "old" && name(to) == "new" && to.wd.raw() == 2)
        );
        assert!(matches!(&got[3], Change::MovedIn(e) if name(e) == "in"));
        assert_eq!(got[4], Change::Overflow);
        assert!(
            matches!(&got[5], Change::Event(e) if name(e) == "out" && e.mask.contains(EventMask::CREATE))
        );
    }
}

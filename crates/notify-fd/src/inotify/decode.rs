//! Decoding `struct inotify_event` records straight from the read buffer.
//!
//! Safe code only: every field is read with bounds checks, so no input, the
//! kernel's or anyone else's, can make it panic or read out of bounds. A
//! record that does not fit what is left of the buffer ends the iteration
//! and marks the batch truncated (the kernel never writes partial records).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use super::mask::EventMask;

/// The fixed part of `struct inotify_event`: wd, mask, cookie, len.
pub(crate) const HEADER: usize = 16;
/// The smallest read buffer the kernel accepts for one event with a name:
/// the header plus `NAME_MAX + 1`.
pub const MIN_BUFFER: usize = HEADER + 256;

/// A watch descriptor, tied to the [`Inotify`](super::Inotify) instance that
/// made it, so that it cannot be removed from another instance by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatchDescriptor {
    pub(crate) instance: u64,
    pub(crate) wd: i32,
}

impl WatchDescriptor {
    /// The kernel's number for the watch.
    pub fn raw(self) -> i32 {
        self.wd
    }
}

/// One event about a watch. `N` is how the name is held: `&OsStr` borrowed
/// from the read buffer (no allocation), or `OsString` when owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WatchEvent<N> {
    /// The watch the event is about.
    pub wd: WatchDescriptor,
    /// What happened, with `ISDIR`, `IGNORED`, `UNMOUNT` where they apply.
    pub mask: EventMask,
    /// Ties the two halves of a rename together; 0 otherwise.
    pub cookie: u32,
    /// The entry's name, for events about an entry of a watched directory;
    /// `None` for events about the watched object itself. Never assumed UTF-8.
    pub name: Option<N>,
}

impl<N> WatchEvent<N> {
    /// Whether the subject is a directory (`IN_ISDIR`).
    pub fn is_dir(&self) -> bool {
        self.mask.contains(EventMask::ISDIR)
    }

    /// Whether the watch is gone after this event (`IN_IGNORED`): its
    /// descriptor is dead and may not be removed again.
    pub fn is_ignored(&self) -> bool {
        self.mask.contains(EventMask::IGNORED)
    }
}

impl WatchEvent<&OsStr> {
    /// An owned copy.
    pub fn to_owned_event(&self) -> WatchEvent<OsString> {
        WatchEvent {
            wd: self.wd,
            mask: self.mask,
            cookie: self.cookie,
            name: self.name.map(OsStr::to_owned),
        }
    }
}

/// One record from the kernel: an event about a watch, or the overflow
/// marker, which cannot be mistaken for a normal event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Event<N> {
    /// An event about a watch.
    Watch(WatchEvent<N>),
    /// `IN_Q_OVERFLOW`: the queue was full and events were lost. Whatever
    /// the reader tracks must be rebuilt (rescan).
    Overflow,
}

/// Iterates over the records of one read, borrowing names from the buffer.
#[derive(Debug, Clone)]
pub struct EventIter<'a> {
    bytes: &'a [u8],
    pos: usize,
    instance: u64,
    truncated: bool,
}

impl<'a> EventIter<'a> {
    pub(crate) fn new(bytes: &'a [u8], instance: u64) -> EventIter<'a> {
        EventIter {
            bytes,
            pos: 0,
            instance,
            truncated: false,
        }
    }

    /// Whether the bytes ended in the middle of a record. Never true for
    /// what the kernel wrote; true for damaged input.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let field = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes(field.try_into().ok()?))
}

impl<'a> Iterator for EventIter<'a> {
    type Item = Event<&'a OsStr>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.bytes.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let (Some(wd), Some(mask), Some(cookie), Some(len)) = (
            u32_at(rest, 0),
            u32_at(rest, 4),
            u32_at(rest, 8),
            u32_at(rest, 12),
        ) else {
            self.truncated = true;
            self.pos = self.bytes.len();
            return None;
        };
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let Some(name_bytes) = HEADER
            .checked_add(len)
            .and_then(|end| rest.get(HEADER..end))
        else {
            self.truncated = true;
            self.pos = self.bytes.len();
            return None;
        };
        self.pos += HEADER + len;
        let mask = EventMask::from_bits_retain(mask);
        if mask.contains(EventMask::Q_OVERFLOW) {
            return Some(Event::Overflow);
        }
        // The name is NUL-padded to alignment.
        let name = name_bytes
            .split(|b| *b == 0)
            .next()
            .filter(|n| !n.is_empty())
            .map(OsStr::from_bytes);
        let wd = WatchDescriptor {
            instance: self.instance,
            wd: wd.cast_signed(),
        };
        Some(Event::Watch(WatchEvent {
            wd,
            mask,
            cookie,
            name,
        }))
    }
}

/// Encodes one record as the kernel would (for tests and fuzzing).
#[cfg(test)]
pub(crate) fn encode(out: &mut Vec<u8>, wd: i32, mask: u32, cookie: u32, name: &[u8]) {
    let padded = if name.is_empty() {
        0
    } else {
        (name.len() + 1).next_multiple_of(16)
    };
    out.extend_from_slice(&wd.to_ne_bytes());
    out.extend_from_slice(&mask.to_ne_bytes());
    out.extend_from_slice(&cookie.to_ne_bytes());
    out.extend_from_slice(&u32::try_from(padded).unwrap().to_ne_bytes());
    out.extend_from_slice(name);
    out.resize(out.len() + padded - name.len(), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_records_with_and_without_names() {
        let mut buf = Vec::new();
        encode(&mut buf, 1, libc::IN_CREATE, 0, b"hello");
        encode(&mut buf, 2, libc::IN_DELETE_SELF, 0, b"");
        encode(&mut buf, -1, libc::IN_Q_OVERFLOW, 0, b"");
        encode(
            &mut buf,
            3,
            libc::IN_MOVED_TO | libc::IN_ISDIR,
            9,
            b"\xffnot-utf8",
        );
        let mut it = EventIter::new(&buf, 7);
        let Some(Event::Watch(e)) = it.next() else {
            panic!()
        };
        assert_eq!(
            (e.wd.raw(), e.mask, e.name),
            (1, EventMask::CREATE, Some(OsStr::new("hello")))
        );
        assert_eq!(e.wd.instance, 7);
        let Some(Event::Watch(e)) = it.next() else {
            panic!()
        };
        assert_eq!((e.mask, e.name), (EventMask::DELETE_SELF, None));
        assert_eq!(it.next(), Some(Event::Overflow));
        let Some(Event::Watch(e)) = it.next() else {
            panic!()
        };
        assert!(e.is_dir());
        assert_eq!(e.cookie, 9);
        assert_eq!(e.name.unwrap().as_bytes(), b"\xffnot-utf8");
        assert_eq!(it.next(), None);
        assert!(!it.truncated());
    }

    #[test]
    fn truncated_input_stops_cleanly() {
        let mut buf = Vec::new();
        encode(&mut buf, 1, libc::IN_CREATE, 0, b"abc");
        for cut in 0..buf.len() {
            let mut it = EventIter::new(&buf[..cut], 0);
            assert_eq!(it.next(), None, "cut at {cut}");
            assert_eq!(it.truncated(), cut > 0);
        }
        // A length field that points past the end.
        let mut bad = Vec::new();
        encode(&mut bad, 1, libc::IN_CREATE, 0, b"");
        bad[12..16].copy_from_slice(&u32::MAX.to_ne_bytes());
        let mut it = EventIter::new(&bad, 0);
        assert_eq!(it.next(), None);
        assert!(it.truncated());
    }

    proptest::proptest! {
        /// Arbitrary bytes never panic the decoder and never yield a name
        /// that is not inside the input; proptest shrinks a failure to a
        /// minimal input.
        #[test]
        fn arbitrary_bytes_never_panic(
            mut bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            small_len in proptest::option::of(0u32..48),
        ) {
            // A small, plausible length field half of the time, so decoding
            // goes deep rather than stopping at the first header.
            if let Some(l) = small_len.filter(|_| bytes.len() >= HEADER) {
                bytes[12..16].copy_from_slice(&l.to_ne_bytes());
            }
            let range = bytes.as_ptr_range();
            for event in EventIter::new(&bytes, 0) {
                if let Event::Watch(WatchEvent { name: Some(name), .. }) = event {
                    let p = name.as_bytes().as_ptr_range();
                    proptest::prop_assert!(range.start <= p.start && p.end <= range.end);
                }
            }
        }

        /// Events laid out as the kernel lays them out decode back to
        /// exactly what was encoded, names of any bytes but NUL included.
        #[test]
        fn encoded_events_round_trip(
            events in proptest::collection::vec(
                (
                    0i32..1000,
                    proptest::num::u32::ANY,
                    proptest::num::u32::ANY,
                    proptest::collection::vec(1u8..=255, 0..40),
                ),
                0..30,
            ),
        ) {
            let mut buf = Vec::new();
            for (wd, mask, cookie, name) in &events {
                // An overflow record has no watch: keep that bit off here.
                encode(&mut buf, *wd, mask & !libc::IN_Q_OVERFLOW, *cookie, name);
            }
            let mut it = EventIter::new(&buf, 7);
            for (wd, mask, cookie, name) in &events {
                let Some(Event::Watch(e)) = it.next() else {
                    return Err(proptest::test_runner::TestCaseError::fail("an event went missing"));
                };
                proptest::prop_assert_eq!(e.wd.raw(), *wd);
                // Bits this crate has no name for are kept, as the kernel gave them.
                proptest::prop_assert_eq!(e.mask.bits(), mask & !libc::IN_Q_OVERFLOW);
                proptest::prop_assert_eq!(e.cookie, *cookie);
                let got: &[u8] = e.name.map_or(&[], |n| n.as_bytes());
                proptest::prop_assert_eq!(got, &name[..]);
            }
            proptest::prop_assert!(it.next().is_none() && !it.truncated());
        }
    }
}

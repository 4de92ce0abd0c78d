//! Decoding fanotify events and their info records from the read buffer.
//!
//! Safe code only: every length is checked against what is left, records
//! of unknown types are skipped by their length, and a record or event that
//! does not fit ends the iteration with `truncated()` set. No input can make
//! it panic or read out of bounds.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use super::flags::{EventMask, k};

/// The size of `struct fanotify_event_metadata`.
pub(crate) const METADATA_LEN: usize = 24;
/// `FANOTIFY_METADATA_VERSION`.
pub(crate) const METADATA_VERSION: u8 = 3;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// One event as the kernel wrote it: metadata and its info records.
#[derive(Debug, Clone)]
pub struct RawEvent<'a> {
    /// What happened.
    pub mask: EventMask,
    /// The event's fd (`FAN_NOFD` = -1 with FID reporting; negative errno
    /// with `REPORT_FD_ERROR`).
    pub fd: i32,
    /// The acting process (or thread, with `REPORT_TID`); 0 when the
    /// kernel withholds it (an unprivileged group, another pid namespace).
    pub pid: u32,
    /// The bytes of the info records.
    pub records: &'a [u8],
}

impl<'a> RawEvent<'a> {
    /// The info records.
    pub fn info(&self) -> InfoIter<'a> {
        InfoIter {
            bytes: self.records,
            truncated: false,
        }
    }
}

/// The events of one read.
#[derive(Debug, Clone)]
pub struct EventIter<'a> {
    bytes: &'a [u8],
    truncated: bool,
}

impl<'a> EventIter<'a> {
    /// Events in `bytes`.
    pub fn new(bytes: &'a [u8]) -> EventIter<'a> {
        EventIter {
            bytes,
            truncated: false,
        }
    }

    /// Whether the bytes ended inside an event, or an event's lengths or
    /// version did not make sense. Never true for what the kernel wrote.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    fn stop(&mut self) -> Option<RawEvent<'a>> {
        self.truncated = true;
        self.bytes = &[];
        None
    }
}

impl<'a> Iterator for EventIter<'a> {
    type Item = RawEvent<'a>;

    fn next(&mut self) -> Option<RawEvent<'a>> {
        if self.bytes.is_empty() {
            return None;
        }
        let b = self.bytes;
        let (Some(event_len), Some(vers), Some(meta_len), Some(mask), Some(fd), Some(pid)) = (
            u32_at(b, 0),
            b.get(4).copied(),
            u16_at(b, 6),
            u64_at(b, 8),
            i32_at(b, 16),
            u32_at(b, 20),
        ) else {
            return self.stop();
        };
        let (event_len, meta_len) = (event_len as usize, usize::from(meta_len));
        if vers != METADATA_VERSION
            || meta_len < METADATA_LEN
            || event_len < meta_len
            || event_len > b.len()
        {
            return self.stop();
        }
        self.bytes = &b[event_len..];
        Some(RawEvent {
            mask: EventMask::from_bits_retain(mask),
            fd,
            pid,
            records: &b[meta_len..event_len],
        })
    }
}

/// Which object a file-handle record identifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FidKind {
    /// `FAN_EVENT_INFO_TYPE_FID`: the object itself.
    Fid,
    /// `FAN_EVENT_INFO_TYPE_DFID`: its directory.
    Dfid,
    /// `FAN_EVENT_INFO_TYPE_DFID_NAME`: its directory and its name.
    DfidName,
    /// `FAN_EVENT_INFO_TYPE_OLD_DFID_NAME`: where a renamed entry was.
    OldDfidName,
    /// `FAN_EVENT_INFO_TYPE_NEW_DFID_NAME`: where a renamed entry is now.
    NewDfidName,
}

/// A file handle from an FID record: resolve it with
/// [`Fanotify::open_handle`](super::Fanotify::open_handle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileHandle<'a> {
    /// The filesystem id (`fsid`) the handle belongs to.
    pub fsid: [i32; 2],
    /// `handle_type`.
    pub handle_type: i32,
    /// `f_handle`, opaque.
    pub bytes: &'a [u8],
}

/// One info record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Info<'a> {
    /// A file handle, and for the `*NAME` kinds the entry's name (bytes,
    /// never assumed UTF-8).
    Fid {
        /// Which object.
        kind: FidKind,
        /// The handle.
        handle: FileHandle<'a>,
        /// The entry's name, for the `*_NAME` kinds.
        name: Option<&'a OsStr>,
    },
    /// `FAN_EVENT_INFO_TYPE_PIDFD`: the acting process's pidfd number (owned
    /// by the event: see [`Event::pidfd`](super::Event::pidfd)), or a
    /// negative value when none could be made.
    Pidfd(i32),
    /// `FAN_EVENT_INFO_TYPE_ERROR`: a filesystem error and how many since
    /// the last report.
    Error {
        /// The errno.
        error: i32,
        /// Errors since the last report.
        count: u32,
    },
    /// `FAN_EVENT_INFO_TYPE_RANGE` (6.14): the byte range a pre-content
    /// event is about.
    Range {
        /// First byte.
        offset: u64,
        /// Bytes.
        count: u64,
    },
    /// `FAN_EVENT_INFO_TYPE_MNT` (6.15): the mount of a mount event.
    Mount {
        /// The mount id.
        mnt_id: u64,
    },
    /// A record type this crate does not know, skipped by its length.
    Unknown {
        /// Its type.
        kind: u8,
        /// Its bytes after the header.
        data: &'a [u8],
    },
}

/// The info records of one event.
#[derive(Debug, Clone)]
pub struct InfoIter<'a> {
    bytes: &'a [u8],
    truncated: bool,
}

impl InfoIter<'_> {
    /// Whether a record did not fit. Never true for what the kernel wrote.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

fn fid<'a>(kind: FidKind, rec: &'a [u8]) -> Option<Info<'a>> {
    // hdr (4), fsid (8), handle_bytes (4), handle_type (4), f_handle, [name\0]
    let fsid = [i32_at(rec, 4)?, i32_at(rec, 8)?];
    let handle_len = u32_at(rec, 12)? as usize;
    let handle_type = i32_at(rec, 16)?;
    let bytes = rec.get(20..20usize.checked_add(handle_len)?)?;
    let name = match kind {
        FidKind::DfidName | FidKind::OldDfidName | FidKind::NewDfidName => {
            let rest = &rec[20 + handle_len..];
            rest.split(|b| *b == 0)
                .next()
                .filter(|n| !n.is_empty())
                .map(OsStr::from_bytes)
        }
        _ => None,
    };
    Some(Info::Fid {
        kind,
        handle: FileHandle {
            fsid,
            handle_type,
            bytes,
        },
        name,
    })
}

impl<'a> Iterator for InfoIter<'a> {
    type Item = Info<'a>;

    fn next(&mut self) -> Option<Info<'a>> {
        if self.bytes.is_empty() {
            return None;
        }
        let b = self.bytes;
        let (Some(kind), Some(len)) = (b.first().copied(), u16_at(b, 2)) else {
            self.truncated = true;
            self.bytes = &[];
            return None;
        };
        let len = usize::from(len);
        if len < 4 || len > b.len() {
            self.truncated = true;
            self.bytes = &[];
            return None;
        }
        let rec = &b[..len];
        self.bytes = &b[len..];
        let info = match kind {
            libc::FAN_EVENT_INFO_TYPE_FID => fid(FidKind::Fid, rec),
            libc::FAN_EVENT_INFO_TYPE_DFID => fid(FidKind::Dfid, rec),
            libc::FAN_EVENT_INFO_TYPE_DFID_NAME => fid(FidKind::DfidName, rec),
            libc::FAN_EVENT_INFO_TYPE_OLD_DFID_NAME => fid(FidKind::OldDfidName, rec),
            libc::FAN_EVENT_INFO_TYPE_NEW_DFID_NAME => fid(FidKind::NewDfidName, rec),
            libc::FAN_EVENT_INFO_TYPE_PIDFD => i32_at(rec, 4).map(Info::Pidfd),
            libc::FAN_EVENT_INFO_TYPE_ERROR => i32_at(rec, 4)
                .zip(u32_at(rec, 8))
                .map(|(error, count)| Info::Error { error, count }),
            k::INFO_RANGE => u64_at(rec, 8)
                .zip(u64_at(rec, 16))
                .map(|(offset, count)| Info::Range { offset, count }),
            k::INFO_MNT => u64_at(rec, 8).map(|mnt_id| Info::Mount { mnt_id }),
            _ => Some(Info::Unknown {
                kind,
                data: &rec[4..],
            }),
        };
        if info.is_none() {
            // The header's length was too short for its type.
            self.truncated = true;
            self.bytes = &[];
        }
        info
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Encodes an event as the kernel would.
    pub(crate) fn event(mask: u64, fd: i32, pid: u32, records: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = records.concat();
        let mut out = Vec::new();
        out.extend_from_slice(
            &u32::try_from(METADATA_LEN + body.len())
                .unwrap()
                .to_ne_bytes(),
        );
        out.push(METADATA_VERSION);
        out.push(0);
        out.extend_from_slice(&u16::try_from(METADATA_LEN).unwrap().to_ne_bytes());
        out.extend_from_slice(&mask.to_ne_bytes());
        out.extend_from_slice(&fd.to_ne_bytes());
        out.extend_from_slice(&pid.to_ne_bytes());
        out.extend_from_slice(&body);
        out
    }

    pub(crate) fn record(kind: u8, data: &[u8]) -> Vec<u8> {
        let len = (4 + data.len()).next_multiple_of(4);
        let mut out = vec![kind, 0];
        out.extend_from_slice(&u16::try_from(len).unwrap().to_ne_bytes());
        out.extend_from_slice(data);
        out.resize(len, 0);
        out
    }

    pub(crate) fn fid_record(kind: u8, handle: &[u8], name: &[u8]) -> Vec<u8> {
        let mut data = Vec::new();
        data.extend_from_slice(&7i32.to_ne_bytes());
        data.extend_from_slice(&9i32.to_ne_bytes());
        data.extend_from_slice(&u32::try_from(handle.len()).unwrap().to_ne_bytes());
        data.extend_from_slice(&1i32.to_ne_bytes());
        data.extend_from_slice(handle);
        if !name.is_empty() {
            data.extend_from_slice(name);
            data.push(0);
        }
        record(kind, &data)
    }

    #[test]
    fn decodes_every_record_type() {
        let mut range = vec![0u8; 4];
        range.extend_from_slice(&100u64.to_ne_bytes());
        range.extend_from_slice(&50u64.to_ne_bytes());
        let mut mnt = vec![0u8; 4];
        mnt.extend_from_slice(&42u64.to_ne_bytes());
        let mut err = 5i32.to_ne_bytes().to_vec();
        err.extend_from_slice(&3u32.to_ne_bytes());
        let bytes = event(
            libc::FAN_CREATE | libc::FAN_ONDIR,
            -1,
            1234,
            &[
                fid_record(libc::FAN_EVENT_INFO_TYPE_DFID_NAME, b"handle!!", b"new-dir"),
                fid_record(libc::FAN_EVENT_INFO_TYPE_FID, b"hh", b""),
                record(libc::FAN_EVENT_INFO_TYPE_PIDFD, &17i32.to_ne_bytes()),
                record(libc::FAN_EVENT_INFO_TYPE_ERROR, &err),
                record(k::INFO_RANGE, &range),
                record(k::INFO_MNT, &mnt),
                record(99, b"future"),
            ],
        );
        let mut events = EventIter::new(&bytes);
        let e = events.next().unwrap();
        assert_eq!(
            (e.mask, e.fd, e.pid),
            (EventMask::CREATE | EventMask::ONDIR, -1, 1234)
        );
        let infos: Vec<Info<'_>> = e.info().collect();
        assert_eq!(infos.len(), 7, "{infos:?}");
        assert!(
            matches!(infos[0], Info::Fid { kind: FidKind::DfidName, handle, name: Some(n) }
            if handle.bytes == b"handle!!" && handle.fsid == [7, 9] && n == "new-dir")
        );
        assert!(matches!(
            infos[1],
            Info::Fid {
                kind: FidKind::Fid,
                name: None,
                ..
            }
        ));
        assert_eq!(infos[2], Info::Pidfd(17));
        assert_eq!(infos[3], Info::Error { error: 5, count: 3 });
        assert_eq!(
            infos[4],
            Info::Range {
                offset: 100,
                count: 50
            }
        );
        assert_eq!(infos[5], Info::Mount { mnt_id: 42 });
        assert!(matches!(infos[6], Info::Unknown { kind: 99, .. }));
        assert!(events.next().is_none() && !events.truncated());
    }

    #[test]
    fn bad_lengths_and_versions_stop_cleanly() {
        let good = event(libc::FAN_OPEN, 5, 1, &[]);
        for cut in 1..good.len() {
            let mut it = EventIter::new(&good[..cut]);
            assert!(it.next().is_none() && it.truncated(), "cut {cut}");
        }
        let mut bad_version = good.clone();
        bad_version[4] = 2;
        let mut it = EventIter::new(&bad_version);
        assert!(it.next().is_none() && it.truncated());
        // A record whose handle length points past its end.
        let mut rec = fid_record(libc::FAN_EVENT_INFO_TYPE_FID, b"h", b"");
        rec[12..16].copy_from_slice(&u32::MAX.to_ne_bytes());
        let bytes = event(libc::FAN_OPEN, -1, 1, &[rec]);
        let e = EventIter::new(&bytes).next().unwrap();
        let mut info = e.info();
        assert!(info.next().is_none() && info.truncated());
    }

    proptest::proptest! {
        /// Arbitrary bytes, and plausible events with random records, never
        /// panic and never yield slices outside the input; proptest shrinks
        /// a failure to a minimal input.
        #[test]
        fn arbitrary_bytes_never_panic(
            raw in proptest::collection::vec(proptest::num::u8::ANY, 0..160),
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            kind in 0u8..14,
            mask in proptest::num::u64::ANY,
            plausible in proptest::bool::ANY,
        ) {
            let bytes = if plausible { event(mask, 3, 4, &[record(kind, &data)]) } else { raw };
            let range = bytes.as_ptr_range();
            for e in EventIter::new(&bytes) {
                for info in e.info() {
                    let slices: Vec<&[u8]> = match info {
                        Info::Fid { handle, name, .. } => {
                            vec![handle.bytes, name.map_or(&[][..], |n| n.as_bytes())]
                        }
                        Info::Unknown { data, .. } => vec![data],
                        _ => vec![],
                    };
                    for s in slices.into_iter().filter(|s| !s.is_empty()) {
                        let p = s.as_ptr_range();
                        proptest::prop_assert!(range.start <= p.start && p.end <= range.end);
                    }
                }
            }
        }
    }
}

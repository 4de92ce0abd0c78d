//! inotify, complete: watches on files and directories, every event,
//! batches decoded without allocation, renames paired, a recursive watcher.
//!
//! # How it works
//!
//! - Raw layer: [`inotify_init1`] (always `IN_CLOEXEC`), [`inotify_add_watch`],
//!   [`inotify_rm_watch`].
//! - [`Inotify`] owns the fd. [`add_watch`](Inotify::add_watch) returns a
//!   [`WatchDescriptor`] tied to the instance. [`read_batch`](Inotify::read_batch)
//!   reads a batch of queued events (up to 64 KiB by default, never less
//!   than the kernel needs for one event) in one `read(2)` into a reusable
//!   [`EventBuffer`] and decodes it in place: names are borrowed, nothing is
//!   allocated per event. [`Events::changes`]
//!   pairs `MOVED_FROM`/`MOVED_TO` by cookie into [`Change::Renamed`], and
//!   reports halves without a partner as [`Change::MovedOut`] /
//!   [`Change::MovedIn`] after the rest of the batch.
//! - As an [`EventSource`], an `Inotify` yields owned [`Change`]s;
//!   `AsyncInotify` (feature `async`) is a `Stream` of them.
//! - [`RecursiveWatcher`] watches a whole tree and reports paths.

mod decode;
mod mask;
mod recursive;

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fd_core::{Error, EventSource, Result, SyscallResult};
use rustix::fs::inotify as rx;

pub use decode::{Event, EventIter, MIN_BUFFER, WatchDescriptor, WatchEvent};
pub use mask::{EventMask, WatchFlags};
pub use recursive::{PathEvent, RecursiveOptions, RecursiveWatcher};

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

/// A reusable read buffer for [`Inotify::read_batch`].
///
/// Its size is the most one read takes. The default, 64 KiB (about 4,000
/// events without names), is chosen by measurement: decoding a batch while
/// it is still in the CPU's cache is faster than taking a whole full queue
/// (256 KiB and more) in one read, and sizing every read with `FIONREAD`
/// costs more still, because for inotify the kernel answers `FIONREAD` by
/// walking the whole queue. Draining a full queue this way runs at the
/// speed of a plain C reader with the same buffer. To take a known backlog
/// in one read anyway, size a buffer with [`Inotify::queued_bytes`].
#[derive(Debug, Clone)]
pub struct EventBuffer {
    bytes: Vec<u8>,
    len: usize,
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
    bytes: &'b [u8],
    instance: u64,
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

static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// Owned changes read but not yet handed out through [`EventSource`].
#[derive(Debug, Default)]
struct Pending {
    buffer: Option<EventBuffer>,
    queue: VecDeque<Change<OsString>>,
}

/// An owned inotify instance.
///
/// Close-on-exec always. Two ways to read:
///
/// - [`read_batch`](Inotify::read_batch): one `read(2)` of a batch of
///   queued events into your [`EventBuffer`], decoded in place with
///   borrowed names. The fast path.
/// - [`EventSource`] (and `AsyncInotify`'s `Stream`): owned [`Change`]s, one
///   at a time, renames paired; each read fills an internal queue.
///
/// ```
/// use notify_fd::inotify::{Change, EventBuffer, EventMask, Inotify};
///
/// let dir = std::env::temp_dir().join(format!("inotify-doc-{}", std::process::id()));
/// std::fs::create_dir(&dir).unwrap();
/// let inotify = Inotify::new()?;
/// let wd = inotify.add_watch(&dir, EventMask::CREATE | EventMask::MOVE, Default::default())?;
/// std::fs::write(dir.join("a"), b"x").unwrap();
/// std::fs::rename(dir.join("a"), dir.join("b")).unwrap();
///
/// let mut buf = EventBuffer::default();
/// let names: Vec<String> = inotify
///     .read_batch(&mut buf)?
///     .changes()
///     .map(|c| match c {
///         Change::Event(e) => format!("{} {:?}", e.mask, e.name.unwrap()),
///         Change::Renamed { from, to } => format!("{:?} -> {:?}", from.name.unwrap(), to.name.unwrap()),
///         other => format!("{other:?}"),
///     })
///     .collect();
/// assert_eq!(names, ["create \"a\"", "\"a\" -> \"b\""]);
/// # inotify.rm_watch(wd)?;
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), fd_core::Error>(())
/// ```
pub struct Inotify {
    fd: OwnedFd,
    instance: u64,
    pending: Mutex<Pending>,
}

impl Inotify {
    /// A blocking instance.
    ///
    /// # Errors
    /// As [`inotify_init1`].
    pub fn new() -> Result<Inotify> {
        Inotify::with_flags(InitFlags::empty())
    }

    /// An instance with `flags`.
    pub fn with_flags(flags: InitFlags) -> Result<Inotify> {
        let fd = inotify_init1(flags)?;
        Ok(Inotify {
            fd,
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            pending: Mutex::default(),
        })
    }

    /// Watches `path` for `events`, with `flags`.
    ///
    /// Watching an inode already watched by this instance returns the same
    /// descriptor and replaces its events (or adds to them with
    /// [`WatchFlags::MASK_ADD`]).
    ///
    /// # Errors
    /// As [`inotify_add_watch`].
    pub fn add_watch(
        &self,
        path: impl AsRef<Path>,
        events: EventMask,
        flags: WatchFlags,
    ) -> Result<WatchDescriptor> {
        let wd = inotify_add_watch(&self.fd, path, events, flags)?;
        Ok(WatchDescriptor {
            instance: self.instance,
            wd,
        })
    }

    /// Removes a watch.
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::InvalidInput`]: `wd` belongs to another
    /// instance (checked before the call), or the watch is already gone.
    pub fn rm_watch(&self, wd: WatchDescriptor) -> Result<()> {
        if wd.instance != self.instance {
            return Err(Error::invalid_input(
                "inotify_rm_watch",
                format!("watch {} belongs to another inotify instance", wd.wd),
            ));
        }
        inotify_rm_watch(&self.fd, wd.wd)
    }

    /// Reads queued events with one `read(2)` of up to `buf`'s size and
    /// returns them decoded in place: names borrowed, nothing allocated.
    ///
    /// Blocks if nothing is queued and the fd is blocking. A buffer is never
    /// too small for the kernel (see [`MIN_BUFFER`]).
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::WouldBlock`] when non-blocking and empty.
    pub fn read_batch<'b>(&self, buf: &'b mut EventBuffer) -> Result<Events<'b>> {
        buf.len = fd_core::retry_on_intr(|| {
            rustix::io::read(&self.fd, &mut buf.bytes[..]).syscall("read")
        })?;
        Ok(Events {
            bytes: &buf.bytes[..buf.len],
            instance: self.instance,
        })
    }

    /// `ioctl(FIONREAD)`: how many bytes of events are queued, to size an
    /// [`EventBuffer`] that takes them all in one read.
    ///
    /// The kernel answers it by walking the whole queue under a lock, so on
    /// a long queue it costs about as much as reading the events; it is not
    /// something to ask before every read.
    pub fn queued_bytes(&self) -> Result<usize> {
        let n = rustix::io::ioctl_fionread(&self.fd).syscall("ioctl(FIONREAD)")?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Reads one batch into the internal queue.
    fn fill(&self, pending: &mut Pending) -> Result<()> {
        let mut buf = pending.buffer.take().unwrap_or_default();
        let result = self.read_batch(&mut buf).map(|events| {
            pending
                .queue
                .extend(events.changes().map(|c| c.to_owned_change()));
        });
        pending.buffer = Some(buf);
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        // A panic while holding the lock cannot leave the queue invalid.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Switches between blocking and non-blocking mode.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        fd_core::set_nonblocking(&self.fd, nonblocking)
    }
}

impl EventSource for Inotify {
    /// One change, owned, renames paired within each read.
    type Event = Change<OsString>;

    fn read_event(&self) -> Result<Change<OsString>> {
        let mut pending = self.lock();
        loop {
            if let Some(change) = pending.queue.pop_front() {
                return Ok(change);
            }
            self.fill(&mut pending)?;
        }
    }

    fn read_events(&self, events: &mut Vec<Change<OsString>>) -> Result<usize> {
        let mut pending = self.lock();
        if pending.queue.is_empty() {
            self.fill(&mut pending)?;
        }
        let n = pending.queue.len();
        events.extend(pending.queue.drain(..));
        Ok(n)
    }

    /// Ready at once if changes read earlier are still queued inside.
    fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        if !self.lock().queue.is_empty() {
            return Ok(true);
        }
        fd_core::wait_readable(&self.fd, timeout)
    }
}

fd_core::impl_owned_fd!(Inotify, fd);

impl fmt::Debug for Inotify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inotify")
            .field("fd", &self.fd.as_raw_fd())
            .field("instance", &self.instance)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::decode::encode;
    use super::*;

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

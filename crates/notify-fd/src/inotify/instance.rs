//! [`Inotify`]: an owned inotify instance.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fd_core::{Error, EventSource, Result, SyscallResult};

use super::{
    Change, EventBuffer, EventMask, Events, InitFlags, WatchDescriptor, WatchFlags,
    inotify_add_watch, inotify_init1, inotify_rm_watch,
};

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
    /// too small for the kernel (see [`MIN_BUFFER`](crate::inotify::MIN_BUFFER)).
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

//! [`Inotify`]: an owned inotify instance.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
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
/// use butter::notify::inotify::{Change, EventBuffer, EventMask, Inotify};
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
/// # Ok::<(), butter::Error>(())
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

    /// Adopts an fd that is an inotify instance (inherited, or received
    /// over a socket), checking that it is one. Its watches stay; their
    /// descriptors are known to this value only as events name them.
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::InvalidInput`] if `fd` is not an inotify
    /// instance, naming what it is.
    pub fn from_fd(fd: OwnedFd) -> Result<Inotify> {
        fd_core::expect_anon_inode(&fd, "Inotify::from_fd", "inotify")?;
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

    /// Another handle on the same instance (`F_DUPFD_CLOEXEC`): the same
    /// watches and descriptors, with a queue of its own for
    /// [`read_event`](EventSource::read_event). The blocking mode is
    /// shared: it belongs to the open file description.
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::ResourceLimit`] (`EMFILE`) when out of fds.
    pub fn try_clone(&self) -> Result<Inotify> {
        Ok(Inotify {
            fd: fd_core::dup_cloexec(&self.fd)?,
            instance: self.instance,
            pending: Mutex::default(),
        })
    }

    /// Switches between blocking and non-blocking mode.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        fd_core::set_nonblocking(&self.fd, nonblocking)
    }
}

impl Inotify {
    /// One attempt of a queued read, under the lock: the queue first, then
    /// one batch from the kernel if it has one (so the read cannot block).
    fn attempt<T>(&self, take: &mut impl FnMut(&mut Pending) -> Option<T>) -> Result<Option<T>> {
        let mut pending = self.lock();
        loop {
            if let Some(got) = take(&mut pending) {
                return Ok(Some(got));
            }
            if !fd_core::readable_now(&self.fd)? {
                return Ok(None);
            }
            match self.fill(&mut pending) {
                // A reader outside this type took the batch first.
                Err(e) if e.kind() == fd_core::ErrorKind::WouldBlock => return Ok(None),
                other => other?,
            }
        }
    }
}

fn pop(pending: &mut Pending) -> Option<Change<OsString>> {
    pending.queue.pop_front()
}

/// Reads through the queue: no lock is held while waiting (see
/// [`fd_core::read_queued`]), so a reader blocked here never stops another
/// thread's `try_read_event` or `add_watch`.
impl EventSource for Inotify {
    /// One change, owned, renames paired within each read.
    type Event = Change<OsString>;

    /// One change: the next one queued, or the first of a fresh batch, the
    /// rest of which stays queued. In your own poll loop use
    /// [`read_events`](EventSource::read_events), which hands out all.
    fn read_event(&self) -> Result<Change<OsString>> {
        fd_core::read_queued(self.fd.as_fd(), || self.attempt(&mut pop))
    }

    /// Every change read and not yet handed out, or (if none) one batch
    /// from the kernel: nothing stays queued.
    fn read_events(&self, events: &mut Vec<Change<OsString>>) -> Result<usize> {
        let mut drain = |pending: &mut Pending| {
            let n = pending.queue.len();
            events.extend(pending.queue.drain(..));
            (n > 0).then_some(n)
        };
        fd_core::read_queued(self.fd.as_fd(), || self.attempt(&mut drain))
    }

    fn read_event_timeout(&self, timeout: Duration) -> Result<Option<Change<OsString>>> {
        fd_core::read_queued_timeout(self.fd.as_fd(), timeout, || self.attempt(&mut pop))
    }

    fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    /// Ready at once if changes read earlier are still queued inside.
    fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool> {
        if !self.lock().queue.is_empty() {
            return Ok(true);
        }
        fd_core::wait_readable(&self.fd, timeout)
    }
}

impl AsFd for Inotify {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Inotify {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

impl Inotify {
    /// The fd, and the changes [`read_event`](EventSource::read_event)
    /// read ahead and did not hand out (empty unless it was used; see
    /// [`queued`](EventSource::queued)).
    pub fn into_parts(self) -> (OwnedFd, Vec<Change<OsString>>) {
        let pending = self
            .pending
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (self.fd, pending.queue.into())
    }
}

/// The instance's fd, its watches in place. Changes read ahead by
/// [`read_event`](EventSource::read_event) and not handed out are dropped:
/// take them first (`read_events` hands out all, `queued` counts them), or
/// use [`Inotify::into_parts`].
impl From<Inotify> for OwnedFd {
    fn from(inotify: Inotify) -> OwnedFd {
        inotify.into_parts().0
    }
}

impl fmt::Debug for Inotify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inotify")
            .field("fd", &self.fd.as_raw_fd())
            .field("instance", &self.instance)
            .finish()
    }
}

//! [`EventFd`]: an owned eventfd.

use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use fd_core::{ErrorKind, EventSource, Result};

use crate::raw::{EventFdFlags, eventfd, eventfd_read, eventfd_write};

/// An owned eventfd.
///
/// Close-on-exec always. Blocking by default; [`EventFdFlags::NONBLOCK`] or
/// [`set_nonblocking`](EventFd::set_nonblocking) make it non-blocking.
/// Shared between threads by reference (`&EventFd` is all every operation
/// needs) or by [`try_clone`](EventFd::try_clone).
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// A blocking eventfd in counter mode, starting at zero.
    ///
    /// # Errors
    /// [`ErrorKind::ResourceLimit`] when out of fds (`EMFILE`, `ENFILE`) or memory.
    pub fn new() -> Result<EventFd> {
        EventFd::with_flags(0, EventFdFlags::empty())
    }

    /// An eventfd with counter `initval` and `flags`.
    ///
    /// # Errors
    /// As [`eventfd`].
    pub fn with_flags(initval: u32, flags: EventFdFlags) -> Result<EventFd> {
        eventfd(initval, flags).map(|fd| EventFd { fd })
    }

    /// Adopts an fd that is an eventfd (inherited, or received over a
    /// socket), checking that it is one.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] if `fd` is not an eventfd, naming what
    /// it is.
    pub fn from_fd(fd: OwnedFd) -> Result<EventFd> {
        fd_core::expect_anon_inode(&fd, "EventFd::from_fd", "[eventfd]")?;
        Ok(EventFd { fd })
    }

    /// Takes the counter (counter mode) or one unit of it (semaphore mode);
    /// waits while it is zero if the fd is blocking.
    ///
    /// # Errors
    /// [`ErrorKind::WouldBlock`] if the counter is zero and the fd is non-blocking.
    pub fn read(&self) -> Result<u64> {
        eventfd_read(&self.fd)
    }

    /// Adds `value` to the counter; waits while that would pass
    /// [`MAX_COUNTER`](crate::MAX_COUNTER) if the fd is blocking.
    ///
    /// # Errors
    /// - [`ErrorKind::InvalidInput`] for `u64::MAX`.
    /// - [`ErrorKind::WouldBlock`] if the counter would pass [`MAX_COUNTER`](crate::MAX_COUNTER)
    ///   and the fd is non-blocking.
    pub fn write(&self, value: u64) -> Result<()> {
        eventfd_write(&self.fd, value)
    }

    /// Adds 1: the usual "wake up" signal.
    pub fn notify(&self) -> Result<()> {
        self.write(1)
    }

    /// Reads the counter if it is not zero, without blocking.
    ///
    /// On a blocking fd this polls first; see [`EventSource::try_read_event`].
    pub fn try_read(&self) -> Result<Option<u64>> {
        self.try_read_event()
    }

    /// Adds `value` if that does not block; `Ok(false)` if it would.
    ///
    /// On a blocking fd this polls for writability first; a write that still
    /// does not fit (another writer came first, or `value` is larger than the
    /// room `POLLOUT` promised, which is 1) blocks.
    pub fn try_write(&self, value: u64) -> Result<bool> {
        if !fd_core::wait_writable(&self.fd, Some(Duration::ZERO))? {
            return Ok(false);
        }
        match self.write(value) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Waits until the counter is not zero, or `timeout` passes (`None`:
    /// forever); `true` if readable.
    pub fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool> {
        fd_core::wait_readable(&self.fd, timeout)
    }

    /// Waits until at least 1 can be added, or `timeout` passes; `true` if writable.
    pub fn wait_writable(&self, timeout: Option<Duration>) -> Result<bool> {
        fd_core::wait_writable(&self.fd, timeout)
    }

    /// A second fd for the same eventfd (`F_DUPFD_CLOEXEC`). The blocking
    /// mode is shared between the two.
    ///
    /// # Errors
    /// [`ErrorKind::ResourceLimit`] when out of fds.
    pub fn try_clone(&self) -> Result<EventFd> {
        fd_core::dup_cloexec(&self.fd).map(|fd| EventFd { fd })
    }

    /// Switches between blocking and non-blocking mode (for every clone).
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        fd_core::set_nonblocking(&self.fd, nonblocking)
    }

    /// Whether the fd is in non-blocking mode.
    pub fn is_nonblocking(&self) -> Result<bool> {
        fd_core::is_nonblocking(&self.fd)
    }
}

impl EventSource for EventFd {
    /// The value read: the counter, or 1 in semaphore mode.
    type Event = u64;

    fn read_event(&self) -> Result<u64> {
        self.read()
    }
}

fd_core::impl_owned_fd!(EventFd, fd);

impl fmt::Debug for EventFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventFd")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

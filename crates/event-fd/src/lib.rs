//! Linux `eventfd`, done completely.
//!
//! An eventfd is a 64-bit counter in the kernel behind a file descriptor. A
//! `write` adds to it; a `read` takes it: the whole value in counter mode, or
//! one unit at a time in semaphore mode. A read of a zero counter blocks
//! (or fails with "would block" on a non-blocking fd), and so does a write
//! that would take the counter past `u64::MAX - 1`. That makes it the
//! cheapest way to wake a thread, a `poll`/`epoll` loop or an async task.
//!
//! # How it works
//!
//! - Raw layer: [`eventfd`] (`eventfd2(2)`, always `EFD_CLOEXEC`),
//!   [`eventfd_read`] and [`eventfd_write`] (8-byte `read(2)`/`write(2)`).
//! - [`EventFd`] owns the fd: [`read`](EventFd::read), [`write`](EventFd::write),
//!   [`try_read`](EventFd::try_read), [`try_write`](EventFd::try_write),
//!   waits with timeouts, [`try_clone`](EventFd::try_clone), and `AsFd` for
//!   any `poll`/`epoll` loop. It implements [`fd_core::EventSource`].
//! - `AsyncEventFd` (feature `async`): async `read`/`write` and a `Stream`
//!   of values on `async-io`, any executor.
//!
//! # Example
//!
//! ```
//! use event_fd::{EventFd, EventFdFlags};
//!
//! let efd = EventFd::new()?;
//! efd.write(2)?;
//! efd.write(3)?;
//! assert_eq!(efd.read()?, 5); // counter mode: the sum, and the counter resets
//!
//! let sem = EventFd::with_flags(2, EventFdFlags::SEMAPHORE | EventFdFlags::NONBLOCK)?;
//! assert_eq!(sem.read()?, 1); // semaphore mode: one at a time
//! assert_eq!(sem.read()?, 1);
//! assert_eq!(sem.try_read()?, None); // empty: would block
//! # Ok::<(), fd_core::Error>(())
//! ```

#![deny(unsafe_code)]

/// This crate's README examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(not(target_os = "linux"))]
compile_error!("event-fd wraps Linux's eventfd and builds only for Linux targets");

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use fd_core::{EventSource, SyscallResult};

mod probe;
pub use fd_core::{self, Error, ErrorKind, Result};
pub use probe::probe;

bitflags::bitflags! {
    /// Flags for [`eventfd`]. `EFD_CLOEXEC` is always added.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct EventFdFlags: u32 {
        /// `EFD_SEMAPHORE`: a read takes 1 from the counter rather than all of it.
        const SEMAPHORE = rustix::event::EventfdFlags::SEMAPHORE.bits();
        /// `EFD_NONBLOCK`: reads and writes that would block fail with
        /// [`ErrorKind::WouldBlock`] instead.
        const NONBLOCK = rustix::event::EventfdFlags::NONBLOCK.bits();
    }
}

/// The largest value the counter can hold: `u64::MAX - 1`.
pub const MAX_COUNTER: u64 = u64::MAX - 1;

/// `eventfd2(initval, flags | EFD_CLOEXEC)`: creates an eventfd.
///
/// # Errors
/// - [`ErrorKind::InvalidInput`] (`EINVAL`) for flag bits the kernel does not know.
/// - [`ErrorKind::ResourceLimit`] (`EMFILE`, `ENFILE`, `ENOMEM`) when out of fds or memory.
///
/// # References
/// - [`eventfd(2)`](https://man7.org/linux/man-pages/man2/eventfd.2.html)
#[doc(alias = "eventfd2")]
pub fn eventfd(initval: u32, flags: EventFdFlags) -> Result<OwnedFd> {
    let flags = rustix::event::EventfdFlags::from_bits_retain(flags.bits())
        | rustix::event::EventfdFlags::CLOEXEC;
    rustix::event::eventfd(initval, flags).syscall("eventfd2")
}

/// Reads the counter of the eventfd `fd`: an 8-byte `read(2)`.
///
/// Returns the whole counter and resets it to zero, or in semaphore mode
/// returns 1 and decrements it.
///
/// # Errors
/// - [`ErrorKind::WouldBlock`] (`EAGAIN`): the counter is zero and the fd is non-blocking.
/// - [`ErrorKind::InvalidInput`]: `fd` is not open for reading (`EBADF`), or
///   is not an eventfd and gave a read of other than 8 bytes.
///
/// # References
/// - [`eventfd(2)`](https://man7.org/linux/man-pages/man2/eventfd.2.html)
pub fn eventfd_read(fd: impl AsFd) -> Result<u64> {
    let mut buf = [0u8; 8];
    let n = rustix::io::read(fd, &mut buf).syscall("eventfd_read")?;
    if n != buf.len() {
        return Err(Error::invalid_input(
            "eventfd_read",
            format!("read returned {n} bytes, not 8: the fd is not an eventfd"),
        ));
    }
    Ok(u64::from_ne_bytes(buf))
}

/// Adds `value` to the counter of the eventfd `fd`: an 8-byte `write(2)`.
///
/// # Errors
/// - [`ErrorKind::InvalidInput`]: `value` is `u64::MAX`, which the kernel
///   refuses (checked before the call); `fd` not open for writing (`EBADF`).
/// - [`ErrorKind::WouldBlock`] (`EAGAIN`): the counter would pass
///   [`MAX_COUNTER`] and the fd is non-blocking (a blocking fd waits for a reader).
///
/// # References
/// - [`eventfd(2)`](https://man7.org/linux/man-pages/man2/eventfd.2.html)
pub fn eventfd_write(fd: impl AsFd, value: u64) -> Result<()> {
    if value == u64::MAX {
        return Err(Error::invalid_input(
            "eventfd_write",
            "u64::MAX cannot be written to an eventfd (the counter holds at most u64::MAX - 1)",
        ));
    }
    let n = rustix::io::write(fd, &value.to_ne_bytes()).syscall("eventfd_write")?;
    if n != 8 {
        return Err(Error::invalid_input(
            "eventfd_write",
            format!("write took {n} bytes, not 8: the fd is not an eventfd"),
        ));
    }
    Ok(())
}

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

    /// Wraps an fd that is an eventfd.
    ///
    /// Nothing checks that it is one: a read or write of another kind of fd
    /// fails with an error, it cannot break memory safety.
    pub fn from_fd(fd: OwnedFd) -> EventFd {
        EventFd { fd }
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
    /// [`MAX_COUNTER`] if the fd is blocking.
    ///
    /// # Errors
    /// - [`ErrorKind::InvalidInput`] for `u64::MAX`.
    /// - [`ErrorKind::WouldBlock`] if the counter would pass [`MAX_COUNTER`]
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

#[cfg(feature = "async")]
fd_core::async_source! {
    /// An [`EventFd`] on async-io's reactor (feature `async`).
    ///
    /// A `Stream` of the values read (for the type and for `&` the type), and
    /// async [`read`](AsyncEventFd::read) / [`write`](AsyncEventFd::write).
    ///
    /// ```
    /// use event_fd::{AsyncEventFd, EventFd};
    ///
    /// futures_lite::future::block_on(async {
    ///     let efd = AsyncEventFd::new(EventFd::new()?)?;
    ///     efd.write(7).await?;
    ///     assert_eq!(efd.read().await?, 7);
    ///     Ok::<(), fd_core::Error>(())
    /// })?;
    /// # Ok::<(), fd_core::Error>(())
    /// ```
    pub struct AsyncEventFd(EventFd);
}

#[cfg(feature = "async")]
impl AsyncEventFd {
    /// Waits until the counter is not zero and reads it.
    pub async fn read(&self) -> Result<u64> {
        self.source().read_with(EventFd::read).await
    }

    /// Waits until `value` fits and adds it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for `u64::MAX`.
    pub async fn write(&self, value: u64) -> Result<()> {
        self.source().write_with(|efd| efd.write(value)).await
    }
}

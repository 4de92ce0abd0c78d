//! The raw layer: `eventfd2` and the 8-byte reads and writes of its counter.

use std::os::fd::{AsFd, OwnedFd};

use fd_core::{Error, Result, SyscallResult};

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
/// - [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) (`EINVAL`) for flag bits the kernel does not know.
/// - [`ErrorKind::ResourceLimit`](crate::ErrorKind::ResourceLimit) (`EMFILE`, `ENFILE`, `ENOMEM`) when out of fds or memory.
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
/// - [`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock) (`EAGAIN`): the counter is zero and the fd is non-blocking.
/// - [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput): `fd` is not open for reading (`EBADF`), or
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
/// - [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput): `value` is `u64::MAX`, which the kernel
///   refuses (checked before the call); `fd` not open for writing (`EBADF`).
/// - [`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock) (`EAGAIN`): the counter would pass
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

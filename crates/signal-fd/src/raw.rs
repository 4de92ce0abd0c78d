//! The raw layer: `signalfd4`, reading its records, and sending signals
//! (`kill`, `sigqueue`, `tgkill`).

use std::os::fd::{AsFd, OwnedFd};

use fd_core::{Error, Result};

use crate::{SigInfo, SigSet, Signal, sys};

bitflags::bitflags! {
    /// Flags for [`signalfd`]. `SFD_CLOEXEC` is always added.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SignalFdFlags: u32 {
        /// `SFD_NONBLOCK`: a read with nothing pending fails with
        /// [`fd_core::ErrorKind::WouldBlock`].
        const NONBLOCK = libc::SFD_NONBLOCK.cast_unsigned();
    }
}

/// How many records one read takes at most: 256 × 128 bytes = 32 KiB.
pub const MAX_BATCH: usize = 256;

pub(crate) fn refuse_uncatchable(call: &'static str, set: &SigSet) -> Result<()> {
    match set.uncatchable() {
        Some(sig) => Err(Error::invalid_input_in(
            call,
            "signalfd4",
            format!(
                "{sig} cannot be caught, blocked or read from a signalfd; the kernel would \
                 silently leave it out of {set}"
            ),
        )),
        None => Ok(()),
    }
}

/// `signalfd4(-1, set, flags | SFD_CLOEXEC)`: a new signalfd reading `set`.
///
/// The fd reads signals that are pending for the thread that reads it or for
/// the process; a signal is only left pending if it is blocked in every
/// thread that could take it. Block the set first ([`Signals`](crate::Signals) does both).
///
/// # Errors
/// - [`fd_core::ErrorKind::InvalidInput`] if `set` holds `SIGKILL` or `SIGSTOP`
///   (checked before the call: the kernel would silently drop them).
/// - [`fd_core::ErrorKind::ResourceLimit`] when out of fds.
///
/// # References
/// - [`signalfd(2)`](https://man7.org/linux/man-pages/man2/signalfd.2.html)
#[doc(alias = "signalfd4")]
pub fn signalfd(set: &SigSet, flags: SignalFdFlags) -> Result<OwnedFd> {
    refuse_uncatchable("signalfd4", set)?;
    let fd = sys::signalfd(
        None,
        set.bits(),
        flags.bits().cast_signed() | libc::SFD_CLOEXEC,
    )?;
    fd.ok_or_else(|| Error::from_errno("signalfd4", libc::EBADF))
}

/// `signalfd4(fd, set, 0)`: changes the set an existing signalfd reads.
///
/// # Errors
/// - [`fd_core::ErrorKind::InvalidInput`]: `SIGKILL` or `SIGSTOP` in `set`;
///   `fd` is not a signalfd (`EINVAL`).
#[doc(alias = "signalfd4")]
pub fn signalfd_set_mask(fd: impl AsFd, set: &SigSet) -> Result<()> {
    refuse_uncatchable("signalfd4", set)?;
    sys::signalfd(Some(fd.as_fd()), set.bits(), 0).map(drop)
}

/// Reads up to `max` records from a signalfd with one `read(2)`, appending
/// them to `out`.
///
/// # Errors
/// [`fd_core::ErrorKind::WouldBlock`] when non-blocking and nothing is
/// pending; [`fd_core::ErrorKind::InvalidInput`] if `fd` is not a signalfd.
pub fn signalfd_read(fd: impl AsFd, out: &mut Vec<SigInfo>, max: usize) -> Result<usize> {
    sys::read_siginfos(fd.as_fd(), out, max)
}

/// `kill(pid, sig)`: sends `sig` to process `pid`.
///
/// # Errors
/// [`fd_core::ErrorKind::NotFound`] (`ESRCH`) for no such process;
/// [`fd_core::ErrorKind::PermissionDenied`] (`EPERM`) without permission.
pub fn kill(pid: u32, sig: Signal) -> Result<()> {
    let pid = i32::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| Error::invalid_input("kill", format!("{pid} is not a process id")))?;
    sys::kill(pid, sig.raw())
}

/// `kill(getpid(), sig)`: sends `sig` to this process.
pub fn kill_self(sig: Signal) -> Result<()> {
    kill(std::process::id(), sig)
}

/// `sigqueue(pid, sig, value)`: sends `sig` with an int that the receiver
/// reads as [`SigInfo::value_int`]. Real-time signals sent this way queue.
///
/// # Errors
/// As [`kill`]; [`fd_core::ErrorKind::WouldBlock`] (`EAGAIN`) when the
/// receiver's queue of real-time signals (`RLIMIT_SIGPENDING`) is full.
pub fn sigqueue(pid: u32, sig: Signal, value: i32) -> Result<()> {
    let pid = i32::try_from(pid)
        .map_err(|_| Error::invalid_input("sigqueue", format!("{pid} is not a process id")))?;
    sys::sigqueue(pid, sig.raw(), value)
}

/// `sigqueue(pid, sig, value)` with the pointer-sized member of the
/// union: the receiver reads all of it as [`SigInfo::value_ptr`] (and its
/// low 32 bits as [`SigInfo::value_int`]). Nothing is dereferenced: it is
/// a number that travels with the signal.
///
/// # Errors
/// As [`sigqueue`].
pub fn sigqueue_ptr(pid: u32, sig: Signal, value: usize) -> Result<()> {
    let pid = i32::try_from(pid)
        .map_err(|_| Error::invalid_input("sigqueue", format!("{pid} is not a process id")))?;
    sys::sigqueue_ptr(pid, sig.raw(), value)
}

/// `tgkill(getpid(), tid, sig)`: sends `sig` to one thread of this process.
///
/// # Errors
/// [`fd_core::ErrorKind::NotFound`] (`ESRCH`) if there is no such thread.
pub fn tgkill(tid: u32, sig: Signal) -> Result<()> {
    let tgid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    let tid = i32::try_from(tid)
        .map_err(|_| Error::invalid_input("tgkill", format!("{tid} is not a thread id")))?;
    sys::tgkill(tgid, tid, sig.raw())
}

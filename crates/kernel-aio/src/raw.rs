//! The raw layer: the AIO syscalls over the kernel's `struct iocb` and
//! `struct io_event`, with typed opcodes and flags.
//!
//! `io_destroy`, `io_submit` and `io_cancel` are `unsafe fn`: the kernel
//! keeps using the memory an iocb points to until its completion, which
//! the caller must guarantee; each only passes its contract on.
#![allow(unsafe_code)]

use fd_core::{Error, ErrorKind, Result};

use crate::sys;
pub use crate::sys::{IoEvent, Iocb};

/// An AIO context id (`aio_context_t`, the address of its completion
/// ring), as [`io_setup`] made it.
///
/// There is no way to make one from a number, and a
/// [`Context`](crate::Context) does not give its own out: safe code cannot
/// reap a `Context`'s completions behind its back (its `reap` would then
/// wait forever for what was taken), nor destroy it.
///
/// ```compile_fail
/// let stolen = butter::aio::ContextId(0x7f00_0000_0000); // no constructor
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContextId(pub(crate) sys::ContextId);

impl ContextId {
    /// The kernel's number for the context.
    pub fn as_raw(self) -> libc::c_ulong {
        self.0
    }
}

impl std::fmt::Debug for ContextId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ContextId({:#x})", self.0)
    }
}

/// `IOCB_CMD_*`: what an iocb does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
#[non_exhaustive]
pub enum Opcode {
    /// `IOCB_CMD_PREAD`.
    Pread = 0,
    /// `IOCB_CMD_PWRITE`.
    Pwrite = 1,
    /// `IOCB_CMD_FSYNC` (4.18).
    Fsync = 2,
    /// `IOCB_CMD_FDSYNC` (4.18).
    Fdsync = 3,
    /// `IOCB_CMD_POLL` (4.18): one-shot readiness, events in `aio_buf`.
    Poll = 5,
    /// `IOCB_CMD_NOOP`: refused by the kernel (`EINVAL`); kept for
    /// completeness of the ABI.
    Noop = 6,
    /// `IOCB_CMD_PREADV`.
    Preadv = 7,
    /// `IOCB_CMD_PWRITEV`.
    Pwritev = 8,
}

bitflags::bitflags! {
    /// `RWF_*` per-operation flags (`aio_rw_flags`).
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct RwFlags: u32 {
        /// `RWF_HIPRI`: polled completion on devices that support it.
        const HIPRI = 0x01;
        /// `RWF_DSYNC`: as `O_DSYNC` for this write.
        const DSYNC = 0x02;
        /// `RWF_SYNC`: as `O_SYNC` for this write.
        const SYNC = 0x04;
        /// `RWF_NOWAIT`: fail with `EAGAIN` rather than block (4.14).
        const NOWAIT = 0x08;
        /// `RWF_APPEND`: as `O_APPEND` for this write (4.16).
        const APPEND = 0x10;
    }
}

bitflags::bitflags! {
    /// `IOCB_FLAG_*` (`aio_flags`).
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct IocbFlags: u32 {
        /// `IOCB_FLAG_RESFD`: add 1 to the eventfd `aio_resfd` on completion.
        const RESFD = 1;
        /// `IOCB_FLAG_IOPRIO`: `aio_reqprio` holds an io priority.
        const IOPRIO = 2;
    }
}

/// An io priority class (`IOPRIO_CLASS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IoPrioClass {
    /// `IOPRIO_CLASS_RT`: real time (needs `CAP_SYS_ADMIN`).
    RealTime,
    /// `IOPRIO_CLASS_BE`: best effort.
    BestEffort,
    /// `IOPRIO_CLASS_IDLE`: only when nothing else wants the disk.
    Idle,
}

/// An io priority: class and level (0 highest to 7 lowest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IoPriority {
    /// The class.
    pub class: IoPrioClass,
    /// The level within it, 0..=7.
    pub level: u8,
}

impl IoPriority {
    /// `IOPRIO_PRIO_VALUE(class, level)`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for a level over 7.
    pub fn raw(self) -> Result<i16> {
        if self.level > 7 {
            return Err(Error::invalid_input(
                "IoPriority",
                format!("io priority level {} is out of range 0..=7", self.level),
            ));
        }
        let class: i16 = match self.class {
            IoPrioClass::RealTime => 1,
            IoPrioClass::BestEffort => 2,
            IoPrioClass::Idle => 3,
        };
        Ok((class << 13) | i16::from(self.level))
    }
}

/// `io_setup(nr_events)`: a new context for up to `nr_events` operations
/// in flight.
///
/// # Errors
/// - [`ErrorKind::ResourceLimit`] (`EAGAIN`): `nr_events` would pass
///   `/proc/sys/fs/aio-max-nr` with those already in use (`aio-nr`).
/// - [`ErrorKind::InvalidInput`] (`EINVAL`): 0, or too large for a ring.
///
/// # References
/// - [`io_setup(2)`](https://man7.org/linux/man-pages/man2/io_setup.2.html)
pub fn io_setup(nr_events: u32) -> Result<ContextId> {
    sys::io_setup(nr_events).map(ContextId).map_err(|e| {
        if e.errno() == libc::EAGAIN {
            let read = |f: &str| {
                std::fs::read_to_string(format!("/proc/sys/fs/{f}"))
                    .map_or_else(|_| "?".to_owned(), |s| s.trim().to_owned())
            };
            e.with_kind(ErrorKind::ResourceLimit).with_detail(format!(
                "{nr_events} events asked for, but /proc/sys/fs/aio-max-nr is {} and {} are in use \
                 (/proc/sys/fs/aio-nr)",
                read("aio-max-nr"),
                read("aio-nr")
            ))
        } else {
            e
        }
    })
}

/// `io_destroy(ctx)`: cancels what can be cancelled and waits until every
/// operation in flight has completed.
///
/// # Safety
/// `ctx` must be a context of this process that is not used afterwards.
///
/// # Errors
/// `EINVAL`: not a context of this process.
pub unsafe fn io_destroy(ctx: ContextId) -> Result<()> {
    // SAFETY: forwarded from the caller.
    unsafe { sys::io_destroy(ctx.0) }
}

/// `io_submit(ctx, iocbs)`: how many of `iocbs` the kernel took, from the
/// front; the rest were not submitted.
///
/// # Safety
/// Every iocb taken, and every buffer and iovec array it points to, must
/// stay valid and untouched until its completion has been reaped: the
/// kernel reads and writes them in the meantime.
///
/// # Errors
/// The first iocb's error when none was taken: `EAGAIN` (the ring is
/// full), `EBADF`, `EINVAL` (a bad opcode, flags, or misaligned `O_DIRECT`
/// buffer), `EOPNOTSUPP`.
pub unsafe fn io_submit(ctx: ContextId, iocbs: &[*mut Iocb]) -> Result<usize> {
    // SAFETY: forwarded from the caller.
    unsafe { sys::io_submit(ctx.0, iocbs) }
}

/// `io_cancel(ctx, iocb)`: asks the kernel to cancel; `Ok(None)` when it
/// will deliver the cancelled completion through the ring, `Ok(Some)` when
/// it returned it at once (old kernels).
///
/// # Safety
/// `iocb` must have been submitted to `ctx` and not yet reaped.
///
/// # Errors
/// `EINVAL` or `EAGAIN`: not cancellable (only `Poll` is, on current
/// kernels), or already completed.
pub unsafe fn io_cancel(ctx: ContextId, iocb: *mut Iocb) -> Result<Option<IoEvent>> {
    // SAFETY: forwarded from the caller.
    unsafe { sys::io_cancel(ctx.0, iocb) }
}

/// `io_getevents(ctx, min, out.len(), out, timeout)`: waits for at least
/// `min` completions or the timeout (`None`: no limit).
///
/// # Errors
/// `EINVAL`: a bad context or `min` over `out.len()`; `EINTR`.
pub fn io_getevents(
    ctx: ContextId,
    min: usize,
    out: &mut [IoEvent],
    timeout: Option<std::time::Duration>,
) -> Result<usize> {
    sys::io_getevents(ctx.0, min, out, timeout.map(timespec))
}

/// `io_pgetevents` (4.18): as [`io_getevents`], with the signals of
/// `mask` (bit n−1 for signal n, the kernel's 64-bit set) blocked while it
/// waits.
///
/// # Errors
/// As [`io_getevents`].
pub fn io_pgetevents(
    ctx: ContextId,
    min: usize,
    out: &mut [IoEvent],
    timeout: Option<std::time::Duration>,
    mask: u64,
) -> Result<usize> {
    sys::io_pgetevents(ctx.0, min, out, timeout.map(timespec), mask)
}

pub(crate) fn timespec(d: std::time::Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(d.subsec_nanos()),
    }
}

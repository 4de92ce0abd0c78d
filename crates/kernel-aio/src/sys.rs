//! The kernel's AIO interface: the five syscalls, `struct iocb`,
//! `struct io_event`, and the completion ring the kernel maps at the
//! context's address. The only module with `unsafe`.
//!
//! # Safety
//!
//! The syscalls take the context id, pointers to arrays the callers own for
//! the call, and `struct iocb`s whose buffers the callers keep alive until
//! the kernel's completion for them has been reaped (the `Context` owns
//! them). The ring is read only while the context exists, at the address
//! the kernel gave, after its header has been checked.
#![allow(unsafe_code)]
// Counts passed to the kernel as `long` are bounded by the context's size
// (a u32), so they fit.
#![allow(clippy::cast_possible_wrap)]

use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};

use fd_core::{Error, Result};

/// `aio_context_t`.
pub(crate) type ContextId = libc::c_ulong;

/// `struct iocb` (64 bytes, `include/uapi/linux/aio_abi.h`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Iocb {
    /// `aio_data`: returned in the completion's `data`.
    pub aio_data: u64,
    #[cfg(target_endian = "little")]
    /// `aio_key`: set by the kernel to `KIOCB_KEY` (0) at submission.
    pub aio_key: u32,
    /// `aio_rw_flags`: `RWF_*`.
    pub aio_rw_flags: i32,
    #[cfg(target_endian = "big")]
    /// `aio_key`.
    pub aio_key: u32,
    /// `aio_lio_opcode`: `IOCB_CMD_*`.
    pub aio_lio_opcode: u16,
    /// `aio_reqprio`: the io priority with `IOCB_FLAG_IOPRIO`.
    pub aio_reqprio: i16,
    /// `aio_fildes`.
    pub aio_fildes: u32,
    /// `aio_buf`: buffer address, iovec array address, or poll events.
    pub aio_buf: u64,
    /// `aio_nbytes`: length, or iovec count.
    pub aio_nbytes: u64,
    /// `aio_offset`.
    pub aio_offset: i64,
    /// `aio_reserved2`.
    pub aio_reserved2: u64,
    /// `aio_flags`: `IOCB_FLAG_*`.
    pub aio_flags: u32,
    /// `aio_resfd`: the eventfd with `IOCB_FLAG_RESFD`.
    pub aio_resfd: u32,
}

/// `struct io_event` (32 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoEvent {
    /// The `aio_data` of the iocb.
    pub data: u64,
    /// The address of the iocb.
    pub obj: u64,
    /// The result: bytes, revents, or a negated errno.
    pub res: i64,
    /// A second result, whose meaning depends on the file (0 mostly).
    pub res2: i64,
}

/// `struct aio_ring`'s header, as the kernel maps it at the context id.
#[repr(C)]
struct RingHeader {
    id: u32,
    nr: u32,
    head: u32,
    tail: u32,
    magic: u32,
    compat_features: u32,
    incompat_features: u32,
    header_length: u32,
}

/// `AIO_RING_MAGIC`.
const RING_MAGIC: u32 = 0xa10a_10a1;

fn errno() -> i32 {
    // SAFETY: this thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}

/// `io_setup(nr_events, &ctx)`.
pub(crate) fn io_setup(nr_events: u32) -> Result<ContextId> {
    let mut ctx: ContextId = 0;
    // SAFETY: the kernel writes the new context id into a zeroed local.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_io_setup,
            libc::c_long::from(nr_events),
            &raw mut ctx,
        )
    };
    if ret < 0 {
        return Err(Error::from_errno("io_setup", errno()));
    }
    Ok(ctx)
}

/// `io_destroy(ctx)`: cancels what it can and waits for every operation
/// still in flight before returning.
///
/// # Safety
/// `ctx` must be a context of this process, not used after.
pub(crate) unsafe fn io_destroy(ctx: ContextId) -> Result<()> {
    // SAFETY: the caller passes a context of this process.
    let ret = unsafe { libc::syscall(libc::SYS_io_destroy, ctx) };
    if ret < 0 {
        return Err(Error::from_errno("io_destroy", errno()));
    }
    Ok(())
}

/// `io_destroy` of a context just made by `io_setup` and never used (the
/// probe's round trip).
pub(crate) fn destroy_fresh(ctx: ContextId) -> Result<()> {
    // SAFETY: a context this process just made, used by nothing else.
    unsafe { io_destroy(ctx) }
}

/// `io_submit(ctx, n, iocbpp)`: how many were taken.
///
/// # Safety
/// Each pointer must point to an iocb whose buffers stay valid (and are not
/// otherwise accessed) until its completion has been reaped.
pub(crate) unsafe fn io_submit(ctx: ContextId, iocbs: &[*mut Iocb]) -> Result<usize> {
    // SAFETY: the caller keeps every iocb and its buffers alive; the array
    // of pointers outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_io_submit,
            ctx,
            iocbs.len() as libc::c_long,
            iocbs.as_ptr(),
        )
    };
    if ret < 0 {
        return Err(Error::from_errno("io_submit", errno()));
    }
    Ok(usize::try_from(ret).unwrap_or(0))
}

/// `io_cancel(ctx, iocb, &event)`: `Ok(Some(event))` when an old kernel
/// completed it at once, `Ok(None)` when the cancelled completion will be
/// delivered through the ring (`EINPROGRESS`).
///
/// # Safety
/// `iocb` must be one submitted to `ctx` and not yet reaped.
pub(crate) unsafe fn io_cancel(ctx: ContextId, iocb: *mut Iocb) -> Result<Option<IoEvent>> {
    let mut event = IoEvent::default();
    // SAFETY: the kernel reads the iocb's key and writes one event.
    let ret = unsafe { libc::syscall(libc::SYS_io_cancel, ctx, iocb, &raw mut event) };
    if ret == 0 {
        return Ok(Some(event));
    }
    match errno() {
        libc::EINPROGRESS => Ok(None),
        e => Err(Error::from_errno("io_cancel", e)),
    }
}

/// `io_getevents(ctx, min, max, events, timeout)`: waits for at least
/// `min` completions (or the timeout), writes up to `out.len()`.
pub(crate) fn io_getevents(
    ctx: ContextId,
    min: usize,
    out: &mut [IoEvent],
    timeout: Option<libc::timespec>,
) -> Result<usize> {
    let timeout_ptr = timeout.as_ref().map_or(ptr::null(), ptr::from_ref);
    // SAFETY: the kernel writes at most `out.len()` events into `out`, and
    // reads the timeout, both alive for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_io_getevents,
            ctx,
            min as libc::c_long,
            out.len() as libc::c_long,
            out.as_mut_ptr(),
            timeout_ptr,
        )
    };
    if ret < 0 {
        return Err(Error::from_errno("io_getevents", errno()));
    }
    Ok(usize::try_from(ret).unwrap_or(0))
}

/// `__NR_io_pgetevents` (4.18), which the `libc` crate lacks here.
#[cfg(target_arch = "x86_64")]
const SYS_IO_PGETEVENTS: libc::c_long = 333;
#[cfg(target_arch = "x86")]
const SYS_IO_PGETEVENTS: libc::c_long = 385;
#[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
const SYS_IO_PGETEVENTS: libc::c_long = 292;

/// `struct __aio_sigset`: the kernel's sigset (8 bytes) and its size.
#[repr(C)]
struct AioSigset {
    sigmask: *const u64,
    sigsetsize: usize,
}

/// `io_pgetevents`: as [`io_getevents`], with the signal mask `mask`
/// (bit n-1 for signal n; the kernel's 8-byte set) in force while waiting.
pub(crate) fn io_pgetevents(
    ctx: ContextId,
    min: usize,
    out: &mut [IoEvent],
    timeout: Option<libc::timespec>,
    mask: u64,
) -> Result<usize> {
    let timeout_ptr = timeout.as_ref().map_or(ptr::null(), ptr::from_ref);
    let set = AioSigset {
        sigmask: &raw const mask,
        sigsetsize: 8,
    };
    // SAFETY: as io_getevents; the sigset struct and mask outlive the call.
    let ret = unsafe {
        libc::syscall(
            SYS_IO_PGETEVENTS,
            ctx,
            min as libc::c_long,
            out.len() as libc::c_long,
            out.as_mut_ptr(),
            timeout_ptr,
            &raw const set,
        )
    };
    if ret < 0 {
        return Err(Error::from_errno("io_pgetevents", errno()));
    }
    Ok(usize::try_from(ret).unwrap_or(0))
}

/// Whether the ring at `ctx` has the header this reaper knows.
///
/// # Safety
/// `ctx` must be a live context of this process (its ring is mapped).
pub(crate) unsafe fn ring_known(ctx: ContextId) -> bool {
    let ring = ctx as *const RingHeader;
    // SAFETY: the caller guarantees the mapping; the header is plain u32s.
    unsafe {
        ptr::read_volatile(&raw const (*ring).magic) == RING_MAGIC
            && ptr::read_volatile(&raw const (*ring).incompat_features) == 0
            && ptr::read_volatile(&raw const (*ring).header_length) as usize
                == size_of::<RingHeader>()
    }
}

/// Takes up to `max` completions from the ring without a syscall, as
/// libaio's user-space reap does: `tail` is read with acquire ordering (the
/// kernel writes the events before it), the events copied, then `head`
/// stored with release ordering (the kernel may reuse the slots after).
///
/// # Safety
/// `ctx` must be a live context of this process whose ring passed
/// [`ring_known`], with no other reaper running at the same time.
pub(crate) unsafe fn ring_reap(ctx: ContextId, out: &mut Vec<IoEvent>, max: usize) -> usize {
    let ring = ctx as *mut RingHeader;
    // SAFETY: the header is mapped and aligned; head and tail are u32s the
    // kernel also accesses atomically (under its lock, with barriers).
    unsafe {
        let nr = ptr::read_volatile(&raw const (*ring).nr);
        if nr == 0 {
            return 0;
        }
        let head_ref = AtomicU32::from_ptr(&raw mut (*ring).head);
        let tail_ref = AtomicU32::from_ptr(&raw mut (*ring).tail);
        let mut head = head_ref.load(Ordering::Relaxed) % nr;
        let tail = tail_ref.load(Ordering::Acquire) % nr;
        let events = ring.add(1).cast::<IoEvent>();
        let mut taken = 0;
        while head != tail && taken < max {
            out.push(ptr::read_volatile(events.add(head as usize)));
            head = (head + 1) % nr;
            taken += 1;
        }
        if taken > 0 {
            head_ref.store(head, Ordering::Release);
        }
        taken
    }
}

/// `struct iovec` with plain integers (so the types holding it stay `Send`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawIovec {
    pub(crate) base: usize,
    pub(crate) len: usize,
}

/// Whether the fd number `fd` is open with `O_DIRECT`; `false` if it is
/// not open at all (the submission then reports `EBADF`).
pub(crate) fn is_direct(fd: i32) -> bool {
    // SAFETY: F_GETFL takes no argument and reads only the fd's flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags >= 0 && flags & libc::O_DIRECT != 0
}

/// The `O_DIRECT` alignment of `fd` (memory, offset) from
/// `statx(STATX_DIOALIGN)` (6.1), or 512 for both where the kernel or the
/// filesystem does not say.
pub(crate) fn dio_alignment(fd: i32) -> (u32, u32) {
    // SAFETY: statx writes one struct into a zeroed local; the empty path
    // with AT_EMPTY_PATH names the fd itself.
    unsafe {
        let mut st: libc::statx = std::mem::zeroed();
        let ret = libc::statx(
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_DIOALIGN,
            &raw mut st,
        );
        if ret == 0 && st.stx_mask & libc::STATX_DIOALIGN != 0 && st.stx_dio_mem_align != 0 {
            (st.stx_dio_mem_align, st.stx_dio_offset_align.max(1))
        } else {
            (512, 512)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn layouts_match_the_kernel() {
        assert_eq!(size_of::<Iocb>(), 64);
        assert_eq!(size_of::<Iocb>(), size_of::<libc::iocb>());
        assert_eq!(offset_of!(Iocb, aio_lio_opcode), 16);
        assert_eq!(offset_of!(Iocb, aio_fildes), 20);
        assert_eq!(offset_of!(Iocb, aio_buf), 24);
        assert_eq!(offset_of!(Iocb, aio_offset), 40);
        assert_eq!(offset_of!(Iocb, aio_flags), 56);
        assert_eq!(offset_of!(Iocb, aio_resfd), 60);
        #[cfg(target_endian = "little")]
        assert_eq!(offset_of!(Iocb, aio_rw_flags), 12);
        assert_eq!(size_of::<IoEvent>(), 32);
        assert_eq!(offset_of!(IoEvent, res2), 24);
        assert_eq!(size_of::<RingHeader>(), 32);
        assert_eq!(size_of::<RawIovec>(), size_of::<libc::iovec>());
    }
}

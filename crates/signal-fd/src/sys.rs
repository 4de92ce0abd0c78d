//! The raw calls rustix does not offer: signal masks through the C library
//! (so that its internal signals stay as it needs them), `signalfd4`, batch
//! reads of `signalfd_siginfo` records, `sigqueue`, `tgkill`,
//! `pidfd_send_signal` with any signal number.
//!
//! # Safety
//!
//! Every function passes the kernel or the C library pointers to locals or
//! to memory it exclusively borrows for the duration of the call, with the
//! sizes of that memory, and takes ownership only of fds the call returned.
//! [`read_siginfos`] writes only into the spare capacity of a `Vec` and
//! extends its length by whole records the kernel wrote.
#![allow(unsafe_code)]

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use fd_core::{Error, Result};

/// The kernel's `struct signalfd_siginfo` (`<linux/signalfd.h>`): 128 bytes.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawSiginfo {
    pub(crate) ssi_signo: u32,
    pub(crate) ssi_errno: i32,
    pub(crate) ssi_code: i32,
    pub(crate) ssi_pid: u32,
    pub(crate) ssi_uid: u32,
    pub(crate) ssi_fd: i32,
    pub(crate) ssi_tid: u32,
    pub(crate) ssi_band: u32,
    pub(crate) ssi_overrun: u32,
    pub(crate) ssi_trapno: u32,
    pub(crate) ssi_status: i32,
    pub(crate) ssi_int: i32,
    pub(crate) ssi_ptr: u64,
    pub(crate) ssi_utime: u64,
    pub(crate) ssi_stime: u64,
    pub(crate) ssi_addr: u64,
    pub(crate) ssi_addr_lsb: u16,
    pub(crate) pad2: u16,
    pub(crate) ssi_syscall: i32,
    pub(crate) ssi_call_addr: u64,
    pub(crate) ssi_arch: u32,
    pub(crate) pad: [u8; 28],
}

/// One signal read from a signalfd: every field of the kernel's
/// `struct signalfd_siginfo`, typed.
///
/// Which fields mean something depends on the signal and its
/// [`code`](SigInfo::code): the sender's pid and uid for signals a process
/// sent, the value for `sigqueue`, the child's status for `SIGCHLD`, the
/// faulting address for `SIGSEGV`, the syscall for seccomp's `SIGSYS`.
/// The others read as zero.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SigInfo {
    /// The record as the kernel wrote it; the typed accessors live in
    /// `siginfo.rs`.
    pub(crate) raw: RawSiginfo,
}

/// The size of one record.
pub(crate) const SIGINFO_SIZE: usize = 128;

impl RawSiginfo {
    #[cfg(test)]
    pub(crate) const ZERO: RawSiginfo = RawSiginfo {
        ssi_signo: 0,
        ssi_errno: 0,
        ssi_code: 0,
        ssi_pid: 0,
        ssi_uid: 0,
        ssi_fd: 0,
        ssi_tid: 0,
        ssi_band: 0,
        ssi_overrun: 0,
        ssi_trapno: 0,
        ssi_status: 0,
        ssi_int: 0,
        ssi_ptr: 0,
        ssi_utime: 0,
        ssi_stime: 0,
        ssi_addr: 0,
        ssi_addr_lsb: 0,
        pad2: 0,
        ssi_syscall: 0,
        ssi_call_addr: 0,
        ssi_arch: 0,
        pad: [0; 28],
    };
}

/// A `sigset_t` of the C library holding exactly the signals of `bits`
/// (bit `n - 1` is signal `n`, as in `SigSet::bits`).
pub(crate) fn to_libc(bits: u64) -> libc::sigset_t {
    let mut raw = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the whole sigset_t it is given.
    unsafe { libc::sigemptyset(raw.as_mut_ptr()) };
    // SAFETY: initialised by sigemptyset just above.
    let mut raw = unsafe { raw.assume_init() };
    for n in (1..=64).filter(|n| bits & (1 << (n - 1)) != 0) {
        // SAFETY: `raw` is a valid sigset_t; n is in 1..=64.
        unsafe { libc::sigaddset(&mut raw, n) };
    }
    raw
}

/// The signals 1..=64 that a C library `sigset_t` holds, as bits (its
/// internal signals included).
pub(crate) fn from_libc(raw: &libc::sigset_t) -> u64 {
    let mut bits = 0u64;
    for n in 1..=64 {
        // SAFETY: `raw` is a valid sigset_t; n is a valid signal number.
        if unsafe { libc::sigismember(raw, n) } == 1 {
            bits |= 1 << (n - 1);
        }
    }
    bits
}

/// `pthread_sigmask(how, set, &old)` (or `sigprocmask` when `process`):
/// returns the previous mask, exactly as the C library had it.
pub(crate) fn sigmask(how: libc::c_int, set: Option<u64>, process: bool) -> Result<libc::sigset_t> {
    let set = set.map(to_libc);
    let set_ptr = set
        .as_ref()
        .map_or(std::ptr::null(), |s| s as *const libc::sigset_t);
    let mut old = MaybeUninit::<libc::sigset_t>::uninit();
    if process {
        // SAFETY: `set_ptr` is null or points to a local sigset_t; `old` is
        // written by the call before it returns 0.
        if unsafe { libc::sigprocmask(how, set_ptr, old.as_mut_ptr()) } != 0 {
            return Err(Error::last_os_error("sigprocmask"));
        }
    } else {
        // SAFETY: as above; pthread_sigmask returns the error number.
        let ret = unsafe { libc::pthread_sigmask(how, set_ptr, old.as_mut_ptr()) };
        if ret != 0 {
            return Err(Error::from_errno("pthread_sigmask", ret));
        }
    }
    // SAFETY: the call succeeded, so it wrote the old mask.
    Ok(unsafe { old.assume_init() })
}

/// Restores a mask saved by [`sigmask`].
pub(crate) fn restore(old: &libc::sigset_t, process: bool) {
    // SAFETY: `old` is a valid sigset_t saved from the same call.
    unsafe {
        if process {
            libc::sigprocmask(libc::SIG_SETMASK, old, std::ptr::null_mut());
        } else {
            libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut());
        }
    }
}

/// `sigpending(&set)`.
pub(crate) fn sigpending() -> Result<u64> {
    let mut raw = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigpending writes the whole set on success.
    if unsafe { libc::sigpending(raw.as_mut_ptr()) } != 0 {
        return Err(Error::last_os_error("sigpending"));
    }
    // SAFETY: the call succeeded.
    Ok(from_libc(&unsafe { raw.assume_init() }))
}

/// `signalfd4(fd or -1, set, flags)`: a new signalfd (`fd` `None`) or a new
/// mask for an existing one.
pub(crate) fn signalfd(
    fd: Option<BorrowedFd<'_>>,
    set: u64,
    flags: libc::c_int,
) -> Result<Option<OwnedFd>> {
    let raw = to_libc(set);
    let target = fd.map_or(-1, |fd| fd.as_raw_fd());
    // SAFETY: `raw` lives across the call; `target` is -1 or a borrowed open fd.
    let ret = unsafe { libc::signalfd(target, &raw, flags) };
    if ret < 0 {
        return Err(Error::last_os_error("signalfd4"));
    }
    if fd.is_some() {
        return Ok(None);
    }
    // SAFETY: a new fd the call just returned, owned by nothing else.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(ret) }))
}

/// One `read(2)` of whole `signalfd_siginfo` records into `buf`; returns
/// how many records the kernel wrote at its start.
fn read_into(fd: BorrowedFd<'_>, buf: &mut [MaybeUninit<SigInfo>]) -> Result<usize> {
    // SAFETY: `buf` is exclusively borrowed and holds `buf.len()` records of
    // SIGINFO_SIZE bytes (SigInfo is repr(transparent) over RawSiginfo,
    // checked to be 128 bytes); the kernel writes at most that many bytes.
    let n = unsafe {
        libc::read(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len() * SIGINFO_SIZE,
        )
    };
    if n < 0 {
        return Err(Error::last_os_error("read"));
    }
    let bytes = usize::try_from(n).unwrap_or(0);
    if bytes % SIGINFO_SIZE != 0 || bytes == 0 {
        return Err(Error::invalid_input(
            "read",
            format!(
                "read returned {bytes} bytes, not whole 128-byte records: the fd is not a signalfd"
            ),
        ));
    }
    Ok(bytes / SIGINFO_SIZE)
}

/// One record, read into a slot on the stack: no allocation.
pub(crate) fn read_siginfo(fd: BorrowedFd<'_>) -> Result<SigInfo> {
    let mut slot = [MaybeUninit::<SigInfo>::uninit()];
    read_into(fd, &mut slot)?;
    // SAFETY: read_into returned Ok, so the kernel wrote one whole record;
    // every bit pattern is a valid RawSiginfo.
    Ok(unsafe { slot[0].assume_init() })
}

/// One `read(2)` of up to `max` records into the spare capacity of `out`
/// (reserving room first); returns how many were appended.
pub(crate) fn read_siginfos(
    fd: BorrowedFd<'_>,
    out: &mut Vec<SigInfo>,
    max: usize,
) -> Result<usize> {
    let want = max.max(1);
    out.reserve(want);
    let spare = out.spare_capacity_mut();
    let room = spare.len().min(want);
    let records = read_into(fd, &mut spare[..room])?;
    // SAFETY: the kernel initialised exactly `records` whole records at the
    // start of the spare capacity.
    unsafe { out.set_len(out.len() + records) };
    Ok(records)
}

/// `sigqueue(pid, sig, value)`: the int value travels with the signal.
pub(crate) fn sigqueue(pid: i32, sig: i32, value: i32) -> Result<()> {
    // SAFETY: sigval is plain data; the int member is the first 4 bytes of
    // the pointer-sized union on every Linux ABI glibc supports.
    let mut val: libc::sigval = unsafe { std::mem::zeroed() };
    let bytes = value.to_ne_bytes();
    // SAFETY: `val` is at least 4 bytes; writing its first 4 sets sival_int.
    unsafe {
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            (&mut val as *mut libc::sigval).cast::<u8>(),
            4,
        )
    };
    // SAFETY: integer arguments and a sigval passed by value.
    if unsafe { libc::sigqueue(pid, sig, val) } != 0 {
        return Err(Error::last_os_error("sigqueue"));
    }
    Ok(())
}

/// `sigqueue(pid, sig, value)` with the pointer member: all of `value`
/// travels with the signal (the receiver's `ssi_ptr`).
pub(crate) fn sigqueue_ptr(pid: i32, sig: i32, value: usize) -> Result<()> {
    let val = libc::sigval {
        sival_ptr: std::ptr::without_provenance_mut(value),
    };
    // SAFETY: integer arguments and a sigval passed by value; the kernel
    // copies the pointer's bits and never dereferences it.
    if unsafe { libc::sigqueue(pid, sig, val) } != 0 {
        return Err(Error::last_os_error("sigqueue"));
    }
    Ok(())
}

/// `kill(pid, sig)`, for any signal number (rustix names only the standard ones).
pub(crate) fn kill(pid: i32, sig: i32) -> Result<()> {
    // SAFETY: integer arguments only.
    if unsafe { libc::kill(pid, sig) } != 0 {
        return Err(Error::last_os_error("kill"));
    }
    Ok(())
}

/// `tgkill(tgid, tid, sig)`.
pub(crate) fn tgkill(tgid: i32, tid: i32, sig: i32) -> Result<()> {
    // SAFETY: integer arguments only.
    if unsafe { libc::syscall(libc::SYS_tgkill, tgid, tid, sig) } != 0 {
        return Err(Error::last_os_error("tgkill"));
    }
    Ok(())
}

/// `pidfd_send_signal(fd, sig, NULL, 0)`.
pub(crate) fn pidfd_send_signal(fd: impl AsFd, sig: i32) -> Result<()> {
    let fd = fd.as_fd().as_raw_fd();
    // SAFETY: a borrowed open fd, an integer, a null siginfo, zero flags.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd,
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret != 0 {
        return Err(Error::last_os_error("pidfd_send_signal"));
    }
    Ok(())
}

/// The C library's `SIGRTMIN` and `SIGRTMAX` (functions in glibc: it keeps
/// the first real-time signals for its threads).
pub(crate) fn rt_range() -> (i32, i32) {
    (libc::SIGRTMIN(), libc::SIGRTMAX())
}

/// Makes the child that `cmd` forks unblock the signals of `bits` before it
/// runs the program: the standard library passes the parent's mask on.
pub(crate) fn unblock_before_exec(cmd: &mut std::process::Command, bits: u64) {
    use std::os::unix::process::CommandExt;
    // Built before the fork: the hook below only reads it.
    let set = to_libc(bits);
    let hook = move || {
        // SAFETY: `set` is a valid sigset_t; a null old-set pointer is allowed.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::from_raw_os_error(rc))
        }
    };
    // SAFETY: the hook runs in the forked child between fork and exec. It
    // allocates nothing and calls only pthread_sigmask, which is
    // async-signal-safe, on a set computed in the parent; the error it may
    // return is built from an errno without allocating.
    unsafe { cmd.pre_exec(hook) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// Our record against libc's `signalfd_siginfo`, field by field.
    #[test]
    fn layout_matches_the_kernel() {
        assert_eq!(size_of::<RawSiginfo>(), SIGINFO_SIZE);
        assert_eq!(size_of::<libc::signalfd_siginfo>(), SIGINFO_SIZE);
        assert_eq!(size_of::<SigInfo>(), SIGINFO_SIZE);
        macro_rules! same {
            ($($f:ident),*) => {$(
                assert_eq!(offset_of!(RawSiginfo, $f), offset_of!(libc::signalfd_siginfo, $f), stringify!($f));
            )*};
        }
        same!(
            ssi_signo,
            ssi_errno,
            ssi_code,
            ssi_pid,
            ssi_uid,
            ssi_fd,
            ssi_tid,
            ssi_band,
            ssi_overrun,
            ssi_trapno,
            ssi_status,
            ssi_int,
            ssi_ptr,
            ssi_utime,
            ssi_stime,
            ssi_addr,
            ssi_addr_lsb,
            ssi_syscall,
            ssi_call_addr,
            ssi_arch
        );
        // The kernel header's offsets, for the fields after the padding.
        assert_eq!(offset_of!(RawSiginfo, ssi_addr_lsb), 80);
        assert_eq!(offset_of!(RawSiginfo, ssi_syscall), 84);
        assert_eq!(offset_of!(RawSiginfo, ssi_call_addr), 88);
        assert_eq!(offset_of!(RawSiginfo, ssi_arch), 96);
    }

    #[test]
    fn libc_set_round_trip() {
        let rt3 = libc::SIGRTMIN() + 3;
        let bits = (1u64 << (libc::SIGINT - 1)) | (1 << (libc::SIGTERM - 1)) | (1 << (rt3 - 1));
        assert_eq!(from_libc(&to_libc(bits)), bits);
        assert_eq!(from_libc(&to_libc(0)), 0);
        // Every signal but the C library's own (32 up to its SIGRTMIN),
        // which its sigaddset refuses: masks stay as it needs them.
        let internal = (32..libc::SIGRTMIN()).fold(0u64, |b, n| b | 1 << (n - 1));
        assert_eq!(from_libc(&to_libc(u64::MAX)), !internal);
    }
}

//! FFI for what rustix lacks: the `seccomp` syscall and the
//! user-notification ioctls, and the kernel's notification layouts.
//!
//! # Safety
//!
//! Every call passes the kernel integers, or pointers to memory that
//! outlives the call and is at least as large as the kernel will read or
//! write: a `sock_fprog` pointing into a live slice of `Insn` (whose layout
//! is `struct sock_filter`, checked below), and zeroed buffers sized by
//! `SECCOMP_GET_NOTIF_SIZES` for the notification ioctls.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use fd_core::{Error, Result};

use crate::bpf::Insn;

/// `SECCOMP_GET_NOTIF_SIZES`: the kernel's sizes of its notification structs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Sizes {
    pub(crate) notif: usize,
    pub(crate) resp: usize,
    pub(crate) data: usize,
}

fn seccomp(op: libc::c_uint, flags: libc::c_ulong, args: *const libc::c_void) -> libc::c_long {
    // SAFETY: see the module header; each caller passes a pointer valid for
    // what `op` reads or writes.
    unsafe { libc::syscall(libc::SYS_seccomp, op, flags, args) }
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`: the raw return value
/// (0, a listener fd, or with TSYNC the id of a thread that could not be
/// synchronised), or the errno.
pub(crate) fn set_mode_filter(flags: u64, insns: &[Insn]) -> std::result::Result<i64, i32> {
    let len = u16::try_from(insns.len()).map_err(|_| libc::EINVAL)?;
    let prog = libc::sock_fprog {
        len,
        filter: insns.as_ptr().cast::<libc::sock_filter>().cast_mut(),
    };
    let ret = seccomp(
        libc::SECCOMP_SET_MODE_FILTER,
        flags as libc::c_ulong,
        (&raw const prog).cast(),
    );
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

/// The same call from a forked child: no allocation, errno returned.
pub(crate) fn set_mode_filter_raw(flags: u64, insns: &[Insn]) -> i64 {
    match set_mode_filter(flags, insns) {
        Ok(v) => v,
        Err(e) => -i64::from(e),
    }
}

/// `seccomp(SECCOMP_SET_MODE_STRICT)`.
pub(crate) fn set_mode_strict() -> Result<()> {
    if seccomp(libc::SECCOMP_SET_MODE_STRICT, 0, std::ptr::null()) < 0 {
        return Err(Error::last_os_error("seccomp"));
    }
    Ok(())
}

/// `seccomp(SECCOMP_GET_ACTION_AVAIL)`.
pub(crate) fn get_action_avail(action: u32) -> Result<()> {
    if seccomp(
        libc::SECCOMP_GET_ACTION_AVAIL,
        0,
        (&raw const action).cast(),
    ) < 0
    {
        return Err(Error::last_os_error("seccomp"));
    }
    Ok(())
}

/// `seccomp(SECCOMP_GET_NOTIF_SIZES)`.
pub(crate) fn get_notif_sizes() -> Result<Sizes> {
    let mut sizes = libc::seccomp_notif_sizes {
        seccomp_notif: 0,
        seccomp_notif_resp: 0,
        seccomp_data: 0,
    };
    if seccomp(libc::SECCOMP_GET_NOTIF_SIZES, 0, (&raw mut sizes).cast()) < 0 {
        return Err(Error::last_os_error("seccomp"));
    }
    Ok(Sizes {
        notif: usize::from(sizes.seccomp_notif),
        resp: usize::from(sizes.seccomp_notif_resp),
        data: usize::from(sizes.seccomp_data),
    })
}

/// A zeroed, 8-byte-aligned buffer at least `len` bytes long.
pub(crate) fn zeroed(len: usize) -> Vec<u64> {
    vec![0u64; len.div_ceil(8)]
}

/// The notification as this crate lays it out (the kernel's may be longer).
pub(crate) const NOTIF_SIZE: usize = size_of::<libc::seccomp_notif>();
/// The response as this crate lays it out.
pub(crate) const RESP_SIZE: usize = size_of::<libc::seccomp_notif_resp>();

/// `SECCOMP_IOCTL_NOTIF_RECV` into `buf` (zeroed here, as the kernel
/// requires), decoded.
pub(crate) fn notif_recv(fd: BorrowedFd<'_>, buf: &mut [u64]) -> Result<libc::seccomp_notif> {
    assert!(
        buf.len() * 8 >= NOTIF_SIZE,
        "buffer sized from the kernel's and our sizes"
    );
    buf.fill(0);
    // SAFETY: `buf` is zeroed, aligned and at least as large as the
    // kernel's `struct seccomp_notif` (sized from GET_NOTIF_SIZES).
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            buf.as_mut_ptr(),
        )
    };
    if ret < 0 {
        return Err(Error::last_os_error("ioctl(SECCOMP_IOCTL_NOTIF_RECV)"));
    }
    // SAFETY: the buffer is aligned for u64 and at least NOTIF_SIZE long;
    // every bit pattern is a valid `seccomp_notif` (integers only).
    Ok(unsafe { std::ptr::read(buf.as_ptr().cast::<libc::seccomp_notif>()) })
}

/// `SECCOMP_IOCTL_NOTIF_SEND` from a zeroed buffer of the kernel's size.
pub(crate) fn notif_send(
    fd: BorrowedFd<'_>,
    buf: &mut [u64],
    resp: libc::seccomp_notif_resp,
) -> Result<()> {
    assert!(
        buf.len() * 8 >= RESP_SIZE,
        "buffer sized from the kernel's and our sizes"
    );
    buf.fill(0);
    // SAFETY: as in notif_recv; the write is inside the buffer.
    unsafe { std::ptr::write(buf.as_mut_ptr().cast::<libc::seccomp_notif_resp>(), resp) };
    // SAFETY: the kernel reads its response size from an initialised buffer
    // at least that large.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, buf.as_ptr()) };
    if ret < 0 {
        return Err(Error::last_os_error("ioctl(SECCOMP_IOCTL_NOTIF_SEND)"));
    }
    Ok(())
}

/// `SECCOMP_IOCTL_NOTIF_ID_VALID`.
pub(crate) fn notif_id_valid(fd: BorrowedFd<'_>, id: u64) -> Result<bool> {
    // SAFETY: the kernel reads one u64 that outlives the call.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &raw const id,
        )
    };
    if ret == 0 {
        return Ok(true);
    }
    match errno() {
        libc::ENOENT => Ok(false),
        e => Err(Error::from_errno("ioctl(SECCOMP_IOCTL_NOTIF_ID_VALID)", e)),
    }
}

/// `SECCOMP_IOCTL_NOTIF_ADDFD`: the fd number in the target.
pub(crate) fn notif_addfd(fd: BorrowedFd<'_>, addfd: &libc::seccomp_notif_addfd) -> Result<i32> {
    // SAFETY: the kernel reads the struct, which outlives the call.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ADDFD,
            std::ptr::from_ref(addfd),
        )
    };
    if ret < 0 {
        return Err(Error::last_os_error("ioctl(SECCOMP_IOCTL_NOTIF_ADDFD)"));
    }
    Ok(ret)
}

/// Adopts the listener fd `seccomp` returned.
pub(crate) fn adopt(fd: i64) -> Result<OwnedFd> {
    let raw = i32::try_from(fd).map_err(|_| {
        Error::invalid_input("seccomp", format!("the kernel returned {fd}, not an fd"))
    })?;
    // SAFETY: the kernel just created this fd for us (NEW_LISTENER) and
    // nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Registers `f` to run in the child between `fork` and `execve`.
pub(crate) fn pre_exec<F>(cmd: &mut std::process::Command, f: F)
where
    F: FnMut() -> std::io::Result<()> + Send + Sync + 'static,
{
    use std::os::unix::process::CommandExt as _;
    // SAFETY: every closure this crate registers makes raw syscalls only
    // (prctl, seccomp, sendmsg through rustix) on data prepared before the
    // fork, allocates nothing and cannot panic: it is async-signal-safe, as
    // code after fork in a possibly multithreaded process must be.
    unsafe {
        cmd.pre_exec(f);
    }
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER)` from a forked
/// child: the listener fd the kernel made, owned from the moment it
/// exists. No allocation; the errno as an `io::Error` (which allocates
/// nothing for an OS error).
pub(crate) fn set_mode_filter_listener(insns: &[Insn]) -> std::io::Result<OwnedFd> {
    let fd = set_mode_filter(libc::SECCOMP_FILTER_FLAG_NEW_LISTENER, insns)
        .map_err(std::io::Error::from_raw_os_error)?;
    let fd = i32::try_from(fd).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: with NEW_LISTENER a successful seccomp call returns a new fd
    // that nothing else in this process knows of; we are its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_kernel_headers() {
        assert_eq!(size_of::<Insn>(), size_of::<libc::sock_filter>());
        assert_eq!(align_of::<Insn>(), align_of::<libc::sock_filter>());
        assert_eq!(std::mem::offset_of!(Insn, jt), 2);
        assert_eq!(std::mem::offset_of!(Insn, jf), 3);
        assert_eq!(std::mem::offset_of!(Insn, k), 4);
        assert_eq!(NOTIF_SIZE, 80);
        assert_eq!(RESP_SIZE, 24);
        assert_eq!(size_of::<libc::seccomp_data>(), 64);
        assert_eq!(size_of::<libc::seccomp_notif_addfd>(), 24);
    }
}

//! Raw calls that rustix does not offer, used by the kernel probes.
//!
//! # Safety
//!
//! Every function here wraps one libc call with arguments that are plain
//! integers or pointers to locals that outlive the call, and turns the result
//! into an owned fd or an [`Error`]. [`in_child`] forks; the child runs only
//! the given function, which must make raw system calls only (no allocation,
//! no locks: after `fork` in a threaded process, other threads' locks may be
//! held forever), then `_exit`s without running destructors or atexit hooks.
#![allow(unsafe_code)]

use std::os::fd::{FromRawFd, OwnedFd};

use crate::error::{Error, Result};

/// Takes ownership of the fd a successful libc call returned.
fn owned(call: &'static str, ret: libc::c_long) -> Result<OwnedFd> {
    if ret < 0 {
        return Err(Error::last_os_error(call));
    }
    let fd = i32::try_from(ret).map_err(|_| Error::from_errno(call, libc::EBADF))?;
    // SAFETY: the call succeeded, so `fd` is a new open fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `signalfd(-1, {}, SFD_CLOEXEC)`: a signalfd watching no signals.
pub(crate) fn signalfd_empty() -> Result<OwnedFd> {
    // SAFETY: `sigset_t` is plain data; all-zero is the empty set.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, exclusively borrowed sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    // SAFETY: -1 asks for a new fd; `set` lives across the call.
    let ret = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
    owned("signalfd4", ret.into())
}

/// `fanotify_init(flags | FAN_CLOEXEC, O_RDONLY | O_CLOEXEC)`.
pub(crate) fn fanotify_init(flags: u32) -> Result<OwnedFd> {
    let open_flags = u32::try_from(libc::O_RDONLY | libc::O_CLOEXEC).unwrap_or(0);
    // SAFETY: integer arguments only.
    let ret = unsafe { libc::fanotify_init(flags | libc::FAN_CLOEXEC, open_flags) };
    owned("fanotify_init", ret.into())
}

/// `io_setup(1)` then `io_destroy`: whether native AIO contexts can be made.
pub(crate) fn aio_context_roundtrip() -> Result<()> {
    let mut ctx: libc::c_ulong = 0;
    // SAFETY: `ctx` is a zeroed aio_context_t the kernel writes to; it lives
    // across the call.
    let ret = unsafe { libc::syscall(libc::SYS_io_setup, 1 as libc::c_long, &mut ctx) };
    if ret < 0 {
        return Err(Error::last_os_error("io_setup"));
    }
    // SAFETY: `ctx` is the context io_setup just created, destroyed once.
    let ret = unsafe { libc::syscall(libc::SYS_io_destroy, ctx) };
    if ret < 0 {
        return Err(Error::last_os_error("io_destroy"));
    }
    Ok(())
}

/// `seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action)`.
pub(crate) fn seccomp_action_available(action: u32) -> Result<()> {
    // SAFETY: the kernel reads one u32 through the pointer, which outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL as libc::c_ulong,
            0 as libc::c_ulong,
            &action as *const u32,
        )
    };
    if ret < 0 {
        Err(Error::last_os_error("seccomp"))
    } else {
        Ok(())
    }
}

/// `prctl(PR_GET_SECCOMP)`: the calling thread's seccomp mode.
pub(crate) fn seccomp_mode() -> Result<i32> {
    // SAFETY: integer arguments only.
    let ret = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    if ret < 0 {
        Err(Error::last_os_error("prctl"))
    } else {
        Ok(ret)
    }
}

/// A new-mount-API syscall to probe for, with arguments it rejects before
/// touching memory, so the call does nothing but tell whether it exists.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MountApiCall {
    /// `fsopen(NULL, ~0)`: EPERM without CAP_SYS_ADMIN, else EINVAL (flags).
    Fsopen,
    /// `open_tree(-1, NULL, ~0)`: EINVAL (flags).
    OpenTree,
    /// `mount_setattr(-1, NULL, ~0, NULL, 0)`: EINVAL (flags).
    MountSetattr,
}

/// Whether the kernel knows `call`: `false` only on `ENOSYS`.
pub(crate) fn mount_api_known(call: MountApiCall) -> bool {
    let all = !0 as libc::c_ulong;
    // SAFETY: each call checks its flags (all bits set is invalid) or its
    // capability before reading through any pointer, so the null pointers
    // are never dereferenced; the kernel fails with EINVAL or EPERM.
    let ret = unsafe {
        match call {
            MountApiCall::Fsopen => libc::syscall(libc::SYS_fsopen, 0usize, all),
            MountApiCall::OpenTree => {
                libc::syscall(libc::SYS_open_tree, -1 as libc::c_long, 0usize, all)
            }
            MountApiCall::MountSetattr => libc::syscall(
                libc::SYS_mount_setattr,
                -1 as libc::c_long,
                0usize,
                all,
                0usize,
                0usize,
            ),
        }
    };
    ret == 0 || errno() != libc::ENOSYS
}

/// `splice(fd, NULL, fd, NULL, 0, 0)` on an fd that is not open (-1):
/// returns the errno (`EBADF` if the kernel has splice, `ENOSYS` if not).
pub(crate) fn splice_errno(fd: i32) -> rustix::io::Errno {
    // SAFETY: integer arguments and null offset pointers; the kernel checks
    // the fds before anything else and touches no memory of ours.
    let ret = unsafe { libc::splice(fd, std::ptr::null_mut(), fd, std::ptr::null_mut(), 0, 0) };
    if ret < 0 {
        rustix::io::Errno::from_raw_os_error(errno())
    } else {
        rustix::io::Errno::BADF
    }
}

/// `copy_file_range(fd, NULL, fd, NULL, 0, 0)`: as [`splice_errno`].
pub(crate) fn copy_file_range_errno(fd: i32) -> rustix::io::Errno {
    // SAFETY: as for splice_errno.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_copy_file_range,
            fd,
            std::ptr::null_mut::<i64>(),
            fd,
            std::ptr::null_mut::<i64>(),
            0usize,
            0u32,
        )
    };
    if ret < 0 {
        rustix::io::Errno::from_raw_os_error(errno())
    } else {
        rustix::io::Errno::BADF
    }
}

/// Runs `f` in a forked child and returns its result: `Ok(())` if `f`
/// returned 0, else the errno it returned.
///
/// `f` must only make raw system calls (see the module's safety section).
pub(crate) fn in_child(f: fn() -> i32) -> Result<std::result::Result<(), i32>> {
    // SAFETY: the child runs only `f`, which makes raw syscalls, and `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::last_os_error("fork"));
    }
    if pid == 0 {
        let code = f();
        // SAFETY: ends the child at once, without unwinding or atexit hooks.
        unsafe { libc::_exit(code.clamp(0, 255)) };
    }
    let mut status = 0;
    loop {
        // SAFETY: `pid` is our child; `status` outlives the call.
        let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
        if ret == pid {
            break;
        }
        let err = Error::last_os_error("waitpid");
        if err.errno() != libc::EINTR {
            return Err(err);
        }
    }
    if !libc::WIFEXITED(status) {
        return Err(Error::from_errno("waitpid", libc::ECHILD)
            .with_detail("the probe child did not exit normally"));
    }
    match libc::WEXITSTATUS(status) {
        0 => Ok(Ok(())),
        errno => Ok(Err(errno)),
    }
}

/// The errno of the last failed call, for use inside [`in_child`] functions.
fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Child body: become uid/gid 65534 (nobody), which drops every capability.
fn drop_to_nobody() -> i32 {
    // SAFETY: raw syscalls with integer arguments. setgroups first, while
    // still privileged; then gid, then uid.
    unsafe {
        if libc::syscall(
            libc::SYS_setgroups,
            0 as libc::c_long,
            std::ptr::null::<libc::gid_t>(),
        ) < 0
            || libc::syscall(libc::SYS_setresgid, 65534, 65534, 65534) < 0
            || libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) < 0
        {
            return errno();
        }
    }
    0
}

/// Child body: `unshare(CLONE_NEWUSER)`.
pub(crate) fn child_unshare_user() -> i32 {
    // SAFETY: raw syscall with an integer argument.
    if unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER as libc::c_long) } < 0 {
        return errno();
    }
    0
}

/// Child body: drop to nobody, then `unshare(CLONE_NEWUSER)`.
pub(crate) fn child_unshare_user_as_nobody() -> i32 {
    match drop_to_nobody() {
        0 => child_unshare_user(),
        e => e,
    }
}

/// Child body: drop to nobody, then `fanotify_init(FAN_REPORT_FID)`.
pub(crate) fn child_fanotify_fid_as_nobody() -> i32 {
    match drop_to_nobody() {
        0 => child_fanotify_fid(),
        e => e,
    }
}

/// Child body: `fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID)`.
pub(crate) fn child_fanotify_fid() -> i32 {
    let flags = libc::FAN_CLASS_NOTIF | libc::FAN_REPORT_FID | libc::FAN_CLOEXEC;
    // SAFETY: raw syscall with integer arguments; the fd is closed by _exit.
    if unsafe {
        libc::syscall(
            libc::SYS_fanotify_init,
            flags as libc::c_long,
            libc::O_RDONLY as libc::c_long,
        )
    } < 0
    {
        return errno();
    }
    0
}

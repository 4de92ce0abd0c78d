//! Forking a probe child: the one piece of raw process handling the crates'
//! probes share.
//!
//! # Safety
//!
//! [`in_child`] forks; the child runs only the given function, which must
//! make raw system calls only (no allocation, no locks: after `fork` in a
//! threaded process, other threads' locks may be held forever), then
//! `_exit`s without running destructors or atexit hooks. The parent waits
//! for exactly that child.
#![allow(unsafe_code)]

use crate::error::{Error, Result};

/// Runs `f` in a forked child, first dropped to uid and gid 65534 (nobody,
/// which has no capabilities) when `as_nobody`, and returns its result:
/// `Ok(())` if `f` returned 0, else the errno it returned (or the errno of
/// dropping privileges). This is how a probe asks "would an unprivileged
/// user be allowed" without changing this process.
///
/// # Safety
/// `f` runs after `fork` in a process that may have other threads: it must
/// call only async-signal-safe functions (raw system calls through
/// `libc::syscall` or the like) and allocate nothing, and it returns an
/// errno or 0.
///
/// # Errors
/// `fork` or `waitpid` failing, or a child that did not exit normally.
pub unsafe fn in_child(as_nobody: bool, f: fn() -> i32) -> Result<std::result::Result<(), i32>> {
    // SAFETY: the child runs only `drop_to_nobody` (raw syscalls) and `f`,
    // which the caller promises is async-signal-safe, then `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::last_os_error("fork"));
    }
    if pid == 0 {
        let code = match if as_nobody { drop_to_nobody() } else { 0 } {
            0 => f(),
            e => e,
        };
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

/// The errno of the last failed call; async-signal-safe.
fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
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

/// `fcntl(fd, F_DUPFD_CLOEXEC, 0)` on a raw fd number: a new fd of ours
/// for the same open file, or the errno (`EBADF`: not open).
pub(crate) fn dup_raw(fd: i32) -> std::result::Result<std::os::fd::OwnedFd, i32> {
    use std::os::fd::FromRawFd;
    // SAFETY: fcntl with integer arguments; it reads no memory, and only
    // makes a new fd (the original is not touched or owned).
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new < 0 {
        return Err(errno());
    }
    // SAFETY: the kernel just made this fd for us; nothing else owns it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(new) })
}

//! Asking the kernel whether anyone has a file open for writing, with a
//! read lease (`F_SETLEASE`), which rustix does not wrap.
//!
//! # Safety
//! The only `unsafe` is `fcntl` with integer arguments on an fd this module
//! borrows for the call; no memory is shared with the kernel.
#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use rustix::fs::{FileType, Mode, OFlags};

/// `F_SETSIG` from `<fcntl.h>` (`__F_SETSIG`, Linux 2.4), which the libc
/// crate does not export.
const F_SETSIG: i32 = 10;

/// `fcntl(fd, cmd, arg)` with an integer argument; the errno on failure.
fn fcntl_int(fd: BorrowedFd<'_>, cmd: i32, arg: i32) -> Result<i32, i32> {
    // SAFETY: F_SETSIG and F_SETLEASE take an int argument and touch no
    // memory of ours; `fd` is borrowed, so it stays open for the call.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), cmd, arg) };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(r)
    }
}

/// Whether any process has `name` in `dir` open for writing, as the kernel
/// answers a read lease: `Some(true)` a writer has it open (the lease is
/// refused with `EAGAIN`), `Some(false)` no writer (the lease was granted,
/// and released at once), `None` the kernel cannot say: not a regular file,
/// gone, not our file without `CAP_LEASE` (`EACCES`), or a filesystem
/// without leases.
///
/// While the lease is held (microseconds), a writer opening the file would
/// make the kernel signal us; the signal is set to `SIGURG`, whose default
/// action is to ignore it, instead of `SIGIO`, which would end the process.
pub(crate) fn has_writer(dir: BorrowedFd<'_>, name: &OsStr) -> Option<bool> {
    let flags =
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::empty()).ok()?;
    let st = rustix::fs::fstat(&fd).ok()?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return None;
    }
    fcntl_int(fd.as_fd(), F_SETSIG, libc::SIGURG).ok()?;
    match fcntl_int(fd.as_fd(), libc::F_SETLEASE, libc::F_RDLCK) {
        Ok(_) => {
            // Closing the fd would release it too; say so explicitly.
            let _ = fcntl_int(fd.as_fd(), libc::F_SETLEASE, libc::F_UNLCK);
            Some(false)
        }
        Err(libc::EAGAIN) => Some(true),
        Err(_) => None,
    }
}

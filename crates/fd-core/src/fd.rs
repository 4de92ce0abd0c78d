//! Helpers for file descriptors every butter crate shares.
//!
//! Every fd a butter crate creates is close-on-exec from the moment it exists
//! (the `*_CLOEXEC` flag of the creating call, never a later `fcntl`); these
//! helpers let callers check and change the flags, retry on `EINTR`, and wait
//! for readiness with `poll(2)` and a timeout that survives interruptions.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::io::{FdFlags, fcntl_dupfd_cloexec, fcntl_getfd, fcntl_setfd};

use crate::error::{Error, ErrorKind, Result, SyscallResult};

/// Whether `FD_CLOEXEC` is set on `fd`.
///
/// # Errors
/// `EBADF` ([`ErrorKind::InvalidInput`]) if `fd` is not open.
#[doc(alias = "F_GETFD")]
pub fn is_cloexec(fd: impl AsFd) -> Result<bool> {
    Ok(fcntl_getfd(fd)
        .syscall("fcntl(F_GETFD)")?
        .contains(FdFlags::CLOEXEC))
}

/// Sets or clears `FD_CLOEXEC` on `fd`.
///
/// Clearing it is how a caller hands an fd to a program it is about to `exec`.
#[doc(alias = "F_SETFD")]
pub fn set_cloexec(fd: impl AsFd, cloexec: bool) -> Result<()> {
    let fd = fd.as_fd();
    let mut flags = fcntl_getfd(fd).syscall("fcntl(F_GETFD)")?;
    flags.set(FdFlags::CLOEXEC, cloexec);
    fcntl_setfd(fd, flags).syscall("fcntl(F_SETFD)")
}

/// Whether `O_NONBLOCK` is set on the open file description behind `fd`.
#[doc(alias = "F_GETFL")]
pub fn is_nonblocking(fd: impl AsFd) -> Result<bool> {
    let flags = rustix::fs::fcntl_getfl(fd).syscall("fcntl(F_GETFL)")?;
    Ok(flags.contains(rustix::fs::OFlags::NONBLOCK))
}

/// Sets or clears `O_NONBLOCK` on the open file description behind `fd`.
///
/// The flag belongs to the open file description, so it is shared by every
/// duplicate of `fd` (see [`dup_cloexec`]).
#[doc(alias = "F_SETFL")]
pub fn set_nonblocking(fd: impl AsFd, nonblocking: bool) -> Result<()> {
    let fd = fd.as_fd();
    let mut flags = rustix::fs::fcntl_getfl(fd).syscall("fcntl(F_GETFL)")?;
    flags.set(rustix::fs::OFlags::NONBLOCK, nonblocking);
    rustix::fs::fcntl_setfl(fd, flags).syscall("fcntl(F_SETFL)")
}

/// Duplicates `fd` with `F_DUPFD_CLOEXEC`: a new fd for the same open file
/// description, close-on-exec.
///
/// # Errors
/// `EMFILE` ([`ErrorKind::ResourceLimit`]) when the process is out of fds.
#[doc(alias = "F_DUPFD_CLOEXEC")]
pub fn dup_cloexec(fd: impl AsFd) -> Result<OwnedFd> {
    fcntl_dupfd_cloexec(fd, 0).syscall("fcntl(F_DUPFD_CLOEXEC)")
}

/// A new close-on-exec fd for the open file behind the fd number `fd`, one
/// the program was given when it started (a shell's `3>status.json`, an
/// fd number on the command line): the same file and offset, so writes go
/// where the giver expects (reopening `/proc/self/fd/N` would start a new
/// offset at 0 on a regular file). The number itself is left alone.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] (`EBADF`) when `fd` is not open;
/// `EMFILE` when the process is out of fds.
pub fn dup_inherited(fd: i32) -> Result<OwnedFd> {
    crate::sys::dup_raw(fd).map_err(|errno| {
        let e = Error::from_errno("fcntl(F_DUPFD_CLOEXEC)", errno);
        if errno == libc::EBADF {
            e.with_kind(ErrorKind::InvalidInput)
                .with_detail(format!("fd {fd} is not open"))
        } else {
            e
        }
    })
}

/// What the kernel says `fd` is: the target of `/proc/self/fd/N`, such as
/// `anon_inode:[eventfd]`, `anon_inode:inotify`, `pipe:[1234]` or a path.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] if `fd` is not open (or `/proc` is not
/// mounted, which the error says).
pub fn fd_kind(fd: impl AsFd) -> Result<std::ffi::OsString> {
    use std::os::fd::AsRawFd;
    let n = fd.as_fd().as_raw_fd();
    std::fs::read_link(format!("/proc/self/fd/{n}"))
        .map(std::path::PathBuf::into_os_string)
        .map_err(|e| Error::from_io("readlink", e).with_detail(format!("/proc/self/fd/{n}")))
}

/// Checks that `fd` is the kind of fd `api` adopts: an anonymous inode
/// named `anon` (as [`fd_kind`] shows it, without `anon_inode:`), so that
/// every `from_fd` refuses the wrong fd the same way.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] naming `api`, the fd, what it is and what
/// was wanted.
pub fn expect_anon_inode(fd: impl AsFd, api: &'static str, anon: &str) -> Result<()> {
    use std::os::fd::AsRawFd;
    let fd = fd.as_fd();
    let kind = fd_kind(fd)?;
    if kind.as_encoded_bytes().strip_prefix(b"anon_inode:") == Some(anon.as_bytes()) {
        return Ok(());
    }
    Err(Error::invalid_input(
        "readlink",
        format!(
            "fd {} is {}, not anon_inode:{anon}",
            fd.as_raw_fd(),
            kind.to_string_lossy()
        ),
    )
    .with_context(api))
}

/// Calls `op` again for as long as it fails with `EINTR`.
///
/// ```
/// let mut tries = 0;
/// let got = butter::fd_core::retry_on_intr(|| {
///     tries += 1;
///     if tries < 3 { Err(butter::Error::from_errno("read", libc::EINTR)) } else { Ok(tries) }
/// });
/// assert_eq!(got.unwrap(), 3);
/// ```
pub fn retry_on_intr<T>(mut op: impl FnMut() -> Result<T>) -> Result<T> {
    loop {
        match op() {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Waits until `fd` is readable (`POLLIN`), or `timeout` passes.
///
/// Returns `true` when readable, `false` on timeout. `None` waits forever;
/// `Some(Duration::ZERO)` only checks. An `EINTR` restarts the wait with the
/// time that is left, so a signal never shortens or lengthens it. `POLLERR`
/// and `POLLHUP` count as ready: the following read reports the condition.
#[doc(alias = "poll")]
pub fn wait_readable(fd: impl AsFd, timeout: Option<Duration>) -> Result<bool> {
    wait_for(fd.as_fd(), PollFlags::IN, timeout)
}

/// Waits until `fd` is writable (`POLLOUT`), or `timeout` passes; as
/// [`wait_readable`].
#[doc(alias = "poll")]
pub fn wait_writable(fd: impl AsFd, timeout: Option<Duration>) -> Result<bool> {
    wait_for(fd.as_fd(), PollFlags::OUT, timeout)
}

/// Waits until `read` is readable or `write` is writable, or `timeout`
/// passes; as [`wait_readable`]. For a call that moves data between two fds
/// and, on `EAGAIN`, does not say which end was not ready (`splice`).
#[doc(alias = "poll")]
pub fn wait_either(read: impl AsFd, write: impl AsFd, timeout: Option<Duration>) -> Result<bool> {
    poll_until(
        &mut [
            PollFd::from_borrowed_fd(read.as_fd(), PollFlags::IN),
            PollFd::from_borrowed_fd(write.as_fd(), PollFlags::OUT),
        ],
        timeout,
    )
}

fn wait_for(
    fd: std::os::fd::BorrowedFd<'_>,
    events: PollFlags,
    timeout: Option<Duration>,
) -> Result<bool> {
    poll_until(&mut [PollFd::from_borrowed_fd(fd, events)], timeout)
}

/// `poll(fds)` until one is ready or `timeout` passes, restarting on `EINTR`
/// with the time left.
fn poll_until(fds: &mut [PollFd<'_>], timeout: Option<Duration>) -> Result<bool> {
    let deadline = timeout.map(|t| Instant::now().checked_add(t));
    loop {
        let left = match deadline {
            None => None,
            // A deadline past what `Instant` can hold is as good as forever.
            Some(None) => None,
            Some(Some(deadline)) => Some(deadline.saturating_duration_since(Instant::now())),
        };
        let ts = left.map(|d| duration_to_timespec("poll", d)).transpose()?;
        match rustix::event::poll(fds, ts.as_ref()) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Error::from_errno("poll", e.raw_os_error())),
        }
    }
}

/// Converts a [`Duration`] to the kernel's `struct timespec`, for `call`.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] naming `call` if the seconds do not fit in `time_t`.
pub fn duration_to_timespec(call: &'static str, d: Duration) -> Result<rustix::time::Timespec> {
    let tv_sec = i64::try_from(d.as_secs()).map_err(|_| {
        Error::invalid_input(
            call,
            format!(
                "{d:?} is too long: the kernel's time_t holds at most {} s",
                i64::MAX
            ),
        )
    })?;
    Ok(rustix::time::Timespec {
        tv_sec,
        tv_nsec: i64::from(d.subsec_nanos()),
    })
}

/// Converts the kernel's `struct timespec` to a [`Duration`]; negative or
/// malformed values (which the kernel does not produce) become zero.
pub fn timespec_to_duration(ts: &rustix::time::Timespec) -> Duration {
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(ts.tv_nsec)
        .ok()
        .filter(|n| *n < 1_000_000_000);
    match nanos {
        Some(n) => Duration::new(secs, n),
        None => Duration::from_secs(secs),
    }
}

/// Implements `AsFd`, `AsRawFd` and `From<T> for OwnedFd` for a type that
/// owns its fd in the named field (`OwnedFd`, or anything with those impls).
///
/// Every butter type that owns an fd has the same three; `Debug` stays with
/// each type, as each shows its own fields.
///
/// ```
/// use std::os::fd::{AsFd, OwnedFd};
///
/// #[derive(Debug)]
/// pub struct Thing {
///     fd: OwnedFd,
/// }
/// butter::fd_core::impl_owned_fd!(Thing, fd);
///
/// let (r, _w) = rustix::pipe::pipe().unwrap();
/// let thing = Thing { fd: r };
/// let _ = thing.as_fd();
/// let _back: OwnedFd = thing.into();
/// ```
#[macro_export]
macro_rules! impl_owned_fd {
    ($ty:ty, $field:ident) => {
        impl ::std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                ::std::os::fd::AsFd::as_fd(&self.$field)
            }
        }

        impl ::std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                ::std::os::fd::AsRawFd::as_raw_fd(&::std::os::fd::AsFd::as_fd(&self.$field))
            }
        }

        impl ::std::convert::From<$ty> for ::std::os::fd::OwnedFd {
            fn from(value: $ty) -> ::std::os::fd::OwnedFd {
                ::std::os::fd::OwnedFd::from(value.$field)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    fn pipe() -> (OwnedFd, OwnedFd) {
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap()
    }

    #[test]
    fn dup_inherited_shares_the_file_and_refuses_closed_numbers() {
        use std::io::{Read, Write};
        use std::os::fd::AsRawFd;
        let (r, w) = rustix::pipe::pipe().unwrap();
        let dup = dup_inherited(w.as_raw_fd()).unwrap();
        assert!(is_cloexec(&dup).unwrap());
        std::fs::File::from(dup).write_all(b"via dup").unwrap();
        drop(w);
        let mut got = String::new();
        std::fs::File::from(r).read_to_string(&mut got).unwrap();
        assert_eq!(got, "via dup");
        let e = dup_inherited(999_999).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("999999"), "{e}");
    }

    #[test]
    fn cloexec_round_trip() {
        let (r, _w) = pipe();
        assert!(is_cloexec(&r).unwrap());
        set_cloexec(&r, false).unwrap();
        assert!(!is_cloexec(&r).unwrap());
        set_cloexec(&r, true).unwrap();
        assert!(is_cloexec(&r).unwrap());
    }

    #[test]
    fn nonblocking_round_trip_is_shared_by_dups() {
        let (r, _w) = pipe();
        let dup = dup_cloexec(&r).unwrap();
        assert_ne!(dup.as_raw_fd(), r.as_raw_fd());
        assert!(is_cloexec(&dup).unwrap());
        assert!(!is_nonblocking(&r).unwrap());
        set_nonblocking(&r, true).unwrap();
        assert!(is_nonblocking(&dup).unwrap());
        set_nonblocking(&dup, false).unwrap();
        assert!(!is_nonblocking(&r).unwrap());
    }

    #[test]
    fn wait_times_out_then_sees_data() {
        let (r, w) = pipe();
        assert!(!wait_readable(&r, Some(Duration::ZERO)).unwrap());
        assert!(!wait_readable(&r, Some(Duration::from_millis(5))).unwrap());
        assert!(wait_writable(&w, Some(Duration::ZERO)).unwrap());
        std::fs::File::from(w).write_all(b"x").unwrap();
        assert!(wait_readable(&r, None).unwrap());
    }

    #[test]
    fn wait_either_end() {
        // An empty input and a full output: neither ready.
        let (r, _w) = pipe();
        let (_r2, w2) = pipe();
        set_nonblocking(&w2, true).unwrap();
        let mut out = std::fs::File::from(dup_cloexec(&w2).unwrap());
        while out.write(&[0u8; 4096]).is_ok() {}
        assert!(!wait_either(&r, &w2, Some(Duration::from_millis(5))).unwrap());
        // Data on the input: ready, though the output is still full.
        let (r3, w3) = pipe();
        std::fs::File::from(w3).write_all(b"x").unwrap();
        assert!(wait_either(&r3, &w2, None).unwrap());
        // An output with room: ready, though the input is empty.
        let (_r4, w4) = pipe();
        assert!(wait_either(&r, &w4, None).unwrap());
    }

    #[test]
    fn huge_timeout_does_not_overflow() {
        let (r, w) = pipe();
        std::fs::File::from(w).write_all(b"x").unwrap();
        assert!(wait_readable(&r, Some(Duration::MAX)).unwrap());
    }

    #[test]
    fn timespec_conversions() {
        let ts = duration_to_timespec("t", Duration::new(3, 5)).unwrap();
        assert_eq!((ts.tv_sec, ts.tv_nsec), (3, 5));
        assert_eq!(timespec_to_duration(&ts), Duration::new(3, 5));
        let err = duration_to_timespec("t", Duration::MAX).unwrap_err();
        assert_eq!(err.call(), "t");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("too long"), "{err}");
        let bad = rustix::time::Timespec {
            tv_sec: -1,
            tv_nsec: 2_000_000_000,
        };
        assert_eq!(timespec_to_duration(&bad), Duration::ZERO);
    }

    #[test]
    fn retry_passes_other_errors_through() {
        let err = retry_on_intr::<()>(|| Err(Error::from_errno("x", libc::EBADF))).unwrap_err();
        assert_eq!(err.errno(), libc::EBADF);
    }
}

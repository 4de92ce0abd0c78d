//! Zero-copy data movement on Linux: `splice`, `tee`, `vmsplice`,
//! `sendfile`, `copy_file_range`, and one [`copy`] that picks the fastest
//! correct path for a pair of fds and falls back safely.
//!
//! Rust's standard library already uses some of these inside `io::copy`,
//! privately and blocking only; here the whole ladder is public, measured,
//! and reports what it did.
//!
//! # How it works
//!
//! - Raw layer over `AsFd`: [`splice`], [`tee`], [`vmsplice_read`] (safe:
//!   it copies), [`vmsplice`] (`unsafe`: the kernel keeps referencing your
//!   memory), [`sendfile`], [`copy_file_range`].
//! - [`Pipe`]: close-on-exec pipes, optionally non-blocking or packet mode,
//!   capacity get/set with errors that name the limits, bytes available.
//! - [`copy`], [`copy_with`], [`copy_at`]: the method ladder, fallbacks only
//!   while nothing has been written, errors that carry the bytes moved, and
//!   a [`CopyReport`] of what was used.
//! - [`tee_split`]: one pipe's data to two consumers, never through user space.
//! - `AsyncPipe` and `copy_async` (feature `async`): splice between
//!   sockets and pipes on async-io's reactor, waiting on the right end.
//!
//! # Example
//!
//! ```
//! use zerocopy_pipe::{Method, Pipe, copy};
//!
//! let (from, to) = (Pipe::new()?, Pipe::new()?);
//! rustix::io::write(from.write_end(), b"through the kernel")?;
//! let (from_read, from_write) = from.into_ends();
//! drop(from_write); // end of input after what was written
//! let report = copy(&from_read, to.write_end(), None)?;
//! assert_eq!((report.bytes, report.method), (18, Method::Splice));
//! assert_eq!(to.available()?, 18);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(unsafe_code)]

/// This crate's README examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(not(target_os = "linux"))]
compile_error!("zerocopy-pipe wraps Linux's splice family and builds only for Linux targets");

#[cfg(feature = "async")]
mod asynchronous;
mod copy;
mod pipe;
mod probe;
mod raw;
#[cfg(feature = "serde")]
mod serde_impls;

#[cfg(feature = "async")]
pub use asynchronous::{AsyncPipe, copy_async};
use std::os::fd::AsFd;

pub use copy::{
    CopyError, CopyOptions, CopyReport, Method, Skipped, check_pair, copy, copy_at, copy_with,
};
pub use fd_core::{self, Error, ErrorKind, Result};
pub use pipe::{Pipe, PipeFlags, available};
pub use probe::probe;
pub use raw::{SpliceFlags, copy_file_range, sendfile, splice, tee, vmsplice, vmsplice_read};

/// Whether `fd` is a pipe (or FIFO).
pub fn is_pipe(fd: impl AsFd) -> Result<bool> {
    use fd_core::SyscallResult;
    let st = rustix::fs::fstat(fd).syscall("fstat")?;
    Ok(rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo)
}

/// Sends everything read from the pipe `src` to both `first` (a pipe's
/// write end) and `second` (any fd splice can write to), until `src` ends
/// or `limit` bytes: `tee` into `first`, then `splice` the same bytes from
/// `src` to `second`. Returns the bytes each received.
///
/// # Errors
/// As [`tee`] and [`splice`]: [`ErrorKind::InvalidInput`] if `src` or
/// `first` is not a pipe.
pub fn tee_split(
    src: impl AsFd,
    first: impl AsFd,
    second: impl AsFd,
    limit: Option<u64>,
) -> Result<u64> {
    let (src, first, second) = (src.as_fd(), first.as_fd(), second.as_fd());
    let mut total = 0u64;
    loop {
        let left = limit.map_or(u64::MAX, |l| l - total.min(l));
        if left == 0 {
            return Ok(total);
        }
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(1 << 30);
        let n = fd_core::retry_on_intr(|| tee(src, first, want, SpliceFlags::empty()))?;
        if n == 0 {
            return Ok(total);
        }
        let mut moved = 0;
        while moved < n {
            moved += fd_core::retry_on_intr(|| {
                splice(src, None, second, None, n - moved, SpliceFlags::MOVE)
            })?;
        }
        total += n as u64;
    }
}

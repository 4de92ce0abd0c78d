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
pub use copy::{
    CopyError, CopyOptions, CopyReport, Method, Skipped, check_pair, copy, copy_at, copy_with,
    has_spare_pipe, release_spare_pipe,
};
pub use fd_core::{self, Error, ErrorKind, Result};
pub use pipe::{Pipe, PipeFlags, available, is_pipe, tee_split};
pub use probe::probe;
pub use raw::{SpliceFlags, copy_file_range, sendfile, splice, tee, vmsplice, vmsplice_read};

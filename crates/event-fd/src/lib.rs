//! Linux `eventfd`, done completely.
//!
//! An eventfd is a 64-bit counter in the kernel behind a file descriptor. A
//! `write` adds to it; a `read` takes it: the whole value in counter mode, or
//! one unit at a time in semaphore mode. A read of a zero counter blocks
//! (or fails with "would block" on a non-blocking fd), and so does a write
//! that would take the counter past `u64::MAX - 1`. That makes it the
//! cheapest way to wake a thread, a `poll`/`epoll` loop or an async task.
//!
//! # How it works
//!
//! - Raw layer: [`eventfd`] (`eventfd2(2)`, always `EFD_CLOEXEC`),
//!   [`eventfd_read`] and [`eventfd_write`] (8-byte `read(2)`/`write(2)`).
//! - [`EventFd`] owns the fd: [`read`](EventFd::read), [`write`](EventFd::write),
//!   [`try_read`](EventFd::try_read), [`try_write`](EventFd::try_write),
//!   waits with timeouts, [`try_clone`](EventFd::try_clone), and `AsFd` for
//!   any `poll`/`epoll` loop. It implements [`fd_core::EventSource`].
//! - `AsyncEventFd` (feature `async`): async `read`/`write` and a `Stream`
//!   of values on `async-io`, any executor.
//!
//! # Example
//!
//! ```
//! use event_fd::{EventFd, EventFdFlags};
//!
//! let efd = EventFd::new()?;
//! efd.write(2)?;
//! efd.write(3)?;
//! assert_eq!(efd.read()?, 5); // counter mode: the sum, and the counter resets
//!
//! let sem = EventFd::with_flags(2, EventFdFlags::SEMAPHORE | EventFdFlags::NONBLOCK)?;
//! assert_eq!(sem.read()?, 1); // semaphore mode: one at a time
//! assert_eq!(sem.read()?, 1);
//! assert_eq!(sem.try_read()?, None); // empty: would block
//! # Ok::<(), fd_core::Error>(())
//! ```

#![deny(unsafe_code)]

/// This crate's README examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(not(target_os = "linux"))]
compile_error!("event-fd wraps Linux's eventfd and builds only for Linux targets");

#[cfg(feature = "async")]
mod asynchronous;
mod eventfd;
mod probe;
mod raw;

#[cfg(feature = "async")]
pub use asynchronous::AsyncEventFd;
pub use eventfd::EventFd;
pub use fd_core::{self, Error, ErrorKind, Result};
pub use probe::probe;
pub use raw::{EventFdFlags, MAX_COUNTER, eventfd, eventfd_read, eventfd_write};

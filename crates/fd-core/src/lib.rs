//! The shared foundation of the butter crates.
//!
//! Every butter crate wraps one family of Linux fd-shaped kernel features
//! (eventfd, timerfd, signalfd, inotify and fanotify, splice, namespaces,
//! native AIO, seccomp). They share what this crate holds:
//!
//! - **One error model.** [`Error`] keeps the failing call's name and its
//!   errno, and maps the errno to one of nine [`ErrorKind`]s through the
//!   public, tested [`ERRNO_TABLE`]. It converts into [`std::io::Error`] with
//!   the matching [`std::io::ErrorKind`], errno still reachable.
//! - **Fd helpers.** [`is_cloexec`], [`set_nonblocking`], [`dup_cloexec`],
//!   [`retry_on_intr`], and [`wait_readable`] / [`wait_writable`] over
//!   `poll(2)` with timeouts that survive `EINTR`.
//! - **The event-source trait.** [`EventSource`]: read one event, read every
//!   buffered event in one syscall into a reused buffer, check without
//!   blocking, wait with a timeout; `AsFd` for `poll`/`epoll` loops.
//! - **The async adapter** (feature `async`). [`AsyncSource`] turns any event
//!   source into a `futures_core::Stream` on `async-io`'s reactor, with no
//!   executor dependency.
//! - **Kernel probing.** [`probe`] finds what this machine offers: the kernel
//!   version, each feature, each limit. `butter doctor` prints it.
//!
//! # Example
//!
//! ```
//! use fd_core::{Error, ErrorKind, wait_readable};
//! use std::time::Duration;
//!
//! let (read_end, _write_end) = rustix::pipe::pipe().unwrap();
//! // Nothing written: the wait times out rather than blocking forever.
//! assert!(!wait_readable(&read_end, Some(Duration::from_millis(1)))?);
//!
//! // Errors keep the call and errno, and map to a kind callers match on.
//! let err = Error::from_errno("inotify_add_watch", libc::ENOSPC);
//! assert_eq!(err.kind(), ErrorKind::ResourceLimit);
//! # Ok::<(), fd_core::Error>(())
//! ```

#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(target_os = "linux"))]
compile_error!("butter's crates wrap Linux system calls and build only for Linux targets");

mod error;
mod fd;
pub mod probe;
#[cfg(feature = "serde")]
mod serde_impls;
mod source;
mod sys;

#[cfg(feature = "async")]
mod asyncio;

pub use error::{ERRNO_TABLE, ErrnoInfo, Error, ErrorKind, Result, SyscallResult, errno_info};
pub use fd::{
    dup_cloexec, dup_inherited, duration_to_timespec, expect_anon_inode, fd_kind, is_cloexec,
    is_nonblocking, retry_on_intr, set_cloexec, set_nonblocking, timespec_to_duration, wait_either,
    wait_readable, wait_writable,
};
#[cfg(feature = "serde")]
pub use serde_impls::serde_os_str;
pub use source::{EventSource, read_queued, read_queued_timeout, readable_now};

#[cfg(feature = "async")]
pub use asyncio::{AsyncReady, AsyncSource};

/// Re-exports for the `async_source!` macro; not public API.
#[cfg(feature = "async")]
#[doc(hidden)]
pub mod __private {
    pub use futures_core::Stream;
}

/// rustix, re-exported for the member crates and for callers who need its
/// types at the edges of the raw layers (`Timespec`, flags).
pub use rustix;

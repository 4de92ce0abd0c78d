//! Linux signals as file descriptors, done completely.
//!
//! A signal handler runs at an arbitrary point of an arbitrary thread and
//! may do almost nothing safely. A signalfd turns signals into records you
//! read like any other fd: in a loop, in `poll`/`epoll`, or as an async
//! stream, with every field the kernel reports (who sent it, why, the value
//! `sigqueue` carried, how a child ended). Real-time signals queue, one
//! record each; standard signals coalesce while pending, as always.
//!
//! # How it works
//!
//! - [`Signal`] and [`SigSet`]: every standard signal and the C library's
//!   real-time range, names parsed both ways.
//! - Masks: [`pthread_sigmask`] and [`sigprocmask`] return a
//!   [`SigMaskGuard`] that restores the previous mask; [`sigpending`].
//! - [`signalfd`] (`signalfd4`, always `SFD_CLOEXEC`) and [`SignalFd`]:
//!   read one [`SigInfo`] or up to [`MAX_BATCH`] in one syscall, wait with a
//!   timeout, change the set. `SIGKILL` and `SIGSTOP` are refused with a
//!   clear error instead of being silently dropped by the kernel.
//! - [`Signals`]: blocks the set and opens the fd in one step, and finds the
//!   threads that would steal its signals ([`unblocked_threads`]).
//! - Sending: [`kill`], [`kill_self`], [`sigqueue`] and [`sigqueue_ptr`] (with a value),
//!   [`tgkill`] (to one thread).
//! - [`PidFd`] (`pidfd_open`, `pidfd_send_signal`, `waitid(P_PIDFD)`): a
//!   child's exit as an fd event, with its [`ChildStatus`].
//! - `AsyncSignalFd`, `AsyncSignals` and `AsyncPidFd` (feature `async`):
//!   `Stream`s on async-io, any executor.
//!
//! # Example
//!
//! ```
//! use signal_fd::{SigCode, Signal, Signals, sigqueue};
//!
//! // Block first, then signal: the record waits in the fd.
//! let signals = Signals::new([Signal::USR1, Signal::rt(1)?])?;
//! sigqueue(std::process::id(), Signal::rt(1)?, 42)?;
//! let info = signals.read()?;
//! assert_eq!(info.signal(), Signal::rt(1)?);
//! assert_eq!(info.code(), SigCode::Queue);
//! assert_eq!(info.value_int(), 42);
//! # Ok::<(), fd_core::Error>(())
//! ```

#![deny(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!("signal-fd wraps Linux's signalfd and builds only for Linux targets");

/// This crate's README examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(feature = "async")]
mod asynchronous;
mod command;
mod mask;
mod pidfd;
mod probe;
mod raw;
#[cfg(feature = "serde")]
mod serde_impls;
mod siginfo;
mod signal;
mod signalfd;
mod sys;

pub use command::SignalCommandExt;
pub use fd_core::{self, Error, ErrorKind, Result};
pub use mask::{How, SigMaskGuard, pthread_sigmask, sigpending, sigprocmask, thread_mask};
pub use pidfd::PidFd;
pub use probe::probe;
pub use raw::{
    MAX_BATCH, SignalFdFlags, kill, kill_self, signalfd, signalfd_read, signalfd_set_mask,
    sigqueue, sigqueue_ptr, tgkill,
};
pub use siginfo::{ChildStatus, SigCode};
pub use signal::{SigSet, Signal};
pub use signalfd::{SignalFd, Signals, UnblockedThread, unblocked_threads};
pub use sys::SigInfo;

#[cfg(feature = "async")]
pub use asynchronous::{AsyncPidFd, AsyncSignalFd, AsyncSignals};

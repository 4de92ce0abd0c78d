//! Linux `timerfd`, done completely.
//!
//! A timerfd is a kernel timer behind a file descriptor: it becomes readable
//! when it expires, and a read returns how many times it expired since the
//! last read, so a slow reader never loses a period. Any clock:
//! `CLOCK_MONOTONIC` (the default), `CLOCK_REALTIME`, `CLOCK_BOOTTIME`
//! (counts suspend), and the `*_ALARM` clocks that wake a suspended system.
//!
//! # How it works
//!
//! - Raw layer: [`timerfd_create`] (always `TFD_CLOEXEC`),
//!   [`timerfd_settime`], [`timerfd_gettime`], [`timerfd_read`].
//! - [`TimerFd`] owns the fd. [`set`](TimerFd::set) takes a [`TimerSpec`]:
//!   one-shot, periodic, at an absolute deadline, periodic from an absolute
//!   start; [`disarm`](TimerFd::disarm); [`get`](TimerFd::get) reads the
//!   current setting. [`read`](TimerFd::read) returns a [`TimerEvent`]:
//!   the expiration count, or [`TimerEvent::ClockChanged`] when a
//!   `cancel_on_set` timer saw `CLOCK_REALTIME` jump (the kernel's `ECANCELED`).
//! - `AsyncTimerFd` (feature `async`): a `Stream` of [`TimerEvent`]s and an
//!   awaitable [`tick`](AsyncTimerFd::tick), any executor.
//!
//! Arguments the kernel would silently misread are refused with a clear
//! [`ErrorKind::InvalidInput`] instead: a zero start (the kernel reads it as
//! "disarm"), `cancel_on_set` on a relative or non-realtime timer (the kernel
//! ignores it), durations past `time_t`.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use timer_fd::{TimerEvent, TimerFd, TimerSpec};
//!
//! let timer = TimerFd::new()?; // CLOCK_MONOTONIC, blocking
//! timer.set(&TimerSpec::oneshot(Duration::from_millis(2)))?;
//! assert_eq!(timer.read()?, TimerEvent::Expired(1));
//! assert!(timer.get()?.next.is_none()); // a one-shot timer disarms itself
//! # Ok::<(), fd_core::Error>(())
//! ```

#![deny(unsafe_code)]

/// This crate's README examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(not(target_os = "linux"))]
compile_error!("timer-fd wraps Linux's timerfd and builds only for Linux targets");

#[cfg(feature = "async")]
mod asynchronous;
mod probe;
mod raw;
#[cfg(feature = "serde")]
mod serde_impls;
mod timer;

#[cfg(feature = "async")]
pub use asynchronous::AsyncTimerFd;
pub use fd_core::{self, Error, ErrorKind, Result};
pub use probe::probe;
pub use raw::{
    Clock, ITimerSpec, SetTimeFlags, TimerEvent, TimerFdFlags, timerfd_create, timerfd_gettime,
    timerfd_read, timerfd_settime,
};
pub use timer::{Start, TimerFd, TimerSpec, TimerState};

#[cfg(test)]
mod tests;

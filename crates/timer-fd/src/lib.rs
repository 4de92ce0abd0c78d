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
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn clock_names_parse_both_ways() {
        for clock in Clock::ALL {
            assert_eq!(clock.name().parse::<Clock>().unwrap(), clock);
            assert_eq!(
                clock.to_string().to_lowercase().parse::<Clock>().unwrap(),
                clock
            );
            assert_eq!(Clock::from_raw(clock.raw()).unwrap(), clock);
        }
        assert_eq!(
            "boottime-alarm".parse::<Clock>().unwrap(),
            Clock::BoottimeAlarm
        );
        assert_eq!(" Monotonic ".parse::<Clock>().unwrap(), Clock::Monotonic);
        let err = "tai".parse::<Clock>().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("unknown clock \"tai\""), "{err}");
        let err = Clock::from_raw(2).unwrap_err(); // CLOCK_PROCESS_CPUTIME_ID
        assert!(err.to_string().contains("clock id 2"), "{err}");
    }

    #[test]
    fn raw_ids_match_libc() {
        assert_eq!(
            Clock::Realtime.raw(),
            rustix::time::ClockId::Realtime as i32
        );
        assert_eq!(
            Clock::Monotonic.raw(),
            rustix::time::ClockId::Monotonic as i32
        );
        assert_eq!(
            Clock::Boottime.raw(),
            rustix::time::ClockId::Boottime as i32
        );
        assert_eq!(
            Clock::RealtimeAlarm.raw(),
            rustix::time::ClockId::RealtimeAlarm as i32
        );
        assert_eq!(
            Clock::BoottimeAlarm.raw(),
            rustix::time::ClockId::BoottimeAlarm as i32
        );
    }

    #[test]
    fn spec_encoding() {
        let ms = Duration::from_millis;
        let (f, raw) = TimerSpec::oneshot(ms(5)).to_raw(Clock::Monotonic).unwrap();
        assert_eq!(
            (f, raw),
            (
                SetTimeFlags::empty(),
                ITimerSpec {
                    value: ms(5),
                    interval: Duration::ZERO
                }
            )
        );
        let (f, raw) = TimerSpec::periodic_at(ms(9), ms(3))
            .to_raw(Clock::Boottime)
            .unwrap();
        assert_eq!(
            (f, raw),
            (
                SetTimeFlags::ABSTIME,
                ITimerSpec {
                    value: ms(9),
                    interval: ms(3)
                }
            )
        );
        let (f, _) = TimerSpec::at(ms(9))
            .cancel_on_set()
            .to_raw(Clock::RealtimeAlarm)
            .unwrap();
        assert_eq!(f, SetTimeFlags::ABSTIME | SetTimeFlags::CANCEL_ON_SET);
        let spec = TimerSpec::oneshot(ms(1)).with_interval(ms(2));
        assert_eq!(spec.interval, Some(ms(2)));
    }

    #[test]
    fn state_from_raw() {
        let s = TimerState::from(ITimerSpec::default());
        assert_eq!(
            s,
            TimerState {
                next: None,
                interval: None
            }
        );
        let s = TimerState::from(ITimerSpec {
            value: Duration::from_secs(1),
            interval: Duration::ZERO,
        });
        assert_eq!(s.next, Some(Duration::from_secs(1)));
        assert_eq!(s.interval, None);
        assert_eq!(TimerEvent::ClockChanged.count(), 0);
        assert_eq!(TimerEvent::Expired(3).count(), 3);
    }
}

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

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::str::FromStr;
use std::time::Duration;

use fd_core::{EventSource, SyscallResult};
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags};

mod probe;
pub use fd_core::{self, Error, ErrorKind, Result};
pub use probe::probe;

/// The clock a timer counts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Clock {
    /// `CLOCK_MONOTONIC`: steady, not counting suspend. The default.
    #[default]
    Monotonic,
    /// `CLOCK_REALTIME`: wall-clock time; jumps when the time is set.
    Realtime,
    /// `CLOCK_BOOTTIME`: like monotonic, but counts time suspended.
    Boottime,
    /// `CLOCK_REALTIME_ALARM`: realtime that wakes a suspended system.
    /// Needs `CAP_WAKE_ALARM`.
    RealtimeAlarm,
    /// `CLOCK_BOOTTIME_ALARM`: boottime that wakes a suspended system.
    /// Needs `CAP_WAKE_ALARM`.
    BoottimeAlarm,
}

impl Clock {
    /// Every clock timerfd accepts.
    pub const ALL: [Clock; 5] = [
        Clock::Monotonic,
        Clock::Realtime,
        Clock::Boottime,
        Clock::RealtimeAlarm,
        Clock::BoottimeAlarm,
    ];

    /// The C name, such as `"CLOCK_MONOTONIC"`.
    pub fn name(self) -> &'static str {
        match self {
            Clock::Monotonic => "CLOCK_MONOTONIC",
            Clock::Realtime => "CLOCK_REALTIME",
            Clock::Boottime => "CLOCK_BOOTTIME",
            Clock::RealtimeAlarm => "CLOCK_REALTIME_ALARM",
            Clock::BoottimeAlarm => "CLOCK_BOOTTIME_ALARM",
        }
    }

    /// The kernel's clock id.
    pub fn raw(self) -> i32 {
        match self {
            Clock::Monotonic => 1,
            Clock::Realtime => 0,
            Clock::Boottime => 7,
            Clock::RealtimeAlarm => 8,
            Clock::BoottimeAlarm => 9,
        }
    }

    /// The clock with kernel id `id`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for an id timerfd does not accept
    /// (`CLOCK_PROCESS_CPUTIME_ID`, `CLOCK_TAI`, unknown numbers).
    pub fn from_raw(id: i32) -> Result<Clock> {
        Clock::ALL
            .into_iter()
            .find(|c| c.raw() == id)
            .ok_or_else(|| {
                Error::invalid_input(
                    "Clock::from_raw",
                    format!(
                        "clock id {id} is not one timerfd accepts (REALTIME 0, MONOTONIC 1, \
                     BOOTTIME 7, REALTIME_ALARM 8, BOOTTIME_ALARM 9)"
                    ),
                )
            })
    }

    /// Whether this is one of the `*_ALARM` clocks, which need `CAP_WAKE_ALARM`.
    pub fn is_alarm(self) -> bool {
        matches!(self, Clock::RealtimeAlarm | Clock::BoottimeAlarm)
    }

    /// Whether this clock follows wall-clock time, so that setting the time
    /// moves its deadlines (and `cancel_on_set` applies).
    pub fn is_realtime(self) -> bool {
        matches!(self, Clock::Realtime | Clock::RealtimeAlarm)
    }

    /// The clock's current time (`clock_gettime`): what [`Start::At`]
    /// deadlines are measured against.
    pub fn now(self) -> Duration {
        let id = match self {
            Clock::Monotonic => rustix::time::ClockId::Monotonic,
            Clock::Realtime => rustix::time::ClockId::Realtime,
            Clock::Boottime => rustix::time::ClockId::Boottime,
            Clock::RealtimeAlarm => rustix::time::ClockId::RealtimeAlarm,
            Clock::BoottimeAlarm => rustix::time::ClockId::BoottimeAlarm,
        };
        fd_core::timespec_to_duration(&rustix::time::clock_gettime(id))
    }

    fn timerfd_id(self) -> TimerfdClockId {
        match self {
            Clock::Monotonic => TimerfdClockId::Monotonic,
            Clock::Realtime => TimerfdClockId::Realtime,
            Clock::Boottime => TimerfdClockId::Boottime,
            Clock::RealtimeAlarm => TimerfdClockId::RealtimeAlarm,
            Clock::BoottimeAlarm => TimerfdClockId::BoottimeAlarm,
        }
    }
}

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Clock {
    type Err = Error;

    /// Parses `"monotonic"`, `"CLOCK_MONOTONIC"`, `"boottime-alarm"`, any case.
    fn from_str(s: &str) -> Result<Clock> {
        let upper = s.trim().to_ascii_uppercase().replace('-', "_");
        let name = upper.strip_prefix("CLOCK_").unwrap_or(&upper);
        Clock::ALL
            .into_iter()
            .find(|c| &c.name()["CLOCK_".len()..] == name)
            .ok_or_else(|| {
                Error::invalid_input(
                    "Clock::from_str",
                    format!(
                        "unknown clock {s:?}: expected monotonic, realtime, boottime, \
                         realtime-alarm or boottime-alarm"
                    ),
                )
            })
    }
}

bitflags::bitflags! {
    /// Flags for [`timerfd_create`]. `TFD_CLOEXEC` is always added.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct TimerFdFlags: u32 {
        /// `TFD_NONBLOCK`: a read before expiry fails with
        /// [`ErrorKind::WouldBlock`] instead of waiting.
        const NONBLOCK = TimerfdFlags::NONBLOCK.bits();
    }
}

bitflags::bitflags! {
    /// Flags for [`timerfd_settime`].
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SetTimeFlags: u32 {
        /// `TFD_TIMER_ABSTIME`: the value is an absolute time on the timer's clock.
        const ABSTIME = TimerfdTimerFlags::ABSTIME.bits();
        /// `TFD_TIMER_CANCEL_ON_SET`: with `ABSTIME` on a realtime clock, a
        /// read fails with `ECANCELED` once the clock has been set.
        const CANCEL_ON_SET = TimerfdTimerFlags::CANCEL_ON_SET.bits();
    }
}

/// The kernel's `struct itimerspec`, as durations: the raw layer's view.
///
/// A zero `value` means disarmed (for [`timerfd_settime`]: disarm); a zero
/// `interval` means one-shot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ITimerSpec {
    /// Time to the first (next) expiry, or the absolute time with `ABSTIME`.
    pub value: Duration,
    /// Period after the first expiry; zero for one-shot.
    pub interval: Duration,
}

fn to_itimerspec(call: &'static str, spec: &ITimerSpec) -> Result<Itimerspec> {
    Ok(Itimerspec {
        it_value: fd_core::duration_to_timespec(call, spec.value)?,
        it_interval: fd_core::duration_to_timespec(call, spec.interval)?,
    })
}

fn from_itimerspec(spec: &Itimerspec) -> ITimerSpec {
    ITimerSpec {
        value: fd_core::timespec_to_duration(&spec.it_value),
        interval: fd_core::timespec_to_duration(&spec.it_interval),
    }
}

/// `timerfd_create(clock, flags | TFD_CLOEXEC)`: creates a disarmed timer.
///
/// # Errors
/// - [`ErrorKind::PermissionDenied`] (`EPERM`): an `*_ALARM` clock without
///   `CAP_WAKE_ALARM`; the message names the capability.
/// - [`ErrorKind::InvalidInput`] (`EINVAL`): flag bits the kernel does not know.
/// - [`ErrorKind::ResourceLimit`] (`EMFILE`, `ENFILE`, `ENOMEM`).
///
/// # References
/// - [`timerfd_create(2)`](https://man7.org/linux/man-pages/man2/timerfd_create.2.html)
pub fn timerfd_create(clock: Clock, flags: TimerFdFlags) -> Result<OwnedFd> {
    let flags = TimerfdFlags::from_bits_retain(flags.bits()) | TimerfdFlags::CLOEXEC;
    rustix::time::timerfd_create(clock.timerfd_id(), flags)
        .syscall("timerfd_create")
        .map_err(|e| {
            if e.errno() == rustix::io::Errno::PERM.raw_os_error() && clock.is_alarm() {
                e.with_detail(format!(
                    "{} needs CAP_WAKE_ALARM, which this process does not have",
                    clock.name()
                ))
            } else {
                e
            }
        })
}

/// `timerfd_settime(fd, flags, new)`: arms (or, with a zero `value`,
/// disarms) the timer; returns the previous setting.
///
/// This is the raw call: a zero value disarms, and `CANCEL_ON_SET` without
/// `ABSTIME` on a realtime clock is silently ignored by the kernel.
/// [`TimerFd::set`] refuses both.
///
/// # Errors
/// - [`ErrorKind::InvalidInput`]: `fd` is not a timerfd (`EINVAL`), unknown
///   flag bits (`EINVAL`), a duration past `time_t` (checked before the call).
///
/// # References
/// - [`timerfd_settime(2)`](https://man7.org/linux/man-pages/man2/timerfd_settime.2.html)
pub fn timerfd_settime(fd: impl AsFd, flags: SetTimeFlags, new: &ITimerSpec) -> Result<ITimerSpec> {
    let new = to_itimerspec("timerfd_settime", new)?;
    let flags = TimerfdTimerFlags::from_bits_retain(flags.bits());
    let old = rustix::time::timerfd_settime(fd, flags, &new).syscall("timerfd_settime")?;
    Ok(from_itimerspec(&old))
}

/// `timerfd_gettime(fd)`: time to the next expiry (zero if disarmed) and
/// the interval.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] (`EINVAL`) if `fd` is not a timerfd.
///
/// # References
/// - [`timerfd_gettime(2)`](https://man7.org/linux/man-pages/man2/timerfd_gettime.2.html)
pub fn timerfd_gettime(fd: impl AsFd) -> Result<ITimerSpec> {
    let cur = rustix::time::timerfd_gettime(fd).syscall("timerfd_gettime")?;
    Ok(from_itimerspec(&cur))
}

/// Reads a timerfd: an 8-byte `read(2)`, decoded.
///
/// # Errors
/// - [`ErrorKind::WouldBlock`]: not expired and the fd is non-blocking.
/// - [`ErrorKind::InvalidInput`]: `fd` not open for reading (`EBADF`), or a
///   read of other than 8 bytes (not a timerfd).
///
/// `ECANCELED` is not an error: it is [`TimerEvent::ClockChanged`].
pub fn timerfd_read(fd: impl AsFd) -> Result<TimerEvent> {
    let mut buf = [0u8; 8];
    match rustix::io::read(fd, &mut buf) {
        Ok(8) => Ok(TimerEvent::Expired(u64::from_ne_bytes(buf))),
        Ok(n) => Err(Error::invalid_input(
            "timerfd_read",
            format!("read returned {n} bytes, not 8: the fd is not a timerfd"),
        )),
        Err(rustix::io::Errno::CANCELED) => Ok(TimerEvent::ClockChanged),
        Err(e) => Err(Error::from_errno("timerfd_read", e.raw_os_error())),
    }
}

/// What a read of a timer returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerEvent {
    /// The timer expired this many times (at least 1) since the last read.
    /// A periodic timer counts every period, even those nobody read in time.
    Expired(u64),
    /// `CLOCK_REALTIME` was set (or jumped) while a `cancel_on_set` timer
    /// was armed: its absolute deadline now means something else. The timer
    /// stays armed for that deadline; re-arm it if the new time calls for it.
    ClockChanged,
}

impl TimerEvent {
    /// The expiration count; zero for [`TimerEvent::ClockChanged`].
    pub fn count(self) -> u64 {
        match self {
            TimerEvent::Expired(n) => n,
            TimerEvent::ClockChanged => 0,
        }
    }
}

/// When a timer first expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Start {
    /// This long from now.
    After(Duration),
    /// At this time on the timer's clock (see [`Clock::now`]). A time in the
    /// past expires at once.
    At(Duration),
}

/// How to arm a timer: when it first expires, how often after that, and
/// whether a change of the realtime clock should be reported.
///
/// ```
/// use std::time::Duration;
/// use timer_fd::{Clock, Start, TimerSpec};
///
/// let every_10ms = TimerSpec::periodic(Duration::from_millis(10));
/// assert_eq!(every_10ms.start, Start::After(Duration::from_millis(10)));
///
/// let deadline = Clock::Realtime.now() + Duration::from_secs(60);
/// let wake = TimerSpec::at(deadline).cancel_on_set();
/// assert!(wake.cancel_on_set);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerSpec {
    /// The first expiry.
    pub start: Start,
    /// The period after the first expiry; `None` for a one-shot timer.
    pub interval: Option<Duration>,
    /// Report [`TimerEvent::ClockChanged`] if the realtime clock is set while
    /// armed (`TFD_TIMER_CANCEL_ON_SET`). Needs a realtime clock and
    /// [`Start::At`].
    pub cancel_on_set: bool,
}

impl TimerSpec {
    /// Expires once, `after` from now.
    pub fn oneshot(after: Duration) -> TimerSpec {
        TimerSpec {
            start: Start::After(after),
            interval: None,
            cancel_on_set: false,
        }
    }

    /// Expires every `period`, the first time `period` from now.
    pub fn periodic(period: Duration) -> TimerSpec {
        TimerSpec {
            start: Start::After(period),
            interval: Some(period),
            cancel_on_set: false,
        }
    }

    /// Expires once at `deadline` on the timer's clock.
    pub fn at(deadline: Duration) -> TimerSpec {
        TimerSpec {
            start: Start::At(deadline),
            interval: None,
            cancel_on_set: false,
        }
    }

    /// Expires at `start` on the timer's clock, then every `period`.
    pub fn periodic_at(start: Duration, period: Duration) -> TimerSpec {
        TimerSpec {
            start: Start::At(start),
            interval: Some(period),
            cancel_on_set: false,
        }
    }

    /// The same, with the period `interval` after the first expiry.
    #[must_use]
    pub fn with_interval(mut self, interval: Duration) -> TimerSpec {
        self.interval = Some(interval);
        self
    }

    /// The same, reporting realtime clock changes (see
    /// [`TimerSpec::cancel_on_set`](TimerSpec#structfield.cancel_on_set)).
    #[must_use]
    pub fn cancel_on_set(mut self) -> TimerSpec {
        self.cancel_on_set = true;
        self
    }

    /// The raw flags and itimerspec for a timer on `clock`, or why not.
    fn to_raw(self, clock: Clock) -> Result<(SetTimeFlags, ITimerSpec)> {
        const CALL: &str = "timerfd_settime";
        let (mut flags, value) = match self.start {
            Start::After(d) => (SetTimeFlags::empty(), d),
            Start::At(t) => (SetTimeFlags::ABSTIME, t),
        };
        if value.is_zero() {
            return Err(Error::invalid_input(
                CALL,
                "a zero start would disarm the timer: give a start after zero, or call disarm()",
            ));
        }
        if self.interval == Some(Duration::ZERO) {
            return Err(Error::invalid_input(
                CALL,
                "a zero interval is not a period: use None for a one-shot timer",
            ));
        }
        if self.cancel_on_set {
            if !clock.is_realtime() {
                return Err(Error::invalid_input(
                    CALL,
                    format!(
                        "cancel_on_set needs CLOCK_REALTIME or CLOCK_REALTIME_ALARM, not {} \
                         (the kernel would silently ignore it)",
                        clock.name()
                    ),
                ));
            }
            if !flags.contains(SetTimeFlags::ABSTIME) {
                return Err(Error::invalid_input(
                    CALL,
                    "cancel_on_set needs an absolute start (Start::At): \
                     the kernel ignores it on relative timers",
                ));
            }
            flags |= SetTimeFlags::CANCEL_ON_SET;
        }
        Ok((
            flags,
            ITimerSpec {
                value,
                interval: self.interval.unwrap_or_default(),
            },
        ))
    }
}

/// A timer's current setting, from [`TimerFd::get`] or returned by
/// [`TimerFd::set`] as the setting it replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TimerState {
    /// Time left to the next expiry; `None` when disarmed.
    pub next: Option<Duration>,
    /// The period; `None` for a one-shot (or disarmed) timer.
    pub interval: Option<Duration>,
}

impl From<ITimerSpec> for TimerState {
    fn from(spec: ITimerSpec) -> TimerState {
        let nonzero = |d: Duration| (!d.is_zero()).then_some(d);
        TimerState {
            next: nonzero(spec.value),
            interval: nonzero(spec.interval),
        }
    }
}

/// An owned timerfd.
///
/// Close-on-exec always; blocking unless made with
/// [`TimerFdFlags::NONBLOCK`] or switched with
/// [`set_nonblocking`](TimerFd::set_nonblocking).
pub struct TimerFd {
    fd: OwnedFd,
    clock: Clock,
}

impl TimerFd {
    /// A disarmed, blocking timer on `CLOCK_MONOTONIC`.
    ///
    /// # Errors
    /// [`ErrorKind::ResourceLimit`] when out of fds or memory.
    pub fn new() -> Result<TimerFd> {
        TimerFd::with_clock(Clock::Monotonic, TimerFdFlags::empty())
    }

    /// A disarmed timer on `clock`.
    ///
    /// # Errors
    /// As [`timerfd_create`]: the `*_ALARM` clocks need `CAP_WAKE_ALARM`.
    pub fn with_clock(clock: Clock, flags: TimerFdFlags) -> Result<TimerFd> {
        timerfd_create(clock, flags).map(|fd| TimerFd { fd, clock })
    }

    /// Wraps an fd that is a timerfd, learning its clock from
    /// `/proc/self/fdinfo`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] if `fd` is not a timerfd.
    pub fn from_fd(fd: OwnedFd) -> Result<TimerFd> {
        let path = format!("/proc/self/fdinfo/{}", fd.as_raw_fd());
        let info = std::fs::read_to_string(&path).syscall("open")?;
        let clock = info
            .lines()
            .find_map(|line| line.strip_prefix("clockid:"))
            .and_then(|id| id.trim().parse::<i32>().ok())
            .ok_or_else(|| {
                Error::invalid_input(
                    "TimerFd::from_fd",
                    format!(
                        "fd {} is not a timerfd (no clockid in {path})",
                        fd.as_raw_fd()
                    ),
                )
            })?;
        Ok(TimerFd {
            clock: Clock::from_raw(clock)?,
            fd,
        })
    }

    /// The clock this timer counts on.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The current time on this timer's clock: the reference for [`Start::At`].
    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Arms the timer as `spec` says, replacing any setting; returns the
    /// setting it replaced. Pending expirations are discarded.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] (checked before the call) for a zero start,
    /// a zero interval, `cancel_on_set` on a non-realtime clock or a relative
    /// start, or a duration past `time_t`.
    pub fn set(&self, spec: &TimerSpec) -> Result<TimerState> {
        let (flags, raw) = spec.to_raw(self.clock)?;
        timerfd_settime(&self.fd, flags, &raw).map(TimerState::from)
    }

    /// Stops the timer and discards pending expirations; returns the
    /// setting it replaced.
    pub fn disarm(&self) -> Result<TimerState> {
        timerfd_settime(&self.fd, SetTimeFlags::empty(), &ITimerSpec::default())
            .map(TimerState::from)
    }

    /// The current setting: time to the next expiry and the period.
    pub fn get(&self) -> Result<TimerState> {
        timerfd_gettime(&self.fd).map(TimerState::from)
    }

    /// Waits for the timer to expire (if the fd is blocking) and returns the
    /// expirations since the last read.
    ///
    /// # Errors
    /// [`ErrorKind::WouldBlock`] if it has not expired and the fd is non-blocking.
    /// A blocking read of a disarmed timer waits until it is armed and expires.
    pub fn read(&self) -> Result<TimerEvent> {
        timerfd_read(&self.fd)
    }

    /// Reads the expirations if the timer has expired, without blocking.
    pub fn try_read(&self) -> Result<Option<TimerEvent>> {
        self.try_read_event()
    }

    /// A second fd for the same timer (`F_DUPFD_CLOEXEC`).
    pub fn try_clone(&self) -> Result<TimerFd> {
        fd_core::dup_cloexec(&self.fd).map(|fd| TimerFd {
            fd,
            clock: self.clock,
        })
    }

    /// Switches between blocking and non-blocking mode (for every clone).
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        fd_core::set_nonblocking(&self.fd, nonblocking)
    }
}

impl EventSource for TimerFd {
    type Event = TimerEvent;

    fn read_event(&self) -> Result<TimerEvent> {
        self.read()
    }
}

fd_core::impl_owned_fd!(TimerFd, fd);

impl fmt::Debug for TimerFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerFd")
            .field("fd", &self.fd.as_raw_fd())
            .field("clock", &self.clock)
            .finish()
    }
}

#[cfg(feature = "async")]
fd_core::async_source! {
    /// A [`TimerFd`] on async-io's reactor (feature `async`): a `Stream` of
    /// [`TimerEvent`]s (for the type and for `&` the type) and
    /// [`tick`](AsyncTimerFd::tick).
    ///
    /// ```
    /// use std::time::Duration;
    /// use timer_fd::{AsyncTimerFd, TimerEvent, TimerFd, TimerSpec};
    ///
    /// futures_lite::future::block_on(async {
    ///     let timer = AsyncTimerFd::new(TimerFd::new()?)?;
    ///     timer.set(&TimerSpec::oneshot(Duration::from_millis(1)))?;
    ///     assert_eq!(timer.tick().await?, TimerEvent::Expired(1));
    ///     Ok::<(), fd_core::Error>(())
    /// })?;
    /// # Ok::<(), fd_core::Error>(())
    /// ```
    pub struct AsyncTimerFd(TimerFd);
}

#[cfg(feature = "async")]
impl AsyncTimerFd {
    /// Waits for the next expiry (or clock change) and reads it.
    pub async fn tick(&self) -> Result<TimerEvent> {
        self.next_event().await
    }

    /// Arms the timer; as [`TimerFd::set`].
    pub fn set(&self, spec: &TimerSpec) -> Result<TimerState> {
        self.get_ref().set(spec)
    }

    /// Disarms the timer; as [`TimerFd::disarm`].
    pub fn disarm(&self) -> Result<TimerState> {
        self.get_ref().disarm()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

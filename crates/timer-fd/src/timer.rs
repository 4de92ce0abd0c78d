//! [`TimerFd`], an owned timer, and the [`TimerSpec`] it is armed with.

use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use fd_core::{Error, EventSource, Result, SyscallResult};

use crate::raw::{
    Clock, ITimerSpec, SetTimeFlags, TimerEvent, TimerFdFlags, timerfd_create, timerfd_gettime,
    timerfd_read, timerfd_settime,
};

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
/// use butter::timerfd::{Clock, Start, TimerSpec};
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
    pub(crate) fn to_raw(self, clock: Clock) -> Result<(SetTimeFlags, ITimerSpec)> {
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
    /// [`ErrorKind::ResourceLimit`](crate::ErrorKind::ResourceLimit) when out of fds or memory.
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
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) if `fd` is not a timerfd.
    pub fn from_fd(fd: OwnedFd) -> Result<TimerFd> {
        fd_core::expect_anon_inode(&fd, "TimerFd::from_fd", "[timerfd]")?;
        let path = format!("/proc/self/fdinfo/{}", fd.as_raw_fd());
        let info = std::fs::read_to_string(&path).syscall("open")?;
        let clock = info
            .lines()
            .find_map(|line| line.strip_prefix("clockid:"))
            .and_then(|id| id.trim().parse::<i32>().ok())
            .ok_or_else(|| {
                Error::invalid_input_in(
                    "TimerFd::from_fd",
                    "read",
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
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) (checked before the call) for a zero start,
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
    /// [`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock) if it has not expired and the fd is non-blocking.
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

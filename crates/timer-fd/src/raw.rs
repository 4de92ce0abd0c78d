//! The raw layer: `timerfd_create`, `timerfd_settime`, `timerfd_gettime`
//! and the 8-byte read of the expiration count, with the kernel's types.

use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::str::FromStr;
use std::time::Duration;

use fd_core::{Error, Result, SyscallResult};
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags};

/// The clock a timer counts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
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
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for an id timerfd does not accept
    /// (`CLOCK_PROCESS_CPUTIME_ID`, `CLOCK_TAI`, unknown numbers).
    pub fn from_raw(id: i32) -> Result<Clock> {
        Clock::ALL
            .into_iter()
            .find(|c| c.raw() == id)
            .ok_or_else(|| {
                Error::invalid_input_in(
                    "Clock::from_raw",
                    "timerfd_create",
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

    /// The clock's current time (`clock_gettime`): what [`Start::At`](crate::Start::At)
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
                Error::invalid_input_in(
                    "Clock::from_str",
                    "timerfd_create",
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
/// - [`ErrorKind::PermissionDenied`](crate::ErrorKind::PermissionDenied) (`EPERM`): an `*_ALARM` clock without
///   `CAP_WAKE_ALARM`; the message names the capability.
/// - [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) (`EINVAL`): flag bits the kernel does not know.
/// - [`ErrorKind::ResourceLimit`](crate::ErrorKind::ResourceLimit) (`EMFILE`, `ENFILE`, `ENOMEM`).
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
/// [`TimerFd::set`](crate::TimerFd::set) refuses both.
///
/// # Errors
/// - [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput): `fd` is not a timerfd (`EINVAL`), unknown
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
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) (`EINVAL`) if `fd` is not a timerfd.
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
/// - [`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock): not expired and the fd is non-blocking.
/// - [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput): `fd` not open for reading (`EBADF`), or a
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

//! What this kernel offers `timer-fd`, for `butter doctor`.

use fd_core::probe::{Probe, rustix_err};

/// Probes a timer on every clock (the `*_ALARM` clocks need
/// `CAP_WAKE_ALARM`).
pub fn probe() -> Vec<Probe> {
    use rustix::time::{TimerfdClockId as C, TimerfdFlags, timerfd_create};
    let clocks = [
        ("CLOCK_MONOTONIC", C::Monotonic, "2.6.25"),
        ("CLOCK_REALTIME", C::Realtime, "2.6.25"),
        ("CLOCK_BOOTTIME", C::Boottime, "3.15"),
        ("CLOCK_REALTIME_ALARM", C::RealtimeAlarm, "3.11"),
        ("CLOCK_BOOTTIME_ALARM", C::BoottimeAlarm, "3.11"),
    ];
    clocks
        .into_iter()
        .map(|(name, clock, since)| {
            Probe::new("timer-fd", name, since).tried(
                timerfd_create(clock, TimerfdFlags::CLOEXEC).map_err(rustix_err("timerfd_create")),
                "CAP_WAKE_ALARM",
            )
        })
        .collect()
}

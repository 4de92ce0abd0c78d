//! timer-fd against the real kernel.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use fd_core::{ErrorKind, EventSource};
use timer_fd::{
    Clock, ITimerSpec, SetTimeFlags, Start, TimerEvent, TimerFd, TimerFdFlags, TimerSpec,
    TimerState, timerfd_create, timerfd_gettime, timerfd_read, timerfd_settime,
};

const LIMIT: Duration = Duration::from_secs(10);
const MS: Duration = Duration::from_millis(1);

fn nonblocking() -> TimerFd {
    TimerFd::with_clock(Clock::Monotonic, TimerFdFlags::NONBLOCK).unwrap()
}

/// Blocks on a second timer until `d` has passed: waiting for time is what
/// these tests are about, and a timer is how this library waits for time.
fn let_time_pass(d: Duration) {
    let t = TimerFd::new().unwrap();
    t.set(&TimerSpec::oneshot(d)).unwrap();
    assert_eq!(t.read().unwrap(), TimerEvent::Expired(1));
}

fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe().unwrap()
}

#[test]
fn oneshot_fires_once_and_disarms() {
    let timer = TimerFd::new().unwrap();
    let start = Instant::now();
    timer.set(&TimerSpec::oneshot(2 * MS)).unwrap();
    assert_eq!(timer.read().unwrap(), TimerEvent::Expired(1));
    assert!(start.elapsed() >= 2 * MS);
    assert_eq!(
        timer.get().unwrap(),
        TimerState {
            next: None,
            interval: None
        }
    );
    assert_eq!(timer.try_read().unwrap(), None);
}

#[test]
fn nonblocking_read_before_expiry_would_block() {
    let timer = nonblocking();
    timer
        .set(&TimerSpec::oneshot(Duration::from_secs(3600)))
        .unwrap();
    let err = timer.read().unwrap_err();
    assert_eq!(
        (err.kind(), err.errno(), err.call()),
        (ErrorKind::WouldBlock, libc::EAGAIN, "timerfd_read")
    );
    assert_eq!(timer.try_read().unwrap(), None);
    assert!(!timer.wait_readable(Some(MS)).unwrap());
}

#[test]
fn periodic_counts_every_missed_period() {
    // Periods at S, S+P, S+2P, …: by time T, floor((T-S)/P)+1 of them.
    let clock = Clock::Monotonic;
    let period = 2 * MS;
    let timer = TimerFd::with_clock(clock, TimerFdFlags::empty()).unwrap();
    let start = clock.now() + 5 * MS;
    timer.set(&TimerSpec::periodic_at(start, period)).unwrap();
    let first = timer.read().unwrap().count();
    assert!(first >= 1);
    let_time_pass(25 * MS);
    let before = clock.now();
    let second = timer.read().unwrap().count();
    let after = clock.now();
    let due = |t: Duration| u64::try_from((t - start).as_nanos() / period.as_nanos()).unwrap() + 1;
    let total = first + second;
    assert!(
        (due(before)..=due(after)).contains(&total),
        "{total} expirations, expected between {} and {}",
        due(before),
        due(after)
    );
    assert!(
        second >= 10,
        "only {second} periods counted over 25 ms of 2 ms periods"
    );
}

#[test]
fn absolute_deadline_on_each_clock() {
    for clock in [Clock::Monotonic, Clock::Realtime, Clock::Boottime] {
        let timer = TimerFd::with_clock(clock, TimerFdFlags::empty()).unwrap();
        assert_eq!(timer.clock(), clock);
        let deadline = timer.now() + 3 * MS;
        timer.set(&TimerSpec::at(deadline)).unwrap();
        assert_eq!(timer.read().unwrap(), TimerEvent::Expired(1), "{clock}");
        assert!(clock.now() >= deadline, "{clock} fired early");
    }
}

#[test]
fn deadline_in_the_past_fires_at_once() {
    let timer = nonblocking();
    timer.set(&TimerSpec::at(Duration::from_nanos(1))).unwrap();
    assert_eq!(
        timer.read_event_timeout(LIMIT).unwrap(),
        Some(TimerEvent::Expired(1))
    );
}

#[test]
fn alarm_clocks_fire_when_permitted() {
    if !fd_core::probe::has_capability(fd_core::probe::CAP_WAKE_ALARM).unwrap() {
        eprintln!(
            "skipped alarm_clocks_fire_when_permitted: no CAP_WAKE_ALARM (the refusal is tested in tests/privileged)"
        );
        return;
    }
    for clock in [Clock::RealtimeAlarm, Clock::BoottimeAlarm] {
        let timer = TimerFd::with_clock(clock, TimerFdFlags::empty()).unwrap();
        timer.set(&TimerSpec::oneshot(MS)).unwrap();
        assert_eq!(
            timer.read_event_timeout(LIMIT).unwrap(),
            Some(TimerEvent::Expired(1)),
            "{clock}"
        );
    }
}

#[test]
fn set_returns_the_previous_setting_and_get_reads_it() {
    let timer = nonblocking();
    let old = timer
        .set(&TimerSpec::periodic(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(old, TimerState::default());
    let now = timer.get().unwrap();
    assert_eq!(now.interval, Some(Duration::from_secs(10)));
    let next = now.next.unwrap();
    assert!(
        next > Duration::from_secs(9) && next <= Duration::from_secs(10),
        "{next:?}"
    );
    let old = timer
        .set(&TimerSpec::oneshot(Duration::from_secs(100)))
        .unwrap();
    assert_eq!(old.interval, Some(Duration::from_secs(10)));
    let old = timer.disarm().unwrap();
    assert_eq!(old.interval, None);
    assert!(old.next.unwrap() > Duration::from_secs(99));
    assert_eq!(timer.get().unwrap(), TimerState::default());
}

#[test]
fn disarm_discards_pending_expirations() {
    let timer = nonblocking();
    timer.set(&TimerSpec::oneshot(MS)).unwrap();
    assert!(timer.wait_readable(Some(LIMIT)).unwrap());
    timer.disarm().unwrap();
    assert_eq!(timer.try_read().unwrap(), None);
}

#[test]
fn blocking_read_of_a_disarmed_timer_waits_until_armed() {
    let timer = TimerFd::new().unwrap();
    let (tid_tx, tid_rx) = mpsc::channel();
    let got = thread::scope(|s| {
        let reader = s.spawn(|| {
            tid_tx
                .send(rustix::thread::gettid().as_raw_nonzero().get())
                .unwrap();
            timer.read()
        });
        let tid = tid_rx.recv_timeout(LIMIT).unwrap();
        butter_tests::wait_until_blocked_in(tid, libc::SYS_read, LIMIT);
        timer.set(&TimerSpec::oneshot(MS)).unwrap();
        reader.join().unwrap()
    });
    assert_eq!(got.unwrap(), TimerEvent::Expired(1));
}

#[test]
fn zero_start_is_refused_not_read_as_disarm() {
    let timer = nonblocking();
    for spec in [
        TimerSpec::oneshot(Duration::ZERO),
        TimerSpec::at(Duration::ZERO),
    ] {
        let err = timer.set(&spec).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(!err.is_from_kernel());
        assert!(err.to_string().contains("zero start would disarm"), "{err}");
    }
}

#[test]
fn zero_interval_is_refused() {
    let err = nonblocking()
        .set(&TimerSpec::periodic(Duration::ZERO))
        .unwrap_err();
    // The zero start is found first; a zero interval alone:
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = nonblocking()
        .set(&TimerSpec::oneshot(MS).with_interval(Duration::ZERO))
        .unwrap_err();
    assert!(err.to_string().contains("zero interval"), "{err}");
}

#[test]
fn cancel_on_set_needs_realtime_and_absolute() {
    let mono = nonblocking();
    let err = mono
        .set(&TimerSpec::at(mono.now() + MS).cancel_on_set())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("needs CLOCK_REALTIME"), "{err}");
    // The kernel alone would have accepted it and ignored the flag:
    let raw = timerfd_settime(
        &mono,
        SetTimeFlags::CANCEL_ON_SET,
        &ITimerSpec {
            value: Duration::from_secs(5),
            interval: Duration::ZERO,
        },
    );
    assert!(raw.is_ok());

    let real = TimerFd::with_clock(Clock::Realtime, TimerFdFlags::NONBLOCK).unwrap();
    let err = real
        .set(&TimerSpec::oneshot(MS).cancel_on_set())
        .unwrap_err();
    assert!(err.to_string().contains("needs an absolute start"), "{err}");
    real.set(&TimerSpec::at(real.now() + Duration::from_secs(60)).cancel_on_set())
        .unwrap();
}

#[test]
fn durations_past_time_t_are_refused() {
    let err = nonblocking()
        .set(&TimerSpec::oneshot(Duration::MAX))
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.call()),
        (ErrorKind::InvalidInput, "timerfd_settime")
    );
    assert!(err.to_string().contains("too long"), "{err}");
}

#[test]
fn raw_calls_on_a_non_timer_fd() {
    let (r, w) = pipe();
    let err = timerfd_gettime(&r).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::InvalidInput, libc::EINVAL)
    );
    let err = timerfd_settime(&r, SetTimeFlags::empty(), &ITimerSpec::default()).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::InvalidInput, libc::EINVAL)
    );
    let err = timerfd_read(&w).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::InvalidInput, libc::EBADF)
    );
    rustix::io::write(&w, b"abc").unwrap();
    let err = timerfd_read(&r).unwrap_err();
    assert!(err.to_string().contains("not a timerfd"), "{err}");
}

#[test]
fn unknown_flag_bits_are_refused_by_the_kernel() {
    let err = timerfd_create(Clock::Monotonic, TimerFdFlags::from_bits_retain(0x1)).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno(), err.call()),
        (ErrorKind::InvalidInput, libc::EINVAL, "timerfd_create")
    );
    let timer = nonblocking();
    let err = timerfd_settime(
        &timer,
        SetTimeFlags::from_bits_retain(0x100),
        &ITimerSpec {
            value: MS,
            interval: Duration::ZERO,
        },
    )
    .unwrap_err();
    assert_eq!(err.errno(), libc::EINVAL);
}

#[test]
fn from_fd_learns_the_clock_and_refuses_other_fds() {
    let timer = TimerFd::with_clock(Clock::Boottime, TimerFdFlags::empty()).unwrap();
    let raw = timer.as_raw_fd();
    let fd: OwnedFd = timer.into();
    let back = TimerFd::from_fd(fd).unwrap();
    assert_eq!((back.clock(), back.as_raw_fd()), (Clock::Boottime, raw));
    assert!(format!("{back:?}").contains("Boottime"));
    let (r, _w) = pipe();
    let err = TimerFd::from_fd(r).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("not anon_inode:[timerfd]"),
        "{err}"
    );
}

#[test]
fn fds_are_cloexec_and_clones_share_the_timer() {
    let timer = nonblocking();
    assert!(fd_core::is_cloexec(&timer).unwrap());
    let clone = timer.try_clone().unwrap();
    assert!(fd_core::is_cloexec(&clone).unwrap());
    assert_eq!(clone.clock(), timer.clock());
    timer.set(&TimerSpec::oneshot(MS)).unwrap();
    assert_eq!(
        clone.read_event_timeout(LIMIT).unwrap(),
        Some(TimerEvent::Expired(1))
    );
    assert_eq!(timer.try_read().unwrap(), None);
    timer.set_nonblocking(false).unwrap();
    assert!(!fd_core::is_nonblocking(&clone).unwrap());
}

#[test]
fn start_variants_are_public_data() {
    let spec = TimerSpec {
        start: Start::After(MS),
        interval: None,
        cancel_on_set: false,
    };
    assert_eq!(spec, TimerSpec::oneshot(MS));
}

/// `TFD_TIMER_CANCEL_ON_SET` for real: the realtime clock is stepped forward
/// by 1 ns and back by 1 ns with `clock_adjtime(ADJ_SETOFFSET)`, which leaves
/// the machine's time exactly as it was (offsets add exactly) yet is a clock
/// set the kernel reports. A zero offset is not enough: the kernel compares
/// the realtime offset before and after. Needs CAP_SYS_TIME in the initial
/// user namespace, which no namespace can grant, so it skips without it.
#[test]
fn clock_change_is_reported_as_its_own_event() {
    if !fd_core::probe::has_capability(25).unwrap() {
        eprintln!(
            "skipped clock_change_is_reported_as_its_own_event: no CAP_SYS_TIME to step the clock by 1 ns"
        );
        return;
    }
    let timer = TimerFd::with_clock(Clock::Realtime, TimerFdFlags::NONBLOCK).unwrap();
    let deadline = timer.now() + Duration::from_secs(3600);
    timer.set(&TimerSpec::at(deadline).cancel_on_set()).unwrap();
    assert_eq!(timer.try_read().unwrap(), None);
    step_realtime_clock(0, 1);
    step_realtime_clock(-1, 999_999_999);
    assert_eq!(timer.try_read().unwrap(), Some(TimerEvent::ClockChanged));
    // Reported once; the timer stays armed for its deadline.
    assert_eq!(timer.try_read().unwrap(), None);
    assert!(timer.get().unwrap().next.is_some());

    // Without cancel_on_set, the same clock step goes unreported.
    let plain = TimerFd::with_clock(Clock::Realtime, TimerFdFlags::NONBLOCK).unwrap();
    plain.set(&TimerSpec::at(deadline)).unwrap();
    step_realtime_clock(0, 1);
    step_realtime_clock(-1, 999_999_999);
    assert_eq!(plain.try_read().unwrap(), None);
}

/// Adds `sec` s + `nsec` ns to CLOCK_REALTIME (`ADJ_SETOFFSET | ADJ_NANO`).
#[allow(unsafe_code)]
fn step_realtime_clock(sec: i64, nsec: i64) {
    // SAFETY: `timex` is plain data; all-zero is a valid value.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    tx.modes = libc::ADJ_SETOFFSET | libc::ADJ_NANO;
    tx.time.tv_sec = sec;
    tx.time.tv_usec = nsec; // nanoseconds, with ADJ_NANO
    // SAFETY: `tx` is a valid, exclusively borrowed timex for the call.
    let ret = unsafe { libc::clock_adjtime(libc::CLOCK_REALTIME, &mut tx) };
    assert!(
        ret >= 0,
        "clock_adjtime: {}",
        std::io::Error::last_os_error()
    );
}

#[cfg(feature = "async")]
mod asynchronous {
    use super::*;
    use futures_lite::{StreamExt, future};
    use timer_fd::AsyncTimerFd;

    #[test]
    fn tick_and_stream_on_block_on() {
        future::block_on(async {
            let timer = AsyncTimerFd::new(TimerFd::new().unwrap()).unwrap();
            timer.set(&TimerSpec::oneshot(MS)).unwrap();
            assert_eq!(timer.tick().await.unwrap(), TimerEvent::Expired(1));
            timer.set(&TimerSpec::periodic(MS)).unwrap();
            let mut total = 0;
            let mut stream = &timer;
            while total < 5 {
                total += stream.next().await.unwrap().unwrap().count();
            }
            timer.disarm().unwrap();
            assert!(total >= 5);
        });
    }

    #[test]
    fn periodic_ticks_on_a_thread_pool_executor() {
        let timer = AsyncTimerFd::new(TimerFd::new().unwrap()).unwrap();
        // Armed periodic when the work is done, every executor thread's
        // `tick` completes on some period and the thread leaves `run`.
        let stop = AsyncTimerFd::new(TimerFd::new().unwrap()).unwrap();
        let ex = async_executor::Executor::new();
        let total = thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| future::block_on(ex.run(stop.tick())));
            }
            let total = future::block_on(ex.spawn(async {
                timer.set(&TimerSpec::periodic(MS)).unwrap();
                let mut total = 0;
                let mut stream = &timer;
                while total < 10 {
                    total += stream.next().await.unwrap().unwrap().count();
                }
                total
            }));
            stop.set(&TimerSpec::periodic(MS)).unwrap();
            total
        });
        assert!(total >= 10);
    }

    #[test]
    fn into_inner_returns_a_nonblocking_timer() {
        let timer = AsyncTimerFd::new(TimerFd::new().unwrap()).unwrap();
        timer
            .set(&TimerSpec::oneshot(Duration::from_secs(60)))
            .unwrap();
        let inner = timer.into_inner().unwrap();
        assert_eq!(inner.read().unwrap_err().kind(), ErrorKind::WouldBlock);
        assert!(inner.get().unwrap().next.is_some());
    }
}

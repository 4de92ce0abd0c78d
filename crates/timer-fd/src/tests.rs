//! Unit tests of the crate's pure parts (clock names, specs).

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

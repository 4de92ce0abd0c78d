//! timer-fd rows: lateness of a 1 ms periodic timer, and expirations
//! counted, against C.

use std::time::Duration;

use butter::timerfd::{Clock, TimerFd, TimerSpec};

use crate::c;
use crate::harness::{Plan, Row, mean, median, percentile};

// ---- timerfd lateness -----------------------------------------------------

/// A periodic monotonic timer from an absolute start, read until `total`
/// has passed: the same loop as the C baseline.
fn timer_run_ours(period: Duration, total: Duration) -> c::TimerRun {
    let clock = Clock::Monotonic;
    let timer = TimerFd::with_clock(clock, Default::default()).expect("timerfd");
    let start = clock.now() + period;
    timer
        .set(&TimerSpec::periodic_at(start, period))
        .expect("settime");
    let mut run = c::TimerRun::default();
    let period_ns = period.as_nanos();
    let (mut before, mut after);
    loop {
        before = clock.now();
        run.expirations += timer.read().expect("read").count();
        after = clock.now();
        let newest = start + period * u32::try_from(run.expirations - 1).expect("count fits");
        run.lateness_ns
            .push(i64::try_from((after - newest).as_nanos()).unwrap_or(i64::MAX));
        if after - start >= total {
            break;
        }
    }
    let due = |t: Duration| match t.checked_sub(start) {
        None => 0,
        Some(d) => u64::try_from(d.as_nanos() / period_ns).expect("fits") + 1,
    };
    run.due = (due(before), due(after));
    run
}

/// What one periodic-timer run measured.
#[derive(Debug, Clone, Copy)]
struct TimerStats {
    mean_us: f64,
    p99_us: f64,
    expirations: u64,
    /// Whether the count read differs from the expirations due.
    lost: bool,
}

fn timer_stats(run: &c::TimerRun) -> TimerStats {
    let mut us: Vec<f64> = run
        .lateness_ns
        .iter()
        .map(|&ns| ns as f64 / 1000.0)
        .collect();
    TimerStats {
        mean_us: mean(&us),
        p99_us: percentile(&mut us, 99),
        expirations: run.expirations,
        lost: !(run.due.0..=run.due.1).contains(&run.expirations),
    }
}

pub(crate) fn rows(plan: &Plan) -> Vec<Row> {
    let mut rows = Vec::new();
    let (period, total) = (plan.timer_period, plan.timer_total);
    let period_ns = u64::try_from(period.as_nanos()).expect("period fits");
    let total_ns = u64::try_from(total.as_nanos()).expect("total fits");
    // Interleaved runs, like every row: the median run's figures count.
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..plan.timer_rounds {
        ours.push(timer_stats(&timer_run_ours(period, total)));
        theirs.push(timer_stats(
            &c::timerfd_run(period_ns, total_ns).expect("C timerfd run"),
        ));
    }
    let med = |runs: &[TimerStats], f: fn(&TimerStats) -> f64| {
        median(&mut runs.iter().map(f).collect::<Vec<_>>())
    };
    let label = format!(
        "{} ms period for {:.2} s, median of {} runs",
        period.as_millis(),
        total.as_secs_f64(),
        plan.timer_rounds
    );
    for (name, f) in [
        (
            "timerfd mean lateness",
            (|t: &TimerStats| t.mean_us) as fn(&TimerStats) -> f64,
        ),
        ("timerfd p99 lateness", |t: &TimerStats| t.p99_us),
    ] {
        rows.push(Row {
            name,
            unit: "µs",
            ours: med(&ours, f),
            c: Some(med(&theirs, f)),
            peer: None,
            higher_is_better: false,
            note: label.clone(),
        });
    }
    let lost = |runs: &[TimerStats]| {
        if runs.iter().any(|r| r.lost) {
            "YES"
        } else {
            "none"
        }
    };
    rows.push(Row {
        name: "timerfd expirations counted",
        unit: "expirations",
        ours: med(&ours, |t| t.expirations as f64),
        c: Some(med(&theirs, |t| t.expirations as f64)),
        peer: None,
        higher_is_better: true,
        note: format!("per run; lost: ours {}, C {}", lost(&ours), lost(&theirs)),
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_runs_count_every_expiration() {
        let (p, t) = (Duration::from_millis(1), Duration::from_millis(20));
        let ours = timer_run_ours(p, t);
        assert!(
            !timer_stats(&ours).lost,
            "ours lost expirations: {:?}",
            (ours.expirations, ours.due)
        );
        let theirs = c::timerfd_run(1_000_000, 20_000_000).unwrap();
        assert!(
            !timer_stats(&theirs).lost,
            "C lost expirations: {:?}",
            (theirs.expirations, theirs.due)
        );
        assert!(ours.lateness_ns.iter().all(|&l| l >= 0));
    }
}

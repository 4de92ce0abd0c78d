//! The harness: what a run does (`Plan`), one table row (`Row`), the
//! interleaved rounds and their statistics, and the table and JSON output.

use std::thread;
use std::time::{Duration, Instant};

/// How much work each row does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) rounds: usize,
    pub(crate) pairs: u64,
    pub(crate) round_trips: u64,
    pub(crate) async_round_trips: u64,
    pub(crate) timer_period: Duration,
    pub(crate) timer_total: Duration,
    pub(crate) timer_rounds: usize,
    pub(crate) signals: u64,
    pub(crate) queued_signals: u64,
    pub(crate) notify_rounds: usize,
    pub(crate) drain_reps: u32,
    pub(crate) live_pairs: u64,
    pub(crate) copy_size: u64,
    pub(crate) copy_rounds: usize,
    pub(crate) spawns: u64,
    pub(crate) getpid_calls: u64,
    pub(crate) aio_ios: u64,
}

pub(crate) const FULL: Plan = Plan {
    rounds: 9,
    pairs: 200_000,
    round_trips: 20_000,
    async_round_trips: 10_000,
    timer_period: Duration::from_millis(1),
    timer_total: Duration::from_secs(2),
    timer_rounds: 3,
    signals: 50_000,
    queued_signals: 20_000,
    notify_rounds: 5,
    drain_reps: 4,
    live_pairs: 20_000,
    copy_size: 128 << 20,
    copy_rounds: 5,
    spawns: 200,
    getpid_calls: 2_000_000,
    aio_ios: 100_000,
};

pub(crate) const QUICK: Plan = Plan {
    rounds: 3,
    pairs: 2_000,
    round_trips: 200,
    async_round_trips: 200,
    timer_period: Duration::from_millis(1),
    timer_total: Duration::from_millis(50),
    timer_rounds: 1,
    signals: 200,
    queued_signals: 600,
    notify_rounds: 1,
    drain_reps: 1,
    live_pairs: 500,
    copy_size: 4 << 20,
    copy_rounds: 1,
    spawns: 5,
    getpid_calls: 10_000,
    aio_ios: 2_000,
};

/// One line of the table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) name: &'static str,
    pub(crate) unit: &'static str,
    pub(crate) ours: f64,
    pub(crate) c: Option<f64>,
    pub(crate) peer: Option<(&'static str, f64)>,
    /// For rates: a higher figure is better, so the time ratio is inverted.
    pub(crate) higher_is_better: bool,
    pub(crate) note: String,
}

impl Row {
    /// Ours ÷ baseline in time.
    pub(crate) fn ratio(&self, baseline: f64) -> f64 {
        if self.higher_is_better {
            baseline / self.ours
        } else {
            self.ours / baseline
        }
    }
}

pub(crate) fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    match samples.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => samples[n / 2],
        n => (samples[n / 2 - 1] + samples[n / 2]) / 2.0,
    }
}

/// The `p`-th percentile (0–100) by nearest rank.
pub(crate) fn percentile(samples: &mut [f64], p: usize) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    let rank = (p * samples.len()).div_ceil(100).clamp(1, samples.len());
    samples[rank - 1]
}

pub(crate) fn mean(samples: &[f64]) -> f64 {
    samples.iter().sum::<f64>() / samples.len() as f64
}

/// Runs every variant once per round, interleaved, after one warm-up round;
/// returns each variant's median seconds per round. Each round starts at
/// the next variant, so none always runs first or right after the same
/// one (a rate-limited cloud disk refills its budget during a tool's
/// start-up, and the variant after that gap would gain from it).
pub(crate) fn interleaved(
    rounds: usize,
    variants: &mut [&mut dyn FnMut() -> Duration],
) -> Vec<f64> {
    for v in variants.iter_mut() {
        v();
    }
    let n = variants.len();
    let mut samples = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        for k in 0..n {
            let i = (round + k) % n;
            samples[i].push(variants[i]().as_secs_f64());
        }
    }
    samples.iter_mut().map(|s| median(s)).collect()
}

pub(crate) fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

pub(crate) fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v >= 100_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub(crate) fn print_table(rows: &[Row], plan: &Plan) {
    println!(
        "butter-bench: median of {} interleaved rounds after a warm-up; ratio = ours ÷ baseline in time \
         (1.00 equal, < 1 faster)\n",
        plan.rounds
    );
    println!(
        "{:<48} {:>14} {:>10} {:>10} {:>7}   {:>10} {:>7}  peer / note",
        "row", "unit", "ours", "C", "×C", "peer", "×peer"
    );
    for r in rows {
        let (c, xc) = match r.c {
            Some(c) => (fmt_value(c), format!("{:.2}", r.ratio(c))),
            None => ("-".into(), "-".into()),
        };
        let (p, xp, pname) = match r.peer {
            Some((name, p)) => (fmt_value(p), format!("{:.2}", r.ratio(p)), name),
            None => ("-".into(), "-".into(), ""),
        };
        let tail = [pname, r.note.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("; ");
        println!(
            "{:<48} {:>14} {:>10} {:>10} {:>7}   {:>10} {:>7}  {}",
            r.name,
            r.unit,
            fmt_value(r.ours),
            c,
            xc,
            p,
            xp,
            tail
        );
    }
}

pub(crate) fn to_json(rows: &[Row], plan: &Plan) -> String {
    use serde_json::{Value, json};
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut o = json!({
                "row": r.name,
                "unit": r.unit,
                "ours": r.ours,
                "higher_is_better": r.higher_is_better,
                "note": r.note,
            });
            if let Some(c) = r.c {
                o["c"] = json!(c);
                o["ratio_c"] = json!(r.ratio(c));
            }
            if let Some((name, p)) = r.peer {
                o["peer"] = json!(name);
                o["peer_value"] = json!(p);
                o["ratio_peer"] = json!(r.ratio(p));
            }
            o
        })
        .collect();
    json!({
        "rounds": plan.rounds,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim(),
        "cpus": thread::available_parallelism().map_or(0, |n| n.get()),
        "rows": items,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
        let mut hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut hundred, 99), 99.0);
        assert_eq!(percentile(&mut hundred, 100), 100.0);
        assert_eq!(percentile(&mut [5.0], 1), 5.0);
        assert_eq!(mean(&[1.0, 2.0, 6.0]), 3.0);
    }

    #[test]
    fn ratios_are_time_ratios() {
        let time = Row {
            name: "t",
            unit: "ns",
            ours: 110.0,
            c: None,
            peer: None,
            higher_is_better: false,
            note: String::new(),
        };
        assert!((time.ratio(100.0) - 1.1).abs() < 1e-9);
        let rate = Row {
            higher_is_better: true,
            ours: 50.0,
            ..time
        };
        assert!((rate.ratio(100.0) - 2.0).abs() < 1e-9);
    }
}

//! butter-bench: the butter crates against plain C and the best peer crate,
//! side by side in one run.
//!
//! Every row runs its variants interleaved (ours, C, peer, ours, C, peer, …)
//! for several rounds after a warm-up round, and reports the median of the
//! rounds, so that noise on a shared 2-core machine hits all variants alike.
//! Ratios are ours ÷ baseline in time: 1.00 is equal, below 1 is faster.
//! Nothing here asserts a speed: a slow machine gives slow figures, not
//! failures. `cargo xtask bench` runs it and keeps the JSON.
//!
//! Usage: `butter-bench [--quick] [--only eventfd|timerfd|signals|inotify|copy|fanotify] [--json PATH]`

#![deny(unsafe_code)]

mod alloc_count;
mod c;
mod copies;
mod fanotify_rows;
mod notify;
mod signals;

#[global_allocator]
static ALLOCATOR: alloc_count::Counting = alloc_count::Counting;

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use butter::eventfd::{AsyncEventFd, EventFd};
use butter::timerfd::{Clock, TimerFd, TimerSpec};
use futures_lite::future::block_on;
use nix::sys::eventfd::EventFd as NixEventFd;

/// How much work each row does.
#[derive(Debug, Clone, Copy)]
struct Plan {
    rounds: usize,
    pairs: u64,
    round_trips: u64,
    async_round_trips: u64,
    timer_period: Duration,
    timer_total: Duration,
    timer_rounds: usize,
    signals: u64,
    queued_signals: u64,
    notify_rounds: usize,
    drain_reps: u32,
    live_pairs: u64,
    copy_size: u64,
    copy_rounds: usize,
}

const FULL: Plan = Plan {
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
};

const QUICK: Plan = Plan {
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
};

/// One line of the table.
#[derive(Debug, Clone)]
struct Row {
    name: &'static str,
    unit: &'static str,
    ours: f64,
    c: Option<f64>,
    peer: Option<(&'static str, f64)>,
    /// For rates: a higher figure is better, so the time ratio is inverted.
    higher_is_better: bool,
    note: String,
}

impl Row {
    /// Ours ÷ baseline in time.
    fn ratio(&self, baseline: f64) -> f64 {
        if self.higher_is_better {
            baseline / self.ours
        } else {
            self.ours / baseline
        }
    }
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    match samples.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => samples[n / 2],
        n => (samples[n / 2 - 1] + samples[n / 2]) / 2.0,
    }
}

/// The `p`-th percentile (0–100) by nearest rank.
fn percentile(samples: &mut [f64], p: usize) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    let rank = (p * samples.len()).div_ceil(100).clamp(1, samples.len());
    samples[rank - 1]
}

fn mean(samples: &[f64]) -> f64 {
    samples.iter().sum::<f64>() / samples.len() as f64
}

/// Runs every variant once per round, interleaved, after one warm-up round;
/// returns each variant's median seconds per round.
fn interleaved(rounds: usize, variants: &mut [&mut dyn FnMut() -> Duration]) -> Vec<f64> {
    for v in variants.iter_mut() {
        v();
    }
    let mut samples = vec![Vec::with_capacity(rounds); variants.len()];
    for _ in 0..rounds {
        for (v, s) in variants.iter_mut().zip(&mut samples) {
            s.push(v().as_secs_f64());
        }
    }
    samples.iter_mut().map(|s| median(s)).collect()
}

pub(crate) fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

// ---- eventfd write+read pairs and blocking ping-pong ---------------------

/// How one implementation reads and writes an eventfd; the loops below are
/// shared so that ours and the peer run the very same code around the calls.
trait Counter: Sync {
    fn new_counter() -> Self;
    fn add(&self, v: u64);
    fn take(&self) -> u64;
}

impl Counter for EventFd {
    fn new_counter() -> Self {
        EventFd::new().expect("eventfd")
    }
    fn add(&self, v: u64) {
        self.write(v).expect("write");
    }
    fn take(&self) -> u64 {
        self.read().expect("read")
    }
}

impl Counter for nix::sys::eventfd::EventFd {
    fn new_counter() -> Self {
        use nix::sys::eventfd::EfdFlags;
        Self::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC).expect("eventfd")
    }
    fn add(&self, v: u64) {
        self.write(v).expect("write");
    }
    fn take(&self) -> u64 {
        self.read().expect("read")
    }
}

/// `n` write(1)+read pairs on one eventfd.
fn pairs<C: Counter>(n: u64) -> Duration {
    let efd = C::new_counter();
    let mut sum = 0;
    let took = timed(|| {
        for _ in 0..n {
            efd.add(1);
            sum += efd.take();
        }
    });
    assert_eq!(sum, n);
    took
}

fn pairs_c(n: u64) -> Duration {
    let efd = EventFd::new().expect("eventfd");
    let mut sum = None;
    let took = timed(|| sum = c::eventfd_pairs(efd.as_fd(), n));
    assert_eq!(sum, Some(n));
    took
}

/// `n` blocking round trips between this thread and a second one.
fn pingpong<C: Counter>(n: u64) -> Duration {
    let (ping, pong) = (C::new_counter(), C::new_counter());
    timed(|| {
        thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..n {
                    pong.add(ping.take());
                }
            });
            for i in 1..=n {
                ping.add(i);
                assert_eq!(pong.take(), i);
            }
        });
    })
}

fn pingpong_c(n: u64) -> Duration {
    let mut ok = false;
    let took = timed(|| ok = c::eventfd_pingpong(n));
    assert!(ok, "C ping-pong failed");
    took
}

// ---- async ping-pong: two tasks on two threads ----------------------------

fn async_pingpong_ours(n: u64) -> Duration {
    let new = || AsyncEventFd::new(EventFd::new().expect("eventfd")).expect("register");
    let (ping, pong) = (new(), new());
    timed(|| {
        thread::scope(|s| {
            s.spawn(|| {
                block_on(async {
                    for _ in 0..n {
                        let v = ping.read().await.expect("read");
                        pong.write(v).await.expect("write");
                    }
                })
            });
            block_on(async {
                for i in 1..=n {
                    ping.write(i).await.expect("write");
                    assert_eq!(pong.read().await.expect("read"), i);
                }
            });
        });
    })
}

/// The hand-written peer: `async_io::Async<OwnedFd>` and raw 8-byte reads
/// and writes, as a user without butter would write it.
fn async_pingpong_raw(n: u64) -> Duration {
    use async_io::Async;
    let new = || {
        let fd: OwnedFd =
            rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC).expect("eventfd");
        Async::new(fd).expect("register")
    };
    async fn read(fd: &Async<OwnedFd>) -> u64 {
        let mut buf = [0u8; 8];
        fd.read_with(|fd| rustix::io::read(fd, &mut buf).map_err(Into::into))
            .await
            .expect("read");
        u64::from_ne_bytes(buf)
    }
    async fn write(fd: &Async<OwnedFd>, v: u64) {
        let buf = v.to_ne_bytes();
        fd.write_with(|fd| rustix::io::write(fd, &buf).map_err(Into::into))
            .await
            .expect("write");
    }
    let (ping, pong) = (new(), new());
    timed(|| {
        thread::scope(|s| {
            s.spawn(|| {
                block_on(async {
                    for _ in 0..n {
                        let v = read(&ping).await;
                        write(&pong, v).await;
                    }
                })
            });
            block_on(async {
                for i in 1..=n {
                    write(&ping, i).await;
                    assert_eq!(read(&pong).await, i);
                }
            });
        });
    })
}

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

// ---- the table ------------------------------------------------------------

fn rows(plan: &Plan, only: Option<&str>) -> Vec<Row> {
    let want = |group: &str| only.is_none_or(|o| o == group);
    let mut rows = Vec::new();
    if want("eventfd") {
        rows.extend(eventfd_rows(plan));
    }
    if want("timerfd") {
        rows.extend(timer_rows(plan));
    }
    if want("signals") {
        rows.extend(signal_rows(plan));
    }
    if want("inotify") {
        rows.extend(notify_rows(plan));
    }
    if want("copy") {
        rows.extend(copy_rows(plan));
    }
    if want("fanotify") {
        rows.extend(fanotify_rows(plan));
    }
    rows
}

fn eventfd_rows(plan: &Plan) -> Vec<Row> {
    let mut rows = Vec::new();

    let n = plan.pairs;
    let m = interleaved(
        plan.rounds,
        &mut [&mut || pairs::<EventFd>(n), &mut || pairs_c(n), &mut || {
            pairs::<NixEventFd>(n)
        }],
    );
    let per = |s: f64| s * 1e9 / n as f64;
    rows.push(Row {
        name: "eventfd write+read pair",
        unit: "ns/pair",
        ours: per(m[0]),
        c: Some(per(m[1])),
        peer: Some(("nix EventFd", per(m[2]))),
        higher_is_better: false,
        note: String::new(),
    });

    let n = plan.round_trips;
    let m = interleaved(
        plan.rounds,
        &mut [
            &mut || pingpong::<EventFd>(n),
            &mut || pingpong_c(n),
            &mut || pingpong::<NixEventFd>(n),
        ],
    );
    let rate = |s: f64| n as f64 / s;
    rows.push(Row {
        name: "eventfd ping-pong, blocking, 2 threads",
        unit: "round trips/s",
        ours: rate(m[0]),
        c: Some(rate(m[1])),
        peer: Some(("nix EventFd", rate(m[2]))),
        higher_is_better: true,
        note: String::new(),
    });

    let n = plan.async_round_trips;
    let m = interleaved(
        plan.rounds,
        &mut [&mut || async_pingpong_ours(n), &mut || {
            async_pingpong_raw(n)
        }],
    );
    let rate = |s: f64| n as f64 / s;
    rows.push(Row {
        name: "eventfd ping-pong, async, 2 tasks on 2 threads",
        unit: "round trips/s",
        ours: rate(m[0]),
        c: None,
        peer: Some(("hand-written Async<OwnedFd>", rate(m[1]))),
        higher_is_better: true,
        note: String::new(),
    });

    rows
}

fn timer_rows(plan: &Plan) -> Vec<Row> {
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

fn signal_rows(plan: &Plan) -> Vec<Row> {
    use signals::*;
    let n = plan.signals;
    let rate = |s: f64| n as f64 / s;
    let m = interleaved(
        plan.rounds,
        &mut [
            &mut || kill_read_ours(n),
            &mut || kill_read_c(n),
            &mut || kill_read_signal_hook(n),
        ],
    );
    let blocking = Row {
        name: "signals kill+read, blocking",
        unit: "signals/s",
        ours: rate(m[0]),
        c: Some(rate(m[1])),
        peer: Some(("signal-hook iterator", rate(m[2]))),
        higher_is_better: true,
        note: String::new(),
    };
    let m = interleaved(
        plan.rounds,
        &mut [&mut || kill_read_async_ours(n), &mut || {
            kill_read_async_signal(n)
        }],
    );
    let asynchronous = Row {
        name: "signals kill+read, async stream",
        unit: "signals/s",
        ours: rate(m[0]),
        c: None,
        peer: Some(("async-signal Signals", rate(m[1]))),
        higher_is_better: true,
        note: String::new(),
    };
    let q = plan.queued_signals;
    let per = |s: f64| s * 1e9 / q as f64;
    let m = interleaved(
        plan.rounds,
        &mut [&mut || batch_ours(q), &mut || batch_c(q), &mut || {
            one_by_one_ours(q)
        }],
    );
    let batch = Row {
        name: "queued RT signals read, 256 per read(2)",
        unit: "ns/signal",
        ours: per(m[0]),
        c: Some(per(m[1])),
        peer: Some(("ours, one read(2) per signal", per(m[2]))),
        higher_is_better: false,
        note: format!("{q} queued"),
    };
    vec![blocking, asynchronous, batch]
}

fn notify_rows(plan: &Plan) -> Vec<Row> {
    use butter::notify::inotify::EventBuffer;
    let scratch = notify::Scratch::new();
    let file = scratch.file();
    let reps = plan.drain_reps;
    let events = (notify::queue_events() * u64::from(reps)) as f64;
    let mut buf = EventBuffer::default();
    // Allocations are counted in the measured rounds only: the warm-up
    // round grows the reused buffer to the queue's size, once.
    let (mut ours_allocs, mut peer_allocs) = (0, 0);
    let (mut ours_runs, mut peer_runs) = (0, 0);
    let m = interleaved(
        plan.notify_rounds,
        &mut [
            &mut || {
                let (t, a) = notify::drain_ours(file, reps, &mut buf);
                if ours_runs > 0 {
                    ours_allocs += a;
                }
                ours_runs += 1;
                t
            },
            &mut || notify::drain_c(file, reps),
            &mut || {
                let (t, a) = notify::drain_peer(file, reps);
                if peer_runs > 0 {
                    peer_allocs += a;
                }
                peer_runs += 1;
                t
            },
        ],
    );
    let rate = |s: f64| events / s;
    let drain = Row {
        name: "inotify: drain a full queue",
        unit: "events/s",
        ours: rate(m[0]),
        c: Some(rate(m[1])),
        peer: Some(("inotify crate", rate(m[2]))),
        higher_is_better: true,
        note: format!("{} events per fill", notify::queue_events()),
    };
    let drained = events * plan.notify_rounds as f64;
    let allocs = Row {
        name: "inotify: allocations per event while draining",
        unit: "allocs/event",
        ours: ours_allocs as f64 / drained,
        c: None,
        peer: Some(("inotify crate", peer_allocs as f64 / drained)),
        higher_is_better: false,
        note: "after the warm-up round grew the reused buffer".into(),
    };
    let pairs = plan.live_pairs;
    let (mut lost_ours, mut lost_c, mut lost_peer) = (false, false, false);
    let m = interleaved(
        plan.notify_rounds,
        &mut [
            &mut || {
                let (t, l) = notify::live_ours(file, pairs, &mut buf);
                lost_ours |= l;
                t
            },
            &mut || {
                let (t, l) = notify::live_c(file, pairs);
                lost_c |= l;
                t
            },
            &mut || {
                let (t, l) = notify::live_peer(file, pairs);
                lost_peer |= l;
                t
            },
        ],
    );
    let rate = |s: f64| (2 * pairs) as f64 / s;
    let said = |l: bool| if l { "YES" } else { "none" };
    let live = Row {
        name: "inotify: live producer on tmpfs",
        unit: "events/s",
        ours: rate(m[0]),
        c: Some(rate(m[1])),
        peer: Some(("inotify crate", rate(m[2]))),
        higher_is_better: true,
        note: format!(
            "producer-bound (a reader that wakes less often leaves the producer more CPU); lost: ours {}, C {}, peer {}",
            said(lost_ours),
            said(lost_c),
            said(lost_peer)
        ),
    };
    vec![drain, live, allocs]
}

fn fanotify_rows(plan: &Plan) -> Vec<Row> {
    use fanotify_rows::{Dir, FILL, Mode, in_c, ours};
    if !rustix::process::geteuid().is_root() {
        eprintln!("butter-bench: fanotify rows left out: fd-mode fanotify groups need root");
        return Vec::new();
    }
    let dir = Dir::new();
    let mut rows = Vec::new();
    for (name, mode) in [
        ("fanotify: drain, an fd per event", Mode::Fd),
        ("fanotify: drain, DFID_NAME records", Mode::DfidName),
    ] {
        // Each run uses its own round number, so DFID_NAME names never repeat.
        let (mut ours_round, mut c_round) = (0u64, 1u64);
        let m = interleaved(
            plan.notify_rounds,
            &mut [
                &mut || {
                    ours_round += 2;
                    ours(&dir.path, mode, ours_round)
                },
                &mut || {
                    c_round += 2;
                    in_c(&dir.path, mode, c_round)
                },
            ],
        );
        let rate = |s: f64| FILL as f64 / s;
        rows.push(Row {
            name,
            unit: "events/s",
            ours: rate(m[0]),
            c: Some(rate(m[1])),
            peer: None,
            higher_is_better: true,
            note: format!("{FILL} events per fill, inode marks on a tmpfs directory"),
        });
        let (mut ours_round, mut c_round) = (1_000_000u64, 1_000_001u64);
        let (mut lost_ours, mut lost_c) = (false, false);
        let m = interleaved(
            plan.notify_rounds,
            &mut [
                &mut || {
                    ours_round += 2;
                    let (t, lost) = fanotify_rows::live_ours(&dir.path, mode, ours_round);
                    lost_ours |= lost;
                    t
                },
                &mut || {
                    c_round += 2;
                    let (t, lost) = fanotify_rows::live_c(&dir.path, mode, c_round);
                    lost_c |= lost;
                    t
                },
            ],
        );
        let said = |l: bool| if l { "YES" } else { "none" };
        rows.push(Row {
            name: if matches!(mode, Mode::Fd) {
                "fanotify: live, an fd per event"
            } else {
                "fanotify: live, DFID_NAME records"
            },
            unit: "events/s",
            ours: rate(m[0]),
            c: Some(rate(m[1])),
            peer: None,
            higher_is_better: true,
            note: format!(
                "producer-bound; lost: ours {}, C {}",
                said(lost_ours),
                said(lost_c)
            ),
        });
    }
    rows
}

fn copy_rows(plan: &Plan) -> Vec<Row> {
    use copies::{Pair, Way};
    let source = copies::Source::new(plan.copy_size);
    let gbps = |s: f64| plan.copy_size as f64 / s / 1e9;
    // (name, pair, aliasing, grow the pipes we are given)
    let cases: [(&'static str, Pair, bool, bool); 9] = [
        ("copy: file -> /dev/null", Pair::DevNull, false, false),
        (
            "copy: file -> pipe -> consumer (default)",
            Pair::PipeToConsumer,
            false,
            false,
        ),
        (
            "copy: file -> pipe -> consumer (grow pipe)",
            Pair::PipeToConsumer,
            false,
            true,
        ),
        (
            "copy: file -> pipe -> consumer (aliasing ok)",
            Pair::PipeToConsumer,
            true,
            false,
        ),
        (
            "copy: file -> pipe (aliasing ok, grow pipe)",
            Pair::PipeToConsumer,
            true,
            true,
        ),
        (
            "copy: file -> unix socket -> consumer",
            Pair::UnixSocket,
            false,
            false,
        ),
        ("copy: file -> file (tmpfs)", Pair::File, false, false),
        (
            "copy: producer -> pipe -> file",
            Pair::PipeToFile,
            false,
            false,
        ),
        (
            "copy: producer -> pipe -> file (grow pipe)",
            Pair::PipeToFile,
            false,
            true,
        ),
    ];
    let mut rows = Vec::new();
    for (name, pair, aliasing, grow) in cases {
        let method = copies::method_for(&source, pair, aliasing);
        let m = interleaved(
            plan.copy_rounds,
            &mut [
                &mut || copies::run(&source, pair, Way::Ours { aliasing, grow }),
                &mut || copies::run(&source, pair, Way::C),
                &mut || copies::run(&source, pair, Way::Std),
                &mut || copies::run(&source, pair, Way::ReadWrite),
            ],
        );
        let mut row = Row {
            name,
            unit: "GB/s",
            ours: gbps(m[0]),
            c: Some(gbps(m[1])),
            peer: Some(("std::io::copy", gbps(m[2]))),
            higher_is_better: true,
            note: String::new(),
        };
        let rw = gbps(m[3]);
        row.note = format!(
            "ours by {method}; read/write loop {rw:.2} GB/s (x{:.2})",
            row.ratio(rw)
        );
        rows.push(row);
    }
    rows
}

fn fmt_value(v: f64) -> String {
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

fn print_table(rows: &[Row], plan: &Plan) {
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

fn to_json(rows: &[Row], plan: &Plan) -> String {
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

fn main() -> ExitCode {
    // Before any thread exists: every thread inherits the blocked signals.
    signals::block_bench_signals();
    let mut plan = FULL;
    let mut json_path: Option<PathBuf> = None;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => plan = QUICK,
            "--only" => match args.next() {
                Some(group)
                    if [
                        "eventfd", "timerfd", "signals", "inotify", "copy", "fanotify",
                    ]
                    .contains(&group.as_str()) =>
                {
                    only = Some(group);
                }
                _ => {
                    eprintln!(
                        "butter-bench: --only takes eventfd, timerfd, signals, inotify or copy"
                    );
                    return ExitCode::from(2);
                }
            },
            "--json" => match args.next() {
                Some(p) => json_path = Some(p.into()),
                None => {
                    eprintln!("butter-bench: --json needs a path");
                    return ExitCode::from(2);
                }
            },
            // `cargo bench` passes --bench; accept and ignore it.
            "--bench" => {}
            other => {
                eprintln!(
                    "butter-bench: unknown argument {other:?}\nUsage: butter-bench [--quick] [--only GROUP] [--json PATH]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let rows = rows(&plan, only.as_deref());
    print_table(&rows, &plan);
    if let Some(path) = json_path {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(&path, to_json(&rows, &plan) + "\n") {
            eprintln!("butter-bench: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
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

    /// Every eventfd variant does the work it claims, with tiny counts: the
    /// C and peer code checks its own results (sums, echoed values). The
    /// signal rows are checked by `tests/quick.rs`, in a process of their own.
    #[test]
    fn every_variant_runs_correctly() {
        for f in [
            pairs::<EventFd>,
            pairs_c,
            pairs::<NixEventFd>,
            pingpong::<EventFd>,
            pingpong_c,
            pingpong::<NixEventFd>,
            async_pingpong_ours,
            async_pingpong_raw,
        ] {
            f(50);
        }
    }

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

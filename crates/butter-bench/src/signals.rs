//! signal-fd rows: kill + read round trips, and reading a queue of
//! real-time signals in batches.
//!
//! Our rows and the C rows use signals blocked in every thread (see
//! [`block_bench_signals`], called first thing in `main`); the peers install
//! handlers, so they get signals of their own that stay unblocked.

use std::time::Duration;

use butter::EventSource;
use butter::signalfd::{
    AsyncSignalFd, How, SigSet, Signal, SignalFd, SignalFdFlags, kill, pthread_sigmask, sigqueue,
};
use futures_lite::StreamExt;
use futures_lite::future::block_on;

use crate::c;
use crate::harness::{Plan, Row, interleaved, timed};

/// The signal our and C's kill+read loops use (blocked process-wide).
const OURS: Signal = Signal::USR1;
/// The real-time signal queued for the batch rows: `SIGRTMIN+1`.
fn queued() -> Signal {
    Signal::rt(1).expect("SIGRTMIN+1 exists")
}

/// Blocks the signals our rows read, before any thread exists, so that
/// every thread inherits the mask and none can take them.
pub(crate) fn block_bench_signals() {
    pthread_sigmask(How::Block, &SigSet::from([OURS, queued()]))
        .expect("block")
        .forget();
}

fn me() -> u32 {
    std::process::id()
}

pub(crate) fn kill_read_ours(n: u64) -> Duration {
    let sfd = SignalFd::new(&OURS.into()).expect("signalfd");
    let pid = me();
    timed(|| {
        for _ in 0..n {
            kill(pid, OURS).expect("kill");
            assert_eq!(sfd.read().expect("read").signal(), OURS);
        }
    })
}

pub(crate) fn kill_read_c(n: u64) -> Duration {
    let mut ok = false;
    let took = timed(|| ok = c::signal_kill_read(OURS.raw(), n));
    assert!(ok, "C kill+read failed");
    took
}

pub(crate) fn kill_read_signal_hook(n: u64) -> Duration {
    let mut signals = signal_hook::iterator::Signals::new([libc::SIGUSR2]).expect("signal-hook");
    let pid = me();
    let took = timed(|| {
        for _ in 0..n {
            kill(pid, Signal::USR2).expect("kill");
            assert!(signals.wait().next().is_some());
        }
    });
    signals.handle().close();
    took
}

pub(crate) fn kill_read_async_ours(n: u64) -> Duration {
    let sfd = AsyncSignalFd::new(SignalFd::new(&OURS.into()).expect("signalfd")).expect("register");
    let pid = me();
    timed(|| {
        block_on(async {
            let mut stream = &sfd;
            for _ in 0..n {
                kill(pid, OURS).expect("kill");
                assert_eq!(
                    stream.next().await.expect("item").expect("read").signal(),
                    OURS
                );
            }
        })
    })
}

pub(crate) fn kill_read_async_signal(n: u64) -> Duration {
    let mut signals =
        async_signal::Signals::new([async_signal::Signal::Winch]).expect("async-signal");
    let pid = me();
    timed(|| {
        block_on(async {
            for _ in 0..n {
                kill(pid, Signal::WINCH).expect("kill");
                assert!(signals.next().await.is_some());
            }
        })
    })
}

/// Queues `n` real-time signals with values 0..n (untimed).
fn queue(n: u64) -> u64 {
    let sig = queued();
    for v in 0..n {
        sigqueue(me(), sig, i32::try_from(v).expect("value fits")).expect("sigqueue");
    }
    n * n.saturating_sub(1) / 2
}

pub(crate) fn batch_ours(n: u64) -> Duration {
    let expect = queue(n);
    let sfd = SignalFd::with_flags(&queued().into(), SignalFdFlags::empty()).expect("signalfd");
    let mut batch = Vec::with_capacity(256);
    let mut sum = 0u64;
    let mut got = 0;
    let took = timed(|| {
        while got < n {
            batch.clear();
            got += sfd.read_events(&mut batch).expect("read") as u64;
            sum += batch
                .iter()
                .map(|i| u64::try_from(i.value_int()).unwrap_or(0))
                .sum::<u64>();
        }
    });
    assert_eq!((got, sum), (n, expect));
    took
}

pub(crate) fn one_by_one_ours(n: u64) -> Duration {
    let expect = queue(n);
    let sfd = SignalFd::new(&queued().into()).expect("signalfd");
    let mut sum = 0u64;
    let took = timed(|| {
        for _ in 0..n {
            sum += u64::try_from(sfd.read().expect("read").value_int()).unwrap_or(0);
        }
    });
    assert_eq!(sum, expect);
    took
}

pub(crate) fn batch_c(n: u64) -> Duration {
    let expect = queue(n);
    let mut sum = None;
    let took = timed(|| sum = c::signal_batch_read(queued().raw(), n));
    assert_eq!(sum, Some(expect));
    took
}

pub(crate) fn rows(plan: &Plan) -> Vec<Row> {
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

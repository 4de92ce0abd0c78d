//! event-fd rows: write+read pairs, blocking ping-pong between threads,
//! and async ping-pong, against C and nix.

use std::os::fd::{AsFd, OwnedFd};
use std::thread;
use std::time::Duration;

use butter::eventfd::{AsyncEventFd, EventFd};
use futures_lite::future::block_on;
use nix::sys::eventfd::EventFd as NixEventFd;

use crate::c;
use crate::harness::{Plan, Row, interleaved, timed};

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

pub(crate) fn rows(plan: &Plan) -> Vec<Row> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

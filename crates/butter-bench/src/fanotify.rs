//! notify-fd fanotify rows: draining a full queue, with an fd per event and
//! with DFID_NAME records, against a C reader. Inode marks on the bench's
//! own directory only: nothing else on the machine is watched.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use butter::notify::fanotify::{Class, EventMask, Fanotify, InitFlags, MarkFlags, MarkTarget};

use crate::c;
use crate::harness::{Plan, Row, interleaved, timed};

/// Events per fill: distinct files, as fanotify merges repeats on one object.
pub(crate) const FILL: u64 = 16_000;

/// A directory on tmpfs with `FILL` files, removed on drop.
pub(crate) struct Dir {
    pub(crate) path: PathBuf,
}

impl Dir {
    pub(crate) fn new() -> Dir {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let path = base.join(format!("butter-bench-fan-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("dir");
        for i in 0..FILL {
            std::fs::write(path.join(format!("f{i}")), b"").expect("file");
        }
        Dir { path }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Either mode's group and how to fill its queue.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    /// An open fd per event (`OPEN` on each file).
    Fd,
    /// DFID_NAME records (`CREATE` of new names).
    DfidName,
}

fn group(dir: &Path, mode: Mode) -> Fanotify {
    let (flags, mask) = match mode {
        Mode::Fd => (
            InitFlags::empty(),
            EventMask::OPEN | EventMask::EVENT_ON_CHILD,
        ),
        Mode::DfidName => (InitFlags::REPORT_DFID_NAME, EventMask::CREATE),
    };
    let g = Fanotify::new(Class::Notif, flags).expect("fanotify_init");
    g.mark(MarkTarget::Inode, dir, mask, MarkFlags::empty())
        .expect("mark");
    g
}

fn fill(dir: &Path, mode: Mode, round: u64) {
    match mode {
        Mode::Fd => {
            for i in 0..FILL {
                drop(std::fs::File::open(dir.join(format!("f{i}"))).expect("open"));
            }
        }
        Mode::DfidName => {
            // The mark is on `dir`: creates in it, with distinct names.
            for i in 0..FILL {
                std::fs::write(dir.join(format!("r{round}-{i}")), b"").expect("create");
            }
        }
    }
}

fn cleanup(dir: &Path, mode: Mode, round: u64) {
    if let Mode::DfidName = mode {
        for i in 0..FILL {
            let _ = std::fs::remove_file(dir.join(format!("r{round}-{i}")));
        }
    }
}

/// One fill (untimed) and drain (timed) by ours.
pub(crate) fn ours(dir: &Path, mode: Mode, round: u64) -> Duration {
    let g = group(dir, mode);
    fill(dir, mode, round);
    let want = FILL;
    let mut events = Vec::with_capacity(1024);
    let mut seen = 0u64;
    let took = timed(|| {
        while seen < want {
            events.clear(); // closes the previous batch's fds
            g.read_events(&mut events).expect("read");
            seen += events.len() as u64;
        }
        events.clear();
    });
    drop(g);
    cleanup(dir, mode, round);
    assert_eq!(seen, want);
    took
}

/// One fill (untimed) and drain (timed) by the C reader.
pub(crate) fn in_c(dir: &Path, mode: Mode, round: u64) -> Duration {
    let g = group(dir, mode);
    fill(dir, mode, round);
    let mut seen = None;
    let took = timed(|| seen = c::fanotify_read(g.as_fd(), FILL));
    drop(g);
    cleanup(dir, mode, round);
    assert_eq!(seen, Some(FILL));
    took
}

/// A producer thread makes `FILL` events while ours reads them; the time
/// until all have been read, and whether any were lost.
pub(crate) fn live_ours(dir: &Path, mode: Mode, round: u64) -> (Duration, bool) {
    let g = group(dir, mode);
    let mut events = Vec::with_capacity(1024);
    let mut seen = 0u64;
    let took = timed(|| {
        std::thread::scope(|s| {
            s.spawn(|| fill(dir, mode, round));
            while seen < FILL {
                events.clear();
                g.read_events(&mut events).expect("read");
                if events.iter().any(|e| e.is_overflow()) {
                    break;
                }
                seen += events.len() as u64;
            }
            events.clear();
        });
    });
    drop(g);
    cleanup(dir, mode, round);
    (took, seen < FILL)
}

/// The same with the C reader.
pub(crate) fn live_c(dir: &Path, mode: Mode, round: u64) -> (Duration, bool) {
    let g = group(dir, mode);
    let mut seen = 0;
    let took = timed(|| {
        std::thread::scope(|s| {
            s.spawn(|| fill(dir, mode, round));
            seen = c::fanotify_read(g.as_fd(), FILL).unwrap_or(0);
        });
    });
    drop(g);
    cleanup(dir, mode, round);
    (took, seen < FILL)
}

pub(crate) fn rows(plan: &Plan) -> Vec<Row> {
    use {Dir, FILL, Mode, in_c, ours};
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
                    let (t, lost) = live_ours(&dir.path, mode, ours_round);
                    lost_ours |= lost;
                    t
                },
                &mut || {
                    c_round += 2;
                    let (t, lost) = live_c(&dir.path, mode, c_round);
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

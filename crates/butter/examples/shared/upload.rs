//! The upload-directory watcher both examples run: what counts as "a new
//! file, complete", and the self-test that checks it.
//!
//! Shared by `upload_watch_tokio` and `upload_watch_smol`; only the `select`
//! differs between them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use butter::notify::inotify::{EventMask, PathEvent, RecursiveOptions, RecursiveWatcher};
use butter::signalfd::{SigSet, Signal, Signals};

/// What the program was asked to do.
#[derive(Debug)]
pub(crate) struct Args {
    /// Watch this directory until SIGINT/SIGTERM; `None` with `self_test`.
    pub(crate) dir: Option<PathBuf>,
    /// Make this many upload trees in a scratch directory, check that each
    /// created path and each finished file is reported exactly once, exit.
    pub(crate) self_test: Option<u32>,
}

/// `[--self-test N] [DIR]`.
pub(crate) fn args() -> Args {
    let mut args = Args {
        dir: None,
        self_test: None,
    };
    let mut it = std::env::args_os().skip(1);
    while let Some(a) = it.next() {
        if a == "--self-test" {
            let n = it
                .next()
                .and_then(|n| n.into_string().ok())
                .and_then(|n| n.parse().ok());
            args.self_test = Some(n.unwrap_or_else(|| usage()));
        } else if a == "-h" || a == "--help" {
            usage();
        } else {
            args.dir = Some(a.into());
        }
    }
    if args.dir.is_none() && args.self_test.is_none() {
        args.dir = Some(".".into());
    }
    args
}

fn usage() -> ! {
    eprintln!("usage: upload_watch [--self-test N] [DIR]");
    std::process::exit(2)
}

/// Blocks the signals the program answers, before any runtime starts a
/// thread: a thread that does not block them would take them instead of
/// the signalfd (`Signals::check_threads` names such threads).
pub(crate) fn block_signals() -> Signals {
    let set: SigSet = [Signal::INT, Signal::TERM, Signal::USR1]
        .into_iter()
        .collect();
    Signals::new(set).expect("block INT, TERM, USR1 and open a signalfd")
}

/// The watcher: creations and finished files, each once. A file found by a
/// scan of a new directory is reported complete (`close_write`, scanned)
/// when nobody has it open for writing; else the kernel's own
/// `close_write` follows.
pub(crate) fn watcher(dir: &Path) -> RecursiveWatcher {
    RecursiveWatcher::with_options(
        dir,
        EventMask::CREATE | EventMask::CLOSE_WRITE,
        RecursiveOptions {
            scanned_close_write: true,
            ..RecursiveOptions::default()
        },
    )
    .expect("watch the tree")
}

/// Counts what the watcher reported, and prints it.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// (path, "create" | "close_write") → times reported.
    pub(crate) seen: BTreeMap<(PathBuf, &'static str), u32>,
    /// Finished files reported by the kernel / found complete by a scan.
    pub(crate) complete_by_kernel: u32,
    /// See above.
    pub(crate) complete_by_scan: u32,
    /// Timer expirations counted meanwhile.
    pub(crate) ticks: u64,
    /// Whether to print each event.
    pub(crate) verbose: bool,
}

impl Tally {
    /// Takes one event.
    pub(crate) fn add(&mut self, event: &PathEvent) {
        if let PathEvent::Event {
            path,
            mask,
            from_scan,
        } = event
        {
            let what = if mask.contains(EventMask::CREATE) {
                "create"
            } else if mask.contains(EventMask::CLOSE_WRITE) {
                if *from_scan {
                    self.complete_by_scan += 1;
                } else {
                    self.complete_by_kernel += 1;
                }
                "close_write"
            } else {
                return;
            };
            *self.seen.entry((path.clone(), what)).or_insert(0) += 1;
            if self.verbose {
                let how = if *from_scan { " (found by a scan)" } else { "" };
                println!("{what} {}{how}", path.display());
            }
        } else if self.verbose {
            println!("{event:?}");
        }
    }

    /// Files reported complete so far.
    pub(crate) fn complete(&self) -> u32 {
        self.complete_by_kernel + self.complete_by_scan
    }
}

/// The self-test's workload: `n` times `mkdir -p i/a/b/c` and a file
/// written and closed in it, on a thread of its own while the watcher runs.
pub(crate) fn workload(root: PathBuf, n: u32) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for i in 0..n {
            let c = root.join(format!("{i}/a/b/c"));
            std::fs::create_dir_all(&c).expect("mkdir -p");
            std::fs::write(c.join("file.txt"), b"uploaded").expect("write");
        }
    })
}

/// Checks the self-test's tally: each of the `n` trees' five paths created
/// once, each file complete once, nothing else.
pub(crate) fn verify(root: &Path, n: u32, tally: &Tally) -> Result<String, String> {
    let mut want = BTreeMap::new();
    for i in 0..n {
        let top = root.join(i.to_string());
        for rel in ["", "a", "a/b", "a/b/c", "a/b/c/file.txt"] {
            let p = if rel.is_empty() {
                top.clone()
            } else {
                top.join(rel)
            };
            want.insert((p, "create"), 1);
        }
        want.insert((top.join("a/b/c/file.txt"), "close_write"), 1);
    }
    if tally.seen != want {
        let dup: Vec<_> = tally.seen.iter().filter(|(_, n)| **n > 1).collect();
        let missing: Vec<_> = want
            .keys()
            .filter(|k| !tally.seen.contains_key(*k))
            .collect();
        return Err(format!(
            "duplicates: {dup:?}\nmissing: {missing:?}\nextra: {}",
            tally.seen.len() + missing.len() - want.len()
        ));
    }
    Ok(format!(
        "{n} trees: {} paths created, each reported once; {n} files complete, each once \
         ({} by the kernel's close_write, {} found complete by a scan); {} timer ticks meanwhile",
        n * 5,
        tally.complete_by_kernel,
        tally.complete_by_scan,
        tally.ticks
    ))
}

/// The scratch directory of a self-test, removed on drop.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    /// A fresh directory under the temp dir.
    pub(crate) fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The three async sources both examples select over: the watcher, a
/// 10 ms periodic timer, and the signals blocked before the runtime started;
/// then starts the self-test's workload (the watch is in place now).
pub(crate) fn sources(
    session: &mut Session,
    signals: Signals,
) -> (
    butter::notify::AsyncRecursiveWatcher,
    butter::timerfd::AsyncTimerFd,
    butter::signalfd::AsyncSignals,
) {
    use butter::timerfd::{AsyncTimerFd, TimerFd, TimerSpec};
    let watcher =
        butter::notify::AsyncRecursiveWatcher::new(watcher(&session.dir)).expect("reactor");
    let timer = AsyncTimerFd::new(TimerFd::new().expect("timerfd")).expect("reactor");
    timer
        .set(&TimerSpec::periodic(Duration::from_millis(10)))
        .expect("arm the timer");
    let signals = butter::signalfd::AsyncSignals::new(signals).expect("reactor");
    session.start();
    (watcher, timer, signals)
}

/// How long the self-test may take before it fails.
pub(crate) const LIMIT: Duration = Duration::from_secs(20);

/// Everything both examples' loops share: the watched tree, the tally, the
/// self-test's workload, and what to do on each wake-up. Only the `select`
/// over the three sources is the executor's own.
pub(crate) struct Session {
    /// The watched tree (the scratch directory in a self-test).
    pub(crate) dir: PathBuf,
    /// What was reported.
    pub(crate) tally: Tally,
    self_test: Option<(u32, Option<std::thread::JoinHandle<()>>, Scratch)>,
    usr1_sent: bool,
}

/// What a wake-up says to do next.
pub(crate) enum Next {
    /// Keep selecting.
    Continue,
    /// Stop with this exit code.
    Exit(std::process::ExitCode),
}

impl Session {
    /// Sets up the tree to watch; a self-test makes a scratch directory.
    pub(crate) fn new(args: &Args, tag: &str) -> Session {
        let scratch = args.self_test.map(|_| Scratch::new(tag));
        let dir = scratch
            .as_ref()
            .map_or_else(|| args.dir.clone().unwrap_or_default(), |s| s.0.clone());
        Session {
            tally: Tally {
                verbose: args.self_test.is_none(),
                ..Tally::default()
            },
            self_test: args.self_test.zip(scratch).map(|(n, s)| (n, None, s)),
            dir,
            usr1_sent: false,
        }
    }

    /// Starts the self-test's workload: call it once the watcher exists
    /// (what is made before the watch is never reported).
    pub(crate) fn start(&mut self) {
        if let Some((n, work @ None, _)) = &mut self.self_test {
            *work = Some(workload(self.dir.clone(), *n));
        }
    }

    /// An event from the watcher.
    pub(crate) fn on_event(&mut self, event: butter::Result<PathEvent>) -> Next {
        match event {
            Ok(e) => {
                self.tally.add(&e);
                Next::Continue
            }
            Err(e) => fail(&format!("watcher: {e}")),
        }
    }

    /// A timer tick (every 10 ms): in a self-test, checks whether the
    /// workload is done and every file was reported complete; then drains
    /// what is left and sends itself SIGUSR1 through the runtime's threads.
    pub(crate) fn on_tick(
        &mut self,
        tick: butter::Result<butter::timerfd::TimerEvent>,
        watcher: &RecursiveWatcher,
    ) -> Next {
        use butter::EventSource;
        match tick {
            Ok(t) => self.tally.ticks += t.count(),
            Err(e) => return fail(&format!("timer: {e}")),
        }
        let Some((n, work, _)) = &self.self_test else {
            return Next::Continue;
        };
        if Duration::from_millis(10 * self.tally.ticks) > LIMIT {
            let why = verify(&self.dir, *n, &self.tally).err().unwrap_or_default();
            return fail(&format!(
                "gave up after {LIMIT:?}: {} of {n} files complete\n{why}",
                self.tally.complete()
            ));
        }
        if self.usr1_sent
            || !work.as_ref().is_some_and(|w| w.is_finished())
            || self.tally.complete() < *n
        {
            return Next::Continue;
        }
        // The workload has ended, so everything it caused is queued: take it
        // all (a late duplicate would show here).
        let mut rest = Vec::new();
        while watcher.wait_readable(Some(Duration::ZERO)).unwrap_or(false) {
            if watcher.read_events(&mut rest).is_err() {
                break;
            }
        }
        for e in &rest {
            self.tally.add(e);
        }
        // A signal to the whole process: only the signalfd may take it.
        butter::signalfd::kill_self(Signal::USR1).expect("kill");
        self.usr1_sent = true;
        Next::Continue
    }

    /// A signal: INT or TERM end the program; USR1 ends the self-test.
    pub(crate) fn on_signal(&mut self, info: butter::Result<butter::signalfd::SigInfo>) -> Next {
        let info = match info {
            Ok(i) => i,
            Err(e) => return fail(&format!("signals: {e}")),
        };
        if info.signal() != Signal::USR1 {
            println!(
                "{}: {} files complete",
                info.signal(),
                self.tally.complete()
            );
            return Next::Exit(std::process::ExitCode::SUCCESS);
        }
        let Some((n, _, _)) = &self.self_test else {
            return Next::Continue;
        };
        match verify(&self.dir, *n, &self.tally) {
            Ok(summary) => {
                println!("{summary}; SIGUSR1 arrived through the signalfd");
                Next::Exit(std::process::ExitCode::SUCCESS)
            }
            Err(why) => fail(&why),
        }
    }
}

fn fail(why: &str) -> Next {
    eprintln!("upload_watch: {why}");
    Next::Exit(std::process::ExitCode::FAILURE)
}

//! [`Debouncer`]: a tree watcher's events, settled per path.

use std::collections::HashMap;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use fd_core::{EventSource, Result, SyscallResult};
use rustix::event::epoll;
use rustix::time::{TimerfdClockId, TimerfdFlags, TimerfdTimerFlags};

use crate::inotify::{EventMask, PathEvent, RecursiveWatcher};

/// What is pending for one path.
#[derive(Debug, Clone)]
struct Pending {
    /// Order of the first event for it, so paths come out in the order
    /// things began.
    seq: u64,
    /// When it last changed; it settles `settle` after.
    last: Instant,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// `Event`s merged: the masks joined; `from_scan` only if all were.
    Event {
        mask: EventMask,
        from_scan: bool,
    },
    /// A rename whose ends are known: `from` is the key's old path.
    Renamed {
        from: PathBuf,
        is_dir: bool,
    },
    MovedOut {
        is_dir: bool,
    },
    MovedIn {
        is_dir: bool,
    },
}

struct State {
    pending: HashMap<PathBuf, Pending>,
    seq: u64,
    /// Events that do not wait (overflow, roots, unwatched directories),
    /// with the sequence number they go out at.
    immediate: Vec<(u64, PathEvent)>,
    /// The last event taken was a `MovedOut` (of this path, directory or
    /// not): a `MovedIn` right after it is the other half of one rename
    /// whose halves the kernel's read split.
    last_out: Option<(PathBuf, bool)>,
    /// A directory that a stitched rename brought in: the scan events the
    /// watcher makes under it are what was already there, not news.
    stitched: Vec<PathBuf>,
    batch: Vec<PathEvent>,
}

/// A [`RecursiveWatcher`]'s events, each path's settled: nothing is handed
/// out for a path until `settle` has passed with no new event for it, as
/// notify-debouncer-full does, on any executor and in any poll loop.
///
/// - Bursts merge: a file written in a hundred `write`s is one `MODIFY`
///   (with `CLOSE_WRITE` joined into the same mask); masks of one path are
///   joined.
/// - A file created and removed within the settle time is nothing at all;
///   a directory removed with what was in it is one `DELETE` of the
///   directory (what was pending under it is dropped).
/// - Renames: what was pending for the old path moves to the new one; a
///   file created and renamed is created at the new path. A rename the
///   kernel's read split (`MovedOut` then, as the very next event,
///   `MovedIn`) is stitched into one `Renamed`, and the scan of a
///   directory brought in that way is left out, as it holds nothing new.
/// - `RescanNeeded`, `NotWatched`, `RootAppeared` and `RootGone` are not
///   held: what was pending before them goes out first.
///
/// Its fd is an epoll instance holding the watcher's fd and a timerfd for
/// the next path to settle, so `poll` wakes both for new events and when
/// something settles. It is an [`EventSource`] of [`PathEvent`]s, like the
/// watcher; `AsyncDebouncer` (feature `async`) is a `Stream`.
pub struct Debouncer {
    watcher: RecursiveWatcher,
    settle: Duration,
    epoll: OwnedFd,
    timer: OwnedFd,
    state: Mutex<State>,
}

impl Debouncer {
    /// Settles `watcher`'s events for `settle`.
    ///
    /// # Errors
    /// As `epoll_create1`, `timerfd_create` and `epoll_ctl` (fd limits).
    pub fn new(watcher: RecursiveWatcher, settle: Duration) -> Result<Debouncer> {
        watcher.set_nonblocking(true)?;
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC).syscall("epoll_create1")?;
        let timer = rustix::time::timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK,
        )
        .syscall("timerfd_create")?;
        for fd in [watcher.as_fd(), timer.as_fd()] {
            epoll::add(
                &epoll,
                fd,
                epoll::EventData::new_u64(0),
                epoll::EventFlags::IN,
            )
            .syscall("epoll_ctl")?;
        }
        Ok(Debouncer {
            watcher,
            settle,
            epoll,
            timer,
            state: Mutex::new(State {
                pending: HashMap::new(),
                seq: 0,
                immediate: Vec::new(),
                last_out: None,
                stitched: Vec::new(),
                batch: Vec::new(),
            }),
        })
    }

    /// The watcher inside (to add or remove roots, `sync`, …).
    pub fn watcher(&self) -> &RecursiveWatcher {
        &self.watcher
    }

    /// The settle time.
    pub fn settle(&self) -> Duration {
        self.settle
    }

    /// Switches between blocking and non-blocking mode (of the debouncer's
    /// own fd; the watcher inside is always read without blocking).
    ///
    /// # Errors
    /// As `fcntl(F_SETFL)`.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        fd_core::set_nonblocking(&self.epoll, nonblocking)
    }

    /// Hands out everything pending now, settled or not (before a program
    /// ends, or after [`RecursiveWatcher::sync`] in a test), in order.
    ///
    /// # Errors
    /// As reads of the watcher.
    pub fn flush(&self, events: &mut Vec<PathEvent>) -> Result<usize> {
        let mut state = self.lock();
        self.take_from_watcher(&mut state)?;
        let before = events.len();
        state.ready(self.settle, None, events);
        self.arm(&state)?;
        Ok(events.len() - before)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything the watcher has now, into the pending map.
    fn take_from_watcher(&self, state: &mut State) -> Result<()> {
        loop {
            let mut batch = std::mem::take(&mut state.batch);
            batch.clear();
            let got = self.watcher.read_events(&mut batch);
            let n = match got {
                Ok(n) => n,
                Err(e) if e.kind() == fd_core::ErrorKind::WouldBlock => 0,
                Err(e) => {
                    state.batch = batch;
                    return Err(e);
                }
            };
            let now = Instant::now();
            for event in batch.drain(..) {
                state.add(event, now);
            }
            state.batch = batch;
            if n == 0 && !fd_core::readable_now(&self.watcher)? {
                return Ok(());
            }
        }
    }

    /// Sets the timer for the next path to settle (or disarms it).
    fn arm(&self, state: &State) -> Result<()> {
        let next = state.pending.values().map(|p| p.last + self.settle).min();
        let value = match next {
            Some(at) => {
                let left = at
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_nanos(1));
                rustix::time::Timespec {
                    tv_sec: left.as_secs().try_into().unwrap_or(i64::MAX),
                    tv_nsec: left.subsec_nanos().into(),
                }
            }
            None => rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        };
        let spec = rustix::time::Itimerspec {
            it_interval: rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        rustix::time::timerfd_settime(&self.timer, TimerfdTimerFlags::empty(), &spec)
            .syscall("timerfd_settime")?;
        Ok(())
    }

    /// One attempt: take what the watcher has, hand out what settled.
    fn attempt(&self, events: &mut Vec<PathEvent>) -> Result<Option<usize>> {
        let mut state = self.lock();
        // The timer's expiry count is only a wake-up.
        let mut buf = [0u8; 8];
        let _ = rustix::io::read(&self.timer, &mut buf);
        self.take_from_watcher(&mut state)?;
        let before = events.len();
        state.ready(self.settle, Some(Instant::now()), events);
        self.arm(&state)?;
        let n = events.len() - before;
        Ok((n > 0).then_some(n))
    }
}

impl State {
    fn add(&mut self, event: PathEvent, now: Instant) {
        let state = self;
        state.seq += 1;
        let seq = state.seq;
        let last_out = state.last_out.take();
        match event {
            PathEvent::Event {
                path,
                mask,
                from_scan,
            } => {
                if from_scan && state.stitched.iter().any(|d| path.starts_with(d)) {
                    return; // what a stitched rename brought in was there before
                }
                let dir_deleted = mask.contains(EventMask::DELETE | EventMask::ISDIR);
                if dir_deleted {
                    // What was pending under it is gone with it.
                    state
                        .pending
                        .retain(|p, _| !(p.starts_with(&path) && p != &path));
                }
                let fresh = Pending {
                    seq,
                    last: now,
                    kind: Kind::Event { mask, from_scan },
                };
                let next = match state.pending.remove(&path) {
                    None => fresh,
                    Some(prev) => match prev.kind {
                        // Made and removed while settling: nothing at all.
                        Kind::Event { mask: m, .. }
                            if m.contains(EventMask::CREATE)
                                && mask.contains(EventMask::DELETE) =>
                        {
                            return;
                        }
                        // Removed, then made again: the removal goes out
                        // as it was, the new file settles on its own.
                        Kind::Event { mask: m, .. }
                            if m.contains(EventMask::DELETE)
                                && mask.contains(EventMask::CREATE) =>
                        {
                            state.immediate.push((prev.seq, to_event(&path, prev.kind)));
                            fresh
                        }
                        // A burst: one event, the masks joined.
                        Kind::Event {
                            mask: m,
                            from_scan: s,
                        } => Pending {
                            seq: prev.seq,
                            last: now,
                            kind: Kind::Event {
                                mask: m | mask,
                                from_scan: s && from_scan,
                            },
                        },
                        // A rename or a move, then changes at the path:
                        // the rename goes out as it was, the changes
                        // settle after it.
                        other => {
                            state.immediate.push((prev.seq, to_event(&path, other)));
                            fresh
                        }
                    },
                };
                state.pending.insert(path, next);
            }
            PathEvent::Renamed { from, to, is_dir } => state.renamed(from, to, is_dir, seq, now),
            PathEvent::MovedOut { path, is_dir } => {
                state.last_out = Some((path.clone(), is_dir));
                if let Some(p) = state.pending.remove(&path)
                    && let Kind::Event { mask, .. } = p.kind
                    && mask.contains(EventMask::CREATE)
                {
                    return; // made and moved away while settling
                }
                state.pending.insert(
                    path,
                    Pending {
                        seq,
                        last: now,
                        kind: Kind::MovedOut { is_dir },
                    },
                );
            }
            PathEvent::MovedIn { path, is_dir } => {
                if let Some((from, was_dir)) = last_out
                    && was_dir == is_dir
                    && state
                        .pending
                        .get(&from)
                        .is_some_and(|p| matches!(p.kind, Kind::MovedOut { .. }))
                {
                    // The two halves of one rename, split across reads.
                    state.pending.remove(&from);
                    if is_dir {
                        state.stitched.push(path.clone());
                    }
                    state.renamed(from, path, is_dir, seq, now);
                    return;
                }
                state.pending.insert(
                    path,
                    Pending {
                        seq,
                        last: now,
                        kind: Kind::MovedIn { is_dir },
                    },
                );
            }
            other => {
                // Not held: what was pending goes first, in order.
                let mut all: Vec<(PathBuf, Pending)> = state.pending.drain().collect();
                all.sort_by_key(|(_, p)| p.seq);
                for (path, p) in all {
                    state.immediate.push((p.seq, to_event(&path, p.kind)));
                }
                state.immediate.push((seq, other));
            }
        }
    }

    fn renamed(&mut self, from: PathBuf, to: PathBuf, is_dir: bool, seq: u64, now: Instant) {
        let state = self;
        // Paths pending below a renamed directory move with it.
        if is_dir {
            let below: Vec<PathBuf> = state
                .pending
                .keys()
                .filter(|p| p.starts_with(&from) && **p != from)
                .cloned()
                .collect();
            for old in below {
                if let Some(p) = state.pending.remove(&old)
                    && let Ok(rest) = old.strip_prefix(&from)
                {
                    state.pending.insert(to.join(rest), p);
                }
            }
        }
        let prev = state.pending.remove(&from);
        let kind = match prev.as_ref().map(|p| &p.kind) {
            // Made (or moved in) while settling, then renamed: it is simply
            // there at the new path.
            Some(Kind::Event { mask, from_scan }) if mask.contains(EventMask::CREATE) => {
                Kind::Event {
                    mask: *mask,
                    from_scan: *from_scan,
                }
            }
            Some(Kind::MovedIn { is_dir }) => Kind::MovedIn { is_dir: *is_dir },
            // Renamed twice: one rename, from the first name.
            Some(Kind::Renamed {
                from: first,
                is_dir,
            }) => {
                if *first == to {
                    return; // and back: nothing happened
                }
                Kind::Renamed {
                    from: first.clone(),
                    is_dir: *is_dir,
                }
            }
            Some(Kind::Event { .. }) | Some(Kind::MovedOut { .. }) | None => Kind::Renamed {
                from: from.clone(),
                is_dir,
            },
        };
        let first = prev.map_or(seq, |p| p.seq);
        state.pending.insert(
            to,
            Pending {
                seq: first,
                last: now,
                kind,
            },
        );
    }

    /// Moves what has settled by `now` (everything with `None`) into
    /// `events`, in order.
    fn ready(&mut self, settle: Duration, now: Option<Instant>, events: &mut Vec<PathEvent>) {
        let state = self;
        let settled: Vec<PathBuf> = state
            .pending
            .iter()
            .filter(|(_, p)| now.is_none_or(|n| n.duration_since(p.last) >= settle))
            .map(|(k, _)| k.clone())
            .collect();
        let mut out: Vec<(u64, PathEvent)> = std::mem::take(&mut state.immediate);
        for path in settled {
            if let Some(p) = state.pending.remove(&path) {
                out.push((p.seq, to_event(&path, p.kind)));
            }
        }
        out.sort_by_key(|(seq, _)| *seq);
        events.extend(out.into_iter().map(|(_, e)| e));
        if state.pending.is_empty() {
            state.stitched.clear();
        }
    }
}

fn to_event(path: &Path, kind: Kind) -> PathEvent {
    let path = path.to_path_buf();
    match kind {
        Kind::Event { mask, from_scan } => PathEvent::Event {
            path,
            mask,
            from_scan,
        },
        Kind::Renamed { from, is_dir } => PathEvent::Renamed {
            from,
            to: path,
            is_dir,
        },
        Kind::MovedOut { is_dir } => PathEvent::MovedOut { path, is_dir },
        Kind::MovedIn { is_dir } => PathEvent::MovedIn { path, is_dir },
    }
}

/// Reads wait on the debouncer's own fd (the watcher's and the timer's),
/// with no lock held.
impl EventSource for Debouncer {
    type Event = PathEvent;

    /// The next settled event; the rest of what settled with it stays
    /// queued (visible to [`queued`](EventSource::queued)). In a poll loop
    /// use [`read_events`](EventSource::read_events).
    fn read_event(&self) -> Result<PathEvent> {
        let mut one = Vec::new();
        fd_core::read_queued(self.as_fd(), || {
            if let Some(e) = self.pop_settled() {
                return Ok(Some(e));
            }
            self.attempt(&mut one)?;
            Ok(self.queue_rest(&mut one))
        })
    }

    /// Everything settled now.
    fn read_events(&self, events: &mut Vec<PathEvent>) -> Result<usize> {
        fd_core::read_queued(self.as_fd(), || {
            let mut got = self.take_settled();
            let n = got.len();
            events.append(&mut got);
            if n > 0 {
                return Ok(Some(n));
            }
            self.attempt(events)
        })
    }

    fn read_event_timeout(&self, timeout: Duration) -> Result<Option<PathEvent>> {
        let mut one = Vec::new();
        fd_core::read_queued_timeout(self.as_fd(), timeout, || {
            if let Some(e) = self.pop_settled() {
                return Ok(Some(e));
            }
            self.attempt(&mut one)?;
            Ok(self.queue_rest(&mut one))
        })
    }

    fn queued(&self) -> usize {
        self.lock().immediate.len()
    }

    fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool> {
        if !self.lock().immediate.is_empty() {
            return Ok(true);
        }
        fd_core::wait_readable(&self.epoll, timeout)
    }
}

impl Debouncer {
    /// Settled events handed out one at a time wait in `immediate` with
    /// sequence 0, in order.
    fn pop_settled(&self) -> Option<PathEvent> {
        let mut state = self.lock();
        if state.immediate.first().is_some_and(|(seq, _)| *seq == 0) {
            return Some(state.immediate.remove(0).1);
        }
        None
    }

    fn take_settled(&self) -> Vec<PathEvent> {
        let mut state = self.lock();
        let n = state
            .immediate
            .iter()
            .take_while(|(seq, _)| *seq == 0)
            .count();
        state.immediate.drain(..n).map(|(_, e)| e).collect()
    }

    /// The first of `got` to hand out; the rest wait, first in line.
    fn queue_rest(&self, got: &mut Vec<PathEvent>) -> Option<PathEvent> {
        if got.is_empty() {
            return None;
        }
        let first = got.remove(0);
        let mut state = self.lock();
        let rest: Vec<(u64, PathEvent)> = got.drain(..).map(|e| (0, e)).collect();
        state.immediate.splice(0..0, rest);
        Some(first)
    }
}

impl AsFd for Debouncer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}

impl fmt::Debug for Debouncer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Debouncer")
            .field("watcher", &self.watcher)
            .field("settle", &self.settle)
            .field("pending", &self.lock().pending.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            pending: HashMap::new(),
            seq: 0,
            immediate: Vec::new(),
            last_out: None,
            stitched: Vec::new(),
            batch: Vec::new(),
        }
    }

    fn ev(path: &str, mask: EventMask) -> PathEvent {
        PathEvent::Event {
            path: path.into(),
            mask,
            from_scan: false,
        }
    }

    /// Feeds `events` at one instant and flushes everything.
    fn settle(events: Vec<PathEvent>) -> Vec<PathEvent> {
        let mut s = state();
        let now = Instant::now();
        for e in events {
            s.add(e, now);
        }
        let mut out = Vec::new();
        s.ready(Duration::from_secs(1), None, &mut out);
        out
    }

    const C: EventMask = EventMask::CREATE;
    const M: EventMask = EventMask::MODIFY;
    const W: EventMask = EventMask::CLOSE_WRITE;
    const D: EventMask = EventMask::DELETE;

    #[test]
    fn bursts_merge_and_short_lives_vanish() {
        let mut burst = vec![ev("/t/f", C)];
        burst.extend((0..100).map(|_| ev("/t/f", M)));
        burst.push(ev("/t/f", W));
        assert_eq!(settle(burst), [ev("/t/f", C | M | W)]);
        assert_eq!(
            settle(vec![ev("/t/tmp", C), ev("/t/tmp", M), ev("/t/tmp", D)]),
            []
        );
        // Removed and made again: both said, in order.
        assert_eq!(
            settle(vec![ev("/t/f", D), ev("/t/f", C), ev("/t/f", W)]),
            [ev("/t/f", D), ev("/t/f", C | W)]
        );
    }

    #[test]
    fn renames_carry_what_was_pending() {
        let renamed = |from: &str, to: &str| PathEvent::Renamed {
            from: from.into(),
            to: to.into(),
            is_dir: false,
        };
        // Made, then renamed twice: made at the last name.
        assert_eq!(
            settle(vec![
                ev("/t/a", C | W),
                renamed("/t/a", "/t/b"),
                renamed("/t/b", "/t/c")
            ]),
            [ev("/t/c", C | W)]
        );
        // An old file renamed twice: one rename; and back: nothing.
        assert_eq!(
            settle(vec![renamed("/t/x", "/t/y"), renamed("/t/y", "/t/z")]),
            [renamed("/t/x", "/t/z")]
        );
        assert_eq!(
            settle(vec![renamed("/t/x", "/t/y"), renamed("/t/y", "/t/x")]),
            []
        );
        // What was pending under a renamed directory moves with it.
        let dir = PathEvent::Renamed {
            from: "/t/d".into(),
            to: "/t/e".into(),
            is_dir: true,
        };
        assert_eq!(
            settle(vec![ev("/t/d/f", M), dir.clone()]),
            [ev("/t/e/f", M), dir]
        );
        // A rename, then a change at the new name: the rename first.
        assert_eq!(
            settle(vec![renamed("/t/x", "/t/y"), ev("/t/y", M)]),
            [renamed("/t/x", "/t/y"), ev("/t/y", M)]
        );
    }

    #[test]
    fn split_halves_are_stitched_and_their_scan_dropped() {
        let out = PathEvent::MovedOut {
            path: "/t/old".into(),
            is_dir: true,
        };
        let inn = PathEvent::MovedIn {
            path: "/t/new".into(),
            is_dir: true,
        };
        let scanned = PathEvent::Event {
            path: "/t/new/f".into(),
            mask: C,
            from_scan: true,
        };
        assert_eq!(
            settle(vec![out.clone(), inn.clone(), scanned.clone()]),
            [PathEvent::Renamed {
                from: "/t/old".into(),
                to: "/t/new".into(),
                is_dir: true
            }]
        );
        // Not adjacent: a move out and an unrelated move in.
        assert_eq!(
            settle(vec![
                out.clone(),
                ev("/t/other", C),
                inn.clone(),
                scanned.clone()
            ]),
            [out, ev("/t/other", C), inn, scanned]
        );
    }

    #[test]
    fn a_removed_tree_is_one_delete_and_overflow_is_not_held() {
        let dir_gone = ev("/t/d", D | EventMask::ISDIR);
        assert_eq!(
            settle(vec![
                ev("/t/d/a", D),
                ev("/t/d/b/c", D),
                ev("/t/d/b", D | EventMask::ISDIR),
                dir_gone.clone()
            ]),
            [dir_gone]
        );
        let mut s = state();
        let now = Instant::now();
        s.add(ev("/t/f", M), now);
        s.add(PathEvent::RescanNeeded, now);
        s.add(ev("/t/g", M), now);
        let mut out = Vec::new();
        // Nothing has settled, yet the overflow and what came before it go.
        s.ready(Duration::from_secs(3600), Some(now), &mut out);
        assert_eq!(out, [ev("/t/f", M), PathEvent::RescanNeeded]);
        assert_eq!(s.pending.len(), 1);
    }
}

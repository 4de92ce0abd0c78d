//! The polling backend of [`RecursiveWatcher`](super::RecursiveWatcher):
//! for filesystems that report nothing to inotify or fanotify (NFS changes
//! made on other clients, FUSE, sysfs), the trees are listed again every
//! interval and compared with the last listing.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fd_core::{Error, EventSource, Result, SyscallResult};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::time::{TimerfdClockId, TimerfdFlags, TimerfdTimerFlags};

use super::recursive::{filter_event, list};
use super::{EventMask, PathEvent, RecursiveOptions};

/// What a listing knows of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    id: (u64, u64),
    is_dir: bool,
    /// `(mtime, size)`: a change is a `MODIFY`.
    content: (i128, i128, i128),
    /// `(ctime, mode, uid, gid)`: a change alone is an `ATTRIB`.
    meta: (i128, i128, u32, u32, u32),
}

struct Root {
    given: PathBuf,
    /// Every entry below the root (not the root itself), by path; `None`
    /// while the root is not there.
    seen: Option<HashMap<PathBuf, Seen>>,
}

struct State {
    roots: Vec<Root>,
    queue: VecDeque<PathEvent>,
}

/// The trees, listed every interval.
pub(crate) struct PollTree {
    events: EventMask,
    options: RecursiveOptions,
    timer: OwnedFd,
    state: Mutex<State>,
}

fn seen(st: &rustix::fs::Stat) -> Seen {
    Seen {
        id: (st.st_dev, st.st_ino),
        is_dir: FileType::from_raw_mode(st.st_mode) == FileType::Directory,
        content: (
            i128::from(st.st_mtime),
            i128::from(st.st_mtime_nsec),
            i128::from(st.st_size),
        ),
        meta: (
            i128::from(st.st_ctime),
            i128::from(st.st_ctime_nsec),
            st.st_uid,
            st.st_gid,
            st.st_mode,
        ),
    }
}

impl PollTree {
    pub(crate) fn new(
        root: &Path,
        events: EventMask,
        options: RecursiveOptions,
    ) -> Result<PollTree> {
        let interval = options.poll_interval;
        if interval.is_zero() {
            return Err(Error::invalid_input(
                "RecursiveWatcher",
                "the polling backend needs a poll_interval above zero".to_owned(),
            ));
        }
        let timer = rustix::time::timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::CLOEXEC)
            .syscall("timerfd_create")?;
        let every = rustix::time::Timespec {
            tv_sec: interval.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: interval.subsec_nanos().into(),
        };
        rustix::time::timerfd_settime(
            &timer,
            TimerfdTimerFlags::empty(),
            &rustix::time::Itimerspec {
                it_interval: every,
                it_value: every,
            },
        )
        .syscall("timerfd_settime")?;
        let tree = PollTree {
            events,
            options,
            timer,
            state: Mutex::new(State {
                roots: Vec::new(),
                queue: VecDeque::new(),
            }),
        };
        tree.add_root(root)?;
        Ok(tree)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn add_root(&self, root: impl AsRef<Path>) -> Result<()> {
        let given = root.as_ref().to_path_buf();
        let listed = match self.listing(&given) {
            Ok(l) => Some(l),
            Err(e) if e.kind() == fd_core::ErrorKind::NotFound && self.options.wait_for_roots => {
                None
            }
            Err(e) => return Err(e),
        };
        self.lock().roots.push(Root {
            given,
            seen: listed,
        });
        Ok(())
    }

    pub(crate) fn remove_root(&self, root: &Path) -> Result<()> {
        let mut state = self.lock();
        let Some(at) = state.roots.iter().position(|r| r.given == root) else {
            return Err(Error::from_errno("remove_root", libc::ENOENT)
                .with_detail(format!("{}: not a root of this watcher", root.display())));
        };
        state.roots.remove(at);
        Ok(())
    }

    pub(crate) fn roots(&self) -> Vec<PathBuf> {
        self.lock().roots.iter().map(|r| r.given.clone()).collect()
    }

    /// The directories of the last listing, sorted.
    pub(crate) fn watched_paths(&self) -> Vec<PathBuf> {
        let state = self.lock();
        let mut out: Vec<PathBuf> = Vec::new();
        for r in &state.roots {
            if let Some(seen) = &r.seen {
                out.push(r.given.clone());
                out.extend(
                    seen.iter()
                        .filter(|(_, s)| s.is_dir)
                        .map(|(p, _)| p.clone()),
                );
            }
        }
        out.sort();
        out
    }

    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        fd_core::set_nonblocking(&self.timer, nonblocking)
    }

    /// Lists every root now and queues what changed since the last
    /// listing: `sync` for this backend, and what each tick does.
    pub(crate) fn sync(&self, _timeout: Duration) -> Result<bool> {
        let mut state = self.lock();
        self.scan(&mut state)?;
        Ok(true)
    }

    /// Every entry below `root` (a root that is a link is followed; below
    /// it only with `follow_symlinks`, each directory once).
    fn listing(&self, root: &Path) -> Result<HashMap<PathBuf, Seen>> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = rustix::fs::open(root, flags, Mode::empty())
            .syscall("open")
            .map_err(|e| {
                let why = match e.errno() {
                    libc::ENOTDIR => "not a directory: a recursive watch needs one".to_owned(),
                    _ => e.detail().unwrap_or_default().to_owned(),
                };
                let detail = if why.is_empty() || why.contains(&*root.to_string_lossy()) {
                    root.display().to_string()
                } else {
                    format!("{}: {why}", root.display())
                };
                e.with_detail(detail)
            })?;
        let mut out = HashMap::new();
        let mut visited = HashSet::new();
        if let Ok(st) = rustix::fs::fstat(&dir) {
            visited.insert((st.st_dev, st.st_ino));
        }
        self.list_into(&dir, root, root, &mut out, &mut visited);
        Ok(out)
    }

    fn list_into(
        &self,
        dir: &OwnedFd,
        root: &Path,
        path: &Path,
        out: &mut HashMap<PathBuf, Seen>,
        visited: &mut HashSet<(u64, u64)>,
    ) {
        let filter = &self.options.filter;
        for (name, kind) in list(dir) {
            let entry = path.join(&name);
            let follow = kind == FileType::Symlink && self.options.follow_symlinks;
            let flags = if follow {
                AtFlags::empty()
            } else {
                AtFlags::SYMLINK_NOFOLLOW
            };
            let Ok(st) = rustix::fs::statat(dir, &name, flags) else {
                continue; // gone meanwhile: the next listing says so
            };
            let s = seen(&st);
            if s.is_dir {
                let rel = entry.strip_prefix(root).unwrap_or(&entry);
                if !filter.is_empty() && filter.prunes(rel) {
                    continue;
                }
                if !visited.insert(s.id) {
                    continue; // reached again (a loop through a link)
                }
            }
            out.insert(entry.clone(), s);
            if s.is_dir {
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
                let flags = if follow {
                    flags
                } else {
                    flags | OFlags::NOFOLLOW
                };
                if let Ok(sub) = rustix::fs::openat(dir, &*name, flags, Mode::empty()) {
                    self.list_into(&sub, root, &entry, out, visited);
                }
            }
        }
    }

    fn push(&self, state: &mut State, event: PathEvent) {
        let given: Vec<PathBuf> = state.roots.iter().map(|r| r.given.clone()).collect();
        if let Some(e) = filter_event(&self.options.filter, &given, event) {
            state.queue.push_back(e);
        }
    }

    fn event(
        &self,
        state: &mut State,
        path: &Path,
        mask: EventMask,
        is_dir: bool,
        from_scan: bool,
    ) {
        if self.events.intersects(mask) {
            let mask = if is_dir {
                mask | EventMask::ISDIR
            } else {
                mask
            };
            self.push(
                state,
                PathEvent::Event {
                    path: path.to_path_buf(),
                    mask,
                    from_scan,
                },
            );
        }
    }

    /// Lists every root and queues the differences.
    fn scan(&self, state: &mut State) -> Result<()> {
        let mut i = 0;
        while i < state.roots.len() {
            let given = state.roots[i].given.clone();
            let now = match self.listing(&given) {
                Ok(l) => Some(l),
                Err(e)
                    if e.kind() == fd_core::ErrorKind::NotFound && self.options.wait_for_roots =>
                {
                    None
                }
                Err(e) if matches!(e.errno(), libc::ENOENT | libc::ENOTDIR) => {
                    // Gone, and not waited for: what it held is deleted,
                    // then the root itself (as inotify's DELETE_SELF), and
                    // it is watched no more.
                    let before = state.roots.remove(i).seen.unwrap_or_default();
                    self.diff(state, &before, &HashMap::new());
                    self.event(state, &given, EventMask::DELETE_SELF, false, false);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let before = state.roots[i].seen.take();
            match (before, &now) {
                (None, None) => {}
                (Some(_), None) => state.queue.push_back(PathEvent::RootGone { path: given }),
                (None, Some(now)) => {
                    state
                        .queue
                        .push_back(PathEvent::RootAppeared { path: given });
                    let mut made: Vec<(&PathBuf, &Seen)> = now.iter().collect();
                    made.sort_by(|a, b| a.0.cmp(b.0));
                    for (p, s) in made {
                        self.event(state, p, EventMask::CREATE, s.is_dir, true);
                    }
                }
                (Some(before), Some(now)) => self.diff(state, &before, now),
            }
            state.roots[i].seen = now;
            i += 1;
        }
        Ok(())
    }

    fn diff(
        &self,
        state: &mut State,
        before: &HashMap<PathBuf, Seen>,
        now: &HashMap<PathBuf, Seen>,
    ) {
        let gone: Vec<&PathBuf> = before
            .iter()
            .filter(|(p, s)| now.get(*p).is_none_or(|n| n.id != s.id))
            .map(|(p, _)| p)
            .collect();
        let made: Vec<&PathBuf> = now
            .iter()
            .filter(|(p, s)| before.get(*p).is_none_or(|b| b.id != s.id))
            .map(|(p, _)| p)
            .collect();
        // The same inode gone from one path and at another: a rename.
        let by_id: HashMap<(u64, u64), &PathBuf> =
            gone.iter().map(|p| (before[*p].id, *p)).collect();
        let mut renamed: Vec<(PathBuf, PathBuf, bool)> = Vec::new();
        let mut paired: HashSet<&PathBuf> = HashSet::new();
        let mut arrived: HashSet<&PathBuf> = HashSet::new();
        let mut made_sorted = made.clone();
        made_sorted.sort();
        for to in &made_sorted {
            let s = now[*to];
            if let Some(from) = by_id.get(&s.id)
                && before[*from].is_dir == s.is_dir
                && !paired.contains(from)
            {
                paired.insert(from);
                arrived.insert(to);
                renamed.push(((*from).clone(), (*to).clone(), s.is_dir));
            }
        }
        // What moved with a renamed directory is not news of its own.
        let dir_moves: Vec<(PathBuf, PathBuf)> = renamed
            .iter()
            .filter(|(_, _, d)| *d)
            .map(|(f, t, _)| (f.clone(), t.clone()))
            .collect();
        let implied = |from: &Path, to: &Path| {
            dir_moves.iter().any(|(df, dt)| {
                from != df
                    && from
                        .strip_prefix(df)
                        .ok()
                        .zip(to.strip_prefix(dt).ok())
                        .is_some_and(|(a, b)| a == b)
            })
        };
        for (from, to, is_dir) in &renamed {
            if implied(from, to) {
                continue;
            }
            if self.events.intersects(EventMask::MOVE) {
                self.push(
                    state,
                    PathEvent::Renamed {
                        from: from.clone(),
                        to: to.clone(),
                        is_dir: *is_dir,
                    },
                );
            }
        }
        // Removed, deepest first (as a tree is removed).
        let mut removed: Vec<&PathBuf> = gone.into_iter().filter(|p| !paired.contains(p)).collect();
        removed.sort_by(|a, b| {
            b.components()
                .count()
                .cmp(&a.components().count())
                .then(a.cmp(b))
        });
        for p in removed {
            self.event(state, p, EventMask::DELETE, before[p].is_dir, false);
        }
        for p in made_sorted {
            if !arrived.contains(p) {
                self.event(state, p, EventMask::CREATE, now[p].is_dir, false);
            }
        }
        // Changed in place.
        let mut changed: Vec<(&PathBuf, &Seen)> = now
            .iter()
            .filter(|(p, s)| before.get(*p).is_some_and(|b| b.id == s.id && *b != **s))
            .collect();
        changed.sort_by(|a, b| a.0.cmp(b.0));
        for (p, s) in changed {
            let b = before[p];
            if b.content != s.content && !s.is_dir {
                self.event(state, p, EventMask::MODIFY, false, false);
            } else if b.meta != s.meta {
                self.event(state, p, EventMask::ATTRIB, s.is_dir, false);
            }
        }
    }

    /// Lists the trees if the timer has ticked (consuming the tick):
    /// whether it had.
    fn tick(&self, state: &mut State) -> Result<bool> {
        if !fd_core::readable_now(&self.timer)? {
            return Ok(false);
        }
        let mut ticks = [0u8; 8];
        let _ = rustix::io::read(&self.timer, &mut ticks);
        self.scan(state)?;
        Ok(true)
    }

    /// One attempt: what is queued; else, if the timer has ticked, a
    /// listing. With `all`, a listing that found nothing is `Some(0)`: the
    /// fd was readable and the read did not block.
    fn attempt(&self, events: &mut Vec<PathEvent>, all: bool) -> Result<Option<usize>> {
        let mut state = self.lock();
        let ticked = state.queue.is_empty() && self.tick(&mut state)?;
        let n = if all {
            state.queue.len()
        } else {
            state.queue.len().min(1)
        };
        events.extend(state.queue.drain(..n));
        Ok((n > 0 || (all && ticked)).then_some(n))
    }
}

impl EventSource for PollTree {
    type Event = PathEvent;

    fn read_event(&self) -> Result<PathEvent> {
        let mut one = Vec::new();
        fd_core::read_queued(self.timer.as_fd(), || {
            Ok(self.attempt(&mut one, false)?.and_then(|_| one.pop()))
        })
    }

    fn read_events(&self, events: &mut Vec<PathEvent>) -> Result<usize> {
        fd_core::read_queued(self.timer.as_fd(), || self.attempt(events, true))
    }

    fn read_event_timeout(&self, timeout: Duration) -> Result<Option<PathEvent>> {
        let mut one = Vec::new();
        fd_core::read_queued_timeout(self.timer.as_fd(), timeout, || {
            Ok(self.attempt(&mut one, false)?.and_then(|_| one.pop()))
        })
    }

    fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    /// Ready when a listing found something: each tick of the timer in
    /// the time given is a listing, and only what it finds counts.
    fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
        loop {
            {
                let mut state = self.lock();
                if !state.queue.is_empty() {
                    return Ok(true);
                }
                self.tick(&mut state)?;
                if !state.queue.is_empty() {
                    return Ok(true);
                }
            }
            let left = match (timeout, deadline) {
                (None, _) => None,
                (Some(_), Some(d)) => match d.checked_duration_since(std::time::Instant::now()) {
                    Some(left) => Some(left),
                    None => return Ok(false),
                },
                (Some(_), None) => None,
            };
            if !fd_core::wait_readable(&self.timer, left)? {
                return Ok(false);
            }
        }
    }
}

impl AsFd for PollTree {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.timer.as_fd()
    }
}

impl From<PollTree> for OwnedFd {
    fn from(tree: PollTree) -> OwnedFd {
        tree.timer
    }
}

impl fmt::Debug for PollTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollTree")
            .field("roots", &self.roots())
            .field("interval", &self.options.poll_interval)
            .finish_non_exhaustive()
    }
}

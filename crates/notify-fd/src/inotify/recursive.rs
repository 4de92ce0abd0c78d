//! Watching a whole directory tree, reporting paths.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use fd_core::{EventSource, Result};

use super::{Change, EventBuffer, EventMask, InitFlags, Inotify, WatchEvent, WatchFlags};

/// What happened in the tree, by path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathEvent {
    /// Something happened at `path`.
    Event {
        /// The file or directory.
        path: PathBuf,
        /// What happened (with `ISDIR` for directories).
        mask: EventMask,
        /// Found by scanning a directory that appeared (created or moved
        /// in), not reported by the kernel: it was created before the
        /// directory's watch existed. Such an entry may also be reported by
        /// the kernel if the watch came in time.
        from_scan: bool,
    },
    /// An entry was renamed within the tree.
    Renamed {
        /// The old path.
        from: PathBuf,
        /// The new path.
        to: PathBuf,
        /// Whether it is a directory.
        is_dir: bool,
    },
    /// An entry was moved out of the tree (its watches are removed).
    MovedOut {
        /// The path it had.
        path: PathBuf,
        /// Whether it is a directory.
        is_dir: bool,
    },
    /// An entry was moved into the tree (a directory is watched and scanned).
    MovedIn {
        /// Its path.
        path: PathBuf,
        /// Whether it is a directory.
        is_dir: bool,
    },
    /// The kernel's queue overflowed and events were lost: call
    /// [`RecursiveWatcher::rescan`] and compare the tree with what you knew.
    RescanNeeded,
}

/// Events the watcher needs on every directory to follow the tree.
const TRACK: EventMask = EventMask::CREATE
    .union(EventMask::MOVED_FROM)
    .union(EventMask::MOVED_TO)
    .union(EventMask::DELETE_SELF)
    .union(EventMask::MOVE_SELF);

struct State {
    /// Watch descriptor number → the directory's path.
    dirs: HashMap<i32, PathBuf>,
    queue: VecDeque<PathEvent>,
    buffer: EventBuffer,
}

/// Watches a directory and everything below it, and reports paths.
///
/// - New subdirectories (created or moved in) are watched at once and
///   scanned, so files created in them before their watch existed are still
///   reported (`from_scan: true`): `mkdir -p a/b/c && touch a/b/c/f` in one
///   go reports every level.
/// - Renaming a directory within the tree keeps every later path right;
///   moving one out removes its watches; deleting one drops it when the
///   kernel reports `IN_IGNORED`.
/// - On queue overflow it reports [`PathEvent::RescanNeeded`];
///   [`rescan`](RecursiveWatcher::rescan) rebuilds the watches.
/// - Running out of watches is a resource-limit error that names
///   `max_user_watches` and how to raise it.
///
/// The watcher lists each directory after it starts watching it (that is
/// what closes the race above), so with `OPEN`, `ACCESS` or `CLOSE_NOWRITE`
/// in the mask, its own listing shows up as those events on the directory:
/// the kernel does not say who read it, so they are reported, not guessed
/// away.
///
/// Symbolic links are not followed. It is an [`EventSource`] of
/// [`PathEvent`]s; `AsyncRecursiveWatcher` (feature `async`) is a `Stream`.
pub struct RecursiveWatcher {
    inotify: Inotify,
    root: PathBuf,
    events: EventMask,
    state: Mutex<State>,
}

impl RecursiveWatcher {
    /// Watches `root` and every directory below it for `events`.
    ///
    /// # Errors
    /// As [`Inotify::add_watch`] for `root` or any directory below it:
    /// [`fd_core::ErrorKind::ResourceLimit`] when the watch limit is
    /// reached, [`fd_core::ErrorKind::InvalidInput`] if `root` is not a
    /// directory.
    pub fn new(root: impl AsRef<Path>, events: EventMask) -> Result<RecursiveWatcher> {
        let watcher = RecursiveWatcher {
            inotify: Inotify::with_flags(InitFlags::empty())?,
            root: root.as_ref().to_path_buf(),
            events,
            state: Mutex::new(State {
                dirs: HashMap::new(),
                queue: VecDeque::new(),
                buffer: EventBuffer::default(),
            }),
        };
        {
            let mut state = watcher.lock();
            watcher.add_tree(&mut state, &watcher.root, false)?;
        }
        Ok(watcher)
    }

    /// The directory watched.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// How many directories are watched now.
    pub fn watched_dirs(&self) -> usize {
        self.lock().dirs.len()
    }

    /// Every watched directory, sorted.
    pub fn watched_paths(&self) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = self.lock().dirs.values().cloned().collect();
        paths.sort();
        paths
    }

    /// Removes every watch and watches the tree again, after an overflow.
    pub fn rescan(&self) -> Result<()> {
        let mut state = self.lock();
        for wd in state.dirs.keys() {
            // A watch may be gone already; that is what a rescan is for.
            let _ = super::inotify_rm_watch(&self.inotify, *wd);
        }
        state.dirs.clear();
        self.add_tree(&mut state, &self.root, false)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Watches `dir` and the directories below it; with `report`, queues a
    /// `from_scan` event for every entry found.
    fn add_tree(&self, state: &mut State, dir: &Path, report: bool) -> Result<()> {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let flags = WatchFlags::ONLYDIR | WatchFlags::DONT_FOLLOW;
            match self.inotify.add_watch(&dir, self.events | TRACK, flags) {
                Ok(wd) => {
                    state.dirs.insert(wd.raw(), dir.clone());
                }
                // Gone (or replaced by a file) before we got to it: nothing to watch.
                Err(e) if matches!(e.errno(), libc::ENOENT | libc::ENOTDIR) && dir != self.root => {
                    continue;
                }
                Err(e) => return Err(e),
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                let path = entry.path();
                if report {
                    let mask = if is_dir {
                        EventMask::CREATE | EventMask::ISDIR
                    } else {
                        EventMask::CREATE
                    };
                    if self.events.contains(EventMask::CREATE) {
                        state.queue.push_back(PathEvent::Event {
                            path: path.clone(),
                            mask,
                            from_scan: true,
                        });
                    }
                }
                if is_dir {
                    stack.push(path);
                }
            }
        }
        Ok(())
    }

    fn path_of(state: &State, event: &WatchEvent<OsString>) -> Option<PathBuf> {
        let dir = state.dirs.get(&event.wd.raw())?;
        Some(match &event.name {
            Some(name) => dir.join(name),
            None => dir.clone(),
        })
    }

    /// Turns one change into path events, keeping the watches in step.
    fn process(&self, state: &mut State, change: Change<OsString>) -> Result<()> {
        match change {
            Change::Overflow => state.queue.push_back(PathEvent::RescanNeeded),
            Change::Event(e) => {
                let Some(path) = Self::path_of(state, &e) else {
                    return Ok(());
                };
                if e.is_ignored() {
                    state.dirs.remove(&e.wd.raw());
                    return Ok(());
                }
                // A subdirectory's own DELETE_SELF / MOVE_SELF repeats what its
                // parent reports as DELETE / MOVED_FROM; only the root's count.
                if e.name.is_none()
                    && e.mask
                        .intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF)
                    && path != self.root
                {
                    return Ok(());
                }
                let wanted = e.mask.intersects(self.events) || e.mask.contains(EventMask::UNMOUNT);
                if wanted {
                    state.queue.push_back(PathEvent::Event {
                        path: path.clone(),
                        mask: e.mask,
                        from_scan: false,
                    });
                }
                if e.mask.contains(EventMask::CREATE) && e.is_dir() {
                    self.add_tree(state, &path, true)?;
                }
            }
            Change::Renamed { from, to } => {
                let (Some(old), Some(new)) =
                    (Self::path_of(state, &from), Self::path_of(state, &to))
                else {
                    return Ok(());
                };
                if from.is_dir() {
                    for dir in state.dirs.values_mut() {
                        if let Ok(rest) = dir.strip_prefix(&old) {
                            *dir = new.join(rest);
                        }
                    }
                }
                if self.events.intersects(EventMask::MOVE) {
                    state.queue.push_back(PathEvent::Renamed {
                        from: old,
                        to: new,
                        is_dir: from.is_dir(),
                    });
                }
            }
            Change::MovedOut(e) => {
                let Some(path) = Self::path_of(state, &e) else {
                    return Ok(());
                };
                if e.is_dir() {
                    let gone: Vec<i32> = state
                        .dirs
                        .iter()
                        .filter(|(_, p)| p.starts_with(&path))
                        .map(|(wd, _)| *wd)
                        .collect();
                    for wd in gone {
                        let _ = super::inotify_rm_watch(&self.inotify, wd);
                        state.dirs.remove(&wd);
                    }
                }
                if self.events.contains(EventMask::MOVED_FROM) {
                    state.queue.push_back(PathEvent::MovedOut {
                        path,
                        is_dir: e.is_dir(),
                    });
                }
            }
            Change::MovedIn(e) => {
                let Some(path) = Self::path_of(state, &e) else {
                    return Ok(());
                };
                if self.events.contains(EventMask::MOVED_TO) {
                    state.queue.push_back(PathEvent::MovedIn {
                        path: path.clone(),
                        is_dir: e.is_dir(),
                    });
                }
                if e.is_dir() {
                    self.add_tree(state, &path, true)?;
                }
            }
        }
        Ok(())
    }

    /// Reads one batch from the kernel and processes it into the queue.
    fn fill(&self, state: &mut State) -> Result<()> {
        let mut buffer = std::mem::take(&mut state.buffer);
        let changes: Result<Vec<Change<OsString>>> = self
            .inotify
            .read_batch(&mut buffer)
            .map(|events| events.changes().map(|c| c.to_owned_change()).collect());
        state.buffer = buffer;
        for change in changes? {
            self.process(state, change)?;
        }
        Ok(())
    }
}

impl EventSource for RecursiveWatcher {
    type Event = PathEvent;

    fn read_event(&self) -> Result<PathEvent> {
        let mut state = self.lock();
        loop {
            if let Some(event) = state.queue.pop_front() {
                return Ok(event);
            }
            self.fill(&mut state)?;
        }
    }

    fn read_events(&self, events: &mut Vec<PathEvent>) -> Result<usize> {
        let mut state = self.lock();
        if state.queue.is_empty() {
            self.fill(&mut state)?;
        }
        let n = state.queue.len();
        events.extend(state.queue.drain(..));
        Ok(n)
    }

    /// A batch from the kernel may yield no path event at all (an
    /// `IN_IGNORED`, a subdirectory's own `DELETE_SELF`), so this waits
    /// again with the time that is left rather than blocking in a read.
    fn read_event_timeout(&self, timeout: Duration) -> Result<Option<PathEvent>> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(event) = self.lock().queue.pop_front() {
                return Ok(Some(event));
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if !fd_core::wait_readable(&self.inotify, left)? {
                return Ok(None);
            }
            let mut state = self.lock();
            match self.fill(&mut state) {
                // Another reader took the batch between the wait and the read.
                Err(e) if e.kind() == fd_core::ErrorKind::WouldBlock => {}
                other => other?,
            }
        }
    }

    /// Ready at once if events found earlier (by scans) are still queued.
    fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        if !self.lock().queue.is_empty() {
            return Ok(true);
        }
        fd_core::wait_readable(&self.inotify, timeout)
    }
}

impl AsFd for RecursiveWatcher {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }
}

impl fmt::Debug for RecursiveWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecursiveWatcher")
            .field("root", &self.root)
            .field("events", &self.events)
            .field("watched_dirs", &self.watched_dirs())
            .finish()
    }
}

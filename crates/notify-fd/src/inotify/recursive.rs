//! Watching whole directory trees, reporting paths.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fd_core::{Error, EventSource, Result, SyscallResult};
use rustix::fs::{FileType, Mode, OFlags};

use super::{Backend, Change, EventBuffer, EventMask, InitFlags, Inotify, WatchEvent, WatchFlags};
use crate::PathFilter;

/// What happened in the tree, by path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PathEvent {
    /// Something happened at `path`.
    Event {
        /// The file or directory.
        path: PathBuf,
        /// What happened (with `ISDIR` for directories).
        mask: EventMask,
        /// Found by scanning a directory that appeared (created or moved
        /// in), not reported by the kernel: the entry was there before the
        /// directory's watch existed, or arrived while the watcher listed
        /// it. Each entry is reported once: when the kernel reports the same
        /// creation too, its event is dropped. With `CREATE` in the mask it
        /// says the entry appeared; with `CLOSE_WRITE` (only with
        /// [`RecursiveOptions::scanned_close_write`]) that a scanned regular
        /// file was open for writing by nobody when it was found.
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
    /// An entry left the tree (its watches are removed), or was renamed
    /// into a directory whose scan had already reported it at its new path.
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
    /// The kernel's queue overflowed and events were lost. The watcher has
    /// already walked the tree again and watches every directory in it now
    /// (one created during the overflow included); what changed in between
    /// is not reported: compare the tree with what you knew.
    RescanNeeded,
    /// A directory that appeared in the tree (or that a rescan found)
    /// could not be watched: events inside it are not reported. `errno`
    /// says why: `ENOSPC` when `max_user_watches` is reached (see
    /// `fs.inotify.max_user_watches`), `EACCES` without read access,
    /// `ENOMEM`. The watcher goes on with the rest of the tree; a
    /// [`rescan`](super::RecursiveWatcher::rescan) once watches are free again
    /// picks it up.
    NotWatched {
        /// The directory.
        path: PathBuf,
        /// Why, as the kernel's errno.
        errno: i32,
    },
    /// With [`RecursiveOptions::wait_for_roots`]: a root that was not
    /// there is now (made, or moved into place), and is watched. What it
    /// holds already follows as `CREATE` events with `from_scan: true`.
    RootAppeared {
        /// The root, as given.
        path: PathBuf,
    },
    /// With [`RecursiveOptions::wait_for_roots`]: a root was deleted or
    /// moved away. Its watches are gone; it is waited for again, and
    /// [`PathEvent::RootAppeared`] says when it is back.
    RootGone {
        /// The root, as given.
        path: PathBuf,
    },
}

/// Options for [`RecursiveWatcher::with_options`](super::RecursiveWatcher::with_options).
///
/// The default is what `butter watch -r` does: `scanned_close_write` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecursiveOptions {
    /// On by default. With `CLOSE_WRITE` in the mask: report every regular file a scan
    /// finds in a new directory as `CLOSE_WRITE` with `from_scan: true` when
    /// no process has it open for writing at that moment, and leave it to
    /// the kernel's own `CLOSE_WRITE` (which then comes, since the watch
    /// exists) when one has. So every file written into the tree gets
    /// exactly one "complete" event, even one written and closed before its
    /// directory was watched.
    ///
    /// A file the kernel reports created in the new directory (it appeared
    /// after the watch) gets no scan event: its writer opened it with the
    /// watch in place, so the kernel's `CLOSE_WRITE` comes. (`open` with
    /// `O_CREAT` puts the name in the directory a moment before the writer
    /// counts as one; a lease taken in that moment sees no writer.) Such a
    /// scan event is held back until the kernel's events from before the
    /// scan's end have been read, so the watcher's queue may wait on them;
    /// they are already in the kernel's queue, so that wait is short. A
    /// file created after the watch and never opened for writing
    /// (`mknod`, `O_CREAT|O_RDONLY`) gets no `CLOSE_WRITE`, as the kernel
    /// gives none.
    ///
    /// The kernel answers "is anyone writing it" through a read lease
    /// (`F_SETLEASE`), held for microseconds; that needs the file to be
    /// ours or `CAP_LEASE`, and a filesystem with leases. Where it cannot
    /// answer, the event is still made, and the file may still be being
    /// written.
    ///
    /// A side effect on the process: if a writer opens the file in the
    /// microseconds the lease is held, the kernel breaks it by sending this
    /// process `SIGURG` (set with `F_SETSIG` on the watcher's own fd for
    /// the file). `SIGURG` is ignored by default; a program with its own
    /// `SIGURG` handler sees that signal, and one that must not should turn
    /// this option off (and then gets no "complete" for files written and
    /// closed before their directory was watched).
    ///
    /// For every close on a whole filesystem with no such gap, use
    /// fanotify's `CLOSE_WRITE` on a filesystem mark (needs root).
    pub scanned_close_write: bool,
    /// What is left out (`node_modules`, `.git`, `target`): a directory
    /// the filter [prunes](PathFilter::prunes) is never watched, nor
    /// anything below it, so it costs no watch and no start-up time; no
    /// event under it is reported. With include globs, only events whose
    /// path matches are reported. A rename between a left-out path and a
    /// watched one is reported as the side that is watched
    /// ([`PathEvent::MovedOut`] or [`PathEvent::MovedIn`]); a left-out
    /// directory renamed to a watched name is watched and scanned then.
    pub filter: PathFilter,
    /// Which kernel interface watches the tree: inotify unless set (see
    /// [`Backend`] for what each sees).
    pub backend: Backend,
    /// Off by default (a root that is not there is an error). On: a root
    /// that does not exist yet is watched for from its nearest existing
    /// ancestor (one watch there, for entries made or moved in), level by
    /// level as its path is made; once it is there it is watched and
    /// scanned, reported as [`PathEvent::RootAppeared`]. A root deleted or
    /// moved away is reported as [`PathEvent::RootGone`] and waited for
    /// again. (A rename of a directory above a root is not seen: the root
    /// is followed where it went.)
    pub wait_for_roots: bool,
    /// Off by default. On: a symbolic link below a root that leads to a
    /// directory is followed, as `find -L` (notify's
    /// `with_follow_symlinks`): the directory is watched and reported under
    /// the link's path. Loop-safe: a directory already watched (the link
    /// leads back up, or to another part of the tree) is not watched again
    /// and keeps the path it has. A link made later is followed once made;
    /// removing or moving it away stops watching what it led to. A link
    /// to a directory above a root watches all of that directory. The
    /// inotify backend only: the fanotify backend would have to walk the
    /// tree to find links, and refuses ([`Backend::Auto`] takes inotify).
    pub follow_symlinks: bool,
    /// With [`Backend::Poll`]: how often the trees are listed again (1 s
    /// unless set).
    pub poll_interval: Duration,
}

impl Default for RecursiveOptions {
    fn default() -> RecursiveOptions {
        RecursiveOptions {
            scanned_close_write: true,
            filter: PathFilter::new(),
            backend: Backend::Inotify,
            wait_for_roots: false,
            follow_symlinks: false,
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// Events the watcher needs on every directory to follow the tree; those
/// the caller did not ask for are not reported. `DELETE` tells when a name
/// reported by a scan can be created anew.
const TRACK: EventMask = EventMask::CREATE
    .union(EventMask::DELETE)
    .union(EventMask::MOVED_FROM)
    .union(EventMask::MOVED_TO)
    .union(EventMask::DELETE_SELF)
    .union(EventMask::MOVE_SELF);

/// The events the kernel reports both on a directory's own watch and, with
/// its name, on its parent's.
const CHILD_EVENTS: EventMask = EventMask::OPEN
    .union(EventMask::ACCESS)
    .union(EventMask::MODIFY)
    .union(EventMask::ATTRIB)
    .union(EventMask::CLOSE_WRITE)
    .union(EventMask::CLOSE_NOWRITE);

/// What listing a directory (or checking a file's writers) shows as events
/// on the watches of the directory and its parent.
const OWN_READS: EventMask = EventMask::OPEN
    .union(EventMask::ACCESS)
    .union(EventMask::CLOSE_NOWRITE);

/// A watched directory: where it is (its parent's watch and its name, so a
/// rename of any ancestor moves it with no bookkeeping) and which inode.
#[derive(Debug)]
struct Node {
    /// `None` for a root.
    parent: Option<i32>,
    /// The name in the parent; for a root, the path as given.
    name: OsString,
    /// `(st_dev, st_ino)`.
    id: (u64, u64),
}

/// How a tree is walked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// Start-up and after an overflow: each directory is watched with
    /// [`TRACK`] only while it and its subdirectories are listed, so the
    /// listing makes no events at all (a large tree must not overflow the
    /// queue with our own reads); the caller's events are added after.
    Quiet,
    /// A directory that appeared: watched for everything at once, so no
    /// event inside it is missed while it is listed; entries are reported,
    /// our own reads are filtered out.
    Live,
}

struct State {
    nodes: HashMap<i32, Node>,
    children: HashMap<(i32, OsString), i32>,
    /// Events to hand out, in order; a held one (a scan's `CLOSE_WRITE`)
    /// may still be withdrawn, and stops the queue until it is decided.
    queue: VecDeque<(PathEvent, Option<Hold>)>,
    buffer: EventBuffer,
    /// Bytes read from the kernel so far.
    read_bytes: u64,
    /// Events a scan made up, per `(directory watch, name)`: the kernel's
    /// report of the same thing is dropped.
    scanned: HashMap<(i32, OsString), EventMask>,
    /// Entries we read ourselves (`None`: the directory itself), whose
    /// `OPEN`/`ACCESS`/`CLOSE_NOWRITE` events are ours.
    own: HashSet<(i32, Option<OsString>)>,
    /// Every event our scans could be confused with was queued before this
    /// many bytes; past it, `scanned` and `own` are forgotten.
    horizon: u64,
    /// Watches seen by the current resync.
    seen: Option<HashSet<i32>>,
    /// Whether a directory below a root that cannot be watched is reported
    /// as [`PathEvent::NotWatched`] and passed over (while the watcher
    /// runs) rather than failing the call (while a root is added).
    pass_over: bool,
    /// The caller's filter, and the roots its globs are relative to.
    filter: PathFilter,
    roots: Vec<PathBuf>,
    /// [`RecursiveWatcher::sync`]'s files, by `(root watch, name)`: their
    /// events are the watcher's own; `true` once the last (its `DELETE`,
    /// or an overflow that may have lost it) has been read.
    cookies: HashMap<(i32, OsString), bool>,
    /// Roots not there yet, each watched for at its nearest ancestor.
    pending: Vec<Pending>,
    /// The next `walk` reaches its directory through a symbolic link.
    via_link: bool,
}

/// A root that is not there ([`RecursiveOptions::wait_for_roots`]): the
/// watch on its nearest existing ancestor, and the name there that leads
/// to it. `owned` when the watch is only for this (not a tree's), so it is
/// removed when no longer needed.
#[derive(Debug)]
struct Pending {
    root: PathBuf,
    wd: i32,
    next: OsString,
    owned: bool,
}

/// The event as `filter` lets it through, with paths relative to the first
/// of `roots` that holds them: whole, as the side of a rename that is
/// reported, or not at all.
pub(crate) fn filter_event(
    filter: &PathFilter,
    roots: &[PathBuf],
    event: PathEvent,
) -> Option<PathEvent> {
    if filter.is_empty() {
        return Some(event);
    }
    let reports = |path: &Path| {
        roots
            .iter()
            .find_map(|r| path.strip_prefix(r).ok())
            .is_none_or(|r| filter.reports(r))
    };
    match event {
        PathEvent::Event { ref path, .. }
        | PathEvent::MovedOut { ref path, .. }
        | PathEvent::MovedIn { ref path, .. }
        | PathEvent::NotWatched { ref path, .. } => reports(path).then_some(event),
        PathEvent::Renamed { from, to, is_dir } => match (reports(&from), reports(&to)) {
            (true, true) => Some(PathEvent::Renamed { from, to, is_dir }),
            (true, false) => Some(PathEvent::MovedOut { path: from, is_dir }),
            (false, true) => Some(PathEvent::MovedIn { path: to, is_dir }),
            (false, false) => None,
        },
        PathEvent::RescanNeeded | PathEvent::RootAppeared { .. } | PathEvent::RootGone { .. } => {
            Some(event)
        }
    }
}

/// Makes an empty file (0600, `.butter-sync.PID.N`, a name nobody has) in
/// `root` and removes it at once: `sync`'s barrier. `mark(name, true)` is
/// called before the file is made, so a reader in another thread knows its
/// events are ours; `mark(name, false)` when it is given up (that name was
/// taken, or it failed).
///
/// # Errors
/// The `open` or `unlink` that failed, naming the root.
pub(crate) fn make_cookie(root: &Path, mut mark: impl FnMut(&OsStr, bool)) -> Result<OsString> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = OsString::from(format!(".butter-sync.{}.{n}", std::process::id()));
        mark(&name, true);
        let path = root.join(&name);
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
        match rustix::fs::open(&path, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => {
                drop(fd);
                if let Err(e) = rustix::fs::unlink(&path).syscall("unlink") {
                    mark(&name, false);
                    return Err(e.with_detail(path.display().to_string()));
                }
                return Ok(name);
            }
            Err(e) => {
                mark(&name, false);
                if e == rustix::io::Errno::EXIST {
                    continue; // someone's file of that name: another
                }
                return Err(Error::from_errno("open", e.raw_os_error())
                    .with_detail(format!("sync: cannot make a file in {}", root.display())));
            }
        }
    }
}

/// Whether `name` is a `sync` file's (`.butter-sync.PID.N`), ours or
/// another watcher's: never reported, in a root.
pub(crate) fn is_cookie_name(name: &OsStr) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Some(rest) = name.as_bytes().strip_prefix(b".butter-sync.") else {
        return false;
    };
    let mut parts = rest.split(|b| *b == b'.');
    let digits =
        |p: Option<&[u8]>| p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
}

/// Calls `reached` until it says the barrier is reached or `timeout`
/// passes, waiting for `fd` between calls in slices of at most 20 ms (so a
/// report taken by another thread's read is seen soon).
pub(crate) fn wait_for(
    fd: BorrowedFd<'_>,
    timeout: Duration,
    mut reached: impl FnMut() -> Result<bool>,
) -> Result<bool> {
    let deadline = std::time::Instant::now().checked_add(timeout);
    loop {
        if reached()? {
            return Ok(true);
        }
        let slice = Duration::from_millis(20);
        let left = match deadline {
            None => slice,
            Some(d) => match d.checked_duration_since(std::time::Instant::now()) {
                Some(left) if !left.is_zero() => left.min(slice),
                _ => return Ok(false),
            },
        };
        fd_core::wait_readable(fd, Some(left))?;
    }
}

/// A scan's `CLOSE_WRITE` for the file `key` that the kernel may yet show
/// to be premature: if a `CREATE` (or `MOVED_TO`) of the same name on the
/// same watch was queued before the scan ended, the file appeared after the
/// directory's watch, so any writer of it opened it with the watch in place
/// and the kernel's own `CLOSE_WRITE` will come. A file created with
/// `open(O_CREAT|O_WRONLY)` is in the directory before its writer counts as
/// one, so the lease saw no writer: reporting it "complete" then would be
/// early, and doubled by the kernel's event. The hold is decided once every
/// byte queued before the scan ended (`until`) has been read.
#[derive(Debug)]
struct Hold {
    key: (i32, OsString),
    until: u64,
}

impl State {
    fn push(&mut self, event: PathEvent) {
        if let Some(event) = self.filtered(event) {
            self.queue.push_back((event, None));
        }
    }

    /// A scan's "complete", held (see [`Hold`]), unless the filter leaves
    /// the file out.
    fn push_held(&mut self, event: PathEvent, hold: Hold) {
        if let Some(event) = self.filtered(event) {
            self.queue.push_back((event, Some(hold)));
        }
    }

    /// `path` relative to the root it is under (the first that holds it).
    fn relative<'p>(&self, path: &'p Path) -> Option<&'p Path> {
        self.roots.iter().find_map(|r| path.strip_prefix(r).ok())
    }

    /// Whether the filter leaves out the directory at `path` and all below.
    fn prunes(&self, path: &Path) -> bool {
        !self.filter.is_empty() && self.relative(path).is_some_and(|r| self.filter.prunes(r))
    }

    /// The event as the filter lets it through.
    fn filtered(&self, event: PathEvent) -> Option<PathEvent> {
        filter_event(&self.filter, &self.roots, event)
    }

    /// The first event, unless it is a hold not yet decided (more must be
    /// read from the kernel first).
    fn pop_ready(&mut self) -> Option<PathEvent> {
        match self.queue.front() {
            Some((_, Some(hold))) if self.read_bytes < hold.until => None,
            Some(_) => self.queue.pop_front().map(|(event, _)| event),
            None => None,
        }
    }

    /// Whether [`pop_ready`](State::pop_ready) has an event to give.
    fn has_ready(&self) -> bool {
        match self.queue.front() {
            Some((_, Some(hold))) => self.read_bytes >= hold.until,
            Some(_) => true,
            None => false,
        }
    }

    /// The kernel reported `key` created: the scan's "complete" for it, if
    /// one is held, was premature; the kernel's own will come.
    fn withdraw(&mut self, key: &(i32, OsString)) {
        self.queue
            .retain(|(_, hold)| hold.as_ref().is_none_or(|h| h.key != *key));
        if let Some(m) = self.scanned.get_mut(key) {
            m.remove(EventMask::CLOSE_WRITE);
        }
    }

    /// Every hold made by the scan that just ended is decided once `until`
    /// bytes have been read.
    fn close_holds(&mut self, until: u64) {
        for (_, hold) in &mut self.queue {
            if let Some(h) = hold
                && h.until == u64::MAX
            {
                h.until = until;
            }
        }
    }
}

/// The inotify backend of [`RecursiveWatcher`]: a watch per directory.
pub(crate) struct InotifyTree {
    inotify: Inotify,
    roots: Mutex<Vec<PathBuf>>,
    events: EventMask,
    options: RecursiveOptions,
    state: Mutex<State>,
}

impl InotifyTree {
    /// Watches `root` and every directory below it.
    pub(crate) fn with_options(
        root: impl AsRef<Path>,
        events: EventMask,
        options: RecursiveOptions,
    ) -> Result<InotifyTree> {
        let watcher = InotifyTree {
            inotify: Inotify::with_flags(InitFlags::empty())?,
            roots: Mutex::new(Vec::new()),
            events,
            state: Mutex::new(State {
                nodes: HashMap::new(),
                children: HashMap::new(),
                queue: VecDeque::new(),
                buffer: EventBuffer::default(),
                read_bytes: 0,
                scanned: HashMap::new(),
                own: HashSet::new(),
                horizon: 0,
                seen: None,
                pass_over: false,
                filter: options.filter.clone(),
                roots: Vec::new(),
                cookies: HashMap::new(),
                pending: Vec::new(),
                via_link: false,
            }),
            options,
        };
        watcher.add_root(root)?;
        Ok(watcher)
    }

    /// Watches one more tree with the same instance: events of every root
    /// come through this one watcher, under paths that start with the root
    /// as given. A directory under two roots is reported under the first.
    ///
    /// # Errors
    /// As [`new`](RecursiveWatcher::new).
    pub(crate) fn add_root(&self, root: impl AsRef<Path>) -> Result<()> {
        let root = root.as_ref().to_path_buf();
        let mut state = self.lock();
        state.pass_over = false;
        state.roots.push(root.clone());
        match self.walk(&mut state, None, root.as_os_str(), &root, Walk::Quiet, None) {
            Err(e) if e.kind() == fd_core::ErrorKind::NotFound && self.options.wait_for_roots => {
                if let Err(e) = self.wait_for_root(&mut state, &root) {
                    state.roots.pop();
                    return Err(e);
                }
            }
            Err(e) => {
                state.roots.pop();
                return Err(e);
            }
            Ok(()) => {}
        }
        self.roots_lock().push(root);
        Ok(())
    }

    /// Stops watching `root` (as given to [`add_root`](InotifyTree::add_root)
    /// or the constructor): its watches are removed, or its wait ends; the
    /// other roots are walked again, so a directory they share stays
    /// watched.
    pub(crate) fn remove_root(&self, root: &Path) -> Result<()> {
        let mut state = self.lock();
        let Some(at) = state.roots.iter().position(|r| r == root) else {
            return Err(Error::from_errno("remove_root", libc::ENOENT)
                .with_detail(format!("{}: not a root of this watcher", root.display())));
        };
        state.roots.remove(at);
        self.roots_lock().retain(|r| r != root);
        let waits: Vec<usize> = (0..state.pending.len())
            .filter(|i| state.pending[*i].root == root)
            .collect();
        for i in waits.into_iter().rev() {
            self.end_wait(&mut state, i);
        }
        if let Some(wd) = root_wd(&state, root) {
            self.drop_subtree(&mut state, wd);
        }
        if state.roots.is_empty() {
            return Ok(());
        }
        self.resync(&mut state)
    }

    /// Watches for `root`, which is not there, from its nearest existing
    /// ancestor; if it is there by the time that watch is in place, it is
    /// watched (and reported appeared) at once.
    fn wait_for_root(&self, state: &mut State, root: &Path) -> Result<()> {
        loop {
            let mut below = root.to_path_buf();
            let (dir, next) = loop {
                let Some(name) = below.file_name().map(OsStr::to_owned) else {
                    return Err(Error::from_errno("open", libc::ENOENT).with_detail(format!(
                        "{}: not there, and no directory above it to wait in",
                        root.display()
                    )));
                };
                let parent = match below.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                if rustix::fs::stat(&parent)
                    .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
                {
                    break (parent, name);
                }
                below = parent;
            };
            let mask = EventMask::CREATE
                | EventMask::MOVED_TO
                | EventMask::DELETE_SELF
                | EventMask::MOVE_SELF;
            let wd =
                match self
                    .inotify
                    .add_watch(&dir, mask, WatchFlags::ONLYDIR | WatchFlags::MASK_ADD)
                {
                    Ok(wd) => wd.raw(),
                    // Gone in the meantime: look again.
                    Err(e) if matches!(e.errno(), libc::ENOENT | libc::ENOTDIR) => continue,
                    Err(e) => return Err(e),
                };
            let owned = !state.nodes.contains_key(&wd);
            state.pending.push(Pending {
                root: root.to_path_buf(),
                wd,
                next: next.clone(),
                owned,
            });
            // Made before the watch was in place: go on down at once.
            if rustix::fs::lstat(dir.join(&next)).is_ok() {
                let i = state.pending.len() - 1;
                self.end_wait(state, i);
                if self.arrive(state, root)? {
                    return Ok(());
                }
                continue;
            }
            return Ok(());
        }
    }

    /// Ends the wait `i`, removing its watch if it is only the wait's.
    fn end_wait(&self, state: &mut State, i: usize) {
        let p = state.pending.remove(i);
        let shared = state.pending.iter().any(|o| o.wd == p.wd) || state.nodes.contains_key(&p.wd);
        if p.owned && !shared {
            let _ = super::inotify_rm_watch(&self.inotify, p.wd);
        }
    }

    /// `root` may be there now: watch and scan it, reported appeared
    /// (`Ok(true)`), or `Ok(false)` if it is still not there.
    fn arrive(&self, state: &mut State, root: &Path) -> Result<bool> {
        let at = state.queue.len();
        let was = state.pass_over;
        state.pass_over = true;
        let walked = self.walk(state, None, root.as_os_str(), root, Walk::Live, None);
        state.pass_over = was;
        match walked {
            Err(e)
                if matches!(
                    e.kind(),
                    fd_core::ErrorKind::NotFound | fd_core::ErrorKind::InvalidInput
                ) =>
            {
                state.queue.truncate(at);
                Ok(false)
            }
            Err(e) => {
                state.queue.truncate(at);
                state.queue.push_back((
                    PathEvent::NotWatched {
                        path: root.to_path_buf(),
                        errno: e.errno(),
                    },
                    None,
                ));
                Ok(true)
            }
            Ok(()) => {
                let queued = self.inotify.queued_bytes().unwrap_or(0) as u64;
                state.horizon = state.horizon.max(state.read_bytes + queued);
                state.close_holds(state.read_bytes + queued);
                state.queue.insert(
                    at,
                    (
                        PathEvent::RootAppeared {
                            path: root.to_path_buf(),
                        },
                        None,
                    ),
                );
                Ok(true)
            }
        }
    }

    /// An event on a watch some waits are on: the next name on the way
    /// to a root appeared, or the directory waited in went away.
    fn pending_event(&self, state: &mut State, e: &WatchEvent<OsString>) -> Result<()> {
        let wd = e.wd.raw();
        let gone = e.is_ignored()
            || e.mask
                .intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF);
        let arrived = e.mask.intersects(EventMask::CREATE | EventMask::MOVED_TO) && e.is_dir();
        let mut i = 0;
        while i < state.pending.len() {
            let p = &state.pending[i];
            let hit =
                p.wd == wd && (gone || (arrived && e.name.as_deref() == Some(p.next.as_os_str())));
            if !hit {
                i += 1;
                continue;
            }
            let root = p.root.clone();
            if e.is_ignored() {
                state.pending[i].owned = false; // the kernel removed it
            }
            self.end_wait(state, i);
            if !self.arrive(state, &root)? {
                self.wait_for_root(state, &root)?;
            }
            // The list changed under `i`: look at it all again.
            i = 0;
        }
        Ok(())
    }

    /// A root was deleted or moved away: its watches go, and it is waited
    /// for again.
    fn root_gone(&self, state: &mut State, wd: i32, root: PathBuf) -> Result<()> {
        self.drop_subtree(state, wd);
        state
            .queue
            .push_back((PathEvent::RootGone { path: root.clone() }, None));
        if !self.arrive(state, &root)? {
            self.wait_for_root(state, &root)?;
        }
        Ok(())
    }

    /// Switches between blocking and non-blocking mode: in non-blocking
    /// mode reads fail with [`fd_core::ErrorKind::WouldBlock`] instead of
    /// waiting.
    ///
    /// # Errors
    /// As `fcntl(F_SETFL)`.
    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        self.inotify.set_nonblocking(nonblocking)
    }

    /// Every root, in the order they were added.
    pub(crate) fn roots(&self) -> Vec<PathBuf> {
        self.roots_lock().clone()
    }

    /// How many directories are watched now.
    pub(crate) fn watched_dirs(&self) -> usize {
        self.lock().nodes.len()
    }

    /// Every watched directory, sorted.
    pub(crate) fn watched_paths(&self) -> Vec<PathBuf> {
        let state = self.lock();
        let mut paths: Vec<PathBuf> = state
            .nodes
            .keys()
            .filter_map(|wd| path_of(&state, *wd))
            .collect();
        paths.sort();
        paths
    }

    /// Walks every tree again: watches directories that are not watched
    /// (created while events were lost), forgets those that are gone, and
    /// keeps the rest. The watcher does this by itself on an overflow.
    ///
    /// # Errors
    /// As [`new`](RecursiveWatcher::new), for a root.
    pub(crate) fn rescan(&self) -> Result<()> {
        let mut state = self.lock();
        self.resync(&mut state)
    }

    /// Waits until every change made in the trees before the call has been
    /// read from the kernel: afterwards their events are in the watcher's
    /// queue, and [`try_read_event`](EventSource::try_read_event) or
    /// [`read_events`](EventSource::read_events) hands them out without
    /// waiting. A test, or a build tool that has just written files, reads
    /// exactly what it caused this way, without stopping the reader and
    /// without guessing how long the kernel takes.
    ///
    /// It works as watchman's cookie files: it makes an empty file (mode
    /// 0600, named `.butter-sync.PID.N`) in the first root that takes one,
    /// removes it at once, and reads until the kernel's report of the
    /// removal comes back. One instance has one queue, in the order things
    /// happened, so one file answers for every root. The file's events are
    /// the watcher's own and never reported; no filter applies to them.
    ///
    /// Returns `Ok(false)` if `timeout` passed first. An overflow on the
    /// way ends the wait too: what was lost is reported as
    /// [`PathEvent::RescanNeeded`]. While another thread reads the same
    /// watcher, the report may be taken by that thread; this call sees it
    /// within some milliseconds.
    ///
    /// Since the queue is in the watcher and not in the kernel, a `poll`
    /// on the fd after this call does not wake for those events: read
    /// them first.
    ///
    /// # Errors
    /// When no root takes the file (each read-only, not writable by us,
    /// or gone), the error for the last root tried, naming it. As reads.
    pub(crate) fn sync(&self, timeout: Duration) -> Result<bool> {
        let key = self.place_cookie()?;
        let result = wait_for(self.as_fd(), timeout, || {
            let mut state = self.lock();
            loop {
                if state.cookies.get(&key) == Some(&true) {
                    return Ok(true);
                }
                if !fd_core::readable_now(&self.inotify)? {
                    return Ok(false);
                }
                match self.fill(&mut state) {
                    Err(e) if e.kind() == fd_core::ErrorKind::WouldBlock => return Ok(false),
                    other => other?,
                }
            }
        });
        self.lock().cookies.remove(&key);
        result
    }

    /// Makes and removes `sync`'s file in the first root that takes it;
    /// its events are marked ours first.
    fn place_cookie(&self) -> Result<(i32, OsString)> {
        let mut state = self.lock();
        let roots: Vec<(i32, PathBuf)> = self
            .roots()
            .into_iter()
            .filter_map(|root| {
                let wd = state.nodes.iter().find_map(|(wd, n)| {
                    (n.parent.is_none() && n.name == root.as_os_str()).then_some(*wd)
                })?;
                Some((wd, root))
            })
            .collect();
        let mut last = Error::from_errno("open", libc::ENOENT)
            .with_detail("sync: no root of the watcher is watched any more");
        for (wd, root) in roots {
            let made = make_cookie(&root, |name, ours| {
                let key = (wd, name.to_owned());
                if ours {
                    state.cookies.insert(key, false);
                } else {
                    state.cookies.remove(&key);
                }
            });
            match made {
                Ok(name) => return Ok((wd, name)),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn roots_lock(&self) -> MutexGuard<'_, Vec<PathBuf>> {
        self.roots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The mask every directory ends up with.
    fn full_mask(&self) -> EventMask {
        (self.events | TRACK) - EventMask::REPORTED_ONLY
    }

    /// Whether the caller asked for an event with `mask`.
    fn wanted(&self, mask: EventMask) -> bool {
        (mask - EventMask::ISDIR).intersects(self.events)
    }

    fn resync(&self, state: &mut State) -> Result<()> {
        // What the lost events would have said of a held "complete" is
        // gone: each is handed out as the scan made it.
        for (_, hold) in &mut state.queue {
            if let Some(h) = hold {
                h.until = 0;
            }
        }
        state.scanned.clear();
        state.own.clear();
        state.seen = Some(HashSet::new());
        state.pass_over = true;
        let roots = state.roots.clone();
        let mut result = Ok(());
        let mut lost = Vec::new();
        for root in &roots {
            if state.pending.iter().any(|p| &p.root == root) {
                continue; // not there: waited for
            }
            match self.walk(state, None, root.as_os_str(), root, Walk::Quiet, None) {
                Err(e)
                    if e.kind() == fd_core::ErrorKind::NotFound && self.options.wait_for_roots =>
                {
                    lost.push(root.clone());
                }
                Err(e) => result = Err(e),
                Ok(()) => {}
            }
        }
        let seen = state.seen.take().unwrap_or_default();
        let gone: Vec<i32> = state
            .nodes
            .keys()
            .filter(|wd| !seen.contains(wd))
            .copied()
            .collect();
        for wd in gone {
            let _ = super::inotify_rm_watch(&self.inotify, wd);
            forget(state, wd);
        }
        for root in lost {
            state
                .queue
                .push_back((PathEvent::RootGone { path: root.clone() }, None));
            self.wait_for_root(state, &root)?;
        }
        result
    }

    /// Watches the directory at `path` (`name` in `parent`) and every
    /// directory below it; with [`Walk::Live`], reports what it finds.
    fn walk(
        &self,
        state: &mut State,
        parent: Option<i32>,
        name: &OsStr,
        path: &Path,
        how: Walk,
        at: Option<BorrowedFd<'_>>,
    ) -> Result<()> {
        let is_root = parent.is_none();
        let via_link = std::mem::take(&mut state.via_link);
        if !is_root && state.prunes(path) {
            return Ok(()); // left out: no watch, nothing below it
        }
        // Where no event we asked for can come of our own reads, the
        // directory is opened once, for reading, and listed through that
        // fd; otherwise through O_PATH (which makes no OPEN event) and a
        // listing opened once the watch is quiet.
        let fast = !self.full_mask().intersects(OWN_READS);
        let mut flags = OFlags::DIRECTORY | OFlags::CLOEXEC;
        flags |= if fast { OFlags::RDONLY } else { OFlags::PATH };
        if !is_root && !via_link {
            flags |= OFlags::NOFOLLOW;
        }
        // Relative to the directory being listed, when there is one: no
        // walk of the whole path again.
        let opened = match at {
            Some(parent_fd) => rustix::fs::openat(parent_fd, name, flags, Mode::empty()),
            None => rustix::fs::open(path, flags, Mode::empty()),
        };
        let dir = match opened.syscall("open") {
            Ok(fd) if fast => Opened::Stream(rustix::fs::Dir::new(fd).syscall("fdopendir")?),
            Ok(fd) => Opened::Path(fd),
            // No read access to a directory that appeared: as a watch
            // refused, it is passed over and said so.
            Err(e) if fast && !is_root && state.pass_over && e.errno() == libc::EACCES => {
                state.push(PathEvent::NotWatched {
                    path: path.to_path_buf(),
                    errno: e.errno(),
                });
                return Ok(());
            }
            // Gone, or replaced by a file or link, before we got to it:
            // the events that say so are queued.
            Err(e)
                if !is_root && matches!(e.errno(), libc::ENOENT | libc::ENOTDIR | libc::ELOOP) =>
            {
                return Ok(());
            }
            Err(e) if is_root => {
                let why = match e.errno() {
                    libc::ENOTDIR => "not a directory: a recursive watch needs one".to_owned(),
                    _ => e.detail().unwrap_or_default().to_owned(),
                };
                let detail = if why.is_empty() {
                    path.display().to_string()
                } else {
                    format!("{}: {why}", path.display())
                };
                return Err(e.with_detail(detail));
            }
            Err(e) => return Err(e),
        };
        let st = rustix::fs::fstat(dir.fd()?).syscall("fstat")?;
        let id = (st.st_dev, st.st_ino);
        // Quiet: while listing, watch only for what our reads cannot
        // cause, then for everything; where the caller asked for none of
        // what reads cause, one watch with everything is as quiet.
        let two_step = how == Walk::Quiet && self.full_mask().intersects(OWN_READS);
        let first_mask = if two_step { TRACK } else { self.full_mask() };
        let wd = match self.watch_fd(dir.fd()?, path, first_mask, is_root) {
            Ok(wd) => wd,
            Err(e)
                if state.pass_over
                    && !is_root
                    && matches!(
                        e.kind(),
                        fd_core::ErrorKind::ResourceLimit | fd_core::ErrorKind::PermissionDenied
                    ) =>
            {
                state.push(PathEvent::NotWatched {
                    path: path.to_path_buf(),
                    errno: e.errno(),
                });
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if let Some(seen) = &mut state.seen {
            seen.insert(wd);
        }
        let known = state.nodes.contains_key(&wd);
        if known && via_link {
            // Reached again through a link (a loop, or a second path to
            // it): it stays where it is, once.
            return Ok(());
        }
        // A root already watched under another root stays where it is.
        if !known || (parent.is_some() && !is_root_node(state, wd)) {
            link(state, wd, parent, name, id);
        }
        if known && how == Walk::Live {
            // Already watched (moved back in before we saw it leave): its
            // subtree is watched, and the mask is full again.
            return Ok(());
        }
        if how == Walk::Live {
            state.own.insert((wd, None));
            if let Some(p) = parent {
                state.own.insert((p, Some(name.to_owned())));
            }
        }
        let mut dir = dir;
        let entries = match &mut dir {
            Opened::Stream(stream) => list_stream(stream),
            Opened::Path(fd) => list(fd),
        };
        let mut files = Vec::new();
        for (entry, kind) in &entries {
            let is_dir = *kind == FileType::Directory;
            if how == Walk::Live {
                let mask = if is_dir {
                    EventMask::CREATE | EventMask::ISDIR
                } else {
                    EventMask::CREATE
                };
                if self.events.contains(EventMask::CREATE) {
                    state.push(PathEvent::Event {
                        path: path.join(entry),
                        mask,
                        from_scan: true,
                    });
                }
                *state
                    .scanned
                    .entry((wd, entry.clone()))
                    .or_insert(EventMask::empty()) |= EventMask::CREATE;
                if *kind == FileType::RegularFile {
                    files.push(entry);
                }
            }
            let link_dir = *kind == FileType::Symlink
                && self.options.follow_symlinks
                && rustix::fs::statat(dir.fd()?, entry, rustix::fs::AtFlags::empty())
                    .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
            if is_dir || link_dir {
                state.via_link = link_dir;
                let at = Some(dir.fd()?);
                self.walk(state, Some(wd), entry, &path.join(entry), how, at)?;
            }
        }
        if two_step {
            self.watch_fd(dir.fd()?, path, self.full_mask(), is_root)?;
        }
        if self.options.scanned_close_write && self.events.contains(EventMask::CLOSE_WRITE) {
            for file in files {
                state.own.insert((wd, Some(file.clone())));
                if crate::lease::has_writer(dir.fd()?, file) != Some(true) {
                    let hold = Hold {
                        key: (wd, file.clone()),
                        until: u64::MAX,
                    };
                    let event = PathEvent::Event {
                        path: path.join(file),
                        mask: EventMask::CLOSE_WRITE,
                        from_scan: true,
                    };
                    state.push_held(event, hold);
                    *state
                        .scanned
                        .entry((wd, file.clone()))
                        .or_insert(EventMask::empty()) |= EventMask::CLOSE_WRITE;
                }
            }
        }
        Ok(())
    }

    /// `inotify_add_watch` on the very inode `dir` holds, through its
    /// `/proc/self/fd` link (a path could name another inode by now); by
    /// path where `/proc` is not mounted.
    fn watch_fd(
        &self,
        dir: BorrowedFd<'_>,
        path: &Path,
        mask: EventMask,
        follow: bool,
    ) -> Result<i32> {
        use std::os::fd::AsRawFd;
        let proc_path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        match self
            .inotify
            .add_watch(&proc_path, mask, WatchFlags::ONLYDIR)
        {
            Ok(wd) => Ok(wd.raw()),
            Err(e) if e.errno() == libc::ENOENT => {
                let mut flags = WatchFlags::ONLYDIR;
                if !follow {
                    flags |= WatchFlags::DONT_FOLLOW;
                }
                self.inotify.add_watch(path, mask, flags).map(|wd| wd.raw())
            }
            // Named by the directory the caller knows, not /proc/self/fd/N.
            Err(e) => {
                let detail = e
                    .detail()
                    .map(|d| d.replace(&*proc_path.to_string_lossy(), &path.to_string_lossy()));
                Err(match detail {
                    Some(d) => e.with_detail(d),
                    None => e,
                })
            }
        }
    }

    /// A directory appeared at `name` in `parent`: watch and scan it.
    fn appeared(&self, state: &mut State, parent: i32, name: &OsStr, path: &Path) -> Result<()> {
        state.pass_over = true;
        state.via_link = self.is_link_to_dir(path);
        let walked = self.walk(state, Some(parent), name, path, Walk::Live, None);
        // Everything our scan could be confused with is queued by now.
        let queued = self.inotify.queued_bytes().unwrap_or(0) as u64;
        state.horizon = state.horizon.max(state.read_bytes + queued);
        state.close_holds(state.read_bytes + queued);
        walked
    }

    /// With [`RecursiveOptions::follow_symlinks`]: whether `path` is a
    /// symbolic link that leads to a directory.
    fn is_link_to_dir(&self, path: &Path) -> bool {
        self.options.follow_symlinks
            && rustix::fs::lstat(path)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink)
            && rustix::fs::stat(path)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
    }

    fn report(&self, state: &mut State, path: PathBuf, mask: EventMask) {
        if self.wanted(mask) {
            state.push(PathEvent::Event {
                path,
                mask,
                from_scan: false,
            });
        }
    }

    /// Turns one change into path events, keeping the watches in step.
    fn process(&self, state: &mut State, change: Change<OsString>) -> Result<()> {
        match change {
            Change::Overflow => {
                // A sync file's events may be among those lost: what it
                // waits for has been read (the overflow says what is lost).
                for done in state.cookies.values_mut() {
                    *done = true;
                }
                state.push(PathEvent::RescanNeeded);
                self.resync(state)?;
            }
            Change::Event(e) => self.process_event(state, e)?,
            Change::Renamed { from, to } => {
                let (Some(old), Some(new)) = (entry_path(state, &from), entry_path(state, &to))
                else {
                    // One side is no longer ours (its watch was removed).
                    if entry_path(state, &from).is_some() {
                        return self.process(state, Change::MovedOut(from));
                    }
                    if entry_path(state, &to).is_some() {
                        return self.process(state, Change::MovedIn(to));
                    }
                    return Ok(());
                };
                let (fwd, twd) = (from.wd.raw(), to.wd.raw());
                let (fname, tname) = (name_of(&from), name_of(&to));
                state.scanned.remove(&(fwd, fname.clone()));
                // A scan of the new directory found it there already (and,
                // for a directory, watched it): only its leaving is news.
                let already = state.scanned.remove(&(twd, tname.clone())).is_some();
                let followed = self.options.follow_symlinks
                    && !from.is_dir()
                    && (state.children.contains_key(&(fwd, fname.clone()))
                        || self.is_link_to_dir(&new));
                if (from.is_dir() || followed) && !already {
                    if let Some(replaced) = state.children.get(&(twd, tname.clone())).copied() {
                        // Renamed over an empty directory: that one is gone.
                        detach(state, replaced);
                    }
                    match state.children.get(&(fwd, fname)).copied() {
                        Some(wd) => {
                            let id = state.nodes.get(&wd).map_or((0, 0), |n| n.id);
                            link(state, wd, Some(twd), &tname, id);
                        }
                        // Never watched (created and renamed before we got to it).
                        None => self.appeared(state, twd, &tname, &new)?,
                    }
                }
                if already {
                    if self.events.contains(EventMask::MOVED_FROM) {
                        state.push(PathEvent::MovedOut {
                            path: old,
                            is_dir: from.is_dir(),
                        });
                    }
                } else if self.events.intersects(EventMask::MOVE) {
                    state.push(PathEvent::Renamed {
                        from: old,
                        to: new,
                        is_dir: from.is_dir(),
                    });
                }
            }
            Change::MovedOut(e) => {
                let Some(path) = entry_path(state, &e) else {
                    return Ok(());
                };
                let (wd, name) = (e.wd.raw(), name_of(&e));
                state.scanned.remove(&(wd, name.clone()));
                if (e.is_dir() || self.options.follow_symlinks)
                    && let Some(child) = state.children.get(&(wd, name)).copied()
                    && !still_at(state, child, &path)
                {
                    self.drop_subtree(state, child);
                }
                if self.events.contains(EventMask::MOVED_FROM) {
                    state.push(PathEvent::MovedOut {
                        path,
                        is_dir: e.is_dir(),
                    });
                }
            }
            Change::MovedIn(e) => {
                let Some(path) = entry_path(state, &e) else {
                    return Ok(());
                };
                let (wd, name) = (e.wd.raw(), name_of(&e));
                // A file moved in was written before (no writer had it when
                // the scan looked): its held "complete" stands.
                if state.scanned.remove(&(wd, name.clone())).is_some() {
                    return Ok(()); // a scan reported it already
                }
                if self.events.contains(EventMask::MOVED_TO) {
                    state.push(PathEvent::MovedIn {
                        path: path.clone(),
                        is_dir: e.is_dir(),
                    });
                }
                if e.is_dir() || self.is_link_to_dir(&path) {
                    self.appeared(state, wd, &name, &path)?;
                }
            }
        }
        Ok(())
    }

    fn process_event(&self, state: &mut State, e: WatchEvent<OsString>) -> Result<()> {
        let wd = e.wd.raw();
        if state.pending.iter().any(|p| p.wd == wd) {
            self.pending_event(state, &e)?;
        }
        if e.is_ignored() {
            forget(state, wd);
            return Ok(());
        }
        let Some(dir) = path_of(state, wd) else {
            return Ok(()); // a watch we removed; its last events are not ours
        };
        let Some(name) = e.name.clone() else {
            // The directory itself.
            if e.mask.intersects(OWN_READS) && state.own.contains(&(wd, None)) {
                return Ok(());
            }
            // A subdirectory's own DELETE_SELF / MOVE_SELF repeats what its
            // parent reports as DELETE / MOVED_FROM; only a root's count.
            if e.mask
                .intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF)
                && !is_root_node(state, wd)
            {
                return Ok(());
            }
            // So do its own OPEN, ACCESS, MODIFY, ATTRIB and CLOSE_*: the
            // kernel reports them to the parent's watch too, under the
            // subdirectory's name (`ls d/sub` was printed twice). The
            // parent's is the one kept, as for a file.
            if e.mask.intersects(CHILD_EVENTS) && !is_root_node(state, wd) {
                return Ok(());
            }
            let gone = e
                .mask
                .intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF);
            self.report(state, dir.clone(), e.mask);
            if gone && self.options.wait_for_roots {
                self.root_gone(state, wd, dir)?;
            }
            return Ok(());
        };
        let key = (wd, name.clone());
        if let Some(done) = state.cookies.get_mut(&key) {
            // A sync file: nobody else's business. Its DELETE is its last.
            *done |= e.mask.contains(EventMask::DELETE);
            return Ok(());
        }
        if is_cookie_name(&name) && is_root_node(state, wd) {
            return Ok(()); // another watcher's sync file
        }
        if e.mask.intersects(OWN_READS) && state.own.contains(&(wd, Some(name.clone()))) {
            return Ok(());
        }
        let path = dir.join(&name);
        if e.mask.contains(EventMask::CREATE) {
            if let Some(m) = state.scanned.get_mut(&key)
                && m.contains(EventMask::CREATE)
            {
                m.remove(EventMask::CREATE);
                // Created with the watch in place: the kernel reports its
                // close, not the scan.
                state.withdraw(&key);
                return Ok(()); // the scan reported it
            }
            self.report(state, path.clone(), e.mask);
            if e.is_dir() || self.is_link_to_dir(&path) {
                self.appeared(state, wd, &name, &path)?;
            }
            return Ok(());
        }
        if e.mask.contains(EventMask::CLOSE_WRITE)
            && let Some(m) = state.scanned.get_mut(&key)
            && m.contains(EventMask::CLOSE_WRITE)
        {
            m.remove(EventMask::CLOSE_WRITE);
            return Ok(()); // reported as complete by the scan
        }
        if e.mask.contains(EventMask::DELETE) {
            state.scanned.remove(&key);
            if let Some(child) = state.children.get(&key).copied() {
                if e.is_dir() {
                    // Its watch goes with IN_IGNORED; the name is free now.
                    detach(state, child);
                } else {
                    // A followed link: what it led to is still there.
                    self.drop_subtree(state, child);
                }
            }
        }
        self.report(state, path, e.mask);
        Ok(())
    }

    /// Removes the watches of `wd` and every directory below it.
    fn drop_subtree(&self, state: &mut State, top: i32) {
        let below: Vec<i32> = state
            .nodes
            .keys()
            .copied()
            .filter(|wd| is_under(state, *wd, top))
            .collect();
        for wd in below {
            let _ = super::inotify_rm_watch(&self.inotify, wd);
            forget(state, wd);
        }
    }

    /// Reads one batch from the kernel and processes it into the queue.
    fn fill(&self, state: &mut State) -> Result<()> {
        let mut buffer = std::mem::take(&mut state.buffer);
        let read = self.inotify.read_batch(&mut buffer).map(|events| {
            let changes: Vec<Change<OsString>> =
                events.changes().map(|c| c.to_owned_change()).collect();
            (events.byte_len() as u64, changes)
        });
        state.buffer = buffer;
        let (len, changes) = read?;
        if state.read_bytes >= state.horizon {
            // Nothing read from here on can be one of our scans' doubles.
            state.scanned.clear();
            state.own.clear();
        }
        state.read_bytes += len;
        for change in changes {
            self.process(state, change)?;
        }
        Ok(())
    }
}

/// A directory being walked: by `O_PATH`, or open for reading and listed
/// through the same fd.
enum Opened {
    Path(OwnedFd),
    Stream(rustix::fs::Dir),
}

impl Opened {
    fn fd(&self) -> Result<BorrowedFd<'_>> {
        match self {
            Opened::Path(fd) => Ok(fd.as_fd()),
            Opened::Stream(d) => d.fd().syscall("dirfd"),
        }
    }
}

/// The entries a directory stream gives (not `.` and `..`), with their
/// types (asked of the filesystem where the listing does not say).
fn list_stream(stream: &mut rustix::fs::Dir) -> Vec<(OsString, FileType)> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = Vec::new();
    while let Some(Ok(entry)) = stream.read() {
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        out.push((OsStr::from_bytes(name).to_owned(), entry.file_type()));
    }
    if let Ok(fd) = stream.fd() {
        for (name, kind) in &mut out {
            if *kind == FileType::Unknown {
                *kind = rustix::fs::statat(fd, &*name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
                    .map_or(FileType::Unknown, |st| FileType::from_raw_mode(st.st_mode));
            }
        }
    }
    out
}

/// The entries of a directory (not `.` and `..`), with their types.
pub(crate) fn list(dir: &OwnedFd) -> Vec<(OsString, FileType)> {
    use std::os::unix::ffi::OsStrExt;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let Ok(fd) = rustix::fs::openat(dir, ".", flags, Mode::empty()) else {
        return Vec::new();
    };
    let Ok(entries) = rustix::fs::Dir::new(fd) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = OsStr::from_bytes(name).to_owned();
        let kind = match entry.file_type() {
            FileType::Unknown => {
                rustix::fs::statat(dir, &name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
                    .map_or(FileType::Unknown, |st| FileType::from_raw_mode(st.st_mode))
            }
            kind => kind,
        };
        out.push((name, kind));
    }
    out
}

fn name_of(e: &WatchEvent<OsString>) -> OsString {
    e.name.clone().unwrap_or_default()
}

/// The watch of the root given as `root`, if it is a root node.
fn root_wd(state: &State, root: &Path) -> Option<i32> {
    state
        .nodes
        .iter()
        .find_map(|(wd, n)| (n.parent.is_none() && n.name == root.as_os_str()).then_some(*wd))
}

/// The path of a watched directory: its ancestors' names joined.
fn path_of(state: &State, wd: i32) -> Option<PathBuf> {
    let mut names = Vec::new();
    let mut at = wd;
    loop {
        let node = state.nodes.get(&at)?;
        names.push(&node.name);
        match node.parent {
            Some(p) => at = p,
            None => break,
        }
        if names.len() > state.nodes.len() {
            return None; // a cycle cannot happen; never loop on one
        }
    }
    let root = names.pop()?;
    if root.is_empty() {
        return None; // detached: deleted or replaced, its IGNORED pending
    }
    let mut path = PathBuf::from(root);
    for name in names.iter().rev() {
        path.push(name);
    }
    Some(path)
}

fn entry_path(state: &State, e: &WatchEvent<OsString>) -> Option<PathBuf> {
    let dir = path_of(state, e.wd.raw())?;
    Some(match &e.name {
        Some(name) => dir.join(name),
        None => dir,
    })
}

fn is_root_node(state: &State, wd: i32) -> bool {
    state
        .nodes
        .get(&wd)
        .is_some_and(|n| n.parent.is_none() && !n.name.is_empty())
}

fn is_under(state: &State, wd: i32, top: i32) -> bool {
    let mut at = Some(wd);
    let mut steps = 0;
    while let Some(w) = at {
        if w == top {
            return true;
        }
        steps += 1;
        if steps > state.nodes.len() {
            return false;
        }
        at = state.nodes.get(&w).and_then(|n| n.parent);
    }
    false
}

/// Whether the directory `wd` is still the one at `path` (by inode).
fn still_at(state: &State, wd: i32, path: &Path) -> bool {
    let Some(node) = state.nodes.get(&wd) else {
        return false;
    };
    rustix::fs::lstat(path).is_ok_and(|st| (st.st_dev, st.st_ino) == node.id)
}

/// Records that `wd` is `name` in `parent`.
fn link(state: &mut State, wd: i32, parent: Option<i32>, name: &OsStr, id: (u64, u64)) {
    if let Some(old) = state.nodes.get(&wd)
        && let Some(p) = old.parent
    {
        let key = (p, old.name.clone());
        if state.children.get(&key) == Some(&wd) {
            state.children.remove(&key);
        }
    }
    if let Some(p) = parent {
        state.children.insert((p, name.to_owned()), wd);
    }
    state.nodes.insert(
        wd,
        Node {
            parent,
            name: name.to_owned(),
            id,
        },
    );
}

/// Unhooks `wd` from the tree (deleted or replaced; its `IN_IGNORED` is on
/// the way): it has no path any more.
fn detach(state: &mut State, wd: i32) {
    if let Some(node) = state.nodes.get_mut(&wd) {
        if let Some(p) = node.parent.take() {
            let key = (p, std::mem::take(&mut node.name));
            if state.children.get(&key) == Some(&wd) {
                state.children.remove(&key);
            }
        }
        node.name = OsString::new();
    }
}

/// Forgets a watch that the kernel removed (or we did).
fn forget(state: &mut State, wd: i32) {
    if let Some(node) = state.nodes.remove(&wd)
        && let Some(p) = node.parent
    {
        let key = (p, node.name);
        if state.children.get(&key) == Some(&wd) {
            state.children.remove(&key);
        }
    }
    state.scanned.retain(|(w, _), _| *w != wd);
}

impl InotifyTree {
    /// One attempt of a queued read, under the lock: what the queue has
    /// ready, then batches from the kernel while it has them (so no read
    /// blocks, and a batch that yields nothing ready is not the end).
    fn attempt<T>(&self, take: &mut impl FnMut(&mut State) -> Option<T>) -> Result<Option<T>> {
        let mut state = self.lock();
        loop {
            if state.has_ready()
                && let Some(got) = take(&mut state)
            {
                return Ok(Some(got));
            }
            if !fd_core::readable_now(&self.inotify)? {
                return Ok(None);
            }
            match self.fill(&mut state) {
                // A reader outside this type took the batch first.
                Err(e) if e.kind() == fd_core::ErrorKind::WouldBlock => return Ok(None),
                other => other?,
            }
        }
    }
}

/// Reads through the queue with no lock held while waiting (see
/// [`fd_core::read_queued`]): a reader blocked here never stops another
/// thread's `try_read_event`, `add_root` or `rescan`.
impl EventSource for InotifyTree {
    type Event = PathEvent;

    /// One event: the next one ready, or the first a fresh batch (and the
    /// scans it causes) yields, the rest of which stays queued. In your own
    /// poll loop use [`read_events`](EventSource::read_events), which hands
    /// out all.
    fn read_event(&self) -> Result<PathEvent> {
        fd_core::read_queued(self.as_fd(), || self.attempt(&mut State::pop_ready))
    }

    /// Every event ready (those read earlier, and what one batch from the
    /// kernel and the scans it causes yield): nothing ready stays queued. A
    /// scan's held `CLOSE_WRITE` waits for bytes the kernel still has, so
    /// the fd stays readable for it.
    ///
    /// Once it has read from the kernel it returns, with `Ok(0)` if what it
    /// read was all the watcher's own business (an `IN_IGNORED`, a
    /// subdirectory's `DELETE_SELF`): after `poll` said readable it never
    /// blocks. It blocks (on a blocking fd) only while there is nothing to
    /// read at all.
    fn read_events(&self, events: &mut Vec<PathEvent>) -> Result<usize> {
        fd_core::read_queued(self.as_fd(), || {
            let mut state = self.lock();
            let mut read_any = false;
            loop {
                let before = events.len();
                while let Some(event) = state.pop_ready() {
                    events.push(event);
                }
                let n = events.len() - before;
                if n > 0 {
                    return Ok(Some(n));
                }
                if !fd_core::readable_now(&self.inotify)? {
                    return Ok(read_any.then_some(0));
                }
                match self.fill(&mut state) {
                    // A reader outside this type took the batch first.
                    Err(e) if e.kind() == fd_core::ErrorKind::WouldBlock => {
                        return Ok(read_any.then_some(0));
                    }
                    other => other?,
                }
                read_any = true;
            }
        })
    }

    /// A batch from the kernel may yield no path event at all (an
    /// `IN_IGNORED`, a subdirectory's own `DELETE_SELF`), so this waits
    /// again with the time that is left rather than blocking in a read.
    fn read_event_timeout(&self, timeout: Duration) -> Result<Option<PathEvent>> {
        fd_core::read_queued_timeout(self.as_fd(), timeout, || {
            self.attempt(&mut State::pop_ready)
        })
    }

    fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    /// Ready at once if events found earlier (by scans) are still queued.
    fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool> {
        if self.lock().has_ready() {
            return Ok(true);
        }
        fd_core::wait_readable(&self.inotify, timeout)
    }
}

impl AsFd for InotifyTree {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }
}

impl std::os::fd::AsRawFd for InotifyTree {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inotify.as_raw_fd()
    }
}

/// The watcher's inotify fd, every watch in place. Events it had queued
/// and not handed out are dropped: take them first (`read_events` hands
/// out all, `queued` counts them).
impl From<InotifyTree> for OwnedFd {
    fn from(watcher: InotifyTree) -> OwnedFd {
        OwnedFd::from(watcher.inotify)
    }
}

impl fmt::Debug for InotifyTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InotifyTree")
            .field("roots", &self.roots())
            .field("events", &self.events)
            .field("options", &self.options)
            .field("watched_dirs", &self.watched_dirs())
            .finish()
    }
}

//! [`RecursiveWatcher`]: a tree watcher over either backend.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use fd_core::{EventSource, Result};

use super::poll::PollTree;
use super::recursive::InotifyTree;
use super::{EventMask, PathEvent, RecursiveOptions};
use crate::fanotify::tree::FanTree;

/// Which kernel interface a [`RecursiveWatcher`] uses.
///
/// - **inotify**: a watch on every directory, added as directories appear
///   (and a scan of each new one, for what was made in it before its watch
///   existed). Works for every user. Costs one watch per directory against
///   `fs.inotify.max_user_watches`, and start-up time and kernel memory
///   that grow with the tree. Sees nothing that a filesystem does not
///   report locally (changes made on another NFS client, most FUSE
///   filesystems' remote changes).
/// - **fanotify**: one mark on each root's whole filesystem
///   (`FAN_MARK_FILESYSTEM`, `FAN_REPORT_DFID_NAME` with target FIDs),
///   events named through file handles and kept to those under the roots.
///   Needs `CAP_SYS_ADMIN` and `CAP_DAC_READ_SEARCH` (root), Linux 5.17,
///   and a filesystem that reports file handles (ext4, xfs, btrfs, tmpfs;
///   not most network or FUSE filesystems). Start-up is one mark per
///   filesystem, whatever the tree's size; no watch limit; no new-directory
///   race. What it cannot do: a directory that existed before the watcher
///   started and is first touched after it was renamed may be reported
///   under its new name for events from before the rename (its name is
///   found when first needed, as the kernel knows it then); an event in a
///   directory that was deleted before its event was read, when the
///   watcher never saw the directory's name, cannot be named and is
///   dropped. Events the kernel merged (one file changed several times
///   before the reader got to it) come out once per kind, in the order a
///   file's life has them (create, open, access, modify, attrib,
///   close_write, close_nowrite, delete). A bind mount of the same
///   filesystem elsewhere is the same filesystem: changes made through it
///   are seen, under the root's path. Mount and permission events are
///   not reported.
/// - **poll**: the trees listed again every
///   [`poll_interval`](RecursiveOptions::poll_interval) and compared with
///   the last listing, for filesystems that report nothing (changes made
///   by other NFS clients, FUSE, sysfs, procfs). Chosen only by name, never
///   by `Auto`. It reports `CREATE`, `DELETE`, `MODIFY` (the modification
///   time or size changed), `ATTRIB` (only the status changed) and renames
///   (the same inode gone from one path and at another; what moved with a
///   renamed directory is not reported again); nothing of opens, reads or
///   closes (`CLOSE_WRITE` never comes). A change undone within one
///   interval is not seen; a file changed twice is one `MODIFY`. Each
///   listing costs a `stat` per entry. `sync` lists at once. Its fd is a
///   timerfd that ticks every interval.
/// - **auto**: fanotify where it works (every root), inotify otherwise;
///   [`RecursiveWatcher::backend`] says which, and
///   [`RecursiveWatcher::fanotify_refused`] why not fanotify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Backend {
    /// inotify, a watch per directory (the default).
    #[default]
    Inotify,
    /// fanotify, a mark per filesystem (root only).
    Fanotify,
    /// fanotify where it works, inotify otherwise.
    Auto,
    /// The trees listed again every interval (for filesystems that report
    /// nothing).
    Poll,
}

impl std::str::FromStr for Backend {
    type Err = fd_core::Error;

    /// `inotify`, `fanotify` or `auto`.
    fn from_str(s: &str) -> Result<Backend> {
        match s {
            "inotify" => Ok(Backend::Inotify),
            "fanotify" => Ok(Backend::Fanotify),
            "auto" => Ok(Backend::Auto),
            "poll" => Ok(Backend::Poll),
            _ => Err(fd_core::Error::invalid_input(
                "backend",
                format!("unknown backend {s:?}: inotify, fanotify, auto or poll"),
            )),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Inotify => "inotify",
            Backend::Fanotify => "fanotify",
            Backend::Auto => "auto",
            Backend::Poll => "poll",
        })
    }
}

// Made once and kept in place: the size of a variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum Inner {
    Inotify(InotifyTree),
    Fanotify(FanTree),
    Poll(PollTree),
}

/// Watches directory trees and reports paths, through inotify (a watch
/// per directory, the default) or fanotify (one mark per filesystem);
/// see [`Backend`] for what each can and cannot see. A program reads the
/// same [`PathEvent`]s, under the same paths, from either.
///
/// With the inotify backend:
///
/// - New subdirectories (created or moved in) are watched at once and
///   scanned, so files created in them before their watch existed are still
///   reported (`from_scan: true`): `mkdir -p a/b/c && touch a/b/c/f` in one
///   go reports every level, and each entry once, whether the scan or the
///   kernel saw it first. A directory created and renamed before the watcher
///   got to it is watched under its new name.
/// - Directories are tracked by watch and inode, not by path: a rename of
///   any ancestor keeps every later path right. Each event's path is the
///   path its directory had when the kernel queued it, as known from the
///   events before it: a reader that fell behind sees `create d1/f`,
///   then `renamed d1 -> d2`, then events under `d2`. Events are reported in
///   the kernel's order.
/// - Moving a directory out removes its watches; deleting one drops it when
///   the kernel reports `IN_IGNORED`. A directory moved out and another made
///   under the same name at once are told apart by inode.
/// - The watcher's own listings make no events: at start-up (and after an
///   overflow) by watching only for entry changes while it lists, later by
///   dropping the `OPEN`/`ACCESS`/`CLOSE_NOWRITE` that its reads of a new
///   directory cause. (A read of that same directory by someone else in the
///   same instant cannot be told apart and is dropped too.)
/// - On queue overflow it walks the tree again at once, watching what it
///   missed, and reports [`PathEvent::RescanNeeded`].
/// - Running out of watches while a root is added is a resource-limit
///   error that names the directory, `max_user_watches` and how to raise
///   it. Later, a directory that cannot be watched (no watches left, no
///   read access) is reported as [`PathEvent::NotWatched`] and the watcher
///   goes on with the rest, as inotifywait warns and goes on.
///
/// With the fanotify backend nothing is watched per directory: a new
/// directory needs no scan (events in it are seen from its first entry,
/// so none is `from_scan`), there is no watch limit, and start-up does not
/// grow with the tree.
///
/// A root given as a symbolic link to a directory is followed; links below
/// it are not. It is an [`EventSource`] of [`PathEvent`]s;
/// `AsyncRecursiveWatcher` (feature `async`) is a `Stream`.
pub struct RecursiveWatcher {
    inner: Inner,
    /// With [`Backend::Auto`] and inotify chosen: why not fanotify.
    refused: Option<fd_core::Error>,
}

/// Calls `$call` on whichever backend the watcher has.
macro_rules! either {
    ($self:expr, $tree:ident => $call:expr) => {
        match &$self.inner {
            Inner::Inotify($tree) => $call,
            Inner::Fanotify($tree) => $call,
            Inner::Poll($tree) => $call,
        }
    };
}

impl RecursiveWatcher {
    /// Watches `root` and every directory below it for `events`, with the
    /// inotify backend.
    ///
    /// `events` may include [`EventMask::UNMOUNT`] to have unmounts
    /// reported; the kernel reports them whatever the mask.
    ///
    /// # Errors
    /// As [`Inotify::add_watch`](super::Inotify::add_watch) for `root` or
    /// any directory below it: [`fd_core::ErrorKind::ResourceLimit`] when
    /// the watch limit is reached, [`fd_core::ErrorKind::InvalidInput`] if
    /// `root` is not a directory, [`fd_core::ErrorKind::NotFound`] if it
    /// does not exist.
    pub fn new(root: impl AsRef<Path>, events: EventMask) -> Result<RecursiveWatcher> {
        RecursiveWatcher::with_options(root, events, RecursiveOptions::default())
    }

    /// [`new`](RecursiveWatcher::new) with options, the backend among them.
    ///
    /// # Errors
    /// As [`new`](RecursiveWatcher::new). With [`Backend::Fanotify`]:
    /// [`fd_core::ErrorKind::PermissionDenied`] without `CAP_SYS_ADMIN` or
    /// `CAP_DAC_READ_SEARCH`, [`fd_core::ErrorKind::Unsupported`] or
    /// [`fd_core::ErrorKind::InvalidInput`] where the kernel or the root's
    /// filesystem cannot report by file handle; each says which.
    pub fn with_options(
        root: impl AsRef<Path>,
        events: EventMask,
        options: RecursiveOptions,
    ) -> Result<RecursiveWatcher> {
        let root = root.as_ref();
        let inotify = |options, refused| {
            Ok(RecursiveWatcher {
                inner: Inner::Inotify(InotifyTree::with_options(root, events, options)?),
                refused,
            })
        };
        match options.backend {
            Backend::Inotify => inotify(options, None),
            Backend::Fanotify => Ok(RecursiveWatcher {
                inner: Inner::Fanotify(FanTree::new(root, events, options)?),
                refused: None,
            }),
            Backend::Poll => Ok(RecursiveWatcher {
                inner: Inner::Poll(PollTree::new(root, events, options)?),
                refused: None,
            }),
            Backend::Auto => match FanTree::new(root, events, options.clone()) {
                Ok(tree) => Ok(RecursiveWatcher {
                    inner: Inner::Fanotify(tree),
                    refused: None,
                }),
                Err(e) => inotify(options, Some(e)),
            },
        }
    }

    /// The backend in use: [`Backend::Inotify`], [`Backend::Fanotify`] or
    /// [`Backend::Poll`].
    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Inotify(_) => Backend::Inotify,
            Inner::Fanotify(_) => Backend::Fanotify,
            Inner::Poll(_) => Backend::Poll,
        }
    }

    /// With [`Backend::Auto`], when inotify was chosen: why fanotify could
    /// not be used (no privilege, an old kernel, a filesystem without file
    /// handles).
    pub fn fanotify_refused(&self) -> Option<&fd_core::Error> {
        self.refused.as_ref()
    }

    /// Watches one more tree with the same instance: events of every root
    /// come through this one watcher, under paths that start with the root
    /// as given. A directory under two roots is reported under the first.
    /// With fanotify, the root's filesystem is marked (once for any number
    /// of roots on it).
    ///
    /// # Errors
    /// As [`with_options`](RecursiveWatcher::with_options).
    pub fn add_root(&self, root: impl AsRef<Path>) -> Result<()> {
        either!(self, t => t.add_root(root))
    }

    /// Stops watching `root` (as it was given): its watches are removed
    /// (with inotify, the other roots are walked again, so a directory they
    /// share stays watched; with fanotify, its filesystem's mark goes when
    /// no other root is on it), or its wait ends. Events already read stay
    /// queued.
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::NotFound`] if `root` is not one of the roots,
    /// naming it; as [`rescan`](RecursiveWatcher::rescan).
    pub fn remove_root(&self, root: impl AsRef<Path>) -> Result<()> {
        either!(self, t => t.remove_root(root.as_ref()))
    }

    /// Switches between blocking and non-blocking mode: in non-blocking
    /// mode reads fail with [`fd_core::ErrorKind::WouldBlock`] instead of
    /// waiting.
    ///
    /// # Errors
    /// As `fcntl(F_SETFL)`.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        either!(self, t => t.set_nonblocking(nonblocking))
    }

    /// The first root.
    pub fn root(&self) -> PathBuf {
        self.roots().into_iter().next().unwrap_or_default()
    }

    /// Every root, in the order they were added (those waited for too).
    pub fn roots(&self) -> Vec<PathBuf> {
        either!(self, t => t.roots())
    }

    /// How many directories are watched now: with fanotify, which watches
    /// none one by one, the number of roots there now.
    pub fn watched_dirs(&self) -> usize {
        match &self.inner {
            Inner::Inotify(t) => t.watched_dirs(),
            Inner::Fanotify(t) => t.watched_roots().len(),
            Inner::Poll(t) => t.watched_paths().len(),
        }
    }

    /// Every watched directory, sorted: with fanotify, the roots there
    /// now.
    pub fn watched_paths(&self) -> Vec<PathBuf> {
        match &self.inner {
            Inner::Inotify(t) => t.watched_paths(),
            Inner::Fanotify(t) => t.watched_roots(),
            Inner::Poll(t) => t.watched_paths(),
        }
    }

    /// Walks every tree again: watches directories that are not watched
    /// (created while events were lost), forgets those that are gone, and
    /// keeps the rest. The inotify backend does this by itself on an
    /// overflow; the fanotify backend has nothing to walk.
    ///
    /// # Errors
    /// As [`new`](RecursiveWatcher::new), for a root.
    pub fn rescan(&self) -> Result<()> {
        match &self.inner {
            Inner::Inotify(t) => t.rescan(),
            Inner::Fanotify(_) => Ok(()),
            Inner::Poll(t) => t.sync(Duration::ZERO).map(drop),
        }
    }

    /// Waits until every change made in the trees before the call has been
    /// read from the kernel: afterwards their events are in the watcher's
    /// queue, and [`try_read_event`](EventSource::try_read_event) or
    /// [`read_events`](EventSource::read_events) hands them out without
    /// waiting. A test, or a build tool that has just written files, reads
    /// exactly what it caused this way, without stopping the reader and
    /// without guessing how long the kernel takes. Either backend.
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
    pub fn sync(&self, timeout: Duration) -> Result<bool> {
        either!(self, t => t.sync(timeout))
    }
}

/// Reads through the queue with no lock held while waiting (see
/// [`fd_core::read_queued`]): a reader blocked here never stops another
/// thread's `try_read_event`, `add_root`, `rescan` or `sync`.
impl EventSource for RecursiveWatcher {
    type Event = PathEvent;

    /// One event: the next one ready, or the first a fresh batch (and the
    /// scans it causes) yields, the rest of which stays queued. In your own
    /// poll loop use [`read_events`](EventSource::read_events), which hands
    /// out all.
    fn read_event(&self) -> Result<PathEvent> {
        either!(self, t => t.read_event())
    }

    /// Every event ready (those read earlier, and what one batch from the
    /// kernel and the scans it causes yield): nothing ready stays queued. A
    /// scan's held `CLOSE_WRITE` waits for bytes the kernel still has, so
    /// the fd stays readable for it.
    ///
    /// Once it has read from the kernel it returns, with `Ok(0)` if what it
    /// read was all the watcher's own business (an `IN_IGNORED`, a
    /// subdirectory's `DELETE_SELF`, an event outside the roots): after
    /// `poll` said readable it never blocks. It blocks (on a blocking fd)
    /// only while there is nothing to read at all.
    fn read_events(&self, events: &mut Vec<PathEvent>) -> Result<usize> {
        either!(self, t => t.read_events(events))
    }

    /// A batch from the kernel may yield no path event at all (an
    /// `IN_IGNORED`, a subdirectory's own `DELETE_SELF`), so this waits
    /// again with the time that is left rather than blocking in a read.
    fn read_event_timeout(&self, timeout: Duration) -> Result<Option<PathEvent>> {
        either!(self, t => t.read_event_timeout(timeout))
    }

    fn queued(&self) -> usize {
        either!(self, t => t.queued())
    }

    /// Ready at once if events found earlier (by scans) are still queued.
    fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool> {
        either!(self, t => t.wait_readable(timeout))
    }
}

impl AsFd for RecursiveWatcher {
    fn as_fd(&self) -> BorrowedFd<'_> {
        either!(self, t => t.as_fd())
    }
}

impl std::os::fd::AsRawFd for RecursiveWatcher {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// The watcher's inotify fd, every watch in place, or its fanotify group,
/// every mark in place. Events it had queued and not handed out are
/// dropped: take them first (`read_events` hands out all, `queued` counts
/// them).
impl From<RecursiveWatcher> for OwnedFd {
    fn from(watcher: RecursiveWatcher) -> OwnedFd {
        match watcher.inner {
            Inner::Inotify(t) => OwnedFd::from(t),
            Inner::Fanotify(t) => OwnedFd::from(t),
            Inner::Poll(t) => OwnedFd::from(t),
        }
    }
}

impl fmt::Debug for RecursiveWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RecursiveWatcher");
        d.field("backend", &self.backend());
        either!(self, t => d.field("tree", t));
        d.finish()
    }
}

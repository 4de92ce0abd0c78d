//! The fanotify backend of [`RecursiveWatcher`](crate::inotify::RecursiveWatcher):
//! one filesystem mark per root's filesystem, events named through file
//! handles and kept to what happens under the roots.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fd_core::{Error, EventSource, Result, SyscallResult};
use rustix::fs::{FileType, Mode, OFlags};

use super::{
    Class, EventMask as Fan, Fanotify, FidKind, FileHandle, HandleKey, InitFlags, MarkFlags,
    MarkTarget,
};
use crate::inotify::recursive::{filter_event, is_cookie_name, list};
use crate::inotify::{EventMask, PathEvent, RecursiveOptions};

/// Directories named at most this many at once; past it the names are
/// forgotten and found again (through `open_by_handle_at`) as needed.
const MAX_NAMED: usize = 1 << 17;

/// Events read before any is processed, at most.
const MAX_BATCH: usize = 1 << 14;

/// What the kernel reports, in the order one file's life has them: a
/// merged event (fanotify merges events on one object that the reader has
/// not taken yet) is handed out as one event per kind, in this order.
const ORDER: [(Fan, EventMask); 8] = [
    (Fan::CREATE, EventMask::CREATE),
    (Fan::OPEN, EventMask::OPEN),
    (Fan::ACCESS, EventMask::ACCESS),
    (Fan::MODIFY, EventMask::MODIFY),
    (Fan::ATTRIB, EventMask::ATTRIB),
    (Fan::CLOSE_WRITE, EventMask::CLOSE_WRITE),
    (Fan::CLOSE_NOWRITE, EventMask::CLOSE_NOWRITE),
    (Fan::DELETE, EventMask::DELETE),
];

/// What a scan's reads show as events (dropped, from our own thread).
const OWN_READS: EventMask = EventMask::OPEN
    .union(EventMask::ACCESS)
    .union(EventMask::CLOSE_NOWRITE);

/// A root: the path as given (events are reported under it), where it
/// really is (`/proc/self/fd` of it; file handles resolve to such paths),
/// and its own handle (for its `DELETE_SELF`/`MOVE_SELF`).
#[derive(Debug)]
struct Root {
    given: PathBuf,
    real: PathBuf,
    key: Key,
}

struct State {
    roots: Vec<Root>,
    /// The roots as given, for the filter.
    given: Vec<PathBuf>,
    /// Where each directory seen is (its real path), by handle: learnt
    /// from a `CREATE` or rename in the event stream where the kernel gave
    /// the directory's own handle, or else through `open_by_handle_at`
    /// when it is first needed.
    dirs: HashMap<Key, PathBuf>,
    queue: VecDeque<PathEvent>,
    batch: Vec<super::Event>,
    /// For the batch being processed: where each object the batch names by
    /// its own handle (a target FID) was, as its directory's handle and its
    /// name. A directory deleted before its events were read cannot be
    /// opened by handle any more; its later `DELETE` (or rename) in the
    /// same batch still says where it was.
    links: HashMap<Key, (Key, OsString)>,
    /// `sync` files, by (real root, name); `true` once their `DELETE` (or
    /// an overflow) has been read.
    cookies: HashMap<(PathBuf, OsString), bool>,
    /// What scans of moved-in directories reported (real paths, with
    /// `CREATE` and maybe `CLOSE_WRITE`): the kernel's report of the same
    /// is dropped. Forgotten once the kernel's queue has been read empty,
    /// as everything a scan could be confused with was queued by then.
    scanned: HashMap<PathBuf, EventMask>,
    /// What scans opened (real paths), with the thread that did: its
    /// `OPEN`/`ACCESS`/`CLOSE_NOWRITE` are ours. Forgotten as `scanned`.
    own: HashSet<PathBuf>,
    /// Roots not there yet ([`RecursiveOptions::wait_for_roots`]).
    pending: Vec<Waiting>,
}

/// A root waited for: the path as given, and the real path it will have
/// (its nearest existing ancestor's, with the rest of the path).
#[derive(Debug)]
struct Waiting {
    given: PathBuf,
    expected: PathBuf,
}

impl State {
    /// The kernel's queue was read empty: nothing still to come can be a
    /// double of a scan's report, or one of its reads.
    fn forget_scans(&mut self) {
        self.scanned.clear();
        self.own.clear();
    }
}

/// One fanotify group with a filesystem mark for every root's filesystem.
pub(crate) struct FanTree {
    fan: Fanotify,
    events: EventMask,
    options: RecursiveOptions,
    state: Mutex<State>,
}

/// A file handle as a map key: inline for handles of up to 40 bytes (every
/// local filesystem's), so a lookup per event allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Inline {
        fsid: [i32; 2],
        kind: i32,
        len: u8,
        bytes: [u8; 40],
    },
    Heap(HandleKey),
}

impl Key {
    /// The handle again, to open it.
    fn handle(&self) -> FileHandle<'_> {
        match self {
            Key::Inline {
                fsid,
                kind,
                len,
                bytes,
            } => FileHandle {
                fsid: *fsid,
                handle_type: *kind,
                bytes: &bytes[..usize::from(*len)],
            },
            Key::Heap((fsid, kind, bytes)) => FileHandle {
                fsid: *fsid,
                handle_type: *kind,
                bytes,
            },
        }
    }
}

fn key(handle: &FileHandle<'_>) -> Key {
    let n = handle.bytes.len();
    if let Ok(len) = u8::try_from(n)
        && n <= 40
    {
        let mut bytes = [0; 40];
        bytes[..n].copy_from_slice(handle.bytes);
        Key::Inline {
            fsid: handle.fsid,
            kind: handle.handle_type,
            len,
            bytes,
        }
    } else {
        Key::Heap((handle.fsid, handle.handle_type, handle.bytes.to_vec()))
    }
}

/// `path` with the `from` at its start replaced by `to`.
fn moved(path: &Path, from: &Path, to: &Path) -> Option<PathBuf> {
    let rest = path.strip_prefix(from).ok()?;
    Some(if rest.as_os_str().is_empty() {
        to.to_path_buf()
    } else {
        to.join(rest)
    })
}

impl FanTree {
    /// The group and the roots' marks.
    ///
    /// # Errors
    /// `EPERM` without `CAP_SYS_ADMIN` (filesystem marks) or
    /// `CAP_DAC_READ_SEARCH` (naming events through file handles), a
    /// kernel before 5.17 (`FAN_RENAME`, target FIDs), a filesystem that
    /// cannot report by file handle: each with a sentence saying so.
    pub(crate) fn new(
        root: &Path,
        events: EventMask,
        options: RecursiveOptions,
    ) -> Result<FanTree> {
        // Thread ids, so that a scan's own reads are told from the rest of
        // this process's.
        let flags = InitFlags::REPORT_DFID_NAME
            | InitFlags::REPORT_FID
            | InitFlags::REPORT_TARGET_FID
            | InitFlags::REPORT_TID;
        let fan = Fanotify::new(Class::Notif, flags).map_err(|e| {
            let why = match e.errno() {
                libc::EPERM => "the fanotify backend needs CAP_SYS_ADMIN (filesystem marks)",
                libc::EINVAL => {
                    "the fanotify backend needs Linux 5.17 or later (FAN_REPORT_TARGET_FID, FAN_RENAME)"
                }
                _ => "the fanotify backend could not make its group",
            };
            Error::from_errno("fanotify_init", e.errno()).with_detail(why)
        })?;
        if options.follow_symlinks {
            return Err(Error::invalid_input(
                "RecursiveWatcher",
                "the fanotify backend does not follow symbolic links (it would have to walk the \
                 tree to find them): use the inotify backend",
            ));
        }
        if fan.is_unprivileged() {
            return Err(Error::from_errno("fanotify_mark", libc::EPERM)
                .with_detail("the fanotify backend needs CAP_SYS_ADMIN (filesystem marks)"));
        }
        let tree = FanTree {
            fan,
            events,
            options: options.clone(),
            state: Mutex::new(State {
                roots: Vec::new(),
                given: Vec::new(),
                dirs: HashMap::new(),
                queue: VecDeque::new(),
                batch: Vec::new(),
                links: HashMap::new(),
                cookies: HashMap::new(),
                scanned: HashMap::new(),
                own: HashSet::new(),
                pending: Vec::new(),
            }),
        };
        tree.add_root(root)?;
        Ok(tree)
    }

    /// What the filesystem marks listen for: what the caller asked, and
    /// what following the tree (and `sync`) needs.
    fn mark_mask(&self) -> Fan {
        let mut mask = Fan::CREATE | Fan::DELETE | Fan::RENAME | Fan::ONDIR;
        for (fan, ino) in ORDER {
            if self.events.contains(ino) {
                mask |= fan;
            }
        }
        if self.events.contains(EventMask::DELETE_SELF) {
            mask |= Fan::DELETE_SELF;
        }
        if self.events.contains(EventMask::MOVE_SELF) {
            mask |= Fan::MOVE_SELF;
        }
        mask
    }

    /// Opens the root at `given`, marks its filesystem and checks that
    /// its handles open.
    fn attach(&self, given: &Path) -> Result<Root> {
        let given = given.to_path_buf();
        let named = |e: Error| {
            let why = e.detail().unwrap_or_default().to_owned();
            let detail = if why.is_empty() {
                given.display().to_string()
            } else if why.contains(&*given.to_string_lossy()) {
                why
            } else {
                format!("{}: {why}", given.display())
            };
            e.with_detail(detail)
        };
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = rustix::fs::open(&given, flags, Mode::empty())
            .syscall("open")
            .map_err(|e| match e.errno() {
                libc::ENOTDIR => e.with_detail(format!(
                    "{}: not a directory: a recursive watch needs one",
                    given.display()
                )),
                _ => named(e),
            })?;
        let real = std::fs::read_link(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&dir)
        ))
        .map_err(|e| named(Error::from_io("readlink", e)))?;
        let (handle_type, bytes) = super::sys::name_to_handle_at(Some(dir.as_fd()), Path::new(""))
            .or_else(|_| super::sys::name_to_handle_at(None, &real))
            .map_err(named)?;
        let fsid = super::sys::fsid(&dir).map_err(named)?;
        let root_key = key(&FileHandle {
            fsid,
            handle_type,
            bytes: &bytes,
        });
        // Naming events needs open_by_handle_at (CAP_DAC_READ_SEARCH): try
        // it on the root itself before relying on it.
        let probe = root_key.handle();
        self.fan
            .mark(
                MarkTarget::Filesystem,
                &real,
                self.mark_mask(),
                MarkFlags::empty(),
            )
            .map_err(named)?;
        if let Err(e) = self.fan.open_handle(&probe, OFlags::PATH) {
            let why = match e.errno() {
                libc::EPERM => {
                    "the fanotify backend needs CAP_DAC_READ_SEARCH to name events (open_by_handle_at)"
                        .to_owned()
                }
                _ => format!(
                    "the fanotify backend cannot open file handles on this filesystem: {}",
                    e.detail().unwrap_or_default()
                ),
            };
            return Err(named(
                Error::from_errno("open_by_handle_at", e.errno()).with_detail(why),
            ));
        }
        Ok(Root {
            given,
            real,
            key: root_key,
        })
    }

    pub(crate) fn add_root(&self, root: impl AsRef<Path>) -> Result<()> {
        let given = root.as_ref().to_path_buf();
        match self.attach(&given) {
            Ok(root) => {
                let mut state = self.lock();
                state.dirs.insert(root.key.clone(), root.real.clone());
                state.given.push(given);
                state.roots.push(root);
                Ok(())
            }
            Err(e) if e.kind() == fd_core::ErrorKind::NotFound && self.options.wait_for_roots => {
                let mut state = self.lock();
                state.given.push(given.clone());
                if let Err(e) = self.wait_for_root(&mut state, given) {
                    state.given.pop();
                    return Err(e);
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Stops watching `root`; its filesystem's mark stays while another
    /// root is on it.
    pub(crate) fn remove_root(&self, root: &Path) -> Result<()> {
        let mut state = self.lock();
        let Some(at) = state.given.iter().position(|r| r == root) else {
            return Err(Error::from_errno("remove_root", libc::ENOENT)
                .with_detail(format!("{}: not a root of this watcher", root.display())));
        };
        state.given.remove(at);
        state.pending.retain(|p| p.given != root);
        if let Some(i) = state.roots.iter().position(|r| r.given == root) {
            let gone = state.roots.remove(i);
            let fsid = gone.key.handle().fsid;
            if !state.roots.iter().any(|r| r.key.handle().fsid == fsid) {
                let _ = self.fan.unmark(
                    MarkTarget::Filesystem,
                    &gone.real,
                    self.mark_mask(),
                    MarkFlags::empty(),
                );
            }
        }
        Ok(())
    }

    /// Waits for `given`, which is not there: its filesystem (the nearest
    /// existing ancestor's) is marked, and the real path it will have is
    /// looked for in the events.
    fn wait_for_root(&self, state: &mut State, given: PathBuf) -> Result<()> {
        let mut above = given.clone();
        let mut rest = Vec::new();
        let ancestor = loop {
            let Some(name) = above.file_name().map(ToOwned::to_owned) else {
                return Err(Error::from_errno("open", libc::ENOENT).with_detail(format!(
                    "{}: not there, and no directory above it to wait in",
                    given.display()
                )));
            };
            rest.push(name);
            above = match above.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if let Ok(real) = std::fs::canonicalize(&above)
                && real.is_dir()
            {
                break real;
            }
        };
        let expected = rest.iter().rev().fold(ancestor.clone(), |p, n| p.join(n));
        self.fan.mark(
            MarkTarget::Filesystem,
            &ancestor,
            self.mark_mask(),
            MarkFlags::empty(),
        )?;
        state.pending.push(Waiting {
            given: given.clone(),
            expected,
        });
        // Made before the mark was in place.
        if rustix::fs::stat(&given).is_ok() {
            let i = state.pending.len() - 1;
            self.try_arrive(state, i);
        }
        Ok(())
    }

    /// The wait `i`'s root may be there: watched and reported appeared
    /// (what it holds, as a scan found it), or still waited for.
    fn try_arrive(&self, state: &mut State, i: usize) {
        let given = state.pending[i].given.clone();
        match self.attach(&given) {
            Ok(root) => {
                state.pending.remove(i);
                let (real, shown) = (root.real.clone(), root.given.clone());
                state.dirs.insert(root.key.clone(), real.clone());
                state.roots.push(root);
                state.queue.push_back(PathEvent::RootAppeared {
                    path: shown.clone(),
                });
                self.scan(state, &real, &shown);
            }
            Err(e) if matches!(e.errno(), libc::ENOENT | libc::ENOTDIR) => {}
            Err(e) => {
                state.pending.remove(i);
                state.queue.push_back(PathEvent::NotWatched {
                    path: given,
                    errno: e.errno(),
                });
            }
        }
    }

    /// A directory appeared at `real`: a root waited for there (or below,
    /// made before its event was read) may be there now.
    fn appeared(&self, state: &mut State, real: &Path) {
        let mut i = 0;
        while i < state.pending.len() {
            let before = state.pending.len();
            if state.pending[i].expected.starts_with(real) {
                self.try_arrive(state, i);
            }
            if state.pending.len() == before {
                i += 1;
            }
        }
    }

    /// The directory at `real` was deleted or moved away: each root it was
    /// or held is reported gone, and waited for again (unlike inotify,
    /// fanotify sees a rename above a root).
    fn gone(&self, state: &mut State, real: &Path) {
        if !self.options.wait_for_roots {
            return;
        }
        let (lost, kept): (Vec<Root>, Vec<Root>) = std::mem::take(&mut state.roots)
            .into_iter()
            .partition(|r| r.real.starts_with(real));
        state.roots = kept;
        for root in lost {
            state.queue.push_back(PathEvent::RootGone {
                path: root.given.clone(),
            });
            state.pending.push(Waiting {
                given: root.given,
                expected: root.real,
            });
            if rustix::fs::stat(&state.pending[state.pending.len() - 1].given).is_ok() {
                let i = state.pending.len() - 1;
                self.try_arrive(state, i);
            }
        }
    }

    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        self.fan.set_nonblocking(nonblocking)
    }

    pub(crate) fn roots(&self) -> Vec<PathBuf> {
        self.lock().given.clone()
    }

    /// The roots being watched now (not those waited for), sorted.
    pub(crate) fn watched_roots(&self) -> Vec<PathBuf> {
        let mut roots: Vec<PathBuf> = self.lock().roots.iter().map(|r| r.given.clone()).collect();
        roots.sort();
        roots
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Where the directory `handle` names is now (real path).
    fn dir_path(&self, state: &mut State, handle: &FileHandle<'_>) -> Option<PathBuf> {
        self.resolve(state, &key(handle), 0)
    }

    /// As [`dir_path`](FanTree::dir_path), by key: known, opened by
    /// handle, or (gone) where a later event of the batch says it was,
    /// under its own directory found the same way.
    fn resolve(&self, state: &mut State, k: &Key, depth: usize) -> Option<PathBuf> {
        if let Some(p) = state.dirs.get(k) {
            return Some(p.clone());
        }
        let handle = k.handle();
        let path = match self.fan.open_handle(&handle, OFlags::PATH) {
            Ok(fd) => std::fs::read_link(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&fd)
            ))
            .ok()?,
            Err(_) if depth < 4096 => {
                let (parent, name) = state.links.get(k)?.clone();
                self.resolve(state, &parent, depth + 1)?.join(name)
            }
            Err(_) => return None,
        };
        if state.dirs.len() >= MAX_NAMED {
            let roots: Vec<(Key, PathBuf)> = state
                .roots
                .iter()
                .map(|r| (r.key.clone(), r.real.clone()))
                .collect();
            state.dirs.clear();
            state.dirs.extend(roots);
        }
        state.dirs.insert(k.clone(), path.clone());
        Some(path)
    }

    /// A real path as reported: under the first root that holds it, with
    /// the root as given.
    fn shown(state: &State, real: &Path) -> Option<PathBuf> {
        state
            .roots
            .iter()
            .find_map(|r| moved(real, &r.real, &r.given))
    }

    fn push(&self, state: &mut State, event: PathEvent) {
        if let Some(event) = filter_event(&self.options.filter, &state.given, event) {
            state.queue.push_back(event);
        }
    }

    fn process(&self, state: &mut State, ev: &super::Event) {
        let mask = ev.mask();
        if ev.is_overflow() {
            for done in state.cookies.values_mut() {
                *done = true;
            }
            state.queue.push_back(PathEvent::RescanNeeded);
            return;
        }
        let is_dir = mask.contains(Fan::ONDIR);
        let isdir = if is_dir {
            EventMask::ISDIR
        } else {
            EventMask::empty()
        };
        let target = ev.fid(FidKind::Fid).map(|(h, _)| key(&h));
        if mask.contains(Fan::RENAME) {
            self.renamed(state, ev, is_dir, target);
            return;
        }
        if mask.intersects(Fan::DELETE_SELF | Fan::MOVE_SELF)
            && let Some(k) = &target
            && let Some(root) = state.roots.iter().find(|r| &r.key == k)
        {
            let path = root.given.clone();
            for (fan, ino) in [
                (Fan::MOVE_SELF, EventMask::MOVE_SELF),
                (Fan::DELETE_SELF, EventMask::DELETE_SELF),
            ] {
                if mask.contains(fan) && self.events.contains(ino) {
                    self.push(
                        state,
                        PathEvent::Event {
                            path: path.clone(),
                            mask: ino,
                            from_scan: false,
                        },
                    );
                }
            }
        }
        let Some((dir, name)) = ev.fid(FidKind::DfidName) else {
            return;
        };
        let Some(dir_real) = self.dir_path(state, &dir) else {
            return; // gone before it could be named
        };
        let name: Option<OsString> = name.filter(|n| *n != ".").map(ToOwned::to_owned);
        if let Some(n) = &name {
            if let Some(done) = state.cookies.get_mut(&(dir_real.clone(), n.clone())) {
                *done |= mask.contains(Fan::DELETE);
                return;
            }
            if is_cookie_name(n) && state.roots.iter().any(|r| r.real == dir_real) {
                return; // another watcher's sync file
            }
        }
        let real = match &name {
            Some(n) => dir_real.join(n),
            None => dir_real,
        };
        // A directory made: its name from the event itself, in order (a
        // merged create|delete too: later events in it still need it).
        if is_dir
            && name.is_some()
            && mask.contains(Fan::CREATE)
            && let Some(k) = target
        {
            state.dirs.insert(k, real.clone());
        }
        if is_dir && name.is_some() {
            if mask.contains(Fan::DELETE) {
                self.gone(state, &real);
            }
            if mask.contains(Fan::CREATE) && !state.pending.is_empty() {
                self.appeared(state, &real);
            }
        }
        // An entry event names `real` in its parent: a root's own entry is
        // another root's business or nobody's (its coming and going are
        // RootAppeared and RootGone), as inotify, which watches no parent.
        let shown = if name.is_some() {
            state
                .roots
                .iter()
                .filter(|r| r.real != real)
                .find_map(|r| moved(&real, &r.real, &r.given))
        } else {
            Self::shown(state, &real)
        };
        let Some(path) = shown else {
            return; // not under a root
        };
        let ours = !state.own.is_empty()
            && state.own.contains(&real)
            && ev.pid()
                == rustix::thread::gettid()
                    .as_raw_nonzero()
                    .get()
                    .unsigned_abs();
        let mut scanned = state
            .scanned
            .get(&real)
            .copied()
            .unwrap_or(EventMask::empty());
        // A directory's own events: the root's are its own; a
        // subdirectory's come with its name, as the inotify backend gives.
        for (fan, ino) in ORDER {
            if !mask.contains(fan) || !self.events.contains(ino) {
                continue;
            }
            if ours && ino.intersects(OWN_READS) {
                continue;
            }
            if scanned.contains(ino) {
                scanned.remove(ino); // the scan reported it
                continue;
            }
            self.push(
                state,
                PathEvent::Event {
                    path: path.clone(),
                    mask: ino | isdir,
                    from_scan: false,
                },
            );
        }
        if let Some(m) = state.scanned.get_mut(&real) {
            *m = scanned;
        }
    }

    /// A directory moved into a root from outside: what it holds was made
    /// elsewhere, so the kernel reports none of it here. Report each entry
    /// as a scan found it, as the inotify backend does (`from_scan`, and a
    /// `CLOSE_WRITE` for each regular file nobody is writing).
    fn scan(&self, state: &mut State, real: &Path, shown: &Path) {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let Ok(dir) = rustix::fs::open(real, flags, Mode::empty()) else {
            return; // gone again: its events say so
        };
        state.own.insert(real.to_path_buf());
        let complete =
            self.options.scanned_close_write && self.events.contains(EventMask::CLOSE_WRITE);
        for (name, kind) in list(&dir) {
            let (real_entry, shown_entry) = (real.join(&name), shown.join(&name));
            let is_dir = kind == FileType::Directory;
            if is_dir && self.prunes(state, &shown_entry) {
                continue;
            }
            let mut reported = EventMask::CREATE;
            if self.events.contains(EventMask::CREATE) {
                let mask = if is_dir {
                    EventMask::CREATE | EventMask::ISDIR
                } else {
                    EventMask::CREATE
                };
                self.push(
                    state,
                    PathEvent::Event {
                        path: shown_entry.clone(),
                        mask,
                        from_scan: true,
                    },
                );
            }
            if kind == FileType::RegularFile && complete {
                state.own.insert(real_entry.clone());
                if crate::lease::has_writer(dir.as_fd(), &name) != Some(true) {
                    reported |= EventMask::CLOSE_WRITE;
                    self.push(
                        state,
                        PathEvent::Event {
                            path: shown_entry.clone(),
                            mask: EventMask::CLOSE_WRITE,
                            from_scan: true,
                        },
                    );
                }
            }
            state.scanned.insert(real_entry.clone(), reported);
            if is_dir {
                self.scan(state, &real_entry, &shown_entry);
            }
        }
    }

    /// Whether the filter leaves out the directory at `shown` (a path as
    /// reported).
    fn prunes(&self, state: &State, shown: &Path) -> bool {
        let filter = &self.options.filter;
        !filter.is_empty()
            && state
                .given
                .iter()
                .find_map(|r| shown.strip_prefix(r).ok())
                .is_some_and(|rel| filter.prunes(rel))
    }

    fn renamed(&self, state: &mut State, ev: &super::Event, is_dir: bool, target: Option<Key>) {
        let (Some((old_dir, Some(old_name))), Some((new_dir, Some(new_name)))) =
            (ev.fid(FidKind::OldDfidName), ev.fid(FidKind::NewDfidName))
        else {
            return;
        };
        let (old_name, new_name) = (old_name.to_owned(), new_name.to_owned());
        let (Some(od), Some(nd)) = (
            self.dir_path(state, &old_dir),
            self.dir_path(state, &new_dir),
        ) else {
            return;
        };
        let from = od.join(&old_name);
        let to = nd.join(&new_name);
        if is_dir {
            // Every directory known below it moved with it.
            for p in state.dirs.values_mut() {
                if let Some(m) = moved(p, &from, &to) {
                    *p = m;
                }
            }
            if let Some(k) = target {
                state.dirs.insert(k, to.clone());
            }
        }
        let wanted = self.events;
        match (Self::shown(state, &from), Self::shown(state, &to)) {
            (Some(from), Some(to)) if wanted.intersects(EventMask::MOVE) => {
                self.push(state, PathEvent::Renamed { from, to, is_dir });
            }
            (Some(path), None) if wanted.contains(EventMask::MOVED_FROM) => {
                self.push(state, PathEvent::MovedOut { path, is_dir });
            }
            (None, Some(path)) => {
                if wanted.contains(EventMask::MOVED_TO) {
                    self.push(
                        state,
                        PathEvent::MovedIn {
                            path: path.clone(),
                            is_dir,
                        },
                    );
                }
                if is_dir && !self.prunes(state, &path) {
                    self.scan(state, &to, &path);
                }
            }
            _ => {}
        }
        if is_dir {
            self.gone(state, &from);
            if !state.pending.is_empty() {
                self.appeared(state, &to);
            }
        }
    }

    /// Reads what the group has queued (up to [`MAX_BATCH`] events, so
    /// that the events that name a gone directory's place are read with
    /// those in it) and processes it into the queue.
    fn fill(&self, state: &mut State) -> Result<()> {
        let mut batch = std::mem::take(&mut state.batch);
        batch.clear();
        let mut read = self.fan.read_events(&mut batch).map(drop);
        while read.is_ok()
            && batch.len() < MAX_BATCH
            && fd_core::readable_now(&self.fan).unwrap_or(false)
        {
            match self.fan.read_events(&mut batch) {
                Ok(_) => {}
                Err(e) if e.kind() == fd_core::ErrorKind::WouldBlock => break,
                Err(e) => read = Err(e),
            }
        }
        state.links.clear();
        for ev in &batch {
            let Some((target, _)) = ev.fid(FidKind::Fid) else {
                continue;
            };
            let place = ev
                .fid(FidKind::DfidName)
                .or_else(|| ev.fid(FidKind::NewDfidName));
            if let Some((dir, Some(name))) = place
                && name != "."
            {
                state
                    .links
                    .insert(key(&target), (key(&dir), name.to_owned()));
            }
        }
        for ev in &batch {
            self.process(state, ev);
        }
        state.links.clear();
        batch.clear();
        state.batch = batch;
        read
    }

    /// One attempt: what is queued, then batches while the group has them.
    fn attempt(&self) -> Result<Option<PathEvent>> {
        let mut state = self.lock();
        loop {
            if let Some(e) = state.queue.pop_front() {
                return Ok(Some(e));
            }
            if !fd_core::readable_now(&self.fan)? {
                state.forget_scans();
                return Ok(None);
            }
            match self.fill(&mut state) {
                Err(e) if e.kind() == fd_core::ErrorKind::WouldBlock => return Ok(None),
                other => other?,
            }
        }
    }

    /// As the inotify backend's: a file made and removed in the first root
    /// that takes one, and reads until its `DELETE` comes back.
    pub(crate) fn sync(&self, timeout: Duration) -> Result<bool> {
        let cookie = self.place_cookie()?;
        let result = crate::inotify::recursive::wait_for(self.as_fd(), timeout, || {
            let mut state = self.lock();
            loop {
                if state.cookies.get(&cookie) == Some(&true) {
                    return Ok(true);
                }
                if !fd_core::readable_now(&self.fan)? {
                    state.forget_scans();
                    return Ok(false);
                }
                match self.fill(&mut state) {
                    Err(e) if e.kind() == fd_core::ErrorKind::WouldBlock => return Ok(false),
                    other => other?,
                }
            }
        });
        self.lock().cookies.remove(&cookie);
        result
    }

    fn place_cookie(&self) -> Result<(PathBuf, OsString)> {
        let mut state = self.lock();
        let roots: Vec<(PathBuf, PathBuf)> = state
            .roots
            .iter()
            .map(|r| (r.real.clone(), r.given.clone()))
            .collect();
        let mut last =
            Error::from_errno("open", libc::ENOENT).with_detail("sync: the watcher has no root");
        for (real, given) in roots {
            let made = crate::inotify::recursive::make_cookie(&given, |name, ours| {
                let key = (real.clone(), name.to_owned());
                if ours {
                    state.cookies.insert(key, false);
                } else {
                    state.cookies.remove(&key);
                }
            });
            match made {
                Ok(name) => return Ok((real, name)),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

impl EventSource for FanTree {
    type Event = PathEvent;

    fn read_event(&self) -> Result<PathEvent> {
        fd_core::read_queued(self.as_fd(), || self.attempt())
    }

    fn read_events(&self, events: &mut Vec<PathEvent>) -> Result<usize> {
        fd_core::read_queued(self.as_fd(), || {
            let mut state = self.lock();
            let mut read_any = false;
            loop {
                let n = state.queue.len();
                if n > 0 {
                    events.extend(state.queue.drain(..));
                    return Ok(Some(n));
                }
                if !fd_core::readable_now(&self.fan)? {
                    state.forget_scans();
                    return Ok(read_any.then_some(0));
                }
                match self.fill(&mut state) {
                    Err(e) if e.kind() == fd_core::ErrorKind::WouldBlock => {
                        return Ok(read_any.then_some(0));
                    }
                    other => other?,
                }
                read_any = true;
            }
        })
    }

    fn read_event_timeout(&self, timeout: Duration) -> Result<Option<PathEvent>> {
        fd_core::read_queued_timeout(self.as_fd(), timeout, || self.attempt())
    }

    fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool> {
        if !self.lock().queue.is_empty() {
            return Ok(true);
        }
        fd_core::wait_readable(&self.fan, timeout)
    }
}

impl AsFd for FanTree {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fan.as_fd()
    }
}

impl From<FanTree> for OwnedFd {
    fn from(tree: FanTree) -> OwnedFd {
        OwnedFd::from(tree.fan)
    }
}

impl fmt::Debug for FanTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanTree")
            .field("roots", &self.roots())
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

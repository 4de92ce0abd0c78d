//! fanotify: notification and permission events for files, mounts and
//! whole filesystems, with every info record parsed.
//!
//! # How it works
//!
//! - Raw layer: [`fanotify_init`] and [`fanotify_mark`] (with a [`MarkOp`])
//!   over the typed flags, for callers who keep the fd themselves.
//! - [`Fanotify::new`] (`fanotify_init`, always `FAN_CLOEXEC`): a [`Class`]
//!   and [`InitFlags`]. Combinations the kernel refuses are refused first
//!   with a sentence saying which flag needs which.
//! - [`Fanotify::mark`] (`fanotify_mark`): on an inode, a mount, a whole
//!   filesystem or a mount namespace ([`MarkTarget`]), with ignore masks
//!   and [`MarkFlags`]; [`unmark`](Fanotify::unmark), [`flush`](Fanotify::flush).
//! - Reading: [`read_events`](Fanotify::read_events) takes every queued event
//!   with one `read(2)`. Each [`Event`] owns its file's fd and its pidfd,
//!   closed with it, and keeps its info records ([`Info`]: FID, DFID,
//!   DFID_NAME, OLD/NEW_DFID_NAME, PIDFD, ERROR, RANGE, MNT; unknown types
//!   skipped by length) in one buffer; events without records (fd mode)
//!   allocate nothing.
//! - Paths: [`Event::path`] from the event's fd, [`Fanotify::path_of`] from
//!   a file handle with `open_by_handle_at` and a cache of mount fds.
//! - Permission events: [`Event::respond`] allows or denies (with an errno
//!   on kernels that take one, with audit); an event dropped unanswered is
//!   answered with the group's default ([`Fanotify::set_default_response`],
//!   allow unless set), so no process can hang on us.

mod flags;
mod raw;
mod record;
mod sys;
pub(crate) mod tree;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use fd_core::{Error, EventSource, Result};
/// `open(2)` flags, for event fds and [`Fanotify::open_handle`] (rustix's
/// typed flags).
pub use rustix::fs::OFlags;

pub use flags::{Class, EventMask, InitFlags, MarkFlags, MarkTarget};
pub use raw::{MarkOp, fanotify_init, fanotify_mark};
pub use record::{EventIter, FidKind, FileHandle, Info, InfoIter, RawEvent};
pub(crate) use sys::probe_unprivileged;

/// An answer to a permission event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Response {
    /// `FAN_ALLOW`.
    Allow,
    /// `FAN_DENY`: the operation fails with `EPERM`.
    Deny,
    /// `FAN_DENY_ERRNO(errno)` (Linux 6.14, pre-content groups): the
    /// operation fails with `errno`.
    DenyWithErrno(i32),
}

impl Response {
    fn bits(self, audit: bool) -> Result<u32> {
        let base = match self {
            Response::Allow => libc::FAN_ALLOW,
            Response::Deny => libc::FAN_DENY,
            Response::DenyWithErrno(e) => {
                let e = u8::try_from(e).ok().filter(|e| *e > 0).ok_or_else(|| {
                    Error::invalid_input(
                        "fanotify response",
                        format!("errno {e} is not between 1 and 255"),
                    )
                })?;
                libc::FAN_DENY | (u32::from(e) << flags::k::FAN_ERRNO_SHIFT)
            }
        };
        Ok(if audit { base | libc::FAN_AUDIT } else { base })
    }
}

/// The group's fd and default answer, shared with its unanswered
/// permission events.
#[derive(Debug)]
struct Group {
    fd: OwnedFd,
    default: AtomicU32,
}

/// What an unanswered permission event still owes.
#[derive(Debug)]
struct Pending {
    group: Arc<Group>,
    answered: bool,
}

/// One fanotify event, owning what the kernel gave with it.
pub struct Event {
    mask: EventMask,
    pid: u32,
    file: Option<OwnedFd>,
    fd_error: Option<i32>,
    pidfd: Option<OwnedFd>,
    records: Box<[u8]>,
    /// For permission events, until answered.
    permission: Option<Pending>,
}

impl Event {
    /// What happened (`ONDIR` for directories).
    pub fn mask(&self) -> EventMask {
        self.mask
    }

    /// The acting process (or thread with `REPORT_TID`), as
    /// `std::process::id()` counts: 0 when the kernel withholds it.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the kernel's queue overflowed and events were lost.
    pub fn is_overflow(&self) -> bool {
        self.mask.contains(EventMask::Q_OVERFLOW)
    }

    /// The event's file, open (fd mode; `None` with FID reporting).
    pub fn file(&self) -> Option<BorrowedFd<'_>> {
        self.file.as_ref().map(AsFd::as_fd)
    }

    /// Takes the event's open file, to keep it past the event.
    ///
    /// For a permission event, answer it first: the answer names this fd.
    pub fn take_file(&mut self) -> Option<OwnedFd> {
        if self.permission.as_ref().is_some_and(|p| !p.answered) {
            return None;
        }
        self.file.take()
    }

    /// With `REPORT_FD_ERROR`: the errno of opening the event's file, when that failed.
    pub fn fd_error(&self) -> Option<i32> {
        self.fd_error
    }

    /// The acting process's pidfd (`REPORT_PIDFD`), valid even if it has
    /// since exited and its pid been reused.
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(AsFd::as_fd)
    }

    /// The info records.
    pub fn info(&self) -> InfoIter<'_> {
        RawEvent {
            mask: self.mask,
            fd: -1,
            pid: self.pid,
            records: &self.records,
        }
        .info()
    }

    /// The first file-handle record of `kind`, and its name if it has one.
    pub fn fid(&self, kind: FidKind) -> Option<(FileHandle<'_>, Option<&std::ffi::OsStr>)> {
        self.info().find_map(|i| match i {
            Info::Fid {
                kind: k,
                handle,
                name,
            } if k == kind => Some((handle, name)),
            _ => None,
        })
    }

    /// The path of the event's file, from `/proc/self/fd` (fd mode).
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](fd_core::ErrorKind::NotFound) when the event has no fd (FID reporting: use
    /// [`Fanotify::path_of`]).
    pub fn path(&self) -> Result<PathBuf> {
        let fd = self.file.as_ref().ok_or_else(|| {
            Error::from_errno("readlink", libc::ENOENT)
                .with_detail("the event has no fd (FID reporting): use Fanotify::path_of")
        })?;
        fd_path(fd.as_fd())
    }

    /// Whether this is a permission event that must be answered.
    pub fn is_permission(&self) -> bool {
        self.permission.is_some()
    }

    /// Answers a permission event, optionally asking for an audit record
    /// (`FAN_AUDIT`, with `InitFlags::ENABLE_AUDIT`).
    ///
    /// # Errors
    /// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput): not a permission event, already
    ///   answered, an errno out of range (checked first); the kernel's
    ///   `EINVAL` for an errno or audit it does not take here.
    /// - The write's own errors.
    pub fn respond(&mut self, response: Response, audit: bool) -> Result<()> {
        let bits = response.bits(audit)?;
        let fd = self.file.as_ref().map_or(-1, AsRawFd::as_raw_fd);
        let pending = self.permission.as_mut().ok_or_else(|| {
            Error::invalid_input(
                "fanotify response",
                "not a permission event: there is nothing to answer",
            )
        })?;
        if pending.answered {
            return Err(Error::invalid_input(
                "fanotify response",
                "this event was already answered",
            ));
        }
        sys::respond(pending.group.fd.as_fd(), fd, bits).map_err(|e| {
            if e.errno() == libc::EINVAL {
                e.with_detail(
                    "the kernel refused the response: an errno needs Linux 6.14 and a pre-content group; \
                     audit needs InitFlags::ENABLE_AUDIT",
                )
            } else {
                e
            }
        })?;
        pending.answered = true;
        Ok(())
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        if let Some(pending) = &self.permission
            && !pending.answered
        {
            let fd = self.file.as_ref().map_or(-1, AsRawFd::as_raw_fd);
            // Nothing to report an error to from a destructor; the kernel
            // also answers (allow) when the group is closed.
            let _ = sys::respond(
                pending.group.fd.as_fd(),
                fd,
                pending.group.default.load(Ordering::Relaxed),
            );
        }
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Event");
        d.field("mask", &self.mask).field("pid", &self.pid);
        if let Some(file) = &self.file {
            d.field("fd", &file.as_raw_fd());
        }
        d.field("info", &self.info().collect::<Vec<_>>());
        d.finish_non_exhaustive()
    }
}

fn fd_path(fd: BorrowedFd<'_>) -> Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|e| Error::from_io("readlink", e))
}

/// Buffer size for one read: the kernel's events are small; 64 KiB holds
/// hundreds even with names.
const READ_BUFFER: usize = 64 * 1024;

/// A file handle as a map key: fsid, type, bytes.
type HandleKey = ([i32; 2], i32, Vec<u8>);

/// State behind the group's lock: the read buffer, events read but not yet
/// handed out, mount fds by fsid for handles, and the handles of the inodes
/// marked, for resolving records without `open_by_handle_at`.
#[derive(Default)]
struct State {
    buffer: Vec<u8>,
    queue: VecDeque<Event>,
    mounts: HashMap<[i32; 2], OwnedFd>,
    marked: HashMap<HandleKey, PathBuf>,
}

/// A fanotify group.
pub struct Fanotify {
    group: Arc<Group>,
    class: Class,
    flags: InitFlags,
    unprivileged: bool,
    state: Mutex<State>,
}

impl Fanotify {
    /// A group of `class` with `flags`; event fds are opened read-only.
    ///
    /// # Errors
    /// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput) (checked first): `REPORT_NAME` without
    ///   `REPORT_DIR_FID`; `REPORT_TARGET_FID` without DFID_NAME and FID;
    ///   `REPORT_PIDFD` with `REPORT_TID`; the kernel's `EINVAL` otherwise.
    /// - [`ErrorKind::PermissionDenied`](fd_core::ErrorKind::PermissionDenied) (`EPERM`): without `CAP_SYS_ADMIN`,
    ///   only [`Class::Notif`] with FID reporting is allowed (Linux 5.13).
    pub fn new(class: Class, flags: InitFlags) -> Result<Fanotify> {
        Fanotify::with_event_flags(class, flags, OFlags::RDONLY | OFlags::LARGEFILE)
    }

    /// As [`Fanotify::new`], with the `open(2)` flags of event fds
    /// (`OFlags::RDONLY`, `RDWR`, `NOATIME`, …; `O_CLOEXEC` is always
    /// added).
    pub fn with_event_flags(
        class: Class,
        flags: InitFlags,
        event_flags: OFlags,
    ) -> Result<Fanotify> {
        const CALL: &str = "fanotify_init";
        let refuse = |why: &str| Err(Error::invalid_input(CALL, why.to_owned()));
        if flags.contains(InitFlags::REPORT_NAME) && !flags.contains(InitFlags::REPORT_DIR_FID) {
            return refuse("REPORT_NAME needs REPORT_DIR_FID (use REPORT_DFID_NAME)");
        }
        if flags.contains(InitFlags::REPORT_TARGET_FID)
            && !flags.contains(InitFlags::REPORT_DFID_NAME | InitFlags::REPORT_FID)
        {
            return refuse("REPORT_TARGET_FID needs REPORT_DFID_NAME and REPORT_FID");
        }
        if flags.contains(InitFlags::REPORT_PIDFD | InitFlags::REPORT_TID) {
            return refuse(
                "REPORT_PIDFD and REPORT_TID cannot go together (a pidfd is for a process)",
            );
        }
        let fd = fanotify_init(class, flags, event_flags).map_err(|e| match e.errno() {
            libc::EPERM => e.with_detail(
                "fanotify needs CAP_SYS_ADMIN, except Class::Notif with REPORT_FID (or REPORT_DFID_NAME) \
                 and inode marks, which unprivileged users may use since Linux 5.13",
            ),
            libc::EINVAL => {
                let names: Vec<&str> = flags.iter_names().map(|(n, _)| n).collect();
                let names = if names.is_empty() { "no flags".to_owned() } else { names.join("|") };
                e.with_detail(format!(
                    "the kernel refused class {class:?} with {names}: a flag this kernel does not know, \
                     or reporting by file handle (FID) with a permission class, which this kernel does \
                     not allow"
                ))
            }
            _ => e,
        })?;
        Ok(Fanotify {
            group: Arc::new(Group {
                fd,
                default: AtomicU32::new(libc::FAN_ALLOW),
            }),
            class,
            flags,
            // The kernel decided at init: without CAP_SYS_ADMIN the group
            // is unprivileged (FANOTIFY_UNPRIV) for its whole life.
            unprivileged: !fd_core::probe::has_capability(fd_core::probe::CAP_SYS_ADMIN)
                .unwrap_or(false),
            state: Mutex::default(),
        })
    }

    /// Adopts an fd that is a fanotify group (inherited, or received over a
    /// socket), checking that it is one and learning its class and flags
    /// from `/proc/self/fdinfo`. The paths it was marked by are not known
    /// to it, so [`path_of`](Fanotify::path_of) resolves handles only
    /// through `open_by_handle_at` on filesystems marked through it later.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput) if
    /// `fd` is not a fanotify group, naming what it is.
    pub fn from_fd(fd: OwnedFd) -> Result<Fanotify> {
        fd_core::expect_anon_inode(&fd, "Fanotify::from_fd", "[fanotify]")?;
        let path = format!("/proc/self/fdinfo/{}", fd.as_raw_fd());
        let info = std::fs::read_to_string(&path).map_err(|e| Error::from_io("read", e))?;
        let bits = info
            .lines()
            .find_map(|l| l.strip_prefix("fanotify flags:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .ok_or_else(|| {
                Error::invalid_input_in(
                    "Fanotify::from_fd",
                    "read",
                    format!("no \"fanotify flags:\" line in {path}"),
                )
            })?;
        let class_bits = bits & (libc::FAN_CLASS_CONTENT | libc::FAN_CLASS_PRE_CONTENT);
        let class = if class_bits == libc::FAN_CLASS_PRE_CONTENT {
            Class::PreContent
        } else if class_bits == libc::FAN_CLASS_CONTENT {
            Class::Content
        } else {
            Class::Notif
        };
        Ok(Fanotify {
            group: Arc::new(Group {
                fd,
                default: AtomicU32::new(libc::FAN_ALLOW),
            }),
            class,
            flags: InitFlags::from_bits_truncate(bits & !class_bits),
            unprivileged: !fd_core::probe::has_capability(fd_core::probe::CAP_SYS_ADMIN)
                .unwrap_or(false),
            state: Mutex::default(),
        })
    }

    /// Another handle on the same group: the same fd, marks and default
    /// response, with its own queue of events read but not yet handed out
    /// (so two threads can each read with their own handle). Marks made
    /// through either apply to both. Like `try_clone` on the other owning
    /// types, but shared rather than `dup`ed: the group's fd is also held by
    /// its unanswered permission events.
    ///
    /// # Errors
    /// None today; `Result` for the same signature as every `try_clone`.
    pub fn try_clone(&self) -> Result<Fanotify> {
        Ok(Fanotify {
            group: Arc::clone(&self.group),
            class: self.class,
            flags: self.flags,
            unprivileged: self.unprivileged,
            state: Mutex::default(),
        })
    }

    /// Puts the group's fd in or out of non-blocking mode (`O_NONBLOCK`,
    /// as `InitFlags::NONBLOCK` at creation): reads then return
    /// [`WouldBlock`](fd_core::ErrorKind::WouldBlock) instead of waiting.
    ///
    /// # Errors
    /// As `fcntl(F_SETFL)`.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        fd_core::set_nonblocking(&self.group.fd, nonblocking)
    }

    /// Whether this is an unprivileged group (made without
    /// `CAP_SYS_ADMIN`, Linux 5.13+): inode marks only, no event fds, and
    /// other processes' pids withheld (reported as 0).
    pub fn is_unprivileged(&self) -> bool {
        self.unprivileged
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reports_fid(&self) -> bool {
        self.flags
            .intersects(InitFlags::REPORT_FID | InitFlags::REPORT_DIR_FID)
    }

    /// Sets how permission events dropped without an answer are answered
    /// (allow unless set).
    pub fn set_default_response(&self, response: Response) -> Result<()> {
        self.group
            .default
            .store(response.bits(false)?, Ordering::Relaxed);
        Ok(())
    }

    /// Marks `path` (`target` decides: the inode, its mount, its filesystem,
    /// or the mount namespace it is) for the events in `mask`.
    ///
    /// With [`MarkFlags::IGNORE`] or [`MarkFlags::IGNORED_MASK`], `mask` is
    /// events to ignore instead.
    ///
    /// # Errors
    /// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput) (checked first): permission events on a
    ///   notification-class group; directory-entry events (`CREATE`,
    ///   `DELETE`, moves, `RENAME`, `ATTRIB`, the `*_SELF`s) without FID
    ///   reporting, or on a mount mark, where the kernel refuses them.
    /// - [`ErrorKind::NotFound`](fd_core::ErrorKind::NotFound) (`ENOENT`): no such path;
    ///   [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput) (`ENOTDIR`): `ONLYDIR` on a non-directory.
    /// - [`ErrorKind::PermissionDenied`](fd_core::ErrorKind::PermissionDenied) (`EPERM`): mount and filesystem
    ///   marks need `CAP_SYS_ADMIN`.
    pub fn mark(
        &self,
        target: MarkTarget,
        path: impl AsRef<Path>,
        mask: EventMask,
        flags: MarkFlags,
    ) -> Result<()> {
        self.mark_at(None, target, path, mask, flags)
    }

    /// As [`Fanotify::mark`], with `path` relative to the directory `dirfd`.
    pub fn mark_at(
        &self,
        dirfd: Option<BorrowedFd<'_>>,
        target: MarkTarget,
        path: impl AsRef<Path>,
        mask: EventMask,
        flags: MarkFlags,
    ) -> Result<()> {
        const CALL: &str = "fanotify_mark";
        let path = path.as_ref();
        let ignoring = flags.intersects(MarkFlags::IGNORE | MarkFlags::IGNORED_MASK);
        if mask.is_permission() && self.class == Class::Notif && !ignoring {
            return Err(Error::invalid_input(
                CALL,
                format!(
                    "{mask} are permission events: they need Class::Content or Class::PreContent"
                ),
            ));
        }
        if mask.intersects(EventMask::DIRENT) && !ignoring {
            if !self.reports_fid() {
                return Err(Error::invalid_input(
                    CALL,
                    format!(
                        "{} need FID reporting (InitFlags::REPORT_FID or REPORT_DFID_NAME)",
                        mask & EventMask::DIRENT
                    ),
                ));
            }
            if target == MarkTarget::Mount {
                return Err(Error::invalid_input(
                    CALL,
                    format!(
                        "the kernel refuses {} on mount marks: use a filesystem or inode mark",
                        mask & EventMask::DIRENT
                    ),
                ));
            }
        }
        // Before marking, so that this open is no event of ours.
        self.remember_mount(dirfd, path, target == MarkTarget::Inode);
        self.mark_op(MarkOp::Add, dirfd, target, path, mask, flags)
    }

    /// `fanotify_mark(op | target | flags, mask, dirfd, path)`, with errors
    /// that say what was wrong with the path.
    fn mark_op(
        &self,
        op: MarkOp,
        dirfd: Option<BorrowedFd<'_>>,
        target: MarkTarget,
        path: &Path,
        mask: EventMask,
        flags: MarkFlags,
    ) -> Result<()> {
        fanotify_mark(&self.group.fd, op, target, flags, mask, dirfd, Some(path))
            .map_err(|e| explain_mark(e, path, target))
    }

    /// Keeps an fd on the marked path's filesystem, by fsid, for
    /// `open_by_handle_at`: the directory itself, or a file's directory
    /// (opened read-only and non-blocking: `open_by_handle_at` does not take
    /// `O_PATH` fds, and a FIFO or device must not be opened for this).
    ///
    /// For an inode mark, also keeps the inode's file handle and path, so
    /// that [`path_of`](Fanotify::path_of) can name events on it and on its
    /// children without `CAP_DAC_READ_SEARCH` (unprivileged groups).
    fn remember_mount(&self, dirfd: Option<BorrowedFd<'_>>, path: &Path, inode: bool) {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let open = |p: &Path| match dirfd {
            Some(dir) => rustix::fs::openat(dir, p, flags, Mode::empty()),
            None => rustix::fs::open(p, flags, Mode::empty()),
        };
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let Ok(fd) = open(path).or_else(|_| open(parent))
            && let Ok(fsid) = sys::fsid(&fd)
        {
            if inode && let Ok((handle_type, bytes)) = sys::name_to_handle_at(dirfd, path) {
                let shown = match dirfd {
                    Some(d) if path.is_relative() => {
                        fd_path(d).map_or_else(|_| path.to_path_buf(), |dir| dir.join(path))
                    }
                    _ => path.to_path_buf(),
                };
                self.lock().marked.insert((fsid, handle_type, bytes), shown);
            }
            self.lock().mounts.entry(fsid).or_insert(fd);
        }
    }

    /// Removes events from a mark (`FAN_MARK_REMOVE`).
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](fd_core::ErrorKind::NotFound) (`ENOENT`) if there is no such mark.
    pub fn unmark(
        &self,
        target: MarkTarget,
        path: impl AsRef<Path>,
        mask: EventMask,
        flags: MarkFlags,
    ) -> Result<()> {
        self.mark_op(MarkOp::Remove, None, target, path.as_ref(), mask, flags)
    }

    /// Removes every mark of `target`'s kind (`FAN_MARK_FLUSH`).
    pub fn flush(&self, target: MarkTarget) -> Result<()> {
        fanotify_mark(
            &self.group.fd,
            MarkOp::Flush,
            target,
            MarkFlags::empty(),
            EventMask::empty(),
            None,
            None,
        )
    }

    /// Hands out every event read earlier and not yet handed out, or, if
    /// there are none, reads every event the kernel has queued (up to 64
    /// KiB of them) with one `read(2)`, appending them to `events`: nothing
    /// is left where `poll` cannot see it, so this is the read for a poll
    /// loop. Blocks if nothing is queued and the group is blocking, with no
    /// lock held (another thread's reads and marks go on).
    ///
    /// # Errors
    /// [`ErrorKind::WouldBlock`](fd_core::ErrorKind::WouldBlock) when non-blocking and empty.
    pub fn read_events(&self, events: &mut Vec<Event>) -> Result<usize> {
        fd_core::read_queued(self.group.fd.as_fd(), || {
            let mut state = self.lock();
            let n = state.queue.len();
            if n > 0 {
                events.extend(state.queue.drain(..));
                return Ok(Some(n));
            }
            while fd_core::readable_now(&self.group.fd)? {
                match self.read_into(&mut state, events) {
                    Ok(0) => {}
                    Ok(n) => return Ok(Some(n)),
                    // A reader outside this type took the batch first.
                    Err(e) if e.kind() == fd_core::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            Ok(None)
        })
    }

    /// One attempt of a queued single read, under the lock: the queue
    /// first, then one batch from the kernel if it has one.
    fn attempt_one(&self) -> Result<Option<Event>> {
        let mut state = self.lock();
        loop {
            if let Some(event) = state.queue.pop_front() {
                return Ok(Some(event));
            }
            if !fd_core::readable_now(&self.group.fd)? {
                return Ok(None);
            }
            let mut fresh = Vec::new();
            match self.read_into(&mut state, &mut fresh) {
                Err(e) if e.kind() == fd_core::ErrorKind::WouldBlock => return Ok(None),
                other => other?,
            };
            state.queue.extend(fresh);
        }
    }

    fn read_into(&self, state: &mut State, events: &mut Vec<Event>) -> Result<usize> {
        if state.buffer.len() < READ_BUFFER {
            state.buffer.resize(READ_BUFFER, 0);
        }
        let fresh = sys::read_batch(self.group.fd.as_fd(), &mut state.buffer)?;
        let before = events.len();
        for event in fresh {
            events.push(self.own(event));
        }
        Ok(events.len() - before)
    }

    /// Turns a kernel event, with the fds its read opened, into an owned one.
    fn own(&self, fresh: sys::Fresh<'_>) -> Event {
        let sys::Fresh { raw, file, pidfd } = fresh;
        let fd_error = (raw.fd < libc::FAN_NOFD && self.flags.contains(InitFlags::REPORT_FD_ERROR))
            .then_some(-raw.fd);
        let permission = raw.mask.is_permission().then(|| Pending {
            group: Arc::clone(&self.group),
            answered: false,
        });
        Event {
            mask: raw.mask,
            pid: raw.pid,
            file,
            fd_error,
            pidfd,
            records: raw.records.into(),
            permission,
        }
    }

    /// Opens the object a file handle names (`open_by_handle_at`, needs
    /// `CAP_DAC_READ_SEARCH`), through an fd on its filesystem kept from
    /// [`mark`](Fanotify::mark).
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](fd_core::ErrorKind::NotFound) if no marked path is on that filesystem, or
    /// the object is gone (`ESTALE` is [`ErrorKind::Other`](fd_core::ErrorKind::Other));
    /// [`ErrorKind::PermissionDenied`](fd_core::ErrorKind::PermissionDenied) without the capability.
    pub fn open_handle(&self, handle: &FileHandle<'_>, flags: OFlags) -> Result<OwnedFd> {
        let state = self.lock();
        let mount = state.mounts.get(&handle.fsid).ok_or_else(|| {
            Error::from_errno("open_by_handle_at", libc::ENOENT).with_detail(format!(
                "no marked path on filesystem {:?} to resolve the handle through",
                handle.fsid
            ))
        })?;
        sys::open_by_handle_at(
            mount.as_fd(),
            handle.handle_type,
            handle.bytes,
            flags.bits(),
        )
    }

    /// The path of a file-handle record: the handle's object, joined with
    /// `name` when given (a DFID_NAME record names an entry of the directory).
    ///
    /// Where `open_by_handle_at` is refused (an unprivileged group), a
    /// handle that is one of the inodes marked with [`MarkTarget::Inode`]
    /// still resolves, to the path it was marked by: so events on a marked
    /// directory's children get their paths in unprivileged mode too.
    ///
    /// # Errors
    /// As [`open_handle`](Fanotify::open_handle), for a handle that is not
    /// a marked inode.
    pub fn path_of(
        &self,
        handle: &FileHandle<'_>,
        name: Option<&std::ffi::OsStr>,
    ) -> Result<PathBuf> {
        let dir = match self.open_handle(handle, OFlags::PATH) {
            Ok(fd) => fd_path(fd.as_fd())?,
            Err(e) => {
                let key = (handle.fsid, handle.handle_type, handle.bytes.to_vec());
                match self.lock().marked.get(&key) {
                    Some(dir) => dir.clone(),
                    None => return Err(e),
                }
            }
        };
        Ok(match name {
            Some(n) if n != "." => dir.join(n),
            _ => dir,
        })
    }

    /// The group's class.
    pub fn class(&self) -> Class {
        self.class
    }
}

fn explain_mark(err: Error, path: &Path, target: MarkTarget) -> Error {
    let detail = match err.errno() {
        libc::EPERM if target != MarkTarget::Inode => format!(
            "{}: {target:?} marks need CAP_SYS_ADMIN (unprivileged groups may mark inodes only)",
            path.display()
        ),
        libc::ENOTDIR => format!("{}: not a directory (ONLYDIR was given)", path.display()),
        libc::EXDEV => format!(
            "{}: its filesystem does not support FID reporting in this mount",
            path.display()
        ),
        libc::ENODEV => format!(
            "{}: its filesystem has no fsid, so FID reporting cannot work there",
            path.display()
        ),
        _ => path.display().to_string(),
    };
    err.with_detail(detail)
}

/// Reads through the queue with no lock held while waiting (see
/// [`fd_core::read_queued`]).
impl EventSource for Fanotify {
    type Event = Event;

    /// One event: the next one queued, or the first of a fresh batch, the
    /// rest of which stays queued. In your own poll loop use
    /// [`read_events`](Fanotify::read_events), which hands out all.
    fn read_event(&self) -> Result<Event> {
        fd_core::read_queued(self.group.fd.as_fd(), || self.attempt_one())
    }

    fn read_events(&self, events: &mut Vec<Event>) -> Result<usize> {
        Fanotify::read_events(self, events)
    }

    fn read_event_timeout(&self, timeout: Duration) -> Result<Option<Event>> {
        fd_core::read_queued_timeout(self.group.fd.as_fd(), timeout, || self.attempt_one())
    }

    fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    /// Ready at once if events read earlier are still queued inside.
    fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool> {
        if !self.lock().queue.is_empty() {
            return Ok(true);
        }
        fd_core::wait_readable(&self.group.fd, timeout)
    }
}

impl AsFd for Fanotify {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.group.fd.as_fd()
    }
}

/// The group's fd. If nothing else holds it (no unanswered permission
/// event, no [`try_clone`](Fanotify::try_clone)), the fd itself; otherwise
/// a duplicate (`F_DUPFD_CLOEXEC`) of it, so that the events still out can
/// answer through theirs. Events read and not yet handed out are answered
/// with the group's default response as they are dropped.
///
/// # Panics
/// If the group is still shared and the process has no fd left for the
/// duplicate (`EMFILE`): there is no fd to return.
impl From<Fanotify> for OwnedFd {
    fn from(fanotify: Fanotify) -> OwnedFd {
        let Fanotify { group, state, .. } = fanotify;
        drop(state);
        match Arc::try_unwrap(group) {
            Ok(group) => group.fd,
            Err(shared) => fd_core::dup_cloexec(&shared.fd)
                .expect("a duplicate of a shared fanotify group fd (out of fds)"),
        }
    }
}

impl AsRawFd for Fanotify {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.group.fd.as_raw_fd()
    }
}

impl fmt::Debug for Fanotify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fanotify")
            .field("fd", &self.group.fd.as_raw_fd())
            .field("class", &self.class)
            .field("flags", &self.flags)
            .finish()
    }
}

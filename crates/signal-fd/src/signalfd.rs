//! `signalfd4` and the high-level `Signals`.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use fd_core::{Error, EventSource, Result};

use crate::mask::{How, pthread_sigmask};
use crate::{SigInfo, SigSet, Signal, sys};

bitflags::bitflags! {
    /// Flags for [`signalfd`]. `SFD_CLOEXEC` is always added.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SignalFdFlags: u32 {
        /// `SFD_NONBLOCK`: a read with nothing pending fails with
        /// [`fd_core::ErrorKind::WouldBlock`].
        const NONBLOCK = libc::SFD_NONBLOCK.cast_unsigned();
    }
}

/// How many records one read takes at most: 256 × 128 bytes = 32 KiB.
pub const MAX_BATCH: usize = 256;

fn refuse_uncatchable(call: &'static str, set: &SigSet) -> Result<()> {
    match set.uncatchable() {
        Some(sig) => Err(Error::invalid_input_in(
            call,
            "signalfd4",
            format!(
                "{sig} cannot be caught, blocked or read from a signalfd; the kernel would \
                 silently leave it out of {set}"
            ),
        )),
        None => Ok(()),
    }
}

/// `signalfd4(-1, set, flags | SFD_CLOEXEC)`: a new signalfd reading `set`.
///
/// The fd reads signals that are pending for the thread that reads it or for
/// the process; a signal is only left pending if it is blocked in every
/// thread that could take it. Block the set first ([`Signals`] does both).
///
/// # Errors
/// - [`fd_core::ErrorKind::InvalidInput`] if `set` holds `SIGKILL` or `SIGSTOP`
///   (checked before the call: the kernel would silently drop them).
/// - [`fd_core::ErrorKind::ResourceLimit`] when out of fds.
///
/// # References
/// - [`signalfd(2)`](https://man7.org/linux/man-pages/man2/signalfd.2.html)
#[doc(alias = "signalfd4")]
pub fn signalfd(set: &SigSet, flags: SignalFdFlags) -> Result<OwnedFd> {
    refuse_uncatchable("signalfd4", set)?;
    let fd = sys::signalfd(
        None,
        set.bits(),
        flags.bits().cast_signed() | libc::SFD_CLOEXEC,
    )?;
    fd.ok_or_else(|| Error::from_errno("signalfd4", libc::EBADF))
}

/// `signalfd4(fd, set, 0)`: changes the set an existing signalfd reads.
///
/// # Errors
/// - [`fd_core::ErrorKind::InvalidInput`]: `SIGKILL` or `SIGSTOP` in `set`;
///   `fd` is not a signalfd (`EINVAL`).
#[doc(alias = "signalfd4")]
pub fn signalfd_set_mask(fd: impl AsFd, set: &SigSet) -> Result<()> {
    refuse_uncatchable("signalfd4", set)?;
    sys::signalfd(Some(fd.as_fd()), set.bits(), 0).map(drop)
}

/// Reads up to `max` records from a signalfd with one `read(2)`, appending
/// them to `out`.
///
/// # Errors
/// [`fd_core::ErrorKind::WouldBlock`] when non-blocking and nothing is
/// pending; [`fd_core::ErrorKind::InvalidInput`] if `fd` is not a signalfd.
pub fn signalfd_read(fd: impl AsFd, out: &mut Vec<SigInfo>, max: usize) -> Result<usize> {
    sys::read_siginfos(fd.as_fd(), out, max)
}

/// An owned signalfd.
///
/// Close-on-exec always. Reading takes signals out of the pending set, so a
/// signal read here is not also delivered to a handler. It implements
/// [`EventSource`] with [`SigInfo`] events; [`read_events`] takes up to
/// [`MAX_BATCH`] pending signals in one syscall into a reused `Vec`.
///
/// [`read_events`]: EventSource::read_events
pub struct SignalFd {
    fd: OwnedFd,
}

impl SignalFd {
    /// A blocking signalfd reading `set`. Block `set` first.
    ///
    /// # Errors
    /// As [`signalfd`].
    pub fn new(set: &SigSet) -> Result<SignalFd> {
        SignalFd::with_flags(set, SignalFdFlags::empty())
    }

    /// A signalfd reading `set` with `flags`.
    pub fn with_flags(set: &SigSet, flags: SignalFdFlags) -> Result<SignalFd> {
        signalfd(set, flags).map(|fd| SignalFd { fd })
    }

    /// Adopts an fd that is a signalfd (inherited, or received over a
    /// socket), checking that it is one. The set it reads is the one it
    /// was made with.
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::InvalidInput`] if `fd` is not a signalfd,
    /// naming what it is.
    pub fn from_fd(fd: OwnedFd) -> Result<SignalFd> {
        fd_core::expect_anon_inode(&fd, "SignalFd::from_fd", "[signalfd]")?;
        Ok(SignalFd { fd })
    }

    /// Reads `set` from now on instead.
    pub fn set_mask(&self, set: &SigSet) -> Result<()> {
        signalfd_set_mask(&self.fd, set)
    }

    /// Reads one pending signal; waits if none is and the fd is blocking.
    pub fn read(&self) -> Result<SigInfo> {
        sys::read_siginfo(self.fd.as_fd())
    }

    /// Reads one pending signal if there is one, without blocking.
    pub fn try_read(&self) -> Result<Option<SigInfo>> {
        self.try_read_event()
    }

    /// A second fd for the same signalfd (`F_DUPFD_CLOEXEC`).
    pub fn try_clone(&self) -> Result<SignalFd> {
        fd_core::dup_cloexec(&self.fd).map(|fd| SignalFd { fd })
    }

    /// Switches between blocking and non-blocking mode.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        fd_core::set_nonblocking(&self.fd, nonblocking)
    }
}

impl EventSource for SignalFd {
    type Event = SigInfo;

    fn read_event(&self) -> Result<SigInfo> {
        self.read()
    }

    fn read_events(&self, events: &mut Vec<SigInfo>) -> Result<usize> {
        sys::read_siginfos(self.fd.as_fd(), events, MAX_BATCH)
    }
}

fd_core::impl_owned_fd!(SignalFd, fd);

impl fmt::Debug for SignalFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalFd")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

/// A thread of this process that leaves some watched signals unblocked:
/// such a signal may be delivered to it (running the default action or a
/// handler) instead of waiting for the signalfd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnblockedThread {
    /// Its thread id.
    pub tid: u32,
    /// Its name (`/proc/self/task/<tid>/comm`).
    pub name: String,
    /// The watched signals it does not block.
    pub unblocked: SigSet,
}

impl fmt::Display for UnblockedThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "thread {} ({:?}) does not block {}",
            self.tid, self.name, self.unblocked
        )
    }
}

/// The threads of this process that leave any of `set` unblocked, read
/// from `/proc/self/task/*/status`.
///
/// This finds the classic cause of "my signalfd misses signals": a thread
/// spawned before the signals were blocked (masks are inherited at spawn)
/// takes them instead.
pub fn unblocked_threads(set: &SigSet) -> Result<Vec<UnblockedThread>> {
    let mut found = Vec::new();
    let dir = std::fs::read_dir("/proc/self/task").map_err(|e| Error::from_io("open", e))?;
    for entry in dir {
        let Ok(entry) = entry else { continue };
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // A thread may end while we look: skip it rather than fail.
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let Some(blocked) = status
            .lines()
            .find_map(|l| l.strip_prefix("SigBlk:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        else {
            continue;
        };
        let unblocked = set.difference(&SigSet::from_bits(blocked));
        if !unblocked.is_empty() {
            let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            found.push(UnblockedThread {
                tid,
                name: name.trim_end().to_owned(),
                unblocked,
            });
        }
    }
    found.sort_by_key(|t| t.tid);
    Ok(found)
}

/// Signals read through a signalfd, set up in one step: blocks the set in
/// the calling thread and opens the fd.
///
/// # The rule: block before spawning threads
///
/// A signal sent to the process goes to any one thread that does not block
/// it; only if every thread blocks it does it stay pending for the signalfd.
/// Threads inherit their creator's mask, so create `Signals` in `main`
/// before spawning any thread (or block the set there first).
/// [`check_threads`](Signals::check_threads) tells you which thread breaks
/// the rule. A signal aimed at one thread (`tgkill`, or a fault) is pending
/// for that thread only: the signalfd sees it when read from that thread.
///
/// The set stays blocked when `Signals` is dropped: unblocking it then
/// would deliver what is still pending, with its default action.
///
/// ```
/// use butter::signalfd::{Signal, Signals, kill_self};
///
/// let signals = Signals::new([Signal::USR1, Signal::USR2])?;
/// kill_self(Signal::USR2)?;
/// let info = signals.read()?;
/// assert_eq!(info.signal(), Signal::USR2);
/// assert_eq!(info.pid(), std::process::id());
/// # Ok::<(), butter::Error>(())
/// ```
#[derive(Debug)]
pub struct Signals {
    fd: SignalFd,
    set: SigSet,
}

impl Signals {
    /// Blocks `set` in the calling thread and opens a blocking signalfd.
    ///
    /// Threads spawned afterwards inherit the mask, as they must; so do
    /// programs spawned with [`std::process::Command`], which usually must
    /// not: give those [`SignalCommandExt::unblock_signals`](crate::SignalCommandExt).
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::InvalidInput`] if `set` holds `SIGKILL` or
    /// `SIGSTOP`; as [`signalfd`] otherwise.
    pub fn new(set: impl Into<SigSet>) -> Result<Signals> {
        Signals::with_flags(set, SignalFdFlags::empty())
    }

    /// As [`Signals::new`], with `flags` for the fd.
    pub fn with_flags(set: impl Into<SigSet>, flags: SignalFdFlags) -> Result<Signals> {
        let set = set.into();
        refuse_uncatchable("Signals::new", &set)?;
        pthread_sigmask(How::Block, &set)?.forget();
        let fd = SignalFd::with_flags(&set, flags)?;
        Ok(Signals { fd, set })
    }

    /// The signals read.
    pub fn set(&self) -> SigSet {
        self.set
    }

    /// The threads that leave any of the signals unblocked (see
    /// [`unblocked_threads`]).
    pub fn unblocked_threads(&self) -> Result<Vec<UnblockedThread>> {
        unblocked_threads(&self.set)
    }

    /// Fails if any thread leaves a watched signal unblocked, naming it.
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::InvalidInput`] whose message names every such
    /// thread and the signals it does not block.
    pub fn check_threads(&self) -> Result<()> {
        let threads = self.unblocked_threads()?;
        if threads.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = threads.iter().map(ToString::to_string).collect();
        Err(Error::invalid_input_in(
            "Signals::check_threads",
            "signalfd4",
            format!(
                "{}; such signals may go to those threads instead of the signalfd \
                 (block the signals before spawning threads)",
                list.join("; ")
            ),
        ))
    }

    /// Reads one signal; waits if none is pending and the fd is blocking.
    pub fn read(&self) -> Result<SigInfo> {
        self.fd.read()
    }

    /// The signalfd inside.
    pub fn signal_fd(&self) -> &SignalFd {
        &self.fd
    }

    /// Gives up the signalfd; the signals stay blocked.
    pub fn into_signal_fd(self) -> SignalFd {
        self.fd
    }
}

impl EventSource for Signals {
    type Event = SigInfo;

    fn read_event(&self) -> Result<SigInfo> {
        self.fd.read()
    }

    fn read_events(&self, events: &mut Vec<SigInfo>) -> Result<usize> {
        self.fd.read_events(events)
    }
}

fd_core::impl_owned_fd!(Signals, fd);

/// `kill(pid, sig)`: sends `sig` to process `pid`.
///
/// # Errors
/// [`fd_core::ErrorKind::NotFound`] (`ESRCH`) for no such process;
/// [`fd_core::ErrorKind::PermissionDenied`] (`EPERM`) without permission.
pub fn kill(pid: u32, sig: Signal) -> Result<()> {
    let pid = i32::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| Error::invalid_input("kill", format!("{pid} is not a process id")))?;
    sys::kill(pid, sig.raw())
}

/// `kill(getpid(), sig)`: sends `sig` to this process.
pub fn kill_self(sig: Signal) -> Result<()> {
    kill(std::process::id(), sig)
}

/// `sigqueue(pid, sig, value)`: sends `sig` with an int that the receiver
/// reads as [`SigInfo::value_int`]. Real-time signals sent this way queue.
///
/// # Errors
/// As [`kill`]; [`fd_core::ErrorKind::WouldBlock`] (`EAGAIN`) when the
/// receiver's queue of real-time signals (`RLIMIT_SIGPENDING`) is full.
pub fn sigqueue(pid: u32, sig: Signal, value: i32) -> Result<()> {
    let pid = i32::try_from(pid)
        .map_err(|_| Error::invalid_input("sigqueue", format!("{pid} is not a process id")))?;
    sys::sigqueue(pid, sig.raw(), value)
}

/// `sigqueue(pid, sig, value)` with the pointer-sized member of the
/// union: the receiver reads all of it as [`SigInfo::value_ptr`] (and its
/// low 32 bits as [`SigInfo::value_int`]). Nothing is dereferenced: it is
/// a number that travels with the signal.
///
/// # Errors
/// As [`sigqueue`].
pub fn sigqueue_ptr(pid: u32, sig: Signal, value: usize) -> Result<()> {
    let pid = i32::try_from(pid)
        .map_err(|_| Error::invalid_input("sigqueue", format!("{pid} is not a process id")))?;
    sys::sigqueue_ptr(pid, sig.raw(), value)
}

/// `tgkill(getpid(), tid, sig)`: sends `sig` to one thread of this process.
///
/// # Errors
/// [`fd_core::ErrorKind::NotFound`] (`ESRCH`) if there is no such thread.
pub fn tgkill(tid: u32, sig: Signal) -> Result<()> {
    let tgid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    let tid = i32::try_from(tid)
        .map_err(|_| Error::invalid_input("tgkill", format!("{tid} is not a thread id")))?;
    sys::tgkill(tgid, tid, sig.raw())
}

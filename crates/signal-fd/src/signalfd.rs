//! The owning types: `SignalFd` and the high-level `Signals`.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use fd_core::{Error, EventSource, Result};

use crate::mask::{How, pthread_sigmask};
use crate::raw::{MAX_BATCH, SignalFdFlags, refuse_uncatchable, signalfd, signalfd_set_mask};
use crate::{SigInfo, SigSet, sys};

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
        // A thread that is exiting (or a zombie) takes no more signals.
        let state = status
            .lines()
            .find_map(|l| l.strip_prefix("State:"))
            .map(str::trim_start);
        if state.is_some_and(|s| s.starts_with('Z') || s.starts_with('X')) {
            continue;
        }
        let unblocked = set.difference(&SigSet::from_bits(blocked));
        if !unblocked.is_empty() {
            // Gone between the two reads (a thread just joined, its task
            // still being torn down): not a thread any more.
            let Ok(name) = std::fs::read_to_string(entry.path().join("comm")) else {
                continue;
            };
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

    /// Another handle on the same signalfd (`F_DUPFD_CLOEXEC`), reading
    /// the same set; the blocking mode is shared.
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::ResourceLimit`] (`EMFILE`) when out of fds.
    pub fn try_clone(&self) -> Result<Signals> {
        Ok(Signals {
            fd: self.fd.try_clone()?,
            set: self.set,
        })
    }

    /// Switches between blocking and non-blocking mode.
    ///
    /// # Errors
    /// As `fcntl(F_SETFL)`.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        self.fd.set_nonblocking(nonblocking)
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

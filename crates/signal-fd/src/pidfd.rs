//! Process file descriptors: exit notification that no signal can lose.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use fd_core::{Error, EventSource, Result, SyscallResult};
use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions, WaitIdStatus};

use crate::{ChildStatus, Signal, sys};

/// A file descriptor for a process (`pidfd_open(2)`, Linux 5.3).
///
/// It becomes readable when the process exits, so it goes into any
/// `poll`/`epoll` loop or async reactor; unlike `SIGCHLD`, whose instances
/// coalesce while blocked, each child's exit is seen on its own fd. For a
/// child of this process, [`wait`](PidFd::wait) (`waitid(P_PIDFD)`) reaps it
/// and returns how it ended. Signals sent through it cannot hit a recycled
/// pid.
///
/// ```
/// use butter::signalfd::{ChildStatus, PidFd};
///
/// let child = std::process::Command::new("true").spawn().unwrap();
/// let pidfd = PidFd::from_child(&child)?;
/// assert_eq!(pidfd.wait()?, ChildStatus::Exited(0));
/// # Ok::<(), butter::Error>(())
/// ```
pub struct PidFd {
    fd: OwnedFd,
    pid: u32,
}

fn pid_of(call: &'static str, pid: u32) -> Result<Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| Error::invalid_input(call, format!("{pid} is not a process id")))
}

impl PidFd {
    /// `pidfd_open(pid, 0)`: an fd for process `pid` (close-on-exec, as
    /// every pidfd is).
    ///
    /// # Errors
    /// - [`fd_core::ErrorKind::NotFound`] (`ESRCH`): no such process.
    /// - [`fd_core::ErrorKind::InvalidInput`]: 0 or a number past `i32::MAX`.
    /// - [`fd_core::ErrorKind::Unsupported`] (`ENOSYS`) before Linux 5.3.
    ///
    /// # References
    /// - [`pidfd_open(2)`](https://man7.org/linux/man-pages/man2/pidfd_open.2.html)
    #[doc(alias = "pidfd_open")]
    pub fn open(pid: u32) -> Result<PidFd> {
        PidFd::open_with(pid, PidfdFlags::empty())
    }

    /// `pidfd_open(pid, PIDFD_NONBLOCK)`: as [`PidFd::open`], in non-blocking
    /// mode (Linux 5.10): [`wait`](PidFd::wait) fails with would-block while
    /// the child runs.
    pub fn open_nonblocking(pid: u32) -> Result<PidFd> {
        PidFd::open_with(pid, PidfdFlags::NONBLOCK)
    }

    fn open_with(pid: u32, flags: PidfdFlags) -> Result<PidFd> {
        let fd =
            rustix::process::pidfd_open(pid_of("pidfd_open", pid)?, flags).syscall("pidfd_open")?;
        Ok(PidFd { fd, pid })
    }

    /// A pidfd for a child started with `std::process::Command`.
    ///
    /// Open it before anything reaps the child (`Child::wait` and
    /// `Child::try_wait` do): after that the pid may be reused.
    pub fn from_child(child: &std::process::Child) -> Result<PidFd> {
        PidFd::open(child.id())
    }

    /// Takes the pidfd `clone`/`clone3` with `CLONE_PIDFD` just stored for
    /// the child whose pid the same call returned, as given: no look at
    /// `/proc` (which [`from_fd`](PidFd::from_fd) needs, and which costs a
    /// spawner a few percent). Only for that pair: any other fd or pid
    /// makes a `PidFd` whose calls fail or name the wrong process (never
    /// undefined behaviour).
    #[must_use]
    pub fn from_clone(fd: OwnedFd, pid: u32) -> PidFd {
        PidFd { pid, fd }
    }

    /// Takes an fd that must be a pidfd, such as the one `clone3` with
    /// `CLONE_PIDFD` returns, and learns its process id from
    /// `/proc/self/fdinfo` (its `Pid:` line).
    ///
    /// # Errors
    /// - [`fd_core::ErrorKind::InvalidInput`]: the fd is not a pidfd (its
    ///   fdinfo has no `Pid:` line); the fd is closed.
    /// - [`fd_core::ErrorKind::NotFound`] (`ESRCH`): the process has
    ///   already been reaped (`Pid: -1`) or lives in a pid namespace this
    ///   process cannot see (`Pid: 0`), so it has no pid here.
    pub fn from_fd(fd: OwnedFd) -> Result<PidFd> {
        let path = format!("/proc/self/fdinfo/{}", fd.as_raw_fd());
        let info = std::fs::read_to_string(&path).syscall("read(/proc/self/fdinfo)")?;
        let pid = info
            .lines()
            .find_map(|l| l.strip_prefix("Pid:"))
            .map(str::trim)
            .ok_or_else(|| {
                // pidfs (Linux 6.9) may name it otherwise than
                // anon_inode:[pidfd]: the fdinfo line is what decides.
                let what = fd_core::fd_kind(&fd)
                    .map_or_else(|_| "not open".into(), |k| k.to_string_lossy().into_owned());
                Error::invalid_input_in(
                    "PidFd::from_fd",
                    "read",
                    format!(
                        "fd {} is {what}, not a pidfd (no Pid: line in {path})",
                        fd.as_raw_fd()
                    ),
                )
            })?;
        match pid.parse::<i64>() {
            Ok(n) if n > 0 => Ok(PidFd {
                pid: u32::try_from(n).unwrap_or(0),
                fd,
            }),
            Ok(n) => Err(Error::from_errno("pidfd_open", libc::ESRCH)
                .with_context("PidFd::from_fd")
                .with_detail(if n == 0 {
                    "the process is in a pid namespace this process cannot see"
                } else {
                    "the process has ended and been reaped"
                })),
            Err(_) => Err(Error::invalid_input_in(
                "PidFd::from_fd",
                "read",
                format!("unexpected Pid: line {pid:?} in {path}"),
            )),
        }
    }

    /// The process id the fd was opened for.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `pidfd_send_signal(fd, sig)`: sends `sig` to the process, which cannot
    /// be another process that reused its pid.
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::NotFound`] (`ESRCH`) once the process has ended.
    pub fn send_signal(&self, sig: Signal) -> Result<()> {
        sys::pidfd_send_signal(&self.fd, sig.raw())
    }

    /// Whether the process has ended, waiting up to `timeout` (`None`:
    /// forever). Works for any process, child or not.
    pub fn wait_exit(&self, timeout: Option<Duration>) -> Result<bool> {
        fd_core::wait_readable(&self.fd, timeout)
    }

    /// `waitid(P_PIDFD, fd, WEXITED)`: waits for the child to end (or fails
    /// with would-block in non-blocking mode), reaps it, and returns how it
    /// ended.
    ///
    /// # Errors
    /// - [`fd_core::ErrorKind::NotFound`] (`ECHILD`): not a child of this
    ///   process, or already reaped.
    /// - [`fd_core::ErrorKind::WouldBlock`]: still running, non-blocking mode.
    pub fn wait(&self) -> Result<ChildStatus> {
        self.waitid(WaitIdOptions::EXITED)?
            .ok_or_else(|| Error::from_errno("waitid", libc::EAGAIN))
    }

    /// `waitid(P_PIDFD, fd, WEXITED | WNOHANG)`: reaps the child if it has
    /// ended; `Ok(None)` while it runs.
    pub fn try_wait(&self) -> Result<Option<ChildStatus>> {
        match self.waitid(WaitIdOptions::EXITED | WaitIdOptions::NOHANG) {
            Err(e) if e.kind() == fd_core::ErrorKind::WouldBlock => Ok(None),
            other => other,
        }
    }

    fn waitid(&self, options: WaitIdOptions) -> Result<Option<ChildStatus>> {
        let status = fd_core::retry_on_intr(|| {
            rustix::process::waitid(WaitId::PidFd(self.fd.as_fd()), options).syscall("waitid")
        })?;
        let Some(status) = status else {
            return Ok(None);
        };
        decode(&status).map(Some).ok_or_else(|| {
            Error::from_errno("waitid", libc::EINVAL)
                .with_kind(fd_core::ErrorKind::Other)
                .with_detail(format!(
                    "unexpected child state (code {})",
                    status.raw_code()
                ))
        })
    }

    /// A second fd for the same process (`F_DUPFD_CLOEXEC`).
    pub fn try_clone(&self) -> Result<PidFd> {
        fd_core::dup_cloexec(&self.fd).map(|fd| PidFd { fd, pid: self.pid })
    }

    /// Switches between blocking and non-blocking mode.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        fd_core::set_nonblocking(&self.fd, nonblocking)
    }
}

fn decode(status: &WaitIdStatus) -> Option<ChildStatus> {
    if status.exited() {
        return status.exit_status().map(ChildStatus::Exited);
    }
    if status.killed() || status.dumped() {
        let signal = Signal::from_kernel(status.terminating_signal()?);
        return Some(ChildStatus::Killed {
            signal,
            core_dumped: status.dumped(),
        });
    }
    None
}

impl EventSource for PidFd {
    /// How the child ended; reading reaps it.
    type Event = ChildStatus;

    fn read_event(&self) -> Result<ChildStatus> {
        self.wait()
    }
}

fd_core::impl_owned_fd!(PidFd, fd);

impl fmt::Debug for PidFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PidFd")
            .field("fd", &self.fd.as_raw_fd())
            .field("pid", &self.pid)
            .finish()
    }
}

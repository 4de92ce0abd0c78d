//! The raw layer: the `seccomp` syscall's operations, its flags, and
//! `no_new_privs`.

use std::os::fd::OwnedFd;

use bitflags::bitflags;
use fd_core::{Error, Result};

use crate::action::Action;
use crate::bpf::Insn;
use crate::sys;

bitflags! {
    /// `SECCOMP_FILTER_FLAG_*`: how `SECCOMP_SET_MODE_FILTER` installs a filter.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub struct FilterFlags: u32 {
        /// Install on every thread of the process, or fail naming the
        /// thread that cannot take it (3.17).
        const TSYNC = 1 << 0;
        /// Log every action but `ALLOW` (4.14).
        const LOG = 1 << 1;
        /// Leave speculative store bypass mitigation off (4.17).
        const SPEC_ALLOW = 1 << 2;
        /// Return a user-notification listener fd (5.0).
        const NEW_LISTENER = 1 << 3;
        /// With TSYNC: fail with `ESRCH` instead of a thread id (5.7), which
        /// NEW_LISTENER needs, since its success value is the fd.
        const TSYNC_ESRCH = 1 << 4;
        /// A notified thread waits killable once the supervisor has
        /// received its notification (5.19).
        const WAIT_KILLABLE_RECV = 1 << 5;
    }
}

impl FilterFlags {
    /// The first kernel with each flag.
    pub fn since(flag: FilterFlags) -> &'static str {
        match flag {
            f if f == FilterFlags::TSYNC => "3.17",
            f if f == FilterFlags::LOG => "4.14",
            f if f == FilterFlags::SPEC_ALLOW => "4.17",
            f if f == FilterFlags::NEW_LISTENER => "5.0",
            f if f == FilterFlags::TSYNC_ESRCH => "5.7",
            f if f == FilterFlags::WAIT_KILLABLE_RECV => "5.19",
            _ => "?",
        }
    }

    /// Refuses the combinations the kernel refuses, with the reason.
    ///
    /// # Errors
    /// `InvalidInput`: TSYNC with NEW_LISTENER but without TSYNC_ESRCH
    /// (both report through the return value, so the kernel cannot tell
    /// a thread id from an fd); WAIT_KILLABLE_RECV without NEW_LISTENER.
    pub fn validate(self) -> Result<FilterFlags> {
        if self.contains(FilterFlags::TSYNC | FilterFlags::NEW_LISTENER)
            && !self.contains(FilterFlags::TSYNC_ESRCH)
        {
            return Err(Error::invalid_input(
                "seccomp",
                "TSYNC with NEW_LISTENER needs TSYNC_ESRCH: both report through the return value, so the kernel refuses them together (EINVAL)",
            ));
        }
        if self.contains(FilterFlags::WAIT_KILLABLE_RECV)
            && !self.contains(FilterFlags::NEW_LISTENER)
        {
            return Err(Error::invalid_input(
                "seccomp",
                "WAIT_KILLABLE_RECV applies to notifications and needs NEW_LISTENER (the kernel refuses it alone)",
            ));
        }
        Ok(self)
    }
}

/// `seccomp(SECCOMP_SET_MODE_FILTER)`: installs `program` on the calling
/// thread (every thread with TSYNC). Returns the listener with
/// NEW_LISTENER.
///
/// The raw call: it checks neither the program, the flags nor
/// `no_new_privs` first ([`Loader`](crate::Loader) does).
///
/// # Errors
/// The kernel's: `EACCES` without `no_new_privs` and without
/// `CAP_SYS_ADMIN`; `EINVAL` for a program or flags it refuses; `EBUSY`
/// for a second listener in one filter chain; `ENOMEM` when the filters
/// stacked on this thread pass 32768 instructions; with TSYNC (without
/// TSYNC_ESRCH) an error naming the thread that could not be synchronised.
pub fn seccomp_set_mode_filter(flags: FilterFlags, program: &[Insn]) -> Result<Option<OwnedFd>> {
    if program.len() > usize::from(u16::MAX) {
        return Err(Error::invalid_input(
            "seccomp",
            format!("{} instructions do not fit sock_fprog", program.len()),
        ));
    }
    match sys::set_mode_filter(u64::from(flags.bits()), program) {
        Err(errno) => Err(Error::from_errno("seccomp", errno)),
        Ok(0) => Ok(None),
        Ok(v) if flags.contains(FilterFlags::NEW_LISTENER) => Ok(Some(sys::adopt(v)?)),
        Ok(tid) if flags.contains(FilterFlags::TSYNC) => Err(Error::from_errno("seccomp", libc::ESRCH).with_detail(
            format!(
                "TSYNC: thread {tid} of this process could not take the filter (it has a filter that is not an ancestor of this thread's, or is exiting); nothing was installed"
            ),
        )),
        Ok(v) => Err(Error::invalid_input("seccomp", format!("unexpected return value {v}"))),
    }
}

/// `seccomp(SECCOMP_SET_MODE_STRICT)`: from now on the thread may only
/// `read`, `write`, `_exit` (the thread's, not `exit_group`) and
/// `sigreturn`; anything else kills it with SIGKILL. Rust's normal
/// process exit calls `exit_group`, so a strict thread must end with a
/// raw `exit`.
///
/// # Errors
/// `EINVAL` if the thread is already in filter mode or the kernel lacks
/// `CONFIG_SECCOMP`.
pub fn seccomp_set_mode_strict() -> Result<()> {
    sys::set_mode_strict()
}

/// `seccomp(SECCOMP_GET_ACTION_AVAIL)`: whether this kernel knows
/// `action` (`KILL_PROCESS` and `LOG` are 4.14, `USER_NOTIF` 5.0).
///
/// # Errors
/// `EINVAL` from kernels before 4.14, which lack the operation.
pub fn seccomp_get_action_avail(action: Action) -> Result<bool> {
    get_action_avail_ret(action.to_ret())
}

/// The same for a raw return value (its action bits).
pub(crate) fn get_action_avail_ret(ret: u32) -> Result<bool> {
    match sys::get_action_avail(ret & 0xffff_0000) {
        Ok(()) => Ok(true),
        Err(e) if e.errno() == libc::EOPNOTSUPP => Ok(false),
        Err(e) => Err(e),
    }
}

/// The kernel's sizes of the notification structs (`SECCOMP_GET_NOTIF_SIZES`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct NotifSizes {
    /// `struct seccomp_notif`.
    pub notif: usize,
    /// `struct seccomp_notif_resp`.
    pub resp: usize,
    /// `struct seccomp_data`.
    pub data: usize,
}

/// `seccomp(SECCOMP_GET_NOTIF_SIZES)` (5.0).
///
/// # Errors
/// `EINVAL` on kernels without user notification.
pub fn seccomp_get_notif_sizes() -> Result<NotifSizes> {
    let s = sys::get_notif_sizes()?;
    Ok(NotifSizes {
        notif: s.notif,
        resp: s.resp,
        data: s.data,
    })
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: execve can no longer grant privileges
/// (setuid bits, file capabilities), which lets an unprivileged thread
/// install filters. It cannot be undone, and children inherit it.
///
/// # Errors
/// The kernel's (none on any supported kernel).
pub fn set_no_new_privs() -> Result<()> {
    rustix::thread::set_no_new_privs(true)
        .map_err(|e| Error::from_errno("prctl(PR_SET_NO_NEW_PRIVS)", e.raw_os_error()))
}

/// Whether `no_new_privs` is set on the calling thread.
///
/// # Errors
/// The kernel's.
pub fn no_new_privs() -> Result<bool> {
    rustix::thread::no_new_privs()
        .map_err(|e| Error::from_errno("prctl(PR_GET_NO_NEW_PRIVS)", e.raw_os_error()))
}

/// The calling thread's seccomp mode (`0` none, `1` strict, `2` filter),
/// from `/proc/thread-self/status`, which also works in strict-free
/// filtered threads where `prctl(PR_GET_SECCOMP)` may be filtered.
///
/// # Errors
/// `NotFound` if /proc is not mounted.
pub fn seccomp_mode() -> Result<u32> {
    let status = std::fs::read_to_string("/proc/thread-self/status")
        .map_err(|e| Error::from_io("open(/proc/thread-self/status)", e))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            Error::invalid_input("seccomp", "no Seccomp line in /proc/thread-self/status")
        })
}

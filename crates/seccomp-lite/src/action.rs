//! What a filter answers for a syscall.

use std::fmt;
use std::str::FromStr;

use fd_core::{Error, Result};

/// The largest errno the kernel returns (`MAX_ERRNO`): an `ERRNO` action's
/// data above it would be clamped silently, so it is refused.
pub const MAX_ERRNO: u16 = 4095;

/// A seccomp filter's answer: the action in the upper 16 bits of the
/// filter's return value, its data in the lower 16.
///
/// Listed from the most restrictive to the least: when several rules of a
/// filter match one call, and when several filters are stacked, the most
/// restrictive answer wins (the kernel's order between stacked filters;
/// see [`Filter`](crate::Filter) for rules of one filter, and where
/// libseccomp differs).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Action {
    /// Kill the whole process, as if by SIGSYS (4.14+).
    KillProcess,
    /// Kill only the calling thread.
    KillThread,
    /// Send the thread a SIGSYS carrying the data in `si_errno`.
    Trap(u16),
    /// Fail the call with this errno (at most [`MAX_ERRNO`]).
    Errno(u16),
    /// Ask the supervisor holding the filter's listener (5.0+).
    UserNotif,
    /// Stop for a ptrace tracer, with the data as the event message; fails
    /// with `ENOSYS` when nothing traces the thread.
    Trace(u16),
    /// Allow, and log the call (4.14+).
    Log,
    /// Allow.
    Allow,
}

impl Action {
    /// The filter return value (`SECCOMP_RET_*` | data).
    pub const fn to_ret(self) -> u32 {
        match self {
            Action::KillProcess => 0x8000_0000,
            Action::KillThread => 0,
            Action::Trap(d) => 0x0003_0000 | d as u32,
            Action::Errno(e) => 0x0005_0000 | e as u32,
            Action::UserNotif => 0x7fc0_0000,
            Action::Trace(d) => 0x7ff0_0000 | d as u32,
            Action::Log => 0x7ffc_0000,
            Action::Allow => 0x7fff_0000,
        }
    }

    /// What the kernel does with a filter's return value: actions it does
    /// not know kill the process, and an errno above [`MAX_ERRNO`] is
    /// clamped to it.
    pub const fn from_ret(ret: u32) -> Action {
        let data = (ret & 0xffff) as u16;
        match ret & 0xffff_0000 {
            0x8000_0000 => Action::KillProcess,
            0 => Action::KillThread,
            0x0003_0000 => Action::Trap(data),
            0x0005_0000 => Action::Errno(if data > MAX_ERRNO { MAX_ERRNO } else { data }),
            0x7fc0_0000 => Action::UserNotif,
            0x7ff0_0000 => Action::Trace(data),
            0x7ffc_0000 => Action::Log,
            0x7fff_0000 => Action::Allow,
            _ => Action::KillProcess,
        }
    }

    /// Whether `ret`'s action is one the kernel knows (an unknown one is
    /// treated as [`Action::KillProcess`]).
    pub const fn is_known_ret(ret: u32) -> bool {
        matches!(
            ret & 0xffff_0000,
            0x8000_0000
                | 0
                | 0x0003_0000
                | 0x0005_0000
                | 0x7fc0_0000
                | 0x7ff0_0000
                | 0x7ffc_0000
                | 0x7fff_0000
        )
    }

    /// The rank in the kernel's precedence: 0 is the most restrictive.
    /// Ties (same action, different data) go to the rule added first.
    pub const fn precedence(self) -> u8 {
        match self {
            Action::KillProcess => 0,
            Action::KillThread => 1,
            Action::Trap(_) => 2,
            Action::Errno(_) => 3,
            Action::UserNotif => 4,
            Action::Trace(_) => 5,
            Action::Log => 6,
            Action::Allow => 7,
        }
    }

    /// The action's name without data: `ERRNO`, `KILL_PROCESS`.
    pub const fn name(self) -> &'static str {
        match self {
            Action::KillProcess => "KILL_PROCESS",
            Action::KillThread => "KILL_THREAD",
            Action::Trap(_) => "TRAP",
            Action::Errno(_) => "ERRNO",
            Action::UserNotif => "USER_NOTIF",
            Action::Trace(_) => "TRACE",
            Action::Log => "LOG",
            Action::Allow => "ALLOW",
        }
    }

    /// The first kernel version with this action.
    pub const fn since(self) -> &'static str {
        match self {
            Action::KillProcess | Action::Log => "4.14",
            Action::UserNotif => "5.0",
            _ => "3.5",
        }
    }

    /// Whether the kernel accepts this action as written (an errno over
    /// [`MAX_ERRNO`] is not).
    ///
    /// # Errors
    /// `InvalidInput` naming the errno.
    pub fn validate(self) -> Result<Action> {
        match self {
            Action::Errno(e) if e > MAX_ERRNO => Err(Error::invalid_input(
                "seccomp",
                format!("ERRNO({e}): an errno must be at most {MAX_ERRNO} (MAX_ERRNO)"),
            )),
            a => Ok(a),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Action::Errno(e) => match fd_core::errno_info(i32::from(e)) {
                Some(info) => write!(f, "ERRNO({})", info.name),
                None => write!(f, "ERRNO({e})"),
            },
            Action::Trap(d) => write!(f, "TRAP({d})"),
            Action::Trace(d) => write!(f, "TRACE({d})"),
            other => f.write_str(other.name()),
        }
    }
}

/// An errno by name (`EPERM`) or number.
pub(crate) fn parse_errno(s: &str) -> Option<u16> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u16>() {
        return Some(n);
    }
    fd_core::ERRNO_TABLE
        .iter()
        .find(|i| i.name.eq_ignore_ascii_case(s))
        .and_then(|i| u16::try_from(i.errno).ok())
}

impl FromStr for Action {
    type Err = Error;

    /// Parses `allow`, `log`, `kill` / `kill_process`, `kill_thread`
    /// (libseccomp's `SCMP_ACT_KILL` is a thread kill),
    /// `notify` / `user_notif`, `trap[(N)]`, `trace[(N)]`, `errno(EPERM)` /
    /// `errno(1)` / `EPERM`, in any case, with or without the `SCMP_ACT_`
    /// prefix.
    fn from_str(s: &str) -> Result<Action> {
        let lower = s.trim().to_ascii_lowercase();
        if lower == "scmp_act_kill" {
            return Ok(Action::KillThread); // libseccomp's SCMP_ACT_KILL
        }
        let bare = lower.strip_prefix("scmp_act_").unwrap_or(&lower);
        let (name, data) = match bare.split_once('(') {
            Some((n, rest)) => match rest.strip_suffix(')') {
                Some(d) => (n, Some(d)),
                None => return Err(bad_action(s)),
            },
            None => (bare, None),
        };
        let number = |d: Option<&str>| -> Result<u16> {
            d.map_or(Ok(0), |d| {
                d.trim().parse::<u16>().map_err(|_| bad_action(s))
            })
        };
        let action = match name {
            "allow" => Action::Allow,
            "log" => Action::Log,
            "kill" | "kill_process" => Action::KillProcess,
            "kill_thread" => Action::KillThread,
            "notify" | "user_notif" => Action::UserNotif,
            "trap" => Action::Trap(number(data)?),
            "trace" => Action::Trace(number(data)?),
            "errno" => {
                Action::Errno(parse_errno(data.unwrap_or("EPERM")).ok_or_else(|| bad_action(s))?)
            }
            other => match parse_errno(other) {
                Some(e) if data.is_none() && other.starts_with('e') => Action::Errno(e),
                _ => return Err(bad_action(s)),
            },
        };
        action.validate()
    }
}

fn bad_action(s: &str) -> Error {
    Error::invalid_input(
        "seccomp",
        format!(
            "unknown action {s:?}: expected allow, log, kill_process, kill_thread, trap(N), errno(N|ENAME), user_notif or trace(N)"
        ),
    )
}

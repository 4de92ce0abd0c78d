//! Multiplexed syscalls: `socketcall(2)` and `ipc(2)`, through which a
//! 32-bit x86 program (and s390, PowerPC, MIPS o32, SPARC, m68k) can make
//! every socket and SysV IPC call without naming the syscall a rule names.
//!
//! A rule on `socket` must deny `socketcall(SYS_SOCKET, …)` too, or it
//! denies nothing a program cannot route around. So on an architecture
//! whose table has `socketcall` (or `ipc`), every rule on a call reachable
//! through it gets a twin on the multiplexer that checks the call number
//! in its first argument, as libseccomp adds them.
//!
//! The multiplexed call's own arguments sit in the caller's memory, where
//! BPF cannot read. A twin of a rule with argument comparisons can check
//! only the call number, so it is added only where that errs on the safe
//! side: when the rule is more restrictive than the default action (it
//! then applies to every such call through the multiplexer: a rule that
//! refuses `socket(AF_INET, …)` refuses every `socketcall(SYS_SOCKET, …)`).
//! A less restrictive rule with comparisons (allow `socket(AF_UNIX, …)`
//! under a deny default) gets no twin: its multiplexed calls get what the
//! other rules and the default say.

use std::borrow::Cow;

use crate::action::Action;
use crate::arch::Arch;
use crate::filter::{Arg, Rule, Syscall};

/// `socketcall`'s call numbers (`SYS_*` of `<linux/net.h>`).
const SOCKETCALL: &[(&str, u32)] = &[
    ("socket", 1),
    ("bind", 2),
    ("connect", 3),
    ("listen", 4),
    ("accept", 5),
    ("getsockname", 6),
    ("getpeername", 7),
    ("socketpair", 8),
    ("send", 9),
    ("recv", 10),
    ("sendto", 11),
    ("recvfrom", 12),
    ("shutdown", 13),
    ("setsockopt", 14),
    ("getsockopt", 15),
    ("sendmsg", 16),
    ("recvmsg", 17),
    ("accept4", 18),
    ("recvmmsg", 19),
    ("sendmmsg", 20),
];

/// `ipc`'s call numbers (`<linux/ipc.h>`); the kernel takes the call from
/// the first argument's lower 16 bits (the upper ones are a version).
const IPC: &[(&str, u32)] = &[
    ("semop", 1),
    ("semget", 2),
    ("semctl", 3),
    ("semtimedop", 4),
    ("msgsnd", 11),
    ("msgrcv", 12),
    ("msgget", 13),
    ("msgctl", 14),
    ("shmat", 21),
    ("shmdt", 22),
    ("shmget", 23),
    ("shmctl", 24),
];

/// The multiplexer (its number on `arch`) and the call number through
/// which `name` can be made there, as the comparison on its first
/// argument.
fn route(arch: Arch, name: &str) -> Option<(&'static str, u32, crate::filter::Cmp)> {
    if let Some(&(_, call)) = SOCKETCALL.iter().find(|(n, _)| *n == name) {
        let nr = arch.syscall("socketcall")?;
        return Some(("socketcall", nr, Arg::u32(0).equal(call)));
    }
    if let Some(&(_, call)) = IPC.iter().find(|(n, _)| *n == name) {
        let nr = arch.syscall("ipc")?;
        return Some(("ipc", nr, Arg::u32(0).masked_eq(0xffffu32, call)));
    }
    None
}

/// Whether `name` can be called on `arch` through a multiplexer.
pub(crate) fn reachable(arch: Arch, name: &str) -> bool {
    route(arch, name).is_some()
}

/// The twin of `rule` on `arch`'s multiplexer, with its number there, if
/// it needs one (see the module docs); `default` is the filter's default
/// action.
pub(crate) fn twin(arch: Arch, rule: &Rule, default: Action) -> Option<(u32, Rule)> {
    let Syscall::Name(name) = &rule.syscall else {
        return None; // a raw number names no socket call
    };
    let (multiplexer, nr, call) = route(arch, name)?;
    if !rule.cmps.is_empty() && rule.action.precedence() >= default.precedence() {
        return None;
    }
    Some((
        nr,
        Rule {
            syscall: Syscall::Name(Cow::Borrowed(multiplexer)),
            cmps: vec![call],
            action: rule.action,
            arches: rule.arches.clone(),
        },
    ))
}

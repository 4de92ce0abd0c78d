//! Probes for the crate not built yet (`seccomp-lite`), kept here so that `butter doctor` shows what this kernel
//! offers them, and so that `fd-core` holds no crate's syscalls. Each
//! crate's rows move into it when it is built, as the others' did.
//!
//! # Safety
//!
//! Each call passes the kernel integers, null pointers it rejects before
//! reading them (flags with every bit set), or pointers to locals that
//! outlive the call.
#![allow(unsafe_code)]

use fd_core::Error;
use fd_core::probe::{Probe, Status};

/// The seccomp filter actions, with their names, in precedence order.
const SECCOMP_ACTIONS: &[(&str, u32)] = &[
    ("KILL_PROCESS", libc::SECCOMP_RET_KILL_PROCESS),
    ("KILL_THREAD", libc::SECCOMP_RET_KILL_THREAD),
    ("TRAP", libc::SECCOMP_RET_TRAP),
    ("ERRNO", libc::SECCOMP_RET_ERRNO),
    ("USER_NOTIF", libc::SECCOMP_RET_USER_NOTIF),
    ("TRACE", libc::SECCOMP_RET_TRACE),
    ("LOG", libc::SECCOMP_RET_LOG),
    ("ALLOW", libc::SECCOMP_RET_ALLOW),
];

/// Every planned crate's rows.
pub(crate) fn probe() -> Vec<Probe> {
    seccomp_probes()
}

fn seccomp_probes() -> Vec<Probe> {
    let mode = Probe::new("seccomp-lite", "seccomp (this process's mode)", "3.5");
    // SAFETY: integer arguments only.
    let ret = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    let mut rows = vec![match ret {
        0 => mode.with_status(Status::Available, "not filtered"),
        2 => mode.with_status(
            Status::Available,
            "already filtered (mode 2): new filters stack",
        ),
        n if n > 0 => mode.with_status(Status::Available, format!("mode {n}")),
        _ => mode.tried::<()>(Err(Error::last_os_error("prctl")), "nothing"),
    }];
    let (mut available, mut missing) = (Vec::new(), Vec::new());
    for &(name, action) in SECCOMP_ACTIONS {
        // SAFETY: the kernel reads one u32 through the pointer, which
        // outlives the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::c_ulong::from(libc::SECCOMP_GET_ACTION_AVAIL),
                0 as libc::c_ulong,
                &raw const action,
            )
        };
        if ret == 0 {
            available.push(name)
        } else {
            missing.push(name)
        }
    }
    let actions = Probe::new("seccomp-lite", "seccomp filter actions", "4.14");
    rows.push(if missing.is_empty() {
        actions.with_status(Status::Available, available.join(" "))
    } else if available.is_empty() {
        actions.with_status(
            Status::Unavailable,
            "SECCOMP_GET_ACTION_AVAIL refused every action",
        )
    } else {
        actions.with_status(
            Status::Available,
            format!("{} (missing: {})", available.join(" "), missing.join(" ")),
        )
    });
    rows
}

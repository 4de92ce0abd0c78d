//! Probes for the crates not built yet (`kernel-aio`, `ns-sys`,
//! `seccomp-lite`), kept here so that `butter doctor` shows what this kernel
//! offers them, and so that `fd-core` holds no crate's syscalls. Each
//! crate's rows move into it when it is built, as the others' did.
//!
//! # Safety
//!
//! Each call passes the kernel integers, null pointers it rejects before
//! reading them (flags with every bit set), or pointers to locals that
//! outlive the call. The forked-child bodies make raw syscalls only and
//! read errno, as `fd_core::probe::in_child` requires.
#![allow(unsafe_code)]

use fd_core::probe::{CAP_SYS_ADMIN, Probe, Status, has_capability, read_proc_value};
use fd_core::{Error, ErrorKind, Result};

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

/// The errno of the last failed call; async-signal-safe.
fn errno() -> i32 {
    // SAFETY: this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Every planned crate's rows.
pub(crate) fn probe() -> Vec<Probe> {
    let root = has_capability(CAP_SYS_ADMIN).unwrap_or(false);
    let mut rows = aio_probes();
    rows.extend(namespace_probes(root));
    rows.extend(seccomp_probes());
    rows
}

/// `io_setup(1)` then `io_destroy`: whether native AIO contexts can be made.
fn aio_context_roundtrip() -> Result<()> {
    let mut ctx: libc::c_ulong = 0;
    // SAFETY: `ctx` is a zeroed aio_context_t the kernel writes; it outlives the call.
    if unsafe { libc::syscall(libc::SYS_io_setup, 1 as libc::c_long, &raw mut ctx) } < 0 {
        return Err(Error::last_os_error("io_setup"));
    }
    // SAFETY: the context io_setup just made, destroyed once.
    if unsafe { libc::syscall(libc::SYS_io_destroy, ctx) } < 0 {
        return Err(Error::last_os_error("io_destroy"));
    }
    Ok(())
}

fn aio_probes() -> Vec<Probe> {
    let made = aio_context_roundtrip().map_err(|e| {
        if e.errno() == libc::EAGAIN {
            e.with_kind(ErrorKind::ResourceLimit)
                .with_detail("aio-nr has reached aio-max-nr")
        } else {
            e
        }
    });
    vec![
        Probe::new("kernel-aio", "io_setup", "2.6.0").tried(made, "nothing"),
        Probe::new("kernel-aio", "aio-max-nr", "2.6.0").limit("/proc/sys/fs/aio-max-nr"),
        Probe::new("kernel-aio", "aio-nr (in use)", "2.6.0").limit("/proc/sys/fs/aio-nr"),
    ]
}

/// Child body: `unshare(CLONE_NEWUSER)`.
fn child_unshare_user() -> i32 {
    // SAFETY: raw syscall with an integer argument.
    if unsafe { libc::syscall(libc::SYS_unshare, libc::c_long::from(libc::CLONE_NEWUSER)) } < 0 {
        return errno();
    }
    0
}

/// Whether a new-mount-API syscall exists: called with every flag bit set,
/// which it refuses (EINVAL, or EPERM first) before reading any pointer;
/// `false` only on `ENOSYS`.
fn mount_api_known(nr: libc::c_long) -> bool {
    let all = !0 as libc::c_ulong;
    // SAFETY: each call checks its flags or capability before reading
    // through the null pointers, so nothing is dereferenced.
    let ret = unsafe {
        match nr {
            libc::SYS_fsopen => libc::syscall(nr, 0usize, all),
            libc::SYS_open_tree => libc::syscall(nr, -1 as libc::c_long, 0usize, all),
            _ => libc::syscall(nr, -1 as libc::c_long, 0usize, all, 0usize, 0usize),
        }
    };
    ret == 0 || errno() != libc::ENOSYS
}

fn namespace_probes(root: bool) -> Vec<Probe> {
    let mut rows = Vec::new();
    let try_userns = |as_nobody: bool| {
        // SAFETY: the child body makes one raw syscall and reads errno.
        unsafe { fd_core::probe::in_child(as_nobody, child_unshare_user) }
    };
    let userns = Probe::new("ns-sys", "user namespaces (this process)", "3.8");
    rows.push(match try_userns(false) {
        Ok(Ok(())) => userns.with_status(Status::Available, ""),
        Ok(Err(errno)) => userns.with_status(Status::Unavailable, userns_refusal(errno)),
        Err(e) => userns.with_status(Status::Unknown, e.to_string()),
    });
    let unpriv = Probe::new("ns-sys", "user namespaces (unprivileged users)", "3.8");
    rows.push(if root {
        match try_userns(true) {
            Ok(Ok(())) => unpriv.with_status(Status::Available, "tried as uid 65534 in a child"),
            Ok(Err(errno)) => unpriv.with_status(Status::Unavailable, userns_refusal(errno)),
            Err(e) => unpriv.with_status(Status::Unknown, e.to_string()),
        }
    } else {
        let same = rows[rows.len() - 1].status;
        unpriv.with_status(same, "this process is unprivileged: same as the row above")
    });
    rows.push(
        Probe::new("ns-sys", "max_user_namespaces", "4.9")
            .limit("/proc/sys/user/max_user_namespaces"),
    );
    for (feature, nr, since) in [
        ("fsopen (new mount API)", libc::SYS_fsopen, "5.2"),
        ("open_tree", libc::SYS_open_tree, "5.2"),
        ("mount_setattr", libc::SYS_mount_setattr, "5.12"),
    ] {
        let probe = Probe::new("ns-sys", feature, since);
        rows.push(if mount_api_known(nr) {
            let detail = if root {
                ""
            } else {
                "using it needs CAP_SYS_ADMIN (in a user namespace is enough)"
            };
            probe.with_status(Status::Available, detail)
        } else {
            probe.with_status(
                Status::Unavailable,
                "ENOSYS: kernel older than the new mount API",
            )
        });
    }
    rows
}

/// Why the kernel refused a user namespace, in words.
fn userns_refusal(errno: i32) -> String {
    let knobs = [
        "/proc/sys/kernel/unprivileged_userns_clone",
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    ];
    let settings: Vec<String> = knobs
        .iter()
        .filter_map(|k| read_proc_value(k).ok().map(|v| format!("{k} = {v}")))
        .collect();
    let max = read_proc_value("/proc/sys/user/max_user_namespaces").unwrap_or_default();
    let name = fd_core::errno_info(errno).map_or("errno", |i| i.name);
    let mut why = match errno {
        libc::ENOSPC => format!("{name}: max_user_namespaces is {max}"),
        libc::EPERM | libc::EACCES => format!("{name}: refused by policy"),
        libc::EINVAL => format!("{name}: kernel built without CONFIG_USER_NS"),
        _ => format!("{name} ({errno})"),
    };
    if !settings.is_empty() {
        why.push_str("; ");
        why.push_str(&settings.join(", "));
    }
    why
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

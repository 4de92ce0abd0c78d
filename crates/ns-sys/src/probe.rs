//! What this kernel offers `ns-sys`, for `butter doctor`: user
//! namespaces (for this process and for unprivileged users), their limit,
//! and the new mount API.

use fd_core::probe::{CAP_SYS_ADMIN, Probe, Status, has_capability, read_proc_value};

use crate::sys;

/// Probes user namespaces (tried in a forked child, also as uid 65534 when
/// root), `max_user_namespaces`, and the new mount API syscalls.
pub fn probe() -> Vec<Probe> {
    namespace_probes(has_capability(CAP_SYS_ADMIN).unwrap_or(false))
}

fn namespace_probes(root: bool) -> Vec<Probe> {
    let mut rows = Vec::new();
    let try_userns = sys::try_user_namespace;
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
        rows.push(if sys::syscall_known(nr) {
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

//! What this kernel offers `seccomp-lite`, for `butter doctor`.

use fd_core::probe::{Probe, Status};

use crate::action::Action;
use crate::raw::{self, FilterFlags};

const ACTIONS: [Action; 8] = [
    Action::KillProcess,
    Action::KillThread,
    Action::Trap(0),
    Action::Errno(0),
    Action::UserNotif,
    Action::Trace(0),
    Action::Log,
    Action::Allow,
];

/// This process's seccomp mode, the actions the kernel knows, and the
/// notification sizes (which tell user notification is there). Loads
/// nothing.
pub fn probe() -> Vec<Probe> {
    let mode = Probe::new("seccomp-lite", "seccomp (this process's mode)", "3.5");
    let mut rows = vec![match raw::seccomp_mode() {
        Ok(0) => mode.with_status(Status::Available, "not filtered"),
        Ok(2) => mode.with_status(
            Status::Available,
            "already filtered (mode 2): new filters stack",
        ),
        Ok(n) => mode.with_status(Status::Available, format!("mode {n}")),
        Err(e) => mode.tried::<()>(Err(e), "nothing"),
    }];
    let (mut available, mut missing) = (Vec::new(), Vec::new());
    let mut failed = None;
    for action in ACTIONS {
        match raw::seccomp_get_action_avail(action) {
            Ok(true) => available.push(action.name()),
            Ok(false) => missing.push(action.name()),
            Err(e) => failed = Some(e),
        }
    }
    let actions = Probe::new("seccomp-lite", "seccomp filter actions", "4.14");
    rows.push(match failed {
        Some(e) if available.is_empty() => actions.tried::<()>(Err(e), "nothing"),
        _ if missing.is_empty() => actions.with_status(Status::Available, available.join(" ")),
        _ => actions.with_status(
            Status::Available,
            format!("{} (missing: {})", available.join(" "), missing.join(" ")),
        ),
    });
    let notif = Probe::new("seccomp-lite", "seccomp user notification", "5.0");
    rows.push(match raw::seccomp_get_notif_sizes() {
        Ok(s) => notif.with_status(
            Status::Available,
            format!("notif {} B, resp {} B, data {} B", s.notif, s.resp, s.data),
        ),
        Err(e) => notif.tried::<()>(Err(e), "nothing"),
    });
    let flags = FilterFlags::all()
        .iter_names()
        .map(|(n, f)| format!("{n} {}+", FilterFlags::since(f)));
    rows.push(
        Probe::new("seccomp-lite", "seccomp filter flags", "3.17").with_status(
            Status::Available,
            format!(
                "kernel {}: {}",
                kernel(),
                flags.collect::<Vec<_>>().join(", ")
            ),
        ),
    );
    rows
}

fn kernel() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

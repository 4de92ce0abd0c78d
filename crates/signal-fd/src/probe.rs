//! What this kernel offers `signal-fd`, for `butter doctor`.

use fd_core::probe::{Probe, rustix_err};

use crate::{SigSet, SignalFdFlags, signalfd};

/// Probes `signalfd4` (with an empty set) and `pidfd_open` (on this process).
pub fn probe() -> Vec<Probe> {
    vec![
        Probe::new("signal-fd", "signalfd4", "2.6.27").tried(
            signalfd(&SigSet::empty(), SignalFdFlags::empty()),
            "nothing",
        ),
        Probe::new("signal-fd", "pidfd_open", "5.3").tried(
            rustix::process::pidfd_open(
                rustix::process::getpid(),
                rustix::process::PidfdFlags::empty(),
            )
            .map_err(rustix_err("pidfd_open")),
            "nothing",
        ),
    ]
}

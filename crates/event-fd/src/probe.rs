//! What this kernel offers `event-fd`, for `butter doctor`.

use fd_core::probe::{Probe, rustix_err};

/// Probes `eventfd2` by making one and closing it.
pub fn probe() -> Vec<Probe> {
    vec![
        Probe::new("event-fd", "eventfd2", "2.6.27").tried(
            rustix::event::eventfd(0, rustix::event::EventfdFlags::CLOEXEC)
                .map_err(rustix_err("eventfd2")),
            "nothing",
        ),
    ]
}

//! What this kernel offers `kernel-aio`, for `butter doctor`.

use fd_core::ErrorKind;
use fd_core::probe::Probe;

use crate::sys;

/// Makes and destroys a one-event context, and reads the AIO limits.
pub fn probe() -> Vec<Probe> {
    let made = crate::raw::io_setup(1).and_then(sys::destroy_fresh);
    let made = made.map_err(|e| {
        if e.kind() == ErrorKind::ResourceLimit {
            e.with_detail("aio-nr has reached aio-max-nr")
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

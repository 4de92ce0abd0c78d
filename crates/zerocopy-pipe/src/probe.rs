//! What this kernel offers `zerocopy-pipe`, for `butter doctor`.

use fd_core::probe::{self, Probe};

use crate::Pipe;

/// Probes `splice` and `copy_file_range` with calls they must refuse or
/// that move nothing (only `ENOSYS` says a call is missing), and reads the
/// pipe limits.
pub fn probe() -> Vec<Probe> {
    let answer = |r: rustix::io::Result<usize>| r.map(drop).map_err(|e| e.raw_os_error());
    let (splice, cfr) = match Pipe::new() {
        Ok(pipe) => (
            // Zero bytes between two pipe ends: 0, where the kernel has it.
            answer(rustix::pipe::splice(
                pipe.read_end(),
                None,
                pipe.write_end(),
                None,
                0,
                rustix::pipe::SpliceFlags::empty(),
            )),
            // Pipes are no regular files: EINVAL (or EBADF), where it exists.
            answer(rustix::fs::copy_file_range(
                pipe.read_end(),
                None,
                pipe.write_end(),
                None,
                0,
            )),
        ),
        Err(e) => (Err(e.errno()), Err(e.errno())),
    };
    vec![
        probe::exists("zerocopy-pipe", "splice", "2.6.17", splice),
        probe::exists("zerocopy-pipe", "copy_file_range", "4.5", cfr),
        Probe::new("zerocopy-pipe", "pipe-max-size", "2.6.35").limit("/proc/sys/fs/pipe-max-size"),
        Probe::new("zerocopy-pipe", "pipe-user-pages-soft", "4.5")
            .limit("/proc/sys/fs/pipe-user-pages-soft"),
    ]
}

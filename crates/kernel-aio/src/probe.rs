//! What this kernel offers `kernel-aio`, for `butter doctor`.

use fd_core::ErrorKind;
use fd_core::probe::Probe;

use crate::sys;

/// Runs one operation of a kind the kernel may lack on a context of its
/// own, on a memfd, and waits a second at most for its completion.
fn one_op(
    make: impl for<'a> Fn(&'a std::os::fd::OwnedFd) -> crate::Op<'a>,
) -> fd_core::Result<u64> {
    let memfd = rustix::fs::memfd_create("butter-probe", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| fd_core::Error::from_errno("memfd_create", e.raw_os_error()))?;
    run_op(make(&memfd))
}

fn run_op(op: crate::Op<'_>) -> fd_core::Result<u64> {
    let mut ctx = crate::Context::new(1)?;
    ctx.submit_one(op)?;
    let done = ctx.getevents(1, 1, Some(std::time::Duration::from_secs(1)))?;
    done.first().map_or_else(
        || Err(fd_core::Error::from_errno("io_getevents", libc::ETIME)),
        crate::Completion::result,
    )
}

/// A one-byte read of this program's file with `RWF_NOWAIT` (memfds and
/// procfs files do not offer it): read, or `EAGAIN` (not cached), both
/// mean the kernel has it; `EOPNOTSUPP` is this filesystem's answer, which
/// the error names.
fn nowait() -> fd_core::Result<u64> {
    let exe = std::env::current_exe()
        .and_then(std::fs::File::open)
        .map_err(|e| fd_core::Error::from_io("open /proc/self/exe", e))?;
    let op = crate::Op::read(&exe, 0, vec![0u8; 1]).flags(crate::RwFlags::NOWAIT);
    match run_op(op) {
        Err(e) if e.errno() == libc::EAGAIN => Ok(0),
        other => other,
    }
}

/// Makes and destroys a one-event context, tries the operations that came
/// later than the rest, and reads the AIO limits.
pub fn probe() -> Vec<Probe> {
    let made = crate::raw::io_setup(1).and_then(|id| sys::destroy_fresh(id.0));
    let made = made.map_err(|e| {
        if e.kind() == ErrorKind::ResourceLimit {
            e.with_detail("aio-nr has reached aio-max-nr")
        } else {
            e
        }
    });
    vec![
        Probe::new("kernel-aio", "io_setup", "2.6.0").tried(made, "nothing"),
        Probe::new("kernel-aio", "IOCB_CMD_FSYNC", "4.18")
            .tried(one_op(|fd| crate::Op::fsync(fd)), "nothing"),
        Probe::new("kernel-aio", "IOCB_CMD_POLL", "4.18")
            .tried(one_op(|fd| crate::Op::poll(fd, libc::POLLOUT)), "nothing"),
        Probe::new("kernel-aio", "RWF_NOWAIT", "4.14").tried(nowait(), "nothing"),
        Probe::new("kernel-aio", "aio-max-nr", "2.6.0").limit("/proc/sys/fs/aio-max-nr"),
        Probe::new("kernel-aio", "aio-nr (in use)", "2.6.0").limit("/proc/sys/fs/aio-nr"),
    ]
}

//! The methods: one function per way of moving bytes, each stopping with
//! what the planner needs to know (done, fall back, failed).

use super::*;

pub(super) fn by_method(job: &mut Job<'_>, method: Method, direct: bool) -> Stop {
    match method {
        Method::CopyFileRange => by_copy_file_range(job),
        Method::Sendfile => by_sendfile(job),
        Method::Splice if direct => by_splice_direct(job),
        Method::Splice => by_splice_via_pipe(job),
        Method::ReadWrite => by_read_write(job),
    }
}

/// Whether holes in the input can be kept as holes in the output: both are
/// regular files copied by position (not `copy_at`, which must leave the
/// positions alone, and `SEEK_DATA` moves them), the output is not
/// `O_APPEND`, and the output's position is at or past its end, so that what
/// is skipped reads back as zeros. `Some(size)`: the output's size now.
pub(super) fn holes_to_keep(
    src: &rustix::fs::Stat,
    src_off: Option<u64>,
    dst: &rustix::fs::Stat,
    dst_off: Option<u64>,
    dst_append: bool,
    src_fd: BorrowedFd<'_>,
    dst_fd: BorrowedFd<'_>,
) -> Result<Option<u64>> {
    // Only where the input has holes at all (fewer blocks than bytes, as
    // cp judges it) on a filesystem whose sizes are real.
    let looks_sparse = src.st_blocks.saturating_mul(512) < src.st_size;
    if !is_regular(src)
        || !is_regular(dst)
        || dst_append
        || src_off.is_some()
        || dst_off.is_some()
        || !looks_sparse
        || pseudo_fs(src_fd)
    {
        return Ok(None);
    }
    let pos = rustix::fs::seek(dst_fd, rustix::fs::SeekFrom::Current(0)).syscall("lseek")?;
    let size = u64::try_from(dst.st_size).unwrap_or(0);
    Ok((pos >= size).then_some(size))
}

/// Copies data segment by data segment (`SEEK_DATA`/`SEEK_HOLE`), moving
/// both positions past holes instead of writing zeros, then extends the
/// output to its full length if it ends in a hole.
pub(super) fn by_segments(job: &mut Job<'_>, method: Method, dst_size: u64) -> Stop {
    use rustix::fs::{SeekFrom, seek};
    let result = (|| -> std::result::Result<Stop, Error> {
        let limit = job.limit;
        loop {
            let left = job.left();
            if left == 0 {
                return Ok(Stop::Done);
            }
            let pos = seek(job.src, SeekFrom::Current(0)).syscall("lseek")?;
            let (data, end) = match seek(job.src, SeekFrom::Data(pos)) {
                Ok(d) => (d, None),
                // No data after `pos`: the rest is a hole up to the end.
                Err(rustix::io::Errno::NXIO) => {
                    let size = rustix::fs::fstat(job.src).syscall("fstat")?.st_size;
                    (u64::try_from(size).unwrap_or(0).max(pos), Some(()))
                }
                // No hole support here: copy the rest as data.
                Err(_) => {
                    seek(job.src, SeekFrom::Start(pos)).syscall("lseek")?;
                    return Ok(by_method(job, method, false));
                }
            };
            let hole = (data - pos).min(left);
            if hole > 0 {
                let to = pos + hole;
                seek(job.src, SeekFrom::Start(to)).syscall("lseek")?;
                let hole_i = i64::try_from(hole).unwrap_or(i64::MAX);
                seek(job.dst, SeekFrom::Current(hole_i)).syscall("lseek")?;
                job.copied += hole;
                job.holes += hole;
            }
            if end.is_some() || job.left() == 0 {
                return Ok(Stop::Done);
            }
            let hole_at = seek(job.src, SeekFrom::Hole(data)).syscall("lseek")?;
            seek(job.src, SeekFrom::Start(data)).syscall("lseek")?;
            let segment = (hole_at - data).min(job.left());
            // The method runs to the segment's end, or to the input's end if
            // the file grew meanwhile.
            job.limit = Some(job.copied + segment);
            let stop = by_method(job, method, false);
            job.limit = limit;
            if !matches!(stop, Stop::Done) {
                return Ok(stop);
            }
            if seek(job.src, SeekFrom::Current(0)).syscall("lseek")? < hole_at {
                // The input ended inside the segment (it shrank): done.
                return Ok(Stop::Done);
            }
        }
    })();
    let stop = match result {
        Ok(stop) => stop,
        Err(e) => Stop::Failed(e),
    };
    // Whatever happened, a trailing hole must not leave the output short.
    if job.holes > 0
        && let Err(e) = extend_to_position(job.dst, dst_size)
    {
        return match stop {
            Stop::Failed(first) => Stop::Failed(first),
            _ => Stop::Failed(e),
        };
    }
    stop
}

/// Grows the output to its position if skipping a hole left it shorter
/// (never shrinks it).
pub(super) fn extend_to_position(dst: BorrowedFd<'_>, size_before: u64) -> Result<()> {
    let pos = rustix::fs::seek(dst, rustix::fs::SeekFrom::Current(0)).syscall("lseek")?;
    let size = rustix::fs::fstat(dst).syscall("fstat")?.st_size;
    if pos > u64::try_from(size).unwrap_or(0).max(size_before) {
        rustix::fs::ftruncate(dst, pos).syscall("ftruncate")?;
    }
    Ok(())
}

/// Why a first `Ok(0)` falls back: pseudo-files (procfs, sysfs) report a
/// size of 0 or 4096 and give `copy_file_range`/`sendfile` nothing, though
/// `read` gets their contents. For a truly empty file the next method reads
/// 0 bytes too, at the cost of a syscall or two.
pub(super) const ZERO_AT_ONCE: &str =
    "returned 0 bytes at once, as for a pseudo-file (procfs, sysfs): trying the next method";

/// Filesystems whose file sizes say nothing about their contents.
pub(super) fn pseudo_fs(fd: BorrowedFd<'_>) -> bool {
    const PSEUDO: [i64; 9] = [
        0x9fa0,      // PROC_SUPER_MAGIC
        0x6265_6572, // SYSFS_MAGIC
        0x6462_6720, // DEBUGFS_MAGIC
        0x7472_6163, // TRACEFS_MAGIC
        0x7363_6673, // SECURITYFS_MAGIC
        0x6265_6570, // CONFIGFS_MAGIC
        0x0027_e0eb, // CGROUP_SUPER_MAGIC
        0x6367_7270, // CGROUP2_SUPER_MAGIC
        0xde5e_81e4, // EFIVARFS_MAGIC
    ];
    // Unknown counts as pseudo: the caller then reads to be sure.
    rustix::fs::fstatfs(fd).map_or(true, |fs| PSEUDO.contains(&fs.f_type))
}

/// After a first `Ok(0)`: whether the input really is at its end (an empty
/// or fully read file), rather than a pseudo-file whose size means nothing.
pub(super) fn at_real_end(job: &Job<'_>) -> bool {
    let pos = match job.src_off {
        Some(off) => Ok(off),
        None => rustix::fs::seek(job.src, rustix::fs::SeekFrom::Current(0)),
    };
    let size = rustix::fs::fstat(job.src).map(|st| u64::try_from(st.st_size).unwrap_or(0));
    matches!((pos, size), (Ok(pos), Ok(size)) if pos >= size) && !pseudo_fs(job.src)
}

/// The per-call limit of `copy_file_range` and `sendfile` (`MAX_RW_COUNT`).
pub(super) const MAX_RW: usize = 0x7fff_f000;

/// Waits for `fd` when a non-blocking end would block.
pub(super) fn wait(fd: BorrowedFd<'_>, writable: bool) -> Result<()> {
    if writable {
        fd_core::wait_writable(fd, None)
    } else {
        fd_core::wait_readable(fd, None)
    }
    .map(drop)
}

pub(super) fn by_copy_file_range(job: &mut Job<'_>) -> Stop {
    while job.left() > 0 {
        let (mut si, mut di) = (job.src_off, job.dst_off);
        match raw::copy_file_range(
            job.src,
            si.as_mut(),
            job.dst,
            di.as_mut(),
            job.chunk(MAX_RW),
        ) {
            Ok(0) if job.copied == 0 && !at_real_end(job) => {
                return Stop::FallBack(ZERO_AT_ONCE.into());
            }
            Ok(0) => break,
            Ok(n) => {
                job.src_off = si;
                job.copied += n as u64;
                job.dst_off = di;
            }
            Err(e) if job.copied == 0 && fits_not(&e, Method::CopyFileRange) => {
                return Stop::FallBack(e.to_string());
            }
            Err(e) => return Stop::Failed(e),
        }
    }
    Stop::Done
}

pub(super) fn by_sendfile(job: &mut Job<'_>) -> Stop {
    while job.left() > 0 {
        let mut off = job.src_off;
        match raw::sendfile(job.dst, job.src, off.as_mut(), job.chunk(MAX_RW)) {
            Ok(0) if job.copied == 0 && !at_real_end(job) => {
                return Stop::FallBack(ZERO_AT_ONCE.into());
            }
            Ok(0) => break,
            Ok(n) => {
                job.src_off = off;
                job.advance(n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if let Err(e) = wait(job.dst, true) {
                    return Stop::Failed(e);
                }
            }
            Err(e) if job.copied == 0 && fits_not(&e, Method::Sendfile) => {
                return Stop::FallBack(e.to_string());
            }
            Err(e) => return Stop::Failed(e),
        }
    }
    Stop::Done
}

/// One end is a pipe: splice straight between them.
pub(super) fn by_splice_direct(job: &mut Job<'_>) -> Stop {
    while job.left() > 0 {
        let (mut si, mut di) = (job.src_off, job.dst_off);
        match raw::splice(
            job.src,
            si.as_mut(),
            job.dst,
            di.as_mut(),
            job.chunk(1 << 30),
            SpliceFlags::MOVE,
        ) {
            Ok(0) => break,
            Ok(n) => {
                job.src_off = si;
                job.copied += n as u64;
                job.dst_off = di;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                // Which end blocked is not said: wait for either to be ready.
                if let Err(e) = fd_core::wait_either(job.src, job.dst, None) {
                    return Stop::Failed(e);
                }
            }
            Err(e) if job.copied == 0 && fits_not(&e, Method::Splice) => {
                return Stop::FallBack(e.to_string());
            }
            Err(e) => return Stop::Failed(e),
        }
    }
    Stop::Done
}

/// Neither end is a pipe: splice through an internal one.
pub(super) fn by_splice_via_pipe(job: &mut Job<'_>) -> Stop {
    let mut relay = match Relay::new(false) {
        Ok(r) => r,
        // Out of fds (or pipe buffers): nothing was taken yet, and
        // read/write needs no pipe.
        Err(e) if e.kind() == ErrorKind::ResourceLimit => {
            return Stop::FallBack(format!("no pipe to splice through: {e}"));
        }
        Err(e) => return Stop::Failed(e),
    };
    loop {
        let (mut si, mut di) = (job.src_off, job.dst_off);
        match relay.step(job.src, si.as_mut(), job.dst, di.as_mut(), job.left()) {
            Ok(Step::End) => break,
            Ok(Step::Took(_)) => job.src_off = si,
            Ok(Step::Gave(n)) => {
                job.copied += n as u64;
                job.dst_off = di;
            }
            Ok(Step::Blocked(side)) => {
                let fd = if side == Side::Input {
                    job.src
                } else {
                    job.dst
                };
                if let Err(e) = wait(fd, side == Side::Output) {
                    return Stop::Failed(e);
                }
            }
            Err((Side::Input, e)) if job.copied == 0 && fits_not(&e, Method::Splice) => {
                relay.release();
                return Stop::FallBack(e.to_string());
            }
            Err((Side::Output, e)) if job.copied == 0 && fits_not(&e, Method::Splice) => {
                // The input was already taken into the pipe: deliver it with
                // write(2) before handing over to the next method.
                return match flush_with_write(&relay.pipe, relay.pending, job) {
                    Ok(()) => Stop::FallBack(e.to_string()),
                    Err(e) => Stop::Failed(e),
                };
            }
            Err((_, e)) => return Stop::Failed(e),
        }
    }
    relay.release();
    Stop::Done
}

/// Moves `pending` bytes from the internal pipe to the output with write.
pub(super) fn flush_with_write(pipe: &Pipe, mut pending: usize, job: &mut Job<'_>) -> Result<()> {
    let mut buf = vec![0u8; pending.min(BUF)];
    while pending > 0 {
        let want = pending.min(buf.len());
        let n = fd_core::retry_on_intr(|| {
            rustix::io::read(pipe.read_end(), &mut buf[..want]).syscall("read")
        })?;
        write_all(job, &buf[..n])?;
        pending -= n;
    }
    Ok(())
}

pub(super) const BUF: usize = 128 * 1024;

pub(super) fn write_all(job: &mut Job<'_>, mut data: &[u8]) -> Result<()> {
    while !data.is_empty() {
        let res = match job.dst_off {
            Some(off) => rustix::io::pwrite(job.dst, data, off).syscall("pwrite"),
            None => rustix::io::write(job.dst, data).syscall("write"),
        };
        match res {
            Ok(n) => {
                job.advance(n);
                data = &data[n..];
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => wait(job.dst, true)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub(super) fn by_read_write(job: &mut Job<'_>) -> Stop {
    let mut buf = vec![0u8; BUF];
    while job.left() > 0 {
        let want = job.chunk(BUF);
        let res = match job.src_off {
            Some(off) => rustix::io::pread(job.src, &mut buf[..want], off).syscall("pread"),
            None => rustix::io::read(job.src, &mut buf[..want]).syscall("read"),
        };
        let n = match res {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if let Err(e) = wait(job.src, false) {
                    return Stop::Failed(e);
                }
                continue;
            }
            Err(e) => return Stop::Failed(e),
        };
        if let Some(off) = &mut job.src_off {
            *off += n as u64;
        }
        if let Err(e) = write_all(job, &buf[..n]) {
            return Stop::Failed(e);
        }
    }
    Stop::Done
}

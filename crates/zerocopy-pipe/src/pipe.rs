//! Pipes: create, size, query.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use fd_core::{Error, ErrorKind, Result, SyscallResult};

use crate::raw::{SpliceFlags, splice, tee};

bitflags::bitflags! {
    /// Flags for [`Pipe::with_flags`]. `O_CLOEXEC` is always added.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct PipeFlags: u32 {
        /// `O_NONBLOCK` on both ends.
        const NONBLOCK = rustix::pipe::PipeFlags::NONBLOCK.bits();
        /// `O_DIRECT`: packet mode, each write is one packet for one read.
        const DIRECT = rustix::pipe::PipeFlags::DIRECT.bits();
    }
}

/// A pipe: both ends, close-on-exec.
///
/// ```
/// use butter::pipe::Pipe;
///
/// let pipe = Pipe::new()?;
/// rustix::io::write(pipe.write_end(), b"hello")?;
/// assert_eq!(pipe.available()?, 5);
/// let granted = pipe.set_capacity(256 * 1024)?;
/// assert!(granted >= 256 * 1024);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    /// A blocking pipe (`pipe2(O_CLOEXEC)`).
    ///
    /// # Errors
    /// [`ErrorKind::ResourceLimit`] when out of fds (`EMFILE`, `ENFILE`).
    pub fn new() -> Result<Pipe> {
        Pipe::with_flags(PipeFlags::empty())
    }

    /// A pipe with `flags` (`pipe2(flags | O_CLOEXEC)`).
    pub fn with_flags(flags: PipeFlags) -> Result<Pipe> {
        let flags = rustix::pipe::PipeFlags::from_bits_retain(flags.bits())
            | rustix::pipe::PipeFlags::CLOEXEC;
        let (read, write) = rustix::pipe::pipe_with(flags).syscall("pipe2")?;
        Ok(Pipe { read, write })
    }

    /// The read end.
    pub fn read_end(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// The write end.
    pub fn write_end(&self) -> BorrowedFd<'_> {
        self.write.as_fd()
    }

    /// Both ends, owned: `(read, write)`.
    pub fn into_ends(self) -> (OwnedFd, OwnedFd) {
        (self.read, self.write)
    }

    /// The pipe's capacity in bytes (`F_GETPIPE_SZ`).
    pub fn capacity(&self) -> Result<usize> {
        rustix::pipe::fcntl_getpipe_size(&self.read).syscall("fcntl(F_GETPIPE_SZ)")
    }

    /// Sets the capacity (`F_SETPIPE_SZ`); the kernel rounds up to a power
    /// of two pages and returns what it granted.
    ///
    /// # Errors
    /// - [`ErrorKind::PermissionDenied`] (`EPERM`): over
    ///   `/proc/sys/fs/pipe-max-size` without `CAP_SYS_RESOURCE`, or past the
    ///   user's `pipe-user-pages-soft`/`-hard`; the message names the limits.
    /// - [`ErrorKind::Other`] (`EBUSY`): smaller than the data in the pipe.
    pub fn set_capacity(&self, bytes: usize) -> Result<usize> {
        set_pipe_size(&self.write, bytes)
    }

    /// Bytes waiting to be read (`FIONREAD`).
    pub fn available(&self) -> Result<usize> {
        available(&self.read)
    }
}

/// `F_SETPIPE_SZ` on any pipe fd, with errors that name the limits.
pub(crate) fn set_pipe_size(fd: impl AsFd, bytes: usize) -> Result<usize> {
    rustix::pipe::fcntl_setpipe_size(fd, bytes).syscall("fcntl(F_SETPIPE_SZ)").map_err(|e| {
        if e.kind() == ErrorKind::PermissionDenied {
            let read = |knob: &str| fd_core::probe::read_proc_value(format!("/proc/sys/fs/{knob}")).unwrap_or_default();
            e.with_detail(format!(
                "{bytes} bytes is over a pipe limit: pipe-max-size is {} bytes (raising past it needs \
                 CAP_SYS_RESOURCE), and this user's pipes may hold pipe-user-pages-soft {} / -hard {} pages \
                 in all (/proc/sys/fs)",
                read("pipe-max-size"),
                read("pipe-user-pages-soft"),
                read("pipe-user-pages-hard")
            ))
        } else if e.errno() == libc::EBUSY {
            e.with_detail(format!("{bytes} bytes is less than the data now in the pipe"))
        } else {
            e
        }
    })
}

/// `FIONREAD` on any fd: bytes waiting to be read.
pub fn available(fd: impl AsFd) -> Result<usize> {
    let n = rustix::io::ioctl_fionread(fd).syscall("ioctl(FIONREAD)")?;
    usize::try_from(n).map_err(|_| Error::from_errno("ioctl(FIONREAD)", libc::EOVERFLOW))
}

impl fmt::Debug for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use std::os::fd::AsRawFd;
        f.debug_struct("Pipe")
            .field("read", &self.read.as_raw_fd())
            .field("write", &self.write.as_raw_fd())
            .finish()
    }
}

/// Whether `fd` is a pipe (or FIFO).
pub fn is_pipe(fd: impl AsFd) -> Result<bool> {
    let st = rustix::fs::fstat(fd).syscall("fstat")?;
    Ok(rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo)
}

/// Sends everything read from the pipe `src` to both `first` (a pipe's
/// write end) and `second` (any fd splice can write to), until `src` ends
/// or `limit` bytes: `tee` into `first`, then `splice` the same bytes from
/// `src` to `second`. Returns the bytes each received.
///
/// # Errors
/// As [`tee`] and [`splice`]: [`ErrorKind::InvalidInput`] if `src` or
/// `first` is not a pipe.
pub fn tee_split(
    src: impl AsFd,
    first: impl AsFd,
    second: impl AsFd,
    limit: Option<u64>,
) -> Result<u64> {
    let (src, first, second) = (src.as_fd(), first.as_fd(), second.as_fd());
    let mut total = 0u64;
    loop {
        let left = limit.map_or(u64::MAX, |l| l - total.min(l));
        if left == 0 {
            return Ok(total);
        }
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(1 << 30);
        let n = fd_core::retry_on_intr(|| tee(src, first, want, SpliceFlags::empty()))?;
        if n == 0 {
            return Ok(total);
        }
        let mut moved = 0;
        while moved < n {
            moved += fd_core::retry_on_intr(|| {
                splice(src, None, second, None, n - moved, SpliceFlags::MOVE)
            })?;
        }
        total += n as u64;
    }
}

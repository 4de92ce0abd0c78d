//! `copy`: the fastest correct way between two fds, with safe fallbacks.
//!
//! One module per job: this one holds the public types and the planner
//! (which method for which pair, in which order, and the fallbacks);
//! `methods` moves the bytes, one function per method; `relay` is the
//! splice-through-a-pipe state machine the blocking and async copies share,
//! with the spare pipe it keeps per thread.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};
use std::str::FromStr;

use fd_core::{Error, ErrorKind, Result, SyscallResult};
use rustix::fs::FileType;

use crate::pipe::Pipe;
use crate::raw::{self, SpliceFlags};

/// How bytes were moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `copy_file_range`: file to file, in the kernel (reflinks where possible).
    CopyFileRange,
    /// `sendfile`: from a file to anything, in the kernel.
    Sendfile,
    /// `splice`: directly when one end is a pipe, else through an internal
    /// pipe of up to 1 MiB.
    Splice,
    /// `read`/`write` (or `pread`/`pwrite`) through a 128 KiB buffer.
    ReadWrite,
}

impl Method {
    /// Every method, in the order `auto` prefers them.
    pub const ALL: [Method; 4] = [
        Method::CopyFileRange,
        Method::Sendfile,
        Method::Splice,
        Method::ReadWrite,
    ];

    /// The name used by `butter copy --method`: `copy-file-range`,
    /// `sendfile`, `splice`, `read-write`.
    pub fn name(self) -> &'static str {
        match self {
            Method::CopyFileRange => "copy-file-range",
            Method::Sendfile => "sendfile",
            Method::Splice => "splice",
            Method::ReadWrite => "read-write",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = Error;

    fn from_str(s: &str) -> Result<Method> {
        Method::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            Error::invalid_input_in("Method::from_str", "splice",
                format!("unknown copy method {s:?}: expected copy-file-range, sendfile, splice or read-write"),
            )
        })
    }
}

/// What [`copy_with`] should do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyOptions {
    /// Copy at most this many bytes; `None`: until the end of the input.
    pub limit: Option<u64>,
    /// Use only this method; `None`: the fastest that works for the pair.
    pub method: Option<Method>,
    /// Let file → pipe use `splice`. The pipe then holds references to the
    /// file's page-cache pages instead of copies, so a write to the file
    /// before the reader has read the pipe shows up in what it reads. Off
    /// by default, which copies through user space for that pair.
    pub allow_pipe_aliasing: bool,
    /// Grow either end that is a pipe to at least this many bytes before
    /// copying (`F_SETPIPE_SZ`; never shrinks it). A pipe holds 64 KiB by
    /// default, and a copy through it wakes the other side every 64 KiB;
    /// 1 MiB (the default `pipe-max-size`) moved pipe → file and file →
    /// pipe up to several times faster here (see the README's bench rows).
    /// The pipe is shared with the process at its other end, so this is the
    /// caller's choice: `None` leaves it alone. Where the limits refuse the
    /// size, the copy goes on with the pipe as it is and says so in
    /// [`CopyReport::notes`].
    pub grow_pipes: Option<usize>,
}

/// A method `copy` tried or passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The method.
    pub method: Method,
    /// Why it was not used.
    pub reason: String,
}

/// What [`copy`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// Bytes written to the output.
    pub bytes: u64,
    /// The method that moved them (the last one tried).
    pub method: Method,
    /// Methods passed over before it, with the reasons.
    pub skipped: Vec<Skipped>,
    /// Other things worth knowing: a pipe that could not be grown.
    pub notes: Vec<String>,
}

/// A copy that failed part-way: the error, and what had been moved.
#[derive(Debug, Clone)]
pub struct CopyError {
    /// What went wrong.
    pub error: Error,
    /// Bytes written to the output before it.
    pub copied: u64,
    /// The method in use when it failed.
    pub method: Method,
}

impl fmt::Display for CopyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (after {} bytes, by {})",
            self.error, self.copied, self.method
        )
    }
}

impl std::error::Error for CopyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<CopyError> for std::io::Error {
    fn from(e: CopyError) -> std::io::Error {
        std::io::Error::new(e.error.kind().io_kind(), e)
    }
}

/// Copies from `src` to `dst` until the end of `src` or `limit` bytes, by
/// the fastest correct method for the pair; the fds' positions advance as
/// with `read`/`write`.
///
/// | `src` → `dst` | tried in order |
/// |---|---|
/// | file → file | `copy_file_range`, `sendfile`, read/write |
/// | file → socket | `sendfile`, `splice` via a pipe, read/write |
/// | file → char device, other streams | `splice` via a pipe, `sendfile`, read/write |
/// | file → pipe | read/write (`splice` with [`CopyOptions::allow_pipe_aliasing`]) |
/// | pipe → file | read/write, `splice` (measured: splice ran at 0.78x) |
/// | pipe → anything else, anything → pipe | `splice`, read/write |
/// | others (socket → socket, …) | `splice` via a pipe, read/write |
/// | → an `O_APPEND` file | read/write |
///
/// Before anything is read or written, [`check_pair`] refuses a directory
/// on either end and the same file or pipe on both (`copy f f` would
/// truncate or endlessly grow `f`). Holes in a sparse input file stay holes
/// in the output file, where the output's position is at or past its end
/// (a new or truncated file); over existing data they are written as zeros.
/// [`CopyOptions::grow_pipes`] grows a pipe end before copying.
///
/// A method is passed over for the next only while nothing has been
/// written, and only for errors that say the method does not fit the pair
/// (`ENOSYS`, `EXDEV`, `EINVAL`, `EOPNOTSUPP`, `EPERM` as seccomp gives it,
/// `EBADF` for `copy_file_range` on `O_APPEND`), or when the first call
/// returns 0 bytes from a file that reports size 0 (procfs, sysfs). Calls
/// are chunked to the kernel's per-call limits. Non-blocking ends are waited
/// on with `poll`.
///
/// A splice between two ends neither of which is a pipe goes through an
/// internal pipe of up to 1 MiB, which the thread keeps (2 fds) for its
/// next copy when it is left empty: [`release_spare_pipe`] drops it.
///
/// ```
/// use butter::pipe::{Method, copy};
///
/// let dir = std::env::temp_dir();
/// let (a, b) = (dir.join(format!("zc-doc-a-{}", std::process::id())), dir.join(format!("zc-doc-b-{}", std::process::id())));
/// std::fs::write(&a, b"hello, kernel").unwrap();
/// let src = std::fs::File::open(&a).unwrap();
/// let dst = std::fs::File::create(&b).unwrap();
/// let report = copy(&src, &dst, None)?;
/// assert_eq!((report.bytes, report.method), (13, Method::CopyFileRange));
/// assert_eq!(std::fs::read(&b).unwrap(), b"hello, kernel");
/// # std::fs::remove_file(&a).unwrap(); std::fs::remove_file(&b).unwrap();
/// # Ok::<(), butter::pipe::CopyError>(())
/// ```
///
/// # Errors
/// A [`CopyError`] with the bytes written before the failure.
pub fn copy(
    src: impl AsFd,
    dst: impl AsFd,
    limit: Option<u64>,
) -> std::result::Result<CopyReport, CopyError> {
    copy_with(
        src,
        dst,
        &CopyOptions {
            limit,
            ..CopyOptions::default()
        },
    )
}

/// [`copy`] with options.
pub fn copy_with(
    src: impl AsFd,
    dst: impl AsFd,
    options: &CopyOptions,
) -> std::result::Result<CopyReport, CopyError> {
    run(src.as_fd(), None, dst.as_fd(), None, options)
}

/// Copies from `src` at `src_offset` to `dst` at `dst_offset`, leaving both
/// fds' positions as they were. Both must be seekable (files, block devices).
///
/// # Errors
/// [`ErrorKind::InvalidInput`] if either end is a pipe, socket or other
/// stream, where offsets mean nothing; else as [`copy`].
pub fn copy_at(
    src: impl AsFd,
    src_offset: u64,
    dst: impl AsFd,
    dst_offset: u64,
    options: &CopyOptions,
) -> std::result::Result<CopyReport, CopyError> {
    run(
        src.as_fd(),
        Some(src_offset),
        dst.as_fd(),
        Some(dst_offset),
        options,
    )
}

fn fail(error: Error, method: Method) -> CopyError {
    CopyError {
        error,
        copied: 0,
        method,
    }
}

/// What an fd is, for choosing a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Pipe,
    Socket,
    Other,
}

fn kind_of(st: &rustix::fs::Stat) -> Kind {
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile | FileType::BlockDevice => Kind::File,
        FileType::Fifo => Kind::Pipe,
        FileType::Socket => Kind::Socket,
        _ => Kind::Other,
    }
}

fn is_regular(st: &rustix::fs::Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
}

/// Checks that copying from `src` to `dst` cannot destroy data, before
/// anything is read or written: neither end is a directory, and they are not
/// the same file or pipe (same device and inode, so hard links, symbolic
/// links, `/proc/self/fd` and fds opened twice are all caught).
///
/// [`copy`] and [`copy_with`] run it first; a caller that opens the
/// destination itself should open it without `O_TRUNC`, run this, and only
/// then truncate, as `butter copy` does, so that `copy f f` loses nothing.
/// The same socket or terminal on both ends (an echo) is allowed.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] naming what was wrong: `EISDIR` for a
/// directory, `EINVAL` for the same file or pipe on both ends; the errors of
/// `fstat` for fds it cannot inspect.
pub fn check_pair(src: impl AsFd, dst: impl AsFd) -> Result<()> {
    let src_st = rustix::fs::fstat(src.as_fd()).syscall("fstat")?;
    let dst_st = rustix::fs::fstat(dst.as_fd()).syscall("fstat")?;
    check_stats(&src_st, None, &dst_st, None, None)
}

fn check_stats(
    src: &rustix::fs::Stat,
    src_off: Option<u64>,
    dst: &rustix::fs::Stat,
    dst_off: Option<u64>,
    limit: Option<u64>,
) -> Result<()> {
    for (st, which) in [(src, "input"), (dst, "output")] {
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            return Err(Error::from_errno("copy", libc::EISDIR)
                .with_kind(ErrorKind::InvalidInput)
                .with_detail(format!("the {which} is a directory")));
        }
    }
    if (src.st_dev, src.st_ino) != (dst.st_dev, dst.st_ino) {
        return Ok(());
    }
    let what = match FileType::from_raw_mode(src.st_mode) {
        FileType::Fifo => "the same pipe: it would read back what it writes, forever",
        FileType::RegularFile | FileType::BlockDevice => {
            // copy_at within one file is fine where the ranges cannot meet.
            if let (Some(s), Some(d), Some(len)) = (src_off, dst_off, limit)
                && (s.checked_add(len).is_some_and(|end| end <= d)
                    || d.checked_add(len).is_some_and(|end| end <= s))
            {
                return Ok(());
            }
            "the same file: writing it would destroy or endlessly grow what is read \
             (copy_at with a limit copies between ranges that do not overlap)"
        }
        _ => return Ok(()),
    };
    Err(Error::invalid_input(
        "copy",
        format!(
            "input and output are {what} (device {}, inode {})",
            src.st_dev, src.st_ino
        ),
    ))
}

/// The methods to try for a pair, and the ones passed over up front.
fn plan(
    src: Kind,
    dst: Kind,
    dst_append: bool,
    options: &CopyOptions,
    offsets: bool,
) -> (Vec<Method>, Vec<Skipped>) {
    use Method::*;
    let mut skipped = Vec::new();
    let auto: Vec<Method> = if let Some(m) = options.method {
        // A method given explicitly is used as asked, aliasing included, and
        // nothing is reported as passed over.
        vec![m]
    } else if dst_append {
        skipped.push(Skipped {
            method: Splice,
            reason: "the output is O_APPEND, which copy_file_range, sendfile and splice refuse"
                .into(),
        });
        vec![ReadWrite]
    } else {
        match (src, dst) {
            (Kind::File, Kind::File) => vec![CopyFileRange, Sendfile, ReadWrite],
            (Kind::File, Kind::Pipe) if !options.allow_pipe_aliasing => {
                skipped.push(Skipped {
                    method: Splice,
                    reason:
                        "file to pipe: splice would let later writes to the file show in the pipe \
                             (allow_pipe_aliasing opts in)"
                            .into(),
                });
                vec![ReadWrite]
            }
            // Pipe into a file: splice ran at 0.78x of a read/write loop
            // (the C splice loop too), with a 64 KiB or a 1 MiB pipe.
            (Kind::Pipe, Kind::File) => vec![ReadWrite, Splice],
            (_, Kind::Pipe) | (Kind::Pipe, _) => vec![Splice, ReadWrite],
            // Into sockets sendfile is fastest (measured: 0.92x of a C splice
            // loop); into other streams it splices through a 64 KiB internal
            // pipe, and our 1 MiB pipe is faster (sendfile ran at 1.28x).
            (Kind::File, Kind::Socket) => vec![Sendfile, Splice, ReadWrite],
            (Kind::File, _) => vec![Splice, Sendfile, ReadWrite],
            _ => vec![Splice, ReadWrite],
        }
    };
    let mut methods = auto;
    if offsets {
        // sendfile cannot write at an offset.
        methods.retain(|m| *m != Sendfile);
    }
    (methods, skipped)
}

/// One copy in progress.
struct Job<'a> {
    src: BorrowedFd<'a>,
    dst: BorrowedFd<'a>,
    src_off: Option<u64>,
    dst_off: Option<u64>,
    limit: Option<u64>,
    /// Bytes of the input accounted for: written, or skipped as holes.
    copied: u64,
    /// Of those, bytes skipped as holes (never written).
    holes: u64,
}

impl Job<'_> {
    fn written(&self) -> u64 {
        self.copied - self.holes
    }

    fn left(&self) -> u64 {
        self.limit.map_or(u64::MAX, |l| l - self.copied.min(l))
    }

    fn chunk(&self, max: usize) -> usize {
        usize::try_from(self.left()).unwrap_or(usize::MAX).min(max)
    }

    fn advance(&mut self, n: usize) {
        let n = n as u64;
        self.copied += n;
        if let Some(off) = &mut self.dst_off {
            *off += n;
        }
    }
}

/// Why a method stopped: the copy is complete, the method does not fit the
/// pair (fall back), or an error to report.
enum Stop {
    Done,
    FallBack(String),
    Failed(Error),
}

/// Whether `err` from `method`, with nothing written, means "use another method".
fn fits_not(err: &Error, method: Method) -> bool {
    match err.errno() {
        libc::ENOSYS | libc::EXDEV | libc::EINVAL | libc::EOPNOTSUPP | libc::EPERM => true,
        libc::EBADF => method == Method::CopyFileRange,
        _ => false,
    }
}

fn run(
    src: BorrowedFd<'_>,
    src_off: Option<u64>,
    dst: BorrowedFd<'_>,
    dst_off: Option<u64>,
    options: &CopyOptions,
) -> std::result::Result<CopyReport, CopyError> {
    let first = options.method.unwrap_or(Method::ReadWrite);
    let src_st = rustix::fs::fstat(src)
        .syscall("fstat")
        .map_err(|e| fail(e, first))?;
    let dst_st = rustix::fs::fstat(dst)
        .syscall("fstat")
        .map_err(|e| fail(e, first))?;
    check_stats(&src_st, src_off, &dst_st, dst_off, options.limit).map_err(|e| fail(e, first))?;
    let (src_kind, dst_kind) = (kind_of(&src_st), kind_of(&dst_st));
    let mut notes = Vec::new();
    if let Some(want) = options.grow_pipes {
        for (fd, k, which) in [(src, src_kind, "input"), (dst, dst_kind, "output")] {
            if k == Kind::Pipe
                && let Err(e) = grow_pipe(fd, want)
            {
                notes.push(format!(
                    "the {which} pipe was not grown to {want} bytes: {e}"
                ));
            }
        }
    }
    let offsets = src_off.is_some() || dst_off.is_some();
    if offsets {
        for (k, which) in [(src_kind, "input"), (dst_kind, "output")] {
            if k != Kind::File {
                return Err(fail(
                    Error::invalid_input(
                        "copy_at",
                        format!(
                            "the {which} is a pipe, socket or stream: offsets mean nothing there"
                        ),
                    ),
                    first,
                ));
            }
        }
    }
    let dst_append = rustix::fs::fcntl_getfl(dst)
        .syscall("fcntl(F_GETFL)")
        .map_err(|e| fail(e, first))?
        .contains(rustix::fs::OFlags::APPEND);
    let (methods, mut skipped) = plan(src_kind, dst_kind, dst_append, options, offsets);
    let mut job = Job {
        src,
        dst,
        src_off,
        dst_off,
        limit: options.limit,
        copied: 0,
        holes: 0,
    };
    let Some(last) = methods.len().checked_sub(1) else {
        return Err(fail(
            Error::invalid_input(
                "copy_at",
                "sendfile cannot write at an offset: use another method",
            ),
            first,
        ));
    };
    let sparse = match holes_to_keep(&src_st, src_off, &dst_st, dst_off, dst_append, src, dst) {
        Ok(s) => s,
        Err(e) => return Err(fail(e, first)),
    };
    let direct = src_kind == Kind::Pipe || dst_kind == Kind::Pipe;
    for (i, method) in methods.into_iter().enumerate() {
        let before = job.written();
        let stop = match sparse {
            Some(dst_end) => by_segments(&mut job, method, dst_end),
            None => by_method(&mut job, method, direct),
        };
        match stop {
            Stop::Done => {
                return Ok(CopyReport {
                    bytes: job.copied,
                    method,
                    skipped,
                    notes,
                });
            }
            // Falling back is only right before anything was written by a
            // zero-copy method (or when its leftovers were flushed by write).
            Stop::FallBack(reason)
                if i < last && (job.written() == before || method == Method::Splice) =>
            {
                skipped.push(Skipped { method, reason });
            }
            Stop::FallBack(reason) => {
                let error = Error::from_errno("copy", libc::EINVAL).with_detail(reason);
                return Err(CopyError {
                    error,
                    copied: job.copied,
                    method,
                });
            }
            Stop::Failed(error) => {
                return Err(CopyError {
                    error,
                    copied: job.copied,
                    method,
                });
            }
        }
    }
    // The last method's stop is always final (returned above).
    Err(fail(
        Error::invalid_input("copy", "no copy method left to try"),
        first,
    ))
}

/// Grows a pipe to at least `want` bytes; never shrinks it.
pub(crate) fn grow_pipe(fd: BorrowedFd<'_>, want: usize) -> Result<()> {
    let now = rustix::pipe::fcntl_getpipe_size(fd).syscall("fcntl(F_GETPIPE_SZ)")?;
    if now < want {
        crate::pipe::set_pipe_size(fd, want)?;
    }
    Ok(())
}

mod methods;
mod relay;

use methods::*;
pub(crate) use relay::{Relay, Side, Step};
pub use relay::{has_spare_pipe, release_spare_pipe};

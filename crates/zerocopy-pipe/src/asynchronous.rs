//! Async copying on async-io's reactor (feature `async`), through fd-core's
//! adapter like every other crate's async types.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use fd_core::{AsyncReady, AsyncSource, Error, ErrorKind, Result};

use crate::copy::{CopyError, CopyOptions, CopyReport, Method, Relay, Side, Step};
use crate::pipe::{Pipe, PipeFlags};
use crate::raw::{self, SpliceFlags};

/// A pipe whose ends are on async-io's reactor.
///
/// ```
/// use butter::pipe::AsyncPipe;
///
/// futures_lite::future::block_on(async {
///     let pipe = AsyncPipe::new()?;
///     pipe.write(b"ping").await?;
///     let mut buf = [0u8; 4];
///     assert_eq!(pipe.read(&mut buf).await?, 4);
///     assert_eq!(&buf, b"ping");
///     Ok::<(), butter::Error>(())
/// })?;
/// # Ok::<(), butter::Error>(())
/// ```
#[derive(Debug)]
pub struct AsyncPipe {
    read: AsyncSource<OwnedFd>,
    write: AsyncSource<OwnedFd>,
}

impl AsyncPipe {
    /// A new pipe, non-blocking, registered with the reactor.
    ///
    /// # Errors
    /// [`ErrorKind::ResourceLimit`] when out of fds.
    pub fn new() -> Result<AsyncPipe> {
        AsyncPipe::from_pipe(Pipe::with_flags(PipeFlags::NONBLOCK)?)
    }

    /// Registers both ends of `pipe` (which become non-blocking).
    pub fn from_pipe(pipe: Pipe) -> Result<AsyncPipe> {
        let (read, write) = pipe.into_ends();
        Ok(AsyncPipe {
            read: AsyncSource::new(read)?,
            write: AsyncSource::new(write)?,
        })
    }

    /// The read end, for [`copy_async`] and readiness.
    pub fn read_end(&self) -> &AsyncSource<OwnedFd> {
        &self.read
    }

    /// The write end, for [`copy_async`] and readiness.
    pub fn write_end(&self) -> &AsyncSource<OwnedFd> {
        &self.write
    }

    /// Reads what is there, waiting until something is; 0 at end of input.
    pub async fn read(&self, buf: &mut [u8]) -> Result<usize> {
        self.read
            .read_with(|fd| {
                rustix::io::read(fd, &mut *buf)
                    .map_err(|e| Error::from_errno("read", e.raw_os_error()))
            })
            .await
    }

    /// Writes some of `buf`, waiting for room.
    pub async fn write(&self, buf: &[u8]) -> Result<usize> {
        self.write
            .write_with(|fd| {
                rustix::io::write(fd, buf).map_err(|e| Error::from_errno("write", e.raw_os_error()))
            })
            .await
    }

    /// Bytes waiting to be read.
    pub fn available(&self) -> Result<usize> {
        crate::pipe::available(self.read.as_fd())
    }

    /// Sets the pipe's capacity; as [`Pipe::set_capacity`].
    pub fn set_capacity(&self, bytes: usize) -> Result<usize> {
        crate::pipe::set_pipe_size(self.write.as_fd(), bytes)
    }
}

fn failed(error: Error, copied: u64) -> CopyError {
    CopyError {
        error,
        copied,
        method: Method::Splice,
    }
}

/// Waits on the reactor until `fd` is readable (`Side::Input`) or
/// writable (`Side::Output`).
async fn ready(fd: &impl AsyncReady, side: Side) -> Result<()> {
    match side {
        Side::Input => fd.readable().await,
        Side::Output => fd.writable().await,
    }
}

/// Copies from `src` to `dst` until the end of `src` or `limit` bytes, with
/// `splice`, waiting on the reactor for whichever end is not ready.
///
/// Both ends are already registered with async-io's reactor, so nothing is
/// registered twice: the caller's `async_io::Async<TcpStream>` or
/// `Async<UnixStream>`, an [`AsyncPipe`]'s ends, any `fd_core::AsyncSource`
/// (anything [`AsyncReady`]). When one end is a pipe the data is spliced
/// straight across; otherwise through an internal pipe, by the same relay as
/// the blocking [`copy`](crate::copy): while the pipe is empty only the
/// input can block, while it holds data only the output. Regular files
/// cannot be registered with epoll: copy them with the blocking
/// [`copy`](crate::copy) on a thread of their own.
///
/// Takes the same [`CopyOptions`] as [`copy_with`](crate::copy_with) and
/// returns the same [`CopyReport`]: `limit`; `grow_pipes` (noted in the
/// report where the limits refuse it); `method` may only be
/// [`Method::Splice`], the one method that waits on a reactor (the others
/// block in the kernel); `allow_pipe_aliasing` has nothing to allow, as a
/// regular file cannot be an end here.
///
/// # Errors
/// A [`CopyError`] with the bytes written before the failure; nothing is
/// moved if [`check_pair`](crate::check_pair) refuses the pair, or
/// `options.method` names a method other than `Splice`.
pub async fn copy_async<S: AsyncReady, D: AsyncReady>(
    src: &S,
    dst: &D,
    options: &CopyOptions,
) -> std::result::Result<CopyReport, CopyError> {
    let (s, d) = (src.as_fd(), dst.as_fd());
    if let Some(method) = options.method
        && method != Method::Splice
    {
        return Err(failed(
            Error::invalid_input(
                "splice",
                format!(
                    "copy_async moves data with splice only, the one method that waits on a \
                     reactor; {method} blocks in the kernel (use copy_with on a thread)"
                ),
            ),
            0,
        ));
    }
    crate::check_pair(s, d).map_err(|e| failed(e, 0))?;
    let (src_pipe, dst_pipe) = (
        crate::is_pipe(s).map_err(|e| failed(e, 0))?,
        crate::is_pipe(d).map_err(|e| failed(e, 0))?,
    );
    let mut notes = Vec::new();
    if let Some(want) = options.grow_pipes {
        for (fd, is_pipe, which) in [(s, src_pipe, "input"), (d, dst_pipe, "output")] {
            if is_pipe && let Err(e) = crate::copy::grow_pipe(fd, want) {
                notes.push(format!(
                    "the {which} pipe was not grown to {want} bytes: {e}"
                ));
            }
        }
    }
    let report = |bytes: u64, notes: Vec<String>| CopyReport {
        bytes,
        method: Method::Splice,
        skipped: Vec::new(),
        notes,
    };
    let limit = options.limit;
    let left = |copied: u64| limit.map_or(u64::MAX, |l| l - copied.min(l));
    let mut copied = 0u64;
    if src_pipe || dst_pipe {
        loop {
            let want = usize::try_from(left(copied))
                .unwrap_or(usize::MAX)
                .min(1 << 30);
            if want == 0 {
                return Ok(report(copied, notes));
            }
            match splice_nb(s, d, want) {
                Ok(0) => return Ok(report(copied, notes)),
                Ok(n) => copied += n as u64,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // Either end may be the one not ready.
                    futures_lite::future::or(ready(src, Side::Input), ready(dst, Side::Output))
                        .await
                        .map_err(|e| failed(e, copied))?;
                }
                Err(e) => return Err(failed(e, copied)),
            }
        }
    }
    let mut relay = Relay::new(true).map_err(|e| failed(e, 0))?;
    loop {
        match relay.step(s, None, d, None, left(copied)) {
            Ok(Step::End) => {
                relay.release();
                return Ok(report(copied, notes));
            }
            Ok(Step::Took(_)) => {}
            Ok(Step::Gave(n)) => copied += n as u64,
            Ok(Step::Blocked(Side::Input)) => {
                ready(src, Side::Input)
                    .await
                    .map_err(|e| failed(e, copied))?;
            }
            Ok(Step::Blocked(Side::Output)) => {
                ready(dst, Side::Output)
                    .await
                    .map_err(|e| failed(e, copied))?;
            }
            Err((_, e)) => return Err(failed(e, copied)),
        }
    }
}

fn splice_nb(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> Result<usize> {
    raw::splice(
        from,
        None,
        to,
        None,
        len,
        SpliceFlags::NONBLOCK | SpliceFlags::MOVE,
    )
}

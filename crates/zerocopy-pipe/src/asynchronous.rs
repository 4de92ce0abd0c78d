//! Async copying on async-io's reactor (feature `async`).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use async_io::Async;
use fd_core::{Error, ErrorKind, Result, SyscallResult};

use crate::copy::{CopyError, Method};
use crate::pipe::{Pipe, PipeFlags};
use crate::raw::{self, SpliceFlags};

/// A pipe whose ends are on async-io's reactor.
///
/// ```
/// use zerocopy_pipe::AsyncPipe;
///
/// futures_lite::future::block_on(async {
///     let pipe = AsyncPipe::new()?;
///     pipe.write(b"ping").await?;
///     let mut buf = [0u8; 4];
///     assert_eq!(pipe.read(&mut buf).await?, 4);
///     assert_eq!(&buf, b"ping");
///     Ok::<(), fd_core::Error>(())
/// })?;
/// # Ok::<(), fd_core::Error>(())
/// ```
#[derive(Debug)]
pub struct AsyncPipe {
    read: Async<OwnedFd>,
    write: Async<OwnedFd>,
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
            read: Async::new(read).syscall("epoll_ctl")?,
            write: Async::new(write).syscall("epoll_ctl")?,
        })
    }

    /// The read end, for [`copy_async`] and readiness.
    pub fn read_end(&self) -> &Async<OwnedFd> {
        &self.read
    }

    /// The write end, for [`copy_async`] and readiness.
    pub fn write_end(&self) -> &Async<OwnedFd> {
        &self.write
    }

    /// Reads what is there, waiting until something is; 0 at end of input.
    pub async fn read(&self, buf: &mut [u8]) -> Result<usize> {
        self.read
            .read_with(|fd| rustix::io::read(fd, &mut *buf).map_err(Into::into))
            .await
            .syscall("read")
    }

    /// Writes some of `buf`, waiting for room.
    pub async fn write(&self, buf: &[u8]) -> Result<usize> {
        self.write
            .write_with(|fd| rustix::io::write(fd, buf).map_err(Into::into))
            .await
            .syscall("write")
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

/// Copies from `src` to `dst` until the end of `src` or `limit` bytes, with
/// `splice`, waiting on the reactor for whichever end is not ready.
///
/// Both ends are already registered (`Async<TcpStream>`, `Async<UnixStream>`,
/// an [`AsyncPipe`]'s ends, …). When one end is a pipe the data is spliced
/// straight across; otherwise through an internal pipe, which tells which
/// end an `EAGAIN` came from: while the pipe is empty only the input can
/// block, while it holds data only the output. Regular files cannot be
/// registered with epoll: copy them with the blocking [`copy`](crate::copy)
/// on a thread of their own.
///
/// # Errors
/// A [`CopyError`] with the bytes written before the failure; nothing is
/// moved if [`check_pair`](crate::check_pair) refuses the pair.
pub async fn copy_async<S: AsFd, D: AsFd>(
    src: &Async<S>,
    dst: &Async<D>,
    limit: Option<u64>,
) -> std::result::Result<u64, CopyError> {
    let (s, d) = (src.as_fd(), dst.as_fd());
    crate::check_pair(s, d).map_err(|e| failed(e, 0))?;
    let either_pipe = crate::is_pipe(s).map_err(|e| failed(e, 0))?
        || crate::is_pipe(d).map_err(|e| failed(e, 0))?;
    let left = |copied: u64| {
        limit.map_or(usize::MAX, |l| {
            usize::try_from(l - copied.min(l)).unwrap_or(usize::MAX)
        })
    };
    let mut copied = 0u64;
    if either_pipe {
        loop {
            let want = left(copied).min(1 << 30);
            if want == 0 {
                return Ok(copied);
            }
            match raw::splice(
                s,
                None,
                d,
                None,
                want,
                SpliceFlags::NONBLOCK | SpliceFlags::MOVE,
            ) {
                Ok(0) => return Ok(copied),
                Ok(n) => copied += n as u64,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // Either end may be the one not ready.
                    futures_lite::future::or(src.readable(), dst.writable())
                        .await
                        .syscall("epoll_wait")
                        .map_err(|e| failed(e, copied))?;
                }
                Err(e) => return Err(failed(e, copied)),
            }
        }
    }
    let pipe = Pipe::new().map_err(|e| failed(e, 0))?;
    let size = pipe
        .set_capacity(1 << 20)
        .or_else(|_| pipe.capacity())
        .map_err(|e| failed(e, 0))?;
    let mut pending = 0usize;
    loop {
        if pending == 0 {
            let want = left(copied).min(size);
            if want == 0 {
                return Ok(copied);
            }
            match splice_nb(s, pipe.write_end(), want) {
                Ok(0) => return Ok(copied),
                Ok(n) => pending = n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    src.readable()
                        .await
                        .syscall("epoll_wait")
                        .map_err(|e| failed(e, copied))?;
                }
                Err(e) => return Err(failed(e, copied)),
            }
        } else {
            match splice_nb(pipe.read_end(), d, pending) {
                Ok(0) => {
                    return Err(failed(
                        Error::from_errno("splice", libc::EPIPE)
                            .with_detail("the output took no bytes"),
                        copied,
                    ));
                }
                Ok(n) => {
                    pending -= n;
                    copied += n as u64;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    dst.writable()
                        .await
                        .syscall("epoll_wait")
                        .map_err(|e| failed(e, copied))?;
                }
                Err(e) => return Err(failed(e, copied)),
            }
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

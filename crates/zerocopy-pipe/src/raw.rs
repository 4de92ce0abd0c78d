//! The raw calls: `splice`, `tee`, `vmsplice`, `sendfile`, `copy_file_range`.
//!
//! # Safety
//!
//! The only unsafe calls are to `vmsplice`: [`vmsplice_read`] after
//! checking that the fd is a pipe's read end, where the kernel copies into
//! the caller's exclusively borrowed buffers, and [`vmsplice`], which is
//! itself `unsafe fn` and passes its contract to its caller.
#![allow(unsafe_code)]

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::AsFd;

use fd_core::{Error, Result, SyscallResult};
use rustix::pipe::{IoSliceRaw, SpliceFlags as RxFlags};

bitflags::bitflags! {
    /// Flags for [`splice`], [`tee`] and [`vmsplice`].
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SpliceFlags: u32 {
        /// `SPLICE_F_MOVE`: move pages instead of copying, where the kernel can
        /// (a hint; today's kernels mostly ignore it).
        const MOVE = RxFlags::MOVE.bits();
        /// `SPLICE_F_NONBLOCK`: do not block on the pipe (the other fd's own
        /// blocking mode still applies).
        const NONBLOCK = RxFlags::NONBLOCK.bits();
        /// `SPLICE_F_MORE`: more data follows (a hint for sockets, like `MSG_MORE`).
        const MORE = RxFlags::MORE.bits();
        /// `SPLICE_F_GIFT`: `vmsplice` only: the pages are given to the kernel.
        const GIFT = RxFlags::GIFT.bits();
    }
}

fn rx(flags: SpliceFlags) -> RxFlags {
    RxFlags::from_bits_retain(flags.bits())
}

/// `splice(fd_in, off_in, fd_out, off_out, len, flags)`: moves up to `len`
/// bytes between two fds, one of which must be a pipe, without copying
/// through user space. Returns the bytes moved; 0 at end of input.
///
/// An offset is for a non-pipe end: the data is read (or written) there and
/// the offset advances, leaving the fd's own position alone; `None` uses and
/// advances the position.
///
/// # Errors
/// - [`fd_core::ErrorKind::InvalidInput`]: an offset given for a pipe
///   (checked before the call: the kernel's `ESPIPE`), neither end a pipe,
///   a file type or an `O_APPEND` output splice does not support (`EINVAL`),
///   a wrong-direction fd (`EBADF`).
/// - [`fd_core::ErrorKind::WouldBlock`]: `NONBLOCK` with a full or empty pipe,
///   or a non-blocking end with nothing to do.
///
/// # References
/// - [`splice(2)`](https://man7.org/linux/man-pages/man2/splice.2.html)
pub fn splice(
    fd_in: impl AsFd,
    off_in: Option<&mut u64>,
    fd_out: impl AsFd,
    off_out: Option<&mut u64>,
    len: usize,
    flags: SpliceFlags,
) -> Result<usize> {
    let (fd_in, fd_out) = (fd_in.as_fd(), fd_out.as_fd());
    if off_in.is_some() && crate::is_pipe(fd_in)? {
        return Err(Error::invalid_input(
            "splice",
            "an input offset was given, but the input is a pipe",
        ));
    }
    if off_out.is_some() && crate::is_pipe(fd_out)? {
        return Err(Error::invalid_input(
            "splice",
            "an output offset was given, but the output is a pipe",
        ));
    }
    rustix::pipe::splice(fd_in, off_in, fd_out, off_out, len, rx(flags)).syscall("splice")
}

/// `tee(fd_in, fd_out, len, flags)`: copies up to `len` bytes from one pipe
/// to another without consuming them from the first.
///
/// # Errors
/// [`fd_core::ErrorKind::InvalidInput`] (`EINVAL`): an end is not a pipe,
/// or both are the same pipe.
///
/// # References
/// - [`tee(2)`](https://man7.org/linux/man-pages/man2/tee.2.html)
pub fn tee(fd_in: impl AsFd, fd_out: impl AsFd, len: usize, flags: SpliceFlags) -> Result<usize> {
    rustix::pipe::tee(fd_in, fd_out, len, rx(flags)).syscall("tee")
}

/// `vmsplice(pipe_read_end, bufs, 0)` in the direction that copies: from
/// the pipe into `bufs`, like `readv`. Returns the bytes read.
///
/// # Errors
/// [`fd_core::ErrorKind::InvalidInput`] if `pipe` is not open for reading
/// (checked first: in the other direction the kernel would keep
/// references to `bufs`, see [`vmsplice`]).
pub fn vmsplice_read(pipe: impl AsFd, bufs: &mut [IoSliceMut<'_>]) -> Result<usize> {
    let pipe = pipe.as_fd();
    let mode =
        rustix::fs::fcntl_getfl(pipe).syscall("fcntl(F_GETFL)")? & rustix::fs::OFlags::RWMODE;
    if mode != rustix::fs::OFlags::RDONLY || !crate::is_pipe(pipe)? {
        return Err(Error::invalid_input(
            "vmsplice",
            "vmsplice_read needs the read end of a pipe (the write direction maps memory: see vmsplice)",
        ));
    }
    let raw: Vec<IoSliceRaw<'_>> = bufs
        .iter_mut()
        .map(|b| IoSliceRaw::from_slice_mut(&mut b[..]))
        .collect();
    // SAFETY: `pipe` is a pipe's read end (checked above), so the kernel
    // copies pipe data into `bufs`, which are exclusively borrowed for the
    // call and not referenced after it returns.
    unsafe { rustix::pipe::vmsplice(pipe, &raw, RxFlags::empty()) }.syscall("vmsplice")
}

/// `vmsplice(pipe_write_end, bufs, flags)`: maps the pages of `bufs` into a
/// pipe without copying them. Returns the bytes spliced.
///
/// # Safety
///
/// The kernel keeps references to the pages of `bufs` for as long as the
/// data sits in the pipe (and, with [`SpliceFlags::GIFT`], may take them
/// over). The caller must not write to, free or reuse that memory until the
/// reader has consumed every byte spliced; with `GIFT`, never again, and
/// the buffers must be page-aligned whole pages.
///
/// # References
/// - [`vmsplice(2)`](https://man7.org/linux/man-pages/man2/vmsplice.2.html)
pub unsafe fn vmsplice(pipe: impl AsFd, bufs: &[IoSlice<'_>], flags: SpliceFlags) -> Result<usize> {
    let raw: Vec<IoSliceRaw<'_>> = bufs
        .iter()
        .map(|b| IoSliceRaw::from_slice(&b[..]))
        .collect();
    // SAFETY: the caller upholds the contract above; the slices are valid
    // for the duration of the call.
    unsafe { rustix::pipe::vmsplice(pipe, &raw, rx(flags)) }.syscall("vmsplice")
}

/// `sendfile(out_fd, in_fd, offset, count)`: copies up to `count` bytes from
/// a file (anything that can be mmapped) to any fd inside the kernel. With
/// `offset`, reads there and advances it, leaving the input's position.
///
/// # Errors
/// [`fd_core::ErrorKind::InvalidInput`] (`EINVAL`): an input that cannot
/// be mapped, an `O_APPEND` output; (`EBADF`) wrong-direction fds.
///
/// # References
/// - [`sendfile(2)`](https://man7.org/linux/man-pages/man2/sendfile.2.html)
pub fn sendfile(
    out_fd: impl AsFd,
    in_fd: impl AsFd,
    offset: Option<&mut u64>,
    count: usize,
) -> Result<usize> {
    rustix::fs::sendfile(out_fd, in_fd, offset, count).syscall("sendfile")
}

/// `copy_file_range(fd_in, off_in, fd_out, off_out, len, 0)`: copies up to
/// `len` bytes between regular files inside the kernel (reflinks where the
/// filesystem can).
///
/// # Errors
/// - [`fd_core::ErrorKind::Unsupported`]: `EXDEV` (different filesystems,
///   before Linux 5.19), `EOPNOTSUPP`, `ENOSYS` (before Linux 4.5).
/// - [`fd_core::ErrorKind::InvalidInput`]: `EINVAL` (not regular files,
///   overlapping ranges), `EBADF` (an `O_APPEND` output, wrong directions).
///
/// # References
/// - [`copy_file_range(2)`](https://man7.org/linux/man-pages/man2/copy_file_range.2.html)
pub fn copy_file_range(
    fd_in: impl AsFd,
    off_in: Option<&mut u64>,
    fd_out: impl AsFd,
    off_out: Option<&mut u64>,
    len: usize,
) -> Result<usize> {
    rustix::fs::copy_file_range(fd_in, off_in, fd_out, off_out, len).syscall("copy_file_range")
}

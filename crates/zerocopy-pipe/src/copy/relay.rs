//! The relay: `splice` in, `splice` out through an internal pipe, one
//! state machine stepped by the blocking `copy` and by `copy_async`; and the
//! spare pipe each thread keeps for its next copy.

use std::cell::RefCell;

use super::*;

/// Drops the spare pipe this thread keeps between copies, if it has one:
/// its two fds and the up to 1 MiB of pipe buffer the kernel holds for it.
///
/// A copy that moves data with `Method::Splice` between two ends neither of
/// which is a pipe (socket to socket, socket to file, …) makes a pipe of up to 1 MiB
/// (`pipe-max-size` permitting) and, when it is left empty, keeps it for the
/// next copy on the same thread, which saves two syscalls and a pipe
/// resize per copy. A long-lived thread that copied once and will not copy
/// again, or a program counting its fds, releases it here. Returns whether
/// there was one. Nothing is lost: the next copy makes a new pipe.
pub fn release_spare_pipe() -> bool {
    SPARE_PIPE.with(|p| p.borrow_mut().take()).is_some()
}

/// Whether this thread holds a spare pipe now.
pub fn has_spare_pipe() -> bool {
    SPARE_PIPE.with(|p| p.borrow().is_some())
}

thread_local! {
    /// The internal pipe, kept for the next copy on this thread when it is
    /// left empty.
    static SPARE_PIPE: RefCell<Option<(Pipe, usize)>> = const { RefCell::new(None) };
}

/// The size the internal pipe asks for.
pub(super) const INTERNAL_PIPE: usize = 1 << 20;

pub(super) fn take_pipe() -> Result<(Pipe, usize)> {
    if let Some(spare) = SPARE_PIPE.with(|p| p.borrow_mut().take()) {
        return Ok(spare);
    }
    let pipe = Pipe::new()?;
    // Up to 1 MiB where the limits allow; the default 64 KiB otherwise.
    let size = pipe
        .set_capacity(INTERNAL_PIPE)
        .or_else(|_| pipe.capacity())?;
    Ok((pipe, size))
}

/// Which end of a relay could not go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The input (no data yet, or an error reading it).
    Input,
    /// The output (no room yet, or an error writing it).
    Output,
}

/// What one [`Relay::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Took this many bytes from the input into the pipe.
    Took(usize),
    /// Gave this many bytes from the pipe to the output.
    Gave(usize),
    /// The input is at its end (or the limit is reached) and the pipe is empty.
    End,
    /// That end would block (`EAGAIN`): wait for it, then step again.
    Blocked(Side),
}

/// Splicing between two ends neither of which is a pipe, through an
/// internal pipe: the one loop both [`copy`] (waiting with `poll`) and
/// `copy_async` (waiting on the reactor) drive. While the pipe is empty only
/// the input is read, while it holds data only the output is written, so an
/// `EAGAIN` always says which end to wait for.
pub(crate) struct Relay {
    pub(super) pipe: Pipe,
    size: usize,
    /// Bytes in the pipe, taken from the input, not yet given.
    pub(super) pending: usize,
    flags: SpliceFlags,
}

impl Relay {
    /// A relay through this thread's spare pipe, or a new one of up to
    /// 1 MiB. `nonblocking` splices with `SPLICE_F_NONBLOCK` (async use).
    pub(crate) fn new(nonblocking: bool) -> Result<Relay> {
        let (pipe, size) = take_pipe()?;
        let flags = if nonblocking {
            SpliceFlags::MOVE | SpliceFlags::NONBLOCK
        } else {
            SpliceFlags::MOVE
        };
        Ok(Relay {
            pipe,
            size,
            pending: 0,
            flags,
        })
    }

    /// One splice: from the input (at most `left` bytes) while the pipe is
    /// empty, else to the output.
    ///
    /// # Errors
    /// The splice's error, with the end it came from.
    pub(crate) fn step(
        &mut self,
        src: BorrowedFd<'_>,
        src_off: Option<&mut u64>,
        dst: BorrowedFd<'_>,
        dst_off: Option<&mut u64>,
        left: u64,
    ) -> std::result::Result<Step, (Side, Error)> {
        if self.pending == 0 {
            if left == 0 {
                return Ok(Step::End);
            }
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(self.size);
            return match raw::splice(src, src_off, self.pipe.write_end(), None, want, self.flags) {
                Ok(0) => Ok(Step::End),
                Ok(n) => {
                    self.pending = n;
                    Ok(Step::Took(n))
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(Step::Blocked(Side::Input)),
                Err(e) => Err((Side::Input, e)),
            };
        }
        let flags = self.flags | SpliceFlags::MORE;
        match raw::splice(
            self.pipe.read_end(),
            None,
            dst,
            dst_off,
            self.pending,
            flags,
        ) {
            Ok(0) => Err((
                Side::Output,
                Error::from_errno("splice", libc::EPIPE).with_detail("the output took no bytes"),
            )),
            Ok(n) => {
                self.pending -= n;
                Ok(Step::Gave(n))
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(Step::Blocked(Side::Output)),
            Err(e) => Err((Side::Output, e)),
        }
    }

    /// Keeps the pipe for this thread's next copy if it is empty.
    pub(crate) fn release(self) {
        if self.pending == 0 {
            SPARE_PIPE.with(|p| *p.borrow_mut() = Some((self.pipe, self.size)));
        }
    }
}

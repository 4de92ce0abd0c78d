//! An operation and the buffers it owns.

use std::os::fd::{AsFd, AsRawFd, RawFd};

use crate::buffer::Buf;
use crate::raw::{IoPriority, Opcode, RwFlags};

/// What an operation does.
#[derive(Debug)]
pub(crate) enum Kind {
    Read(Buf),
    Write(Buf),
    Readv(Vec<Buf>),
    Writev(Vec<Buf>),
    Fsync,
    Fdsync,
    Poll(i16),
}

/// One AIO operation: an fd, an offset, the buffers it owns until its
/// completion is reaped, flags, a priority and a user token.
///
/// The fd's number is taken when the operation is made, and the kernel
/// takes its own reference to the file at submission: keep the fd open
/// until `submit` returns (closing it later is harmless).
#[derive(Debug)]
pub struct Op {
    pub(crate) fd: RawFd,
    pub(crate) offset: u64,
    pub(crate) kind: Kind,
    pub(crate) flags: RwFlags,
    pub(crate) priority: Option<IoPriority>,
    pub(crate) token: u64,
}

impl Op {
    fn new(fd: impl AsFd, offset: u64, kind: Kind) -> Op {
        Op {
            fd: fd.as_fd().as_raw_fd(),
            offset,
            kind,
            flags: RwFlags::empty(),
            priority: None,
            token: 0,
        }
    }

    /// `IOCB_CMD_PREAD`: fill `buf` from `offset`.
    pub fn read(fd: impl AsFd, offset: u64, buf: impl Into<Buf>) -> Op {
        Op::new(fd, offset, Kind::Read(buf.into()))
    }

    /// `IOCB_CMD_PWRITE`: write `buf` at `offset`.
    pub fn write(fd: impl AsFd, offset: u64, buf: impl Into<Buf>) -> Op {
        Op::new(fd, offset, Kind::Write(buf.into()))
    }

    /// `IOCB_CMD_PREADV`: scatter from `offset` into the buffers in order.
    pub fn readv(fd: impl AsFd, offset: u64, bufs: Vec<Buf>) -> Op {
        Op::new(fd, offset, Kind::Readv(bufs))
    }

    /// `IOCB_CMD_PWRITEV`: gather the buffers in order, written at `offset`.
    pub fn writev(fd: impl AsFd, offset: u64, bufs: Vec<Buf>) -> Op {
        Op::new(fd, offset, Kind::Writev(bufs))
    }

    /// `IOCB_CMD_FSYNC` (4.18).
    pub fn fsync(fd: impl AsFd) -> Op {
        Op::new(fd, 0, Kind::Fsync)
    }

    /// `IOCB_CMD_FDSYNC` (4.18).
    pub fn fdsync(fd: impl AsFd) -> Op {
        Op::new(fd, 0, Kind::Fdsync)
    }

    /// `IOCB_CMD_POLL` (4.18): completes once with the ready events of
    /// `events` (`POLLIN`, `POLLOUT`, … as in `poll(2)`) in `res`.
    pub fn poll(fd: impl AsFd, events: i16) -> Op {
        Op::new(fd, 0, Kind::Poll(events))
    }

    /// `RWF_*` flags for a read or write.
    #[must_use]
    pub fn flags(mut self, flags: RwFlags) -> Op {
        self.flags = flags;
        self
    }

    /// An io priority (`IOCB_FLAG_IOPRIO`).
    #[must_use]
    pub fn priority(mut self, priority: IoPriority) -> Op {
        self.priority = Some(priority);
        self
    }

    /// A token of the caller's, returned in the completion and used to
    /// cancel.
    #[must_use]
    pub fn token(mut self, token: u64) -> Op {
        self.token = token;
        self
    }

    /// The token set by [`Op::token`] (0 unless set).
    pub fn token_value(&self) -> u64 {
        self.token
    }

    /// The opcode.
    pub fn opcode(&self) -> Opcode {
        match self.kind {
            Kind::Read(_) => Opcode::Pread,
            Kind::Write(_) => Opcode::Pwrite,
            Kind::Readv(_) => Opcode::Preadv,
            Kind::Writev(_) => Opcode::Pwritev,
            Kind::Fsync => Opcode::Fsync,
            Kind::Fdsync => Opcode::Fdsync,
            Kind::Poll(_) => Opcode::Poll,
        }
    }

    /// The buffers, given back.
    pub fn into_buffers(self) -> Vec<Buf> {
        match self.kind {
            Kind::Read(b) | Kind::Write(b) => vec![b],
            Kind::Readv(v) | Kind::Writev(v) => v,
            _ => Vec::new(),
        }
    }
}

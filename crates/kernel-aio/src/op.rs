//! An operation and the buffers it owns.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

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

/// Everything of an operation but its fd: what the context keeps while the
/// kernel has it, and what the completion gives back.
#[derive(Debug)]
pub(crate) struct Body {
    pub(crate) offset: u64,
    pub(crate) kind: Kind,
    pub(crate) flags: RwFlags,
    pub(crate) priority: Option<IoPriority>,
    pub(crate) token: u64,
}

impl Body {
    pub(crate) fn opcode(&self) -> Opcode {
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

    pub(crate) fn buffers(&self) -> &[Buf] {
        match &self.kind {
            Kind::Read(b) | Kind::Write(b) => std::slice::from_ref(b),
            Kind::Readv(v) | Kind::Writev(v) => v,
            _ => &[],
        }
    }

    pub(crate) fn into_buffers(self) -> Vec<Buf> {
        match self.kind {
            Kind::Read(b) | Kind::Write(b) => vec![b],
            Kind::Readv(v) | Kind::Writev(v) => v,
            _ => Vec::new(),
        }
    }
}

/// One AIO operation: a borrowed fd, an offset, the buffers it owns until
/// its completion is reaped, flags, a priority and a user token.
///
/// The operation borrows its fd until it is submitted (the kernel takes
/// its own reference to the file then; closing the fd afterwards is
/// harmless). So the fd cannot be closed, and its number reused by another
/// file, between making a write and submitting it: the data cannot land
/// in the wrong file.
#[derive(Debug)]
pub struct Op<'fd> {
    pub(crate) fd: BorrowedFd<'fd>,
    pub(crate) body: Body,
}

impl<'fd> Op<'fd> {
    fn new<F: AsFd + ?Sized>(fd: &'fd F, offset: u64, kind: Kind) -> Op<'fd> {
        Op {
            fd: fd.as_fd(),
            body: Body {
                offset,
                kind,
                flags: RwFlags::empty(),
                priority: None,
                token: 0,
            },
        }
    }

    /// `IOCB_CMD_PREAD`: fill `buf` from `offset`.
    pub fn read<F: AsFd + ?Sized>(fd: &'fd F, offset: u64, buf: impl Into<Buf>) -> Op<'fd> {
        Op::new(fd, offset, Kind::Read(buf.into()))
    }

    /// `IOCB_CMD_PWRITE`: write `buf` at `offset`.
    pub fn write<F: AsFd + ?Sized>(fd: &'fd F, offset: u64, buf: impl Into<Buf>) -> Op<'fd> {
        Op::new(fd, offset, Kind::Write(buf.into()))
    }

    /// `IOCB_CMD_PREADV`: scatter from `offset` into the buffers in order.
    pub fn readv<F: AsFd + ?Sized>(fd: &'fd F, offset: u64, bufs: Vec<Buf>) -> Op<'fd> {
        Op::new(fd, offset, Kind::Readv(bufs))
    }

    /// `IOCB_CMD_PWRITEV`: gather the buffers in order, written at `offset`.
    pub fn writev<F: AsFd + ?Sized>(fd: &'fd F, offset: u64, bufs: Vec<Buf>) -> Op<'fd> {
        Op::new(fd, offset, Kind::Writev(bufs))
    }

    /// `IOCB_CMD_FSYNC` (4.18).
    pub fn fsync<F: AsFd + ?Sized>(fd: &'fd F) -> Op<'fd> {
        Op::new(fd, 0, Kind::Fsync)
    }

    /// `IOCB_CMD_FDSYNC` (4.18).
    pub fn fdsync<F: AsFd + ?Sized>(fd: &'fd F) -> Op<'fd> {
        Op::new(fd, 0, Kind::Fdsync)
    }

    /// `IOCB_CMD_POLL` (4.18): completes once with the ready events of
    /// `events` (`POLLIN`, `POLLOUT`, … as in `poll(2)`) in `res`.
    pub fn poll<F: AsFd + ?Sized>(fd: &'fd F, events: i16) -> Op<'fd> {
        Op::new(fd, 0, Kind::Poll(events))
    }

    /// `RWF_*` flags for a read or write.
    #[must_use]
    pub fn flags(mut self, flags: RwFlags) -> Op<'fd> {
        self.body.flags = flags;
        self
    }

    /// An io priority (`IOCB_FLAG_IOPRIO`).
    #[must_use]
    pub fn priority(mut self, priority: IoPriority) -> Op<'fd> {
        self.body.priority = Some(priority);
        self
    }

    /// A token of the caller's, returned in the completion and used to
    /// cancel.
    #[must_use]
    pub fn token(mut self, token: u64) -> Op<'fd> {
        self.body.token = token;
        self
    }

    /// The token set by [`Op::token`] (0 unless set).
    pub fn token_value(&self) -> u64 {
        self.body.token
    }

    /// The opcode.
    pub fn opcode(&self) -> Opcode {
        self.body.opcode()
    }

    /// The fd it will be submitted on.
    pub fn fd(&self) -> BorrowedFd<'fd> {
        self.fd
    }

    pub(crate) fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// The buffers (data to write, or room to read into).
    pub fn buffers(&self) -> &[Buf] {
        self.body.buffers()
    }

    /// The buffers, given back.
    pub fn into_buffers(self) -> Vec<Buf> {
        self.body.into_buffers()
    }
}

//! The owned context: submission, reaping, cancelling, and the rule that a
//! buffer stays owned until the kernel's completion for it is reaped.
//!
//! # Safety
//!
//! This is where the safe API is built on the unsafe calls, so it is the
//! second module allowed `unsafe`. Every iocb submitted, with the operation
//! that owns its buffers and the iovec array it points to, is kept in
//! `in_flight` until the kernel's completion for it has been taken from the
//! ring or `io_getevents` (during the `io_submit` itself the operations sit
//! in the caller's vector, held by `&mut`; moving them moves no heap
//! buffer); `Drop` calls `io_destroy`, which returns only
//! when no operation is in flight any more. The ring is read only through
//! `&mut self` (one reaper), of a live context whose header was checked.
#![allow(unsafe_code)]

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use event_fd::{EventFd, EventFdFlags};
use fd_core::{Error, ErrorKind, Result};

use crate::op::{Body, Kind, Op};
use crate::raw::{ContextId, IoEvent, Iocb, IocbFlags, Opcode, io_setup};
use crate::sys;

/// An operation the kernel has: its iocb (boxed, so its address holds),
/// the operation's body with its buffers, and the iovec array of a
/// vectored one.
struct InFlight {
    iocb: Box<Iocb>,
    body: Body,
    _iovecs: Vec<sys::RawIovec>,
}

/// A finished operation: its token, the kernel's `res` and `res2` as they
/// came, and the operation's buffers, given back.
#[derive(Debug)]
pub struct Completion {
    /// The caller's token ([`Op::token`]).
    pub token: u64,
    /// The kernel's result: bytes moved, ready events for `Poll`, or a
    /// negated errno.
    pub res: i64,
    /// The second result, whose meaning depends on the file.
    pub res2: i64,
    body: Body,
}

impl Completion {
    /// `res` as bytes (or events), or its errno as an [`Error`] of the
    /// operation (`ECANCELED` for a cancelled one). The error names the
    /// operation's length and offset, and says when `RWF_NOWAIT` is why
    /// it failed with `EAGAIN`.
    ///
    /// # Errors
    /// The operation's errno.
    pub fn result(&self) -> Result<u64> {
        if self.res >= 0 {
            return Ok(self.res.unsigned_abs());
        }
        let errno = i32::try_from(-self.res).unwrap_or(libc::EIO);
        let e = Error::from_errno(opcode_name(self.opcode()), errno);
        let len: usize = self.body.buffers().iter().map(crate::Buf::len).sum();
        let what = match self.body.kind {
            Kind::Read(_) | Kind::Write(_) | Kind::Readv(_) | Kind::Writev(_) => {
                format!("{len} bytes at offset {}", self.body.offset)
            }
            _ => return Err(e),
        };
        if errno == libc::EINVAL {
            return Err(e.with_detail(format!(
                "{what}: with O_DIRECT, the offset, the lengths and the buffer addresses must \
                 be multiples of the file's O_DIRECT alignment (statx STATX_DIOALIGN)"
            )));
        }
        if errno == libc::EAGAIN && self.body.flags.contains(crate::RwFlags::NOWAIT) {
            return Err(e.with_detail(format!(
                "{what}: RWF_NOWAIT, and it would have blocked (data not in the page cache, \
                 or the device or filesystem had to wait); submit it again without the flag"
            )));
        }
        Err(e.with_detail(what))
    }

    /// The opcode.
    pub fn opcode(&self) -> Opcode {
        self.body.opcode()
    }

    /// The offset the operation was submitted at.
    pub fn offset(&self) -> u64 {
        self.body.offset
    }

    /// The operation's buffers (read data is in them).
    pub fn buffers(&self) -> &[crate::Buf] {
        self.body.buffers()
    }

    /// The buffers, given back.
    pub fn into_buffers(self) -> Vec<crate::Buf> {
        self.body.into_buffers()
    }

    /// The one buffer of a read or write.
    pub fn into_buf(self) -> Option<crate::Buf> {
        self.body.into_buffers().into_iter().next()
    }
}

fn opcode_name(op: Opcode) -> &'static str {
    match op {
        Opcode::Pread => "aio pread",
        Opcode::Pwrite => "aio pwrite",
        Opcode::Preadv => "aio preadv",
        Opcode::Pwritev => "aio pwritev",
        Opcode::Fsync => "aio fsync",
        Opcode::Fdsync => "aio fdsync",
        Opcode::Poll => "aio poll",
        Opcode::Noop => "aio noop",
    }
}

/// The kernel's refusal of `op` (the first of a submission: `io_submit`
/// fails only when it takes none), with what it means for it.
fn explain_refusal(e: Error, op: &Op<'_>) -> Error {
    match (e.errno(), &op.body.kind) {
        (libc::EOPNOTSUPP, _) if op.body.flags.contains(crate::RwFlags::NOWAIT) => e.with_detail(
            "RWF_NOWAIT: this file cannot do non-blocking reads and writes \
             (its driver or filesystem does not offer them)",
        ),
        (libc::EINVAL, Kind::Fsync | Kind::Fdsync) => e.with_detail(
            "this file has no fsync (a pipe, a socket, some devices), or the kernel \
             predates IOCB_CMD_FSYNC/FDSYNC (Linux 4.18)",
        ),
        (libc::EINVAL, Kind::Poll(_)) => e.with_detail(
            "the kernel predates IOCB_CMD_POLL (Linux 4.18), or the events are not poll(2) events",
        ),
        _ => e,
    }
}

/// An operation [`Context::submit_one`] could not submit: the error and
/// the operation, given back whole with its buffers.
#[derive(Debug)]
pub struct Refused<'fd> {
    /// Why.
    pub error: Error,
    /// The operation, not submitted.
    pub op: Op<'fd>,
}

impl fmt::Display for Refused<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (the operation is given back)", self.error)
    }
}

impl std::error::Error for Refused<'_> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<Refused<'_>> for Error {
    fn from(r: Refused<'_>) -> Error {
        r.error
    }
}

/// A native AIO context (`io_setup`), owning every buffer in flight.
///
/// # Why a buffer cannot be freed while the kernel writes it
///
/// An [`Op`] owns its buffers; [`submit`](Context::submit) moves it into
/// the context, and only [`reap`](Context::reap) (or [`getevents`](Context::getevents))
/// moves it out again, inside the [`Completion`] the kernel delivered for
/// it. Nothing else gives it back:
/// - dropping the context calls `io_destroy`, which returns only when every
///   operation in flight has completed (it cancels those it can); only then
///   are the buffers freed;
/// - `mem::forget` of the context leaks the buffers with it: leaked memory
///   is never reused;
/// - the async future of `AsyncContext` (feature `async`) holds a
///   token, not the buffer: dropping it leaves the buffer in the context.
///
/// The tests check the first point under an allocator that poisons freed
/// buffers and never reuses them: no completion lands in one after the
/// context was dropped (and the check fails when the drop frees the
/// buffers before `io_destroy`, or skips it).
///
/// A context belongs to the process that made it: used in a forked child
/// it returns an error (and its drop there skips `io_destroy`).
pub struct Context {
    id: ContextId,
    max_events: u32,
    owner: u32,
    in_flight: HashMap<u64, InFlight>,
    next_key: u64,
    ready: VecDeque<Completion>,
    events: Vec<IoEvent>,
    ring: bool,
    eventfd: Option<EventFd>,
    /// Boxed iocbs of reaped operations, reused (the kernel reads an iocb
    /// only during `io_submit` and `io_cancel`): boxed, since each one's
    /// address is handed to the kernel and must hold while in flight.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Iocb>>,
}

impl Context {
    /// A context for up to `max_events` operations in flight.
    ///
    /// # Errors
    /// As [`io_setup`](crate::io_setup): a resource-limit error naming
    /// `aio-max-nr` and `aio-nr`.
    pub fn new(max_events: u32) -> Result<Context> {
        let id = io_setup(max_events)?;
        // SAFETY: a live context of this process.
        let ring = unsafe { sys::ring_known(id.0) };
        Ok(Context {
            id,
            max_events,
            owner: std::process::id(),
            in_flight: HashMap::new(),
            next_key: 1,
            ready: VecDeque::new(),
            events: Vec::with_capacity(max_events as usize),
            ring,
            eventfd: None,
            spare: Vec::new(),
        })
    }

    /// As [`Context::new`], with an eventfd the kernel adds 1 to for every
    /// completion (`IOCB_FLAG_RESFD`): put [`eventfd`](Context::eventfd) in
    /// any `poll`/`epoll` loop.
    ///
    /// # Errors
    /// As [`Context::new`]; creating the eventfd.
    pub fn with_eventfd(max_events: u32) -> Result<Context> {
        let mut ctx = Context::new(max_events)?;
        ctx.eventfd = Some(EventFd::with_flags(0, EventFdFlags::NONBLOCK)?);
        Ok(ctx)
    }

    /// The completion eventfd, with [`Context::with_eventfd`].
    pub fn eventfd(&self) -> Option<&EventFd> {
        self.eventfd.as_ref()
    }

    /// How many operations the kernel holds.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether completions are reaped from the ring in user space (the
    /// ring's header is the one this crate knows), else by syscall.
    pub fn reaps_in_user_space(&self) -> bool {
        self.ring
    }

    /// Turns reaping from the ring in user space on (the default, where the
    /// ring's header is the one this crate knows) or off (every reap is an
    /// `io_getevents`, as on a kernel whose ring this crate does not know:
    /// to compare the two, or to rule the ring out). Returns whether it is
    /// on now: asking for it on a ring this crate does not know leaves it
    /// off.
    pub fn set_user_space_reaping(&mut self, on: bool) -> bool {
        // SAFETY: our live context.
        self.ring = on && self.owner == std::process::id() && unsafe { sys::ring_known(self.id.0) };
        self.ring
    }

    fn check_owner(&self, call: &'static str) -> Result<()> {
        let me = std::process::id();
        if me != self.owner {
            return Err(Error::invalid_input(
                call,
                format!(
                    "an AIO context belongs to the process that made it (pid {}); \
                     this is a forked child (pid {me})",
                    self.owner
                ),
            ));
        }
        Ok(())
    }

    /// Refuses, naming what is wrong, an operation on an `O_DIRECT` fd
    /// whose offset, buffer addresses or lengths are not multiples of the
    /// file's `O_DIRECT` alignment. An operation aligned to 4096 in all
    /// three passes without a syscall (no device this checks for needs
    /// more; one with larger blocks gets the kernel's `EINVAL`, which
    /// [`Completion::result`] explains); others cost an `fcntl` and, on an
    /// `O_DIRECT` fd, a `statx`, asked afresh each time (an fd number can
    /// name another file by the next call).
    fn check_direct(op: &Op<'_>) -> Result<()> {
        const PAGE: usize = 4096;
        let bufs = op.buffers();
        if bufs.is_empty() {
            return Ok(());
        }
        let page_aligned = op.body.offset.is_multiple_of(PAGE as u64)
            && bufs.iter().all(|b| {
                (b.as_slice().as_ptr() as usize).is_multiple_of(PAGE)
                    && b.len().is_multiple_of(PAGE)
            });
        if page_aligned || !sys::is_direct(op.raw_fd()) {
            return Ok(());
        }
        let (mem, off) = sys::dio_alignment(op.raw_fd());
        let call = opcode_name(op.opcode());
        let offset = op.body.offset;
        if !offset.is_multiple_of(u64::from(off)) {
            return Err(Error::invalid_input(
                call,
                format!("O_DIRECT: the offset {offset} is not a multiple of {off}"),
            ));
        }
        for (i, b) in bufs.iter().enumerate() {
            let addr = b.as_slice().as_ptr() as usize;
            if !addr.is_multiple_of(mem as usize) {
                return Err(Error::invalid_input(
                    call,
                    format!(
                        "O_DIRECT: buffer {i}'s address {addr:#x} is not a multiple of {mem} \
                         (use AlignedBuf)"
                    ),
                ));
            }
            if !b.len().is_multiple_of(off as usize) {
                return Err(Error::invalid_input(
                    call,
                    format!(
                        "O_DIRECT: buffer {i}'s length {} is not a multiple of {off}",
                        b.len()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The iocb (and iovec array) for `op`, pointing at its buffers, whose
    /// heap addresses do not move when the operation itself is moved.
    fn prepare(&mut self, op: &mut Op<'_>, key: u64) -> Result<(Box<Iocb>, Vec<sys::RawIovec>)> {
        Self::check_direct(op)?;
        if !op.body.flags.is_empty()
            && matches!(op.body.kind, Kind::Fsync | Kind::Fdsync | Kind::Poll(_))
        {
            return Err(Error::invalid_input(
                opcode_name(op.opcode()),
                format!(
                    "RWF flags ({:?}) apply to reads and writes only (the kernel refuses \
                     them here with EINVAL)",
                    op.body.flags
                ),
            ));
        }
        let offset = i64::try_from(op.body.offset).map_err(|_| {
            Error::invalid_input(
                opcode_name(op.opcode()),
                format!(
                    "the offset {} is past the largest a file can have",
                    op.body.offset
                ),
            )
        })?;
        let mut iocb = self.spare.pop().unwrap_or_default();
        *iocb = Iocb {
            aio_data: key,
            aio_lio_opcode: op.opcode() as u16,
            aio_fildes: op.raw_fd().unsigned_abs(),
            aio_offset: offset,
            aio_rw_flags: op.body.flags.bits().cast_signed(),
            ..Iocb::default()
        };
        if let Some(p) = op.body.priority {
            iocb.aio_reqprio = p.raw()?;
            iocb.aio_flags |= IocbFlags::IOPRIO.bits();
        }
        if let Some(efd) = &self.eventfd {
            iocb.aio_flags |= IocbFlags::RESFD.bits();
            iocb.aio_resfd = efd.as_fd().as_raw_fd().unsigned_abs();
        }
        let mut iovecs = Vec::new();
        match &mut op.body.kind {
            Kind::Read(b) | Kind::Write(b) => {
                iocb.aio_buf = b.as_mut_ptr() as u64;
                iocb.aio_nbytes = b.len() as u64;
            }
            Kind::Readv(v) | Kind::Writev(v) => {
                iovecs = v
                    .iter_mut()
                    .map(|b| sys::RawIovec {
                        base: b.as_mut_ptr() as usize,
                        len: b.len(),
                    })
                    .collect();
                iocb.aio_buf = iovecs.as_ptr() as u64;
                iocb.aio_nbytes = iovecs.len() as u64;
            }
            Kind::Poll(events) => iocb.aio_buf = u64::from(events.cast_unsigned()),
            Kind::Fsync | Kind::Fdsync => {}
        }
        Ok((iocb, iovecs))
    }

    /// Submits the operations in `ops` in one `io_submit`, taking from the
    /// front of the vector those the kernel took and leaving the rest in
    /// it, with their buffers, to submit again after reaping. Returns how
    /// many were taken (0 for an empty vector). The kernel stops at the
    /// first operation it refuses, so that one is then at the front of
    /// `ops`, and submitting again reports its error.
    ///
    /// One call for many operations saves syscalls, but a device may then
    /// serve them as one batch and complete them together: on a virtio disk
    /// refilling a whole queue of 32 reads per call gave 0.73× the IOPS of
    /// one read per call (`butter-bench --only aio`). Keep a queue full by
    /// submitting as completions arrive.
    ///
    /// # Errors
    /// When none was taken; every operation stays in `ops`. The first
    /// one's error from the kernel (`EAGAIN` when the context is full,
    /// `EBADF` for an fd not open for the operation, `EINVAL` for a bad
    /// opcode or flags, `EOPNOTSUPP` for `RWF_NOWAIT` on a file that cannot
    /// honour it), or, checked first and naming the operation's place, an
    /// `O_DIRECT` misalignment of address, length or offset, a priority out
    /// of range, an offset past `i64::MAX`; or use in a forked child.
    pub fn submit(&mut self, ops: &mut Vec<Op<'_>>) -> Result<usize> {
        self.check_owner("io_submit")?;
        if ops.is_empty() {
            return Ok(0);
        }
        let first_key = self.next_key;
        let count = ops.len();
        let mut prepared = Vec::with_capacity(count);
        for (i, op) in ops.iter_mut().enumerate() {
            match self.prepare(op, first_key + i as u64) {
                Ok(p) => prepared.push(p),
                Err(e) if count == 1 => return Err(e),
                Err(e) => {
                    let detail = format!(
                        "operation {i} of {count}: {}",
                        e.detail().unwrap_or_default()
                    );
                    return Err(e.with_detail(detail));
                }
            }
        }
        let ptrs: Vec<*mut Iocb> = prepared
            .iter_mut()
            .map(|(iocb, _)| std::ptr::from_mut(iocb.as_mut()))
            .collect();
        // Each iocb is boxed and points at heap buffers owned by the
        // operations in `ops` (and at iovec arrays in `prepared`), which
        // nothing else can touch while we hold `&mut`; those the kernel
        // takes move into `in_flight` below, which keeps them (heap
        // addresses unchanged) until their completions are reaped, or
        // io_destroy has waited for them.
        // SAFETY: so every buffer outlives the kernel's use of it.
        let issued = unsafe { self.issue(&ptrs) };
        let taken = match issued {
            Ok(n) => n.min(count),
            Err(e) => return Err(explain_refusal(e, &ops[0])),
        };
        self.next_key += count as u64;
        for ((i, op), (iocb, iovecs)) in ops.drain(..taken).enumerate().zip(prepared) {
            self.in_flight.insert(
                first_key + i as u64,
                InFlight {
                    iocb,
                    body: op.body,
                    _iovecs: iovecs,
                },
            );
        }
        Ok(taken)
    }

    /// `io_submit` of prepared iocbs, with the context's state in the
    /// error when it is full.
    ///
    /// # Safety
    /// As [`sys::io_submit`]: the caller moves those taken into
    /// `in_flight`.
    unsafe fn issue(&self, ptrs: &[*mut Iocb]) -> Result<usize> {
        // SAFETY: passed on from the caller.
        unsafe { sys::io_submit(self.id.0, ptrs) }.map_err(|error| {
            if error.errno() == libc::EAGAIN {
                error.with_detail(format!(
                    "the context is full ({} in flight, made for {})",
                    self.in_flight.len(),
                    self.max_events
                ))
            } else {
                error
            }
        })
    }

    /// Submits one operation, with no allocation but its iocb.
    ///
    /// # Errors
    /// As [`Context::submit`], with the operation given back in the
    /// [`Refused`]; one the kernel did not take comes back as `EAGAIN`.
    #[allow(clippy::result_large_err)] // the operation is given back whole, by value
    pub fn submit_one<'fd>(&mut self, mut op: Op<'fd>) -> std::result::Result<(), Refused<'fd>> {
        if let Err(error) = self.check_owner("io_submit") {
            return Err(Refused { error, op });
        }
        let key = self.next_key;
        let (mut iocb, iovecs) = match self.prepare(&mut op, key) {
            Ok(p) => p,
            Err(error) => return Err(Refused { error, op }),
        };
        let ptrs = [std::ptr::from_mut(iocb.as_mut())];
        // SAFETY: as in `submit`: the iocb points at the operation's heap
        // buffers, which move into `in_flight` with it if it was taken.
        match unsafe { self.issue(&ptrs) } {
            Ok(1) => {
                self.next_key += 1;
                self.in_flight.insert(
                    key,
                    InFlight {
                        iocb,
                        body: op.body,
                        _iovecs: iovecs,
                    },
                );
                Ok(())
            }
            Ok(_) => Err(Refused {
                error: Error::from_errno("io_submit", libc::EAGAIN)
                    .with_detail("the kernel took none"),
                op,
            }),
            Err(error) => Err(Refused {
                error: explain_refusal(error, &op),
                op,
            }),
        }
    }

    /// Reaps at least `min` and at most `max` completions (waiting up to
    /// `timeout`, `None`: no limit), appending them to `out`; returns how
    /// many. Completions come from the ring in user space when no wait is
    /// needed, else from `io_getevents`. The event buffer is reused: no
    /// allocation per completion. Completions past `max` stay with the
    /// kernel for the next call.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`]: `max` 0 or under `min`; `min` over what
    /// is in flight (it would wait forever); use in a forked child. An
    /// error from the wait itself hands nothing out: what was reaped is
    /// kept for the next call.
    pub fn reap(
        &mut self,
        min: usize,
        max: usize,
        timeout: Option<Duration>,
        out: &mut Vec<Completion>,
    ) -> Result<usize> {
        self.check_owner("io_getevents")?;
        if max == 0 || max < min {
            return Err(Error::invalid_input(
                "io_getevents",
                format!("at most {max} completions, at least {min}: max must be ≥ 1 and ≥ min"),
            ));
        }
        if min > self.ready.len() + self.in_flight.len() {
            return Err(Error::invalid_input(
                "io_getevents",
                format!(
                    "waiting for {min} completions with {} in flight would never end",
                    self.ready.len() + self.in_flight.len()
                ),
            ));
        }
        let base = out.len();
        while out.len() - base < max {
            let Some(c) = self.ready.pop_front() else {
                break;
            };
            out.push(c);
        }
        let got = out.len() - base;
        let cap = self.in_flight.len().min(max - got);
        if cap == 0 {
            return Ok(got);
        }
        self.events.clear();
        if self.ring {
            // SAFETY: our live context, with a known ring, reaped only here
            // (`&mut self`).
            unsafe { sys::ring_reap(self.id.0, &mut self.events, cap) };
        }
        let have = got + self.events.len();
        if have < min || (!self.ring && self.events.len() < cap) {
            let start = self.events.len();
            let room = cap - start;
            self.events.resize(start + room, IoEvent::default());
            let want = min.saturating_sub(have).min(room);
            let wait = if have >= min {
                Some(Duration::ZERO)
            } else {
                timeout
            };
            let n = fd_core::retry_on_intr(|| {
                sys::io_getevents(
                    self.id.0,
                    want,
                    &mut self.events[start..],
                    wait.map(crate::raw::timespec),
                )
            });
            match n {
                Ok(n) => self.events.truncate(start + n),
                Err(e) => {
                    // Keep everything for the next call, in order.
                    self.events.truncate(start);
                    let mut kept = Vec::new();
                    self.deliver(&mut kept);
                    for c in kept.into_iter().rev() {
                        self.ready.push_front(c);
                    }
                    for c in out.drain(base..).rev() {
                        self.ready.push_front(c);
                    }
                    return Err(e);
                }
            }
        }
        Ok(got + self.deliver(out))
    }

    /// Turns the gathered events into completions.
    fn deliver(&mut self, out: &mut Vec<Completion>) -> usize {
        let mut n = 0;
        for ev in self.events.drain(..) {
            if let Some(f) = self.in_flight.remove(&ev.data) {
                if self.spare.len() < self.max_events as usize {
                    self.spare.push(f.iocb);
                }
                out.push(Completion {
                    token: f.body.token,
                    res: ev.res,
                    res2: ev.res2,
                    body: f.body,
                });
                n += 1;
            }
        }
        n
    }

    /// `io_getevents`: waits for at least `min` and takes at most `max`
    /// completions; as [`Context::reap`] into a new vector. (It was
    /// `wait`, a name that means readiness on every `EventSource` and
    /// reaping a process on `PidFd`.)
    ///
    /// # Errors
    /// As [`Context::reap`].
    #[doc(alias = "io_getevents")]
    pub fn getevents(
        &mut self,
        min: usize,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<Vec<Completion>> {
        let mut out = Vec::new();
        self.reap(min, max, timeout, &mut out)?;
        Ok(out)
    }

    /// Asks the kernel to cancel the operation with `token`. Its completion
    /// arrives exactly once through [`reap`](Context::reap): if the cancel
    /// won the race, a cancelled poll with no events (`res` 0), another
    /// operation with `-ECANCELED`; else the real result.
    ///
    /// # Errors
    /// - [`ErrorKind::NotFound`]: no operation with that token is in flight
    ///   (already reaped, or never submitted).
    /// - `EINVAL`/`EAGAIN` from the kernel: this kind of operation cannot
    ///   be cancelled (only `Poll` can, on current kernels); it completes
    ///   normally.
    pub fn cancel(&mut self, token: u64) -> Result<()> {
        self.check_owner("io_cancel")?;
        let Some((&key, f)) = self
            .in_flight
            .iter_mut()
            .find(|(_, f)| f.body.token == token)
        else {
            return Err(Error::from_errno("io_cancel", libc::ENOENT)
                .with_kind(ErrorKind::NotFound)
                .with_detail(format!("no operation with token {token} is in flight")));
        };
        let iocb = std::ptr::from_mut(f.iocb.as_mut());
        // SAFETY: the iocb was submitted to this context and not reaped.
        match unsafe { sys::io_cancel(self.id.0, iocb) } {
            Ok(None) => Ok(()),
            Ok(Some(ev)) => {
                if let Some(f) = self.in_flight.remove(&key) {
                    self.ready.push_back(Completion {
                        token: f.body.token,
                        res: ev.res,
                        res2: ev.res2,
                        body: f.body,
                    });
                }
                Ok(())
            }
            Err(e) => Err(e.with_detail(
                "not cancellable (only poll operations are, on current kernels); it completes normally",
            )),
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        if std::process::id() != self.owner {
            // A forked child: the context is the parent's; the kernel
            // writes only the parent's copies of the buffers.
            return;
        }
        // SAFETY: our context, never used again. io_destroy returns only
        // when every operation in flight has completed, so the buffers in
        // `in_flight`, dropped after this, are no longer the kernel's.
        if unsafe { sys::io_destroy(self.id.0) }.is_err() && !self.in_flight.is_empty() {
            // The kernel did not say it is done with them (it should not
            // fail on our own live context, but if it does): the buffers
            // may still be written, so they are leaked, never freed.
            std::mem::forget(std::mem::take(&mut self.in_flight));
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("id", &format_args!("{:#x}", self.id.0))
            .field("max_events", &self.max_events)
            .field("in_flight", &self.in_flight.len())
            .field("ring", &self.ring)
            .finish_non_exhaustive()
    }
}

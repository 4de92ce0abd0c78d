//! [`AsyncContext`]: `submit(op).await`, and a `Stream` of the completions
//! of operations started without a future, on async-io's reactor (feature
//! `async`), through the context's eventfd, under any executor.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::time::Duration;

use event_fd::AsyncEventFd;
use fd_core::{Error, Result};
use futures_core::Stream;

use crate::{Completion, Context, Op, Refused};

/// Who reaps: the `submit` future of that id, a completions stream, or
/// neither (a cancel handing out what it delivered).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reaper {
    Future(u64),
    Stream,
    Nobody,
}

/// The eventfd read a waiter is parked on, kept across its polls.
type Wait<'a> = Option<Pin<Box<dyn Future<Output = Result<u64>> + Send + 'a>>>;

struct Shared {
    ctx: Context,
    next_id: u64,
    /// Completions reaped for `submit` futures that have not looked yet.
    done: HashMap<u64, Completion>,
    /// Futures dropped before their completion: it is discarded when it
    /// arrives (the buffer stayed owned by the context until then).
    abandoned: HashSet<u64>,
    /// Each operation in flight, by our id: the caller's token, and whether
    /// it was started for the stream.
    routes: HashMap<u64, (u64, bool)>,
    /// Completions of started operations, in the order they were reaped.
    stream: VecDeque<Completion>,
    /// The waker of each `submit` future waiting, by id: a completion
    /// routed to it by another waiter wakes it directly (the eventfd's
    /// count, read by whoever came first, cannot wake them all).
    wakers: HashMap<u64, Waker>,
    /// The wakers of the streams waiting.
    stream_wakers: Vec<Waker>,
    /// The reaping buffer, reused.
    reaped: Vec<Completion>,
}

impl Shared {
    /// Reaps what is ready without waiting, routes each completion to its
    /// future or to the streams, and wakes those of them other than `me`.
    fn pump(&mut self, me: Reaper) -> Result<()> {
        let mut reaped = std::mem::take(&mut self.reaped);
        let result = self
            .ctx
            .reap(0, usize::MAX, Some(Duration::ZERO), &mut reaped);
        for mut c in reaped.drain(..) {
            let id = c.token;
            let (token, started) = self.routes.remove(&id).unwrap_or((id, false));
            c.token = token;
            if started {
                self.stream.push_back(c);
                // Every stream, the reaping one too if it is one: another
                // stream may be parked while this one takes only one item.
                self.stream_wakers.drain(..).for_each(Waker::wake);
            } else if !self.abandoned.remove(&id) {
                self.done.insert(id, c);
                if me != Reaper::Future(id)
                    && let Some(w) = self.wakers.remove(&id)
                {
                    w.wake();
                }
            }
            // An abandoned one is dropped here, with its buffer, now that
            // the kernel is done with it.
        }
        self.reaped = reaped;
        result.map(drop)
    }

    #[allow(clippy::result_large_err)] // the operation is given back whole, by value
    fn submit_one<'fd>(&mut self, op: Op<'fd>) -> std::result::Result<u64, Refused<'fd>> {
        let id = self.next_id;
        let token = op.token_value();
        match self.ctx.submit_one(op.token(id)) {
            Ok(()) => {
                self.next_id += 1;
                self.routes.insert(id, (token, false));
                Ok(id)
            }
            Err(mut r) => {
                r.op = r.op.token(token);
                Err(r)
            }
        }
    }

    /// Submits `ops` for the stream, under our ids; those not taken get
    /// the caller's tokens back.
    fn start(&mut self, ops: &mut Vec<Op<'_>>) -> Result<usize> {
        let first = self.next_id;
        let tokens: Vec<u64> = ops.iter().map(Op::token_value).collect();
        for (i, op) in ops.iter_mut().enumerate() {
            op.body.token = first + i as u64;
        }
        let result = self.ctx.submit(ops);
        let taken = *result.as_ref().unwrap_or(&0);
        for (op, &token) in ops.iter_mut().zip(&tokens[taken..]) {
            op.body.token = token;
        }
        let taken = result?;
        self.next_id += tokens.len() as u64;
        for (i, &token) in tokens[..taken].iter().enumerate() {
            self.routes.insert(first + i as u64, (token, true));
        }
        Ok(taken)
    }
}

/// A [`Context`] on async-io's reactor.
///
/// - [`submit`](AsyncContext::submit) resolves to the operation's
///   [`Completion`]. Dropping the future before it resolves does not free
///   the operation's buffer: the context keeps it until the kernel's
///   completion arrives, and then drops it.
/// - [`start`](AsyncContext::start) submits without a future; the
///   completion comes out of [`completions`](AsyncContext::completions), a
///   `Stream`.
///
/// Both can be used at once, from many tasks: whichever task reaps hands
/// each completion to its owner and wakes it.
///
/// ```
/// use butter::aio::{AsyncContext, Op};
///
/// let path = std::env::temp_dir().join(format!("kaio-async-doc-{}", std::process::id()));
/// std::fs::write(&path, b"awaited")?;
/// let file = std::fs::File::open(&path)?;
/// std::fs::remove_file(&path)?;
/// let ctx = AsyncContext::new(8)?;
/// let done = futures_lite::future::block_on(ctx.submit(Op::read(&file, 0, vec![0u8; 7])))?;
/// assert_eq!(done.buffers()[0].as_slice(), b"awaited");
///
/// // Started operations come out of the stream, in completion order.
/// use futures_lite::StreamExt;
/// let mut ops: Vec<Op> = (0..3)
///     .map(|block| Op::read(&file, block * 2, vec![0u8; 2]).token(block))
///     .collect();
/// assert_eq!(ctx.start(&mut ops)?, 3);
/// let mut tokens: Vec<u64> = futures_lite::future::block_on(
///     ctx.completions().take(3).map(|c| c.unwrap().token).collect(),
/// );
/// tokens.sort();
/// assert_eq!(tokens, [0, 1, 2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AsyncContext {
    shared: Mutex<Shared>,
    wake: AsyncEventFd,
}

impl AsyncContext {
    /// A context for up to `max_events` operations in flight, with its
    /// eventfd registered on async-io's reactor.
    ///
    /// # Errors
    /// As [`Context::with_eventfd`]; registering the eventfd.
    pub fn new(max_events: u32) -> Result<AsyncContext> {
        let ctx = Context::with_eventfd(max_events)?;
        let efd = ctx
            .eventfd()
            .ok_or_else(|| {
                Error::from_errno("io_setup", libc::EBADF).with_context("AsyncContext::new")
            })?
            .try_clone()?;
        Ok(AsyncContext {
            shared: Mutex::new(Shared {
                ctx,
                next_id: 1,
                done: HashMap::new(),
                abandoned: HashSet::new(),
                routes: HashMap::new(),
                stream: VecDeque::new(),
                wakers: HashMap::new(),
                stream_wakers: Vec::new(),
                reaped: Vec::new(),
            }),
            wake: AsyncEventFd::new(efd)?,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One poll of a waiter: reap and route what is ready, take `me`'s
    /// completion if there is one, else leave `me`'s waker and wait for the
    /// eventfd (whoever reads it reaps, and wakes the owners of what it
    /// reaped).
    fn poll_for<'a>(
        &'a self,
        me: Reaper,
        cx: &mut std::task::Context<'_>,
        wait: &mut Wait<'a>,
    ) -> Poll<Result<Completion>> {
        loop {
            {
                let mut s = self.lock();
                if let Err(e) = s.pump(me) {
                    return Poll::Ready(Err(e));
                }
                let mine = match me {
                    Reaper::Future(id) => s.done.remove(&id),
                    Reaper::Stream => s.stream.pop_front(),
                    Reaper::Nobody => None,
                };
                if let Some(c) = mine {
                    *wait = None;
                    return Poll::Ready(Ok(c));
                }
                match me {
                    Reaper::Future(id) => {
                        s.wakers.insert(id, cx.waker().clone());
                    }
                    Reaper::Stream => {
                        if !s.stream_wakers.iter().any(|w| w.will_wake(cx.waker())) {
                            s.stream_wakers.push(cx.waker().clone());
                        }
                    }
                    Reaper::Nobody => {}
                }
            }
            let read = wait.get_or_insert_with(|| Box::pin(self.wake.read()));
            match read.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => {
                    *wait = None;
                    if let Err(e) = r {
                        return Poll::Ready(Err(e));
                    }
                }
            }
        }
    }

    /// How many operations the kernel holds.
    pub fn in_flight(&self) -> usize {
        self.lock().ctx.in_flight()
    }

    /// Submits `op` and waits for its completion (the caller's token is
    /// kept in it).
    ///
    /// # Errors
    /// As [`Context::submit`] (the operation is dropped with the error;
    /// [`start`](AsyncContext::start) gives it back), and reaping.
    pub async fn submit(&self, op: Op<'_>) -> Result<Completion> {
        let id = self.lock().submit_one(op).map_err(|r| r.error)?;
        let mut guard = Abandon {
            ctx: self,
            id,
            armed: true,
        };
        let mut wait: Wait<'_> = None;
        let c = std::future::poll_fn(|cx| self.poll_for(Reaper::Future(id), cx, &mut wait)).await?;
        guard.armed = false;
        Ok(c)
    }

    /// Submits `ops` without futures, as [`Context::submit`]: those the
    /// kernel took are taken from the front of the vector, the rest stay in
    /// it. Their completions (tokens kept) come out of
    /// [`completions`](AsyncContext::completions).
    ///
    /// # Errors
    /// As [`Context::submit`]; every operation stays in `ops`.
    pub fn start(&self, ops: &mut Vec<Op<'_>>) -> Result<usize> {
        self.lock().start(ops)
    }

    /// The completions of the operations [`start`](AsyncContext::start)ed,
    /// in the order they arrive, as a `Stream` that waits for the next one
    /// (it never ends: more can be started). Several streams of one context
    /// share the completions between them.
    pub fn completions(&self) -> Completions<'_> {
        Completions {
            ctx: self,
            wait: None,
        }
    }

    /// Asks the kernel to cancel the operation with the caller's `token`
    /// (the first in flight with it); as [`Context::cancel`]. Its
    /// completion goes where it would have gone.
    ///
    /// # Errors
    /// As [`Context::cancel`].
    pub fn cancel(&self, token: u64) -> Result<()> {
        let mut s = self.lock();
        let id = s
            .routes
            .iter()
            .find(|(_, (t, _))| *t == token)
            .map(|(id, _)| *id)
            .ok_or_else(|| {
                Error::from_errno("io_cancel", libc::ENOENT)
                    .with_kind(fd_core::ErrorKind::NotFound)
                    .with_detail(format!("no operation with token {token} is in flight"))
            })?;
        s.ctx.cancel(id)?;
        // A completion delivered by the cancel itself waits in the context:
        // hand it to whoever it belongs to.
        s.pump(Reaper::Nobody)
    }
}

/// The `Stream` of [`AsyncContext::completions`].
pub struct Completions<'a> {
    ctx: &'a AsyncContext,
    wait: Wait<'a>,
}

impl Stream for Completions<'_> {
    type Item = Result<Completion>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<Completion>>> {
        let this = &mut *self;
        this.ctx
            .poll_for(Reaper::Stream, cx, &mut this.wait)
            .map(Some)
    }
}

impl std::fmt::Debug for Completions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completions").finish_non_exhaustive()
    }
}

/// Marks an operation abandoned if its future is dropped before it
/// resolves.
struct Abandon<'a> {
    ctx: &'a AsyncContext,
    id: u64,
    armed: bool,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut s = self.ctx.lock();
            s.wakers.remove(&self.id);
            if s.done.remove(&self.id).is_none() {
                s.abandoned.insert(self.id);
            }
        }
    }
}

impl std::fmt::Debug for AsyncContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncContext")
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

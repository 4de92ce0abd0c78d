//! [`AsyncContext`]: `submit(op).await` on async-io's reactor (feature
//! `async`), through the context's eventfd, under any executor.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use event_fd::AsyncEventFd;
use fd_core::{Error, Result};

use crate::{Completion, Context, Op};

struct Shared {
    ctx: Context,
    next_id: u64,
    /// Completions reaped for futures that have not looked yet.
    done: HashMap<u64, Completion>,
    /// Futures dropped before their completion: it is discarded when it
    /// arrives (the buffer stayed owned by the context until then).
    abandoned: HashSet<u64>,
    /// The caller's token of each operation in flight, by our id.
    tokens: HashMap<u64, u64>,
}

/// A [`Context`] whose operations are awaited: [`submit`](AsyncContext::submit)
/// resolves to the operation's [`Completion`].
///
/// Dropping a `submit` future before it resolves does not free the
/// operation's buffer: the context keeps it until the kernel's completion
/// arrives, and then drops it.
///
/// ```
/// use kernel_aio::{AsyncContext, Op};
///
/// let path = std::env::temp_dir().join(format!("kaio-async-doc-{}", std::process::id()));
/// std::fs::write(&path, b"awaited")?;
/// let file = std::fs::File::open(&path)?;
/// std::fs::remove_file(&path)?;
/// let ctx = AsyncContext::new(8)?;
/// let done = futures_lite::future::block_on(ctx.submit(Op::read(&file, 0, vec![0u8; 7])))?;
/// assert_eq!(done.buffers()[0].as_slice(), b"awaited");
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
            .ok_or_else(|| Error::from_errno("AsyncContext::new", libc::EBADF))?
            .try_clone()?;
        Ok(AsyncContext {
            shared: Mutex::new(Shared {
                ctx,
                next_id: 1,
                done: HashMap::new(),
                abandoned: HashSet::new(),
                tokens: HashMap::new(),
            }),
            wake: AsyncEventFd::new(efd)?,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
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
    /// use [`Context`] to get it back), and reaping.
    pub async fn submit(&self, op: Op) -> Result<Completion> {
        let id = {
            let mut s = self.lock();
            let id = s.next_id;
            s.next_id += 1;
            s.tokens.insert(id, op.token);
            if let Err(e) = s.ctx.submit_one(op.token(id)) {
                s.tokens.remove(&id);
                return Err(e.error);
            }
            id
        };
        let mut guard = Abandon {
            ctx: self,
            id,
            armed: true,
        };
        loop {
            let others_waiting = {
                let mut s = self.lock();
                let mut reaped = Vec::new();
                s.ctx.reap(0, Some(Duration::ZERO), &mut reaped)?;
                for mut c in reaped {
                    let key = c.token;
                    if s.abandoned.remove(&key) {
                        s.tokens.remove(&key);
                        continue; // dropped, with its buffer, now that it is done
                    }
                    c.token = s.tokens.remove(&key).unwrap_or(key);
                    s.done.insert(key, c);
                }
                if let Some(c) = s.done.remove(&id) {
                    guard.armed = false;
                    let others = !s.done.is_empty();
                    drop(s);
                    if others {
                        // Completions of other futures were reaped here: wake them.
                        let _ = self.wake.get_ref().write(1);
                    }
                    return Ok(c);
                }
                !s.done.is_empty()
            };
            if others_waiting {
                let _ = self.wake.get_ref().write(1);
            }
            self.wake.read().await?;
        }
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

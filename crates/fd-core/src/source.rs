//! The "event-like source" every butter fd type implements.

use std::os::fd::AsFd;
use std::time::Duration;

use crate::error::{ErrorKind, Result};
use crate::fd::wait_readable;

/// An fd the kernel fills with events: an eventfd's counter, a timerfd's
/// expirations, signalfd records, inotify events.
///
/// Implementors provide [`read_event`](EventSource::read_event): exactly one
/// `read(2)`, decoded. It blocks if the fd is in blocking mode and fails with
/// [`ErrorKind::WouldBlock`] if the fd is non-blocking and empty. Sources whose
/// kernel queue holds many records override
/// [`read_events`](EventSource::read_events) to take all of them in one
/// syscall. Everything else is provided: checking without blocking, waiting
/// with a timeout, and, through the `AsFd` supertrait, taking part in any
/// `poll`/`epoll` loop, and (feature `async`) becoming a `Stream` with
/// [`AsyncSource`](crate::AsyncSource).
///
/// # In your own `poll`/`epoll` loop
///
/// Call [`read_events`](EventSource::read_events) once per wake-up: it
/// hands out everything the source has read, so nothing waits where `poll`
/// cannot see it. A source whose one `read(2)` yields several events
/// (inotify, fanotify, the recursive watcher) keeps the rest of a batch
/// behind [`read_event`](EventSource::read_event) in a queue the kernel
/// does not know about; [`queued`](EventSource::queued) counts it, and
/// [`wait_readable`](EventSource::wait_readable) and the async `Stream` see it, but a plain
/// `poll` on the fd does not. In an edge-triggered epoll loop, read until
/// [`ErrorKind::WouldBlock`], as with any fd.
///
/// ```
/// use butter::EventSource;
/// use rustix::event::{PollFd, PollFlags, poll};
///
/// fn drain<S: EventSource>(source: &S, out: &mut Vec<S::Event>) -> butter::Result<()> {
///     let mut fds = [PollFd::new(source, PollFlags::IN)];
///     let zero = rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 };
///     if poll(&mut fds, Some(&zero)).map_err(butter::fd_core::probe::rustix_err("poll"))? > 0 {
///         source.read_events(out)?; // everything it read, not one of them
///     }
///     Ok(())
/// }
/// ```
///
/// # Threads
///
/// Every implementor may be shared between threads by reference. No lock is
/// held across a blocking syscall: a reader blocked in `read_event` never
/// stops another thread's `try_read_event`, `wait_readable` or timed read, whose
/// bounds hold (queued sources wait with [`read_queued`] and
/// [`read_queued_timeout`]).
pub trait EventSource: AsFd {
    /// One decoded event.
    type Event;

    /// Reads one event with one `read(2)`.
    ///
    /// # Errors
    /// [`ErrorKind::WouldBlock`] if the fd is non-blocking and has nothing;
    /// others as the implementing type documents.
    fn read_event(&self) -> Result<Self::Event>;

    /// Reads every event the kernel has buffered, up to what fits the
    /// source's read buffer, with one `read(2)`, appending them to `events`.
    ///
    /// Returns how many were appended: at least one, except from a source
    /// that filters what it reads (the recursive watcher), which returns
    /// `Ok(0)` after a read that held only its own business rather than
    /// block once it has read. Blocks like
    /// [`read_event`](EventSource::read_event) while there is nothing to
    /// read at all. Reusing
    /// one `Vec` across calls means no allocation per event once it has grown.
    /// The default reads a single event; sources with record queues override it.
    fn read_events(&self, events: &mut Vec<Self::Event>) -> Result<usize> {
        events.push(self.read_event()?);
        Ok(1)
    }

    /// How many events this source has read from the kernel and not yet
    /// handed out: what a plain `poll` on the fd cannot see. Zero for a
    /// source that reads no more than it returns (the default).
    fn queued(&self) -> usize {
        0
    }

    /// Waits until an event can be read, or `timeout` passes (`None`: forever).
    ///
    /// Returns `true` when readable, `false` on timeout.
    fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool> {
        wait_readable(self.as_fd(), timeout)
    }

    /// Reads one event if one is ready, without blocking.
    ///
    /// On a blocking-mode fd this checks readiness with `poll` first; if
    /// another thread reads the same fd between that check and the read, the
    /// read blocks until the next event. A source shared between readers
    /// should be put in non-blocking mode, where this is a single `read(2)`.
    fn try_read_event(&self) -> Result<Option<Self::Event>> {
        self.read_event_timeout(Duration::ZERO)
    }

    /// Waits up to `timeout` for an event and reads it; `Ok(None)` on timeout.
    fn read_event_timeout(&self, timeout: Duration) -> Result<Option<Self::Event>> {
        if !self.wait_readable(Some(timeout))? {
            return Ok(None);
        }
        match self.read_event() {
            Ok(event) => Ok(Some(event)),
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl<T: EventSource + ?Sized> EventSource for &T {
    type Event = T::Event;

    fn read_event(&self) -> Result<Self::Event> {
        (**self).read_event()
    }

    fn read_events(&self, events: &mut Vec<Self::Event>) -> Result<usize> {
        (**self).read_events(events)
    }

    fn queued(&self) -> usize {
        (**self).queued()
    }

    fn wait_readable(&self, timeout: Option<Duration>) -> Result<bool> {
        (**self).wait_readable(timeout)
    }

    fn try_read_event(&self) -> Result<Option<Self::Event>> {
        (**self).try_read_event()
    }

    fn read_event_timeout(&self, timeout: Duration) -> Result<Option<Self::Event>> {
        (**self).read_event_timeout(timeout)
    }
}

/// The read loop of a source that keeps what it read ahead behind a lock
/// (inotify, fanotify, the recursive watcher), for a read that waits as the
/// fd's mode says: until something comes on a blocking fd,
/// [`ErrorKind::WouldBlock`] at once on a non-blocking one. No lock is held
/// while it waits, so a second thread is never locked out by a blocked
/// reader.
///
/// `attempt` takes the source's lock, hands out what its queue holds, reads
/// the kernel only when [`readable_now`] says the read cannot block (every
/// reader of the source goes through that lock, so no reader of ours can
/// take the data between the check and the read), and returns `Ok(None)`
/// when there is nothing. Between attempts this waits in `poll(2)` on `fd`
/// with the lock released.
///
/// # Errors
/// What `attempt` returns; [`ErrorKind::WouldBlock`] (`EAGAIN` from
/// `read`) on a non-blocking fd with nothing to read.
pub fn read_queued<T>(
    fd: std::os::fd::BorrowedFd<'_>,
    mut attempt: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    loop {
        if let Some(item) = attempt()? {
            return Ok(item);
        }
        if crate::fd::is_nonblocking(fd)? {
            return Err(crate::Error::from_errno(
                "read",
                rustix::io::Errno::AGAIN.raw_os_error(),
            ));
        }
        wait_readable(fd, None)?;
    }
}

/// As [`read_queued`], waiting up to `timeout` whatever the fd's mode
/// (`Duration::ZERO` only checks): `Ok(None)` when it has passed. The bound
/// holds whatever other readers of the source do.
///
/// # Errors
/// What `attempt` returns.
pub fn read_queued_timeout<T>(
    fd: std::os::fd::BorrowedFd<'_>,
    timeout: Duration,
    mut attempt: impl FnMut() -> Result<Option<T>>,
) -> Result<Option<T>> {
    // A deadline past what `Instant` holds is as good as forever.
    let deadline = std::time::Instant::now().checked_add(timeout);
    loop {
        if let Some(item) = attempt()? {
            return Ok(Some(item));
        }
        let left = match deadline {
            None => None,
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    return Ok(None);
                }
                Some(left)
            }
        };
        // `false` is the bound passing; the next round sees it.
        wait_readable(fd, left)?;
    }
}

/// Whether `fd` has something to read now: `poll(2)` with a zero timeout.
pub fn readable_now(fd: impl AsFd) -> Result<bool> {
    wait_readable(fd, Some(Duration::ZERO))
}

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
    /// Returns how many were appended (at least one on success). Blocks like
    /// [`read_event`](EventSource::read_event) when there are none. Reusing
    /// one `Vec` across calls means no allocation per event once it has grown.
    /// The default reads a single event; sources with record queues override it.
    fn read_events(&self, events: &mut Vec<Self::Event>) -> Result<usize> {
        events.push(self.read_event()?);
        Ok(1)
    }

    /// Waits until an event can be read, or `timeout` passes (`None`: forever).
    ///
    /// Returns `true` when readable, `false` on timeout.
    fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
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
        if !self.wait(Some(timeout))? {
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

    fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        (**self).wait(timeout)
    }

    fn try_read_event(&self) -> Result<Option<Self::Event>> {
        (**self).try_read_event()
    }

    fn read_event_timeout(&self, timeout: Duration) -> Result<Option<Self::Event>> {
        (**self).read_event_timeout(timeout)
    }
}

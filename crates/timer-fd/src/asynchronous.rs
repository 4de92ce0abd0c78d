//! [`AsyncTimerFd`]: a [`TimerFd`] on async-io's reactor (feature `async`).

use fd_core::Result;

use crate::{TimerEvent, TimerFd, TimerSpec, TimerState};

#[cfg(feature = "async")]
fd_core::async_source! {
    /// A [`TimerFd`] on async-io's reactor (feature `async`): a `Stream` of
    /// [`TimerEvent`]s (for the type and for `&` the type) and
    /// [`tick`](AsyncTimerFd::tick).
    ///
    /// ```
    /// use std::time::Duration;
    /// use butter::timerfd::{AsyncTimerFd, TimerEvent, TimerFd, TimerSpec};
    ///
    /// futures_lite::future::block_on(async {
    ///     let timer = AsyncTimerFd::new(TimerFd::new()?)?;
    ///     timer.set(&TimerSpec::oneshot(Duration::from_millis(1)))?;
    ///     assert_eq!(timer.tick().await?, TimerEvent::Expired(1));
    ///     Ok::<(), butter::Error>(())
    /// })?;
    /// # Ok::<(), butter::Error>(())
    /// ```
    pub struct AsyncTimerFd(TimerFd);
}

#[cfg(feature = "async")]
impl AsyncTimerFd {
    /// Waits for the next expiry (or clock change) and reads it.
    pub async fn tick(&self) -> Result<TimerEvent> {
        self.next_event().await
    }

    /// Arms the timer; as [`TimerFd::set`].
    pub fn set(&self, spec: &TimerSpec) -> Result<TimerState> {
        self.get_ref().set(spec)
    }

    /// Disarms the timer; as [`TimerFd::disarm`].
    pub fn disarm(&self) -> Result<TimerState> {
        self.get_ref().disarm()
    }
}

//! The async types (feature `async`): each owning type on async-io's
//! reactor, a `Stream` of its events.

use fd_core::Result;

use crate::{ChildStatus, PidFd, SignalFd, Signals};

fd_core::async_source! {
    /// A [`SignalFd`] on async-io's reactor (feature `async`): a `Stream` of
    /// [`SigInfo`]s for the type and for `&` the type.
    pub struct AsyncSignalFd(SignalFd);
}

fd_core::async_source! {
    /// [`Signals`] on async-io's reactor (feature `async`): a `Stream` of
    /// [`SigInfo`]s.
    ///
    /// ```
    /// use futures_lite::StreamExt;
    /// use butter::signalfd::{AsyncSignals, Signal, Signals, kill_self};
    ///
    /// futures_lite::future::block_on(async {
    ///     let mut signals = AsyncSignals::new(Signals::new(Signal::WINCH)?)?;
    ///     kill_self(Signal::WINCH)?;
    ///     let info = signals.next().await.unwrap()?;
    ///     assert_eq!(info.signal(), Signal::WINCH);
    ///     Ok::<(), butter::Error>(())
    /// })?;
    /// # Ok::<(), butter::Error>(())
    /// ```
    pub struct AsyncSignals(Signals);
}

fd_core::async_source! {
    /// A [`PidFd`] on async-io's reactor (feature `async`): await
    /// [`exit`](AsyncPidFd::exit) for how the child ended.
    pub struct AsyncPidFd(PidFd);
}

impl AsyncPidFd {
    /// Waits for the child to end, reaps it, and returns how it ended.
    pub async fn exit(&self) -> Result<ChildStatus> {
        self.next_event().await
    }
}

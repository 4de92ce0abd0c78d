//! [`AsyncEventFd`]: an [`EventFd`] on async-io's reactor (feature `async`).

use fd_core::Result;

use crate::EventFd;

#[cfg(feature = "async")]
fd_core::async_source! {
    /// An [`EventFd`] on async-io's reactor (feature `async`).
    ///
    /// A `Stream` of the values read (for the type and for `&` the type), and
    /// async [`read`](AsyncEventFd::read) / [`write`](AsyncEventFd::write).
    ///
    /// ```
    /// use butter::eventfd::{AsyncEventFd, EventFd};
    ///
    /// futures_lite::future::block_on(async {
    ///     let efd = AsyncEventFd::new(EventFd::new()?)?;
    ///     efd.write(7).await?;
    ///     assert_eq!(efd.read().await?, 7);
    ///     Ok::<(), butter::Error>(())
    /// })?;
    /// # Ok::<(), butter::Error>(())
    /// ```
    pub struct AsyncEventFd(EventFd);
}

#[cfg(feature = "async")]
impl AsyncEventFd {
    /// Waits until the counter is not zero and reads it.
    pub async fn read(&self) -> Result<u64> {
        self.source().read_with(EventFd::read).await
    }

    /// Waits until `value` fits and adds it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for `u64::MAX`.
    pub async fn write(&self, value: u64) -> Result<()> {
        self.source().write_with(|efd| efd.write(value)).await
    }
}

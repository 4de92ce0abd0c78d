//! [`AsyncListener`]: a [`Listener`] on async-io's reactor (feature `async`).

use fd_core::Result;

use crate::notify::{AddFd, Listener, Notification, Response};

fd_core::async_source! {
    /// A [`Listener`] on async-io's reactor (feature `async`): a `Stream`
    /// of [`Notification`]s, any executor.
    ///
    /// Answering never blocks, so [`respond`](AsyncListener::respond) and
    /// [`add_fd`](AsyncListener::add_fd) are the listener's own calls.
    pub struct AsyncListener(Listener);
}

impl AsyncListener {
    /// Waits for the next notification ([`next_event`](AsyncListener::next_event)).
    ///
    /// # Errors
    /// As [`Listener::recv`].
    pub async fn recv(&self) -> Result<Notification> {
        self.next_event().await
    }

    /// Answers notification `id`: see [`Listener::respond`].
    ///
    /// # Errors
    /// As [`Listener::respond`].
    pub fn respond(&self, id: u64, response: Response) -> Result<()> {
        self.get_ref().respond(id, response)
    }

    /// Installs an fd in the caller: see [`Listener::add_fd`].
    ///
    /// # Errors
    /// As [`Listener::add_fd`].
    pub fn add_fd(&self, id: u64, fd: impl std::os::fd::AsFd, how: AddFd) -> Result<i32> {
        self.get_ref().add_fd(id, fd, how)
    }
}

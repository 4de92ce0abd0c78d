//! The generic async adapter (feature `async`).

use std::fmt;
use std::future::Future;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;

use crate::error::{ErrorKind, Result, SyscallResult};
use crate::source::EventSource;

/// Any butter fd type, driven by `async-io`'s reactor.
///
/// Wraps the source in [`async_io::Async`], which puts its fd in non-blocking
/// mode and registers it with the reactor thread that `async-io` runs. It
/// spawns no runtime and depends on no executor: it works under smol,
/// async-std, `futures::executor`, `futures_lite::future::block_on`, or tokio
/// alongside async-io's reactor.
///
/// For an [`EventSource`], `AsyncSource<T>` and `&AsyncSource<T>` are
/// [`Stream`]s of `Result<T::Event>`; an error is yielded as an item and the
/// stream goes on. Each crate's `Async*` type is a thin wrapper that adds the
/// operations of its kind (`write` for an eventfd, `set` for a timer).
///
/// ```
/// # #[cfg(feature = "async")] {
/// use butter::fd_core::AsyncSource;
/// use std::os::fd::OwnedFd;
/// # let (r, w) = rustix::pipe::pipe().unwrap();
/// let reader: AsyncSource<OwnedFd> = AsyncSource::new(r).unwrap();
/// # rustix::io::write(&w, b"x").unwrap();
/// futures_lite::future::block_on(reader.readable()).unwrap();
/// # }
/// ```
pub struct AsyncSource<T: AsFd> {
    io: async_io::Async<T>,
}

impl<T: AsFd> AsyncSource<T> {
    /// Puts `source`'s fd in non-blocking mode and registers it with the reactor.
    ///
    /// # Errors
    /// [`ErrorKind::ResourceLimit`] if the reactor's epoll set is full
    /// (`ENOSPC` from `max_user_watches`).
    pub fn new(source: T) -> Result<AsyncSource<T>> {
        Ok(AsyncSource {
            io: async_io::Async::new(source).syscall("epoll_ctl")?,
        })
    }

    /// The wrapped source.
    pub fn get_ref(&self) -> &T {
        self.io.get_ref()
    }

    /// Unregisters the fd and returns the source, still in non-blocking mode.
    pub fn into_inner(self) -> Result<T> {
        self.io.into_inner().syscall("epoll_ctl")
    }

    /// Waits until the fd is readable.
    pub async fn readable(&self) -> Result<()> {
        self.io.readable().await.syscall("epoll_wait")
    }

    /// Waits until the fd is writable.
    pub async fn writable(&self) -> Result<()> {
        self.io.writable().await.syscall("epoll_wait")
    }

    /// Runs `op` until it does not fail with [`ErrorKind::WouldBlock`],
    /// waiting for readability in between.
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> Result<R>) -> Result<R> {
        loop {
            match op(self.get_ref()) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.readable().await?,
                other => return other,
            }
        }
    }

    /// Runs `op` until it does not fail with [`ErrorKind::WouldBlock`],
    /// waiting for writability in between.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> Result<R>) -> Result<R> {
        loop {
            match op(self.get_ref()) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.writable().await?,
                other => return other,
            }
        }
    }

    /// The poll form of [`read_with`](AsyncSource::read_with), for `Stream`
    /// and `Future` implementations.
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> Result<R>,
    ) -> Poll<Result<R>> {
        loop {
            match op(self.get_ref()) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                other => return Poll::Ready(other),
            }
            ready!(self.io.poll_readable(cx)).syscall("epoll_wait")?;
        }
    }
}

impl<T: EventSource> AsyncSource<T> {
    /// Waits for and reads the next event.
    pub async fn next_event(&self) -> Result<T::Event> {
        self.read_with(T::read_event).await
    }

    /// Waits for events and appends every one buffered to `events`, as
    /// [`EventSource::read_events`].
    pub async fn next_events(&self, events: &mut Vec<T::Event>) -> Result<usize> {
        self.read_with(|source| source.read_events(events)).await
    }

    /// Polls for the next event: the body of every `Stream` impl.
    pub fn poll_next_event(&self, cx: &mut Context<'_>) -> Poll<Result<T::Event>> {
        self.poll_read_with(cx, T::read_event)
    }
}

impl<T: EventSource> Stream for AsyncSource<T> {
    type Item = Result<T::Event>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_next_event(cx).map(Some)
    }
}

impl<T: EventSource> Stream for &AsyncSource<T> {
    type Item = Result<T::Event>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_next_event(cx).map(Some)
    }
}

impl<T: AsFd> AsFd for AsyncSource<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl<T: AsFd> AsRawFd for AsyncSource<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_fd().as_raw_fd()
    }
}

impl<T: AsFd + fmt::Debug> fmt::Debug for AsyncSource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncSource")
            .field("source", self.get_ref())
            .finish()
    }
}

/// An fd registered with async-io's reactor whose readiness can be
/// awaited: [`AsyncSource`], and the caller's own `async_io::Async<T>`
/// (a socket the program already drives). Functions that move data between
/// fds they do not own (`zerocopy_pipe::copy_async`) take `&impl AsyncReady`,
/// so a fd is never registered with the reactor twice.
pub trait AsyncReady: AsFd {
    /// Waits until the fd is readable: an event from the reactor that came
    /// after this call began (each call waits for a fresh one).
    ///
    /// # Errors
    /// The reactor's error (`epoll_wait`).
    fn readable(&self) -> impl Future<Output = Result<()>> + Send + '_;

    /// Waits until the fd is writable; as [`readable`](AsyncReady::readable).
    ///
    /// # Errors
    /// The reactor's error (`epoll_wait`).
    fn writable(&self) -> impl Future<Output = Result<()>> + Send + '_;
}

impl<T: AsFd + Send + Sync> AsyncReady for AsyncSource<T> {
    async fn readable(&self) -> Result<()> {
        self.io.readable().await.syscall("epoll_wait")
    }

    async fn writable(&self) -> Result<()> {
        self.io.writable().await.syscall("epoll_wait")
    }
}

impl<T: AsFd + Send + Sync> AsyncReady for async_io::Async<T> {
    async fn readable(&self) -> Result<()> {
        async_io::Async::readable(self).await.syscall("epoll_wait")
    }

    async fn writable(&self) -> Result<()> {
        async_io::Async::writable(self).await.syscall("epoll_wait")
    }
}

/// Declares a crate's `Async*` type over [`AsyncSource`]: the struct, its
/// constructor, `get_ref`, `into_inner`, `next_event`, `Stream` for the type
/// and for `&` the type, `AsFd`, `AsRawFd` and `Debug`. The crate then adds
/// the operations of its kind in an `impl` block of its own.
///
/// ```
/// # #[cfg(feature = "async")] {
/// # use std::os::fd::{AsFd, BorrowedFd};
/// # #[derive(Debug)] pub struct Ticker(std::os::fd::OwnedFd);
/// # impl AsFd for Ticker { fn as_fd(&self) -> BorrowedFd<'_> { self.0.as_fd() } }
/// # impl butter::EventSource for Ticker {
/// #     type Event = u8;
/// #     fn read_event(&self) -> butter::Result<u8> { Ok(0) }
/// # }
/// butter::fd_core::async_source! {
///     /// A `Ticker` on the async-io reactor.
///     pub struct AsyncTicker(Ticker);
/// }
/// # }
/// ```
#[macro_export]
macro_rules! async_source {
    ($(#[$meta:meta])* $vis:vis struct $name:ident($inner:ty);) => {
        $(#[$meta])*
        $vis struct $name {
            source: $crate::AsyncSource<$inner>,
        }

        impl $name {
            /// Puts the fd in non-blocking mode and registers it with
            /// async-io's reactor.
            ///
            /// # Errors
            /// A resource-limit error if the reactor cannot take another fd.
            pub fn new(inner: $inner) -> $crate::Result<$name> {
                Ok($name { source: $crate::AsyncSource::new(inner)? })
            }

            /// The blocking type inside.
            pub fn get_ref(&self) -> &$inner {
                self.source.get_ref()
            }

            /// Unregisters the fd and returns the blocking type, left in
            /// non-blocking mode.
            pub fn into_inner(self) -> $crate::Result<$inner> {
                self.source.into_inner()
            }

            /// Waits for and reads the next event.
            pub async fn next_event(&self) -> $crate::Result<<$inner as $crate::EventSource>::Event> {
                self.source.next_event().await
            }

            /// Waits for events and appends every one buffered to `events`.
            pub async fn next_events(
                &self,
                events: &mut Vec<<$inner as $crate::EventSource>::Event>,
            ) -> $crate::Result<usize> {
                self.source.next_events(events).await
            }

            /// The generic adapter inside, for `read_with` / `write_with`.
            pub fn source(&self) -> &$crate::AsyncSource<$inner> {
                &self.source
            }
        }

        impl $crate::__private::Stream for $name {
            type Item = $crate::Result<<$inner as $crate::EventSource>::Event>;

            fn poll_next(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Option<Self::Item>> {
                self.source.poll_next_event(cx).map(Some)
            }
        }

        impl $crate::__private::Stream for &$name {
            type Item = $crate::Result<<$inner as $crate::EventSource>::Event>;

            fn poll_next(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Option<Self::Item>> {
                self.source.poll_next_event(cx).map(Some)
            }
        }

        impl ::std::os::fd::AsFd for $name {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                ::std::os::fd::AsFd::as_fd(&self.source)
            }
        }

        impl ::std::os::fd::AsRawFd for $name {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                ::std::os::fd::AsRawFd::as_raw_fd(&self.source)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_tuple(stringify!($name)).field(self.get_ref()).finish()
            }
        }
    };
}

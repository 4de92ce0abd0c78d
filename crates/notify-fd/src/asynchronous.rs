//! The async types (feature `async`): each owning type on async-io's
//! reactor, a `Stream` of its events.

use crate::fanotify;
use crate::inotify::{self, Inotify};

fd_core::async_source! {
    /// An [`Inotify`] on async-io's reactor (feature `async`): a `Stream` of
    /// owned [`Change`](inotify::Change)s.
    pub struct AsyncInotify(Inotify);
}

fd_core::async_source! {
    /// A [`fanotify::Fanotify`] group on async-io's reactor (feature
    /// `async`): a `Stream` of owned [`fanotify::Event`]s.
    pub struct AsyncFanotify(fanotify::Fanotify);
}

fd_core::async_source! {
    /// A [`inotify::RecursiveWatcher`] on async-io's reactor (feature
    /// `async`): a `Stream` of [`inotify::PathEvent`]s.
    pub struct AsyncRecursiveWatcher(inotify::RecursiveWatcher);
}

fd_core::async_source! {
    /// A [`Debouncer`](crate::Debouncer) on async-io's reactor (feature
    /// `async`): a `Stream` of settled [`inotify::PathEvent`]s.
    pub struct AsyncDebouncer(crate::Debouncer);
}

//! inotify, complete: watches on files and directories, every event,
//! batches decoded without allocation, renames paired, a recursive watcher.
//!
//! # How it works
//!
//! - Raw layer: [`inotify_init1`] (always `IN_CLOEXEC`), [`inotify_add_watch`],
//!   [`inotify_rm_watch`].
//! - [`Inotify`] owns the fd. [`add_watch`](Inotify::add_watch) returns a
//!   [`WatchDescriptor`] tied to the instance. [`read_batch`](Inotify::read_batch)
//!   reads a batch of queued events (up to 64 KiB by default, never less
//!   than the kernel needs for one event) in one `read(2)` into a reusable
//!   [`EventBuffer`] and decodes it in place: names are borrowed, nothing is
//!   allocated per event. [`Events::changes`]
//!   pairs `MOVED_FROM`/`MOVED_TO` by cookie into [`Change::Renamed`], and
//!   reports halves without a partner as [`Change::MovedOut`] /
//!   [`Change::MovedIn`] where the kernel queued them.
//! - As an [`EventSource`](fd_core::EventSource), an `Inotify` yields owned [`Change`]s;
//!   `AsyncInotify` (feature `async`) is a `Stream` of them.
//! - [`RecursiveWatcher`] watches a whole tree and reports paths.

mod changes;
mod decode;
mod instance;
mod mask;
mod poll;
mod raw;
pub(crate) mod recursive;
mod watcher;

pub use changes::{Change, Changes, EventBuffer, Events};
pub use decode::{Event, EventIter, MIN_BUFFER, WatchDescriptor, WatchEvent};
pub use instance::Inotify;
pub use mask::{EventMask, WatchFlags};
pub use raw::{InitFlags, inotify_add_watch, inotify_init1, inotify_rm_watch};
pub use recursive::{PathEvent, RecursiveOptions};
pub use watcher::{Backend, RecursiveWatcher};

//! Linux file notifications through file descriptors: inotify and fanotify, complete.
//!
//! [`inotify`] watches files and directories for every kind of event, reads
//! every queued event in one syscall and decodes it without allocating,
//! pairs the two halves of renames, and keeps an overflow from passing for
//! a normal event. [`inotify::RecursiveWatcher`] watches a whole tree and
//! reports paths, through inotify or fanotify ([`inotify::Backend`]), with
//! roots that may come and go and a [`sync`](inotify::RecursiveWatcher::sync)
//! barrier; [`Debouncer`] settles its events per path. [`fanotify`] watches inodes, whole mounts and whole
//! filesystems, parses every info record, and answers permission events.
//!
//! Everything works blocking, in any `poll`/`epoll` loop through `AsFd`,
//! and as a `Stream` (feature `async`): `AsyncInotify`,
//! `AsyncRecursiveWatcher`, `AsyncDebouncer`.
//!
//! # Example
//!
//! ```
//! use notify_fd::inotify::{EventMask, PathEvent, RecursiveWatcher};
//! use fd_core::EventSource;
//! use std::time::Duration;
//!
//! let root = std::env::temp_dir().join(format!("notify-doc-{}", std::process::id()));
//! std::fs::create_dir(&root).unwrap();
//! let watcher = RecursiveWatcher::new(&root, EventMask::CREATE)?;
//! std::fs::create_dir_all(root.join("a/b")).unwrap();
//! std::fs::write(root.join("a/b/f"), b"").unwrap();
//! let mut seen = Vec::new();
//! while let Some(PathEvent::Event { path, .. }) = watcher.read_event_timeout(Duration::from_secs(5))? {
//!     seen.push(path.strip_prefix(&root).unwrap().to_owned());
//!     if seen.iter().any(|p| p.ends_with("f")) { break }
//! }
//! assert!(seen.iter().any(|p| p.ends_with("a/b/f")), "{seen:?}");
//! # std::fs::remove_dir_all(&root).unwrap();
//! # Ok::<(), fd_core::Error>(())
//! ```

#![deny(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!("notify-fd wraps Linux's inotify and builds only for Linux targets");

/// This crate's README examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(feature = "async")]
mod asynchronous;
mod debounce;
pub mod fanotify;
mod filter;
pub mod inotify;
mod lease;
mod names;
mod probe;
#[cfg(feature = "serde")]
mod serde_impls;
mod watch;

pub use debounce::Debouncer;
pub use fd_core::{self, Error, ErrorKind, Result};
pub use filter::PathFilter;
pub use probe::probe;
pub use watch::{Watch, watch};

#[cfg(feature = "async")]
pub use asynchronous::{AsyncDebouncer, AsyncFanotify, AsyncInotify, AsyncRecursiveWatcher};

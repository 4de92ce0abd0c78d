//! [`watch`]: the one-line case.

use std::ffi::OsString;
use std::path::Path;

use fd_core::EventSource;
use fd_core::Result;

use crate::inotify::{Change, EventMask, Inotify, WatchFlags};

/// Watches `path` (a file, or a directory and its entries) for every event:
/// the one-line case. Iterate for owned [`Change`]s, blocking.
///
/// ```no_run
/// for change in butter::notify::watch("/etc/hosts")? {
///     println!("{:?}", change?);
/// }
/// # Ok::<(), butter::Error>(())
/// ```
///
/// # Errors
/// As [`Inotify::add_watch`].
pub fn watch(path: impl AsRef<Path>) -> Result<Watch> {
    let inotify = Inotify::new()?;
    inotify.add_watch(path, EventMask::ALL_EVENTS, WatchFlags::empty())?;
    Ok(Watch { inotify })
}

/// The iterator [`watch`] returns: owned changes, blocking, forever.
#[derive(Debug)]
pub struct Watch {
    inotify: Inotify,
}

impl Watch {
    /// The instance inside, to add more watches or poll it.
    pub fn inotify(&self) -> &Inotify {
        &self.inotify
    }
}

impl Iterator for Watch {
    type Item = Result<Change<OsString>>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.inotify.read_event())
    }
}

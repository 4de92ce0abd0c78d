//! Children that do not inherit the signals a [`Signals`](crate::Signals)
//! blocked.

use std::process::Command;

use crate::{SigSet, sys};

/// Unblocking in a child spawned by [`std::process::Command`].
///
/// A signalfd needs its signals blocked, and since Rust 1.66 the standard
/// library passes the parent's signal mask on to the programs it spawns (as
/// `nohup` expects). A child started while a [`Signals`](crate::Signals)
/// holds `SIGTERM` blocked therefore starts with `SIGTERM` blocked too, and
/// a `SIGTERM` forwarded to it waits forever. This extension unblocks the
/// given signals in the child, between `fork` and `exec`, and nowhere else.
///
/// ```
/// use std::process::Command;
/// use butter::signalfd::{SignalCommandExt, Signal, Signals};
///
/// let signals = Signals::new(Signal::TERM)?;
/// let mut child = Command::new("true").unblock_signals(signals.set()).spawn()?;
/// assert!(child.wait()?.success());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait SignalCommandExt {
    /// Unblocks `set` in the child before it runs the program. The hook
    /// this installs allocates nothing and makes one async-signal-safe
    /// call, so it is sound in a multithreaded parent; like any
    /// `pre_exec` hook it makes the standard library fork instead of using
    /// `posix_spawn`.
    fn unblock_signals(&mut self, set: impl Into<SigSet>) -> &mut Command;
}

impl SignalCommandExt for Command {
    fn unblock_signals(&mut self, set: impl Into<SigSet>) -> &mut Command {
        sys::unblock_before_exec(self, set.into().bits());
        self
    }
}

//! Signal masks: `pthread_sigmask`, `sigprocmask`, `sigpending`.

use std::fmt;
use std::marker::PhantomData;

use fd_core::Result;

use crate::{SigSet, sys};

/// What a mask call does with the given set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum How {
    /// `SIG_BLOCK`: add the set to the mask.
    Block,
    /// `SIG_UNBLOCK`: remove the set from the mask.
    Unblock,
    /// `SIG_SETMASK`: the mask becomes the set.
    SetMask,
}

impl How {
    fn raw(self) -> libc::c_int {
        match self {
            How::Block => libc::SIG_BLOCK,
            How::Unblock => libc::SIG_UNBLOCK,
            How::SetMask => libc::SIG_SETMASK,
        }
    }
}

/// Restores the signal mask that was in force before the call that made it,
/// exactly (the C library's internal signals included), when dropped.
///
/// A mask belongs to a thread, so the guard cannot be sent to another one.
/// [`forget`](SigMaskGuard::forget) keeps the new mask for good.
#[must_use = "dropping the guard restores the previous mask at once"]
pub struct SigMaskGuard {
    old: libc::sigset_t,
    process: bool,
    armed: bool,
    /// A thread's mask must be restored on that thread: not `Send`.
    _thread: PhantomData<*const ()>,
}

impl SigMaskGuard {
    /// The mask before the call.
    pub fn previous(&self) -> SigSet {
        SigSet::from_bits(sys::from_libc(&self.old))
    }

    /// Keeps the new mask: the guard no longer restores anything.
    pub fn forget(mut self) {
        self.armed = false;
    }
}

impl Drop for SigMaskGuard {
    fn drop(&mut self) {
        if self.armed {
            sys::restore(&self.old, self.process);
        }
    }
}

impl fmt::Debug for SigMaskGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigMaskGuard")
            .field("previous", &self.previous())
            .field("process", &self.process)
            .finish()
    }
}

/// `pthread_sigmask(how, set)`: changes the calling thread's signal mask;
/// the guard restores the previous one when dropped.
///
/// `SIGKILL` and `SIGSTOP` in `set` are ignored, as the kernel ignores them.
/// The C library's internal signals keep the state it needs.
///
/// ```
/// use butter::signalfd::{How, SigSet, Signal, pthread_sigmask, thread_mask};
///
/// let before = thread_mask()?;
/// {
///     let _guard = pthread_sigmask(How::Block, &Signal::USR1.into())?;
///     assert!(thread_mask()?.contains(Signal::USR1));
/// }
/// assert_eq!(thread_mask()?, before);
/// # Ok::<(), butter::Error>(())
/// ```
///
/// # Errors
/// None in practice: the arguments are always valid.
///
/// # References
/// - [`pthread_sigmask(3)`](https://man7.org/linux/man-pages/man3/pthread_sigmask.3.html)
pub fn pthread_sigmask(how: How, set: &SigSet) -> Result<SigMaskGuard> {
    let old = sys::sigmask(how.raw(), Some(set.bits()), false)?;
    Ok(SigMaskGuard {
        old,
        process: false,
        armed: true,
        _thread: PhantomData,
    })
}

/// `sigprocmask(how, set)`: as [`pthread_sigmask`], through the process
/// call. In a threaded program it changes only the calling thread's mask
/// (POSIX leaves it unspecified; Linux does that); it is here for programs
/// that mean "the process" and are single-threaded.
///
/// # References
/// - [`sigprocmask(2)`](https://man7.org/linux/man-pages/man2/sigprocmask.2.html)
pub fn sigprocmask(how: How, set: &SigSet) -> Result<SigMaskGuard> {
    let old = sys::sigmask(how.raw(), Some(set.bits()), true)?;
    Ok(SigMaskGuard {
        old,
        process: true,
        armed: true,
        _thread: PhantomData,
    })
}

/// The calling thread's current signal mask.
pub fn thread_mask() -> Result<SigSet> {
    sys::sigmask(libc::SIG_BLOCK, None, false).map(|old| SigSet::from_bits(sys::from_libc(&old)))
}

/// `sigpending()`: the signals pending for the calling thread or the
/// process, blocked and so waiting.
///
/// # References
/// - [`sigpending(2)`](https://man7.org/linux/man-pages/man2/sigpending.2.html)
pub fn sigpending() -> Result<SigSet> {
    sys::sigpending().map(SigSet::from_bits)
}

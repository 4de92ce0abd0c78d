//! Linux's low-level kernel features for Rust, done completely.
//!
//! `butter` gathers the butter crates under one name. Each is a module behind
//! a Cargo feature of the same name, all on by default:
//!
//! | module | crate | feature | covers |
//! |---|---|---|---|
//! | [`eventfd`] | `event-fd` | `eventfd` | `eventfd2`: counter and semaphore modes |
//! | [`timerfd`] | `timer-fd` | `timerfd` | `timerfd_*`: every clock, periodic, absolute, cancel-on-set |
//! | [`signalfd`] | `signal-fd` | `signalfd` | `signalfd4`, masks with restoring guards, pidfds |
//! | [`notify`] | `notify-fd` | `notify` | inotify and fanotify: `notify::inotify`, `notify::fanotify`, `notify::watch` |
//! | [`pipe`] | `zerocopy-pipe` | `pipe` | `splice`, `tee`, `vmsplice`, `sendfile`, `copy_file_range`, one fast `copy` |
//! | [`aio`] | `kernel-aio` | `aio` | native AIO: completion-based IO with buffers owned until reaped, ring reaping, eventfd, async |
//! | [`ns`] | `ns-sys` | `ns` | namespaces, mounts and the new mount API, id maps, `Sandbox`, `Enter` |
//! | [`seccomp`] | `seccomp-lite` | `seccomp` | seccomp BPF without libseccomp: filters, compiler, simulator, loader, user notifications, OCI profiles |
//!
//! The shared pieces come from `fd-core` and are re-exported at the top:
//! [`Error`] and [`ErrorKind`] (one error model for every crate),
//! [`EventSource`] (read / read a batch / wait, `AsFd` for `poll`/`epoll`),
//! [`probe`] (what this kernel offers), and with feature `async`,
//! `AsyncSource`, which makes any source a runtime-agnostic `Stream`.
//!
//! # Example
//!
//! ```
//! # #[cfg(all(feature = "eventfd", feature = "timerfd"))] {
//! use butter::eventfd::EventFd;
//! use butter::timerfd::{TimerEvent, TimerFd, TimerSpec};
//! use std::time::Duration;
//!
//! let wake = EventFd::new()?;
//! wake.notify()?;
//! assert_eq!(wake.read()?, 1);
//!
//! let timer = TimerFd::new()?;
//! timer.set(&TimerSpec::oneshot(Duration::from_millis(1)))?;
//! assert_eq!(timer.read()?, TimerEvent::Expired(1));
//! # }
//! # Ok::<(), butter::Error>(())
//! ```

#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use fd_core::{self, Error, ErrorKind, EventSource, Result};

/// What this kernel offers the butter crates: the shared types from
/// `fd-core`, and [`machine`](probe::machine), which gathers every enabled
/// crate's own probes (`butter doctor` prints them).
pub mod probe {
    pub use fd_core::probe::*;

    /// Probes everything the enabled butter crates cover, grouped by crate.
    ///
    /// Takes a few milliseconds; forks up to three short-lived children.
    /// The rows say what root would add when this process lacks it.
    pub fn machine() -> Vec<Probe> {
        #[allow(unused_mut)] // with no member enabled, nothing is added
        let mut rows = Vec::new();
        #[cfg(feature = "eventfd")]
        rows.extend(event_fd::probe());
        #[cfg(feature = "timerfd")]
        rows.extend(timer_fd::probe());
        #[cfg(feature = "signalfd")]
        rows.extend(signal_fd::probe());
        #[cfg(feature = "notify")]
        rows.extend(notify_fd::probe());
        #[cfg(feature = "pipe")]
        rows.extend(zerocopy_pipe::probe());
        #[cfg(feature = "ns")]
        rows.extend(ns_sys::probe());
        #[cfg(feature = "aio")]
        rows.extend(kernel_aio::probe());
        #[cfg(feature = "seccomp")]
        rows.extend(seccomp_lite::probe());
        rows
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn machine_probe_covers_every_crate() {
            let rows = machine();
            for group in [
                "event-fd",
                "timer-fd",
                "signal-fd",
                "notify-fd",
                "zerocopy-pipe",
                "kernel-aio",
                "ns-sys",
                "seccomp-lite",
            ] {
                assert!(rows.iter().any(|r| r.group == group), "no row for {group}");
            }
            // eventfd and timerfd exist on every kernel this workspace supports.
            let eventfd = rows.iter().find(|r| r.feature == "eventfd2").unwrap();
            assert_eq!(eventfd.status, Status::Available, "{eventfd:?}");
            let mono = rows
                .iter()
                .find(|r| r.feature == "CLOCK_MONOTONIC")
                .unwrap();
            assert_eq!(mono.status, Status::Available);
            for call in ["splice", "copy_file_range", "signalfd4", "inotify_init1"] {
                let row = rows.iter().find(|r| r.feature == call).unwrap();
                assert_eq!(row.status, Status::Available, "{row:?}");
            }
            // A limit row carries the number it read.
            let pipe = rows.iter().find(|r| r.feature == "pipe-max-size").unwrap();
            let expect = read_proc_value("/proc/sys/fs/pipe-max-size").unwrap();
            assert!(pipe.detail.starts_with(&expect), "{pipe:?}");
        }
    }
}

#[cfg(feature = "async")]
pub use fd_core::AsyncSource;

/// The workspace README's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "eventfd", feature = "timerfd"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// The guides' worked examples (`docs/`), compiled and run as doctests.
#[cfg(all(doctest, feature = "eventfd"))]
#[doc = include_str!("../../../docs/event-fd.md")]
pub struct EventFdGuide;

/// See [`EventFdGuide`].
#[cfg(all(doctest, feature = "timerfd"))]
#[doc = include_str!("../../../docs/timer-fd.md")]
pub struct TimerFdGuide;

/// See [`EventFdGuide`].
#[cfg(all(doctest, feature = "signalfd"))]
#[doc = include_str!("../../../docs/signal-fd.md")]
pub struct SignalFdGuide;

/// See [`EventFdGuide`].
#[cfg(all(doctest, feature = "pipe"))]
#[doc = include_str!("../../../docs/zerocopy-pipe.md")]
pub struct ZerocopyPipeGuide;

/// See [`EventFdGuide`].
#[cfg(all(doctest, feature = "notify"))]
#[doc = include_str!("../../../docs/fanotify.md")]
pub struct FanotifyGuide;

/// See [`EventFdGuide`].
#[cfg(all(doctest, feature = "ns"))]
#[doc = include_str!("../../../docs/namespaces.md")]
pub struct NamespacesGuide;

/// `eventfd2`: a kernel counter for wake-ups and notifications (the
/// `event-fd` crate).
#[cfg(feature = "eventfd")]
pub mod eventfd {
    pub use event_fd::*;
}

/// `timerfd`: kernel timers as file descriptors (the `timer-fd` crate).
#[cfg(feature = "timerfd")]
pub mod timerfd {
    pub use timer_fd::*;
}

/// File notifications (the `notify-fd` crate): `butter::notify::inotify`
/// for inotify and its recursive watcher, `butter::notify::fanotify` for
/// fanotify, `butter::notify::watch` for the one-line case. One module for
/// both, because they share one crate.
///
/// Every watcher goes into any reactor through `AsFd`/`AsRawFd`. On
/// tokio, `AsyncFd` around the watcher itself, reading with
/// `read_events` (which hands out everything it read, so no event waits
/// where tokio cannot see it):
///
/// ```
/// # #[cfg(feature = "notify")] {
/// use butter::EventSource;
/// use butter::notify::inotify::{EventMask, PathEvent, RecursiveWatcher};
/// use tokio::io::unix::AsyncFd;
///
/// let dir = std::env::temp_dir().join(format!("butter-tokio-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let watcher = RecursiveWatcher::new(&dir, EventMask::CREATE)?;
/// watcher.set_nonblocking(true)?;
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
/// let seen = runtime.block_on(async {
///     let watcher = AsyncFd::new(watcher)?;
///     std::fs::write(dir.join("new"), b"")?;
///     let mut events = Vec::new();
///     while !events.iter().any(|e| matches!(e, PathEvent::Event { path, .. } if path.ends_with("new"))) {
///         let mut ready = watcher.readable().await?;
///         // WouldBlock clears tokio's readiness; anything else keeps it.
///         if let Ok(read) = ready.try_io(|w| Ok(w.get_ref().read_events(&mut events)?)) {
///             read?;
///         }
///     }
///     Ok::<_, std::io::Error>(events)
/// })?;
/// assert!(!seen.is_empty());
/// # std::fs::remove_dir_all(&dir)?;
/// # }
/// # Ok::<(), butter::Error>(())
/// ```
///
/// On any executor through async-io's reactor (smol, async-std,
/// `futures::executor`, or tokio beside it), the watcher's `Stream`:
///
/// ```
/// # #[cfg(all(feature = "notify", feature = "async"))] {
/// use butter::notify::AsyncRecursiveWatcher;
/// use butter::notify::inotify::{EventMask, PathEvent, RecursiveWatcher};
/// use futures_lite::StreamExt;
///
/// let dir = std::env::temp_dir().join(format!("butter-stream-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let mut watcher = AsyncRecursiveWatcher::new(RecursiveWatcher::new(&dir, EventMask::CREATE)?)?;
/// std::fs::write(dir.join("new"), b"")?;
/// futures_lite::future::block_on(async {
///     while let Some(event) = watcher.next().await {
///         if let PathEvent::Event { path, .. } = event? {
///             if path.ends_with("new") {
///                 break;
///             }
///         }
///     }
///     Ok::<(), butter::Error>(())
/// })?;
/// # std::fs::remove_dir_all(&dir)?;
/// # }
/// # Ok::<(), butter::Error>(())
/// ```
#[cfg(feature = "notify")]
pub mod notify {
    pub use notify_fd::*;
}

/// Zero-copy data movement (the `zerocopy-pipe` crate): the splice family
/// and one `copy` that picks the fastest correct path.
#[cfg(feature = "pipe")]
pub mod pipe {
    pub use zerocopy_pipe::*;
}

/// Linux native AIO with buffers owned until the kernel's completion is
/// reaped (the `kernel-aio` crate).
#[cfg(feature = "aio")]
pub mod aio {
    pub use kernel_aio::*;
}

/// Namespaces, mounts, id maps, a sandbox spawner and entering a running
/// container (the `ns-sys` crate).
///
/// A program in new namespaces, as `unshare -Urpf --uts hostname` runs
/// it: a user namespace makes it work without root, where the system
/// allows unprivileged user namespaces (`butter doctor` says).
///
/// ```
/// # #[cfg(feature = "ns")] {
/// use butter::ns::{ChildStatus, Namespaces, Sandbox};
///
/// let run = Sandbox::new("hostname")
///     .unshare(Namespaces::USER | Namespaces::PID | Namespaces::UTS)
///     .hostname("sandbox")
///     .output();
/// match run {
///     Ok(out) => {
///         assert_eq!(out.status, ChildStatus::Exited(0));
///         assert_eq!(out.stdout, b"sandbox\n");
///     }
///     // No user namespaces for this user here: the error says which step.
///     Err(e) if e.kind() == butter::ErrorKind::PermissionDenied => eprintln!("{e}"),
///     Err(e) => return Err(e),
/// }
/// # }
/// # Ok::<(), butter::Error>(())
/// ```
///
/// Which namespaces a process is in, as `lsns -p` lists them:
///
/// ```
/// # #[cfg(feature = "ns")] {
/// for ns in butter::ns::namespaces_of(None)? { // None: this process
///     println!("{ns:?}");
/// }
/// # }
/// # Ok::<(), butter::Error>(())
/// ```
#[cfg(feature = "ns")]
pub mod ns {
    pub use ns_sys::*;
}

/// seccomp BPF without libseccomp: filter compiler, simulator,
/// disassembler, loader and user notifications (the `seccomp-lite` crate).
///
/// A filter, compiled and checked without loading it:
///
/// ```
/// # #[cfg(feature = "seccomp")] {
/// use butter::seccomp::{Action, Arch, Filter};
///
/// const EPERM: u16 = 1;
/// let program = Filter::new(Action::Errno(EPERM))
///     .allow(["read", "write", "exit_group"])
///     .compile()?;
/// let arch = Arch::native().expect("a supported architecture");
/// assert_eq!(program.simulate_name(arch, "write", [1, 0, 0, 0, 0, 0])?, Action::Allow);
/// assert_eq!(
///     program.simulate_name(arch, "socket", [2, 1, 0, 0, 0, 0])?,
///     Action::Errno(EPERM)
/// );
/// # }
/// # Ok::<(), butter::Error>(())
/// ```
#[cfg(feature = "seccomp")]
pub mod seccomp {
    pub use seccomp_lite::*;
}

/// `signalfd`: signals as records read from an fd, signal masks, pidfds
/// (the `signal-fd` crate).
#[cfg(feature = "signalfd")]
pub mod signalfd {
    pub use signal_fd::*;
}

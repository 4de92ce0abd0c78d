//! The C baselines (`c/baseline.c`), behind safe functions.
//!
//! # Safety
//!
//! Each C function takes integers, a borrowed fd that stays open across
//! the call, or pointers to buffers whose length it is told; none keeps a
//! pointer after returning. The wrappers pass exactly those.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

unsafe extern "C" {
    fn butter_c_eventfd_pairs(fd: i32, n: u64) -> u64;
    fn butter_c_eventfd_pingpong(n: u64) -> i32;
    fn butter_c_timerfd_run(
        period_ns: u64,
        total_ns: u64,
        lateness_ns: *mut i64,
        cap: usize,
        expirations: *mut u64,
        due_before: *mut u64,
        due_after: *mut u64,
    ) -> i64;
}

/// `n` eventfd write(1)+read pairs on `fd`; the sum read, `None` on error.
pub(crate) fn eventfd_pairs(fd: BorrowedFd<'_>, n: u64) -> Option<u64> {
    // SAFETY: `fd` is open for the whole call (borrowed); n is a count.
    let sum = unsafe { butter_c_eventfd_pairs(fd.as_raw_fd(), n) };
    (sum != u64::MAX).then_some(sum)
}

/// `n` blocking eventfd round trips between two threads; `false` on error.
pub(crate) fn eventfd_pingpong(n: u64) -> bool {
    // SAFETY: integer argument; the C code owns and closes its own fds.
    unsafe { butter_c_eventfd_pingpong(n) == 0 }
}

/// What a periodic timer run saw.
#[derive(Debug, Default)]
pub(crate) struct TimerRun {
    /// Lateness of the newest expiry at each read, in ns.
    pub(crate) lateness_ns: Vec<i64>,
    /// Sum of the expiration counts read.
    pub(crate) expirations: u64,
    /// Expirations due just before and just after the last read.
    pub(crate) due: (u64, u64),
}

/// The C periodic-timer run: `period` for `total`, as
/// `timerfd::timer_run_ours` does in Rust.
pub(crate) fn timerfd_run(period_ns: u64, total_ns: u64) -> Option<TimerRun> {
    let cap = usize::try_from(total_ns / period_ns * 2 + 16).ok()?;
    let mut run = TimerRun {
        lateness_ns: vec![0; cap],
        ..TimerRun::default()
    };
    let (mut before, mut after) = (0, 0);
    // SAFETY: `lateness_ns` holds `cap` i64s; the three out-pointers are
    // locals that outlive the call; the C code writes at most `cap` samples.
    let n = unsafe {
        butter_c_timerfd_run(
            period_ns,
            total_ns,
            run.lateness_ns.as_mut_ptr(),
            cap,
            &mut run.expirations,
            &mut before,
            &mut after,
        )
    };
    run.lateness_ns.truncate(usize::try_from(n).ok()?);
    run.due = (before, after);
    Some(run)
}

unsafe extern "C" {
    fn butter_c_signal_kill_read(signo: i32, n: u64) -> i32;
    fn butter_c_signal_batch_read(signo: i32, n: u64) -> u64;
}

/// `n` kill(getpid, signo) + signalfd read pairs; `signo` must be blocked.
pub(crate) fn signal_kill_read(signo: i32, n: u64) -> bool {
    // SAFETY: integer arguments; the C code owns and closes its signalfd.
    unsafe { butter_c_signal_kill_read(signo, n) == 0 }
}

/// Reads `n` queued `signo` records in batches of 256; the sum of their
/// values, `None` on error.
pub(crate) fn signal_batch_read(signo: i32, n: u64) -> Option<u64> {
    // SAFETY: integer arguments; the C code reads into its own buffer.
    let sum = unsafe { butter_c_signal_batch_read(signo, n) };
    (sum != u64::MAX).then_some(sum)
}

unsafe extern "C" {
    fn butter_c_inotify_read(fd: i32, want: u64) -> u64;
}

/// Reads `want` events from the inotify `fd` with a 64 KiB buffer.
pub(crate) fn inotify_read(fd: BorrowedFd<'_>, want: u64) -> Option<u64> {
    // SAFETY: `fd` stays open across the call; the C code reads into its own buffer.
    let seen = unsafe { butter_c_inotify_read(fd.as_raw_fd(), want) };
    (seen != u64::MAX).then_some(seen)
}

unsafe extern "C" {
    fn butter_c_splice_copy(fd_in: i32, fd_out: i32, len: u64, direct: i32) -> u64;
}

/// Copies `len` bytes with a C splice loop (direct, or through a 1 MiB pipe).
pub(crate) fn splice_copy(
    fd_in: BorrowedFd<'_>,
    fd_out: BorrowedFd<'_>,
    len: u64,
    direct: bool,
) -> Option<u64> {
    // SAFETY: both fds stay open across the call; integer arguments.
    let n = unsafe {
        butter_c_splice_copy(
            fd_in.as_raw_fd(),
            fd_out.as_raw_fd(),
            len,
            i32::from(direct),
        )
    };
    (n != u64::MAX).then_some(n)
}

unsafe extern "C" {
    fn butter_c_fanotify_read(fd: i32, want: u64) -> u64;
}

/// Reads `want` fanotify events with a 64 KiB buffer, closing their fds.
pub(crate) fn fanotify_read(fd: BorrowedFd<'_>, want: u64) -> Option<u64> {
    // SAFETY: `fd` stays open across the call; the C code closes only the
    // event fds the kernel created for it in that read.
    let n = unsafe { butter_c_fanotify_read(fd.as_raw_fd(), want) };
    (n != u64::MAX).then_some(n)
}

unsafe extern "C" {
    fn butter_c_getpid_loop(n: u64) -> u64;
    fn butter_c_posix_spawn_wait(path: *const std::ffi::c_char, n: u64) -> i32;
    fn butter_c_clone_ns_wait(path: *const std::ffi::c_char, n: u64) -> i32;
}

/// `n` raw `getpid` syscalls; their sum.
pub(crate) fn getpid_loop(n: u64) -> u64 {
    // SAFETY: integer argument.
    unsafe { butter_c_getpid_loop(n) }
}

/// `n` times `posix_spawn` of `path` and `waitpid`; `false` on error.
pub(crate) fn posix_spawn_wait(path: &std::ffi::CStr, n: u64) -> bool {
    // SAFETY: a NUL-terminated path alive for the call.
    unsafe { butter_c_posix_spawn_wait(path.as_ptr(), n) == 0 }
}

/// `n` times a raw clone into new user, mount, pid, uts and ipc namespaces
/// that execs `path`, and `waitpid`; `false` on error.
pub(crate) fn clone_ns_wait(path: &std::ffi::CStr, n: u64) -> bool {
    // SAFETY: a NUL-terminated path alive for the call; the child only
    // calls execve and _exit.
    unsafe { butter_c_clone_ns_wait(path.as_ptr(), n) == 0 }
}

unsafe extern "C" {
    fn butter_c_aio_read(
        fd: i32,
        bs: u64,
        depth: u32,
        n: u64,
        blocks: u64,
        per_submit: u32,
        seq: u32,
        wall_ns: *mut u64,
        cpu_ns: *mut u64,
    ) -> i64;
}

/// `n` `bs`-byte reads of `fd` (O_DIRECT), random or sequential (`seq`)
/// over its first `blocks` blocks, with `depth` in flight, by raw
/// `io_submit`/`io_getevents`: the loop's wall and CPU time (setting up and
/// tearing down the context are not in them); `None` on error.
pub(crate) fn aio_read(
    fd: BorrowedFd<'_>,
    bs: u64,
    depth: u32,
    n: u64,
    blocks: u64,
    per_submit: u32,
    seq: bool,
) -> Option<(Duration, Duration)> {
    let (mut wall, mut cpu) = (0u64, 0u64);
    // SAFETY: `fd` is open for the call; the C code owns its context and
    // buffers and destroys the context before returning; it writes the two
    // times into the locals.
    let done = unsafe {
        butter_c_aio_read(
            fd.as_raw_fd(),
            bs,
            depth,
            n,
            blocks,
            per_submit,
            u32::from(seq),
            &raw mut wall,
            &raw mut cpu,
        )
    };
    (done == i64::try_from(n).ok()?)
        .then(|| (Duration::from_nanos(wall), Duration::from_nanos(cpu)))
}

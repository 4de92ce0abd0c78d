//! The user-notification listener: a supervisor's end of `USER_NOTIF`.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};

use fd_core::{Error, ErrorKind, EventSource, Result, SyscallResult};
use rustix::fs::{Mode, OFlags};

use crate::arch::Arch;
use crate::raw::{self, NotifSizes};
use crate::sim::SeccompData;
use crate::sys;

/// One notified syscall, waiting for the supervisor's answer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Notification {
    /// The kernel's cookie for this call: every answer names it.
    pub id: u64,
    /// The calling thread, as the listener's pid namespace sees it (0 if
    /// it is not visible there).
    pub pid: u32,
    /// The kernel's flags (none defined yet).
    pub flags: u32,
    /// The call: number, architecture, instruction pointer, arguments.
    pub data: SeccompData,
}

impl Notification {
    /// The architecture of the call.
    pub fn arch(&self) -> Option<Arch> {
        Arch::of_call(self.data.arch, self.data.nr)
    }

    /// The syscall's name, if the architecture's table has it.
    pub fn syscall_name(&self) -> Option<&'static str> {
        self.arch()?.syscall_name(self.data.nr)
    }
}

/// The supervisor's answer to a [`Notification`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Response {
    /// The call returns this value without running.
    Value(i64),
    /// The call fails with this errno (positive, 1 to 4095) without running.
    Errno(i32),
    /// The call runs as if the filter had allowed it
    /// (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`, 5.5). Not a security
    /// decision: the target may have changed the memory its arguments
    /// point to since the supervisor read it.
    Continue,
}

/// How [`Listener::add_fd`] installs an fd in the target.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct AddFd {
    at: Option<u32>,
    cloexec: bool,
    send: bool,
}

impl AddFd {
    /// At the lowest free number, without close-on-exec.
    pub fn new() -> AddFd {
        AddFd::default()
    }

    /// At exactly this number, replacing what is there (`ADDFD_FLAG_SETFD`).
    pub fn at(mut self, fd: u32) -> AddFd {
        self.at = Some(fd);
        self
    }

    /// With close-on-exec in the target.
    pub fn cloexec(mut self) -> AddFd {
        self.cloexec = true;
        self
    }

    /// Also answers the notification, atomically, with the new fd's
    /// number as the call's return value (`ADDFD_FLAG_SEND`, 5.14): the
    /// way to emulate `open`, `accept` or `socket`.
    pub fn send(mut self) -> AddFd {
        self.send = true;
        self
    }
}

/// A user-notification listener: the fd `SECCOMP_FILTER_FLAG_NEW_LISTENER`
/// returns, receiving the calls its filter answers with `USER_NOTIF`.
///
/// The calling thread waits in the kernel until [`respond`](Listener::respond)
/// answers (or it is interrupted, or the listener is closed: then the call
/// fails with `ENOSYS`). Readable in `poll`/`epoll` while a notification
/// waits; hangs up when every process the filter covers has exited.
///
/// **Why check [`id_valid`](Listener::id_valid).** A notification names
/// its caller by pid. Between reading it and looking at the caller
/// (`/proc/PID/mem`, its fds, its cwd), the caller can be killed and the
/// pid reused by another process, so what was read may belong to a
/// stranger. Once the id is still valid *after* the look, the caller was
/// still waiting during it, and the pid still named it. [`read_memory`]
/// and [`read_cstr`](Listener::read_cstr) make that check themselves.
///
/// [`read_memory`]: Listener::read_memory
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
    sizes: NotifSizes,
    /// The buffer length (in u64) for either struct: the larger of the
    /// kernel's and ours.
    words: usize,
}

/// `SECCOMP_USER_NOTIF_FLAG_CONTINUE` as the response's `u32` field.
const CONTINUE_FLAG: u32 = 1;
/// `SECCOMP_ADDFD_FLAG_SETFD` and `_SEND` as the request's `u32` field.
const SETFD_FLAG: u32 = 1;
const SEND_FLAG: u32 = 2;

/// Buffers up to this many words live on the stack.
const STACK_WORDS: usize = 32;

/// Runs `f` with a zeroed buffer of at least `words` u64s, on the stack
/// unless a future kernel's structs outgrow it.
fn with_buf<T>(words: usize, f: impl FnOnce(&mut [u64]) -> T) -> T {
    if words <= STACK_WORDS {
        let mut buf = [0u64; STACK_WORDS];
        f(&mut buf[..words])
    } else {
        f(&mut sys::zeroed(words * 8))
    }
}

fd_core::impl_owned_fd!(Listener, fd);

impl Listener {
    /// Adopts a listener fd (from a `seccomp` call made elsewhere, or
    /// received from a child), asking the kernel for its struct sizes.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput) if
    /// `fd` is not a seccomp listener, naming what it is; the kernel's,
    /// from `SECCOMP_GET_NOTIF_SIZES` (before 5.0).
    pub fn from_fd(fd: OwnedFd) -> Result<Listener> {
        fd_core::expect_anon_inode(&fd, "Listener::from_fd", "seccomp notify")?;
        let sizes = raw::seccomp_get_notif_sizes()?;
        let len = sizes
            .notif
            .max(sizes.resp)
            .max(sys::NOTIF_SIZE)
            .max(sys::RESP_SIZE);
        Ok(Listener {
            fd,
            sizes,
            words: len.div_ceil(8),
        })
    }

    /// The kernel's struct sizes this listener uses.
    pub fn sizes(&self) -> NotifSizes {
        self.sizes
    }

    /// Waits for and receives the next notification.
    ///
    /// A notification whose caller was interrupted before it was received
    /// is skipped. In non-blocking mode, returns `WouldBlock` when none
    /// waits (the kernel's ioctl always blocks, so readiness is checked
    /// first; keep one reader per listener).
    ///
    /// # Errors
    /// `WouldBlock` as above; `NotFound` once every task under the filter
    /// has exited (nothing can come any more); `Interrupted` on a signal;
    /// the kernel's.
    pub fn recv(&self) -> Result<Notification> {
        let nonblocking = fd_core::is_nonblocking(&self.fd)?;
        loop {
            // Readiness first, in both modes: the ioctl blocks even on a
            // non-blocking fd, and forever once the filter's last task has
            // exited (the listener then polls as hung up).
            match self.readiness(nonblocking)? {
                Ready::Notification => {}
                Ready::Nothing => {
                    return Err(Error::from_errno(
                        "ioctl(SECCOMP_IOCTL_NOTIF_RECV)",
                        libc::EAGAIN,
                    ));
                }
                Ready::HungUp => {
                    return Err(
                        Error::from_errno("ioctl(SECCOMP_IOCTL_NOTIF_RECV)", libc::ENOENT)
                            .with_kind(ErrorKind::NotFound)
                            .with_detail(ORPHANED),
                    );
                }
            }
            match with_buf(self.words, |buf| sys::notif_recv(self.fd.as_fd(), buf)) {
                Ok(n) => {
                    return Ok(Notification {
                        id: n.id,
                        pid: n.pid,
                        flags: n.flags,
                        data: SeccompData {
                            #[allow(clippy::cast_sign_loss)]
                            nr: n.data.nr as u32,
                            arch: n.data.arch,
                            instruction_pointer: n.data.instruction_pointer,
                            args: n.data.args,
                        },
                    });
                }
                // The caller went away between wake-up and receipt (the
                // readiness check then tells whether any task is left).
                Err(e) if e.errno() == libc::ENOENT => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Answers notification `id`.
    ///
    /// # Errors
    /// `NotFound` (named) if the caller is gone: killed, or interrupted by
    /// a signal and restarting the call (it will be notified again);
    /// `InvalidInput` for an errno outside 1..=4095; `EINVAL` from kernels
    /// before 5.5 for [`Response::Continue`].
    pub fn respond(&self, id: u64, response: Response) -> Result<()> {
        let (val, error, flags) = match response {
            Response::Value(v) => (v, 0, 0),
            Response::Errno(e) if (1..=4095).contains(&e) => (0, -e, 0),
            Response::Errno(e) => {
                return Err(Error::invalid_input(
                    "seccomp",
                    format!("errno {e}: an answer's errno must be 1 to 4095"),
                ));
            }
            Response::Continue => (0, 0, CONTINUE_FLAG),
        };
        let resp = libc::seccomp_notif_resp {
            id,
            val,
            error,
            flags,
        };
        with_buf(self.words, |buf| {
            sys::notif_send(self.fd.as_fd(), buf, resp)
        })
        .map_err(|e| gone(e, id))
    }

    /// Whether notification `id` still waits for an answer: its caller is
    /// alive and still in the call.
    ///
    /// # Errors
    /// The kernel's, other than "no".
    pub fn id_valid(&self, id: u64) -> Result<bool> {
        sys::notif_id_valid(self.fd.as_fd(), id)
    }

    /// Installs a duplicate of `fd` in the caller of notification `id`
    /// (5.9), returning its number there.
    ///
    /// # Errors
    /// `NotFound` if the caller is gone; `EBUSY` with
    /// [`AddFd::send`] if the notification was already answered; the
    /// kernel's (`EMFILE` in the target, …).
    pub fn add_fd(&self, id: u64, fd: impl AsFd, how: AddFd) -> Result<i32> {
        let mut flags = 0u32;
        if how.at.is_some() {
            flags |= SETFD_FLAG;
        }
        if how.send {
            flags |= SEND_FLAG;
        }
        let srcfd = std::os::fd::AsRawFd::as_raw_fd(&fd.as_fd());
        let addfd = libc::seccomp_notif_addfd {
            id,
            flags,
            #[allow(clippy::cast_sign_loss)]
            srcfd: srcfd as u32,
            newfd: how.at.unwrap_or(0),
            newfd_flags: if how.cloexec {
                libc::O_CLOEXEC as u32
            } else {
                0
            },
        };
        sys::notif_addfd(self.fd.as_fd(), &addfd).map_err(|e| gone(e, id))
    }

    /// Reads the caller's memory at `addr` into `buf`, then checks that
    /// the notification is still valid, so that what was read is the
    /// caller's (see the type's docs). Returns how many bytes were read
    /// (fewer at the end of a mapping).
    ///
    /// # Errors
    /// `NotFound` if the caller is gone (before or after the read);
    /// `EIO`/`EFAULT` for an address the caller has not mapped;
    /// `PermissionDenied` if this process may not ptrace the caller.
    pub fn read_memory(&self, n: &Notification, addr: u64, buf: &mut [u8]) -> Result<usize> {
        let mem = self.open_memory(n)?;
        let got = read_at(&mem, addr, buf)?;
        self.still_valid(n)?;
        Ok(got)
    }

    /// Reads a NUL-terminated string (a path argument) of at most `max`
    /// bytes from the caller's memory, checking validity after the read.
    ///
    /// # Errors
    /// As [`read_memory`](Listener::read_memory); `InvalidInput` if no NUL
    /// comes within `max` bytes.
    pub fn read_cstr(&self, n: &Notification, addr: u64, max: usize) -> Result<CString> {
        let mem = self.open_memory(n)?;
        let mut out = Vec::new();
        let mut chunk = [0u8; 256];
        let mut at = addr;
        while out.len() < max {
            // Never read across a page boundary in one go: the next page
            // may be unmapped while the string ends before it.
            let to_page = 4096 - (at % 4096) as usize;
            let want = chunk.len().min(to_page).min(max - out.len());
            let got = read_at(&mem, at, &mut chunk[..want])?;
            if got == 0 {
                return Err(Error::from_errno("pread(/proc/PID/mem)", libc::EFAULT)
                    .with_detail(format!("the string at {addr:#x} runs into unmapped memory")));
            }
            if let Some(end) = chunk[..got].iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..end]);
                self.still_valid(n)?;
                return CString::new(out)
                    .map_err(|_| Error::invalid_input("seccomp", "interior NUL"));
            }
            out.extend_from_slice(&chunk[..got]);
            at += got as u64;
        }
        Err(Error::invalid_input(
            "seccomp",
            format!("no NUL within {max} bytes at {addr:#x}"),
        ))
    }

    fn open_memory(&self, n: &Notification) -> Result<OwnedFd> {
        let path = format!("/proc/{}/mem", n.pid);
        let mem = rustix::fs::open(
            path.as_str(),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            Error::from_errno("open(/proc/PID/mem)", e.raw_os_error()).with_detail(path.clone())
        });
        // Valid after the open: the pid named the caller while we opened it.
        self.still_valid(n)?;
        mem
    }

    fn still_valid(&self, n: &Notification) -> Result<()> {
        if self.id_valid(n.id)? {
            Ok(())
        } else {
            Err(gone(
                Error::from_errno("ioctl(SECCOMP_IOCTL_NOTIF_ID_VALID)", libc::ENOENT),
                n.id,
            ))
        }
    }

    /// What the listener's readiness says, now (`nonblocking`) or once
    /// something happens.
    fn readiness(&self, nonblocking: bool) -> Result<Ready> {
        use rustix::event::{PollFd, PollFlags};
        let zero = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
        // A signal ends a blocking wait with `Interrupted`, as the ioctl's did.
        rustix::event::poll(&mut fds, nonblocking.then_some(&zero)).syscall("poll")?;
        let revents = fds[0].revents();
        Ok(if revents.contains(PollFlags::IN) {
            Ready::Notification
        } else if revents.contains(PollFlags::HUP) {
            Ready::HungUp
        } else {
            Ready::Nothing
        })
    }

    /// Another handle on the same listener (`F_DUPFD_CLOEXEC`): two
    /// threads can each `recv` with their own; the blocking mode is
    /// shared.
    ///
    /// # Errors
    /// [`ErrorKind::ResourceLimit`](fd_core::ErrorKind::ResourceLimit)
    /// (`EMFILE`) when out of fds.
    pub fn try_clone(&self) -> Result<Listener> {
        Ok(Listener {
            fd: fd_core::dup_cloexec(&self.fd)?,
            sizes: self.sizes,
            words: self.words,
        })
    }

    /// Sets or clears non-blocking mode for [`recv`](Listener::recv).
    ///
    /// # Errors
    /// The kernel's.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        fd_core::set_nonblocking(&self.fd, nonblocking)
    }
}

fn read_at(mem: &OwnedFd, addr: u64, buf: &mut [u8]) -> Result<usize> {
    loop {
        match rustix::io::pread(mem, &mut *buf, addr) {
            Ok(n) => return Ok(n),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                return Err(Error::from_errno("pread(/proc/PID/mem)", e.raw_os_error())
                    .with_detail(format!("address {addr:#x}")));
            }
        }
    }
}

/// The detail of [`Listener::recv`]'s error once no task is left.
const ORPHANED: &str = "the filter has no tasks left (every thread and process under it has exited): no notification will come";

/// A listener's readiness.
enum Ready {
    Notification,
    Nothing,
    HungUp,
}

fn gone(e: Error, id: u64) -> Error {
    if e.errno() == libc::ENOENT {
        e.with_kind(ErrorKind::NotFound).with_detail(format!(
            "notification {id:#x}: its caller is gone (killed, or interrupted by a signal; an interrupted call is notified again)"
        ))
    } else {
        e
    }
}

impl EventSource for Listener {
    type Event = Notification;

    fn read_event(&self) -> Result<Notification> {
        self.recv()
    }
}

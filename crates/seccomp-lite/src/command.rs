//! Running a program under a filter with `std::process::Command`.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::Command;
use std::sync::Arc;

use fd_core::{Error, Result};
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};

use crate::action::Action;
use crate::arch::Arch;
use crate::bpf::Insn;
use crate::notify::Listener;
use crate::program::Program;
use crate::sys;

/// Filters for programs started with `std::process::Command`.
///
/// The filter is installed in the child just before `execve`, with
/// `no_new_privs`, so it must allow `execve` itself (and, when the program
/// is found through `PATH`, every attempt std makes). Nothing is
/// allocated after the fork.
pub trait SeccompCommandExt {
    /// Installs `program` in the child before it executes.
    fn seccomp(&mut self, program: &Program) -> &mut Self;

    /// Installs `program` with a listener and sends the listener to the
    /// parent through `sender`; the parent takes it with
    /// [`HandoffReceiver::receive`].
    ///
    /// `spawn` returns only once the child has executed the program, so if
    /// the filter notifies `execve`, receive on another thread (and answer
    /// there) before spawning. Drop the `Command` after `spawn`, so that
    /// `receive` sees the end of the socket if the child fails before
    /// sending.
    ///
    /// # Errors
    /// `InvalidInput` if the filter would notify the `sendmsg` that hands
    /// the listener over (that call would wait for a listener nobody has
    /// yet): exclude the handoff's fd from such a rule, as
    /// `Arg::i32(0).not_equal(sender fd)`.
    fn seccomp_listener(&mut self, program: &Program, sender: HandoffSender) -> Result<&mut Self>;
}

impl SeccompCommandExt for Command {
    fn seccomp(&mut self, program: &Program) -> &mut Self {
        let insns: Arc<[Insn]> = program.instructions().into();
        sys::pre_exec(self, move || {
            rustix::thread::set_no_new_privs(true)?;
            let ret = sys::set_mode_filter_raw(0, &insns);
            if ret < 0 {
                return Err(std::io::Error::from_raw_os_error(
                    i32::try_from(-ret).unwrap_or(libc::EINVAL),
                ));
            }
            Ok(())
        });
        self
    }

    fn seccomp_listener(&mut self, program: &Program, sender: HandoffSender) -> Result<&mut Self> {
        let fd = sender.fd.as_raw_fd();
        #[allow(clippy::cast_sign_loss)]
        let args = [fd as u64, 0, 0, 0, 0, 0];
        let notifies_handoff = Arch::native()
            .and_then(|a| Some(program.simulate(a, a.syscall("sendmsg")?, args)))
            == Some(Action::UserNotif);
        if notifies_handoff {
            return Err(Error::invalid_input(
                "seccomp",
                format!(
                    "the filter notifies sendmsg on fd {fd}, the call that hands the listener over, which would wait forever: exclude it (Arg::i32(0).not_equal({fd}))"
                ),
            ));
        }
        let insns: Arc<[Insn]> = program.instructions().into();
        sys::pre_exec(self, move || {
            rustix::thread::set_no_new_privs(true)?;
            let listener = sys::set_mode_filter_listener(&insns)?;
            // Closed in this child after the handoff; the parent holds its copy.
            send_fd(sender.fd.as_fd(), listener.as_fd())
        });
        Ok(self)
    }
}

fn send_fd(
    sock: rustix::fd::BorrowedFd<'_>,
    fd: rustix::fd::BorrowedFd<'_>,
) -> std::io::Result<()> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut ancillary = SendAncillaryBuffer::new(&mut space);
    let fds = [fd];
    ancillary.push(SendAncillaryMessage::ScmRights(&fds));
    rustix::net::sendmsg(
        sock,
        &[IoSlice::new(b"L")],
        &mut ancillary,
        SendFlags::NOSIGNAL,
    )?;
    Ok(())
}

/// The child's end of a listener handoff (a close-on-exec socket).
#[derive(Debug)]
pub struct HandoffSender {
    fd: OwnedFd,
}

/// The parent's end of a listener handoff.
#[derive(Debug)]
pub struct HandoffReceiver {
    fd: OwnedFd,
}

fd_core::impl_owned_fd!(HandoffSender, fd);
fd_core::impl_owned_fd!(HandoffReceiver, fd);

/// A socket pair to hand a listener from a child to its parent.
///
/// # Errors
/// The kernel's (`EMFILE`).
pub fn handoff() -> Result<(HandoffSender, HandoffReceiver)> {
    let (a, b) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| Error::from_errno("socketpair", e.raw_os_error()))?;
    Ok((HandoffSender { fd: a }, HandoffReceiver { fd: b }))
}

impl HandoffReceiver {
    /// Waits for the listener the child sends.
    ///
    /// # Errors
    /// `NotFound` if every copy of the sender closed without sending (the
    /// child failed before loading, or exited); the kernel's.
    pub fn receive(&self) -> Result<Listener> {
        let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut ancillary = RecvAncillaryBuffer::new(&mut space);
        let mut byte = [0u8; 1];
        let msg = loop {
            match rustix::net::recvmsg(
                &self.fd,
                &mut [IoSliceMut::new(&mut byte)],
                &mut ancillary,
                RecvFlags::CMSG_CLOEXEC,
            ) {
                Ok(m) => break m,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(Error::from_errno("recvmsg", e.raw_os_error())),
            }
        };
        let mut received: Option<OwnedFd> = None;
        for message in ancillary.drain() {
            if let RecvAncillaryMessage::ScmRights(fds) = message {
                for fd in fds {
                    received.get_or_insert(fd);
                }
            }
        }
        match received {
            Some(fd) => Listener::from_fd(fd),
            None if msg.bytes == 0 => Err(Error::from_errno("recvmsg", libc::ENOENT).with_detail(
                "the child closed the handoff without sending a listener (it failed before loading its filter, or exited)",
            )),
            None => Err(Error::invalid_input("seccomp", "the handoff message carried no fd")),
        }
    }
}

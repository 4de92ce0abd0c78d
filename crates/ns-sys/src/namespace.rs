//! Namespace file descriptors: open, identify, compare, join.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use fd_core::{Error, ErrorKind, Result, SyscallResult};
use rustix::fs::{Mode, OFlags};

use crate::raw::{Namespace, setns};
use crate::sys;

/// The identity of a namespace: the device and inode of its nsfs file, as
/// `lsns` and `ls -L /proc/PID/ns` show them. Two processes share a
/// namespace exactly when these are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NsId {
    /// The nsfs device.
    pub dev: u64,
    /// The inode number (`4026531836`, …).
    pub ino: u64,
}

impl fmt::Display for NsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.ino)
    }
}

/// An open namespace (`/proc/PID/ns/KIND`, or from a pidfd): joinable with
/// [`enter`](NsFd::enter), comparable by [`id`](NsFd::id), and it keeps
/// the namespace alive while open.
pub struct NsFd {
    fd: OwnedFd,
    kind: Namespace,
}

fn proc_ns(pid: Option<u32>, kind: Namespace) -> PathBuf {
    match pid {
        Some(pid) => PathBuf::from(format!("/proc/{pid}/ns/{}", kind.name())),
        None => PathBuf::from(format!("/proc/self/ns/{}", kind.name())),
    }
}

impl NsFd {
    /// Opens `/proc/PID/ns/KIND`.
    ///
    /// # Errors
    /// - [`ErrorKind::NotFound`] (`ENOENT`): no such process, or a kind
    ///   this kernel lacks.
    /// - [`ErrorKind::PermissionDenied`] (`EACCES`): another user's process
    ///   without `CAP_SYS_PTRACE`.
    pub fn open(pid: u32, kind: Namespace) -> Result<NsFd> {
        NsFd::open_path(proc_ns(Some(pid), kind), Some(kind))
    }

    /// Opens the caller's own namespace of `kind`.
    ///
    /// # Errors
    /// As [`NsFd::open`].
    pub fn open_self(kind: Namespace) -> Result<NsFd> {
        NsFd::open_path(proc_ns(None, kind), Some(kind))
    }

    /// Opens a namespace file anywhere (a bind-mounted one, as `ip netns`
    /// keeps them), learning its kind from the kernel (`NS_GET_NSTYPE`);
    /// with `expect`, refuses another kind.
    ///
    /// # Errors
    /// - [`ErrorKind::InvalidInput`]: not a namespace file (`ENOTTY` from
    ///   the ioctl), or of another kind than `expect`.
    /// - As [`NsFd::open`].
    pub fn open_path(path: impl AsRef<Path>, expect: Option<Namespace>) -> Result<NsFd> {
        let path = path.as_ref();
        let with_path = |e: Error| {
            let detail = match e.detail() {
                Some(d) => format!("{}: {d}", path.display()),
                None => path.display().to_string(),
            };
            e.with_detail(detail)
        };
        let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .syscall("open")
            .map_err(with_path)?;
        NsFd::from_fd(fd, expect).map_err(with_path)
    }

    /// Takes an fd that must refer to a namespace; its kind comes from the
    /// kernel (`NS_GET_NSTYPE`), and with `expect` must be that one.
    ///
    /// # Errors
    /// As [`NsFd::open_path`].
    pub fn from_fd(fd: OwnedFd, expect: Option<Namespace>) -> Result<NsFd> {
        let flag = sys::ns_get_nstype(fd.as_fd()).map_err(|e| {
            if e.errno() == libc::ENOTTY {
                let what = fd_core::fd_kind(&fd)
                    .map_or_else(|_| "not open".into(), |k| k.to_string_lossy().into_owned());
                Error::invalid_input_in(
                    "NsFd::from_fd",
                    "ioctl(NS_GET_NSTYPE)",
                    format!("fd {} is {what}, not a namespace file", fd.as_raw_fd()),
                )
            } else {
                e
            }
        })?;
        let kind = Namespace::from_flag(flag).ok_or_else(|| {
            Error::invalid_input_in(
                "NsFd::from_fd",
                "ioctl(NS_GET_NSTYPE)",
                format!("unknown namespace type {flag:#x}"),
            )
        })?;
        if let Some(want) = expect
            && want != kind
        {
            return Err(Error::invalid_input_in(
                "NsFd::from_fd",
                "ioctl(NS_GET_NSTYPE)",
                format!("a {kind} namespace where a {want} namespace was expected"),
            ));
        }
        Ok(NsFd { fd, kind })
    }

    /// The namespace of `kind` of the process `pidfd` refers to
    /// (`PIDFD_GET_<KIND>_NAMESPACE`, Linux 6.11): no pid-reuse race, and
    /// no `/proc` needed.
    ///
    /// # Errors
    /// - [`ErrorKind::Unsupported`]: before 6.11 (`ENOTTY`); open
    ///   `/proc/PID/ns` after checking the pidfd still refers to the
    ///   process, as [`enter`](crate::Enter) does.
    /// - [`ErrorKind::NotFound`] (`ESRCH`): the process has exited.
    /// - [`ErrorKind::PermissionDenied`]: not allowed to inspect it.
    pub fn from_pidfd(pidfd: impl AsFd, kind: Namespace) -> Result<NsFd> {
        let request = sys::pidfd_ns_request(kind.flag().bits());
        let fd =
            sys::ioctl_fd("ioctl(PIDFD_GET_NAMESPACE)", pidfd.as_fd(), request).map_err(|e| {
                if e.errno() == libc::ENOTTY || e.errno() == libc::EINVAL {
                    e.with_kind(ErrorKind::Unsupported)
                        .with_detail("PIDFD_GET_*_NAMESPACE needs Linux 6.11")
                } else {
                    e
                }
            })?;
        Ok(NsFd { fd, kind })
    }

    /// Its kind.
    pub fn kind(&self) -> Namespace {
        self.kind
    }

    /// Its identity (`fstat`: device and inode).
    ///
    /// # Errors
    /// Only if `fstat` fails, which an open fd does not.
    pub fn id(&self) -> Result<NsId> {
        let st = rustix::fs::fstat(&self.fd).syscall("fstat")?;
        Ok(NsId {
            dev: st.st_dev,
            ino: st.st_ino,
        })
    }

    /// The user namespace that owns it (`NS_GET_USERNS`).
    ///
    /// # Errors
    /// [`ErrorKind::PermissionDenied`] (`EPERM`): the owner is outside the
    /// caller's user namespace (the caller cannot see above its own).
    pub fn user_ns(&self) -> Result<NsFd> {
        let fd = sys::ioctl_fd("ioctl(NS_GET_USERNS)", self.fd.as_fd(), sys::NS_GET_USERNS)?;
        Ok(NsFd {
            fd,
            kind: Namespace::User,
        })
    }

    /// The parent of a pid or user namespace (`NS_GET_PARENT`).
    ///
    /// # Errors
    /// - [`ErrorKind::InvalidInput`]: another kind (checked first; the
    ///   kernel says `EINVAL`).
    /// - [`ErrorKind::PermissionDenied`] (`EPERM`): the parent is outside
    ///   the caller's namespace, or this is the initial one.
    pub fn parent(&self) -> Result<NsFd> {
        if !matches!(self.kind, Namespace::Pid | Namespace::User) {
            return Err(Error::invalid_input(
                "ioctl(NS_GET_PARENT)",
                format!(
                    "only pid and user namespaces have parents, not {}",
                    self.kind
                ),
            ));
        }
        let fd = sys::ioctl_fd("ioctl(NS_GET_PARENT)", self.fd.as_fd(), sys::NS_GET_PARENT)?;
        Ok(NsFd {
            fd,
            kind: self.kind,
        })
    }

    /// The uid (in the caller's user namespace) of the user who created
    /// this user namespace (`NS_GET_OWNER_UID`).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`]: not a user namespace (checked first).
    pub fn owner_uid(&self) -> Result<u32> {
        if self.kind != Namespace::User {
            return Err(Error::invalid_input(
                "ioctl(NS_GET_OWNER_UID)",
                format!("only user namespaces have an owner uid, not {}", self.kind),
            ));
        }
        sys::ns_get_owner_uid(self.fd.as_fd())
    }

    /// Joins it: `setns(fd, kind)`.
    ///
    /// # Errors
    /// As [`setns`](crate::setns).
    pub fn enter(&self) -> Result<()> {
        setns(&self.fd, Some(self.kind))
    }

    /// Whether the caller is in this namespace.
    ///
    /// # Errors
    /// As [`NsFd::open_self`].
    pub fn is_current(&self) -> Result<bool> {
        Ok(NsFd::open_self(self.kind)?.id()? == self.id()?)
    }

    /// A second fd for the same namespace (`F_DUPFD_CLOEXEC`).
    ///
    /// # Errors
    /// [`ErrorKind::ResourceLimit`] when out of fds.
    pub fn try_clone(&self) -> Result<NsFd> {
        Ok(NsFd {
            fd: fd_core::dup_cloexec(&self.fd)?,
            kind: self.kind,
        })
    }
}

impl fmt::Debug for NsFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NsFd")
            .field("fd", &self.fd.as_raw_fd())
            .field("kind", &self.kind)
            .finish()
    }
}

fd_core::impl_owned_fd!(NsFd, fd);

/// One namespace of a process, as `butter ns` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsEntry {
    /// The kind.
    pub kind: Namespace,
    /// Its identity.
    pub id: NsId,
    /// Whether the caller is in it too.
    pub shared: bool,
}

/// Every namespace of process `pid` (the caller's with `None`) that this
/// kernel has, with whether the caller shares it: `lsns -p PID` for one
/// process.
///
/// # Errors
/// - [`ErrorKind::NotFound`]: no such process.
/// - [`ErrorKind::PermissionDenied`]: another user's process.
pub fn namespaces_of(pid: Option<u32>) -> Result<Vec<NsEntry>> {
    let mut out = Vec::new();
    for kind in Namespace::ALL {
        let theirs = match pid {
            Some(pid) => NsFd::open(pid, kind),
            None => NsFd::open_self(kind),
        };
        let theirs = match theirs {
            Ok(fd) => fd,
            // A kind this kernel lacks has no file.
            Err(e)
                if e.errno() == libc::ENOENT
                    && Path::new(&format!("/proc/self/ns/{}", kind.name()))
                        .symlink_metadata()
                        .is_err() =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        let id = theirs.id()?;
        let shared = NsFd::open_self(kind)?.id()? == id;
        out.push(NsEntry { kind, id, shared });
    }
    Ok(out)
}

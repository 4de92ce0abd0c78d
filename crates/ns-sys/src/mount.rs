//! The new mount API as owned types: a filesystem context ([`FsContext`],
//! from `fsopen` or `fspick`) and a mount object ([`MountFd`], from
//! `fsmount` or `open_tree`).

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use fd_core::Result;

use crate::raw::{
    FsConfig, FsMountFlags, FsOpenFlags, FsPickFlags, MountAttr, MountAttrFlags, MoveMountFlags,
    OpenTreeFlags, SetAttrFlags, fsconfig, fsmount, fsopen, fspick, mount_setattr, move_mount,
    open_tree,
};

/// A filesystem context: configure it, create the superblock, mount it.
///
/// A refused option's reason is in the context's log (`e`, `w` and `i`
/// lines the kernel queues on the fd); every error from a method here
/// carries it, so `fsconfig` failing with a bare `EINVAL` says
/// `tmpfs: Bad value for 'size'` instead.
///
/// ```no_run
/// use butter::ns::{FsContext, MountAttrFlags};
///
/// let tmpfs = FsContext::new("tmpfs")?;
/// tmpfs.set_string("size", "16m")?;
/// tmpfs.create()?;
/// let mount = tmpfs.mount(MountAttrFlags::NOSUID | MountAttrFlags::NODEV)?;
/// mount.attach("/mnt/scratch")?;
/// # Ok::<(), butter::ns::Error>(())
/// ```
pub struct FsContext {
    fd: OwnedFd,
}

impl FsContext {
    /// `fsopen(fstype)`: a new context.
    ///
    /// # Errors
    /// As [`fsopen`].
    pub fn new(fstype: &str) -> Result<FsContext> {
        Ok(FsContext {
            fd: fsopen(fstype, FsOpenFlags::empty())?,
        })
    }

    /// `fspick(path)`: a context on the superblock mounted at `path`, to
    /// [`reconfigure`](FsContext::reconfigure).
    ///
    /// # Errors
    /// As [`fspick`].
    pub fn pick(path: impl AsRef<Path>) -> Result<FsContext> {
        Ok(FsContext {
            fd: fspick(None, path, FsPickFlags::empty())?,
        })
    }

    /// Adopts a context fd made elsewhere (`fsopen`, `fspick`), checking
    /// that it is one.
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::InvalidInput`] if `fd` is not a filesystem
    /// context, naming what it is.
    pub fn from_fd(fd: OwnedFd) -> Result<FsContext> {
        fd_core::expect_anon_inode(&fd, "FsContext::from_fd", "[fscontext]")?;
        Ok(FsContext { fd })
    }

    /// The messages the kernel logged on the context, drained (one per
    /// line, as `e message`, `w message`, `i message`).
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        // Each read returns one message; the log holds at most 8. It is
        // empty when the read fails with ENODATA.
        for _ in 0..8 {
            match rustix::io::read(&self.fd, &mut buf) {
                Ok(n) if n > 0 => {
                    out.push(String::from_utf8_lossy(&buf[..n]).trim_end().to_owned());
                }
                _ => break,
            }
        }
        out
    }

    fn with_log<T>(&self, result: Result<T>) -> Result<T> {
        result.map_err(|e| {
            let log = self.messages();
            if log.is_empty() {
                e
            } else {
                e.with_detail(log.join("; "))
            }
        })
    }

    /// Runs one `fsconfig` command.
    ///
    /// # Errors
    /// As [`fsconfig`], with the kernel's log message.
    pub fn config(&self, command: FsConfig<'_>) -> Result<()> {
        self.with_log(fsconfig(&self.fd, command))
    }

    /// `FSCONFIG_SET_FLAG`.
    ///
    /// # Errors
    /// As [`FsContext::config`].
    pub fn set_flag(&self, key: &str) -> Result<()> {
        self.config(FsConfig::SetFlag(key))
    }

    /// `FSCONFIG_SET_STRING`.
    ///
    /// # Errors
    /// As [`FsContext::config`].
    pub fn set_string(&self, key: &str, value: &str) -> Result<()> {
        self.config(FsConfig::SetString(key, value))
    }

    /// `FSCONFIG_SET_PATH` relative to the current directory.
    ///
    /// # Errors
    /// As [`FsContext::config`].
    pub fn set_path(&self, key: &str, path: &Path) -> Result<()> {
        self.config(FsConfig::SetPath(key, None, path))
    }

    /// `FSCONFIG_SET_FD`.
    ///
    /// # Errors
    /// As [`FsContext::config`].
    pub fn set_fd(&self, key: &str, fd: BorrowedFd<'_>) -> Result<()> {
        self.config(FsConfig::SetFd(key, fd))
    }

    /// `FSCONFIG_CMD_CREATE`: creates (or finds) the superblock.
    ///
    /// # Errors
    /// As [`FsContext::config`].
    pub fn create(&self) -> Result<()> {
        self.config(FsConfig::Create)
    }

    /// `FSCONFIG_CMD_RECONFIGURE`: applies the options to a picked
    /// superblock.
    ///
    /// # Errors
    /// As [`FsContext::config`].
    pub fn reconfigure(&self) -> Result<()> {
        self.config(FsConfig::Reconfigure)
    }

    /// `fsmount`: a detached mount of the created superblock.
    ///
    /// # Errors
    /// As [`fsmount`], with the kernel's log message.
    pub fn mount(&self, attrs: MountAttrFlags) -> Result<MountFd> {
        let fd = self.with_log(fsmount(&self.fd, FsMountFlags::empty(), attrs))?;
        Ok(MountFd { fd })
    }
}

impl fmt::Debug for FsContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FsContext")
            .field("fd", &std::os::fd::AsRawFd::as_raw_fd(&self.fd))
            .finish()
    }
}

fd_core::impl_owned_fd!(FsContext, fd);

/// A mount object: detached (from [`FsContext::mount`] or
/// [`MountFd::clone_tree`]) until [`attach`](MountFd::attach)ed, or a
/// handle on an attached mount ([`MountFd::open`]). A detached mount that
/// is never attached is unmounted when the fd closes.
pub struct MountFd {
    fd: OwnedFd,
}

impl MountFd {
    /// `open_tree(path)`: a handle on the mount at `path`.
    ///
    /// # Errors
    /// As [`open_tree`].
    pub fn open(path: impl AsRef<Path>) -> Result<MountFd> {
        Ok(MountFd {
            fd: open_tree(None, path, OpenTreeFlags::empty())?,
        })
    }

    /// `open_tree(path, OPEN_TREE_CLONE [| AT_RECURSIVE])`: a detached copy
    /// of the mount at `path` (and of those below with `recursive`), to
    /// attach elsewhere or to idmap first.
    ///
    /// # Errors
    /// As [`open_tree`].
    pub fn clone_tree(path: impl AsRef<Path>, recursive: bool) -> Result<MountFd> {
        let mut flags = OpenTreeFlags::CLONE;
        if recursive {
            flags |= OpenTreeFlags::RECURSIVE;
        }
        Ok(MountFd {
            fd: open_tree(None, path, flags)?,
        })
    }

    /// Adopts a mount fd made elsewhere (`fsmount`, `open_tree`), checking
    /// that it is an `O_PATH` fd, as both calls make.
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::InvalidInput`] if `fd` is not an `O_PATH` fd,
    /// naming what it is.
    pub fn from_fd(fd: OwnedFd) -> Result<MountFd> {
        use std::os::fd::AsRawFd;
        let flags =
            fd_core::SyscallResult::syscall(rustix::fs::fcntl_getfl(&fd), "fcntl(F_GETFL)")?;
        if !flags.contains(rustix::fs::OFlags::PATH) {
            return Err(fd_core::Error::invalid_input_in(
                "MountFd::from_fd",
                "fcntl(F_GETFL)",
                format!(
                    "fd {} is {}, not an O_PATH fd from fsmount or open_tree",
                    fd.as_raw_fd(),
                    fd_core::fd_kind(&fd)?.to_string_lossy()
                ),
            ));
        }
        Ok(MountFd { fd })
    }

    /// `move_mount(fd, "", AT_FDCWD, target, F_EMPTY_PATH)`: attaches (or
    /// moves) the mount at `target`.
    ///
    /// # Errors
    /// As [`move_mount`].
    pub fn attach(&self, target: impl AsRef<Path>) -> Result<()> {
        move_mount(
            Some(self.fd.as_fd()),
            "",
            None,
            target,
            MoveMountFlags::F_EMPTY_PATH,
        )
    }

    /// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], attr)`.
    ///
    /// # Errors
    /// As [`mount_setattr`].
    pub fn set_attr(&self, attr: &MountAttr<'_>, recursive: bool) -> Result<()> {
        let mut flags = SetAttrFlags::EMPTY_PATH;
        if recursive {
            flags |= SetAttrFlags::RECURSIVE;
        }
        mount_setattr(Some(self.fd.as_fd()), "", flags, attr)
    }

    /// Maps the ids of this detached mount through the user namespace
    /// `userns` (`MOUNT_ATTR_IDMAP`): the namespace's map, read from inside
    /// to outside, applies to the ids on disk. With `0 1000 1`, a file
    /// owned by 0 on disk appears owned by 1000 through the mount (and
    /// files created through it as 1000 are stored as 0); ids without a
    /// mapping appear as the overflow id (65534).
    ///
    /// # Errors
    /// As [`mount_setattr`]: `EINVAL` for an attached mount or a user
    /// namespace without maps.
    pub fn idmap(&self, userns: BorrowedFd<'_>, recursive: bool) -> Result<()> {
        self.set_attr(
            &MountAttr {
                set: MountAttrFlags::IDMAP,
                userns: Some(userns),
                ..MountAttr::default()
            },
            recursive,
        )
        .map_err(|e| {
            if e.errno() == libc::EINVAL {
                e.with_detail(
                    "idmapping needs a detached mount (clone_tree), a filesystem that supports it, \
                     and a user namespace whose maps are written",
                )
            } else {
                e
            }
        })
    }
}

impl fmt::Debug for MountFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MountFd")
            .field("fd", &std::os::fd::AsRawFd::as_raw_fd(&self.fd))
            .finish()
    }
}

fd_core::impl_owned_fd!(MountFd, fd);

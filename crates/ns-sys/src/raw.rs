//! The raw layer: `unshare`, `setns`, `mount`, `umount2`, `pivot_root`, the
//! new mount API, host and domain names, raw pids; the kernel's flags as
//! `u32` bitflags.
// The C library types the kernel's flags as `c_ulong` or `c_int`; every
// value fits in 32 bits (the tests below check each against the original).
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use fd_core::{Error, Result, SyscallResult};

use crate::sys;

/// A path as a C string, or an error naming `call` if it holds a NUL byte.
pub(crate) fn c_path(call: &'static str, path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| c_refused(call, format!("the path {path:?} contains a NUL byte")))
}

/// A refusal by `api` (a Rust API name such as `Sandbox::spawn`, or a
/// system call's own name) of a string no system call can take.
fn c_refused(api: &'static str, why: String) -> Error {
    if api.contains("::") {
        Error::invalid_input_in(api, "clone3", why)
    } else {
        Error::invalid_input(api, why)
    }
}

/// A string as a C string, or an error naming `call` and `what`.
pub(crate) fn c_string(call: &'static str, what: &str, s: &[u8]) -> Result<CString> {
    CString::new(s).map_err(|_| {
        c_refused(
            call,
            format!(
                "the {what} {:?} contains a NUL byte",
                String::from_utf8_lossy(s)
            ),
        )
    })
}

/// A kind of namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Namespace {
    /// `CLONE_NEWUSER`: user and group ids, capabilities.
    User,
    /// `CLONE_NEWCGROUP`: the cgroup root.
    Cgroup,
    /// `CLONE_NEWIPC`: System V IPC, POSIX message queues.
    Ipc,
    /// `CLONE_NEWUTS`: host and domain name.
    Uts,
    /// `CLONE_NEWNET`: network devices, ports, routes.
    Net,
    /// `CLONE_NEWPID`: process ids (for children of the caller).
    Pid,
    /// `CLONE_NEWNS`: the mount table.
    Mnt,
    /// `CLONE_NEWTIME` (5.6): monotonic and boot-time clock offsets (for
    /// children of the caller).
    Time,
}

impl Namespace {
    /// Every kind, in the order `nsenter` joins them (user first).
    pub const ALL: [Namespace; 8] = [
        Namespace::User,
        Namespace::Cgroup,
        Namespace::Ipc,
        Namespace::Uts,
        Namespace::Net,
        Namespace::Pid,
        Namespace::Mnt,
        Namespace::Time,
    ];

    /// Its `CLONE_NEW*` flag.
    pub fn flag(self) -> Namespaces {
        match self {
            Namespace::User => Namespaces::USER,
            Namespace::Cgroup => Namespaces::CGROUP,
            Namespace::Ipc => Namespaces::IPC,
            Namespace::Uts => Namespaces::UTS,
            Namespace::Net => Namespaces::NET,
            Namespace::Pid => Namespaces::PID,
            Namespace::Mnt => Namespaces::MNT,
            Namespace::Time => Namespaces::TIME,
        }
    }

    /// Its name in `/proc/PID/ns/` (`user`, `cgroup`, `ipc`, `uts`, `net`,
    /// `pid`, `mnt`, `time`), which `lsns` and `nsenter` use too.
    pub fn name(self) -> &'static str {
        match self {
            Namespace::User => "user",
            Namespace::Cgroup => "cgroup",
            Namespace::Ipc => "ipc",
            Namespace::Uts => "uts",
            Namespace::Net => "net",
            Namespace::Pid => "pid",
            Namespace::Mnt => "mnt",
            Namespace::Time => "time",
        }
    }

    /// The kind whose `CLONE_NEW*` flag is `flag`.
    pub fn from_flag(flag: u32) -> Option<Namespace> {
        Namespace::ALL.into_iter().find(|n| n.flag().bits() == flag)
    }

    /// Whether joining it only affects children created afterwards (pid,
    /// time), so that `enter` must fork.
    pub fn applies_to_children(self) -> bool {
        matches!(self, Namespace::Pid | Namespace::Time)
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Namespace {
    type Err = Error;

    /// Parses `/proc/PID/ns` names, with `mount` and `network` accepted as
    /// `nsenter` accepts them.
    fn from_str(s: &str) -> Result<Namespace> {
        let alias = match s {
            "mount" => "mnt",
            "network" => "net",
            other => other,
        };
        Namespace::ALL
            .into_iter()
            .find(|n| n.name() == alias)
            .ok_or_else(|| {
                Error::invalid_input_in("Namespace::from_str", "unshare",
                    format!(
                        "unknown namespace {s:?}: expected one of user, cgroup, ipc, uts, net, pid, mnt, time"
                    ),
                )
            })
    }
}

bitflags::bitflags! {
    /// A set of namespaces as `CLONE_NEW*` flags.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Namespaces: u32 {
        /// `CLONE_NEWCGROUP`.
        const CGROUP = libc::CLONE_NEWCGROUP as u32;
        /// `CLONE_NEWIPC`.
        const IPC = libc::CLONE_NEWIPC as u32;
        /// `CLONE_NEWNS`.
        const MNT = libc::CLONE_NEWNS as u32;
        /// `CLONE_NEWNET`.
        const NET = libc::CLONE_NEWNET as u32;
        /// `CLONE_NEWPID`.
        const PID = libc::CLONE_NEWPID as u32;
        /// `CLONE_NEWTIME`.
        const TIME = libc::CLONE_NEWTIME as u32;
        /// `CLONE_NEWUSER`.
        const USER = libc::CLONE_NEWUSER as u32;
        /// `CLONE_NEWUTS`.
        const UTS = libc::CLONE_NEWUTS as u32;
    }
}

impl Namespaces {
    /// The kinds in the set, in [`Namespace::ALL`] order.
    pub fn kinds(self) -> impl Iterator<Item = Namespace> {
        Namespace::ALL
            .into_iter()
            .filter(move |n| self.contains(n.flag()))
    }
}

impl From<Namespace> for Namespaces {
    fn from(ns: Namespace) -> Namespaces {
        ns.flag()
    }
}

/// `unshare(flags)`: moves the calling thread into new namespaces.
///
/// A new pid or time namespace applies to the caller's children, not to the
/// caller. A new user or mount namespace needs a single-threaded process
/// (`EINVAL` otherwise): a multithreaded program uses
/// [`Sandbox`](crate::Sandbox), which does this in a new process.
///
/// # Errors
/// - [`ErrorKind::PermissionDenied`](fd_core::ErrorKind::PermissionDenied)
///   (`EPERM`): namespaces other than user need `CAP_SYS_ADMIN` (a new
///   user namespace gives it); user namespaces may be refused by policy.
/// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput)
///   (`EINVAL`): a user or mount namespace in a multithreaded process, or a
///   kind the kernel lacks.
/// - [`ErrorKind::ResourceLimit`](fd_core::ErrorKind::ResourceLimit)
///   (`ENOSPC`): `/proc/sys/user/max_*_namespaces` reached.
///
/// # References
/// - [`unshare(2)`](https://man7.org/linux/man-pages/man2/unshare.2.html)
pub fn unshare(namespaces: Namespaces) -> Result<()> {
    sys::unshare(namespaces.bits()).map_err(|e| explain_ns_error(e, "unshare"))
}

fn explain_ns_error(e: Error, call: &str) -> Error {
    match e.errno() {
        libc::EINVAL => e.with_detail(format!(
            "{call} of a user or mount namespace needs a single-threaded process, \
             and every kind must be known to this kernel"
        )),
        libc::EPERM => e.with_detail(
            "needs CAP_SYS_ADMIN over the namespaces (a new user namespace gives it), \
             or user namespaces are refused by policy",
        ),
        libc::ENOSPC => e.with_detail("a /proc/sys/user/max_*_namespaces limit was reached"),
        _ => e,
    }
}

/// `setns(fd, nstype)`: joins the namespace `fd` refers to. With a kind,
/// the kernel checks that `fd` is one (`EINVAL` otherwise).
///
/// # Errors
/// As [`setns_pidfd`].
///
/// # References
/// - [`setns(2)`](https://man7.org/linux/man-pages/man2/setns.2.html)
pub fn setns(fd: impl AsFd, kind: Option<Namespace>) -> Result<()> {
    let nstype = kind.map_or(0, |k| k.flag().bits());
    sys::setns(fd.as_fd(), nstype).map_err(|e| explain_ns_error(e, "setns"))
}

/// `setns(pidfd, flags)` (5.8): joins several namespaces of the process
/// `pidfd` refers to at once, atomically: all or none.
///
/// # Errors
/// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput): an
///   empty set (checked first); `EINVAL` from the kernel for a user or
///   mount namespace in a multithreaded process, or before 5.8.
/// - [`ErrorKind::PermissionDenied`](fd_core::ErrorKind::PermissionDenied)
///   (`EPERM`): not privileged over one of the namespaces.
/// - [`ErrorKind::NotFound`](fd_core::ErrorKind::NotFound) (`ESRCH`): the
///   process has exited.
pub fn setns_pidfd(pidfd: impl AsFd, namespaces: Namespaces) -> Result<()> {
    if namespaces.is_empty() {
        return Err(Error::invalid_input(
            "setns",
            "no namespace given: setns on a pidfd needs at least one CLONE_NEW* flag",
        ));
    }
    sys::setns(pidfd.as_fd(), namespaces.bits()).map_err(|e| explain_ns_error(e, "setns"))
}

bitflags::bitflags! {
    /// `mount(2)` flags: every `MS_*` the syscall takes.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct MountFlags: u32 {
        /// `MS_RDONLY`.
        const RDONLY = libc::MS_RDONLY as u32;
        /// `MS_NOSUID`.
        const NOSUID = libc::MS_NOSUID as u32;
        /// `MS_NODEV`.
        const NODEV = libc::MS_NODEV as u32;
        /// `MS_NOEXEC`.
        const NOEXEC = libc::MS_NOEXEC as u32;
        /// `MS_SYNCHRONOUS`.
        const SYNCHRONOUS = libc::MS_SYNCHRONOUS as u32;
        /// `MS_REMOUNT`: change the flags of an existing mount.
        const REMOUNT = libc::MS_REMOUNT as u32;
        /// `MS_MANDLOCK`.
        const MANDLOCK = libc::MS_MANDLOCK as u32;
        /// `MS_DIRSYNC`.
        const DIRSYNC = libc::MS_DIRSYNC as u32;
        /// `MS_NOSYMFOLLOW` (5.10).
        const NOSYMFOLLOW = 256;
        /// `MS_NOATIME`.
        const NOATIME = libc::MS_NOATIME as u32;
        /// `MS_NODIRATIME`.
        const NODIRATIME = libc::MS_NODIRATIME as u32;
        /// `MS_BIND`: a bind mount.
        const BIND = libc::MS_BIND as u32;
        /// `MS_MOVE`: move a mount.
        const MOVE = libc::MS_MOVE as u32;
        /// `MS_REC`: recursively (binds, propagation changes).
        const REC = libc::MS_REC as u32;
        /// `MS_SILENT`.
        const SILENT = libc::MS_SILENT as u32;
        /// `MS_POSIXACL`.
        const POSIXACL = libc::MS_POSIXACL as u32;
        /// `MS_UNBINDABLE`: propagation type.
        const UNBINDABLE = libc::MS_UNBINDABLE as u32;
        /// `MS_PRIVATE`: propagation type.
        const PRIVATE = libc::MS_PRIVATE as u32;
        /// `MS_SLAVE`: propagation type.
        const SLAVE = libc::MS_SLAVE as u32;
        /// `MS_SHARED`: propagation type.
        const SHARED = libc::MS_SHARED as u32;
        /// `MS_RELATIME`.
        const RELATIME = libc::MS_RELATIME as u32;
        /// `MS_KERNMOUNT`.
        const KERNMOUNT = libc::MS_KERNMOUNT as u32;
        /// `MS_I_VERSION`.
        const I_VERSION = libc::MS_I_VERSION as u32;
        /// `MS_STRICTATIME`.
        const STRICTATIME = libc::MS_STRICTATIME as u32;
        /// `MS_LAZYTIME`.
        const LAZYTIME = libc::MS_LAZYTIME as u32;
    }
}

/// A mount's propagation type (`MS_SHARED`, `MS_PRIVATE`, `MS_SLAVE`,
/// `MS_UNBINDABLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Propagation {
    /// Mount events propagate both ways within its peer group.
    Shared,
    /// No propagation.
    Private,
    /// Receives from its master, sends nothing.
    Slave,
    /// Private, and cannot be bind-mounted.
    Unbindable,
}

impl Propagation {
    /// Its `MS_*` flag.
    pub fn flag(self) -> MountFlags {
        match self {
            Propagation::Shared => MountFlags::SHARED,
            Propagation::Private => MountFlags::PRIVATE,
            Propagation::Slave => MountFlags::SLAVE,
            Propagation::Unbindable => MountFlags::UNBINDABLE,
        }
    }
}

/// `mount(source, target, fstype, flags, data)`.
///
/// # Errors
/// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput): a NUL
///   byte in a string (checked first); `EINVAL` from the kernel (a bad
///   flag combination, a propagation change on something not a mount
///   point, an unknown option in `data`).
/// - [`ErrorKind::PermissionDenied`](fd_core::ErrorKind::PermissionDenied)
///   (`EPERM`): needs `CAP_SYS_ADMIN` in the user namespace owning the
///   mount namespace; in a user namespace, flags the kernel locked (a bind
///   remount that clears `nosuid`, `nodev`, `noexec` or read-only) are
///   refused.
/// - [`ErrorKind::NotFound`](fd_core::ErrorKind::NotFound) (`ENOENT`): no
///   such source or target; `ENODEV`: no such filesystem type.
///
/// # References
/// - [`mount(2)`](https://man7.org/linux/man-pages/man2/mount.2.html)
pub fn mount(
    source: Option<&Path>,
    target: impl AsRef<Path>,
    fstype: Option<&str>,
    flags: MountFlags,
    data: Option<&str>,
) -> Result<()> {
    const CALL: &str = "mount";
    let source = source.map(|s| c_path(CALL, s)).transpose()?;
    let target = c_path(CALL, target.as_ref())?;
    let fstype = fstype
        .map(|t| c_string(CALL, "filesystem type", t.as_bytes()))
        .transpose()?;
    let data = data
        .map(|d| c_string(CALL, "mount data", d.as_bytes()))
        .transpose()?;
    // Raw, not rustix: rustix's `mount` cannot pass a null source or
    // filesystem type, which the kernel reads differently from "".
    sys::mount(
        source.as_deref(),
        &target,
        fstype.as_deref(),
        libc::c_ulong::from(flags.bits()),
        data.as_deref(),
    )
}

/// `mount(NULL, target, NULL, MS_<type> [| MS_REC])`: changes the
/// propagation of `target` (and with `recursive`, of every mount below).
///
/// # Errors
/// As [`mount`]; `EINVAL` when `target` is not a mount point.
pub fn set_propagation(
    target: impl AsRef<Path>,
    propagation: Propagation,
    recursive: bool,
) -> Result<()> {
    let mut flags = propagation.flag();
    if recursive {
        flags |= MountFlags::REC;
    }
    mount(None, target, None, flags, None)
}

/// `mount(source, target, NULL, MS_BIND [| MS_REC])`: a bind mount.
///
/// # Errors
/// As [`mount`].
pub fn bind_mount(
    source: impl AsRef<Path>,
    target: impl AsRef<Path>,
    recursive: bool,
) -> Result<()> {
    let mut flags = MountFlags::BIND;
    if recursive {
        flags |= MountFlags::REC;
    }
    mount(Some(source.as_ref()), target, None, flags, None)
}

bitflags::bitflags! {
    /// `umount2(2)` flags.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct UnmountFlags: u32 {
        /// `MNT_FORCE`: abort pending requests (NFS, FUSE).
        const FORCE = libc::MNT_FORCE as u32;
        /// `MNT_DETACH`: lazy: detach now, free when no longer busy.
        const DETACH = libc::MNT_DETACH as u32;
        /// `MNT_EXPIRE`: mark expired; a second call unmounts if unused.
        const EXPIRE = libc::MNT_EXPIRE as u32;
        /// `UMOUNT_NOFOLLOW`: do not follow a symlink at `target`.
        const NOFOLLOW = libc::UMOUNT_NOFOLLOW as u32;
    }
}

/// `umount2(target, flags)`.
///
/// # Errors
/// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput)
///   (`EINVAL`): not a mount point, or `EXPIRE` with `FORCE`/`DETACH`.
/// - [`ErrorKind::WouldBlock`](fd_core::ErrorKind::WouldBlock)
///   (`EAGAIN`): `EXPIRE` on a mount not yet marked (it is now).
/// - `EBUSY` ([`ErrorKind::Other`](fd_core::ErrorKind::Other)): in use.
/// - [`ErrorKind::PermissionDenied`](fd_core::ErrorKind::PermissionDenied)
///   (`EPERM`): needs `CAP_SYS_ADMIN`, or the mount is locked (it came
///   from a more privileged mount namespace together with what it covers).
///
/// # References
/// - [`umount2(2)`](https://man7.org/linux/man-pages/man2/umount2.2.html)
pub fn umount2(target: impl AsRef<Path>, flags: UnmountFlags) -> Result<()> {
    let target = c_path("umount2", target.as_ref())?;
    rustix::mount::unmount(
        &*target,
        rustix::mount::UnmountFlags::from_bits_retain(flags.bits()),
    )
    .syscall("umount2")
}

/// `pivot_root(new_root, put_old)`: makes `new_root` the root of the
/// caller's mount namespace and stacks the old root at `put_old`.
/// `pivot_root(".", ".")` after `chdir(new_root)` stacks the old root on
/// the new one, to be detached with `umount2(".", DETACH)`.
///
/// # Errors
/// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput)
///   (`EINVAL`): `new_root` is not a mount point, the current root or
///   `new_root`'s parent mount is shared, or `put_old` is not under
///   `new_root`.
/// - `EBUSY`: `new_root` or `put_old` is the current root.
/// - [`ErrorKind::PermissionDenied`](fd_core::ErrorKind::PermissionDenied)
///   (`EPERM`): needs `CAP_SYS_ADMIN` in the mount namespace's user
///   namespace.
///
/// # References
/// - [`pivot_root(2)`](https://man7.org/linux/man-pages/man2/pivot_root.2.html)
pub fn pivot_root(new_root: impl AsRef<Path>, put_old: impl AsRef<Path>) -> Result<()> {
    let new_root = c_path("pivot_root", new_root.as_ref())?;
    let put_old = c_path("pivot_root", put_old.as_ref())?;
    rustix::process::pivot_root(&*new_root, &*put_old)
        .syscall("pivot_root")
        .map_err(|e| {
            if e.errno() == libc::EINVAL {
                e.with_detail(
                    "new_root must be a mount point whose parent mount is not shared \
                 (make / private recursively first), and put_old must be under it",
                )
            } else {
                e
            }
        })
}

/// The longest host or domain name: 64 bytes (`__NEW_UTS_LEN`).
pub const HOST_NAME_MAX: usize = 64;

fn check_name(call: &'static str, name: &[u8]) -> Result<()> {
    if name.len() > HOST_NAME_MAX {
        return Err(Error::invalid_input(
            call,
            format!(
                "the name is {} bytes; the kernel takes at most {HOST_NAME_MAX}",
                name.len()
            ),
        ));
    }
    if name.contains(&0) {
        return Err(Error::invalid_input(call, "the name contains a NUL byte"));
    }
    Ok(())
}

/// The host name of the caller's UTS namespace (`uname`'s `nodename`).
pub fn gethostname() -> OsString {
    OsString::from_vec(rustix::system::uname().nodename().to_bytes().to_vec())
}

/// `sethostname(name)`: in the caller's UTS namespace.
///
/// # Errors
/// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput): over
///   [`HOST_NAME_MAX`] bytes or holding a NUL byte (checked first).
/// - [`ErrorKind::PermissionDenied`](fd_core::ErrorKind::PermissionDenied)
///   (`EPERM`): needs `CAP_SYS_ADMIN` in the UTS namespace's user
///   namespace.
pub fn sethostname(name: impl AsRef<OsStr>) -> Result<()> {
    let name = name.as_ref().as_bytes();
    check_name("sethostname", name)?;
    rustix::system::sethostname(name).syscall("sethostname")
}

/// The NIS domain name of the caller's UTS namespace (`(none)` when unset).
pub fn getdomainname() -> OsString {
    OsString::from_vec(rustix::system::uname().domainname().to_bytes().to_vec())
}

/// `setdomainname(name)`: as [`sethostname`].
///
/// # Errors
/// As [`sethostname`].
pub fn setdomainname(name: impl AsRef<OsStr>) -> Result<()> {
    let name = name.as_ref().as_bytes();
    check_name("setdomainname", name)?;
    rustix::system::setdomainname(name).syscall("setdomainname")
}

/// `getpid()` as a syscall (rustix), never a cached value: right in a
/// process made by a raw `clone`, where a C library's cache could be
/// stale. The family's one `getpid`; pids are `u32` everywhere, as
/// `std::process::id()` has them.
pub fn getpid() -> u32 {
    rustix::process::getpid()
        .as_raw_nonzero()
        .get()
        .unsigned_abs()
}

/// `getppid()` as a syscall: 0 when the parent is outside the caller's pid
/// namespace.
pub fn getppid() -> u32 {
    rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get().unsigned_abs())
}

/// `gettid()` as a syscall.
pub fn gettid() -> u32 {
    rustix::thread::gettid()
        .as_raw_nonzero()
        .get()
        .unsigned_abs()
}

bitflags::bitflags! {
    /// `fsopen(2)` flags. `FSOPEN_CLOEXEC` is always added.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FsOpenFlags: u32 {
        /// `FSOPEN_CLOEXEC`.
        const CLOEXEC = 1;
    }
}

bitflags::bitflags! {
    /// `fspick(2)` flags. `FSPICK_CLOEXEC` is always added.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FsPickFlags: u32 {
        /// `FSPICK_CLOEXEC`.
        const CLOEXEC = 1;
        /// `FSPICK_SYMLINK_NOFOLLOW`.
        const SYMLINK_NOFOLLOW = 2;
        /// `FSPICK_NO_AUTOMOUNT`.
        const NO_AUTOMOUNT = 4;
        /// `FSPICK_EMPTY_PATH`: the path is empty and the dirfd is the object.
        const EMPTY_PATH = 8;
    }
}

bitflags::bitflags! {
    /// `fsmount(2)` flags. `FSMOUNT_CLOEXEC` is always added.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FsMountFlags: u32 {
        /// `FSMOUNT_CLOEXEC`.
        const CLOEXEC = 1;
    }
}

bitflags::bitflags! {
    /// `MOUNT_ATTR_*`: per-mount attributes for [`fsmount`] and
    /// [`mount_setattr`].
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct MountAttrFlags: u32 {
        /// `MOUNT_ATTR_RDONLY`.
        const RDONLY = 0x0000_0001;
        /// `MOUNT_ATTR_NOSUID`.
        const NOSUID = 0x0000_0002;
        /// `MOUNT_ATTR_NODEV`.
        const NODEV = 0x0000_0004;
        /// `MOUNT_ATTR_NOEXEC`.
        const NOEXEC = 0x0000_0008;
        /// `MOUNT_ATTR__ATIME`: the mask of the three atime settings; put
        /// it in `clear` to change them.
        const ATIME = 0x0000_0070;
        /// `MOUNT_ATTR_NOATIME`.
        const NOATIME = 0x0000_0010;
        /// `MOUNT_ATTR_STRICTATIME`.
        const STRICTATIME = 0x0000_0020;
        /// `MOUNT_ATTR_NODIRATIME`.
        const NODIRATIME = 0x0000_0080;
        /// `MOUNT_ATTR_IDMAP` (5.12): ids mapped through a user namespace.
        const IDMAP = 0x0010_0000;
        /// `MOUNT_ATTR_NOSYMFOLLOW` (5.14).
        const NOSYMFOLLOW = 0x0020_0000;
    }
}

bitflags::bitflags! {
    /// `open_tree(2)` flags (with the `AT_*` flags it takes).
    /// `OPEN_TREE_CLOEXEC` is always added.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct OpenTreeFlags: u32 {
        /// `OPEN_TREE_CLONE`: a detached copy of the mount, to attach
        /// elsewhere (a bind mount in two steps).
        const CLONE = 1;
        /// `OPEN_TREE_CLOEXEC`.
        const CLOEXEC = libc::O_CLOEXEC as u32;
        /// `AT_RECURSIVE`: with `CLONE`, the mounts below too.
        const RECURSIVE = 0x8000;
        /// `AT_EMPTY_PATH`.
        const EMPTY_PATH = libc::AT_EMPTY_PATH as u32;
        /// `AT_NO_AUTOMOUNT`.
        const NO_AUTOMOUNT = libc::AT_NO_AUTOMOUNT as u32;
        /// `AT_SYMLINK_NOFOLLOW`.
        const SYMLINK_NOFOLLOW = libc::AT_SYMLINK_NOFOLLOW as u32;
    }
}

bitflags::bitflags! {
    /// `move_mount(2)` flags.
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct MoveMountFlags: u32 {
        /// `MOVE_MOUNT_F_SYMLINKS`.
        const F_SYMLINKS = 0x01;
        /// `MOVE_MOUNT_F_AUTOMOUNTS`.
        const F_AUTOMOUNTS = 0x02;
        /// `MOVE_MOUNT_F_EMPTY_PATH`: the source is the dirfd itself.
        const F_EMPTY_PATH = 0x04;
        /// `MOVE_MOUNT_T_SYMLINKS`.
        const T_SYMLINKS = 0x10;
        /// `MOVE_MOUNT_T_AUTOMOUNTS`.
        const T_AUTOMOUNTS = 0x20;
        /// `MOVE_MOUNT_T_EMPTY_PATH`: the target is the dirfd itself.
        const T_EMPTY_PATH = 0x40;
        /// `MOVE_MOUNT_SET_GROUP` (5.15): share the source's peer group.
        const SET_GROUP = 0x100;
        /// `MOVE_MOUNT_BENEATH` (6.5): mount beneath the top mount.
        const BENEATH = 0x200;
    }
}

bitflags::bitflags! {
    /// The `AT_*` flags of [`mount_setattr`].
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SetAttrFlags: u32 {
        /// `AT_RECURSIVE`: every mount below too.
        const RECURSIVE = 0x8000;
        /// `AT_EMPTY_PATH`: the dirfd itself.
        const EMPTY_PATH = libc::AT_EMPTY_PATH as u32;
        /// `AT_NO_AUTOMOUNT`.
        const NO_AUTOMOUNT = libc::AT_NO_AUTOMOUNT as u32;
        /// `AT_SYMLINK_NOFOLLOW`.
        const SYMLINK_NOFOLLOW = libc::AT_SYMLINK_NOFOLLOW as u32;
    }
}

/// What [`mount_setattr`] changes (`struct mount_attr`).
#[derive(Debug, Clone, Copy, Default)]
pub struct MountAttr<'a> {
    /// Attributes to set.
    pub set: MountAttrFlags,
    /// Attributes to clear (first).
    pub clear: MountAttrFlags,
    /// A new propagation type.
    pub propagation: Option<Propagation>,
    /// With [`MountAttrFlags::IDMAP`] in `set`: the user namespace whose
    /// id maps the mount takes.
    pub userns: Option<BorrowedFd<'a>>,
}

impl MountAttr<'_> {
    pub(crate) fn raw(&self) -> Result<sys::MountAttrRaw> {
        if self.set.contains(MountAttrFlags::IDMAP) != self.userns.is_some() {
            return Err(Error::invalid_input(
                "mount_setattr",
                "MOUNT_ATTR_IDMAP and a user namespace fd go together: give both or neither",
            ));
        }
        Ok(sys::MountAttrRaw {
            attr_set: u64::from(self.set.bits()),
            attr_clr: u64::from(self.clear.bits()),
            propagation: self.propagation.map_or(0, |p| u64::from(p.flag().bits())),
            userns_fd: self.userns.map_or(0, |fd| {
                u64::try_from(std::os::fd::AsRawFd::as_raw_fd(&fd)).unwrap_or(0)
            }),
        })
    }
}

/// One `fsconfig(2)` command.
#[derive(Debug, Clone, Copy)]
pub enum FsConfig<'a> {
    /// `FSCONFIG_SET_FLAG`: a flag option (`ro`, `nosuid`).
    SetFlag(&'a str),
    /// `FSCONFIG_SET_STRING`: `key=value`.
    SetString(&'a str, &'a str),
    /// `FSCONFIG_SET_BINARY`: a binary blob.
    SetBinary(&'a str, &'a [u8]),
    /// `FSCONFIG_SET_PATH`: a path, relative to a directory fd (or the
    /// current directory).
    SetPath(&'a str, Option<BorrowedFd<'a>>, &'a Path),
    /// `FSCONFIG_SET_PATH_EMPTY`: the object an fd refers to.
    SetPathEmpty(&'a str, BorrowedFd<'a>),
    /// `FSCONFIG_SET_FD`: an open fd (e.g. a block device).
    SetFd(&'a str, BorrowedFd<'a>),
    /// `FSCONFIG_CMD_CREATE`: create the superblock.
    Create,
    /// `FSCONFIG_CMD_RECONFIGURE`: apply to a picked superblock.
    Reconfigure,
    /// `FSCONFIG_CMD_CREATE_EXCL` (6.6): create, never reuse an existing
    /// superblock.
    CreateExclusive,
}

/// `fsconfig(fd, cmd, key, value, aux)`.
///
/// # Errors
/// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput): a NUL
///   byte in a key or value (checked first); `EINVAL` for an option the
///   filesystem does not take. The kernel's message for it is in the
///   context's log: [`FsContext`](crate::FsContext) reads it into the error.
/// - `EBUSY`: `CreateExclusive` found an existing superblock.
///
/// # References
/// - [`fsconfig(2)`](https://man7.org/linux/man-pages/man2/fsconfig.2.html)
pub fn fsconfig(fd: impl AsFd, command: FsConfig<'_>) -> Result<()> {
    const CALL: &str = "fsconfig";
    let key = |k: &str| c_string(CALL, "key", k.as_bytes());
    let fd = fd.as_fd();
    match command {
        FsConfig::SetFlag(k) => sys::fsconfig(fd, 0, Some(&key(k)?), None, 0),
        FsConfig::SetString(k, v) => {
            let v = c_string(CALL, "value", v.as_bytes())?;
            sys::fsconfig(fd, 1, Some(&key(k)?), Some(v.as_bytes_with_nul()), 0)
        }
        FsConfig::SetBinary(k, v) => {
            let len = i32::try_from(v.len())
                .map_err(|_| Error::invalid_input(CALL, "the binary value is over 2 GiB"))?;
            sys::fsconfig(fd, 2, Some(&key(k)?), Some(v), len)
        }
        FsConfig::SetPath(k, dir, path) => {
            let p = c_path(CALL, path)?;
            let dirfd = dir.map_or(libc::AT_FDCWD, |d| std::os::fd::AsRawFd::as_raw_fd(&d));
            sys::fsconfig(fd, 3, Some(&key(k)?), Some(p.as_bytes_with_nul()), dirfd)
        }
        FsConfig::SetPathEmpty(k, obj) => sys::fsconfig(
            fd,
            4,
            Some(&key(k)?),
            Some(b"\0"),
            std::os::fd::AsRawFd::as_raw_fd(&obj),
        ),
        FsConfig::SetFd(k, obj) => sys::fsconfig(
            fd,
            5,
            Some(&key(k)?),
            None,
            std::os::fd::AsRawFd::as_raw_fd(&obj),
        ),
        FsConfig::Create => sys::fsconfig(fd, 6, None, None, 0),
        FsConfig::Reconfigure => sys::fsconfig(fd, 7, None, None, 0),
        FsConfig::CreateExclusive => sys::fsconfig(fd, 8, None, None, 0),
    }
}

/// `fsopen(fstype, flags | FSOPEN_CLOEXEC)`: a filesystem context to
/// configure with [`fsconfig`] and mount with [`fsmount`].
///
/// # Errors
/// - `ENODEV` ([`ErrorKind::NotFound`](fd_core::ErrorKind::NotFound)): no
///   such filesystem type.
/// - [`ErrorKind::PermissionDenied`](fd_core::ErrorKind::PermissionDenied)
///   (`EPERM`): needs `CAP_SYS_ADMIN` (in a user namespace, for the
///   filesystems that allow it there: tmpfs, proc, …).
/// - [`ErrorKind::Unsupported`](fd_core::ErrorKind::Unsupported)
///   (`ENOSYS`): before 5.2.
///
/// # References
/// - [`fsopen(2)`](https://man7.org/linux/man-pages/man2/fsopen.2.html)
pub fn fsopen(fstype: &str, flags: FsOpenFlags) -> Result<OwnedFd> {
    let name = c_string("fsopen", "filesystem type", fstype.as_bytes())?;
    rustix::mount::fsopen(
        &*name,
        rustix::mount::FsOpenFlags::from_bits_retain((flags | FsOpenFlags::CLOEXEC).bits()),
    )
    .syscall("fsopen")
}

/// `fspick(dirfd, path, flags | FSPICK_CLOEXEC)`: a context for the
/// superblock of an existing mount, to reconfigure.
///
/// # Errors
/// As [`fsopen`]; `ENOENT` for a missing path.
pub fn fspick(
    dir: Option<BorrowedFd<'_>>,
    path: impl AsRef<Path>,
    flags: FsPickFlags,
) -> Result<OwnedFd> {
    let path = c_path("fspick", path.as_ref())?;
    rustix::mount::fspick(
        dir.unwrap_or(rustix::fs::CWD),
        &*path,
        rustix::mount::FsPickFlags::from_bits_retain((flags | FsPickFlags::CLOEXEC).bits()),
    )
    .syscall("fspick")
}

/// `fsmount(fd, flags | FSMOUNT_CLOEXEC, attrs)`: a detached mount of a
/// created context, attached with [`move_mount`].
///
/// # Errors
/// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput)
///   (`EINVAL`): the context was not created (`FsConfig::Create`), or bad
///   attributes.
///
/// # References
/// - [`fsmount(2)`](https://man7.org/linux/man-pages/man2/fsmount.2.html)
pub fn fsmount(fd: impl AsFd, flags: FsMountFlags, attrs: MountAttrFlags) -> Result<OwnedFd> {
    rustix::mount::fsmount(
        fd.as_fd(),
        rustix::mount::FsMountFlags::from_bits_retain((flags | FsMountFlags::CLOEXEC).bits()),
        rustix::mount::MountAttrFlags::from_bits_retain(attrs.bits()),
    )
    .syscall("fsmount")
}

/// `open_tree(dirfd, path, flags | OPEN_TREE_CLOEXEC)`: an fd on a mount,
/// or with `CLONE` a detached copy of it (recursive with `RECURSIVE`).
///
/// # Errors
/// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput)
///   (`EINVAL`): `RECURSIVE` without `CLONE`, or a copy of an unbindable
///   mount.
/// - [`ErrorKind::PermissionDenied`](fd_core::ErrorKind::PermissionDenied)
///   (`EPERM`): `CLONE` needs `CAP_SYS_ADMIN` over the mount namespace.
///
/// # References
/// - [`open_tree(2)`](https://man7.org/linux/man-pages/man2/open_tree.2.html)
pub fn open_tree(
    dir: Option<BorrowedFd<'_>>,
    path: impl AsRef<Path>,
    flags: OpenTreeFlags,
) -> Result<OwnedFd> {
    if flags.contains(OpenTreeFlags::RECURSIVE) && !flags.contains(OpenTreeFlags::CLONE) {
        return Err(Error::invalid_input(
            "open_tree",
            "RECURSIVE applies only with CLONE",
        ));
    }
    let path = c_path("open_tree", path.as_ref())?;
    rustix::mount::open_tree(
        dir.unwrap_or(rustix::fs::CWD),
        &*path,
        rustix::mount::OpenTreeFlags::from_bits_retain((flags | OpenTreeFlags::CLOEXEC).bits()),
    )
    .syscall("open_tree")
}

/// `move_mount(from_dirfd, from_path, to_dirfd, to_path, flags)`: attaches
/// a detached mount, or moves an attached one.
///
/// # Errors
/// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput)
///   (`EINVAL`): moving a mount under itself, or propagation rules.
/// - [`ErrorKind::NotFound`](fd_core::ErrorKind::NotFound) (`ENOENT`): no
///   such target.
///
/// # References
/// - [`move_mount(2)`](https://man7.org/linux/man-pages/man2/move_mount.2.html)
pub fn move_mount(
    from: Option<BorrowedFd<'_>>,
    from_path: impl AsRef<Path>,
    to: Option<BorrowedFd<'_>>,
    to_path: impl AsRef<Path>,
    flags: MoveMountFlags,
) -> Result<()> {
    let from_path = c_path("move_mount", from_path.as_ref())?;
    let to_path = c_path("move_mount", to_path.as_ref())?;
    rustix::mount::move_mount(
        from.unwrap_or(rustix::fs::CWD),
        &*from_path,
        to.unwrap_or(rustix::fs::CWD),
        &*to_path,
        rustix::mount::MoveMountFlags::from_bits_retain(flags.bits()),
    )
    .syscall("move_mount")
}

/// `mount_setattr(dirfd, path, flags, &attr)` (5.12): changes mount
/// attributes, recursively with [`SetAttrFlags::RECURSIVE`]; an idmapped
/// mount with [`MountAttrFlags::IDMAP`] and a user namespace fd (on a
/// detached mount from [`open_tree`] with `CLONE`).
///
/// # Errors
/// - [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput):
///   `IDMAP` without a user namespace or the reverse (checked first);
///   `EINVAL` from the kernel for an attached mount with `IDMAP`, a
///   filesystem that cannot be idmapped, or a user namespace without maps.
/// - [`ErrorKind::PermissionDenied`](fd_core::ErrorKind::PermissionDenied)
///   (`EPERM`): clearing a locked attribute, or `IDMAP` without
///   `CAP_SYS_ADMIN` in the filesystem's user namespace.
///
/// # References
/// - [`mount_setattr(2)`](https://man7.org/linux/man-pages/man2/mount_setattr.2.html)
pub fn mount_setattr(
    dir: Option<BorrowedFd<'_>>,
    path: impl AsRef<Path>,
    flags: SetAttrFlags,
    attr: &MountAttr<'_>,
) -> Result<()> {
    let raw = attr.raw()?;
    let path = c_path("mount_setattr", path.as_ref())?;
    sys::mount_setattr(dir, &path, flags.bits(), &raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_keep_the_kernel_values() {
        for (ours, theirs) in [
            (MountFlags::RDONLY.bits(), libc::MS_RDONLY),
            (MountFlags::BIND.bits(), libc::MS_BIND),
            (MountFlags::REC.bits(), libc::MS_REC),
            (MountFlags::PRIVATE.bits(), libc::MS_PRIVATE),
            (MountFlags::SHARED.bits(), libc::MS_SHARED),
            (MountFlags::LAZYTIME.bits(), libc::MS_LAZYTIME),
        ] {
            assert_eq!(u64::from(ours), theirs);
        }
        for ns in Namespace::ALL {
            assert_eq!(Namespace::from_flag(ns.flag().bits()), Some(ns));
        }
        assert_eq!(Namespaces::all().kinds().count(), 8);
        assert_eq!(
            u64::from(Namespaces::USER.bits()),
            libc::CLONE_NEWUSER as u64
        );
    }
}

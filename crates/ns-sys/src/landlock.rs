//! [`Landlock`]: an unprivileged filesystem, network and IPC policy, built
//! as a ruleset fd before the sandbox exists and enforced by the sandboxed
//! process on itself.
//!
//! Landlock (Linux 5.13+) lets any process restrict itself and every
//! process it starts: only the paths, ports and scopes a ruleset allows
//! stay reachable, and a restriction can only be tightened. Its ABI grew
//! in steps; what each adds is what [`Landlock`] checks before it builds a
//! ruleset:
//!
//! | ABI | Linux | adds |
//! |-----|-------|------|
//! | 1 | 5.13 | the filesystem rights `EXECUTE` … `MAKE_SYM` |
//! | 2 | 5.19 | `REFER` (link or rename into another directory; denied always before) |
//! | 3 | 6.2 | `TRUNCATE` |
//! | 4 | 6.7 | TCP `bind` and `connect` by port |
//! | 5 | 6.10 | `IOCTL_DEV` (ioctl on device files) |
//! | 6 | 6.12 | scopes: abstract unix sockets and signals outside the domain |
//! | 7 | 6.15 | audit logging flags (nothing to enforce) |

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use fd_core::{Error, ErrorKind, Result};

use crate::sys;

bitflags::bitflags! {
    /// Filesystem rights (`LANDLOCK_ACCESS_FS_*`).
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct AccessFs: u64 {
        /// Execute a file.
        const EXECUTE = 1 << 0;
        /// Open a file for writing.
        const WRITE_FILE = 1 << 1;
        /// Open a file for reading.
        const READ_FILE = 1 << 2;
        /// Open a directory or list its entries.
        const READ_DIR = 1 << 3;
        /// Remove an empty directory or rename one away.
        const REMOVE_DIR = 1 << 4;
        /// Unlink a file or rename one away.
        const REMOVE_FILE = 1 << 5;
        /// Make a character device.
        const MAKE_CHAR = 1 << 6;
        /// Make a directory.
        const MAKE_DIR = 1 << 7;
        /// Make a regular file.
        const MAKE_REG = 1 << 8;
        /// Make a unix socket.
        const MAKE_SOCK = 1 << 9;
        /// Make a named pipe.
        const MAKE_FIFO = 1 << 10;
        /// Make a block device.
        const MAKE_BLOCK = 1 << 11;
        /// Make a symbolic link.
        const MAKE_SYM = 1 << 12;
        /// Link or rename a file into another directory (ABI 2).
        const REFER = 1 << 13;
        /// Truncate a file (`truncate`, `ftruncate`, `O_TRUNC`; ABI 3).
        const TRUNCATE = 1 << 14;
        /// `ioctl` on a character or block device (ABI 5).
        const IOCTL_DEV = 1 << 15;
    }
}

bitflags::bitflags! {
    /// Network rights (`LANDLOCK_ACCESS_NET_*`, ABI 4).
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct AccessNet: u64 {
        /// Bind a TCP socket to a port.
        const BIND_TCP = 1 << 0;
        /// Connect a TCP socket to a port.
        const CONNECT_TCP = 1 << 1;
    }
}

bitflags::bitflags! {
    /// What a restricted process cannot reach outside its Landlock domain
    /// (`LANDLOCK_SCOPE_*`, ABI 6).
    #[repr(transparent)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Scope: u64 {
        /// Connecting to an abstract unix socket (`@name`: X11, D-Bus,
        /// systemd's) made by a process outside the domain.
        const ABSTRACT_UNIX_SOCKET = 1 << 0;
        /// Sending a signal to a process outside the domain.
        const SIGNAL = 1 << 1;
    }
}

impl AccessFs {
    /// What applies to a file (rather than a directory's entries): the
    /// only rights a rule on a non-directory may grant.
    pub const FILE: AccessFs = AccessFs::EXECUTE
        .union(AccessFs::WRITE_FILE)
        .union(AccessFs::READ_FILE)
        .union(AccessFs::TRUNCATE)
        .union(AccessFs::IOCTL_DEV);
    /// Read files and list directories.
    pub const READ: AccessFs = AccessFs::READ_FILE.union(AccessFs::READ_DIR);
    /// [`READ`](AccessFs::READ) and execute.
    pub const READ_EXECUTE: AccessFs = AccessFs::READ.union(AccessFs::EXECUTE);
    /// Everything but execute: read, write, make, remove, rename, truncate
    /// and device ioctls.
    pub const READ_WRITE: AccessFs = AccessFs::all().difference(AccessFs::EXECUTE);

    /// The rights an ABI version knows (none for 0).
    #[must_use]
    pub fn of_abi(abi: u32) -> AccessFs {
        match abi {
            0 => AccessFs::empty(),
            1 => AccessFs::from_bits_truncate((1 << 13) - 1),
            2 => AccessFs::from_bits_truncate((1 << 14) - 1),
            3 | 4 => AccessFs::from_bits_truncate((1 << 15) - 1),
            _ => AccessFs::all(),
        }
    }
}

impl AccessNet {
    /// The rights an ABI version knows (none before 4).
    #[must_use]
    pub fn of_abi(abi: u32) -> AccessNet {
        if abi >= 4 {
            AccessNet::all()
        } else {
            AccessNet::empty()
        }
    }
}

impl Scope {
    /// The scopes an ABI version knows (none before 6).
    #[must_use]
    pub fn of_abi(abi: u32) -> Scope {
        if abi >= 6 {
            Scope::all()
        } else {
            Scope::empty()
        }
    }
}

/// The running kernel's Landlock ABI version; 0 when it has none (not
/// built in: `ENOSYS`; built in but not among the boot's `lsm=`:
/// `EOPNOTSUPP`; refused by a seccomp filter, as an older container
/// profile does).
#[must_use]
pub fn abi() -> u32 {
    sys::landlock_abi().unwrap_or(0)
}

/// A Landlock policy: which filesystem rights, TCP ports and scopes a
/// restricted process keeps. Everything a policy *handles* is denied but
/// where a rule allows it; what it does not handle is left as it was.
///
/// By default a policy handles every filesystem right (so only the paths
/// given stay reachable, each with its rights, and everything below it),
/// no network right (add a port, or [`restrict_tcp`](Landlock::restrict_tcp),
/// to handle TCP bind and connect) and no scope.
///
/// Paths are opened when the ruleset is built, as *this* process sees
/// them: for a [`Sandbox`](crate::Sandbox) with a new root, give the path
/// under the root (`/srv/root/data`) or the source of a bind (a rule on
/// `/usr` covers `/usr` bound anywhere), not the path inside.
///
/// [`create`](Landlock::create) refuses, naming it, what the running
/// kernel cannot enforce (a right, port rule or scope its ABI lacks, or
/// no Landlock at all), unless [`best_effort`](Landlock::best_effort) was
/// asked for: then what it cannot enforce is left out and
/// [`Ruleset::not_enforced`] says what.
///
/// ```no_run
/// use butter::ns::{Landlock, Namespaces, Sandbox};
///
/// let mut policy = Landlock::new();
/// policy
///     .read_execute("/usr")
///     .read_execute("/lib")
///     .read_execute("/lib64")
///     .read_write("/tmp/work");
/// let out = Sandbox::new("/usr/bin/cat")
///     .arg("/etc/hostname") // denied: EACCES
///     .unshare(Namespaces::USER)
///     .landlock(policy)
///     .output()?;
/// assert!(!out.status.success());
/// # Ok::<(), butter::ns::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landlock {
    handled_fs: AccessFs,
    restrict_tcp: bool,
    scope: Scope,
    paths: Vec<(PathBuf, AccessFs)>,
    ports: Vec<(u16, AccessNet)>,
    best_effort: bool,
}

impl Default for Landlock {
    fn default() -> Landlock {
        Landlock::new()
    }
}

impl Landlock {
    /// A policy that handles every filesystem right and allows no path yet.
    #[must_use]
    pub fn new() -> Landlock {
        Landlock {
            handled_fs: AccessFs::all(),
            restrict_tcp: false,
            scope: Scope::empty(),
            paths: Vec::new(),
            ports: Vec::new(),
            best_effort: false,
        }
    }

    /// A policy that handles only the scopes given: no filesystem or
    /// network restriction (ABI 6).
    #[must_use]
    pub fn scoped(scope: Scope) -> Landlock {
        let mut policy = Landlock::new();
        policy.handle_fs(AccessFs::empty()).scope(scope);
        policy
    }

    /// Which filesystem rights the policy handles (default: all): those
    /// left out stay allowed everywhere.
    pub fn handle_fs(&mut self, rights: AccessFs) -> &mut Landlock {
        self.handled_fs = rights;
        self
    }

    /// Allows `rights` on `path` and everything below it (a file's rule
    /// keeps only the [`FILE`](AccessFs::FILE) rights).
    pub fn allow(&mut self, path: impl AsRef<Path>, rights: AccessFs) -> &mut Landlock {
        self.paths.push((path.as_ref().to_path_buf(), rights));
        self
    }

    /// Allows reading `path` ([`AccessFs::READ`]).
    pub fn read(&mut self, path: impl AsRef<Path>) -> &mut Landlock {
        self.allow(path, AccessFs::READ)
    }

    /// Allows reading and executing under `path` ([`AccessFs::READ_EXECUTE`]).
    pub fn read_execute(&mut self, path: impl AsRef<Path>) -> &mut Landlock {
        self.allow(path, AccessFs::READ_EXECUTE)
    }

    /// Allows everything but execute under `path` ([`AccessFs::READ_WRITE`]).
    pub fn read_write(&mut self, path: impl AsRef<Path>) -> &mut Landlock {
        self.allow(path, AccessFs::READ_WRITE)
    }

    /// Handles TCP bind and connect, so only the ports allowed stay
    /// usable (implied by [`bind_tcp`](Landlock::bind_tcp) and
    /// [`connect_tcp`](Landlock::connect_tcp); ABI 4). Other protocols
    /// (UDP, unix sockets) are not covered by Landlock.
    pub fn restrict_tcp(&mut self) -> &mut Landlock {
        self.restrict_tcp = true;
        self
    }

    /// Allows binding a TCP socket to `port` (and handles TCP).
    pub fn bind_tcp(&mut self, port: u16) -> &mut Landlock {
        self.restrict_tcp = true;
        self.ports.push((port, AccessNet::BIND_TCP));
        self
    }

    /// Allows connecting a TCP socket to `port` (and handles TCP).
    pub fn connect_tcp(&mut self, port: u16) -> &mut Landlock {
        self.restrict_tcp = true;
        self.ports.push((port, AccessNet::CONNECT_TCP));
        self
    }

    /// Adds scopes: what the restricted process cannot reach outside its
    /// domain (ABI 6).
    pub fn scope(&mut self, scope: Scope) -> &mut Landlock {
        self.scope |= scope;
        self
    }

    /// Leave out what the running kernel cannot enforce instead of
    /// refusing (default: refuse).
    pub fn best_effort(&mut self, on: bool) -> &mut Landlock {
        self.best_effort = on;
        self
    }

    /// Whether [`best_effort`](Landlock::best_effort) was asked for.
    #[must_use]
    pub fn is_best_effort(&self) -> bool {
        self.best_effort
    }

    fn handled_net(&self) -> AccessNet {
        if self.restrict_tcp {
            AccessNet::all()
        } else {
            AccessNet::empty()
        }
    }

    /// What a kernel with Landlock ABI `abi` could not enforce of this
    /// policy, one sentence each (empty: all of it).
    #[must_use]
    pub fn not_enforced_at(&self, abi: u32) -> Vec<String> {
        if abi == 0 {
            return vec![
                "this kernel has no Landlock (not built in, not enabled by the boot's lsm=, \
                 or refused by a seccomp filter)"
                    .into(),
            ];
        }
        let mut missing = Vec::new();
        let fs = self.handled_fs.difference(AccessFs::of_abi(abi));
        // Before ABI 2 the kernel refuses every link or rename into another
        // directory: stricter than asked, not weaker, so not listed.
        for (right, what, needs) in [
            (AccessFs::TRUNCATE, "truncation", 3),
            (AccessFs::IOCTL_DEV, "ioctl on devices", 5),
        ] {
            if fs.contains(right) {
                missing.push(format!(
                    "{what} cannot be restricted: it needs Landlock ABI {needs}, this kernel has {abi}"
                ));
            }
        }
        if self.restrict_tcp && abi < 4 {
            missing.push(format!(
                "TCP bind and connect cannot be restricted: they need Landlock ABI 4 (Linux 6.7), \
                 this kernel has {abi}"
            ));
        }
        if !self.scope.is_empty() && abi < 6 {
            missing.push(format!(
                "the scopes ({}) cannot be enforced: they need Landlock ABI 6 (Linux 6.12), \
                 this kernel has {abi}",
                scope_names(self.scope)
            ));
        }
        missing
    }

    /// Builds the ruleset for the running kernel: checks what it can
    /// enforce, opens each path (`O_PATH`) and adds its rule.
    ///
    /// Returns `Ok(None)` only with [`best_effort`](Landlock::best_effort)
    /// on a kernel with nothing of the policy to enforce.
    ///
    /// # Errors
    /// - [`ErrorKind::Unsupported`]: the kernel lacks what the policy
    ///   asks for (the detail says what, and which ABI it needs), without
    ///   best effort.
    /// - A path that cannot be opened: the error of `open`, naming it.
    /// - [`ErrorKind::InvalidInput`]: a rule grants nothing the policy
    ///   handles (`landlock_add_rule` would refuse it), naming the rule.
    pub fn create(&self) -> Result<Option<Ruleset>> {
        const CALL: &str = "Landlock::create";
        let abi = abi();
        let not_enforced = self.not_enforced_at(abi);
        if !not_enforced.is_empty() && !self.best_effort {
            let errno = if abi == 0 {
                libc::EOPNOTSUPP
            } else {
                libc::EINVAL
            };
            return Err(Error::from_errno("landlock_create_ruleset", errno)
                .with_context(CALL)
                .with_kind(ErrorKind::Unsupported)
                .with_detail(format!(
                    "{} (ask for best effort to leave it out)",
                    not_enforced.join("; ")
                )));
        }
        let fs = self.handled_fs & AccessFs::of_abi(abi);
        let net = self.handled_net() & AccessNet::of_abi(abi);
        let scope = self.scope & Scope::of_abi(abi);
        if fs.is_empty() && net.is_empty() && scope.is_empty() {
            if abi != 0 && !self.best_effort {
                return Err(Error::invalid_input_in(
                    CALL,
                    "landlock_create_ruleset",
                    "the policy handles nothing: no filesystem right, TCP or scope",
                ));
            }
            return Ok(None);
        }
        let fd = sys::landlock_create_ruleset(fs.bits(), net.bits(), scope.bits())
            .map_err(|e| e.with_context(CALL))?;
        for (path, rights) in &self.paths {
            let dir = rustix::fs::open(
                path,
                rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| {
                Error::from_errno("open", e.raw_os_error())
                    .with_context(CALL)
                    .with_detail(format!("the Landlock rule's path {}", path.display()))
            })?;
            let is_dir = rustix::fs::fstat(&dir)
                .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir());
            let mut granted = *rights & fs;
            if !is_dir {
                granted &= AccessFs::FILE;
            }
            if granted.is_empty() {
                if self.best_effort {
                    continue;
                }
                return Err(Error::invalid_input_in(
                    CALL,
                    "landlock_add_rule",
                    format!(
                        "the rule on {} grants nothing the policy restricts{}",
                        path.display(),
                        if is_dir {
                            ""
                        } else {
                            " (a file takes only file rights)"
                        }
                    ),
                ));
            }
            sys::landlock_add_path_rule(fd.as_fd(), granted.bits(), dir.as_fd()).map_err(|e| {
                e.with_context(CALL)
                    .with_detail(format!("the rule on {}", path.display()))
            })?;
        }
        if !net.is_empty() {
            for &(port, rights) in &self.ports {
                sys::landlock_add_port_rule(fd.as_fd(), rights.bits(), port).map_err(|e| {
                    e.with_context(CALL)
                        .with_detail(format!("the rule on TCP port {port}"))
                })?;
            }
        }
        Ok(Some(Ruleset {
            fd,
            abi,
            not_enforced,
        }))
    }
}

fn scope_names(scope: Scope) -> String {
    let mut names = Vec::new();
    if scope.contains(Scope::ABSTRACT_UNIX_SOCKET) {
        names.push("abstract unix sockets");
    }
    if scope.contains(Scope::SIGNAL) {
        names.push("signals");
    }
    names.join(", ")
}

/// A built Landlock ruleset: an fd the kernel made, ready for
/// [`restrict_self`](Ruleset::restrict_self) or a
/// [`Sandbox`](crate::Sandbox)'s child.
pub struct Ruleset {
    fd: OwnedFd,
    abi: u32,
    not_enforced: Vec<String>,
}

impl Ruleset {
    /// The ABI version it was built for.
    #[must_use]
    pub fn abi(&self) -> u32 {
        self.abi
    }

    /// What best effort left out (empty when everything is enforced).
    #[must_use]
    pub fn not_enforced(&self) -> &[String] {
        &self.not_enforced
    }

    /// Restricts the calling thread (and what it starts from now on) by
    /// the ruleset. Threads that already exist are not restricted: call it
    /// before starting any, or in each.
    ///
    /// # Errors
    /// `EPERM` without `no_new_privs` or `CAP_SYS_ADMIN` in the thread's
    /// user namespace; `E2BIG` past 16 stacked restrictions.
    pub fn restrict_self(&self) -> Result<()> {
        sys::landlock_restrict_self(self.fd.as_fd()).map_err(|e| {
            if e.errno() == libc::EPERM {
                e.with_detail("it needs no_new_privs or CAP_SYS_ADMIN in the user namespace")
            } else {
                e
            }
        })
    }
}

impl fmt::Debug for Ruleset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ruleset")
            .field("fd", &self.fd.as_raw_fd())
            .field("abi", &self.abi)
            .field("not_enforced", &self.not_enforced)
            .finish()
    }
}

impl AsFd for Ruleset {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Ruleset {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<Ruleset> for OwnedFd {
    fn from(ruleset: Ruleset) -> OwnedFd {
        ruleset.fd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_by_abi() {
        assert!(AccessFs::of_abi(0).is_empty());
        assert_eq!(AccessFs::of_abi(1).bits(), 0x1fff);
        assert!(!AccessFs::of_abi(1).contains(AccessFs::REFER));
        assert!(AccessFs::of_abi(2).contains(AccessFs::REFER));
        assert!(AccessFs::of_abi(3).contains(AccessFs::TRUNCATE));
        assert!(!AccessFs::of_abi(4).contains(AccessFs::IOCTL_DEV));
        assert_eq!(AccessFs::of_abi(5), AccessFs::all());
        assert_eq!(AccessFs::of_abi(7), AccessFs::all());
        assert!(AccessNet::of_abi(3).is_empty());
        assert_eq!(AccessNet::of_abi(4), AccessNet::all());
        assert!(Scope::of_abi(5).is_empty());
        assert_eq!(Scope::of_abi(6), Scope::all());
        assert!(!AccessFs::READ_WRITE.contains(AccessFs::EXECUTE));
        assert!(AccessFs::READ_WRITE.contains(AccessFs::REFER | AccessFs::TRUNCATE));
    }

    #[test]
    fn what_each_abi_cannot_enforce() {
        let mut p = Landlock::new();
        p.connect_tcp(443).scope(Scope::SIGNAL);
        let at = |abi| p.not_enforced_at(abi);
        assert!(at(0)[0].contains("no Landlock"), "{:?}", at(0));
        assert_eq!(at(1).len(), 4, "{:?}", at(1));
        assert!(at(2)[0].contains("truncation"), "{:?}", at(2));
        assert_eq!(at(3).len(), 3, "{:?}", at(3));
        assert!(at(4)[0].contains("ioctl on devices"), "{:?}", at(4));
        assert!(
            at(5)[0].contains("signals") && at(5).len() == 1,
            "{:?}",
            at(5)
        );
        assert!(at(6).is_empty() && at(7).is_empty());
        // Only what is handled counts: a policy without TRUNCATE is whole
        // at ABI 2, and REFER's absence at ABI 1 is stricter, not weaker.
        let mut p = Landlock::new();
        p.handle_fs(AccessFs::of_abi(1));
        assert!(p.not_enforced_at(1).is_empty());
    }
}

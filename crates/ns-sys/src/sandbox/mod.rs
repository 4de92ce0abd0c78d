//! Spawning a program into new namespaces: [`Sandbox`] and [`Child`].

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::caps::CapSet;
use crate::cgroup::{Cgroup, CgroupLimits, CgroupUsage};
use crate::landlock::Landlock;

use fd_core::{Error, ErrorKind, Result, SyscallResult};
use signal_fd::{ChildStatus, PidFd, Signal};

use crate::idmap::{IdKind, IdMap, write_gid_map, write_uid_map};
use crate::raw::{HOST_NAME_MAX, Namespaces};
use crate::sys;
use crate::sys::child::{self, MAX_FDS, Plan, Step};

mod fs;
mod steps;

use crate::spawn::{cloexec_pipe, exec_of, read_report, stdio_fds};

pub use fs::{Bind, OverlayUpper};
use fs::{FsOp, Made, tidy};

/// What a child's stdin, stdout or stderr is.
#[derive(Debug, Default)]
pub enum Stdio {
    /// The caller's own.
    #[default]
    Inherit,
    /// `/dev/null`.
    Null,
    /// A new pipe; the caller's end is in [`Child`].
    Piped,
    /// This fd.
    Fd(OwnedFd),
}

/// A program to run in new namespaces, built like
/// [`std::process::Command`].
///
/// Safe to use from a multithreaded program: everything that allocates is
/// done before the new process is made (`clone3`); the new process makes
/// only raw syscalls, closes every fd it was not given, resets the signal
/// mask and dispositions, and reports a failed step (which one, and the
/// errno) through a close-on-exec pipe, so [`spawn`](Sandbox::spawn)
/// returns it as an error naming the step.
///
/// What it sets up, in order, in the new process:
/// 1. The id maps (written by the parent while the child waits): by
///    default root inside is the caller outside.
/// 2. The mount namespace's propagation made private, recursively, so
///    nothing leaks back to the caller's mounts.
/// 3. With a [`root`](Sandbox::root): the root bind-mounted on itself, the
///    [`bind`](Sandbox::bind) mounts, a minimal `/dev` (a tmpfs with
///    `null`, `zero`, `full`, `random`, `urandom`, `tty` bind-mounted from
///    the host, and the `fd`, `stdin`, `stdout`, `stderr` links), a tmpfs
///    `/tmp`, a new `/proc` for a new pid namespace, then
///    `pivot_root(".", ".")` and the old root detached; read-only if asked.
/// 4. Host and domain name, `no_new_privs`, the seccomp filter, the
///    working directory, the fds, and `execve`.
///
/// A new pid namespace makes the first process pid 1: orphans in the
/// namespace are reparented to it, signals without a handler are ignored
/// by it, and when it exits the kernel kills every process left in the
/// namespace. By default ([`init`](Sandbox::init)) pid 1 is a minimal init
/// of ours that reaps orphans, passes every signal it gets on to the
/// program, and exits with the program's status (128 + n for a death by
/// signal n).
#[derive(Debug)]
pub struct Sandbox {
    program: OsString,
    args: Vec<OsString>,
    env_clear: bool,
    env: BTreeMap<OsString, Option<OsString>>,
    cwd: Option<PathBuf>,
    stdio: [Stdio; 3],
    fds: Vec<(OwnedFd, RawFd)>,
    sync_fd: Option<OwnedFd>,
    namespaces: Namespaces,
    uid_map: Option<Vec<IdMap>>,
    gid_map: Option<Vec<IdMap>>,
    hostname: Option<OsString>,
    domainname: Option<OsString>,
    root: Option<PathBuf>,
    read_only_root: bool,
    fs_ops: Vec<FsOp>,
    overlay: Option<Vec<PathBuf>>,
    proc: Option<bool>,
    dev: Option<bool>,
    tmp: Option<bool>,
    no_new_privs: bool,
    new_session: bool,
    caps: Capabilities,
    rlimits: Vec<(Resource, Option<u64>, Option<u64>)>,
    death_signal: Option<Signal>,
    landlock: Option<Landlock>,
    loopback: bool,
    id_map_helpers: bool,
    cgroup: Option<(Option<PathBuf>, CgroupLimits)>,
    seccomp: Option<Vec<u64>>,
    init: Option<bool>,
    ids: Option<(u32, u32)>,
}

/// What [`Sandbox::capabilities`] chose, as `Debug` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capabilities {
    /// Unset: what the new namespaces give (root inside a new user
    /// namespace has every capability over it), as under `unshare`.
    AsTheNamespacesGive,
    /// Only these, every other dropped.
    Only(CapSet),
}

/// How long a sandbox's cgroup may take to empty once killed.
const CGROUP_DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Numbers the cgroups this process makes for sandboxes.
static CGROUPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Sandbox {
    /// A sandbox for `program` (searched in `PATH`, inside the new root,
    /// when it has no `/`), with no namespace yet.
    pub fn new(program: impl AsRef<OsStr>) -> Sandbox {
        Sandbox {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            stdio: [Stdio::Inherit, Stdio::Inherit, Stdio::Inherit],
            fds: Vec::new(),
            sync_fd: None,
            namespaces: Namespaces::empty(),
            uid_map: None,
            gid_map: None,
            hostname: None,
            domainname: None,
            root: None,
            read_only_root: false,
            fs_ops: Vec::new(),
            overlay: None,
            proc: None,
            dev: None,
            tmp: None,
            no_new_privs: false,
            new_session: false,
            caps: Capabilities::AsTheNamespacesGive,
            rlimits: Vec::new(),
            death_signal: None,
            landlock: None,
            loopback: true,
            id_map_helpers: false,
            cgroup: None,
            seccomp: None,
            init: None,
            ids: None,
        }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Sandbox {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Sandbox {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Sandbox {
        self.env
            .insert(key.as_ref().to_owned(), Some(value.as_ref().to_owned()));
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Sandbox {
        self.env.insert(key.as_ref().to_owned(), None);
        self
    }

    /// Starts from an empty environment instead of the caller's.
    pub fn env_clear(&mut self) -> &mut Sandbox {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The working directory (inside the new root).
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Sandbox {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// The child's stdin.
    pub fn stdin(&mut self, stdio: Stdio) -> &mut Sandbox {
        self.stdio[0] = stdio;
        self
    }

    /// The child's stdout.
    pub fn stdout(&mut self, stdio: Stdio) -> &mut Sandbox {
        self.stdio[1] = stdio;
        self
    }

    /// The child's stderr.
    pub fn stderr(&mut self, stdio: Stdio) -> &mut Sandbox {
        self.stdio[2] = stdio;
        self
    }

    /// An fd the sandbox holds open for as long as it runs, and the program
    /// never sees (bwrap's `--sync-fd`): whoever has the other end of a
    /// pipe or socket learns that everything in the sandbox has ended when
    /// it reaches end of file, even if this process was killed meanwhile.
    /// The sandbox's init holds it; without a pid namespace (or with
    /// [`init(false)`](Sandbox::init)) a supervising process is forked
    /// for it, as bwrap does, which passes on signals and ends as the
    /// program did.
    pub fn sync_fd(&mut self, fd: OwnedFd) -> &mut Sandbox {
        self.sync_fd = Some(fd);
        self
    }

    /// Passes `fd` to the child as fd number `target` (3 or more). Every
    /// other fd is closed in the child.
    pub fn pass_fd(&mut self, fd: OwnedFd, target: RawFd) -> &mut Sandbox {
        self.fds.push((fd, target));
        self
    }

    /// Namespaces to create (added to those already asked for).
    pub fn unshare(&mut self, namespaces: Namespaces) -> &mut Sandbox {
        self.namespaces |= namespaces;
        self
    }

    /// The uid map of a new user namespace (several ranges need
    /// `CAP_SETUID`). Default: root inside is the caller's uid outside.
    pub fn uid_map(&mut self, maps: Vec<IdMap>) -> &mut Sandbox {
        self.uid_map = Some(maps);
        self
    }

    /// The gid map of a new user namespace. Default: group 0 inside is the
    /// caller's gid outside (with `setgroups` denied, as the kernel
    /// requires of an unprivileged caller).
    pub fn gid_map(&mut self, maps: Vec<IdMap>) -> &mut Sandbox {
        self.gid_map = Some(maps);
        self
    }

    /// The uid and gid the program runs as inside a new user namespace
    /// (default 0 and 0: root of the namespace). They must be mapped.
    pub fn ids(&mut self, uid: u32, gid: u32) -> &mut Sandbox {
        self.ids = Some((uid, gid));
        self
    }

    /// The host name in a new UTS namespace (implies one).
    pub fn hostname(&mut self, name: impl AsRef<OsStr>) -> &mut Sandbox {
        self.hostname = Some(name.as_ref().to_owned());
        self.namespaces |= Namespaces::UTS;
        self
    }

    /// The NIS domain name in a new UTS namespace (implies one).
    pub fn domainname(&mut self, name: impl AsRef<OsStr>) -> &mut Sandbox {
        self.domainname = Some(name.as_ref().to_owned());
        self.namespaces |= Namespaces::UTS;
        self
    }

    /// A new root directory (implies a mount namespace): by default it
    /// gets a minimal `/dev`, a tmpfs `/tmp` and, with a pid namespace, its
    /// own `/proc`. Mount points missing in it are made there (on the
    /// caller's filesystem; the mounts stay in the sandbox) and removed
    /// again when the child is reaped: see [`Child::left_in_root`].
    pub fn root(&mut self, dir: impl AsRef<Path>) -> &mut Sandbox {
        self.root = Some(dir.as_ref().to_owned());
        self.namespaces |= Namespaces::MNT;
        self
    }

    /// A new root that is an overlay: `lowers` read-only (the first on
    /// top; `/` makes a writable copy of the whole system), under a tmpfs
    /// upper layer that goes with the sandbox, so the program can write
    /// anywhere and nothing reaches the lowers. Each lower is one
    /// filesystem: mounts below it are not part of the overlay (bind them
    /// in). Gets a minimal `/dev`, a tmpfs `/tmp` and a new `/proc` as a
    /// [`root`](Sandbox::root) does, and implies a mount namespace;
    /// overlayfs in a user namespace needs Linux 5.11. Not with
    /// [`root`](Sandbox::root).
    pub fn overlay_root<I, P>(&mut self, lowers: I) -> &mut Sandbox
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        self.overlay = Some(
            lowers
                .into_iter()
                .map(|p| p.as_ref().to_path_buf())
                .collect(),
        );
        self.namespaces |= Namespaces::MNT;
        self
    }

    /// Makes the new root read-only (its own mount only: `/dev`, `/tmp`,
    /// `/proc` and writable binds stay writable).
    pub fn read_only_root(&mut self, read_only: bool) -> &mut Sandbox {
        self.read_only_root = read_only;
        self
    }

    /// A bind mount (implies a mount namespace).
    pub fn bind(&mut self, bind: Bind) -> &mut Sandbox {
        self.fs_op(FsOp::Bind(bind))
    }

    fn fs_op(&mut self, op: FsOp) -> &mut Sandbox {
        self.fs_ops.push(op);
        self.namespaces |= Namespaces::MNT;
        self
    }

    /// A new tmpfs at `path` (made there when missing, see
    /// [`root`](Sandbox::root)), `nosuid` and `nodev`, with this mode
    /// (bwrap's default is 0755) and at most `size` bytes (default: half
    /// the memory, the kernel's). Implies a mount namespace.
    pub fn tmpfs(&mut self, path: impl AsRef<Path>, size: Option<u64>, mode: u32) -> &mut Sandbox {
        self.fs_op(FsOp::Tmpfs {
            target: path.as_ref().to_path_buf(),
            size,
            mode,
        })
    }

    /// A directory at `path` (and its parents), with `mode` when given.
    ///
    /// Entries are made only where they cannot change the caller's files:
    /// on a tmpfs the sandbox mounted before (a [`tmpfs`](Sandbox::tmpfs),
    /// `/tmp`), or in the new [`root`](Sandbox::root) as a mount point
    /// removed when the sandbox ends; elsewhere (the host tree, through a
    /// bind) a missing one is refused before anything runs, and so is a
    /// mode for one that was there.
    pub fn dir(&mut self, path: impl AsRef<Path>, mode: Option<u32>) -> &mut Sandbox {
        self.fs_op(FsOp::Dir {
            path: path.as_ref().to_path_buf(),
            mode,
        })
    }

    /// A symlink at `link` pointing to `target` (bwrap's `--symlink
    /// TARGET LINK`), where [`dir`](Sandbox::dir) would make a directory.
    pub fn symlink(&mut self, target: impl AsRef<Path>, link: impl AsRef<Path>) -> &mut Sandbox {
        self.fs_op(FsOp::Symlink {
            target: target.as_ref().to_path_buf(),
            link: link.as_ref().to_path_buf(),
        })
    }

    /// A new file at `path` with these contents and mode (bwrap's `--file`;
    /// with `read_only`, its `--ro-bind-data`): only on a tmpfs the
    /// sandbox mounts, so nothing is ever written into the caller's files.
    /// The bytes are copied into the child's plan here.
    pub fn file(
        &mut self,
        path: impl AsRef<Path>,
        contents: impl Into<Vec<u8>>,
        mode: u32,
        read_only: bool,
    ) -> &mut Sandbox {
        self.fs_op(FsOp::File {
            path: path.as_ref().to_path_buf(),
            contents: contents.into(),
            mode,
            read_only,
        })
    }

    /// Makes the mount at `path` read-only (bwrap's `--remount-ro`): the
    /// mount it is on, not those below.
    pub fn remount_ro(&mut self, path: impl AsRef<Path>) -> &mut Sandbox {
        self.fs_op(FsOp::RemountRo(path.as_ref().to_path_buf()))
    }

    /// Sets the mode of `path` (bwrap's `--chmod`): only for what is the
    /// sandbox's own (on its tmpfs, or made by it).
    pub fn chmod(&mut self, path: impl AsRef<Path>, mode: u32) -> &mut Sandbox {
        self.fs_op(FsOp::Chmod {
            path: path.as_ref().to_path_buf(),
            mode,
        })
    }

    /// An overlay at `path` (bwrap's `--overlay`, `--tmp-overlay`,
    /// `--ro-overlay`): `lowers` read-only, the first on top (overlayfs's
    /// order; bwrap's `--overlay-src` gives the bottom first), under
    /// `upper`. Nothing is written to a lower; with
    /// [`OverlayUpper::Dir`] the writes go to your upper directory, as
    /// asked. Each lower is one filesystem (mounts below it are not part
    /// of it); overlayfs in a user namespace needs Linux 5.11.
    pub fn overlay<I, P>(
        &mut self,
        lowers: I,
        upper: OverlayUpper,
        path: impl AsRef<Path>,
    ) -> &mut Sandbox
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        self.fs_op(FsOp::Overlay {
            lowers: lowers
                .into_iter()
                .map(|l| l.as_ref().to_path_buf())
                .collect(),
            upper,
            target: path.as_ref().to_path_buf(),
        })
    }

    /// An mqueue filesystem at `path` (bwrap's `--mqueue`): the POSIX
    /// message queues of the sandbox's IPC namespace, which must be new.
    pub fn mqueue(&mut self, path: impl AsRef<Path>) -> &mut Sandbox {
        self.fs_op(FsOp::Mqueue(path.as_ref().to_path_buf()))
    }

    /// Mount a new `/proc` (default: with a new pid and mount namespace).
    pub fn mount_proc(&mut self, on: bool) -> &mut Sandbox {
        self.proc = Some(on);
        self
    }

    /// A minimal `/dev` in the new root (default: on with a root).
    pub fn minimal_dev(&mut self, on: bool) -> &mut Sandbox {
        self.dev = Some(on);
        self
    }

    /// A tmpfs `/tmp` (default: on with a root).
    pub fn tmpfs_tmp(&mut self, on: bool) -> &mut Sandbox {
        self.tmp = Some(on);
        self
    }

    /// `PR_SET_NO_NEW_PRIVS`: execve never grants privileges (setuid bits,
    /// file capabilities).
    pub fn no_new_privs(&mut self, on: bool) -> &mut Sandbox {
        self.no_new_privs = on;
        self
    }

    /// `setsid()` in the child: the program runs in a new session with no
    /// controlling terminal, so it cannot push input into the caller's
    /// terminal (`TIOCSTI`) or be stopped by its job control, as bwrap's
    /// `--new-session`. Off by default, as `unshare`'s: a shell run
    /// interactively in the sandbox needs the terminal.
    pub fn new_session(&mut self, on: bool) -> &mut Sandbox {
        self.new_session = on;
        self
    }

    /// The capabilities the program keeps; the rest are dropped from its
    /// bounding, effective, permitted, inheritable and ambient sets after
    /// every setup step (which need them) and before `execve`, so neither
    /// it nor a setuid or file-capability program it runs can get them
    /// back. `CapSet::EMPTY` is bwrap's `--cap-drop ALL`.
    ///
    /// Unset (the default), the program keeps what the sandbox gives it,
    /// as under `unshare`: in a new user namespace, root inside with every
    /// capability over that namespace (so `mount` works inside). That is
    /// the choice to make for trusted tools; for untrusted code, drop them.
    /// Kept capabilities are also raised as ambient, so a program running
    /// as another uid keeps them past `execve` (as bwrap's `--cap-add`);
    /// the program must run as root inside for the drop itself (it needs
    /// `CAP_SETPCAP`).
    pub fn capabilities(&mut self, keep: CapSet) -> &mut Sandbox {
        self.caps = Capabilities::Only(keep);
        self
    }

    /// A resource limit for the program (`prlimit64` in the child, before
    /// `execve`): `soft` and `hard`, `None` for unlimited. A hard limit
    /// can only be raised with `CAP_SYS_RESOURCE` (in the initial user
    /// namespace); a soft limit over the hard one is refused when the
    /// sandbox is spawned. Repeatable; the last one for a resource wins.
    pub fn rlimit(
        &mut self,
        resource: Resource,
        soft: Option<u64>,
        hard: Option<u64>,
    ) -> &mut Sandbox {
        self.rlimits.retain(|(r, _, _)| *r != resource);
        self.rlimits.push((resource, soft, hard));
        self
    }

    /// `PR_SET_PDEATHSIG`: the child gets `signal` when the thread that
    /// spawned it exits (a thread, not the process: spawn from a thread
    /// that lives as long as the child should).
    pub fn death_signal(&mut self, signal: Signal) -> &mut Sandbox {
        self.death_signal = Some(signal);
        self
    }

    /// A cgroup of its own for each spawn, made below `parent` (default:
    /// this process's own cgroup) with these limits, entered by the new
    /// process as it is made (`CLONE_INTO_CGROUP`), so everything it runs
    /// is in it from the first instruction. When the program has ended and
    /// been reaped, whatever is left in the cgroup (a daemon it started) is
    /// killed, its usage is kept ([`Child::usage`]) and the cgroup removed.
    ///
    /// A limit whose controller is not enabled for the new cgroup is an
    /// error naming the directory and what is missing; so is a parent the
    /// caller may not write.
    pub fn cgroup(&mut self, parent: Option<PathBuf>, limits: CgroupLimits) -> &mut Sandbox {
        self.cgroup = Some((parent, limits));
        self
    }

    /// Write the id maps with shadow's setuid helpers `newuidmap` and
    /// `newgidmap` when this process could not write them itself (no
    /// `CAP_SETUID`/`CAP_SETGID`): then an unprivileged caller may map the
    /// ranges `/etc/subuid` and `/etc/subgid` give it
    /// ([`subordinate_ids`](crate::subordinate_ids)), so a full range of
    /// users exists inside, and `setgroups` stays allowed there.
    pub fn id_map_helpers(&mut self, on: bool) -> &mut Sandbox {
        self.id_map_helpers = on;
        self
    }

    /// Whether the loopback device of a new network namespace is brought
    /// up (default: yes, as bwrap does; `unshare --net` leaves it down).
    /// Without a new network namespace it does nothing.
    pub fn loopback(&mut self, up: bool) -> &mut Sandbox {
        self.loopback = up;
        self
    }

    /// A [`Landlock`] policy the program runs under: its ruleset is built
    /// (and its paths opened, as this process sees them) when the sandbox
    /// is spawned, and the child restricts itself after every mount, id and
    /// capability step and before the seccomp filter, so the setup is not
    /// confined and the program and everything it starts are.
    ///
    /// Needs `no_new_privs` or `CAP_SYS_ADMIN` in the child's user
    /// namespace (root in a new one has it unless its capabilities are
    /// dropped).
    pub fn landlock(&mut self, policy: Landlock) -> &mut Sandbox {
        self.landlock = Some(policy);
        self
    }

    /// A seccomp filter loaded last before `execve`: a compiled
    /// [`seccomp_lite::Program`] (from a `Filter`, a rule file, an OCI
    /// profile, or `Program::from_bytes` for what `seccomp_export_bpf`
    /// wrote), already checked as the kernel checks it. It needs
    /// `no_new_privs` or `CAP_SYS_ADMIN`; the instructions are copied
    /// into the child's plan here, before the clone.
    pub fn seccomp_filter(&mut self, program: &seccomp_lite::Program) -> &mut Sandbox {
        let words = program
            .instructions()
            .iter()
            .map(|i| {
                let mut bytes = [0u8; 8];
                bytes[..2].copy_from_slice(&i.code.to_ne_bytes());
                bytes[2] = i.jt;
                bytes[3] = i.jf;
                bytes[4..].copy_from_slice(&i.k.to_ne_bytes());
                u64::from_ne_bytes(bytes)
            })
            .collect();
        self.seccomp = Some(words);
        self
    }

    /// Whether pid 1 of a new pid namespace is our reaping init (default)
    /// or the program itself.
    pub fn init(&mut self, on: bool) -> &mut Sandbox {
        self.init = Some(on);
        self
    }

    fn environment(&self) -> Vec<(OsString, OsString)> {
        let mut vars: BTreeMap<OsString, OsString> = if self.env_clear {
            BTreeMap::new()
        } else {
            std::env::vars_os().collect()
        };
        for (k, v) in &self.env {
            match v {
                Some(v) => vars.insert(k.clone(), v.clone()),
                None => vars.remove(k),
            };
        }
        vars.into_iter().collect()
    }

    /// Starts the program.
    ///
    /// # Errors
    /// - [`ErrorKind::InvalidInput`] before anything starts: a root that is
    ///   missing or not a directory, a bind source that is missing or a
    ///   target that is not absolute, a host name over 64 bytes, maps
    ///   without a user namespace or that break the kernel's rules, fd
    ///   numbers that clash, a NUL byte in a string.
    /// - A failed step in the child: the error's call is
    ///   `Sandbox::spawn`, its errno the step's, and its detail names the
    ///   step (`bind-mount /usr on /srv/root/usr: …`).
    /// - The program's exec failed: the call is `execve`, with its errno
    ///   (`ENOENT`: not found, the shell's 127; `EACCES`, `ENOEXEC`: found
    ///   but not executable, 126) and a detail naming the program (`execve
    ///   of "sh" (searched in PATH inside the sandbox)`).
    /// - [`ErrorKind::PermissionDenied`] (`EPERM`) from `clone3`: namespaces
    ///   other than user need `CAP_SYS_ADMIN` (add a user namespace), or
    ///   user namespaces are refused by policy.
    pub fn spawn(&self) -> Result<Child> {
        if self.vfork_style() {
            return self.spawn_vfork_style();
        }
        self.spawn_stopped()?.start()
    }

    /// Whether this spawn can share our memory until its `execve`, as
    /// `posix_spawn` does (`CLONE_VM | CLONE_VFORK`): nothing to do between
    /// the clone and the child's setup (no id maps: no user namespace), no
    /// flag only `clone3` takes (`CLONE_NEWTIME`, `CLONE_INTO_CGROUP`), and
    /// no init, which never calls `execve`. Otherwise the child is a copy
    /// (`clone3` without `CLONE_VM`, as `fork`).
    fn vfork_style(&self) -> bool {
        let ns = self.namespaces;
        !ns.intersects(Namespaces::USER | Namespaces::TIME)
            && self.cgroup.is_none()
            && self.sync_fd.is_none()
            && !(ns.contains(Namespaces::PID) && self.init.unwrap_or(true))
    }

    /// [`spawn`](Sandbox::spawn) the vfork way: this thread is suspended
    /// until the child has run its steps and called `execve` (or failed
    /// and exited), so its report is complete when the clone returns.
    fn spawn_vfork_style(&self) -> Result<Child> {
        let Prepared {
            plan,
            descriptions,
            parent_ends,
            child_ends,
            pipes,
            flags,
            mut made,
            ..
        } = self.prepare(false)?;
        debug_assert!(pipes.is_none());
        let (pid, pidfd) =
            sys::vfork_process(u64::from(flags.bits()), &plan).map_err(explain_clone_error)?;
        drop(child_ends);
        let pid = pid.unsigned_abs();
        let pidfd = PidFd::from_clone(pidfd, pid);
        // The child has called execve or exited: what it stored is all.
        let report = plan.shared_report.load(std::sync::atomic::Ordering::SeqCst);
        if report != 0 {
            let _ = pidfd.wait();
            tidy(&mut made);
            let bytes = report.to_be_bytes();
            let step = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            let errno = i32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
            return Err(step_error(step, errno, &descriptions, &self.program, &plan));
        }
        let [stdin, stdout, stderr] = parent_ends;
        Ok(Child {
            pid,
            pidfd,
            stdin: stdin.map(File::from),
            stdout: stdout.map(File::from),
            stderr: stderr.map(File::from),
            made,
            cgroup: None,
            usage: None,
        })
    }

    /// Makes the new process and its namespaces (and writes its id maps)
    /// but holds it before its first setup step, so the caller can see it
    /// (its pid, its namespaces through `/proc/PID/ns`), configure it from
    /// outside (a veth into its network namespace, a cgroup limit) and
    /// then [`start`](Stopped::start) it, as bwrap's `--info-fd` and
    /// `--block-fd` allow. Dropping a [`Stopped`] kills it.
    ///
    /// # Errors
    /// As [`spawn`](Sandbox::spawn) up to the clone and the id maps.
    pub fn spawn_stopped(&self) -> Result<Stopped> {
        let prepared = self.prepare(true)?;
        let Prepared {
            plan,
            descriptions,
            parent_ends,
            child_ends,
            pipes,
            flags,
            uid_map,
            gid_map,
            made,
        } = prepared;
        let Some((go_write, report_read)) = pipes else {
            return Err(Error::from_errno("pipe2", libc::EBADF).with_context("Sandbox::spawn"));
        };
        let cgroup = match &self.cgroup {
            None => None,
            Some((parent, limits)) => {
                let parent = match parent {
                    Some(p) => p.clone(),
                    None => {
                        crate::cgroup::own_cgroup().map_err(|e| e.with_context("Sandbox::spawn"))?
                    }
                };
                let n = CGROUPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let name = format!("butter-{}-{n}", std::process::id());
                Some(
                    Cgroup::create(&parent, &name, limits)
                        .map_err(|e| e.with_context("Sandbox::spawn"))?,
                )
            }
        };
        let (pid, pidfd) = sys::clone3_process(
            u64::from(flags.bits()),
            &plan,
            cgroup.as_ref().map(AsFd::as_fd),
        )
        .map_err(explain_clone_error)?;
        // Ours from here: the child's ends of the pipes close in this process.
        drop(child_ends);
        let pid = pid.unsigned_abs();
        let pidfd = PidFd::from_clone(pidfd, pid);
        let stopped = Stopped {
            pid,
            pidfd: Some(pidfd),
            go_write: Some(go_write),
            report_read,
            plan,
            descriptions,
            program: self.program.clone(),
            parent_ends,
            made,
            cgroup,
        };
        let helpers = self.id_map_helpers
            && !(fd_core::probe::has_capability(7).unwrap_or(false)
                && fd_core::probe::has_capability(6).unwrap_or(false));
        if let Some(maps) = &uid_map {
            if helpers {
                crate::idmap::write_map_with_helper(pid, IdKind::User, maps)?;
            } else {
                write_uid_map(pid, maps)?;
            }
        }
        if let Some(maps) = &gid_map {
            if helpers {
                crate::idmap::write_map_with_helper(pid, IdKind::Group, maps)?;
            } else {
                write_gid_map(pid, maps)?;
            }
        }
        Ok(stopped)
    }

    /// Runs the program with stdout and stderr captured (stdin `/dev/null`
    /// unless set) and waits for it.
    ///
    /// # Errors
    /// As [`spawn`](Sandbox::spawn); reading the pipes or waiting.
    pub fn output(&mut self) -> Result<Output> {
        if matches!(self.stdio[0], Stdio::Inherit) {
            self.stdio[0] = Stdio::Null;
        }
        self.stdio[1] = Stdio::Piped;
        self.stdio[2] = Stdio::Piped;
        let result = self.spawn();
        self.stdio[1] = Stdio::Inherit;
        self.stdio[2] = Stdio::Inherit;
        result?.wait_with_output()
    }

    /// Everything up to the clone. `copy`: the child is a copy that waits
    /// for the parent's word on a pipe before its first step and reports
    /// on another; otherwise it is vfork-style and reports in the plan.
    fn prepare(&self, copy: bool) -> Result<Prepared> {
        const CALL: &str = "Sandbox::spawn";
        let refuse = |why: String| Err(Error::invalid_input_in(CALL, "clone3", why));
        let mut flags = self.namespaces;
        let mnt = flags.contains(Namespaces::MNT);
        let pid_ns = flags.contains(Namespaces::PID);
        if self.program.is_empty() {
            return refuse("no program to run".into());
        }
        if (self.uid_map.is_some() || self.gid_map.is_some()) && !flags.contains(Namespaces::USER) {
            return refuse("id maps need a new user namespace (Namespaces::USER)".into());
        }
        for (what, name) in [
            ("host name", &self.hostname),
            ("domain name", &self.domainname),
        ] {
            if let Some(name) = name
                && name.len() > HOST_NAME_MAX
            {
                return refuse(format!(
                    "the {what} is {} bytes; the kernel takes at most {HOST_NAME_MAX}",
                    name.len()
                ));
            }
        }
        let want_proc = self.proc.unwrap_or(pid_ns && mnt);
        if let Some(root) = &self.root {
            match std::fs::metadata(root) {
                Err(e) => {
                    return Err(Error::from_io("stat", e)
                        .with_context(CALL)
                        .with_detail(format!("the new root {} cannot be used", root.display())));
                }
                Ok(m) if !m.is_dir() => {
                    return Err(Error::from_errno("stat", libc::ENOTDIR)
                        .with_context(CALL)
                        .with_kind(ErrorKind::InvalidInput)
                        .with_detail(format!(
                            "the new root {} is not a directory",
                            root.display()
                        )));
                }
                Ok(_) => {}
            }
        }
        for op in &self.fs_ops {
            let FsOp::Bind(bind) = op else { continue };
            if let Err(e) = std::fs::metadata(&bind.source) {
                return Err(Error::from_io("stat", e)
                    .with_context(CALL)
                    .with_kind(ErrorKind::InvalidInput)
                    .with_detail(format!(
                        "the bind source {} cannot be used",
                        bind.source.display()
                    )));
            }
        }
        if self.fds.len() + 3 > MAX_FDS {
            return refuse(format!("at most {} fds can be passed", MAX_FDS - 3));
        }
        let mut targets: Vec<RawFd> = Vec::new();
        for &(_, target) in &self.fds {
            if target < 3 {
                return refuse(format!(
                    "fd {target} is stdio: set it with stdin/stdout/stderr"
                ));
            }
            if targets.contains(&target) {
                return refuse(format!("fd {target} is passed twice"));
            }
            targets.push(target);
        }

        // Pipes for a copy: go (parent to child), report (child to parent).
        let (go, report) = if copy {
            (Some(cloexec_pipe()?), Some(cloexec_pipe()?))
        } else {
            (None, None)
        };
        let (stdio_fds, parent_ends, mut child_ends) = stdio_fds(&self.stdio)?;
        let mut fds: Vec<(RawFd, RawFd)> = Vec::new();
        let mut keep: Vec<RawFd> = Vec::new();
        for (target, fd) in (0..).zip(stdio_fds) {
            if fd < 0 {
                keep.push(target);
            } else {
                fds.push((fd, target));
            }
        }
        for (fd, target) in &self.fds {
            fds.push((fd.as_raw_fd(), *target));
        }

        let (uid_map, gid_map) = if flags.contains(Namespaces::USER) {
            let euid = rustix::process::geteuid().as_raw();
            let egid = rustix::process::getegid().as_raw();
            (
                Some(
                    self.uid_map
                        .clone()
                        .unwrap_or_else(|| vec![IdMap::one(0, euid)]),
                ),
                Some(
                    self.gid_map
                        .clone()
                        .unwrap_or_else(|| vec![IdMap::one(0, egid)]),
                ),
            )
        } else {
            (None, None)
        };
        // Check the maps now, before a process exists. (Only a new user
        // namespace has maps: otherwise the probes, a read of
        // /proc/self/status each, are not made.)
        let user_ns = uid_map.is_some();
        let privileged_uid = user_ns && fd_core::probe::has_capability(7).unwrap_or(false);
        let privileged_gid = user_ns && fd_core::probe::has_capability(6).unwrap_or(false);
        // Through newuidmap/newgidmap the helper checks /etc/subuid and
        // /etc/subgid; here only the kernel's own rules are.
        let helpers = self.id_map_helpers && !(privileged_uid && privileged_gid);
        let (privileged_uid, privileged_gid) =
            (privileged_uid || helpers, privileged_gid || helpers);
        if let Some(m) = &uid_map {
            crate::idmap::check_maps(
                IdKind::User,
                m,
                privileged_uid,
                rustix::process::geteuid().as_raw(),
            )?;
        }
        if let Some(m) = &gid_map {
            crate::idmap::check_maps(
                IdKind::Group,
                m,
                privileged_gid,
                rustix::process::getegid().as_raw(),
            )?;
        }
        // The Landlock ruleset is made here, as this process sees its paths;
        // the child only restricts itself with it.
        let ruleset = match &self.landlock {
            Some(policy) => Some(policy.create()?),
            None => None,
        };
        let last_cap = if matches!(self.caps, Capabilities::Only(_)) {
            std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .unwrap_or(40)
        } else {
            40 // unused: no capability step
        };
        let process = steps::build(&steps::Process {
            new_session: self.new_session,
            maps: match (&uid_map, &gid_map) {
                (Some(u), Some(g)) => Some((u.as_slice(), g.as_slice(), privileged_gid)),
                _ => None,
            },
            ids: self.ids,
            loopback: flags.contains(Namespaces::NET) && self.loopback,
            hostname: self.hostname.as_deref(),
            domainname: self.domainname.as_deref(),
            cwd: self.cwd.as_deref(),
            rlimits: &self.rlimits,
            caps: self.caps,
            last_cap,
            no_new_privs: self.no_new_privs,
            landlock: ruleset
                .as_ref()
                .map(|r| r.as_ref().map(|r| (r.as_raw_fd(), r.abi()))),
            seccomp: self.seccomp.as_deref(),
        })?;
        let built = fs::build(
            &fs::Setup {
                root: self.root.as_deref(),
                overlay: self.overlay.as_deref(),
                read_only_root: self.read_only_root,
                ops: &self.fs_ops,
                dev: self.dev.unwrap_or(true),
                tmp: self
                    .tmp
                    .unwrap_or(self.root.is_some() || self.overlay.is_some()),
                proc: want_proc,
                mnt,
                ipc: flags.contains(Namespaces::IPC),
            },
            &fs::Real,
        )?;
        let made = built.made;
        let (steps, descriptions): (Vec<Step>, Vec<String>) = process
            .before_fs
            .into_iter()
            .chain(built.steps)
            .chain(process.after_fs)
            .unzip();
        let ruleset_fd = ruleset.flatten().map(OwnedFd::from);

        let exec = exec_of(CALL, &self.program, &self.args, &self.environment())?;

        if self.root.is_some() {
            flags |= Namespaces::MNT;
        }
        let pid1 = pid_ns && self.init.unwrap_or(true);
        let plan = Plan {
            go: go.as_ref().map_or(-1, |(r, _)| r.as_raw_fd()),
            report: report.as_ref().map_or(-1, |(_, w)| w.as_raw_fd()),
            shared_report: std::sync::atomic::AtomicU64::new(0),
            death_signal: self.death_signal.map_or(0, Signal::raw),
            steps,
            fds,
            keep,
            init: pid1 || self.sync_fd.is_some(),
            init_is_pid1: pid1,
            hold: self.sync_fd.as_ref().map_or(-1, AsRawFd::as_raw_fd),
            exec,
        };
        let pipes = match (go, report) {
            (Some((go_read, go_write)), Some((report_read, report_write))) => {
                child_ends.push(go_read);
                child_ends.push(report_write);
                Some((go_write, report_read))
            }
            _ => None,
        };
        child_ends.extend(ruleset_fd);
        Ok(Prepared {
            plan,
            descriptions,
            parent_ends,
            child_ends,
            pipes,
            flags,
            uid_map,
            gid_map,
            made,
        })
    }
}

/// The error for a failed step of the child: the call that failed, its
/// errno, and the step's description. The program's own exec is `execve`
/// (so a caller can tell "not found" from a setup failure, as a shell's 127
/// and 126 do).
fn step_error(
    step: u32,
    errno: i32,
    descriptions: &[String],
    program: &OsStr,
    plan: &Plan,
) -> Error {
    let what = describe_step(step, descriptions, program);
    let call = child::step_call(step, &plan.steps);
    Error::from_errno(call, errno)
        .with_context("Sandbox::spawn")
        .with_detail(what)
}

/// A clone's `EPERM`, explained.
fn explain_clone_error(e: Error) -> Error {
    if e.errno() == libc::EPERM {
        e.with_detail(
            "new namespaces other than user need CAP_SYS_ADMIN: add a user namespace, \
             or user namespaces are refused by policy (butter doctor says which)",
        )
    } else {
        e
    }
}

/// Everything made before the clone.
struct Prepared {
    plan: Plan,
    descriptions: Vec<String>,
    parent_ends: [Option<OwnedFd>; 3],
    child_ends: Vec<OwnedFd>,
    /// For a copy: our ends of the go and report pipes.
    pipes: Option<(OwnedFd, OwnedFd)>,
    flags: Namespaces,
    uid_map: Option<Vec<IdMap>>,
    gid_map: Option<Vec<IdMap>>,
    /// Mount points the child makes in the caller's root.
    made: Vec<(PathBuf, Made)>,
}

fn describe_step(step: u32, descriptions: &[String], program: &OsStr) -> String {
    match step {
        child::STEP_FDS => {
            "install the child's fds (stdio and passed fds) and close the rest".into()
        }
        child::STEP_INIT => "fork the program from the pid-1 init".into(),
        child::STEP_EXEC => {
            let name = program.to_string_lossy();
            if program.as_bytes().contains(&b'/') {
                format!("execve of {name:?}")
            } else {
                format!("execve of {name:?} (searched in PATH inside the sandbox)")
            }
        }
        n => descriptions
            .get(n as usize)
            .cloned()
            .unwrap_or_else(|| format!("setup step {n}")),
    }
}

/// A resource [`Sandbox::rlimit`] limits (`RLIMIT_*`), named as `prlimit`
/// and nsjail name them (`as`, `core`, `cpu`, `fsize`, `nofile`, `nproc`,
/// `stack`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// `RLIMIT_AS`: address space, bytes.
    As,
    /// `RLIMIT_CORE`: core file size, bytes.
    Core,
    /// `RLIMIT_CPU`: CPU time, seconds.
    Cpu,
    /// `RLIMIT_DATA`: data segment, bytes.
    Data,
    /// `RLIMIT_FSIZE`: size of a file written, bytes.
    Fsize,
    /// `RLIMIT_LOCKS`: file locks.
    Locks,
    /// `RLIMIT_MEMLOCK`: locked memory, bytes.
    Memlock,
    /// `RLIMIT_MSGQUEUE`: POSIX message queue bytes.
    Msgqueue,
    /// `RLIMIT_NICE`: ceiling of the nice value (20 - limit).
    Nice,
    /// `RLIMIT_NOFILE`: open fds (one more than the highest fd number).
    Nofile,
    /// `RLIMIT_NPROC`: processes of the user.
    Nproc,
    /// `RLIMIT_RSS`: resident set (ignored by Linux).
    Rss,
    /// `RLIMIT_RTPRIO`: real-time priority ceiling.
    Rtprio,
    /// `RLIMIT_RTTIME`: real-time CPU time without a blocking call, µs.
    Rttime,
    /// `RLIMIT_SIGPENDING`: queued signals.
    Sigpending,
    /// `RLIMIT_STACK`: stack size, bytes.
    Stack,
}

impl Resource {
    /// Every resource, in the order of their names.
    pub const ALL: [Resource; 16] = [
        Resource::As,
        Resource::Core,
        Resource::Cpu,
        Resource::Data,
        Resource::Fsize,
        Resource::Locks,
        Resource::Memlock,
        Resource::Msgqueue,
        Resource::Nice,
        Resource::Nofile,
        Resource::Nproc,
        Resource::Rss,
        Resource::Rtprio,
        Resource::Rttime,
        Resource::Sigpending,
        Resource::Stack,
    ];

    /// The lower-case name (`nofile`).
    pub fn name(self) -> &'static str {
        match self {
            Resource::As => "as",
            Resource::Core => "core",
            Resource::Cpu => "cpu",
            Resource::Data => "data",
            Resource::Fsize => "fsize",
            Resource::Locks => "locks",
            Resource::Memlock => "memlock",
            Resource::Msgqueue => "msgqueue",
            Resource::Nice => "nice",
            Resource::Nofile => "nofile",
            Resource::Nproc => "nproc",
            Resource::Rss => "rss",
            Resource::Rtprio => "rtprio",
            Resource::Rttime => "rttime",
            Resource::Sigpending => "sigpending",
            Resource::Stack => "stack",
        }
    }

    /// The kernel's `RLIMIT_*` number.
    #[allow(
        clippy::unnecessary_cast,
        clippy::cast_sign_loss,
        reason = "the C library's type is u32 on glibc, c_int on musl; the values are small"
    )]
    pub fn raw(self) -> u32 {
        let n = match self {
            Resource::As => libc::RLIMIT_AS,
            Resource::Core => libc::RLIMIT_CORE,
            Resource::Cpu => libc::RLIMIT_CPU,
            Resource::Data => libc::RLIMIT_DATA,
            Resource::Fsize => libc::RLIMIT_FSIZE,
            Resource::Locks => libc::RLIMIT_LOCKS,
            Resource::Memlock => libc::RLIMIT_MEMLOCK,
            Resource::Msgqueue => libc::RLIMIT_MSGQUEUE,
            Resource::Nice => libc::RLIMIT_NICE,
            Resource::Nofile => libc::RLIMIT_NOFILE,
            Resource::Nproc => libc::RLIMIT_NPROC,
            Resource::Rss => libc::RLIMIT_RSS,
            Resource::Rtprio => libc::RLIMIT_RTPRIO,
            Resource::Rttime => libc::RLIMIT_RTTIME,
            Resource::Sigpending => libc::RLIMIT_SIGPENDING,
            Resource::Stack => libc::RLIMIT_STACK,
        };
        n as u32
    }

    fn show(soft: u64, hard: u64) -> String {
        let one = |v: u64| {
            if v == u64::MAX {
                "unlimited".to_owned()
            } else {
                v.to_string()
            }
        };
        format!("{}:{}", one(soft), one(hard))
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Resource {
    type Err = Error;

    /// A name as [`Resource::name`] gives it, or `RLIMIT_NOFILE` style.
    fn from_str(s: &str) -> Result<Resource> {
        let lower = s.to_ascii_lowercase();
        let name = lower.strip_prefix("rlimit_").unwrap_or(&lower);
        Resource::ALL
            .into_iter()
            .find(|r| r.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Resource::ALL.iter().map(|r| r.name()).collect();
                Error::invalid_input_in(
                    "Resource::from_str",
                    "prlimit64",
                    format!(
                        "{s:?} is not a resource limit (one of {})",
                        names.join(", ")
                    ),
                )
            })
    }
}

/// A sandboxed process made and held before its setup, from
/// [`Sandbox::spawn_stopped`]: its namespaces exist, its id maps are
/// written, nothing of the setup or the program has run. Dropped without
/// [`start`](Stopped::start), it is killed and reaped (and what was made
/// for it removed).
pub struct Stopped {
    pid: u32,
    pidfd: Option<PidFd>,
    go_write: Option<OwnedFd>,
    report_read: OwnedFd,
    plan: Plan,
    descriptions: Vec<String>,
    program: OsString,
    parent_ends: [Option<OwnedFd>; 3],
    made: Vec<(PathBuf, Made)>,
    cgroup: Option<Cgroup>,
}

impl Stopped {
    /// Its pid, in the caller's pid namespace.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its cgroup, with [`Sandbox::cgroup`].
    #[must_use]
    pub fn cgroup(&self) -> Option<&Cgroup> {
        self.cgroup.as_ref()
    }

    /// Lets it run its setup and the program.
    ///
    /// # Errors
    /// As [`Sandbox::spawn`] for the steps and the exec.
    pub fn start(mut self) -> Result<Child> {
        let Some(go) = self.go_write.take() else {
            return Err(Error::from_errno("write", libc::EBADF).with_context("Stopped::start"));
        };
        rustix::io::write(&go, b"g").syscall("write")?;
        drop(go);
        self.finish()
    }

    /// After the word to go (or a vfork-style clone): waits for the report
    /// pipe to close (at the program's `execve`) or to name a failed step.
    fn finish(mut self) -> Result<Child> {
        let Some(pidfd) = self.pidfd.take() else {
            return Err(Error::from_errno("read", libc::EBADF).with_context("Stopped::start"));
        };
        let abandon = |e: Error| {
            let _ = pidfd.send_signal(Signal::KILL);
            let _ = pidfd.wait();
            e
        };
        if let Some((step, errno)) = read_report(&self.report_read).map_err(abandon)? {
            let _ = pidfd.wait();
            tidy(&mut self.made);
            return Err(step_error(
                step,
                errno,
                &self.descriptions,
                &self.program,
                &self.plan,
            ));
        }
        let [stdin, stdout, stderr] = std::mem::take(&mut self.parent_ends);
        Ok(Child {
            pid: self.pid,
            pidfd,
            stdin: stdin.map(File::from),
            stdout: stdout.map(File::from),
            stderr: stderr.map(File::from),
            made: std::mem::take(&mut self.made),
            cgroup: self.cgroup.take(),
            usage: None,
        })
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Some(pidfd) = self.pidfd.take() {
            let _ = pidfd.send_signal(Signal::KILL);
            let _ = pidfd.wait();
            tidy(&mut self.made);
        }
    }
}

impl fmt::Debug for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stopped")
            .field("pid", &self.pid)
            .field("cgroup", &self.cgroup.as_ref().map(Cgroup::path))
            .finish_non_exhaustive()
    }
}

/// A program started by [`Sandbox::spawn`].
pub struct Child {
    pub(crate) pid: u32,
    pub(crate) pidfd: PidFd,
    /// The write end of its stdin, with [`Stdio::Piped`].
    pub stdin: Option<File>,
    /// The read end of its stdout, with [`Stdio::Piped`].
    pub stdout: Option<File>,
    /// The read end of its stderr, with [`Stdio::Piped`].
    pub stderr: Option<File>,
    /// Mount points it made in the caller's root, removed once it ended.
    pub(crate) made: Vec<(PathBuf, Made)>,
    /// The cgroup made for it, killed and removed once it ended.
    pub(crate) cgroup: Option<Cgroup>,
    /// What that cgroup used, read just before it was removed.
    pub(crate) usage: Option<CgroupUsage>,
}

/// What a program printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// How it ended.
    pub status: ChildStatus,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
    /// What its cgroup used, with [`Sandbox::cgroup`].
    pub usage: Option<CgroupUsage>,
}

impl Child {
    /// Its pid, in the caller's pid namespace.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its pidfd: poll it, wait on it, signal it (no pid-reuse race).
    pub fn pidfd(&self) -> &PidFd {
        &self.pidfd
    }

    /// Its pidfd, for an async wait (`signal_fd::AsyncPidFd`) or a
    /// `poll`/`epoll` loop.
    pub fn into_pidfd(self) -> PidFd {
        self.pidfd
    }

    /// Sends `signal` through the pidfd.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`] once it has been reaped.
    pub fn kill(&self, signal: Signal) -> Result<()> {
        self.pidfd.send_signal(signal)
    }

    /// Waits for it to end, reaps it and returns how it ended. Closes our
    /// end of its stdin first, as `std` does, so a program reading it sees
    /// the end.
    ///
    /// # Errors
    /// As [`PidFd::wait`].
    pub fn wait(&mut self) -> Result<ChildStatus> {
        drop(self.stdin.take());
        let status = self.pidfd.wait()?;
        self.ended()?;
        Ok(status)
    }

    /// After the reap: the mount points made in the root removed; the
    /// cgroup made for it killed (whatever the program left running),
    /// its usage kept, and removed.
    fn ended(&mut self) -> Result<()> {
        tidy(&mut self.made);
        if let Some(cgroup) = self.cgroup.take() {
            cgroup.kill()?;
            self.usage = Some(cgroup.usage()?);
            cgroup.remove(CGROUP_DRAIN)?;
        }
        Ok(())
    }

    /// The cgroup made for it (with [`Sandbox::cgroup`]), until it has
    /// ended: freeze it, read its usage, kill everything in it.
    pub fn cgroup(&self) -> Option<&Cgroup> {
        self.cgroup.as_ref()
    }

    /// What its cgroup used (CPU time, peak memory, peak processes), once
    /// it has ended and been reaped; `None` without a cgroup of its own.
    pub fn usage(&self) -> Option<CgroupUsage> {
        self.usage
    }

    /// Reaps it if it has ended.
    ///
    /// # Errors
    /// As [`PidFd::try_wait`].
    pub fn try_wait(&mut self) -> Result<Option<ChildStatus>> {
        let status = self.pidfd.try_wait()?;
        if status.is_some() {
            self.ended()?;
        }
        Ok(status)
    }

    /// The mount points it made in the new root (those missing there
    /// before: `dev`, `tmp`, `proc`, bind targets and their parents) that
    /// are still there. The mounts live in the sandbox's mount namespace
    /// and go with it, but their mount points are made on the caller's
    /// filesystem: they are removed once it has ended and been reaped
    /// ([`wait`](Child::wait), [`try_wait`](Child::try_wait),
    /// [`wait_with_output`](Child::wait_with_output)), each if it is still
    /// an empty directory or empty file. What is listed here after that is
    /// what could not be removed (the program or someone else put
    /// something in it); a child never reaped through this type (its pidfd
    /// taken with [`into_pidfd`](Child::into_pidfd)) leaves them all.
    pub fn left_in_root(&self) -> Vec<PathBuf> {
        self.made.iter().map(|(p, _)| p.clone()).collect()
    }

    /// Reads its stdout and stderr to the end (those piped), then waits.
    ///
    /// # Errors
    /// Reading the pipes; as [`Child::wait`].
    pub fn wait_with_output(mut self) -> Result<Output> {
        drop(self.stdin.take());
        let err_pipe = self.stderr.take();
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut f) = err_pipe {
                f.read_to_end(&mut buf).map(|_| buf)
            } else {
                Ok(buf)
            }
        });
        let mut stdout = Vec::new();
        if let Some(f) = self.stdout.as_mut() {
            f.read_to_end(&mut stdout).syscall("read")?;
        }
        let stderr = reader
            .join()
            .map_err(|_| Error::from_errno("read", libc::EIO))?
            .syscall("read")?;
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
            usage: self.usage,
        })
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.pid)
            .field("pidfd", &self.pidfd.as_fd().as_raw_fd())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_parse() {
        let b: Bind = "/usr:/mnt/usr:ro".parse().unwrap();
        assert_eq!(
            (b.source.to_str(), b.target.to_str(), b.read_only),
            (Some("/usr"), Some("/mnt/usr"), true)
        );
        let b: Bind = "/srv".parse().unwrap();
        assert_eq!(
            (b.source, b.target, b.read_only),
            ("/srv".into(), "/srv".into(), false)
        );
        let b: Bind = "/srv:ro".parse().unwrap();
        assert_eq!((b.target.to_str(), b.read_only), (Some("/srv"), true));
        assert!(":x".parse::<Bind>().is_err());
    }
}

//! `butter run`, `butter enter`, `butter ns`: a command in new namespaces,
//! a command inside a running container, and a process's namespaces.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use butter::ns::{
    AccessFs, Bind, CapSet, CgroupLimits, ChildStatus, Enter, IdMap, Landlock, Namespace,
    Namespaces, OverlayUpper, Resource, Sandbox, Scope, Target, landlock, namespaces_of,
};

use crate::json;
use crate::output::{Outcome, UsageError, exec_errno, fail, fail_exec, print};

/// The exit status a shell would give for how a program ended.
fn exit_code_of(status: ChildStatus) -> i32 {
    match status {
        ChildStatus::Exited(c) => c,
        ChildStatus::Killed { signal, .. } => 128 + signal.raw(),
        _ => 1,
    }
}

/// [`exit_code_of`] as the process's own.
fn exit_status(status: ChildStatus) -> ExitCode {
    ExitCode::from(u8::try_from(exit_code_of(status)).unwrap_or(1))
}

/// `butter run`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    help_template = crate::output::HELP_TEMPLATE,
    about = "Run a command in new namespaces, optionally in a new root",
    long_about = "Runs CMD in new namespaces, like `unshare --fork --pid --mount-proc -r`, \
plus a new root. Without namespace flags: new user, mount, pid, uts and ipc namespaces with \
root inside mapped to you outside, and a /proc of its own; that needs no privilege where user \
namespaces are allowed (butter doctor says). With --root DIR the command sees DIR as / (with a \
minimal /dev, a tmpfs /tmp, its own /proc), and --bind puts host paths into it; the mount \
points missing in DIR are made there and removed when the command ends (one that something was \
put into meanwhile stays, and is named on stderr). pid 1 is a \
small init that reaps orphans and passes signals on, unless --no-init. The command's exit \
status is passed through (128+N for a death by signal N)."
)]
pub struct RunArgs {
    /// A new user namespace.
    #[arg(short = 'U', long)]
    pub user: bool,
    /// A new pid namespace (with its own /proc when a mount namespace is new too).
    #[arg(short = 'p', long)]
    pub pid: bool,
    /// A new network namespace: only a loopback device, brought up (127.0.0.1 and ::1) as bwrap does.
    #[arg(short = 'n', long)]
    pub net: bool,
    /// A new mount namespace.
    #[arg(short = 'm', long)]
    pub mount: bool,
    /// A new UTS namespace (host and domain name).
    #[arg(short = 'u', long)]
    pub uts: bool,
    /// A new IPC namespace.
    #[arg(short = 'i', long)]
    pub ipc: bool,
    /// A new cgroup namespace.
    #[arg(short = 'C', long)]
    pub cgroup: bool,
    /// A new time namespace.
    #[arg(short = 'T', long)]
    pub time: bool,
    /// Map root inside to you outside (implies --user).
    #[arg(short = 'r', long)]
    pub map_root: bool,
    /// Map the first block of ids /etc/subuid and /etc/subgid give you to
    /// ids from 0 inside (with -r: root is you, the block from 1), through
    /// newuidmap and newgidmap, as unshare's --map-auto (implies --user).
    #[arg(long)]
    pub map_auto: bool,
    /// A uid range: OUTER,INNER,COUNT or INNER:OUTER:COUNT (as unshare),
    /// or `auto` (your first /etc/subuid block from 0); repeatable; written
    /// through newuidmap when you could not write it yourself (implies --user).
    #[arg(long, value_name = "OUTER,INNER,COUNT|auto", action = clap::ArgAction::Append)]
    pub map_users: Vec<String>,
    /// A gid range, as --map-users, from /etc/subgid.
    #[arg(long, value_name = "OUTER,INNER,COUNT|auto", action = clap::ArgAction::Append)]
    pub map_groups: Vec<String>,
    /// Use DIR as the root directory (implies --mount).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// With --root or --overlay-root: make the root read-only.
    #[arg(long)]
    pub ro: bool,
    /// A new root that is an overlay of LOWER directories (repeat it; the
    /// first is on top) under a tmpfs that goes with the command: it can
    /// write anywhere, nothing reaches LOWER (implies --mount; not with
    /// --root). Each LOWER is one filesystem: bind what is mounted below.
    #[arg(long, value_name = "LOWER", conflicts_with = "root")]
    pub overlay_root: Vec<PathBuf>,
    /// Bind-mount SRC at DST (DST defaults to SRC; `:ro` read-only); repeatable.
    #[arg(long, value_name = "SRC[:DST][:ro]")]
    pub bind: Vec<String>,
    /// Bind-mount SRC at DEST read-only (bwrap's --ro-bind); repeatable.
    #[arg(long, num_args = 2, value_names = ["SRC", "DEST"], action = clap::ArgAction::Append)]
    pub ro_bind: Vec<PathBuf>,
    /// Bind-mount SRC at DEST with its device nodes usable (bwrap's
    /// --dev-bind; the other binds are nodev); repeatable.
    #[arg(long, num_args = 2, value_names = ["SRC", "DEST"], action = clap::ArgAction::Append)]
    pub dev_bind: Vec<PathBuf>,
    /// A new tmpfs at DEST, nosuid and nodev (mode 0755 unless --perms);
    /// repeatable. Its mount point is made where missing: in --root DIR
    /// (removed afterwards) or on a tmpfs mounted before it.
    #[arg(long, value_name = "DEST", action = clap::ArgAction::Append)]
    pub tmpfs: Vec<PathBuf>,
    /// The size of the next --tmpfs, in bytes (k, m, g suffixes), as bwrap's.
    #[arg(long, value_name = "BYTES", action = clap::ArgAction::Append)]
    pub size: Vec<String>,
    /// The mode (octal) of the next --tmpfs, --dir, --file, --bind-data or
    /// --ro-bind-data, as bwrap's.
    #[arg(long, value_name = "OCTAL", action = clap::ArgAction::Append)]
    pub perms: Vec<String>,
    /// A directory at DEST (with its parents), where it can be made without
    /// changing your files: on a tmpfs of the sandbox's, or in --root DIR.
    #[arg(long, value_name = "DEST", action = clap::ArgAction::Append)]
    pub dir: Vec<PathBuf>,
    /// A symlink at DEST pointing to SRC (bwrap's order).
    #[arg(long, num_args = 2, value_names = ["SRC", "DEST"], action = clap::ArgAction::Append)]
    pub symlink: Vec<PathBuf>,
    /// A file at DEST with what can be read from FD (an fd you pass, as
    /// bwrap's --file), on a tmpfs of the sandbox's.
    #[arg(long, num_args = 2, value_names = ["FD", "DEST"], action = clap::ArgAction::Append)]
    pub file: Vec<String>,
    /// As --file, the file bound at DEST (bwrap's --bind-data).
    #[arg(long, num_args = 2, value_names = ["FD", "DEST"], action = clap::ArgAction::Append)]
    pub bind_data: Vec<String>,
    /// As --file, read-only (bwrap's --ro-bind-data).
    #[arg(long, num_args = 2, value_names = ["FD", "DEST"], action = clap::ArgAction::Append)]
    pub ro_bind_data: Vec<String>,
    /// Make the mount DEST is on read-only (bwrap's --remount-ro).
    #[arg(long, value_name = "DEST", action = clap::ArgAction::Append)]
    pub remount_ro: Vec<PathBuf>,
    /// Set the mode (octal) of PATH, which must be the sandbox's own (on its
    /// tmpfs or made by it), as bwrap's --chmod.
    #[arg(long, num_args = 2, value_names = ["OCTAL", "PATH"], action = clap::ArgAction::Append)]
    pub chmod: Vec<String>,
    /// An mqueue filesystem at DEST (needs --ipc), as bwrap's --mqueue.
    #[arg(long, value_name = "DEST", action = clap::ArgAction::Append)]
    pub mqueue: Vec<PathBuf>,
    /// A lower layer (read-only) of the next --overlay, --tmp-overlay or
    /// --ro-overlay; the first given is the lowest, as bwrap's.
    #[arg(long, value_name = "SRC", action = clap::ArgAction::Append)]
    pub overlay_src: Vec<PathBuf>,
    /// An overlay at DEST of the --overlay-src layers before it, its
    /// writes kept in RWSRC (WORKDIR: empty, on the same filesystem).
    #[arg(long, num_args = 3, value_names = ["RWSRC", "WORKDIR", "DEST"], action = clap::ArgAction::Append)]
    pub overlay: Vec<PathBuf>,
    /// An overlay at DEST of the --overlay-src layers before it, its
    /// writes on a tmpfs that goes with the sandbox.
    #[arg(long, value_name = "DEST", action = clap::ArgAction::Append)]
    pub tmp_overlay: Vec<PathBuf>,
    /// A read-only overlay at DEST of the (two or more) --overlay-src
    /// layers before it.
    #[arg(long, value_name = "DEST", action = clap::ArgAction::Append)]
    pub ro_overlay: Vec<PathBuf>,
    /// The host name inside (implies --uts).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Run the command as pid 1 itself, without the reaping init.
    #[arg(long)]
    pub no_init: bool,
    /// Run the command in a new session with no controlling terminal
    /// (setsid), so it cannot push input into yours (TIOCSTI) or be
    /// stopped by its job control; bwrap's --new-session.
    #[arg(long)]
    pub new_session: bool,
    /// Kill the command (SIGKILL) when butter exits; bwrap's
    /// --die-with-parent.
    #[arg(long)]
    pub die_with_parent: bool,
    /// Set no_new_privs: setuid programs and file capabilities give the
    /// command nothing.
    #[arg(long)]
    pub no_new_privs: bool,
    /// Drop a capability (CAP_NET_ADMIN, net_admin, or ALL) from every set,
    /// the bounding set included, before the command runs; repeatable.
    /// Without --cap-drop or --cap-add root inside keeps every capability
    /// over its namespace, as under unshare -r; --cap-drop ALL is bwrap's.
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Keep a capability that --cap-drop (or --sandbox) drops; repeatable.
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Untrusted code: --cap-drop ALL (but --cap-add), --new-session,
    /// --die-with-parent and --no-new-privs at once, and Landlock's scopes
    /// where the kernel has them (Linux 6.12+): no signal to a process
    /// outside the sandbox, no connection to an abstract unix socket made
    /// outside it.
    #[arg(long)]
    pub sandbox: bool,
    /// A resource limit, as prlimit: NAME=SOFT or NAME=SOFT:HARD, NAME one of as,
    /// core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile,
    /// nproc, rss, rtprio, rttime, sigpending, stack, a number or
    /// `unlimited` for each (HARD defaults to SOFT); repeatable.
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub rlimit: Vec<String>,
    /// Landlock: allow reading PATH and below; repeatable. Any --landlock-*
    /// path option confines the command's filesystem to the paths given
    /// (as you see them: with --root, the path under DIR or a bind's
    /// source), each with its rights; landrun's --ro.
    #[arg(long, value_name = "PATH")]
    pub landlock_ro: Vec<PathBuf>,
    /// Landlock: allow reading and executing under PATH (landrun's --rox).
    #[arg(long, value_name = "PATH")]
    pub landlock_rox: Vec<PathBuf>,
    /// Landlock: allow everything but executing under PATH (landrun's --rw).
    #[arg(long, value_name = "PATH")]
    pub landlock_rw: Vec<PathBuf>,
    /// Landlock: allow everything under PATH (landrun's --rwx).
    #[arg(long, value_name = "PATH")]
    pub landlock_rwx: Vec<PathBuf>,
    /// Landlock: allow binding TCP PORT; any TCP option denies every other
    /// TCP bind and connect (Linux 6.7+).
    #[arg(long, value_name = "PORT")]
    pub landlock_bind_tcp: Vec<u16>,
    /// Landlock: allow connecting to TCP PORT.
    #[arg(long, value_name = "PORT")]
    pub landlock_connect_tcp: Vec<u16>,
    /// Landlock: leave out, with a warning, what this kernel cannot enforce,
    /// instead of refusing to run.
    #[arg(long)]
    pub landlock_best_effort: bool,
    /// A seccomp filter for the command: a Docker/OCI JSON profile, a rule
    /// file (as `butter seccomp` takes) or raw BPF; loaded last before exec.
    #[arg(long, value_name = "FILE")]
    pub seccomp: Option<PathBuf>,
    /// Run the command in a cgroup of its own, made below yours (or
    /// --cgroup-parent), entered as it starts (not -C, a cgroup namespace); whatever it leaves running
    /// is killed when it ends, and the cgroup removed.
    #[arg(long)]
    pub new_cgroup: bool,
    /// Make the command's cgroup below DIR (a cgroup v2 directory you may
    /// write, such as one delegated to you); implies --new-cgroup.
    #[arg(long, value_name = "DIR")]
    pub cgroup_parent: Option<PathBuf>,
    /// memory.max of its cgroup, in bytes (k, m, g suffixes); implies
    /// --new-cgroup. Swap is limited to 0 with it.
    #[arg(long, value_name = "BYTES")]
    pub memory_max: Option<String>,
    /// pids.max of its cgroup: processes and threads; implies --new-cgroup.
    #[arg(long, value_name = "N")]
    pub pids_max: Option<u64>,
    /// cpu.max of its cgroup: QUOTA microseconds of CPU per PERIOD (default
    /// 100000), or a share of one CPU such as 0.5; implies --new-cgroup.
    #[arg(long, value_name = "QUOTA[/PERIOD]")]
    pub cpu_max: Option<String>,
    /// Write the child's pid and namespace ids as JSON to FD once it
    /// exists, as bwrap's --info-fd.
    #[arg(long, value_name = "FD")]
    pub info_fd: Option<u32>,
    /// Write JSON lines to FD: the child's pid and namespace ids once it
    /// exists, and its exit code (and what its cgroup used) when it ends,
    /// as bwrap's --json-status-fd.
    #[arg(long, value_name = "FD")]
    pub json_status_fd: Option<u32>,
    /// Hold the command, once its namespaces exist, until a byte can be
    /// read from FD (or it is closed), as bwrap's --block-fd.
    #[arg(long, value_name = "FD")]
    pub block_fd: Option<u32>,
    /// Keep FD open for as long as anything in the sandbox runs, and never
    /// give it to the command, as bwrap's --sync-fd: the other end of a
    /// pipe sees end of file once the sandbox has ended, even if this
    /// process was killed.
    #[arg(long, value_name = "FD")]
    pub sync_fd: Option<u32>,
    /// The command and its arguments (default: $SHELL, else /bin/sh).
    /// Options go before it (or before `--`); from the command's name on,
    /// every word is the command's.
    #[arg(trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

impl RunArgs {
    /// The namespaces asked for, or the default set.
    pub fn namespaces(&self) -> Namespaces {
        let mut ns = Namespaces::empty();
        for (on, flag) in [
            (
                self.user
                    || self.map_root
                    || self.map_auto
                    || !self.map_users.is_empty()
                    || !self.map_groups.is_empty(),
                Namespaces::USER,
            ),
            (self.pid, Namespaces::PID),
            (self.net, Namespaces::NET),
            (
                self.mount || self.root.is_some() || !self.overlay_root.is_empty(),
                Namespaces::MNT,
            ),
            (self.uts || self.hostname.is_some(), Namespaces::UTS),
            (self.ipc, Namespaces::IPC),
            (self.cgroup, Namespaces::CGROUP),
            (self.time, Namespaces::TIME),
        ] {
            if on {
                ns |= flag;
            }
        }
        let explicit = self.user
            || self.pid
            || self.net
            || self.mount
            || self.uts
            || self.ipc
            || self.cgroup
            || self.time;
        if !explicit {
            ns |= Namespaces::USER
                | Namespaces::MNT
                | Namespaces::PID
                | Namespaces::UTS
                | Namespaces::IPC;
        }
        ns
    }

    /// The sandbox these arguments describe; `matches` (the `run`
    /// subcommand's) give the order of the filesystem options, which is
    /// the order they are done in, as bwrap's.
    ///
    /// # Errors
    /// An option's value that does not parse.
    pub fn sandbox(&self, matches: &clap::ArgMatches) -> Result<Sandbox, UsageError> {
        let (program, args) = match self.command.split_first() {
            Some((p, rest)) => (p.clone(), rest.to_vec()),
            None => (
                std::env::var_os("SHELL").unwrap_or_else(|| "/bin/sh".into()),
                Vec::new(),
            ),
        };
        let mut s = Sandbox::new(program);
        let ns = self.namespaces();
        s.args(args).unshare(ns).init(!self.no_init);
        // -U alone keeps your ids inside; -r and the default map root.
        let ranges = !self.map_users.is_empty() || !self.map_groups.is_empty() || self.map_auto;
        let explicit_user = self.user && !self.map_root && !ranges;
        if ranges {
            let (uids, gids) = self.id_ranges()?;
            s.uid_map(uids).gid_map(gids).id_map_helpers(true);
        }
        if ns.contains(Namespaces::USER) && explicit_user {
            let uid = rustix::process::geteuid().as_raw();
            let gid = rustix::process::getegid().as_raw();
            s.uid_map(vec![IdMap::one(uid, uid)])
                .gid_map(vec![IdMap::one(gid, gid)])
                .ids(uid, gid);
        }
        if self.ro && self.root.is_none() && self.overlay_root.is_empty() {
            return Err(UsageError(
                "--ro makes the new root read-only: it goes with --root or --overlay-root".into(),
            ));
        }
        if let Some(root) = &self.root {
            s.root(root);
        }
        if !self.overlay_root.is_empty() {
            s.overlay_root(&self.overlay_root);
        }
        s.read_only_root(self.ro);
        self.apply_fs_ops(&mut s, matches)?;
        if let Some(h) = &self.hostname {
            s.hostname(h);
        }
        for r in &self.rlimit {
            let (resource, soft, hard) = parse_rlimit(r)?;
            s.rlimit(resource, soft, hard);
        }
        s.new_session(self.new_session || self.sandbox)
            .no_new_privs(self.no_new_privs || self.sandbox);
        if self.die_with_parent || self.sandbox {
            s.death_signal(butter::ns::Signal::KILL);
        }
        if let Some(keep) = self.kept_caps()? {
            s.capabilities(keep);
        }
        if let Some(policy) = self.landlock()? {
            s.landlock(policy);
        }
        if let Some(limits) = self.cgroup_limits()? {
            s.cgroup(self.cgroup_parent.clone(), limits);
        }
        if let Some(path) = &self.seccomp {
            let program = crate::seccomp::load_program(path, None)
                .map_err(|e| UsageError(format!("--seccomp {}", e.0)))?;
            s.seccomp_filter(&program);
        }
        Ok(s)
    }

    /// The Landlock policy the options describe, if any; what this kernel
    /// cannot enforce is a usage error, or a warning with
    /// --landlock-best-effort.
    fn landlock(&self) -> Result<Option<Landlock>, UsageError> {
        let paths = [
            (&self.landlock_ro, AccessFs::READ),
            (&self.landlock_rox, AccessFs::READ_EXECUTE),
            (&self.landlock_rw, AccessFs::READ_WRITE),
            (&self.landlock_rwx, AccessFs::all()),
        ];
        let any_path = paths.iter().any(|(p, _)| !p.is_empty());
        let any_port = !self.landlock_bind_tcp.is_empty() || !self.landlock_connect_tcp.is_empty();
        let abi = landlock::abi();
        let scope = if self.sandbox && abi >= 6 {
            Scope::all()
        } else {
            if self.sandbox {
                eprintln!(
                    "butter run: warning: --sandbox: this kernel's Landlock (ABI {abi}) cannot \
                     keep the command from signalling processes outside or reaching abstract \
                     unix sockets (that needs ABI 6, Linux 6.12); add --pid and --net for that"
                );
            }
            Scope::empty()
        };
        if !any_path && !any_port && scope.is_empty() {
            if self.landlock_best_effort {
                return Err(UsageError(
                    "--landlock-best-effort goes with a --landlock-* path or port".into(),
                ));
            }
            return Ok(None);
        }
        let mut policy = Landlock::new();
        if !any_path {
            policy.handle_fs(AccessFs::empty());
        }
        for (list, rights) in paths {
            for p in list {
                policy.allow(p, rights);
            }
        }
        for &port in &self.landlock_bind_tcp {
            policy.bind_tcp(port);
        }
        for &port in &self.landlock_connect_tcp {
            policy.connect_tcp(port);
        }
        policy.scope(scope).best_effort(self.landlock_best_effort);
        // Strict, the sandbox refuses what the kernel cannot enforce (exit
        // 1, naming it); best effort runs without it and says so.
        if self.landlock_best_effort {
            for m in policy.not_enforced_at(abi) {
                eprintln!("butter run: warning: landlock: {m}; running without it");
            }
        }
        Ok(Some(policy))
    }

    /// The filesystem options in the order given, each at the index clap
    /// saw it; options with two values (SRC DEST) once.
    fn fs_ops<'a>(&'a self, m: &clap::ArgMatches) -> Vec<(usize, FsArg<'a>)> {
        let mut ops = Vec::new();
        let at = |id: &str, per: usize| -> Vec<usize> {
            m.indices_of(id)
                .map(|i| i.step_by(per).collect())
                .unwrap_or_default()
        };
        let pairs = |v: &'a [PathBuf]| v.chunks(2).map(|c| (c[0].as_path(), c[1].as_path()));
        let spairs = |v: &'a [String]| v.chunks(2).map(|c| (c[0].as_str(), c[1].as_str()));
        ops.extend(
            at("bind", 1)
                .into_iter()
                .zip(self.bind.iter().map(|b| FsArg::Bind(b))),
        );
        ops.extend(
            at("ro_bind", 2)
                .into_iter()
                .zip(pairs(&self.ro_bind).map(|(a, b)| FsArg::RoBind(a, b))),
        );
        ops.extend(
            at("dev_bind", 2)
                .into_iter()
                .zip(pairs(&self.dev_bind).map(|(a, b)| FsArg::DevBind(a, b))),
        );
        ops.extend(
            at("tmpfs", 1)
                .into_iter()
                .zip(self.tmpfs.iter().map(|p| FsArg::Tmpfs(p))),
        );
        ops.extend(
            at("size", 1)
                .into_iter()
                .zip(self.size.iter().map(|v| FsArg::Size(v))),
        );
        ops.extend(
            at("perms", 1)
                .into_iter()
                .zip(self.perms.iter().map(|v| FsArg::Perms(v))),
        );
        ops.extend(
            at("dir", 1)
                .into_iter()
                .zip(self.dir.iter().map(|p| FsArg::Dir(p))),
        );
        ops.extend(
            at("symlink", 2)
                .into_iter()
                .zip(pairs(&self.symlink).map(|(a, b)| FsArg::Symlink(a, b))),
        );
        for (id, list, ro) in [
            ("file", &self.file, None),
            ("bind_data", &self.bind_data, Some(false)),
            ("ro_bind_data", &self.ro_bind_data, Some(true)),
        ] {
            let flag = match id {
                "file" => "--file",
                "bind_data" => "--bind-data",
                _ => "--ro-bind-data",
            };
            ops.extend(
                at(id, 2)
                    .into_iter()
                    .zip(spairs(list).map(move |(fd, dest)| FsArg::File {
                        flag,
                        fd,
                        dest,
                        read_only: ro == Some(true),
                    })),
            );
        }
        ops.extend(
            at("remount_ro", 1)
                .into_iter()
                .zip(self.remount_ro.iter().map(|p| FsArg::RemountRo(p))),
        );
        ops.extend(
            at("chmod", 2)
                .into_iter()
                .zip(spairs(&self.chmod).map(|(m, p)| FsArg::Chmod(m, p))),
        );
        ops.extend(
            at("mqueue", 1)
                .into_iter()
                .zip(self.mqueue.iter().map(|p| FsArg::Mqueue(p))),
        );
        ops.extend(
            at("overlay_src", 1)
                .into_iter()
                .zip(self.overlay_src.iter().map(|p| FsArg::OverlaySrc(p))),
        );
        ops.extend(
            at("overlay", 3).into_iter().zip(
                self.overlay
                    .chunks(3)
                    .map(|c| FsArg::Overlay(&c[0], &c[1], &c[2])),
            ),
        );
        ops.extend(
            at("tmp_overlay", 1)
                .into_iter()
                .zip(self.tmp_overlay.iter().map(|p| FsArg::TmpOverlay(p))),
        );
        ops.extend(
            at("ro_overlay", 1)
                .into_iter()
                .zip(self.ro_overlay.iter().map(|p| FsArg::RoOverlay(p))),
        );
        ops.sort_by_key(|(i, _)| *i);
        ops
    }

    /// Applies the filesystem options in order; `--size` and `--perms`
    /// apply to the next option that takes them, as bwrap's.
    fn apply_fs_ops(&self, s: &mut Sandbox, m: &clap::ArgMatches) -> Result<(), UsageError> {
        let mut size: Option<(&str, u64)> = None;
        let mut perms: Option<(&str, u32)> = None;
        let dangling = |what: &str, takes: &str| {
            UsageError(format!(
                "{what} must be followed by {takes}, which it applies to"
            ))
        };
        // --overlay-src layers, lowest first, for the next overlay.
        let mut sources: Vec<&Path> = Vec::new();
        const SRC_DANGLES: &str = "--overlay-src must be followed by another --overlay-src or \
                                   one of --overlay, --tmp-overlay, or --ro-overlay";
        for (_, op) in self.fs_ops(m) {
            let is_overlay = matches!(
                op,
                FsArg::OverlaySrc(_)
                    | FsArg::Overlay(..)
                    | FsArg::TmpOverlay(_)
                    | FsArg::RoOverlay(_)
            );
            if !sources.is_empty() && !is_overlay {
                return Err(UsageError(SRC_DANGLES.into()));
            }
            let takes_perms = matches!(op, FsArg::Tmpfs(_) | FsArg::Dir(_) | FsArg::File { .. });
            if let Some((v, _)) = size
                && !matches!(op, FsArg::Tmpfs(_) | FsArg::Perms(_))
            {
                return Err(dangling(&format!("--size {v}"), "--tmpfs"));
            }
            if let Some((v, _)) = perms
                && !takes_perms
                && !matches!(op, FsArg::Size(_))
            {
                return Err(dangling(
                    &format!("--perms {v}"),
                    "--tmpfs, --dir, --file, --bind-data or --ro-bind-data",
                ));
            }
            match op {
                FsArg::Size(v) => size = Some((v, parse_size(v)?)),
                FsArg::Perms(v) => perms = Some((v, parse_mode("--perms", v)?)),
                FsArg::Bind(b) => {
                    let bind: Bind = b
                        .parse()
                        .map_err(|e: butter::Error| UsageError(format!("--bind {b}: {e}")))?;
                    s.bind(bind);
                }
                FsArg::RoBind(src, dest) => {
                    s.bind(Bind::new(src, dest).read_only());
                }
                FsArg::DevBind(src, dest) => {
                    s.bind(Bind::new(src, dest).devices());
                }
                FsArg::Tmpfs(dest) => {
                    s.tmpfs(
                        dest,
                        size.take().map(|(_, n)| n),
                        perms.take().map_or(0o755, |(_, m)| m),
                    );
                }
                FsArg::Dir(dest) => {
                    s.dir(dest, perms.take().map(|(_, m)| m));
                }
                FsArg::Symlink(src, dest) => {
                    s.symlink(src, dest);
                }
                FsArg::File {
                    flag,
                    fd,
                    dest,
                    read_only,
                } => {
                    let contents = read_fd(flag, fd)?;
                    let mode = perms
                        .take()
                        .map_or(if read_only { 0o444 } else { 0o666 }, |(_, m)| m);
                    s.file(dest, contents, mode, read_only);
                }
                FsArg::RemountRo(dest) => {
                    s.remount_ro(dest);
                }
                FsArg::Chmod(mode, path) => {
                    s.chmod(path, parse_mode("--chmod", mode)?);
                }
                FsArg::Mqueue(dest) => {
                    s.mqueue(dest);
                }
                FsArg::OverlaySrc(src) => sources.push(src),
                FsArg::Overlay(rw, work, dest) => {
                    if sources.is_empty() {
                        return Err(UsageError(
                            "--overlay requires at least one --overlay-src".into(),
                        ));
                    }
                    let upper = OverlayUpper::Dir {
                        upper: rw.to_path_buf(),
                        work: work.to_path_buf(),
                    };
                    s.overlay(sources.drain(..).rev(), upper, dest);
                }
                FsArg::TmpOverlay(dest) => {
                    if sources.is_empty() {
                        return Err(UsageError(
                            "--tmp-overlay requires at least one --overlay-src".into(),
                        ));
                    }
                    s.overlay(sources.drain(..).rev(), OverlayUpper::Tmpfs, dest);
                }
                FsArg::RoOverlay(dest) => {
                    if sources.len() < 2 {
                        return Err(UsageError(
                            "--ro-overlay requires at least two --overlay-src".into(),
                        ));
                    }
                    s.overlay(sources.drain(..).rev(), OverlayUpper::ReadOnly, dest);
                }
            }
        }
        if !sources.is_empty() {
            return Err(UsageError(SRC_DANGLES.into()));
        }
        if let Some((v, _)) = size {
            return Err(dangling(&format!("--size {v}"), "--tmpfs"));
        }
        if let Some((v, _)) = perms {
            return Err(dangling(
                &format!("--perms {v}"),
                "--tmpfs, --dir, --file, --bind-data or --ro-bind-data",
            ));
        }
        Ok(())
    }

    /// The uid and gid maps of --map-auto, --map-users and --map-groups;
    /// with -r root inside is you and the ranges go above it, as
    /// unshare's; without a range of one kind, your own id as root.
    fn id_ranges(&self) -> Result<(Vec<IdMap>, Vec<IdMap>), UsageError> {
        use butter::ns::{IdKind, subordinate_ids};
        let euid = rustix::process::geteuid().as_raw();
        let egid = rustix::process::getegid().as_raw();
        let auto = |kind: IdKind, who: u32| -> Result<IdMap, UsageError> {
            let (start, count) =
                subordinate_ids(kind, who).map_err(|e| UsageError(format!("--map-auto: {e}")))?;
            Ok(IdMap {
                inside: 0,
                outside: start,
                count,
            })
        };
        let parse = |flag: &str, spec: &str, kind: IdKind, who: u32| -> Result<IdMap, UsageError> {
            if spec == "auto" {
                return auto(kind, who);
            }
            let bad = || {
                UsageError(format!(
                    "{flag} {spec}: not OUTER,INNER,COUNT, INNER:OUTER:COUNT or auto"
                ))
            };
            let nums = |sep: char| -> Option<Vec<u32>> {
                let v: Vec<u32> = spec
                    .split(sep)
                    .map(|n| n.parse().ok())
                    .collect::<Option<_>>()?;
                (v.len() == 3).then_some(v)
            };
            if let Some(v) = nums(',') {
                Ok(IdMap {
                    inside: v[1],
                    outside: v[0],
                    count: v[2],
                })
            } else if let Some(v) = nums(':') {
                Ok(IdMap {
                    inside: v[0],
                    outside: v[1],
                    count: v[2],
                })
            } else {
                Err(bad())
            }
        };
        let mut uids = Vec::new();
        let mut gids = Vec::new();
        if self.map_auto {
            uids.push(auto(IdKind::User, euid)?);
            gids.push(auto(IdKind::Group, euid)?);
        }
        for spec in &self.map_users {
            uids.push(parse("--map-users", spec, IdKind::User, euid)?);
        }
        for spec in &self.map_groups {
            gids.push(parse("--map-groups", spec, IdKind::Group, euid)?);
        }
        // -r: root inside is you; a range that starts at 0 moves up by one
        // (one id shorter), as unshare splits it.
        let with_root = |ranges: Vec<IdMap>, own: u32| -> Vec<IdMap> {
            let mut out = vec![IdMap::one(0, own)];
            for m in ranges {
                if m.inside == 0 {
                    if m.count > 1 {
                        out.push(IdMap {
                            inside: 1,
                            outside: m.outside,
                            count: m.count - 1,
                        });
                    }
                } else {
                    out.push(m);
                }
            }
            out
        };
        if self.map_root || uids.is_empty() {
            uids = with_root(uids, euid);
        }
        if self.map_root || gids.is_empty() {
            gids = with_root(gids, egid);
        }
        Ok((uids, gids))
    }

    /// The cgroup limits, if any cgroup option is given.
    fn cgroup_limits(&self) -> Result<Option<CgroupLimits>, UsageError> {
        let wanted = self.new_cgroup
            || self.cgroup_parent.is_some()
            || self.memory_max.is_some()
            || self.pids_max.is_some()
            || self.cpu_max.is_some();
        if !wanted {
            return Ok(None);
        }
        let memory_max = match &self.memory_max {
            Some(v) => Some(parse_size(v).map_err(|_| {
                UsageError(format!(
                    "--memory-max {v}: not a size in bytes (k, m, g suffixes)"
                ))
            })?),
            None => None,
        };
        let cpu_max = match &self.cpu_max {
            Some(v) => Some(parse_cpu_max(v)?),
            None => None,
        };
        Ok(Some(CgroupLimits {
            memory_max,
            swap_max: memory_max.map(|_| 0),
            pids_max: self.pids_max,
            cpu_max,
        }))
    }

    /// The capabilities to keep, if any option says: every one, less the
    /// `--cap-drop`s (all of them with `--sandbox`), plus the `--cap-add`s.
    fn kept_caps(&self) -> Result<Option<CapSet>, UsageError> {
        if self.cap_drop.is_empty() && self.cap_add.is_empty() && !self.sandbox {
            return Ok(None);
        }
        let parse = |flag: &str, v: &str| {
            v.parse::<CapSet>()
                .map_err(|e: butter::Error| UsageError(format!("{flag} {v}: {e}")))
        };
        let mut keep = if self.sandbox {
            CapSet::EMPTY
        } else {
            CapSet::ALL
        };
        for d in &self.cap_drop {
            keep = CapSet::from_bits(keep.bits() & !parse("--cap-drop", d)?.bits());
        }
        for a in &self.cap_add {
            keep = CapSet::from_bits(keep.bits() | parse("--cap-add", a)?.bits());
        }
        Ok(Some(keep))
    }
}

/// One filesystem option of `butter run`, borrowed from the arguments.
enum FsArg<'a> {
    Bind(&'a str),
    RoBind(&'a Path, &'a Path),
    DevBind(&'a Path, &'a Path),
    Tmpfs(&'a Path),
    Size(&'a str),
    Perms(&'a str),
    Dir(&'a Path),
    Symlink(&'a Path, &'a Path),
    File {
        flag: &'static str,
        fd: &'a str,
        dest: &'a str,
        read_only: bool,
    },
    RemountRo(&'a Path),
    Chmod(&'a str, &'a str),
    Mqueue(&'a Path),
    OverlaySrc(&'a Path),
    Overlay(&'a Path, &'a Path, &'a Path),
    TmpOverlay(&'a Path),
    RoOverlay(&'a Path),
}

/// An octal mode, at most 07777.
fn parse_mode(flag: &str, text: &str) -> Result<u32, UsageError> {
    u32::from_str_radix(text.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| UsageError(format!("{flag} {text}: not an octal mode such as 0755")))
}

/// Bytes, with an optional k, m or g (powers of 1024).
fn parse_size(text: &str) -> Result<u64, UsageError> {
    let bad = || {
        UsageError(format!(
            "--size {text}: not a size in bytes (k, m, g suffixes)"
        ))
    };
    let lower = text.to_ascii_lowercase();
    let (digits, shift) = match lower.strip_suffix(['k', 'm', 'g']) {
        Some(d) => (
            d,
            match lower.chars().last() {
                Some('k') => 10,
                Some('m') => 20,
                _ => 30,
            },
        ),
        None => (lower.as_str(), 0),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(1 << shift).filter(|n| *n > 0).ok_or_else(bad)
}

/// `QUOTA[/PERIOD]` in microseconds, or a share of one CPU (`0.5`).
fn parse_cpu_max(text: &str) -> Result<(u64, u64), UsageError> {
    let bad = || {
        UsageError(format!(
            "--cpu-max {text}: not QUOTA[/PERIOD] microseconds (50000/100000) or a share of a CPU (0.5)"
        ))
    };
    if let Some((q, p)) = text.split_once('/') {
        let (q, p): (u64, u64) = (q.parse().map_err(|_| bad())?, p.parse().map_err(|_| bad())?);
        return if q > 0 && (1000..=1_000_000).contains(&p) {
            Ok((q, p))
        } else {
            Err(bad())
        };
    }
    if text.contains('.') {
        let share: f64 = text.parse().map_err(|_| bad())?;
        if !(share > 0.0 && share <= 1024.0) {
            return Err(bad());
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let quota = (share * 100_000.0).round() as u64;
        return Ok((quota.max(1000), 100_000));
    }
    let q: u64 = text.parse().map_err(|_| bad())?;
    if q == 0 {
        return Err(bad());
    }
    Ok((q, 100_000))
}

/// An fd you passed in (a shell's `3>file`), as a file of ours sharing
/// its offset, named in the error.
fn passed_fd(flag: &str, fd: u32) -> Result<std::fs::File, UsageError> {
    let n = i32::try_from(fd).map_err(|_| UsageError(format!("{flag} {fd}: not an fd number")))?;
    butter::fd_core::dup_inherited(n)
        .map(std::fs::File::from)
        .map_err(|e| UsageError(format!("{flag} {fd}: {e}")))
}

/// bwrap's info line: the child's pid and the ids of the namespaces made
/// for it, `"NAME-namespace": INODE`.
fn info_json(pid: u32, ns: Namespaces, pretty: bool) -> String {
    use std::os::unix::fs::MetadataExt;
    let mut out = if pretty {
        format!("{{\n    \"child-pid\": {pid}")
    } else {
        format!("{{ \"child-pid\": {pid}")
    };
    for (name, flag) in [
        ("cgroup", Namespaces::CGROUP),
        ("ipc", Namespaces::IPC),
        ("mnt", Namespaces::MNT),
        ("net", Namespaces::NET),
        ("pid", Namespaces::PID),
        ("uts", Namespaces::UTS),
    ] {
        // Only the new ones (bwrap always makes a mount namespace; a
        // host's id here would say nothing).
        if !ns.contains(flag) {
            continue;
        }
        if let Ok(m) = std::fs::metadata(format!("/proc/{pid}/ns/{name}")) {
            let sep = if pretty { ",\n    " } else { ", " };
            out.push_str(&format!("{sep}\"{name}-namespace\": {}", m.ino()));
        }
    }
    out.push_str(if pretty { "\n}\n" } else { " }\n" });
    out
}

/// The most a `--file` fd is read: the bytes go into the sandbox's plan.
const MAX_FILE: u64 = 64 << 20;

/// Everything that can be read from fd `text` (one you passed in), from
/// its offset on, at most [`MAX_FILE`] bytes.
fn read_fd(flag: &str, text: &str) -> Result<Vec<u8>, UsageError> {
    use std::io::Read;
    let fd: u32 = text
        .parse()
        .map_err(|_| UsageError(format!("{flag} {text}: not an fd number")))?;
    let file = passed_fd(flag, fd)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| UsageError(format!("{flag} {fd}: {e}")))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(UsageError(format!(
            "{flag} {fd}: over {} MiB, more than a file made in the sandbox's plan should hold",
            MAX_FILE >> 20
        )));
    }
    Ok(bytes)
}

/// `NAME=SOFT[:HARD]`, as `prlimit --NAME=SOFT:HARD` takes it: a number or
/// `unlimited` (`infinity`, `-1`) for each; HARD defaults to SOFT.
fn parse_rlimit(text: &str) -> Result<(Resource, Option<u64>, Option<u64>), UsageError> {
    let bad = |why: String| UsageError(format!("--rlimit {text}: {why}"));
    let (name, values) = text
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=SOFT[:HARD], such as nofile=1024:4096".into()))?;
    let resource: Resource = name
        .parse()
        .map_err(|e: butter::Error| bad(e.to_string()))?;
    let value = |v: &str| -> Result<Option<u64>, UsageError> {
        match v {
            "unlimited" | "infinity" | "-1" => Ok(None),
            n => n
                .parse::<u64>()
                .map(Some)
                .map_err(|_| bad(format!("{n:?} is not a number or `unlimited`"))),
        }
    };
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (value(s)?, value(h)?),
        None => {
            let v = value(values)?;
            (v, v)
        }
    };
    Ok((resource, soft, hard))
}

/// Runs `butter run`.
pub fn run(args: &RunArgs, matches: &clap::ArgMatches) -> Outcome {
    use std::io::{Read, Write};
    let mut sandbox = args.sandbox(matches)?;
    if let Some(fd) = args.sync_fd {
        sandbox.sync_fd(passed_fd("--sync-fd", fd)?.into());
    }
    let mut info = args
        .info_fd
        .map(|fd| passed_fd("--info-fd", fd))
        .transpose()?;
    let mut status_out = args
        .json_status_fd
        .map(|fd| passed_fd("--json-status-fd", fd))
        .transpose()?;
    let mut block = args
        .block_fd
        .map(|fd| passed_fd("--block-fd", fd))
        .transpose()?;
    // Held before its setup only when someone is told of it or holds it:
    // otherwise the plain spawn, which is vfork-style where it can be.
    let started = if info.is_none() && status_out.is_none() && block.is_none() {
        sandbox.spawn()
    } else {
        let stopped = match sandbox.spawn_stopped() {
            Ok(stopped) => stopped,
            Err(e) => return Ok(fail_exec(&e, exec_errno(&e))),
        };
        let ns = args.namespaces();
        // Write errors (a closed reader) do not stop the command, as bwrap's.
        if let Some(f) = info.as_mut() {
            let _ = f.write_all(info_json(stopped.pid(), ns, true).as_bytes());
        }
        drop(info);
        if let Some(f) = status_out.as_mut() {
            let _ = f.write_all(info_json(stopped.pid(), ns, false).as_bytes());
        }
        if let Some(f) = block.as_mut() {
            let mut byte = [0u8; 1];
            let _ = f.read(&mut byte);
        }
        drop(block);
        stopped.start()
    };
    let mut child = match started {
        Ok(child) => child,
        Err(e) => return Ok(fail_exec(&e, exec_errno(&e))),
    };
    let status = child.wait();
    // The mount points made in --root DIR are removed once the command
    // has ended; what someone put something into stays, and is named.
    let left = child.left_in_root();
    if !left.is_empty() {
        let names: Vec<String> = left.iter().map(|p| crate::output::escape_path(p)).collect();
        eprintln!(
            "butter run: left in the root (mount points made for the sandbox, no longer empty): {}",
            names.join(" ")
        );
    }
    let code = match &status {
        Ok(status) => exit_code_of(*status),
        Err(_) => 1,
    };
    if let Some(f) = status_out.as_mut() {
        let mut line = format!("{{ \"exit-code\": {code}");
        if let Some(u) = child.usage() {
            line.push_str(&format!(
                ", \"cpu-usec\": {}, \"user-usec\": {}, \"system-usec\": {}",
                u.cpu_usec, u.user_usec, u.system_usec
            ));
            if let Some(peak) = u.memory_peak {
                line.push_str(&format!(", \"memory-peak\": {peak}"));
            }
            if let Some(peak) = u.pids_peak {
                line.push_str(&format!(", \"pids-peak\": {peak}"));
            }
            if let Some(n) = u.oom_kills {
                line.push_str(&format!(", \"oom-kills\": {n}"));
            }
        }
        line.push_str(" }\n");
        let _ = f.write_all(line.as_bytes());
    }
    Ok(match status {
        Ok(status) => exit_status(status),
        Err(e) => fail(&e),
    })
}

/// `butter enter`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    help_template = crate::output::HELP_TEMPLATE,
    about = "Run a command inside a running container's namespaces",
    long_about = "Runs CMD in every namespace of a running process, in its root and working \
directory, like `nsenter -a -r -w -t PID`: the target by pid, or a container by name through \
docker, podman, lxc-info (LXC), lxc (LXD/Incus) or machinectl. Namespaces you already share are \
skipped. --user NAME takes a user of the container's own /etc/passwd and /etc/group (default: \
root when a user namespace is joined, else your own ids). As docker exec (and unlike nsenter) \
the command takes on the target's capabilities (bounding, effective, permitted, inheritable, \
ambient) and no_new_privs and starts in its cgroup, so it can do no more than the container's own \
processes (--no-confine, --no-cgroup keep yours). The default command is that user's shell. The \
exit status is passed through."
)]
#[command(group(clap::ArgGroup::new("container").args(["docker", "podman", "lxc", "lxd", "machine"])))]
pub struct EnterArgs {
    /// A docker container.
    #[arg(long, value_name = "NAME")]
    pub docker: Option<String>,
    /// A podman container.
    #[arg(long, value_name = "NAME")]
    pub podman: Option<String>,
    /// An LXC container (lxc-info).
    #[arg(long, value_name = "NAME")]
    pub lxc: Option<String>,
    /// An LXD or Incus container (lxc info).
    #[arg(long, value_name = "NAME")]
    pub lxd: Option<String>,
    /// A systemd-nspawn machine (machinectl).
    #[arg(long, value_name = "NAME")]
    pub machine: Option<String>,
    /// Only these namespaces (user,mnt,pid,uts,ipc,net,cgroup,time).
    #[arg(short = 'n', long = "ns", value_name = "NS,...", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Run as this user of the container (a name or a uid).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Keep your own capabilities and no_new_privs instead of taking on the
    /// target's (which the command gets by default, as under docker exec;
    /// nsenter keeps yours).
    #[arg(long)]
    pub no_confine: bool,
    /// Start in your own cgroup instead of the target's.
    #[arg(long)]
    pub no_cgroup: bool,
    /// The target's pid (without a container flag; with one, this is the
    /// command's name).
    #[arg(value_name = "PID")]
    pub pid: Option<OsString>,
    /// The command and its arguments. Options go before it (or before
    /// `--`), after the PID or before it; from the command's name on, every
    /// word is the command's.
    #[arg(trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

impl EnterArgs {
    /// The target and the command.
    ///
    /// # Errors
    /// No target, or a PID that is not a number.
    pub fn target(&self) -> Result<(Target, Vec<OsString>), UsageError> {
        let named = [
            self.docker.clone().map(Target::Docker),
            self.podman.clone().map(Target::Podman),
            self.lxc.clone().map(Target::Lxc),
            self.lxd.clone().map(Target::Lxd),
            self.machine.clone().map(Target::Machine),
        ]
        .into_iter()
        .flatten()
        .next();
        if let Some(t) = named {
            let command = self.pid.iter().chain(&self.command).cloned().collect();
            return Ok((t, command));
        }
        let Some(pid) = &self.pid else {
            return Err(UsageError(
                "a target is needed: a PID, or --docker/--podman/--lxc/--lxd/--machine NAME".into(),
            ));
        };
        let rest = &self.command[..];
        let pid = pid
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| UsageError(format!("{} is not a process id", pid.to_string_lossy())))?;
        // `butter enter PID -- CMD`: the `--` after the PID reaches us.
        let rest = match rest.split_first() {
            Some((dashes, cmd)) if dashes == "--" => cmd,
            _ => rest,
        };
        Ok((Target::Pid(pid), rest.to_vec()))
    }
}

/// Runs `butter enter`.
pub fn enter(args: &EnterArgs) -> Outcome {
    let (target, command) = args.target()?;
    let mut only = Namespaces::empty();
    for n in &args.namespaces {
        let kind: Namespace = n
            .parse()
            .map_err(|e: butter::Error| UsageError(format!("--ns: {e}")))?;
        only |= kind.flag();
    }
    let mut e = match Enter::target(&target) {
        Ok(e) => e,
        Err(err) => return Ok(fail(&err)),
    };
    if !only.is_empty() {
        e.namespaces(only);
    }
    if let Some(u) = &args.user {
        e.user(u.clone());
    }
    e.confine(!args.no_confine).join_cgroup(!args.no_cgroup);
    if let Some((program, rest)) = command.split_first() {
        e.command(program, rest);
    }
    Ok(match e.status() {
        Ok(status) => exit_status(status),
        Err(err) => fail_exec(&err, exec_errno(&err)),
    })
}

/// `butter ns`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    help_template = crate::output::HELP_TEMPLATE,
    about = "List a process's namespaces and which it shares with you",
    long_about = "Lists the namespaces of PID (default: this process) as `lsns -p PID` does for \
one process: the kind, the namespace's inode (its identity: two processes share a namespace \
exactly when these are equal), and whether you are in it too."
)]
pub struct NsArgs {
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
    /// The process (default: this one).
    #[arg(value_name = "PID")]
    pub pid: Option<u32>,
}

/// Runs `butter ns`.
pub fn ns(args: &NsArgs) -> Outcome {
    let entries = match namespaces_of(args.pid) {
        Ok(e) => e,
        Err(err) => return Ok(fail(&err)),
    };
    let pid = args.pid.unwrap_or_else(std::process::id);
    if args.json {
        let list: Vec<json::Value> = entries
            .iter()
            .map(|e| {
                json::json!({"type": e.kind.name(), "id": e.id.ino, "dev": e.id.dev, "shared": e.shared})
            })
            .collect();
        let mut o = json::Map::new();
        o.insert("pid".into(), pid.into());
        o.insert("namespaces".into(), list.into());
        return Ok(print(&json::line(o)));
    }
    let mut out = format!("{:<8} {:<12} {}\n", "NS", "ID", "SHARED");
    for e in &entries {
        out.push_str(&format!(
            "{:<8} {:<12} {}\n",
            e.kind.name(),
            e.id.ino,
            if e.shared { "yes" } else { "no" }
        ));
    }
    Ok(print(&out))
}

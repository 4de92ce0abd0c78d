//! Entering a running container: every namespace of its leader process,
//! its root and working directory, and a user of its own `/etc/passwd`.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use fd_core::{Error, ErrorKind, Result, SyscallResult};
use rustix::fs::{Mode, OFlags};
use signal_fd::{ChildStatus, PidFd};

use crate::cgroup::Cgroup;
use crate::container::{Target, User, lookup_user};
use crate::namespace::NsFd;
use crate::raw::{Namespace, Namespaces};
use crate::sandbox::{Child, Output, Stdio};
use crate::spawn::{DEFAULT_PATH, exec_of, read_report, stdio_fds};
use crate::sys;
use crate::sys::child::{self, EnterPlan};

/// Runs a command inside a running process's namespaces, as `nsenter -a
/// -t PID` does, for a container's leader above all.
///
/// What it does, in order:
/// 1. Pins the target with a pidfd, then opens each of its namespaces (by
///    the pidfd on Linux 6.11+, else `/proc/PID/ns/*`), its root and its
///    working directory, and checks the pidfd that the process is still
///    the same (no pid-reuse race). Namespaces the caller already shares
///    are skipped.
/// 2. Resolves the user in the target's own `/etc/passwd` and
///    `/etc/group`.
/// 3. Forks: joining user and mount namespaces needs a single-threaded
///    process, and pid and time namespaces apply to children only. The
///    child joins every namespace in one `setns(pidfd, flags)` where the
///    kernel allows it, else one by one in two passes (user last, then
///    user first), as util-linux `nsenter` does; then `fchdir` + `chroot`
///    into the target's root and `fchdir` into its working directory;
///    then supplementary groups, gid, uid.
/// 4. With a pid or time namespace it forks once more; the middle process
///    passes signals on and exits as the command does (dying of the same
///    signal). The command's exit status comes back through [`Child`].
#[derive(Debug)]
pub struct Enter {
    pid: u32,
    only: Option<Namespaces>,
    user: Option<String>,
    program: Option<OsString>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    root: bool,
    cwd: bool,
    confine: bool,
    cgroup: bool,
    stdio: [Stdio; 3],
}

impl Enter {
    /// Whether the command takes on the target's confinement (default:
    /// yes, as `docker exec` does): its capability bounding set, its
    /// effective, permitted and inheritable sets (never more than the
    /// command already has), `no_new_privs`, and its security module's
    /// label at `execve` (AppArmor's profile, written as `exec PROFILE` to
    /// the thread's `attr/apparmor/exec`; SELinux's context, to
    /// `attr/exec`) where one labels processes and the target's differs
    /// from ours, so it can do no more than the target's own processes. A
    /// label the module refuses to give us fails the spawn, naming it.
    pub fn confine(&mut self, on: bool) -> &mut Enter {
        self.confine = on;
        self
    }

    /// Whether the command starts in the target's cgroup (default: yes,
    /// with `CLONE_INTO_CGROUP`, when the target is in another cgroup v2
    /// than the caller), so the container's limits count it and its
    /// `cgroup.kill` ends it.
    pub fn join_cgroup(&mut self, on: bool) -> &mut Enter {
        self.cgroup = on;
        self
    }

    /// Enter process `pid`.
    pub fn new(pid: u32) -> Enter {
        Enter {
            pid,
            only: None,
            user: None,
            confine: true,
            cgroup: true,
            program: None,
            args: Vec::new(),
            env: Vec::new(),
            root: true,
            cwd: true,
            stdio: [Stdio::Inherit, Stdio::Inherit, Stdio::Inherit],
        }
    }

    /// Enter a container found by its tool.
    ///
    /// # Errors
    /// As [`Target::leader_pid`].
    pub fn target(target: &Target) -> Result<Enter> {
        Ok(Enter::new(target.leader_pid()?))
    }

    /// Only these namespaces (default: every one the caller does not
    /// already share).
    pub fn namespaces(&mut self, namespaces: Namespaces) -> &mut Enter {
        self.only = Some(namespaces);
        self
    }

    /// Run as this user of the target's `/etc/passwd` (a name or a uid).
    /// Default: root when entering a user namespace, else the caller's ids.
    pub fn user(&mut self, name: impl Into<String>) -> &mut Enter {
        self.user = Some(name.into());
        self
    }

    /// The command (default: the user's shell from the target's
    /// `/etc/passwd`, else `/bin/sh`).
    pub fn command<I, S>(&mut self, program: impl AsRef<OsStr>, args: I) -> &mut Enter
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.program = Some(program.as_ref().to_owned());
        self.args = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        self
    }

    /// Adds an environment variable (the environment starts with `PATH`,
    /// `TERM`, `HOME`, `USER`, `LOGNAME` and `SHELL`).
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Enter {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Whether to take the target's root (`chroot`) and working
    /// directory (default: both).
    pub fn root_and_cwd(&mut self, root: bool, cwd: bool) -> &mut Enter {
        self.root = root;
        self.cwd = cwd;
        self
    }

    /// The command's stdin.
    pub fn stdin(&mut self, stdio: Stdio) -> &mut Enter {
        self.stdio[0] = stdio;
        self
    }

    /// The command's stdout.
    pub fn stdout(&mut self, stdio: Stdio) -> &mut Enter {
        self.stdio[1] = stdio;
        self
    }

    /// The command's stderr.
    pub fn stderr(&mut self, stdio: Stdio) -> &mut Enter {
        self.stdio[2] = stdio;
        self
    }

    /// Runs the command with stdout and stderr captured (stdin
    /// `/dev/null` unless set) and waits for it.
    ///
    /// # Errors
    /// As [`Enter::spawn`]; reading the pipes or waiting.
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

    /// Runs the command and waits for it.
    ///
    /// # Errors
    /// As [`Enter::spawn`], and waiting.
    pub fn status(&self) -> Result<ChildStatus> {
        self.spawn()?.wait()
    }

    /// Starts the command inside the target.
    ///
    /// # Errors
    /// - [`ErrorKind::NotFound`] (`ESRCH`): no such process, or it exited
    ///   while we opened its namespaces.
    /// - [`ErrorKind::PermissionDenied`]: not allowed to open its
    ///   namespaces or root (another user's process without
    ///   `CAP_SYS_PTRACE`).
    /// - [`ErrorKind::NotFound`]: the user is not in the target's
    ///   `/etc/passwd`.
    /// - A failed step in the child: the error's detail names it (`join
    ///   the mnt namespace`, `chroot into the target's root`, `setgroups`)
    ///   with the errno; the program's exec failing is the call `execve`
    ///   (detail `execve of … inside the target`).
    pub fn spawn(&self) -> Result<Child> {
        const CALL: &str = "Enter::spawn";
        let pidfd = PidFd::open(self.pid).map_err(|e| {
            if e.errno() == libc::ESRCH {
                e.with_detail(format!("no process {}", self.pid))
            } else {
                e
            }
        })?;
        // 1. Open everything while the pidfd pins the process.
        let mut fds: Vec<(NsFd, Namespace)> = Vec::new();
        for kind in Namespace::ALL {
            if let Some(only) = self.only
                && !only.contains(kind.flag())
            {
                continue;
            }
            let theirs = match NsFd::from_pidfd(&pidfd, kind) {
                Ok(fd) => fd,
                Err(e) if e.kind() == ErrorKind::Unsupported => match NsFd::open(self.pid, kind) {
                    Ok(fd) => fd,
                    Err(e) if e.errno() == libc::ENOENT && NsFd::open_self(kind).is_err() => {
                        continue;
                    }
                    Err(e) => {
                        return Err(e.with_detail(format!(
                            "opening the {kind} namespace of pid {}",
                            self.pid
                        )));
                    }
                },
                // A kind this kernel lacks, or one the target cannot show.
                Err(e) if e.errno() == libc::EOPNOTSUPP || e.errno() == libc::ENOENT => continue,
                Err(e) => {
                    return Err(
                        e.with_detail(format!("opening the {kind} namespace of pid {}", self.pid))
                    );
                }
            };
            let ours = NsFd::open_self(kind)?;
            if ours.id()? == theirs.id()? {
                continue;
            }
            fds.push((theirs, kind));
        }
        let open_dir = |what: &str| -> Result<OwnedFd> {
            let path = format!("/proc/{}/{what}", self.pid);
            rustix::fs::open(
                path.as_str(),
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .syscall("open")
            .map_err(|e| e.with_detail(format!("the target's {what} ({path})")))
        };
        let root = if self.root {
            Some(open_dir("root")?)
        } else {
            None
        };
        let cwd = if self.cwd {
            Some(open_dir("cwd")?)
        } else {
            None
        };
        if pidfd.wait_exit(Some(Duration::ZERO))? {
            return Err(Error::from_errno("pidfd_open", libc::ESRCH)
                .with_context(CALL)
                .with_detail(format!(
                    "pid {} exited while its namespaces were opened",
                    self.pid
                )));
        }

        // 2. Who to become, from the target's own files.
        let joins_user = fds.iter().any(|(_, k)| *k == Namespace::User);
        let target_root = PathBuf::from(format!("/proc/{}/root", self.pid));
        let name = match (&self.user, joins_user) {
            (Some(name), _) => Some(name.clone()),
            (None, true) => Some("0".to_owned()),
            (None, false) => None,
        };
        let user: Option<User> = match &name {
            Some(n) => match lookup_user(&target_root, n) {
                Ok(u) => Some(u),
                // Root needs no passwd entry.
                Err(_) if n == "0" => Some(User {
                    name: "root".into(),
                    uid: 0,
                    gid: 0,
                    groups: vec![0],
                    home: "/".into(),
                    shell: "/bin/sh".into(),
                }),
                Err(e) => return Err(e),
            },
            None => lookup_user(
                &target_root,
                &rustix::process::geteuid().as_raw().to_string(),
            )
            .ok(),
        };
        let switch = name.is_some();
        // setgroups is refused for good in a user namespace whose
        // setgroups file says deny (an unprivileged container).
        let groups_allowed = std::fs::read_to_string(format!("/proc/{}/setgroups", self.pid))
            .map_or(true, |s| s.trim() != "deny");

        // 3. The command and its environment.
        let shell = user
            .as_ref()
            .map(|u| u.shell.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/bin/sh".into());
        let program = self.program.clone().unwrap_or(shell.clone());
        let mut env: Vec<(OsString, OsString)> = vec![("PATH".into(), DEFAULT_PATH.into())];
        if let Some(term) = std::env::var_os("TERM") {
            env.push(("TERM".into(), term));
        }
        if let Some(u) = &user {
            env.push(("HOME".into(), u.home.clone()));
            env.push(("USER".into(), u.name.clone().into()));
            env.push(("LOGNAME".into(), u.name.clone().into()));
            env.push(("SHELL".into(), shell));
        }
        env.extend(self.env.iter().cloned());
        let exec = exec_of(CALL, &program, &self.args, &env)?;

        let cgroup = if self.cgroup {
            target_cgroup(self.pid)?
        } else {
            None
        };
        let (report_read, report_write) =
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).syscall("pipe2")?;
        let (stdio, parent_ends, child_ends) = stdio_fds(&self.stdio)?;
        let kinds: Vec<Namespace> = fds.iter().map(|(_, k)| *k).collect();
        let flags = kinds.iter().fold(Namespaces::empty(), |a, k| a | k.flag());
        let plan = EnterPlan {
            report: report_write.as_raw_fd(),
            pidfd: pidfd.as_raw_fd(),
            pidfd_flags: flags.bits(),
            namespaces: fds
                .iter()
                .map(|(fd, k)| (fd.as_raw_fd(), k.flag().bits()))
                .collect(),
            root: root.as_ref().map_or(-1, AsRawFd::as_raw_fd),
            cwd: cwd.as_ref().map_or(-1, AsRawFd::as_raw_fd),
            groups: user
                .as_ref()
                .filter(|_| switch && groups_allowed)
                .map(|u| u.groups.clone()),
            gid: user.as_ref().filter(|_| switch).map(|u| u.gid),
            uid: user.as_ref().filter(|_| switch).map(|u| u.uid),
            confine: if self.confine {
                Some(confinement_of(self.pid)?)
            } else {
                None
            },
            exec_label: if self.confine {
                exec_label_of(self.pid)?
            } else {
                None
            },
            fork: kinds.iter().any(|k| k.applies_to_children()),
            stdio,
            exec,
        };
        let (pid, child_pidfd) = sys::fork_process(&plan, cgroup.as_ref().map(AsFd::as_fd))
            .map_err(|e| match &cgroup {
                Some(c) => e.with_detail(format!(
                    "starting in the target's cgroup {} (join_cgroup(false), --no-cgroup, to start \
                     in yours)",
                    c.path().display()
                )),
                None => e,
            })?;
        drop(report_write);
        drop(child_ends);
        let child_pidfd = PidFd::from_clone(child_pidfd, pid.unsigned_abs());
        if let Some((step, errno)) = read_report(&report_read)? {
            let _ = child_pidfd.wait();
            let what = match step {
                child::STEP_ROOT => "chroot into the target's root".to_owned(),
                child::STEP_CWD => "chdir into the target's working directory".to_owned(),
                child::STEP_GROUPS => "setgroups to the user's groups".to_owned(),
                child::STEP_GID => "setresgid to the user's gid".to_owned(),
                child::STEP_UID => "setresuid to the user's uid".to_owned(),
                child::STEP_CONFINE => format!(
                    "take on the capabilities and no_new_privs of pid {}",
                    self.pid
                ),
                child::STEP_FORK => "fork into the pid namespace".to_owned(),
                child::STEP_LABEL => format!(
                    "take on the security label of pid {} for the exec ({})",
                    self.pid,
                    plan.exec_label
                        .as_ref()
                        .map_or_else(String::new, |(path, value)| format!(
                            "{:?} to {}",
                            String::from_utf8_lossy(value),
                            path.to_string_lossy()
                        ))
                ),
                child::STEP_EXEC => format!("execve of {:?} inside the target", program),
                n => match kinds.get(n as usize) {
                    Some(kind) => format!("join the {kind} namespace of pid {}", self.pid),
                    None => format!("step {n}"),
                },
            };
            // Steps below the fixed ones are the setns of each namespace.
            let call = if (step as usize) < kinds.len() {
                "setns"
            } else {
                child::step_call(step, &[])
            };
            return Err(Error::from_errno(call, errno)
                .with_context(CALL)
                .with_detail(what));
        }
        let [stdin, stdout, stderr] = parent_ends;
        Ok(Child {
            pid: pid.unsigned_abs(),
            pidfd: child_pidfd,
            stdin: stdin.map(std::fs::File::from),
            stdout: stdout.map(std::fs::File::from),
            stderr: stderr.map(std::fs::File::from),
            made: Vec::new(),
            cgroup: None,
            usage: None,
        })
    }
}

/// The capabilities and `no_new_privs` of `pid`, from its status file.
fn confinement_of(pid: u32) -> Result<child::Confine> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| {
        Error::from_io("open", e)
            .with_context("Enter::spawn")
            .with_detail(path.clone())
    })?;
    let field = |name: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .ok_or_else(|| {
                Error::invalid_input_in("Enter::spawn", "open", format!("{path} has no {name}"))
            })
    };
    let no_new_privs = status
        .lines()
        .find_map(|l| l.strip_prefix("NoNewPrivs:"))
        .is_some_and(|v| v.trim() == "1");
    let last_cap = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(40);
    Ok(child::Confine {
        bounding: field("CapBnd:")?,
        effective: field("CapEff:")?,
        permitted: field("CapPrm:")?,
        inheritable: field("CapInh:")?,
        ambient: field("CapAmb:").unwrap_or(0),
        no_new_privs,
        last_cap,
    })
}

/// The security modules whose process label `Enter` takes on, with the
/// directory of their own attribute files under `/proc/PID/attr` (`""`:
/// the files of the major module, SELinux's).
const LABEL_MODULES: [(&str, Module); 2] = [("apparmor", Module::AppArmor), ("", Module::Other)];

/// Which module a label is from: they take it in different words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Module {
    AppArmor,
    /// SELinux (the one that uses the generic files), which takes the
    /// context as it reads it.
    Other,
}

/// What the child writes to take on `pid`'s label at its `execve`: the
/// exec attribute file of its own thread and the words for it, or `None`
/// where no module labels processes, or the target's label is ours (or
/// AppArmor's `unconfined`, which nothing is confined by).
fn exec_label_of(pid: u32) -> Result<Option<(CString, Vec<u8>)>> {
    for (dir, module) in LABEL_MODULES {
        let file = |who: &str, name: &str| {
            if dir.is_empty() {
                format!("/proc/{who}/attr/{name}")
            } else {
                format!("/proc/{who}/attr/{dir}/{name}")
            }
        };
        let path = file(&pid.to_string(), "current");
        let theirs = match std::fs::read(&path) {
            Ok(label) => label,
            // No such module here, or it is built in but not enabled.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EINVAL)) => continue,
            Err(e) => {
                return Err(Error::from_io("read", e)
                    .with_context("Enter::spawn")
                    .with_detail(format!("the security label of pid {pid} ({path})")));
            }
        };
        let ours = std::fs::read(file("self", "current")).unwrap_or_default();
        let Some(words) = exec_words(module, &theirs, &ours) else {
            return Ok(None);
        };
        let exec = CString::new(file("thread-self", "exec")).map_err(|_| {
            Error::invalid_input_in("Enter::spawn", "open", "a NUL in a /proc path".to_owned())
        })?;
        return Ok(Some((exec, words)));
    }
    Ok(None)
}

/// What to write to the exec attribute to take on the label `theirs`
/// (as read from `current`) when ours is `ours`; `None` when there is
/// nothing to take on.
fn exec_words(module: Module, theirs: &[u8], ours: &[u8]) -> Option<Vec<u8>> {
    let trim = |l: &[u8]| -> Vec<u8> {
        let end = l
            .iter()
            .rposition(|&b| b != 0 && b != b'\n')
            .map_or(0, |i| i + 1);
        l[..end].to_vec()
    };
    let (theirs, ours) = (trim(theirs), trim(ours));
    if theirs.is_empty() || theirs == ours {
        return None;
    }
    match module {
        Module::AppArmor => {
            // "profile (enforce)": the mode is not part of the name.
            let name = match theirs.iter().rposition(|&b| b == b' ') {
                Some(i) if theirs.ends_with(b")") && theirs.get(i + 1) == Some(&b'(') => {
                    theirs[..i].to_vec()
                }
                _ => theirs,
            };
            if name == b"unconfined" {
                return None;
            }
            let mut words = b"exec ".to_vec();
            words.extend_from_slice(&name);
            Some(words)
        }
        Module::Other => Some(theirs),
    }
}

/// The target's cgroup v2 directory when it is not the caller's own
/// (`None` without cgroup v2, or when they share one).
fn target_cgroup(pid: u32) -> Result<Option<Cgroup>> {
    let line = |p: &str| -> Option<String> {
        std::fs::read_to_string(p)
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("0::").map(str::to_owned))
    };
    let (Some(theirs), Some(ours)) = (
        line(&format!("/proc/{pid}/cgroup")),
        line("/proc/self/cgroup"),
    ) else {
        return Ok(None);
    };
    if theirs == ours {
        return Ok(None);
    }
    let Ok(own_dir) = crate::cgroup::own_cgroup() else {
        return Ok(None);
    };
    // Our directory is the mount point joined with our path: theirs is the
    // same mount point joined with theirs.
    let own_rel = ours.trim_start_matches('/');
    let own_str = own_dir.to_string_lossy();
    let mount = own_str
        .strip_suffix(own_rel)
        .unwrap_or(&own_str)
        .trim_end_matches('/');
    let dir = PathBuf::from(format!("{mount}/{}", theirs.trim_start_matches('/')));
    Cgroup::open(&dir).map(Some).map_err(|e| {
        e.with_context("Enter::spawn")
            .with_detail(format!("the cgroup of pid {pid}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_become_the_words_each_module_takes() {
        let apparmor = |theirs: &[u8], ours: &[u8]| exec_words(Module::AppArmor, theirs, ours);
        assert_eq!(
            apparmor(b"docker-default (enforce)\n", b"unconfined\n").as_deref(),
            Some(&b"exec docker-default"[..])
        );
        assert_eq!(
            apparmor(b"lxc-container-default-cgns (complain)\n", b"").as_deref(),
            Some(&b"exec lxc-container-default-cgns"[..])
        );
        // A stacked label keeps its stack; a name with a space keeps it.
        assert_eq!(
            apparmor(b"a//&:ns:b (enforce)\n", b"").as_deref(),
            Some(&b"exec a//&:ns:b"[..])
        );
        assert_eq!(
            apparmor(b"my profile\n", b"").as_deref(),
            Some(&b"exec my profile"[..])
        );
        // Nothing to take on: unconfined, the same as ours, empty.
        assert_eq!(apparmor(b"unconfined\n", b"x (enforce)\n"), None);
        assert_eq!(apparmor(b"p (enforce)\n", b"p (enforce)\n"), None);
        assert_eq!(apparmor(b"\n", b""), None);
        // SELinux: the context as read, without its NUL.
        let selinux = |theirs: &[u8], ours: &[u8]| exec_words(Module::Other, theirs, ours);
        assert_eq!(
            selinux(
                b"system_u:system_r:container_t:s0:c1,c2\0",
                b"unconfined_u:unconfined_r:unconfined_t:s0\0"
            )
            .as_deref(),
            Some(&b"system_u:system_r:container_t:s0:c1,c2"[..])
        );
        assert_eq!(selinux(b"a:b:c:s0\0", b"a:b:c:s0\0"), None);
    }

    /// Where no module labels processes (reading `current` is `EINVAL`),
    /// there is nothing to take on, and no step.
    #[test]
    fn no_label_without_a_module() {
        let path = "/proc/self/attr/current";
        match std::fs::read(path) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                let apparmor = std::fs::read("/proc/self/attr/apparmor/current");
                if apparmor.is_err() {
                    assert_eq!(exec_label_of(std::process::id()).unwrap(), None);
                }
            }
            _ => eprintln!("partly skipped: a security module labels processes here"),
        }
    }
}

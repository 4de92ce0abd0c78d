//! The code that runs in a new process between `clone3` and `execve`.
//!
//! # Safety
//!
//! The process that cloned us may have had other threads, which may have
//! held the allocator's lock or any other lock at the moment of the clone;
//! in this copy those locks stay held forever. So everything here:
//!
//! - allocates nothing: every string, argument vector and list was built by
//!   the parent before the clone and is only read here (the fd table
//!   scratch space is a stack array);
//! - makes raw syscalls only (through `libc::syscall`, or the C library's
//!   plain syscall wrappers that POSIX lists as async-signal-safe), and
//!   reads errno;
//! - cannot panic: no indexing, no `unwrap`, no arithmetic that can
//!   overflow; a failure is written to the report pipe as (step, errno) and
//!   the process exits with status 127.
//!
//! Every signal is blocked from before the clone until just before
//! `execve`, and `CLONE_CLEAR_SIGHAND` (or, failing that, `execve` itself)
//! resets the parent's handlers, so no handler of the parent runs here.

// Syscalls return fds, pids and signal numbers, which the kernel defines as
// `int`, in a `c_long`: narrowing them is exact. Converting with checks
// would add error paths that cannot be taken.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use std::ffi::{CString, c_char};
use std::os::fd::RawFd;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};

use super::errno;

/// The most fds a sandboxed program can be given (stdio included).
pub(crate) const MAX_FDS: usize = 256;

/// One setup step, run in order in the child.
#[derive(Debug)]
pub(crate) enum Step {
    /// `setsid()`: a new session, with no controlling terminal.
    Setsid,
    /// Keep only the capabilities in `keep`: drop the rest from the
    /// bounding set (`PR_CAPBSET_DROP`, 0 to `last_cap`), clear the ambient
    /// set, `capset` effective, permitted and inheritable to `keep`, and
    /// raise `keep` as ambient so a non-root program keeps them past
    /// `execve`.
    Caps { keep: u64, last_cap: u32 },
    /// `prlimit64(0, resource, {soft, hard}, NULL)`.
    Rlimit { resource: u32, soft: u64, hard: u64 },
    /// `mount(source, target, fstype, flags, data)`.
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
    /// Set mount attributes (`MOUNT_ATTR_RDONLY`, `MOUNT_ATTR_NODEV`) with
    /// `mount_setattr`, falling back to a bind remount that keeps the
    /// mount's other flags.
    SetAttr {
        path: CString,
        attrs: u64,
        recursive: bool,
    },
    /// Create `path` (it must not exist) with `mode` and write `data` to it.
    WriteFile {
        path: CString,
        data: Vec<u8>,
        mode: u32,
    },
    /// `fchmodat(path, mode)`.
    Chmod { path: CString, mode: u32 },
    /// `mkdir(path, 0755)`; an existing entry is fine.
    Mkdir(CString),
    /// Create an empty file to bind a file on; an existing one is fine.
    Touch(CString),
    /// `symlink(target, link)`; an existing entry is fine.
    Symlink { target: CString, link: CString },
    /// `chdir(path)`.
    Chdir(CString),
    /// `pivot_root(".", ".")` then `umount2(".", MNT_DETACH)`: the old root
    /// is stacked under the new one and detached.
    PivotRoot,
    /// `umount2(path, MNT_DETACH)`: a staging mount, once what was built on
    /// it holds its own references.
    Detach(CString),
    /// Bring the loopback device of a new network namespace up (the kernel
    /// gives it 127.0.0.1 and ::1 as it comes up): `SIOCGIFFLAGS` and
    /// `SIOCSIFFLAGS` on a datagram socket.
    LoopbackUp,
    /// `sethostname`.
    Hostname(Vec<u8>),
    /// `setdomainname`.
    Domainname(Vec<u8>),
    /// `setgroups` (when allowed), `setresgid`, `setresuid`: the ids the
    /// program runs as in its user namespace.
    SetIds {
        uid: u32,
        gid: u32,
        groups: Option<Vec<libc::gid_t>>,
    },
    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
    NoNewPrivs,
    /// `landlock_restrict_self(fd, 0)`: the ruleset the parent built (the
    /// fd is open in the child until the fds are installed).
    Landlock(RawFd),
    /// `seccomp(SECCOMP_SET_MODE_FILTER, 0, prog)` with these instructions.
    Seccomp(Vec<u64>),
}

/// The program to run: candidate paths tried in order (a `PATH` search
/// done by `execve` on each), and the argument and environment vectors.
#[derive(Debug)]
pub(crate) struct Exec {
    pub(crate) candidates: Vec<CString>,
    pub(crate) argv: Vec<*const c_char>,
    pub(crate) envp: Vec<*const c_char>,
    /// Owns what `argv` and `envp` point to.
    pub(crate) _strings: Vec<CString>,
}

impl Exec {
    /// Builds the vectors; `args` starts with argv\[0\].
    pub(crate) fn new(candidates: Vec<CString>, args: Vec<CString>, env: Vec<CString>) -> Exec {
        let mut argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(ptr::null());
        let mut envp: Vec<*const c_char> = env.iter().map(|e| e.as_ptr()).collect();
        envp.push(ptr::null());
        let mut strings = args;
        strings.extend(env);
        Exec {
            candidates,
            argv,
            envp,
            _strings: strings,
        }
    }
}

/// What the sandbox child does, prepared by the parent.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Read end of the pipe on which the parent says "go" (after writing
    /// the id maps); end of file means the parent gave up or died. `-1`
    /// when the parent cannot say it: it is suspended until our `execve`
    /// (the vfork-style path), and has nothing to do first.
    pub(crate) go: RawFd,
    /// Write end (close-on-exec) of the pipe that reports a failed step;
    /// `-1` in the vfork-style child, which stores the failure in
    /// `shared_report` instead (the parent's memory is its own).
    pub(crate) report: RawFd,
    /// Where the vfork-style child stores a failed step: the step in the
    /// high half, the errno (never 0) in the low; 0 while none failed.
    pub(crate) shared_report: AtomicU64,
    /// `PR_SET_PDEATHSIG` signal, 0 for none.
    pub(crate) death_signal: i32,
    pub(crate) steps: Vec<Step>,
    /// (source, target) fds to install; at most [`MAX_FDS`].
    pub(crate) fds: Vec<(RawFd, RawFd)>,
    /// Low fds kept as they are (inherited stdio).
    pub(crate) keep: Vec<RawFd>,
    /// Run a reaping init and the program as its child: as pid 1 of a new
    /// pid namespace (`init_is_pid1`), or as a supervisor that holds
    /// `hold` and ends as the program does.
    pub(crate) init: bool,
    /// The init is pid 1 of the new pid namespace.
    pub(crate) init_is_pid1: bool,
    /// An fd only the init keeps open (`-1`: none).
    pub(crate) hold: RawFd,
    pub(crate) exec: Exec,
}

/// The step numbers after the plan's own steps, in reports.
pub(crate) const STEP_FDS: u32 = 1_000_000;
/// See [`STEP_FDS`].
pub(crate) const STEP_INIT: u32 = 1_000_001;
/// See [`STEP_FDS`].
pub(crate) const STEP_EXEC: u32 = 1_000_002;
/// See [`STEP_FDS`].
pub(crate) const STEP_ROOT: u32 = 1_000_003;
/// See [`STEP_FDS`].
pub(crate) const STEP_CWD: u32 = 1_000_004;
/// See [`STEP_FDS`].
pub(crate) const STEP_GROUPS: u32 = 1_000_005;
/// See [`STEP_FDS`].
pub(crate) const STEP_GID: u32 = 1_000_006;
/// See [`STEP_FDS`].
pub(crate) const STEP_UID: u32 = 1_000_007;
/// See [`STEP_FDS`].
pub(crate) const STEP_FORK: u32 = 1_000_008;

/// Reports (step, errno) as the sandbox child's plan says (the pipe, or
/// the parent's memory for the vfork-style child) and exits 127.
fn fail_in(plan: &Plan, report: RawFd, step: u32, err: i32) -> ! {
    if report < 0 {
        // A plain store to memory the parent reads once we are gone.
        plan.shared_report.store(
            (u64::from(step) << 32) | u64::from(err as u32),
            Ordering::SeqCst,
        );
        exit(127)
    }
    fail(report, step, err)
}

/// Writes (step, errno) to the report pipe and exits 127.
fn fail(report: RawFd, step: u32, err: i32) -> ! {
    let mut record = [0u8; 8];
    let (a, b) = record.split_at_mut(4);
    a.copy_from_slice(&step.to_ne_bytes());
    b.copy_from_slice(&err.to_ne_bytes());
    // SAFETY: writes 8 bytes from a local; a failed write changes nothing
    // (the parent then sees exit status 127 without a record).
    unsafe { libc::write(report, record.as_ptr().cast(), record.len()) };
    exit(127)
}

fn exit(code: i32) -> ! {
    // SAFETY: ends the process; no destructor or atexit handler runs.
    unsafe { libc::syscall(libc::SYS_exit_group, libc::c_long::from(code)) };
    // Only a seccomp filter can make exit_group fail. A fault then ends
    // the process: the kernel forces a synchronous signal through any mask.
    std::process::abort()
}

/// A raw syscall's result: `Err(errno)` when negative.
fn sys(ret: libc::c_long) -> Result<libc::c_long, i32> {
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

fn close(fd: RawFd) {
    // SAFETY: closing an fd number; EBADF is harmless here.
    unsafe { libc::syscall(libc::SYS_close, libc::c_long::from(fd)) };
}

/// `close_range(first, last, 0)`, or a loop of `close` where the kernel
/// lacks it (before 5.9) up to the fd limit.
fn close_from(first: RawFd, last: u32) {
    if u32::try_from(first).is_ok_and(|f| f > last) {
        return;
    }
    // SAFETY: integer arguments.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            libc::c_long::from(first),
            libc::c_long::from(last),
            0 as libc::c_long,
        )
    };
    if ret == 0 {
        return;
    }
    let mut limit = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: the kernel writes one rlimit64 into a local.
    unsafe {
        libc::syscall(
            libc::SYS_prlimit64,
            0 as libc::c_long,
            libc::c_long::from(libc::RLIMIT_NOFILE),
            ptr::null::<libc::rlimit64>(),
            &raw mut limit,
        )
    };
    let end = u32::try_from(limit.rlim_cur).unwrap_or(u32::MAX).min(last);
    let mut fd = u32::try_from(first).unwrap_or(0);
    while fd <= end && fd < u32::MAX {
        close(fd as RawFd);
        fd += 1;
    }
}

/// The system call a failed step reports (`Error::call`): the one that
/// failed, or for a step of several calls the one that does its work.
/// Parent side only.
pub(crate) fn step_call(step: u32, steps: &[Step]) -> &'static str {
    match step {
        STEP_FDS => "dup3",
        STEP_INIT | STEP_FORK => "clone",
        STEP_EXEC => "execve",
        STEP_ROOT => "chroot",
        STEP_CWD => "fchdir",
        STEP_GROUPS => "setgroups",
        STEP_GID => "setresgid",
        STEP_UID => "setresuid",
        STEP_CONFINE => "capset",
        STEP_LABEL => "write",
        n => match steps.get(n as usize) {
            Some(Step::Setsid) => "setsid",
            Some(Step::Caps { .. }) => "capset",
            Some(Step::Rlimit { .. }) => "prlimit64",
            Some(Step::Mount { .. }) => "mount",
            Some(Step::SetAttr { .. }) => "mount_setattr",
            Some(Step::WriteFile { .. }) => "write",
            Some(Step::Chmod { .. }) => "fchmodat",
            Some(Step::Mkdir(_)) => "mkdirat",
            Some(Step::Touch(_)) => "openat",
            Some(Step::Symlink { .. }) => "symlinkat",
            Some(Step::Chdir(_)) => "chdir",
            Some(Step::PivotRoot) => "pivot_root",
            Some(Step::Detach(_)) => "umount2",
            Some(Step::LoopbackUp) => "ioctl",
            Some(Step::Hostname(_)) => "sethostname",
            Some(Step::Domainname(_)) => "setdomainname",
            Some(Step::SetIds { .. }) => "setresuid",
            Some(Step::NoNewPrivs) => "prctl",
            Some(Step::Landlock(_)) => "landlock_restrict_self",
            Some(Step::Seccomp(_)) => "seccomp",
            None => "clone3",
        },
    }
}

fn run_step(step: &Step) -> Result<(), i32> {
    // Each call below has its own SAFETY line; what they share: the
    // strings are the plan's `CString`s (NUL-terminated, alive for the
    // whole child) and every other argument is an integer.
    match step {
        // SAFETY: setsid takes no arguments and touches no memory.
        Step::Setsid => sys(unsafe { libc::syscall(libc::SYS_setsid) }).map(drop),
        Step::Caps { keep, last_cap } => keep_caps(*keep, *last_cap),
        Step::Rlimit {
            resource,
            soft,
            hard,
        } => {
            let limit = libc::rlimit64 {
                rlim_cur: *soft,
                rlim_max: *hard,
            };
            // SAFETY: prlimit64 reads one local rlimit64 and, with a null
            // old-limit pointer, writes nothing.
            sys(unsafe {
                libc::syscall(
                    libc::SYS_prlimit64,
                    0 as libc::c_long,
                    libc::c_long::from(*resource),
                    &raw const limit,
                    ptr::null_mut::<libc::rlimit64>(),
                )
            })
            .map(drop)
        }
        Step::Mount {
            source,
            target,
            fstype,
            flags,
            data,
        } => {
            let p = |s: &Option<CString>| s.as_ref().map_or(ptr::null(), |s| s.as_ptr());
            // SAFETY: mount(2) reads the NUL-terminated source, target,
            // fstype and data strings (or takes null where allowed).
            sys(unsafe {
                libc::syscall(
                    libc::SYS_mount,
                    p(source),
                    target.as_ptr(),
                    p(fstype),
                    *flags,
                    p(data),
                )
            })
            .map(drop)
        }
        Step::SetAttr {
            path,
            attrs,
            recursive,
        } => set_attrs(path, *attrs, *recursive),
        Step::WriteFile { path, data, mode } => write_file(path, data, *mode),
        // SAFETY: fchmodat reads one NUL-terminated path.
        Step::Chmod { path, mode } => sys(unsafe {
            libc::syscall(
                libc::SYS_fchmodat,
                libc::c_long::from(libc::AT_FDCWD),
                path.as_ptr(),
                libc::c_long::from(*mode),
            )
        })
        .map(drop),
        Step::Mkdir(path) => {
            // SAFETY: mkdirat reads one NUL-terminated path.
            let made = sys(unsafe {
                libc::syscall(
                    libc::SYS_mkdirat,
                    libc::c_long::from(libc::AT_FDCWD),
                    path.as_ptr(),
                    0o755 as libc::c_long,
                )
            });
            match made {
                Err(libc::EEXIST) => Ok(()),
                other => other.map(drop),
            }
        }
        Step::Touch(path) => {
            // SAFETY: openat reads one NUL-terminated path; the fd it
            // returns is closed below and used for nothing else.
            let fd = sys(unsafe {
                libc::syscall(
                    libc::SYS_openat,
                    libc::c_long::from(libc::AT_FDCWD),
                    path.as_ptr(),
                    libc::c_long::from(libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC),
                    0o644 as libc::c_long,
                )
            })?;
            close(fd as RawFd);
            Ok(())
        }
        Step::Symlink { target, link } => {
            // SAFETY: symlinkat reads two NUL-terminated paths.
            let made = sys(unsafe {
                libc::syscall(
                    libc::SYS_symlinkat,
                    target.as_ptr(),
                    libc::c_long::from(libc::AT_FDCWD),
                    link.as_ptr(),
                )
            });
            match made {
                Err(libc::EEXIST) => Ok(()),
                other => other.map(drop),
            }
        }
        Step::Chdir(path) => {
            // SAFETY: chdir reads one NUL-terminated path.
            sys(unsafe { libc::syscall(libc::SYS_chdir, path.as_ptr()) }).map(drop)
        }
        Step::Detach(path) => {
            // SAFETY: a NUL-terminated path from the plan; integer flags.
            sys(unsafe {
                libc::syscall(
                    libc::SYS_umount2,
                    path.as_ptr(),
                    libc::c_long::from(libc::MNT_DETACH),
                )
            })
            .map(drop)
        }
        Step::PivotRoot => {
            let dot = c".".as_ptr();
            // SAFETY: pivot_root reads two NUL-terminated paths (static).
            sys(unsafe { libc::syscall(libc::SYS_pivot_root, dot, dot) })?;
            // SAFETY: umount2 reads one NUL-terminated path (static) and a flag.
            sys(unsafe {
                libc::syscall(libc::SYS_umount2, dot, libc::c_long::from(libc::MNT_DETACH))
            })?;
            // SAFETY: chdir reads one NUL-terminated path (static).
            sys(unsafe { libc::syscall(libc::SYS_chdir, c"/".as_ptr()) }).map(drop)
        }
        Step::LoopbackUp => loopback_up(),
        Step::Hostname(name) => {
            // SAFETY: sethostname reads `name.len()` bytes of the plan's name.
            sys(unsafe { libc::syscall(libc::SYS_sethostname, name.as_ptr(), name.len()) })
                .map(drop)
        }
        Step::Domainname(name) => {
            // SAFETY: setdomainname reads `name.len()` bytes of the plan's name.
            sys(unsafe { libc::syscall(libc::SYS_setdomainname, name.as_ptr(), name.len()) })
                .map(drop)
        }
        Step::SetIds { uid, gid, groups } => {
            if let Some(groups) = groups {
                // SAFETY: setgroups reads `groups.len()` gid_t values from
                // the plan's vector.
                sys(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) })?;
            }
            let g = libc::c_long::from(*gid);
            // SAFETY: integer arguments only.
            sys(unsafe { libc::syscall(libc::SYS_setresgid, g, g, g) })?;
            let u = libc::c_long::from(*uid);
            // SAFETY: integer arguments only.
            sys(unsafe { libc::syscall(libc::SYS_setresuid, u, u, u) }).map(drop)
        }
        // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0): integers only.
        Step::NoNewPrivs => sys(unsafe {
            libc::syscall(
                libc::SYS_prctl,
                libc::c_long::from(libc::PR_SET_NO_NEW_PRIVS),
                1 as libc::c_long,
                0 as libc::c_long,
                0 as libc::c_long,
                0 as libc::c_long,
            )
        })
        .map(drop),
        // SAFETY: integer arguments only.
        Step::Landlock(fd) => sys(unsafe {
            libc::syscall(
                libc::SYS_landlock_restrict_self,
                libc::c_long::from(*fd),
                0 as libc::c_long,
            )
        })
        .map(drop),
        Step::Seccomp(program) => {
            let prog = libc::sock_fprog {
                len: u16::try_from(program.len()).unwrap_or(u16::MAX),
                filter: program.as_ptr().cast_mut().cast(),
            };
            // SAFETY: seccomp reads the local sock_fprog and the `len`
            // instructions it points to, the plan's (alive, never written).
            sys(unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::c_long::from(libc::SECCOMP_SET_MODE_FILTER),
                    0 as libc::c_long,
                    &raw const prog,
                )
            })
            .map(drop)
        }
    }
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

/// `struct __user_cap_data_struct`: one 32-bit word of each set.
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// `_LINUX_CAPABILITY_VERSION_3`: two words of each set.
const CAP_V3: u32 = 0x2008_0522;
/// `PR_CAP_AMBIENT` and its operations.
const PR_CAP_AMBIENT: libc::c_long = 47;
const PR_CAP_AMBIENT_RAISE: libc::c_long = 2;
const PR_CAP_AMBIENT_CLEAR_ALL: libc::c_long = 4;

/// The [`Step::Caps`] step; raw calls on locals only.
fn keep_caps(keep: u64, last_cap: u32) -> Result<(), i32> {
    let prctl = |a: libc::c_long, b: libc::c_long, c: libc::c_long| {
        // SAFETY: prctl with integer arguments only.
        sys(unsafe {
            libc::syscall(
                libc::SYS_prctl,
                a,
                b,
                c,
                0 as libc::c_long,
                0 as libc::c_long,
            )
        })
    };
    for cap in 0..=last_cap.min(63) {
        if keep & (1 << cap) == 0 {
            prctl(
                libc::c_long::from(libc::PR_CAPBSET_DROP),
                libc::c_long::from(cap),
                0,
            )?;
        }
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0)?;
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the low and high words of a 64-bit set"
    )]
    let words = [keep as u32, (keep >> 32) as u32];
    let data = words.map(|w| CapData {
        effective: w,
        permitted: w,
        inheritable: w,
    });
    let header = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    // SAFETY: capset reads one header and two data structs, all locals of
    // the kernel's layout (`_LINUX_CAPABILITY_VERSION_3`).
    sys(unsafe { libc::syscall(libc::SYS_capset, &raw const header, data.as_ptr()) })?;
    for cap in 0..=last_cap.min(63) {
        if keep & (1 << cap) != 0 {
            prctl(
                PR_CAP_AMBIENT,
                PR_CAP_AMBIENT_RAISE,
                libc::c_long::from(cap),
            )?;
        }
    }
    Ok(())
}

/// `MOUNT_ATTR_RDONLY`.
pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;
/// `MOUNT_ATTR_NODEV`.
pub(crate) const MOUNT_ATTR_NODEV: u64 = 0x4;
/// `AT_RECURSIVE`.
const AT_RECURSIVE: libc::c_long = 0x8000;

/// The [`Step::LoopbackUp`] step: a `struct ifreq` as 40 local bytes (the
/// name, then the flags as a short), read, `IFF_UP | IFF_RUNNING` added,
/// written back.
fn loopback_up() -> Result<(), i32> {
    // SAFETY: socket with integer arguments; the fd is closed below.
    let fd = sys(unsafe {
        libc::syscall(
            libc::SYS_socket,
            libc::c_long::from(libc::AF_INET),
            libc::c_long::from(libc::SOCK_DGRAM | libc::SOCK_CLOEXEC),
            0 as libc::c_long,
        )
    })? as RawFd;
    let mut ifr = [0u8; 40];
    ifr[..2].copy_from_slice(b"lo");
    let ioctl = |request: libc::c_ulong, ifr: &mut [u8; 40]| {
        // SAFETY: the ioctl reads and writes one struct ifreq (40 bytes
        // on every Linux ABI) in the local buffer.
        sys(unsafe {
            libc::syscall(
                libc::SYS_ioctl,
                libc::c_long::from(fd),
                request,
                ifr.as_mut_ptr(),
            )
        })
    };
    let mut result = ioctl(libc::SIOCGIFFLAGS, &mut ifr);
    if result.is_ok() {
        let flags =
            i16::from_ne_bytes([ifr[16], ifr[17]]) | (libc::IFF_UP | libc::IFF_RUNNING) as i16;
        ifr[16..18].copy_from_slice(&flags.to_ne_bytes());
        result = ioctl(libc::SIOCSIFFLAGS, &mut ifr);
    }
    close(fd);
    result.map(drop)
}

/// The [`Step::WriteFile`] step: a new file (never one that is there,
/// never through a symlink), written whole, its mode set past the umask.
fn write_file(path: &CString, data: &[u8], mode: u32) -> Result<(), i32> {
    // SAFETY: openat reads one NUL-terminated path; the fd is ours, closed
    // below.
    let fd = sys(unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::c_long::from(libc::AT_FDCWD),
            path.as_ptr(),
            libc::c_long::from(
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            ),
            libc::c_long::from(mode),
        )
    })? as RawFd;
    let mut rest = data;
    let mut result = Ok(());
    while !rest.is_empty() {
        // SAFETY: write reads `rest.len()` bytes of the plan's data.
        match sys(unsafe {
            libc::syscall(
                libc::SYS_write,
                libc::c_long::from(fd),
                rest.as_ptr(),
                rest.len(),
            )
        }) {
            Ok(n) => rest = rest.get(n as usize..).unwrap_or_default(),
            Err(libc::EINTR) => {}
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok() {
        // SAFETY: fchmod on our own fd.
        result = sys(unsafe {
            libc::syscall(
                libc::SYS_fchmod,
                libc::c_long::from(fd),
                libc::c_long::from(mode),
            )
        })
        .map(drop);
    }
    close(fd);
    result
}

fn set_attrs(path: &CString, attrs: u64, recursive: bool) -> Result<(), i32> {
    let attr = super::MountAttrRaw {
        attr_set: attrs,
        ..super::MountAttrRaw::default()
    };
    // SAFETY: a NUL-terminated path and a mount_attr local, alive for the call.
    let ret = sys(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::c_long::from(libc::AT_FDCWD),
            path.as_ptr(),
            if recursive { AT_RECURSIVE } else { 0 },
            &raw const attr,
            size_of::<super::MountAttrRaw>(),
        )
    });
    if ret != Err(libc::ENOSYS) {
        return ret.map(drop);
    }
    // Before 5.12: a bind remount, keeping the flags the kernel locks in a
    // user namespace (nosuid, nodev, noexec, the atime ones) as they are.
    // The kernel's struct statfs as words: f_flags follows seven longs, the
    // 8-byte fsid, f_namelen and f_frsize (the C library hides the field).
    let mut st = [0 as libc::c_long; 16];
    const FLAGS: usize = if cfg!(target_pointer_width = "64") {
        10
    } else {
        11
    };
    // SAFETY: the kernel writes one struct statfs (at most 120 bytes) into
    // a 128-byte local; the path is NUL-terminated.
    sys(unsafe { libc::syscall(libc::SYS_statfs, path.as_ptr(), st.as_mut_ptr()) })?;
    let f_flags = st.get(FLAGS).copied().unwrap_or(0) as libc::c_ulong;
    let keep = [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ];
    let mut flags = libc::MS_REMOUNT | libc::MS_BIND;
    if attrs & MOUNT_ATTR_RDONLY != 0 {
        flags |= libc::MS_RDONLY;
    }
    if attrs & MOUNT_ATTR_NODEV != 0 {
        flags |= libc::MS_NODEV;
    }
    for (st_flag, ms_flag) in keep {
        if f_flags & st_flag != 0 {
            flags |= ms_flag;
        }
    }
    // SAFETY: a NUL-terminated path and null pointers the call allows.
    sys(unsafe {
        libc::syscall(
            libc::SYS_mount,
            ptr::null::<c_char>(),
            path.as_ptr(),
            ptr::null::<c_char>(),
            flags,
            ptr::null::<c_char>(),
        )
    })
    .map(drop)
}

/// Installs `fds` at their targets, keeps `keep`, and closes every other
/// fd except `report`, which is moved above them all and returned.
/// Installs `fds` at their targets, keeps `keep`, moves `report` and
/// `hold` (`-1`: none) above them (close-on-exec) and closes every other
/// fd. Returns the new numbers of `report` and `hold`.
fn install_fds(
    fds: &[(RawFd, RawFd)],
    keep: &[RawFd],
    report: RawFd,
    hold: RawFd,
) -> Result<(RawFd, RawFd), i32> {
    let high = fds
        .iter()
        .map(|&(_, target)| target)
        .chain(keep.iter().copied())
        .max()
        .map_or(3, |m| m.saturating_add(1).max(3));
    let dup_high = |fd: RawFd| {
        // SAFETY: integer arguments.
        sys(unsafe {
            libc::syscall(
                libc::SYS_fcntl,
                libc::c_long::from(fd),
                libc::c_long::from(libc::F_DUPFD_CLOEXEC),
                libc::c_long::from(high),
            )
        })
        .map(|fd| fd as RawFd)
    };
    let report = if report >= 0 { dup_high(report)? } else { -1 };
    let hold = if hold >= 0 { dup_high(hold)? } else { -1 };
    let mut moved = [-1 as RawFd; MAX_FDS];
    for (slot, &(source, _)) in moved.iter_mut().zip(fds) {
        *slot = dup_high(source)?;
    }
    for (&from, &(_, target)) in moved.iter().zip(fds) {
        // SAFETY: integer arguments; dup3 without O_CLOEXEC leaves the
        // target open across execve.
        sys(unsafe {
            libc::syscall(
                libc::SYS_dup3,
                libc::c_long::from(from),
                libc::c_long::from(target),
                0 as libc::c_long,
            )
        })?;
    }
    for fd in 0..high {
        let wanted = keep.contains(&fd) || fds.iter().any(|&(_, t)| t == fd);
        if !wanted {
            close(fd);
        }
    }
    // Everything at or above `high` except the report pipe and the held
    // fd: the moved copies and whatever the parent had open.
    // (Both, when there, were dup'ed to `high` or above.)
    let kept = if report <= hold {
        [report, hold]
    } else {
        [hold, report]
    };
    let mut from = high;
    for fd in kept {
        if fd >= from {
            close_from(from, u32::try_from(fd).unwrap_or(0).saturating_sub(1));
            from = fd.saturating_add(1);
        }
    }
    close_from(from, u32::MAX);
    Ok((report, hold))
}

/// The kernel's `struct sigaction` for `rt_sigaction` (not the C
/// library's, whose mask is 128 bytes and whose field order differs on
/// some architectures): handler, flags, the restorer where the
/// architecture has `SA_RESTORER`, and a 64-bit mask.
#[repr(C)]
pub(crate) struct KernelSigaction {
    pub(crate) handler: usize,
    pub(crate) flags: libc::c_ulong,
    #[cfg(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "powerpc64",
        target_arch = "powerpc",
        target_arch = "s390x"
    ))]
    pub(crate) restorer: usize,
    pub(crate) mask: u64,
}

impl KernelSigaction {
    /// `SIG_DFL`, no flags, nothing blocked.
    const fn default_action() -> KernelSigaction {
        KernelSigaction {
            handler: 0, // SIG_DFL
            flags: 0,
            #[cfg(any(
                target_arch = "x86_64",
                target_arch = "x86",
                target_arch = "aarch64",
                target_arch = "arm",
                target_arch = "powerpc64",
                target_arch = "powerpc",
                target_arch = "s390x"
            ))]
            restorer: 0,
            mask: 0,
        }
    }
}

/// Signal dispositions back to their defaults (handlers are gone already;
/// this undoes `SIG_IGN`, which `execve` would keep).
fn default_dispositions() {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        let act = KernelSigaction::default_action();
        // SAFETY: rt_sigaction reads one struct of the kernel's own layout
        // (`KernelSigaction`, with its sigset size) and writes nothing (a
        // null old action).
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                libc::c_long::from(sig),
                &raw const act,
                ptr::null_mut::<KernelSigaction>(),
                size_of::<u64>(),
            );
        }
    }
}

/// A fork-like raw `clone` (no pidfd, `SIGCHLD` on exit).
fn fork() -> Result<i32, i32> {
    // SAFETY: plain fork semantics: the child continues on a copy of this
    // stack and address space.
    sys(unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::c_long::from(libc::SIGCHLD),
            0 as libc::c_long,
            0 as libc::c_long,
            0 as libc::c_long,
            0 as libc::c_long,
        )
    })
    .map(|pid| pid as i32)
}

/// Waits for `main` while reaping every other child, passing on every
/// signal it receives to `main`, then exits as `main` did. Signals must be
/// blocked. As pid 1 of a namespace a process cannot be killed by its own
/// signals, so `reraise` is false there and a death by signal `n` exits
/// with `128 + n`, as shells report it.
fn supervise(main: i32, reraise: bool) -> ! {
    let all: u64 = !0;
    loop {
        // SAFETY: the kernel writes one siginfo into a zeroed local and
        // reads the 8-byte set.
        let sig = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::syscall(
                libc::SYS_rt_sigtimedwait,
                &raw const all,
                &raw mut info,
                ptr::null::<libc::timespec>(),
                8usize,
            )
        };
        if sig < 0 {
            continue; // EINTR
        }
        let sig = sig as i32;
        if sig != libc::SIGCHLD {
            // SAFETY: integer arguments.
            unsafe {
                libc::syscall(
                    libc::SYS_kill,
                    libc::c_long::from(main),
                    libc::c_long::from(sig),
                )
            };
            continue;
        }
        loop {
            let mut status: libc::c_int = 0;
            // SAFETY: the kernel writes the status into a local.
            let pid = unsafe {
                libc::syscall(
                    libc::SYS_wait4,
                    -1 as libc::c_long,
                    &raw mut status,
                    libc::c_long::from(libc::WNOHANG),
                    ptr::null_mut::<libc::rusage>(),
                )
            };
            if pid <= 0 {
                break;
            }
            if pid as i32 != main {
                continue; // an orphan, reaped
            }
            if libc::WIFEXITED(status) {
                exit(libc::WEXITSTATUS(status));
            }
            let signal = libc::WTERMSIG(status);
            if reraise {
                default_dispositions();
                // Unblock everything, then send ourselves the signal that
                // killed the child, to die of it the same way.
                super::set_kernel_mask(0);
                // SAFETY: integer arguments.
                unsafe {
                    libc::syscall(
                        libc::SYS_kill,
                        libc::c_long::from(super::getpid()),
                        libc::c_long::from(signal),
                    );
                }
            }
            exit(128i32.saturating_add(signal));
        }
    }
}

/// Unblocks every signal and runs the program; returns only the errno.
fn exec(program: &Exec) -> i32 {
    super::set_kernel_mask(0);
    let mut result = libc::ENOENT;
    for path in &program.candidates {
        // SAFETY: NUL-terminated path; null-terminated vectors of pointers
        // to strings the plan owns.
        unsafe {
            libc::syscall(
                libc::SYS_execve,
                path.as_ptr(),
                program.argv.as_ptr(),
                program.envp.as_ptr(),
            )
        };
        match errno() {
            // Not here: try the next directory of PATH.
            libc::ENOENT | libc::ENOTDIR => {}
            // Found but not executable: keep looking, and say so if no
            // other candidate runs (as execvp does).
            libc::EACCES => result = libc::EACCES,
            other => return other,
        }
    }
    result
}

/// The sandbox child: everything in [`Plan`], then `execve`.
pub(crate) fn run(plan: &Plan) -> ! {
    // First, while every signal is blocked: an ignored SIGCHLD would make
    // the kernel reap our children for us, and execve keeps SIG_IGN.
    default_dispositions();
    if plan.death_signal != 0 {
        // SAFETY: integer arguments.
        unsafe {
            libc::syscall(
                libc::SYS_prctl,
                libc::c_long::from(libc::PR_SET_PDEATHSIG),
                libc::c_long::from(plan.death_signal),
            )
        };
    }
    // Wait for the parent: it writes the id maps first. End of file means
    // it is gone or gave up; then there is nobody to report to.
    let mut byte = 0u8;
    if plan.go >= 0 {
        loop {
            // SAFETY: reads one byte into a local.
            let n = unsafe { libc::read(plan.go, (&raw mut byte).cast(), 1) };
            if n == 1 {
                break;
            }
            if n < 0 && errno() == libc::EINTR {
                continue;
            }
            exit(1);
        }
        close(plan.go);
    }
    let mut index: u32 = 0;
    for step in &plan.steps {
        if let Err(err) = run_step(step) {
            fail_in(plan, plan.report, index, err);
        }
        index = index.saturating_add(1);
    }
    if plan.death_signal != 0 {
        // A change of credentials (the SetIds step) clears it: set it again.
        // SAFETY: integer arguments.
        unsafe {
            libc::syscall(
                libc::SYS_prctl,
                libc::c_long::from(libc::PR_SET_PDEATHSIG),
                libc::c_long::from(plan.death_signal),
            )
        };
    }
    let (report, hold) = match install_fds(&plan.fds, &plan.keep, plan.report, plan.hold) {
        Ok(fds) => fds,
        Err(err) => fail_in(plan, plan.report, STEP_FDS, err),
    };
    if plan.init {
        match fork() {
            Err(err) => fail_in(plan, report, STEP_INIT, err),
            Ok(0) => {
                // The program never has the held fd (close-on-exec too).
                if hold >= 0 {
                    close(hold);
                }
                // A supervisor that is not pid 1 takes nothing with it when
                // it dies: the program then gets the death signal too.
                if !plan.init_is_pid1 && plan.death_signal != 0 {
                    // SAFETY: integer arguments.
                    unsafe {
                        libc::syscall(
                            libc::SYS_prctl,
                            libc::c_long::from(libc::PR_SET_PDEATHSIG),
                            libc::c_long::from(plan.death_signal),
                        )
                    };
                }
            }
            Ok(main) => {
                // The init keeps no fd but the held one: the program's
                // pipes close when it does, and the report pipe reaches end
                // of file at its exec.
                if hold >= 0 {
                    close_from(0, u32::try_from(hold).unwrap_or(0).saturating_sub(1));
                    close_from(hold.saturating_add(1), u32::MAX);
                } else {
                    close_from(0, u32::MAX);
                }
                supervise(main, !plan.init_is_pid1);
            }
        }
    }
    let err = exec(&plan.exec);
    fail_in(plan, report, STEP_EXEC, err)
}

/// What the `enter` child does, prepared by the parent.
#[derive(Debug)]
pub(crate) struct EnterPlan {
    /// Write end (close-on-exec) of the report pipe.
    pub(crate) report: RawFd,
    /// The target's pidfd, and the `CLONE_NEW*` set to join through it in
    /// one `setns` (0: go fd by fd).
    pub(crate) pidfd: RawFd,
    pub(crate) pidfd_flags: u32,
    /// Namespace fds with their `CLONE_NEW*` type, user namespace first.
    pub(crate) namespaces: Vec<(RawFd, u32)>,
    /// `/proc/PID/root` and `/proc/PID/cwd`, or -1.
    pub(crate) root: RawFd,
    pub(crate) cwd: RawFd,
    /// Credentials to take: supplementary groups, gid, uid.
    pub(crate) groups: Option<Vec<libc::gid_t>>,
    pub(crate) gid: Option<u32>,
    pub(crate) uid: Option<u32>,
    /// The target's confinement to take on: its bounding set (with the
    /// last capability number), its effective, permitted and inheritable
    /// sets (each intersected with ours), and `no_new_privs`.
    pub(crate) confine: Option<Confine>,
    /// The target's security-module label to take on at `execve`: the
    /// attribute file of this thread (`/proc/thread-self/attr/...exec`)
    /// and what to write to it, written first, through this process's own
    /// `/proc` (the file can only be written by the thread it belongs to).
    pub(crate) exec_label: Option<(CString, Vec<u8>)>,
    /// Fork once more after joining (pid and time namespaces apply to
    /// children only).
    pub(crate) fork: bool,
    /// Fds to install as stdin, stdout, stderr (-1: keep ours).
    pub(crate) stdio: [RawFd; 3],
    pub(crate) exec: Exec,
}

/// A target process's capabilities (all five sets) and `no_new_privs`, from its
/// `/proc/PID/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Confine {
    pub(crate) bounding: u64,
    pub(crate) effective: u64,
    pub(crate) permitted: u64,
    pub(crate) inheritable: u64,
    pub(crate) ambient: u64,
    pub(crate) no_new_privs: bool,
    pub(crate) last_cap: u32,
}

/// The step number of the confinement in enter's reports.
pub(crate) const STEP_CONFINE: u32 = 1_000_009;
/// The step number of the security label in enter's reports.
pub(crate) const STEP_LABEL: u32 = 1_000_010;

/// Writes `value` to the attribute file `path` in one `write`, as the
/// security modules take their attributes.
fn write_attr(path: &CString, value: &[u8]) -> Result<(), i32> {
    // SAFETY: NUL-terminated path; integer flags.
    let fd = sys(unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::c_long::from(libc::AT_FDCWD),
            path.as_ptr(),
            libc::c_long::from(libc::O_WRONLY | libc::O_CLOEXEC),
        )
    })? as RawFd;
    // SAFETY: writes `value.len()` bytes from the plan's vector.
    let n = unsafe { libc::syscall(libc::SYS_write, fd, value.as_ptr(), value.len()) };
    let err = errno();
    close(fd);
    if n < 0 {
        return Err(err);
    }
    if n as usize != value.len() {
        return Err(libc::EIO);
    }
    Ok(())
}

/// Drops the bounding set to the target's (needs `CAP_SETPCAP`, which
/// joining its user namespace as root gives); clears the ambient set.
fn confine_bounding(c: &Confine) -> Result<(), i32> {
    for cap in 0..=c.last_cap.min(63) {
        if c.bounding & (1 << cap) == 0 {
            // SAFETY: prctl with integer arguments only.
            sys(unsafe {
                libc::syscall(
                    libc::SYS_prctl,
                    libc::c_long::from(libc::PR_CAPBSET_DROP),
                    libc::c_long::from(cap),
                    0 as libc::c_long,
                    0 as libc::c_long,
                    0 as libc::c_long,
                )
            })?;
        }
    }
    // SAFETY: prctl with integer arguments only.
    sys(unsafe {
        libc::syscall(
            libc::SYS_prctl,
            PR_CAP_AMBIENT,
            PR_CAP_AMBIENT_CLEAR_ALL,
            0 as libc::c_long,
            0 as libc::c_long,
            0 as libc::c_long,
        )
    })
    .map(drop)
}

/// After the ids: the sets lowered to the target's (never raised: what a
/// uid change cleared stays clear), and `no_new_privs`.
fn confine_sets(c: &Confine) -> Result<(), i32> {
    let header = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let mut data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capget writes two data structs into the local array.
    sys(unsafe { libc::syscall(libc::SYS_capget, &raw const header, data.as_mut_ptr()) })?;
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the low and high words of a 64-bit set"
    )]
    let word = |set: u64, i: usize| (set >> (32 * i)) as u32;
    for (i, d) in data.iter_mut().enumerate() {
        // Inheritable may be taken from what is permitted (before it is
        // lowered): the kernel allows a subset of inheritable | permitted.
        d.inheritable = (d.inheritable | d.permitted) & word(c.inheritable, i);
        d.permitted &= word(c.permitted, i);
        d.effective &= word(c.effective, i) & d.permitted;
    }
    // SAFETY: capset reads one header and two data structs, all locals.
    sys(unsafe { libc::syscall(libc::SYS_capset, &raw const header, data.as_ptr()) })?;
    // The target's ambient set, where permitted and inheritable allow it.
    let held = u64::from(data[0].permitted & data[0].inheritable)
        | (u64::from(data[1].permitted & data[1].inheritable) << 32);
    for cap in 0..=c.last_cap.min(63) {
        if c.ambient & held & (1 << cap) != 0 {
            // SAFETY: prctl with integer arguments only.
            sys(unsafe {
                libc::syscall(
                    libc::SYS_prctl,
                    PR_CAP_AMBIENT,
                    PR_CAP_AMBIENT_RAISE,
                    libc::c_long::from(cap),
                    0 as libc::c_long,
                    0 as libc::c_long,
                )
            })?;
        }
    }
    if c.no_new_privs {
        // SAFETY: prctl with integer arguments only.
        sys(unsafe {
            libc::syscall(
                libc::SYS_prctl,
                libc::c_long::from(libc::PR_SET_NO_NEW_PRIVS),
                1 as libc::c_long,
                0 as libc::c_long,
                0 as libc::c_long,
                0 as libc::c_long,
            )
        })?;
    }
    Ok(())
}

/// Joins the namespaces: all at once through the pidfd when that works,
/// else fd by fd in two passes (the user namespace last in the first pass,
/// first in the second), as util-linux `nsenter` does. Returns the index of
/// the namespace that failed, with its errno.
fn join(plan: &EnterPlan) -> Result<(), (u32, i32)> {
    if plan.pidfd_flags != 0 {
        // SAFETY: integer arguments.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_setns,
                libc::c_long::from(plan.pidfd),
                libc::c_long::from(plan.pidfd_flags),
            )
        };
        if ret == 0 {
            return Ok(());
        }
    }
    let mut joined = [false; 8];
    for pass in 0..2 {
        for (i, (done, &(fd, kind))) in joined.iter_mut().zip(&plan.namespaces).enumerate() {
            let is_user = kind == libc::CLONE_NEWUSER as u32;
            if *done || (pass == 0 && is_user) {
                continue;
            }
            // SAFETY: integer arguments.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_setns,
                    libc::c_long::from(fd),
                    libc::c_long::from(kind),
                )
            };
            if ret == 0 {
                *done = true;
            } else if pass == 1 {
                return Err((i as u32, errno()));
            }
        }
    }
    Ok(())
}

/// The `enter` child: join, change root and credentials, fork if needed,
/// `execve`.
pub(crate) fn enter(plan: &EnterPlan) -> ! {
    default_dispositions();
    if let Some((path, value)) = &plan.exec_label
        && let Err(err) = write_attr(path, value)
    {
        fail(plan.report, STEP_LABEL, err);
    }
    if let Err((index, err)) = join(plan) {
        fail(plan.report, index, err);
    }
    if plan.root >= 0 {
        // SAFETY: integer and a static NUL-terminated string.
        let ok = unsafe {
            libc::syscall(libc::SYS_fchdir, libc::c_long::from(plan.root)) == 0
                && libc::syscall(libc::SYS_chroot, c".".as_ptr()) == 0
        };
        if !ok {
            fail(plan.report, STEP_ROOT, errno());
        }
    }
    if plan.cwd >= 0 {
        // SAFETY: integer argument.
        if unsafe { libc::syscall(libc::SYS_fchdir, libc::c_long::from(plan.cwd)) } != 0 {
            fail(plan.report, STEP_CWD, errno());
        }
    }
    if let Some(c) = &plan.confine
        && let Err(err) = confine_bounding(c)
    {
        fail(plan.report, STEP_CONFINE, err);
    }
    // Raw syscalls change this thread's credentials only, which is all of
    // this single-threaded process.
    if let Some(groups) = &plan.groups {
        // SAFETY: the kernel reads `len` gids from the plan's vector.
        let ret = unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
        if ret != 0 {
            fail(plan.report, STEP_GROUPS, errno());
        }
    }
    if let Some(gid) = plan.gid {
        let g = libc::c_long::from(gid);
        // SAFETY: integer arguments.
        if unsafe { libc::syscall(libc::SYS_setresgid, g, g, g) } != 0 {
            fail(plan.report, STEP_GID, errno());
        }
    }
    if let Some(uid) = plan.uid {
        let u = libc::c_long::from(uid);
        // SAFETY: integer arguments.
        if unsafe { libc::syscall(libc::SYS_setresuid, u, u, u) } != 0 {
            fail(plan.report, STEP_UID, errno());
        }
    }
    if let Some(c) = &plan.confine
        && let Err(err) = confine_sets(c)
    {
        fail(plan.report, STEP_CONFINE, err);
    }
    for (target, &source) in (0..).zip(&plan.stdio) {
        if source < 0 {
            continue;
        }
        // SAFETY: integer arguments; dup3 without O_CLOEXEC leaves the
        // target open across execve.
        if unsafe {
            libc::syscall(
                libc::SYS_dup3,
                libc::c_long::from(source),
                libc::c_long::from(target),
                0 as libc::c_long,
            )
        } < 0
        {
            fail(plan.report, STEP_FDS, errno());
        }
    }
    // Our fds other than stdio never reach the program: close-on-exec.
    // SAFETY: integer arguments.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_long,
            libc::c_long::from(u32::MAX),
            libc::c_long::from(libc::CLOSE_RANGE_CLOEXEC),
        )
    };
    if plan.fork {
        match fork() {
            Err(err) => fail(plan.report, STEP_FORK, err),
            Ok(0) => {}
            Ok(main) => {
                close(plan.report);
                supervise(main, true);
            }
        }
    }
    let err = exec(&plan.exec);
    fail(plan.report, STEP_EXEC, err)
}

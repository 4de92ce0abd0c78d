//! The kernel interface that neither rustix nor the C library wraps as we
//! need it: raw syscalls with raw integer and `CStr` arguments, the kernel's
//! structs (`struct clone_args`, `struct mount_attr`), and the namespace
//! ioctls. The only module (with its `child` submodule) that uses `unsafe`.
//!
//! # Safety
//!
//! Every call passes the kernel integers, fds borrowed for the call, and
//! pointers to NUL-terminated strings or `#[repr(C)]` structs that outlive
//! the call. `child` holds the code that runs between `clone3` and
//! `execve`: it is documented there.
#![allow(unsafe_code)]
// Syscalls return pids, which the kernel defines as `int`, in a `c_long`:
// narrowing them is exact.
#![allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]

pub(crate) mod child;

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

use fd_core::{Error, Result};

/// The errno of the last failed call in this thread (async-signal-safe).
pub(crate) fn errno() -> i32 {
    // SAFETY: this thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}

/// A raw syscall's return value, or the errno as an [`Error`] of `call`.
fn check(call: &'static str, ret: libc::c_long) -> Result<libc::c_long> {
    if ret < 0 {
        Err(Error::from_errno(call, errno()))
    } else {
        Ok(ret)
    }
}

/// A returned fd, owned.
fn owned(call: &'static str, ret: libc::c_long) -> Result<OwnedFd> {
    let fd = check(call, ret)?;
    let fd = RawFd::try_from(fd).map_err(|_| Error::from_errno(call, libc::EBADF))?;
    // SAFETY: the kernel just returned this new fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ptr_of(s: Option<&CStr>) -> *const libc::c_char {
    s.map_or(ptr::null(), CStr::as_ptr)
}

fn dirfd(fd: Option<BorrowedFd<'_>>) -> libc::c_long {
    libc::c_long::from(fd.map_or(libc::AT_FDCWD, |fd| fd.as_raw_fd()))
}

/// `unshare(flags)`.
pub(crate) fn unshare(flags: u32) -> Result<()> {
    // SAFETY: integer argument only.
    check("unshare", unsafe {
        libc::syscall(libc::SYS_unshare, libc::c_long::from(flags))
    })
    .map(drop)
}

/// `setns(fd, nstype)`.
pub(crate) fn setns(fd: BorrowedFd<'_>, nstype: u32) -> Result<()> {
    // SAFETY: a borrowed fd and an integer.
    check("setns", unsafe {
        libc::syscall(
            libc::SYS_setns,
            libc::c_long::from(fd.as_raw_fd()),
            libc::c_long::from(nstype),
        )
    })
    .map(drop)
}

/// `_IO(type, nr)`.
const fn io(ty: u32, nr: u32) -> libc::c_ulong {
    ((ty << 8) | nr) as libc::c_ulong
}

/// `NSIO`, the namespace ioctls' type.
const NSIO: u32 = 0xb7;
pub(crate) const NS_GET_USERNS: libc::c_ulong = io(NSIO, 0x1);
pub(crate) const NS_GET_PARENT: libc::c_ulong = io(NSIO, 0x2);
pub(crate) const NS_GET_NSTYPE: libc::c_ulong = io(NSIO, 0x3);
pub(crate) const NS_GET_OWNER_UID: libc::c_ulong = io(NSIO, 0x4);

/// `PIDFS_IOCTL_MAGIC`: the pidfd ioctls' type (Linux 6.11).
const PIDFS: u32 = 0xFF;
/// `PIDFD_GET_<kind>_NAMESPACE`, by `CLONE_NEW*` flag.
pub(crate) fn pidfd_ns_request(flag: u32) -> libc::c_ulong {
    let nr = match flag as libc::c_int {
        libc::CLONE_NEWCGROUP => 1,
        libc::CLONE_NEWIPC => 2,
        libc::CLONE_NEWNS => 3,
        libc::CLONE_NEWNET => 4,
        libc::CLONE_NEWPID => 5,
        libc::CLONE_NEWTIME => 7,
        libc::CLONE_NEWUSER => 9,
        _ => 10, // CLONE_NEWUTS
    };
    io(PIDFS, nr)
}

/// An ioctl without argument that returns an fd (`NS_GET_USERNS`,
/// `NS_GET_PARENT`, `PIDFD_GET_*_NAMESPACE`).
pub(crate) fn ioctl_fd(
    call: &'static str,
    fd: BorrowedFd<'_>,
    request: libc::c_ulong,
) -> Result<OwnedFd> {
    // SAFETY: these requests take no argument and return a new fd.
    owned(call, unsafe {
        libc::c_long::from(libc::ioctl(fd.as_raw_fd(), request as _))
    })
}

/// `ioctl(fd, NS_GET_NSTYPE)`: the `CLONE_NEW*` flag of a namespace fd.
pub(crate) fn ns_get_nstype(fd: BorrowedFd<'_>) -> Result<u32> {
    // SAFETY: NS_GET_NSTYPE takes no argument and returns an integer.
    let ret = check("ioctl(NS_GET_NSTYPE)", unsafe {
        libc::c_long::from(libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _))
    })?;
    Ok(u32::try_from(ret).unwrap_or(0))
}

/// `ioctl(fd, NS_GET_OWNER_UID, &uid)`.
pub(crate) fn ns_get_owner_uid(fd: BorrowedFd<'_>) -> Result<u32> {
    let mut uid: libc::uid_t = 0;
    // SAFETY: the kernel writes one uid_t through the pointer, a local that
    // outlives the call.
    check("ioctl(NS_GET_OWNER_UID)", unsafe {
        libc::c_long::from(libc::ioctl(
            fd.as_raw_fd(),
            NS_GET_OWNER_UID as _,
            &raw mut uid,
        ))
    })?;
    Ok(uid)
}

/// `mount(source, target, fstype, flags, data)`.
pub(crate) fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> Result<()> {
    // SAFETY: NUL-terminated strings or null, alive for the call.
    check("mount", unsafe {
        libc::syscall(
            libc::SYS_mount,
            ptr_of(source),
            target.as_ptr(),
            ptr_of(fstype),
            flags,
            ptr_of(data),
        )
    })
    .map(drop)
}

/// `fsconfig(fd, cmd, key, value, aux)`; `value` is a string, a binary
/// blob (with `aux` its length) or a path, as `cmd` says.
pub(crate) fn fsconfig(
    fd: BorrowedFd<'_>,
    cmd: u32,
    key: Option<&CStr>,
    value: Option<&[u8]>,
    aux: i32,
) -> Result<()> {
    let value = value.map_or(ptr::null(), <[u8]>::as_ptr);
    // SAFETY: key is NUL-terminated or null; value is null, a NUL-terminated
    // string, or `aux` bytes (the callers in `raw` guarantee which).
    check("fsconfig", unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            libc::c_long::from(fd.as_raw_fd()),
            libc::c_long::from(cmd),
            ptr_of(key),
            value,
            libc::c_long::from(aux),
        )
    })
    .map(drop)
}

/// `struct mount_attr` (`MOUNT_ATTR_SIZE_VER0`, 32 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MountAttrRaw {
    pub(crate) attr_set: u64,
    pub(crate) attr_clr: u64,
    pub(crate) propagation: u64,
    pub(crate) userns_fd: u64,
}

/// `mount_setattr(dirfd, path, flags, &attr, sizeof attr)`.
pub(crate) fn mount_setattr(
    dir: Option<BorrowedFd<'_>>,
    path: &CStr,
    flags: u32,
    attr: &MountAttrRaw,
) -> Result<()> {
    // SAFETY: the kernel reads `size_of::<MountAttrRaw>()` bytes of `attr`,
    // which outlives the call; the path is NUL-terminated.
    check("mount_setattr", unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd(dir),
            path.as_ptr(),
            libc::c_long::from(flags),
            ptr::from_ref(attr),
            size_of::<MountAttrRaw>(),
        )
    })
    .map(drop)
}

/// `getpid()` as a raw syscall, for the clone child (which makes raw
/// calls only); the parent side uses [`crate::getpid`] (rustix).
pub(crate) fn getpid() -> i32 {
    // SAFETY: getpid takes no arguments, touches no memory and cannot fail.
    unsafe { libc::syscall(libc::SYS_getpid) as i32 }
}

/// `struct clone_args` (`CLONE_ARGS_SIZE_VER2`, 88 bytes).
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct CloneArgs {
    pub(crate) flags: u64,
    pub(crate) pidfd: u64,
    pub(crate) child_tid: u64,
    pub(crate) parent_tid: u64,
    pub(crate) exit_signal: u64,
    pub(crate) stack: u64,
    pub(crate) stack_size: u64,
    pub(crate) tls: u64,
    pub(crate) set_tid: u64,
    pub(crate) set_tid_size: u64,
    pub(crate) cgroup: u64,
}

/// `CLONE_CLEAR_SIGHAND` (5.5): bit 32, past the C library's `int`.
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;

/// The kernel's full signal set: every bit of its 64-bit `sigset_t`.
const ALL_SIGNALS: u64 = !0;

/// `rt_sigprocmask(SIG_SETMASK, set, &old, 8)` on the kernel's 64-bit set,
/// which (unlike `pthread_sigmask`) also blocks the C library's internal
/// signals. Returns the old mask. A raw syscall, async-signal-safe: the
/// child code uses it too.
pub(crate) fn set_kernel_mask(set: u64) -> u64 {
    let mut old: u64 = 0;
    // SAFETY: the kernel reads and writes one 8-byte set through pointers to
    // locals that outlive the call. It cannot fail with these arguments.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::c_long::from(libc::SIG_SETMASK),
            &raw const set,
            &raw mut old,
            8usize,
        )
    };
    old
}

/// `clone3` as a new process (no shared memory, no stack of its own, like
/// `fork`) with `flags | CLONE_PIDFD`, exit signal `SIGCHLD`, every signal
/// blocked around the call. In the child, runs `plan` and never returns.
///
/// `CLONE_CLEAR_SIGHAND` (5.5) is added when the kernel takes it (`EINVAL`
/// retries without), so that no handler of the parent can run in the
/// child; signals stay blocked in the child until just before `execve` in
/// any case.
///
/// With `cgroup`, the child starts in that cgroup (v2 directory fd,
/// `CLONE_INTO_CGROUP`, 5.7): nothing it runs is ever outside it.
pub(crate) fn clone3_process(
    flags: u64,
    plan: &child::Plan,
    cgroup: Option<BorrowedFd<'_>>,
) -> Result<(i32, OwnedFd)> {
    clone3_running(flags, plan, cgroup, child::run)
}

/// As [`clone3_process`] without namespaces, for `enter`: the child runs
/// `plan` and never returns.
///
/// With `cgroup`, the child starts in that cgroup (`CLONE_INTO_CGROUP`).
pub(crate) fn fork_process(
    plan: &child::EnterPlan,
    cgroup: Option<BorrowedFd<'_>>,
) -> Result<(i32, OwnedFd)> {
    clone3_running(0, plan, cgroup, child::enter)
}

fn clone3_running<P>(
    flags: u64,
    plan: &P,
    cgroup: Option<BorrowedFd<'_>>,
    body: fn(&P) -> !,
) -> Result<(i32, OwnedFd)> {
    let old = set_kernel_mask(ALL_SIGNALS);
    let cgroup = cgroup.map(|fd| fd.as_raw_fd());
    let mut result = clone_once(flags | CLONE_CLEAR_SIGHAND, plan, cgroup, body);
    if let Err(e) = &result
        && e.errno() == libc::EINVAL
    {
        result = clone_once(flags, plan, cgroup, body);
    }
    set_kernel_mask(old);
    result
}

/// `CLONE_INTO_CGROUP` (5.7): bit 33.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

fn clone_once<P>(
    flags: u64,
    plan: &P,
    cgroup: Option<RawFd>,
    body: fn(&P) -> !,
) -> Result<(i32, OwnedFd)> {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: (&raw mut pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = u64::try_from(fd).unwrap_or(u64::MAX);
    }
    // SAFETY: `args` is a valid clone_args of the size given, and the pidfd
    // pointer in it points to a local that outlives the call. Without
    // CLONE_VM the child gets a copy of this address space and, without a
    // stack of its own, continues on its copy of this stack, as after fork.
    let ret = unsafe { libc::syscall(libc::SYS_clone3, &raw const args, size_of::<CloneArgs>()) };
    if ret == 0 {
        // The child: it never returns from here.
        body(plan);
    }
    if ret < 0 {
        return Err(Error::from_errno("clone3", errno()));
    }
    // SAFETY: CLONE_PIDFD made the kernel store a new fd there for us.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok((ret as i32, pidfd))
}

/// The stack the vfork-style child runs on (a guard page below it). The
/// child's deepest path (fd installation's scratch table, a mount step's
/// strings) needs a few KiB; pages are only faulted in where it reaches.
const VFORK_STACK: usize = 256 * 1024;

/// The vfork-style spawn, as `posix_spawn` does it: `clone` with
/// `CLONE_VM | CLONE_VFORK | CLONE_PIDFD` and `flags`, the child on a
/// stack of its own mapped here. The child shares this address space and
/// this thread is suspended until its `execve` (or its exit), so nothing
/// is copied: no page tables, no copy-on-write faults afterwards.
///
/// What makes it sound, beyond the rules of [`child`] (no allocation, raw
/// syscalls only, no panics): the child writes only to its own stack and
/// to this thread's `errno` (which nobody reads before the next failing
/// call); every signal is blocked around the call and its dispositions
/// are reset in the child before they are unblocked at `execve`, so no
/// handler of ours runs on shared memory; the plan it reads is borrowed
/// for the call and so outlives it. Callers keep to what the child can do
/// without the parent: no id maps to write (no user namespace), no
/// `CLONE_NEWTIME` or `CLONE_INTO_CGROUP` (they are `clone3`'s), no init
/// (which would never `execve`, keeping this thread suspended).
pub(crate) fn vfork_process(flags: u64, plan: &child::Plan) -> Result<(i32, OwnedFd)> {
    const CLONE_VFORK_FLAGS: libc::c_int =
        libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD;
    let Ok(flags) = libc::c_int::try_from(flags) else {
        return Err(Error::from_errno("clone", libc::EINVAL));
    };
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let len = VFORK_STACK + page;
    // SAFETY: a new private anonymous mapping; nothing else refers to it.
    let base = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(Error::from_errno("mmap", errno()));
    }
    let unmap = || {
        // SAFETY: the whole mapping made above; the child no longer runs
        // on it (it has exec'd or exited, or was never made).
        unsafe { libc::munmap(base, len) };
    };
    // A guard page at the low end, where a stack that grows down overflows.
    // SAFETY: the first page of our own mapping.
    if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
        let e = Error::from_errno("mprotect", errno());
        unmap();
        return Err(e);
    }
    let mut pidfd: libc::c_int = -1;
    let old = set_kernel_mask(ALL_SIGNALS);
    // SAFETY: the stack pointer is the top of a mapping of `len` bytes
    // (page aligned, so aligned for every ABI) that stays mapped until the
    // child has left it; `plan` outlives the call (this thread is
    // suspended until the child's execve or exit); the pidfd pointer is a
    // local. The child runs `vfork_child`, which never returns.
    let ret = unsafe {
        libc::clone(
            vfork_child,
            base.cast::<u8>().add(len).cast(),
            flags | CLONE_VFORK_FLAGS,
            ptr::from_ref(plan).cast_mut().cast(),
            &raw mut pidfd,
        )
    };
    let err = errno();
    set_kernel_mask(old);
    unmap();
    if ret < 0 {
        return Err(Error::from_errno("clone", err));
    }
    // SAFETY: CLONE_PIDFD made the kernel store a new fd there for us.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok((ret, pidfd))
}

/// The vfork-style child's entry, on its own stack.
extern "C" fn vfork_child(plan: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `vfork_process` passes a `&Plan` that outlives the child's
    // use of it (the parent waits for our execve or exit).
    let plan = unsafe { &*plan.cast::<child::Plan>() };
    child::run(plan)
}

/// Child body: `unshare(CLONE_NEWUSER)`.
fn child_unshare_user() -> i32 {
    // SAFETY: raw syscall with an integer argument.
    if unsafe { libc::syscall(libc::SYS_unshare, libc::c_long::from(libc::CLONE_NEWUSER)) } < 0 {
        return errno();
    }
    0
}

/// Whether a new-mount-API syscall exists: called with every flag bit set,
/// which it refuses (EINVAL, or EPERM first) before reading any pointer;
/// `false` only on `ENOSYS`.
pub(crate) fn syscall_known(nr: libc::c_long) -> bool {
    let all = !0 as libc::c_ulong;
    // SAFETY: each call checks its flags or capability before reading
    // through the null pointers, so nothing is dereferenced.
    let ret = unsafe {
        match nr {
            libc::SYS_fsopen => libc::syscall(nr, 0usize, all),
            libc::SYS_open_tree => libc::syscall(nr, -1 as libc::c_long, 0usize, all),
            _ => libc::syscall(nr, -1 as libc::c_long, 0usize, all, 0usize, 0usize),
        }
    };
    ret == 0 || errno() != libc::ENOSYS
}

/// `struct landlock_ruleset_attr` (its size tells the kernel which fields
/// this caller knows: 16 bytes before ABI 6's `scoped`, 8 before ABI 4's
/// network rights).
#[repr(C)]
struct LandlockRulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `struct landlock_path_beneath_attr` (packed, as the kernel has it).
#[repr(C, packed)]
struct LandlockPathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// `struct landlock_net_port_attr`.
#[repr(C)]
struct LandlockNetPortAttr {
    allowed_access: u64,
    port: u64,
}

/// `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)`:
/// the ABI version, or the errno (`ENOSYS`: not built in; `EOPNOTSUPP`:
/// built in but not enabled at boot).
pub(crate) fn landlock_abi() -> std::result::Result<u32, i32> {
    // SAFETY: a null attribute with size 0 and the version flag: the
    // kernel reads nothing.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            ptr::null::<LandlockRulesetAttr>(),
            0usize,
            1 as libc::c_long,
        )
    };
    if ret < 0 {
        Err(errno())
    } else {
        Ok(u32::try_from(ret).unwrap_or(0))
    }
}

/// `landlock_create_ruleset`: a new ruleset fd (close-on-exec, as the
/// kernel always makes it), handling these rights. `scoped` is passed only
/// when non-zero and `net` only when it or `scoped` is, so older kernels
/// see the struct size they know.
pub(crate) fn landlock_create_ruleset(fs: u64, net: u64, scoped: u64) -> Result<OwnedFd> {
    let attr = LandlockRulesetAttr {
        handled_access_fs: fs,
        handled_access_net: net,
        scoped,
    };
    let size = if scoped != 0 {
        24usize
    } else if net != 0 {
        16
    } else {
        8
    };
    // SAFETY: the kernel reads `size` bytes of the local struct.
    owned("landlock_create_ruleset", unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &raw const attr,
            size,
            0 as libc::c_long,
        )
    })
}

/// `landlock_add_rule(LANDLOCK_RULE_PATH_BENEATH)`.
pub(crate) fn landlock_add_path_rule(
    ruleset: BorrowedFd<'_>,
    access: u64,
    parent: BorrowedFd<'_>,
) -> Result<()> {
    let attr = LandlockPathBeneathAttr {
        allowed_access: access,
        parent_fd: parent.as_raw_fd(),
    };
    // SAFETY: the kernel reads the local struct; both fds are borrowed.
    check("landlock_add_rule", unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            libc::c_long::from(ruleset.as_raw_fd()),
            1 as libc::c_long,
            &raw const attr,
            0 as libc::c_long,
        )
    })
    .map(drop)
}

/// `landlock_add_rule(LANDLOCK_RULE_NET_PORT)`.
pub(crate) fn landlock_add_port_rule(
    ruleset: BorrowedFd<'_>,
    access: u64,
    port: u16,
) -> Result<()> {
    let attr = LandlockNetPortAttr {
        allowed_access: access,
        port: u64::from(port),
    };
    // SAFETY: the kernel reads the local struct; the fd is borrowed.
    check("landlock_add_rule", unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            libc::c_long::from(ruleset.as_raw_fd()),
            2 as libc::c_long,
            &raw const attr,
            0 as libc::c_long,
        )
    })
    .map(drop)
}

/// `landlock_restrict_self(ruleset, 0)`: this thread, from now on.
pub(crate) fn landlock_restrict_self(ruleset: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: integer arguments; the fd is borrowed.
    check("landlock_restrict_self", unsafe {
        libc::syscall(
            libc::SYS_landlock_restrict_self,
            libc::c_long::from(ruleset.as_raw_fd()),
            0 as libc::c_long,
        )
    })
    .map(drop)
}

/// Tries `unshare(CLONE_NEWUSER)` in a forked child (as uid 65534 with
/// `as_nobody`): `Ok(Err(errno))` when the kernel refused.
pub(crate) fn try_user_namespace(as_nobody: bool) -> Result<std::result::Result<(), i32>> {
    // SAFETY: the child body makes one raw syscall and reads errno, as
    // `in_child` requires.
    unsafe { fd_core::probe::in_child(as_nobody, child_unshare_user) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    /// The kernel's `struct sigaction` (arch/x86/include/uapi/asm/signal.h
    /// on x86_64, asm-generic with `SA_RESTORER` on arm64): 8-byte
    /// handler, flags, restorer, then the 64-bit mask.
    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn kernel_sigaction_layout() {
        use child::KernelSigaction;
        assert_eq!(size_of::<KernelSigaction>(), 32);
        assert_eq!(offset_of!(KernelSigaction, handler), 0);
        assert_eq!(offset_of!(KernelSigaction, flags), 8);
        assert_eq!(offset_of!(KernelSigaction, restorer), 16);
        assert_eq!(offset_of!(KernelSigaction, mask), 24);
    }

    #[test]
    fn layouts_match_the_kernel() {
        // include/uapi/linux/sched.h: CLONE_ARGS_SIZE_VER2 is 88.
        assert_eq!(size_of::<CloneArgs>(), 88);
        assert_eq!(offset_of!(CloneArgs, exit_signal), 32);
        assert_eq!(offset_of!(CloneArgs, cgroup), 80);
        assert_eq!(size_of::<CloneArgs>(), size_of::<libc::clone_args>());
        // include/uapi/linux/mount.h: MOUNT_ATTR_SIZE_VER0 is 32.
        assert_eq!(size_of::<MountAttrRaw>(), 32);
        assert_eq!(offset_of!(MountAttrRaw, userns_fd), 24);
        // The child reads f_flags as word 10 of struct statfs (64-bit).
        #[cfg(target_pointer_width = "64")]
        assert_eq!(size_of::<libc::statfs>(), 120);
    }

    #[test]
    fn ioctl_numbers_match_the_kernel() {
        assert_eq!(NS_GET_USERNS, libc::NS_GET_USERNS as libc::c_ulong);
        assert_eq!(NS_GET_PARENT, libc::NS_GET_PARENT as libc::c_ulong);
        assert_eq!(NS_GET_NSTYPE, libc::NS_GET_NSTYPE as libc::c_ulong);
        assert_eq!(NS_GET_OWNER_UID, libc::NS_GET_OWNER_UID as libc::c_ulong);
        // include/uapi/linux/pidfd.h: PIDFD_GET_UTS_NAMESPACE = _IO(0xFF, 10).
        assert_eq!(pidfd_ns_request(libc::CLONE_NEWUTS as u32), 0xFF0A);
    }
}

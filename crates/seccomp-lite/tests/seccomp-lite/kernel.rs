//! Filters loaded for real, in forked children only: the kernel's answer
//! must be the simulator's.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

use butter_tests::{become_nobody, fork_child, skip};
use seccomp_lite::{
    Action, Arch, Arg, ErrorKind, Filter, FilterFlags, Insn, Program, Rule, X32_SYSCALL_BIT,
    seccomp_mode, seccomp_set_mode_filter, seccomp_set_mode_strict,
};

/// How a child ended: its exit code, or the signal that killed it.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum End {
    Exit(i32),
    Signal(i32),
}

pub(crate) fn wait(pid: u32) -> End {
    let mut status = 0;
    // SAFETY: waits for our own child; the status is a local.
    let r = unsafe { libc::waitpid(pid as i32, &raw mut status, 0) };
    assert_eq!(
        r,
        pid as i32,
        "waitpid: {}",
        std::io::Error::last_os_error()
    );
    if libc::WIFEXITED(status) {
        End::Exit(libc::WEXITSTATUS(status))
    } else {
        End::Signal(libc::WTERMSIG(status))
    }
}

fn native() -> Arch {
    Arch::native().expect("tests run on an architecture with tables")
}

/// getpriority(which, who): harmless, two arguments to compare.
fn nr_getpriority() -> u32 {
    native().syscall("getpriority").unwrap()
}

fn call(nr: u32, a0: u64, a1: u64) -> (i64, i32) {
    // SAFETY: a raw syscall with integer arguments.
    let r = unsafe {
        libc::syscall(
            libc::c_long::from(nr as i32),
            a0,
            a1,
            0u64,
            0u64,
            0u64,
            0u64,
        )
    };
    let errno = if r < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    } else {
        0
    };
    (r, errno)
}

static SIG_SYSCALL: AtomicI32 = AtomicI32::new(-1);
static SIG_ERRNO: AtomicI32 = AtomicI32::new(-1);
static SIG_CODE: AtomicI32 = AtomicI32::new(-1);
static SIG_ARCH: AtomicU32 = AtomicU32::new(0);
static SIG_COUNT: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo; SIGSYS's fields sit at
    // fixed offsets (si_errno 4, si_code 8, _sigsys: call_addr 16,
    // syscall 24, arch 28).
    unsafe {
        let base = info.cast::<u8>();
        SIG_ERRNO.store(*base.add(4).cast::<i32>(), Ordering::SeqCst);
        SIG_CODE.store(*base.add(8).cast::<i32>(), Ordering::SeqCst);
        SIG_SYSCALL.store(*base.add(24).cast::<i32>(), Ordering::SeqCst);
        SIG_ARCH.store(*base.add(28).cast::<u32>(), Ordering::SeqCst);
    }
    SIG_COUNT.fetch_add(1, Ordering::SeqCst);
}

fn install_sigsys_handler() {
    // SAFETY: installs an async-signal-safe handler (atomics only).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigsys as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        assert_eq!(
            libc::sigaction(libc::SIGSYS, &raw const sa, std::ptr::null_mut()),
            0
        );
    }
}

/// For every action: a child loads a filter answering it for
/// getpriority(0, 7) and makes the call; what happens must be what the
/// simulator said.
pub(crate) fn every_action_kernel_equals_simulator() {
    let actions = [
        Action::Allow,
        Action::Log,
        Action::Errno(13),
        Action::Errno(4095),
        Action::Trace(5),
        Action::UserNotif,
        Action::Trap(42),
        Action::KillThread,
        Action::KillProcess,
    ];
    let nr = nr_getpriority();
    for action in actions {
        let filter = Filter::new(Action::Allow)
            .rule(Rule::new("getpriority", action).when(Arg::i32(1).equal(7)))
            .rule(Rule::new("getpriority", Action::Errno(1)).when(Arg::i32(1).equal(8)));
        let program = filter.compile().unwrap();
        let predicted = program.simulate(native(), nr, [0, 7, 0, 0, 0, 0]);
        assert_eq!(predicted, action, "the simulator reads the rule");
        assert_eq!(
            program.simulate(native(), nr, [0, 8, 0, 0, 0, 0]),
            Action::Errno(1)
        );
        let pid = fork_child(|| {
            install_sigsys_handler();
            program.load().expect("load in the child");
            // The non-matching call is untouched by the action under test.
            let (_, e) = call(nr, 0, 8);
            if e != 1 {
                return 90;
            }
            match action {
                Action::KillThread => {
                    // Only the calling thread dies: the process goes on.
                    let mut tid: libc::pthread_t = 0;
                    extern "C" fn body(_: *mut libc::c_void) -> *mut libc::c_void {
                        call(nr_getpriority(), 0, 7);
                        std::ptr::dangling_mut()
                    }
                    // SAFETY: a plain pthread joined below; its C-level
                    // join works though the kernel ends it mid-call.
                    unsafe {
                        assert_eq!(
                            libc::pthread_create(
                                &raw mut tid,
                                std::ptr::null(),
                                body,
                                std::ptr::null_mut()
                            ),
                            0
                        );
                        let mut ret = std::ptr::null_mut();
                        assert_eq!(libc::pthread_join(tid, &raw mut ret), 0);
                        // The thread never returned its value.
                        if ret == std::ptr::dangling_mut() {
                            91
                        } else {
                            0
                        }
                    }
                }
                _ => {
                    let (r, e) = call(nr, 0, 7);
                    match action {
                        Action::Allow | Action::Log => i32::from(r < 0),
                        Action::Errno(n) => i32::from(!(r == -1 && e == i32::from(n))),
                        // Nothing traces us / no listener: ENOSYS.
                        Action::Trace(_) | Action::UserNotif => {
                            i32::from(!(r == -1 && e == libc::ENOSYS))
                        }
                        Action::Trap(d) => {
                            let ok = SIG_COUNT.load(Ordering::SeqCst) == 1
                                && SIG_ERRNO.load(Ordering::SeqCst) == i32::from(d)
                                && SIG_CODE.load(Ordering::SeqCst) == 1 // SYS_SECCOMP
                                && SIG_SYSCALL.load(Ordering::SeqCst) == nr as i32
                                && SIG_ARCH.load(Ordering::SeqCst) == native().audit();
                            i32::from(!ok)
                        }
                        _ => 92,
                    }
                }
            }
        });
        let end = wait(pid);
        let want = if action == Action::KillProcess {
            End::Signal(libc::SIGSYS)
        } else {
            End::Exit(0)
        };
        assert_eq!(
            end, want,
            "{action}: the kernel did otherwise than the simulator"
        );
    }
}

pub(crate) fn strict_mode() {
    let pid = fork_child(|| {
        seccomp_set_mode_strict().expect("strict mode");
        // write is allowed …
        let msg = b"";
        // SAFETY: write of an empty buffer to stderr, then getpid.
        unsafe {
            libc::syscall(libc::SYS_write, 2, msg.as_ptr(), 0);
            // … getpid is not: SIGKILL.
            libc::syscall(libc::SYS_getpid);
            libc::syscall(libc::SYS_exit, 0);
        }
        0
    });
    assert_eq!(wait(pid), End::Signal(libc::SIGKILL));
    // A strict thread that only writes and _exits ends normally.
    let pid = fork_child(|| {
        seccomp_set_mode_strict().unwrap();
        // SAFETY: the thread's own exit, which strict mode allows.
        unsafe { libc::syscall(libc::SYS_exit, 3) };
        0
    });
    assert_eq!(wait(pid), End::Exit(3));
}

pub(crate) fn no_new_privs_or_cap_sys_admin() {
    let program = Filter::new(Action::Allow).compile().unwrap();
    // Without no_new_privs, as nobody: refused, and the error says why.
    let pid = fork_child(|| {
        become_nobody();
        if rustix::process::geteuid().is_root() {
            return 77;
        }
        match program.loader().no_new_privs(false).load() {
            Err(e)
                if e.kind() == ErrorKind::PermissionDenied
                    && e.to_string().contains("no_new_privs") =>
            {
                eprintln!("as nobody: {e}");
                // With it (the default) the same user may.
                i32::from(program.load().is_err())
            }
            other => {
                eprintln!("unexpected: {other:?}");
                1
            }
        }
    });
    match wait(pid) {
        End::Exit(77) => skip("not root: cannot become another user to lose CAP_SYS_ADMIN"),
        end => assert_eq!(end, End::Exit(0)),
    }
    // As root, CAP_SYS_ADMIN is enough.
    if rustix::process::geteuid().is_root() {
        program.loader().no_new_privs(false).load().unwrap();
        assert!(!seccomp_lite::no_new_privs().unwrap());
        assert_eq!(seccomp_mode().unwrap(), 2);
    }
}

pub(crate) fn flags_refused_first_and_unknown_actions() {
    let program = Filter::new(Action::Allow).compile().unwrap();
    let e = program
        .loader()
        .flags(FilterFlags::TSYNC)
        .load_listener()
        .unwrap_err();
    assert!(e.to_string().contains("TSYNC_ESRCH"), "{e}");
    let e = program
        .loader()
        .flags(FilterFlags::WAIT_KILLABLE_RECV)
        .load()
        .unwrap_err();
    assert!(e.to_string().contains("NEW_LISTENER"), "{e}");
    let e = program
        .loader()
        .flags(FilterFlags::NEW_LISTENER)
        .load()
        .unwrap_err();
    assert!(e.to_string().contains("load_listener"), "{e}");
    // The raw call: the kernel refuses the same combination itself.
    let pid = fork_child(|| {
        seccomp_lite::set_no_new_privs().unwrap();
        let e = seccomp_set_mode_filter(
            FilterFlags::TSYNC | FilterFlags::NEW_LISTENER,
            program.instructions(),
        )
        .unwrap_err();
        i32::from(e.errno() != libc::EINVAL)
    });
    assert_eq!(
        wait(pid),
        End::Exit(0),
        "the kernel refuses TSYNC|NEW_LISTENER"
    );
    // A return value no kernel knows, asked of this kernel first.
    let odd = Program::from_insns(vec![Insn::ret(0x7ff8_0000)]).unwrap();
    let e = odd.loader().check().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(
        e.to_string().contains("0x7ff80000") && e.to_string().contains("instruction 0"),
        "{e}"
    );
    // 4097 instructions: refused by us with the size, and by the kernel.
    let mut long = vec![Insn::load(0); 4096];
    long.push(Insn::ret(Action::Allow.to_ret()));
    let e = Program::from_insns(long.clone()).unwrap_err();
    assert!(e.to_string().contains("4097"), "{e}");
    let pid = fork_child(|| {
        seccomp_lite::set_no_new_privs().unwrap();
        let e = seccomp_set_mode_filter(FilterFlags::empty(), &long).unwrap_err();
        i32::from(e.errno() != libc::EINVAL)
    });
    assert_eq!(
        wait(pid),
        End::Exit(0),
        "the kernel refuses 4097 instructions"
    );
}

pub(crate) fn tsync_covers_every_thread() {
    let nr = nr_getpriority();
    let program = Filter::new(Action::Allow)
        .rule(Rule::new("getpriority", Action::Errno(77)))
        .compile()
        .unwrap();
    // The real test: threads started first, filter with TSYNC, then each calls.
    let pid = fork_child(|| {
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
        let after = std::sync::Arc::new(std::sync::Barrier::new(4));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (b, a) = (barrier.clone(), after.clone());
                std::thread::spawn(move || {
                    b.wait();
                    a.wait(); // the main thread has loaded with TSYNC
                    call(nr, 0, 0).1
                })
            })
            .collect();
        barrier.wait();
        program.loader().tsync().load().unwrap();
        after.wait();
        let errnos: Vec<i32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        i32::from(errnos != [77, 77, 77] || call(nr, 0, 0).1 != 77)
    });
    assert_eq!(wait(pid), End::Exit(0));
}

pub(crate) fn tsync_failure_names_the_thread() {
    let program = Filter::new(Action::Allow)
        .rule(Rule::new("getpriority", Action::Errno(77)))
        .compile()
        .unwrap();
    let other = Filter::new(Action::Allow)
        .rule(Rule::new("getppid", Action::Errno(78)))
        .compile()
        .unwrap();
    let pid = fork_child(|| {
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let release = std::sync::Arc::new(std::sync::Barrier::new(2));
        let r = release.clone();
        let t = std::thread::spawn(move || {
            // A filter of its own: not an ancestor of what main loads.
            other.load().unwrap();
            tid_tx.send(butter_tests::gettid()).unwrap();
            r.wait();
        });
        let tid = tid_rx.recv().unwrap();
        let e = program.loader().tsync().load().unwrap_err();
        let text = e.to_string();
        eprintln!("{text}");
        let named = text.contains(&format!("thread {tid}"));
        let e2 = program
            .loader()
            .flags(FilterFlags::TSYNC | FilterFlags::TSYNC_ESRCH)
            .load()
            .unwrap_err();
        let esrch = e2.errno() == libc::ESRCH;
        // Nothing was installed on the main thread.
        let untouched = call(nr_getpriority(), 0, 0).1 != 77;
        release.wait();
        t.join().unwrap();
        i32::from(!(named && esrch && untouched))
    });
    assert_eq!(wait(pid), End::Exit(0));
}

pub(crate) fn x32_guard_in_the_kernel() {
    if native() != Arch::X86_64 {
        skip("the x32 guard is x86_64's");
    }
    let program = Filter::new(Action::Allow)
        .bad_arch(Action::Errno(18))
        .compile()
        .unwrap();
    let x32_getpid = 39 | X32_SYSCALL_BIT;
    assert_eq!(
        program.simulate(Arch::X86_64, x32_getpid, [0; 6]),
        Action::Errno(18)
    );
    let pid = fork_child(|| {
        // Without a filter: ENOSYS where x32 is off, a pid where it is on.
        let before = call(x32_getpid, 0, 0);
        program.load().unwrap();
        let (r, e) = call(x32_getpid, 0, 0);
        let (r1, e1) = call(u32::MAX, 0, 0); // -1: a tracer's skip, not x32
        eprintln!(
            "x32 getpid before the filter: {before:?}; after: ({r}, {e}); nr -1: ({r1}, {e1})"
        );
        i32::from(!(r == -1 && e == 18 && r1 == -1 && e1 == libc::ENOSYS))
    });
    assert_eq!(wait(pid), End::Exit(0));
}

pub(crate) fn a_filter_for_another_arch_kills_native_calls() {
    let other = if native() == Arch::Aarch64 {
        Arch::X86_64
    } else {
        Arch::Aarch64
    };
    let program = Filter::new(Action::Allow)
        .arches([other])
        .compile()
        .unwrap();
    assert_eq!(
        program.simulate(native(), nr_getpriority(), [0; 6]),
        Action::KillProcess
    );
    let pid = fork_child(|| {
        program.load().unwrap();
        // The first native call (even exit_group) gets the bad-arch action.
        call(nr_getpriority(), 0, 0);
        55
    });
    assert_eq!(wait(pid), End::Signal(libc::SIGSYS));
}

/// The listener is close-on-exec where it is made, on the parent's side of
/// a handoff, and gone from the program the child executes.
pub(crate) fn listener_is_cloexec_and_not_leaked() {
    use seccomp_lite::fd_core::is_cloexec;
    let program = Filter::new(Action::Allow)
        .rule(Rule::new("kexec_load", Action::UserNotif))
        .compile()
        .unwrap();
    let pid = fork_child(|| {
        let listener = program
            .loader()
            .load_listener()
            .expect("load with a listener");
        i32::from(!is_cloexec(&listener).unwrap())
    });
    assert_eq!(
        wait(pid),
        End::Exit(0),
        "the listener is close-on-exec where it is made"
    );
    let (sender, receiver) = seccomp_lite::handoff().unwrap();
    let mut cmd = std::process::Command::new("ls");
    cmd.args(["-l", "/proc/self/fd"])
        .stdout(std::process::Stdio::piped());
    seccomp_lite::SeccompCommandExt::seccomp_listener(&mut cmd, &program, sender).unwrap();
    let child = cmd.spawn().unwrap();
    drop(cmd);
    let listener = receiver.receive().unwrap();
    assert!(is_cloexec(&listener).unwrap(), "received close-on-exec");
    let out = child.wait_with_output().unwrap();
    let fds = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && fds.contains("/proc/"), "{fds}");
    assert!(
        !fds.contains("seccomp"),
        "the executed program holds the listener:\n{fds}"
    );
}

/// LOG, SPEC_ALLOW and WAIT_KILLABLE_RECV (with a listener) load for real
/// on a kernel that has them; the filter then answers as simulated.
pub(crate) fn every_other_flag_loads() {
    let nr = nr_getpriority();
    let program = Filter::new(Action::Allow)
        .rule(Rule::new("getpriority", Action::Errno(61)))
        .compile()
        .unwrap();
    for flags in [
        FilterFlags::LOG,
        FilterFlags::SPEC_ALLOW,
        FilterFlags::LOG | FilterFlags::SPEC_ALLOW,
    ] {
        let pid = fork_child(|| {
            if let Err(e) = program.loader().flags(flags).load() {
                eprintln!("{flags:?}: {e}");
                return 1;
            }
            i32::from(call(nr, 0, 0).1 != 61)
        });
        assert_eq!(wait(pid), End::Exit(0), "{flags:?}");
    }
    let pid = fork_child(|| {
        match program
            .loader()
            .flags(FilterFlags::WAIT_KILLABLE_RECV)
            .load_listener()
        {
            Ok(_listener) => i32::from(call(nr, 0, 0).1 != 61),
            Err(e) => {
                eprintln!("WAIT_KILLABLE_RECV: {e}");
                1
            }
        }
    });
    assert_eq!(wait(pid), End::Exit(0));
    // A second listener in one filter chain: EBUSY, explained.
    let pid = fork_child(|| {
        let _first = program.loader().load_listener().unwrap();
        match program.loader().load_listener() {
            Err(e) if e.errno() == libc::EBUSY && e.to_string().contains("listener") => 0,
            other => {
                eprintln!("second listener: {other:?}");
                1
            }
        }
    });
    assert_eq!(wait(pid), End::Exit(0));
}

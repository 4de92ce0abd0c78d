//! libseccomp's own regression tests, ported: each file under
//! `libseccomp/` is one of its `tests/NN-sim-*` programs, its rules written
//! in our rule-file language (with `precedence libseccomp`, and KILL as
//! `kill_thread`, as libseccomp means them), then `---`, then the vectors
//! of its `.tests` file's `bpf-sim` section as they are (architecture
//! selection, syscall, six arguments, expected action).
//!
//! libseccomp runs each vector on the machine it was built on ("all" is
//! that machine's architecture). Here every architecture takes a turn as
//! that machine, unless the rules name their architectures (as the
//! program does with `seccomp_arch_add`). Each call goes through the
//! compiled program in the simulator and through the direct evaluation of
//! the rules; both must give the expected action.
//!
//! Not ported: the tests of libseccomp's API itself (`basic-*`, `live-*`,
//! transactions, PFC output), 35 (a rule on syscall -1, which we refuse),
//! 17 and 62 (filter merging, which rules with `arch=` stand for here),
//! and 43, whose overlapping conditional rules on one argument libseccomp
//! decides by the order of its tree (of `arg2 > 128` and `arg2 > 256`, the
//! second for 257) where ours takes the most restrictive action, then the
//! rule given first: a documented difference of `Precedence`.
//!
//! On this machine's
//! architecture, each vector whose action keeps the call from running
//! (kill, trap, errno, trace without a tracer) is also made for real, once,
//! in a forked child that loaded the filter.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use butter_tests::fork_child;
use seccomp_lite::{Action, Arch, Filter, Program, SeccompData};

use crate::kernel::{End, wait};

/// The ported tests: (libseccomp's name, our text).
const PORTED: &[(&str, &str)] = &[
    ("01-sim-allow", include_str!("libseccomp/01-sim-allow.txt")),
    ("02-sim-basic", include_str!("libseccomp/02-sim-basic.txt")),
    (
        "03-sim-basic_chains",
        include_str!("libseccomp/03-sim-basic_chains.txt"),
    ),
    (
        "04-sim-multilevel_chains",
        include_str!("libseccomp/04-sim-multilevel_chains.txt"),
    ),
    (
        "05-sim-long_jumps",
        include_str!("libseccomp/05-sim-long_jumps.txt"),
    ),
    (
        "06-sim-actions",
        include_str!("libseccomp/06-sim-actions.txt"),
    ),
    (
        "08-sim-subtree_checks",
        include_str!("libseccomp/08-sim-subtree_checks.txt"),
    ),
    (
        "09-sim-syscall_priority_pre",
        include_str!("libseccomp/09-sim-syscall_priority_pre.txt"),
    ),
    (
        "10-sim-syscall_priority_post",
        include_str!("libseccomp/10-sim-syscall_priority_post.txt"),
    ),
    (
        "12-sim-basic_masked_ops",
        include_str!("libseccomp/12-sim-basic_masked_ops.txt"),
    ),
    (
        "16-sim-arch_basic",
        include_str!("libseccomp/16-sim-arch_basic.txt"),
    ),
    (
        "18-sim-basic_allowlist",
        include_str!("libseccomp/18-sim-basic_allowlist.txt"),
    ),
    (
        "22-sim-basic_chains_array",
        include_str!("libseccomp/22-sim-basic_chains_array.txt"),
    ),
    (
        "23-sim-arch_all_le_basic",
        include_str!("libseccomp/23-sim-arch_all_le_basic.txt"),
    ),
    (
        "26-sim-arch_all_be_basic",
        include_str!("libseccomp/26-sim-arch_all_be_basic.txt"),
    ),
    (
        "30-sim-socket_syscalls",
        include_str!("libseccomp/30-sim-socket_syscalls.txt"),
    ),
    (
        "33-sim-socket_syscalls_be",
        include_str!("libseccomp/33-sim-socket_syscalls_be.txt"),
    ),
    (
        "34-sim-basic_denylist",
        include_str!("libseccomp/34-sim-basic_denylist.txt"),
    ),
    (
        "36-sim-ipc_syscalls",
        include_str!("libseccomp/36-sim-ipc_syscalls.txt"),
    ),
    (
        "37-sim-ipc_syscalls_be",
        include_str!("libseccomp/37-sim-ipc_syscalls_be.txt"),
    ),
    ("40-sim-log", include_str!("libseccomp/40-sim-log.txt")),
    (
        "46-sim-kill_process",
        include_str!("libseccomp/46-sim-kill_process.txt"),
    ),
    (
        "48-sim-32b_args",
        include_str!("libseccomp/48-sim-32b_args.txt"),
    ),
    (
        "49-sim-64b_comparisons",
        include_str!("libseccomp/49-sim-64b_comparisons.txt"),
    ),
];

/// The calls `socketcall` multiplexes.
const SOCKETCALL: &[&str] = &[
    "socket",
    "bind",
    "connect",
    "listen",
    "accept",
    "getsockname",
    "getpeername",
    "socketpair",
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "sendmsg",
    "recvmsg",
    "accept4",
    "recvmmsg",
    "sendmmsg",
];

/// The calls `ipc` multiplexes.
const IPC: &[&str] = &[
    "semop",
    "semget",
    "semctl",
    "semtimedop",
    "msgsnd",
    "msgrcv",
    "msgget",
    "msgctl",
    "shmat",
    "shmdt",
    "shmget",
    "shmctl",
];

/// One vector, as its `.tests` line has it.
struct Vector<'a> {
    arches: &'a str,
    syscall: &'a str,
    args: [&'a str; 6],
    result: Action,
    line: usize,
}

fn parse_result(s: &str) -> Action {
    let data = |s: &str| -> u16 {
        let inner = s.split_once('(').unwrap().1.trim_end_matches(')');
        parse_u64(inner) as u16
    };
    match s {
        "ALLOW" => Action::Allow,
        "KILL" => Action::KillThread,
        "KILL_PROCESS" => Action::KillProcess,
        "TRAP" => Action::Trap(0),
        "LOG" => Action::Log,
        "NOTIFY" => Action::UserNotif,
        s if s.starts_with("ERRNO(") => Action::Errno(data(s)),
        s if s.starts_with("TRACE(") => Action::Trace(data(s)),
        other => panic!("unknown result {other:?}"),
    }
}

fn parse_u64(s: &str) -> u64 {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad number {s:?}"))
    } else if let Some(neg) = s.strip_prefix('-') {
        neg.parse::<u64>()
            .unwrap_or_else(|_| panic!("bad number {s:?}"))
            .wrapping_neg()
    } else {
        s.parse().unwrap_or_else(|_| panic!("bad number {s:?}"))
    }
}

/// Every value of `lo-hi` (as libseccomp's `get_range`), one value, or 0
/// for `N` (libseccomp's simulator then leaves the argument 0).
fn values(s: &str) -> Vec<u64> {
    if s == "N" {
        return vec![0];
    }
    let is_range = s.contains('-')
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_hexdigit() || c == 'x' || c == 'X' || c == '-');
    if is_range {
        let (lo, hi) = s.split_once('-').unwrap();
        let (lo, hi) = (parse_u64(lo), parse_u64(hi));
        assert!(hi >= lo && hi - lo < 100_000, "range {s:?}");
        return (lo..=hi).collect();
    }
    vec![parse_u64(s)]
}

/// The architectures a vector's selection names, `native` being the one
/// playing the machine libseccomp was built on (its `regression` script's
/// rules).
fn selected(spec: &str, native: Arch) -> Vec<Arch> {
    let group = |which: &str| -> Vec<Arch> {
        Arch::ALL
            .into_iter()
            .filter(|a| match which {
                "le" => a.little_endian(),
                "be" => !a.little_endian(),
                "32" => a.arg_bits() == 32,
                "64" => a.arg_bits() == 64,
                _ => unreachable!(),
            })
            .collect()
    };
    let mut chosen = Vec::new();
    let mut avoid = Vec::new();
    for token in spec.split(',') {
        match token {
            "all" => chosen.push(native),
            t if t.starts_with("+all_") => chosen.extend(group(&t[5..])),
            t if t.starts_with("all_") => {
                if group(&t[4..]).contains(&native) {
                    chosen.push(native);
                }
            }
            t if t.starts_with('+') => chosen.push(t[1..].parse().unwrap()),
            t if t.starts_with('-') => avoid.push(t[1..].parse::<Arch>().unwrap()),
            t => {
                if t.parse::<Arch>().unwrap() == native {
                    chosen.push(native);
                }
            }
        }
    }
    chosen.retain(|a| !avoid.contains(a));
    chosen.dedup();
    chosen
}

fn vectors(text: &str) -> Vec<Vector<'_>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 9, "vector line {}: {l:?}", i + 1);
            Vector {
                arches: f[0],
                syscall: f[1],
                args: [f[2], f[3], f[4], f[5], f[6], f[7]],
                result: parse_result(f[8]),
                line: i + 1,
            }
        })
        .collect()
}

/// What a child that loaded a filter saw of one call, through memory it
/// shares with its parent (writing it takes no syscall the filter could
/// refuse): 1 before the call, 2 after it; its return value, errno and
/// the SIGSYS signals it took.
#[repr(C)]
struct Seen {
    state: AtomicU64,
    ret: AtomicU64,
    errno: AtomicU64,
    sigsys: AtomicU64,
}

/// The child's `Seen`, for its SIGSYS handler: the handler counts there at
/// once, since returning from it takes `rt_sigreturn`, which the filter may
/// refuse (the child then dies of SIGSYS after the count).
static SEEN: AtomicPtr<Seen> = AtomicPtr::new(std::ptr::null_mut());

extern "C" fn on_sigsys(_: libc::c_int) {
    let seen = SEEN.load(Ordering::SeqCst);
    if !seen.is_null() {
        // SAFETY: set before the filter was loaded, to the shared page.
        unsafe { (*seen).sigsys.fetch_add(1, Ordering::SeqCst) };
    }
}

/// Makes the call for real under `program` in a child; `None` when the
/// action would run it (allow, log, notify: never run random calls).
fn in_kernel(program: &Program, nr: u32, args: [u64; 6], want: Action) -> Option<String> {
    if !matches!(
        want,
        Action::KillThread
            | Action::KillProcess
            | Action::Trap(_)
            | Action::Errno(_)
            | Action::Trace(_)
    ) {
        return None;
    }
    // SAFETY: a fresh shared anonymous mapping, unmapped below.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(page, libc::MAP_FAILED);
    // SAFETY: the mapping is zeroed, aligned and big enough for `Seen`.
    let seen: &Seen = unsafe { &*page.cast::<Seen>() };
    let pid = fork_child(|| {
        SEEN.store(page.cast::<Seen>(), Ordering::SeqCst);
        // SAFETY: an async-signal-safe handler (one atomic).
        unsafe {
            libc::signal(libc::SIGSYS, on_sigsys as *const () as libc::sighandler_t);
        }
        if program.load().is_err() {
            return 97;
        }
        seen.state.store(1, Ordering::SeqCst);
        // SAFETY: a raw syscall the filter refuses before it runs.
        let r = unsafe {
            libc::syscall(
                libc::c_long::from(nr as i32),
                args[0],
                args[1],
                args[2],
                args[3],
                args[4],
                args[5],
            )
        };
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        seen.ret.store(r as u64, Ordering::SeqCst);
        seen.errno.store(errno as u64, Ordering::SeqCst);
        seen.state.store(2, Ordering::SeqCst);
        0 // exit_group may itself be refused: the parent reads `seen`
    });
    let end = wait(pid);
    let state = seen.state.load(Ordering::SeqCst);
    let (ret, errno, sigsys) = (
        seen.ret.load(Ordering::SeqCst) as i64,
        seen.errno.load(Ordering::SeqCst),
        seen.sigsys.load(Ordering::SeqCst),
    );
    // SAFETY: unmaps the page mapped above; `seen` is not used after.
    unsafe { libc::munmap(page, 4096) };
    let ok = match want {
        Action::KillThread | Action::KillProcess => state == 1 && end == End::Signal(libc::SIGSYS),
        Action::Trap(_) => sigsys == 1 && (state == 2 || end == End::Signal(libc::SIGSYS)),
        Action::Errno(e) => state == 2 && ret == -1 && errno == u64::from(e) && sigsys == 0,
        Action::Trace(_) => state == 2 && ret == -1 && errno == 38 && sigsys == 0,
        _ => unreachable!(),
    };
    Some(if ok {
        String::new()
    } else {
        format!(
            "the kernel: state {state}, ret {ret}, errno {errno}, {sigsys} SIGSYS, ended {end:?}"
        )
    })
}

/// Runs one ported test; returns (calls checked, vectors skipped because
/// an architecture lacks the syscall named, calls made in the kernel).
fn run(name: &str, text: &str) -> (usize, usize, usize) {
    let (rules, vecs) = text
        .split_once("\n---\n")
        .unwrap_or_else(|| panic!("{name}: no --- line"));
    let explicit = rules.lines().any(|l| l.trim_start().starts_with("arch "));
    let natives: Vec<Arch> = if explicit {
        vec![Arch::native().unwrap_or(Arch::X86_64)]
    } else {
        Arch::ALL.to_vec()
    };
    let vecs = vectors(vecs);
    let (mut checked, mut skipped, mut kernel) = (0, 0, 0);
    for native in natives {
        // `SSIZE_MAX` is the C library's of the machine the test is built on.
        let ssize_max = if native.arg_bits() == 32 {
            "0x7fffffff"
        } else {
            "0x7fffffffffffffff"
        };
        let base: Filter = rules
            .replace("SSIZE_MAX", ssize_max)
            .parse()
            .unwrap_or_else(|e| panic!("{name}: the rules: {e}"));
        let filter = if explicit {
            base
        } else {
            base.arches([native])
        };
        let program: Program = filter
            .compile()
            .unwrap_or_else(|e| panic!("{name} on {native}: {e}"));
        for v in &vecs {
            for arch in selected(v.arches, native) {
                // A socket or IPC call where a multiplexer exists is tried
                // through it, as libseccomp's `scmp_sys_resolver -t` names
                // it (the vector's first argument is then the call).
                let multiplexer = if SOCKETCALL.contains(&v.syscall) {
                    arch.syscall("socketcall")
                } else if IPC.contains(&v.syscall) {
                    arch.syscall("ipc")
                } else {
                    None
                };
                let numbers: Vec<u32> = match multiplexer.or_else(|| arch.syscall(v.syscall)) {
                    Some(nr) => vec![nr],
                    None if v
                        .syscall
                        .starts_with(|c: char| c.is_ascii_digit() || c == '-') =>
                    {
                        values(v.syscall).into_iter().map(|n| n as u32).collect()
                    }
                    None => {
                        skipped += 1;
                        continue;
                    }
                };
                let lists: Vec<Vec<u64>> = v.args.iter().map(|a| values(a)).collect();
                // Once per vector, the first call for real, on this
                // machine's architecture.
                if Some(arch) == Arch::native() && (explicit || native == arch) {
                    let first = [0, 1, 2, 3, 4, 5].map(|i| lists[i][0]);
                    if let Some(failed) = in_kernel(&program, numbers[0], first, v.result) {
                        assert!(
                            failed.is_empty(),
                            "{name} line {}: {} on {arch} ({}) {first:x?}, expected {}: {failed}",
                            v.line,
                            v.syscall,
                            numbers[0],
                            v.result
                        );
                        kernel += 1;
                    }
                }
                for nr in numbers {
                    for_each_args(&lists, &mut |args| {
                        let data = SeccompData::new(arch, nr, args);
                        let compiled = Action::from_ret(program.run(&data));
                        let direct = filter.evaluate(arch.audit(), nr, &args);
                        assert_eq!(
                            (compiled, direct),
                            (v.result, v.result),
                            "{name} line {} (as {native}): {} on {arch} ({nr}) {args:x?}: compiled, direct",
                            v.line,
                            v.syscall
                        );
                        checked += 1;
                    });
                }
            }
        }
    }
    (checked, skipped, kernel)
}

fn for_each_args(lists: &[Vec<u64>], f: &mut dyn FnMut([u64; 6])) {
    fn go(lists: &[Vec<u64>], at: usize, args: &mut [u64; 6], f: &mut dyn FnMut([u64; 6])) {
        if at == 6 {
            f(*args);
            return;
        }
        for &v in &lists[at] {
            args[at] = v;
            go(lists, at + 1, args, f);
        }
    }
    go(lists, 0, &mut [0; 6], f);
}

pub(crate) fn libseccomp_regression_vectors() {
    let (mut total, mut in_the_kernel) = (0, 0);
    let mut report = Vec::new();
    for (name, text) in PORTED {
        let (checked, skipped, kernel) = run(name, text);
        assert!(checked > 0, "{name}: no vector ran");
        total += checked;
        in_the_kernel += kernel;
        report.push(format!(
            "{name} {checked}{}",
            if skipped > 0 {
                format!(" ({skipped} skipped: name unknown on an architecture)")
            } else {
                String::new()
            }
        ));
    }
    eprintln!(
        "{} of libseccomp's regression tests ported, {total} calls as expected ({in_the_kernel} of them also made in the kernel): {}",
        PORTED.len(),
        report.join(", ")
    );
    assert!(
        in_the_kernel > 50,
        "only {in_the_kernel} calls made in the kernel"
    );
}

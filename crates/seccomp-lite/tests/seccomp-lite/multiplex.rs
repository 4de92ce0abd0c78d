//! The syscall tables against the running kernel, and the multiplexers
//! (`socketcall`, `ipc`): a rule on a socket or SysV IPC call denies it
//! through them too, in the simulator and for a real i386 program.

use std::process::Command;

use butter_tests::{TempDir, skip};
use seccomp_lite::{Action, Arch, Arg, Filter, Rule};

/// `socketcall`'s and `ipc`'s numbers on i386.
const SOCKETCALL: u32 = 102;
const IPC: u32 = 117;

pub(crate) fn multiplexed_calls_are_filtered_too() {
    let deny = Filter::new(Action::Allow)
        .arches([Arch::X86_64, Arch::I386])
        .rule(Rule::new("socket", Action::Errno(13)))
        .rule(Rule::new("shmget", Action::Errno(1)))
        .compile()
        .unwrap();
    let i386 = Arch::I386;
    // The direct call and the multiplexed one alike; other socket calls
    // through socketcall are left alone.
    let socket = i386.syscall("socket").unwrap();
    assert_eq!(
        deny.simulate(i386, socket, [2, 1, 0, 0, 0, 0]),
        Action::Errno(13)
    );
    assert_eq!(
        deny.simulate(i386, SOCKETCALL, [1, 0, 0, 0, 0, 0]),
        Action::Errno(13)
    );
    assert_eq!(
        deny.simulate(i386, SOCKETCALL, [2, 0, 0, 0, 0, 0]),
        Action::Allow
    );
    // ipc's call is the lower 16 bits of its first argument (the upper
    // ones are a version): both forms are denied.
    assert_eq!(
        deny.simulate(i386, IPC, [23, 0, 0, 0, 0, 0]),
        Action::Errno(1)
    );
    assert_eq!(
        deny.simulate(i386, IPC, [23 | 1 << 16, 0, 0, 0, 0, 0]),
        Action::Errno(1)
    );
    assert_eq!(deny.simulate(i386, IPC, [21, 0, 0, 0, 0, 0]), Action::Allow);
    // x86_64 has no multiplexer: its socket is denied, nothing else moves.
    let x86_64_socket = Arch::X86_64.syscall("socket").unwrap();
    assert_eq!(
        deny.simulate(Arch::X86_64, x86_64_socket, [2, 1, 0, 0, 0, 0]),
        Action::Errno(13)
    );
    assert_eq!(
        deny.simulate(Arch::X86_64, SOCKETCALL, [1, 0, 0, 0, 0, 0]),
        Action::Allow
    );

    // A deny with argument comparisons cannot look at socketcall's
    // arguments (they are in the caller's memory): every multiplexed
    // socket() is denied, the safe side.
    let inet_only = Filter::new(Action::Allow)
        .arches([Arch::I386])
        .rule(Rule::new("socket", Action::Errno(13)).when(Arg::u32(0).equal(2u32)))
        .compile()
        .unwrap();
    assert_eq!(
        inet_only.simulate(i386, socket, [1, 1, 0, 0, 0, 0]),
        Action::Allow
    );
    assert_eq!(
        inet_only.simulate(i386, socket, [2, 1, 0, 0, 0, 0]),
        Action::Errno(13)
    );
    assert_eq!(
        inet_only.simulate(i386, SOCKETCALL, [1, 0, 0, 0, 0, 0]),
        Action::Errno(13)
    );
    // An allow with comparisons under a deny default gets no twin: the
    // multiplexed call stays denied, never allowed for every family.
    let unix_only = Filter::new(Action::Errno(1))
        .arches([Arch::I386])
        .rule(Rule::new("socket", Action::Allow).when(Arg::u32(0).equal(1u32)))
        .compile()
        .unwrap();
    assert_eq!(
        unix_only.simulate(i386, socket, [1, 1, 0, 0, 0, 0]),
        Action::Allow
    );
    assert_eq!(
        unix_only.simulate(i386, SOCKETCALL, [1, 0, 0, 0, 0, 0]),
        Action::Errno(1)
    );
    // An unconditional allow is allowed both ways.
    let allow = Filter::new(Action::Errno(1))
        .arches([Arch::I386])
        .allow(["socket"])
        .compile()
        .unwrap();
    assert_eq!(
        allow.simulate(i386, SOCKETCALL, [1, 0, 0, 0, 0, 0]),
        Action::Allow
    );
    assert_eq!(
        allow.simulate(i386, SOCKETCALL, [3, 0, 0, 0, 0, 0]),
        Action::Errno(1)
    );
    // `send` and `recv` exist on i386 only through socketcall: a rule on
    // them compiles and applies there.
    let send = Filter::new(Action::Allow)
        .arches([Arch::I386])
        .rule(Rule::new("send", Action::Errno(32)))
        .compile()
        .unwrap();
    assert_eq!(
        send.simulate(i386, SOCKETCALL, [9, 0, 0, 0, 0, 0]),
        Action::Errno(32)
    );
    // Direct evaluation of the rules agrees with the compiled program.
    let filter = Filter::new(Action::Allow)
        .arches([Arch::I386])
        .rule(Rule::new("socket", Action::Errno(13)))
        .rule(Rule::new("shmget", Action::Errno(1)));
    let program = filter.compile().unwrap();
    let audit = Arch::I386.audit();
    for nr in [SOCKETCALL, IPC, socket] {
        for a0 in 0..30u64 {
            let args = [a0 | (a0 & 1) << 16, 0, 0, 0, 0, 0];
            assert_eq!(
                program.simulate(i386, nr, args),
                filter.evaluate(audit, nr, &args),
                "nr {nr} args {args:?}"
            );
        }
    }
    // The same from Docker's JSON.
    #[cfg(feature = "oci")]
    {
        let profile = seccomp_lite::Profile::parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
                "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#,
        )
        .unwrap();
        let program = profile
            .to_filter(&Default::default())
            .unwrap()
            .compile()
            .unwrap();
        assert_eq!(
            program.simulate(i386, SOCKETCALL, [1, 0, 0, 0, 0, 0]),
            Action::Errno(13)
        );
    }
}

/// A real i386 program tries `socket()` both ways and `shmget` through
/// `ipc`, under a filter that denies `socket` and `shmget`: each call fails
/// with the rule's errno. (Before the multiplexers were covered,
/// `socketcall(SYS_SOCKET)` returned a socket.) Runs in the test's own IPC
/// namespace, so even a call that got through would make nothing on the
/// machine.
/// Every architecture with `socketcall` and `ipc` (x86, m68k, o32 MIPS,
/// PowerPC, s390, SuperH) gets the twins, in its own numbering and byte
/// order; the others have no multiplexer to route through. arm is among
/// those: its `socketcall` exists only in the OABI, and the kernel offers
/// seccomp filters only when built without OABI_COMPAT.
pub(crate) fn every_multiplexing_architecture() {
    let multiplexing: Vec<Arch> = Arch::ALL
        .into_iter()
        .filter(|a| a.syscall("socketcall").is_some())
        .collect();
    let names: Vec<&str> = multiplexing.iter().map(|a| a.name()).collect();
    assert_eq!(
        names,
        [
            "x86", "m68k", "mips", "mipsel", "ppc", "ppc64", "ppc64le", "s390", "s390x", "sh",
            "sheb"
        ]
    );
    for arch in multiplexing {
        let socketcall = arch.syscall("socketcall").unwrap();
        let ipc = arch
            .syscall("ipc")
            .unwrap_or_else(|| panic!("{arch}: socketcall but no ipc"));
        let deny = Filter::new(Action::Allow)
            .arches([arch])
            .rule(Rule::new("socket", Action::Errno(13)))
            .rule(Rule::new("shmget", Action::Errno(1)))
            .compile()
            .unwrap();
        let sim = |nr: u32, a0: u64| deny.simulate(arch, nr, [a0, 0, 0, 0, 0, 0]);
        assert_eq!(
            sim(socketcall, 1),
            Action::Errno(13),
            "{arch}: socketcall(SYS_SOCKET)"
        );
        assert_eq!(
            sim(socketcall, 2),
            Action::Allow,
            "{arch}: socketcall(SYS_BIND)"
        );
        assert_eq!(
            sim(ipc, 23 | 1 << 16),
            Action::Errno(1),
            "{arch}: ipc(SHMGET)"
        );
        assert_eq!(sim(ipc, 21), Action::Allow, "{arch}: ipc(SHMAT)");
        if let Some(socket) = arch.syscall("socket") {
            assert_eq!(sim(socket, 2), Action::Errno(13), "{arch}: socket");
        }
        if let Some(shmget) = arch.syscall("shmget") {
            assert_eq!(sim(shmget, 0), Action::Errno(1), "{arch}: shmget");
        }
        // The call number is compared in the first argument's low word,
        // wherever the byte order puts it: the kernel reads `int call`, so
        // a high word set is still SYS_SOCKET, on 64-bit ABIs too.
        assert_eq!(
            sim(socketcall, 1 | 1 << 32),
            Action::Errno(13),
            "{arch}: socketcall(SYS_SOCKET) with the high word set"
        );
    }
    // Where there is no multiplexer, its name is unknown and nothing else
    // is touched.
    for arch in [
        Arch::Arm,
        Arch::Aarch64,
        Arch::Riscv64,
        Arch::Mips64,
        Arch::Parisc,
    ] {
        assert!(arch.syscall("socketcall").is_none(), "{arch}");
        let deny = Filter::new(Action::Allow)
            .arches([arch])
            .rule(Rule::new("socket", Action::Errno(13)))
            .compile()
            .unwrap();
        let socket = arch.syscall("socket").unwrap();
        assert_eq!(
            deny.simulate(arch, socket, [2, 0, 0, 0, 0, 0]),
            Action::Errno(13)
        );
        assert_eq!(deny.simulate(arch, 102, [1, 0, 0, 0, 0, 0]), Action::Allow);
    }
}

pub(crate) fn i386_program_cannot_route_around_a_deny() {
    if Arch::native() != Some(Arch::X86_64) {
        skip("an i386 program runs on x86_64 hosts");
    }
    let dir = TempDir::new("seccomp-i386");
    let source = r#"
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
    long args[3] = {2 /* AF_INET */, 1 /* SOCK_STREAM */, 0};
    long r;
    errno = 0; r = syscall(102 /* socketcall */, 1 /* SYS_SOCKET */, args);
    printf("socketcall %ld %d\n", r, r < 0 ? errno : 0);
    errno = 0; r = syscall(359 /* socket */, 2, 1, 0);
    printf("socket %ld %d\n", r, r < 0 ? errno : 0);
    errno = 0; r = syscall(117 /* ipc */, 23 /* SHMGET */, 0 /* IPC_PRIVATE */, 4096, 01600, 0, 0);
    printf("ipc %ld %d\n", r, r < 0 ? errno : 0);
    int sv[2];
    long pair[4] = {1 /* AF_UNIX */, 1, 0, (long)sv};
    errno = 0; r = syscall(102, 8 /* SYS_SOCKETPAIR */, pair);
    printf("socketpair %ld %d\n", r, r < 0 ? errno : 0);
    return 0;
}
"#;
    let exe = match crate::tools::cc(dir.path(), "multiplex", source, &["-m32"]) {
        Ok(exe) => exe,
        Err(e) => skip(&format!(
            "cannot build an i386 program (gcc-multilib; .ci/run installs it): {}",
            e.lines().next().unwrap_or_default()
        )),
    };
    match Command::new(&exe).output() {
        Ok(out) if out.status.success() => {}
        other => skip(&format!(
            "this kernel runs no i386 program (IA32 emulation off?): {other:?}"
        )),
    }
    let program = Filter::new(Action::Allow)
        .arches([Arch::X86_64, Arch::I386])
        .rule(Rule::new("socket", Action::Errno(13)))
        .rule(Rule::new("shmget", Action::Errno(13)))
        .compile()
        .unwrap();
    // The filter goes on a forked child, which runs the program and keeps
    // what it printed.
    let log = dir.join("out");
    let pid = butter_tests::fork_child(|| {
        program.load().unwrap();
        let out = Command::new(&exe).output().unwrap();
        std::fs::write(&log, &out.stdout).unwrap();
        i32::from(!out.status.success())
    });
    assert_eq!(butter_tests::exit_code(pid), 0);
    let text = std::fs::read_to_string(&log).unwrap();
    let result = |name: &str| -> (i64, i32) {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} line in {text:?}"));
        let mut w = line.split_whitespace().skip(1);
        (
            w.next().unwrap().parse().unwrap(),
            w.next().unwrap().parse().unwrap(),
        )
    };
    assert_eq!(result("socketcall"), (-1, 13), "{text}");
    assert_eq!(result("socket"), (-1, 13), "{text}");
    assert_eq!(result("ipc"), (-1, 13), "{text}");
    // Not denied: socketpair through socketcall still works.
    assert!(result("socketpair").0 >= 0, "{text}");
}

/// Every syscall number the running kernel implements has a name in the
/// native table: each number below the table's newest that it has no name
/// for is called (in a forked child, with arguments no call accepts) and
/// must be ENOSYS. Numbers past the newest are tried too, and any the
/// kernel implements are named on stderr: a kernel newer than linux-raw-sys
/// is not this build's failure, but its calls would get the default action.
pub(crate) fn every_implemented_number_has_a_name() {
    let Some(arch) = Arch::native() else {
        skip("no table for this machine");
    };
    let named: std::collections::HashSet<u32> = arch.syscalls().map(|(_, n)| n).collect();
    let max = arch.max_syscall();
    let unnamed: Vec<u32> = (0..=max + 64).filter(|n| !named.contains(n)).collect();
    let dir = TempDir::new("seccomp-nrs");
    let log = dir.join("implemented");
    let pid = butter_tests::fork_child(|| {
        let mut implemented = Vec::new();
        for &nr in &unnamed {
            // SAFETY: a syscall number no table names (so none that this
            // process knows of), every argument -1: an unimplemented one
            // fails with ENOSYS and does nothing.
            let r = unsafe {
                libc::syscall(
                    libc::c_long::from(nr),
                    -1i64,
                    -1i64,
                    -1i64,
                    -1i64,
                    -1i64,
                    -1i64,
                )
            };
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            if r != -1 || errno != libc::ENOSYS {
                implemented.push(nr.to_string());
            }
        }
        std::fs::write(&log, implemented.join(" ")).unwrap();
        0
    });
    assert_eq!(butter_tests::exit_code(pid), 0);
    let implemented: Vec<u32> = std::fs::read_to_string(&log)
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let (below, above): (Vec<u32>, Vec<u32>) = implemented.iter().partition(|&&n| n <= max);
    assert!(
        below.is_empty(),
        "{arch}: the kernel implements {below:?}, which the table has no name for"
    );
    if !above.is_empty() {
        eprintln!(
            "skipped: part of every_implemented_number_has_a_name: this kernel implements {arch} syscalls {above:?}, newer than the tables (newest {max}); regenerate them with `cargo xtask gen-syscalls` from a newer linux-raw-sys"
        );
    }
    eprintln!(
        "{} unnamed {arch} numbers up to {} tried: none implemented below {max}",
        unnamed.len(),
        max + 64
    );
}

/// What used to be dropped without a word: a rule on syscall -1, an
/// architecture a profile names that is none, and one this crate has no
/// table for.
pub(crate) fn nothing_is_dropped_silently() {
    let e = Filter::new(Action::Allow)
        .rule(Rule::new(u32::MAX, Action::Errno(1)))
        .compile()
        .unwrap_err();
    assert_eq!(e.kind(), seccomp_lite::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("-1"), "{e}");
    #[cfg(feature = "oci")]
    {
        use seccomp_lite::Profile;
        let profile = |arches: &str| {
            Profile::parse(&format!(
                r#"{{"defaultAction": "SCMP_ACT_ALLOW", "architectures": [{arches}], "syscalls": []}}"#
            ))
            .unwrap()
        };
        let e = profile(r#""SCMP_ARCH_X86_64", "SCMP_ARCH_VAX""#)
            .to_filter(&Default::default())
            .unwrap_err();
        assert!(e.to_string().contains("SCMP_ARCH_VAX"), "{e}");
        let mips = profile(r#""SCMP_ARCH_X86_64", "SCMP_ARCH_MIPS""#);
        let filter = mips.to_filter(&Default::default()).unwrap();
        assert_eq!(filter.architectures(), [Arch::X86_64, Arch::Mips]);
    }
}

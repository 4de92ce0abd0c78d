//! The compiler, simulator, disassembler and tables, without loading
//! anything: compiled programs run on the simulator and compared with a
//! direct evaluation of the rules.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use seccomp_lite::bpf::{self, Insn, op};
use seccomp_lite::{
    Action, Arch, Arg, Cmp, ErrorKind, Filter, Program, Rule, SeccompData, Unknown, Width,
    X32_SYSCALL_BIT, simulate,
};

/// Values at the edges of 32- and 64-bit comparisons, negative ones both
/// sign-extended and not.
pub(crate) const EDGES: &[u64] = &[
    0,
    1,
    2,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0xffff_ffff_0000_0000,
    0xffff_ffff_7fff_ffff,
    0xffff_ffff_8000_0000,
    0xffff_ffff_ffff_fffe,
    0xffff_ffff_ffff_ffff,
    0x0000_0001_ffff_ffff,
];

fn check_against_rules(filter: &Filter, program: &Program, audit: u32, nr: u32, args: [u64; 6]) {
    let want = filter.evaluate(audit, nr, &args);
    let data = SeccompData {
        nr,
        arch: audit,
        instruction_pointer: 0,
        args,
    };
    let got = Action::from_ret(program.run(&data));
    assert_eq!(
        got,
        want,
        "arch {audit:#x} nr {nr:#x} args {args:x?}\nrules {:?}\n{}",
        filter.rules(),
        program.disassemble()
    );
}

pub(crate) fn every_operator_at_the_edges() {
    let widths = [Width::U64, Width::I64, Width::U32, Width::I32];
    let ops: [fn(Arg, u64) -> Cmp; 6] = [
        |a, v| a.equal(v),
        |a, v| a.not_equal(v),
        |a, v| a.lt(v),
        |a, v| a.le(v),
        |a, v| a.gt(v),
        |a, v| a.ge(v),
    ];
    let mut checked = 0;
    for width in widths {
        for make in &ops {
            for &value in EDGES {
                let cmp = make(Arg::with_width(3, width), value);
                if cmp.validate().is_err() {
                    continue; // a 64-bit value at a 32-bit width: refused, tested below
                }
                let filter = Filter::new(Action::Errno(1))
                    .arches([Arch::X86_64])
                    .rule(Rule::new("getppid", Action::Allow).when(cmp));
                let program = filter.compile().unwrap();
                for &arg in EDGES {
                    let args = [0, 0, 0, arg, 0, 0];
                    check_against_rules(&filter, &program, Arch::X86_64.audit(), 110, args);
                    checked += 1;
                }
            }
        }
    }
    // Masked equality at every width, masks across the halves.
    for width in widths {
        for &(mask, value) in &[
            (0xffu64, 0x12u64),
            (0xffff_0000_0000, 0x1234_0000_0000),
            (0x8000_0000_0000_0001, 0x8000_0000_0000_0000),
            (0, 0),
            (0xffff_ffff, 0xffff_ffff),
        ] {
            let cmp = Arg::with_width(0, width).masked_eq(mask, value);
            if cmp.validate().is_err() {
                continue;
            }
            let filter = Filter::new(Action::Allow)
                .arches([Arch::X86_64])
                .rule(Rule::new("getppid", Action::Errno(5)).when(cmp));
            let program = filter.compile().unwrap();
            for &arg in EDGES
                .iter()
                .chain(&[0x1234_0000_0012, 0x8000_0000_0000_00ff])
            {
                check_against_rules(
                    &filter,
                    &program,
                    Arch::X86_64.audit(),
                    110,
                    [arg, 0, 0, 0, 0, 0],
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 2000, "only {checked} cases");
    // The point of the 32-bit widths: -1 as an int matches however the
    // caller extended it, where the 64-bit comparison does not.
    let neg = Arg::i32(0).equal(-1);
    assert!(neg.matches(&[0xffff_ffff, 0, 0, 0, 0, 0]) && neg.matches(&[u64::MAX, 0, 0, 0, 0, 0]));
    let wide = Arg::new(0).equal(-1i64);
    assert!(!wide.matches(&[0xffff_ffff, 0, 0, 0, 0, 0]));
    // Signed: -5 < 3 at I32 and I64, not unsigned.
    assert!(Arg::i32(0).lt(3).matches(&[(-5i64) as u64, 0, 0, 0, 0, 0]));
    assert!(Arg::i64(0).lt(3).matches(&[(-5i64) as u64, 0, 0, 0, 0, 0]));
    assert!(!Arg::new(0).lt(3).matches(&[(-5i64) as u64, 0, 0, 0, 0, 0]));
}

fn arb_cmp() -> impl Strategy<Value = Cmp> {
    let width = prop_oneof![
        Just(Width::U64),
        Just(Width::I64),
        Just(Width::U32),
        Just(Width::I32)
    ];
    let value = prop_oneof![prop::sample::select(EDGES.to_vec()), any::<u64>(), 0u64..8];
    (
        0u8..6,
        width,
        0u8..7,
        value,
        prop::sample::select(EDGES.to_vec()),
    )
        .prop_map(|(i, w, o, v, m)| {
            let a = Arg::with_width(i, w);
            let v = if matches!(w, Width::U32 | Width::I32) {
                v & 0xffff_ffff
            } else {
                v
            };
            let m = if matches!(w, Width::U32 | Width::I32) {
                m & 0xffff_ffff
            } else {
                m
            };
            cmp_by_op(a, o, v, m)
        })
}

/// Comparison `op` of `a` with `v` (0 to 5: `==`, `!=`, `<`, `<=`, `>`,
/// `>=`; otherwise `(arg & m) == (v & m)`), as the random rule sets pick.
pub(crate) fn cmp_by_op(a: Arg, op: u8, v: u64, m: u64) -> Cmp {
    match op {
        0 => a.equal(v),
        1 => a.not_equal(v),
        2 => a.lt(v),
        3 => a.le(v),
        4 => a.gt(v),
        5 => a.ge(v),
        6 => a.masked_eq(m, v & m),
        // The value as given, bits outside the mask and all: compared as
        // libseccomp compares it (the value masked too).
        _ => a.masked_eq(m, v),
    }
}

fn arb_action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::KillProcess),
        Just(Action::KillThread),
        (0u16..3).prop_map(Action::Trap),
        (1u16..4).prop_map(Action::Errno),
        Just(Action::UserNotif),
        (0u16..2).prop_map(Action::Trace),
        Just(Action::Log),
        Just(Action::Allow),
    ]
}

/// Small syscall numbers so that rules collide; real names too.
const NRS: &[u32] = &[0, 1, 2, 3, 39, 59, 60, 110, 231, 257, 435];

fn arb_filter() -> impl Strategy<Value = Filter> {
    let rule = (
        prop::sample::select(NRS.to_vec()),
        prop::collection::vec(arb_cmp(), 0..4),
        arb_action(),
    )
        .prop_map(|(nr, cmps, action)| {
            let mut r = Rule::new(nr, action);
            r.cmps = cmps;
            r
        });
    let arches = prop::sample::subsequence(Arch::ALL.to_vec(), 1..=4);
    (
        arb_action(),
        arb_action(),
        arches,
        prop::collection::vec(rule, 0..24),
        any::<bool>(),
    )
        .prop_map(|(default, bad, arches, rules, stub)| {
            let mut f = Filter::new(default)
                .arches(arches)
                .bad_arch(bad)
                .enosys_for_newer(stub);
            for r in rules {
                f.push(r);
            }
            f
        })
}

pub(crate) fn random_rule_sets_match_direct_evaluation() {
    let mut runner = TestRunner::new(Config {
        cases: 400,
        ..Config::default()
    });
    let audits = [
        Arch::X86_64.audit(),
        Arch::I386.audit(),
        Arch::Aarch64.audit(),
        0x4000_0028,
    ];
    let nr = prop_oneof![
        prop::sample::select(NRS.to_vec()),
        prop::sample::select(NRS.to_vec()).prop_map(|n| n | X32_SYSCALL_BIT),
        Just(u32::MAX),
        Just(X32_SYSCALL_BIT),
        0u32..600,
        any::<u32>(),
    ];
    let arg = prop_oneof![prop::sample::select(EDGES.to_vec()), any::<u64>(), 0u64..8];
    let call = (
        prop::sample::select(audits.to_vec()),
        nr,
        prop::array::uniform6(arg),
    );
    runner
        .run(
            &(arb_filter(), prop::collection::vec(call, 64)),
            |(filter, calls)| {
                let program = filter.compile().expect("random filters compile");
                bpf::check(program.instructions()).expect("the kernel would accept it");
                for (audit, nr, args) in calls {
                    check_against_rules(&filter, &program, audit, nr, args);
                }
                Ok(())
            },
        )
        .unwrap();
}

pub(crate) fn binary_search_depth_grows_with_log_n() {
    let names: Vec<&'static str> = Arch::X86_64.syscalls().map(|(n, _)| n).take(300).collect();
    let program = Filter::new(Action::Errno(1))
        .arches([Arch::X86_64])
        .allow(names.clone())
        .compile()
        .unwrap();
    // A linear chain would pass ~300 jumps; a balanced search ~log2(300)+leaf.
    assert!(
        program.depth() < 24,
        "depth {} for 300 syscalls",
        program.depth()
    );
    let small = Filter::new(Action::Errno(1))
        .arches([Arch::X86_64])
        .allow(names[..10].to_vec())
        .compile()
        .unwrap();
    assert!(small.depth() < program.depth());
    // Every allowed syscall is decided from arch and nr alone: cacheable.
    let cached = program.cached_allows(Arch::X86_64);
    assert_eq!(cached.len(), 300);
    for name in &names {
        assert_eq!(
            program.simulate_name(Arch::X86_64, name, [0; 6]).unwrap(),
            Action::Allow
        );
    }
    // An argument rule makes that syscall (only) uncacheable.
    let mixed = Filter::new(Action::Errno(1))
        .arches([Arch::X86_64])
        .allow(names[..50].to_vec())
        .rule(Rule::new("getppid", Action::Allow).when(Arg::new(0).equal(1)))
        .compile()
        .unwrap();
    let checked = mixed.argument_checked(Arch::X86_64);
    assert_eq!(checked, vec![("getppid", 110)]);
    assert_eq!(mixed.cached_allows(Arch::X86_64).len(), 50);
}

pub(crate) fn long_jumps_use_trampolines() {
    // 700 syscalls with argument rules: bodies far beyond 255 instructions.
    let mut filter = Filter::new(Action::Errno(1)).arches([Arch::X86_64, Arch::X32]);
    for nr in 0..120u32 {
        filter.push(Rule::new(nr, Action::Allow).when(Arg::new(0).equal(u64::from(nr))));
        filter.push(Rule::new(nr | X32_SYSCALL_BIT, Action::Errno(2)).when(Arg::i32(1).lt(0)));
    }
    let program = filter.compile().unwrap();
    assert!(program.len() > 1000, "{} instructions", program.len());
    let jas = program
        .instructions()
        .iter()
        .filter(|i| i.code == op::JMP | op::JA)
        .count();
    assert!(jas > 0, "no trampoline in {} instructions", program.len());
    bpf::check(program.instructions()).unwrap();
    for nr in (0..130u32).step_by(3) {
        for args in [
            [u64::from(nr), 0, 0, 0, 0, 0],
            [1, u64::MAX, 0, 0, 0, 0],
            [0; 6],
        ] {
            check_against_rules(&filter, &program, Arch::X86_64.audit(), nr, args);
            check_against_rules(
                &filter,
                &program,
                Arch::X86_64.audit(),
                nr | X32_SYSCALL_BIT,
                args,
            );
        }
    }
}

/// Syscalls with the same argument checks share one copy of them: 300
/// syscalls allowed when `arg0 == 12345` cost little more than the search
/// over their numbers, on either byte order, and each still answers as its
/// rule says.
pub(crate) fn identical_checks_are_shared() {
    for arch in [Arch::X86_64, Arch::S390x] {
        let mut filter = Filter::new(Action::Errno(1)).arches([arch]);
        let names: Vec<&str> = arch.syscalls().map(|(n, _)| n).take(300).collect();
        for name in &names {
            filter.push(Rule::new(*name, Action::Allow).when(Arg::new(0).equal(12345u64)));
        }
        let shared = filter.compile().unwrap();
        // Distinct checks for comparison: one block each.
        let mut distinct = Filter::new(Action::Errno(1)).arches([arch]);
        for (i, name) in names.iter().enumerate() {
            distinct.push(Rule::new(*name, Action::Allow).when(Arg::new(0).equal(i as u64)));
        }
        let distinct = distinct.compile().unwrap();
        assert!(
            shared.len() * 2 < distinct.len(),
            "{arch}: {} shared vs {} distinct",
            shared.len(),
            distinct.len()
        );
        for name in &names {
            let nr = arch.syscall(name).unwrap();
            assert_eq!(
                shared.simulate(arch, nr, [12345, 0, 0, 0, 0, 0]),
                Action::Allow,
                "{name}"
            );
            assert_eq!(
                shared.simulate(arch, nr, [1, 0, 0, 0, 0, 0]),
                Action::Errno(1),
                "{name}"
            );
        }
    }
}

pub(crate) fn over_4096_instructions_is_an_error_naming_the_size() {
    let mut filter = Filter::new(Action::Errno(1)).arches([Arch::X86_64]);
    for nr in 0..300u32 {
        for v in 0..3u64 {
            // Different checks per syscall: nothing to share.
            let v = v + 10 * u64::from(nr);
            filter.push(
                Rule::new(nr, Action::Allow)
                    .when(Arg::new(1).ge(v))
                    .when(Arg::new(2).not_equal(v)),
            );
        }
    }
    let err = filter.compile().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let text = err.to_string();
    assert!(
        text.contains("instructions") && text.contains("4096"),
        "{text}"
    );
    let size: usize = text
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("the size in the message");
    assert!(size > 4096, "{text}");
}

pub(crate) fn x32_guard_and_minus_one() {
    let x86 = Filter::new(Action::Allow)
        .arches([Arch::X86_64])
        .bad_arch(Action::Errno(18));
    let p = x86.compile().unwrap();
    let audit = Arch::X86_64.audit();
    let run = |p: &Program, nr: u32| {
        Action::from_ret(p.run(&SeccompData {
            nr,
            arch: audit,
            ..Default::default()
        }))
    };
    assert_eq!(
        run(&p, 39 | X32_SYSCALL_BIT),
        Action::Errno(18),
        "x32 number under an x86_64 filter"
    );
    assert_eq!(run(&p, u32::MAX), Action::Allow, "-1 passes the guard");
    assert_eq!(run(&p, 39), Action::Allow);
    let both = Filter::new(Action::Errno(1))
        .arches([Arch::X86_64, Arch::X32])
        .rule(Rule::new("getpid", Action::Allow));
    let p = both.compile().unwrap();
    assert_eq!(run(&p, 39), Action::Allow);
    assert_eq!(run(&p, 39 | X32_SYSCALL_BIT), Action::Allow, "x32's getpid");
    assert_eq!(run(&p, 40 | X32_SYSCALL_BIT), Action::Errno(1));
    let only32 = Filter::new(Action::Allow)
        .arches([Arch::X32])
        .bad_arch(Action::Errno(18))
        .compile()
        .unwrap();
    assert_eq!(
        run(&only32, 39),
        Action::Errno(18),
        "x86_64 number under an x32 filter"
    );
    assert_eq!(run(&only32, u32::MAX), Action::Allow);
    // Another architecture entirely.
    let arm = SeccompData {
        nr: 172,
        arch: Arch::Aarch64.audit(),
        ..Default::default()
    };
    assert_eq!(Action::from_ret(p.run(&arm)), Action::KillProcess);
}

pub(crate) fn enosys_stub_for_newer_syscalls() {
    let f = Filter::new(Action::Errno(1))
        .arches([Arch::X86_64])
        .allow(["read"])
        .enosys_for_newer(true);
    let p = f.compile().unwrap();
    let max = Arch::X86_64.max_syscall();
    assert_eq!(p.simulate(Arch::X86_64, max + 1, [0; 6]), Action::Errno(38));
    assert_eq!(p.simulate(Arch::X86_64, 2000, [0; 6]), Action::Errno(38));
    assert_eq!(p.simulate(Arch::X86_64, max, [0; 6]), Action::Errno(1));
    assert_eq!(p.simulate(Arch::X86_64, 0, [0; 6]), Action::Allow);
    assert_eq!(
        p.simulate(Arch::X86_64, u32::MAX, [0; 6]),
        Action::Errno(1),
        "-1 is not 'newer'"
    );
}

pub(crate) fn bad_rules_are_named() {
    let arches = [Arch::X86_64, Arch::Aarch64];
    let e = Filter::new(Action::Allow)
        .arches(arches)
        .rule(Rule::new("no_such_call", Action::Errno(1)))
        .compile()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(
        e.to_string().contains("no_such_call") && e.to_string().contains("x86_64, aarch64"),
        "{e}"
    );
    // Known on one architecture only: used there, skipped elsewhere.
    let p = Filter::new(Action::Allow)
        .arches(arches)
        .rule(Rule::new("open", Action::Errno(3)))
        .compile()
        .unwrap();
    assert_eq!(
        p.simulate_name(Arch::X86_64, "open", [0; 6]).unwrap(),
        Action::Errno(3)
    );
    let skipped = Filter::new(Action::Allow)
        .arches(arches)
        .unknown_syscalls(Unknown::Skip)
        .rule(Rule::new("no_such_call", Action::Errno(1)))
        .compile()
        .unwrap();
    assert_eq!(skipped.skipped(), ["no_such_call"]);
    let e = Filter::new(Action::Allow)
        .rule(Rule::new("read", Action::Errno(1)).when(Arg::new(6).equal(0)))
        .compile()
        .unwrap_err();
    assert!(e.to_string().contains("argument index 6"), "{e}");
    let e = Filter::new(Action::Errno(5000)).compile().unwrap_err();
    assert!(
        e.to_string().contains("5000") && e.to_string().contains("4095"),
        "{e}"
    );
    let e = Filter::new(Action::Allow)
        .rule(Rule::new("read", Action::Errno(4096)))
        .compile()
        .unwrap_err();
    assert!(e.to_string().contains("4096"), "{e}");
    let e = Filter::new(Action::Allow)
        .rule(Rule::new("read", Action::Errno(1)).when(Arg::u32(0).equal(0x1_0000_0000u64)))
        .compile()
        .unwrap_err();
    assert!(e.to_string().contains("32 bits"), "{e}");
    // A masked value with bits outside its mask: libseccomp masks the
    // value too (so `& 0xf0 == 0x0f` is `& 0xf0 == 0`); so do we, and say so.
    let p = Filter::new(Action::Allow)
        .arches([Arch::X86_64])
        .rule(Rule::new("read", Action::Errno(1)).when(Arg::new(0).masked_eq(0xf0u64, 0x0fu64)))
        .compile()
        .unwrap();
    assert!(
        p.warnings()[0].contains("outside the mask"),
        "{:?}",
        p.warnings()
    );
    assert_eq!(
        p.simulate(Arch::X86_64, 0, [0x0f, 0, 0, 0, 0, 0]),
        Action::Errno(1)
    );
    assert_eq!(
        p.simulate(Arch::X86_64, 0, [0x1f, 0, 0, 0, 0, 0]),
        Action::Allow
    );
    let e = Filter::new(Action::Allow).arches([]).compile().unwrap_err();
    assert!(e.to_string().contains("no architecture"), "{e}");
    assert!(
        "vax"
            .parse::<Arch>()
            .unwrap_err()
            .to_string()
            .contains("\"vax\": known are x86_64, x32, x86, aarch64, arm,")
    );
}

pub(crate) fn most_restrictive_rule_wins() {
    let f = Filter::new(Action::Allow)
        .arches([Arch::X86_64])
        .rule(Rule::new("getppid", Action::Log).when(Arg::new(0).equal(1)))
        .rule(Rule::new("getppid", Action::Errno(2)).when(Arg::new(1).equal(1)))
        .rule(Rule::new("getppid", Action::Errno(3)).when(Arg::new(1).equal(1)))
        .rule(Rule::new("getppid", Action::Trap(7)).when(Arg::new(2).equal(1)));
    let p = f.compile().unwrap();
    let sim = |a: [u64; 6]| p.simulate(Arch::X86_64, 110, a);
    assert_eq!(sim([1, 0, 0, 0, 0, 0]), Action::Log);
    assert_eq!(
        sim([1, 1, 0, 0, 0, 0]),
        Action::Errno(2),
        "ERRNO beats LOG; the first ERRNO added wins"
    );
    assert_eq!(sim([1, 1, 1, 0, 0, 0]), Action::Trap(7));
    assert_eq!(sim([0; 6]), Action::Allow);
}

pub(crate) fn bytes_roundtrip_and_refusals() {
    let p = Filter::new(Action::Errno(1))
        .allow(["read", "write"])
        .compile()
        .unwrap();
    let bytes = p.to_bytes();
    assert_eq!(bytes.len(), p.len() * 8);
    let back = Program::from_bytes(&bytes).unwrap();
    assert_eq!(back.instructions(), p.instructions());
    let e = Program::from_bytes(&bytes[..7]).unwrap_err();
    assert!(e.to_string().contains("multiple of 8"), "{e}");
    assert!(Program::from_bytes(&[]).is_err());
    let refused = |insns: Vec<Insn>, why: &str| {
        let e = Program::from_insns(insns).unwrap_err();
        assert!(e.to_string().contains(why), "{e} (wanted {why:?})");
    };
    refused(vec![Insn::load(6), Insn::ret(0)], "aligned");
    refused(vec![Insn::load(64), Insn::ret(0)], "aligned");
    refused(
        vec![Insn::jump(op::JMP | op::JEQ, 0, 5, 0), Insn::ret(0)],
        "past the end",
    );
    refused(
        vec![Insn::stmt(op::JMP | op::JA, 9), Insn::ret(0)],
        "past the end",
    );
    refused(vec![Insn::load(0)], "end with a return");
    refused(
        vec![Insn::stmt(op::ALU | op::DIV | op::K, 0), Insn::ret(0)],
        "division",
    );
    refused(
        vec![Insn::stmt(op::LD | op::MEM, 3), Insn::ret(0)],
        "not written",
    );
    refused(
        vec![Insn::stmt(op::LD | 0x40, 0), Insn::ret(0)],
        "does not allow",
    ); // ld ind
    refused(vec![Insn::ret(0); 4097], "4096");
    refused(vec![], "empty");
    // Memory written on one path only, read after the merge.
    refused(
        vec![
            Insn::load(0),
            Insn::jump(op::JMP | op::JEQ, 1, 0, 1),
            Insn::stmt(op::ST, 2),
            Insn::stmt(op::LD | op::MEM, 2),
            Insn::ret(0),
        ],
        "not written",
    );
}

pub(crate) fn simulator_runs_hand_written_programs() {
    use op::*;
    // A = nr; X = 3; M[1] = A + X; A = M[1] * 2; ret A
    let prog = vec![
        Insn::load(0),
        Insn::stmt(LDX | IMM, 3),
        Insn::stmt(ALU | ADD | X, 0),
        Insn::stmt(ST, 1),
        Insn::stmt(LD | MEM, 1),
        Insn::stmt(ALU | MUL | K, 2),
        Insn::stmt(RET | A, 0),
    ];
    let data = SeccompData {
        nr: 10,
        ..Default::default()
    };
    assert_eq!(simulate(&prog, &data).unwrap(), 26);
    // Seven instructions run, the ret included.
    let counted = Program::from_insns(prog.clone()).unwrap();
    assert_eq!(counted.run_counted(&data), (26, 7));
    // The high word of arg 0 on a little-endian arch; jset; len; txa; neg.
    let prog = vec![
        Insn::load(20),
        Insn::jump(JMP | JSET | K, 0x8000_0000, 0, 2),
        Insn::stmt(LD | W | LEN, 0),
        Insn::stmt(RET | A, 0),
        Insn::stmt(LDX | W | LEN, 0),
        Insn::stmt(MISC | TXA, 0),
        Insn::stmt(ALU | NEG, 0),
        Insn::stmt(RET | A, 0),
    ];
    let mut d = SeccompData::new(Arch::X86_64, 0, [0x8000_0000_0000_0000, 0, 0, 0, 0, 0]);
    assert_eq!(simulate(&prog, &d).unwrap(), 64);
    d.args[0] = 1;
    assert_eq!(simulate(&prog, &d).unwrap(), 64u32.wrapping_neg());
    // Division by X == 0 returns 0, as the kernel's classic BPF does.
    let prog = vec![
        Insn::stmt(LDX | IMM, 0),
        Insn::stmt(LD | IMM, 9),
        Insn::stmt(ALU | DIV | X, 0),
        Insn::ret(5),
    ];
    assert_eq!(simulate(&prog, &d).unwrap(), 0);
    // Big-endian layout follows the audit id's LE bit (0x40000000 clear).
    let be = SeccompData {
        arch: 0x8000_0016,
        args: [0x1111_2222_3333_4444, 0, 0, 0, 0, 0],
        ..Default::default()
    };
    assert_eq!(be.word(16), Some(0x1111_2222));
    assert_eq!(
        SeccompData {
            arch: Arch::X86_64.audit(),
            ..be
        }
        .word(16),
        Some(0x3333_4444)
    );
}

pub(crate) fn disassembly_names_things() {
    let p = Filter::new(Action::Errno(1))
        .arches([Arch::X86_64, Arch::Aarch64])
        .allow(["read"])
        .rule(Rule::new("openat", Action::Errno(13)).when(Arg::u32(2).masked_eq(3u32, 1u32)))
        .compile()
        .unwrap();
    let text = p.disassemble();
    for want in [
        "ld [4]",
        "x86_64/x32",
        "aarch64",
        "x32 syscall numbers",
        "openat (x86_64)",
        "openat (aarch64)",
        "read (x86_64)",
        "ERRNO(EACCES)",
        "ret ALLOW",
        "KILL_PROCESS",
        "arg2 (low)",
    ] {
        assert!(text.contains(want), "{want:?} missing in\n{text}");
    }
    assert_eq!(text.lines().count(), p.len() + 2);
}

pub(crate) fn actions_parse_and_print() {
    for (s, a) in [
        ("allow", Action::Allow),
        ("SCMP_ACT_ALLOW", Action::Allow),
        ("errno(EPERM)", Action::Errno(1)),
        ("EACCES", Action::Errno(13)),
        ("errno(5)", Action::Errno(5)),
        ("kill", Action::KillProcess),
        ("SCMP_ACT_KILL", Action::KillThread),
        ("trap(7)", Action::Trap(7)),
        ("notify", Action::UserNotif),
        ("log", Action::Log),
        ("trace(3)", Action::Trace(3)),
    ] {
        assert_eq!(s.parse::<Action>().unwrap(), a, "{s}");
        assert_eq!(Action::from_ret(a.to_ret()), a);
    }
    assert_eq!(Action::Errno(13).to_string(), "ERRNO(EACCES)");
    assert!(
        "errno(5000)"
            .parse::<Action>()
            .unwrap_err()
            .to_string()
            .contains("4095")
    );
    assert!(
        "frobnicate"
            .parse::<Action>()
            .unwrap_err()
            .to_string()
            .contains("frobnicate")
    );
    assert_eq!(
        Action::from_ret(0x0005_ffff),
        Action::Errno(4095),
        "the kernel clamps"
    );
    assert_eq!(
        Action::from_ret(0x7ff8_0000),
        Action::KillProcess,
        "unknown actions kill"
    );
}

/// Big-endian architectures: the high word of each argument comes first
/// in `seccomp_data`, in the compiled program, the simulator and the
/// disassembly; bytes for such a machine are written in its order. A
/// 32-bit ABI compares the low word only.
pub(crate) fn big_endian_and_32_bit_layouts() {
    let rule = Rule::new("write", Action::Errno(5)).when(Arg::new(0).equal(0x1_0000_0005u64));
    for arch in [Arch::S390x, Arch::Ppc64, Arch::Mips64, Arch::Parisc64] {
        let p = Filter::new(Action::Allow)
            .arches([arch])
            .rule(rule.clone())
            .compile()
            .unwrap();
        let write = arch.syscall("write").unwrap();
        assert_eq!(
            p.simulate(arch, write, [0x1_0000_0005, 0, 0, 0, 0, 0]),
            Action::Errno(5),
            "{arch}"
        );
        assert_eq!(
            p.simulate(arch, write, [5, 0, 0, 0, 0, 0]),
            Action::Allow,
            "{arch}"
        );
        assert_eq!(
            p.simulate(arch, write, [0x5_0000_0001, 0, 0, 0, 0, 0]),
            Action::Allow,
            "{arch}"
        );
        // The low word is at 16 + 4, the high one at 16.
        let loads: Vec<u32> = p
            .instructions()
            .iter()
            .filter(|i| i.code == 0x20 && i.k >= 16)
            .map(|i| i.k)
            .collect();
        assert_eq!(loads, [16, 20], "{arch}: high word first, then low");
        let text = p.disassemble();
        assert!(
            text.contains("ld [16]") && text.contains("arg0 (high)"),
            "{arch}:\n{text}"
        );
        assert!(text.contains("arg0 (low)"), "{arch}:\n{text}");
        // Bytes in the machine's order, and back.
        let bytes = p.to_bytes_for(arch);
        assert_eq!(&bytes[..2], [0x00, 0x20], "{arch}: ld's opcode big-endian");
        let back = Program::from_bytes_for(arch, &bytes).unwrap();
        assert_eq!(back.instructions(), p.instructions());
        assert_ne!(
            Program::from_bytes(&bytes)
                .map(|b| b.instructions().to_vec())
                .ok(),
            Some(p.instructions().to_vec())
        );
    }
    // 32-bit ABIs, either byte order: only the low word is compared, and
    // the compiler says so.
    for arch in [
        Arch::S390,
        Arch::Mips,
        Arch::Mipsel,
        Arch::I386,
        Arch::Mips64N32,
        Arch::X32,
    ] {
        let p = Filter::new(Action::Allow)
            .arches([arch])
            .rule(rule.clone())
            .compile()
            .unwrap();
        let write = arch.syscall("write").unwrap();
        assert_eq!(
            p.simulate(arch, write, [5, 0, 0, 0, 0, 0]),
            Action::Errno(5),
            "{arch}"
        );
        // A sign-extended register (MIPS n32) is the same call.
        assert_eq!(
            p.simulate(arch, write, [0xffff_ffff_0000_0005, 0, 0, 0, 0, 0]),
            Action::Errno(5),
            "{arch}"
        );
        assert_eq!(
            p.simulate(arch, write, [6, 0, 0, 0, 0, 0]),
            Action::Allow,
            "{arch}"
        );
        let loads: Vec<u32> = p
            .instructions()
            .iter()
            .filter(|i| i.code == 0x20 && i.k >= 16)
            .map(|i| i.k)
            .collect();
        let low = if arch.little_endian() { 16 } else { 20 };
        assert_eq!(loads, [low], "{arch}: the low word only");
        assert!(
            p.warnings()
                .iter()
                .any(|w| w.contains(&format!("32-bit on {arch}")) && w.contains("low word")),
            "{arch}: {:?}",
            p.warnings()
        );
    }
    // -1 as a 64-bit value is the sign extension of a 32-bit -1: no
    // warning, and it matches 0xffff_ffff.
    let p = Filter::new(Action::Allow)
        .arches([Arch::I386])
        .rule(Rule::new("close", Action::Errno(9)).when(Arg::new(0).equal(u64::MAX)))
        .compile()
        .unwrap();
    assert!(p.warnings().is_empty(), "{:?}", p.warnings());
    let close = Arch::I386.syscall("close").unwrap();
    assert_eq!(
        p.simulate(Arch::I386, close, [0xffff_ffff, 0, 0, 0, 0, 0]),
        Action::Errno(9)
    );
    // The direct evaluation agrees (the reference the property tests use).
    let f = Filter::new(Action::Allow)
        .arches([Arch::I386])
        .rule(Rule::new("close", Action::Errno(9)).when(Arg::new(0).equal(u64::MAX)));
    assert!(f.rules()[0].matches_on(Arch::I386, &[0xffff_ffff, 0, 0, 0, 0, 0]));
    assert!(!f.rules()[0].matches_on(Arch::X86_64, &[0xffff_ffff, 0, 0, 0, 0, 0]));
}

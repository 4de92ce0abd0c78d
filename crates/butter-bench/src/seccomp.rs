//! seccomp-lite rows: what a filter costs each syscall, ours beside
//! libseccomp's program for the same rules (C) and seccompiler's (the
//! peer), each loaded in a child process of its own (filters cannot be
//! removed) that times the same `getpgid` loop; and the compile time of the
//! containers' default profile beside libseccomp.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use butter::seccomp::{Action, Arch, Arg, Filter, Program, Rule};

use crate::harness::{Plan, Row, interleaved, timed};

/// What the timing child needs after loading (writing its result,
/// exiting, the allocator): allowed unconditionally in every case.
const NEEDED: [&str; 10] = [
    "write",
    "exit_group",
    "exit",
    "munmap",
    "brk",
    "mmap",
    "futex",
    "sigaltstack",
    "rt_sigprocmask",
    "close",
];

/// The rule sets the three compilers are given.
#[derive(Clone, Copy)]
enum Case {
    /// 100 unconditional allows: the kernel's action cache holds getpgid.
    Cached,
    /// getpgid allowed only when arg0 == 0: the filter runs every time.
    ArgChecked,
    /// every other syscall below getpgid's number argument-checked too: a
    /// linear chain passes all of them before getpgid.
    LastOfMany,
}

/// The rules of a case, as (syscall, the value arg0 must equal): `NEEDED`
/// and x86_64's syscalls below getpgid's number up to 99, then getpgid.
fn rules(case: Case) -> Vec<(&'static str, Option<u64>)> {
    let mut names: Vec<&'static str> = NEEDED.to_vec();
    for (name, nr) in Arch::X86_64.syscalls() {
        if names.len() >= 99 {
            break;
        }
        if nr < 121 && !names.contains(&name) {
            names.push(name);
        }
    }
    let mut v: Vec<(&'static str, Option<u64>)> = names
        .into_iter()
        .map(|n| {
            let checked = matches!(case, Case::LastOfMany) && !NEEDED.contains(&n);
            (n, checked.then_some(12345))
        })
        .collect();
    v.push(("getpgid", (!matches!(case, Case::Cached)).then_some(0)));
    v
}

fn ours(case: Case) -> Program {
    let mut f = Filter::new(Action::Errno(1)).arches([Arch::X86_64]);
    for (name, arg0) in rules(case) {
        let rule = Rule::new(name, Action::Allow);
        f.push(match arg0 {
            Some(v) => rule.when(Arg::new(0).equal(v)),
            None => rule,
        });
    }
    f.compile().expect("the bench filter compiles")
}

fn libseccomp_input(case: Case) -> String {
    let allow = Action::Allow.to_ret();
    let mut s = format!("default {}\narch x86_64\n", Action::Errno(1).to_ret());
    for (name, arg0) in rules(case) {
        match arg0 {
            None => s.push_str(&format!("rule {allow} {name} 0\n")),
            Some(v) => s.push_str(&format!("rule {allow} {name} 1 0 4 {v} 0\n")),
        }
    }
    s
}

fn seccompiler_program(case: Case) -> Option<Vec<u8>> {
    seccompiler_program_for(case, Arch::X86_64)
}

/// seccompiler's program for a case on `arch`, for the three it serves.
fn seccompiler_program_for(case: Case, arch: Arch) -> Option<Vec<u8>> {
    use seccompiler::{
        SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    };
    let mut by_nr: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (name, cond) in rules(case) {
        let Some(nr) = arch.syscall(name) else {
            continue; // not a syscall there: left out, as ours skips it
        };
        let nr = i64::from(nr);
        let rule = match cond {
            None => vec![],
            Some(v) => vec![
                SeccompRule::new(vec![
                    SeccompCondition::new(0, SeccompCmpArgLen::Qword, SeccompCmpOp::Eq, v).ok()?,
                ])
                .ok()?,
            ],
        };
        by_nr.insert(nr, rule);
    }
    let filter = SeccompFilter::new(
        by_nr,
        SeccompAction::Errno(1),
        SeccompAction::Allow,
        match arch {
            Arch::X86_64 => seccompiler::TargetArch::x86_64,
            Arch::Aarch64 => seccompiler::TargetArch::aarch64,
            Arch::Riscv64 => seccompiler::TargetArch::riscv64,
            _ => return None,
        },
    )
    .ok()?;
    let program: seccompiler::BpfProgram = filter.try_into().ok()?;
    let mut bytes = Vec::with_capacity(program.len() * 8);
    for i in &program {
        bytes.extend_from_slice(&i.code.to_ne_bytes());
        bytes.push(i.jt);
        bytes.push(i.jf);
        bytes.extend_from_slice(&i.k.to_ne_bytes());
    }
    Some(bytes)
}

fn helper(dir: &Path) -> Option<PathBuf> {
    // The same helper seccomp-lite's tests compare against, read from the
    // workspace at run time (the bench runs from the workspace).
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../seccomp-lite/tests/seccomp-lite/libseccomp_export.c"
    ))
    .ok()?;
    let c = dir.join("libseccomp_export.c");
    std::fs::write(&c, src).ok()?;
    let exe = dir.join("libseccomp_export");
    let ok = Command::new("cc")
        .arg("-O2")
        .arg("-o")
        .arg(&exe)
        .arg(&c)
        .arg("-lseccomp")
        .stderr(Stdio::null())
        .status()
        .ok()?;
    ok.success().then_some(exe)
}

fn run_helper(exe: &Path, input: &str, reps: Option<u64>) -> Option<(Vec<u8>, Option<f64>)> {
    let mut cmd = Command::new(exe);
    if let Some(r) = reps {
        cmd.arg(r.to_string());
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(input.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    let ns = String::from_utf8_lossy(&out.stderr)
        .trim()
        .parse::<f64>()
        .ok();
    Some((out.stdout, ns))
}

/// Runs the timing child on a BPF file (or none): total nanoseconds for `n` calls.
fn child_ns(bpf: Option<&Path>, n: u64) -> Duration {
    let exe = std::env::current_exe().expect("the bench binary");
    let out = Command::new(exe)
        .arg("--seccomp-child")
        .arg(bpf.map_or_else(|| "none".into(), |p| p.to_string_lossy().into_owned()))
        .arg(n.to_string())
        .output()
        .expect("run the timing child");
    let text = String::from_utf8_lossy(&out.stdout);
    let ns: u64 = text
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("timing child: {out:?}"));
    Duration::from_nanos(ns)
}

/// The timing child: loads the filter, times `n` getpgid calls, prints
/// the nanoseconds. Called as `butter-bench --seccomp-child FILE N`.
pub(crate) fn timing_child(file: &str, n: &str) -> std::process::ExitCode {
    let n: u64 = n.parse().unwrap_or(100_000);
    if file != "none" {
        let bytes = std::fs::read(file).expect("the BPF file");
        let program = Program::from_bytes(&bytes).expect("a valid program");
        program.load().expect("load the filter");
    }
    // getpgid(0): the argument the rules check is one we pass (a rule on
    // an argument a syscall does not take sees whatever the register held).
    let call =
        || std::hint::black_box(rustix::process::getpgid(None)).expect("getpgid(0) is allowed");
    for _ in 0..1000 {
        call();
    }
    let took = timed(|| {
        for _ in 0..n {
            call();
        }
    });
    println!("{}", took.as_nanos());
    std::process::ExitCode::SUCCESS
}

/// Per architecture the compiler serves: the instructions a filter runs for
/// one call the kernel's action cache cannot answer, ours beside
/// libseccomp's program (the 19 architectures of libseccomp 2.5) and
/// seccompiler's (x86_64, aarch64, riscv64) for the same rules, counted
/// in the simulator. The rules are a case's, by name, each architecture
/// keeping the names it has.
fn arch_rows(helper: Option<&Path>) -> Vec<Row> {
    let mut rows = Vec::new();
    for arch in [
        Arch::X86_64,
        Arch::I386,
        Arch::X32,
        Arch::Aarch64,
        Arch::Arm,
        Arch::Riscv64,
        Arch::Ppc64le,
        Arch::S390x,
        Arch::Mips64,
        Arch::Mipsel,
        Arch::Loongarch64,
    ] {
        let Some(getpgid) = arch.syscall("getpgid") else {
            continue;
        };
        for (case, what) in [
            (Case::ArgChecked, "arg0 == 0, in a 100-syscall allowlist"),
            (Case::LastOfMany, "after 99 argument-checked syscalls"),
        ] {
            let rules: Vec<(&str, Option<u64>)> = rules(case)
                .into_iter()
                .filter(|(n, _)| arch.syscall(n).is_some())
                .collect();
            let mut f = Filter::new(Action::Errno(1)).arches([arch]);
            let mut input = format!(
                "default {}\narch {}\n",
                Action::Errno(1).to_ret(),
                arch.name()
            );
            for (name, arg0) in &rules {
                let rule = Rule::new(*name, Action::Allow);
                f.push(match arg0 {
                    Some(v) => rule.when(Arg::new(0).equal(*v)),
                    None => rule,
                });
                let allow = Action::Allow.to_ret();
                match arg0 {
                    None => input.push_str(&format!("rule {allow} {name} 0\n")),
                    Some(v) => input.push_str(&format!("rule {allow} {name} 1 0 4 {v} 0\n")),
                }
            }
            let data = butter::seccomp::SeccompData::new(arch, getpgid, [0; 6]);
            let ours = f.compile().expect("the bench filter compiles");
            let (ret, ours_steps) = ours.run_counted(&data);
            assert_eq!(
                Action::from_ret(ret),
                Action::Allow,
                "{arch}: getpgid(0) allowed"
            );
            // Same work: each program allows the call.
            let count = |p: Option<Program>| {
                p.map(|p| (p.run_counted(&data), p.len()))
                    .filter(|&((r, _), _)| Action::from_ret(r) == Action::Allow)
                    .map(|((_, n), len)| (n as f64, len))
            };
            let c = count(
                helper
                    .and_then(|h| run_helper(h, &input, None))
                    .and_then(|(b, _)| Program::from_bytes_for(arch, &b).ok()),
            );
            let peer = count(
                seccompiler_program_for(case, arch).and_then(|b| Program::from_bytes(&b).ok()),
            );
            let mut sizes = format!("{} (ours)", ours.len());
            if let Some((_, len)) = c {
                sizes.push_str(&format!(", {len} (libseccomp)"));
            }
            if let Some((_, len)) = peer {
                sizes.push_str(&format!(", {len} (seccompiler)"));
            }
            sizes.push_str(" instructions");
            if c.is_none() {
                sizes.push_str("; libseccomp 2.5.4 lacks this architecture");
            }
            let name: &'static str =
                Box::leak(format!("seccomp ({arch}): getpgid(0) {what}").into_boxed_str());
            rows.push(Row {
                name,
                unit: "insns",
                ours: ours_steps as f64,
                c: c.map(|(n, _)| n),
                peer: peer.map(|(n, _)| ("seccompiler 0.5", n)),
                higher_is_better: false,
                note: format!(
                    "simulated: BPF instructions run for the call, no action cache; {} rules; programs of {sizes}",
                    rules.len()
                ),
            });
        }
    }
    rows
}

pub(crate) fn rows(plan: &Plan) -> Vec<Row> {
    let mut rows = Vec::new();
    if Arch::native() != Some(Arch::X86_64) {
        eprintln!("butter-bench: the seccomp rows are written for x86_64; skipped");
        return rows;
    }
    let dir = std::env::temp_dir().join(format!("butter-bench-seccomp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let helper = helper(&dir);
    if helper.is_none() {
        eprintln!(
            "butter-bench: libseccomp's headers are missing (libseccomp-dev): the C column is empty"
        );
    }
    let n = plan.pairs.max(20_000);
    let per = |d: f64| d * 1e9 / n as f64;
    for (case, name, note) in [
        (
            Case::Cached,
            "seccomp: getpgid(0) allowed by a 100-syscall allowlist (cached)",
            "ns/call over an unfiltered call; the kernel's cache answers without running any of the three",
        ),
        (
            Case::ArgChecked,
            "seccomp: getpgid(0) allowed when arg0 == 0 (filter runs)",
            "ns/call over an unfiltered call; binary search (ours, libseccomp) vs linear chain (seccompiler)",
        ),
        (
            Case::LastOfMany,
            "seccomp: getpgid(0) after 99 argument-checked syscalls",
            "ns/call over an unfiltered call; a linear chain passes all 99 first",
        ),
    ] {
        let ours_file = dir.join("ours.bpf");
        std::fs::write(&ours_file, ours(case).to_bytes()).expect("write");
        let c_file = helper
            .as_ref()
            .and_then(|h| run_helper(h, &libseccomp_input(case), None))
            .map(|(bytes, _)| {
                let f = dir.join("libseccomp.bpf");
                std::fs::write(&f, bytes).expect("write");
                f
            });
        let peer_file = seccompiler_program(case).map(|bytes| {
            let f = dir.join("seccompiler.bpf");
            std::fs::write(&f, bytes).expect("write");
            f
        });
        let mut variants: Vec<Box<dyn FnMut() -> Duration>> = vec![
            Box::new(|| child_ns(None, n)),
            Box::new(|| child_ns(Some(&ours_file), n)),
        ];
        if let Some(f) = &c_file {
            variants.push(Box::new(move || child_ns(Some(f), n)));
        }
        if let Some(f) = &peer_file {
            variants.push(Box::new(move || child_ns(Some(f), n)));
        }
        let mut refs: Vec<&mut dyn FnMut() -> Duration> = variants
            .iter_mut()
            .map(|b| b.as_mut() as &mut dyn FnMut() -> Duration)
            .collect();
        let m = interleaved(plan.rounds, &mut refs);
        let base = per(m[0]);
        let over = |i: usize| (per(m[i]) - base).max(0.01);
        let mut idx = 2;
        let c = c_file.as_ref().map(|_| {
            let v = over(idx);
            idx += 1;
            v
        });
        let peer = peer_file
            .as_ref()
            .map(|_| ("seccompiler 0.5 (linear chain)", over(idx)));
        rows.push(Row {
            name,
            unit: "ns/call",
            ours: over(1),
            c,
            peer,
            higher_is_better: false,
            note: format!("{note}; unfiltered getpgid {base:.0} ns; C = libseccomp 2.5's program for the same rules"),
        });
    }
    // Compile time of the containers' default profile.
    let profile = "/usr/share/containers/seccomp.json";
    if let Ok(json) = std::fs::read_to_string(profile) {
        let filter = butter::seccomp::Profile::parse(&json)
            .and_then(|p| p.to_filter(&butter::seccomp::ProfileOptions::default()))
            .expect("the profile reads");
        let reps = 200u64;
        let input = {
            let mut s = format!("default {}\n", filter.default_action().to_ret());
            for a in filter.architectures() {
                s.push_str(&format!("arch {}\n", a.name()));
            }
            for r in filter.rules() {
                if filter
                    .architectures()
                    .iter()
                    .all(|a| r.syscall.on(*a).is_none())
                {
                    continue; // skipped by both
                }
                s.push_str(&format!(
                    "rule {} {} {}",
                    r.action.to_ret(),
                    r.syscall,
                    r.cmps.len()
                ));
                for c in &r.cmps {
                    s.push_str(&format!(" {} 4 {} 0", c.arg.index(), c.value));
                }
                s.push('\n');
            }
            s
        };
        // Same work? Both programs answer every syscall of every covered
        // architecture alike (zero arguments).
        let ours_program = filter.compile().expect("compiles");
        let mut same = String::from("libseccomp missing");
        let theirs = helper
            .as_ref()
            .and_then(|h| run_helper(h, &input, None))
            .and_then(|(b, _)| Program::from_bytes(&b).ok());
        if let Some(theirs) = theirs {
            let (mut calls, mut alike) = (0, 0);
            // Where they differ, rules of the profile overlap: we answer
            // the most restrictive, libseccomp the first added.
            let mut differ: Vec<&str> = Vec::new();
            for &a in filter.architectures() {
                for (name, nr) in a.syscalls() {
                    calls += 1;
                    if ours_program.simulate(a, nr, [0; 6]) == theirs.simulate(a, nr, [0; 6]) {
                        alike += 1;
                    } else if !differ.contains(&name) {
                        differ.push(name);
                    }
                }
            }
            same = format!(
                "{} vs {} instructions, {alike} of {calls} syscalls answered alike",
                ours_program.len(),
                theirs.len()
            );
            if !differ.is_empty() {
                same.push_str(&format!(
                    "; apart: {} (overlapping rules: libseccomp keeps the first added, we the most restrictive)",
                    differ.join(" ")
                ));
            }
        }
        let mut c_ns = None;
        let m = interleaved(
            plan.rounds,
            &mut [
                &mut || {
                    timed(|| {
                        for _ in 0..reps {
                            std::hint::black_box(filter.compile().expect("compiles"));
                        }
                    })
                },
                &mut || {
                    if let Some(h) = &helper {
                        c_ns = run_helper(h, &input, Some(reps))
                            .and_then(|(_, ns)| ns)
                            .or(c_ns);
                    }
                    Duration::ZERO
                },
            ],
        );
        rows.push(Row {
            name: "seccomp: compile the containers' default profile",
            unit: "µs",
            ours: m[0] * 1e6 / reps as f64,
            c: c_ns.map(|ns| ns / 1e3),
            peer: None,
            higher_is_better: false,
            note: format!(
                "{} rules, x86_64+x86+x32 ({same}); seccompiler takes its own JSON format, not this one",
                filter.rules().len()
            ),
        });
    } else {
        eprintln!(
            "butter-bench: no {profile} (golang-github-containers-common): compile-time row skipped"
        );
    }
    rows.extend(arch_rows(helper.as_deref()));
    let _ = std::fs::remove_dir_all(&dir);
    rows
}

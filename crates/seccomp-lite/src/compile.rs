//! The compiler: rules to classic BPF.
//!
//! The program is built backwards, from its last instruction to its first,
//! so that every jump's target is already placed when the jump is written
//! (seccomp's BPF jumps only forward). Its shape:
//!
//! 1. `ld [4]` and one `jeq` per audit identifier; anything else gets the
//!    bad-architecture action.
//! 2. Per architecture, `ld [0]`; for x86_64 the x32 guard (numbers with
//!    `__X32_SYSCALL_BIT` go to x32's dispatch if the filter covers x32,
//!    else to the bad-architecture action; -1 goes to the default action);
//!    the optional ENOSYS stub.
//! 3. A balanced binary search over the syscall numbers with rules
//!    (`jge` nodes, short `jeq` chains at the leaves), so a lookup costs
//!    about log2(n) jumps, and the path to every syscall reads only the
//!    architecture and the number: the kernel's action cache (5.11+) can
//!    then remember an unconditional `ALLOW`.
//! 4. Each syscall's rules, most restrictive action first, each a chain of
//!    argument checks ending in its `ret`; the default action last.
//!
//! Conditional jumps reach at most 255 instructions ahead; a farther target
//! gets a trampoline, an unconditional `ja` (32-bit offset) placed right
//! after the jump.

use std::collections::BTreeMap;

use fd_core::{Error, Result};

use crate::action::Action;
use crate::arch::{Arch, X32_SYSCALL_BIT};
use crate::bpf::{Insn, MAX_INSNS, op};
use crate::filter::{Cmp, CmpOp, Filter, Syscall, Unknown};
use crate::program::Program;

/// A position in the reversed program: its distance from the end.
type Label = usize;

/// A syscall's rules as compiled for one architecture: (the `ret` of
/// each rule, its comparisons), and the default action after them.
type BodyKey = (Arch, Vec<(u32, Vec<Cmp>)>, u32);

struct Emitter {
    rev: Vec<Insn>,
    /// The most recent `ret k` for each k, to jump to instead of repeating it.
    rets: BTreeMap<u32, Label>,
    /// Argument checks already emitted, by what they check: syscalls with
    /// the same rules share one copy (a profile's many `arg0 == 0` rules
    /// cost one block, not one each).
    bodies: std::collections::HashMap<BodyKey, Label>,
}

impl Emitter {
    /// Appends (in reverse) and returns the new instruction's label.
    fn push(&mut self, insn: Insn) -> Label {
        self.rev.push(insn);
        self.rev.len() - 1
    }

    /// The offset from the instruction about to be pushed to `target`.
    fn offset(&self, target: Label) -> usize {
        self.rev.len() - 1 - target
    }

    fn ret(&mut self, k: u32) -> Label {
        if let Some(&at) = self.rets.get(&k)
            && self.offset(at) < 128
        {
            return at;
        }
        let at = self.push(Insn::ret(k));
        self.rets.insert(k, at);
        at
    }

    /// Where execution continues at `target`: nothing if it is next, else a `ja`.
    fn goto(&mut self, target: Label) -> Label {
        if target + 1 == self.rev.len() {
            return target;
        }
        if self.rev[target].code == op::RET | op::K {
            let k = self.rev[target].k;
            return self.push(Insn::ret(k));
        }
        let k = u32::try_from(self.offset(target)).unwrap_or(u32::MAX);
        self.push(Insn::stmt(op::JMP | op::JA, k))
    }

    /// A conditional jump, with trampolines for targets over 255 ahead.
    fn jump(&mut self, code: u16, k: u32, mut jt: Label, mut jf: Label) -> Label {
        if jt == jf {
            return self.goto(jt);
        }
        loop {
            let (ot, of) = (self.offset(jt), self.offset(jf));
            match (u8::try_from(ot), u8::try_from(of)) {
                (Ok(t), Ok(f)) => return self.push(Insn::jump(code, k, t, f)),
                (Err(_), _) => jt = self.goto(jt),
                (_, Err(_)) => jf = self.goto(jf),
            }
        }
    }

    /// `ld [offset]`, continuing at `next` (a `ja` first if it is not
    /// the instruction emitted last).
    fn load(&mut self, offset: u32, next: Label) -> Label {
        self.goto(next);
        self.push(Insn::load(offset))
    }

    /// An ALU statement continuing at `next`.
    fn alu(&mut self, code: u16, k: u32, next: Label) -> Label {
        self.goto(next);
        self.push(Insn::stmt(op::ALU | code | op::K, k))
    }
}

/// Where the words of argument `index` are in `seccomp_data`.
fn arg_words(arch: Arch, index: u8) -> (u32, u32) {
    let base = 16 + 8 * u32::from(index);
    if arch.little_endian() {
        (base, base + 4)
    } else {
        (base + 4, base)
    }
}

/// Emits `cmp`, continuing at `t` when it holds and `f` when not.
fn emit_cmp(e: &mut Emitter, arch: Arch, cmp: &Cmp, t: Label, f: Label) -> Label {
    let cmp = &cmp.on(arch);
    let (lo_off, hi_off) = arg_words(arch, cmp.arg.index());
    let (hi, lo) = ((cmp.value >> 32) as u32, (cmp.value & 0xffff_ffff) as u32);
    let bias = if cmp.signed() { 0x8000_0000 } else { 0 };
    let jeq = op::JMP | op::JEQ | op::K;
    let jgt = op::JMP | op::JGT | op::K;
    let jge = op::JMP | op::JGE | op::K;
    // An ordering test of one word: the jump and whether its outcomes swap.
    let order = |op: CmpOp| match op {
        CmpOp::Gt => (jgt, false),
        CmpOp::Ge => (jge, false),
        CmpOp::Lt => (jge, true),
        CmpOp::Le => (jgt, true),
        _ => unreachable!("only ordering operators"),
    };
    if t == f {
        return t; // both outcomes lead to the same place
    }
    if cmp.is_32() {
        let entry = match cmp.op {
            CmpOp::Eq => e.jump(jeq, lo, t, f),
            CmpOp::Ne => e.jump(jeq, lo, f, t),
            CmpOp::MaskedEq(m) => {
                let j = e.jump(jeq, lo, t, f);
                e.alu(op::AND, (m & 0xffff_ffff) as u32, j)
            }
            ordering => {
                let (code, swap) = order(ordering);
                let (yes, no) = if swap { (f, t) } else { (t, f) };
                let j = e.jump(code, lo ^ bias, yes, no);
                if bias != 0 {
                    e.alu(op::XOR, bias, j)
                } else {
                    j
                }
            }
        };
        return e.load(lo_off, entry);
    }
    match cmp.op {
        CmpOp::Eq => {
            let low = e.jump(jeq, lo, t, f);
            let low = e.load(lo_off, low);
            let high = e.jump(jeq, hi, low, f);
            e.load(hi_off, high)
        }
        CmpOp::Ne => {
            let low = e.jump(jeq, lo, f, t);
            let low = e.load(lo_off, low);
            let high = e.jump(jeq, hi, low, t);
            e.load(hi_off, high)
        }
        CmpOp::MaskedEq(m) => {
            let (mhi, mlo) = ((m >> 32) as u32, (m & 0xffff_ffff) as u32);
            let mut entry = t;
            if mlo != 0 {
                let j = e.jump(jeq, lo, entry, f);
                let a = e.alu(op::AND, mlo, j);
                entry = e.load(lo_off, a);
            }
            if mhi != 0 {
                let j = e.jump(jeq, hi, entry, f);
                let a = e.alu(op::AND, mhi, j);
                entry = e.load(hi_off, a);
            }
            // With a zero mask, `arg & 0 == 0` always holds: `t`.
            entry
        }
        ordering => {
            // High words decide unless equal; then the low words, unsigned.
            let (code, swap) = order(ordering);
            let (yes, no) = if swap { (f, t) } else { (t, f) };
            let low = e.jump(code, lo, yes, no);
            let low = e.load(lo_off, low);
            let hi_b = hi ^ bias;
            let equal = e.jump(jeq, hi_b, low, no);
            let above = e.jump(jgt, hi_b, yes, equal);
            let above = if bias != 0 {
                e.alu(op::XOR, bias, above)
            } else {
                above
            };
            e.load(hi_off, above)
        }
    }
}

/// One syscall's rules, most restrictive first, as resolved for an arch.
struct Body<'a> {
    nr: u32,
    rules: Vec<(usize, std::borrow::Cow<'a, crate::filter::Rule>)>,
}

/// Emits a syscall's rules, or finds the same rules already emitted for
/// another syscall; returns the entry label.
fn emit_body(e: &mut Emitter, arch: Arch, body: &Body<'_>, default: u32) -> Label {
    let checks = body.rules.iter().any(|(_, r)| !r.cmps.is_empty());
    let key: Option<BodyKey> = checks.then(|| {
        let rules = body
            .rules
            .iter()
            .map(|(_, r)| {
                (
                    r.action.to_ret(),
                    r.cmps.iter().map(|c| c.on(arch)).collect(),
                )
            })
            .collect();
        (arch, rules, default)
    });
    if let Some(&at) = key.as_ref().and_then(|k| e.bodies.get(k)) {
        return at;
    }
    let mut next = e.ret(default);
    for (_, rule) in body.rules.iter().rev() {
        let matched = e.ret(rule.action.to_ret());
        let mut entry = matched;
        for cmp in rule.cmps.iter().rev() {
            entry = emit_cmp(e, arch, cmp, entry, next);
        }
        next = entry;
    }
    if let Some(key) = key {
        e.bodies.insert(key, next);
    }
    next
}

/// A binary search over `bodies` (sorted by number) with the accumulator
/// holding the syscall number.
fn emit_search(e: &mut Emitter, arch: Arch, bodies: &[Body<'_>], default: u32) -> Label {
    const LEAF: usize = 4;
    if bodies.len() <= LEAF {
        let entries: Vec<Label> = bodies
            .iter()
            .rev()
            .map(|b| emit_body(e, arch, b, default))
            .collect();
        let mut next = e.ret(default);
        for (body, entry) in bodies.iter().rev().zip(entries) {
            next = e.jump(op::JMP | op::JEQ | op::K, body.nr, entry, next);
        }
        return next;
    }
    let mid = bodies.len() / 2;
    let right = emit_search(e, arch, &bodies[mid..], default);
    let left = emit_search(e, arch, &bodies[..mid], default);
    e.jump(op::JMP | op::JGE | op::K, bodies[mid].nr, right, left)
}

/// The rules of one architecture, grouped and ordered.
fn bodies_for<'a>(filter: &'a Filter, arch: Arch) -> Vec<Body<'a>> {
    type Rules<'a> = Vec<(usize, std::borrow::Cow<'a, crate::filter::Rule>)>;
    let mut by_nr: BTreeMap<u32, Rules<'a>> = BTreeMap::new();
    for (nr, i, rule) in filter.rules_on(arch) {
        by_nr.entry(nr).or_default().push((i, rule));
    }
    let default = filter.default;
    by_nr
        .into_iter()
        .map(|(nr, mut rules)| {
            rules.sort_by_key(|(i, r)| (r.action.precedence(), *i));
            // Nothing after an unconditional rule can be reached.
            if let Some(p) = rules.iter().position(|(_, r)| r.cmps.is_empty()) {
                rules.truncate(p + 1);
            }
            // Trailing rules answering the default change nothing.
            while rules.last().is_some_and(|(_, r)| r.action == default) {
                rules.pop();
            }
            Body { nr, rules }
        })
        .collect()
}

/// The dispatch of one architecture, with the number in the accumulator.
fn emit_arch(e: &mut Emitter, filter: &Filter, arch: Arch) -> Label {
    let default = filter.default.to_ret();
    let bodies = bodies_for(filter, arch);
    let search = emit_search(e, arch, &bodies, default);
    if filter.stub_applies() {
        let enosys = e.ret(Action::Errno(38).to_ret());
        let stub = e.jump(
            op::JMP | op::JGT | op::K,
            filter.stub_threshold(arch),
            enosys,
            search,
        );
        let skip = e.ret(default);
        e.jump(op::JMP | op::JEQ | op::K, u32::MAX, skip, stub)
    } else {
        search
    }
}

pub(crate) fn compile(filter: &Filter) -> Result<Program> {
    // Masked values with bits outside their mask, as libseccomp takes them.
    let mut warnings = Vec::new();
    let mut masked = None;
    for (i, rule) in filter.rules.iter().enumerate() {
        for (j, cmp) in rule.cmps.iter().enumerate() {
            if let Some((fixed, warning)) = cmp.masked_as_libseccomp() {
                warnings.push(format!("{warning} (in the rule for {})", rule.syscall));
                let f: &mut Filter = masked.get_or_insert_with(|| filter.clone());
                f.rules[i].cmps[j] = fixed;
            }
        }
    }
    let filter = masked.as_ref().unwrap_or(filter);
    for rule in &filter.rules {
        for cmp in &rule.cmps {
            let narrow: Vec<Arch> = filter
                .arches
                .iter()
                .copied()
                .filter(|&a| rule.is_for(a) && cmp.narrowed(a))
                .collect();
            if let Some(&first) = narrow.first() {
                let names: Vec<&str> = narrow.iter().map(|a| a.name()).collect();
                warnings.push(format!(
                    "{cmp}: syscall arguments are 32-bit on {}; compared there in the low word ({}), as libseccomp does (in the rule for {})",
                    names.join(", "),
                    cmp.on(first),
                    rule.syscall
                ));
            }
        }
    }
    if filter.arches.is_empty() {
        return Err(Error::invalid_input(
            "seccomp",
            "the filter covers no architecture",
        ));
    }
    filter.default.validate()?;
    filter.bad_arch.validate()?;
    let mut skipped = Vec::new();
    for rule in &filter.rules {
        rule.action.validate()?;
        if !rule.arches.is_empty() && !rule.arches.iter().any(|a| filter.arches.contains(a)) {
            let theirs: Vec<&str> = rule.arches.iter().map(|a| a.name()).collect();
            let ours: Vec<&str> = filter.arches.iter().map(|a| a.name()).collect();
            return Err(Error::invalid_input(
                "seccomp",
                format!(
                    "the rule for {} is only for {}, which the filter does not cover (it covers {})",
                    rule.syscall,
                    theirs.join(", "),
                    ours.join(", ")
                ),
            ));
        }
        for cmp in &rule.cmps {
            cmp.validate().map_err(|e| {
                let detail = format!(
                    "{} (in the rule for {})",
                    e.detail().unwrap_or_default(),
                    rule.syscall
                );
                e.with_detail(detail)
            })?;
        }
        if rule.syscall == Syscall::Nr(u32::MAX) {
            return Err(Error::invalid_input(
                "seccomp",
                "a rule on syscall -1 (4294967295) can never match: the kernel hands -1 to a filter only for a call a tracer skipped, and gives it the default action",
            ));
        }
        if let Syscall::Name(name) = &rule.syscall
            && filter
                .arches
                .iter()
                .filter(|&&a| rule.is_for(a))
                .all(|&a| a.syscall(name).is_none() && !crate::multiplex::reachable(a, name))
        {
            match filter.unknown {
                Unknown::Error => {
                    let arches: Vec<&str> = filter
                        .arches
                        .iter()
                        .filter(|&&a| rule.is_for(a))
                        .map(|a| a.name())
                        .collect();
                    return Err(Error::invalid_input(
                        "seccomp",
                        format!("no syscall named {name:?} on {}", arches.join(", ")),
                    )
                    .with_kind(fd_core::ErrorKind::NotFound));
                }
                Unknown::Skip if !skipped.iter().any(|s| s == name) => {
                    skipped.push(name.to_string())
                }
                Unknown::Skip => {}
            }
        }
    }
    let mut e = Emitter {
        rev: Vec::new(),
        rets: BTreeMap::new(),
        bodies: std::collections::HashMap::new(),
    };
    let bad_arch = e.ret(filter.bad_arch.to_ret());
    let default = filter.default.to_ret();
    // One block per audit identifier; x86_64 and x32 share one.
    let mut blocks: Vec<(u32, Label)> = Vec::new();
    let has = |a: Arch| filter.arches.contains(&a);
    for &arch in filter.arches.iter().rev() {
        if arch == Arch::X32 && has(Arch::X86_64) {
            continue; // part of x86_64's block
        }
        let entry = match arch {
            Arch::X86_64 | Arch::X32 => {
                let x32 = if has(Arch::X32) {
                    Some(emit_arch(&mut e, filter, Arch::X32))
                } else {
                    None
                };
                let native = if has(Arch::X86_64) {
                    Some(emit_arch(&mut e, filter, Arch::X86_64))
                } else {
                    None
                };
                let (high, low) = match (native, x32) {
                    (Some(n), Some(x)) => (x, n),
                    (Some(n), None) => {
                        let skip = e.ret(default);
                        let guard = e.jump(op::JMP | op::JEQ | op::K, u32::MAX, skip, bad_arch);
                        (guard, n)
                    }
                    (None, Some(x)) => (x, bad_arch),
                    (None, None) => unreachable!("one of them is covered"),
                };
                let j = e.jump(op::JMP | op::JGE | op::K, X32_SYSCALL_BIT, high, low);
                e.load(0, j)
            }
            other => {
                let d = emit_arch(&mut e, filter, other);
                e.load(0, d)
            }
        };
        blocks.push((arch.audit(), entry));
    }
    let mut next = bad_arch;
    for (audit, entry) in blocks {
        next = e.jump(op::JMP | op::JEQ | op::K, audit, entry, next);
    }
    e.load(4, next);
    if e.rev.len() > MAX_INSNS {
        return Err(Error::invalid_input(
            "seccomp",
            format!(
                "the filter compiles to {} instructions; the kernel's limit is {MAX_INSNS} (BPF_MAXINSNS): split it into two filters or use fewer argument rules",
                e.rev.len()
            ),
        ));
    }
    e.rev.reverse();
    Ok(Program::new(
        e.rev,
        filter.arches.clone(),
        skipped,
        warnings,
    ))
}

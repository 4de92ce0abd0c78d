//! A compiled (or imported) filter program.

use std::fmt;

use fd_core::Result;

use crate::action::Action;
use crate::arch::Arch;
use crate::bpf::{self, Insn};
use crate::sim::{self, SeccompData};

/// A seccomp BPF program: what [`Filter::compile`](crate::Filter::compile)
/// makes, or any program read from bytes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Program {
    insns: Vec<Insn>,
    arches: Vec<Arch>,
    skipped: Vec<String>,
    warnings: Vec<String>,
}

impl Program {
    pub(crate) fn new(
        insns: Vec<Insn>,
        arches: Vec<Arch>,
        skipped: Vec<String>,
        warnings: Vec<String>,
    ) -> Program {
        Program {
            insns,
            arches,
            skipped,
            warnings,
        }
    }

    /// What the compiler took differently from how it was written, one
    /// sentence each: a masked comparison whose value has bits outside its
    /// mask (compared with those bits cleared, as libseccomp does).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// A program from instructions, checked as the kernel would check it.
    ///
    /// # Errors
    /// `InvalidInput` naming the first instruction the kernel would refuse.
    pub fn from_insns(insns: Vec<Insn>) -> Result<Program> {
        bpf::check(&insns)?;
        Ok(Program {
            insns,
            arches: Vec::new(),
            skipped: Vec::new(),
            warnings: Vec::new(),
        })
    }

    /// A program from the raw bytes `seccomp_export_bpf` writes (or
    /// [`to_bytes`](Program::to_bytes)), checked as the kernel would.
    ///
    /// # Errors
    /// `InvalidInput` for a length that is not a whole number of
    /// instructions, or a program the kernel would refuse.
    pub fn from_bytes(bytes: &[u8]) -> Result<Program> {
        Program::from_insns(bpf::from_bytes(bytes)?)
    }

    /// A program from raw bytes written for `arch`'s machines, in their
    /// byte order (what `seccomp_export_bpf` writes for a filter of a
    /// big-endian architecture, or [`to_bytes_for`](Program::to_bytes_for)).
    ///
    /// # Errors
    /// As [`from_bytes`](Program::from_bytes).
    pub fn from_bytes_for(arch: Arch, bytes: &[u8]) -> Result<Program> {
        Program::from_insns(bpf::from_bytes_in(bytes, arch.little_endian())?)
    }

    /// The instructions (`struct sock_filter`).
    pub fn instructions(&self) -> &[Insn] {
        &self.insns
    }

    /// The instructions, as a vector.
    pub fn into_instructions(self) -> Vec<Insn> {
        self.insns
    }

    /// The raw bytes `seccomp_export_bpf` writes, readable by libseccomp's
    /// tools and by [`from_bytes`](Program::from_bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        bpf::to_bytes(&self.insns)
    }

    /// The raw bytes for loading on `arch`'s machines: in their byte order,
    /// as libseccomp exports a filter for a big-endian architecture.
    pub fn to_bytes_for(&self, arch: Arch) -> Vec<u8> {
        bpf::to_bytes_in(&self.insns, arch.little_endian())
    }

    /// The number of instructions.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Whether the program has no instructions (never, for a valid one).
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// The architectures the filter was compiled for (empty for a program
    /// read from bytes).
    pub fn arches(&self) -> &[Arch] {
        &self.arches
    }

    /// Syscall names the filter's rules named that none of its
    /// architectures know, left out under [`Unknown::Skip`](crate::Unknown::Skip).
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// The filter's return value for a call.
    pub fn run(&self, data: &SeccompData) -> u32 {
        sim::run_checked(&self.insns, data)
    }

    /// Runs the program on `data` and returns its return value with the
    /// number of instructions executed (its `ret` included): what the call
    /// costs in the filter when the kernel's action cache cannot answer.
    pub fn run_counted(&self, data: &SeccompData) -> (u32, usize) {
        sim::run_counted(&self.insns, data)
    }

    /// The action for `nr` with `args` on `arch`, by running the program.
    pub fn simulate(&self, arch: Arch, nr: u32, args: [u64; 6]) -> Action {
        Action::from_ret(self.run(&SeccompData::new(arch, nr, args)))
    }

    /// The action for the syscall `name` on `arch`.
    ///
    /// # Errors
    /// `NotFound` if `arch` has no such syscall.
    pub fn simulate_name(&self, arch: Arch, name: &str, args: [u64; 6]) -> Result<Action> {
        Ok(self.simulate(arch, arch.resolve(name)?, args))
    }

    /// The longest path through the program, in instructions.
    pub fn depth(&self) -> usize {
        sim::depth(&self.insns)
    }

    /// The syscalls of `arch` whose answer the kernel's action cache
    /// (5.11+) can keep: those the program allows knowing only the
    /// architecture and the number.
    pub fn cached_allows(&self, arch: Arch) -> Vec<(&'static str, u32)> {
        arch.syscalls()
            .filter(|&(_, nr)| {
                sim::constant_answer(&self.insns, arch.audit(), nr) == Some(Action::Allow.to_ret())
            })
            .collect()
    }

    /// The syscalls of `arch` whose answer depends on their arguments.
    pub fn argument_checked(&self, arch: Arch) -> Vec<(&'static str, u32)> {
        arch.syscalls()
            .filter(|&(_, nr)| sim::constant_answer(&self.insns, arch.audit(), nr).is_none())
            .collect()
    }

    /// The distinct return values of the program's `ret k` instructions,
    /// with the first instruction returning each.
    pub fn returns(&self) -> Vec<(u32, usize)> {
        let mut seen: Vec<(u32, usize)> = Vec::new();
        for (pc, i) in self.insns.iter().enumerate() {
            if i.code == bpf::op::RET | bpf::op::K && !seen.iter().any(|&(k, _)| k == i.k) {
                seen.push((i.k, pc));
            }
        }
        seen
    }

    /// The disassembly: see [`disassemble`](crate::disassemble).
    pub fn disassemble(&self) -> String {
        crate::disasm::disassemble(&self.insns)
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.disassemble())
    }
}

impl crate::Filter {
    /// Compiles the filter to BPF: see the crate docs for the program's shape.
    ///
    /// # Errors
    /// `InvalidInput`: an argument index over 5, an errno over 4095, a
    /// value that does not fit its width, a program over 4096
    /// instructions (the error gives the size); `NotFound`: a syscall name
    /// none of the filter's architectures know (unless
    /// [`Unknown::Skip`](crate::Unknown::Skip)).
    pub fn compile(&self) -> Result<Program> {
        crate::compile::compile(self)
    }
}

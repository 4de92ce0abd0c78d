//! A classic BPF interpreter for seccomp programs: runs any program the
//! kernel would accept (ours or anyone's) on a `seccomp_data`.

use fd_core::Result;

use crate::arch::Arch;
use crate::bpf::{self, Insn, SECCOMP_DATA_SIZE, op};

/// The input of a seccomp filter: `struct seccomp_data`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SeccompData {
    /// The syscall number (as the architecture numbers it).
    pub nr: u32,
    /// The audit architecture identifier (`AUDIT_ARCH_*`).
    pub arch: u32,
    /// The instruction pointer at the call.
    pub instruction_pointer: u64,
    /// The six arguments.
    pub args: [u64; 6],
}

impl SeccompData {
    /// A call of `nr` on `arch` with these arguments.
    pub fn new(arch: Arch, nr: u32, args: [u64; 6]) -> SeccompData {
        SeccompData {
            nr,
            arch: arch.audit(),
            instruction_pointer: 0,
            args,
        }
    }

    /// The 32-bit word at `offset`, as the kernel lays the struct out on
    /// the architecture the audit identifier names (its endianness bit).
    pub fn word(&self, offset: u32) -> Option<u32> {
        let le = self.arch & 0x4000_0000 != 0;
        let split = |v: u64, high: bool| -> u32 {
            let (lo, hi) = ((v & 0xffff_ffff) as u32, (v >> 32) as u32);
            // The first word in memory is the low half on little-endian.
            if high == le { hi } else { lo }
        };
        Some(match offset {
            0 => self.nr,
            4 => self.arch,
            8 | 12 => split(self.instruction_pointer, offset == 12),
            o if o < SECCOMP_DATA_SIZE && o % 4 == 0 => {
                let i = ((o - 16) / 8) as usize;
                split(self.args[i], (o - 16) % 8 == 4)
            }
            _ => return None,
        })
    }
}

/// Runs `program` on `data` as the kernel would and returns the filter's
/// return value (decode it with [`Action::from_ret`](crate::Action::from_ret)).
///
/// # Errors
/// `InvalidInput` if the kernel would refuse the program (see
/// [`bpf::check`](crate::bpf::check)).
pub fn simulate(program: &[Insn], data: &SeccompData) -> Result<u32> {
    bpf::check(program)?;
    Ok(run_checked(program, data))
}

/// Runs a program [`bpf::check`] accepted.
pub(crate) fn run_checked(program: &[Insn], data: &SeccompData) -> u32 {
    run_counted(program, data).0
}

/// Runs a program [`bpf::check`] accepted; also returns how many
/// instructions it executed (the `ret` included): the filter's cost for
/// this call when the kernel's action cache cannot answer it.
pub(crate) fn run_counted(program: &[Insn], data: &SeccompData) -> (u32, usize) {
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    let mut steps = 0usize;
    loop {
        let Some(i) = program.get(pc) else {
            return (0, steps);
        };
        let k = i.k;
        pc += 1;
        steps += 1;
        match i.code & 0x07 {
            op::LD => match i.code & 0xe0 {
                op::ABS => a = data.word(k).unwrap_or(0),
                op::IMM => a = k,
                op::MEM => a = mem[(k & 15) as usize],
                op::LEN => a = SECCOMP_DATA_SIZE,
                _ => return (0, steps),
            },
            op::LDX => match i.code & 0xe0 {
                op::IMM => x = k,
                op::MEM => x = mem[(k & 15) as usize],
                op::LEN => x = SECCOMP_DATA_SIZE,
                _ => return (0, steps),
            },
            op::ST => mem[(k & 15) as usize] = a,
            op::STX => mem[(k & 15) as usize] = x,
            op::ALU => {
                let src = if i.code & op::X != 0 { x } else { k };
                a = match i.code & 0xf0 {
                    op::ADD => a.wrapping_add(src),
                    op::SUB => a.wrapping_sub(src),
                    op::MUL => a.wrapping_mul(src),
                    // The kernel's classic BPF returns 0 on division by X == 0.
                    op::DIV => match a.checked_div(src) {
                        Some(q) => q,
                        None => return (0, steps),
                    },
                    op::OR => a | src,
                    op::AND => a & src,
                    op::LSH => a.checked_shl(src).unwrap_or(0),
                    op::RSH => a.checked_shr(src).unwrap_or(0),
                    op::XOR => a ^ src,
                    op::NEG => a.wrapping_neg(),
                    _ => return (0, steps),
                }
            }
            op::JMP => {
                let src = if i.code & op::X != 0 { x } else { k };
                let taken = match i.code & 0xf0 {
                    op::JA => {
                        pc += k as usize;
                        continue;
                    }
                    op::JEQ => a == src,
                    op::JGT => a > src,
                    op::JGE => a >= src,
                    op::JSET => a & src != 0,
                    _ => return (0, steps),
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
            op::RET => return (if i.code & op::A != 0 { a } else { k }, steps),
            _ => match i.code {
                c if c == op::MISC | op::TAX => x = a,
                c if c == op::MISC | op::TXA => a = x,
                _ => return (0, steps),
            },
        }
    }
}

/// Follows `program` for every syscall number of an architecture knowing
/// only the architecture and the number, as the kernel does to fill its
/// action cache (5.11+): `Some(ret)` where the answer cannot depend on
/// anything else, `None` where the path reads an argument or the
/// instruction pointer (or does anything but load, `and`, jump on a
/// constant and return).
pub(crate) fn constant_answer(program: &[Insn], audit: u32, nr: u32) -> Option<u32> {
    let mut a: u32 = 0;
    let mut pc = 0usize;
    loop {
        let i = program.get(pc)?;
        pc += 1;
        match i.code {
            c if c == op::LD | op::W | op::ABS => {
                a = match i.k {
                    0 => nr,
                    4 => audit,
                    _ => return None,
                }
            }
            c if c == op::ALU | op::AND | op::K => a &= i.k,
            c if c == op::JMP | op::JA => pc += i.k as usize,
            c if c & 0x07 == op::JMP && c & op::X == 0 => {
                let taken = match c & 0xf0 {
                    op::JEQ => a == i.k,
                    op::JGT => a > i.k,
                    op::JGE => a >= i.k,
                    op::JSET => a & i.k != 0,
                    _ => return None,
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
            c if c == op::RET | op::K => return Some(i.k),
            _ => return None,
        }
    }
}

/// The number of instructions on the longest path from the start to a
/// return.
pub(crate) fn depth(program: &[Insn]) -> usize {
    let n = program.len();
    let mut longest = vec![0usize; n + 1];
    for pc in (0..n).rev() {
        let i = program[pc];
        let next = |off: usize| longest.get(pc + 1 + off).copied().unwrap_or(0);
        longest[pc] = 1 + match i.code & 0x07 {
            op::RET => 0,
            op::JMP if i.code & 0xf0 == op::JA => next(i.k as usize),
            op::JMP => next(usize::from(i.jt)).max(next(usize::from(i.jf))),
            _ => next(0),
        };
    }
    longest[0]
}

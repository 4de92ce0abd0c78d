//! Classic BPF instructions as seccomp takes them, their encoding, the
//! kernel's checks, and the raw bytes `seccomp_export_bpf` writes.

use fd_core::{Error, Result};

/// The kernel's limit on a filter's length (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// The size of `struct seccomp_data`, what `ld [k]` may read.
pub const SECCOMP_DATA_SIZE: u32 = 64;

/// One classic BPF instruction: `struct sock_filter`.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Insn {
    /// The opcode: class, size, mode or operation, source.
    pub code: u16,
    /// Jump offset when a conditional jump's test holds.
    pub jt: u8,
    /// Jump offset when it does not.
    pub jf: u8,
    /// The constant operand.
    pub k: u32,
}

/// Opcode parts (`linux/bpf_common.h`, `linux/filter.h`).
#[allow(missing_docs)]
pub mod op {
    pub const LD: u16 = 0x00;
    pub const LDX: u16 = 0x01;
    pub const ST: u16 = 0x02;
    pub const STX: u16 = 0x03;
    pub const ALU: u16 = 0x04;
    pub const JMP: u16 = 0x05;
    pub const RET: u16 = 0x06;
    pub const MISC: u16 = 0x07;

    pub const W: u16 = 0x00;
    pub const IMM: u16 = 0x00;
    pub const ABS: u16 = 0x20;
    pub const MEM: u16 = 0x60;
    pub const LEN: u16 = 0x80;

    pub const ADD: u16 = 0x00;
    pub const SUB: u16 = 0x10;
    pub const MUL: u16 = 0x20;
    pub const DIV: u16 = 0x30;
    pub const OR: u16 = 0x40;
    pub const AND: u16 = 0x50;
    pub const LSH: u16 = 0x60;
    pub const RSH: u16 = 0x70;
    pub const NEG: u16 = 0x80;
    pub const XOR: u16 = 0xa0;

    pub const JA: u16 = 0x00;
    pub const JEQ: u16 = 0x10;
    pub const JGT: u16 = 0x20;
    pub const JGE: u16 = 0x30;
    pub const JSET: u16 = 0x40;

    pub const K: u16 = 0x00;
    pub const X: u16 = 0x08;
    /// `ret a` (as `BPF_A` in a return).
    pub const A: u16 = 0x10;

    pub const TAX: u16 = 0x00;
    pub const TXA: u16 = 0x80;

    /// The 16 scratch memory words.
    pub const MEMWORDS: u32 = 16;
}

impl Insn {
    /// A statement: no jump offsets.
    pub const fn stmt(code: u16, k: u32) -> Insn {
        Insn {
            code,
            jt: 0,
            jf: 0,
            k,
        }
    }

    /// A conditional jump.
    pub const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
        Insn { code, jt, jf, k }
    }

    /// `ld [k]`: a 32-bit word of `seccomp_data`.
    pub const fn load(offset: u32) -> Insn {
        Insn::stmt(op::LD | op::W | op::ABS, offset)
    }

    /// `ret k`.
    pub const fn ret(k: u32) -> Insn {
        Insn::stmt(op::RET | op::K, k)
    }

    /// The instruction class (`code & 7`).
    pub const fn class(&self) -> u16 {
        self.code & 0x07
    }
}

/// Instructions as the raw bytes `seccomp_export_bpf` writes: each
/// `struct sock_filter` in this machine's byte order.
pub fn to_bytes(insns: &[Insn]) -> Vec<u8> {
    to_bytes_in(insns, cfg!(target_endian = "little"))
}

/// Instructions as raw `struct sock_filter` bytes in the byte order of a
/// target machine (`little_endian`, as [`Arch::little_endian`](crate::Arch::little_endian)
/// says), as libseccomp exports a filter for another architecture.
pub fn to_bytes_in(insns: &[Insn], little_endian: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(insns.len() * 8);
    for i in insns {
        let (code, k) = if little_endian {
            (i.code.to_le_bytes(), i.k.to_le_bytes())
        } else {
            (i.code.to_be_bytes(), i.k.to_be_bytes())
        };
        out.extend_from_slice(&code);
        out.push(i.jt);
        out.push(i.jf);
        out.extend_from_slice(&k);
    }
    out
}

/// Instructions from raw `struct sock_filter` bytes in this machine's byte
/// order (what `seccomp_export_bpf` writes for it, or [`to_bytes`]).
///
/// # Errors
/// `InvalidInput` if the length is not a multiple of 8 or is zero.
pub fn from_bytes(bytes: &[u8]) -> Result<Vec<Insn>> {
    from_bytes_in(bytes, cfg!(target_endian = "little"))
}

/// Instructions from raw `struct sock_filter` bytes in a given byte order
/// (what `seccomp_export_bpf` writes for a big-endian target, or
/// [`to_bytes_in`]).
///
/// # Errors
/// `InvalidInput` if the length is not a multiple of 8 or is zero.
pub fn from_bytes_in(bytes: &[u8], little_endian: bool) -> Result<Vec<Insn>> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(8) {
        return Err(Error::invalid_input(
            "bpf",
            format!(
                "{} bytes is not a BPF program: it must be a non-empty multiple of 8 (struct sock_filter)",
                bytes.len()
            ),
        ));
    }
    let u16_of = |b: [u8; 2]| {
        if little_endian {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    let u32_of = |b: [u8; 4]| {
        if little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    Ok(bytes
        .chunks_exact(8)
        .map(|c| Insn {
            code: u16_of([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32_of([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// Checks a program as the kernel does before it accepts it as a seccomp
/// filter (`bpf_check_classic` and `seccomp_check_filter`): length, the
/// instruction set seccomp allows, aligned loads inside `seccomp_data`,
/// jumps inside the program, no constant division by zero, scratch memory
/// written before it is read on every path, and a return at the end.
///
/// # Errors
/// `InvalidInput` naming the first instruction the kernel would refuse.
pub fn check(insns: &[Insn]) -> Result<()> {
    let bad = |pc: usize, why: &str| {
        Err(Error::invalid_input(
            "bpf",
            format!("instruction {pc} ({}): {why}", describe(&insns[pc])),
        ))
    };
    if insns.is_empty() {
        return Err(Error::invalid_input("bpf", "an empty program"));
    }
    if insns.len() > MAX_INSNS {
        return Err(Error::invalid_input(
            "bpf",
            format!(
                "{} instructions; the kernel's limit is {MAX_INSNS} (BPF_MAXINSNS)",
                insns.len()
            ),
        ));
    }
    let len = insns.len();
    // Scratch words written on every path into each instruction; None: unreached so far.
    let mut written: Vec<Option<u16>> = vec![None; len];
    written[0] = Some(0);
    for (pc, insn) in insns.iter().enumerate() {
        let mem = written[pc].unwrap_or(u16::MAX);
        let mut mem_after = mem;
        let code = insn.code;
        let mut next: [Option<usize>; 2] = [Some(pc + 1), None];
        match code {
            c if c == op::LD | op::W | op::ABS => {
                if insn.k >= SECCOMP_DATA_SIZE || insn.k % 4 != 0 {
                    return bad(
                        pc,
                        "loads must be aligned 32-bit words inside seccomp_data (offset < 64)",
                    );
                }
            }
            c if c == op::LD | op::W | op::LEN || c == op::LDX | op::W | op::LEN => {}
            c if c == op::LD | op::IMM || c == op::LDX | op::IMM => {}
            c if c == op::MISC | op::TAX || c == op::MISC | op::TXA => {}
            c if c == op::LD | op::MEM || c == op::LDX | op::MEM => {
                if insn.k >= op::MEMWORDS {
                    return bad(pc, "scratch memory has 16 words");
                }
                if mem & (1 << insn.k) == 0 {
                    return bad(pc, "reads a scratch word not written on every path to it");
                }
            }
            c if c == op::ST || c == op::STX => {
                if insn.k >= op::MEMWORDS {
                    return bad(pc, "scratch memory has 16 words");
                }
                mem_after |= 1 << insn.k;
            }
            c if c & 0x07 == op::ALU => {
                let alu = c & 0xf0;
                let src = c & op::X;
                if c & !0xf8 != op::ALU
                    || ![
                        op::ADD,
                        op::SUB,
                        op::MUL,
                        op::DIV,
                        op::OR,
                        op::AND,
                        op::LSH,
                        op::RSH,
                        op::XOR,
                        op::NEG,
                    ]
                    .contains(&alu)
                {
                    return bad(pc, "an ALU operation seccomp does not allow");
                }
                if alu == op::DIV && src == op::K && insn.k == 0 {
                    return bad(pc, "division by the constant 0");
                }
            }
            c if c == op::RET | op::K || c == op::RET | op::A => next = [None, None],
            c if c == op::JMP | op::JA => {
                let target = usize::try_from(insn.k)
                    .ok()
                    .and_then(|k| (pc + 1).checked_add(k));
                match target {
                    Some(t) if t < len => next = [Some(t), None],
                    _ => return bad(pc, "jumps past the end of the program"),
                }
            }
            c if c & 0x07 == op::JMP
                && [op::JEQ, op::JGT, op::JGE, op::JSET].contains(&(c & 0xf0))
                && c & !0xf8 == op::JMP =>
            {
                let (t, f) = (pc + 1 + usize::from(insn.jt), pc + 1 + usize::from(insn.jf));
                if t >= len || f >= len {
                    return bad(pc, "jumps past the end of the program");
                }
                next = [Some(t), Some(f)];
            }
            _ => return bad(pc, "an opcode seccomp does not allow"),
        }
        if pc + 1 == len && next[0] == Some(pc + 1) {
            return bad(pc, "the program must end with a return");
        }
        for n in next.into_iter().flatten() {
            written[n] = Some(written[n].map_or(mem_after, |m| m & mem_after));
        }
    }
    if !matches!(insns[len - 1].code, c if c == op::RET | op::K || c == op::RET | op::A) {
        return bad(len - 1, "the program must end with a return");
    }
    Ok(())
}

/// One instruction in the assembler syntax the disassembler uses, without
/// symbols: `ld [4]`, `jeq #0x3e jt 2 jf 0`, `ret #0x7fff0000`.
pub fn describe(i: &Insn) -> String {
    let c = i.code;
    let alu = |name: &str| {
        if c & op::X != 0 {
            format!("{name} x")
        } else {
            format!("{name} #{:#x}", i.k)
        }
    };
    match c & 0x07 {
        op::LD => match c & 0xe0 {
            op::ABS => format!("ld [{}]", i.k),
            op::IMM => format!("ld #{:#x}", i.k),
            op::MEM => format!("ld M[{}]", i.k),
            op::LEN => "ld #len".to_string(),
            _ => format!("ld ?{c:#06x}"),
        },
        op::LDX => match c & 0xe0 {
            op::IMM => format!("ldx #{:#x}", i.k),
            op::MEM => format!("ldx M[{}]", i.k),
            op::LEN => "ldx #len".to_string(),
            _ => format!("ldx ?{c:#06x}"),
        },
        op::ST => format!("st M[{}]", i.k),
        op::STX => format!("stx M[{}]", i.k),
        op::ALU => match c & 0xf0 {
            op::ADD => alu("add"),
            op::SUB => alu("sub"),
            op::MUL => alu("mul"),
            op::DIV => alu("div"),
            op::OR => alu("or"),
            op::AND => alu("and"),
            op::LSH => alu("lsh"),
            op::RSH => alu("rsh"),
            op::XOR => alu("xor"),
            op::NEG => "neg".to_string(),
            _ => format!("alu ?{c:#06x}"),
        },
        op::JMP => {
            let name = match c & 0xf0 {
                op::JA => return format!("ja +{}", i.k),
                op::JEQ => "jeq",
                op::JGT => "jgt",
                op::JGE => "jge",
                op::JSET => "jset",
                _ => return format!("jmp ?{c:#06x}"),
            };
            let operand = if c & op::X != 0 {
                "x".to_string()
            } else {
                format!("#{:#x}", i.k)
            };
            format!("{name} {operand} jt {} jf {}", i.jt, i.jf)
        }
        op::RET => {
            if c & op::A != 0 {
                "ret a".to_string()
            } else {
                format!("ret #{:#x}", i.k)
            }
        }
        _ => match c {
            c if c == op::MISC | op::TAX => "tax".to_string(),
            c if c == op::MISC | op::TXA => "txa".to_string(),
            _ => format!("misc ?{c:#06x}"),
        },
    }
}

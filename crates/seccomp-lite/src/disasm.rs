//! The disassembler: one instruction per line, with the syscall names,
//! architectures and actions it can work out.

use std::fmt::Write as _;

use crate::action::Action;
use crate::arch::{Arch, X32_SYSCALL_BIT};
use crate::bpf::{self, Insn, op};

/// What the accumulator holds, as far as a forward pass can tell.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Held {
    Nothing,
    Arch,
    Nr,
    Arg(u32),
    Ip,
    Other,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct State {
    held: Held,
    audit: Option<u32>,
    x32: Option<bool>,
}

impl State {
    fn merge(self, other: State) -> State {
        State {
            held: if self.held == other.held {
                self.held
            } else {
                Held::Other
            },
            audit: if self.audit == other.audit {
                self.audit
            } else {
                None
            },
            x32: if self.x32 == other.x32 {
                self.x32
            } else {
                None
            },
        }
    }

    fn arch(&self) -> Option<Arch> {
        let audit = self.audit?;
        match (Arch::from_audit(audit), self.x32) {
            ([Arch::X86_64, Arch::X32], Some(true)) => Some(Arch::X32),
            ([Arch::X86_64, Arch::X32], _) => Some(Arch::X86_64),
            ([one], _) => Some(*one),
            _ => None,
        }
    }
}

/// The `seccomp_data` field at `offset`; which word of a 64-bit field is
/// low depends on the byte order of the audit identifier the path has
/// established (little-endian when unknown).
fn field(offset: u32, audit: Option<u32>) -> String {
    let le = audit.is_none_or(|a| a & 0x4000_0000 != 0);
    let half = |o: u32| {
        if o.is_multiple_of(8) == le {
            "low"
        } else {
            "high"
        }
    };
    match offset {
        0 => "nr".to_string(),
        4 => "arch".to_string(),
        8 | 12 => format!("ip ({})", half(offset)),
        o if (16..64).contains(&o) => format!("arg{} ({})", (o - 16) / 8, half(o)),
        _ => "?".to_string(),
    }
}

/// Disassembles a program: a header, then per instruction its index,
/// opcode, jt, jf and k as numbers, its assembler form, and a comment
/// naming what the constants mean (syscall names for the architecture the
/// path has established, architectures, actions).
pub fn disassemble(program: &[Insn]) -> String {
    let mut states: Vec<Option<State>> = vec![None; program.len() + 1];
    if !program.is_empty() {
        states[0] = Some(State {
            held: Held::Nothing,
            audit: None,
            x32: None,
        });
    }
    let mut out = String::from(" line  code   jt   jf   k           instruction\n");
    out.push_str("---------------------------------------------------------------\n");
    for (pc, insn) in program.iter().enumerate() {
        let st = states[pc].unwrap_or(State {
            held: Held::Other,
            audit: None,
            x32: None,
        });
        let mut after = st;
        let mut comment = String::new();
        let mut text = bpf::describe(insn);
        let mut branch: Option<(State, State)> = None;
        match insn.code & 0x07 {
            op::LD if insn.code & 0xe0 == op::ABS => {
                after.held = match insn.k {
                    0 => Held::Nr,
                    4 => Held::Arch,
                    8 | 12 => Held::Ip,
                    o => Held::Arg(o),
                };
                comment = field(insn.k, st.audit);
            }
            op::LD | op::ALU | op::MISC => after.held = Held::Other,
            op::RET if insn.code & op::A == 0 => {
                text = format!("ret {}", Action::from_ret(insn.k));
                if !Action::is_known_ret(insn.k) {
                    comment = format!("unknown action {:#x}: the kernel kills the process", insn.k);
                }
            }
            op::JMP if insn.code & 0xf0 == op::JA => {
                let target = pc + 1 + insn.k as usize;
                write!(text, " (to {target:04})").unwrap();
            }
            op::JMP => {
                let (mut t, mut f) = (st, st);
                if insn.code & op::X == 0 {
                    match st.held {
                        Held::Arch => {
                            if let Some(a) = Arch::from_audit(insn.k).first() {
                                let name = if *a == Arch::X86_64 {
                                    "x86_64/x32"
                                } else {
                                    a.name()
                                };
                                comment = name.to_string();
                            }
                            if insn.code & 0xf0 == op::JEQ {
                                t.audit = Some(insn.k);
                            }
                        }
                        Held::Nr => {
                            let on_x86 = st.audit == Some(Arch::X86_64.audit());
                            if on_x86 && insn.k == X32_SYSCALL_BIT && insn.code & 0xf0 == op::JGE {
                                comment = "x32 syscall numbers".to_string();
                                t.x32 = Some(true);
                                f.x32 = Some(false);
                            } else if insn.k == u32::MAX {
                                comment = "-1: a tracer skipping the call".to_string();
                            } else if let Some((arch, name)) =
                                st.arch().and_then(|a| Some((a, a.syscall_name(insn.k)?)))
                            {
                                comment = format!("{name} ({arch})");
                            }
                        }
                        Held::Arg(o) => comment = field(o, st.audit),
                        _ => {}
                    }
                }
                let (tt, ff) = (pc + 1 + usize::from(insn.jt), pc + 1 + usize::from(insn.jf));
                write!(text, " (true {tt:04}, false {ff:04})").unwrap();
                branch = Some((t, f));
            }
            _ => {}
        }
        let _ = writeln!(
            out,
            " {pc:04}: {:#06x} {:>4} {:>4} {:#010x}  {text:<40}{}",
            insn.code,
            insn.jt,
            insn.jf,
            insn.k,
            if comment.is_empty() {
                String::new()
            } else {
                format!(" ; {comment}")
            }
        );
        let mut flow = |to: usize, s: State| {
            if let Some(slot) = states.get_mut(to) {
                *slot = Some(slot.map_or(s, |old| old.merge(s)));
            }
        };
        match insn.code & 0x07 {
            op::RET => {}
            op::JMP if insn.code & 0xf0 == op::JA => flow(pc + 1 + insn.k as usize, after),
            op::JMP => {
                let (t, f) = branch.unwrap_or((after, after));
                flow(pc + 1 + usize::from(insn.jt), t);
                flow(pc + 1 + usize::from(insn.jf), f);
            }
            _ => flow(pc + 1, after),
        }
    }
    out.trim_end().to_string() + "\n"
}

//! The rule-file language: `FromStr` for [`Filter`] (a whole file) and for
//! [`Cmp`] (one condition), as `butter seccomp` reads them.
//!
//! ```text
//! default errno(EPERM)          the action for everything else (default: allow)
//! arch x86_64 aarch64           the architectures covered (default: this machine's)
//! badarch kill                  the action for other architectures (default: kill_process)
//! allow read,write,close        ACTION SYSCALL[,SYSCALL...] [CONDITION...]
//! errno(EACCES) openat arg2:u32&3==1
//! errno(EPERM) personality arch=x86   a rule for some architectures only
//! kill ptrace
//! unknown skip                  leave out names no covered architecture has (default: error)
//! precedence libseccomp         a syscall's first unconditional rule decides it (default:
//!                               most-restrictive, the most restrictive match wins)
//! # comments
//! ```
//!
//! A condition is `argN[:WIDTH]OP VALUE` with no spaces: `OP` is `==`,
//! `!=`, `<`, `<=`, `>`, `>=` or `&MASK==`; `WIDTH` is `u64` (the
//! default), `i64`, `u32` or `i32` (32-bit widths ignore the upper half,
//! for `int` arguments). Values are decimal, `0x` hex, or negative; a
//! masked value with bits outside its mask is compared with those bits
//! cleared, as libseccomp does, and [`Program::warnings`](crate::Program::warnings)
//! says so. `arch=A[,B]` limits a rule to those architectures. A syscall
//! given by number means that number on every architecture the rule is
//! for.

use std::str::FromStr;

use fd_core::{Error, Result};

use crate::{Action, Arch, Arg, Cmp, Filter, Precedence, Rule, Unknown, Width};

fn bad(what: String) -> Error {
    Error::invalid_input("seccomp rules", what)
}

/// An argument value as rule files and `butter seccomp sim` write them:
/// decimal, `0x` hex, or negative (two's complement, so `-1` is
/// `u64::MAX`).
///
/// # Errors
/// [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput) naming
/// the text.
pub fn parse_value(text: &str) -> Result<u64> {
    let t = text.trim();
    let parsed = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if let Some(neg) = t.strip_prefix('-') {
        neg.parse::<i64>()
            .ok()
            .map(|n| n.wrapping_neg().cast_unsigned())
    } else {
        t.parse::<u64>().ok()
    };
    parsed.ok_or_else(|| bad(format!("{text:?} is not a number")))
}

impl FromStr for Cmp {
    type Err = Error;

    /// One condition: `arg2:u32&3==1`, `arg0>=5`, `arg1!=0x10`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput),
    /// naming the condition and what was wrong with it.
    fn from_str(text: &str) -> Result<Cmp> {
        let shape = || {
            bad(format!(
                "condition {text:?}: expected argN[:WIDTH]OP VALUE, as arg0==1 or arg2:u32&3==1"
            ))
        };
        let rest = text.strip_prefix("arg").ok_or_else(shape)?;
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let index: u8 = rest[..digits].parse().map_err(|_| shape())?;
        if index > 5 {
            return Err(bad(format!(
                "condition {text:?}: a syscall has arguments 0 to 5"
            )));
        }
        let mut rest = &rest[digits..];
        let mut width = Width::U64;
        if let Some(r) = rest.strip_prefix(':') {
            let w: String = r.chars().take_while(char::is_ascii_alphanumeric).collect();
            width = match w.as_str() {
                "u64" => Width::U64,
                "i64" => Width::I64,
                "u32" => Width::U32,
                "i32" => Width::I32,
                _ => {
                    return Err(bad(format!(
                        "condition {text:?}: width {w:?} is not u64, i64, u32 or i32"
                    )));
                }
            };
            rest = &r[w.len()..];
        }
        let arg = Arg::with_width(index, width);
        let in_cond = |e: Error| {
            bad(format!(
                "condition {text:?}: {}",
                e.detail().unwrap_or_default()
            ))
        };
        if let Some(r) = rest.strip_prefix('&') {
            let (mask, value) = r.split_once("==").ok_or_else(shape)?;
            return Ok(arg.masked_eq(
                parse_value(mask).map_err(in_cond)?,
                parse_value(value).map_err(in_cond)?,
            ));
        }
        type MakeCmp = fn(Arg, u64) -> Cmp;
        let ops: [(&str, MakeCmp); 6] = [
            ("==", |a, v| a.equal(v)),
            ("!=", |a, v| a.not_equal(v)),
            ("<=", |a, v| a.le(v)),
            (">=", |a, v| a.ge(v)),
            ("<", |a, v| a.lt(v)),
            (">", |a, v| a.gt(v)),
        ];
        for (op, make) in ops {
            if let Some(v) = rest.strip_prefix(op) {
                return Ok(make(arg, parse_value(v).map_err(in_cond)?));
            }
        }
        Err(shape())
    }
}

impl FromStr for Filter {
    type Err = Error;

    /// A rule file (see [the module](self)).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](fd_core::ErrorKind::InvalidInput),
    /// naming the line and what was wrong on it.
    fn from_str(text: &str) -> Result<Filter> {
        let mut default = Action::Allow;
        let mut arches: Vec<Arch> = Vec::new();
        let mut bad_arch = Action::KillProcess;
        let mut unknown = Unknown::Error;
        let mut precedence = Precedence::MostRestrictive;
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let at = |e: Error| {
                bad(format!(
                    "line {}: {}",
                    n + 1,
                    e.detail().unwrap_or_default()
                ))
            };
            let needs = |what: &str| bad(format!("line {}: {what}", n + 1));
            let line = line.split('#').next().unwrap_or("").trim();
            let mut words = line.split_whitespace();
            let Some(first) = words.next() else { continue };
            match first {
                "default" => {
                    default = words
                        .next()
                        .ok_or_else(|| needs("default needs an action"))?
                        .parse()
                        .map_err(at)?;
                }
                "badarch" => {
                    bad_arch = words
                        .next()
                        .ok_or_else(|| needs("badarch needs an action"))?
                        .parse()
                        .map_err(at)?;
                }
                "arch" => {
                    for a in words {
                        arches.push(a.parse().map_err(at)?);
                    }
                }
                "precedence" => {
                    precedence = match words.next() {
                        Some("libseccomp") => Precedence::Libseccomp,
                        Some("most-restrictive") => Precedence::MostRestrictive,
                        _ => return Err(needs("precedence takes libseccomp or most-restrictive")),
                    };
                }
                "unknown" => {
                    unknown = match words.next() {
                        Some("skip") => Unknown::Skip,
                        Some("error") => Unknown::Error,
                        _ => return Err(needs("unknown takes skip or error")),
                    };
                }
                action => {
                    let action: Action = action.parse().map_err(at)?;
                    let names = words
                        .next()
                        .ok_or_else(|| needs("a rule needs a syscall"))?;
                    let mut only = Vec::new();
                    let mut cmps = Vec::new();
                    for word in words {
                        if let Some(list) = word.strip_prefix("arch=") {
                            for a in list.split(',').filter(|a| !a.is_empty()) {
                                only.push(a.parse::<Arch>().map_err(at)?);
                            }
                        } else {
                            cmps.push(word.parse::<Cmp>().map_err(at)?);
                        }
                    }
                    for name in names.split(',').filter(|s| !s.is_empty()) {
                        let mut rule = match name.parse::<u32>() {
                            // As libseccomp: this machine's number, carried
                            // to the other architectures by its name.
                            Ok(nr) => Rule::new(crate::Syscall::native(nr), action),
                            Err(_) => Rule::new(name.to_string(), action),
                        };
                        rule.cmps.clone_from(&cmps);
                        rule.arches.clone_from(&only);
                        rules.push(rule);
                    }
                }
            }
        }
        let mut filter = Filter::new(default)
            .bad_arch(bad_arch)
            .unknown_syscalls(unknown)
            .precedence(precedence);
        if !arches.is_empty() {
            filter = filter.arches(arches);
        }
        for r in rules {
            filter.push(r);
        }
        Ok(filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_file_compiles_to_what_it_says() {
        let filter: Filter = "\
            # a web worker\n\
            default errno(EPERM)\n\
            arch x86_64 aarch64\n\
            allow read,write,close,exit_group\n\
            errno(EACCES) openat arg2:u32&3==1   # write-only opens\n\
            allow openat\n\
            kill ptrace\n"
            .parse()
            .unwrap();
        let p = filter.compile().unwrap();
        let sim = |arch, name, args| p.simulate_name(arch, name, args).unwrap();
        assert_eq!(sim(Arch::X86_64, "read", [0; 6]), Action::Allow);
        assert_eq!(
            sim(Arch::Aarch64, "openat", [0, 0, 1, 0, 0, 0]),
            Action::Errno(13)
        );
        assert_eq!(
            sim(Arch::Aarch64, "openat", [0, 0, 0, 0, 0, 0]),
            Action::Allow
        );
        // u32: the upper half is not looked at.
        assert_eq!(
            sim(
                Arch::X86_64,
                "openat",
                [0, 0, 0xffff_ffff_0000_0001, 0, 0, 0]
            ),
            Action::Errno(13)
        );
        assert_eq!(sim(Arch::X86_64, "ptrace", [0; 6]), Action::KillProcess);
        assert_eq!(sim(Arch::X86_64, "mount", [0; 6]), Action::Errno(1));
    }

    #[test]
    fn rules_for_some_architectures_and_unknown_names() {
        let filter: Filter = "\
            arch x86_64 aarch64\n\
            errno(EPERM) getpid arch=aarch64\n\
            unknown skip\n\
            kill not_a_syscall_anywhere\n"
            .parse()
            .unwrap();
        let p = filter.compile().unwrap();
        assert_eq!(
            p.simulate_name(Arch::Aarch64, "getpid", [0; 6]).unwrap(),
            Action::Errno(1)
        );
        assert_eq!(
            p.simulate_name(Arch::X86_64, "getpid", [0; 6]).unwrap(),
            Action::Allow
        );
        assert_eq!(p.skipped(), ["not_a_syscall_anywhere"]);
        // A rule for an architecture the filter does not cover.
        let e = "arch x86_64\nallow read arch=aarch64\n"
            .parse::<Filter>()
            .unwrap()
            .compile()
            .unwrap_err();
        assert!(e.to_string().contains("does not cover"), "{e}");
        let e = "unknown maybe".parse::<Filter>().unwrap_err();
        assert!(e.to_string().contains("skip or error"), "{e}");
        // Precedence: the first unconditional rule, or the most restrictive.
        let both = "allow setns\nerrno(EPERM) setns\n";
        let native = Arch::native().unwrap();
        for (head, want) in [
            ("precedence libseccomp\n", Action::Allow),
            ("", Action::Errno(1)),
            ("precedence most-restrictive\n", Action::Errno(1)),
        ] {
            let f: Filter = format!("{head}{both}").parse().unwrap();
            let p = f.compile().unwrap();
            assert_eq!(
                p.simulate_name(native, "setns", [0; 6]).unwrap(),
                want,
                "{head:?}"
            );
        }
        let e = "precedence oldest".parse::<Filter>().unwrap_err();
        assert!(
            e.to_string().contains("libseccomp or most-restrictive"),
            "{e}"
        );
    }

    #[test]
    fn numbers_are_this_machines_carried_by_name() {
        let native = Arch::native().unwrap();
        let read = native.syscall("read").unwrap();
        let filter: Filter = format!("default errno(EPERM)\narch x86_64 aarch64\nallow {read}\n")
            .parse()
            .unwrap();
        let p = filter.compile().unwrap();
        for arch in [Arch::X86_64, Arch::Aarch64] {
            assert_eq!(
                p.simulate_name(arch, "read", [0; 6]).unwrap(),
                Action::Allow,
                "{arch}"
            );
        }
        // A number with no name here: as is.
        let f: Filter = "allow 4000\n".parse().unwrap();
        assert_eq!(f.rules()[0].syscall, crate::Syscall::Nr(4000));
    }

    #[test]
    fn masked_values_outside_the_mask_as_libseccomp() {
        // arg0 & 0x3 == 0x7: libseccomp compares with 0x7 & 0x3 == 0x3.
        let filter: Filter = "errno(EACCES) openat arg0&0x3==0x7\n".parse().unwrap();
        let p = filter.compile().unwrap();
        assert_eq!(p.warnings().len(), 1, "{:?}", p.warnings());
        assert!(
            p.warnings()[0].contains("as libseccomp does"),
            "{:?}",
            p.warnings()
        );
        assert_eq!(
            p.simulate_name(Arch::native().unwrap(), "openat", [3, 0, 0, 0, 0, 0])
                .unwrap(),
            Action::Errno(13)
        );
        assert_eq!(
            p.simulate_name(Arch::native().unwrap(), "openat", [1, 0, 0, 0, 0, 0])
                .unwrap(),
            Action::Allow
        );
        // The reference evaluation agrees.
        let audit = Arch::native().unwrap().audit();
        let nr = Arch::native().unwrap().syscall("openat").unwrap();
        assert_eq!(
            filter.evaluate(audit, nr, &[3, 0, 0, 0, 0, 0]),
            Action::Errno(13)
        );
    }

    #[test]
    fn conditions_parse_every_operator_and_width() {
        for text in [
            "arg0==1",
            "arg1!=0x10",
            "arg2<5",
            "arg3<=5",
            "arg4>5",
            "arg5>=5",
            "arg0:i32>-1",
            "arg1:u32&0xff==3",
            "arg2:i64<-100",
            "arg3:u64==18446744073709551615",
        ] {
            text.parse::<Cmp>()
                .unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn errors_name_the_line_and_what_was_wrong() {
        for (text, says) in [
            ("allow", "line 1: a rule needs a syscall"),
            ("\nfrob read", "line 2: unknown action"),
            ("allow read arg9==1", "arguments 0 to 5"),
            ("allow read arg0:u16==1", "width \"u16\""),
            ("allow read arg0=1", "expected argN[:WIDTH]OP VALUE"),
            ("allow read arg0==zz", "\"zz\" is not a number"),
            ("arch vax", "unknown architecture"),
            ("default", "default needs an action"),
        ] {
            let e = text.parse::<Filter>().unwrap_err();
            let shown = e.to_string();
            assert!(shown.contains(says), "{text:?}: {shown}");
            assert_eq!(e.kind(), fd_core::ErrorKind::InvalidInput);
        }
    }
}

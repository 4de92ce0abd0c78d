//! Architectures: their audit identifiers, byte order and syscall tables.

use std::fmt;
use std::str::FromStr;

use fd_core::{Error, Result};

use crate::syscalls;

/// `__X32_SYSCALL_BIT`: x32 syscall numbers are x86_64's audit arch with
/// this bit set in the number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const AUDIT_ARCH_64BIT: u32 = 0x8000_0000;
const AUDIT_ARCH_LE: u32 = 0x4000_0000;

/// An architecture a filter can cover: every one libseccomp knows.
///
/// x86_64 and x32 share one audit identifier (`AUDIT_ARCH_X86_64`); the
/// kernel tells them apart by [`X32_SYSCALL_BIT`] in the syscall number.
/// A filter for x86_64 that does not also cover x32 sends every number
/// with that bit (except -1, a tracer's "skip this call") to its
/// bad-architecture action, so that a process cannot escape an x86_64
/// filter through x32's numbers. Every other architecture has an audit
/// identifier of its own.
///
/// On a big-endian architecture the high word of each 64-bit argument in
/// `seccomp_data` comes first; the compiler, the simulator and the
/// disassembler lay arguments out by [`little_endian`](Arch::little_endian).
/// On an ABI libseccomp treats as 32-bit ([`arg_bits`](Arch::arg_bits)
/// 32: x86, x32, arm, o32 and n32 MIPS, ppc, s390, PA-RISC, SuperH, m68k)
/// only an argument's low word is compared, as libseccomp does: the
/// syscall sees nothing else, and the high word of a register may hold a
/// sign extension (MIPS n32).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Arch {
    /// x86-64 (`AUDIT_ARCH_X86_64`).
    X86_64,
    /// x32: the x86-64 ABI with 32-bit pointers (`AUDIT_ARCH_X86_64`,
    /// numbers with `__X32_SYSCALL_BIT`).
    X32,
    /// 32-bit x86 (`AUDIT_ARCH_I386`), also what an x86-64 process's
    /// `int 0x80` is.
    I386,
    /// 64-bit Arm (`AUDIT_ARCH_AARCH64`).
    Aarch64,
    /// 32-bit Arm, EABI (`AUDIT_ARCH_ARM`).
    Arm,
    /// 64-bit LoongArch (`AUDIT_ARCH_LOONGARCH64`).
    Loongarch64,
    /// Motorola 68000 (`AUDIT_ARCH_M68K`, big-endian).
    M68k,
    /// 32-bit MIPS, o32 ABI, big-endian (`AUDIT_ARCH_MIPS`).
    Mips,
    /// 32-bit MIPS, o32 ABI, little-endian (`AUDIT_ARCH_MIPSEL`).
    Mipsel,
    /// 64-bit MIPS, n64 ABI, big-endian (`AUDIT_ARCH_MIPS64`).
    Mips64,
    /// 64-bit MIPS, n64 ABI, little-endian (`AUDIT_ARCH_MIPSEL64`).
    Mipsel64,
    /// 64-bit MIPS, n32 ABI (32-bit pointers), big-endian
    /// (`AUDIT_ARCH_MIPS64N32`).
    Mips64N32,
    /// 64-bit MIPS, n32 ABI, little-endian (`AUDIT_ARCH_MIPSEL64N32`).
    Mipsel64N32,
    /// 32-bit PA-RISC (`AUDIT_ARCH_PARISC`, big-endian).
    Parisc,
    /// 64-bit PA-RISC (`AUDIT_ARCH_PARISC64`, big-endian).
    Parisc64,
    /// 32-bit PowerPC (`AUDIT_ARCH_PPC`, big-endian).
    Ppc,
    /// 64-bit PowerPC, big-endian (`AUDIT_ARCH_PPC64`).
    Ppc64,
    /// 64-bit PowerPC, little-endian (`AUDIT_ARCH_PPC64LE`).
    Ppc64le,
    /// 64-bit RISC-V (`AUDIT_ARCH_RISCV64`).
    Riscv64,
    /// 31-bit s390 (`AUDIT_ARCH_S390`, big-endian). Linux 6.19 dropped
    /// it; its table stops at 6.18.
    S390,
    /// 64-bit IBM Z (`AUDIT_ARCH_S390X`, big-endian).
    S390x,
    /// SuperH, little-endian (`AUDIT_ARCH_SHEL`; libseccomp's `sh`).
    Sh,
    /// SuperH, big-endian (`AUDIT_ARCH_SH`; libseccomp's `sheb`).
    Sheb,
}
impl Arch {
    /// Every architecture this crate has tables for.
    pub const ALL: [Arch; 23] = [
        Arch::X86_64,
        Arch::X32,
        Arch::I386,
        Arch::Aarch64,
        Arch::Arm,
        Arch::Loongarch64,
        Arch::M68k,
        Arch::Mips,
        Arch::Mipsel,
        Arch::Mips64,
        Arch::Mipsel64,
        Arch::Mips64N32,
        Arch::Mipsel64N32,
        Arch::Parisc,
        Arch::Parisc64,
        Arch::Ppc,
        Arch::Ppc64,
        Arch::Ppc64le,
        Arch::Riscv64,
        Arch::S390,
        Arch::S390x,
        Arch::Sh,
        Arch::Sheb,
    ];
    /// The architecture this program was built for, if this crate knows it.
    pub fn native() -> Option<Arch> {
        let big = cfg!(target_endian = "big");
        let wide = cfg!(target_pointer_width = "64");
        Some(if cfg!(target_arch = "x86_64") {
            if wide { Arch::X86_64 } else { Arch::X32 }
        } else if cfg!(target_arch = "x86") {
            Arch::I386
        } else if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else if cfg!(target_arch = "arm") {
            Arch::Arm
        } else if cfg!(target_arch = "loongarch64") {
            Arch::Loongarch64
        } else if cfg!(target_arch = "m68k") {
            Arch::M68k
        } else if cfg!(target_arch = "mips") {
            if big { Arch::Mips } else { Arch::Mipsel }
        } else if cfg!(target_arch = "mips64") {
            match (big, wide) {
                (true, true) => Arch::Mips64,
                (false, true) => Arch::Mipsel64,
                (true, false) => Arch::Mips64N32,
                (false, false) => Arch::Mipsel64N32,
            }
        } else if cfg!(target_arch = "powerpc") {
            Arch::Ppc
        } else if cfg!(target_arch = "powerpc64") {
            if big { Arch::Ppc64 } else { Arch::Ppc64le }
        } else if cfg!(target_arch = "riscv64") {
            Arch::Riscv64
        } else if cfg!(target_arch = "s390x") {
            Arch::S390x
        } else {
            return None;
        })
    }

    /// The audit identifier (`AUDIT_ARCH_*`) the kernel puts in
    /// `seccomp_data.arch`.
    pub const fn audit(self) -> u32 {
        match self {
            Arch::X86_64 => 0xC000_003E,
            Arch::X32 => 0xC000_003E,
            Arch::I386 => 0x4000_0003,
            Arch::Aarch64 => 0xC000_00B7,
            Arch::Arm => 0x4000_0028,
            Arch::Loongarch64 => 0xC000_0102,
            Arch::M68k => 0x0000_0004,
            Arch::Mips => 0x0000_0008,
            Arch::Mipsel => 0x4000_0008,
            Arch::Mips64 => 0x8000_0008,
            Arch::Mipsel64 => 0xC000_0008,
            Arch::Mips64N32 => 0xA000_0008,
            Arch::Mipsel64N32 => 0xE000_0008,
            Arch::Parisc => 0x0000_000F,
            Arch::Parisc64 => 0x8000_000F,
            Arch::Ppc => 0x0000_0014,
            Arch::Ppc64 => 0x8000_0015,
            Arch::Ppc64le => 0xC000_0015,
            Arch::Riscv64 => 0xC000_00F3,
            Arch::S390 => 0x0000_0016,
            Arch::S390x => 0x8000_0016,
            Arch::Sh => 0x4000_002A,
            Arch::Sheb => 0x0000_002A,
        }
    }

    /// The name used by this crate, libseccomp and OCI profiles (without
    /// the `SCMP_ARCH_` prefix, lower case).
    pub const fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::X32 => "x32",
            Arch::I386 => "x86",
            Arch::Aarch64 => "aarch64",
            Arch::Arm => "arm",
            Arch::Loongarch64 => "loongarch64",
            Arch::M68k => "m68k",
            Arch::Mips => "mips",
            Arch::Mipsel => "mipsel",
            Arch::Mips64 => "mips64",
            Arch::Mipsel64 => "mipsel64",
            Arch::Mips64N32 => "mips64n32",
            Arch::Mipsel64N32 => "mipsel64n32",
            Arch::Parisc => "parisc",
            Arch::Parisc64 => "parisc64",
            Arch::Ppc => "ppc",
            Arch::Ppc64 => "ppc64",
            Arch::Ppc64le => "ppc64le",
            Arch::Riscv64 => "riscv64",
            Arch::S390 => "s390",
            Arch::S390x => "s390x",
            Arch::Sh => "sh",
            Arch::Sheb => "sheb",
        }
    }

    /// Other names this architecture goes by (Debian's, Go's, the
    /// kernel's), which [`FromStr`] also takes.
    pub const fn aliases(self) -> &'static [&'static str] {
        match self {
            Arch::X86_64 => &["amd64", "x86-64"],
            Arch::X32 => &[],
            Arch::I386 => &["i386", "i686", "386"],
            Arch::Aarch64 => &["arm64"],
            Arch::Arm => &["armhf", "armel", "armv7"],
            Arch::Loongarch64 => &["loong64"],
            Arch::M68k => &[],
            Arch::Mips => &[],
            Arch::Mipsel => &["mipsle"],
            Arch::Mips64 => &[],
            Arch::Mipsel64 => &["mips64le"],
            Arch::Mips64N32 => &["mips64p32"],
            Arch::Mipsel64N32 => &["mips64p32le"],
            Arch::Parisc => &["hppa"],
            Arch::Parisc64 => &["hppa64"],
            Arch::Ppc => &["powerpc"],
            Arch::Ppc64 => &["powerpc64"],
            Arch::Ppc64le => &["powerpc64le", "ppc64el"],
            Arch::Riscv64 => &[],
            Arch::S390 => &[],
            Arch::S390x => &[],
            Arch::Sh => &["sh4", "shel"],
            Arch::Sheb => &["sh4eb"],
        }
    }

    /// The names Go gives this architecture (`runtime.GOARCH`, as Docker's
    /// `includes.arches` uses them), and ours.
    #[cfg(feature = "oci")]
    pub(crate) const fn go_names(self) -> &'static [&'static str] {
        match self {
            Arch::X86_64 => &["amd64", "x86_64"],
            Arch::X32 => &["x32"],
            Arch::I386 => &["386", "x86", "i386"],
            Arch::Aarch64 => &["arm64", "aarch64"],
            Arch::Arm => &["arm"],
            Arch::Loongarch64 => &["loong64", "loongarch64"],
            Arch::M68k => &["m68k"],
            Arch::Mips => &["mips"],
            Arch::Mipsel => &["mipsle", "mipsel"],
            Arch::Mips64 => &["mips64"],
            Arch::Mipsel64 => &["mips64le", "mipsel64"],
            Arch::Mips64N32 => &["mips64p32", "mips64n32"],
            Arch::Mipsel64N32 => &["mips64p32le", "mipsel64n32"],
            Arch::Parisc => &["parisc", "hppa"],
            Arch::Parisc64 => &["parisc64"],
            Arch::Ppc => &["ppc", "powerpc"],
            Arch::Ppc64 => &["ppc64"],
            Arch::Ppc64le => &["ppc64le"],
            Arch::Riscv64 => &["riscv64"],
            Arch::S390 => &["s390"],
            Arch::S390x => &["s390x"],
            Arch::Sh => &["sh"],
            Arch::Sheb => &["sheb"],
        }
    }

    /// Whether `seccomp_data` is little-endian on this architecture.
    pub const fn little_endian(self) -> bool {
        self.audit() & AUDIT_ARCH_LE != 0
    }

    /// Whether this is a 64-bit ABI (64-bit registers, whatever the
    /// pointer size: x32 and MIPS n32 are).
    pub const fn is_64bit(self) -> bool {
        self.audit() & AUDIT_ARCH_64BIT != 0
    }

    /// How many bits of each syscall argument a comparison tests on this
    /// ABI: 64, or 32 where libseccomp (and so every runtime built on it)
    /// treats the ABI as 32-bit: every 32-bit architecture, MIPS n32
    /// (whose 64-bit registers carry 32-bit values sign-extended) and x32
    /// (whose C types are those of a 32-bit ABI). There a comparison tests
    /// the low word only, which also keeps a program from slipping past a
    /// rule on an `int` argument by setting a register's high half.
    pub const fn arg_bits(self) -> u32 {
        match self {
            Arch::X32 | Arch::Mips64N32 | Arch::Mipsel64N32 => 32,
            a if a.is_64bit() => 64,
            _ => 32,
        }
    }

    /// The other ABIs a kernel for this architecture can run beside its
    /// own (its compat modes, as Docker's `archMap` lists them): x86 and
    /// x32 on x86_64, arm on aarch64, o32 and n32 on 64-bit MIPS, 32-bit
    /// PowerPC on ppc64, 31-bit s390 on s390x, 32-bit PA-RISC on parisc64.
    /// A filter for a process that may exec such a program covers them
    /// too, or their calls get the bad-architecture action.
    pub const fn compat(self) -> &'static [Arch] {
        match self {
            Arch::X86_64 => &[Arch::I386, Arch::X32],
            Arch::Aarch64 => &[Arch::Arm],
            Arch::Mips64 => &[Arch::Mips, Arch::Mips64N32],
            Arch::Mipsel64 => &[Arch::Mipsel, Arch::Mipsel64N32],
            Arch::Ppc64 => &[Arch::Ppc],
            Arch::S390x => &[Arch::S390],
            Arch::Parisc64 => &[Arch::Parisc],
            _ => &[],
        }
    }

    /// The architectures with this audit identifier (x86_64 answers
    /// x86_64 and x32).
    pub fn from_audit(audit: u32) -> &'static [Arch] {
        if audit == Arch::X86_64.audit() {
            return &[Arch::X86_64, Arch::X32];
        }
        match Arch::ALL.iter().position(|a| a.audit() == audit) {
            Some(i) => std::slice::from_ref(&Arch::ALL[i]),
            None => &[],
        }
    }

    /// The architecture a `seccomp_data` (audit identifier and number)
    /// belongs to. Under x86_64's audit identifier, every number from
    /// [`X32_SYSCALL_BIT`] up (but -1) counts as x32, as libseccomp's
    /// guard does: the kernel runs those with the bit as x32 calls and
    /// fails the rest.
    pub fn of_call(audit: u32, nr: u32) -> Option<Arch> {
        match Arch::from_audit(audit) {
            [Arch::X86_64, Arch::X32] if nr != u32::MAX && nr >= X32_SYSCALL_BIT => Some(Arch::X32),
            [first, ..] => Some(*first),
            [] => None,
        }
    }

    fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Arch::X86_64 => syscalls::X86_64,
            Arch::X32 => syscalls::X32,
            Arch::I386 => syscalls::I386,
            Arch::Aarch64 => syscalls::AARCH64,
            Arch::Arm => syscalls::ARM,
            Arch::Loongarch64 => syscalls::LOONGARCH64,
            Arch::M68k => syscalls::M68K,
            Arch::Mips => syscalls::MIPS,
            Arch::Mipsel => syscalls::MIPS,
            Arch::Mips64 => syscalls::MIPS64,
            Arch::Mipsel64 => syscalls::MIPS64,
            Arch::Mips64N32 => syscalls::MIPS64N32,
            Arch::Mipsel64N32 => syscalls::MIPS64N32,
            Arch::Parisc => syscalls::PARISC,
            Arch::Parisc64 => syscalls::PARISC64,
            Arch::Ppc => syscalls::PPC,
            Arch::Ppc64 => syscalls::PPC64,
            Arch::Ppc64le => syscalls::PPC64,
            Arch::Riscv64 => syscalls::RISCV64,
            Arch::S390 => syscalls::S390,
            Arch::S390x => syscalls::S390X,
            Arch::Sh => syscalls::SH,
            Arch::Sheb => syscalls::SH,
        }
    }

    /// The number of the syscall `name` on this architecture.
    pub fn syscall(self, name: &str) -> Option<u32> {
        let table = self.table();
        table
            .binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .map(|i| table[i].1)
    }

    /// The name of syscall number `nr` on this architecture.
    pub fn syscall_name(self, nr: u32) -> Option<&'static str> {
        self.table()
            .iter()
            .find(|(_, n)| *n == nr)
            .map(|(name, _)| *name)
    }

    /// Every syscall of this architecture, sorted by name.
    pub fn syscalls(self) -> impl Iterator<Item = (&'static str, u32)> {
        self.table().iter().copied()
    }

    /// The highest syscall number in this crate's table.
    pub fn max_syscall(self) -> u32 {
        self.table().iter().map(|&(_, n)| n).max().unwrap_or(0)
    }

    /// The number of syscall `name`, or an error naming the architecture.
    ///
    /// # Errors
    /// `NotFound` if this architecture has no syscall by that name.
    pub fn resolve(self, name: &str) -> Result<u32> {
        self.syscall(name).ok_or_else(|| {
            Error::invalid_input("seccomp", format!("no syscall named {name:?} on {self}"))
                .with_kind(fd_core::ErrorKind::NotFound)
        })
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = Error;

    /// Accepts this crate's names, libseccomp's and OCI's
    /// (`SCMP_ARCH_X86_64`), and the [`aliases`](Arch::aliases)
    /// (`amd64`, `i386`, `arm64`, `ppc64el`, `loong64`).
    fn from_str(s: &str) -> Result<Arch> {
        let lower = s.trim().to_ascii_lowercase();
        let bare = lower.strip_prefix("scmp_arch_").unwrap_or(&lower);
        Arch::ALL
            .into_iter()
            .find(|a| a.name() == bare || a.aliases().contains(&bare))
            .ok_or_else(|| {
                let known: Vec<&str> = Arch::ALL.iter().map(|a| a.name()).collect();
                Error::invalid_input(
                    "seccomp",
                    format!("unknown architecture {s:?}: known are {}", known.join(", ")),
                )
            })
    }
}

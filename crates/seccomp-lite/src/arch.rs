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

/// An architecture a filter can cover.
///
/// x86_64 and x32 share one audit identifier (`AUDIT_ARCH_X86_64`); the
/// kernel tells them apart by [`X32_SYSCALL_BIT`] in the syscall number.
/// A filter for x86_64 that does not also cover x32 sends every number
/// with that bit (except -1, a tracer's "skip this call") to its
/// bad-architecture action, so that a process cannot escape an x86_64
/// filter through x32's numbers.
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
}

impl Arch {
    /// Every architecture this crate has tables for.
    pub const ALL: [Arch; 4] = [Arch::X86_64, Arch::X32, Arch::I386, Arch::Aarch64];

    /// The architecture this program was built for, if this crate knows it.
    pub fn native() -> Option<Arch> {
        if cfg!(all(target_arch = "x86_64", target_pointer_width = "64")) {
            Some(Arch::X86_64)
        } else if cfg!(all(target_arch = "x86_64", target_pointer_width = "32")) {
            Some(Arch::X32)
        } else if cfg!(target_arch = "x86") {
            Some(Arch::I386)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }

    /// The audit identifier (`AUDIT_ARCH_*`) the kernel puts in
    /// `seccomp_data.arch`.
    pub const fn audit(self) -> u32 {
        match self {
            Arch::X86_64 | Arch::X32 => 0xC000_003E,
            Arch::I386 => 0x4000_0003,
            Arch::Aarch64 => 0xC000_00B7,
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
        }
    }

    /// Whether `seccomp_data` is little-endian on this architecture.
    pub const fn little_endian(self) -> bool {
        self.audit() & AUDIT_ARCH_LE != 0
    }

    /// Whether this is a 64-bit ABI (64-bit registers, whatever the
    /// pointer size).
    pub const fn is_64bit(self) -> bool {
        self.audit() & AUDIT_ARCH_64BIT != 0
    }

    /// The architectures with this audit identifier (x86_64 answers
    /// x86_64 and x32).
    pub fn from_audit(audit: u32) -> &'static [Arch] {
        match audit {
            0xC000_003E => &[Arch::X86_64, Arch::X32],
            0x4000_0003 => &[Arch::I386],
            0xC000_00B7 => &[Arch::Aarch64],
            _ => &[],
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
    /// (`SCMP_ARCH_X86_64`), and the kernel's (`amd64`, `i386`, `arm64`).
    fn from_str(s: &str) -> Result<Arch> {
        let lower = s.trim().to_ascii_lowercase();
        let bare = lower.strip_prefix("scmp_arch_").unwrap_or(&lower);
        Ok(match bare {
            "x86_64" | "amd64" | "x86-64" => Arch::X86_64,
            "x32" => Arch::X32,
            "x86" | "i386" | "i686" => Arch::I386,
            "aarch64" | "arm64" => Arch::Aarch64,
            _ => {
                return Err(Error::invalid_input(
                    "seccomp",
                    format!(
                        "unknown architecture {s:?}: known are x86_64, x32, x86 (i386), aarch64"
                    ),
                ));
            }
        })
    }
}

//! [`CapSet`]: a set of Linux capabilities, by the kernel's numbers.

use std::fmt;
use std::str::FromStr;

use fd_core::{Error, Result};

/// The capabilities' names, by number (`CAP_CHOWN` is 0), as
/// `<linux/capability.h>` has them up to Linux 5.9's
/// `CAP_CHECKPOINT_RESTORE` (40).
const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// A set of capabilities, bit `n` for capability number `n`
/// (`CAP_NET_ADMIN` is 12), as `/proc/PID/status` prints them (`CapEff:
/// 0000000000001000`).
///
/// Parsed from names as bwrap, capsh and docker take them: `CAP_NET_ADMIN`,
/// `net_admin`, a number, `ALL`, several joined with `,`.
///
/// ```
/// use butter::ns::CapSet;
///
/// let set: CapSet = "CAP_NET_ADMIN,sys_chroot".parse()?;
/// assert!(set.contains(12) && set.contains(18) && !set.contains(21));
/// assert_eq!(set.to_string(), "CAP_NET_ADMIN,CAP_SYS_CHROOT");
/// assert_eq!(CapSet::EMPTY.to_string(), "");
/// # Ok::<(), butter::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CapSet(u64);

impl CapSet {
    /// No capability.
    pub const EMPTY: CapSet = CapSet(0);

    /// Every capability this crate has a name for (0 to 40); the kernel
    /// may know fewer (`/proc/sys/kernel/cap_last_cap`) or more.
    pub const ALL: CapSet = CapSet((1 << NAMES.len()) - 1);

    /// The set with bit `n` for each capability number `n`.
    pub const fn from_bits(bits: u64) -> CapSet {
        CapSet(bits)
    }

    /// The bits.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether capability number `cap` is in the set.
    pub const fn contains(self, cap: u32) -> bool {
        cap < 64 && self.0 & (1 << cap) != 0
    }

    /// The set with `cap` added.
    #[must_use]
    pub const fn with(self, cap: u32) -> CapSet {
        if cap < 64 {
            CapSet(self.0 | (1 << cap))
        } else {
            self
        }
    }

    /// The set with `cap` taken out.
    #[must_use]
    pub const fn without(self, cap: u32) -> CapSet {
        if cap < 64 {
            CapSet(self.0 & !(1 << cap))
        } else {
            self
        }
    }

    /// The number of a capability named `name` (`CAP_SYS_ADMIN`,
    /// `sys_admin`, any case, or its number).
    pub fn number(name: &str) -> Option<u32> {
        let upper = name.trim().to_ascii_uppercase();
        if let Ok(n) = upper.parse::<u32>() {
            return (n < 64).then_some(n);
        }
        let full = if upper.starts_with("CAP_") {
            upper
        } else {
            format!("CAP_{upper}")
        };
        NAMES
            .iter()
            .position(|n| *n == full)
            .and_then(|i| u32::try_from(i).ok())
    }

    /// The name of capability number `cap`, if this crate knows it.
    pub fn name(cap: u32) -> Option<&'static str> {
        NAMES.get(cap as usize).copied()
    }
}

impl FromStr for CapSet {
    type Err = Error;

    fn from_str(s: &str) -> Result<CapSet> {
        let mut set = CapSet::EMPTY;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part.eq_ignore_ascii_case("all") {
                set = CapSet::ALL;
                continue;
            }
            let n = CapSet::number(part).ok_or_else(|| {
                Error::invalid_input_in(
                    "CapSet::from_str",
                    "capset",
                    format!("{part:?} is not a capability (CAP_NET_ADMIN, net_admin, 12 or ALL)"),
                )
            })?;
            set = set.with(n);
        }
        Ok(set)
    }
}

impl fmt::Display for CapSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for cap in 0..64u32 {
            if self.contains(cap) {
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                match CapSet::name(cap) {
                    Some(name) => f.write_str(name)?,
                    None => write!(f, "{cap}")?,
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for CapSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == CapSet::ALL {
            return f.write_str("CapSet(ALL)");
        }
        write!(f, "CapSet({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(CapSet::number("CAP_CHOWN"), Some(0));
        assert_eq!(CapSet::number("net_admin"), Some(12));
        assert_eq!(CapSet::number("cap_checkpoint_restore"), Some(40));
        assert_eq!(CapSet::number("39"), Some(39));
        assert_eq!(CapSet::number("CAP_NOPE"), None);
        assert_eq!(CapSet::ALL.bits(), (1 << 41) - 1);
        assert_eq!("all".parse::<CapSet>().unwrap(), CapSet::ALL);
        let e = "net_admin,flying".parse::<CapSet>().unwrap_err();
        assert!(e.to_string().contains("\"flying\""), "{e}");
        for (i, name) in NAMES.iter().enumerate() {
            let set: CapSet = name.parse().unwrap();
            assert_eq!(set.bits(), 1 << i, "{name}");
            assert_eq!(set.to_string(), *name);
        }
    }
}

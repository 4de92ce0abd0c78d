//! Docker / OCI JSON seccomp profiles (feature `oci`).
//!
//! Reads the OCI runtime spec's `linux.seccomp` object and Docker's
//! profile files (the same object plus `archMap`, `includes` and
//! `excludes`), and builds a [`Filter`] the way Docker and runc do:
//!
//! - architectures: `architectures` if given, else the `archMap` entry of
//!   the native architecture with its sub-architectures;
//! - a syscall entry applies unless its `excludes` match (an architecture,
//!   a capability the container has, a kernel at least `minKernel`) and
//!   only if its `includes` all match;
//! - `args` on distinct indices must all hold (one rule); if an index
//!   repeats, each comparison is a rule of its own, as runc does;
//! - comparisons are 64-bit, as libseccomp's; `SCMP_CMP_MASKED_EQ` takes
//!   the mask in `value` and the value in `valueTwo`;
//! - `SCMP_ACT_ERRNO` and `SCMP_ACT_TRACE` use `errnoRet` (default
//!   `EPERM`); `SCMP_ACT_KILL` is libseccomp's, a thread kill;
//! - names no covered architecture knows are skipped, as runc skips what
//!   its libseccomp does not know ([`Program::skipped`](crate::Program::skipped)).

use serde::{Deserialize, Deserializer};

use fd_core::{Error, Result};

use crate::action::Action;
use crate::arch::Arch;
use crate::filter::{Arg, Cmp, Filter, Rule, Unknown};
use crate::raw::FilterFlags;

/// The capabilities Docker gives a container by default, against which
/// `includes.caps` and `excludes.caps` are evaluated unless set.
pub const DOCKER_DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// `null` where a list or object is expected reads as empty, as Go's
/// JSON decoder (which wrote many profiles) treats it.
fn null_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> std::result::Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "null_default")]
    architectures: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    arch_map: Vec<RawArchMap>,
    #[serde(default, deserialize_with = "null_default")]
    flags: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    syscalls: Vec<RawSyscall>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
struct RawArchMap {
    architecture: String,
    #[serde(default, deserialize_with = "null_default")]
    sub_architectures: Vec<String>,
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
struct RawSyscall {
    #[serde(default, deserialize_with = "null_default")]
    names: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "null_default")]
    args: Vec<RawArg>,
    #[serde(default, deserialize_with = "null_default")]
    includes: RawFilter,
    #[serde(default, deserialize_with = "null_default")]
    excludes: RawFilter,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
struct RawArg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
struct RawFilter {
    #[serde(default, deserialize_with = "null_default")]
    arches: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    caps: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// A parsed profile.
#[derive(Debug, Clone)]
pub struct Profile {
    raw: RawProfile,
}

/// What a profile's `includes` and `excludes` are evaluated against.
#[derive(Debug, Clone)]
pub struct ProfileOptions {
    /// The architecture the container runs on (default: native).
    pub arch: Option<Arch>,
    /// The container's capabilities (default: Docker's default set).
    pub caps: Vec<String>,
    /// The kernel's (major, minor) (default: this machine's).
    pub kernel: Option<(u32, u32)>,
    /// How rules of one syscall decide a call several match: as libseccomp
    /// unless set, so a profile means what it means to runc, crun, Docker
    /// and podman (see [`Precedence`](crate::Precedence)).
    pub precedence: crate::Precedence,
}

impl Default for ProfileOptions {
    fn default() -> ProfileOptions {
        ProfileOptions {
            arch: Arch::native(),
            caps: DOCKER_DEFAULT_CAPS
                .iter()
                .map(|s| (*s).to_string())
                .collect(),
            kernel: running_kernel(),
            precedence: crate::Precedence::Libseccomp,
        }
    }
}

fn running_kernel() -> Option<(u32, u32)> {
    parse_version(rustix::system::uname().release().to_str().ok()?)
}

fn parse_version(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn bad(detail: String) -> Error {
    Error::invalid_input("seccomp profile", detail)
}

fn action(name: &str, errno: Option<u32>, what: &str) -> Result<Action> {
    let data = |d: Option<u32>| -> Result<u16> {
        let d = d.unwrap_or(1);
        u16::try_from(d)
            .ok()
            .filter(|&d| d <= crate::action::MAX_ERRNO)
            .ok_or_else(|| bad(format!("{what}: errnoRet {d} is over 4095")))
    };
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap(0),
        "SCMP_ACT_NOTIFY" => Action::UserNotif,
        "SCMP_ACT_ERRNO" => Action::Errno(data(errno)?),
        "SCMP_ACT_TRACE" => Action::Trace(data(errno)?),
        other => {
            return Err(bad(format!(
                "{what}: unknown action {other:?} (known: SCMP_ACT_ALLOW, _LOG, _ERRNO, _TRACE, _TRAP, _NOTIFY, _KILL, _KILL_THREAD, _KILL_PROCESS)"
            )));
        }
    })
}

fn cmp(arg: &RawArg, what: &str) -> Result<Cmp> {
    let index = u8::try_from(arg.index)
        .ok()
        .filter(|&i| i <= 5)
        .ok_or_else(|| {
            bad(format!(
                "{what}: argument index {}: syscalls have arguments 0 to 5",
                arg.index
            ))
        })?;
    let a = Arg::new(index);
    Ok(match arg.op.as_str() {
        "SCMP_CMP_EQ" => a.equal(arg.value),
        "SCMP_CMP_NE" => a.not_equal(arg.value),
        "SCMP_CMP_LT" => a.lt(arg.value),
        "SCMP_CMP_LE" => a.le(arg.value),
        "SCMP_CMP_GT" => a.gt(arg.value),
        "SCMP_CMP_GE" => a.ge(arg.value),
        "SCMP_CMP_MASKED_EQ" => a.masked_eq(arg.value, arg.value_two),
        other => {
            return Err(bad(format!(
                "{what}: unknown comparison {other:?} (known: SCMP_CMP_EQ, _NE, _LT, _LE, _GT, _GE, _MASKED_EQ)"
            )));
        }
    })
}

/// An architecture of a profile (every libseccomp name parses), or an
/// error naming what is no architecture at all.
fn parse_arch(s: &str) -> Result<Arch> {
    s.parse::<Arch>().map_err(|e| bad(e.to_string()))
}

impl Profile {
    /// Parses a profile.
    ///
    /// # Errors
    /// `InvalidInput` with serde_json's message (line and column) for JSON
    /// that is not a profile.
    pub fn parse(json: &str) -> Result<Profile> {
        let raw: RawProfile = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        Ok(Profile { raw })
    }

    /// The profile's `flags`, as [`FilterFlags`].
    ///
    /// # Errors
    /// `InvalidInput` naming an unknown flag.
    pub fn flags(&self) -> Result<FilterFlags> {
        let mut flags = FilterFlags::empty();
        for f in &self.raw.flags {
            let name = f.strip_prefix("SECCOMP_FILTER_FLAG_").unwrap_or(f);
            flags |=
                FilterFlags::from_name(name).ok_or_else(|| bad(format!("unknown flag {f:?}")))?;
        }
        Ok(flags)
    }

    /// Builds the filter for a container with `options`.
    ///
    /// # Errors
    /// `InvalidInput` naming the entry with an unknown action, comparison,
    /// architecture or an errno over 4095.
    pub fn to_filter(&self, options: &ProfileOptions) -> Result<Filter> {
        let raw = &self.raw;
        let default = action(&raw.default_action, raw.default_errno_ret, "defaultAction")?;
        let mut arches: Vec<Arch> = Vec::new();
        let mut push = |a: Arch| {
            if !arches.contains(&a) {
                arches.push(a);
            }
        };
        let parse_arch = parse_arch;
        if !raw.architectures.is_empty() {
            for a in &raw.architectures {
                push(parse_arch(a)?);
            }
        } else if let Some(native) = options.arch {
            for entry in &raw.arch_map {
                if parse_arch(&entry.architecture)? == native {
                    push(native);
                    for sub in &entry.sub_architectures {
                        push(parse_arch(sub)?);
                    }
                }
            }
        }
        if arches.is_empty() {
            arches.extend(options.arch);
        }
        let mut filter = Filter::new(default)
            .arches(arches)
            .unknown_syscalls(Unknown::Skip)
            .precedence(options.precedence);
        let arch_names = options.arch.map(Arch::go_names).unwrap_or(&[]);
        let has_cap = |c: &String| options.caps.iter().any(|have| have.eq_ignore_ascii_case(c));
        let kernel_at_least = |v: &Option<String>| -> Result<Option<bool>> {
            let Some(v) = v else { return Ok(None) };
            let want =
                parse_version(v).ok_or_else(|| bad(format!("minKernel {v:?} is not a version")))?;
            Ok(options.kernel.map(|k| k >= want))
        };
        for (i, call) in raw.syscalls.iter().enumerate() {
            let what = format!("syscalls[{i}]");
            let ex = &call.excludes;
            if ex.arches.iter().any(|a| arch_names.contains(&a.as_str()))
                || ex.caps.iter().any(has_cap)
                || kernel_at_least(&ex.min_kernel)? == Some(true)
            {
                continue;
            }
            let inc = &call.includes;
            if (!inc.arches.is_empty()
                && !inc.arches.iter().any(|a| arch_names.contains(&a.as_str())))
                || !inc.caps.iter().all(has_cap)
                || kernel_at_least(&inc.min_kernel)? == Some(false)
            {
                continue;
            }
            let act = action(&call.action, call.errno_ret, &what)?;
            let cmps = call
                .args
                .iter()
                .map(|a| cmp(a, &what))
                .collect::<Result<Vec<_>>>()?;
            let mut seen = [0u8; 6];
            for c in &cmps {
                seen[usize::from(c.arg.index())] += 1;
            }
            let repeated = seen.iter().any(|&n| n > 1);
            for name in call.names.iter().chain(call.name.iter()) {
                if repeated {
                    for c in &cmps {
                        filter.push(Rule::new(name.clone(), act).when(*c));
                    }
                } else {
                    let mut rule = Rule::new(name.clone(), act);
                    rule.cmps.clone_from(&cmps);
                    filter.push(rule);
                }
            }
        }
        Ok(filter)
    }
}

//! The process half of a sandbox's setup as pure data: session, ids, host
//! names, working directory, limits, capabilities, `no_new_privs`,
//! Landlock and seccomp become child steps in the order the child runs
//! them, each with the sentence a failure reports. Whatever breaks a rule
//! is refused here, before a process exists.
//!
//! Nothing here makes a syscall: what the machine says (the last
//! capability, the ruleset's fd) comes in [`Process`], so the rules and the
//! order are unit-tested without cloning anything. The filesystem steps
//! ([`super::fs`]) go between the two halves [`Steps`] gives.

use std::ffi::OsStr;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use fd_core::{Error, Result};

use super::{Capabilities, Resource};
use crate::caps::CapSet;
use crate::idmap::IdMap;
use crate::raw::c_path;
use crate::sys::child::Step;

const CALL: &str = "Sandbox::spawn";

/// `CAP_SYS_ADMIN`.
const CAP_SYS_ADMIN: u32 = 21;

/// What the process steps are built from.
pub(super) struct Process<'a> {
    pub(super) new_session: bool,
    /// The new user namespace's uid and gid maps, and whether `setgroups`
    /// is allowed in it (the maps' writer was privileged); `None` without
    /// a new user namespace.
    pub(super) maps: Option<(&'a [IdMap], &'a [IdMap], bool)>,
    /// The uid and gid to run as inside.
    pub(super) ids: Option<(u32, u32)>,
    /// Bring up `lo` (a new network namespace was asked for, and loopback).
    pub(super) loopback: bool,
    pub(super) hostname: Option<&'a OsStr>,
    pub(super) domainname: Option<&'a OsStr>,
    pub(super) cwd: Option<&'a Path>,
    pub(super) rlimits: &'a [(Resource, Option<u64>, Option<u64>)],
    pub(super) caps: Capabilities,
    /// `/proc/sys/kernel/cap_last_cap`.
    pub(super) last_cap: u32,
    pub(super) no_new_privs: bool,
    /// Landlock was asked for; with the ruleset made for it (its fd and
    /// ABI), or `None` when best effort found nothing to enforce.
    pub(super) landlock: Option<Option<(RawFd, u32)>>,
    /// The seccomp filter's instructions.
    pub(super) seccomp: Option<&'a [u64]>,
}

/// A step and the sentence a failure of it reports.
pub(super) type Described = (Step, String);

/// The process steps: those before the filesystem's, those after.
#[derive(Debug, Default)]
pub(super) struct Steps {
    pub(super) before_fs: Vec<Described>,
    pub(super) after_fs: Vec<Described>,
}

fn refuse<T>(why: impl Into<String>) -> Result<T> {
    Err(Error::invalid_input_in(CALL, "clone3", why.into()))
}

/// Builds the process steps, or refuses what breaks a rule.
pub(super) fn build(p: &Process<'_>) -> Result<Steps> {
    let mut steps = Steps::default();
    let user_ns = p.maps.is_some();
    if p.new_session {
        steps.before_fs.push((
            Step::Setsid,
            "setsid (a new session, no controlling terminal)".into(),
        ));
    }
    if let Some((uids, gids, setgroups)) = p.maps {
        let (uid, gid) = p.ids.unwrap_or((0, 0));
        let mapped = |maps: &[IdMap], id: u32| {
            maps.iter().any(|m| {
                u64::from(id) >= u64::from(m.inside)
                    && u64::from(id) < u64::from(m.inside) + u64::from(m.count)
            })
        };
        if !mapped(uids, uid) || !mapped(gids, gid) {
            return refuse(format!(
                "uid {uid} and gid {gid} must be mapped in the new user namespace to run as them"
            ));
        }
        steps.before_fs.push((
            Step::SetIds {
                uid,
                gid,
                // setgroups is denied to an unprivileged writer's namespace.
                groups: setgroups.then(Vec::new),
            },
            format!("become uid {uid}, gid {gid} in the new user namespace"),
        ));
    } else if p.ids.is_some() {
        return refuse("ids inside need a new user namespace (Namespaces::USER)");
    }
    let after = &mut steps.after_fs;
    if p.loopback {
        after.push((
            Step::LoopbackUp,
            "bring up the loopback device lo of the new network namespace (needs \
             CAP_NET_ADMIN there)"
                .into(),
        ));
    }
    if let Some(name) = p.hostname {
        after.push((
            Step::Hostname(name.as_bytes().to_vec()),
            format!("set the host name to {name:?}"),
        ));
    }
    if let Some(name) = p.domainname {
        after.push((
            Step::Domainname(name.as_bytes().to_vec()),
            format!("set the domain name to {name:?}"),
        ));
    }
    if let Some(cwd) = p.cwd {
        after.push((
            Step::Chdir(c_path(CALL, cwd)?),
            format!("chdir to {}", cwd.display()),
        ));
    }
    for &(resource, soft, hard) in p.rlimits {
        let (soft, hard) = (soft.unwrap_or(u64::MAX), hard.unwrap_or(u64::MAX));
        if soft > hard {
            return refuse(format!(
                "the soft {resource} limit {soft} is over the hard limit {hard}"
            ));
        }
        after.push((
            Step::Rlimit {
                resource: resource.raw(),
                soft,
                hard,
            },
            format!("set the {resource} limit to {}", Resource::show(soft, hard)),
        ));
    }
    if let Capabilities::Only(keep) = p.caps {
        if p.ids.is_some_and(|(uid, _)| uid != 0) {
            return refuse(
                "capabilities are dropped by root inside (CAP_SETPCAP): run as uid 0 \
                 inside, or leave the capabilities to the uid change",
            );
        }
        after.push((
            Step::Caps {
                keep: keep.bits(),
                last_cap: p.last_cap,
            },
            if keep == CapSet::EMPTY {
                "drop every capability".to_owned()
            } else {
                format!("keep only the capabilities {keep}")
            },
        ));
    }
    if p.no_new_privs {
        after.push((Step::NoNewPrivs, "set no_new_privs".into()));
    }
    if let Some(ruleset) = p.landlock {
        let admin = match p.caps {
            Capabilities::AsTheNamespacesGive => user_ns,
            Capabilities::Only(keep) => keep.contains(CAP_SYS_ADMIN),
        };
        if !p.no_new_privs && !admin && user_ns {
            return refuse(
                "Landlock needs no_new_privs once CAP_SYS_ADMIN is dropped: set no_new_privs",
            );
        }
        if let Some((fd, abi)) = ruleset {
            after.push((
                Step::Landlock(fd),
                format!(
                    "restrict with Landlock (ABI {abi}; it needs no_new_privs or CAP_SYS_ADMIN)"
                ),
            ));
        }
    }
    if let Some(program) = p.seccomp {
        after.push((
            Step::Seccomp(program.to_vec()),
            format!(
                "load the seccomp filter ({} instructions; without no_new_privs it needs CAP_SYS_ADMIN)",
                program.len()
            ),
        ));
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> Process<'static> {
        Process {
            new_session: false,
            maps: None,
            ids: None,
            loopback: false,
            hostname: None,
            domainname: None,
            cwd: None,
            rlimits: &[],
            caps: Capabilities::AsTheNamespacesGive,
            last_cap: 40,
            no_new_privs: false,
            landlock: None,
            seccomp: None,
        }
    }

    fn names(steps: &[Described]) -> Vec<&str> {
        steps
            .iter()
            .map(|(s, _)| match s {
                Step::Setsid => "setsid",
                Step::SetIds { .. } => "ids",
                Step::LoopbackUp => "lo",
                Step::Hostname(_) => "hostname",
                Step::Domainname(_) => "domainname",
                Step::Chdir(_) => "chdir",
                Step::Rlimit { .. } => "rlimit",
                Step::Caps { .. } => "caps",
                Step::NoNewPrivs => "nnp",
                Step::Landlock(_) => "landlock",
                Step::Seccomp(_) => "seccomp",
                _ => "other",
            })
            .collect()
    }

    const ROOT_ONLY: [IdMap; 1] = [IdMap {
        inside: 0,
        outside: 1000,
        count: 1,
    }];

    #[test]
    fn nothing_asked_nothing_done() {
        let s = build(&plain()).unwrap();
        assert!(s.before_fs.is_empty() && s.after_fs.is_empty());
    }

    /// The order the child runs them in: the session and ids before the
    /// mounts; the rest after, the seccomp filter last (it may deny what
    /// the steps before it call), Landlock just before it (after the
    /// capability drop it must not be able to undo).
    #[test]
    fn every_step_in_the_childs_order() {
        let rlimits = [(Resource::Nofile, Some(64), Some(128))];
        let filter = [0u64; 3];
        let p = Process {
            new_session: true,
            maps: Some((&ROOT_ONLY, &ROOT_ONLY, false)),
            loopback: true,
            hostname: Some(OsStr::new("box")),
            domainname: Some(OsStr::new("example")),
            cwd: Some(Path::new("/srv")),
            rlimits: &rlimits,
            caps: Capabilities::Only(CapSet::EMPTY),
            no_new_privs: true,
            landlock: Some(Some((7, 6))),
            seccomp: Some(&filter),
            ..plain()
        };
        let s = build(&p).unwrap();
        assert_eq!(names(&s.before_fs), ["setsid", "ids"]);
        assert_eq!(
            names(&s.after_fs),
            [
                "lo",
                "hostname",
                "domainname",
                "chdir",
                "rlimit",
                "caps",
                "nnp",
                "landlock",
                "seccomp"
            ]
        );
        let said: Vec<&str> = s.after_fs.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(said[3], "chdir to /srv");
        assert_eq!(said[5], "drop every capability");
        assert!(said[7].contains("ABI 6"), "{}", said[7]);
        assert!(said[8].contains("3 instructions"), "{}", said[8]);
        // Without a privileged map writer, setgroups stays as it is.
        assert!(matches!(
            s.before_fs[1].0,
            Step::SetIds { groups: None, .. }
        ));
    }

    #[test]
    fn each_rule_refused_with_its_reason() {
        let refused = |p: Process<'_>, says: &str| {
            let e = build(&p).unwrap_err();
            assert_eq!(e.kind(), fd_core::ErrorKind::InvalidInput);
            assert!(e.to_string().contains(says), "{e}");
        };
        refused(
            Process {
                ids: Some((5, 5)),
                ..plain()
            },
            "ids inside need a new user namespace",
        );
        refused(
            Process {
                maps: Some((&ROOT_ONLY, &ROOT_ONLY, true)),
                ids: Some((1, 0)),
                ..plain()
            },
            "uid 1 and gid 0 must be mapped",
        );
        let rlimits = [(Resource::Nofile, Some(10), Some(5))];
        refused(
            Process {
                rlimits: &rlimits,
                ..plain()
            },
            "the soft nofile limit 10 is over the hard limit 5",
        );
        let wide = [IdMap {
            inside: 0,
            outside: 100_000,
            count: 65536,
        }];
        refused(
            Process {
                maps: Some((&wide, &wide, true)),
                ids: Some((1000, 1000)),
                caps: Capabilities::Only(CapSet::EMPTY),
                ..plain()
            },
            "capabilities are dropped by root inside",
        );
        refused(
            Process {
                maps: Some((&ROOT_ONLY, &ROOT_ONLY, false)),
                caps: Capabilities::Only(CapSet::EMPTY),
                landlock: Some(Some((7, 6))),
                ..plain()
            },
            "Landlock needs no_new_privs",
        );
        refused(
            Process {
                cwd: Some(Path::new("/a\0b")),
                ..plain()
            },
            "NUL",
        );
    }

    /// Root in a new user namespace keeps CAP_SYS_ADMIN there unless it is
    /// dropped: Landlock then needs no no_new_privs; best effort that found
    /// nothing to enforce adds no step.
    #[test]
    fn landlock_with_cap_sys_admin_or_nothing_to_enforce() {
        let p = Process {
            maps: Some((&ROOT_ONLY, &ROOT_ONLY, false)),
            landlock: Some(Some((9, 1))),
            ..plain()
        };
        assert_eq!(names(&build(&p).unwrap().after_fs), ["landlock"]);
        let p = Process {
            landlock: Some(None),
            ..p
        };
        assert!(build(&p).unwrap().after_fs.is_empty());
    }
}

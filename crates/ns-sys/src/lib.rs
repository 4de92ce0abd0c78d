//! Linux namespaces done completely: the raw calls, namespace fds, mounts
//! and the new mount API, id maps, a sandbox spawner that is safe in a
//! multithreaded program, and entering a running container.
//!
//! util-linux's `unshare` and `nsenter` are command-line tools; `nix` and
//! `rustix` give the bare calls; container runtimes give everything but as
//! one opinion. This crate gives the layers, each usable on its own.
//!
//! # How it works
//!
//! - Raw layer: [`unshare`], [`setns`], [`setns_pidfd`], [`mount`],
//!   [`umount2`], [`pivot_root`], [`fsopen`], [`fsconfig`], [`fsmount`],
//!   [`fspick`], [`open_tree`], [`move_mount`], [`mount_setattr`] (with
//!   idmapped mounts), [`sethostname`] and friends (64-byte limit checked
//!   first), and [`getpid`], [`getppid`], [`gettid`] as syscalls, never a
//!   cached value.
//! - [`Namespace`] and [`Namespaces`]; [`NsFd`] opens a process's
//!   namespace (by `/proc` or by pidfd), tells its kind, its identity
//!   ([`NsId`], as `lsns` compares them), its owner and parent, and joins
//!   it; [`namespaces_of`] lists a process's namespaces.
//! - [`FsContext`] and [`MountFd`]: the new mount API as owned fds, with
//!   the kernel's log messages in the errors.
//! - Id maps: [`write_uid_map`], [`write_gid_map`], [`deny_setgroups`],
//!   with the kernel's rules checked first ([`check_maps`]) so that a
//!   refusal names the rule.
//! - [`Sandbox`]: a program in new namespaces, with a new root
//!   (`pivot_root`), binds, `/dev`, `/tmp`, `/proc`, host name,
//!   `no_new_privs`, a seccomp filter, a reaping init as pid 1, and a
//!   [`Child`] with its pidfd. Everything that allocates happens before
//!   `clone3`; a failing step comes back as an error naming it.
//! - [`Enter`]: a command inside a running process's namespaces, root and
//!   working directory as one of its users, found by pid or through
//!   docker, podman, LXC, LXD or machinectl ([`Target`]).
//!
//! # Example
//!
//! ```no_run
//! use ns_sys::{Namespaces, Sandbox};
//! use signal_fd::ChildStatus;
//!
//! // `unshare -Urpf --mount-proc --uts hostname`: a shell-less one-off.
//! let out = Sandbox::new("hostname")
//!     .unshare(Namespaces::USER | Namespaces::PID | Namespaces::MNT)
//!     .hostname("sandbox")
//!     .output()?;
//! assert_eq!(out.status, ChildStatus::Exited(0));
//! assert_eq!(out.stdout, b"sandbox\n");
//! # Ok::<(), ns_sys::Error>(())
//! ```
//!
//! # Privileges
//!
//! Creating namespaces other than a user namespace needs `CAP_SYS_ADMIN`;
//! a new user namespace gives it inside, so an unprivileged program adds
//! [`Namespaces::USER`] (where the distribution allows unprivileged user
//! namespaces: `butter doctor` says). Joining another process's namespaces
//! needs `CAP_SYS_ADMIN` over them (or being in their owning user
//! namespace's parent with the right ids).

#![deny(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!("ns-sys wraps Linux namespaces and builds only for Linux targets");

/// This crate's README examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod caps;
mod cgroup;
mod container;
mod enter;
mod idmap;
pub mod landlock;
mod mount;
mod namespace;
mod probe;
mod raw;
mod sandbox;
mod spawn;
mod sys;

pub use caps::CapSet;
pub use cgroup::{Cgroup, CgroupLimits, CgroupUsage, own_cgroup};
pub use container::{Target, User, lookup_user};
pub use enter::Enter;
pub use fd_core::{self, Error, ErrorKind, Result};
pub use idmap::{
    IdKind, IdMap, MAX_RANGES, check_maps, deny_setgroups, read_map, subordinate_ids,
    write_gid_map, write_map_with_helper, write_uid_map,
};
pub use landlock::{AccessFs, AccessNet, Landlock, Ruleset, Scope};
pub use mount::{FsContext, MountFd};
pub use namespace::{NsEntry, NsFd, NsId, namespaces_of};
pub use probe::probe;
pub use raw::{
    FsConfig, FsMountFlags, FsOpenFlags, FsPickFlags, HOST_NAME_MAX, MountAttr, MountAttrFlags,
    MountFlags, MoveMountFlags, Namespace, Namespaces, OpenTreeFlags, Propagation, SetAttrFlags,
    UnmountFlags, bind_mount, fsconfig, fsmount, fsopen, fspick, getdomainname, gethostname,
    getpid, getppid, gettid, mount, mount_setattr, move_mount, open_tree, pivot_root,
    set_propagation, setdomainname, sethostname, setns, setns_pidfd, umount2, unshare,
};
pub use sandbox::{Bind, Child, Output, OverlayUpper, Resource, Sandbox, Stdio, Stopped};
pub use signal_fd::{ChildStatus, PidFd, Signal};

//! seccomp BPF in pure Rust: a filter builder and optimising compiler, a
//! disassembler, a simulator, a loader with every flag, user
//! notifications, and Docker / OCI profiles. No libseccomp.
//!
//! # How it works
//!
//! - [`Filter`]: a default action, [`Rule`]s (a syscall by name or number,
//!   argument [`Cmp`]arisons at a stated [`Width`], an [`Action`]), the
//!   [`Arch`]itectures covered and a bad-architecture action. When
//!   several rules match, the most restrictive action wins; a rule on a
//!   socket or SysV IPC call covers it through `socketcall`/`ipc` too
//!   (see [`Filter`], also for where libseccomp answers otherwise).
//! - [`Filter::compile`] makes a [`Program`]: the architecture check
//!   first, the x32 guard on x86_64, a balanced binary search over the
//!   syscall numbers (cost grows with log n, and the path to a syscall
//!   reads only the architecture and the number, so the kernel's action
//!   cache can keep an unconditional `ALLOW`), 64-bit comparisons made of
//!   two correct 32-bit halves (signed ones through a sign-bit flip),
//!   trampolines for jumps past 255, and a hard error past 4096
//!   instructions.
//! - [`Program`]: the instructions, the bytes `seccomp_export_bpf` writes
//!   (and reading them back, from any tool), [`disassemble`],
//!   [`simulate`] for any program on any `seccomp_data`, and which
//!   syscalls the action cache can hold.
//! - [`Loader`]: checks the program, the flags and the kernel's actions
//!   (`SECCOMP_GET_ACTION_AVAIL`) first, sets `no_new_privs`, and installs
//!   with `TSYNC`, `LOG`, `SPEC_ALLOW`, `NEW_LISTENER`, `TSYNC_ESRCH`,
//!   `WAIT_KILLABLE_RECV`.
//! - [`Listener`]: receives `USER_NOTIF` calls, answers with a value, an
//!   errno or `CONTINUE`, installs fds in the caller, reads its memory
//!   safely; an [`EventSource`](fd_core::EventSource) and (feature
//!   `async`) a `Stream`.
//! - [`SeccompCommandExt`]: a filter (or a filter with a listener handed back to
//!   the parent) for programs started with `std::process::Command`.
//! - `Profile` (feature `oci`): Docker / OCI JSON profiles.
//! - [`rules`]: the rule-file language, as `FromStr` for [`Filter`] and
//!   [`Cmp`]; [`decode`]: syscall arguments of a [`Notification`] as text
//!   (paths, socket addresses).
//!
//! Syscall tables for every architecture libseccomp knows (23: see
//! [`Arch`]) are generated from the per-architecture numbers of a current
//! kernel that linux-raw-sys carries, and from libseccomp's table for the
//! four ABIs it does not (`cargo xtask gen-syscalls`). Big-endian machines
//! get their argument words in their order, 32-bit ABIs compare low words
//! only, and every architecture with `socketcall`/`ipc` gets the twins.
//!
//! # Example
//!
//! ```
//! use seccomp_lite::{Action, Arch, Arg, Filter, Rule};
//!
//! let filter = Filter::new(Action::Errno(1)) // EPERM for the rest
//!     .arches([Arch::X86_64, Arch::Aarch64])
//!     .allow(["read", "write", "close", "exit_group"])
//!     // writes to stdout and stderr only, whatever the C library does
//!     // with the upper half of an int
//!     .rule(Rule::new("write", Action::Errno(9)).when(Arg::i32(0).gt(2)));
//! let program = filter.compile()?;
//! assert_eq!(program.simulate_name(Arch::X86_64, "write", [1, 0, 0, 0, 0, 0])?, Action::Allow);
//! assert_eq!(program.simulate_name(Arch::Aarch64, "write", [7, 0, 0, 0, 0, 0])?, Action::Errno(9));
//! assert_eq!(program.simulate_name(Arch::X86_64, "openat", [0; 6])?, Action::Errno(1));
//! // Loading it (program.load()) is for a process made for it: a filter
//! // cannot be removed.
//! # Ok::<(), seccomp_lite::Error>(())
//! ```

#![deny(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!("seccomp-lite wraps Linux's seccomp and builds only for Linux targets");

/// This crate's README examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod action;
mod arch;
#[cfg(feature = "async")]
mod asynchronous;
pub mod bpf;
mod command;
mod compile;
pub mod decode;
mod disasm;
mod filter;
mod load;
mod multiplex;
mod notify;
mod probe;
#[cfg(feature = "oci")]
mod profile;
mod program;
mod raw;
pub mod rules;
mod sim;
mod sys;
mod syscalls;

pub use action::{Action, MAX_ERRNO};
pub use arch::{Arch, X32_SYSCALL_BIT};
#[cfg(feature = "async")]
pub use asynchronous::AsyncListener;
pub use bpf::Insn;
pub use command::{HandoffReceiver, HandoffSender, SeccompCommandExt, handoff};
pub use disasm::disassemble;
pub use fd_core::{self, Error, ErrorKind, Result};
pub use filter::{Arg, ArgValue, Cmp, CmpOp, Filter, Precedence, Rule, Syscall, Unknown, Width};
pub use load::Loader;
pub use notify::{AddFd, Listener, Notification, Response};
pub use probe::probe;
#[cfg(feature = "oci")]
pub use profile::{DOCKER_DEFAULT_CAPS, Profile, ProfileOptions};
pub use program::Program;
pub use raw::{
    FilterFlags, NotifSizes, no_new_privs, seccomp_get_action_avail, seccomp_get_notif_sizes,
    seccomp_mode, seccomp_set_mode_filter, seccomp_set_mode_strict, set_no_new_privs,
};
pub use sim::{SeccompData, simulate};

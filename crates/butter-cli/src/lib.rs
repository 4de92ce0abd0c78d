//! The `butter` command's library: each subcommand as a module with its
//! arguments (`Args`, clap derive) and its `run`, so that it can be tested
//! without spawning the binary; the binary only parses and dispatches.
//!
//! - [`doctor`]: what this kernel offers every butter crate.
//! - [`signals`]: each signal as it arrives, with its sender.
//! - [`watch`]: file events as they happen.
//! - [`copy`]: the fastest kernel copy between two fds, with progress.
//! - [`fanotify`]: who touches which file, and answering permission events.
//! - [`ns`]: `run` (a command in new namespaces), `enter` (inside a
//!   running container), `ns` (a process's namespaces).
//! - [`aio_bench`]: a fio-like load on native AIO.
//! - [`seccomp`]: `compile`, `sim`, `run` and `trace` with seccomp filters.
//! - [`json`]: `serde_json` for every `--json` flag, with byte-exact paths.
//! - [`output`]: output lines, exit statuses, and the parsers the commands share.
//! - [`time`]: RFC 3339 timestamps for output lines.

#![deny(unsafe_code)]

pub mod aio_bench;
pub mod copy;
pub mod doctor;
pub mod fanotify;
pub mod json;
pub mod ns;
pub mod output;
pub mod seccomp;
pub mod signals;
pub mod time;
pub mod watch;

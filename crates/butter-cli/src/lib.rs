//! The `butter` command's library: each subcommand as a module, so that it
//! can be tested without spawning the binary.
//!
//! - [`doctor`]: what this kernel offers every butter crate.
//! - [`json`]: the small JSON writer behind every `--json` flag.

#![deny(unsafe_code)]

pub mod doctor;
pub mod json;

//! `butter`: Linux's low-level kernel features, put to use.
//!
//! Parses the command line (clap) and hands each command to its module in
//! the `butter_cli` library. Run `butter --help` for the commands.

#![deny(unsafe_code)]

use std::process::ExitCode;

use butter_cli::output::{Outcome, UsageError};
use butter_cli::{aio_bench, copy, doctor, fanotify, ns, seccomp, signals, watch};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// The synopsis of every command, under the top-level help.
const SYNOPSIS: &str = "\
Synopsis:
  butter doctor [--json]
  butter signals [--json] [--count N] SIGNAL...
  butter watch [-r] [-e EVENTS]... [--json] [--timeout SECS] [--count N]
               [--exclude GLOB]... [--include GLOB]... [--backend B] [--wait-for-roots]
               [--settle DURATION] [-L] [--poll-interval DURATION] PATH...
  butter copy [--method M] [--limit BYTES] [--progress] SRC DST
  butter fanotify [--mount P | --fs P | PATH...] [-e EVENTS]... [--json] [--deny GLOB]
                  [--count N] [--timeout SECS]
  butter run [-U] [-r] [-p] [-m] [-u] [-i] [-n] [-C] [-T] [--root DIR | --overlay-root LOWER...] [--ro]
             [--map-auto] [--map-users SPEC]... [--map-groups SPEC]...
             [--bind SRC[:DST][:ro]]... [--ro-bind SRC DEST]... [--dev-bind SRC DEST]...
             [[--size BYTES] [--perms OCTAL] --tmpfs DEST]... [[--perms OCTAL] --dir DEST]...
             [--symlink SRC DEST]... [[--perms OCTAL] --file|--bind-data|--ro-bind-data FD DEST]...
             [--remount-ro DEST]... [--chmod OCTAL PATH]... [--mqueue DEST]...
             [--overlay-src SRC]... [--overlay RWSRC WORKDIR DEST]... [--tmp-overlay DEST]...
             [--ro-overlay DEST]...
             [--hostname NAME] [--no-init] [--new-session] [--die-with-parent]
             [--no-new-privs] [--rlimit NAME=SOFT[:HARD]]... [--cap-drop CAP|ALL]...
             [--cap-add CAP]... [--sandbox]
             [--landlock-ro|--landlock-rox|--landlock-rw|--landlock-rwx PATH]...
             [--landlock-bind-tcp PORT]... [--landlock-connect-tcp PORT]...
             [--landlock-best-effort] [--seccomp FILE]
             [--new-cgroup] [--cgroup-parent DIR] [--memory-max BYTES] [--pids-max N]
             [--cpu-max QUOTA[/PERIOD]] [--info-fd FD] [--json-status-fd FD] [--block-fd FD]
             [--sync-fd FD]
             [--] [CMD ARGS...]
  butter enter (PID | --docker|--podman|--lxc|--lxd|--machine NAME) [-n NS,...]
               [--user NAME] [--no-confine] [--no-cgroup] [--] [CMD ARGS...]
  butter ns [--json] [PID]
  butter aio-bench FILE [--rw RW] [--bs 4k] [--iodepth N] [--size S] [--runtime SECS]
                   [--number-ios N] [--direct] [--nowait] [--batch N] [--overwrite] [--json]
  butter seccomp compile PROFILE [--arch A]... [-o FILE] [--disasm] [--json]
  butter seccomp sim (PROFILE|BPF-FILE) [--arch A] SYSCALL [ARG...]
  butter seccomp resolve [-a ARCH] NAME|NUMBER
  butter seccomp record [-o FILE] [--names-only] [--] CMD ARGS...
  butter seccomp run [--profile P] [--deny SYSCALL[=ERRNO]]... [--allow SYSCALL]...
                     [--default ACTION] [--] CMD ARGS...
  butter seccomp trace [--syscalls open,openat,...] [--deny SYSCALL[=ERRNO]]... [--json]
                       [--] CMD ARGS...
  butter completions SHELL

Across the commands: --count 0 and --timeout 0 mean no limit; a usage
mistake exits with status 2, a runtime error with 1.";

/// butter: Linux's low-level kernel features, put to use.
#[derive(Debug, Parser)]
#[command(
    name = "butter",
    version,
    about = "butter: Linux's low-level kernel features, put to use",
    after_help = SYNOPSIS,
    help_template = "{about-with-newline}\n{usage-heading} {usage}\n\n{all-args}{after-help}",
    subcommand_help_heading = "Commands",
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
enum Command {
    Doctor(doctor::Args),
    Signals(signals::Args),
    Watch(watch::Args),
    Copy(copy::Args),
    Fanotify(fanotify::Args),
    Run(Box<ns::RunArgs>),
    Enter(ns::EnterArgs),
    Ns(ns::NsArgs),
    AioBench(aio_bench::Args),
    Seccomp(seccomp::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(help_template = butter_cli::output::HELP_TEMPLATE)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    // The matches are kept: `run` does its filesystem options in the
    // order given, which the derived struct does not keep.
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let empty = clap::ArgMatches::default();
    let name = match &cli.command {
        Command::Doctor(_) => "doctor",
        Command::Signals(_) => "signals",
        Command::Watch(_) => "watch",
        Command::Copy(_) => "copy",
        Command::Fanotify(_) => "fanotify",
        Command::Run(_) => "run",
        Command::Enter(_) => "enter",
        Command::Ns(_) => "ns",
        Command::AioBench(_) => "aio-bench",
        Command::Seccomp(_) => "seccomp",
        Command::Completions { .. } => "completions",
    };
    let outcome: Outcome = match &cli.command {
        Command::Doctor(args) => doctor::run(args),
        Command::Signals(args) => signals::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Copy(args) => copy::run_command(args),
        Command::Fanotify(args) => fanotify::run(args),
        Command::Run(args) => ns::run(args, matches.subcommand_matches("run").unwrap_or(&empty)),
        Command::Enter(args) => ns::enter(args),
        Command::Ns(args) => ns::ns(args),
        Command::AioBench(args) => aio_bench::run(args),
        Command::Seccomp(args) => seccomp::run(args),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "butter", &mut script);
            Ok(butter_cli::output::print(&String::from_utf8_lossy(&script)))
        }
    };
    match outcome {
        Ok(code) => code,
        // Reported as clap reports its own: the message, the command's
        // usage, a hint, status 2.
        Err(UsageError(message)) => {
            let mut cli = Cli::command();
            cli.build();
            match cli.find_subcommand_mut(name) {
                Some(sub) => sub
                    .error(clap::error::ErrorKind::ValueValidation, message)
                    .exit(),
                None => cli
                    .error(clap::error::ErrorKind::ValueValidation, message)
                    .exit(),
            }
        }
    }
}

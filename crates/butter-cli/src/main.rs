//! `butter`: Linux's low-level kernel features, put to use.
//!
//! Run `butter --help` for the commands.

#![deny(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use butter_cli::doctor::Report;

const USAGE: &str = "\
butter: Linux's low-level kernel features, put to use

Usage: butter <COMMAND> [OPTIONS]

Commands:
  doctor [--json]   Probe this machine: kernel version, every feature the
                    butter crates use, limits, and what root would add
  signals [--json] [--count N] SIGNAL...
                    Block the signals and print each one as it arrives, with
                    its sender's pid and uid and why it was sent

Options:
  -h, --help        Print this help
  -V, --version     Print the version
";

/// A command-line mistake: reported with the usage hint, exit status 2.
struct Usage(String);

impl From<lexopt::Error> for Usage {
    fn from(e: lexopt::Error) -> Usage {
        Usage(e.to_string())
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(Usage(msg)) => {
            eprintln!("butter: {msg}\nTry 'butter --help'.");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, Usage> {
    use lexopt::prelude::*;
    let mut args = lexopt::Parser::from_env();
    let command = match args.next()? {
        Some(Short('h') | Long("help")) => return Ok(print(USAGE)),
        Some(Short('V') | Long("version")) => {
            return Ok(print(&format!("butter {}\n", env!("CARGO_PKG_VERSION"))));
        }
        Some(Value(cmd)) => cmd.string()?,
        Some(other) => return Err(other.unexpected().into()),
        None => return Err(Usage("a command is required".into())),
    };
    match command.as_str() {
        "doctor" => doctor(args),
        "signals" => signals(args),
        other => Err(Usage(format!("unknown command {other:?}"))),
    }
}

fn doctor(mut args: lexopt::Parser) -> Result<ExitCode, Usage> {
    use lexopt::prelude::*;
    let mut as_json = false;
    while let Some(arg) = args.next()? {
        match arg {
            Long("json") => as_json = true,
            Short('h') | Long("help") => {
                return Ok(print(
                    "Usage: butter doctor [--json]\n\nProbes every kernel feature the butter crates use.\n",
                ));
            }
            other => return Err(other.unexpected().into()),
        }
    }
    let report = Report::collect();
    Ok(print(&if as_json {
        report.to_json() + "\n"
    } else {
        report.to_text()
    }))
}

const SIGNALS_USAGE: &str = "\
Usage: butter signals [--json] [--count N] SIGNAL...

Blocks the signals and prints each one as it arrives: time, signal, sender pid
and uid, and the code saying why (SI_USER for kill, SI_QUEUE with its value,
CLD_EXITED with the child's status, ...). Signals are names (INT, SIGTERM,
usr1), numbers, or SIGRTMIN+N. Runs until --count signals have arrived, or
until a signal it does not watch ends it (Ctrl-C, unless INT is watched).

  --json       one JSON object per line
  --count N    exit after N signals
";

fn signals(mut args: lexopt::Parser) -> Result<ExitCode, Usage> {
    use butter::signalfd::{SigSet, Signal, Signals};
    use lexopt::prelude::*;
    let (mut as_json, mut count, mut set) = (false, None::<u64>, SigSet::empty());
    while let Some(arg) = args.next()? {
        match arg {
            Long("json") => as_json = true,
            Long("count") => count = Some(args.value()?.parse()?),
            Short('h') | Long("help") => return Ok(print(SIGNALS_USAGE)),
            Value(name) => {
                let name = name.string()?;
                let sig: Signal = name.parse().map_err(|e: butter::Error| {
                    Usage(e.detail().unwrap_or("bad signal").to_owned())
                })?;
                set.insert(sig);
            }
            other => return Err(other.unexpected().into()),
        }
    }
    if set.is_empty() {
        return Err(Usage("signals: name at least one signal to watch".into()));
    }
    // Single-threaded here, so blocking in this thread blocks them for the process.
    let watcher = match Signals::new(set) {
        Ok(w) => w,
        Err(e) => return Ok(fail(&e)),
    };
    eprintln!("butter signals: pid {} watching {set}", std::process::id());
    let mut seen = 0;
    while count.is_none_or(|n| seen < n) {
        let info = match watcher.read() {
            Ok(info) => info,
            Err(e) => return Ok(fail(&e)),
        };
        seen += 1;
        let now = std::time::SystemTime::now();
        let line = if as_json {
            butter_cli::signals::json_line(&info, now)
        } else {
            butter_cli::signals::text_line(&info, now)
        };
        if let Err(e) = write_out(&(line + "\n")) {
            // The reader went away (`butter signals ... | head -3`): done.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!("butter: writing output: {e}");
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reports a runtime error and returns exit status 1.
fn fail(err: &butter::Error) -> ExitCode {
    eprintln!("butter: {err}");
    ExitCode::FAILURE
}

/// Writes `text` to stdout and flushes it, so that each line reaches a pipe
/// as it happens.
fn write_out(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes `text` to stdout; a closed stdout (`butter doctor | head`) is not
/// an error worth a panic.
fn print(text: &str) -> ExitCode {
    match write_out(text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("butter: writing output: {e}");
            ExitCode::FAILURE
        }
    }
}

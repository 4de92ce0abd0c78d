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

/// Writes `text` to stdout; a closed stdout (`butter doctor | head`) is not
/// an error worth a panic.
fn print(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("butter: writing output: {e}");
            ExitCode::FAILURE
        }
    }
}

//! `butter signals`: print each signal as it arrives, with who sent it.

use std::time::SystemTime;

use butter::signalfd::{SigCode, SigInfo};

use crate::{json, time};

/// One line of text: time, signal, sender, code, and what the code carries.
///
/// `2026-11-22T04:30:01.123Z SIGUSR1 from pid 4242 uid 0 (SI_QUEUE) value 7`,
/// with `ptr 0x…` added when the value sent was a pointer-sized one
/// (`sival_ptr`) wider than the int.
pub fn text_line(info: &SigInfo, at: SystemTime) -> String {
    let sig = info.signal();
    let code = info
        .code()
        .name(sig)
        .map_or_else(|| format!("code {}", info.code_raw()), str::to_owned);
    let mut line = format!(
        "{} {sig} from pid {} uid {} ({code})",
        time::rfc3339(at),
        info.pid(),
        info.uid()
    );
    if info.code() == SigCode::Queue {
        line.push_str(&format!(" value {}", info.value_int()));
        // A pointer-sized value (sival_ptr) does not fit the int: show it all.
        if info.value_ptr() > u64::from(info.value_int().cast_unsigned()) {
            line.push_str(&format!(" ptr {:#x}", info.value_ptr()));
        }
    }
    if let Some(child) = info.child_status() {
        line.push_str(&format!(": child {child}"));
    }
    line
}

/// One JSON object per signal.
pub fn json_line(info: &SigInfo, at: SystemTime) -> String {
    let sig = info.signal();
    let mut o = json::Map::new();
    o.insert("time".into(), time::rfc3339(at).into());
    o.insert("signal".into(), sig.to_string().into());
    o.insert("number".into(), sig.raw().into());
    o.insert("pid".into(), info.pid().into());
    o.insert("uid".into(), info.uid().into());
    o.insert("code".into(), info.code_raw().into());
    if let Some(name) = info.code().name(sig) {
        o.insert("code_name".into(), name.into());
    }
    if info.code() == SigCode::Queue {
        o.insert("value".into(), info.value_int().into());
        o.insert("ptr".into(), info.value_ptr().into());
    }
    if let Some(child) = info.child_status() {
        o.insert("child".into(), child.to_string().into());
    }
    json::line(o)
}

/// `butter signals`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    help_template = crate::output::HELP_TEMPLATE,
    about = "Block signals and print each one as it arrives, with its sender",
    long_about = "Blocks the signals and prints each one as it arrives: time, signal, sender pid \
and uid, and the code saying why (SI_USER for kill, SI_QUEUE with its value and, for a \
pointer-sized one, the whole ptr, CLD_EXITED with the child's status, ...). Signals are names \
(INT, SIGTERM, usr1), numbers, or SIGRTMIN+N. Runs until --count signals have arrived, or until \
a signal it does not watch ends it (Ctrl-C, unless INT is watched)."
)]
pub struct Args {
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Exit after N signals (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub count: u64,
    /// The signals to watch.
    #[arg(value_name = "SIGNAL", value_parser = parse_signal)]
    pub signals: Vec<butter::signalfd::Signal>,
}

fn parse_signal(text: &str) -> Result<butter::signalfd::Signal, String> {
    text.parse()
        .map_err(|e: butter::Error| e.detail().unwrap_or("bad signal").to_owned())
}

/// Runs `butter signals`.
pub fn run(args: &Args) -> crate::output::Outcome {
    use crate::output::{Bounds, UsageError, fail};
    use butter::signalfd::{SigSet, Signals};
    use std::process::ExitCode;
    if args.signals.is_empty() {
        return Err(UsageError(
            "signals: name at least one signal to watch".into(),
        ));
    }
    let set: SigSet = args.signals.iter().copied().collect();
    // Blocking in this thread blocks them for the process: the command is
    // single-threaded here.
    let watcher = match Signals::new(set) {
        Ok(w) => w,
        Err(e) => return Ok(fail(&e)),
    };
    eprintln!("butter signals: pid {} watching {set}", std::process::id());
    let mut bounds = Bounds::new(None, args.count);
    while !bounds.done() {
        let info = match watcher.read() {
            Ok(info) => info,
            Err(e) => return Ok(fail(&e)),
        };
        let now = SystemTime::now();
        let line = if args.json {
            json_line(&info, now)
        } else {
            text_line(&info, now)
        };
        if let Some(code) = bounds.emit(line) {
            return Ok(code);
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! A supervisor: run a command as a child, forward SIGINT, SIGTERM and
//! SIGHUP to it, and report how it ended. Every event, the child's exit
//! included (SIGCHLD), arrives through one signalfd: no handler, no
//! self-pipe, no race between "the child exited" and "we were asked to stop".
//!
//! Run: `cargo run -p signal-fd --example supervise -- sleep 30` and press
//! Ctrl-C. Without a command it supervises `sleep 30` and sends itself
//! SIGTERM, then checks that the child died of the forwarded signal.

use std::process::{Command, ExitCode};

use signal_fd::{ChildStatus, PidFd, Signal, SignalCommandExt, Signals, kill_self};

fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let demo = args.is_empty();
    if demo {
        args = vec!["sleep".into(), "30".into()];
    }
    // Block the signals before the child exists, so none is lost. The
    // standard library passes our mask on to the child: without
    // `unblock_signals` the forwarded SIGTERM would wait in its queue.
    let signals = Signals::new([Signal::INT, Signal::TERM, Signal::HUP, Signal::CHLD])?;
    let child = Command::new(&args[0])
        .args(&args[1..])
        .unblock_signals(signals.set())
        .spawn()?;
    let pidfd = PidFd::from_child(&child)?;
    eprintln!(
        "supervise: started {} as pid {}",
        args.join(" "),
        pidfd.pid()
    );
    if demo {
        kill_self(Signal::TERM)?;
    }
    loop {
        let info = signals.read()?;
        if info.signal() == Signal::CHLD {
            // SIGCHLD coalesces and may be for another child: ask the pidfd.
            let Some(status) = pidfd.try_wait()? else {
                continue;
            };
            eprintln!("supervise: child {status}");
            if demo {
                let ok = status
                    == ChildStatus::Killed {
                        signal: Signal::TERM,
                        core_dumped: false,
                    };
                return Ok(if ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                });
            }
            return Ok(match status {
                ChildStatus::Exited(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
                ChildStatus::Killed { signal, .. } => {
                    ExitCode::from(u8::try_from(128 + signal.raw()).unwrap_or(1))
                }
                _ => ExitCode::FAILURE,
            });
        }
        eprintln!(
            "supervise: {} from pid {}, forwarding it",
            info.signal(),
            info.pid()
        );
        pidfd.send_signal(info.signal())?;
    }
}

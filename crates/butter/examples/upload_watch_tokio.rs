//! An upload directory watched on tokio: every new path once, every file
//! once when it is complete, next to a 10 ms timer and the signals that end
//! the program, in one `tokio::select!`.
//!
//! ```text
//! cargo run -p butter --example upload_watch_tokio -- DIR
//! cargo run -p butter --example upload_watch_tokio -- --self-test 100
//! ```
//!
//! The pattern that works on a multi-threaded runtime:
//! 1. block the signals *before* the runtime starts its worker threads
//!    (threads inherit the mask; a worker that did not block them would take
//!    them instead of the signalfd), then check with `Signals::check_threads`;
//! 2. butter's async types register with async-io's reactor, which runs
//!    beside tokio's: no tokio feature is needed for them.

#[path = "shared/upload.rs"]
mod upload;

use std::process::ExitCode;

use upload::{Next, Session};

fn main() -> ExitCode {
    let args = upload::args();
    let signals = upload::block_signals();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("tokio runtime");
    // The workers exist now, and they inherited the blocked mask.
    runtime
        .block_on(async { signals.check_threads() })
        .expect("no thread may take the signals");
    runtime.block_on(async move {
        let mut session = Session::new(&args, "upload-tokio");
        let (watcher, timer, signals) = upload::sources(&mut session, signals);
        loop {
            let next = tokio::select! {
                event = watcher.next_event() => session.on_event(event),
                tick = timer.tick() => session.on_tick(tick, watcher.get_ref()),
                info = signals.next_event() => session.on_signal(info),
            };
            if let Next::Exit(code) = next {
                return code;
            }
        }
    })
}

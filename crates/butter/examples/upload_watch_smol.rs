//! The same upload-directory watcher as `upload_watch_tokio`, on smol: the
//! three sources raced with `futures_lite::future::or`.
//!
//! ```text
//! cargo run -p butter --example upload_watch_smol -- --self-test 100
//! ```

#[path = "shared/upload.rs"]
mod upload;

use std::process::ExitCode;

use futures_lite::future::or;
use upload::{Next, Session};

fn main() -> ExitCode {
    let args = upload::args();
    // Before any thread exists (smol's executor runs on this one).
    let signals = upload::block_signals();
    smol::block_on(async move {
        let mut session = Session::new(&args, "upload-smol");
        let (watcher, timer, signals) = upload::sources(&mut session, signals);
        signals
            .get_ref()
            .check_threads()
            .expect("no thread may take the signals");
        loop {
            enum Wake<E, T, S> {
                Event(E),
                Tick(T),
                Signal(S),
            }
            let wake = or(
                or(async { Wake::Event(watcher.next_event().await) }, async {
                    Wake::Tick(timer.tick().await)
                }),
                async { Wake::Signal(signals.next_event().await) },
            )
            .await;
            let next = match wake {
                Wake::Event(e) => session.on_event(e),
                Wake::Tick(t) => session.on_tick(t, watcher.get_ref()),
                Wake::Signal(s) => session.on_signal(s),
            };
            if let Next::Exit(code) = next {
                return code;
            }
        }
    })
}

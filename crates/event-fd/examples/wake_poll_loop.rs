//! Wake a thread that sleeps in `poll` on an eventfd: the classic use.
//!
//! Run: `cargo run -p event-fd --example wake_poll_loop`

use std::thread;

use event_fd::{EventFd, EventFdFlags};

fn main() -> Result<(), event_fd::Error> {
    let wake = EventFd::with_flags(0, EventFdFlags::NONBLOCK)?;
    thread::scope(|s| {
        s.spawn(|| {
            for job in 1..=3 {
                println!("producer: queued job {job}");
                wake.notify().expect("notify");
            }
        });
        let mut jobs = 0;
        while jobs < 3 {
            // Sleep until woken: no timeout, no busy loop.
            wake.wait_readable(None)?;
            if let Some(n) = wake.try_read()? {
                jobs += n;
                println!("consumer: woken for {n} job(s), {jobs} in all");
            }
        }
        Ok(())
    })
}

//! A metronome: a periodic timer read in a loop, showing that a slow reader
//! gets every missed period counted.
//!
//! Run: `cargo run -p timer-fd --example metronome`

use std::time::{Duration, Instant};

use timer_fd::{TimerFd, TimerSpec};

fn main() -> Result<(), timer_fd::Error> {
    let timer = TimerFd::new()?;
    timer.set(&TimerSpec::periodic(Duration::from_millis(100)))?;
    let start = Instant::now();
    for beat in 1..=5 {
        let ticks = timer.read()?.count();
        println!("beat {beat}: {ticks} tick(s) at {:?}", start.elapsed());
        // 350 ms behind a 100 ms period: at least three periods are due, as
        // timers never fire early. (More on a loaded machine.)
        if beat == 4 && ticks < 3 {
            eprintln!("metronome: missed periods were not counted");
            std::process::exit(1);
        }
        if beat == 3 {
            // Fall behind on purpose: the next read reports the missed periods.
            let slow = TimerFd::new()?;
            slow.set(&TimerSpec::oneshot(Duration::from_millis(350)))?;
            slow.read()?;
        }
    }
    Ok(())
}

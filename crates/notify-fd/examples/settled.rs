//! Print each file of a directory once it is complete: closed after
//! writing, or moved in whole. This is `inotifywait -m -e
//! close_write,moved_to DIR`, the usual trigger for "process the upload".
//!
//! Run: `cargo run -p notify-fd --example settled -- DIR` and write or move
//! files into DIR. Without arguments it watches a scratch directory, writes
//! one file, renames another in and checks that both were reported once,
//! from one batch read after the work was done.

use std::ffi::OsString;
use std::process::ExitCode;

use notify_fd::inotify::{Event, EventBuffer, EventMask, Inotify, WatchFlags};

fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let dir = std::env::args_os().nth(1);
    let demo = dir.is_none();
    let dir = match dir {
        Some(dir) => dir.into(),
        None => {
            let d = std::env::temp_dir().join(format!("settled-{}", std::process::id()));
            std::fs::create_dir(&d)?;
            d
        }
    };
    let inotify = Inotify::new()?;
    // ONLYDIR: a file named by mistake is an error, not a silent watch.
    inotify.add_watch(
        &dir,
        EventMask::CLOSE_WRITE | EventMask::MOVED_TO,
        WatchFlags::ONLYDIR,
    )?;
    if demo {
        // The work happens before the first read: the kernel queues it all.
        std::fs::write(dir.join("written"), b"data")?;
        std::fs::write(std::env::temp_dir().join("settled-outside"), b"data")?;
        std::fs::rename(
            std::env::temp_dir().join("settled-outside"),
            dir.join("moved-in"),
        )?;
    }
    let mut buf = EventBuffer::default();
    let mut seen: Vec<OsString> = Vec::new();
    loop {
        for event in inotify.read_batch(&mut buf)?.iter() {
            let event = match event {
                Event::Overflow => {
                    eprintln!("settled: the queue overflowed: events were lost, rescan {dir:?}");
                    continue;
                }
                Event::Watch(event) => event,
            };
            if let Some(name) = event.name {
                let how = if event.mask.contains(EventMask::MOVED_TO) {
                    "moved in"
                } else {
                    "written"
                };
                println!("{}\t{how}", dir.join(name).display());
                seen.push(name.to_owned());
            }
        }
        if demo {
            std::fs::remove_dir_all(&dir)?;
            let ok = seen == ["written", "moved-in"];
            eprintln!(
                "settled: {}",
                if ok {
                    "both reported once"
                } else {
                    "MISSED OR REPEATED"
                }
            );
            return Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
    }
}

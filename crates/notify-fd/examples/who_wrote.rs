//! Who wrote that file? fanotify names the process that closed a file after
//! writing it, which inotify cannot. An inode mark with file-handle
//! reporting needs no privilege since Linux 5.13; mount and filesystem
//! marks, and permission decisions, need `CAP_SYS_ADMIN`.
//!
//! Run: `cargo run -p notify-fd --example who_wrote -- DIR` and write files
//! into DIR. Without arguments it watches a scratch directory, writes a
//! file, and checks that the event names this process and the file.

use std::process::ExitCode;

use notify_fd::fanotify::{Class, EventMask, Fanotify, FidKind, InitFlags, MarkFlags, MarkTarget};

fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let dir = std::env::args_os().nth(1);
    let demo = dir.is_none();
    let dir = match dir {
        Some(dir) => dir.into(),
        None => {
            let d = std::env::temp_dir().join(format!("who-wrote-{}", std::process::id()));
            std::fs::create_dir(&d)?;
            d
        }
    };
    let group = Fanotify::new(
        Class::Notif,
        InitFlags::REPORT_DFID_NAME | InitFlags::REPORT_FID,
    )?;
    group.mark(
        MarkTarget::Inode,
        &dir,
        EventMask::CLOSE_WRITE | EventMask::EVENT_ON_CHILD,
        MarkFlags::ONLYDIR,
    )?;
    if demo {
        std::fs::write(dir.join("report.txt"), b"written by the demo")?;
    }
    let mut events = Vec::new();
    loop {
        events.clear();
        group.read_events(&mut events)?;
        for event in &events {
            if event.is_overflow() {
                eprintln!("who_wrote: the queue overflowed: events were lost");
                continue;
            }
            let name = event
                .fid(FidKind::DfidName)
                .and_then(|(_, name)| name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let comm = std::fs::read_to_string(format!("/proc/{}/comm", event.pid()))
                .map(|c| c.trim().to_owned())
                .unwrap_or_else(|_| "(gone)".into());
            println!(
                "{}\tpid {} ({comm})",
                dir.join(&name).display(),
                event.pid()
            );
            if demo {
                std::fs::remove_dir_all(&dir)?;
                let ok = name == "report.txt" && event.pid() == std::process::id();
                eprintln!(
                    "who_wrote: {}",
                    if ok {
                        "this process, that file"
                    } else {
                        "WRONG"
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
}

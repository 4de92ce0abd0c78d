//! `butter copy`: the fastest kernel path between two fds, reported.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use butter::pipe::{CopyOptions, Method, Skipped, copy_with};

/// Bytes per step when a progress bar is shown.
const STEP: u64 = 8 << 20;

enum End {
    File(File),
    Stdin(std::io::Stdin),
    Stdout(std::io::Stdout),
}

impl End {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            End::File(f) => f.as_fd(),
            End::Stdin(s) => s.as_fd(),
            End::Stdout(s) => s.as_fd(),
        }
    }
}

fn open(path: &OsStr, write: bool) -> Result<End, String> {
    if path == "-" {
        return Ok(if write {
            End::Stdout(std::io::stdout())
        } else {
            End::Stdin(std::io::stdin())
        });
    }
    let file = if write {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    } else {
        File::open(path)
    };
    file.map(End::File)
        .map_err(|e| format!("{}: {e}", path.to_string_lossy()))
}

/// `1.5 GiB`-style sizes.
pub fn human(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < units.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", units[unit])
    }
}

/// One progress line: bar, percentage, rate, ETA (when the total is known).
pub fn progress_line(done: u64, total: Option<u64>, elapsed: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    match total.filter(|t| *t > 0) {
        Some(total) => {
            let frac = (done as f64 / total as f64).min(1.0);
            let filled =
                usize::try_from(u128::from(done.min(total)) * 30 / u128::from(total)).unwrap_or(30);
            let eta = if rate > 0.0 {
                (total.saturating_sub(done)) as f64 / rate
            } else {
                0.0
            };
            format!(
                "[{}{}] {:>3.0}%  {}/s  ETA {:.0}s",
                "#".repeat(filled),
                "-".repeat(30 - filled),
                frac * 100.0,
                human(rate),
                eta
            )
        }
        None => format!("{} copied  {}/s", human(done as f64), human(rate)),
    }
}

/// Copies `src` to `dst`; returns the summary line, or the error message.
pub fn run(
    src: &OsStr,
    dst: &OsStr,
    method: Option<Method>,
    limit: Option<u64>,
    progress: bool,
) -> Result<String, String> {
    let (src, dst) = (open(src, false)?, open(dst, true)?);
    let total = match &src {
        End::File(f) => f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len()),
        _ => None,
    };
    let total = match (total, limit) {
        (Some(t), Some(l)) => Some(t.min(l)),
        (t, l) => t.or(l),
    };
    let start = Instant::now();
    let mut copied = 0u64;
    let mut used = None;
    let mut skipped: Vec<Skipped> = Vec::new();
    let mut stderr = std::io::stderr();
    let live = progress && stderr.is_terminal();
    loop {
        let left = limit.map(|l| l - copied.min(l));
        if left == Some(0) {
            break;
        }
        let step = if progress {
            Some(left.map_or(STEP, |l| l.min(STEP)))
        } else {
            left
        };
        let options = CopyOptions {
            limit: step,
            method,
            ..CopyOptions::default()
        };
        let report = copy_with(src.fd(), dst.fd(), &options).map_err(|e| {
            format!(
                "{e}; {} copied before it",
                human((copied + e.copied) as f64)
            )
        })?;
        copied += report.bytes;
        used = Some(report.method);
        for s in report.skipped {
            if !skipped.iter().any(|k| k.method == s.method) {
                skipped.push(s);
            }
        }
        if progress {
            let line = progress_line(copied, total, start.elapsed());
            let _ = if live {
                write!(stderr, "\r{line}")
            } else {
                writeln!(stderr, "{line}")
            };
        }
        if !progress || report.bytes < step.unwrap_or(u64::MAX) {
            break;
        }
    }
    if live {
        let _ = writeln!(stderr);
    }
    let secs = start.elapsed().as_secs_f64();
    let method = used.map_or("nothing".to_owned(), |m| m.to_string());
    let mut summary = format!(
        "butter copy: {} bytes ({}) by {method} in {secs:.3} s ({}/s)",
        copied,
        human(copied as f64),
        human(copied as f64 / secs.max(1e-9))
    );
    for s in &skipped {
        summary.push_str(&format!("\n  passed over {}: {}", s.method, s.reason));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_progress_lines() {
        assert_eq!(human(512.0), "512 B");
        assert_eq!(human(1536.0), "1.5 KiB");
        assert_eq!(human(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0 GiB");
        let line = progress_line(50, Some(100), Duration::from_secs(1));
        assert!(
            line.starts_with(&format!("[{}{}]  50%", "#".repeat(15), "-".repeat(15))),
            "{line}"
        );
        assert!(line.ends_with("ETA 1s"), "{line}");
        assert!(
            progress_line(2048, None, Duration::from_secs(2))
                .starts_with("2.0 KiB copied  1.0 KiB/s")
        );
        assert!(progress_line(200, Some(100), Duration::from_secs(1)).contains("100%"));
    }
}

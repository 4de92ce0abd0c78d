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

fn open_src(path: &OsStr) -> Result<End, String> {
    if path == "-" {
        return Ok(End::Stdin(std::io::stdin()));
    }
    let name = path.to_string_lossy();
    let file = File::open(path).map_err(|e| format!("{name}: {e}"))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(format!("{name}: is a directory; nothing was written"));
    }
    Ok(End::File(file))
}

/// The permission bits a new destination is created with, as cp gives
/// them: the source's `rwx` bits (no set-id or sticky bit), less the umask
/// (the kernel applies it), so a copy is never more readable than its
/// source; `0666` less the umask for a source that is not a file (stdin, a
/// pipe), as a shell's `>` creates one.
fn new_file_mode(src: &End) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    match src {
        End::File(f) => f
            .metadata()
            .map_or(0o600, |m| m.permissions().mode() & 0o777),
        _ => 0o666,
    }
}

/// Opens the destination without truncating it: it is truncated only after
/// [`check_pair`] has made sure it is not the source. A new one gets
/// [`new_file_mode`]; an existing one keeps its own.
fn open_dst(path: &OsStr, mode: u32) -> Result<End, String> {
    use std::os::unix::fs::OpenOptionsExt;
    if path == "-" {
        return Ok(End::Stdout(std::io::stdout()));
    }
    OpenOptions::new()
        .write(true)
        .create(true)
        // Truncated by `run` once the pair has been checked.
        .truncate(false)
        .mode(mode)
        .open(path)
        .map(End::File)
        .map_err(|e| format!("{}: {e}", path.to_string_lossy()))
}

/// Parses a byte count: `4096`, `4k`, `1M`, `2GiB`, `1.5G` (binary units:
/// k/K/KiB = 1024, M/MiB, G/GiB, T/TiB, P/PiB), or `1kB`/`1MB`/`1GB`/`1TB`
/// for powers of 1000, as GNU tools read them.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit {
        "" | "B" => 1,
        "k" | "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        "P" | "PiB" => 1 << 50,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "PB" => 1_000_000_000_000_000,
        _ => {
            return Err(format!(
                "{text:?}: unknown size unit {unit:?} (use k, M, G, T, P, their KiB forms, or kB, MB, GB for 1000s)"
            ));
        }
    };
    let bad = || format!("{text:?}: not a byte count (such as 4096, 64k, 1.5M, 2GiB)");
    if num.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = num.parse::<u64>() {
        return n
            .checked_mul(mult)
            .ok_or_else(|| format!("{text:?}: too large"));
    }
    let f: f64 = num.parse().map_err(|_| bad())?;
    let bytes = (f * mult as f64).round();
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("{text:?}: too large"));
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "checked finite, non-negative and in range above"
    )]
    Ok(bytes as u64)
}

/// `1.50 GiB`-style sizes (binary units), as indicatif shows them.
pub fn human(bytes: f64) -> String {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a byte count or rate, non-negative; fractions of a byte do not matter"
    )]
    let bytes = bytes.max(0.0) as u64;
    indicatif::HumanBytes(bytes).to_string()
}

/// indicatif's bar for a copy of `total` bytes (a spinner with the count
/// and rate when the total is unknown, as from a pipe).
fn progress_bar(total: Option<u64>) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressStyle};
    let (bar, template) = match total {
        Some(t) => (
            ProgressBar::new(t),
            "[{bar:30}] {percent:>3}%  {binary_bytes}/{binary_total_bytes}  {binary_bytes_per_sec}  ETA {eta}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} {binary_bytes} copied  {binary_bytes_per_sec}",
        ),
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("#>-");
    bar.with_style(style)
}

/// One progress line for a log: bar, percentage, rate, ETA (when the total
/// is known).
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

/// Why `butter copy` stopped early.
#[derive(Debug)]
pub enum CopyFailed {
    /// The reader of the output went away (`butter copy f - | head`): quiet,
    /// as `cat` is, with exit status 141 as a shell reports SIGPIPE.
    BrokenPipe,
    /// Anything else, with the message to print.
    Error(String),
}

impl From<String> for CopyFailed {
    fn from(message: String) -> CopyFailed {
        CopyFailed::Error(message)
    }
}

/// A pipe given to `butter copy` as stdin or stdout is grown to this size
/// (1 MiB, the default `pipe-max-size`).
pub const GROW_PIPES: usize = 1 << 20;

/// Copies `src` to `dst`; returns the summary line, or why it stopped.
///
/// Nothing is created or truncated until the source has been opened and
/// checked: a directory source, or a destination that is the source
/// (through links, or as stdout appending to it), is refused with the
/// destination untouched.
pub fn run(
    src: &OsStr,
    dst: &OsStr,
    method: Option<Method>,
    limit: Option<u64>,
    progress: bool,
) -> Result<String, CopyFailed> {
    let src_end = open_src(src)?;
    let dst_end = open_dst(dst, new_file_mode(&src_end))?;
    butter::pipe::check_pair(src_end.fd(), dst_end.fd()).map_err(|e| {
        format!(
            "{} -> {}: {}; nothing was written",
            src.to_string_lossy(),
            dst.to_string_lossy(),
            e.detail().map_or_else(|| e.to_string(), str::to_owned)
        )
    })?;
    if let End::File(f) = &dst_end
        && f.metadata().is_ok_and(|m| m.is_file())
    {
        f.set_len(0)
            .map_err(|e| format!("{}: truncating: {e}", dst.to_string_lossy()))?;
    }
    let (src, dst) = (src_end, dst_end);
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
    let mut notes: Vec<String> = Vec::new();
    let mut stderr = std::io::stderr();
    // On a terminal, indicatif's bar (rate and ETA); in a log, one plain
    // line per step, which a redrawn bar would garble.
    let bar = (progress && stderr.is_terminal()).then(|| progress_bar(total));
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
            grow_pipes: Some(GROW_PIPES),
            ..CopyOptions::default()
        };
        let report = copy_with(src.fd(), dst.fd(), &options).map_err(|e| {
            if e.error.errno_name() == Some("EPIPE") {
                return CopyFailed::BrokenPipe;
            }
            CopyFailed::Error(format!(
                "{e}; {} copied before it",
                human((copied + e.copied) as f64)
            ))
        })?;
        for note in report.notes {
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
        copied += report.bytes;
        used = Some(report.method);
        for s in report.skipped {
            if !skipped.iter().any(|k| k.method == s.method) {
                skipped.push(s);
            }
        }
        if let Some(bar) = &bar {
            bar.set_position(copied);
        } else if progress {
            let _ = writeln!(stderr, "{}", progress_line(copied, total, start.elapsed()));
        }
        if !progress || report.bytes < step.unwrap_or(u64::MAX) {
            break;
        }
    }
    if let Some(bar) = bar {
        bar.finish();
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
    for note in &notes {
        summary.push_str(&format!("\n  note: {note}"));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_progress_lines() {
        assert_eq!(human(512.0), "512 B");
        assert_eq!(human(1536.0), "1.50 KiB");
        assert_eq!(human(3.0 * 1024.0 * 1024.0 * 1024.0), "3.00 GiB");
        let line = progress_line(50, Some(100), Duration::from_secs(1));
        assert!(
            line.starts_with(&format!("[{}{}]  50%", "#".repeat(15), "-".repeat(15))),
            "{line}"
        );
        assert!(line.ends_with("ETA 1s"), "{line}");
        assert!(
            progress_line(2048, None, Duration::from_secs(2))
                .starts_with("2.00 KiB copied  1.00 KiB/s")
        );
        assert!(progress_line(200, Some(100), Duration::from_secs(1)).contains("100%"));
    }

    #[test]
    fn sizes_with_suffixes() {
        for (text, bytes) in [
            ("4096", 4096),
            ("4k", 4096),
            ("4K", 4096),
            ("4KiB", 4096),
            ("1M", 1 << 20),
            ("2GiB", 2 << 30),
            ("1.5M", 3 << 19),
            ("1kB", 1000),
            ("3MB", 3_000_000),
            ("1T", 1 << 40),
            ("0", 0),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for bad in [
            "",
            "k",
            "1x",
            "1.2.3M",
            "-1",
            "99999999999999999999",
            "20000000P",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            parse_size("1x")
                .unwrap_err()
                .contains("unknown size unit \"x\"")
        );
    }
}

/// `butter copy`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    help_template = crate::output::HELP_TEMPLATE,
    about = "Copy by the fastest kernel path, and say which",
    long_about = "Copies SRC to DST (files, devices, or - for stdin/stdout) by the fastest \
correct kernel path for the pair, and reports on stderr which method moved the bytes, which were \
passed over and why, and the throughput.\n\n\
DST is created, and truncated only after SRC was checked: a directory SRC, or a DST that is SRC \
(through hard or symbolic links, or stdout appending to SRC), is refused with DST untouched. \
Holes in a sparse SRC stay holes. A pipe on stdin or stdout is grown to 1 MiB, which copies \
through it several times faster. If the reader of stdout goes away (| head), it stops quietly \
with exit status 141, as cat does when SIGPIPE ends it."
)]
pub struct Args {
    /// auto (default), copy-file-range, sendfile, splice or read-write.
    #[arg(long, value_name = "M", value_parser = parse_method, default_value = "auto")]
    pub method: MethodChoice,
    /// Copy at most BYTES: 4096, 64k, 1.5M, 2GiB (k, M, G, T and KiB... are
    /// 1024s; kB, MB, GB are 1000s).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub limit: Option<u64>,
    /// Show a progress bar with rate and ETA on stderr.
    #[arg(long)]
    pub progress: bool,
    /// The source: a file, a device, or - for stdin.
    #[arg(value_name = "SRC")]
    pub src: std::ffi::OsString,
    /// The destination: a file, a device, or - for stdout.
    #[arg(value_name = "DST")]
    pub dst: std::ffi::OsString,
}

/// `--method`: a forced method, or `None` for the fastest that works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodChoice(pub Option<Method>);

fn parse_method(text: &str) -> Result<MethodChoice, String> {
    if text == "auto" {
        return Ok(MethodChoice(None));
    }
    text.parse()
        .map(|m| MethodChoice(Some(m)))
        .map_err(|e: butter::Error| e.detail().unwrap_or("bad method").to_owned())
}

/// Runs `butter copy`.
pub fn run_command(args: &Args) -> crate::output::Outcome {
    use std::process::ExitCode;
    Ok(
        match run(
            &args.src,
            &args.dst,
            args.method.0,
            args.limit,
            args.progress,
        ) {
            Ok(summary) => {
                eprintln!("{summary}");
                ExitCode::SUCCESS
            }
            Err(CopyFailed::BrokenPipe) => ExitCode::from(141),
            Err(CopyFailed::Error(message)) => {
                eprintln!("butter: {message}");
                ExitCode::FAILURE
            }
        },
    )
}

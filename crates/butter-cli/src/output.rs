//! Writing output lines, and how a command ends.

use std::io::Write;
use std::process::ExitCode;

/// Every command's help: the usage line first, then what it does.
pub const HELP_TEMPLATE: &str =
    "{usage-heading} {usage}\n\n{about-with-newline}\n{all-args}{after-help}";

/// A command-line mistake found after parsing (a combination that cannot
/// work, a missing argument): reported like clap's own, with exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

/// What a command's `run` returns.
pub type Outcome = Result<ExitCode, UsageError>;

/// Reports a runtime error and returns exit status 1.
pub fn fail(err: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("butter: {err}");
    ExitCode::FAILURE
}

/// Reports a failure to start a command and returns the status the shell,
/// `env`, `unshare` and `nsenter` give: 127 when the program was not found,
/// 126 when it was found but could not be run, 1 for any other failure.
pub fn fail_exec(err: &dyn std::fmt::Display, exec_errno: Option<i32>) -> ExitCode {
    eprintln!("butter: {err}");
    use rustix::io::Errno;
    const NOT_RUNNABLE: [Errno; 8] = [
        Errno::ACCESS,
        Errno::NOEXEC,
        Errno::PERM,
        Errno::ISDIR,
        Errno::NOTDIR,
        Errno::LOOP,
        Errno::TXTBSY,
        Errno::LIBBAD,
    ];
    match exec_errno.map(Errno::from_raw_os_error) {
        Some(Errno::NOENT) => ExitCode::from(127),
        Some(e) if NOT_RUNNABLE.contains(&e) => ExitCode::from(126),
        _ => ExitCode::FAILURE,
    }
}

/// The errno of a failed `execve` in `err`, if that is what failed.
pub fn exec_errno(err: &butter::Error) -> Option<i32> {
    (err.call() == "execve").then(|| err.errno())
}

/// Writes one output line, flushed; `Some(exit code)` when the run should
/// end: the reader went away (`butter ... | head`: success), or writing
/// failed.
pub fn emit(line: String) -> Option<ExitCode> {
    match write_out(&(line + "\n")) {
        Ok(()) => None,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Some(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("butter: writing output: {e}");
            Some(ExitCode::FAILURE)
        }
    }
}

/// Writes `text` to stdout and flushes it, so that each line reaches a pipe
/// as it happens.
fn write_out(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes `text` to stdout; a closed stdout (`butter doctor | head`) is not
/// an error worth a panic.
pub fn print(text: &str) -> ExitCode {
    emit(text.trim_end_matches('\n').to_owned()).unwrap_or(ExitCode::SUCCESS)
}

/// The bounds of a command that prints events until `--count` lines or
/// `--timeout` (either 0: unbounded), shared by `watch`, `fanotify` and
/// `signals`.
#[derive(Debug)]
pub struct Bounds {
    deadline: Option<std::time::Instant>,
    limit: Option<u64>,
    printed: u64,
}

impl Bounds {
    /// From `--timeout` and `--count` as parsed.
    pub fn new(timeout: Option<std::time::Duration>, count: u64) -> Bounds {
        Bounds {
            deadline: timeout_limit(timeout).and_then(|t| std::time::Instant::now().checked_add(t)),
            limit: count_limit(count),
            printed: 0,
        }
    }

    /// How long to wait for the next event: `None` when the time is up,
    /// `Some(None)` to wait without a deadline.
    pub fn left(&self) -> Option<Option<std::time::Duration>> {
        match self.deadline {
            None => Some(None),
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                (!left.is_zero()).then_some(Some(left))
            }
        }
    }

    /// Prints one line ([`emit`]) and counts it: `Some(exit code)` when the
    /// run should end (the reader left, or `--count` lines are out).
    pub fn emit(&mut self, line: String) -> Option<ExitCode> {
        if let Some(code) = emit(line) {
            return Some(code);
        }
        self.printed += 1;
        self.limit
            .is_some_and(|n| self.printed >= n)
            .then_some(ExitCode::SUCCESS)
    }

    /// Whether `--count` lines are out (for a command that checks first).
    pub fn done(&self) -> bool {
        self.limit.is_some_and(|n| self.printed >= n)
    }
}

/// `--count N`: 0 means no limit.
pub fn count_limit(n: u64) -> Option<u64> {
    (n != 0).then_some(n)
}

/// Parses `--timeout SECS` (fractions allowed); 0 means no timeout, as for
/// `inotifywait -t 0`.
///
/// # Errors
/// A message for clap when it is not a non-negative number of seconds.
pub fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    std::time::Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("{text:?} is not a number of seconds (0 or more)"))
}

/// `--timeout` as an optional deadline: zero is none.
pub fn timeout_limit(d: Option<std::time::Duration>) -> Option<std::time::Duration> {
    d.filter(|d| !d.is_zero())
}

/// Parses `-e` event lists: `create|delete` or `create,delete`.
///
/// # Errors
/// The mask type's own message (`unknown inotify event "frob": …`).
pub fn parse_mask<M>(text: &str) -> Result<M, String>
where
    M: std::str::FromStr<Err = butter::Error>,
{
    text.replace(',', "|")
        .parse()
        .map_err(|e: butter::Error| e.detail().unwrap_or("bad events").to_owned())
}

/// A name or path as text output shows it, as `ls -b` does: a backslash
/// is `\\`, a control character (C0, DEL, C1) its C escape (`\n`, `\t`)
/// or three octal digits (`\033`), and each byte that is not valid UTF-8
/// three octal digits, so that one event is one line, no name can forge
/// another line or reach the terminal as an escape sequence, and no byte
/// is lost. Everything else, spaces included, is printed as it is (the
/// `--json` output keeps the exact bytes for programs).
pub fn escape_bytes(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\{b:03o}");
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\{b:03o}");
        }
    }
    out
}

/// [`escape_bytes`] of a path.
pub fn escape_path(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    escape_bytes(path.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::escape_bytes;

    #[test]
    fn escapes_what_could_forge_a_line() {
        assert_eq!(escape_bytes(b"plain name.txt"), "plain name.txt");
        assert_eq!(escape_bytes(b"a\nb"), "a\\nb");
        assert_eq!(escape_bytes(b"back\\slash"), "back\\\\slash");
        assert_eq!(escape_bytes(b"\x1b[31mred"), "\\033[31mred");
        assert_eq!(escape_bytes(b"\xff\xfe"), "\\377\\376");
        assert_eq!(escape_bytes("caf\u{e9}".as_bytes()), "caf\u{e9}");
        assert_eq!(escape_bytes("\u{85}".as_bytes()), "\\302\\205");
        assert_eq!(escape_bytes(b"\x7f"), "\\177");
    }
}

//! What [`Sandbox`](crate::Sandbox) and [`Enter`](crate::Enter) share on
//! the parent's side of a spawn: the child's stdio, its `execve` (argv,
//! environment, the `PATH` candidates), and the report pipe a failed step
//! writes to.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

use fd_core::{Error, Result, SyscallResult};

use crate::raw::c_string;
use crate::sandbox::Stdio;
use crate::sys::child::Exec;

/// The `PATH` searched when the environment has none.
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Reads the child's report pipe to its end: `Some((step, errno))` when a
/// step failed, `None` when the pipe closed without a record (the child
/// reached `execve`, which closed it).
pub(crate) fn read_report(pipe: &OwnedFd) -> Result<Option<(u32, i32)>> {
    let mut record = [0u8; 8];
    let mut got = 0;
    while got < record.len() {
        match rustix::io::read(pipe, &mut record[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::from_errno("read", e.raw_os_error())),
        }
    }
    if got < record.len() {
        return Ok(None);
    }
    let (step, errno) = record.split_at(4);
    Ok(Some((
        u32::from_ne_bytes(step.try_into().unwrap_or_default()),
        i32::from_ne_bytes(errno.try_into().unwrap_or_default()),
    )))
}

/// The fds for stdin, stdout, stderr (-1: inherit), our ends of the pipes,
/// and the fds the child's side holds open until the clone.
pub(crate) type StdioFds = ([RawFd; 3], [Option<OwnedFd>; 3], Vec<OwnedFd>);

/// Opens what `stdio` asks for.
pub(crate) fn stdio_fds(stdio: &[Stdio; 3]) -> Result<StdioFds> {
    let mut fds = [-1; 3];
    let mut parent_ends: [Option<OwnedFd>; 3] = [None, None, None];
    let mut child_ends = Vec::new();
    for (target, s) in stdio.iter().enumerate() {
        match s {
            Stdio::Inherit => {}
            Stdio::Null => {
                let null = rustix::fs::open(
                    "/dev/null",
                    rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )
                .syscall("open(/dev/null)")?;
                fds[target] = null.as_raw_fd();
                child_ends.push(null);
            }
            Stdio::Piped => {
                let (r, w) = cloexec_pipe()?;
                let (ours, theirs) = if target == 0 { (w, r) } else { (r, w) };
                fds[target] = theirs.as_raw_fd();
                child_ends.push(theirs);
                parent_ends[target] = Some(ours);
            }
            Stdio::Fd(fd) => fds[target] = fd.as_raw_fd(),
        }
    }
    Ok((fds, parent_ends, child_ends))
}

/// A pipe, both ends close-on-exec.
pub(crate) fn cloexec_pipe() -> Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).syscall("pipe2")
}

/// What the child runs: the `PATH` candidates for `program` (from `env`'s
/// `PATH`, else [`DEFAULT_PATH`]), argv, and the environment as
/// `KEY=VALUE` strings.
pub(crate) fn exec_of(
    call: &'static str,
    program: &OsStr,
    args: &[OsString],
    env: &[(OsString, OsString)],
) -> Result<Exec> {
    let env_c = env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            c_string(call, "environment variable", &kv)
        })
        .collect::<Result<Vec<_>>>()?;
    let path_var = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or_else(|| OsString::from(DEFAULT_PATH), |(_, v)| v.clone());
    let mut args_c = vec![c_string(call, "program", program.as_bytes())?];
    for a in args {
        args_c.push(c_string(call, "argument", a.as_bytes())?);
    }
    Ok(Exec::new(candidates(program, &path_var)?, args_c, env_c))
}

/// The paths `execve` tries for `program`: itself when it has a `/`, else
/// each directory of `path` in turn (an empty entry is the current
/// directory), as `execvp` does.
fn candidates(program: &OsStr, path: &OsStr) -> Result<Vec<CString>> {
    const CALL: &str = "Sandbox::spawn";
    if program.as_bytes().contains(&b'/') {
        return Ok(vec![c_string(CALL, "program", program.as_bytes())?]);
    }
    path.as_bytes()
        .split(|&b| b == b':')
        .map(|dir| {
            let dir = if dir.is_empty() { &b"."[..] } else { dir };
            let mut full = dir.to_vec();
            full.push(b'/');
            full.extend_from_slice(program.as_bytes());
            c_string(CALL, "program path", &full)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_search_candidates() {
        let c = candidates(OsStr::new("sh"), OsStr::new("/bin::/usr/bin")).unwrap();
        let c: Vec<&[u8]> = c.iter().map(|c| c.as_bytes()).collect();
        assert_eq!(c, [&b"/bin/sh"[..], b"./sh", b"/usr/bin/sh"]);
        let c = candidates(OsStr::new("./x"), OsStr::new("/bin")).unwrap();
        assert_eq!(c.len(), 1);
    }
}

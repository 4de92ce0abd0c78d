//! The fork-per-test harness for butter's privileged and isolation tests.
//!
//! Some tests change process-wide state: they lower `RLIMIT_NOFILE` to
//! provoke `EMFILE`, drop capabilities, mount filesystems, set the hostname,
//! load seccomp filters. Such a test must not share a process with other
//! tests, and must never change this machine. [`run`] gives each test a
//! process of its own:
//!
//! - The harness's `main` is single-threaded (the test target is declared
//!   with `harness = false`), so `fork` is safe and the child may allocate.
//! - [`Needs::Namespaces`] tests get fresh mount, UTS and IPC namespaces, with
//!   `/` made recursively private so that no mount reaches the host. As root
//!   that is all; otherwise the child first enters a new user namespace in
//!   which it is root, so the test still runs.
//! - [`Needs::Root`] tests need real root in the initial namespaces (fanotify
//!   marks, stepping the clock): without it they are skipped, saying why on
//!   stderr. They also get the private namespaces above.
//! - The parent waits on a pidfd with a deadline: a hung test is killed and
//!   fails; it never hangs the run.
//!
//! A test passes by returning, fails by panicking, and may call [`skip`] to
//! say it cannot run here and why. The run ends with libtest's summary line
//! and a plain `N passed, N failed, N skipped` line.

#![deny(unsafe_code)]

use std::io::{Read, Seek};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

/// The child's exit status for "skipped"; the reason is on stderr.
const SKIP_STATUS: i32 = 77;

/// What a test needs from its process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// A process of its own (rlimits, credentials, signal masks).
    Isolation,
    /// Private mount, UTS and IPC namespaces, root inside them (a user
    /// namespace where not root).
    Namespaces,
    /// Real root in the initial user namespace, plus the private namespaces.
    Root,
    /// A user namespace of its own even when root (with uid and gid 0 mapped
    /// to the caller's), plus the private namespaces: for limits that are
    /// kept per user namespace, such as `/proc/sys/user/max_inotify_watches`.
    UserNamespace,
}

/// One test: a name, what it needs, and its body.
#[derive(Debug, Clone, Copy)]
pub struct Test {
    /// The name printed and matched by a filter argument.
    pub name: &'static str,
    /// What the test needs.
    pub needs: Needs,
    /// The body: returns to pass, panics to fail, [`skip`]s to skip.
    pub run: fn(),
}

/// A [`Test`] named after its function, so the name cannot drift from
/// what runs: `test!(Isolation, fan::error_paths)` is the test
/// `fan::error_paths`, needing [`Needs::Isolation`].
#[macro_export]
macro_rules! test {
    ($needs:ident, $first:ident $(:: $rest:ident)*) => {
        $crate::Test {
            name: concat!(stringify!($first) $(, "::", stringify!($rest))*),
            needs: $crate::Needs::$needs,
            run: $first $(:: $rest)*,
        }
    };
}

/// How long one test may take before it is killed and failed.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// The harness process's own view, taken before any test forks: its
/// namespace links and an open `/proc/self/mountinfo`, which a child reads to
/// see the harness's live mount table without ptrace access to it.
struct HarnessView {
    namespaces: Vec<(&'static str, PathBuf)>,
    mountinfo: std::fs::File,
}

static HARNESS_VIEW: OnceLock<HarnessView> = OnceLock::new();

fn harness_view() -> &'static HarnessView {
    HARNESS_VIEW.get_or_init(|| HarnessView {
        namespaces: ["mnt", "uts", "ipc", "user", "pid", "net"]
            .into_iter()
            .map(|ns| {
                (
                    ns,
                    std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap_or_default(),
                )
            })
            .collect(),
        mountinfo: std::fs::File::open("/proc/self/mountinfo").expect("open /proc/self/mountinfo"),
    })
}

/// The harness process's namespace `ns` (`"mnt"`, `"uts"`, …) as its
/// `/proc/self/ns` link reads, such as `mnt:[4026531841]`.
pub fn harness_namespace(ns: &str) -> PathBuf {
    harness_view()
        .namespaces
        .iter()
        .find(|(name, _)| *name == ns)
        .map(|(_, link)| link.clone())
        .unwrap_or_default()
}

/// The harness process's mount table as it is now: proof for a test that
/// its mounts did not reach the harness (and so the host).
pub fn harness_mountinfo() -> String {
    let mut file = &harness_view().mountinfo;
    let mut text = String::new();
    file.rewind().expect("rewind mountinfo");
    file.read_to_string(&mut text)
        .expect("read the harness's mountinfo");
    text
}

/// Ends the current test as skipped, printing `reason` to stderr.
pub fn skip(reason: &str) -> ! {
    eprintln!("skipped: {reason}");
    std::process::exit(SKIP_STATUS)
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed(String),
    Skipped,
}

/// Runs `tests`, each in a forked child, and prints the results.
///
/// Arguments: a word without a leading `-` filters tests by substring;
/// `--list` lists them; other flags (those cargo passes to libtest binaries,
/// such as `--nocapture`) are accepted and ignored.
pub fn run(tests: &[Test]) -> ExitCode {
    let mut names: Vec<&str> = tests.iter().map(|t| t.name).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        eprintln!("butter-tests: two tests are named {:?}", w[0]);
        return ExitCode::from(2);
    }
    harness_view();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for t in tests {
            println!("{}: test", t.name);
        }
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let selected: Vec<&Test> = tests
        .iter()
        .filter(|t| filters.is_empty() || filters.iter().any(|f| t.name.contains(f.as_str())))
        .collect();
    let filtered_out = tests.len() - selected.len();
    println!(
        "\nrunning {} tests (each in a forked child)",
        selected.len()
    );
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for test in selected {
        let outcome = run_one(test);
        match &outcome {
            Outcome::Passed => {
                passed += 1;
                println!("test {} ... ok", test.name);
            }
            Outcome::Skipped => {
                skipped += 1;
                println!("test {} ... skipped", test.name);
            }
            Outcome::Failed(why) => {
                failed += 1;
                println!("test {} ... FAILED ({why})", test.name);
                failures.push(test.name);
            }
        }
    }
    if !failures.is_empty() {
        println!("\nfailures:\n    {}", failures.join("\n    "));
    }
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {passed} passed; {failed} failed; {skipped} ignored; \
         0 measured; {filtered_out} filtered out"
    );
    println!("{passed} passed, {failed} failed, {skipped} skipped\n");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run_one(test: &Test) -> Outcome {
    let is_root = rustix::process::geteuid().is_root();
    if test.needs == Needs::Root && !is_root {
        eprintln!(
            "skipped {}: needs root in the initial user namespace",
            test.name
        );
        return Outcome::Skipped;
    }
    match run_in_child(test, is_root) {
        Ok(status) => status,
        Err(e) => Outcome::Failed(format!("could not run the child: {e}")),
    }
}

/// The scratch directory of the test running in this process: made by the
/// harness before the fork and removed after the child ends, however it
/// ended (even killed at the deadline), so nothing is left behind.
static SCRATCH: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

fn scratch_base() -> PathBuf {
    let guard = SCRATCH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    guard.clone().unwrap_or_else(std::env::temp_dir)
}

/// Forks, runs `test` in the child, and waits for it with [`TIMEOUT`].
fn run_in_child(test: &Test, is_root: bool) -> std::io::Result<Outcome> {
    // A test's name has `::` in it; a `:` in a directory name breaks every
    // PATH-like list the directory goes into (a test's stub tools in PATH).
    let scratch = std::env::temp_dir().join(format!(
        "butter-test-{}-{}",
        std::process::id(),
        test.name.replace("::", "-")
    ));
    std::fs::create_dir_all(&scratch)?;
    // Like /tmp: tests that drop to another user can still make their dirs.
    std::fs::set_permissions(
        &scratch,
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )?;
    *SCRATCH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(scratch.clone());
    let outcome = fork_and_wait(test, is_root);
    let _ = std::fs::remove_dir_all(&scratch);
    outcome
}

#[allow(unsafe_code)]
fn fork_and_wait(test: &Test, is_root: bool) -> std::io::Result<Outcome> {
    // SAFETY: this process is single-threaded (a `harness = false` test
    // binary whose main runs tests one after another), so the child is a
    // complete copy with no lock held by a vanished thread.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        child(test, is_root);
    }
    let pid = rustix::process::Pid::from_raw(pid).expect("fork returned a positive pid");
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())?;
    let exited =
        fd_core::wait_readable(pidfd.as_fd(), Some(TIMEOUT)).map_err(std::io::Error::from)?;
    if !exited {
        let _ = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
    }
    let status = loop {
        match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, status))) => break status,
            Ok(None) => continue,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    if !exited {
        return Ok(Outcome::Failed(format!(
            "timed out after {TIMEOUT:?} and was killed"
        )));
    }
    Ok(match (status.exit_status(), status.terminating_signal()) {
        (Some(0), _) => Outcome::Passed,
        (Some(SKIP_STATUS), _) => Outcome::Skipped,
        (Some(code), _) => Outcome::Failed(format!("exit status {code}")),
        (None, Some(sig)) => Outcome::Failed(format!("killed by signal {sig}")),
        (None, None) => Outcome::Failed(format!("ended with wait status {}", status.as_raw())),
    })
}

/// The child: set up what the test needs, run it, exit.
fn child(test: &Test, is_root: bool) -> ! {
    let own_userns = !is_root || test.needs == Needs::UserNamespace;
    if test.needs != Needs::Isolation
        && let Err(why) = enter_private_namespaces(own_userns)
    {
        skip(&format!("{}: {why}", test.name));
    }
    let result = std::panic::catch_unwind(test.run);
    std::process::exit(if result.is_ok() { 0 } else { 1 })
}

/// Unshares mount, UTS and IPC namespaces (and a user namespace first when
/// `own_userns`), then makes every mount private so nothing propagates out.
#[allow(unsafe_code)]
fn enter_private_namespaces(own_userns: bool) -> Result<(), String> {
    let (uid, gid) = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    let mut flags = libc::CLONE_NEWNS | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC;
    if own_userns {
        flags |= libc::CLONE_NEWUSER;
    }
    // SAFETY: unshare with namespace flags only; this process is
    // single-threaded (it is a fresh fork of a single-threaded harness).
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(format!(
            "cannot create namespaces here ({}); user namespaces may be disabled",
            std::io::Error::last_os_error()
        ));
    }
    if own_userns {
        let write = |file: &str, text: String| {
            std::fs::write(format!("/proc/self/{file}"), text)
                .map_err(|e| format!("writing /proc/self/{file}: {e}"))
        };
        write("setgroups", "deny".into())?;
        write("uid_map", format!("0 {uid} 1"))?;
        write("gid_map", format!("0 {gid} 1"))?;
    }
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::PRIVATE | rustix::mount::MountPropagationFlags::REC,
    )
    .map_err(|e| format!("making / private: {e}"))?;
    Ok(())
}

/// Lowers the soft `RLIMIT_NOFILE` to `limit` and opens `/dev/null` until
/// the table is full, so the next fd-creating call fails with `EMFILE`.
/// Returns the fds that fill the table; dropping them frees it again.
pub fn fill_fd_table(limit: u64) -> Vec<std::fs::File> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let old = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(limit),
            maximum: old.maximum,
        },
    )
    .expect("setrlimit");
    let mut files = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => files.push(f),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => return files,
            Err(e) => panic!("filling the fd table: {e}"),
        }
    }
}

/// Drops every capability by becoming uid/gid 65534 (nobody); skips the
/// test if this process may not change its ids (not root).
pub fn become_nobody() {
    use rustix::process::{Gid, Uid};
    if !rustix::process::geteuid().is_root() {
        return;
    }
    rustix::thread::set_thread_groups(&[]).expect("setgroups");
    let gid = Gid::from_raw(65534);
    let uid = Uid::from_raw(65534);
    rustix::thread::set_thread_res_gid(gid, gid, gid).expect("setresgid");
    rustix::thread::set_thread_res_uid(uid, uid, uid).expect("setresuid");
    assert!(!rustix::process::geteuid().is_root());
    // Changing credentials made the process non-dumpable, which leaves its
    // /proc files (and its children's: uid_map, …) owned by root. A user
    // who logged in as nobody would be dumpable: so is this process.
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::Dumpable)
        .expect("prctl(PR_SET_DUMPABLE)");
}

/// The calling thread's kernel thread id.
pub fn gettid() -> i32 {
    rustix::thread::gettid().as_raw_nonzero().get()
}

/// Waits until thread `tid` of this process is asleep inside syscall `nr`
/// (such as `libc::SYS_read`), reading `/proc/self/task/<tid>/syscall`.
///
/// This is how a test knows that a blocking call really blocks, without
/// sleeping: it panics if the thread is not there within `limit`.
pub fn wait_until_blocked_in(tid: i32, nr: i64, limit: Duration) {
    let path = format!("/proc/self/task/{tid}/syscall");
    let start = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<i64>().ok())
            == Some(nr)
        {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "thread {tid} never blocked in syscall {nr}: {text:?}"
        );
        std::thread::yield_now();
    }
}

/// Waits until `ready()` holds, asking again after each yield, and panics
/// naming `what` if it does not within `limit`.
///
/// For the things the kernel finishes after the call that started them
/// returned (an AIO completion posted from a workqueue, an event queued by
/// another CPU): a test waits, bounded, for what it needs instead of
/// assuming it is there.
pub fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    let mut spins = 0u32;
    while !ready() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        spins += 1;
        if spins < 1000 {
            std::thread::yield_now();
        } else {
            // Past the first thousand looks, back off so as not to burn
            // the core the kernel's worker needs; `ready` is what decides,
            // asked again after each pause.
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// Reads `source` until `done` says what came is enough, waiting at most
/// 100 ms at a time and failing (naming what came) after 10 s: the one
/// "read until a predicate or a limit" of the tests. It reads with
/// `read_events`, as a poll loop should.
pub fn read_until<S: fd_core::EventSource>(
    source: &S,
    mut done: impl FnMut(&[S::Event]) -> bool,
) -> Vec<S::Event>
where
    S::Event: std::fmt::Debug,
{
    let limit = Duration::from_secs(10);
    let mut out = Vec::new();
    let start = std::time::Instant::now();
    while !done(&out) {
        assert!(
            start.elapsed() < limit,
            "gave up after {limit:?}; got {out:?}"
        );
        if source
            .wait_readable(Some(Duration::from_millis(100)))
            .expect("poll")
        {
            source.read_events(&mut out).expect("read_events");
        }
    }
    out
}

/// Everything `source` has now, read without blocking (until it is not
/// readable), failing after 10 s if it never runs dry.
pub fn drain<S: fd_core::EventSource>(source: &S) -> Vec<S::Event>
where
    S::Event: std::fmt::Debug,
{
    let limit = Duration::from_secs(10);
    let mut out = Vec::new();
    let start = std::time::Instant::now();
    while source.wait_readable(Some(Duration::ZERO)).expect("poll") {
        assert!(start.elapsed() < limit, "never ran dry; got {out:?}");
        source.read_events(&mut out).expect("read_events");
    }
    out
}

/// The counts of this process's open eventfds, read from
/// `/proc/self/fdinfo` (which shows a count without taking it), by fd
/// number.
pub fn eventfd_counts() -> Vec<(i32, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let mut counts = Vec::new();
    for entry in dir.flatten() {
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let is_eventfd =
            std::fs::read_link(entry.path()).is_ok_and(|l| l.as_os_str() == "anon_inode:[eventfd]");
        if !is_eventfd {
            continue;
        }
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
        if let Some(n) = info
            .lines()
            .find_map(|l| l.strip_prefix("eventfd-count:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        {
            counts.push((fd, n));
        }
    }
    counts
}

/// A directory of its own under the system temp dir, removed with all it
/// holds when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `butter-<tag>-<pid>-<n>` in the test's scratch directory
    /// (which the harness removes after the test), or in the system temp
    /// dir outside the harness.
    pub fn new(tag: &str) -> TempDir {
        TempDir::new_in(&scratch_base(), tag)
    }

    /// Creates `butter-<tag>-<pid>-<n>` in `base` (such as `/dev/shm`, for
    /// tmpfs), removed when dropped, also when the test fails.
    pub fn new_in(base: &std::path::Path, tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = base.join(format!("butter-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        TempDir { path }
    }

    /// Its path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// A path inside it.
    pub fn join(&self, rel: impl AsRef<std::path::Path>) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Mounts a fresh tmpfs named `name` on `at`, in this test's private mount
/// namespace (a `Namespaces`, `UserNamespace` or `Root` test): it vanishes
/// with the test and never touches the machine.
pub fn mount_tmpfs(name: &str, at: &std::path::Path) {
    rustix::mount::mount(name, at, "tmpfs", rustix::mount::MountFlags::empty(), None)
        .unwrap_or_else(|e| {
            panic!(
                "mount a tmpfs on {} in the private mount namespace: {e}",
                at.display()
            )
        });
}

/// Mounts a fresh tmpfs on `/tmp` in this test's private mount namespace
/// (a `Namespaces` or `UserNamespace` test): scratch space that vanishes
/// with the test and never touches the machine.
pub fn private_tmpfs() -> PathBuf {
    mount_tmpfs("butter-test", std::path::Path::new("/tmp"));
    PathBuf::from("/tmp")
}

/// The paths `program args` opens through `openat`, in order, as
/// `strace -f -e trace=openat` reports them (the program's stdout is
/// discarded); `None` when strace is not installed.
pub fn strace_opens<S: AsRef<std::ffi::OsStr>>(program: &str, args: &[S]) -> Option<Vec<String>> {
    use std::process::{Command, Stdio};
    Command::new("strace").arg("-V").output().ok()?;
    let out = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=openat", "-e", "signal=none"])
        .args(["-o", "/dev/stderr", program])
        .args(args)
        .stdout(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("strace {program}: {e}"));
    assert!(out.status.success(), "strace {program}: {out:?}");
    Some(
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter_map(|l| l.split('"').nth(1).map(str::to_string))
            .collect(),
    )
}

/// Whether this process has exactly one thread (`Threads:` in
/// `/proc/self/status`). With one thread, no other can start another
/// before the caller does, so the answer holds until the caller acts.
pub fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .map(|n| n.trim() == "1")
        })
        .unwrap_or(false)
}

/// Forks a child that runs `body` and `_exit`s with what it returns; the
/// pid, for [`exit_code`]. For a test that runs in the harness's
/// single-threaded forked child (before the test starts threads), so the
/// child is a whole copy and `body` may do anything, allocation included.
///
/// Safe because it checks its precondition rather than trusting the
/// caller: it panics, before forking, unless the process is single
/// threaded ([`single_threaded`]). (An allocating `body` after `fork` in a
/// multithreaded process could deadlock on a lock another thread held.)
#[allow(unsafe_code)]
pub fn fork_child(body: impl FnOnce() -> i32) -> u32 {
    // A thread that was joined has run its last user code, but the kernel
    // may still be tearing its task down (it leaves the thread group a
    // moment after the join returns, later on a busy machine): wait,
    // bounded, for it to go.
    let start = std::time::Instant::now();
    while !single_threaded() && start.elapsed() < Duration::from_secs(5) {
        std::thread::yield_now();
    }
    assert!(
        single_threaded(),
        "fork_child: this process has more than one thread; the child could \
         deadlock in an allocation (run the test in the harness, before it \
         starts threads, and join every thread it started)"
    );
    // SAFETY: the process has one thread (checked above; no other thread
    // exists to start one), so the child holds no lock another thread
    // owned and may allocate; it ends with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = body();
        // SAFETY: ends the child at once, without the harness's exit path.
        unsafe { libc::_exit(code) };
    }
    u32::try_from(pid).expect("fork returned a pid")
}

/// Reaps the child `pid` and returns its exit status (panics if a signal
/// ended it).
pub fn exit_code(pid: u32) -> i32 {
    let pid =
        rustix::process::Pid::from_raw(i32::try_from(pid).expect("a pid")).expect("a positive pid");
    let (_, status) = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
        .expect("waitpid")
        .expect("a status");
    status
        .exit_status()
        .unwrap_or_else(|| panic!("the child did not exit normally: {status:?}"))
}

//! A throwaway container: a new root on a scratch directory with the
//! host's programs bind-mounted read-only, and fresh user, mount, pid, uts
//! and ipc namespaces; no privilege needed where user namespaces are
//! allowed.
//!
//! Run: `cargo run -p ns-sys --example sandbox -- sh` for a shell in it.
//! Without arguments it runs a script that checks what the sandbox
//! promises (pid 1 is our init, root inside is us outside, the host's
//! files are out of sight, `/usr` is read-only) and exits non-zero if one
//! does not hold.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::ExitCode;

use ns_sys::{Bind, ChildStatus, Namespaces, Sandbox};

const CHECKS: &str = r#"
fail() { echo "sandbox: $1" >&2; exit 1; }
[ "$$" = 2 ] || fail "the shell is pid $$, not 2 (pid 1 is the init)"
[ "$(id -u)" = 0 ] || fail "uid inside is $(id -u), not 0"
[ "$(hostname)" = sandbox ] || fail "host name is $(hostname)"
ls / | grep -q host-marker && fail "a host file is visible"
touch /usr/butter-probe 2>/dev/null && fail "/usr is writable"
touch /tmp/ok || fail "/tmp is not writable"
echo x > /dev/null || fail "/dev/null is missing"
echo "sandbox: all promises hold"
"#;

fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let root = std::env::temp_dir().join(format!("butter-sandbox-{}", std::process::id()));
    std::fs::create_dir(&root)?;
    let result = run(&root);
    let _ = std::fs::remove_dir_all(&root);
    result
}

fn run(root: &Path) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut sandbox = Sandbox::new(args.first().map_or("sh", String::as_str));
    if args.is_empty() {
        sandbox.args(["-c", CHECKS]);
        // Something outside the new root that must stay out of sight.
        std::fs::write(root.with_extension("host-marker"), b"")?;
    } else {
        sandbox.args(&args[1..]);
    }
    sandbox
        .unshare(Namespaces::USER | Namespaces::PID | Namespaces::UTS | Namespaces::IPC)
        .root(root)
        .hostname("sandbox")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .bind(Bind {
            source: "/usr".into(),
            target: "/usr".into(),
            read_only: true,
            devices: false,
        });
    // On a merged-/usr system /bin, /lib, … are links into /usr: copy the
    // links; bind the real directories.
    for dir in ["bin", "sbin", "lib", "lib64", "lib32"] {
        let host = Path::new("/").join(dir);
        match std::fs::read_link(&host) {
            Ok(to) => symlink(to, root.join(dir))?,
            Err(_) if host.is_dir() => {
                sandbox.bind(Bind {
                    source: host.clone(),
                    target: host,
                    read_only: true,
                    devices: false,
                });
            }
            Err(_) => {}
        }
    }
    let status = sandbox.spawn()?.wait()?;
    let _ = std::fs::remove_file(root.with_extension("host-marker"));
    if !args.is_empty() {
        return Ok(ExitCode::from(match status {
            ChildStatus::Exited(code) => u8::try_from(code).unwrap_or(1),
            _ => 1,
        }));
    }
    Ok(if status == ChildStatus::Exited(0) {
        ExitCode::SUCCESS
    } else {
        eprintln!("sandbox: the script {status}");
        ExitCode::FAILURE
    })
}

//! ns-sys against the real kernel. Every test runs in a forked child of the
//! fork-per-test harness; the ones that mount, set host names or pivot do
//! so in private namespaces (or in namespaces the sandbox makes), so the
//! machine is never changed. Those that need root say so and skip
//! otherwise; most run both as root and as uid 65534 in a user namespace.

mod cgroup;
mod enter;
mod landlock;
mod mounts;
mod raw;
mod sandbox;

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::Path;

use ns_sys::{Bind, Sandbox};

fn main() -> std::process::ExitCode {
    let tests = [
        // The raw layer.
        butter_tests::test!(Namespaces, raw::host_and_domain_names),
        butter_tests::test!(Isolation, raw::unshare_errors),
        butter_tests::test!(Isolation, raw::namespace_fds),
        butter_tests::test!(Isolation, raw::setns_one_and_many),
        butter_tests::test!(Namespaces, raw::mount_umount_propagation),
        butter_tests::test!(Namespaces, raw::new_mount_api),
        butter_tests::test!(Root, raw::idmapped_mount),
        butter_tests::test!(Namespaces, raw::pivot_root_raw),
        butter_tests::test!(Isolation, raw::raw_pids),
        butter_tests::test!(Isolation, raw::id_maps_root),
        butter_tests::test!(Isolation, raw::id_maps_unprivileged),
        // The sandbox.
        butter_tests::test!(Isolation, sandbox::container_as_root),
        butter_tests::test!(Isolation, sandbox::ignored_signals_are_default_again),
        butter_tests::test!(Isolation, sandbox::new_session_stops_tiocsti),
        butter_tests::test!(Isolation, sandbox::rlimits_as_prlimit),
        butter_tests::test!(Isolation, sandbox::capabilities_kept_and_dropped),
        butter_tests::test!(Isolation, sandbox::root_is_left_as_it_was),
        butter_tests::test!(Isolation, sandbox::container_unprivileged),
        butter_tests::test!(Isolation, sandbox::pid1_without_init),
        butter_tests::test!(Isolation, sandbox::init_reaps_and_forwards),
        butter_tests::test!(Isolation, sandbox::pid1_exit_kills_the_rest),
        butter_tests::test!(Isolation, sandbox::busy_threads),
        butter_tests::test!(Isolation, sandbox::vfork_style_beside_threads),
        butter_tests::test!(Isolation, sandbox::sync_fd_held_by_the_sandbox_alone),
        butter_tests::test!(Isolation, sandbox::closes_unasked_fds),
        butter_tests::test!(Isolation, sandbox::bad_input),
        butter_tests::test!(Isolation, sandbox::failing_steps),
        butter_tests::test!(Isolation, sandbox::stdio_env_cwd),
        butter_tests::test!(Isolation, sandbox::nnp_and_seccomp),
        butter_tests::test!(Isolation, sandbox::death_signal),
        butter_tests::test!(Isolation, sandbox::async_wait),
        butter_tests::test!(Isolation, sandbox::beside_unshare),
        butter_tests::test!(Isolation, sandbox::loopback_beside_bwrap),
        butter_tests::test!(Isolation, cgroup::entered_at_clone_and_nothing_survives),
        butter_tests::test!(Isolation, cgroup::freeze_thaw_and_usage),
        butter_tests::test!(Isolation, cgroup::limits_or_a_clear_refusal),
        butter_tests::test!(Isolation, cgroup::parents_refused),
        butter_tests::test!(Isolation, mounts::bwrap_layout_as_root_and_nobody),
        butter_tests::test!(Isolation, mounts::nothing_written_outside),
        butter_tests::test!(Isolation, mounts::binds_are_nodev_unless_devices),
        butter_tests::test!(Isolation, mounts::overlay_root_writes_nothing_through),
        butter_tests::test!(Isolation, landlock::paths_as_root_and_nobody),
        butter_tests::test!(Isolation, landlock::denial_is_eacces_and_setup_is_free),
        butter_tests::test!(Isolation, landlock::tcp_ports),
        butter_tests::test!(Isolation, landlock::scopes_signals_and_abstract_sockets),
        butter_tests::test!(Isolation, landlock::refusals),
        butter_tests::test!(Isolation, landlock::without_landlock),
        butter_tests::test!(Isolation, landlock::ruleset_reports_what_it_enforces),
        // Entering.
        butter_tests::test!(Isolation, enter::by_pid_root),
        butter_tests::test!(Isolation, enter::by_pid_unprivileged),
        butter_tests::test!(Isolation, enter::by_stub_tools),
        butter_tests::test!(Isolation, enter::errors),
        butter_tests::test!(Isolation, enter::beside_nsenter),
        butter_tests::test!(Isolation, enter::takes_on_the_containers_confinement),
    ];
    butter_tests::run(&tests)
}

/// Whether this process may create a user namespace (it may be refused by
/// policy); the tests that need one skip with the reason otherwise.
pub(crate) fn need_userns() {
    if let Ok(Err(errno)) = probe_userns() {
        butter_tests::skip(&format!(
            "user namespaces are refused here (errno {errno}): see butter doctor"
        ));
    }
}

fn probe_userns() -> std::io::Result<Result<(), i32>> {
    let pid = butter_tests::fork_child(|| match ns_sys::unshare(ns_sys::Namespaces::USER) {
        Ok(()) => 0,
        Err(e) => e.errno(),
    });
    Ok(match butter_tests::exit_code(pid) {
        0 => Ok(()),
        errno => Err(errno),
    })
}

/// Lays out a container root in `root`: the host's `/usr` bound read-only,
/// the merged-/usr links copied (or the real directories bound), and an
/// `/etc` with a passwd and group of our own.
pub(crate) fn container_root(sandbox: &mut Sandbox, root: &Path) {
    sandbox.root(root).bind(Bind {
        source: "/usr".into(),
        target: "/usr".into(),
        read_only: true,
        devices: false,
    });
    for dir in ["bin", "sbin", "lib", "lib64", "lib32"] {
        let host = Path::new("/").join(dir);
        match std::fs::read_link(&host) {
            Ok(to) => {
                if root.join(dir).symlink_metadata().is_err() {
                    symlink(to, root.join(dir)).unwrap();
                }
            }
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
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/group"),
        "root:x:0:\napp:x:1000:\nstaff:x:2000:app\n",
    )
    .unwrap();
    std::fs::write(root.join("inside-marker"), b"in the container").unwrap();
    sandbox
        .env_clear()
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin");
}

/// `key=value` lines of a script's output.
pub(crate) fn fields(out: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect()
}

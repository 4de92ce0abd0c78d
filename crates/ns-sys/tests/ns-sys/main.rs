//! ns-sys against the real kernel. Every test runs in a forked child of the
//! fork-per-test harness; the ones that mount, set host names or pivot do
//! so in private namespaces (or in namespaces the sandbox makes), so the
//! machine is never changed. Those that need root say so and skip
//! otherwise; most run both as root and as uid 65534 in a user namespace.

mod enter;
mod raw;
mod sandbox;

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::Path;

use butter_tests::{Needs, Test};
use ns_sys::{Bind, Sandbox};

fn main() -> std::process::ExitCode {
    use Needs::{Isolation, Namespaces, Root};
    let tests = [
        // The raw layer.
        Test {
            name: "host_and_domain_names",
            needs: Namespaces,
            run: raw::host_and_domain_names,
        },
        Test {
            name: "unshare_errors",
            needs: Isolation,
            run: raw::unshare_errors,
        },
        Test {
            name: "namespace_fds",
            needs: Isolation,
            run: raw::namespace_fds,
        },
        Test {
            name: "setns_one_and_many",
            needs: Isolation,
            run: raw::setns_one_and_many,
        },
        Test {
            name: "mount_umount_propagation",
            needs: Namespaces,
            run: raw::mount_umount_propagation,
        },
        Test {
            name: "new_mount_api",
            needs: Namespaces,
            run: raw::new_mount_api,
        },
        Test {
            name: "idmapped_mount",
            needs: Root,
            run: raw::idmapped_mount,
        },
        Test {
            name: "pivot_root_raw",
            needs: Namespaces,
            run: raw::pivot_root_raw,
        },
        Test {
            name: "raw_pids",
            needs: Isolation,
            run: raw::raw_pids,
        },
        Test {
            name: "id_maps_root",
            needs: Isolation,
            run: raw::id_maps_root,
        },
        Test {
            name: "id_maps_unprivileged",
            needs: Isolation,
            run: raw::id_maps_unprivileged,
        },
        // The sandbox.
        Test {
            name: "sandbox_container_root",
            needs: Isolation,
            run: sandbox::container_as_root,
        },
        Test {
            name: "sandbox_ignored_signals_are_default_again",
            needs: Isolation,
            run: sandbox::ignored_signals_are_default_again,
        },
        Test {
            name: "sandbox_root_is_left_as_it_was",
            needs: Isolation,
            run: sandbox::root_is_left_as_it_was,
        },
        Test {
            name: "sandbox_container_unprivileged",
            needs: Isolation,
            run: sandbox::container_unprivileged,
        },
        Test {
            name: "sandbox_pid1_without_init",
            needs: Isolation,
            run: sandbox::pid1_without_init,
        },
        Test {
            name: "sandbox_init_reaps_and_forwards",
            needs: Isolation,
            run: sandbox::init_reaps_and_forwards,
        },
        Test {
            name: "sandbox_pid1_exit_kills_the_rest",
            needs: Isolation,
            run: sandbox::pid1_exit_kills_the_rest,
        },
        Test {
            name: "sandbox_busy_threads",
            needs: Isolation,
            run: sandbox::busy_threads,
        },
        Test {
            name: "sandbox_closes_unasked_fds",
            needs: Isolation,
            run: sandbox::closes_unasked_fds,
        },
        Test {
            name: "sandbox_bad_input",
            needs: Isolation,
            run: sandbox::bad_input,
        },
        Test {
            name: "sandbox_failing_steps",
            needs: Isolation,
            run: sandbox::failing_steps,
        },
        Test {
            name: "sandbox_stdio_env_cwd",
            needs: Isolation,
            run: sandbox::stdio_env_cwd,
        },
        Test {
            name: "sandbox_nnp_and_seccomp",
            needs: Isolation,
            run: sandbox::nnp_and_seccomp,
        },
        Test {
            name: "sandbox_death_signal",
            needs: Isolation,
            run: sandbox::death_signal,
        },
        Test {
            name: "sandbox_async_wait",
            needs: Isolation,
            run: sandbox::async_wait,
        },
        Test {
            name: "sandbox_beside_unshare",
            needs: Isolation,
            run: sandbox::beside_unshare,
        },
        // Entering.
        Test {
            name: "enter_by_pid_root",
            needs: Isolation,
            run: enter::by_pid_root,
        },
        Test {
            name: "enter_by_pid_unprivileged",
            needs: Isolation,
            run: enter::by_pid_unprivileged,
        },
        Test {
            name: "enter_by_stub_tools",
            needs: Isolation,
            run: enter::by_stub_tools,
        },
        Test {
            name: "enter_errors",
            needs: Isolation,
            run: enter::errors,
        },
        Test {
            name: "enter_beside_nsenter",
            needs: Isolation,
            run: enter::beside_nsenter,
        },
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

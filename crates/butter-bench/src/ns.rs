//! ns-sys rows: spawning `/bin/true` into new namespaces beside `unshare`
//! and a raw C clone, spawning without namespaces beside `posix_spawn` and
//! `std`, entering a running sandbox beside `nsenter`, and the raw
//! `getpid`.

use std::process::Command;
use std::time::Duration;

use butter::ns::{ChildStatus, Enter, Namespaces, Sandbox, Signal};

use crate::c;
use crate::harness::{Plan, Row, interleaved, timed};

const TRUE: &str = "/bin/true";

fn sandbox_ns() -> Namespaces {
    Namespaces::USER | Namespaces::MNT | Namespaces::PID | Namespaces::UTS | Namespaces::IPC
}

fn spawn_ours(n: u64, namespaces: Namespaces) -> Duration {
    timed(|| {
        for _ in 0..n {
            let status = Sandbox::new(TRUE)
                .unshare(namespaces)
                .spawn()
                .expect("spawn")
                .wait()
                .expect("wait");
            assert_eq!(status, ChildStatus::Exited(0));
        }
    })
}

fn run_tool(n: u64, program: &str, args: &[&str]) -> Duration {
    timed(|| {
        for _ in 0..n {
            let status = Command::new(program).args(args).status().expect(program);
            assert!(status.success(), "{program} {args:?}");
        }
    })
}

fn tool_works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

pub(crate) fn rows(plan: &Plan) -> Vec<Row> {
    let n = plan.spawns;
    let per = |s: f64| s * 1e3 / n as f64;
    let mut rows = Vec::new();
    let unshare_args = ["-Urpfm", "--mount-proc", "--uts", "--ipc", TRUE];
    if !tool_works("unshare", &unshare_args) {
        eprintln!("butter-bench: the ns rows need user namespaces and util-linux unshare; skipped");
        return rows;
    }
    // bwrap on the same namespaces, / as it is and a new /proc; it always
    // adds a mount namespace and a tmpfs root it pivots into.
    let bwrap_args = [
        "--unshare-user",
        "--unshare-pid",
        "--unshare-uts",
        "--unshare-ipc",
        "--dev-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        TRUE,
    ];
    let bwrap = tool_works("bwrap", &bwrap_args);
    if !bwrap {
        eprintln!("butter-bench: bwrap is missing or cannot run here; its row is skipped");
    }
    let mut ours = || spawn_ours(n, sandbox_ns());
    let mut c_clone = || {
        let mut ok = false;
        let took = timed(|| ok = c::clone_ns_wait(c"/bin/true", n));
        assert!(ok, "C clone into namespaces failed");
        took
    };
    let mut unshare = || run_tool(n, "unshare", &unshare_args);
    let mut bwrap_run = || run_tool(n, "bwrap", &bwrap_args);
    let m = if bwrap {
        interleaved(
            plan.rounds,
            &mut [&mut ours, &mut c_clone, &mut unshare, &mut bwrap_run],
        )
    } else {
        interleaved(plan.rounds, &mut [&mut ours, &mut c_clone, &mut unshare])
    };
    rows.push(Row {
        name: "spawn→exit /bin/true in new user+mnt+pid+uts+ipc",
        unit: "ms/spawn",
        ours: per(m[0]),
        c: Some(per(m[1])),
        peer: Some(("unshare -Urpfm --mount-proc (the tool)", per(m[2]))),
        higher_is_better: false,
        note: "ours also writes id maps, mounts /proc, runs the init; C does none of it".into(),
    });
    if bwrap {
        rows.push(Row {
            name: "the same spawn beside bwrap",
            unit: "ms/spawn",
            ours: per(m[0]),
            c: Some(per(m[1])),
            peer: Some((
                "bwrap --unshare-{user,pid,uts,ipc} --dev-bind / / --proc /proc",
                per(m[3]),
            )),
            higher_is_better: false,
            note: "same rounds as the row above; bwrap also pivots into a tmpfs root".into(),
        });
    }
    let m = interleaved(
        plan.rounds,
        &mut [
            &mut || spawn_ours(n, Namespaces::empty()),
            &mut || {
                let mut ok = false;
                let took = timed(|| ok = c::posix_spawn_wait(c"/bin/true", n));
                assert!(ok, "C posix_spawn failed");
                took
            },
            &mut || {
                timed(|| {
                    for _ in 0..n {
                        assert!(Command::new(TRUE).status().expect("spawn").success());
                    }
                })
            },
        ],
    );
    rows.push(Row {
        name: "spawn→exit /bin/true, no namespaces",
        unit: "ms/spawn",
        ours: per(m[0]),
        c: Some(per(m[1])),
        peer: Some(("std::process::Command", per(m[2]))),
        higher_is_better: false,
        note: "C is posix_spawn (vfork); ours is clone(CLONE_VM|CLONE_VFORK) with a pidfd".into(),
    });

    // A running "container" to enter.
    let mut target = Sandbox::new("sleep")
        .arg("1000")
        .unshare(sandbox_ns())
        .death_signal(Signal::KILL)
        .spawn()
        .expect("start a sandbox to enter");
    let pid = target.pid().to_string();
    let nsenter_args = ["-a", "-t", &pid, TRUE];
    if tool_works("nsenter", &nsenter_args) {
        let m = interleaved(
            plan.rounds,
            &mut [
                &mut || {
                    timed(|| {
                        for _ in 0..n {
                            let status = Enter::new(target.pid())
                                .root_and_cwd(false, false)
                                .command(TRUE, [""; 0])
                                .status()
                                .expect("enter");
                            assert_eq!(status, ChildStatus::Exited(0));
                        }
                    })
                },
                &mut || run_tool(n, "nsenter", &nsenter_args),
            ],
        );
        rows.push(Row {
            name: "enter every namespace + exit /bin/true",
            unit: "ms/enter",
            ours: per(m[0]),
            c: None,
            peer: Some(("nsenter -a -t PID (the tool)", per(m[1]))),
            higher_is_better: false,
            note: "both fork twice (pid namespace); ours resolves the user in its passwd".into(),
        });
    }
    let _ = target.kill(Signal::KILL);
    let _ = target.wait();

    let calls = plan.getpid_calls;
    let ns_per = |s: f64| s * 1e9 / calls as f64;
    let m = interleaved(
        plan.rounds,
        &mut [
            &mut || {
                timed(|| {
                    let mut sum = 0u64;
                    for _ in 0..calls {
                        sum =
                            sum.wrapping_add(u64::from(std::hint::black_box(butter::ns::getpid())));
                    }
                    std::hint::black_box(sum);
                })
            },
            &mut || {
                timed(|| {
                    std::hint::black_box(c::getpid_loop(calls));
                })
            },
            &mut || {
                timed(|| {
                    let mut sum = 0u64;
                    for _ in 0..calls {
                        sum = sum.wrapping_add(u64::from(std::hint::black_box(std::process::id())));
                    }
                    std::hint::black_box(sum);
                })
            },
        ],
    );
    rows.push(Row {
        name: "getpid as a syscall",
        unit: "ns/call",
        ours: ns_per(m[0]),
        c: Some(ns_per(m[1])),
        peer: Some(("std::process::id (libc getpid)", ns_per(m[2]))),
        higher_is_better: false,
        note: "C is syscall(SYS_getpid)".into(),
    });
    rows
}

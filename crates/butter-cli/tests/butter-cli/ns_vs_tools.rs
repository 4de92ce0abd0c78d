//! `butter run`, `butter enter` and `butter ns` beside util-linux
//! `unshare`, `nsenter` and `lsns`: the same workload through both, the
//! same answers. Everything runs in namespaces these tests make; the
//! "container" is a sleeping sandbox that dies with the test's thread.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use butter::ns::{Namespace, Namespaces, NsFd, Sandbox, Signal};

use crate::{butter, text};

fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        eprintln!("skipped: {tool} is not installed, so the side-by-side comparison cannot run");
    }
    found
}

fn fields(out: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect()
}

/// Whether this machine lets us make a user namespace.
fn userns_allowed() -> bool {
    let ok = Command::new("unshare")
        .args(["-U", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: user namespaces are refused here (butter doctor says why)");
    }
    ok
}

const RUN_SCRIPT: &str = r#"
echo pid=$$
echo uid=$(id -u)
echo gid=$(id -g)
echo uid_map=$(cat /proc/self/uid_map)
echo gid_map=$(cat /proc/self/gid_map)
# Counted by the shell itself (a pipeline's processes come and go as
# they are counted): every process its own /proc shows.
set -- /proc/[0-9]*; echo procs=$#
echo userns_new=$([ "$(readlink /proc/self/ns/user)" != "$OUTER_USER" ] && echo yes)
echo pidns_new=$([ "$(readlink /proc/self/ns/pid)" != "$OUTER_PID" ] && echo yes)
echo utsns_new=$([ "$(readlink /proc/self/ns/uts)" != "$OUTER_UTS" ] && echo yes)
"#;

fn outer(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn run_beside_unshare() {
    if !have("unshare") || !userns_allowed() {
        return;
    }
    let with_env = |cmd: &mut Command| {
        cmd.env("OUTER_USER", outer("user"))
            .env("OUTER_PID", outer("pid"))
            .env("OUTER_UTS", outer("uts"));
    };
    let mut theirs = Command::new("unshare");
    theirs.args([
        "-Urpfm",
        "--mount-proc",
        "--uts",
        "--ipc",
        "sh",
        "-c",
        RUN_SCRIPT,
    ]);
    with_env(&mut theirs);
    let theirs = theirs.output().unwrap();
    assert!(theirs.status.success(), "{}", text(&theirs.stderr));
    // The default set, with the command as pid 1 as unshare -f makes it.
    let mut ours = Command::new(env!("CARGO_BIN_EXE_butter"));
    ours.args(["run", "--no-init", "--", "sh", "-c", RUN_SCRIPT]);
    with_env(&mut ours);
    let ours = ours.output().unwrap();
    assert!(ours.status.success(), "{}", text(&ours.stderr));
    let (theirs, ours) = (fields(&theirs.stdout), fields(&ours.stdout));
    assert_eq!(ours, theirs);
    assert_eq!(ours["pid"], "1");
    assert_eq!(ours["uid"], "0");
    for k in ["userns_new", "pidns_new", "utsns_new"] {
        assert_eq!(ours[k], "yes", "{k}");
    }
}

#[test]
fn run_passes_the_status_through_and_names_errors() {
    if !userns_allowed() {
        return;
    }
    assert_eq!(
        butter(&["run", "--", "sh", "-c", "exit 5"]).status.code(),
        Some(5)
    );
    assert_eq!(
        butter(&["run", "--", "sh", "-c", "kill -9 $$"])
            .status
            .code(),
        Some(137)
    );
    let out = butter(&["run", "--hostname", "box", "--", "hostname"]);
    assert_eq!(text(&out.stdout), "box\n");
    let out = butter(&["run", "--root", "/no/such/root", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the new root /no/such/root"),
        "{}",
        text(&out.stderr)
    );
    let out = butter(&["run", "--", "no-such-program"]);
    assert_eq!(
        out.status.code(),
        Some(127),
        "not found, as unshare says it"
    );
    assert!(
        text(&out.stderr).contains("execve of \"no-such-program\""),
        "{}",
        text(&out.stderr)
    );
    // Usage mistakes: status 2 with the command's usage.
    let out = butter(&["run", "--bind", ":x", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--bind :x"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        butter(&["run", "--ro", "--", "true"]).status.code(),
        Some(2)
    );
}

/// A sleeping "container" with its own namespaces and host name; killed
/// when the test's thread ends.
fn container() -> butter::ns::Child {
    let mut s = Sandbox::new("sleep");
    s.arg("1000")
        .unshare(
            Namespaces::USER
                | Namespaces::PID
                | Namespaces::MNT
                | Namespaces::UTS
                | Namespaces::IPC,
        )
        .hostname("box")
        .death_signal(Signal::KILL);
    s.spawn().unwrap()
}

const ENTER_SCRIPT: &str = r#"
for n in user mnt pid uts ipc net cgroup; do echo "$n=$(readlink /proc/self/ns/$n)"; done
echo host=$(hostname)
echo uid=$(id -u)
echo cwd=$(pwd)
"#;

#[test]
fn enter_beside_nsenter() {
    if !have("nsenter") || !userns_allowed() {
        return;
    }
    let mut target = container();
    let pid = target.pid().to_string();
    let theirs = Command::new("nsenter")
        .args(["-a", "-r", "-w", "-t", &pid, "sh", "-c", ENTER_SCRIPT])
        .output()
        .unwrap();
    assert!(theirs.status.success(), "{}", text(&theirs.stderr));
    let ours = butter(&["enter", &pid, "--", "sh", "-c", ENTER_SCRIPT]);
    assert!(ours.status.success(), "{}", text(&ours.stderr));
    let (theirs, ours) = (fields(&theirs.stdout), fields(&ours.stdout));
    assert_eq!(ours, theirs);
    assert_eq!(ours["host"], "box");
    let uts = NsFd::open(target.pid(), Namespace::Uts)
        .unwrap()
        .id()
        .unwrap();
    assert_eq!(ours["uts"], format!("uts:[{}]", uts.ino));
    // Exit statuses come back.
    assert_eq!(
        butter(&["enter", &pid, "--", "sh", "-c", "exit 9"])
            .status
            .code(),
        Some(9)
    );
    // `butter ns PID` agrees with the kernel about what is shared.
    let out = butter(&["ns", "--json", &pid]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shared = |kind: &str| {
        v["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["type"] == kind)
            .map(|n| n["shared"].as_bool().unwrap())
    };
    assert_eq!(shared("uts"), Some(false));
    assert_eq!(shared("net"), Some(true));
    let table = text(&butter(&["ns", &pid]).stdout);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("uts") && l.ends_with("no")),
        "{table}"
    );
    target.kill(Signal::KILL).unwrap();
    target.wait().unwrap();
}

#[test]
fn enter_by_container_name_and_errors() {
    if !userns_allowed() {
        return;
    }
    let mut target = container();
    let bin = std::env::temp_dir().join(format!("butter-cli-stub-docker-{}", std::process::id()));
    std::fs::create_dir_all(&bin).unwrap();
    let docker = bin.join("docker");
    std::fs::write(
        &docker,
        format!(
            "#!/bin/sh\n[ \"$4\" = box ] && {{ echo {}; exit 0; }}\necho \"Error: No such object: $4\" >&2\nexit 1\n",
            target.pid()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_butter"))
            .args(args)
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    let out = run(&["enter", "--docker", "box", "--", "hostname"]);
    assert_eq!(text(&out.stdout), "box\n", "{}", text(&out.stderr));
    let out = run(&["enter", "--docker", "nope", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("No such object: nope"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["enter", "--podman", "box"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("podman is not installed"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(&bin).unwrap();
    // Usage mistakes exit 2; a process that does not exist, 1.
    assert_eq!(butter(&["enter"]).status.code(), Some(2));
    assert_eq!(butter(&["enter", "abc"]).status.code(), Some(2));
    let out = butter(&["enter", "-n", "bogus", &target.pid().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown namespace \"bogus\""),
        "{}",
        text(&out.stderr)
    );
    let out = butter(&["enter", "4194000", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no process 4194000"),
        "{}",
        text(&out.stderr)
    );
    target.kill(Signal::KILL).unwrap();
    target.wait().unwrap();
}

/// `butter aio-bench` beside fio on the same small job: both run it and
/// report IOPS; the same fixed jobs (a count of reads or writes, direct or
/// buffered) report the same operations and bytes in both, and the file
/// fio reads is the one ours made; bad arguments are usage errors.
#[test]
fn aio_bench_beside_fio() {
    let dir = crate::scratch("aio-bench");
    let file = dir.join("job");
    let f = file.to_str().unwrap();
    let out = butter(&[
        "aio-bench",
        f,
        "--size",
        "1M",
        "--bs",
        "4k",
        "--iodepth",
        "4",
        "--runtime",
        "0.3",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["ios"].as_u64().unwrap() > 0);
    assert!(v["iops"].as_f64().unwrap() > 0.0);
    assert!(v["clat_ns"]["p99"].as_u64().unwrap() >= v["clat_ns"]["p50"].as_u64().unwrap());
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        1 << 20,
        "the file was made"
    );
    let out = butter(&[
        "aio-bench",
        f,
        "--size",
        "1M",
        "--rw",
        "randrw",
        "--runtime",
        "0.2",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("IOPS="), "{}", text(&out.stdout));
    if have("fio") {
        let fio = Command::new("fio")
            .args([
                "--name=j",
                "--ioengine=libaio",
                "--rw=randread",
                "--bs=4k",
                "--iodepth=4",
            ])
            .args([
                "--size=1M",
                "--runtime=0.3",
                "--time_based",
                "--output-format=json",
            ])
            .arg(format!("--filename={f}"))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&fio.stdout).unwrap();
        assert!(v["jobs"][0]["read"]["iops"].as_f64().unwrap() > 0.0);
        // Fixed work: both must report what was asked, no more, no less.
        for (rw, fio_rw, side, direct) in [
            ("write", "write", "write", true),
            ("read", "read", "read", true),
            ("randread", "randread", "read", false),
        ] {
            let mut ours = vec![
                "aio-bench",
                f,
                "--rw",
                rw,
                "--bs",
                "64k",
                "--size",
                "1M",
                "--iodepth",
                "4",
                "--number-ios",
                "12",
                "--runtime",
                "60",
                "--json",
            ];
            if direct {
                ours.push("--direct");
            }
            let out = butter(&ours);
            assert!(out.status.success(), "{rw}: {}", text(&out.stderr));
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let theirs = Command::new("fio")
                .args(["--name=j", "--ioengine=libaio", "--bs=64k", "--iodepth=4"])
                .args(["--size=1M", "--number_ios=12", "--output-format=json"])
                .arg(format!("--rw={fio_rw}"))
                .arg(format!("--direct={}", u8::from(direct)))
                .arg(format!("--filename={f}"))
                .output()
                .unwrap();
            assert!(theirs.status.success(), "{}", text(&theirs.stderr));
            let fv: serde_json::Value = serde_json::from_slice(&theirs.stdout).unwrap();
            let job = &fv["jobs"][0][side];
            assert_eq!(
                (v["ios"].as_u64(), v["bytes"].as_u64()),
                (job["total_ios"].as_u64(), job["io_bytes"].as_u64()),
                "{rw}: ours {v} beside fio's {job}"
            );
            assert_eq!(v["ios"].as_u64(), Some(12), "{rw}");
            assert_eq!(v["bytes"].as_u64(), Some(12 * 65536), "{rw}");
        }
    }
    for bad in [
        ["--rw", "sideways"],
        ["--bs", "100"],
        ["--iodepth", "0"],
        ["--runtime", "-1"],
        ["--number-ios", "0"],
    ] {
        let out = butter(&["aio-bench", f, bad[0], bad[1]]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out.stderr));
    }
    let out = butter(&["aio-bench", "/no/such/dir/file", "--runtime", "0.1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/no/such/dir/file"),
        "{}",
        text(&out.stderr)
    );
}

/// `butter aio-bench` never lengthens or writes into a file it did not lay
/// out itself unless told to: a fio job file given by mistake stays as it
/// was; a write job on someone's existing file needs `--overwrite`; a file
/// it made (marked with an attribute) may be reused for anything.
#[test]
fn aio_bench_leaves_existing_files_alone() {
    let dir = crate::scratch("aio-bench-safe");
    let job = dir.join("job.fio");
    let text_before = "[global]\nioengine=libaio\n[j]\nrw=randread\n";
    std::fs::write(&job, text_before).unwrap();
    let j = job.to_str().unwrap();
    // The default --size (256M) is longer than the file: refused, untouched.
    let out = butter(&["aio-bench", j, "--runtime", "0.1"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr).contains("lengthens only a file it made"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&job).unwrap(), text_before);
    // Someone's 1 MiB of data: reads run, a write job is refused without
    // --overwrite, and the data is the same after both.
    let data_file = dir.join("data");
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(&data_file, &data).unwrap();
    let d = data_file.to_str().unwrap();
    let common = ["--size", "1M", "--number-ios", "50", "--runtime", "10"];
    let mut read = vec!["aio-bench", d, "--rw", "randread"];
    read.extend(common);
    assert!(butter(&read).status.success());
    for rw in ["write", "randwrite", "randrw"] {
        let mut args = vec!["aio-bench", d, "--rw", rw];
        args.extend(common);
        let out = butter(&args);
        assert_eq!(out.status.code(), Some(1), "{rw}: {out:?}");
        assert!(
            text(&out.stderr).contains("--overwrite"),
            "{}",
            text(&out.stderr)
        );
    }
    assert!(
        std::fs::read(&data_file).unwrap() == data,
        "the data is untouched"
    );
    // Asked in so many words: it writes.
    let mut args = vec!["aio-bench", d, "--rw", "write", "--overwrite"];
    args.extend(common);
    assert!(butter(&args).status.success());
    // A file of its own: made, then written and lengthened by later runs.
    let own = dir.join("own");
    let o = own.to_str().unwrap();
    assert!(
        butter(&["aio-bench", o, "--size", "64k", "--number-ios", "5"])
            .status
            .success()
    );
    let out = butter(&[
        "aio-bench",
        o,
        "--size",
        "128k",
        "--rw",
        "write",
        "--number-ios",
        "5",
    ]);
    if rustix::fs::getxattr(&own, "user.butter.aio-bench", &mut [0u8; 4]).is_err() {
        eprintln!(
            "partly skipped: aio_bench_leaves_existing_files_alone: {} keeps no user attributes, so a file aio-bench made is not known as its own",
            dir.display()
        );
        return;
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::metadata(&own).unwrap().len(), 128 << 10);
}

/// Latencies take fixed memory: twenty times the IOs, the same peak
/// resident size within 1 MiB (8 bytes per IO kept them before: 1.6 MB
/// more for 200,000 IOs, and up to twice that as the vector grew).
#[test]
fn aio_bench_memory_does_not_grow_with_the_run() {
    let dir = crate::scratch("aio-bench-mem");
    let f = dir.join("f");
    let f = f.to_str().unwrap();
    let rss = |ios: &str| {
        let out = butter(&[
            "aio-bench",
            f,
            "--size",
            "1M",
            "--bs",
            "4k",
            "--iodepth",
            "16",
            "--number-ios",
            ios,
            "--runtime",
            "120",
            "--json",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["ios"].as_u64(), ios.parse().ok());
        v["max_rss_kib"].as_u64().unwrap()
    };
    let small = rss("10000");
    let large = rss("200000");
    assert!(small > 0);
    assert!(
        large < small + 1024,
        "peak RSS {small} KiB for 10k IOs, {large} KiB for 200k"
    );
}

/// The synopsis as the README and `--help` write it, and other orders:
/// options after the PID and before `--` are options, not the command.
#[test]
fn enter_takes_options_in_any_order_before_the_command() {
    if !userns_allowed() {
        return;
    }
    let mut target = container();
    let pid = target.pid().to_string();
    let p = pid.as_str();
    for args in [
        vec!["enter", p, "--user", "root", "--", "id", "-u"],
        vec!["enter", "--user", "root", p, "--", "id", "-u"],
        vec!["enter", p, "--user", "root", "id", "-u"],
        vec!["enter", "--user=root", p, "id", "-u"],
    ] {
        let out = butter(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), "0", "{args:?}");
    }
    for args in [
        vec!["enter", p, "-n", "uts", "--", "hostname"],
        vec!["enter", "-n", "uts", p, "hostname"],
        vec!["enter", p, "--ns", "uts", "hostname"],
        vec!["enter", p, "-n", "uts,mnt", "--", "hostname"],
    ] {
        let out = butter(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), "box", "{args:?}");
    }
    // From the command's name on, every word is the command's.
    let out = butter(&["enter", p, "sh", "-c", "echo --user -n"]);
    assert_eq!(
        text(&out.stdout).trim(),
        "--user -n",
        "{}",
        text(&out.stderr)
    );
    // An option butter does not have is a usage error, never a command.
    let out = butter(&["enter", p, "--map-user=1000", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--map-user"),
        "{}",
        text(&out.stderr)
    );
    target.kill(Signal::KILL).unwrap();
    target.wait().unwrap();
}

/// Unknown options are usage errors (status 2) in every command that runs
/// another: they were run as the command (`--map-user=1000`) or looked up
/// through all of PATH (`-p`).
#[test]
fn unknown_options_are_usage_errors_not_commands() {
    for args in [
        &["run", "--map-user=1000", "--", "id"][..],
        &["run", "-r", "--bogus", "true"],
        &["seccomp", "trace", "-p", "1"],
        &["seccomp", "run", "--deny", "openat", "-x", "--", "true"],
    ] {
        let out = butter(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("unexpected argument"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // After `--` (or the command's name), hyphens are the command's.
    let out = butter(&[
        "seccomp",
        "run",
        "--default",
        "allow",
        "--",
        "sh",
        "-c",
        "echo -p",
    ]);
    assert_eq!(text(&out.stdout).trim(), "-p", "{}", text(&out.stderr));
}

/// A command that is not there: 127; there but not executable: 126; as
/// `unshare`, `nsenter` and `env` give them.
#[test]
fn command_not_found_127_not_executable_126() {
    let dir = crate::scratch("exit-126");
    let script = dir.join("not-executable");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let script = script.to_str().unwrap();
    let missing = "no-such-command-xyz";
    let status = |args: &[&str]| butter(args).status.code();
    let env = |cmd: &str| Command::new("env").arg(cmd).output().unwrap().status.code();
    assert_eq!((env(missing), env(script)), (Some(127), Some(126)));
    for (cmd, want) in [(missing, 127), (script, 126)] {
        assert_eq!(
            status(&["seccomp", "run", "--default", "allow", "--", cmd]),
            Some(want),
            "seccomp run {cmd}"
        );
        assert_eq!(
            status(&["seccomp", "trace", "--", cmd]),
            Some(want),
            "seccomp trace {cmd}"
        );
        if userns_allowed() {
            assert_eq!(status(&["run", "-r", "--", cmd]), Some(want), "run {cmd}");
            if have("unshare") {
                let theirs = Command::new("unshare").args(["-r", cmd]).output().unwrap();
                assert_eq!(theirs.status.code(), Some(want), "unshare -r {cmd}");
            }
            let mut target = container();
            let pid = target.pid().to_string();
            assert_eq!(
                status(&["enter", &pid, "--", cmd]),
                Some(want),
                "enter {cmd}"
            );
            target.kill(Signal::KILL).unwrap();
            target.wait().unwrap();
        }
    }
}

/// `--new-session`, `--rlimit`, `--no-new-privs`, in either order: the
/// command is its own session leader (session 1 as pid 1; without the
/// option its session leader is outside its pid namespace, so 0), starts
/// with the limits asked for and with no_new_privs set.
#[test]
fn run_session_limits_and_privs() {
    if !userns_allowed() {
        return;
    }
    let sid = "read pid comm state ppid pgrp sid rest < /proc/self/stat; echo sid=$sid";
    let out = butter(&["run", "--new-session", "--no-init", "--", "sh", "-c", sid]);
    assert_eq!(text(&out.stdout), "sid=1\n", "{}", text(&out.stderr));
    let out = butter(&["run", "--no-init", "--", "sh", "-c", sid]);
    assert_eq!(text(&out.stdout), "sid=0\n", "{}", text(&out.stderr));

    let script = "ulimit -n; ulimit -Hn; ulimit -c; grep NoNewPrivs /proc/self/status";
    let want = "64\n128\n0\nNoNewPrivs:\t1\n";
    for args in [
        &[
            "run",
            "--rlimit",
            "nofile=64:128",
            "--rlimit",
            "core=0",
            "--no-new-privs",
            "--die-with-parent",
            "--",
        ][..],
        &[
            "run",
            "--die-with-parent",
            "--no-new-privs",
            "--rlimit=core=0",
            "--rlimit=NOFILE=64:128",
            "--",
        ][..],
    ] {
        let mut all = args.to_vec();
        all.extend(["sh", "-c", script]);
        let out = butter(&all);
        assert_eq!(text(&out.stdout), want, "{all:?}: {}", text(&out.stderr));
    }
    for (bad, says) in [
        ("files=1", "nofile"),
        ("nofile=many", "not a number"),
        ("nofile", "NAME=SOFT[:HARD]"),
    ] {
        let out = butter(&["run", "--rlimit", bad, "--", "true"]);
        assert_eq!(out.status.code(), Some(2), "--rlimit {bad}");
        assert!(
            text(&out.stderr).contains(says),
            "--rlimit {bad}: {}",
            text(&out.stderr)
        );
    }
    let out = butter(&["run", "--rlimit", "nofile=100:10", "--", "true"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("over the hard limit"),
        "{}",
        text(&out.stderr)
    );
}

/// `--die-with-parent`: when butter is killed (SIGKILL, no cleanup of its
/// own), the command dies too, as under bwrap --die-with-parent.
#[test]
fn run_die_with_parent() {
    use std::io::BufRead;
    if !userns_allowed() {
        return;
    }
    let mut butter = Command::new(env!("CARGO_BIN_EXE_butter"))
        .args([
            "run",
            "--die-with-parent",
            "--no-init",
            "--",
            "sh",
            "-c",
            "echo ready; exec sleep 1000",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(butter.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    let pid = butter.id();
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
    let child: u32 = children
        .split_whitespace()
        .next()
        .expect("the command")
        .parse()
        .unwrap();
    butter.kill().unwrap();
    butter.wait().unwrap();
    // Gone, or a zombie waiting for whoever reaps orphans here.
    butter_tests::wait_for(
        "the command killed with butter",
        std::time::Duration::from_secs(10),
        || {
            std::fs::read_to_string(format!("/proc/{child}/stat")).map_or(true, |s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            })
        },
    );
}

/// `--cap-drop`/`--cap-add` as bwrap's, and `--sandbox` (no capabilities,
/// a new session, no_new_privs); without them root inside keeps every
/// capability over its namespace, as under `unshare -r`.
#[test]
fn run_capabilities_and_the_sandbox_preset() {
    if !userns_allowed() {
        return;
    }
    let caps = "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; read p c s pp pg sid r < /proc/self/stat; echo sid=$sid";
    let line = |out: &std::process::Output, key: &str| -> String {
        text(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {key} in {}", text(&out.stdout)))
    };
    let plain = butter(&["run", "--no-init", "--", "sh", "-c", caps]);
    assert_ne!(line(&plain, "CapEff:"), "0000000000000000");
    let sandbox = butter(&["run", "--sandbox", "--no-init", "--", "sh", "-c", caps]);
    assert_eq!(
        line(&sandbox, "CapEff:"),
        "0000000000000000",
        "{}",
        text(&sandbox.stderr)
    );
    assert_eq!(line(&sandbox, "CapBnd:"), "0000000000000000");
    assert_eq!(line(&sandbox, "NoNewPrivs:"), "1");
    assert_eq!(line(&sandbox, "sid="), "1");
    for args in [
        &[
            "run",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "CAP_NET_ADMIN",
            "--no-init",
            "--",
        ][..],
        &[
            "run",
            "--no-init",
            "--cap-add=net_admin",
            "--cap-drop=all",
            "--",
        ][..],
        &["run", "--sandbox", "--cap-add", "12", "--no-init", "--"][..],
    ] {
        let mut all = args.to_vec();
        all.extend(["sh", "-c", caps]);
        let out = butter(&all);
        assert_eq!(
            line(&out, "CapEff:"),
            "0000000000001000",
            "{all:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(line(&out, "CapBnd:"), "0000000000001000", "{all:?}");
    }
    let out = butter(&["run", "--cap-add", "flying", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("\"flying\""),
        "{}",
        text(&out.stderr)
    );
}

/// The host's program directories as `--landlock-rox` options.
fn landlock_programs() -> Vec<String> {
    ["/usr", "/bin", "/lib", "/lib64"]
        .iter()
        .filter(|d| std::path::Path::new(d).exists())
        .flat_map(|d| ["--landlock-rox".to_owned(), (*d).to_owned()])
        .collect()
}

/// `--landlock-*`: the paths given, each with its rights, and nothing
/// else; options in either order; a kernel refusal or a bad path is exit 1
/// naming it, a port that is not one exit 2.
#[test]
fn run_landlock_paths_ports_and_errors() {
    if !userns_allowed() {
        return;
    }
    if butter::ns::landlock::abi() == 0 {
        eprintln!("skipped: this kernel has no Landlock");
        return;
    }
    let dir = crate::scratch("run-landlock");
    let (ro, rw) = (dir.join("ro"), dir.join("rw"));
    std::fs::create_dir(&ro).unwrap();
    std::fs::create_dir(&rw).unwrap();
    std::fs::write(ro.join("f"), b"ro data\n").unwrap();
    std::fs::write(dir.join("secret"), b"secret\n").unwrap();
    let script = format!(
        "cat {ro}/f; echo x > {rw}/new && echo wrote; echo x > {ro}/new || echo ro-denied; \
         cat {secret} || echo secret-denied",
        ro = ro.display(),
        rw = rw.display(),
        secret = dir.join("secret").display()
    );
    let mut progs = landlock_programs();
    progs.extend(["--landlock-rw".into(), "/dev/null".into()]);
    let (ro_s, rw_s) = (ro.to_str().unwrap(), rw.to_str().unwrap());
    let orders: [Vec<&str>; 2] = [
        ["run", "--landlock-ro", ro_s, "--landlock-rw", rw_s].to_vec(),
        ["run", "--landlock-rw", rw_s, "-U", "--landlock-ro", ro_s].to_vec(),
    ];
    for order in orders {
        let mut args: Vec<&str> = order.clone();
        args.extend(progs.iter().map(String::as_str));
        args.extend(["--", "sh", "-c", &script]);
        let out = butter(&args);
        assert_eq!(
            text(&out.stdout),
            "ro data\nwrote\nro-denied\nsecret-denied\n",
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("Permission denied"),
            "{}",
            text(&out.stderr)
        );
        std::fs::remove_file(rw.join("new")).unwrap();
    }
    // A path that is not there: exit 1, named.
    let out = butter(&["run", "--landlock-ro", "/nonexistent/ll", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/nonexistent/ll"),
        "{}",
        text(&out.stderr)
    );
    // Not a port, and best effort with nothing to be best at: usage errors.
    for bad in [
        &["run", "--landlock-connect-tcp", "http", "--", "true"][..],
        &["run", "--landlock-bind-tcp", "70000", "--", "true"][..],
        &["run", "--landlock-best-effort", "--", "true"][..],
    ] {
        let out = butter(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out.stderr));
    }
    if butter::ns::landlock::abi() < 4 || !have("bash") {
        eprintln!("partly skipped: TCP rules need Landlock ABI 4 and bash's /dev/tcp");
        return;
    }
    // TCP: the allowed port connects, another is the kernel's EACCES.
    let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = |l: &std::net::TcpListener| l.local_addr().unwrap().port().to_string();
    let (p1, p2) = (port(&open), port(&other));
    let script = format!(
        "(echo > /dev/tcp/127.0.0.1/{p1}) && echo allowed=connected; \
         (echo > /dev/tcp/127.0.0.1/{p2}) 2>&1 | grep -q 'Permission denied' && echo other=denied"
    );
    let out = butter(&[
        "run",
        "-U",
        "--landlock-connect-tcp",
        &p1,
        "--",
        "bash",
        "-c",
        &script,
    ]);
    assert_eq!(
        text(&out.stdout),
        "allowed=connected\nother=denied\n",
        "{}",
        text(&out.stderr)
    );
}

/// `--sandbox` scopes signals (Linux 6.12+): the command cannot signal the
/// test process outside, though its own children it can.
#[test]
fn run_sandbox_cannot_signal_outside() {
    if !userns_allowed() {
        return;
    }
    let me = std::process::id().to_string();
    let script = format!(
        "kill -0 {me} 2>/dev/null && echo outside=signalled || echo outside=denied; \
         sleep 100 & kill $! && echo inside=signalled"
    );
    let plain = butter(&["run", "-U", "--", "sh", "-c", &script]);
    assert_eq!(
        text(&plain.stdout),
        "outside=signalled\ninside=signalled\n",
        "{}",
        text(&plain.stderr)
    );
    let out = butter(&["run", "-U", "--sandbox", "--", "sh", "-c", &script]);
    if butter::ns::landlock::abi() >= 6 {
        assert_eq!(
            text(&out.stdout),
            "outside=denied\ninside=signalled\n",
            "{}",
            text(&out.stderr)
        );
    } else {
        eprintln!("partly skipped: Landlock scopes need ABI 6");
        assert!(text(&out.stderr).contains("ABI 6"), "{}", text(&out.stderr));
    }
}

/// `--seccomp FILE` takes a rule file, a Docker/OCI profile and raw BPF,
/// and means what bwrap's `--seccomp FD` means with the same BPF: the same
/// exit status and message from the same program.
#[test]
fn run_seccomp_file_beside_bwrap() {
    if !userns_allowed() {
        return;
    }
    let dir = crate::scratch("run-seccomp");
    let rules = dir.join("deny-uname.rules");
    std::fs::write(&rules, "errno(EPERM) uname\n").unwrap();
    let profile = dir.join("deny-uname.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["uname"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
    )
    .unwrap();
    let bpf = dir.join("deny-uname.bpf");
    let out = butter(&[
        "seccomp",
        "compile",
        "-o",
        bpf.to_str().unwrap(),
        rules.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut seen = Vec::new();
    for file in [&rules, &profile, &bpf] {
        let f = file.to_str().unwrap();
        for args in [
            &["run", "--seccomp", f, "--", "uname"][..],
            &["run", "-U", "--no-new-privs", "--seccomp", f, "uname"][..],
        ] {
            let out = butter(args);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{args:?}: {}",
                text(&out.stderr)
            );
            assert!(
                text(&out.stderr).contains("Operation not permitted"),
                "{args:?}: {}",
                text(&out.stderr)
            );
            seen.push((out.status.code(), text(&out.stderr)));
        }
    }
    // Errors: a missing file and one that is no filter, exit 2 naming it.
    for (bad, says) in [
        ("/nonexistent/f.rules", "/nonexistent/f.rules"),
        ("/etc/hostname", "hostname"),
    ] {
        let out = butter(&["run", "--seccomp", bad, "--", "true"]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(says),
            "{bad}: {}",
            text(&out.stderr)
        );
    }
    if !have("bwrap") {
        return;
    }
    let theirs = Command::new("sh")
        .args([
            "-c",
            "exec bwrap --unshare-user --dev-bind / / --seccomp 9 uname 9<\"$0\"",
            bpf.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(theirs.status.code(), seen[0].0, "{}", text(&theirs.stderr));
    assert_eq!(text(&theirs.stderr), seen[0].1);
}

/// bwrap's filesystem options, written as a bwrap user writes them (the
/// same words, the same order), through both tools: the same layout,
/// field by field. `--size` and `--perms` apply to the next option only.
#[test]
fn run_filesystem_options_beside_bwrap() {
    if !userns_allowed() {
        return;
    }
    let dir = crate::scratch("run-fsopts");
    let data = dir.join("data");
    std::fs::write(&data, "from fd 9\n").unwrap();
    let opts = "--tmpfs /mnt --perms 0700 --dir /mnt/a --dir /mnt/a/b --symlink /mnt/a /mnt/l \
                --perms 0640 --ro-bind-data 9 /mnt/f --file 8 /mnt/g --size 1048576 --tmpfs /mnt/t \
                --remount-ro /mnt/t --chmod 0711 /mnt/a --ro-bind /etc /mnt/etc";
    let look = "stat -c '%n %a %F' /mnt /mnt/a /mnt/a/b /mnt/l /mnt/f /mnt/g /mnt/t; \
                readlink /mnt/l; cat /mnt/f /mnt/g; \
                if touch /mnt/t/x 2>/dev/null; then echo t=rw; else echo t=ro; fi; \
                if (echo >> /mnt/f) 2>/dev/null; then echo f=rw; else echo f=ro; fi; \
                if touch /mnt/etc/x 2>/dev/null; then echo etc=rw; else echo etc=ro; fi; \
                grep ' /mnt/t ' /proc/self/mountinfo | grep -o 'size=[^,]*'";
    // Each data option reads its own fd (bwrap closes one once read).
    let run = |tool: &str, base: &str, end: &str| {
        let script = format!("exec {tool} {base} {opts} {end} sh -c \"$0\" 9<\"$1\" 8<\"$1\"");
        Command::new("sh")
            .args(["-c", &script, look, data.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let ours = run(env!("CARGO_BIN_EXE_butter"), "run -U", "--");
    assert!(ours.status.success(), "{}", text(&ours.stderr));
    let want = "/mnt 755 directory\n/mnt/a 711 directory\n/mnt/a/b 755 directory\n\
                /mnt/l 777 symbolic link\n/mnt/f 640 regular file\n/mnt/g 666 regular file\n\
                /mnt/t 755 directory\n/mnt/a\nfrom fd 9\nfrom fd 9\nt=ro\nf=ro\netc=ro\n\
                size=1024k\n";
    assert_eq!(text(&ours.stdout), want, "{}", text(&ours.stderr));
    if !have("bwrap") {
        return;
    }
    let theirs = run("bwrap", "--unshare-user --dev-bind / / --proc /proc", "");
    assert!(theirs.status.success(), "{}", text(&theirs.stderr));
    assert_eq!(text(&theirs.stdout), text(&ours.stdout));
}

/// What bwrap refuses about `--size` and `--perms`, and fds and modes that
/// are not ones: usage errors naming the option.
#[test]
fn run_filesystem_option_errors() {
    for (args, says) in [
        (
            &["run", "--perms", "0700", "--", "true"][..],
            "--perms 0700 must be followed",
        ),
        (
            &["run", "--size", "1k", "--dir", "/tmp", "--", "true"][..],
            "--size 1k must be followed",
        ),
        (
            &["run", "--size", "lots", "--tmpfs", "/mnt", "--", "true"][..],
            "--size lots",
        ),
        (
            &["run", "--perms", "999", "--tmpfs", "/mnt", "--", "true"][..],
            "--perms 999",
        ),
        (
            &[
                "run",
                "--overlay-src",
                "/usr",
                "--tmpfs",
                "/mnt",
                "--",
                "true",
            ][..],
            "--overlay-src must be followed by another --overlay-src or one of",
        ),
        (
            &["run", "--overlay-src", "/usr", "--", "true"][..],
            "--overlay-src must be followed",
        ),
        (
            &[
                "run",
                "--overlay-src",
                "/usr",
                "--ro-overlay",
                "/mnt",
                "--",
                "true",
            ][..],
            "--ro-overlay requires at least two --overlay-src",
        ),
        (
            &["run", "--tmp-overlay", "/mnt", "--", "true"][..],
            "--tmp-overlay requires at least one --overlay-src",
        ),
        (
            &["run", "--overlay", "/a", "/b", "/mnt", "--", "true"][..],
            "--overlay requires at least one --overlay-src",
        ),
        (
            &["run", "--chmod", "rwx", "/mnt", "--", "true"][..],
            "--chmod rwx",
        ),
        (
            &["run", "--file", "77", "/mnt/f", "--", "true"][..],
            "fd 77",
        ),
        (
            &["run", "--file", "x", "/mnt/f", "--", "true"][..],
            "not an fd",
        ),
        (&["run", "--symlink", "/a", "--", "true"][..], "SRC"),
    ] {
        let out = butter(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // Outside a tmpfs of its own, nothing is made in your files: exit 1,
    // naming the path.
    let out = butter(&["run", "--dir", "/nonexistent-butter/x", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/nonexistent-butter"),
        "{}",
        text(&out.stderr)
    );
    assert!(!std::path::Path::new("/nonexistent-butter").exists());
}

/// `--info-fd`, `--json-status-fd` and `--block-fd` as bwrap's: the same
/// keys, the same exit code; the command held until the byte comes.
#[test]
fn run_info_status_and_block_fds_beside_bwrap() {
    if !userns_allowed() {
        return;
    }
    let dir = crate::scratch("run-fds");
    let (info, status) = (dir.join("info.json"), dir.join("status.json"));
    let run = |tool: &str, opts: &str| {
        let script = format!(
            "exec {tool} {opts} --info-fd 3 --json-status-fd 4 sh -c 'exit 3' 3>\"$0\" 4>\"$1\""
        );
        let out = Command::new("sh")
            .args([
                "-c",
                &script,
                info.to_str().unwrap(),
                status.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&info).unwrap()).unwrap();
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&status)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (out.status.code(), info, lines)
    };
    let butter_bin = env!("CARGO_BIN_EXE_butter");
    let (code, info_v, lines) = run(&format!("{butter_bin} run -U -p -n -i -u"), "");
    assert_eq!(code, Some(3));
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&info_v),
        [
            "child-pid",
            "ipc-namespace",
            "net-namespace",
            "pid-namespace",
            "uts-namespace"
        ]
    );
    assert!(info_v["child-pid"].as_u64().unwrap() > 1);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(keys(&lines[0]), keys(&info_v));
    assert_eq!(lines[1]["exit-code"], 3);
    if have("bwrap") {
        let (code_b, info_b, lines_b) = run(
            "bwrap --unshare-user --unshare-pid --unshare-net --unshare-ipc --unshare-uts --dev-bind / /",
            "",
        );
        assert_eq!(code_b, code);
        // bwrap adds its mount namespace (it always makes one).
        let mut want = keys(&info_v);
        want.push("mnt-namespace".into());
        want.sort();
        assert_eq!(keys(&info_b), want);
        assert_eq!(lines_b[1], serde_json::json!({ "exit-code": 3 }));
    }
    // --block-fd: the child exists (its pid is written) but has not run
    // the command until a byte is written; then it does.
    let (block_r, block_w) = rustix::pipe::pipe().unwrap();
    let (info_r, info_w) = rustix::pipe::pipe().unwrap();
    use std::io::{BufRead, Write};
    use std::os::fd::AsRawFd;
    let (ifd, bfd) = (info_w, block_r);
    // A shell moves our two pipe ends to 5 and 6 for butter; they reach it
    // only without close-on-exec, cleared for this one spawn's sake.
    butter::fd_core::set_cloexec(&ifd, false).unwrap();
    butter::fd_core::set_cloexec(&bfd, false).unwrap();
    let script = format!(
        "exec \"$0\" run -U --info-fd 5 --block-fd 6 -- sh -c 'echo started' 5>&{} 6<&{}",
        ifd.as_raw_fd(),
        bfd.as_raw_fd()
    );
    // bash, not sh: dash takes only one-digit fds in `5>&N`, and a test
    // process running others beside it has fds past 9.
    let child = Command::new("bash")
        .args(["-c", &script, butter_bin])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop((ifd, bfd));
    let mut info_line = String::new();
    let mut reader = std::io::BufReader::new(std::fs::File::from(info_r));
    while !info_line.contains('}') {
        assert!(reader.read_line(&mut info_line).unwrap() > 0, "{info_line}");
    }
    let v: serde_json::Value = serde_json::from_str(&info_line).unwrap();
    let pid = v["child-pid"].as_u64().unwrap();
    // Held: still butter's own image, not the shell.
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(exe.to_string_lossy().contains("butter"), "{exe:?}");
    std::fs::File::from(block_w).write_all(b"x").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(text(&out.stdout), "started\n");
}

/// `--new-cgroup`: the command's own cgroup; a daemon it leaves behind
/// (no pid namespace to take it down) dies with it; a limit whose
/// controller is not enabled is refused naming it, exit 1.
#[test]
fn run_new_cgroup_kills_what_is_left() {
    if !userns_allowed() {
        return;
    }
    let own = match butter::ns::own_cgroup() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("skipped: no cgroup v2: {e}");
            return;
        }
    };
    let probe = butter::ns::Cgroup::create(
        &own,
        &format!("butter-cli-probe-{}", std::process::id()),
        &Default::default(),
    );
    let Ok(probe) = probe else {
        eprintln!("skipped: cannot make a cgroup below {}", own.display());
        return;
    };
    let have = probe.controllers().unwrap();
    drop(probe);
    let out = butter(&[
        "run",
        "-U",
        "--new-cgroup",
        "--",
        "sh",
        "-c",
        "grep ^0:: /proc/self/cgroup; sleep 1000 >/dev/null 2>&1 & echo daemon=$!",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("/butter-"), "{said}");
    let daemon: u32 = said
        .lines()
        .find_map(|l| l.strip_prefix("daemon="))
        .unwrap()
        .parse()
        .unwrap();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let alive = std::fs::read_to_string(format!("/proc/{daemon}/stat"))
            .ok()
            .and_then(|s| s.rsplit(") ").next().map(|r| !r.starts_with('Z')))
            .unwrap_or(false);
        if !alive {
            break;
        }
        assert!(
            std::time::Instant::now() < end,
            "the daemon survived butter run"
        );
        std::thread::yield_now();
    }
    let out = butter(&["run", "-U", "--memory-max", "64m", "--", "true"]);
    if have.iter().any(|c| c == "memory") {
        assert!(out.status.success(), "{}", text(&out.stderr));
    } else {
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out.stderr).contains("memory controller"),
            "{}",
            text(&out.stderr)
        );
    }
    for bad in ["--cpu-max=0", "--cpu-max=1/5", "--memory-max=lots"] {
        let out = butter(&["run", bad, "--", "true"]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out.stderr));
    }
}

/// `--overlay-root`: the command writes anywhere in its root, nothing
/// reaches the lower directory; with bwrap's options building the rest.
#[test]
fn run_overlay_root_leaves_the_lower_as_it_was() {
    if !userns_allowed() {
        return;
    }
    let lower = crate::scratch("run-overlay");
    std::fs::create_dir(lower.join("etc")).unwrap();
    std::fs::write(lower.join("etc/motd"), "lower\n").unwrap();
    let mut args = vec![
        "run".to_owned(),
        "--overlay-root".into(),
        lower.to_str().unwrap().into(),
        "--ro-bind".into(),
        "/usr".into(),
        "/usr".into(),
    ];
    for dir in ["bin", "sbin", "lib", "lib64"] {
        if let Ok(to) = std::fs::read_link(std::path::Path::new("/").join(dir)) {
            args.extend([
                "--symlink".into(),
                to.display().to_string(),
                format!("/{dir}"),
            ]);
        }
    }
    args.extend(
        [
            "--",
            "sh",
            "-c",
            "echo new > /etc/motd && cat /etc/motd && mkdir /made && ls /",
        ]
        .map(String::from),
    );
    let out = butter(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.starts_with("new\n") && said.contains("made\n"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(lower.join("etc/motd")).unwrap(),
        "lower\n"
    );
    let mut left: Vec<_> = std::fs::read_dir(&*lower)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["etc"], "nothing made in the lower");
    let out = butter(&["run", "--ro", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = butter(&["run", "--root", "/", "--overlay-root", "/usr", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

/// `--map-auto` and `-r --map-auto` as uid 65534 with a subordinate range
/// (an /etc/subuid and /etc/subgid bound over the real ones in a mount
/// namespace of the test's own): the same maps as util-linux unshare's.
#[test]
fn run_map_auto_beside_unshare() {
    if !rustix::process::geteuid().is_root()
        || !have("newuidmap")
        || !have("setpriv")
        || !userns_allowed()
    {
        eprintln!("skipped: needs root (to bind a test /etc/subuid), newuidmap and setpriv");
        return;
    }
    let dir = crate::scratch("run-mapauto");
    std::fs::set_permissions(&*dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in ["subuid", "subgid"] {
        std::fs::write(dir.join(f), "nobody:300000:65536\n").unwrap();
    }
    let look = "cat /proc/self/uid_map /proc/self/gid_map";
    let script = format!(
        "mount --bind {d}/subuid /etc/subuid && mount --bind {d}/subgid /etc/subgid || exit 9; \
         as() {{ setpriv --reuid 65534 --regid 65534 --clear-groups -- \"$@\"; }}; \
         as {b} run --map-auto -- sh -c '{look}'; echo ---; as unshare --map-auto sh -c '{look}'; echo ---; \
         as {b} run -r --map-auto -- sh -c '{look}'; echo ---; as unshare -r --map-auto sh -c '{look}'",
        d = dir.display(),
        b = env!("CARGO_BIN_EXE_butter"),
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    let parts: Vec<Vec<String>> = said
        .split("---\n")
        .map(|p| {
            p.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect()
        })
        .collect();
    assert_eq!(parts.len(), 4, "{said}");
    assert_eq!(parts[0], ["0 300000 65536", "0 300000 65536"], "{said}");
    assert_eq!(parts[0], parts[1], "ours and unshare's --map-auto");
    assert_eq!(
        parts[2],
        ["0 65534 1", "1 300000 65535", "0 65534 1", "1 300000 65535"],
        "{said}"
    );
    assert_eq!(parts[2], parts[3], "ours and unshare's -r --map-auto");
    // No range for the user: a usage error naming the file.
    let out = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            &format!(
                "echo other:1:1 > {d}/subuid; mount --bind {d}/subuid /etc/subuid; \
             setpriv --reuid 65534 --regid 65534 --clear-groups -- {b} run --map-auto -- true",
                d = dir.display(),
                b = env!("CARGO_BIN_EXE_butter")
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("/etc/subuid"),
        "{}",
        text(&out.stderr)
    );
}

/// strace's view of how `butter run` makes its child: without a user
/// namespace, as posix_spawn does (`clone` with `CLONE_VM|CLONE_VFORK`: no
/// copy of our memory); with one, a copy (`clone3` without `CLONE_VM`),
/// since the parent writes the id maps while the child waits. Both run the
/// program to the same end.
#[test]
fn run_spawns_vfork_style_where_it_can() {
    if !have("strace") {
        return;
    }
    let dir = crate::scratch("run-vfork");
    let trace = |args: &[&str]| {
        let log = dir.join("trace");
        let out = Command::new("strace")
            .args(["-f", "-qq", "-e", "trace=clone,clone3", "-o"])
            .arg(&log)
            .arg(env!("CARGO_BIN_EXE_butter"))
            .args(args)
            .output()
            .unwrap();
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        // Thread creations are not spawns.
        let spawns: Vec<String> = log
            .lines()
            .filter(|l| {
                (l.contains(" clone(") || l.contains(" clone3(")) && !l.contains("CLONE_THREAD")
            })
            .map(str::to_owned)
            .collect();
        (out, spawns)
    };
    // Only a UTS namespace: that needs CAP_SYS_ADMIN, and no id maps.
    if rustix::process::geteuid().is_root() {
        let (out, spawns) = trace(&["run", "--uts", "--", "sh", "-c", "exit 3"]);
        if spawns.is_empty() && out.status.code() != Some(3) {
            eprintln!("skipped: strace cannot trace here: {}", text(&out.stderr));
            return;
        }
        assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
        let first = spawns.first().expect("a spawn");
        assert!(
            first.contains(" clone(")
                && first.contains("CLONE_VM")
                && first.contains("CLONE_VFORK")
                && first.contains("CLONE_NEWUTS"),
            "not a vfork-style clone: {spawns:#?}"
        );
    } else {
        eprintln!("partly skipped: a namespace without a user namespace needs root");
    }
    if !userns_allowed() {
        return;
    }
    let (out, spawns) = trace(&["run", "-U", "--", "sh", "-c", "exit 4"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let first = spawns.first().expect("a spawn");
    assert!(
        first.contains("clone3(") && first.contains("CLONE_NEWUSER") && !first.contains("CLONE_VM"),
        "{spawns:#?}"
    );
}

/// `--sync-fd FD` beside bwrap's: the command does not have the fd, and
/// the far end reads end of file only once the sandbox has ended, even
/// when the tool itself was killed first (SIGKILL, no --die-with-parent).
#[test]
fn run_sync_fd_beside_bwrap() {
    use std::io::{BufRead, BufReader};
    use std::os::fd::AsFd;
    use std::process::Stdio;
    use std::time::Duration;
    if !userns_allowed() {
        return;
    }
    // The tool gets the pipe's write end as its stdout, moved to fd 3; the
    // command writes to stderr and waits on its stdin.
    let run = |tool: &str| {
        let (far, near) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let script = format!(
            "exec 3>&1 1>&2; exec {tool} --sync-fd 3 sh -c \
             'ls /proc/self/fd | tr \"\\n\" \" \"; echo up; read x'"
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::from(near))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.ends_with("up\n"), "{tool}: {line:?}");
        // Held apart: std's wait closes a child's stdin, which would end
        // `read x` (and the sandbox) before the look below.
        let stdin = child.stdin.take();
        child.kill().unwrap();
        child.wait().unwrap();
        let open_after_kill =
            !butter::fd_core::wait_readable(far.as_fd(), Some(Duration::ZERO)).unwrap();
        drop(stdin); // `read x` ends, and with it the sandbox
        let eof = butter::fd_core::wait_readable(far.as_fd(), Some(Duration::from_secs(20)))
            .unwrap()
            && rustix::io::read(&far, &mut [0u8; 1]).unwrap() == 0;
        (line, open_after_kill, eof)
    };
    let butter_bin = env!("CARGO_BIN_EXE_butter");
    let ours = run(&format!("{butter_bin} run -U -p -m"));
    assert_eq!(ours, ("0 1 2 3 up\n".to_owned(), true, true));
    if !have("bwrap") {
        return;
    }
    let theirs = run("bwrap --unshare-user --unshare-pid --dev-bind / / --proc /proc");
    // bwrap passes on whatever else was open without close-on-exec (this
    // test harness's own fds); we close every fd not asked for.
    assert_eq!((theirs.1, theirs.2), (ours.1, ours.2), "{theirs:?}");
}

/// bwrap's overlays beside bwrap: a tmpfs upper that goes with the
/// sandbox, a read-only one, and one whose writes land in a directory of
/// yours; the layers in bwrap's order (lowest first); nothing written to a
/// source.
#[test]
fn run_overlays_beside_bwrap() {
    if !userns_allowed() {
        return;
    }
    let dir = crate::scratch("run-overlays");
    let (l1, l2) = (dir.join("l1"), dir.join("l2"));
    for (d, name, shared) in [(&l1, "a", "from l1"), (&l2, "b", "from l2")] {
        std::fs::create_dir(d).unwrap();
        std::fs::write(d.join(name), format!("{name} here\n")).unwrap();
        std::fs::write(d.join("shared"), format!("{shared}\n")).unwrap();
    }
    let look = "cat /mnt/t/shared /mnt/t/a /mnt/t/b; echo new > /mnt/t/c && cat /mnt/t/c; \
                cat /mnt/r/shared; if (echo x > /mnt/r/x) 2>/dev/null; then echo r=rw; \
                else echo r=ro; fi; echo kept > /mnt/w/k && cat /mnt/w/k; ls /mnt/w";
    let run = |tool: &str, base: &str, end: &str, name: &str| {
        let (up, work) = (
            dir.join(format!("up-{name}")),
            dir.join(format!("work-{name}")),
        );
        std::fs::create_dir(&up).unwrap();
        std::fs::create_dir(&work).unwrap();
        let (l1, l2) = (l1.display(), l2.display());
        let opts = format!(
            "--tmpfs /mnt --overlay-src {l1} --overlay-src {l2} --tmp-overlay /mnt/t \
             --overlay-src {l1} --overlay-src {l2} --ro-overlay /mnt/r \
             --overlay-src {l1} --overlay {} {} /mnt/w",
            up.display(),
            work.display()
        );
        let out = Command::new("sh")
            .args([
                "-c",
                &format!("exec {tool} {base} {opts} {end} sh -c \"$0\""),
                look,
            ])
            .output()
            .unwrap();
        let kept = std::fs::read_to_string(up.join("k")).unwrap_or_default();
        (out, kept)
    };
    let (ours, kept) = run(env!("CARGO_BIN_EXE_butter"), "run -U", "--", "ours");
    assert!(ours.status.success(), "{}", text(&ours.stderr));
    assert_eq!(
        text(&ours.stdout),
        "from l2\na here\nb here\nnew\nfrom l2\nr=ro\nkept\na\nk\nshared\n",
        "{}",
        text(&ours.stderr)
    );
    assert_eq!(kept, "kept\n");
    // The sources are as they were.
    for (d, names) in [(&l1, ["a", "shared"]), (&l2, ["b", "shared"])] {
        let mut in_dir: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        in_dir.sort();
        assert_eq!(in_dir, names);
    }
    if !have("bwrap") {
        return;
    }
    let help = Command::new("bwrap").arg("--help").output().unwrap();
    if !text(&help.stdout).contains("--overlay-src") {
        eprintln!("partly skipped: this bwrap is older than 0.9 and has no overlay options");
        return;
    }
    let (theirs, kept) = run(
        "bwrap",
        "--unshare-user --dev-bind / / --proc /proc",
        "",
        "bwrap",
    );
    assert!(theirs.status.success(), "{}", text(&theirs.stderr));
    assert_eq!(text(&theirs.stdout), text(&ours.stdout));
    assert_eq!(kept, "kept\n");
}

//! `butter seccomp` run for real: compile, sim, run, and trace beside strace.

use std::process::Command;

use crate::{butter, scratch, text};

const PROFILE: &str = "/usr/share/containers/seccomp.json";

#[test]
fn seccomp_compile_sim_and_errors() {
    let dir = scratch("seccomp-cli");
    let rules = dir.join("r.rules");
    std::fs::write(
        &rules,
        "# a small policy\ndefault errno(EPERM)\narch x86_64 aarch64\nallow read,write,close,exit_group\nerrno(EACCES) openat arg2:u32&3==1\n",
    )
    .unwrap();
    let bpf = dir.join("r.bpf");
    let out = butter(&[
        "seccomp",
        "compile",
        rules.to_str().unwrap(),
        "--disasm",
        "-o",
        bpf.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    for want in [
        "openat (x86_64)",
        "ret ERRNO(EACCES)",
        "5 rules",
        "argument-checked: openat",
        "wrote 232 bytes",
    ] {
        assert!(stdout.contains(want), "{want:?} not in\n{stdout}");
    }
    assert_eq!(std::fs::metadata(&bpf).unwrap().len() % 8, 0);
    // The raw bytes and the rule file answer alike.
    for (filter, args, want) in [
        (&bpf, ["openat", "0", "0", "1"], "ERRNO(EACCES)"),
        (&bpf, ["openat", "0", "0", "0x0"], "ERRNO(EPERM)"),
        (&rules, ["read", "0", "0", "0"], "ALLOW"),
        (
            &rules,
            ["openat", "-100", "0", "0xffffffff00000001"],
            "ERRNO(EACCES)",
        ),
    ] {
        let mut argv = vec!["seccomp", "sim", filter.to_str().unwrap()];
        argv.extend(args);
        let out = butter(&argv);
        assert_eq!(text(&out.stdout).trim(), want, "{argv:?}: {out:?}");
    }
    let out = butter(&[
        "seccomp",
        "sim",
        rules.to_str().unwrap(),
        "--arch",
        "aarch64",
        "open",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        text(&out.stderr).contains("no syscall named \"open\" on aarch64"),
        "{}",
        text(&out.stderr)
    );
    let bad = dir.join("bad.rules");
    std::fs::write(&bad, "allow read\nerrno(EPERM) openat arg9==1\n").unwrap();
    let out = butter(&["seccomp", "compile", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("line 2") || err.contains("argument index 9"),
        "{err}"
    );
    if std::path::Path::new(PROFILE).exists() {
        let out = butter(&["seccomp", "compile", PROFILE, "--json"]);
        assert!(out.status.success(), "{out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["instructions"].as_u64().unwrap() < 4096);
        assert!(
            v["arches"][0]["cached_allows"].as_array().unwrap().len() > 250,
            "{v}"
        );
    } else {
        eprintln!(
            "partly skipped: the profile part: no {PROFILE} (.ci/run installs golang-github-containers-common)"
        );
    }
}

#[test]
fn seccomp_run_denies_what_it_is_told() {
    let out = butter(&["seccomp", "run", "--deny", "uname=EACCES", "--", "uname"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(text(&out.stderr).contains("Permission denied"), "{out:?}");
    let out = butter(&["seccomp", "run", "--", "uname"]);
    assert!(out.status.success(), "{out:?}");
    let out = butter(&[
        "seccomp",
        "run",
        "--deny",
        "uname",
        "--default",
        "allow",
        "--",
        "sh",
        "-c",
        "exec uname",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let out = butter(&[
        "seccomp",
        "run",
        "--default",
        "kill_process",
        "--allow",
        "exit_group",
        "--",
        "true",
    ]);
    assert_eq!(
        out.status.code(),
        Some(128 + 31),
        "execve itself is refused: killed by SIGSYS, 128 + 31: {out:?}"
    );
    let out = butter(&["seccomp", "run", "--default", "frobnicate", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn seccomp_trace_beside_strace() {
    let dir = scratch("seccomp-trace");
    let files: Vec<String> = (0..3)
        .map(|i| {
            let p = dir.join(format!("f{i}"));
            std::fs::write(&p, format!("{i}\n")).unwrap();
            p.to_str().unwrap().to_string()
        })
        .collect();
    let Some(theirs) = butter_tests::strace_opens("cat", &files) else {
        eprintln!("skipped: strace is not installed, so the side-by-side comparison cannot run");
        return;
    };
    let mut argv = vec![
        "seccomp",
        "trace",
        "--syscalls",
        "openat",
        "--json",
        "--",
        "cat",
    ];
    argv.extend(files.iter().map(String::as_str));
    let out = butter(&argv);
    assert!(out.status.success(), "{out:?}");
    let mut ours = Vec::new();
    let mut printed = String::new();
    for line in text(&out.stdout).lines() {
        match serde_json::from_str::<serde_json::Value>(line) {
            // cat's own output (the files hold numbers) is on stdout too.
            Ok(v) if v.is_object() => ours.push(v["paths"][0].as_str().unwrap().to_string()),
            _ => printed.push_str(line),
        }
    }
    assert_eq!(
        ours, theirs,
        "strace and butter seccomp trace saw different opens"
    );
    assert!(ours.iter().any(|p| p.ends_with("f2")));
    assert_eq!(printed, "012", "cat's output, untouched");
    // --deny answers through the listener: cat fails to open the files.
    let mut argv = vec![
        "seccomp",
        "trace",
        "--syscalls",
        "openat",
        "--deny",
        "openat=EACCES",
        "--",
        "cat",
    ];
    argv.extend(files.iter().map(String::as_str));
    let out = butter(&argv);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("denied ERRNO(EACCES)"),
        "{out:?}"
    );
}

/// `butter seccomp sim` on the BPF libseccomp exports for a policy answers
/// as `butter seccomp sim` on our rule file for the same policy.
#[test]
fn seccomp_sim_beside_libseccomp() {
    let dir = scratch("seccomp-lib");
    let helper = dir.join("libseccomp_export");
    let built = Command::new("cc")
        .arg("-o")
        .arg(&helper)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../seccomp-lite/tests/seccomp-lite/libseccomp_export.c"
        ))
        .arg("-lseccomp")
        .output();
    if !built.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: cannot build against libseccomp (libseccomp-dev; .ci/run installs it)");
        return;
    }
    // default errno(EPERM); allow read; errno(EACCES) openat when arg2 & 3 == 1;
    // kill_thread write when arg0 > 2.
    // Both bad-architecture actions set: libseccomp's default is a thread
    // kill, ours the process's.
    let libseccomp_rules = "default 327681\nbadarch 2147483648\narch x86_64\n\
         rule 2147418112 read 0\n\
         rule 327693 openat 1 2 7 3 1\n\
         rule 0 write 1 0 6 2 0\n";
    let ours = dir.join("p.rules");
    std::fs::write(
        &ours,
        "default errno(EPERM)\narch x86_64\nallow read\nerrno(EACCES) openat arg2&3==1\nkill_thread write arg0>2\n",
    )
    .unwrap();
    let mut child = Command::new(&helper)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        libseccomp_rules.as_bytes(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let theirs = dir.join("lib.bpf");
    std::fs::write(&theirs, &out.stdout).unwrap();
    let calls: &[&[&str]] = &[
        &["read", "0"],
        &["openat", "0", "0", "1"],
        &["openat", "0", "0", "0x101"],
        &["openat", "0", "0", "2"],
        &["write", "1"],
        &["write", "3"],
        &["write", "0xffffffffffffffff"],
        &["close", "3"],
        &["1073741827"], // an x32 number under an x86_64 filter
    ];
    for call in calls {
        let sim = |filter: &std::path::Path| {
            let mut argv = vec![
                "seccomp",
                "sim",
                filter.to_str().unwrap(),
                "--arch",
                "x86_64",
            ];
            argv.extend_from_slice(call);
            let out = butter(&argv);
            assert!(out.status.success(), "{argv:?}: {out:?}");
            text(&out.stdout)
        };
        assert_eq!(sim(&ours), sim(&theirs), "{call:?}");
    }
}

/// `seccomp resolve` beside libseccomp's scmp_sys_resolver, both ways, on
/// every architecture: names to numbers, numbers back to names; what an
/// architecture does not have is an error (exit 1) where it prints -1.
#[test]
fn resolve_agrees_with_scmp_sys_resolver() {
    let ours = |args: &[&str]| {
        let mut all = vec!["seccomp", "resolve"];
        all.extend_from_slice(args);
        butter(&all)
    };
    let out = ours(&["-a", "vax", "read"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown architecture"),
        "{}",
        text(&out.stderr)
    );
    let out = ours(&["--arch", "x86_64", "no_such_call"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no syscall named \"no_such_call\""));
    let out = ours(&["-a", "aarch64", "99999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no syscall number 99999"));
    let have = Command::new("scmp_sys_resolver")
        .arg("read")
        .output()
        .is_ok();
    if !have {
        eprintln!(
            "note: scmp_sys_resolver is not installed: the side-by-side part is skipped (.ci/run installs it)"
        );
        return;
    }
    let names = [
        "read",
        "write",
        "openat",
        "close",
        "mmap",
        "clone",
        "clone3",
        "execve",
        "ptrace",
        "io_uring_setup",
        "pidfd_open",
        "seccomp",
        "landlock_create_ruleset",
        "statx",
    ];
    let mut compared = 0;
    // Every architecture Debian 12's libseccomp (2.5.4) knows.
    for arch in [
        "x86_64",
        "x32",
        "x86",
        "aarch64",
        "arm",
        "mips",
        "mipsel",
        "mips64",
        "mipsel64",
        "mips64n32",
        "mipsel64n32",
        "parisc",
        "parisc64",
        "ppc",
        "ppc64",
        "ppc64le",
        "riscv64",
        "s390",
        "s390x",
    ] {
        for name in names {
            let theirs = Command::new("scmp_sys_resolver")
                .args(["-a", arch, name])
                .output()
                .unwrap();
            let theirs = text(&theirs.stdout).trim().to_owned();
            let out = ours(&["-a", arch, name]);
            if theirs.starts_with('-') {
                continue; // unknown to it, or one of its pseudo-numbers
            }
            assert!(out.status.success(), "{arch} {name}: {}", text(&out.stderr));
            assert_eq!(text(&out.stdout).trim(), theirs, "{arch} {name}");
            // And back.
            let back = ours(&["--arch", arch, &theirs]);
            let theirs_back = Command::new("scmp_sys_resolver")
                .args(["-a", arch, &theirs])
                .output()
                .unwrap();
            assert_eq!(
                text(&back.stdout).trim(),
                text(&theirs_back.stdout).trim(),
                "{arch} {theirs}"
            );
            compared += 2;
        }
    }
    assert!(compared > 80, "compared only {compared}");
}

/// `seccomp record` writes the profile a workload needs; `seccomp run
/// --profile` runs the same workload unchanged under it, and a program
/// that makes a call the recorded one never made is refused it. The
/// profile file is replaced whole, nothing is left beside it, and a
/// directory is refused. Prints how much slower the recorded run was.
#[test]
fn record_then_run_denies_what_was_never_called() {
    let dir = scratch("seccomp-record");
    let profile = dir.join("p.json");
    std::fs::write(&profile, b"old").unwrap();
    let script = format!("ls {} > /dev/null; echo hi", dir.display());
    let out = butter(&[
        "seccomp",
        "record",
        "-o",
        profile.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hi\n");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&profile).unwrap()).unwrap();
    let names: Vec<&str> = v["syscalls"][0]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for must in [
        "execve",
        "exit_group",
        "exit",
        "rt_sigreturn",
        "restart_syscall",
        "getdents64",
    ] {
        assert!(names.contains(&must), "no {must} in {names:?}");
    }
    assert!(!names.contains(&"uname"), "{names:?}");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "left beside the profile: {left:?}");
    // The same workload, under the profile: unchanged.
    let run = |cmd: &[&str]| {
        let mut args = vec![
            "seccomp",
            "run",
            "--profile",
            profile.to_str().unwrap(),
            "--",
        ];
        args.extend_from_slice(cmd);
        butter(&args)
    };
    let again = run(&["sh", "-c", &script]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout), "hi\n");
    // A call it never made: refused.
    let other = run(&["uname"]);
    assert!(!other.status.success());
    assert!(
        text(&other.stderr).contains("not permitted"),
        "{}",
        text(&other.stderr)
    );
    // -o a directory: a usage error, nothing run.
    let out = butter(&[
        "seccomp",
        "record",
        "-o",
        dir.to_str().unwrap(),
        "--",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("a directory"),
        "{}",
        text(&out.stderr)
    );
    // How much a recorded run costs: many short-lived processes.
    let work = "for i in $(seq 100); do /bin/true; done";
    let plain = std::time::Instant::now();
    assert!(
        Command::new("sh")
            .args(["-c", work])
            .status()
            .unwrap()
            .success()
    );
    let plain = plain.elapsed();
    let recorded = std::time::Instant::now();
    let out = butter(&[
        "seccomp",
        "record",
        "-o",
        profile.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        work,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let recorded = recorded.elapsed();
    eprintln!(
        "100 processes: plain {:.0} ms, recorded {:.0} ms ({:.1}x)",
        plain.as_secs_f64() * 1e3,
        recorded.as_secs_f64() * 1e3,
        recorded.as_secs_f64() / plain.as_secs_f64()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A filter for a big-endian machine: `compile -o` writes its bytes in
/// that machine's order (as libseccomp's export does), `sim --arch` reads
/// them so, and a filter of both byte orders is refused for `-o`, naming
/// them.
#[test]
fn seccomp_big_endian_files() {
    let dir = scratch("seccomp-be");
    let rules = dir.join("r.rules");
    std::fs::write(
        &rules,
        "default allow\nerrno(EACCES) write arg0==0x100000005\nerrno(EPERM) socket\n",
    )
    .unwrap();
    let bpf = dir.join("s390x.bpf");
    let out = butter(&[
        "seccomp",
        "compile",
        rules.to_str().unwrap(),
        "--arch",
        "s390x",
        "-o",
        bpf.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let bytes = std::fs::read(&bpf).unwrap();
    assert_eq!(
        &bytes[..8],
        [0x00, 0x20, 0, 0, 0, 0, 0, 4],
        "ld [4], big-endian"
    );
    for (args, want) in [
        (["write", "0x100000005"], "ERRNO(EACCES)"),
        (["write", "5"], "ALLOW"),
        (["socketcall", "1"], "ERRNO(EPERM)"),
    ] {
        let mut argv = vec!["seccomp", "sim", bpf.to_str().unwrap(), "--arch", "s390x"];
        argv.extend(args);
        let out = butter(&argv);
        assert_eq!(text(&out.stdout).trim(), want, "{argv:?}: {out:?}");
    }
    // 31-bit s390 compares the low word only, and says so.
    let out = butter(&[
        "seccomp",
        "compile",
        rules.to_str().unwrap(),
        "--arch",
        "s390",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text(&out.stderr).contains("32-bit on s390"),
        "{}",
        text(&out.stderr)
    );
    let mixed = dir.join("mixed.bpf");
    let out = butter(&[
        "seccomp",
        "compile",
        rules.to_str().unwrap(),
        "--arch",
        "x86_64",
        "--arch",
        "s390x",
        "-o",
        mixed.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        text(&out.stderr).contains("both byte orders (x86_64, s390x)"),
        "{}",
        text(&out.stderr)
    );
    assert!(!mixed.exists(), "nothing written");
}

/// A probe for `record`'s pinned arguments: `a` makes socket(AF_UNIX) and
/// ioctl(0, FIONREAD); `b` socket(AF_INET); `c` ioctl(0, FIOCLEX); `d`
/// bind(-1) (EBADF unless refused). Each prints what its calls returned.
const PROBE: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
static void say(const char *what, long r) {
    if (r < 0) printf("%s=%s\n", what, strerror(errno));
    else printf("%s=ok\n", what);
}
int main(int argc, char **argv) {
    int n;
    if (argc < 2) return 2;
    if (strchr(argv[1], 'a')) {
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        say("unix", s);
        if (s >= 0) close(s);
        say("fionread", ioctl(0, FIONREAD, &n) < 0 && errno == EPERM ? -1 : 0);
    }
    if (strchr(argv[1], 'b')) say("inet", socket(AF_INET, SOCK_STREAM, 0));
    if (strchr(argv[1], 'c')) say("fioclex", ioctl(0, FIOCLEX));
    if (strchr(argv[1], 'd')) say("bind", bind(-1, 0, 0) < 0 && errno == EPERM ? -1 : 0);
    fflush(stdout);
    return 0;
}
"#;

/// `record` pins the arguments that choose what a call does: the run's
/// own values pass under the profile, others are refused (an AF_INET
/// socket where the run made AF_UNIX ones, an ioctl request it never
/// made); `--names-only` pins nothing.
#[test]
fn record_pins_arguments() {
    let dir = scratch("seccomp-record-pins");
    let src = dir.join("probe.c");
    std::fs::write(&src, PROBE).unwrap();
    let probe = dir.join("probe");
    let built = Command::new("cc").arg("-o").arg(&probe).arg(&src).output();
    if !built.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: no C compiler to build the probe ({built:?})");
        return;
    }
    let probe = probe.to_str().unwrap();
    let profile = dir.join("p.json");
    let record = |extra: &[&str]| {
        let mut args = vec!["seccomp", "record", "-o", profile.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", probe, "a"]);
        let out = butter(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "unix=ok\nfionread=ok\n");
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&profile).unwrap()).unwrap();
        (v, text(&out.stderr))
    };
    let (v, stderr) = record(&[]);
    assert!(stderr.contains("socket arg0 (1 values)"), "{stderr}");
    let entries = v["syscalls"].as_array().unwrap();
    let pinned = |name: &str| -> Vec<u64> {
        entries
            .iter()
            .filter(|e| e["names"] == serde_json::json!([name]) && e["args"].is_array())
            .map(|e| e["args"][0]["valueTwo"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(pinned("socket"), [1], "AF_UNIX only: {entries:?}");
    assert!(pinned("ioctl").contains(&0x541b), "FIONREAD: {entries:?}");
    assert!(
        !entries[0]["names"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("socket")),
        "socket is not also allowed whatever its family"
    );
    let run = |mode: &str| {
        let out = butter(&[
            "seccomp",
            "run",
            "--profile",
            profile.to_str().unwrap(),
            "--",
            probe,
            mode,
        ]);
        assert!(out.status.success(), "{mode}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(
        run("a"),
        "unix=ok\nfionread=ok\n",
        "the recorded run, unchanged"
    );
    assert_eq!(run("b"), "inet=Operation not permitted\n");
    assert_eq!(run("c"), "fioclex=Operation not permitted\n");
    assert_eq!(run("d"), "bind=Operation not permitted\n");
    // Names only: both pass.
    let (v, _) = record(&["--names-only"]);
    assert!(
        v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("args").is_none()),
        "{v}"
    );
    assert_eq!(run("b"), "inet=ok\n");
    assert_eq!(run("c"), "fioclex=ok\n");

    // A 32-bit build of the probe (x86_64's compat ABI): recorded, not
    // killed as a call from another architecture; the profile names x86
    // too, and its calls pass under it. Its C library makes socket calls
    // through socketcall: which call is pinned (bind, never made, is
    // refused), the family, in memory, cannot be (AF_INET passes), and
    // record says so.
    if cfg!(target_arch = "x86_64") {
        let probe32 = dir.join("probe32");
        let built = Command::new("cc")
            .arg("-m32")
            .arg("-o")
            .arg(&probe32)
            .arg(&src)
            .output();
        if !built.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!(
                "skipped the 32-bit half: cc -m32 cannot build (gcc-multilib; .ci/run installs it)"
            );
            return;
        }
        let probe32 = probe32.to_str().unwrap();
        let out = butter(&[
            "seccomp",
            "record",
            "-o",
            profile.to_str().unwrap(),
            "--",
            probe32,
            "a",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "unix=ok\nfionread=ok\n");
        assert!(
            text(&out.stderr).contains("on x86, socket or IPC calls went through socketcall"),
            "{}",
            text(&out.stderr)
        );
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&profile).unwrap()).unwrap();
        assert_eq!(
            v["architectures"],
            serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]),
            "{v}"
        );
        let out = butter(&[
            "seccomp",
            "run",
            "--profile",
            profile.to_str().unwrap(),
            "--",
            probe32,
            "abcd",
        ]);
        assert_eq!(
            text(&out.stdout),
            "unix=ok\nfionread=ok\ninet=ok\nfioclex=Operation not permitted\nbind=Operation not permitted\n",
            "{}",
            text(&out.stderr)
        );
    }
}

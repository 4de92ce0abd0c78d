//! Runs the benchmark binary with `--quick`: every row, C baseline and peer
//! does its work correctly (each checks its own results), and the JSON is
//! complete. Timings are not looked at. Signals need a process whose threads
//! all block them, so this is a separate process, not a unit test.

use std::process::Command;

#[test]
fn quick_run_produces_every_row_and_valid_json() {
    let dir = std::env::temp_dir().join(format!("butter-bench-{}", std::process::id()));
    let json = dir.join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_butter-bench"))
        .args(["--quick", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["row"].as_str().unwrap()).collect();
    let mut expected_rows = vec![
        "eventfd write+read pair",
        "eventfd ping-pong, blocking, 2 threads",
        "eventfd ping-pong, async, 2 tasks on 2 threads",
        "timerfd mean lateness",
        "timerfd p99 lateness",
        "timerfd expirations counted",
        "signals kill+read, blocking",
        "signals kill+read, async stream",
        "queued RT signals read, 256 per read(2)",
        "inotify: drain a full queue",
        "inotify: live producer on tmpfs",
        "inotify: allocations per event while draining",
        "copy: file -> /dev/null",
        "copy: file -> pipe -> consumer (default)",
        "copy: file -> pipe -> consumer (aliasing ok)",
        "copy: file -> unix socket -> consumer",
        "copy: file -> file (tmpfs)",
    ];
    // fd-mode fanotify groups need root; the bench leaves the rows out without it.
    if rustix::process::geteuid().is_root() {
        expected_rows.extend([
            "fanotify: drain, an fd per event",
            "fanotify: drain, DFID_NAME records",
        ]);
    }
    for expected in expected_rows {
        assert!(
            names.contains(&expected),
            "no row {expected:?} in {names:?}"
        );
        assert!(table.contains(expected), "table lacks {expected:?}");
    }
    for row in rows.iter().filter(|r| r["unit"] != "allocs/event") {
        assert!(row["ours"].as_f64().unwrap() > 0.0, "{row}");
    }
    let allocs = rows.iter().find(|r| r["unit"] == "allocs/event").unwrap();
    assert_eq!(
        allocs["ours"].as_f64(),
        Some(0.0),
        "ours allocates while draining: {allocs}"
    );
    let lost = rows
        .iter()
        .find(|r| r["row"] == "timerfd expirations counted")
        .unwrap();
    assert_eq!(lost["note"], "per run; lost: ours none, C none");
}

#[test]
fn bad_arguments_exit_2() {
    for args in [&["--bogus"][..], &["--json"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_butter-bench"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

//! `butter copy` side by side with cp and cat on what must not lose data.

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use crate::{butter, scratch, text};

/// Automatic, then each method forced.
const EVERY_METHOD: [&str; 5] = [
    "auto",
    "copy-file-range",
    "sendfile",
    "splice",
    "read-write",
];

const BIN: &str = env!("CARGO_BIN_EXE_butter");

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// `butter copy f f`, through a hard link and a symbolic link: refused, f
/// kept whole, as cp does ("are the same file").
#[test]
fn copy_onto_itself_keeps_the_data() {
    let dir = scratch("copy-same");
    let f = dir.join("f");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&f, &data).unwrap();
    std::fs::hard_link(&f, dir.join("hard")).unwrap();
    std::os::unix::fs::symlink(&f, dir.join("soft")).unwrap();
    for dst in [f.clone(), dir.join("hard"), dir.join("soft")] {
        let out = butter(&["copy", s(&f), s(&dst)]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("the same file") && err.contains("nothing was written"),
            "{err}"
        );
        assert!(
            std::fs::read(&f).unwrap() == data,
            "{dst:?} destroyed the source"
        );
        // cp agrees that this is an error, and keeps the data too.
        if let Ok(cp) = Command::new("cp").args([s(&f), s(&dst)]).output() {
            assert!(!cp.status.success(), "cp copied {dst:?} onto itself");
            assert!(std::fs::read(&f).unwrap() == data);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `butter copy DIR existing-file`: refused before the file is touched.
#[test]
fn copy_of_a_directory_leaves_the_destination() {
    let dir = scratch("copy-dir");
    let existing = dir.join("existing");
    std::fs::write(&existing, b"precious").unwrap();
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let out = butter(&["copy", s(&sub), s(&existing)]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr).contains("is a directory"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&existing).unwrap(), b"precious");
    // Nor is a missing destination created.
    let out = butter(&["copy", s(&sub), s(&dir.join("new"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.join("new").exists());
    // A directory as the destination: refused, as cp refuses to write it.
    let out = butter(&["copy", s(&existing), s(&sub)]);
    assert_eq!(out.status.code(), Some(1));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `butter copy a - >> a`: stdout appends to the source. cat refuses
/// ("input file is output file"); so do we, instead of filling the disk.
#[test]
fn copy_to_stdout_appending_to_the_source_is_refused() {
    let dir = scratch("copy-append");
    let a = dir.join("a");
    std::fs::write(&a, b"0123456789").unwrap();
    let out_file = std::fs::OpenOptions::new().append(true).open(&a).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_butter"))
        .args(["copy", s(&a), "-"])
        .stdout(Stdio::from(out_file))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr).contains("the same file"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&a).unwrap(), b"0123456789");
    let cat = Command::new("cat")
        .arg(&a)
        .stdout(Stdio::from(
            std::fs::OpenOptions::new().append(true).open(&a).unwrap(),
        ))
        .output();
    if let Ok(cat) = cat {
        assert!(!cat.status.success(), "cat fed on itself");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Empty files by every method, and a sparse file that stays sparse (no
/// more blocks than cp's copy of it).
#[test]
fn copy_empty_and_sparse_files() {
    let dir = scratch("copy-sparse");
    let empty = dir.join("empty");
    std::fs::write(&empty, b"").unwrap();
    for method in EVERY_METHOD {
        let out = butter(&["copy", "--method", method, s(&empty), s(&dir.join("e2"))]);
        assert!(out.status.success(), "{method}: {}", text(&out.stderr));
        assert_eq!(std::fs::metadata(dir.join("e2")).unwrap().len(), 0);
    }
    let sparse = dir.join("sparse");
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::File::create(&sparse).unwrap();
        for off in [0u64, 20 << 20] {
            f.seek(SeekFrom::Start(off)).unwrap();
            f.write_all(&[7u8; 4096]).unwrap();
        }
        f.set_len(50 << 20).unwrap();
    }
    let cp_blocks = Command::new("cp")
        .args(["--sparse=auto", s(&sparse), s(&dir.join("by-cp"))])
        .status()
        .ok()
        .filter(|st| st.success())
        .map(|_| std::fs::metadata(dir.join("by-cp")).unwrap().blocks());
    for method in EVERY_METHOD {
        let out = butter(&["copy", "--method", method, s(&sparse), s(&dir.join("ours"))]);
        assert!(out.status.success(), "{method}: {}", text(&out.stderr));
        let meta = std::fs::metadata(dir.join("ours")).unwrap();
        assert_eq!(meta.len(), 50 << 20);
        let limit = cp_blocks
            .unwrap_or(64)
            .max(std::fs::metadata(&sparse).unwrap().blocks());
        assert!(
            meta.blocks() <= limit,
            "{method}: {} blocks, cp made {cp_blocks:?}",
            meta.blocks()
        );
        assert!(std::fs::read(dir.join("ours")).unwrap() == std::fs::read(&sparse).unwrap());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--method splice` into a pipe is used as asked, not also "passed over".
#[test]
fn forced_splice_into_a_pipe_is_not_passed_over() {
    let dir = scratch("copy-forced");
    std::fs::write(dir.join("a"), vec![1u8; 100_000]).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_butter"))
        .args(["copy", "--method", "splice", s(&dir.join("a")), "-"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), 100_000);
    let err = text(&out.stderr);
    assert!(
        err.contains("by splice") && !err.contains("passed over"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `butter copy big - | head -c10`: quiet, exit status 141 as for cat
/// killed by SIGPIPE.
#[test]
fn a_reader_that_leaves_ends_the_copy_quietly() {
    let dir = scratch("copy-epipe");
    std::fs::write(dir.join("big"), vec![b'x'; 8 << 20]).unwrap();
    let sh = format!(
        "'{}' copy '{}' - | head -c10 >/dev/null; echo ${{PIPESTATUS[0]}}",
        env!("CARGO_BIN_EXE_butter"),
        s(&dir.join("big"))
    );
    let out = Command::new("bash").args(["-c", &sh]).output().unwrap();
    assert_eq!(text(&out.stdout).trim(), "141", "{out:?}");
    assert_eq!(text(&out.stderr), "", "it was not quiet");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn limit_takes_sizes_with_units() {
    let dir = scratch("copy-limit");
    std::fs::write(dir.join("a"), vec![3u8; 3 << 20]).unwrap();
    for (limit, want) in [
        ("4k", 4096u64),
        ("1.5M", 3 << 19),
        ("1MB", 1_000_000),
        ("2MiB", 2 << 20),
    ] {
        let out = butter(&[
            "copy",
            "--limit",
            limit,
            s(&dir.join("a")),
            s(&dir.join("b")),
        ]);
        assert!(out.status.success(), "{limit}: {}", text(&out.stderr));
        assert_eq!(
            std::fs::metadata(dir.join("b")).unwrap().len(),
            want,
            "{limit}"
        );
    }
    let out = butter(&[
        "copy",
        "--limit",
        "12x",
        s(&dir.join("a")),
        s(&dir.join("b")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown size unit \"x\""),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A new destination gets the source's permission bits less the umask,
/// as cp gives them: a 600 file stays private, a 755 script stays
/// executable; an existing destination keeps its own mode.
#[test]
fn new_destination_is_never_more_readable_than_its_source() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("copy-mode");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    for (name, bits) in [
        ("private", 0o600),
        ("script", 0o755),
        ("setuid", 0o4755),
        ("ro", 0o400),
    ] {
        let src = dir.join(name);
        std::fs::write(&src, b"#!/bin/sh\necho ran\n").unwrap();
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(bits)).unwrap();
        let (ours, theirs) = (
            dir.join(format!("{name}.butter")),
            dir.join(format!("{name}.cp")),
        );
        // The same umask for both, one that takes something away.
        let run = |cmd: String| {
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!("umask 022; {cmd}"))
                .output()
                .unwrap();
            assert!(out.status.success(), "{cmd}: {out:?}");
        };
        run(format!("'{}' copy '{}' '{}'", BIN, s(&src), s(&ours)));
        run(format!("cp '{}' '{}'", s(&src), s(&theirs)));
        assert_eq!(mode(&ours), mode(&theirs), "{name}: butter copy vs cp");
        assert_eq!(mode(&ours), bits & 0o755, "{name}");
    }
    // An existing destination keeps its mode, as with cp.
    let existing = dir.join("existing");
    std::fs::write(&existing, b"old").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = butter(&["copy", s(&dir.join("script")), s(&existing)]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&existing), 0o640);
    assert_eq!(std::fs::read(&existing).unwrap(), b"#!/bin/sh\necho ran\n");
}

/// Out of fds for a pipe (`ulimit -n 5`: stdio, the source and the
/// destination), the copy goes on by read/write, as cp's does, and says
/// why splice was passed over; the destination ends up whole, not
/// truncated to nothing.
#[test]
fn no_fds_for_a_pipe_falls_back_to_read_write() {
    let dir = scratch("copy-emfile");
    let dst = dir.join("existing");
    std::fs::write(&dst, vec![7u8; 5000]).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 5 && exec '{}' copy /dev/zero '{}' --limit 1M",
            BIN,
            s(&dst)
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = text(&out.stderr) + &text(&out.stdout);
    assert!(
        err.contains("by read-write") && err.contains("EMFILE"),
        "{err}"
    );
    let data = std::fs::read(&dst).unwrap();
    assert_eq!(data.len(), 1 << 20);
    assert!(data.iter().all(|&b| b == 0));
}

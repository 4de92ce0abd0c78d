//! kernel-aio rows: 4 KiB random reads with O_DIRECT at queue depths 1, 8
//! and 32, ours beside a raw `io_submit`/`io_getevents` loop in C and fio's
//! libaio engine on the same file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use butter::aio::{AlignedBuf, Buf, Completion, Context, Op};

use crate::c;
use crate::harness::{Plan, Row, interleaved, timed};

const BS: usize = 4096;
const SIZE: u64 = 256 << 20;

fn bench_file() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/aio-bench");
    let _ = std::fs::create_dir_all(&dir);
    dir.join("randread-256M")
}

fn prepare(path: &Path) -> std::io::Result<File> {
    if std::fs::metadata(path).map_or(0, |m| m.len()) < SIZE {
        let mut f = File::create(path)?;
        let chunk: Vec<u8> = (0..1u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes()[0])
            .collect();
        for _ in 0..SIZE / chunk.len() as u64 {
            f.write_all(&chunk)?;
        }
        f.sync_all()?;
    }
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
}

fn ours(file: &File, depth: u32, n: u64, batched: bool) -> Duration {
    let blocks = SIZE / BS as u64;
    let mut ctx = Context::new(depth).expect("io_setup");
    let mut free: Vec<Buf> = (0..depth)
        .map(|_| Buf::from(AlignedBuf::new(BS, 4096).expect("buffer")))
        .collect();
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut done: Vec<Completion> = Vec::with_capacity(depth as usize);
    timed(|| {
        let (mut submitted, mut finished) = (0u64, 0u64);
        let mut batch_all = Vec::with_capacity(depth as usize);
        while finished < n {
            let mut batch = Vec::with_capacity(free.len());
            while submitted < n {
                let Some(buf) = free.pop() else { break };
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                batch.push(Op::read(file, (rng % blocks) * BS as u64, buf));
                submitted += 1;
            }
            // One operation per io_submit, as fio does by default: a
            // whole queue in one call is served in lockstep (see the
            // batched row).
            for op in batch.drain(..) {
                if batched {
                    batch_all.push(op);
                } else {
                    ctx.submit_one(op).expect("submit");
                }
            }
            if !batch_all.is_empty() {
                let all = batch_all.len();
                assert_eq!(ctx.submit(&mut batch_all).expect("submit"), all);
            }
            done.clear();
            ctx.reap(1, None, &mut done).expect("reap");
            for c in done.drain(..) {
                assert_eq!(c.res, 4096);
                finished += 1;
                free.extend(c.into_buffers());
            }
        }
    })
}

fn in_c(file: &File, depth: u32, n: u64) -> Duration {
    let mut ok = false;
    let took =
        timed(|| ok = c::aio_randread(file.as_fd(), BS as u64, depth, n, SIZE / BS as u64, 1));
    assert!(ok, "C aio loop failed");
    took
}

/// fio's own measure of the same job, as the time for `n` IOs.
fn fio(path: &Path, depth: u32, n: u64) -> Option<Duration> {
    let out = Command::new("fio")
        .args([
            "--name=j",
            "--ioengine=libaio",
            "--rw=randread",
            "--direct=1",
            "--output-format=json",
        ])
        .arg(format!("--filename={}", path.display()))
        .arg(format!("--bs={BS}"))
        .arg(format!("--iodepth={depth}"))
        .arg(format!("--size={SIZE}"))
        .arg(format!("--number_ios={n}"))
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let iops = v["jobs"][0]["read"]["iops"].as_f64()?;
    Some(Duration::from_secs_f64(n as f64 / iops))
}

pub(crate) fn rows(plan: &Plan) -> Vec<Row> {
    let path = bench_file();
    let file = match prepare(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("butter-bench: the aio rows need O_DIRECT on target/: {e}; skipped");
            return Vec::new();
        }
    };
    let have_fio = fio(&path, 1, 16).is_some();
    if !have_fio {
        eprintln!(
            "butter-bench: fio is not installed (apt install fio): the aio rows show no fio column"
        );
    }
    let mut rows = Vec::new();
    for (depth, name) in [
        (1u32, "aio 4 KiB random reads, O_DIRECT, depth 1"),
        (8, "aio 4 KiB random reads, O_DIRECT, depth 8"),
        (32, "aio 4 KiB random reads, O_DIRECT, depth 32"),
    ] {
        let n = plan.aio_ios;
        let iops = |s: f64| n as f64 / s;
        let mut variants: Vec<Box<dyn FnMut() -> Duration>> = vec![
            Box::new(|| ours(&file, depth, n, false)),
            Box::new(|| in_c(&file, depth, n)),
        ];
        if have_fio {
            variants.push(Box::new(|| fio(&path, depth, n).expect("fio")));
        }
        let mut refs: Vec<&mut dyn FnMut() -> Duration> = variants
            .iter_mut()
            .map(|b| &mut **b as &mut dyn FnMut() -> Duration)
            .collect();
        let m = interleaved(plan.rounds, &mut refs);
        rows.push(Row {
            name,
            unit: "IOPS",
            ours: iops(m[0]),
            c: Some(iops(m[1])),
            peer: m.get(2).map(|&s| ("fio libaio (the tool)", iops(s))),
            higher_is_better: true,
            note: "256 MiB file on the machine's disk, one operation per io_submit".into(),
        });
    }
    // The same at depth 32 with the whole queue in one io_submit: the
    // device then takes and finishes it in lockstep.
    let n = plan.aio_ios;
    let m = interleaved(
        plan.rounds,
        &mut [&mut || ours(&file, 32, n, true), &mut || {
            ours(&file, 32, n, false)
        }],
    );
    rows.push(Row {
        name: "aio 4 KiB random reads, depth 32, whole queue per io_submit",
        unit: "IOPS",
        ours: n as f64 / m[0],
        c: None,
        peer: Some(("ours, one per io_submit", n as f64 / m[1])),
        higher_is_better: true,
        note: "batching the submission halves what a virtio disk delivers".into(),
    });
    rows
}

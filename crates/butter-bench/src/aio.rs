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

/// A job: block size, queue depth, sequential or random offsets.
#[derive(Clone, Copy)]
struct Job {
    bs: usize,
    depth: u32,
    seq: bool,
}

impl Job {
    const fn rand4k(depth: u32) -> Job {
        Job {
            bs: BS,
            depth,
            seq: false,
        }
    }

    fn blocks(self) -> u64 {
        SIZE / self.bs as u64
    }
}

/// Offsets of a job, in block units: xorshift for random ones (the same
/// sequence as the C loop), a wrapping counter for sequential ones.
struct Offsets {
    rng: u64,
    next: u64,
    job: Job,
}

impl Offsets {
    fn new(job: Job) -> Offsets {
        Offsets {
            rng: 0x2545_F491_4F6C_DD1D,
            next: 0,
            job,
        }
    }

    fn next(&mut self) -> u64 {
        let block = if self.job.seq {
            self.next % self.job.blocks()
        } else {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            self.rng % self.job.blocks()
        };
        self.next += 1;
        block * self.job.bs as u64
    }
}

/// The wall and CPU time of a loop.
#[derive(Clone, Copy)]
struct Took {
    wall: Duration,
    cpu: Duration,
}

fn ours(file: &File, job: Job, n: u64, batched: bool) -> Duration {
    ours_took(file, job, n, batched).wall
}

/// Our loop; the context is made before and destroyed after the timed
/// part, as the C loop's.
fn ours_took(file: &File, job: Job, n: u64, batched: bool) -> Took {
    let mut ctx = Context::new(job.depth).expect("io_setup");
    let mut free: Vec<Buf> = (0..job.depth)
        .map(|_| Buf::from(AlignedBuf::new(job.bs, 4096).expect("buffer")))
        .collect();
    let mut offsets = Offsets::new(job);
    let mut done: Vec<Completion> = Vec::with_capacity(job.depth as usize);
    let cpu0 = cpu_time();
    let wall = timed(|| {
        let (mut submitted, mut finished) = (0u64, 0u64);
        let mut batch_all = Vec::with_capacity(job.depth as usize);
        while finished < n {
            while submitted < n {
                let Some(buf) = free.pop() else { break };
                let op = Op::read(file, offsets.next(), buf);
                submitted += 1;
                // One operation per io_submit, as fio does by default: a
                // whole queue in one call is served in lockstep (see the
                // batched row).
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
            ctx.reap(1, job.depth as usize, None, &mut done)
                .expect("reap");
            for c in done.drain(..) {
                assert_eq!(c.result().ok(), Some(job.bs as u64));
                finished += 1;
                free.extend(c.into_buffers());
            }
        }
    });
    Took {
        wall,
        cpu: cpu_time().saturating_sub(cpu0),
    }
}

fn in_c(file: &File, job: Job, n: u64) -> Duration {
    in_c_took(file, job, n).wall
}

fn in_c_took(file: &File, job: Job, n: u64) -> Took {
    let (wall, cpu) = c::aio_read(
        file.as_fd(),
        job.bs as u64,
        job.depth,
        n,
        job.blocks(),
        1,
        job.seq,
    )
    .expect("C aio loop failed");
    Took { wall, cpu }
}

/// The same job through io_uring (the `io-uring` crate), what a user might
/// pick instead of native AIO, in the same pattern as the AIO loops: each
/// read submitted by its own `io_uring_enter` as its buffer frees up (all
/// queued reads in one call would be served in lockstep, as the batched
/// AIO row shows), then a wait for at least one completion, taken from the
/// shared ring.
#[allow(unsafe_code)]
fn uring(file: &File, job: Job, n: u64) -> Duration {
    use io_uring::{IoUring, opcode, types};
    let mut ring = IoUring::new(job.depth.next_power_of_two()).expect("io_uring_setup");
    let mut bufs: Vec<AlignedBuf> = (0..job.depth)
        .map(|_| AlignedBuf::new(job.bs, 4096).expect("buffer"))
        .collect();
    let mut free: Vec<usize> = (0..bufs.len()).collect();
    let mut offsets = Offsets::new(job);
    let fd = types::Fd(std::os::fd::AsRawFd::as_raw_fd(file));
    let len = u32::try_from(job.bs).expect("block size");
    timed(|| {
        let (mut submitted, mut finished) = (0u64, 0u64);
        while finished < n {
            while submitted < n {
                let Some(slot) = free.pop() else { break };
                let read = opcode::Read::new(fd, bufs[slot].as_mut_ptr(), len)
                    .offset(offsets.next())
                    .build()
                    .user_data(slot as u64);
                // SAFETY: the buffer is not touched again until its
                // completion comes back below, and outlives the ring's use.
                unsafe { ring.submission().push(&read).expect("room in the queue") };
                ring.submit().expect("io_uring_enter");
                submitted += 1;
            }
            ring.submit_and_wait(1).expect("io_uring_enter");
            for cqe in ring.completion() {
                assert_eq!(cqe.result(), i32::try_from(job.bs).unwrap_or(-1));
                free.push(usize::try_from(cqe.user_data()).unwrap_or(0));
                finished += 1;
            }
        }
    })
}

/// What fio measured of a job: its IOPS, and its CPU time (user and
/// system, from its `usr_cpu`/`sys_cpu` percentages of the job's runtime)
/// per operation, in seconds.
struct FioRun {
    iops: f64,
    cpu_per_io: f64,
}

/// fio's own measure of the same job.
fn fio_run(path: &Path, job: Job, n: u64) -> Option<FioRun> {
    let out = Command::new("fio")
        .args([
            "--name=j",
            "--ioengine=libaio",
            "--direct=1",
            "--output-format=json",
        ])
        .arg(if job.seq {
            "--rw=read"
        } else {
            "--rw=randread"
        })
        .arg(format!("--filename={}", path.display()))
        .arg(format!("--bs={}", job.bs))
        .arg(format!("--iodepth={}", job.depth))
        .arg(format!("--size={SIZE}"))
        // Past the file's end, fio starts over (as ours and C do): a
        // sequential job longer than the file is still n reads.
        .arg(format!(
            "--loops={}",
            (n * job.bs as u64).div_ceil(SIZE).max(1)
        ))
        .arg(format!("--number_ios={n}"))
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let j = &v["jobs"][0];
    let ios = j["read"]["total_ios"].as_f64()?;
    let cpu_pct = j["usr_cpu"].as_f64()? + j["sys_cpu"].as_f64()?;
    let runtime_s = j["job_runtime"].as_f64()? / 1e3;
    Some(FioRun {
        iops: j["read"]["iops"].as_f64()?,
        cpu_per_io: cpu_pct / 100.0 * runtime_s / ios.max(1.0),
    })
}

/// fio's time for `n` operations of the job, at its rate.
fn fio(path: &Path, job: Job, n: u64) -> Option<Duration> {
    fio_run(path, job, n).map(|r| Duration::from_secs_f64(n as f64 / r.iops))
}

/// This process's CPU time, user and system (`CLOCK_PROCESS_CPUTIME_ID`,
/// as the C loop reads it).
fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(
        t.tv_sec.unsigned_abs(),
        t.tv_nsec.unsigned_abs().try_into().unwrap_or(0),
    )
}

/// A measured variant: one run, its time.
type Variant<'a> = Box<dyn FnMut() -> Duration + 'a>;

/// Ours, the C loop and (where installed) fio on the same job: their wall
/// times for `n` reads.
fn ours_c_fio<'a>(
    file: &'a File,
    path: &'a Path,
    job: Job,
    n: u64,
    fio_too: bool,
) -> Vec<Variant<'a>> {
    let mut variants: Vec<Variant<'a>> = vec![
        Box::new(move || ours(file, job, n, false)),
        Box::new(move || in_c(file, job, n)),
    ];
    if fio_too {
        variants.push(Box::new(move || fio(path, job, n).expect("fio")));
    }
    variants
}

/// [`interleaved`] over boxed variants.
fn medians(rounds: usize, mut variants: Vec<Variant<'_>>) -> Vec<f64> {
    let mut refs: Vec<&mut dyn FnMut() -> Duration> = variants
        .iter_mut()
        .map(|b| &mut **b as &mut dyn FnMut() -> Duration)
        .collect();
    interleaved(rounds, &mut refs)
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
    let have_fio = fio(&path, Job::rand4k(1), 16).is_some();
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
        let job = Job::rand4k(depth);
        let m = medians(plan.rounds, ours_c_fio(&file, &path, job, n, have_fio));
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
        &mut [&mut || ours(&file, Job::rand4k(32), n, true), &mut || {
            ours(&file, Job::rand4k(32), n, false)
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
    // CPU per operation at depth 32: ours reaps from the ring in user
    // space where the C loop calls io_getevents every time; fio's own
    // accounting of its job.
    let job = Job::rand4k(32);
    let mut variants: Vec<Variant> = vec![
        Box::new(|| ours_took(&file, job, n, false).cpu),
        Box::new(|| in_c_took(&file, job, n).cpu),
    ];
    if have_fio {
        variants.push(Box::new(|| {
            let r = fio_run(&path, job, n).expect("fio");
            Duration::from_secs_f64(r.cpu_per_io * n as f64)
        }));
    }
    let m = medians(plan.rounds, variants);
    let us = |s: f64| s / n as f64 * 1e6;
    rows.push(Row {
        name: "aio 4 KiB random reads, depth 32: CPU per read",
        unit: "µs",
        ours: us(m[0]),
        c: Some(us(m[1])),
        peer: m.get(2).map(|&s| ("fio libaio (the tool)", us(s))),
        higher_is_better: false,
        note: "user + system time of the loop (fio: of its job)".into(),
    });
    // Beside io_uring, at depths 1 and 32.
    for (depth, name) in [
        (1u32, "aio 4 KiB random reads, depth 1, beside io_uring"),
        (32, "aio 4 KiB random reads, depth 32, beside io_uring"),
    ] {
        let job = Job::rand4k(depth);
        let m = interleaved(
            plan.rounds,
            &mut [&mut || ours(&file, job, n, false), &mut || {
                uring(&file, job, n)
            }],
        );
        rows.push(Row {
            name,
            unit: "IOPS",
            ours: n as f64 / m[0],
            c: None,
            peer: Some(("io_uring (io-uring crate)", n as f64 / m[1])),
            higher_is_better: true,
            note: "io_uring submitting each read as it is queued".into(),
        });
    }
    // Sequential 1 MiB reads: bandwidth, in MB/s (10^6 bytes).
    let job = Job {
        bs: 1 << 20,
        depth: 4,
        seq: true,
    };
    let n = (plan.aio_ios / 100).max(16);
    let mbs = |s: f64| (n * job.bs as u64) as f64 / s / 1e6;
    let m = medians(plan.rounds, ours_c_fio(&file, &path, job, n, have_fio));
    rows.push(Row {
        name: "aio 1 MiB sequential reads, O_DIRECT, depth 4",
        unit: "MB/s",
        ours: mbs(m[0]),
        c: Some(mbs(m[1])),
        peer: m.get(2).map(|&s| ("fio libaio (the tool)", mbs(s))),
        higher_is_better: true,
        note: format!("{n} MiB read, through the 256 MiB file and over again"),
    });
    rows
}

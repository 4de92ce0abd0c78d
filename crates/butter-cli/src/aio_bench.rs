//! `butter aio-bench`: a fio-like load on native AIO through kernel-aio.
// Slot numbers are below --iodepth (a u32) and block sizes are checked to
// be small, so the u64 → usize conversions here are exact on 64-bit Linux.
#![allow(clippy::cast_possible_truncation)]

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use butter::aio::{AlignedBuf, Buf, Completion, Context, Op, RwFlags};

use crate::json;
use crate::output::{Outcome, UsageError, fail, print};

/// `butter aio-bench`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    help_template = crate::output::HELP_TEMPLATE,
    about = "Measure native AIO on a file, as fio's libaio engine does",
    long_about = "Runs a fio-like job on FILE through kernel-aio: --iodepth operations kept in \
flight, each --bs bytes, at random or sequential offsets within --size, for --runtime seconds. \
Makes the file (filled with data) when it is missing, and marks it as its own \
(the user.butter.aio-bench attribute): only such a file is lengthened to --size, and a write job \
writes into any other existing file only with --overwrite. Latencies are kept in a fixed-size \
histogram. Prints IOPS, bandwidth, \
completion latency percentiles and CPU time per IO, like fio's summary; --json prints one \
object. The matching fio job: fio --name=j --ioengine=libaio --filename=FILE --rw=RW --bs=BS \
--iodepth=N --size=S --runtime=SECS --time_based --direct=1."
)]
pub struct Args {
    /// The file to run on (made when missing).
    pub file: PathBuf,
    /// randread, randwrite, read, write or randrw (half and half).
    #[arg(long, default_value = "randread")]
    pub rw: String,
    /// Block size of each operation (4k, 64k, 1M).
    #[arg(long, default_value = "4k")]
    pub bs: String,
    /// Operations kept in flight.
    #[arg(long, default_value_t = 32)]
    pub iodepth: u32,
    /// The part of the file used (made this long if shorter).
    #[arg(long, default_value = "256M")]
    pub size: String,
    /// Seconds to run.
    #[arg(long, default_value_t = 5.0)]
    pub runtime: f64,
    /// Stop after this many operations, if --runtime has not passed first
    /// (fio's number_ios).
    #[arg(long, value_name = "N")]
    pub number_ios: Option<u64>,
    /// O_DIRECT (the buffers are aligned for it).
    #[arg(long)]
    pub direct: bool,
    /// RWF_NOWAIT on every operation (those that would block are retried).
    #[arg(long)]
    pub nowait: bool,
    /// Operations per io_submit (fio's iodepth_batch_submit).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub batch: usize,
    /// Let a write job write into an existing file that aio-bench did not
    /// lay out (its data is overwritten).
    #[arg(long)]
    pub overwrite: bool,
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
}

/// What one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Operations completed.
    pub ios: u64,
    /// Bytes moved.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Completion latencies in nanoseconds, as a histogram of three
    /// significant digits: fixed memory however long the run.
    pub latencies: hdrhistogram::Histogram<u64>,
    /// CPU time of this process in user and system mode.
    pub cpu_user: Duration,
    /// See `cpu_user`.
    pub cpu_sys: Duration,
    /// Operations that would have blocked (with `--nowait`), retried.
    pub would_block: u64,
}

impl Summary {
    /// Operations per second.
    pub fn iops(&self) -> f64 {
        self.ios as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at percentile `p` (0–100), in nanoseconds (0 when
    /// nothing completed), to three significant digits.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.latencies.is_empty() {
            return 0;
        }
        self.latencies
            .value_at_quantile(p.clamp(0.0, 100.0) / 100.0)
    }
}

/// A latency histogram from 1 ns to an hour, three significant digits
/// (about 300 KiB, whatever the number of IOs).
fn latency_histogram() -> Result<hdrhistogram::Histogram<u64>, butter::Error> {
    hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
        .map_err(|e| butter::Error::invalid_input("aio-bench", format!("latency histogram: {e}")))
}

/// The kind of job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rw {
    /// Random reads.
    RandRead,
    /// Random writes.
    RandWrite,
    /// Sequential reads.
    Read,
    /// Sequential writes.
    Write,
    /// Random, half reads and half writes.
    RandRw,
}

impl std::str::FromStr for Rw {
    type Err = UsageError;
    fn from_str(s: &str) -> Result<Rw, UsageError> {
        Ok(match s {
            "randread" => Rw::RandRead,
            "randwrite" => Rw::RandWrite,
            "read" => Rw::Read,
            "write" => Rw::Write,
            "randrw" => Rw::RandRw,
            other => {
                return Err(UsageError(format!(
                    "--rw {other}: expected randread, randwrite, read, write or randrw"
                )));
            }
        })
    }
}

/// This process's user and system CPU time, from `/proc/self/stat`
/// (clock ticks of `USER_HZ`, 100 per second on Linux).
fn cpu_times() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    (
        Duration::from_millis(ticks(11) * 10),
        Duration::from_millis(ticks(12) * 10),
    )
}

/// This process's peak resident memory (`VmHWM`), in KiB.
fn max_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The extended attribute that marks a file as laid out by `aio-bench`:
/// such a file may be lengthened and written by a later run.
const MARK: &str = "user.butter.aio-bench";

/// Whether `aio-bench` laid `file` out itself (it carries [`MARK`]).
fn laid_out_by_us(file: &File) -> bool {
    let mut value = [0u8; 16];
    rustix::fs::fgetxattr(file, MARK, &mut value).is_ok()
}

/// Opens the job's file, making it (filled with data) when it is missing.
///
/// A file that was there before is the user's: it is never lengthened, and
/// opened for writing only when the job writes and `overwrite` says so,
/// unless an earlier run laid it out (it carries the `user.butter.aio-bench`
/// attribute, where the filesystem keeps user attributes).
///
/// # Errors
/// Opening or writing the file; `InvalidInput` (as an `io::Error`) for an
/// existing file that is shorter than `size`, or that a writing job would
/// overwrite without `overwrite`.
pub fn prepare_file(
    path: &std::path::Path,
    size: u64,
    direct: bool,
    writes: bool,
    overwrite: bool,
) -> std::io::Result<File> {
    use std::io::{Error, ErrorKind};
    let made = match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => None,
        Err(e) => return Err(e),
    };
    let ours = match &made {
        Some(f) => {
            // Best effort: without user attributes the file is simply
            // treated as the user's next time.
            let _ = rustix::fs::fsetxattr(f, MARK, b"1", rustix::fs::XattrFlags::empty());
            true
        }
        None => File::open(path).is_ok_and(|f| laid_out_by_us(&f)),
    };
    let have = std::fs::metadata(path)?.len();
    if !ours {
        if !std::fs::metadata(path)?.is_file() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "not a regular file: aio-bench runs on a file it may lay out (a block device's data is not to be written to)",
            ));
        }
        if have < size {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "an existing file of {have} bytes, shorter than --size {size}: aio-bench lengthens only a file it made; pass a --size it holds, or a new file name"
                ),
            ));
        }
        if writes && !overwrite {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "an existing file that this write job would overwrite; pass --overwrite to let it, or a new file name",
            ));
        }
    }
    if have < size {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = match made {
            Some(f) => f,
            None => OpenOptions::new().write(true).open(path)?,
        };
        f.seek(SeekFrom::Start(have))?;
        let chunk: Vec<u8> = (0..1 << 20)
            .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes()[0])
            .collect();
        let mut left = size - have;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            f.write_all(&chunk[..n])?;
            left -= n as u64;
        }
        f.sync_all()?;
    }
    let mut o = OpenOptions::new();
    o.read(true).write(writes);
    if direct {
        o.custom_flags(rustix::fs::OFlags::DIRECT.bits().cast_signed());
    }
    o.open(path)
}

/// Runs one job on `file`: `depth` operations of `bs` bytes in flight
/// within the first `size` bytes, until `runtime` passes (or `max_ios`
/// have completed), calling `progress` about every 200 ms.
///
/// # Errors
/// A failed operation, or the context's errors.
#[allow(clippy::too_many_arguments)]
pub fn run_job(
    file: &File,
    rw: Rw,
    bs: usize,
    depth: u32,
    size: u64,
    runtime: Duration,
    max_ios: Option<u64>,
    nowait: bool,
    batch_submit: usize,
    mut progress: impl FnMut(u64, Duration),
) -> Result<Summary, butter::Error> {
    let blocks = (size / bs as u64).max(1);
    let mut ctx = Context::new(depth)?;
    let mut free: Vec<Buf> = (0..depth)
        .map(|_| AlignedBuf::new(bs, 4096).map(Buf::from))
        .collect::<Result<_, _>>()?;
    let mut started: Vec<Instant> = vec![Instant::now(); depth as usize];
    let mut slots: Vec<u64> = (0..u64::from(depth)).collect();
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let mut next_seq = 0u64;
    let mut latencies = latency_histogram()?;
    let (mut ios, mut bytes, mut would_block) = (0u64, 0u64, 0u64);
    let (u0, s0) = cpu_times();
    let start = Instant::now();
    let mut last_progress = start;
    let mut done: Vec<Completion> = Vec::with_capacity(depth as usize);
    let flags = if nowait {
        RwFlags::NOWAIT
    } else {
        RwFlags::empty()
    };
    let mut submitted = 0u64;
    loop {
        let running = start.elapsed() < runtime && max_ios.is_none_or(|m| submitted < m);
        if running {
            let mut batch = Vec::new();
            while let (Some(buf), Some(slot)) = (free.pop(), slots.pop()) {
                let block = match rw {
                    Rw::Read | Rw::Write => {
                        next_seq = (next_seq + 1) % blocks;
                        next_seq
                    }
                    _ => {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        rng % blocks
                    }
                };
                let write = match rw {
                    Rw::Write | Rw::RandWrite => true,
                    Rw::RandRw => rng & 1 == 1,
                    _ => false,
                };
                let off = block * bs as u64;
                let op = if write {
                    Op::write(file, off, buf)
                } else {
                    Op::read(file, off, buf)
                };
                started[slot as usize] = Instant::now();
                batch.push(op.flags(flags).token(slot));
                submitted += 1;
                if max_ios.is_some_and(|m| submitted >= m) {
                    break;
                }
            }
            // Submitted `batch_submit` at a time, as fio's
            // iodepth_batch_submit: one io_submit for the whole queue makes
            // the device take and finish it in lockstep.
            let mut batch = batch.into_iter();
            let mut chunk = Vec::with_capacity(batch_submit.max(1));
            loop {
                chunk.extend(batch.by_ref().take(batch_submit.max(1)));
                if chunk.is_empty() {
                    break;
                }
                ctx.submit(&mut chunk)?;
                // What the kernel did not take goes back to the pool.
                for op in chunk.drain(..) {
                    slots.push(op.token_value());
                    free.extend(op.into_buffers());
                    submitted -= 1;
                }
            }
        }
        if ctx.in_flight() == 0 {
            if running {
                continue;
            }
            break;
        }
        done.clear();
        ctx.reap(1, depth as usize, Some(Duration::from_secs(10)), &mut done)?;
        let now = Instant::now();
        for c in done.drain(..) {
            let slot = c.token;
            match c.result() {
                Ok(n) => {
                    ios += 1;
                    bytes += n;
                    latencies.saturating_record(
                        u64::try_from((now - started[slot as usize]).as_nanos())
                            .unwrap_or(u64::MAX),
                    );
                }
                Err(e) if e.errno() == rustix::io::Errno::AGAIN.raw_os_error() && nowait => {
                    would_block += 1;
                    submitted -= 1;
                }
                Err(e) => return Err(e),
            }
            slots.push(slot);
            free.extend(c.into_buffers());
        }
        if now - last_progress > Duration::from_millis(200) {
            progress(ios, now - start);
            last_progress = now;
        }
    }
    let elapsed = start.elapsed();
    let (u1, s1) = cpu_times();
    Ok(Summary {
        ios,
        bytes,
        elapsed,
        latencies,
        cpu_user: u1.saturating_sub(u0),
        cpu_sys: s1.saturating_sub(s0),
        would_block,
    })
}

/// Runs `butter aio-bench`.
pub fn run(args: &Args) -> Outcome {
    let rw: Rw = args.rw.parse()?;
    let bs = crate::copy::parse_size(&args.bs)
        .map_err(|e| UsageError(format!("--bs {}: {e}", args.bs)))?;
    let size = crate::copy::parse_size(&args.size)
        .map_err(|e| UsageError(format!("--size {}: {e}", args.size)))?;
    if bs == 0 || bs % 512 != 0 {
        return Err(UsageError(format!(
            "--bs {}: a positive multiple of 512 bytes",
            args.bs
        )));
    }
    if size < bs {
        return Err(UsageError(format!(
            "--size {} is smaller than --bs {}",
            args.size, args.bs
        )));
    }
    if args.number_ios == Some(0) {
        return Err(UsageError("--number-ios must be at least 1".into()));
    }
    if args.iodepth == 0 {
        return Err(UsageError("--iodepth must be at least 1".into()));
    }
    if !(args.runtime > 0.0 && args.runtime.is_finite()) {
        return Err(UsageError(
            "--runtime must be a positive number of seconds".into(),
        ));
    }
    let writes = matches!(rw, Rw::Write | Rw::RandWrite | Rw::RandRw);
    let file = match prepare_file(&args.file, size, args.direct, writes, args.overwrite) {
        Ok(f) => f,
        Err(e) => return Ok(fail(&format!("{}: {e}", args.file.display()))),
    };
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    let runtime = Duration::from_secs_f64(args.runtime);
    let summary = run_job(
        &file,
        rw,
        bs as usize,
        args.iodepth,
        size,
        runtime,
        args.number_ios,
        args.nowait,
        args.batch,
        |ios, at| {
            bar.set_message(format!(
                "{} IOs, {:.1}k IOPS, {:.0}s left",
                ios,
                ios as f64 / at.as_secs_f64() / 1e3,
                (runtime.saturating_sub(at)).as_secs_f64()
            ));
            bar.tick();
        },
    );
    bar.finish_and_clear();
    let s = match summary {
        Ok(s) => s,
        Err(e) => return Ok(fail(&e)),
    };
    let per_io = |d: Duration| d.as_secs_f64() * 1e6 / s.ios.max(1) as f64;
    if args.json {
        let mut o = json::Map::new();
        o.insert("rw".into(), args.rw.clone().into());
        o.insert("bs".into(), bs.into());
        o.insert("iodepth".into(), args.iodepth.into());
        o.insert("direct".into(), args.direct.into());
        o.insert("ios".into(), s.ios.into());
        o.insert("bytes".into(), s.bytes.into());
        o.insert("iops".into(), s.iops().into());
        o.insert(
            "bw_bytes".into(),
            (s.bytes as f64 / s.elapsed.as_secs_f64()).into(),
        );
        o.insert(
            "clat_ns".into(),
            json::json!({"p50": s.percentile(50.0), "p99": s.percentile(99.0), "p99.9": s.percentile(99.9)}),
        );
        o.insert(
            "cpu_us_per_io".into(),
            json::json!({"user": per_io(s.cpu_user), "sys": per_io(s.cpu_sys)}),
        );
        o.insert("would_block".into(), s.would_block.into());
        o.insert("max_rss_kib".into(), max_rss_kib().into());
        return Ok(print(&json::line(o)));
    }
    let mib = s.bytes as f64 / s.elapsed.as_secs_f64() / f64::from(1 << 20);
    let us = |ns: u64| ns as f64 / 1e3;
    Ok(print(&format!(
        "{}: bs={} iodepth={} direct={} runtime={:.1}s\n  IOPS={}, BW={mib:.1}MiB/s\n  \
         clat (usec): p50={:.1}, p99={:.1}, p99.9={:.1}\n  cpu per IO: usr={:.2}us sys={:.2}us{}",
        args.rw,
        args.bs,
        args.iodepth,
        u8::from(args.direct),
        s.elapsed.as_secs_f64(),
        // As fio prints it: 836, 31.1k.
        if s.iops() < 10_000.0 {
            format!("{:.0}", s.iops())
        } else {
            format!("{:.1}k", s.iops() / 1e3)
        },
        us(s.percentile(50.0)),
        us(s.percentile(99.0)),
        us(s.percentile(99.9)),
        per_io(s.cpu_user),
        per_io(s.cpu_sys),
        if s.would_block > 0 {
            format!("\n  would block (retried): {}", s.would_block)
        } else {
            String::new()
        }
    )))
}

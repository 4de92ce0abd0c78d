//! zerocopy-pipe rows: our `copy` against a C splice loop, `std::io::copy`
//! and a read/write loop, for four pairs, moving a file from tmpfs.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use butter::pipe::{CopyOptions, Pipe, copy_with};

use crate::c;
use crate::harness::{Plan, Row, interleaved, timed};

/// The source: `size` bytes on tmpfs (`/dev/shm`) where there is one.
pub(crate) struct Source {
    dir: PathBuf,
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
}

impl Source {
    pub(crate) fn new(size: u64) -> Source {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("butter-bench-copy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("src");
        let mut f = File::create(&path).expect("src");
        let block: Vec<u8> = (0..1 << 20)
            .map(|i: u32| i.wrapping_mul(2_654_435_761).to_le_bytes()[3])
            .collect();
        let mut left = size;
        while left > 0 {
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(block.len());
            f.write_all(&block[..n]).expect("write");
            left -= n as u64;
        }
        Source { dir, path, size }
    }

    fn open(&self) -> File {
        File::open(&self.path).expect("open src")
    }

    fn dst_file(&self) -> File {
        File::create(self.dir.join("dst")).expect("dst")
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How a variant moves the bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Way {
    /// Our `copy`, with or without `allow_pipe_aliasing`, and growing the
    /// pipes it is given to 1 MiB or not.
    Ours { aliasing: bool, grow: bool },
    /// The C splice loop.
    C,
    /// `std::io::copy`.
    Std,
    /// A read/write loop with a 128 KiB buffer.
    ReadWrite,
}

/// The destination of a pair.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pair {
    DevNull,
    PipeToConsumer,
    UnixSocket,
    File,
    /// A producer thread writes the source into a pipe with 128 KiB writes
    /// (as `cat big |` does); the pipe's reader copies it into a file.
    PipeToFile,
}

/// A 1 MiB pipe, as `CopyOptions::grow_pipes` asks for.
pub(crate) const GROWN: usize = 1 << 20;

fn move_bytes(
    way: Way,
    src: &mut File,
    dst: &mut (impl Write + AsFd),
    size: u64,
    dst_is_pipe: bool,
) -> u64 {
    match way {
        Way::Ours { aliasing, grow } => {
            let opts = CopyOptions {
                allow_pipe_aliasing: aliasing,
                grow_pipes: grow.then_some(GROWN),
                ..CopyOptions::default()
            };
            copy_with(&*src, &*dst, &opts).expect("copy").bytes
        }
        Way::C => c::splice_copy(src.as_fd(), dst.as_fd(), size, dst_is_pipe).expect("C splice"),
        Way::Std => std::io::copy(src, dst).expect("std::io::copy"),
        Way::ReadWrite => {
            let mut buf = vec![0u8; 128 * 1024];
            let mut total = 0;
            loop {
                let n = src.read(&mut buf).expect("read");
                if n == 0 {
                    break total;
                }
                dst.write_all(&buf[..n]).expect("write");
                total += n as u64;
            }
        }
    }
}

/// `move_bytes` with a pipe as the input (the C loop splices straight).
fn move_bytes_from_pipe(way: Way, src: &mut File, dst: &mut File, size: u64) -> u64 {
    match way {
        Way::C => c::splice_copy(src.as_fd(), dst.as_fd(), size, true).expect("C splice"),
        other => move_bytes(other, src, dst, size, false),
    }
}

/// Drains `r` until end of input; returns the bytes read.
fn consume(mut r: impl Read) -> u64 {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        match r.read(&mut buf).expect("consume") {
            0 => return total,
            n => total += n as u64,
        }
    }
}

/// One timed copy of the whole source by `way` to `pair`.
pub(crate) fn run(source: &Source, pair: Pair, way: Way) -> Duration {
    let mut src = source.open();
    let size = source.size;
    let (took, moved) = match pair {
        Pair::DevNull => {
            let mut dst = File::options()
                .write(true)
                .open("/dev/null")
                .expect("/dev/null");
            let mut moved = 0;
            (
                timed(|| moved = move_bytes(way, &mut src, &mut dst, size, false)),
                moved,
            )
        }
        Pair::File => {
            let mut dst = source.dst_file();
            let mut moved = 0;
            (
                timed(|| moved = move_bytes(way, &mut src, &mut dst, size, false)),
                moved,
            )
        }
        Pair::PipeToConsumer => {
            let (r, w) = Pipe::new().expect("pipe").into_ends();
            let mut w = File::from(w);
            let mut moved = 0;
            let took = timed(|| {
                std::thread::scope(|s| {
                    let consumer = s.spawn(move || consume(File::from(r)));
                    moved = move_bytes(way, &mut src, &mut w, size, true);
                    drop(w);
                    assert_eq!(consumer.join().expect("consumer"), moved);
                });
            });
            (took, moved)
        }
        Pair::PipeToFile => {
            let mut dst = source.dst_file();
            let (r, w) = Pipe::new().expect("pipe").into_ends();
            let mut r = File::from(r);
            let mut moved = 0;
            let took = timed(|| {
                std::thread::scope(|s| {
                    s.spawn(move || {
                        let mut w = File::from(w);
                        let mut buf = vec![0u8; 128 * 1024];
                        loop {
                            let n = src.read(&mut buf).expect("producer read");
                            if n == 0 {
                                break;
                            }
                            w.write_all(&buf[..n]).expect("producer write");
                        }
                    });
                    moved = move_bytes_from_pipe(way, &mut r, &mut dst, size);
                });
            });
            (took, moved)
        }
        Pair::UnixSocket => {
            let (mut a, b) = UnixStream::pair().expect("socketpair");
            let mut moved = 0;
            let took = timed(|| {
                std::thread::scope(|s| {
                    let consumer = s.spawn(move || consume(b));
                    moved = move_bytes(way, &mut src, &mut a, size, false);
                    drop(a);
                    assert_eq!(consumer.join().expect("consumer"), moved);
                });
            });
            (took, moved)
        }
    };
    assert_eq!(moved, size, "{pair:?} by {way:?} moved {moved} of {size}");
    took
}

/// The method our `copy` picks for `pair` (one untimed copy).
pub(crate) fn method_for(source: &Source, pair: Pair, aliasing: bool) -> String {
    let src = source.open();
    let opts = CopyOptions {
        allow_pipe_aliasing: aliasing,
        ..CopyOptions::default()
    };
    if matches!(pair, Pair::PipeToFile) {
        let (r, w) = Pipe::new().expect("pipe").into_ends();
        drop(w);
        let report = copy_with(r, source.dst_file(), &opts).expect("copy");
        drop(src);
        return report.method.to_string();
    }
    let report = match pair {
        Pair::DevNull => copy_with(
            &src,
            File::options().write(true).open("/dev/null").expect("null"),
            &opts,
        ),
        Pair::File => copy_with(&src, source.dst_file(), &opts),
        Pair::PipeToConsumer => {
            let (r, w) = Pipe::new().expect("pipe").into_ends();
            std::thread::scope(|s| {
                s.spawn(move || consume(File::from(r)));
                copy_with(&src, w, &opts)
            })
        }
        Pair::UnixSocket => {
            let (a, b) = UnixStream::pair().expect("socketpair");
            std::thread::scope(|s| {
                s.spawn(move || consume(b));
                copy_with(&src, a, &opts)
            })
        }
        Pair::PipeToFile => unreachable!("answered above"),
    };
    report.expect("copy").method.to_string()
}

pub(crate) fn rows(plan: &Plan) -> Vec<Row> {
    use {Pair, Way};
    let source = Source::new(plan.copy_size);
    let gbps = |s: f64| plan.copy_size as f64 / s / 1e9;
    // (name, pair, aliasing, grow the pipes we are given)
    let cases: [(&'static str, Pair, bool, bool); 9] = [
        ("copy: file -> /dev/null", Pair::DevNull, false, false),
        (
            "copy: file -> pipe -> consumer (default)",
            Pair::PipeToConsumer,
            false,
            false,
        ),
        (
            "copy: file -> pipe -> consumer (grow pipe)",
            Pair::PipeToConsumer,
            false,
            true,
        ),
        (
            "copy: file -> pipe -> consumer (aliasing ok)",
            Pair::PipeToConsumer,
            true,
            false,
        ),
        (
            "copy: file -> pipe (aliasing ok, grow pipe)",
            Pair::PipeToConsumer,
            true,
            true,
        ),
        (
            "copy: file -> unix socket -> consumer",
            Pair::UnixSocket,
            false,
            false,
        ),
        ("copy: file -> file (tmpfs)", Pair::File, false, false),
        (
            "copy: producer -> pipe -> file",
            Pair::PipeToFile,
            false,
            false,
        ),
        (
            "copy: producer -> pipe -> file (grow pipe)",
            Pair::PipeToFile,
            false,
            true,
        ),
    ];
    let mut rows = Vec::new();
    for (name, pair, aliasing, grow) in cases {
        let method = method_for(&source, pair, aliasing);
        let m = interleaved(
            plan.copy_rounds,
            &mut [
                &mut || run(&source, pair, Way::Ours { aliasing, grow }),
                &mut || run(&source, pair, Way::C),
                &mut || run(&source, pair, Way::Std),
                &mut || run(&source, pair, Way::ReadWrite),
            ],
        );
        let mut row = Row {
            name,
            unit: "GB/s",
            ours: gbps(m[0]),
            c: Some(gbps(m[1])),
            peer: Some(("std::io::copy", gbps(m[2]))),
            higher_is_better: true,
            note: String::new(),
        };
        let rw = gbps(m[3]);
        row.note = format!(
            "ours by {method}; read/write loop {rw:.2} GB/s (x{:.2})",
            row.ratio(rw)
        );
        rows.push(row);
    }
    rows
}

//! zerocopy-pipe against real fds: every pair copies random data of many
//! sizes, and the bytes are compared one for one.

use std::fs::{File, OpenOptions};
use std::io::{IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::thread;

use butter_tests::TempDir;
use fd_core::ErrorKind;
use zerocopy_pipe::{
    CopyOptions, Method, Pipe, PipeFlags, SpliceFlags, copy, copy_at, copy_with, has_spare_pipe,
    release_spare_pipe, splice, tee, tee_split, vmsplice, vmsplice_read,
};

mod safety;

const SIZES: [usize; 6] = [0, 1, 4095, 4096, 65537, (1 << 20) + 1];
const BIG: usize = 64 << 20;

fn data(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[3]
        })
        .collect()
}

/// A directory on tmpfs (`/dev/shm`) where there is one, else the temp
/// dir; removed when dropped, whether the test passes or not.
fn shm_dir(tag: &str) -> TempDir {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    TempDir::new_in(&base, tag)
}

fn file_with(dir: &Path, name: &str, bytes: &[u8]) -> File {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    File::open(path).unwrap()
}

fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    out
}

/// Copies `src` into a fresh file and checks the bytes and the method.
fn file_to_file(src_dir: &Path, dst_dir: &Path, size: usize, limit: Option<u64>) -> Method {
    let bytes = data(size, size as u64);
    let src = file_with(src_dir, "src", &bytes);
    let dst_path = dst_dir.join("dst");
    let dst = File::create(&dst_path).unwrap();
    let report = copy(&src, &dst, limit).unwrap();
    let want = limit.map_or(size, |l| size.min(usize::try_from(l).unwrap_or(usize::MAX)));
    assert_eq!(report.bytes, want as u64, "size {size} limit {limit:?}");
    assert_eq!(std::fs::read(&dst_path).unwrap(), &bytes[..want]);
    report.method
}

#[test]
fn file_to_file_same_filesystem() {
    let dir = TempDir::new("zc-same");
    for size in SIZES {
        for limit in [None, Some(size as u64 / 2), Some(u64::MAX)] {
            let method = file_to_file(dir.path(), dir.path(), size, limit);
            // Nothing to copy: the first call returns 0 and the ladder goes on.
            if size > 0 && limit != Some(0) {
                assert_eq!(method, Method::CopyFileRange, "size {size} limit {limit:?}");
            }
        }
    }
    file_to_file(dir.path(), dir.path(), BIG, None);
}

#[test]
fn file_to_file_across_filesystems() {
    let shm = shm_dir("across");
    let disk = TempDir::new("zc-across");
    for size in SIZES {
        let method = file_to_file(shm.path(), disk.path(), size, None);
        if size > 0 {
            assert!(
                matches!(method, Method::CopyFileRange | Method::Sendfile),
                "{method}"
            );
        }
    }
}

#[test]
fn positions_advance_like_read_and_write() {
    let dir = TempDir::new("zc-pos");
    let bytes = data(10_000, 9);
    let mut src = file_with(dir.path(), "src", &bytes);
    let dst_path = dir.join("dst");
    let mut dst = File::create(&dst_path).unwrap();
    copy(&src, &dst, Some(4000)).unwrap();
    copy(&src, &dst, None).unwrap();
    assert_eq!(src.stream_position().unwrap(), 10_000);
    assert_eq!(dst.stream_position().unwrap(), 10_000);
    assert_eq!(std::fs::read(&dst_path).unwrap(), bytes);
}

#[test]
fn copy_at_leaves_positions_alone() {
    let dir = TempDir::new("zc-at");
    let bytes = data(300_000, 4);
    let mut src = file_with(dir.path(), "src", &bytes);
    let dst_path = dir.join("dst");
    let mut dst = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&dst_path)
        .unwrap();
    src.seek(SeekFrom::Start(7)).unwrap();
    for method in [Method::CopyFileRange, Method::Splice, Method::ReadWrite] {
        let opts = CopyOptions {
            limit: Some(200_000),
            method: Some(method),
            ..Default::default()
        };
        let report = copy_at(&src, 1000, &dst, 50, &opts).unwrap();
        assert_eq!((report.bytes, report.method), (200_000, method));
        assert_eq!(src.stream_position().unwrap(), 7, "{method}");
        assert_eq!(dst.stream_position().unwrap(), 0, "{method}");
        let got = std::fs::read(&dst_path).unwrap();
        assert_eq!(&got[50..200_050], &bytes[1000..201_000], "{method}");
    }
    let opts = CopyOptions {
        method: Some(Method::Sendfile),
        ..Default::default()
    };
    let err = copy_at(&src, 0, &dst, 0, &opts).unwrap_err();
    assert_eq!(err.error.kind(), ErrorKind::InvalidInput);
}

/// Copies `size` bytes from a file into `dst` while `reader` drains the
/// other side; returns the report and what the reader got.
fn file_to_stream<D: AsFd + Send, R: Read + Send>(
    size: usize,
    dst: D,
    reader: R,
    options: &CopyOptions,
) -> (zerocopy_pipe::CopyReport, Vec<u8>, Vec<u8>) {
    let dir = TempDir::new("zc-stream");
    let bytes = data(size, 77);
    let src = file_with(dir.path(), "src", &bytes);
    let (report, got) = thread::scope(|s| {
        let r = s.spawn(move || read_all(reader));
        let report = copy_with(&src, &dst, options).unwrap();
        drop(dst);
        (report, r.join().unwrap())
    });
    (report, got, bytes)
}

#[test]
fn file_to_pipe_copies_unless_aliasing_is_allowed() {
    for size in SIZES {
        let (r, w) = Pipe::new().unwrap().into_ends();
        let (report, got, bytes) = file_to_stream(size, w, File::from(r), &CopyOptions::default());
        assert_eq!(got, bytes);
        assert_eq!(report.method, Method::ReadWrite);
        assert!(
            report
                .skipped
                .iter()
                .any(|s| s.method == Method::Splice && s.reason.contains("allow_pipe_aliasing"))
        );
        let (r, w) = Pipe::new().unwrap().into_ends();
        let opts = CopyOptions {
            allow_pipe_aliasing: true,
            ..Default::default()
        };
        let (report, got, bytes) = file_to_stream(size, w, File::from(r), &opts);
        assert_eq!((got, report.method), (bytes, Method::Splice));
    }
}

/// Pipe into a file: read/write by default (measured faster than splice
/// there), splice when asked; the bytes are the same either way.
#[test]
fn pipe_to_file_reads_and_writes_or_splices() {
    let dir = TempDir::new("zc-pipe-file");
    for (method, used) in [
        (None, Method::ReadWrite),
        (Some(Method::Splice), Method::Splice),
    ] {
        for size in SIZES {
            let bytes = data(size, 3);
            let (r, w) = Pipe::new().unwrap().into_ends();
            let dst_path = dir.join("dst");
            let dst = File::create(&dst_path).unwrap();
            let opts = CopyOptions {
                method,
                ..CopyOptions::default()
            };
            let report = thread::scope(|s| {
                s.spawn(|| File::from(w).write_all(&bytes).unwrap());
                copy_with(&r, &dst, &opts).unwrap()
            });
            assert_eq!((report.bytes, report.method), (size as u64, used));
            assert_eq!(std::fs::read(&dst_path).unwrap(), bytes);
        }
    }
}

#[test]
fn file_to_unix_socket_uses_sendfile() {
    for size in SIZES.into_iter().chain([BIG]) {
        let (a, b) = UnixStream::pair().unwrap();
        let (report, got, bytes) = file_to_stream(size, a, b, &CopyOptions::default());
        assert!(got == bytes, "size {size}: data differs");
        if size > 0 {
            assert_eq!(report.method, Method::Sendfile);
        }
    }
}

#[test]
fn file_to_tcp_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    for size in SIZES {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let opts = CopyOptions {
            limit: Some(size as u64),
            ..Default::default()
        };
        let (report, got, bytes) = file_to_stream(size, client, server, &opts);
        assert_eq!(got, bytes);
        if size > 0 {
            assert_eq!(report.method, Method::Sendfile);
        }
    }
}

#[test]
fn socket_to_socket_splices_through_a_pipe() {
    for size in SIZES {
        let bytes = data(size, 11);
        let (mut feed, src) = UnixStream::pair().unwrap();
        let (dst, drain) = UnixStream::pair().unwrap();
        let (report, got) = thread::scope(|s| {
            s.spawn(|| {
                feed.write_all(&bytes).unwrap();
                feed.shutdown(std::net::Shutdown::Write).unwrap();
            });
            let r = s.spawn(move || read_all(drain));
            let report = copy(&src, &dst, None).unwrap();
            drop(dst);
            (report, r.join().unwrap())
        });
        assert_eq!((got, report.method), (bytes, Method::Splice));
    }
}

#[test]
fn nonblocking_ends_are_waited_on() {
    let size = (1 << 20) + 1;
    let bytes = data(size, 5);
    let (mut feed, src) = UnixStream::pair().unwrap();
    let (dst, drain) = UnixStream::pair().unwrap();
    src.set_nonblocking(true).unwrap();
    dst.set_nonblocking(true).unwrap();
    let got = thread::scope(|s| {
        s.spawn(|| {
            feed.write_all(&bytes).unwrap();
            feed.shutdown(std::net::Shutdown::Write).unwrap();
        });
        let r = s.spawn(move || read_all(drain));
        let report = copy(&src, &dst, None).unwrap();
        assert_eq!((report.bytes, report.method), (size as u64, Method::Splice));
        drop(dst);
        r.join().unwrap()
    });
    assert!(got == bytes);
    // read/write with a non-blocking pipe on each side.
    let (r1, w1) = Pipe::with_flags(PipeFlags::NONBLOCK).unwrap().into_ends();
    let (r2, w2) = Pipe::with_flags(PipeFlags::NONBLOCK).unwrap().into_ends();
    let got = thread::scope(|s| {
        s.spawn(|| {
            let mut w = File::from(w1);
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                fd_core::wait_writable(&w, None).unwrap();
                match w.write(rest) {
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
        });
        let reader = s.spawn(move || {
            fd_core::set_nonblocking(&r2, false).unwrap();
            read_all(File::from(r2))
        });
        let opts = CopyOptions {
            method: Some(Method::ReadWrite),
            ..Default::default()
        };
        copy_with(&r1, &w2, &opts).unwrap();
        drop(w2);
        reader.join().unwrap()
    });
    assert!(got == bytes);
}

/// Pseudo-files: procfs reports size 0 and sysfs 4096 whatever they hold,
/// and the zero-copy calls take them or not depending on the file; the copy
/// must come out whole either way.
#[test]
fn pseudo_files_copy_whole() {
    let dir = TempDir::new("zc-proc");
    let dst_path = dir.join("dst");
    // procfs: copy_file_range refuses (EXDEV), sendfile reads it.
    let dst = File::create(&dst_path).unwrap();
    let report = copy(File::open("/proc/version").unwrap(), &dst, None).unwrap();
    let want = std::fs::read("/proc/version").unwrap();
    assert_eq!(std::fs::read(&dst_path).unwrap(), want);
    assert_eq!(report.bytes, want.len() as u64);
    assert_ne!(report.method, Method::CopyFileRange);
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.method == Method::CopyFileRange),
        "{:?}",
        report.skipped
    );
    // sysfs: a size of 4096 on the inode, 18 bytes of content.
    if let Ok(src) = File::open("/sys/class/net/lo/address") {
        let dst = File::create(&dst_path).unwrap();
        let report = copy(src, &dst, None).unwrap();
        let want = std::fs::read("/sys/class/net/lo/address").unwrap();
        assert_eq!(
            (std::fs::read(&dst_path).unwrap(), report.bytes),
            (want.clone(), want.len() as u64)
        );
    }
    // A procfs file sendfile refuses (EINVAL): read/write takes over.
    let dst = File::create(&dst_path).unwrap();
    let report = copy(File::open("/proc/self/status").unwrap(), &dst, None).unwrap();
    assert_eq!(report.method, Method::ReadWrite, "{:?}", report.skipped);
    let got = String::from_utf8(std::fs::read(&dst_path).unwrap()).unwrap();
    assert!(got.starts_with("Name:") && got.contains("\nPid:"), "{got}");
    assert_eq!(report.bytes, got.len() as u64);
}

#[test]
fn append_destination_uses_read_write() {
    let dir = TempDir::new("zc-append");
    let bytes = data(100_000, 8);
    let src = file_with(dir.path(), "src", &bytes);
    let dst_path = dir.join("dst");
    std::fs::write(&dst_path, b"head:").unwrap();
    let dst = OpenOptions::new().append(true).open(&dst_path).unwrap();
    let report = copy(&src, &dst, None).unwrap();
    assert_eq!(report.method, Method::ReadWrite);
    let got = std::fs::read(&dst_path).unwrap();
    assert_eq!(&got[..5], b"head:");
    assert_eq!(&got[5..], &bytes[..]);
}

#[test]
fn errors_carry_the_bytes_moved() {
    let dir = TempDir::new("zc-err");
    let bytes = data(4 << 20, 6);
    let src = file_with(dir.path(), "src", &bytes);
    let (r, w) = Pipe::new().unwrap().into_ends();
    let err = thread::scope(|s| {
        s.spawn(move || {
            let mut first = vec![0u8; 1000];
            File::from(r).read_exact(&mut first).unwrap();
            // The reader leaves: the next write fails with EPIPE.
        });
        copy(&src, &w, None).unwrap_err()
    });
    assert_eq!(err.error.errno(), libc::EPIPE);
    assert!(
        err.copied >= 1000 && err.copied < bytes.len() as u64,
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("after {} bytes", err.copied))
    );
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::Other);
}

#[test]
fn wrong_direction_and_wrong_types() {
    let dir = TempDir::new("zc-wrong");
    let src = file_with(dir.path(), "src", b"data");
    let write_only = File::create(dir.join("wo")).unwrap();
    // Reading from a write-only file: EBADF, nothing moved.
    let err = copy(&write_only, &src, None).unwrap_err();
    assert_eq!((err.error.kind(), err.copied), (ErrorKind::InvalidInput, 0));
    // tee needs pipes on both ends.
    let pipe = Pipe::new().unwrap();
    let err = tee(&src, pipe.write_end(), 4, SpliceFlags::empty()).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::InvalidInput, libc::EINVAL)
    );
    // An offset on a pipe is refused before the call.
    let mut off = 0;
    let err = splice(
        pipe.read_end(),
        Some(&mut off),
        &write_only,
        None,
        4,
        SpliceFlags::empty(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("the input is a pipe"), "{err}");
    let err = copy_at(pipe.read_end(), 0, &write_only, 0, &CopyOptions::default()).unwrap_err();
    assert!(
        err.error.to_string().contains("offsets mean nothing"),
        "{err}"
    );
    // Neither end a pipe: splice itself refuses.
    let err = splice(&src, None, &write_only, None, 4, SpliceFlags::empty()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        "teleport"
            .parse::<Method>()
            .unwrap_err()
            .to_string()
            .contains("unknown copy method")
    );
    for m in Method::ALL {
        assert_eq!(m.name().parse::<Method>().unwrap(), m);
    }
}

#[test]
fn pipe_capacity_and_its_limits() {
    let pipe = Pipe::new().unwrap();
    assert!(
        fd_core::is_cloexec(pipe.read_end()).unwrap()
            && fd_core::is_cloexec(pipe.write_end()).unwrap()
    );
    assert_eq!(pipe.capacity().unwrap(), 65536);
    assert_eq!(pipe.set_capacity(100_000).unwrap(), 131_072);
    let max: usize = fd_core::probe::read_proc_u64("/proc/sys/fs/pipe-max-size")
        .unwrap()
        .try_into()
        .unwrap();
    if fd_core::probe::has_capability(24).unwrap() {
        eprintln!(
            "partly skipped: the pipe-max-size refusal: this process has CAP_SYS_RESOURCE, which may pass it"
        );
    } else {
        let err = pipe.set_capacity(max * 2).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("pipe-max-size is"), "{err}");
    }
    rustix::io::write(pipe.write_end(), &data(100_000, 1)).unwrap();
    assert_eq!(pipe.available().unwrap(), 100_000);
    let err = pipe.set_capacity(4096).unwrap_err();
    assert_eq!(err.errno(), libc::EBUSY);
    assert!(
        err.to_string()
            .contains("less than the data now in the pipe"),
        "{err}"
    );
    let nb = Pipe::with_flags(PipeFlags::NONBLOCK).unwrap();
    assert!(fd_core::is_nonblocking(nb.read_end()).unwrap());
}

#[test]
fn tee_split_feeds_two_consumers_the_same_bytes() {
    let bytes = data((1 << 20) + 7, 21);
    let (src_r, src_w) = Pipe::new().unwrap().into_ends();
    let (a_r, a_w) = Pipe::new().unwrap().into_ends();
    let (b, b_peer) = UnixStream::pair().unwrap();
    let (total, got_a, got_b) = thread::scope(|s| {
        s.spawn(|| File::from(src_w).write_all(&bytes).unwrap());
        let ra = s.spawn(move || read_all(File::from(a_r)));
        let rb = s.spawn(move || read_all(b_peer));
        let total = tee_split(&src_r, &a_w, &b, None).unwrap();
        drop((a_w, b));
        (total, ra.join().unwrap(), rb.join().unwrap())
    });
    assert_eq!(total, bytes.len() as u64);
    assert!(got_a == bytes && got_b == bytes);
}

#[test]
fn vmsplice_both_ways() {
    let pipe = Pipe::new().unwrap();
    let message = b"mapped, not copied".to_vec();
    // SAFETY: `message` is neither written nor freed until the reader below
    // has consumed every byte spliced from it.
    let n = unsafe {
        vmsplice(
            pipe.write_end(),
            &[IoSlice::new(&message)],
            SpliceFlags::empty(),
        )
    }
    .unwrap();
    assert_eq!(n, message.len());
    let (mut a, mut b) = ([0u8; 6], [0u8; 32]);
    let got = vmsplice_read(
        pipe.read_end(),
        &mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)],
    )
    .unwrap();
    assert_eq!(got, message.len());
    assert_eq!([&a[..], &b[..got - 6]].concat(), message);
    drop(message);
    let err = vmsplice_read(pipe.write_end(), &mut [IoSliceMut::new(&mut a)]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let _: OwnedFd = pipe.into_ends().0;
}

#[cfg(feature = "async")]
mod asynchronous {
    use super::*;
    use async_io::Async;
    use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
    use zerocopy_pipe::{AsyncPipe, copy_async};

    /// `copy_async` takes the blocking copy's options: a method that
    /// cannot wait on a reactor is refused before anything moves, and a
    /// pipe that cannot be grown is a note in the report, not a failure.
    #[test]
    fn copy_async_options_and_report() {
        let (_feed, src) = UnixStream::pair().unwrap();
        let (dst, _drain) = UnixStream::pair().unwrap();
        let (src, dst) = (Async::new(src).unwrap(), Async::new(dst).unwrap());
        let options = CopyOptions {
            method: Some(Method::CopyFileRange),
            ..CopyOptions::default()
        };
        let err = future::block_on(copy_async(&src, &dst, &options)).unwrap_err();
        assert_eq!((err.error.kind(), err.copied), (ErrorKind::InvalidInput, 0));
        assert!(
            err.error.to_string().contains("splice only"),
            "{}",
            err.error
        );

        let pipe = AsyncPipe::new().unwrap();
        let (dst, mut drain) = UnixStream::pair().unwrap();
        let dst = Async::new(dst).unwrap();
        let wrote = rustix::io::write(pipe.write_end().get_ref(), b"abc").unwrap();
        assert_eq!(wrote, 3);
        // Far past pipe-max-size: refused by the kernel, noted, copied anyway.
        let options = CopyOptions {
            limit: Some(3),
            grow_pipes: Some(1 << 40),
            ..CopyOptions::default()
        };
        let report = future::block_on(copy_async(pipe.read_end(), &dst, &options)).unwrap();
        assert_eq!((report.bytes, report.method), (3, Method::Splice));
        assert!(
            report.notes.iter().any(|n| n.contains("not grown")),
            "{report:?}"
        );
        let mut got = [0u8; 3];
        drain.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"abc");
    }

    /// Feeds `bytes` into one socket pair, copies to another, drains it.
    async fn socket_to_socket(bytes: &[u8], limit: Option<u64>) -> (u64, Vec<u8>) {
        let (feed, src) = UnixStream::pair().unwrap();
        let (dst, drain) = UnixStream::pair().unwrap();
        let (mut feed, src, dst, mut drain) = (
            Async::new(feed).unwrap(),
            Async::new(src).unwrap(),
            Async::new(dst).unwrap(),
            Async::new(drain).unwrap(),
        );
        let writer = async {
            feed.write_all(bytes).await.unwrap();
            feed.get_ref().shutdown(std::net::Shutdown::Write).unwrap();
        };
        let copier = async {
            let options = CopyOptions {
                limit,
                ..CopyOptions::default()
            };
            let n = copy_async(&src, &dst, &options).await.unwrap().bytes;
            dst.get_ref().shutdown(std::net::Shutdown::Write).unwrap();
            n
        };
        let reader = async {
            let mut got = Vec::new();
            drain.read_to_end(&mut got).await.unwrap();
            got
        };
        let (((), n), got) = future::zip(future::zip(writer, copier), reader).await;
        (n, got)
    }

    #[test]
    fn socket_to_socket_on_block_on() {
        for size in SIZES {
            let bytes = data(size, 31);
            let (n, got) = future::block_on(socket_to_socket(&bytes, None));
            assert_eq!(n, size as u64);
            assert!(got == bytes, "size {size}");
        }
        let bytes = data(100_000, 2);
        let (n, got) = future::block_on(socket_to_socket(&bytes, Some(40_000)));
        assert_eq!((n, &got[..]), (40_000, &bytes[..40_000]));
    }

    #[test]
    fn pipe_to_socket_on_a_thread_pool() {
        let bytes = data((1 << 20) + 3, 12);
        let pipe = AsyncPipe::new().unwrap();
        let (dst, drain) = UnixStream::pair().unwrap();
        let dst = Async::new(dst).unwrap();
        // Each executor thread takes one unit of this semaphore to stop.
        let stop = event_fd::AsyncEventFd::new(
            event_fd::EventFd::with_flags(0, event_fd::EventFdFlags::SEMAPHORE).unwrap(),
        )
        .unwrap();
        let ex = async_executor::Executor::new();
        let got = thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| future::block_on(ex.run(stop.read())));
            }
            let r = s.spawn(move || read_all(drain));
            let writer = ex.spawn(async {
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let n = pipe.write(rest).await.unwrap();
                    rest = &rest[n..];
                }
            });
            let copied = future::block_on(async {
                let options = CopyOptions {
                    limit: Some(bytes.len() as u64),
                    grow_pipes: Some(1 << 20),
                    ..CopyOptions::default()
                };
                let copier = copy_async(pipe.read_end(), &dst, &options);
                let (report, ()) = future::zip(copier, writer).await;
                let report = report.unwrap();
                assert_eq!(report.method, Method::Splice);
                report.bytes
            });
            assert_eq!(copied, bytes.len() as u64);
            drop(dst);
            stop.get_ref().write(2).unwrap();
            r.join().unwrap()
        });
        assert!(got == bytes);
    }

    #[test]
    fn closed_output_fails_with_bytes_moved() {
        let (feed, src) = UnixStream::pair().unwrap();
        let (dst, mut drain) = UnixStream::pair().unwrap();
        let (mut feed, src, dst) = (
            Async::new(feed).unwrap(),
            Async::new(src).unwrap(),
            Async::new(dst).unwrap(),
        );
        let bytes = data(4 << 20, 7);
        let err = thread::scope(|s| {
            // The reader takes 1000 bytes and leaves.
            s.spawn(move || {
                let mut first = [0u8; 1000];
                drain.read_exact(&mut first).unwrap();
            });
            future::block_on(async {
                let writer = async {
                    let _ = feed.write_all(&bytes).await;
                };
                let copier = async {
                    let res = copy_async(&src, &dst, &CopyOptions::default()).await;
                    // Stop the feed too: its writes now fail and it ends.
                    src.get_ref().shutdown(std::net::Shutdown::Both).unwrap();
                    res
                };
                future::zip(copier, writer).await.0
            })
        })
        .unwrap_err();
        assert!(
            matches!(err.error.errno(), libc::EPIPE | libc::ECONNRESET),
            "{err}"
        );
        assert!(err.copied >= 1000, "{err}");
    }
}

/// The spare pipe a socket-to-socket copy keeps is seen and released: one
/// per thread, gone after `release_spare_pipe`, and the next copy works
/// without it. (Not counted in `/proc/self/fd`: the other tests' threads
/// open fds at the same time.)
#[test]
fn spare_pipe_is_seen_and_released() {
    thread::spawn(|| {
        release_spare_pipe();
        let once = || {
            let (mut feed, src) = UnixStream::pair().unwrap();
            let (dst, mut drain) = UnixStream::pair().unwrap();
            feed.write_all(b"through the relay").unwrap();
            drop(feed);
            let report = copy(&src, &dst, None).unwrap();
            assert_eq!((report.bytes, report.method), (17, Method::Splice));
            drop(dst);
            let mut got = Vec::new();
            drain.read_to_end(&mut got).unwrap();
            assert_eq!(got, b"through the relay");
        };
        once();
        assert!(has_spare_pipe(), "the relay's empty pipe is kept");
        assert!(release_spare_pipe());
        assert!(!has_spare_pipe() && !release_spare_pipe());
        once();
    })
    .join()
    .unwrap();
}

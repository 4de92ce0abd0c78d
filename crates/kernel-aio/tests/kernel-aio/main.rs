//! kernel-aio against the real kernel, on real files of the machine's disk
//! (scratch files removed after), pipes and sockets. Each test runs in a
//! forked child of the fork-per-test harness (one checks a forked child's
//! refusal, one lowers nothing: the limit test asks for more than
//! `aio-max-nr`).
// Tokens, sizes and results here are small test numbers.
#![allow(clippy::cast_possible_truncation)]

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use butter_tests::{Needs, TempDir, Test, exit_code, fork_child, skip};
use kernel_aio::{
    AlignedBuf, Buf, Completion, Context, ErrorKind, IoPrioClass, IoPriority, Op, RwFlags,
};

const LIMIT: Option<Duration> = Some(Duration::from_secs(10));

fn main() -> std::process::ExitCode {
    use Needs::Isolation;
    #[allow(unused_mut)]
    let mut tests = vec![
        Test {
            name: "roundtrip_read_write_sizes_offsets",
            needs: Isolation,
            run: roundtrip,
        },
        Test {
            name: "vectored_across_buffer_boundaries",
            needs: Isolation,
            run: vectored,
        },
        Test {
            name: "fsync_fdsync_priority_flags",
            needs: Isolation,
            run: sync_ops,
        },
        Test {
            name: "direct_io_aligned_and_refused",
            needs: Isolation,
            run: direct_io,
        },
        Test {
            name: "poll_pipe_and_socket",
            needs: Isolation,
            run: poll_ops,
        },
        Test {
            name: "eventfd_in_epoll",
            needs: Isolation,
            run: eventfd_epoll,
        },
        Test {
            name: "short_reads_at_eof",
            needs: Isolation,
            run: short_reads,
        },
        Test {
            name: "full_ring_many_rounds_nothing_lost",
            needs: Isolation,
            run: many_rounds,
        },
        Test {
            name: "cancel_exactly_once",
            needs: Isolation,
            run: cancel,
        },
        Test {
            name: "drop_with_operations_in_flight",
            needs: Isolation,
            run: drop_in_flight,
        },
        Test {
            name: "errors_from_bad_input",
            needs: Isolation,
            run: errors,
        },
        Test {
            name: "forked_child_is_refused",
            needs: Isolation,
            run: forked_child,
        },
        Test {
            name: "pgetevents_with_a_mask",
            needs: Isolation,
            run: pgetevents,
        },
    ];
    #[cfg(feature = "async")]
    tests.push(Test {
        name: "async_on_two_executors",
        needs: Isolation,
        run: async_two_executors,
    });
    butter_tests::run(&tests)
}

/// `submit(op).await` from many tasks at once, on futures-lite's
/// `block_on` and on a two-thread async-executor; a future dropped before
/// its completion leaves its buffer to the context.
#[cfg(feature = "async")]
fn async_two_executors() {
    use kernel_aio::AsyncContext;
    use std::sync::Arc;
    let dir = TempDir::new("aio-async");
    let file = Arc::new(scratch(&dir, "f", 0));
    let ctx = Arc::new(AsyncContext::new(64).unwrap());
    // Many tasks at once: each gets its own completion, token kept.
    let writes = (0..32u64).map(|i| {
        let (ctx, file) = (Arc::clone(&ctx), Arc::clone(&file));
        async move {
            let c = ctx
                .submit(Op::write(&*file, i * 4096, data(4096, i)).token(i))
                .await
                .unwrap();
            assert_eq!((c.token, c.result().unwrap()), (i, 4096));
        }
    });
    futures_lite::future::block_on(async {
        let mut all = Vec::new();
        for w in writes {
            all.push(Box::pin(w));
        }
        for w in all {
            w.await;
        }
    });
    // On async-executor with two threads, reading them back concurrently.
    let ex = Arc::new(async_executor::Executor::new());
    // Each runner thread stops when it takes one from a semaphore eventfd.
    let stop = Arc::new(
        event_fd::AsyncEventFd::new(
            event_fd::EventFd::with_flags(
                0,
                event_fd::EventFdFlags::SEMAPHORE | event_fd::EventFdFlags::NONBLOCK,
            )
            .unwrap(),
        )
        .unwrap(),
    );
    let runners: Vec<_> = (0..2)
        .map(|_| {
            let (ex, stop) = (Arc::clone(&ex), Arc::clone(&stop));
            std::thread::spawn(move || {
                futures_lite::future::block_on(ex.run(async move { stop.read().await }))
            })
        })
        .collect();
    let tasks: Vec<_> = (0..32u64)
        .map(|i| {
            let (ctx, file) = (Arc::clone(&ctx), Arc::clone(&file));
            ex.spawn(async move {
                let c = ctx
                    .submit(Op::read(&*file, i * 4096, vec![0u8; 4096]).token(i))
                    .await
                    .unwrap();
                assert_eq!(c.buffers()[0].as_slice(), data(4096, i));
            })
        })
        .collect();
    futures_lite::future::block_on(async {
        for t in tasks {
            t.await;
        }
    });
    futures_lite::future::block_on(stop.write(2)).unwrap();
    for r in runners {
        r.join().unwrap().unwrap();
    }
    // A future polled once and dropped: its poll stays in flight, owned by
    // the context, and the context still works.
    let (r, w) = rustix::pipe::pipe().unwrap();
    {
        let mut fut = Box::pin(ctx.submit(Op::poll(&r, libc::POLLIN)));
        let waker = futures_lite::future::block_on(futures_lite::future::poll_fn(|cx| {
            std::task::Poll::Ready(cx.waker().clone())
        }));
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(ctx.in_flight(), 1);
    rustix::io::write(&w, b"x").unwrap();
    let c = futures_lite::future::block_on(ctx.submit(Op::read(&*file, 0, vec![0u8; 10]))).unwrap();
    assert_eq!(c.result().unwrap(), 10);
}

/// Reproducible bytes (xorshift), different for each seed.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A scratch file on the machine's disk (the temp dir), removed with `dir`.
fn scratch(dir: &TempDir, name: &str, extra: i32) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(extra)
        .open(dir.join(name))
        .unwrap()
}

fn one(ctx: &mut Context) -> Completion {
    let mut done = ctx.wait(1, LIMIT).unwrap();
    assert_eq!(done.len(), 1);
    done.pop().unwrap()
}

fn roundtrip() {
    let dir = TempDir::new("aio");
    let file = scratch(&dir, "f", 0);
    let mut ctx = Context::new(64).unwrap();
    let cases: [(usize, u64); 6] = [
        (1, 0),
        (511, 3),
        (4096, 4096),
        (4097, 10_000),
        (65543, 1 << 20),
        (300_000, 7),
    ];
    let writes: Vec<Op> = cases
        .iter()
        .enumerate()
        .map(|(i, &(len, off))| Op::write(&file, off, data(len, i as u64)).token(i as u64))
        .collect();
    // Overlapping ranges would race each other: write them one by one, and
    // read each back before the next write may overlap it.
    for op in writes {
        ctx.submit(vec![op]).unwrap();
        let c = one(&mut ctx);
        let (len, off) = cases[c.token as usize];
        assert_eq!(c.result().unwrap() as usize, len);
        ctx.submit(vec![
            Op::read(&file, off, vec![0u8; len]).token(100 + c.token),
        ])
        .unwrap();
        let r = one(&mut ctx);
        assert_eq!(r.result().unwrap() as usize, len);
        assert_eq!(
            r.buffers()[0].as_slice(),
            data(len, c.token),
            "case {}",
            c.token
        );
    }
    // The file agrees through plain reads too.
    let mut f = file.try_clone().unwrap();
    f.seek(SeekFrom::Start(1 << 20)).unwrap();
    let mut back = vec![0u8; 65543];
    f.read_exact(&mut back).unwrap();
    assert_eq!(back, data(65543, 4));
    // Boxed slices and batches of many: 32 disjoint blocks in one submit.
    let batch: Vec<Op> = (0..32u64)
        .map(|i| {
            Op::write(
                &file,
                (2 << 20) | (i * 8192),
                data(8192, 1000 + i).into_boxed_slice(),
            )
            .token(i)
        })
        .collect();
    assert!(ctx.submit(batch).unwrap().is_empty());
    let mut done = Vec::new();
    while done.len() < 32 {
        ctx.reap(1, LIMIT, &mut done).unwrap();
    }
    let mut tokens: Vec<u64> = done.iter().map(|c| c.token).collect();
    tokens.sort_unstable();
    assert_eq!(tokens, (0..32).collect::<Vec<_>>(), "each completion once");
    for c in &done {
        assert!(matches!(c.buffers()[0], Buf::Boxed(_)));
    }
}

fn vectored() {
    let dir = TempDir::new("aio-v");
    let file = scratch(&dir, "f", 0);
    let mut ctx = Context::new(8).unwrap();
    let whole = data(10_000, 9);
    let mut at = 0;
    let parts: Vec<Buf> = [1usize, 4095, 4, 5900]
        .iter()
        .map(|&n| {
            let part = whole[at..at + n].to_vec();
            at += n;
            Buf::from(part)
        })
        .collect();
    ctx.submit(vec![Op::writev(&file, 123, parts)]).unwrap();
    assert_eq!(one(&mut ctx).result().unwrap(), 10_000);
    let bufs = [3usize, 7000, 2997]
        .iter()
        .map(|&n| Buf::from(vec![0u8; n]))
        .collect();
    ctx.submit(vec![Op::readv(&file, 123, bufs)]).unwrap();
    let c = one(&mut ctx);
    assert_eq!(c.result().unwrap(), 10_000);
    let joined: Vec<u8> = c
        .buffers()
        .iter()
        .flat_map(|b| b.as_slice().to_vec())
        .collect();
    assert_eq!(joined, whole);
}

fn sync_ops() {
    let dir = TempDir::new("aio-sync");
    let file = scratch(&dir, "f", 0);
    let mut ctx = Context::new(8).unwrap();
    let prio = IoPriority {
        class: IoPrioClass::BestEffort,
        level: 7,
    };
    ctx.submit(vec![
        Op::write(&file, 0, vec![1u8; 4096])
            .flags(RwFlags::DSYNC)
            .priority(prio)
            .token(1),
    ])
    .unwrap();
    assert_eq!(one(&mut ctx).result().unwrap(), 4096);
    ctx.submit(vec![Op::fsync(&file).token(2)]).unwrap();
    assert_eq!(one(&mut ctx).result().unwrap(), 0);
    ctx.submit(vec![Op::fdsync(&file).token(3)]).unwrap();
    assert_eq!(one(&mut ctx).result().unwrap(), 0);
    // RWF_APPEND writes at the end whatever the offset.
    ctx.submit(vec![
        Op::write(&file, 0, b"tail".to_vec()).flags(RwFlags::APPEND),
    ])
    .unwrap();
    assert_eq!(one(&mut ctx).result().unwrap(), 4);
    assert_eq!(file.metadata().unwrap().len(), 4100);
}

fn direct_io() {
    let dir = TempDir::new("aio-direct");
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(dir.join("d"))
    {
        Ok(f) => f,
        Err(e) => skip(&format!(
            "O_DIRECT is refused on the temp dir's filesystem: {e}"
        )),
    };
    let mut ctx = Context::new(8).unwrap();
    let mut buf = AlignedBuf::new(8192, 4096).unwrap();
    buf.copy_from_slice(&data(8192, 5));
    ctx.submit(vec![Op::write(&file, 4096, buf)]).unwrap();
    assert_eq!(one(&mut ctx).result().unwrap(), 8192);
    ctx.submit(vec![Op::read(
        &file,
        4096,
        AlignedBuf::new(8192, 4096).unwrap(),
    )])
    .unwrap();
    let c = one(&mut ctx);
    assert_eq!(c.buffers()[0].as_slice(), data(8192, 5));
    assert!(c.into_buf().unwrap().into_aligned().is_some());
    // Refused before submission, naming what is misaligned; the buffer
    // comes back.
    let e = ctx
        .submit(vec![Op::read(&file, 0, vec![0u8; 4097])])
        .unwrap_err();
    assert_eq!(e.error.kind(), ErrorKind::InvalidInput);
    let msg = e.error.to_string();
    assert!(msg.contains("address") || msg.contains("length"), "{msg}");
    assert_eq!(e.ops.len(), 1);
    let e = ctx
        .submit(vec![Op::read(
            &file,
            100,
            AlignedBuf::new(4096, 4096).unwrap(),
        )])
        .unwrap_err();
    assert!(e.error.to_string().contains("offset 100"), "{}", e.error);
    assert!(
        AlignedBuf::new(100, 64)
            .unwrap_err()
            .to_string()
            .contains("multiple")
    );
    assert!(
        AlignedBuf::new(4096, 3)
            .unwrap_err()
            .to_string()
            .contains("power of two")
    );
}

fn poll_ops() {
    let mut ctx = Context::new(8).unwrap();
    let (r, w) = rustix::pipe::pipe().unwrap();
    ctx.submit(vec![Op::poll(&r, libc::POLLIN).token(1)])
        .unwrap();
    // Nothing to read yet: no completion.
    assert!(ctx.wait(0, Some(Duration::ZERO)).unwrap().is_empty());
    rustix::io::write(&w, b"x").unwrap();
    let c = one(&mut ctx);
    assert_eq!(c.token, 1);
    assert_ne!(c.result().unwrap() & libc::POLLIN as u64, 0);
    let (a, b) = rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    ctx.submit(vec![
        Op::poll(&a, libc::POLLIN).token(2),
        Op::poll(&b, libc::POLLOUT).token(3),
    ])
    .unwrap();
    let c = one(&mut ctx);
    assert_eq!(c.token, 3, "a writable socket is ready at once");
    rustix::io::write(&b, b"y").unwrap();
    assert_eq!(one(&mut ctx).token, 2);
}

fn eventfd_epoll() {
    use rustix::event::epoll;
    let dir = TempDir::new("aio-efd");
    let file = scratch(&dir, "f", 0);
    let mut ctx = Context::with_eventfd(8).unwrap();
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).unwrap();
    epoll::add(
        &ep,
        ctx.eventfd().unwrap().as_fd(),
        epoll::EventData::new_u64(7),
        epoll::EventFlags::IN,
    )
    .unwrap();
    ctx.submit(vec![Op::write(&file, 0, vec![3u8; 1000])])
        .unwrap();
    let mut events = Vec::with_capacity(4);
    let n = epoll::wait(&ep, rustix::buffer::spare_capacity(&mut events), None).unwrap();
    assert_eq!(n, 1);
    assert_eq!(events[0].data.u64(), 7);
    assert_eq!(ctx.eventfd().unwrap().try_read().unwrap(), Some(1));
    assert_eq!(one(&mut ctx).result().unwrap(), 1000);
}

fn short_reads() {
    let dir = TempDir::new("aio-eof");
    let mut file = scratch(&dir, "f", 0);
    file.write_all(&data(100, 1)).unwrap();
    let mut ctx = Context::new(8).unwrap();
    ctx.submit(vec![
        Op::read(&file, 0, vec![0u8; 4096]).token(1),
        Op::read(&file, 200, vec![0u8; 10]).token(2),
    ])
    .unwrap();
    let mut done = ctx.wait(2, LIMIT).unwrap();
    done.sort_by_key(|c| c.token);
    assert_eq!(done[0].result().unwrap(), 100, "a short read at the end");
    assert_eq!(&done[0].buffers()[0].as_slice()[..100], data(100, 1));
    assert_eq!(done[1].result().unwrap(), 0, "past the end: 0");
}

fn many_rounds() {
    let dir = TempDir::new("aio-rounds");
    let file = scratch(&dir, "f", 0);
    file.set_len(1 << 20).unwrap();
    let mut ctx = Context::new(8).unwrap();
    let total = 2000u64;
    let mut pending: Vec<Op> = (0..total)
        .map(|i| Op::read(&file, (i % 256) * 4096, vec![0u8; 512]).token(i))
        .collect();
    let mut seen = vec![0u32; total as usize];
    let mut done = Vec::new();
    let mut refused = 0;
    while !pending.is_empty() || ctx.in_flight() > 0 {
        if !pending.is_empty() {
            match ctx.submit(std::mem::take(&mut pending)) {
                Ok(rest) => {
                    refused += usize::from(!rest.is_empty());
                    pending = rest;
                }
                Err(e) => {
                    assert_eq!(e.error.errno(), libc::EAGAIN, "{}", e.error);
                    refused += 1;
                    pending = e.ops;
                }
            }
        }
        done.clear();
        let min = usize::from(ctx.in_flight() > 0);
        ctx.reap(min, LIMIT, &mut done).unwrap();
        for c in &done {
            assert_eq!(c.result().unwrap(), 512);
            seen[c.token as usize] += 1;
        }
    }
    assert!(
        seen.iter().all(|&n| n == 1),
        "every operation completed exactly once"
    );
    assert!(
        refused > 0,
        "a context of 8 refused part of a 2000-operation batch"
    );
}

fn cancel() {
    let mut ctx = Context::new(8).unwrap();
    let (r, _w) = rustix::pipe::pipe().unwrap();
    ctx.submit(vec![Op::poll(&r, libc::POLLIN).token(7)])
        .unwrap();
    ctx.cancel(7).unwrap();
    let c = one(&mut ctx);
    assert_eq!(c.token, 7);
    // A cancelled poll completes with no events (res 0), as the kernel
    // reports it; other cancellable operations with -ECANCELED.
    assert!(
        c.res == 0 || c.res == -i64::from(libc::ECANCELED),
        "{}",
        c.res
    );
    // Exactly once: nothing more, and the token is no longer in flight.
    assert!(ctx.wait(0, Some(Duration::ZERO)).unwrap().is_empty());
    assert_eq!(ctx.cancel(7).unwrap_err().kind(), ErrorKind::NotFound);
    // A file read cannot be cancelled: it says so, and completes normally.
    let dir = TempDir::new("aio-cancel");
    let file = scratch(&dir, "f", 0);
    file.set_len(4096).unwrap();
    ctx.submit(vec![Op::read(&file, 0, vec![0u8; 4096]).token(8)])
        .unwrap();
    if let Err(e) = ctx.cancel(8) {
        assert!(
            e.kind() == ErrorKind::NotFound || e.to_string().contains("not cancellable"),
            "{e}"
        );
    }
    let c = one(&mut ctx);
    assert_eq!(c.token, 8);
    assert!(c.res == 4096 || c.res == -i64::from(libc::ECANCELED));
}

fn drop_in_flight() {
    let dir = TempDir::new("aio-drop");
    let file = scratch(&dir, "f", 0);
    file.set_len(1 << 20).unwrap();
    let (r, _w) = rustix::pipe::pipe().unwrap();
    for round in 0..20 {
        let mut ctx = Context::new(64).unwrap();
        // Polls that would never complete, and reads racing the drop.
        let mut ops: Vec<Op> = (0..8)
            .map(|i| Op::poll(&r, libc::POLLIN).token(i))
            .collect();
        ops.extend((0..32u64).map(|i| Op::read(&file, i * 4096, vec![0u8; 4096]).token(100 + i)));
        assert!(ctx.submit(ops).unwrap().is_empty());
        assert_eq!(ctx.in_flight(), 40, "round {round}");
        // io_destroy cancels the polls and waits for the reads; only then
        // are the buffers freed. It returns: no hang.
        drop(ctx);
    }
    // A leaked context keeps its buffers for good: never freed, so never
    // reused while the kernel might write them.
    let mut ctx = Context::new(4).unwrap();
    ctx.submit(vec![Op::poll(&r, libc::POLLIN)]).unwrap();
    std::mem::forget(ctx);
}

fn errors() {
    let dir = TempDir::new("aio-errors");
    let file = scratch(&dir, "f", 0);
    let mut ctx = Context::new(4).unwrap();
    // A closed fd: EBADF, and the operation with its buffer comes back.
    let closed = scratch(&dir, "g", 0);
    let op = Op::read(&closed, 0, vec![7u8; 16]);
    drop(closed);
    let e = ctx.submit(vec![op]).unwrap_err();
    assert_eq!(e.error.errno(), libc::EBADF, "{}", e.error);
    assert_eq!(e.ops[0].opcode(), kernel_aio::Opcode::Pread);
    let back = e.ops.into_iter().next().unwrap().into_buffers();
    assert_eq!(back[0].as_slice(), [7u8; 16]);
    // A pipe has no asynchronous read: the kernel reads inside io_submit
    // (an empty pipe would block the submitter there, whatever the flags);
    // with data waiting it completes at once.
    let (r, w) = rustix::pipe::pipe().unwrap();
    rustix::io::write(&w, b"hi").unwrap();
    ctx.submit(vec![Op::read(&r, 0, vec![0u8; 8])]).unwrap();
    assert_eq!(one(&mut ctx).result().unwrap(), 2);
    // A directory cannot be read: the kernel's EISDIR, as the operation's
    // result or the submission's error.
    let d = File::open(dir.path()).unwrap();
    match ctx.submit(vec![Op::read(&d, 0, vec![0u8; 8])]) {
        Err(e) => assert!(
            [libc::EISDIR, libc::EINVAL].contains(&e.error.errno()),
            "{}",
            e.error
        ),
        Ok(_) => {
            let c = one(&mut ctx);
            assert_eq!(c.result().unwrap_err().errno(), libc::EISDIR);
            assert!(c.result().unwrap_err().to_string().contains("aio pread"));
        }
    }
    // Waiting for more than is in flight would never end.
    let e = ctx.wait(1, LIMIT).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("never end"), "{e}");
    // A priority out of range.
    let bad = IoPriority {
        class: IoPrioClass::Idle,
        level: 9,
    };
    let e = ctx
        .submit(vec![Op::write(&file, 0, vec![1u8]).priority(bad)])
        .unwrap_err();
    assert!(e.error.to_string().contains("0..=7"), "{}", e.error);
    // More events than aio-max-nr allows: a resource error naming the knobs.
    let max: u32 = std::fs::read_to_string("/proc/sys/fs/aio-max-nr")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let e = Context::new(max.saturating_add(1)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ResourceLimit, "{e}");
    assert!(
        e.to_string().contains("aio-max-nr") && e.to_string().contains("aio-nr"),
        "{e}"
    );
    assert_eq!(Context::new(0).unwrap_err().kind(), ErrorKind::InvalidInput);
}

fn forked_child() {
    let dir = TempDir::new("aio-fork");
    let file = scratch(&dir, "f", 0);
    let mut ctx = Context::new(4).unwrap();
    let pid = fork_child(move || {
        let e = ctx
            .submit(vec![Op::read(&file, 0, vec![0u8; 8])])
            .unwrap_err();
        let ok = e.error.kind() == ErrorKind::InvalidInput
            && e.error.to_string().contains("forked child");
        let e2 = ctx.wait(0, Some(Duration::ZERO)).unwrap_err();
        i32::from(!(ok && e2.to_string().contains("forked child")))
    });
    assert_eq!(exit_code(pid), 0);
}

/// The raw layer on its own: an iocb submitted by hand, its completion
/// taken by `io_pgetevents` with SIGUSR1 blocked while it waits.
#[allow(unsafe_code)]
fn pgetevents() {
    let dir = TempDir::new("aio-pget");
    let mut file = scratch(&dir, "f", 0);
    file.write_all(b"raw layer").unwrap();
    let ctx_id = kernel_aio::io_setup(4).unwrap();
    let mut events = [kernel_aio::IoEvent::default(); 4];
    let mask = 1u64 << (libc::SIGUSR1 - 1);
    // Nothing in flight: a zero timeout returns at once with none.
    let n = kernel_aio::io_pgetevents(ctx_id, 0, &mut events, Some(Duration::ZERO), mask).unwrap();
    assert_eq!(n, 0);
    let mut buf = [0u8; 9];
    let mut iocb = kernel_aio::Iocb {
        aio_data: 77,
        aio_lio_opcode: kernel_aio::Opcode::Pread as u16,
        aio_fildes: std::os::fd::AsRawFd::as_raw_fd(&file).unsigned_abs(),
        aio_buf: buf.as_mut_ptr() as u64,
        aio_nbytes: buf.len() as u64,
        ..kernel_aio::Iocb::default()
    };
    let ptrs = [std::ptr::from_mut(&mut iocb)];
    // SAFETY: the iocb and `buf` live until the completion is taken below.
    assert_eq!(unsafe { kernel_aio::io_submit(ctx_id, &ptrs) }.unwrap(), 1);
    let n = kernel_aio::io_pgetevents(ctx_id, 1, &mut events, LIMIT, mask).unwrap();
    assert_eq!(n, 1);
    assert_eq!((events[0].data, events[0].res), (77, 9));
    assert_eq!(&buf, b"raw layer");
    // SAFETY: our context, nothing in flight, not used again.
    unsafe { kernel_aio::io_destroy(ctx_id).unwrap() };
}

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

use butter_tests::{TempDir, exit_code, fork_child, skip};
use kernel_aio::{
    AlignedBuf, Buf, Completion, Context, ErrorKind, IoPrioClass, IoPriority, Op, RwFlags,
};

const LIMIT: Option<Duration> = Some(Duration::from_secs(10));

/// A global allocator that, once armed, poisons every freed block of one
/// size (that of an `AlignedBuf` of [`quarantine::LEN`]) and keeps it
/// instead of freeing it, so a kernel write into a buffer after it was
/// freed shows as bytes that are not poison, and cannot land in memory
/// reused by anything else.
mod quarantine {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// The buffer length watched: an `AlignedBuf::new(LEN, 4096)`
    /// allocates `LEN + 4096` bytes.
    pub(crate) const LEN: usize = 64 * 1024;
    const SIZE: usize = LEN + 4096;
    const POISON: u8 = 0xDB;
    static ARMED: AtomicBool = AtomicBool::new(false);
    static HELD: [AtomicUsize; 1024] = [const { AtomicUsize::new(0) }; 1024];
    static COUNT: AtomicUsize = AtomicUsize::new(0);

    pub(crate) struct Quarantine;

    // SAFETY: every call is passed to the system allocator, except a
    // dealloc of a watched block, which is kept (never freed) instead.
    #[allow(unsafe_code)]
    unsafe impl GlobalAlloc for Quarantine {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as the caller's.
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as the caller's.
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            if ARMED.load(Ordering::Relaxed) && layout.size() == SIZE {
                let i = COUNT.fetch_add(1, Ordering::Relaxed);
                if let Some(slot) = HELD.get(i) {
                    // SAFETY: the block is ours until freed, and never is.
                    unsafe { ptr.write_bytes(POISON, SIZE) };
                    slot.store(ptr.expose_provenance(), Ordering::Release);
                    return;
                }
            }
            // SAFETY: as the caller's.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    /// Starts watching, with an empty quarantine (blocks held before stay
    /// held, unwatched).
    pub(crate) fn arm() {
        COUNT.store(0, Ordering::Relaxed);
        ARMED.store(true, Ordering::Relaxed);
    }

    /// How many watched blocks were freed since [`arm`].
    pub(crate) fn held() -> usize {
        COUNT.load(Ordering::Relaxed).min(HELD.len())
    }

    /// The held blocks with bytes that are not poison: written after free.
    #[allow(unsafe_code)]
    pub(crate) fn written_after_free() -> Vec<usize> {
        (0..held())
            .filter(|&i| {
                let p = std::ptr::with_exposed_provenance::<u8>(HELD[i].load(Ordering::Acquire));
                // SAFETY: a held block of SIZE bytes, never freed; the
                // volatile reads see writes made by the kernel.
                (0..SIZE).any(|o| unsafe { p.add(o).read_volatile() } != POISON)
            })
            .collect()
    }

    /// Writes one byte into held block `i`, as a late kernel write would:
    /// the check of the check.
    #[allow(unsafe_code)]
    pub(crate) fn scribble(i: usize) {
        let p = std::ptr::with_exposed_provenance_mut::<u8>(HELD[i].load(Ordering::Acquire));
        // SAFETY: a held block, never freed, of SIZE bytes.
        unsafe { p.add(4096).write_volatile(0x5A) };
    }
}

#[global_allocator]
static QUARANTINE: quarantine::Quarantine = quarantine::Quarantine;

fn main() -> std::process::ExitCode {
    #[allow(unused_mut)]
    let mut tests = vec![
        butter_tests::test!(Isolation, roundtrip),
        butter_tests::test!(Isolation, vectored),
        butter_tests::test!(Isolation, sync_ops),
        butter_tests::test!(Isolation, direct_io),
        butter_tests::test!(Isolation, poll_ops),
        butter_tests::test!(Isolation, eventfd_epoll),
        butter_tests::test!(Isolation, short_reads),
        butter_tests::test!(Isolation, many_rounds),
        butter_tests::test!(Isolation, cancel),
        butter_tests::test!(Isolation, drop_in_flight),
        butter_tests::test!(Isolation, drop_poisoned),
        butter_tests::test!(Isolation, nowait),
        butter_tests::test!(Isolation, block_device_end),
        butter_tests::test!(Namespaces, full_filesystem),
        butter_tests::test!(Isolation, errors),
        butter_tests::test!(Isolation, forked_child),
        butter_tests::test!(Isolation, pgetevents),
    ];
    #[cfg(feature = "async")]
    tests.push(butter_tests::test!(Isolation, async_two_executors));
    #[cfg(feature = "async")]
    tests.push(butter_tests::test!(Isolation, async_stream));
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
    let runners = Runners::start(&ex);
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
    runners.stop();
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

/// Operations started without futures come out of `completions()`,
/// exactly once each, while other tasks await their own `submit`s on the
/// same context: polls on pipes that become ready later (so the stream
/// really waits), reads that complete at once, and a cancelled poll.
#[cfg(feature = "async")]
fn async_stream() {
    use std::sync::Arc;
    let dir = TempDir::new("aio-stream");
    let file = Arc::new(scratch(&dir, "f", 0));
    (&*file).write_all(&data(64 * 1024, 2)).unwrap();
    // Many rounds: a wake-up lost between the tasks shows as a hang (the
    // harness's time limit), and one round alone does not always lose one.
    for _ in 0..25 {
        async_stream_round(&file);
    }
    async_wakeup_handed_on();
}

/// The race the rounds above may or may not hit, made deterministic: three
/// futures parked on the eventfd; two of their polls complete (the test
/// waits until both are in the ring and the eventfd counts 2); one
/// future reads the count and reaps both; a second reads whatever the first
/// left on the eventfd and finds nothing of its own. The owner of the other
/// completion must still wake and take it: the reaper wakes it directly.
/// Waking it through the eventfd instead (as a first version did) loses it
/// to the second reader, and this test hangs until the harness kills it.
#[cfg(feature = "async")]
fn async_wakeup_handed_on() {
    use futures_lite::future::{block_on, poll_once};
    use kernel_aio::AsyncContext;
    let ctx = AsyncContext::new(8).unwrap();
    let pipes: Vec<_> = (0..3).map(|_| rustix::pipe::pipe().unwrap()).collect();
    let mut parked: Vec<_> = pipes
        .iter()
        .enumerate()
        .map(|(i, (r, _))| Box::pin(ctx.submit(Op::poll(r, libc::POLLIN).token(i as u64))))
        .collect();
    for f in &mut parked {
        assert!(block_on(poll_once(f)).is_none(), "parked");
    }
    let [owner, bystander, reaper] = <[_; 3]>::try_from(parked).ok().unwrap();
    let (mut owner, mut bystander, mut reaper) = (owner, bystander, reaper);
    rustix::io::write(&pipes[0].1, b"x").unwrap();
    rustix::io::write(&pipes[2].1, b"x").unwrap();
    // The kernel may post a poll's completion after `write` returned (with
    // an eventfd attached, from a workqueue: 5 ms later was seen): wait,
    // bounded, until both are in the ring, which the eventfd's count shows
    // without being taken.
    butter_tests::wait_for("both poll completions posted", LIMIT.unwrap(), || {
        butter_tests::eventfd_counts().iter().any(|&(_, n)| n >= 2)
    });
    let c = block_on(poll_once(&mut reaper))
        .expect("the reaper's own")
        .unwrap();
    assert_eq!(c.token, 2);
    assert!(block_on(poll_once(&mut bystander)).is_none());
    let c = block_on(&mut owner).unwrap();
    assert_eq!(c.token, 0);
    drop(bystander);
    // Two streams share the started operations' completions: one takes
    // three and stops, the other the rest; each comes out once.
    use futures_lite::StreamExt;
    let dir = TempDir::new("aio-streams");
    let file = scratch(&dir, "f", 0);
    file.set_len(1 << 16).unwrap();
    let mut ops: Vec<Op> = (0..10u64)
        .map(|i| Op::read(&file, i * 4096, vec![0u8; 16]).token(i))
        .collect();
    assert_eq!(ctx.start(&mut ops).unwrap(), 10);
    let (mut a, mut b) = (ctx.completions(), ctx.completions());
    let mut tokens: Vec<u64> = (0..3)
        .map(|_| block_on(a.next()).unwrap().unwrap().token)
        .collect();
    tokens.extend(block_on(
        (&mut b)
            .take(7)
            .map(|c| c.unwrap().token)
            .collect::<Vec<_>>(),
    ));
    tokens.sort_unstable();
    assert_eq!(tokens, (0..10).collect::<Vec<_>>());
}

#[cfg(feature = "async")]
fn async_stream_round(file: &std::sync::Arc<File>) {
    use futures_lite::StreamExt;
    use kernel_aio::AsyncContext;
    use std::sync::Arc;
    let ctx = Arc::new(AsyncContext::new(64).unwrap());
    let pipes: Arc<Vec<_>> = Arc::new((0..8).map(|_| rustix::pipe::pipe().unwrap()).collect());
    // Started: polls on pipes 0..4, 16 reads, and a poll that is cancelled.
    let mut ops: Vec<Op> = (0..4u64)
        .map(|i| Op::poll(&pipes[i as usize].0, libc::POLLIN).token(i))
        .collect();
    ops.extend((0..16u64).map(|i| Op::read(&**file, i * 4096, vec![0u8; 4096]).token(100 + i)));
    let (never, _w) = rustix::pipe::pipe().unwrap();
    ops.push(Op::poll(&never, libc::POLLIN).token(99));
    assert_eq!(ctx.start(&mut ops).unwrap(), 21);
    assert!(ops.is_empty());
    let ex = Arc::new(async_executor::Executor::new());
    let stream = {
        let ctx = Arc::clone(&ctx);
        ex.spawn(async move {
            let mut tokens = Vec::new();
            let mut completions = ctx.completions();
            while tokens.len() < 21 {
                let c = completions.next().await.unwrap().unwrap();
                if (100..116).contains(&c.token) {
                    let i = (c.token - 100) as usize;
                    assert_eq!(
                        c.buffers()[0].as_slice(),
                        &data(64 * 1024, 2)[i * 4096..][..4096]
                    );
                }
                tokens.push(c.token);
            }
            tokens
        })
    };
    // Awaited: polls on pipes 4..8, on other tasks.
    let futures: Vec<_> = (4..8u64)
        .map(|i| {
            let (ctx, pipes) = (Arc::clone(&ctx), Arc::clone(&pipes));
            ex.spawn(async move {
                let c = ctx
                    .submit(Op::poll(&pipes[i as usize].0, libc::POLLIN).token(i))
                    .await
                    .unwrap();
                c.token
            })
        })
        .collect();
    // The runner threads start once every task is spawned.
    let runners = Runners::start(&ex);
    // Wake the pipes one by one, the awaited and the started ones mixed.
    for i in [4, 0, 5, 1, 6, 2, 7, 3] {
        rustix::io::write(&pipes[i].1, b"x").unwrap();
    }
    ctx.cancel(99).unwrap();
    let awaited: Vec<u64> = futures_lite::future::block_on(async {
        let mut v = Vec::new();
        for f in futures {
            v.push(f.await);
        }
        v
    });
    assert_eq!(awaited, [4, 5, 6, 7]);
    let mut tokens = futures_lite::future::block_on(stream);
    tokens.sort_unstable();
    let mut want: Vec<u64> = (0..4).chain(100..116).chain([99]).collect();
    want.sort_unstable();
    assert_eq!(tokens, want, "each started operation exactly once");
    assert_eq!(ctx.in_flight(), 0);
    assert_eq!(ctx.cancel(99).unwrap_err().kind(), ErrorKind::NotFound);
    runners.stop();
}

/// Two threads running an async-executor, each until it takes one from a
/// semaphore eventfd.
#[cfg(feature = "async")]
struct Runners {
    stop: std::sync::Arc<event_fd::AsyncEventFd>,
    threads: Vec<std::thread::JoinHandle<kernel_aio::Result<u64>>>,
}

#[cfg(feature = "async")]
impl Runners {
    fn start(ex: &std::sync::Arc<async_executor::Executor<'static>>) -> Runners {
        use std::sync::Arc;
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
        let threads = (0..2)
            .map(|_| {
                let (ex, stop) = (Arc::clone(ex), Arc::clone(&stop));
                std::thread::spawn(move || {
                    futures_lite::future::block_on(ex.run(async move { stop.read().await }))
                })
            })
            .collect();
        Runners { stop, threads }
    }

    fn stop(self) {
        futures_lite::future::block_on(self.stop.write(2)).unwrap();
        for t in self.threads {
            t.join().unwrap().unwrap();
        }
    }
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
    let mut done = ctx.getevents(1, 1, LIMIT).unwrap();
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
        ctx.submit(&mut vec![op]).unwrap();
        let c = one(&mut ctx);
        let (len, off) = cases[c.token as usize];
        assert_eq!(c.result().unwrap() as usize, len);
        ctx.submit(&mut vec![
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
    let mut batch: Vec<Op> = (0..32u64)
        .map(|i| {
            Op::write(
                &file,
                (2 << 20) | (i * 8192),
                data(8192, 1000 + i).into_boxed_slice(),
            )
            .token(i)
        })
        .collect();
    let n = batch.len();
    assert_eq!(ctx.submit(&mut batch).unwrap(), n);
    let mut done = Vec::new();
    while done.len() < 32 {
        ctx.reap(1, 64, LIMIT, &mut done).unwrap();
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
    ctx.submit(&mut vec![Op::writev(&file, 123, parts)])
        .unwrap();
    assert_eq!(one(&mut ctx).result().unwrap(), 10_000);
    let bufs = [3usize, 7000, 2997]
        .iter()
        .map(|&n| Buf::from(vec![0u8; n]))
        .collect();
    ctx.submit(&mut vec![Op::readv(&file, 123, bufs)]).unwrap();
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
    ctx.submit(&mut vec![
        Op::write(&file, 0, vec![1u8; 4096])
            .flags(RwFlags::DSYNC)
            .priority(prio)
            .token(1),
    ])
    .unwrap();
    assert_eq!(one(&mut ctx).result().unwrap(), 4096);
    ctx.submit(&mut vec![Op::fsync(&file).token(2)]).unwrap();
    assert_eq!(one(&mut ctx).result().unwrap(), 0);
    ctx.submit(&mut vec![Op::fdsync(&file).token(3)]).unwrap();
    assert_eq!(one(&mut ctx).result().unwrap(), 0);
    // RWF_APPEND writes at the end whatever the offset.
    ctx.submit(&mut vec![
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
    ctx.submit(&mut vec![Op::write(&file, 4096, buf)]).unwrap();
    assert_eq!(one(&mut ctx).result().unwrap(), 8192);
    ctx.submit(&mut vec![Op::read(
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
    let mut ops = vec![Op::read(&file, 0, vec![0u8; 4097])];
    let e = ctx.submit(&mut ops).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let msg = e.to_string();
    assert!(msg.contains("address") || msg.contains("length"), "{msg}");
    assert_eq!(ops.len(), 1, "the operation stays with the caller");
    let e = ctx
        .submit_one(Op::read(&file, 100, AlignedBuf::new(4096, 4096).unwrap()))
        .unwrap_err();
    assert!(e.error.to_string().contains("offset 100"), "{}", e.error);
    assert_eq!(e.op.buffers()[0].len(), 4096, "given back");
    // In a batch, the error names the operation's place; none is submitted.
    let mut ops = vec![
        Op::read(&file, 0, AlignedBuf::new(4096, 4096).unwrap()),
        Op::read(&file, 0, AlignedBuf::new(4096, 4096).unwrap()).token(1),
        Op::read(&file, 100, AlignedBuf::new(4096, 4096).unwrap()),
    ];
    let e = ctx.submit(&mut ops).unwrap_err();
    assert!(e.to_string().contains("operation 2 of 3"), "{e}");
    assert_eq!(
        (ops.len(), ops[1].token_value(), ctx.in_flight()),
        (3, 1, 0)
    );
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
    ctx.submit(&mut vec![Op::poll(&r, libc::POLLIN).token(1)])
        .unwrap();
    // Nothing to read yet: no completion.
    assert!(
        ctx.getevents(0, 64, Some(Duration::ZERO))
            .unwrap()
            .is_empty()
    );
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
    ctx.submit(&mut vec![
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
    ctx.submit(&mut vec![Op::write(&file, 0, vec![3u8; 1000])])
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
    ctx.submit(&mut vec![
        Op::read(&file, 0, vec![0u8; 4096]).token(1),
        Op::read(&file, 200, vec![0u8; 10]).token(2),
    ])
    .unwrap();
    // Both are done (buffered reads complete inside io_submit): at most
    // one is taken, the other waits in the ring for the next call.
    let mut done = ctx.getevents(0, 1, LIMIT).unwrap();
    assert_eq!(done.len(), 1);
    done.extend(ctx.getevents(1, 64, LIMIT).unwrap());
    assert_eq!(done.len(), 2);
    done.sort_by_key(|c| c.token);
    assert_eq!(done[0].result().unwrap(), 100, "a short read at the end");
    assert_eq!(&done[0].buffers()[0].as_slice()[..100], data(100, 1));
    assert_eq!(done[1].result().unwrap(), 0, "past the end: 0");
    // The same bound by syscall alone.
    let mut by_syscall = Context::new(8).unwrap();
    assert!(!by_syscall.set_user_space_reaping(false));
    by_syscall
        .submit(&mut vec![
            Op::read(&file, 0, vec![0u8; 8]),
            Op::read(&file, 8, vec![0u8; 8]),
        ])
        .unwrap();
    assert_eq!(by_syscall.getevents(0, 1, LIMIT).unwrap().len(), 1);
    assert_eq!(by_syscall.getevents(1, 64, LIMIT).unwrap().len(), 1);
}

fn many_rounds() {
    let dir = TempDir::new("aio-rounds");
    let file = scratch(&dir, "f", 0);
    file.set_len(1 << 20).unwrap();
    // Reaped from the ring in user space, then by syscall only (the path a
    // kernel with a ring this crate does not know takes).
    for ring in [true, false] {
        many_rounds_with(&file, ring);
    }
}

fn many_rounds_with(file: &File, ring: bool) {
    let mut ctx = Context::new(8).unwrap();
    assert!(ctx.reaps_in_user_space(), "this kernel's ring is known");
    assert_eq!(ctx.set_user_space_reaping(ring), ring);
    let total = 2000u64;
    let mut pending: Vec<Op> = (0..total)
        .map(|i| Op::read(file, (i % 256) * 4096, vec![0u8; 512]).token(i))
        .collect();
    let mut seen = vec![0u32; total as usize];
    let mut done = Vec::new();
    let mut refused = 0;
    while !pending.is_empty() || ctx.in_flight() > 0 {
        if !pending.is_empty() {
            // What the kernel does not take stays in `pending`, in order.
            let before = pending.len();
            match ctx.submit(&mut pending) {
                Ok(n) => refused += usize::from(n < before),
                Err(e) => {
                    assert_eq!(e.errno(), libc::EAGAIN, "{e}");
                    assert_eq!(pending.len(), before);
                    refused += 1;
                }
            }
        }
        done.clear();
        let min = usize::from(ctx.in_flight() > 0);
        ctx.reap(min, 8, LIMIT, &mut done).unwrap();
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
    ctx.submit(&mut vec![Op::poll(&r, libc::POLLIN).token(7)])
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
    assert!(
        ctx.getevents(0, 64, Some(Duration::ZERO))
            .unwrap()
            .is_empty()
    );
    assert_eq!(ctx.cancel(7).unwrap_err().kind(), ErrorKind::NotFound);
    // A file read cannot be cancelled: it says so, and completes normally.
    let dir = TempDir::new("aio-cancel");
    let file = scratch(&dir, "f", 0);
    file.set_len(4096).unwrap();
    ctx.submit(&mut vec![Op::read(&file, 0, vec![0u8; 4096]).token(8)])
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
        assert_eq!(ctx.submit(&mut ops).unwrap(), 40);
        assert_eq!(ctx.in_flight(), 40, "round {round}");
        // io_destroy cancels the polls and waits for the reads; only then
        // are the buffers freed. It returns: no hang.
        drop(ctx);
    }
    // A leaked context keeps its buffers for good: never freed, so never
    // reused while the kernel might write them.
    let mut ctx = Context::new(4).unwrap();
    ctx.submit(&mut vec![Op::poll(&r, libc::POLLIN)]).unwrap();
    std::mem::forget(ctx);
}

/// A context dropped with `O_DIRECT` reads in flight frees their buffers
/// only after the kernel is done with them: every buffer freed lands in
/// the quarantine, poisoned, and no read writes into one afterwards.
fn drop_poisoned() {
    use quarantine::LEN;
    const OPS: u64 = 32;
    const ROUNDS: usize = 8;
    let dir = TempDir::new("aio-poison");
    {
        let mut f = scratch(&dir, "f", 0);
        f.write_all(&vec![0x5Au8; LEN * OPS as usize]).unwrap();
        f.sync_all().unwrap();
    }
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(dir.join("f"))
    {
        Ok(f) => f,
        Err(e) => skip(&format!(
            "O_DIRECT is refused on the temp dir's filesystem: {e}"
        )),
    };
    let reads = || -> Vec<Op> {
        (0..OPS)
            .map(|i| Op::read(&file, i * LEN as u64, AlignedBuf::new(LEN, 4096).unwrap()))
            .collect()
    };
    // The check of the check: a write into a freed buffer is seen.
    quarantine::arm();
    drop(AlignedBuf::new(LEN, 4096).unwrap());
    assert_eq!(quarantine::held(), 1);
    assert!(quarantine::written_after_free().is_empty());
    quarantine::scribble(0);
    assert_eq!(quarantine::written_after_free(), [0]);
    // Contexts dropped with their reads in flight.
    quarantine::arm();
    for round in 0..ROUNDS {
        let mut ctx = Context::new(OPS as u32).unwrap();
        assert_eq!(
            ctx.submit(&mut reads()).unwrap(),
            OPS as usize,
            "round {round}"
        );
        drop(ctx);
    }
    #[allow(unused_mut)] // added to with the async feature
    let mut expected = ROUNDS * OPS as usize;
    // Async: each read's future polled once (submitted) and dropped, then
    // the context dropped; the buffers stay the context's until the kernel
    // is done, then go.
    #[cfg(feature = "async")]
    for round in 0..4 {
        let ctx = kernel_aio::AsyncContext::new(OPS as u32).unwrap();
        for op in reads() {
            let mut fut = Box::pin(ctx.submit(op));
            let polled = futures_lite::future::block_on(futures_lite::future::poll_once(&mut fut));
            if let Some(done) = polled {
                assert_eq!(done.unwrap().result().unwrap(), LEN as u64, "round {round}");
            }
        }
        drop(ctx);
        expected += OPS as usize;
    }
    assert_eq!(quarantine::held(), expected, "every buffer was freed");
    // The same reads again, waited for: the disk has served everything
    // asked of it before (a late write would have landed by now).
    let mut ctx = Context::new(OPS as u32).unwrap();
    ctx.submit(&mut reads()).unwrap();
    let done = ctx.getevents(OPS as usize, 64, LIMIT).unwrap();
    assert!(
        done.iter()
            .all(|c| c.result().unwrap() == LEN as u64 && c.buffers()[0][0] == 0x5A)
    );
    let late = quarantine::written_after_free();
    assert!(
        late.is_empty(),
        "buffers written after they were freed: {late:?}"
    );
}

/// The indexes of the pages of the first `len` bytes of `file` that are in
/// the page cache (`mincore` on a mapping that is never touched, so looking
/// faults nothing in).
#[allow(unsafe_code)]
fn resident_pages(file: &File, len: usize) -> Vec<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).expect("a page size");
    let pages = len.div_ceil(page);
    let mut vec = vec![0u8; pages];
    // SAFETY: a fresh shared read-only mapping of an open file, never
    // dereferenced; mincore writes one byte per page into `vec`, which has
    // room for every page of the mapping; the mapping is unmapped before
    // returning.
    unsafe {
        let addr = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        );
        assert_ne!(
            addr,
            libc::MAP_FAILED,
            "{}",
            std::io::Error::last_os_error()
        );
        let rc = libc::mincore(addr, len, vec.as_mut_ptr());
        let err = std::io::Error::last_os_error();
        libc::munmap(addr, len);
        assert_eq!(rc, 0, "mincore: {err}");
    }
    (0..pages).filter(|&i| vec[i] & 1 != 0).collect()
}

/// `RWF_NOWAIT`: a buffered read of data not in the page cache fails with
/// `EAGAIN` (saying why), succeeds once cached; a file that cannot honour
/// the flag refuses the submission with `EOPNOTSUPP`, the operation given
/// back.
fn nowait() {
    let dir = TempDir::new("aio-nowait");
    let mut file = scratch(&dir, "f", 0);
    file.write_all(&data(1 << 20, 9)).unwrap();
    file.sync_all().unwrap();
    // Clean pages can be dropped: the data is on the disk only. The kernel
    // may keep a page it cannot drop at once (one still in another CPU's
    // LRU batch on a busy machine): ask again, bounded, until none of the
    // range the test reads is resident.
    let start = std::time::Instant::now();
    loop {
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        let resident = resident_pages(&file, 1 << 20);
        if resident.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "pages {resident:?} stay in the page cache after POSIX_FADV_DONTNEED"
        );
        std::thread::yield_now();
    }
    let mut ctx = Context::new(4).unwrap();
    let read = |len| Op::read(&file, 4096, vec![0u8; len]).flags(RwFlags::NOWAIT);
    ctx.submit_one(read(8192)).unwrap();
    let c = one(&mut ctx);
    let e = c.result().unwrap_err();
    assert_eq!(e.errno(), libc::EAGAIN, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("RWF_NOWAIT") && msg.contains("8192 bytes at offset 4096"),
        "{msg}"
    );
    // Read it in without the flag, then with it: served from the cache.
    ctx.submit_one(Op::read(&file, 4096, vec![0u8; 8192]))
        .unwrap();
    assert_eq!(one(&mut ctx).result().unwrap(), 8192);
    ctx.submit_one(read(8192)).unwrap();
    let c = one(&mut ctx);
    assert_eq!(c.result().unwrap(), 8192);
    assert_eq!(c.buffers()[0].as_slice(), &data(1 << 20, 9)[4096..12288]);
    // procfs files have no non-blocking reads: refused at submission.
    let proc_file = File::open("/proc/version").unwrap();
    let e = ctx
        .submit_one(Op::read(&proc_file, 0, vec![0u8; 64]).flags(RwFlags::NOWAIT))
        .unwrap_err();
    assert_eq!(e.error.errno(), libc::EOPNOTSUPP, "{}", e.error);
    assert!(e.error.to_string().contains("RWF_NOWAIT"), "{}", e.error);
    assert_eq!(e.op.buffers()[0].len(), 64);
    // In a batch the kernel takes those before it and stops there; the
    // refused one is then first, and submitting again names it.
    let mut ops = vec![
        Op::read(&file, 0, vec![0u8; 16]).token(1),
        Op::read(&proc_file, 0, vec![0u8; 64])
            .flags(RwFlags::NOWAIT)
            .token(2),
        Op::read(&file, 16, vec![0u8; 16]).token(3),
    ];
    assert_eq!(ctx.submit(&mut ops).unwrap(), 1);
    assert_eq!(ops[0].token_value(), 2);
    let e = ctx.submit(&mut ops).unwrap_err();
    assert_eq!(e.errno(), libc::EOPNOTSUPP, "{e}");
    assert_eq!(ops.len(), 2);
    assert_eq!(one(&mut ctx).token, 1);
}

/// Reads at and past the end of a block device, opened read-only with
/// `O_DIRECT` (nothing on it is written): a read across the end is short,
/// one at or past it reads nothing, as a file's end does; an offset past
/// what a file can have is refused before submission. The device is the
/// one under the temp dir; where that may not be opened (a sandbox's
/// device rules), an empty one (an unattached loop device, an unset zram),
/// where every offset is past the end.
fn block_device_end() {
    let dir = TempDir::new("aio-bdev");
    let st = rustix::fs::stat(dir.path()).unwrap().st_dev;
    let mut candidates = vec![format!(
        "{}:{}",
        rustix::fs::major(st),
        rustix::fs::minor(st)
    )];
    for e in std::fs::read_dir("/sys/dev/block").unwrap() {
        candidates.push(e.unwrap().file_name().to_string_lossy().into_owned());
    }
    let mut refused = Vec::new();
    let opened = candidates.iter().enumerate().find_map(|(i, id)| {
        let sys = std::path::PathBuf::from(format!("/sys/dev/block/{id}"));
        let uevent = std::fs::read_to_string(sys.join("uevent")).ok()?;
        let name = uevent.lines().find_map(|l| l.strip_prefix("DEVNAME="))?;
        let sectors: u64 = std::fs::read_to_string(sys.join("size"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        if i > 0 && sectors != 0 {
            return None; // only the temp dir's own disk, or an empty device
        }
        match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(format!("/dev/{name}"))
        {
            Ok(f) => Some((f, name.to_string(), sectors * 512)),
            Err(e) => {
                refused.push(format!("/dev/{name}: {e}"));
                None
            }
        }
    });
    let Some((dev, name, size)) = opened else {
        skip(&format!(
            "no block device may be opened to read: {refused:?}"
        ));
    };
    if !refused.is_empty() {
        eprintln!("block_device_end: {refused:?}; using the empty /dev/{name}");
    }
    let mut ctx = Context::new(8).unwrap();
    let block = || AlignedBuf::new(8192, 4096).unwrap();
    let mut ops = vec![
        Op::read(&dev, size, block()).token(3),
        Op::read(&dev, size + (1 << 30), block()).token(4),
    ];
    let mut want = vec![0, 0];
    if size >= 8192 {
        ops.push(Op::read(&dev, size - 8192, block()).token(1));
        ops.push(Op::read(&dev, size - 4096, block()).token(2));
        want = vec![8192, 4096, 0, 0];
    }
    let n = ops.len();
    assert_eq!(ctx.submit(&mut ops).unwrap(), n);
    let mut done = ctx.getevents(n, 64, LIMIT).unwrap();
    done.sort_by_key(|c| c.token);
    let res: Vec<i64> = done.iter().map(|c| c.res).collect();
    assert_eq!(res, want, "/dev/{name} of {size} bytes");
    let e = ctx
        .submit_one(Op::read(&dev, u64::MAX - 4095, block()))
        .unwrap_err();
    assert_eq!(e.error.kind(), ErrorKind::InvalidInput);
    assert!(
        e.error.to_string().contains("past the largest"),
        "{}",
        e.error
    );
    // A write on the read-only fd: EBADF, the data given back.
    let e = ctx.submit_one(Op::write(&dev, size, block())).unwrap_err();
    assert_eq!(e.error.errno(), libc::EBADF, "{}", e.error);
}

/// A write that fills a 64 KiB tmpfs (made in the test's mount namespace)
/// is short, the next gets `ENOSPC` naming its length and offset,
/// and both buffers come back with the caller's data.
fn full_filesystem() {
    let small = butter_tests::private_tmpfs().join("small");
    std::fs::create_dir(&small).unwrap();
    rustix::mount::mount(
        "butter-small",
        &small,
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        Some(c"size=64k"),
    )
    .unwrap();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(small.join("f"))
        .unwrap();
    let mut ctx = Context::new(4).unwrap();
    ctx.submit_one(Op::write(&file, 0, data(48 << 10, 2)))
        .unwrap();
    assert_eq!(one(&mut ctx).result().unwrap(), 48 << 10);
    ctx.submit_one(Op::write(&file, 48 << 10, data(32 << 10, 3)))
        .unwrap();
    let c = one(&mut ctx);
    assert_eq!(c.result().unwrap(), 16 << 10, "short: what fitted");
    assert_eq!(c.into_buf().unwrap().as_slice(), data(32 << 10, 3));
    ctx.submit_one(Op::write(&file, 64 << 10, data(4096, 4)))
        .unwrap();
    let c = one(&mut ctx);
    let e = c.result().unwrap_err();
    assert_eq!(e.errno(), libc::ENOSPC, "{e}");
    assert!(e.to_string().contains("4096 bytes at offset 65536"), "{e}");
    assert_eq!(c.into_buf().unwrap().as_slice(), data(4096, 4));
}

fn errors() {
    let dir = TempDir::new("aio-errors");
    let file = scratch(&dir, "f", 0);
    let mut ctx = Context::new(4).unwrap();
    // An fd not open for reading (an O_PATH one): EBADF, and the
    // operation with its buffer comes back. (A closed fd cannot be given:
    // an operation borrows its fd until it is submitted.)
    let path_only = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(dir.join("f"))
        .unwrap();
    let e = ctx
        .submit_one(Op::read(&path_only, 0, vec![7u8; 16]))
        .unwrap_err();
    assert_eq!(e.error.errno(), libc::EBADF, "{}", e);
    assert_eq!(e.op.opcode(), kernel_aio::Opcode::Pread);
    assert_eq!(e.op.into_buffers()[0].as_slice(), [7u8; 16]);
    // A write on a read-only fd: EBADF too, the data given back intact.
    let read_only = File::open(dir.join("f")).unwrap();
    let e = ctx
        .submit_one(Op::write(&read_only, 0, b"keep me".to_vec()))
        .unwrap_err();
    assert_eq!(e.error.errno(), libc::EBADF, "{}", e);
    assert_eq!(e.op.into_buffers()[0].as_slice(), b"keep me");
    // A pipe has no asynchronous read: the kernel reads inside io_submit
    // (an empty pipe would block the submitter there, whatever the flags);
    // with data waiting it completes at once.
    let (r, w) = rustix::pipe::pipe().unwrap();
    rustix::io::write(&w, b"hi").unwrap();
    ctx.submit(&mut vec![Op::read(&r, 0, vec![0u8; 8])])
        .unwrap();
    assert_eq!(one(&mut ctx).result().unwrap(), 2);
    // A directory cannot be read: the kernel's EISDIR, as the operation's
    // result or the submission's error.
    let d = File::open(dir.path()).unwrap();
    match ctx.submit(&mut vec![Op::read(&d, 0, vec![0u8; 8])]) {
        Err(e) => assert!([libc::EISDIR, libc::EINVAL].contains(&e.errno()), "{}", e),
        Ok(_) => {
            let c = one(&mut ctx);
            assert_eq!(c.result().unwrap_err().errno(), libc::EISDIR);
            assert!(c.result().unwrap_err().to_string().contains("aio pread"));
        }
    }
    // RWF flags on an operation that takes none: refused before the kernel
    // would say EINVAL.
    let e = ctx
        .submit_one(Op::fsync(&file).flags(RwFlags::DSYNC))
        .unwrap_err();
    assert_eq!(e.error.kind(), ErrorKind::InvalidInput);
    assert!(
        e.error.to_string().contains("reads and writes only"),
        "{}",
        e.error
    );
    // fsync of a pipe, which has none: the kernel's EINVAL, explained.
    let e = ctx.submit_one(Op::fsync(&r)).unwrap_err();
    assert_eq!(e.error.errno(), libc::EINVAL, "{}", e.error);
    assert!(e.error.to_string().contains("has no fsync"), "{}", e.error);
    // A max of 0, or under min.
    for (min, max) in [(0, 0), (2, 1)] {
        let e = ctx.getevents(min, max, LIMIT).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("max must be"), "{e}");
    }
    // Waiting for more than is in flight would never end.
    let e = ctx.getevents(1, 64, LIMIT).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("never end"), "{e}");
    // A priority out of range.
    let bad = IoPriority {
        class: IoPrioClass::Idle,
        level: 9,
    };
    let e = ctx
        .submit(&mut vec![Op::write(&file, 0, vec![1u8]).priority(bad)])
        .unwrap_err();
    assert!(e.to_string().contains("0..=7"), "{}", e);
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
            .submit(&mut vec![Op::read(&file, 0, vec![0u8; 8])])
            .unwrap_err();
        let ok = e.kind() == ErrorKind::InvalidInput && e.to_string().contains("forked child");
        let e2 = ctx.getevents(0, 64, Some(Duration::ZERO)).unwrap_err();
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
    // An opcode the kernel does not implement (NOOP has never been one):
    // EINVAL from io_submit, nothing taken.
    let mut noop = kernel_aio::Iocb {
        aio_lio_opcode: kernel_aio::Opcode::Noop as u16,
        aio_fildes: std::os::fd::AsRawFd::as_raw_fd(&file).unsigned_abs(),
        ..kernel_aio::Iocb::default()
    };
    let ptrs = [std::ptr::from_mut(&mut noop)];
    // SAFETY: no buffer; the iocb outlives the call, which takes nothing.
    let e = unsafe { kernel_aio::io_submit(ctx_id, &ptrs) }.unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL, "{e}");
    // SAFETY: our context, nothing in flight, not used again.
    unsafe { kernel_aio::io_destroy(ctx_id).unwrap() };
}

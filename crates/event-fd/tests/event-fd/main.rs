//! event-fd against the real kernel.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use event_fd::{EventFd, EventFdFlags, MAX_COUNTER, eventfd, eventfd_read, eventfd_write};
use fd_core::{ErrorKind, EventSource};

const LIMIT: Duration = Duration::from_secs(10);

fn wait_until_blocked_in(tid: i32, nr: i64) {
    butter_tests::wait_until_blocked_in(tid, nr, LIMIT);
}

#[test]
fn counter_mode_sums_and_resets() {
    let efd = EventFd::with_flags(5, EventFdFlags::NONBLOCK).unwrap();
    efd.write(10).unwrap();
    efd.write(0).unwrap();
    assert_eq!(efd.read().unwrap(), 15);
    let err = efd.read().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert_eq!(err.errno(), libc::EAGAIN);
    assert_eq!(err.call(), "eventfd_read");
}

#[test]
fn initial_value_can_be_u32_max() {
    let efd = EventFd::with_flags(u32::MAX, EventFdFlags::empty()).unwrap();
    assert_eq!(efd.read().unwrap(), u64::from(u32::MAX));
}

#[test]
fn semaphore_mode_reads_one_at_a_time() {
    let sem = EventFd::with_flags(0, EventFdFlags::SEMAPHORE | EventFdFlags::NONBLOCK).unwrap();
    sem.write(3).unwrap();
    assert_eq!(sem.read().unwrap(), 1);
    assert_eq!(sem.read().unwrap(), 1);
    assert_eq!(sem.try_read().unwrap(), Some(1));
    assert_eq!(sem.try_read().unwrap(), None);
    assert_eq!(sem.read().unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[test]
fn writing_u64_max_is_invalid_input_and_kernel_agrees() {
    let efd = EventFd::new().unwrap();
    let err = efd.write(u64::MAX).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(!err.is_from_kernel());
    assert!(err.to_string().contains("u64::MAX"), "{err}");
    // The check mirrors the kernel: the raw write is refused with EINVAL.
    let raw = rustix::io::write(&efd, &u64::MAX.to_ne_bytes()).unwrap_err();
    assert_eq!(raw, rustix::io::Errno::INVAL);
    // Nothing was added.
    assert_eq!(efd.try_read().unwrap(), None);
}

#[test]
fn overflow_would_block_when_nonblocking() {
    let efd = EventFd::with_flags(0, EventFdFlags::NONBLOCK).unwrap();
    efd.write(MAX_COUNTER).unwrap();
    let err = efd.write(1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert!(!efd.try_write(1).unwrap());
    assert!(!efd.wait_writable(Some(Duration::ZERO)).unwrap());
    assert_eq!(efd.read().unwrap(), MAX_COUNTER);
    assert!(efd.try_write(1).unwrap());
    assert_eq!(efd.read().unwrap(), 1);
}

#[test]
fn try_write_on_blocking_fd_reports_full() {
    let efd = EventFd::new().unwrap();
    efd.write(MAX_COUNTER).unwrap();
    assert!(!efd.try_write(1).unwrap());
    assert_eq!(efd.read().unwrap(), MAX_COUNTER);
}

#[test]
fn blocking_write_waits_for_a_reader() {
    let efd = EventFd::new().unwrap();
    efd.write(MAX_COUNTER).unwrap();
    let (tid_tx, tid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    thread::scope(|s| {
        s.spawn(|| {
            tid_tx.send(butter_tests::gettid()).unwrap();
            efd.write(1).unwrap();
            done_tx.send(()).unwrap();
        });
        let tid = tid_rx.recv_timeout(LIMIT).unwrap();
        wait_until_blocked_in(tid, libc::SYS_write);
        // Still full, the writer is asleep in write(2): take the counter.
        assert!(done_rx.try_recv().is_err());
        assert_eq!(efd.read().unwrap(), MAX_COUNTER);
        done_rx
            .recv_timeout(LIMIT)
            .expect("the writer did not wake");
    });
    assert_eq!(efd.read().unwrap(), 1);
}

#[test]
fn blocking_read_waits_for_a_writer() {
    let efd = EventFd::new().unwrap();
    let (tid_tx, tid_rx) = mpsc::channel();
    let got = thread::scope(|s| {
        let reader = s.spawn(|| {
            tid_tx.send(butter_tests::gettid()).unwrap();
            efd.read()
        });
        let tid = tid_rx.recv_timeout(LIMIT).unwrap();
        wait_until_blocked_in(tid, libc::SYS_read);
        efd.write(42).unwrap();
        reader.join().unwrap()
    });
    assert_eq!(got.unwrap(), 42);
}

#[test]
fn wait_times_out_then_sees_a_write() {
    let efd = EventFd::new().unwrap();
    assert!(!efd.wait_readable(Some(Duration::from_millis(1))).unwrap());
    assert!(!efd.wait_readable(Some(Duration::ZERO)).unwrap());
    assert_eq!(
        efd.read_event_timeout(Duration::from_millis(1)).unwrap(),
        None
    );
    efd.notify().unwrap();
    assert!(efd.wait_readable(None).unwrap());
    assert_eq!(efd.read_event_timeout(Duration::ZERO).unwrap(), Some(1));
}

#[test]
fn read_events_appends_one_value() {
    let efd = EventFd::new().unwrap();
    let mut events = vec![9];
    efd.write(4).unwrap();
    assert_eq!(efd.read_events(&mut events).unwrap(), 1);
    assert_eq!(events, [9, 4]);
}

#[test]
fn every_fd_is_cloexec_and_clones_share_the_counter() {
    let efd = EventFd::new().unwrap();
    assert!(fd_core::is_cloexec(&efd).unwrap());
    let clone = efd.try_clone().unwrap();
    assert!(fd_core::is_cloexec(&clone).unwrap());
    assert_ne!(clone.as_raw_fd(), efd.as_raw_fd());
    clone.write(3).unwrap();
    efd.write(4).unwrap();
    assert_eq!(efd.read().unwrap(), 7);
    // Blocking mode belongs to the open file description: shared.
    assert!(!clone.is_nonblocking().unwrap());
    efd.set_nonblocking(true).unwrap();
    assert!(clone.is_nonblocking().unwrap());
    assert_eq!(clone.read().unwrap_err().kind(), ErrorKind::WouldBlock);
    let raw = eventfd(0, EventFdFlags::empty()).unwrap();
    assert!(fd_core::is_cloexec(&raw).unwrap());
}

#[test]
fn unknown_flag_bits_are_refused_by_the_kernel() {
    // 0x2 is no EFD_* flag.
    let err = eventfd(0, EventFdFlags::from_bits_retain(0x2)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.errno(), libc::EINVAL);
    assert_eq!(err.call(), "eventfd2");
    assert!(err.is_from_kernel());
}

#[test]
fn raw_calls_on_the_wrong_fd_are_invalid_input() {
    let (read_end, write_end) = rustix::pipe::pipe().unwrap();
    // Read end for writing, write end for reading: EBADF.
    let err = eventfd_write(&read_end, 1).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::InvalidInput, libc::EBADF)
    );
    let err = eventfd_read(&write_end).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::InvalidInput, libc::EBADF)
    );
    // A pipe holding 3 bytes is not an eventfd: a short read is refused.
    rustix::io::write(&write_end, b"abc").unwrap();
    let err = eventfd_read(&read_end).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("not an eventfd"), "{err}");
}

#[test]
fn into_owned_fd_and_back() {
    let efd = EventFd::new().unwrap();
    efd.write(11).unwrap();
    let raw = efd.as_raw_fd();
    let owned: OwnedFd = efd.into();
    assert_eq!(owned.as_raw_fd(), raw);
    let back = EventFd::from_fd(owned).unwrap();
    assert_eq!(back.read().unwrap(), 11);
    assert!(format!("{back:?}").contains(&format!("fd: {raw}")));
}

#[test]
fn from_fd_refuses_what_is_not_an_eventfd() {
    let (r, _w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let raw = r.as_raw_fd();
    let err = EventFd::from_fd(r).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let text = err.to_string();
    assert!(text.contains("EventFd::from_fd"), "{text}");
    assert!(text.contains(&format!("fd {raw} is pipe:[")), "{text}");
    assert!(text.contains("not anon_inode:[eventfd]"), "{text}");
}

#[test]
fn poll_through_as_fd() {
    use rustix::event::{PollFd, PollFlags, poll};
    let efd = EventFd::new().unwrap();
    let ready = |efd: &EventFd| {
        let mut fds = [PollFd::new(efd, PollFlags::IN)];
        poll(
            &mut fds,
            Some(&rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }),
        )
        .unwrap()
    };
    assert_eq!(ready(&efd), 0);
    efd.notify().unwrap();
    assert_eq!(ready(&efd), 1);
    let _ = efd.as_fd();
}

#[cfg(feature = "async")]
mod asynchronous {
    use super::*;
    use event_fd::AsyncEventFd;
    use futures_lite::{StreamExt, future};

    #[test]
    fn read_write_and_stream_on_block_on() {
        future::block_on(async {
            let efd = AsyncEventFd::new(EventFd::new().unwrap()).unwrap();
            efd.write(3).await.unwrap();
            assert_eq!(efd.read().await.unwrap(), 3);
            efd.write(5).await.unwrap();
            assert_eq!((&efd).next().await.unwrap().unwrap(), 5);
            let err = efd.write(u64::MAX).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        });
    }

    #[test]
    fn into_inner_leaves_a_nonblocking_eventfd() {
        let efd = AsyncEventFd::new(EventFd::new().unwrap()).unwrap();
        let inner = efd.into_inner().unwrap();
        assert!(inner.is_nonblocking().unwrap());
        assert_eq!(inner.read().unwrap_err().kind(), ErrorKind::WouldBlock);
    }

    #[test]
    fn ping_pong_between_tasks_on_a_thread_pool() {
        let ping = AsyncEventFd::new(EventFd::new().unwrap()).unwrap();
        let pong = AsyncEventFd::new(EventFd::new().unwrap()).unwrap();
        let ex = async_executor::Executor::new();
        // Each executor thread takes one unit of this semaphore to stop.
        let stop =
            AsyncEventFd::new(EventFd::with_flags(0, EventFdFlags::SEMAPHORE).unwrap()).unwrap();
        thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| future::block_on(ex.run(stop.read())));
            }
            let responder = ex.spawn(async {
                let mut ping = &ping;
                for _ in 0..1000 {
                    let v = ping.next().await.unwrap().unwrap();
                    pong.write(v).await.unwrap();
                }
            });
            let total = future::block_on(ex.spawn(async {
                let mut total = 0;
                for i in 1..=1000u64 {
                    ping.write(i).await.unwrap();
                    total += pong.read().await.unwrap();
                }
                total
            }));
            future::block_on(responder);
            assert_eq!(total, 1000 * 1001 / 2);
            stop.get_ref().write(2).unwrap();
        });
    }

    #[test]
    fn write_waits_until_a_reader_makes_room() {
        future::block_on(async {
            let efd = AsyncEventFd::new(EventFd::new().unwrap()).unwrap();
            efd.write(MAX_COUNTER).await.unwrap();
            let write = efd.write(2);
            let read = async { efd.read().await };
            let (written, first) = future::zip(write, read).await;
            written.unwrap();
            assert_eq!(first.unwrap(), MAX_COUNTER);
            assert_eq!(efd.read().await.unwrap(), 2);
        });
    }
}

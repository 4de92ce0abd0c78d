//! Tests that change process-wide state or need privileges: each runs in a
//! forked child (see `butter_tests`), in private namespaces where it mounts
//! or renames anything. Nothing here changes the machine.

use std::io::ErrorKind as IoKind;

use butter_tests::{
    Needs, Test, become_nobody, fill_fd_table, harness_mountinfo, harness_namespace, skip,
};
use event_fd::EventFd;
use fd_core::ErrorKind;
use timer_fd::{Clock, TimerFd, TimerFdFlags};

fn main() -> std::process::ExitCode {
    butter_tests::run(&[
        Test {
            name: "harness_namespaces_are_private",
            needs: Needs::Namespaces,
            run: harness_namespaces_are_private,
        },
        Test {
            name: "eventfd_out_of_fds_is_a_resource_limit",
            needs: Needs::Isolation,
            run: eventfd_out_of_fds,
        },
        Test {
            name: "eventfd_try_clone_out_of_fds",
            needs: Needs::Isolation,
            run: eventfd_try_clone_out_of_fds,
        },
        Test {
            name: "timerfd_out_of_fds_is_a_resource_limit",
            needs: Needs::Isolation,
            run: timerfd_out_of_fds,
        },
        Test {
            name: "alarm_clocks_need_cap_wake_alarm",
            needs: Needs::Isolation,
            run: alarm_clocks_need_cap_wake_alarm,
        },
        Test {
            name: "pipe_out_of_fds_is_a_resource_limit",
            needs: Needs::Isolation,
            run: pipe_out_of_fds,
        },
    ])
}

/// The harness's promise: hostname and mounts changed in a test stay in the
/// test's namespaces. The harness process stays in the original ones, so
/// the child compares itself with the harness's view.
fn harness_namespaces_are_private() {
    for ns in ["mnt", "uts", "ipc"] {
        let mine = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        let theirs = harness_namespace(ns);
        assert!(!theirs.as_os_str().is_empty());
        assert_ne!(mine, theirs, "{ns} namespace is shared with the harness");
    }
    rustix::system::sethostname(b"butter-test").expect("sethostname in a private UTS namespace");
    assert_eq!(
        rustix::system::uname().nodename().to_bytes(),
        b"butter-test"
    );

    butter_tests::mount_tmpfs("butter-test-tmpfs", std::path::Path::new("/tmp"));
    std::fs::write("/tmp/marker", b"inside").unwrap();
    let mine = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let theirs = harness_mountinfo();
    assert!(theirs.contains(" / / "), "not a mount table: {theirs}");
    assert!(mine.contains("butter-test-tmpfs"));
    assert!(
        !theirs.contains("butter-test-tmpfs"),
        "the tmpfs leaked to the harness's namespace"
    );
}

fn assert_out_of_fds(err: fd_core::Error, call: &str) {
    assert_eq!(err.kind(), ErrorKind::ResourceLimit, "{err}");
    assert_eq!(err.errno(), libc::EMFILE);
    assert_eq!(err.call(), call);
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), IoKind::QuotaExceeded);
    assert_eq!(fd_core::Error::errno_of(&io), Some(libc::EMFILE));
}

fn eventfd_out_of_fds() {
    let full = fill_fd_table(32);
    assert_out_of_fds(EventFd::new().unwrap_err(), "eventfd2");
    drop(full);
    EventFd::new().expect("works again once fds are free");
}

fn eventfd_try_clone_out_of_fds() {
    let efd = EventFd::new().unwrap();
    let _full = fill_fd_table(32);
    assert_out_of_fds(efd.try_clone().unwrap_err(), "fcntl(F_DUPFD_CLOEXEC)");
}

fn timerfd_out_of_fds() {
    let timer = TimerFd::new().unwrap();
    let _full = fill_fd_table(32);
    assert_out_of_fds(TimerFd::new().unwrap_err(), "timerfd_create");
    assert_out_of_fds(timer.try_clone().unwrap_err(), "fcntl(F_DUPFD_CLOEXEC)");
}

fn alarm_clocks_need_cap_wake_alarm() {
    become_nobody();
    if fd_core::probe::has_capability(fd_core::probe::CAP_WAKE_ALARM).unwrap() {
        skip("this process keeps CAP_WAKE_ALARM and cannot drop it");
    }
    for clock in [Clock::RealtimeAlarm, Clock::BoottimeAlarm] {
        let err = TimerFd::with_clock(clock, TimerFdFlags::empty()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        assert_eq!(err.errno(), libc::EPERM);
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("{} needs CAP_WAKE_ALARM", clock.name())),
            "{msg}"
        );
    }
    // The other clocks need nothing.
    TimerFd::with_clock(Clock::Boottime, TimerFdFlags::empty()).unwrap();
}

fn pipe_out_of_fds() {
    let _full = fill_fd_table(32);
    assert_out_of_fds(zerocopy_pipe::Pipe::new().unwrap_err(), "pipe2");
}

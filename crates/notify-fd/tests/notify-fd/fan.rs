//! fanotify against the real kernel: every event class, info record,
//! mark type and permission answer (root: fanotify marks need
//! CAP_SYS_ADMIN; the unprivileged mode is shown as uid 65534).

use super::*;
use butter_tests::become_nobody;
use notify_fd::fanotify::{
    Class, EventMask as Fm, Fanotify, FidKind, Info, InitFlags, MarkFlags, MarkTarget, Response,
};
use std::os::fd::AsRawFd;

pub(super) use butter_tests::{exit_code, fork_child as child};

/// A child that opens `path` and exits 0, or with the errno it got.
pub(super) fn opener(path: &std::path::Path) -> u32 {
    let path = path.to_path_buf();
    child(move || match File::open(&path) {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(255),
    })
}

use std::fs::File;

pub(super) fn fd_mode_events() {
    let tmp = private_tmpfs();
    let f = tmp.join("f");
    std::fs::write(&f, b"hello").unwrap();
    let group = Fanotify::new(Class::Notif, InitFlags::NONBLOCK).unwrap();
    assert!(fd_core::is_cloexec(&group).unwrap());
    group
        .mark(
            MarkTarget::Mount,
            &tmp,
            Fm::OPEN | Fm::ACCESS | Fm::MODIFY | Fm::CLOSE,
            MarkFlags::empty(),
        )
        .unwrap();
    std::fs::write(&f, b"changed").unwrap(); // open, modify, close_write
    let _ = std::fs::read(&f).unwrap(); // open, access, close_nowrite
    let events = read_until(&group, |evs| {
        evs.iter()
            .filter(|e| e.mask().contains(Fm::CLOSE_NOWRITE))
            .count()
            >= 1
    });
    let me = std::process::id();
    for want in [
        Fm::OPEN,
        Fm::MODIFY,
        Fm::CLOSE_WRITE,
        Fm::ACCESS,
        Fm::CLOSE_NOWRITE,
    ] {
        let e = events
            .iter()
            .find(|e| e.mask().contains(want))
            .unwrap_or_else(|| panic!("no {want}: {events:?}"));
        assert_eq!(e.pid(), me);
        assert_eq!(e.path().unwrap(), f);
        assert!(fd_core::is_cloexec(e.file().unwrap()).unwrap());
    }
    assert!(
        events
            .iter()
            .all(|e| !e.is_permission() && !e.is_overflow())
    );
    // A clone reads the same group; the fd's blocking mode is the
    // kernel's, toggled for real.
    use std::os::fd::AsRawFd;
    let clone = group.try_clone().unwrap();
    assert_eq!(clone.as_raw_fd(), group.as_raw_fd());
    let _ = std::fs::read(&f).unwrap();
    let seen = read_until(&clone, |evs| {
        evs.iter().any(|e| e.mask().contains(Fm::CLOSE_NOWRITE))
    });
    assert!(seen.iter().all(|e| e.path().unwrap() == f));
    assert!(fd_core::is_nonblocking(&group).unwrap());
    group.set_nonblocking(false).unwrap();
    assert!(!fd_core::is_nonblocking(&clone).unwrap());
    group.set_nonblocking(true).unwrap();
    assert_eq!(
        group.read_events(&mut Vec::new()).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
}

pub(super) fn dfid_name_records() {
    let tmp = private_tmpfs();
    let group = Fanotify::new(
        Class::Notif,
        InitFlags::NONBLOCK | InitFlags::REPORT_DFID_NAME | InitFlags::REPORT_FID,
    )
    .unwrap();
    let mask = Fm::CREATE | Fm::DELETE | Fm::RENAME | Fm::ATTRIB | Fm::ONDIR;
    group
        .mark(MarkTarget::Filesystem, &tmp, mask, MarkFlags::empty())
        .unwrap();
    std::fs::write(tmp.join("made"), b"").unwrap();
    std::fs::create_dir(tmp.join("dir")).unwrap();
    std::fs::rename(tmp.join("made"), tmp.join("dir/moved")).unwrap();
    std::fs::remove_dir_all(tmp.join("dir")).unwrap();
    let events = read_until(&group, |evs| {
        evs.iter()
            .any(|e| e.mask().contains(Fm::DELETE | Fm::ONDIR))
    });
    let named = |mask: Fm, name: &str| {
        events.iter().find(|e| {
            e.mask().contains(mask)
                && e.fid(FidKind::DfidName)
                    .and_then(|(_, n)| n)
                    .is_some_and(|n| n == name)
        })
    };
    let created = named(Fm::CREATE, "made").expect("create made");
    let (handle, name) = created.fid(FidKind::DfidName).unwrap();
    assert_eq!(group.path_of(&handle, name).unwrap(), tmp.join("made"));
    assert!(created.file().is_none(), "FID groups give no fd");
    assert!(
        created
            .path()
            .unwrap_err()
            .to_string()
            .contains("FID reporting")
    );
    assert!(named(Fm::CREATE | Fm::ONDIR, "dir").is_some(), "{events:?}");
    assert!(named(Fm::DELETE, "moved").is_some(), "{events:?}");
    let rename = events
        .iter()
        .find(|e| e.mask().contains(Fm::RENAME))
        .expect("a rename event");
    let old = rename.fid(FidKind::OldDfidName).unwrap();
    let new = rename.fid(FidKind::NewDfidName).unwrap();
    assert_eq!(group.path_of(&old.0, old.1).unwrap(), tmp.join("made"));
    assert_eq!(new.1.unwrap(), "moved");
}

/// The notification kinds not covered above, each triggered for real.
pub(super) fn more_event_kinds() {
    let tmp = private_tmpfs();
    std::fs::create_dir(tmp.join("d")).unwrap();
    std::fs::write(tmp.join("d/f"), b"").unwrap();
    std::fs::write(tmp.join("self"), b"").unwrap();
    std::fs::create_dir(tmp.join("moving")).unwrap();
    // A program on the tmpfs, to execute.
    std::fs::copy("/bin/true", tmp.join("prog")).unwrap();
    let fid = Fanotify::new(
        Class::Notif,
        InitFlags::NONBLOCK | InitFlags::REPORT_DFID_NAME | InitFlags::REPORT_FID,
    )
    .unwrap();
    let fs_mask = Fm::ATTRIB | Fm::MOVED_FROM | Fm::MOVED_TO | Fm::ONDIR;
    fid.mark(MarkTarget::Filesystem, &tmp, fs_mask, MarkFlags::empty())
        .unwrap();
    fid.mark(
        MarkTarget::Inode,
        tmp.join("self"),
        Fm::DELETE_SELF,
        MarkFlags::empty(),
    )
    .unwrap();
    // Events about a directory itself need ONDIR, even on its own inode mark.
    fid.mark(
        MarkTarget::Inode,
        tmp.join("moving"),
        Fm::MOVE_SELF | Fm::ONDIR,
        MarkFlags::empty(),
    )
    .unwrap();
    let fd_group = Fanotify::new(Class::Notif, InitFlags::NONBLOCK).unwrap();
    fd_group
        .mark(
            MarkTarget::Inode,
            tmp.join("prog"),
            Fm::OPEN_EXEC,
            MarkFlags::empty(),
        )
        .unwrap();
    fd_group
        .mark(
            MarkTarget::Inode,
            tmp.join("d"),
            Fm::OPEN | Fm::EVENT_ON_CHILD,
            MarkFlags::empty(),
        )
        .unwrap();

    std::fs::set_permissions(tmp.join("d/f"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(tmp.join("d/f"), tmp.join("g")).unwrap();
    std::fs::remove_file(tmp.join("self")).unwrap();
    std::fs::rename(tmp.join("moving"), tmp.join("moved")).unwrap();
    let status = std::process::Command::new(tmp.join("prog"))
        .status()
        .unwrap();
    assert!(status.success());
    drop(File::open(tmp.join("d")).unwrap()); // a directory open: no child event
    std::fs::write(tmp.join("d/child"), b"").unwrap(); // a child open: EVENT_ON_CHILD

    let events = read_until(&fid, |evs| {
        evs.iter().any(|e| e.mask().contains(Fm::MOVE_SELF))
    });
    let has = |m: Fm, name: Option<&str>| {
        events.iter().any(|e| {
            e.mask().contains(m)
                && name.is_none_or(|n| {
                    e.fid(FidKind::DfidName)
                        .and_then(|(_, x)| x)
                        .is_some_and(|x| x == n)
                })
        })
    };
    assert!(has(Fm::ATTRIB, Some("f")), "attrib: {events:?}");
    assert!(
        has(Fm::MOVED_FROM, Some("f")) && has(Fm::MOVED_TO, Some("g")),
        "moves: {events:?}"
    );
    assert!(has(Fm::DELETE_SELF, None), "delete_self: {events:?}");
    assert!(has(Fm::MOVE_SELF, None), "move_self: {events:?}");
    let opened = read_until(&fd_group, |evs| {
        evs.iter().any(|e| e.mask().contains(Fm::OPEN))
    });
    assert!(
        opened
            .iter()
            .any(|e| e.mask().contains(Fm::OPEN_EXEC) && e.path().unwrap() == tmp.join("prog")),
        "{opened:?}"
    );
    let child = opened.iter().find(|e| e.mask().contains(Fm::OPEN)).unwrap();
    assert_eq!(
        child.path().unwrap(),
        tmp.join("d/child"),
        "only the child's open, not the directory's"
    );
}

pub(super) fn pidfd_records_name_the_actor() {
    let tmp = private_tmpfs();
    let f = tmp.join("f");
    std::fs::write(&f, b"").unwrap();
    let group = Fanotify::new(Class::Notif, InitFlags::REPORT_PIDFD).unwrap();
    group
        .mark(MarkTarget::Inode, &f, Fm::OPEN, MarkFlags::empty())
        .unwrap();
    // The child opens the file and then waits to be killed, so its pid
    // cannot be reused while we look.
    let f2 = f.clone();
    let pid = child(move || {
        drop(File::open(&f2));
        loop {
            std::thread::park();
        }
    });
    let events = read_until(&group, |evs| !evs.is_empty());
    let e = &events[0];
    assert_eq!(e.pid(), pid);
    let pidfd = e.pidfd().expect("a pidfd record");
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd())).unwrap();
    assert!(info.lines().any(|l| l == format!("Pid:\t{pid}")), "{info}");
    assert!(
        e.info()
            .any(|i| matches!(i, Info::Pidfd(n) if n == pidfd.as_raw_fd()))
    );
    rustix::process::pidfd_send_signal(pidfd, rustix::process::Signal::KILL).unwrap();
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
    rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()).unwrap();
}

pub(super) fn ignore_masks() {
    let tmp = private_tmpfs();
    let (quiet, loud) = (tmp.join("quiet"), tmp.join("loud"));
    std::fs::write(&quiet, b"").unwrap();
    std::fs::write(&loud, b"").unwrap();
    let group = Fanotify::new(Class::Notif, InitFlags::NONBLOCK).unwrap();
    group
        .mark(MarkTarget::Mount, &tmp, Fm::OPEN, MarkFlags::empty())
        .unwrap();
    group
        .mark(MarkTarget::Inode, &quiet, Fm::OPEN, MarkFlags::IGNORE)
        .unwrap();
    drop(File::open(&quiet).unwrap());
    drop(File::open(&loud).unwrap());
    let events = read_until(&group, |evs| !evs.is_empty());
    let paths: Vec<PathBuf> = events.iter().map(|e| e.path().unwrap()).collect();
    assert_eq!(
        paths,
        std::slice::from_ref(&loud),
        "the ignored file made no event"
    );
    // Removing the ignore mark brings its events back.
    group
        .unmark(MarkTarget::Inode, &quiet, Fm::OPEN, MarkFlags::IGNORE)
        .unwrap();
    drop(File::open(&quiet).unwrap());
    let events = read_until(&group, |evs| !evs.is_empty());
    assert_eq!(events[0].path().unwrap(), quiet);
    group.flush(MarkTarget::Mount).unwrap();
    drop(File::open(&loud).unwrap());
    assert!(
        !group
            .wait_readable(Some(Duration::from_millis(20)))
            .unwrap(),
        "flushed marks report nothing"
    );
}

pub(super) fn permission_events() {
    let tmp = private_tmpfs();
    let f = tmp.join("guarded");
    std::fs::write(&f, b"secret").unwrap();
    let group = Fanotify::new(Class::Content, InitFlags::empty()).unwrap();
    group
        .mark(MarkTarget::Inode, &f, Fm::OPEN_PERM, MarkFlags::empty())
        .unwrap();
    // Deny: the child's open fails with EPERM.
    let pid = opener(&f);
    let mut events = read_until(&group, |evs| !evs.is_empty());
    let mut e = events.remove(0);
    assert!(e.is_permission() && e.mask().contains(Fm::OPEN_PERM));
    assert_eq!(e.pid(), pid);
    e.respond(Response::Deny, false).unwrap();
    let err = e.respond(Response::Allow, false).unwrap_err();
    assert!(err.to_string().contains("already answered"), "{err}");
    drop(e);
    assert_eq!(exit_code(pid), libc::EPERM);
    // Allow: the open proceeds.
    let pid = opener(&f);
    let mut e = read_until(&group, |evs| !evs.is_empty()).remove(0);
    e.respond(Response::Allow, false).unwrap();
    drop(e);
    assert_eq!(exit_code(pid), 0);
    // Dropped unanswered: the default (allow) answers it.
    let pid = opener(&f);
    drop(read_until(&group, |evs| !evs.is_empty()));
    assert_eq!(exit_code(pid), 0);
    // With the default set to deny, a dropped event denies.
    group.set_default_response(Response::Deny).unwrap();
    let pid = opener(&f);
    drop(read_until(&group, |evs| !evs.is_empty()));
    assert_eq!(exit_code(pid), libc::EPERM);
    // Audit without ENABLE_AUDIT: the kernel refuses, with the reason.
    let pid = opener(&f);
    let mut e = read_until(&group, |evs| !evs.is_empty()).remove(0);
    let err = e.respond(Response::Allow, true).unwrap_err();
    assert!(err.to_string().contains("ENABLE_AUDIT"), "{err}");
    e.respond(Response::Allow, false).unwrap();
    drop(e);
    assert_eq!(exit_code(pid), 0);
    // An errno of its own, where the kernel takes one (pre-content, 6.14).
    let pre = Fanotify::new(Class::PreContent, InitFlags::empty()).unwrap();
    pre.mark(MarkTarget::Inode, &f, Fm::OPEN_PERM, MarkFlags::empty())
        .unwrap();
    let pid = opener(&f);
    let mut e = read_until(&pre, |evs| !evs.is_empty()).remove(0);
    let pre_answer = e.respond(Response::DenyWithErrno(libc::EIO), false);
    if let Err(err) = &pre_answer {
        assert!(err.to_string().contains("errno needs Linux 6.14"), "{err}");
        e.respond(Response::Deny, false).unwrap();
    }
    drop(e);
    // The Content group also sees this open: its default is deny now.
    let mut rest = Vec::new();
    while group
        .wait_readable(Some(Duration::from_millis(50)))
        .unwrap()
    {
        group.read_events(&mut rest).unwrap();
    }
    drop(rest);
    let code = exit_code(pid);
    assert!(code == libc::EIO || code == libc::EPERM, "{code}");
    if pre_answer.is_ok() {
        assert_eq!(code, libc::EIO, "the chosen errno reached the opener");
    }
}

pub(super) fn unprivileged_mode() {
    become_nobody();
    let dir = TempDir::new("fan-unpriv");
    if fd_core::probe::has_capability(fd_core::probe::CAP_SYS_ADMIN).unwrap() {
        butter_tests::skip(
            "this process keeps CAP_SYS_ADMIN, so unprivileged mode cannot be shown",
        );
    }
    let err = Fanotify::new(Class::Notif, InitFlags::empty()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(
        err.to_string()
            .contains("unprivileged users may use since Linux 5.13"),
        "{err}"
    );
    let group = Fanotify::new(
        Class::Notif,
        InitFlags::NONBLOCK | InitFlags::REPORT_DFID_NAME,
    )
    .unwrap();
    let err = group
        .mark(
            MarkTarget::Filesystem,
            dir.path(),
            Fm::CREATE,
            MarkFlags::empty(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("need CAP_SYS_ADMIN"), "{err}");
    group
        .mark(
            MarkTarget::Inode,
            dir.path(),
            Fm::CREATE,
            MarkFlags::empty(),
        )
        .unwrap();
    std::fs::write(dir.join("mine"), b"").unwrap();
    let events = read_until(&group, |evs| !evs.is_empty());
    let (handle, name) = events[0].fid(FidKind::DfidName).unwrap();
    assert_eq!(name.unwrap(), "mine");
    assert!(group.is_unprivileged());
    // open_by_handle_at is refused here, but the directory's handle is
    // the marked one: the path resolves against it.
    let err = group
        .open_handle(&handle, notify_fd::fanotify::OFlags::PATH)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(group.path_of(&handle, name).unwrap(), dir.join("mine"));
    // The kernel withholds another process's pid from an unprivileged
    // group (our own is shown).
    assert_eq!(events[0].pid(), std::process::id());
    // A directory that is not marked stays unresolved, with the reason.
    std::fs::create_dir(dir.join("sub")).unwrap();
    let sub = Fanotify::new(
        Class::Notif,
        InitFlags::NONBLOCK | InitFlags::REPORT_DFID_NAME,
    )
    .unwrap();
    sub.mark(
        MarkTarget::Inode,
        dir.join("sub"),
        Fm::CREATE,
        MarkFlags::empty(),
    )
    .unwrap();
    std::fs::write(dir.join("sub/x"), b"").unwrap();
    let evs = read_until(&sub, |evs| !evs.is_empty());
    let (h, n) = evs[0].fid(FidKind::DfidName).unwrap();
    assert_eq!(sub.path_of(&h, n).unwrap(), dir.join("sub/x"));
    assert_eq!(
        group.path_of(&h, n).unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
}

pub(super) fn error_paths() {
    let tmp = private_tmpfs();
    let file = tmp.join("file");
    std::fs::write(&file, b"").unwrap();
    // The raw layer on its own: a group, a mark, an event, the mark
    // removed, and removing it again is the kernel's ENOENT.
    {
        use notify_fd::fanotify::{MarkOp, OFlags, fanotify_init, fanotify_mark};
        let fd = fanotify_init(Class::Notif, InitFlags::NONBLOCK, OFlags::RDONLY).unwrap();
        assert!(fd_core::is_cloexec(&fd).unwrap());
        let mark = |op| {
            fanotify_mark(
                &fd,
                op,
                MarkTarget::Inode,
                MarkFlags::empty(),
                Fm::OPEN,
                None,
                Some(&file),
            )
        };
        mark(MarkOp::Add).unwrap();
        drop(File::open(&file).unwrap());
        let mut buf = [0u8; 4096];
        let n = rustix::io::read(&fd, &mut buf).unwrap();
        let raw = notify_fd::fanotify::EventIter::new(&buf[..n])
            .next()
            .unwrap();
        assert!(raw.mask.contains(Fm::OPEN));
        assert!(raw.fd >= 0);
        {
            use std::os::fd::FromRawFd;
            #[allow(unsafe_code)]
            // SAFETY: the kernel opened this fd for this process in the read
            // above, and nothing else owns it; taking it closes it on drop.
            drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(raw.fd) });
        }
        mark(MarkOp::Remove).unwrap();
        let err = mark(MarkOp::Remove).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        fanotify_mark(
            &fd,
            MarkOp::Flush,
            MarkTarget::Inode,
            MarkFlags::empty(),
            Fm::empty(),
            None,
            None,
        )
        .unwrap();
    }
    for (flags, needle) in [
        (InitFlags::REPORT_NAME, "REPORT_NAME needs REPORT_DIR_FID"),
        (
            InitFlags::REPORT_PIDFD | InitFlags::REPORT_TID,
            "cannot go together",
        ),
        (
            InitFlags::REPORT_TARGET_FID | InitFlags::REPORT_FID,
            "REPORT_TARGET_FID needs",
        ),
    ] {
        let err = Fanotify::new(Class::Notif, flags).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(
            !err.is_from_kernel() && err.to_string().contains(needle),
            "{err}"
        );
    }
    let fd_group = Fanotify::new(Class::Notif, InitFlags::empty()).unwrap();
    let fid_group = Fanotify::new(Class::Notif, InitFlags::REPORT_FID).unwrap();
    let err = fd_group
        .mark(MarkTarget::Inode, &file, Fm::OPEN_PERM, MarkFlags::empty())
        .unwrap_err();
    assert!(err.to_string().contains("need Class::Content"), "{err}");
    let err = fd_group
        .mark(MarkTarget::Filesystem, &tmp, Fm::CREATE, MarkFlags::empty())
        .unwrap_err();
    assert!(err.to_string().contains("need FID reporting"), "{err}");
    let err = fid_group
        .mark(MarkTarget::Mount, &tmp, Fm::CREATE, MarkFlags::empty())
        .unwrap_err();
    assert!(
        err.to_string().contains("refuses create on mount marks"),
        "{err}"
    );
    // What the kernel itself says about the same thing:
    let err = fd_group
        .mark(
            MarkTarget::Inode,
            tmp.join("missing"),
            Fm::OPEN,
            MarkFlags::empty(),
        )
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::NotFound, libc::ENOENT)
    );
    let err = fd_group
        .mark(MarkTarget::Inode, &file, Fm::OPEN, MarkFlags::ONLYDIR)
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::InvalidInput, libc::ENOTDIR)
    );
    assert!(err.to_string().contains("not a directory"), "{err}");
    let err = fd_group
        .unmark(MarkTarget::Inode, &file, Fm::OPEN, MarkFlags::empty())
        .unwrap_err();
    assert_eq!(err.errno(), libc::ENOENT);
    // Answering a notification event is refused.
    fd_group
        .mark(MarkTarget::Inode, &file, Fm::OPEN, MarkFlags::empty())
        .unwrap();
    drop(File::open(&file).unwrap());
    let mut e = read_until(&fd_group, |evs| !evs.is_empty()).remove(0);
    let err = e.respond(Response::Allow, false).unwrap_err();
    assert!(err.to_string().contains("not a permission event"), "{err}");
    assert!(
        e.respond(Response::DenyWithErrno(0), false)
            .unwrap_err()
            .to_string()
            .contains("errno 0")
    );
    let file_fd = e.take_file().expect("fd mode");
    assert!(fd_core::is_cloexec(&file_fd).unwrap());
}

#[cfg(feature = "async")]
pub(super) fn async_stream() {
    use futures_lite::{StreamExt, future};
    use notify_fd::AsyncFanotify;
    let tmp = private_tmpfs();
    let f = tmp.join("f");
    std::fs::write(&f, b"").unwrap();
    let group =
        AsyncFanotify::new(Fanotify::new(Class::Notif, InitFlags::empty()).unwrap()).unwrap();
    group
        .get_ref()
        .mark(MarkTarget::Inode, &f, Fm::OPEN, MarkFlags::empty())
        .unwrap();
    future::block_on(async {
        let mut stream = &group;
        drop(File::open(&f).unwrap());
        let e = stream.next().await.unwrap().unwrap();
        assert_eq!((e.mask(), e.path().unwrap()), (Fm::OPEN, f.clone()));
    });
}

//! The raw layer, namespace fds, mounts and id maps.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use butter_tests::{
    TempDir, become_nobody, exit_code, fork_child, harness_mountinfo, mount_tmpfs, private_tmpfs,
    skip,
};
use ns_sys::{
    ErrorKind, FsContext, IdMap, MountAttr, MountAttrFlags, MountFd, MountFlags, Namespace,
    Namespaces, NsFd, OpenTreeFlags, PidFd, Propagation, Sandbox, Signal, UnmountFlags,
};

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A `sleep` in new namespaces (adding a user namespace when not root), to
/// look at and join.
pub(crate) fn sleeper(namespaces: Namespaces, hostname: Option<&str>) -> ns_sys::Child {
    let mut s = Sandbox::new("sleep");
    s.arg("1000").unshare(namespaces).death_signal(Signal::KILL);
    if !is_root() {
        s.unshare(Namespaces::USER);
    }
    if let Some(h) = hostname {
        s.hostname(h);
    }
    s.spawn().expect("spawn a sleeper")
}

fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap()
}

pub(crate) fn host_and_domain_names() {
    // The harness gave this test a UTS namespace of its own.
    ns_sys::sethostname("butter-test-host").unwrap();
    assert_eq!(ns_sys::gethostname(), "butter-test-host");
    ns_sys::setdomainname("butter.test").unwrap();
    assert_eq!(ns_sys::getdomainname(), "butter.test");
    // 64 bytes is the limit, checked before the call.
    ns_sys::sethostname("h".repeat(64)).unwrap();
    let e = ns_sys::sethostname("h".repeat(65)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("at most 64"), "{e}");
    assert_eq!(ns_sys::gethostname().len(), 64);
    let e = ns_sys::setdomainname("a\0b").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // Without CAP_SYS_ADMIN over the UTS namespace: EPERM.
    let pid = fork_child(|| {
        become_nobody();
        match ns_sys::sethostname("nope") {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => 0,
            other => {
                eprintln!("sethostname as nobody: {other:?}");
                1
            }
        }
    });
    if is_root() {
        assert_eq!(exit_code(pid), 0);
    } else {
        let _ = exit_code(pid);
    }
}

pub(crate) fn unshare_errors() {
    // A mount namespace in a multithreaded process: EINVAL, explained.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || rx.recv());
    let e = ns_sys::unshare(Namespaces::USER).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("single-threaded"), "{e}");
    tx.send(()).unwrap();
    t.join().unwrap().unwrap();
    // Without privilege, a UTS namespace alone: EPERM, explained.
    let pid = fork_child(|| {
        become_nobody();
        match ns_sys::unshare(Namespaces::UTS) {
            Err(e)
                if e.kind() == ErrorKind::PermissionDenied
                    && e.to_string().contains("CAP_SYS_ADMIN") =>
            {
                0
            }
            other => {
                eprintln!("unshare(UTS) as nobody: {other:?}");
                1
            }
        }
    });
    assert_eq!(exit_code(pid), 0);
    // A new UTS namespace (in a user namespace where not root) really is new.
    let pid = fork_child(|| {
        let before = NsFd::open_self(Namespace::Uts).unwrap().id().unwrap();
        let ns = if is_root() {
            Namespaces::UTS
        } else {
            Namespaces::UTS | Namespaces::USER
        };
        ns_sys::unshare(ns).unwrap();
        let after = NsFd::open_self(Namespace::Uts).unwrap().id().unwrap();
        i32::from(before == after)
    });
    assert_eq!(exit_code(pid), 0);
}

pub(crate) fn namespace_fds() {
    for kind in Namespace::ALL {
        let fd = NsFd::open_self(kind).unwrap();
        assert_eq!(fd.kind(), kind);
        let meta = std::fs::metadata(format!("/proc/self/ns/{kind}")).unwrap();
        let id = fd.id().unwrap();
        assert_eq!((id.dev, id.ino), (meta.dev(), meta.ino()), "{kind}");
        assert!(fd.is_current().unwrap());
        assert!(fd_core::is_cloexec(&fd).unwrap());
        let by_pid = NsFd::open(std::process::id(), kind).unwrap();
        assert_eq!(by_pid.id().unwrap(), id);
        assert_eq!(kind.name().parse::<Namespace>().unwrap(), kind);
    }
    assert_eq!("mount".parse::<Namespace>().unwrap(), Namespace::Mnt);
    let e = "cgroups".parse::<Namespace>().unwrap_err();
    assert!(e.to_string().contains("unknown namespace"), "{e}");

    // Not a namespace file; a namespace of another kind.
    let dir = TempDir::new("nsfd");
    std::fs::write(dir.join("f"), b"").unwrap();
    let e = NsFd::open_path(dir.join("f"), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("not a namespace file"), "{e}");
    let e = NsFd::open_path("/proc/self/ns/uts", Some(Namespace::Net)).unwrap_err();
    assert!(
        e.to_string()
            .contains("a uts namespace where a net namespace was expected"),
        "{e}"
    );
    let e = NsFd::open(0x3fff_fff0, Namespace::Uts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");

    // By pidfd (Linux 6.11), the same namespace as by /proc.
    let me = PidFd::open(std::process::id()).unwrap();
    match NsFd::from_pidfd(&me, Namespace::Net) {
        Ok(fd) => assert_eq!(
            fd.id().unwrap(),
            NsFd::open_self(Namespace::Net).unwrap().id().unwrap()
        ),
        Err(e) => assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}"),
    }

    // Owner and parent.
    let uts = NsFd::open_self(Namespace::Uts).unwrap();
    let own_user = NsFd::open_self(Namespace::User).unwrap().id().unwrap();
    assert_eq!(uts.user_ns().unwrap().id().unwrap(), own_user);
    let e = uts.parent().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = uts.owner_uid().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = NsFd::open_self(Namespace::Pid).unwrap().parent();
    if let Err(e) = e {
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    }

    let mut child = sleeper(Namespaces::USER | Namespaces::UTS, None);
    let theirs = NsFd::open(child.pid(), Namespace::User).unwrap();
    assert_eq!(theirs.parent().unwrap().id().unwrap(), own_user);
    assert_eq!(
        theirs.owner_uid().unwrap(),
        rustix::process::geteuid().as_raw()
    );
    assert!(!theirs.is_current().unwrap());
    let listed = ns_sys::namespaces_of(Some(child.pid())).unwrap();
    let shared = |k: Namespace| listed.iter().find(|e| e.kind == k).map(|e| e.shared);
    assert_eq!(shared(Namespace::User), Some(false));
    assert_eq!(shared(Namespace::Uts), Some(false));
    assert_eq!(shared(Namespace::Net), Some(true));
    assert_eq!(shared(Namespace::Mnt), Some(true));
    let mine = ns_sys::namespaces_of(None).unwrap();
    assert!(mine.iter().all(|e| e.shared));
    child.kill(Signal::KILL).unwrap();
    child.wait().unwrap();
}

pub(crate) fn setns_one_and_many() {
    if !is_root() {
        skip("joining another process's namespaces needs CAP_SYS_ADMIN over them");
    }
    let mut child = sleeper(Namespaces::UTS | Namespaces::IPC, Some("inner"));
    let pid = child.pid();
    // One at a time, by fd.
    let joined = fork_child(move || {
        let fd = NsFd::open(pid, Namespace::Uts).unwrap();
        fd.enter().unwrap();
        i32::from(ns_sys::gethostname() != "inner")
    });
    assert_eq!(exit_code(joined), 0);
    // Several at once through the pidfd.
    let joined = fork_child(move || {
        let pidfd = PidFd::open(pid).unwrap();
        ns_sys::setns_pidfd(&pidfd, Namespaces::UTS | Namespaces::IPC).unwrap();
        let same = |k| {
            NsFd::open_self(k).unwrap().id().unwrap() == NsFd::open(pid, k).unwrap().id().unwrap()
        };
        i32::from(
            !(same(Namespace::Uts) && same(Namespace::Ipc) && ns_sys::gethostname() == "inner"),
        )
    });
    assert_eq!(exit_code(joined), 0);
    // A kind that does not match the fd.
    let fd = NsFd::open(pid, Namespace::Uts).unwrap();
    let e = ns_sys::setns(&fd, Some(Namespace::Net)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let pidfd = child.pidfd().try_clone().unwrap();
    let e = ns_sys::setns_pidfd(&pidfd, Namespaces::empty()).unwrap_err();
    assert!(e.to_string().contains("at least one"), "{e}");
    child.kill(Signal::KILL).unwrap();
    child.wait().unwrap();
    // The process is gone: ESRCH.
    let e = ns_sys::setns_pidfd(&pidfd, Namespaces::UTS).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
}

fn mountinfo_line(path: &Path) -> Option<String> {
    let path = path.to_str().unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(path))
        .map(str::to_owned)
}

pub(crate) fn mount_umount_propagation() {
    let tmp = private_tmpfs();
    let a = tmp.join("a");
    let b = tmp.join("b");
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    ns_sys::mount(
        Some(Path::new("butter")),
        &a,
        Some("tmpfs"),
        MountFlags::NOSUID | MountFlags::NODEV,
        Some("size=1m"),
    )
    .unwrap();
    let line = mountinfo_line(&a).expect("a is a mount");
    assert!(line.contains("nosuid") && line.contains("nodev"), "{line}");
    std::fs::write(a.join("f"), b"x").unwrap();
    ns_sys::bind_mount(&a, &b, false).unwrap();
    assert!(b.join("f").exists());
    ns_sys::mount(
        None,
        &b,
        None,
        MountFlags::REMOUNT | MountFlags::BIND | MountFlags::RDONLY,
        None,
    )
    .unwrap();
    let e = std::fs::write(b.join("g"), b"x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS));
    std::fs::write(a.join("g"), b"x").unwrap();
    // Propagation: shared shows a peer group, private clears it.
    ns_sys::set_propagation(&a, Propagation::Shared, false).unwrap();
    assert!(mountinfo_line(&a).unwrap().contains("shared:"));
    ns_sys::set_propagation(&a, Propagation::Private, true).unwrap();
    assert!(!mountinfo_line(&a).unwrap().contains("shared:"));
    ns_sys::set_propagation(&a, Propagation::Unbindable, false).unwrap();
    assert!(mountinfo_line(&a).unwrap().contains("unbindable"));
    let e = ns_sys::bind_mount(&a, &b, false).unwrap_err();
    assert_eq!(
        e.errno(),
        libc::EINVAL,
        "an unbindable mount cannot be bound: {e}"
    );
    ns_sys::set_propagation(&a, Propagation::Private, false).unwrap();
    // Unmounting.
    ns_sys::umount2(&b, UnmountFlags::empty()).unwrap();
    assert!(!b.join("f").exists());
    let e = ns_sys::umount2(&b, UnmountFlags::empty()).unwrap_err();
    assert_eq!(
        (e.kind(), e.errno()),
        (ErrorKind::InvalidInput, libc::EINVAL)
    );
    // MNT_EXPIRE: the first call marks it (EAGAIN), the second unmounts.
    let e = ns_sys::umount2(&a, UnmountFlags::EXPIRE).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
    ns_sys::umount2(&a, UnmountFlags::EXPIRE).unwrap();
    assert!(mountinfo_line(&a).is_none());
    // A busy mount: EBUSY; MNT_DETACH takes it anyway.
    mount_tmpfs("busy", &a);
    let busy = std::fs::File::open(&a).unwrap();
    let inside = std::fs::File::create(a.join("open")).unwrap();
    let e = ns_sys::umount2(&a, UnmountFlags::empty()).unwrap_err();
    assert_eq!(e.errno(), libc::EBUSY);
    ns_sys::umount2(&a, UnmountFlags::DETACH).unwrap();
    drop((busy, inside));
    // None of it reached the harness (and so the machine).
    assert!(!harness_mountinfo().contains(" /tmp/a "));
    // Bad input: caught before the call, or named by the kernel.
    let e = ns_sys::mount(None, "/tmp/a\0b", None, MountFlags::empty(), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("NUL"), "{e}");
    let e = ns_sys::mount(
        Some(Path::new("x")),
        &a,
        Some("no-such-fs"),
        MountFlags::empty(),
        None,
    )
    .unwrap_err();
    assert_eq!(e.errno(), libc::ENODEV);
    let e = ns_sys::mount(
        Some(Path::new("x")),
        tmp.join("missing"),
        Some("tmpfs"),
        MountFlags::empty(),
        None,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

pub(crate) fn new_mount_api() {
    let tmp = private_tmpfs();
    let (a, b) = (tmp.join("a"), tmp.join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    let ctx = FsContext::new("tmpfs").unwrap();
    ctx.set_string("size", "1m").unwrap();
    ctx.set_flag("noswap")
        .or_else(|_| ctx.set_string("mode", "0755"))
        .unwrap();
    ctx.create().unwrap();
    let m = ctx
        .mount(MountAttrFlags::NOSUID | MountAttrFlags::NODEV)
        .unwrap();
    m.attach(&a).unwrap();
    let line = mountinfo_line(&a).expect("attached");
    assert!(line.contains("nosuid") && line.contains("tmpfs"), "{line}");
    std::fs::write(a.join("f"), b"x").unwrap();

    // The kernel's log message comes with the error.
    let bad = FsContext::new("tmpfs").unwrap();
    let e = bad.set_string("size", "banana").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(
        e.to_string().contains("size"),
        "the log names the option: {e}"
    );
    let e = FsContext::new("no-such-fs").unwrap_err();
    assert_eq!(e.errno(), libc::ENODEV);
    let e = bad.set_string("si\0ze", "1").unwrap_err();
    assert!(e.to_string().contains("NUL"), "{e}");
    // Mounting before creating: EINVAL.
    assert_eq!(
        bad.mount(MountAttrFlags::empty()).unwrap_err().errno(),
        libc::EINVAL
    );

    // Reconfigure a mounted superblock.
    let picked = FsContext::pick(&a).unwrap();
    picked.set_string("size", "2m").unwrap();
    picked.reconfigure().unwrap();
    let line = mountinfo_line(&a).unwrap();
    assert!(line.contains("size=2048k"), "{line}");

    // A detached copy, attached elsewhere, made read-only.
    let copy = MountFd::clone_tree(&a, true).unwrap();
    copy.attach(&b).unwrap();
    assert!(b.join("f").exists());
    copy.set_attr(
        &MountAttr {
            set: MountAttrFlags::RDONLY,
            ..MountAttr::default()
        },
        true,
    )
    .unwrap();
    let e = std::fs::write(b.join("g"), b"x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS));
    std::fs::write(a.join("g"), b"x").unwrap();
    MountFd::open(&a).unwrap();
    // Checked before the call.
    let e = ns_sys::open_tree(None, &a, OpenTreeFlags::RECURSIVE).unwrap_err();
    assert!(e.to_string().contains("only with CLONE"), "{e}");
    let e = ns_sys::mount_setattr(
        None,
        &a,
        ns_sys::SetAttrFlags::empty(),
        &MountAttr {
            set: MountAttrFlags::IDMAP,
            ..MountAttr::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("IDMAP and a user namespace"), "{e}");
    // Not a mount root: move_mount of a missing target.
    let e = copy.attach(tmp.join("missing")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

pub(crate) fn idmapped_mount() {
    let tmp = private_tmpfs();
    let (src, dst) = (tmp.join("src"), tmp.join("dst"));
    std::fs::create_dir(&src).unwrap();
    std::fs::create_dir(&dst).unwrap();
    std::fs::write(src.join("owned"), b"x").unwrap();
    std::fs::write(src.join("unmapped"), b"x").unwrap();
    rustix::fs::chown(
        src.join("unmapped"),
        Some(rustix::process::Uid::from_raw(1000)),
        Some(rustix::process::Gid::from_raw(1000)),
    )
    .unwrap();
    // A user namespace whose root is 1000 outside.
    let mut holder = Sandbox::new("sleep");
    holder
        .arg("1000")
        .death_signal(Signal::KILL)
        .unshare(Namespaces::USER)
        .uid_map(vec![IdMap::one(0, 1000)])
        .gid_map(vec![IdMap::one(0, 1000)]);
    let mut holder = holder.spawn().unwrap();
    let userns = NsFd::open(holder.pid(), Namespace::User).unwrap();
    // An attached mount cannot be idmapped: the error says what is needed.
    let e = MountFd::open(&src)
        .unwrap()
        .idmap(userns.as_fd(), false)
        .unwrap_err();
    assert!(e.to_string().contains("detached"), "{e}");
    let copy = MountFd::clone_tree(&src, false).unwrap();
    copy.idmap(userns.as_fd(), false).unwrap();
    copy.attach(&dst).unwrap();
    // The namespace's map, read inside to outside, applies to the ids on
    // disk: owned by 0 on disk, by 1000 through the idmapped mount; 1000
    // has no mapping there, so it shows as the overflow id.
    assert_eq!(std::fs::metadata(src.join("owned")).unwrap().uid(), 0);
    assert_eq!(std::fs::metadata(dst.join("owned")).unwrap().uid(), 1000);
    assert_eq!(
        std::fs::metadata(dst.join("unmapped")).unwrap().uid(),
        65534
    );
    holder.kill(Signal::KILL).unwrap();
    holder.wait().unwrap();
}

pub(crate) fn pivot_root_raw() {
    let tmp = private_tmpfs();
    let new = tmp.join("new");
    std::fs::create_dir(&new).unwrap();
    // Not a mount point: EINVAL, with what pivot_root wants.
    std::fs::create_dir(new.join("old")).unwrap();
    let e = ns_sys::pivot_root(&new, new.join("old")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("mount point"), "{e}");
    mount_tmpfs("new-root", &new);
    std::fs::create_dir(new.join("old")).unwrap();
    std::fs::write(new.join("marker"), b"new root").unwrap();
    let pid = fork_child(move || {
        ns_sys::pivot_root(&new, new.join("old")).unwrap();
        std::env::set_current_dir("/").unwrap();
        let sees_new = Path::new("/marker").exists();
        let old_there = Path::new("/old/proc").exists();
        ns_sys::umount2("/old", UnmountFlags::DETACH).unwrap();
        let old_gone = !Path::new("/old/proc").exists();
        i32::from(!(sees_new && old_there && old_gone))
    });
    assert_eq!(exit_code(pid), 0);
}

pub(crate) fn raw_pids() {
    assert_eq!(ns_sys::getpid(), std::process::id());
    assert_eq!(ns_sys::gettid(), butter_tests::gettid().cast_unsigned());
    assert_eq!(
        ns_sys::getppid(),
        rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get().cast_unsigned())
    );
    // In a forked child: its own pid, and ours as its parent.
    let parent = ns_sys::getpid();
    let pid = fork_child(move || {
        let ok = ns_sys::getpid() != parent
            && ns_sys::getppid() == parent
            && ns_sys::gettid() == ns_sys::getpid();
        i32::from(!ok)
    });
    assert_eq!(exit_code(pid), 0);
}

/// A child in a new user namespace that waits for a byte, so its maps can
/// be written; returns its pid and the pipe's write end once the child
/// says it is in its namespace.
fn userns_child() -> (u32, OwnedFd) {
    let (go_r, go_w) = pipe();
    let (ready_r, ready_w) = pipe();
    let go_w_raw = std::os::fd::AsRawFd::as_raw_fd(&go_w);
    let pid = fork_child(move || {
        // Our copy of the write end: closed, so that the parent's going
        // away (a failed test) ends the wait below.
        // SAFETY: an fd number this forked process inherited and owns.
        unsafe { libc::close(go_w_raw) };
        if ns_sys::unshare(Namespaces::USER).is_err() {
            return 2;
        }
        let _ = rustix::io::write(&ready_w, b"r");
        let mut b = [0u8; 1];
        let _ = rustix::io::read(&go_r, &mut b);
        0
    });
    let mut b = [0u8; 1];
    assert_eq!(
        rustix::io::read(&ready_r, &mut b).unwrap(),
        1,
        "the child could not unshare"
    );
    (pid, go_w)
}

pub(crate) fn id_maps_root() {
    if !is_root() {
        skip("several ranges need CAP_SETUID and CAP_SETGID");
    }
    let (pid, go) = userns_child();
    let maps = vec![
        IdMap::one(0, 0),
        IdMap {
            inside: 1,
            outside: 100_000,
            count: 65536,
        },
    ];
    // Refused before writing: overlapping ranges.
    let e = ns_sys::write_uid_map(
        pid,
        &[
            IdMap::one(0, 0),
            IdMap {
                inside: 0,
                outside: 5,
                count: 2,
            },
        ],
    )
    .unwrap_err();
    assert!(e.to_string().contains("overlap inside"), "{e}");
    ns_sys::write_uid_map(pid, &maps).unwrap();
    assert_eq!(ns_sys::read_map(pid, ns_sys::IdKind::User).unwrap(), maps);
    let e = ns_sys::write_uid_map(pid, &maps).unwrap_err();
    assert!(e.to_string().contains("already written"), "{e}");
    ns_sys::write_gid_map(pid, &maps).unwrap();
    assert_eq!(ns_sys::read_map(pid, ns_sys::IdKind::Group).unwrap(), maps);
    // A privileged writer leaves setgroups allowed.
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/setgroups"))
            .unwrap()
            .trim(),
        "allow"
    );
    rustix::io::write(&go, b"g").unwrap();
    assert_eq!(exit_code(pid), 0);
}

pub(crate) fn id_maps_unprivileged() {
    become_nobody();
    crate::need_userns();
    let (pid, go) = userns_child();
    let me = rustix::process::geteuid().as_raw();
    let e = ns_sys::write_uid_map(
        pid,
        &[IdMap {
            inside: 0,
            outside: me,
            count: 2,
        }],
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("CAP_SETUID"), "{e}");
    let e = ns_sys::write_uid_map(pid, &[IdMap::one(0, 0)]).unwrap_err();
    assert!(
        e.to_string().contains(&format!("only its own uid ({me})")),
        "{e}"
    );
    ns_sys::write_uid_map(pid, &[IdMap::one(0, me)]).unwrap();
    // gid_map: setgroups is denied first, as the kernel requires.
    let my_gid = rustix::process::getegid().as_raw();
    ns_sys::write_gid_map(pid, &[IdMap::one(0, my_gid)]).unwrap();
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/setgroups"))
            .unwrap()
            .trim(),
        "deny"
    );
    let e = ns_sys::deny_setgroups(pid).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    rustix::io::write(&go, b"g").unwrap();
    assert_eq!(exit_code(pid), 0);
}

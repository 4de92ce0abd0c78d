//! notify-fd against the real kernel and real filesystems.
//!
//! Each test runs in a forked child (`butter_tests::run`): some lower
//! rlimits, mount tmpfs in private namespaces, or set a user namespace's
//! own watch limit; none changes the machine.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use butter_tests::{TempDir, drain, fill_fd_table, private_tmpfs, read_until};
use fd_core::{ErrorKind, EventSource};
use notify_fd::inotify::{
    Change, Event, EventBuffer, EventMask, InitFlags, Inotify, PathEvent, RecursiveWatcher,
    WatchEvent, WatchFlags, inotify_add_watch,
};

mod contract;
mod debounce;
mod fan;
mod recursive_fanotify;
mod recursive_filter;
mod recursive_poll;
mod recursive_races;
mod recursive_roots;
mod recursive_symlinks;
mod recursive_sync;

const LIMIT: Duration = Duration::from_secs(10);

fn main() -> std::process::ExitCode {
    #[allow(unused_mut)]
    let mut tests = vec![
        butter_tests::test!(Isolation, contract::inotify_poll_loop),
        butter_tests::test!(Isolation, contract::inotify_epoll_edge),
        butter_tests::test!(Isolation, contract::inotify_two_threads),
        butter_tests::test!(Isolation, contract::recursive_poll_loop),
        butter_tests::test!(Isolation, contract::recursive_epoll_edge),
        butter_tests::test!(Isolation, contract::recursive_two_threads),
        butter_tests::test!(Root, contract::fan_tree_poll_loop),
        butter_tests::test!(Root, contract::fan_tree_epoll_edge),
        butter_tests::test!(Root, contract::fan_tree_two_threads),
        butter_tests::test!(Isolation, contract::poll_tree_poll_loop),
        butter_tests::test!(Isolation, contract::poll_tree_epoll_edge),
        butter_tests::test!(Isolation, contract::poll_tree_two_threads),
        butter_tests::test!(Isolation, contract::fanotify_poll_loop),
        butter_tests::test!(Isolation, contract::fanotify_epoll_edge),
        butter_tests::test!(Isolation, contract::fanotify_two_threads),
        butter_tests::test!(Isolation, every_event_kind),
        butter_tests::test!(Isolation, self_events_and_ignored),
        butter_tests::test!(Isolation, unpaired_moves),
        butter_tests::test!(Namespaces, unmount_then_ignored),
        butter_tests::test!(Isolation, oneshot_fires_once),
        butter_tests::test!(Isolation, overflow_for_real),
        butter_tests::test!(Namespaces, one_read_takes_the_whole_queue),
        butter_tests::test!(Isolation, add_watch_error_paths),
        butter_tests::test!(Isolation, rm_watch_error_paths),
        butter_tests::test!(Isolation, out_of_fds),
        butter_tests::test!(UserNamespace, watch_limit),
        butter_tests::test!(Isolation, names_are_bytes),
        butter_tests::test!(Isolation, recursive_every_level),
        butter_tests::test!(Isolation, recursive_renames),
        butter_tests::test!(Isolation, recursive_moves),
        butter_tests::test!(Isolation, recursive_overflow),
        butter_tests::test!(
            Isolation,
            recursive_races::created_then_renamed_before_handled
        ),
        butter_tests::test!(Isolation, recursive_races::moved_out_and_recreated),
        butter_tests::test!(
            Isolation,
            recursive_races::kernel_order_for_a_stopped_reader
        ),
        butter_tests::test!(Isolation, recursive_races::paths_follow_renames_in_order),
        butter_tests::test!(Isolation, recursive_races::startup_on_a_large_tree_is_quiet),
        butter_tests::test!(Isolation, recursive_races::own_listing_is_not_reported),
        butter_tests::test!(Isolation, recursive_races::overflow_rescans_by_itself),
        butter_tests::test!(Isolation, recursive_races::symlink_root_is_followed),
        butter_tests::test!(
            Isolation,
            recursive_races::each_creation_once_stopped_reader
        ),
        butter_tests::test!(Isolation, recursive_races::each_creation_once_live_reader),
        butter_tests::test!(Isolation, recursive_races::scanned_file_still_being_written),
        butter_tests::test!(Isolation, recursive_filter::excluded_trees_get_no_watch),
        butter_tests::test!(
            Isolation,
            recursive_filter::include_reports_only_what_matches
        ),
        butter_tests::test!(Isolation, recursive_filter::bad_globs_are_refused),
        butter_tests::test!(Isolation, recursive_sync::everything_before_is_queued),
        butter_tests::test!(Isolation, recursive_sync::beside_another_reader),
        butter_tests::test!(Isolation, recursive_sync::after_an_overflow),
        butter_tests::test!(Isolation, recursive_sync::no_root_takes_the_file),
        butter_tests::test!(Root, recursive_fanotify::same_events_as_inotify),
        butter_tests::test!(Root, recursive_fanotify::filters_alike),
        butter_tests::test!(Root, recursive_fanotify::startup_needs_no_walk),
        butter_tests::test!(Root, recursive_fanotify::auto_picks_what_works),
        butter_tests::test!(Root, recursive_fanotify::fanotify_root_errors),
        butter_tests::test!(Isolation, recursive_roots::inotify_roots_come_and_go),
        butter_tests::test!(Root, recursive_roots::fanotify_roots_come_and_go),
        butter_tests::test!(Isolation, debounce::bursts_settle_into_one_event),
        butter_tests::test!(
            Isolation,
            recursive_symlinks::links_are_followed_loops_are_not
        ),
        butter_tests::test!(Isolation, recursive_poll::poll_reports_what_changed),
        butter_tests::test!(Isolation, recursive_poll::poll_ticks_on_its_own),
        butter_tests::test!(Isolation, watch_one_liner),
        butter_tests::test!(Root, fan::fd_mode_events),
        butter_tests::test!(Root, fan::dfid_name_records),
        butter_tests::test!(Root, fan::pidfd_records_name_the_actor),
        butter_tests::test!(Root, fan::more_event_kinds),
        butter_tests::test!(Root, fan::ignore_masks),
        butter_tests::test!(Root, fan::permission_events),
        butter_tests::test!(Isolation, fan::unprivileged_mode),
        butter_tests::test!(Root, fan::error_paths),
    ];
    #[cfg(feature = "async")]
    tests.push(butter_tests::test!(Root, fan::async_stream));
    #[cfg(feature = "async")]
    tests.extend([
        butter_tests::test!(Isolation, async_inotify),
        butter_tests::test!(Isolation, async_recursive),
        butter_tests::test!(Isolation, debounce::async_debouncer),
    ]);
    butter_tests::run(&tests)
}

/// The mask and name of every plain event.
fn events(changes: &[Change<OsString>]) -> Vec<(EventMask, Option<String>)> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Event(e) => Some((
                e.mask,
                e.name.as_ref().map(|n| n.to_string_lossy().into_owned()),
            )),
            _ => None,
        })
        .collect()
}

fn has(changes: &[Change<OsString>], mask: EventMask, name: Option<&str>) -> bool {
    events(changes)
        .iter()
        .any(|(m, n)| m.contains(mask) && n.as_deref() == name)
}

fn every_event_kind() {
    let dir = TempDir::new("inotify");
    let inotify = Inotify::new().unwrap();
    assert!(fd_core::is_cloexec(&inotify).unwrap());
    inotify
        .add_watch(dir.path(), EventMask::ALL_EVENTS, WatchFlags::empty())
        .unwrap();
    let f = dir.join("f");
    std::fs::write(&f, b"data").unwrap(); // create, open, modify, close_write
    let _ = std::fs::read(&f).unwrap(); // open, access, close_nowrite
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap(); // attrib
    std::fs::rename(&f, dir.join("g")).unwrap(); // moved_from + moved_to, paired
    std::fs::create_dir(dir.join("sub")).unwrap(); // create|isdir
    std::fs::remove_file(dir.join("g")).unwrap(); // delete
    let changes = drain(&inotify);
    for (mask, name) in [
        (EventMask::CREATE, "f"),
        (EventMask::OPEN, "f"),
        (EventMask::MODIFY, "f"),
        (EventMask::CLOSE_WRITE, "f"),
        (EventMask::ACCESS, "f"),
        (EventMask::CLOSE_NOWRITE, "f"),
        (EventMask::ATTRIB, "f"),
        (EventMask::CREATE | EventMask::ISDIR, "sub"),
        (EventMask::DELETE, "g"),
    ] {
        assert!(
            has(&changes, mask, Some(name)),
            "no {mask} on {name} in {changes:?}"
        );
    }
    let renamed = changes.iter().find_map(|c| match c {
        Change::Renamed { from, to } => {
            Some((from.name.clone(), to.name.clone(), from.cookie, to.cookie))
        }
        _ => None,
    });
    let (from, to, c1, c2) = renamed.expect("a paired rename");
    assert_eq!(
        (from.unwrap(), to.unwrap()),
        (OsString::from("f"), OsString::from("g"))
    );
    assert!(c1 != 0 && c1 == c2);
    let sub = changes.iter().find_map(|c| match c {
        Change::Event(e) if e.name.as_deref() == Some(OsStr::new("sub")) => Some(e.clone()),
        _ => None,
    });
    assert!(sub.unwrap().is_dir());
}

fn self_events_and_ignored() {
    let dir = TempDir::new("inotify-self");
    std::fs::create_dir(dir.join("d")).unwrap();
    std::fs::write(dir.join("file"), b"").unwrap();
    let inotify = Inotify::new().unwrap();
    let wd_dir = inotify
        .add_watch(dir.join("d"), EventMask::MOVE_SELF, WatchFlags::empty())
        .unwrap();
    let wd_file = inotify
        .add_watch(
            dir.join("file"),
            EventMask::DELETE_SELF,
            WatchFlags::empty(),
        )
        .unwrap();
    std::fs::rename(dir.join("d"), dir.join("e")).unwrap();
    std::fs::remove_file(dir.join("file")).unwrap();
    let changes = drain(&inotify);
    let find = |wd, mask| {
        changes.iter().any(|c| matches!(c, Change::Event(e) if e.wd == wd && e.mask.contains(mask) && e.name.is_none()))
    };
    assert!(find(wd_dir, EventMask::MOVE_SELF), "{changes:?}");
    assert!(find(wd_file, EventMask::DELETE_SELF), "{changes:?}");
    assert!(
        find(wd_file, EventMask::IGNORED),
        "the deleted file's watch is gone: {changes:?}"
    );
    let ignored = changes.iter().find_map(|c| match c {
        Change::Event(e) if e.is_ignored() => Some(e.clone()),
        _ => None,
    });
    assert!(ignored.unwrap().is_ignored());
}

fn unpaired_moves() {
    let watched = TempDir::new("inotify-watched");
    let other = TempDir::new("inotify-other");
    std::fs::write(watched.join("leaving"), b"").unwrap();
    std::fs::write(other.join("arriving"), b"").unwrap();
    let inotify = Inotify::new().unwrap();
    inotify
        .add_watch(
            watched.path(),
            EventMask::MOVE | EventMask::CREATE,
            WatchFlags::empty(),
        )
        .unwrap();
    std::fs::rename(watched.join("leaving"), other.join("leaving")).unwrap();
    std::fs::rename(other.join("arriving"), watched.join("arriving")).unwrap();
    std::fs::write(watched.join("last"), b"").unwrap();
    let changes = drain(&inotify);
    let name = |e: &WatchEvent<OsString>| e.name.clone().unwrap();
    // Unpaired halves stand where the kernel queued them.
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert!(
        matches!(&changes[0], Change::MovedOut(e) if name(e) == "leaving"),
        "{changes:?}"
    );
    assert!(
        matches!(&changes[1], Change::MovedIn(e) if name(e) == "arriving"),
        "{changes:?}"
    );
    assert!(
        matches!(&changes[2], Change::Event(e) if name(e) == "last" && e.mask.contains(EventMask::CREATE)),
        "{changes:?}"
    );
}

fn unmount_then_ignored() {
    let tmp = private_tmpfs();
    let mnt = tmp.join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    butter_tests::mount_tmpfs("butter-inner", &mnt);
    let inotify = Inotify::new().unwrap();
    let wd = inotify
        .add_watch(&mnt, EventMask::CREATE, WatchFlags::empty())
        .unwrap();
    rustix::mount::unmount(&mnt, rustix::mount::UnmountFlags::empty()).unwrap();
    let changes = drain(&inotify);
    let masks: Vec<EventMask> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Event(e) if e.wd == wd => Some(e.mask),
            _ => None,
        })
        .collect();
    // The kernel marks the unmount of a watched directory with ISDIR.
    assert_eq!(
        masks,
        [EventMask::UNMOUNT | EventMask::ISDIR, EventMask::IGNORED],
        "{changes:?}"
    );
    // The descriptor is dead: removing it is refused with the reason.
    let err = inotify.rm_watch(wd).unwrap_err();
    assert!(err.to_string().contains("gone with its file"), "{err}");
}

fn oneshot_fires_once() {
    let dir = TempDir::new("inotify-oneshot");
    let inotify = Inotify::new().unwrap();
    inotify
        .add_watch(dir.path(), EventMask::CREATE, WatchFlags::ONESHOT)
        .unwrap();
    std::fs::write(dir.join("one"), b"").unwrap();
    std::fs::write(dir.join("two"), b"").unwrap();
    let changes = drain(&inotify);
    assert_eq!(
        events(&changes),
        [
            (EventMask::CREATE, Some("one".into())),
            (EventMask::IGNORED, None)
        ],
        "{changes:?}"
    );
}

fn overflow_for_real() {
    let dir = TempDir::new("inotify-overflow");
    let f = dir.join("f");
    std::fs::write(&f, b"").unwrap();
    let max: usize = fd_core::probe::read_proc_u64("/proc/sys/fs/inotify/max_queued_events")
        .unwrap()
        .try_into()
        .unwrap();
    let inotify = Inotify::with_flags(InitFlags::NONBLOCK).unwrap();
    inotify
        .add_watch(
            &f,
            EventMask::OPEN | EventMask::CLOSE_NOWRITE,
            WatchFlags::empty(),
        )
        .unwrap();
    // OPEN and CLOSE_NOWRITE alternate, so the kernel cannot merge them:
    // each open and close adds two events. Go past the queue limit.
    for _ in 0..=max / 2 {
        drop(std::fs::File::open(&f).unwrap());
    }
    let mut buf = EventBuffer::default();
    let (mut normal, mut overflows) = (0, 0);
    loop {
        let batch = match inotify.read_batch(&mut buf) {
            Ok(batch) => batch,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        };
        for event in batch {
            match event {
                Event::Overflow => overflows += 1,
                Event::Watch(_) => normal += 1,
            }
        }
    }
    assert_eq!(overflows, 1, "one overflow marker");
    assert_eq!(
        normal, max,
        "the queue held exactly max_queued_events before overflowing"
    );
}

fn one_read_takes_the_whole_queue() {
    let tmp = private_tmpfs();
    let inotify = Inotify::new().unwrap();
    inotify
        .add_watch(&tmp, EventMask::CREATE, WatchFlags::empty())
        .unwrap();
    let long = "n".repeat(200);
    let make = |round: usize| {
        for i in 0..2000 {
            std::fs::write(tmp.join(format!("{long}{round}-{i}")), b"").unwrap();
        }
    };
    // A minimum-size buffer is never refused (EINVAL) and loses nothing:
    // each read takes at least one event with a 200-byte name.
    make(0);
    let mut small = EventBuffer::with_capacity(0);
    assert_eq!(small.capacity(), notify_fd::inotify::MIN_BUFFER);
    let mut seen = 0;
    while seen < 2000 {
        let n = inotify.read_batch(&mut small).unwrap().iter().count();
        assert!(n >= 1);
        seen += n;
    }
    assert_eq!(seen, 2000);
    // A buffer sized with queued_bytes takes a whole backlog in one read.
    make(1);
    let queued = inotify.queued_bytes().unwrap();
    assert!(queued > 400_000, "{queued}");
    let mut big = EventBuffer::with_capacity(queued);
    let batch = inotify.read_batch(&mut big).unwrap();
    assert_eq!(batch.byte_len(), queued);
    assert_eq!(batch.iter().count(), 2000);
    let mut lengths = BTreeSet::new();
    for c in batch.changes() {
        let Change::Event(e) = c else { panic!("{c:?}") };
        lengths.insert(e.name.unwrap().len());
    }
    assert!(lengths.iter().all(|len| *len >= 201));
    assert_eq!(inotify.queued_bytes().unwrap(), 0);
}

fn add_watch_error_paths() {
    let dir = TempDir::new("inotify-errors");
    let file = dir.join("file");
    std::fs::write(&file, b"").unwrap();
    let inotify = Inotify::new().unwrap();

    let err = inotify
        .add_watch(dir.join("missing"), EventMask::CREATE, WatchFlags::empty())
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::NotFound, libc::ENOENT)
    );
    assert!(err.to_string().contains("missing"), "{err}");

    let err = inotify
        .add_watch(&file, EventMask::CREATE, WatchFlags::ONLYDIR)
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::InvalidInput, libc::ENOTDIR)
    );
    assert!(
        err.to_string()
            .contains("not a directory (ONLYDIR was given)"),
        "{err}"
    );

    let err = inotify
        .add_watch(
            &file,
            EventMask::MODIFY,
            WatchFlags::MASK_ADD | WatchFlags::MASK_CREATE,
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(!err.is_from_kernel());
    assert!(err.to_string().contains("contradict"), "{err}");

    inotify
        .add_watch(&file, EventMask::MODIFY, WatchFlags::empty())
        .unwrap();
    let err = inotify
        .add_watch(&file, EventMask::ATTRIB, WatchFlags::MASK_CREATE)
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::InvalidInput, libc::EEXIST)
    );
    assert!(err.to_string().contains("already watched"), "{err}");

    let err = inotify
        .add_watch(
            &file,
            EventMask::IGNORED | EventMask::MODIFY,
            WatchFlags::empty(),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("ignored are reported by the kernel"),
        "{err}"
    );
    let err = inotify
        .add_watch(&file, EventMask::empty(), WatchFlags::empty())
        .unwrap_err();
    assert!(err.to_string().contains("no event"), "{err}");

    // MASK_ADD really adds: MODIFY stays, ATTRIB joins, one descriptor.
    let a = inotify
        .add_watch(&file, EventMask::MODIFY, WatchFlags::empty())
        .unwrap();
    let b = inotify
        .add_watch(&file, EventMask::ATTRIB, WatchFlags::MASK_ADD)
        .unwrap();
    assert_eq!(a, b);
    std::fs::write(&file, b"x").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let changes = drain(&inotify);
    assert!(
        has(&changes, EventMask::MODIFY, None) && has(&changes, EventMask::ATTRIB, None),
        "{changes:?}"
    );

    // The raw call with a bad fd type: EINVAL from the kernel.
    let (r, _w) = rustix::pipe::pipe().unwrap();
    let err =
        inotify_add_watch(&r, dir.path(), EventMask::CREATE, WatchFlags::empty()).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::InvalidInput, libc::EINVAL)
    );
}

fn rm_watch_error_paths() {
    let dir = TempDir::new("inotify-rm");
    let one = Inotify::new().unwrap();
    let two = Inotify::new().unwrap();
    let wd = one
        .add_watch(dir.path(), EventMask::CREATE, WatchFlags::empty())
        .unwrap();
    let err = two.rm_watch(wd).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string()
            .contains("belongs to another inotify instance"),
        "{err}"
    );
    one.rm_watch(wd).unwrap();
    let changes = drain(&one);
    assert!(
        has(&changes, EventMask::IGNORED, None),
        "removal reports IGNORED: {changes:?}"
    );
    let err = one.rm_watch(wd).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::InvalidInput, libc::EINVAL)
    );
    assert!(err.to_string().contains("does not exist"), "{err}");
    // Non-blocking and empty: would block.
    let quiet = Inotify::with_flags(InitFlags::NONBLOCK).unwrap();
    let mut buf = EventBuffer::default();
    assert_eq!(
        quiet.read_batch(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
}

fn out_of_fds() {
    let _full = fill_fd_table(32);
    let err = Inotify::new().unwrap_err();
    assert_eq!(
        (err.kind(), err.errno(), err.call()),
        (ErrorKind::ResourceLimit, libc::EMFILE, "inotify_init1")
    );
}

/// In a user namespace of its own the watch limit is the namespace's:
/// lower it there and run out, without touching the machine's setting.
fn watch_limit() {
    std::fs::write("/proc/sys/user/max_inotify_watches", "2")
        .expect("set this user namespace's own max_inotify_watches");
    let tmp = private_tmpfs();
    for d in ["a", "a/b", "a/b/c"] {
        std::fs::create_dir(tmp.join(d)).unwrap();
    }
    let err = RecursiveWatcher::new(tmp.join("a"), EventMask::CREATE).unwrap_err();
    assert_eq!(
        (err.kind(), err.errno()),
        (ErrorKind::ResourceLimit, libc::ENOSPC)
    );
    let msg = err.to_string();
    assert!(
        msg.contains("max_user_watches") && msg.contains("sysctl fs.inotify.max_user_watches"),
        "{msg}"
    );
    // The user's directory is named, not /proc/self/fd/N.
    assert!(msg.contains(&*tmp.join("a/b").to_string_lossy()), "{msg}");
    assert!(!msg.contains("/proc/self/fd"), "{msg}");
    // Running out later, as the tree grows: the directory that could not
    // be watched is reported, and every other event still comes, the ones
    // in the same batch included (as inotifywait warns and goes on).
    std::fs::write("/proc/sys/user/max_inotify_watches", "2").unwrap();
    let top = tmp.join("t");
    std::fs::create_dir(&top).unwrap();
    let watcher = RecursiveWatcher::new(&top, EventMask::CREATE).unwrap();
    std::fs::create_dir(top.join("d1")).unwrap(); // the second watch
    std::fs::create_dir(top.join("d2")).unwrap(); // no watch left
    for i in 0..8 {
        std::fs::write(top.join(format!("f{i}")), b"").unwrap();
    }
    std::fs::write(top.join("d1/inside"), b"").unwrap();
    let got = read_until(&watcher, |evs| {
        evs.iter()
            .any(|e| matches!(e, PathEvent::Event { path, .. } if path.ends_with("d1/inside")))
            && evs.iter().filter(|e| matches!(e, PathEvent::Event { path, .. } if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('f')))).count() == 8
    });
    assert!(
        got.contains(&PathEvent::NotWatched {
            path: top.join("d2"),
            errno: libc::ENOSPC
        }),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|e| matches!(e, PathEvent::Event { path, .. } if *path == top.join("d2"))),
        "d2's creation is still reported: {got:#?}"
    );
    assert_eq!(watcher.watched_dirs(), 2);
    // Once a watch is free again, a rescan picks d2 up.
    std::fs::write("/proc/sys/user/max_inotify_watches", "3").unwrap();
    watcher.rescan().unwrap();
    assert_eq!(watcher.watched_dirs(), 3);
    // A root that is a file is refused with its path and why.
    std::fs::write(tmp.join("file"), b"").unwrap();
    let e = RecursiveWatcher::new(tmp.join("file"), EventMask::CREATE).unwrap_err();
    assert!(
        e.to_string().contains(&*tmp.join("file").to_string_lossy())
            && e.to_string().contains("not a directory"),
        "{e}"
    );
}

fn names_are_bytes() {
    let dir = TempDir::new("inotify-bytes");
    let inotify = Inotify::new().unwrap();
    inotify
        .add_watch(dir.path(), EventMask::CREATE, WatchFlags::empty())
        .unwrap();
    let name = OsStr::from_bytes(b"caf\xe9");
    std::fs::write(dir.path().join(name), b"").unwrap();
    let changes = drain(&inotify);
    assert!(
        matches!(&changes[..], [Change::Event(e)] if e.name.as_deref() == Some(name)),
        "{changes:?}"
    );
}

fn paths(events: &[PathEvent]) -> BTreeSet<PathBuf> {
    events
        .iter()
        .filter_map(|e| match e {
            PathEvent::Event { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect()
}

fn recursive_every_level() {
    let root = TempDir::new("recursive");
    let watcher = RecursiveWatcher::new(root.path(), EventMask::CREATE).unwrap();
    assert_eq!(watcher.watched_dirs(), 1);
    // mkdir -p a/b/c/d && touch a/b/c/d/f, in one go.
    std::fs::create_dir_all(root.join("a/b/c/d")).unwrap();
    std::fs::write(root.join("a/b/c/d/f"), b"").unwrap();
    let want: BTreeSet<PathBuf> = ["a", "a/b", "a/b/c", "a/b/c/d", "a/b/c/d/f"]
        .iter()
        .map(|p| root.join(p))
        .collect();
    let got = read_until(&watcher, |evs| want.is_subset(&paths(evs)));
    assert!(want.is_subset(&paths(&got)));
    assert_eq!(watcher.watched_dirs(), 5, "{:?}", watcher.watched_paths());
    // Deleting a directory drops its watch once the kernel says IGNORED.
    std::fs::remove_dir_all(root.join("a/b/c/d")).unwrap();
    read_until(&watcher, |_| watcher.watched_dirs() == 4);
    assert!(!watcher.watched_paths().contains(&root.join("a/b/c/d")));
}

fn recursive_renames() {
    let root = TempDir::new("recursive-rename");
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    let watcher = RecursiveWatcher::new(root.path(), EventMask::CREATE | EventMask::MOVE).unwrap();
    std::fs::rename(root.join("a"), root.join("z")).unwrap();
    let got = read_until(&watcher, |evs| {
        evs.iter().any(|e| matches!(e, PathEvent::Renamed { .. }))
    });
    assert!(
        got.contains(&PathEvent::Renamed {
            from: root.join("a"),
            to: root.join("z"),
            is_dir: true
        }),
        "{got:?}"
    );
    // Later events below the renamed directory carry the new path.
    std::fs::write(root.join("z/b/after"), b"").unwrap();
    let want = root.join("z/b/after");
    let got = read_until(&watcher, |evs| paths(evs).contains(&want));
    assert!(paths(&got).contains(&want));
    assert!(watcher.watched_paths().contains(&root.join("z/b")));
}

fn recursive_moves() {
    let root = TempDir::new("recursive-moves");
    let outside = TempDir::new("recursive-outside");
    std::fs::create_dir_all(root.join("leaving/deep")).unwrap();
    std::fs::create_dir_all(outside.join("arriving/inner")).unwrap();
    std::fs::write(outside.join("arriving/inner/file"), b"").unwrap();
    let watcher = RecursiveWatcher::new(root.path(), EventMask::CREATE | EventMask::MOVE).unwrap();
    assert_eq!(watcher.watched_dirs(), 3);
    std::fs::rename(root.join("leaving"), outside.join("left")).unwrap();
    let got = read_until(&watcher, |evs| {
        evs.iter().any(|e| matches!(e, PathEvent::MovedOut { .. }))
    });
    assert!(
        got.contains(&PathEvent::MovedOut {
            path: root.join("leaving"),
            is_dir: true
        }),
        "{got:?}"
    );
    assert_eq!(
        watcher.watched_dirs(),
        1,
        "the moved-out subtree is no longer watched"
    );
    std::fs::rename(outside.join("arriving"), root.join("arrived")).unwrap();
    let want = root.join("arrived/inner/file");
    let got = read_until(&watcher, |evs| paths(evs).contains(&want));
    assert!(
        got.contains(&PathEvent::MovedIn {
            path: root.join("arrived"),
            is_dir: true
        }),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|e| matches!(e, PathEvent::Event { path, from_scan: true, .. } if *path == want))
    );
    assert_eq!(watcher.watched_dirs(), 3);
}

fn recursive_overflow() {
    let root = TempDir::new("recursive-overflow");
    std::fs::create_dir(root.join("sub")).unwrap();
    let watcher =
        RecursiveWatcher::new(root.path(), EventMask::OPEN | EventMask::CLOSE_NOWRITE).unwrap();
    let f = root.join("sub/f");
    std::fs::write(&f, b"").unwrap();
    let max = fd_core::probe::read_proc_u64("/proc/sys/fs/inotify/max_queued_events").unwrap();
    for _ in 0..=max / 2 {
        drop(std::fs::File::open(&f).unwrap());
    }
    let got = read_until(&watcher, |evs| evs.contains(&PathEvent::RescanNeeded));
    assert!(got.contains(&PathEvent::RescanNeeded));
    watcher.rescan().unwrap();
    assert_eq!(watcher.watched_dirs(), 2);
    drop(std::fs::File::open(&f).unwrap());
    let got = read_until(&watcher, |evs| paths(evs).contains(&f));
    assert!(paths(&got).contains(&f));
}

fn watch_one_liner() {
    let dir = TempDir::new("watch");
    let mut watch = notify_fd::watch(dir.path()).unwrap();
    std::fs::write(dir.join("x"), b"").unwrap();
    let first = watch.next().unwrap().unwrap();
    assert!(
        matches!(first, Change::Event(ref e) if e.mask.contains(EventMask::CREATE)),
        "{first:?}"
    );
    assert!(watch.inotify().wait_readable(Some(LIMIT)).unwrap());
}

#[cfg(feature = "async")]
fn async_inotify() {
    use futures_lite::{StreamExt, future};
    use notify_fd::AsyncInotify;
    let dir = TempDir::new("async-inotify");
    let inotify = AsyncInotify::new(Inotify::new().unwrap()).unwrap();
    inotify
        .get_ref()
        .add_watch(
            dir.path(),
            EventMask::CREATE | EventMask::MOVE,
            WatchFlags::empty(),
        )
        .unwrap();
    future::block_on(async {
        let mut stream = &inotify;
        std::fs::write(dir.join("a"), b"").unwrap();
        let c = stream.next().await.unwrap().unwrap();
        assert!(
            matches!(c, Change::Event(ref e) if e.name.as_deref() == Some(OsStr::new("a"))),
            "{c:?}"
        );
        std::fs::rename(dir.join("a"), dir.join("b")).unwrap();
        let c = stream.next().await.unwrap().unwrap();
        assert!(matches!(c, Change::Renamed { .. }), "{c:?}");
    });
}

#[cfg(feature = "async")]
fn async_recursive() {
    use event_fd::{AsyncEventFd, EventFd, EventFdFlags};
    use futures_lite::{StreamExt, future};
    use notify_fd::AsyncRecursiveWatcher;
    let root = TempDir::new("async-recursive");
    let watcher =
        AsyncRecursiveWatcher::new(RecursiveWatcher::new(root.path(), EventMask::CREATE).unwrap())
            .unwrap();
    let stop = AsyncEventFd::new(EventFd::with_flags(0, EventFdFlags::SEMAPHORE).unwrap()).unwrap();
    let want = root.join("x/y/z");
    let ex = async_executor::Executor::new();
    let seen = std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| future::block_on(ex.run(stop.read())));
        }
        let seen = future::block_on(ex.spawn(async {
            std::fs::create_dir_all(&want).unwrap();
            let mut stream = &watcher;
            let mut seen = Vec::new();
            while !paths(&seen).contains(&want) {
                seen.push(stream.next().await.unwrap().unwrap());
            }
            seen
        }));
        stop.get_ref().write(2).unwrap();
        seen
    });
    assert!(paths(&seen).contains(&root.join("x/y")));
}

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

use butter_tests::{Needs, TempDir, Test, fill_fd_table, private_tmpfs};
use fd_core::{ErrorKind, EventSource};
use notify_fd::inotify::{
    Change, Event, EventBuffer, EventMask, InitFlags, Inotify, PathEvent, RecursiveWatcher,
    WatchEvent, WatchFlags, inotify_add_watch,
};

mod recursive_races;

const LIMIT: Duration = Duration::from_secs(10);

fn main() -> std::process::ExitCode {
    use Needs::{Isolation, Namespaces, UserNamespace};
    #[allow(unused_mut)]
    let mut tests = vec![
        Test {
            name: "every_event_kind_on_a_directory",
            needs: Isolation,
            run: every_event_kind,
        },
        Test {
            name: "self_events_and_ignored",
            needs: Isolation,
            run: self_events_and_ignored,
        },
        Test {
            name: "unpaired_moves_in_and_out",
            needs: Isolation,
            run: unpaired_moves,
        },
        Test {
            name: "unmount_then_ignored",
            needs: Namespaces,
            run: unmount_then_ignored,
        },
        Test {
            name: "oneshot_fires_once",
            needs: Isolation,
            run: oneshot_fires_once,
        },
        Test {
            name: "overflow_for_real",
            needs: Isolation,
            run: overflow_for_real,
        },
        Test {
            name: "buffers_small_and_sized_to_the_queue",
            needs: Namespaces,
            run: one_read_takes_the_whole_queue,
        },
        Test {
            name: "add_watch_error_paths",
            needs: Isolation,
            run: add_watch_error_paths,
        },
        Test {
            name: "rm_watch_error_paths",
            needs: Isolation,
            run: rm_watch_error_paths,
        },
        Test {
            name: "out_of_fds",
            needs: Isolation,
            run: out_of_fds,
        },
        Test {
            name: "watch_limit_names_the_limit",
            needs: UserNamespace,
            run: watch_limit,
        },
        Test {
            name: "names_are_not_assumed_utf8",
            needs: Isolation,
            run: names_are_bytes,
        },
        Test {
            name: "recursive_reports_every_level",
            needs: Isolation,
            run: recursive_every_level,
        },
        Test {
            name: "recursive_follows_directory_renames",
            needs: Isolation,
            run: recursive_renames,
        },
        Test {
            name: "recursive_moves_out_and_in",
            needs: Isolation,
            run: recursive_moves,
        },
        Test {
            name: "recursive_overflow_and_rescan",
            needs: Isolation,
            run: recursive_overflow,
        },
        Test {
            name: "recursive_created_then_renamed_before_handled",
            needs: Isolation,
            run: recursive_races::created_then_renamed_before_handled,
        },
        Test {
            name: "recursive_moved_out_and_recreated",
            needs: Isolation,
            run: recursive_races::moved_out_and_recreated,
        },
        Test {
            name: "recursive_kernel_order_for_a_stopped_reader",
            needs: Isolation,
            run: recursive_races::kernel_order_for_a_stopped_reader,
        },
        Test {
            name: "recursive_paths_follow_renames_in_order",
            needs: Isolation,
            run: recursive_races::paths_follow_renames_in_order,
        },
        Test {
            name: "recursive_startup_on_a_large_tree_is_quiet",
            needs: Isolation,
            run: recursive_races::startup_on_a_large_tree_is_quiet,
        },
        Test {
            name: "recursive_own_listing_is_not_reported",
            needs: Isolation,
            run: recursive_races::own_listing_is_not_reported,
        },
        Test {
            name: "recursive_overflow_rescans_by_itself",
            needs: Isolation,
            run: recursive_races::overflow_rescans_by_itself,
        },
        Test {
            name: "recursive_symlink_root_is_followed",
            needs: Isolation,
            run: recursive_races::symlink_root_is_followed,
        },
        Test {
            name: "recursive_each_creation_once_stopped_reader",
            needs: Isolation,
            run: recursive_races::each_creation_once_stopped_reader,
        },
        Test {
            name: "recursive_each_creation_once_live_reader",
            needs: Isolation,
            run: recursive_races::each_creation_once_live_reader,
        },
        Test {
            name: "recursive_scanned_file_still_being_written",
            needs: Isolation,
            run: recursive_races::scanned_file_still_being_written,
        },
        Test {
            name: "watch_one_liner",
            needs: Isolation,
            run: watch_one_liner,
        },
        Test {
            name: "fanotify_fd_mode_events",
            needs: Needs::Root,
            run: fan::fd_mode_events,
        },
        Test {
            name: "fanotify_dfid_name_records_and_paths",
            needs: Needs::Root,
            run: fan::dfid_name_records,
        },
        Test {
            name: "fanotify_pidfd_names_the_actor",
            needs: Needs::Root,
            run: fan::pidfd_records_name_the_actor,
        },
        Test {
            name: "fanotify_more_event_kinds",
            needs: Needs::Root,
            run: fan::more_event_kinds,
        },
        Test {
            name: "fanotify_ignore_masks_unmark_flush",
            needs: Needs::Root,
            run: fan::ignore_masks,
        },
        Test {
            name: "fanotify_permission_events",
            needs: Needs::Root,
            run: fan::permission_events,
        },
        Test {
            name: "fanotify_unprivileged_mode",
            needs: Isolation,
            run: fan::unprivileged_mode,
        },
        Test {
            name: "fanotify_error_paths",
            needs: Needs::Root,
            run: fan::error_paths,
        },
    ];
    #[cfg(feature = "async")]
    tests.push(Test {
        name: "fanotify_async_stream",
        needs: Needs::Root,
        run: fan::async_stream,
    });
    #[cfg(feature = "async")]
    tests.extend([
        Test {
            name: "async_inotify_on_block_on",
            needs: Isolation,
            run: async_inotify,
        },
        Test {
            name: "async_recursive_on_a_thread_pool",
            needs: Isolation,
            run: async_recursive,
        },
    ]);
    butter_tests::run(&tests)
}

/// Every change queued now, owned, read without blocking.
fn drain(inotify: &Inotify) -> Vec<Change<OsString>> {
    let mut out = Vec::new();
    while inotify.wait(Some(Duration::ZERO)).unwrap() {
        inotify.read_events(&mut out).unwrap();
    }
    out
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
    rustix::mount::mount(
        "butter-inner",
        &mnt,
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        None,
    )
    .unwrap();
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

/// Reads path events until `done` says so, failing after `LIMIT`.
fn collect_until(
    watcher: &RecursiveWatcher,
    mut done: impl FnMut(&[PathEvent]) -> bool,
) -> Vec<PathEvent> {
    let mut out = Vec::new();
    let start = std::time::Instant::now();
    while !done(&out) {
        assert!(start.elapsed() < LIMIT, "gave up waiting; got {out:?}");
        if let Some(e) = watcher
            .read_event_timeout(Duration::from_millis(100))
            .unwrap()
        {
            out.push(e);
        }
    }
    out
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
    let got = collect_until(&watcher, |evs| want.is_subset(&paths(evs)));
    assert!(want.is_subset(&paths(&got)));
    assert_eq!(watcher.watched_dirs(), 5, "{:?}", watcher.watched_paths());
    // Deleting a directory drops its watch once the kernel says IGNORED.
    std::fs::remove_dir_all(root.join("a/b/c/d")).unwrap();
    collect_until(&watcher, |_| watcher.watched_dirs() == 4);
    assert!(!watcher.watched_paths().contains(&root.join("a/b/c/d")));
}

fn recursive_renames() {
    let root = TempDir::new("recursive-rename");
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    let watcher = RecursiveWatcher::new(root.path(), EventMask::CREATE | EventMask::MOVE).unwrap();
    std::fs::rename(root.join("a"), root.join("z")).unwrap();
    let got = collect_until(&watcher, |evs| {
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
    let got = collect_until(&watcher, |evs| paths(evs).contains(&want));
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
    let got = collect_until(&watcher, |evs| {
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
    let got = collect_until(&watcher, |evs| paths(evs).contains(&want));
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
    let got = collect_until(&watcher, |evs| evs.contains(&PathEvent::RescanNeeded));
    assert!(got.contains(&PathEvent::RescanNeeded));
    watcher.rescan().unwrap();
    assert_eq!(watcher.watched_dirs(), 2);
    drop(std::fs::File::open(&f).unwrap());
    let got = collect_until(&watcher, |evs| paths(evs).contains(&f));
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
    assert!(watch.inotify().wait(Some(LIMIT)).unwrap());
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

// ---- fanotify --------------------------------------------------------------

mod fan {
    use super::*;
    use butter_tests::become_nobody;
    use notify_fd::fanotify::{
        Class, Event, EventMask as Fm, Fanotify, FidKind, Info, InitFlags, MarkFlags, MarkTarget,
        Response,
    };
    use std::os::fd::AsRawFd;

    /// Reads until `done` says so, failing after `LIMIT`.
    pub(super) fn read_until(
        group: &Fanotify,
        mut done: impl FnMut(&[Event]) -> bool,
    ) -> Vec<Event> {
        let mut out = Vec::new();
        let start = std::time::Instant::now();
        while !done(&out) {
            assert!(start.elapsed() < LIMIT, "gave up; got {out:?}");
            if group.wait(Some(Duration::from_millis(100))).unwrap() {
                group.read_events(&mut out).unwrap();
            }
        }
        out
    }

    /// Forks a child that runs `body` and exits with what it returns.
    #[allow(unsafe_code)]
    pub(super) fn child(body: impl FnOnce() -> i32) -> u32 {
        // SAFETY: the test runs in a single-threaded child of the harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = body();
            // SAFETY: ends the child without the harness's exit path.
            unsafe { libc::_exit(code) };
        }
        u32::try_from(pid).unwrap()
    }

    pub(super) fn exit_code(pid: u32) -> i32 {
        let pid = rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
        let (_, status) =
            rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
                .unwrap()
                .unwrap();
        status.exit_status().unwrap()
    }

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
        let me = i32::try_from(std::process::id()).unwrap();
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
        assert_eq!(e.pid(), i32::try_from(pid).unwrap());
        let pidfd = e.pidfd().expect("a pidfd record");
        let info =
            std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd())).unwrap();
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
            !group.wait(Some(Duration::from_millis(20))).unwrap(),
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
        assert_eq!(e.pid(), i32::try_from(pid).unwrap());
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
        while group.wait(Some(Duration::from_millis(50))).unwrap() {
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
        let err = group.open_handle(&handle, libc::O_PATH).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        assert_eq!(group.path_of(&handle, name).unwrap(), dir.join("mine"));
        // The kernel withholds another process's pid from an unprivileged
        // group (our own is shown).
        assert_eq!(events[0].pid(), std::process::id().cast_signed());
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
}

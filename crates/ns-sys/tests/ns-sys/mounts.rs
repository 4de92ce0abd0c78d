//! bwrap's filesystem options through `Sandbox`: tmpfs with size and mode,
//! directories, links, files from bytes, read-only remounts, chmod and
//! mqueue, in the order given; side by side with bwrap on the same layout,
//! field by field; and nothing left in, or written to, the caller's files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use butter_tests::{TempDir, become_nobody, exit_code, fork_child};
use ns_sys::{Bind, ChildStatus, ErrorKind, Namespaces, Sandbox};

use crate::{container_root, fields, need_userns};

/// What the layout looks like from inside, one field per line, in a form
/// both tools give the same way (modes, kinds, contents, mount options).
const LOOK: &str = r#"
echo run=$(stat -c '%a %F' /run)
echo run_a=$(stat -c '%a %F' /run/a)
echo run_a_b=$(stat -c '%a %F' /run/a/b)
echo link=$(readlink /alink)
echo conf=$(cat /run/conf)
echo conf_mode=$(stat -c '%a' /run/conf)
if (echo x >> /run/conf) 2>/dev/null; then echo conf_write=ok; else echo conf_write=denied; fi
if touch /scratch/x 2>/dev/null; then echo scratch_write=ok; else echo scratch_write=denied; fi
if touch /run/a/new 2>/dev/null; then echo run_write=ok; else echo run_write=denied; fi
# Mount options of each mount point, normalised: the per-mount options
# (field 6) and the filesystem type and its options (after the " - ").
opts() { want=$1; last=; while read -r line; do set -- $line; [ "$5" = "$want" ] || continue
  m=$6; shift 6; while [ "$1" != "-" ]; do shift; done; fs=$2; s=
  for o in $(echo "$4" | tr , ' '); do case $o in size=*|mode=*) s="$s $o";; esac; done
  last="$m $fs$s"; done < /proc/self/mountinfo; echo "$last"; }
echo m_run=$(opts /run)
echo m_scratch=$(opts /scratch)
echo m_conf=$(opts /run/conf)
echo m_mqueue=$(opts /dev/mqueue)
echo mq_type=$(stat -f -c %T /dev/mqueue)
"#;

/// Our run of `LOOK` in `root`; asserts the root is left as the layout
/// helper made it.
fn ours(root: &Path, as_nobody: bool) -> BTreeMap<String, String> {
    let mut s = Sandbox::new("sh");
    container_root(&mut s, root);
    s.unshare(Namespaces::USER | Namespaces::PID | Namespaces::IPC)
        .tmpfs("/run", Some(1 << 20), 0o700)
        .dir("/run/a", Some(0o750))
        .dir("/run/a/b", None)
        .symlink("/run/a", "/alink")
        .file("/run/conf", "x=1\n", 0o640, true)
        .tmpfs("/scratch", None, 0o755)
        .remount_ro("/scratch")
        .chmod("/run/a", 0o711)
        .mqueue("/dev/mqueue")
        .args(["-c", LOOK]);
    if as_nobody {
        s.no_new_privs(true);
    }
    let before = listing(root);
    let out = s.output().unwrap();
    assert_eq!(listing(root), before, "nothing left in the root");
    assert_eq!(
        out.status,
        ChildStatus::Exited(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fields(&out.stdout)
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn check(f: &BTreeMap<String, String>) {
    let get = |k: &str| f.get(k).map_or("", String::as_str);
    assert_eq!(get("run"), "700 directory", "{f:?}");
    assert_eq!(get("run_a"), "711 directory", "{f:?}");
    assert_eq!(get("run_a_b"), "755 directory", "{f:?}");
    assert_eq!(get("link"), "/run/a", "{f:?}");
    assert_eq!(get("conf"), "x=1", "{f:?}");
    assert_eq!(get("conf_mode"), "640", "{f:?}");
    assert_eq!(get("conf_write"), "denied", "{f:?}");
    assert_eq!(get("scratch_write"), "denied", "{f:?}");
    assert_eq!(get("run_write"), "ok", "{f:?}");
    assert!(get("m_run").contains("size=1024k"), "{f:?}");
    assert!(get("m_run").contains("nosuid,nodev"), "{f:?}");
    assert!(get("m_scratch").starts_with("ro,"), "{f:?}");
    assert!(get("m_conf").starts_with("ro,"), "{f:?}");
    assert_eq!(get("mq_type"), "mqueue", "{f:?}");
}

/// The layout as root and as uid 65534; the root directory given is left
/// as it was (the link and mount points made there are removed).
pub(crate) fn bwrap_layout_as_root_and_nobody() {
    let root = TempDir::new("mounts");
    let f = ours(root.path(), false);
    check(&f);
    let nobody_root = TempDir::new("mounts-nobody");
    rustix::fs::chown(
        nobody_root.path(),
        Some(rustix::process::Uid::from_raw(65534)),
        Some(rustix::process::Gid::from_raw(65534)),
    )
    .unwrap();
    let path = nobody_root.path().to_path_buf();
    let pid = fork_child(move || {
        become_nobody();
        need_userns();
        check(&ours(&path, true));
        0
    });
    assert_eq!(exit_code(pid), 0);
    // bwrap on the same layout, where it is installed: every field the same.
    if Command::new("bwrap").arg("--version").output().is_err() {
        eprintln!("partly skipped: bwrap is not installed (.ci/run installs bubblewrap)");
        return;
    }
    let conf = TempDir::new("mounts-bwrap");
    std::fs::write(conf.join("conf"), "x=1\n").unwrap();
    let mut args: Vec<String> = vec!["--ro-bind".into(), "/usr".into(), "/usr".into()];
    for dir in ["bin", "sbin", "lib", "lib64", "lib32"] {
        let host = Path::new("/").join(dir);
        if let Ok(to) = std::fs::read_link(&host) {
            args.extend([
                "--symlink".into(),
                to.display().to_string(),
                host.display().to_string(),
            ]);
        } else if host.is_dir() {
            let h = host.display().to_string();
            args.extend(["--ro-bind".into(), h.clone(), h]);
        }
    }
    for a in [
        "--unshare-user --unshare-pid --unshare-ipc --proc /proc --dev /dev",
        "--size 1048576 --perms 0700 --tmpfs /run --perms 0750 --dir /run/a --dir /run/a/b",
        "--symlink /run/a /alink --perms 0640 --ro-bind-data 9 /run/conf",
        "--tmpfs /scratch --remount-ro /scratch --chmod 0711 /run/a --mqueue /dev/mqueue",
    ] {
        args.extend(a.split(' ').map(String::from));
    }
    args.extend(["sh".into(), "-c".into(), LOOK.into()]);
    // bwrap reads the data from fd 9, opened by the shell that runs it.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "exec bwrap \"$@\" 9<\"$CONF\"", "sh"])
        .args(&args)
        .env("CONF", conf.join("conf"));
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "bwrap: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = fields(&out.stdout);
    // Where we differ on purpose: bwrap mounts mqueue without nosuid,
    // nodev, noexec (we add them: nothing on it is a program or device);
    // its --ro-bind-data file comes from its own staging tmpfs, ours is the
    // file on /run bound read-only, so only the mount's own options are
    // compared.
    for (k, v) in &f {
        let (ours_v, theirs_v) = match k.as_str() {
            "m_mqueue" => continue,
            "m_conf" => (
                v.split(' ').next(),
                theirs.get(k).and_then(|t| t.split(' ').next()),
            ),
            _ => (Some(v.as_str()), theirs.get(k).map(String::as_str)),
        };
        assert_eq!(theirs_v, ours_v, "{k}: ours {f:?}\nbwrap {theirs:?}");
    }
    assert!(theirs["m_mqueue"].ends_with("mqueue"), "{theirs:?}");
}

/// What would reach the caller's own files is refused before anything
/// runs, and the files are untouched.
pub(crate) fn nothing_written_outside() {
    let mine = TempDir::new("mounts-mine");
    std::fs::write(mine.join("keep"), b"mine").unwrap();
    let keep = mine.join("keep");
    type Add<'a> = Box<dyn Fn(&mut Sandbox) + 'a>;
    let cases: Vec<(Add, &str)> = vec![
        (
            Box::new(|s: &mut Sandbox| {
                s.file(&keep, "overwritten", 0o644, false);
            }),
            "tmpfs",
        ),
        (
            Box::new(|s: &mut Sandbox| {
                s.chmod(&keep, 0o777);
            }),
            "your own files",
        ),
        (
            Box::new(|s: &mut Sandbox| {
                s.dir(mine.join("new"), None);
            }),
            "your own files",
        ),
        (
            Box::new(|s: &mut Sandbox| {
                s.bind(Bind::new(mine.path(), "/mnt/x"))
                    .dir("/mnt/x/sub", None);
            }),
            "your own files",
        ),
    ];
    for (add, says) in cases {
        let mut s = Sandbox::new("true");
        s.unshare(Namespaces::USER | Namespaces::MNT);
        add(&mut s);
        let e = s.spawn().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(says), "{e}");
    }
    assert_eq!(std::fs::read(&keep).unwrap(), b"mine");
    assert_eq!(listing(mine.path()), ["keep"]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&keep).unwrap().permissions().mode() & 0o777,
        0o644
    );
    // An mqueue without a new IPC namespace: refused, saying so.
    let e = Sandbox::new("true")
        .unshare(Namespaces::USER | Namespaces::MNT)
        .tmpfs("/tmp", None, 0o755)
        .mqueue("/tmp/mq")
        .spawn()
        .unwrap_err();
    assert!(e.to_string().contains("IPC namespace"), "{e}");
    // A file where one is already on the tmpfs: the child's O_EXCL fails,
    // named.
    let e = Sandbox::new("true")
        .unshare(Namespaces::USER | Namespaces::MNT)
        .tmpfs("/tmp", None, 0o755)
        .file("/tmp/f", "a", 0o644, false)
        .file("/tmp/f", "b", 0o644, false)
        .spawn()
        .unwrap_err();
    assert_eq!(e.errno(), libc::EEXIST, "{e}");
    assert!(e.to_string().contains("write /tmp/f"), "{e}");
}

/// Binds are `nodev` unless they allow devices (bwrap's `--bind` and
/// `--dev-bind`): `/dev/null` bound without devices cannot be opened.
pub(crate) fn binds_are_nodev_unless_devices() {
    let script = "if echo x > /mnt/null; then echo open=ok; else echo open=denied; fi";
    let run = |bind: Bind| {
        let out = Sandbox::new("sh")
            .unshare(Namespaces::USER | Namespaces::MNT)
            .tmpfs("/mnt", None, 0o755)
            .bind(bind)
            .args(["-c", script])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(run(Bind::new("/dev/null", "/mnt/null")), "open=denied\n");
    assert_eq!(
        run(Bind::new("/dev/null", "/mnt/null").devices()),
        "open=ok\n"
    );
}

/// An overlay root: the program writes anywhere (new files, changes to a
/// lower's files), nothing reaches the lowers, the first lower is on top;
/// as root and as uid 65534.
pub(crate) fn overlay_root_writes_nothing_through() {
    let lower = TempDir::new("overlay-lower");
    let top = TempDir::new("overlay-top");
    std::fs::create_dir_all(lower.join("etc")).unwrap();
    std::fs::create_dir_all(lower.join("usr")).unwrap();
    std::fs::write(lower.join("etc/motd"), "lower\n").unwrap();
    std::fs::write(lower.join("etc/shared"), "from the lower\n").unwrap();
    std::fs::create_dir_all(top.join("etc")).unwrap();
    std::fs::write(top.join("etc/shared"), "from the top\n").unwrap();
    for dir in ["bin", "sbin", "lib", "lib64"] {
        if let Ok(to) = std::fs::read_link(Path::new("/").join(dir)) {
            std::os::unix::fs::symlink(to, lower.join(dir)).unwrap();
        }
    }
    for d in [lower.path(), top.path()] {
        for e in [
            d.to_path_buf(),
            d.join("etc"),
            d.join("etc/motd"),
            d.join("etc/shared"),
        ] {
            if e.exists() {
                use std::os::unix::fs::PermissionsExt;
                let mode = if e.is_dir() { 0o755 } else { 0o644 };
                std::fs::set_permissions(&e, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
    }
    let script = "cat /etc/shared; echo changed > /etc/motd && cat /etc/motd; \
                  echo new > /etc/new && cat /etc/new; mkdir -p /opt/x && echo made; \
                  touch /usr/bin/butter-probe 2>/dev/null && echo usr=rw || echo usr=ro";
    let run = |lower: &Path, top: &Path| {
        let out = Sandbox::new("sh")
            .unshare(Namespaces::USER | Namespaces::PID)
            .overlay_root([top, lower])
            .bind(Bind::new("/usr", "/usr").read_only())
            .args(["-c", script])
            .output()
            .unwrap();
        assert_eq!(
            out.status,
            ChildStatus::Exited(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let want = "from the top\nchanged\nnew\nmade\nusr=ro\n";
    assert_eq!(run(lower.path(), top.path()), want);
    let untouched = |lower: &Path| {
        assert_eq!(
            std::fs::read_to_string(lower.join("etc/motd")).unwrap(),
            "lower\n"
        );
        assert!(!lower.join("etc/new").exists());
        assert!(!lower.join("opt").exists());
    };
    untouched(lower.path());
    assert!(!top.join("etc/new").exists() && !top.join("etc/motd").exists());
    // Unprivileged, the lowers' files are writable (copied up) only where
    // the mapped uid could write them: make them uid 65534's, as an
    // image unpacked by that user is.
    for d in [lower.path(), top.path()] {
        for e in [
            d.to_path_buf(),
            d.join("etc"),
            d.join("etc/motd"),
            d.join("etc/shared"),
        ] {
            if e.exists() {
                std::os::unix::fs::lchown(&e, Some(65534), Some(65534)).unwrap();
            }
        }
    }
    let (l, t) = (lower.path().to_path_buf(), top.path().to_path_buf());
    let pid = fork_child(move || {
        become_nobody();
        need_userns();
        let got = run(&l, &t);
        if got != want {
            eprintln!("as uid 65534: {got:?}");
        }
        i32::from(got != want)
    });
    assert_eq!(exit_code(pid), 0);
    untouched(lower.path());
    // What cannot be: no lowers, a lower that is not a directory, one with
    // overlayfs's separators, one with a root.
    for (s, says) in [
        (
            Sandbox::new("true")
                .overlay_root(Vec::<PathBuf>::new())
                .spawn(),
            "1 to 500",
        ),
        (
            Sandbox::new("true")
                .overlay_root([lower.join("etc/motd")])
                .spawn(),
            "not a directory",
        ),
        (
            Sandbox::new("true").overlay_root(["/tmp/a:b"]).spawn(),
            "option syntax",
        ),
        (
            Sandbox::new("true")
                .overlay_root([lower.path()])
                .root(top.path())
                .spawn(),
            "cannot go together",
        ),
    ] {
        let e = s.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(says), "{e}");
    }
}

//! The filesystem half of a sandbox's setup as pure data: the mounts,
//! directories, links and files asked for become a list of child steps,
//! each with the sentence a failure reports, and the list of entries the
//! child will make in the caller's root (removed again when it ends).
//!
//! Nothing here makes a syscall: what is on the machine comes through
//! [`Lookup`], so the rules are unit-tested against a made-up tree.
//!
//! The rule that keeps the caller's data safe: an entry is created only
//! where it cannot outlive the sandbox or change the caller's files, that
//! is on a tmpfs the sandbox mounted earlier, or in the caller's new root
//! as a tracked mount point (an empty directory, an empty file or a
//! symlink, removed when the sandbox ends). A path that reaches the
//! caller's own files (through a bind, or the host tree without a root) is
//! never created, written or chmod-ed: that is refused, naming it.

use std::ffi::CString;
use std::path::{Component, Path, PathBuf};

use fd_core::{Error, Result};

use crate::raw::c_path;
use crate::sys::child::{MOUNT_ATTR_NODEV, MOUNT_ATTR_RDONLY, Step};

const CALL: &str = "Sandbox::spawn";

/// A bind mount into the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// The path outside.
    pub source: PathBuf,
    /// Where it appears (absolute, inside the new root when there is one).
    pub target: PathBuf,
    /// Read-only, recursively (`MOUNT_ATTR_RDONLY` with `AT_RECURSIVE`).
    pub read_only: bool,
    /// Device nodes under it can be opened (bwrap's `--dev-bind`); without
    /// it the bind is `nodev`, as bwrap's `--bind`.
    pub devices: bool,
}

impl Bind {
    /// A read-write bind of `source` at `target`, `nodev`.
    pub fn new(source: impl AsRef<Path>, target: impl AsRef<Path>) -> Bind {
        Bind {
            source: source.as_ref().to_path_buf(),
            target: target.as_ref().to_path_buf(),
            read_only: false,
            devices: false,
        }
    }

    /// Makes it read-only.
    #[must_use]
    pub fn read_only(mut self) -> Bind {
        self.read_only = true;
        self
    }

    /// Lets device nodes under it be opened.
    #[must_use]
    pub fn devices(mut self) -> Bind {
        self.devices = true;
        self
    }
}

impl std::str::FromStr for Bind {
    type Err = Error;

    /// Parses `SRC[:DST][:ro]` (`DST` defaults to `SRC`), as `butter run
    /// --bind` takes it.
    fn from_str(s: &str) -> Result<Bind> {
        let (rest, read_only) = match s.strip_suffix(":ro") {
            Some(rest) => (rest, true),
            None => (s.strip_suffix(":rw").unwrap_or(s), false),
        };
        let (source, target) = rest.split_once(':').unwrap_or((rest, rest));
        if source.is_empty() || target.is_empty() {
            return Err(Error::invalid_input_in(
                "Bind::from_str",
                "mount",
                format!("{s:?} is not SRC[:DST][:ro]"),
            ));
        }
        Ok(Bind {
            source: source.into(),
            target: target.into(),
            read_only,
            devices: false,
        })
    }
}

/// One filesystem step asked for, in the order given (bwrap's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FsOp {
    Bind(Bind),
    Tmpfs {
        target: PathBuf,
        size: Option<u64>,
        mode: u32,
    },
    Dir {
        path: PathBuf,
        mode: Option<u32>,
    },
    Symlink {
        target: PathBuf,
        link: PathBuf,
    },
    File {
        path: PathBuf,
        contents: Vec<u8>,
        mode: u32,
        read_only: bool,
    },
    RemountRo(PathBuf),
    Chmod {
        path: PathBuf,
        mode: u32,
    },
    Mqueue(PathBuf),
    Overlay {
        /// Top first, as overlayfs's `lowerdir`.
        lowers: Vec<PathBuf>,
        upper: OverlayUpper,
        target: PathBuf,
    },
}

/// The upper layer of an overlay mount ([`Sandbox::overlay`](crate::Sandbox::overlay)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OverlayUpper {
    /// A tmpfs: the program may write, and its writes go with the
    /// sandbox (bwrap's `--tmp-overlay`).
    Tmpfs,
    /// None: the overlay is read-only (bwrap's `--ro-overlay`); overlayfs
    /// then needs at least two lower directories.
    ReadOnly,
    /// A directory of yours that keeps the writes, and an empty work
    /// directory on the same filesystem (bwrap's `--overlay RWSRC WORKDIR`).
    Dir {
        /// Where the writes go.
        upper: PathBuf,
        /// overlayfs's work directory.
        work: PathBuf,
    },
}

impl FsOp {
    /// The path inside the sandbox it puts something at.
    fn target(&self) -> &Path {
        match self {
            FsOp::Bind(b) => &b.target,
            FsOp::Tmpfs { target, .. } => target,
            FsOp::Dir { path, .. }
            | FsOp::File { path, .. }
            | FsOp::RemountRo(path)
            | FsOp::Chmod { path, .. }
            | FsOp::Mqueue(path) => path,
            FsOp::Symlink { link, .. } => link,
            FsOp::Overlay { target, .. } => target,
        }
    }

    /// Whether it mounts something at its target (so an automatic mount
    /// there is left out).
    fn mounts(&self) -> bool {
        matches!(
            self,
            FsOp::Bind(_) | FsOp::Tmpfs { .. } | FsOp::Mqueue(_) | FsOp::Overlay { .. }
        )
    }
}

/// What an entry on the machine is (`lstat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

/// What the builder asks of the machine.
pub(crate) trait Lookup {
    /// `lstat`: what is at `path`, if anything.
    fn kind(&self, path: &Path) -> Option<Kind>;
    /// `stat`: whether `path` exists and is a directory, links followed.
    fn is_dir(&self, path: &Path) -> bool;
}

/// The machine itself.
pub(crate) struct Real;

impl Lookup for Real {
    fn kind(&self, path: &Path) -> Option<Kind> {
        let m = std::fs::symlink_metadata(path).ok()?;
        let t = m.file_type();
        Some(if t.is_dir() {
            Kind::Dir
        } else if t.is_file() {
            Kind::File
        } else if t.is_symlink() {
            Kind::Symlink
        } else {
            Kind::Other
        })
    }

    fn is_dir(&self, path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|m| m.is_dir())
    }
}

/// An entry the child makes in the caller's root, and what it must still
/// be to be removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Made {
    Dir,
    File,
    Symlink(PathBuf),
}

/// What the sandbox's filesystem setup is asked to be.
#[derive(Debug)]
pub(crate) struct Setup<'a> {
    pub(crate) root: Option<&'a Path>,
    /// An overlay root: these read-only lower directories (the first on
    /// top) under a tmpfs upper that goes with the sandbox.
    pub(crate) overlay: Option<&'a [PathBuf]>,
    pub(crate) read_only_root: bool,
    pub(crate) ops: &'a [FsOp],
    /// A minimal `/dev` (only with a root).
    pub(crate) dev: bool,
    /// A tmpfs `/tmp`.
    pub(crate) tmp: bool,
    /// A new `/proc`.
    pub(crate) proc: bool,
    /// A new mount namespace.
    pub(crate) mnt: bool,
    /// A new IPC namespace (mqueue needs one).
    pub(crate) ipc: bool,
}

/// The steps, their descriptions, and what is made in the caller's root.
#[derive(Debug, Default)]
pub(crate) struct Built {
    pub(crate) steps: Vec<(Step, String)>,
    pub(crate) made: Vec<(PathBuf, Made)>,
}

/// The devices a minimal `/dev` gets from the host.
pub(crate) const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// Where a path (as the child sees it before `pivot_root`) leads.
enum Backing {
    /// A tmpfs of the sandbox's: nothing made there outlives it.
    Fresh,
    /// The caller's own files at this host path (a bind, or the host tree).
    Host(PathBuf),
    /// The caller's new root directory: entries made there are tracked.
    InRoot,
}

enum Mounted {
    Tmpfs,
    Bind(PathBuf),
}

struct Builder<'a> {
    setup: &'a Setup<'a>,
    host: &'a dyn Lookup,
    base: PathBuf,
    /// The mounts made so far, by host-side target; later ones cover
    /// earlier ones.
    table: Vec<(PathBuf, Mounted)>,
    out: Built,
}

fn refuse<T>(why: String) -> Result<T> {
    Err(Error::invalid_input_in(CALL, "mount", why))
}

/// `p` made absolute and plain: `..` and `.` refused, so a target cannot
/// climb out of the new root.
fn inside(what: &str, p: &Path) -> Result<PathBuf> {
    if !p.is_absolute() {
        return refuse(format!(
            "the {what} {} is not an absolute path",
            p.display()
        ));
    }
    let mut clean = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::RootDir => {}
            Component::Normal(n) => clean.push(n),
            Component::CurDir | Component::ParentDir | Component::Prefix(_) => {
                return refuse(format!(
                    "the {what} {} has a `.` or `..` in it",
                    p.display()
                ));
            }
        }
    }
    Ok(clean)
}

impl Builder<'_> {
    fn push(&mut self, step: Step, what: String) {
        self.out.steps.push((step, what));
    }

    fn c(p: &Path) -> Result<CString> {
        c_path(CALL, p)
    }

    /// The host-side path of `p` (inside): under the root, else itself.
    fn under(&self, p: &Path) -> PathBuf {
        self.base.join(p.strip_prefix("/").unwrap_or(p))
    }

    fn resolve(&self, at: &Path) -> Backing {
        for (target, mounted) in self.table.iter().rev() {
            if let Ok(rest) = at.strip_prefix(target) {
                return match mounted {
                    Mounted::Tmpfs => Backing::Fresh,
                    Mounted::Bind(source) => Backing::Host(if rest.as_os_str().is_empty() {
                        source.clone()
                    } else {
                        source.join(rest)
                    }),
                };
            }
        }
        if self.setup.root.is_some() {
            Backing::InRoot
        } else {
            Backing::Host(at.to_path_buf())
        }
    }

    /// Whether `at` (host-side) is an entry this setup makes in the root.
    fn made_here(&self, at: &Path) -> bool {
        self.out.made.iter().any(|(m, _)| m == at)
    }

    /// Makes sure `at` (host-side; `shown` inside) and its parents exist,
    /// `at` as a directory or (`dir` false) a file, creating only where
    /// that is safe.
    fn ensure(&mut self, at: &Path, shown: &Path, dir: bool) -> Result<()> {
        let chain: Vec<PathBuf> = at
            .ancestors()
            .filter(|a| a.starts_with(&self.base) && *a != self.base)
            .map(Path::to_path_buf)
            .collect();
        for a in chain.into_iter().rev() {
            let last = a == at;
            let as_dir = !last || dir;
            let make = |b: &mut Self| -> Result<()> {
                let step = if as_dir {
                    Step::Mkdir(Self::c(&a)?)
                } else {
                    Step::Touch(Self::c(&a)?)
                };
                let what = if last {
                    format!("create {}", a.display())
                } else {
                    format!("create {} (a parent of {})", a.display(), shown.display())
                };
                b.push(step, what);
                Ok(())
            };
            match self.resolve(&a) {
                Backing::Fresh => make(self)?,
                Backing::InRoot => {
                    if self.host.kind(&a).is_none() {
                        if !self.made_here(&a) {
                            self.out
                                .made
                                .push((a.clone(), if as_dir { Made::Dir } else { Made::File }));
                        }
                        make(self)?;
                    }
                }
                Backing::Host(h) => {
                    if self.host.kind(&h).is_none() {
                        return refuse(format!(
                            "{} is not there, and making it would change your own files ({}): \
                             put it under a tmpfs the sandbox mounts, or in a new root",
                            shown.display(),
                            h.display()
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// [`ensure`](Builder::ensure) for the directory `at` is in.
    fn ensure_parent(&mut self, at: &Path, shown: &Path) -> Result<()> {
        match at.parent() {
            Some(parent) if parent != self.base => {
                let shown_parent = shown.parent().unwrap_or(Path::new("/"));
                self.ensure(parent, shown_parent, true)
            }
            _ => Ok(()),
        }
    }

    /// Refuses to write to or change `at` unless it is the sandbox's own
    /// (on its tmpfs, or made by it in the root).
    fn own(&self, at: &Path, shown: &Path, doing: &str) -> Result<()> {
        match self.resolve(at) {
            Backing::Fresh => Ok(()),
            Backing::InRoot if self.made_here(at) => Ok(()),
            Backing::InRoot | Backing::Host(_) => refuse(format!(
                "{doing} {} would change your own files: only what is on a tmpfs the sandbox \
                 mounts (--tmpfs, /tmp) or made by it can be",
                shown.display()
            )),
        }
    }

    fn tmpfs(&mut self, at: &Path, size: Option<u64>, mode: u32) -> Result<()> {
        let mut data = format!("mode={mode:o}");
        if let Some(size) = size {
            data.push_str(&format!(",size={size}"));
        }
        let data = CString::new(data).unwrap_or_default();
        self.push(
            Step::Mount {
                source: Some(c"tmpfs".to_owned()),
                target: Self::c(at)?,
                fstype: Some(c"tmpfs".to_owned()),
                flags: libc::MS_NOSUID | libc::MS_NODEV,
                data: Some(data),
            },
            format!("mount a tmpfs on {}", at.display()),
        );
        self.table.push((at.to_path_buf(), Mounted::Tmpfs));
        Ok(())
    }

    fn op(&mut self, op: &FsOp) -> Result<()> {
        let shown = inside("path", op.target())?;
        let at = self.under(&shown);
        match op {
            FsOp::Bind(bind) => {
                let is_dir = self.host.is_dir(&bind.source);
                self.ensure(&at, &shown, is_dir)?;
                self.push(
                    Step::Mount {
                        source: Some(Self::c(&bind.source)?),
                        target: Self::c(&at)?,
                        fstype: None,
                        flags: libc::MS_BIND | libc::MS_REC,
                        data: None,
                    },
                    format!("bind-mount {} on {}", bind.source.display(), at.display()),
                );
                let mut attrs = 0;
                let mut says = Vec::new();
                if bind.read_only {
                    attrs |= MOUNT_ATTR_RDONLY;
                    says.push("read-only");
                }
                if !bind.devices {
                    attrs |= MOUNT_ATTR_NODEV;
                    says.push("nodev");
                }
                if attrs != 0 {
                    self.push(
                        Step::SetAttr {
                            path: Self::c(&at)?,
                            attrs,
                            recursive: true,
                        },
                        format!("make {} {}", at.display(), says.join(" and ")),
                    );
                }
                self.table
                    .push((at.clone(), Mounted::Bind(bind.source.clone())));
            }
            FsOp::Tmpfs { size, mode, .. } => {
                self.ensure(&at, &shown, true)?;
                self.tmpfs(&at, *size, *mode)?;
            }
            FsOp::Dir { mode, .. } => {
                self.ensure(&at, &shown, true)?;
                if let Some(mode) = mode {
                    self.own(&at, &shown, "a mode for")?;
                    self.push(
                        Step::Chmod {
                            path: Self::c(&at)?,
                            mode: *mode,
                        },
                        format!("set the mode of {} to {mode:o}", at.display()),
                    );
                }
            }
            FsOp::Symlink { target, .. } => {
                self.ensure_parent(&at, &shown)?;
                match self.resolve(&at) {
                    Backing::Fresh => {}
                    Backing::InRoot => {
                        if self.host.kind(&at).is_none() && !self.made_here(&at) {
                            self.out
                                .made
                                .push((at.clone(), Made::Symlink(target.clone())));
                        }
                    }
                    Backing::Host(h) => {
                        if self.host.kind(&h).is_none() {
                            return refuse(format!(
                                "the link {} would be made in your own files ({}): put it \
                                 under a tmpfs the sandbox mounts, or in a new root",
                                shown.display(),
                                h.display()
                            ));
                        }
                    }
                }
                self.push(
                    Step::Symlink {
                        target: Self::c(target)?,
                        link: Self::c(&at)?,
                    },
                    format!("link {} to {}", at.display(), target.display()),
                );
            }
            FsOp::File {
                contents,
                mode,
                read_only,
                ..
            } => {
                self.ensure_parent(&at, &shown)?;
                if !matches!(self.resolve(&at), Backing::Fresh) {
                    return refuse(format!(
                        "the file {} would be written into your own files: a file's \
                         contents go only onto a tmpfs the sandbox mounts (--tmpfs, /tmp)",
                        shown.display()
                    ));
                }
                self.push(
                    Step::WriteFile {
                        path: Self::c(&at)?,
                        data: contents.clone(),
                        mode: *mode,
                    },
                    format!("write {} ({} bytes)", at.display(), contents.len()),
                );
                if *read_only {
                    let c = Self::c(&at)?;
                    self.push(
                        Step::Mount {
                            source: Some(c.clone()),
                            target: c.clone(),
                            fstype: None,
                            flags: libc::MS_BIND,
                            data: None,
                        },
                        format!("bind-mount {} on itself", at.display()),
                    );
                    self.push(
                        Step::SetAttr {
                            path: c,
                            attrs: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV,
                            recursive: false,
                        },
                        format!("make {} read-only", at.display()),
                    );
                }
            }
            FsOp::RemountRo(_) => {
                self.push(
                    Step::SetAttr {
                        path: Self::c(&at)?,
                        attrs: MOUNT_ATTR_RDONLY,
                        recursive: false,
                    },
                    format!("make the mount at {} read-only", at.display()),
                );
            }
            FsOp::Chmod { mode, .. } => {
                self.own(&at, &shown, "a mode for")?;
                self.push(
                    Step::Chmod {
                        path: Self::c(&at)?,
                        mode: *mode,
                    },
                    format!("set the mode of {} to {mode:o}", at.display()),
                );
            }
            FsOp::Overlay { lowers, upper, .. } => self.overlay_at(&at, &shown, lowers, upper)?,
            FsOp::Mqueue(_) => {
                if !self.setup.ipc {
                    return refuse(format!(
                        "an mqueue at {} needs a new IPC namespace (Namespaces::IPC, --ipc): \
                         the kernel mounts only the caller's own queues",
                        shown.display()
                    ));
                }
                self.ensure(&at, &shown, true)?;
                self.push(
                    Step::Mount {
                        source: Some(c"mqueue".to_owned()),
                        target: Self::c(&at)?,
                        fstype: Some(c"mqueue".to_owned()),
                        flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                        data: None,
                    },
                    format!("mount an mqueue on {}", at.display()),
                );
            }
        }
        Ok(())
    }

    /// Refuses a layer overlayfs cannot take: not absolute, a character of
    /// its option syntax, not a directory.
    fn layer(&self, what: &str, dir: &Path) -> Result<String> {
        let text = dir.to_string_lossy();
        if !dir.is_absolute() || text.contains([':', ',', '\\']) {
            return refuse(format!(
                "the overlay {what} {} must be an absolute path without ':', ',' or '\\' \
                 (overlayfs's option syntax)",
                dir.display()
            ));
        }
        if !self.host.is_dir(dir) {
            return refuse(format!(
                "the overlay {what} {} is not a directory",
                dir.display()
            ));
        }
        Ok(text.into_owned())
    }

    /// An overlay at `at` (bwrap's `--overlay`, `--tmp-overlay`,
    /// `--ro-overlay`). A tmpfs upper is staged on a tmpfs mounted over a
    /// directory that holds neither a lower nor `at`, moved to `at`, and
    /// the staging tmpfs detached (the overlay keeps its own hold on the
    /// upper), so nothing else of the view changes.
    fn overlay_at(
        &mut self,
        at: &Path,
        shown: &Path,
        lowers: &[PathBuf],
        upper: &OverlayUpper,
    ) -> Result<()> {
        if lowers.is_empty() || lowers.len() > 500 {
            return refuse(format!(
                "an overlay at {} takes 1 to 500 lower directories, not {}",
                shown.display(),
                lowers.len()
            ));
        }
        let lowerdir = lowers
            .iter()
            .map(|l| self.layer("lower", l))
            .collect::<Result<Vec<_>>>()?
            .join(":");
        match upper {
            OverlayUpper::ReadOnly if lowers.len() < 2 => {
                return refuse(format!(
                    "a read-only overlay at {} needs at least two lower directories \
                     (overlayfs without an upper layer takes no fewer)",
                    shown.display()
                ));
            }
            OverlayUpper::Dir { upper, work } => {
                self.layer("upper", upper)?;
                self.layer("work directory", work)?;
            }
            _ => {}
        }
        self.ensure(at, shown, true)?;
        let mount = |b: &mut Self, target: &Path, data: String, what: String| -> Result<()> {
            b.push(
                Step::Mount {
                    source: Some(c"overlay".to_owned()),
                    target: Self::c(target)?,
                    fstype: Some(c"overlay".to_owned()),
                    flags: 0,
                    data: Some(CString::new(data).unwrap_or_default()),
                },
                format!(
                    "{what} (overlayfs in a user namespace needs Linux 5.11; a lower whose \
                     mount has others below it is one filesystem only)"
                ),
            );
            Ok(())
        };
        match upper {
            OverlayUpper::ReadOnly => {
                mount(
                    self,
                    at,
                    format!("lowerdir={lowerdir},userxattr"),
                    format!(
                        "mount a read-only overlay of {} on {}",
                        lowerdir.replace(':', ", "),
                        at.display()
                    ),
                )?;
                self.table
                    .push((at.to_path_buf(), Mounted::Bind(lowers[0].clone())));
            }
            OverlayUpper::Dir { upper, work } => {
                let (u, w) = (
                    self.layer("upper", upper)?,
                    self.layer("work directory", work)?,
                );
                mount(
                    self,
                    at,
                    format!("upperdir={u},workdir={w},lowerdir={lowerdir},userxattr"),
                    format!(
                        "mount an overlay of {} with the upper {u} (work directory {w}, on the \
                         same filesystem and empty) on {}",
                        lowerdir.replace(':', ", "),
                        at.display()
                    ),
                )?;
                self.table
                    .push((at.to_path_buf(), Mounted::Bind(upper.clone())));
            }
            OverlayUpper::Tmpfs => {
                let Some(staging) = ["/run", "/mnt", "/tmp", "/var/tmp"]
                    .iter()
                    .map(PathBuf::from)
                    .find(|s| {
                        self.host.kind(s) == Some(Kind::Dir)
                            && !lowers.iter().any(|l| l.starts_with(s))
                            && !at.starts_with(s)
                            && !self.base.starts_with(s)
                    })
                else {
                    return refuse(format!(
                        "no staging directory for the overlay at {} (one of /run, /mnt, /tmp, \
                         /var/tmp that holds neither a lower nor it)",
                        shown.display()
                    ));
                };
                self.push(
                    Step::Mount {
                        source: Some(c"tmpfs".to_owned()),
                        target: Self::c(&staging)?,
                        fstype: Some(c"tmpfs".to_owned()),
                        flags: libc::MS_NOSUID | libc::MS_NODEV,
                        data: Some(c"mode=755".to_owned()),
                    },
                    format!(
                        "mount a tmpfs on {} to stage the overlay at {}",
                        staging.display(),
                        at.display()
                    ),
                );
                let (u, w, merged) = (
                    staging.join("upper"),
                    staging.join("work"),
                    staging.join("merged"),
                );
                for d in [&u, &w, &merged] {
                    self.push(Step::Mkdir(Self::c(d)?), format!("create {}", d.display()));
                }
                mount(
                    self,
                    &merged,
                    format!(
                        "upperdir={},workdir={},lowerdir={lowerdir},userxattr",
                        u.display(),
                        w.display()
                    ),
                    format!(
                        "mount an overlay of {} with a tmpfs upper on {}",
                        lowerdir.replace(':', ", "),
                        merged.display()
                    ),
                )?;
                self.push(
                    Step::Mount {
                        source: Some(Self::c(&merged)?),
                        target: Self::c(at)?,
                        fstype: None,
                        flags: libc::MS_MOVE,
                        data: None,
                    },
                    format!("move the overlay to {}", at.display()),
                );
                self.push(
                    Step::Detach(Self::c(&staging)?),
                    format!("detach the staging tmpfs from {}", staging.display()),
                );
                self.table.push((at.to_path_buf(), Mounted::Tmpfs));
            }
        }
        Ok(())
    }

    /// The staging tmpfs and the overlay on it: returns the overlay's
    /// mount point, the new root. The staging directory is the first of
    /// `/tmp`, `/mnt`, `/run`, `/var/tmp` that is there and holds no lower
    /// (a tmpfs over it would hide that lower from the overlay).
    fn overlay(&mut self, lowers: &[PathBuf]) -> Result<PathBuf> {
        if self.setup.root.is_some() {
            return refuse("an overlay root and a root directory cannot go together".into());
        }
        if lowers.is_empty() || lowers.len() > 500 {
            return refuse(format!(
                "an overlay root takes 1 to 500 lower directories, not {}",
                lowers.len()
            ));
        }
        for lower in lowers {
            let text = lower.to_string_lossy();
            if !lower.is_absolute() || text.contains([':', ',', '\\']) {
                return refuse(format!(
                    "the overlay lower {} must be an absolute path without ':', ',' or '\\' \
                     (overlayfs's option syntax)",
                    lower.display()
                ));
            }
            if !self.host.is_dir(lower) {
                return refuse(format!(
                    "the overlay lower {} is not a directory",
                    lower.display()
                ));
            }
        }
        let Some(staging) = ["/tmp", "/mnt", "/run", "/var/tmp"]
            .iter()
            .map(PathBuf::from)
            .find(|s| {
                self.host.kind(s) == Some(Kind::Dir) && !lowers.iter().any(|l| l.starts_with(s))
            })
        else {
            return refuse(
                "no staging directory for the overlay (one of /tmp, /mnt, /run, /var/tmp \
                 with no lower under it)"
                    .into(),
            );
        };
        self.push(
            Step::Mount {
                source: Some(c"tmpfs".to_owned()),
                target: Self::c(&staging)?,
                fstype: Some(c"tmpfs".to_owned()),
                flags: libc::MS_NOSUID | libc::MS_NODEV,
                data: Some(c"mode=755".to_owned()),
            },
            format!(
                "mount a tmpfs on {} for the overlay's upper layer",
                staging.display()
            ),
        );
        let (upper, work, root) = (
            staging.join("upper"),
            staging.join("work"),
            staging.join("root"),
        );
        for d in [&upper, &work, &root] {
            self.push(Step::Mkdir(Self::c(d)?), format!("create {}", d.display()));
        }
        let lowerdir: Vec<String> = lowers
            .iter()
            .map(|l| l.to_string_lossy().into_owned())
            .collect();
        let data = format!(
            "lowerdir={},upperdir={},workdir={},userxattr",
            lowerdir.join(":"),
            upper.display(),
            work.display()
        );
        self.push(
            Step::Mount {
                source: Some(c"overlay".to_owned()),
                target: Self::c(&root)?,
                fstype: Some(c"overlay".to_owned()),
                flags: 0,
                data: Some(CString::new(data).unwrap_or_default()),
            },
            format!(
                "mount an overlay of {} (read-only) with a tmpfs upper on {} (overlayfs in a \
                 user namespace needs Linux 5.11, and a lower whose mount has other mounts \
                 below it, such as / there, cannot be cloned: give the directories)",
                lowerdir.join(", "),
                root.display()
            ),
        );
        self.table.push((root.clone(), Mounted::Tmpfs));
        Ok(root)
    }

    fn asked_to_mount(&self, inside_path: &str) -> bool {
        self.setup
            .ops
            .iter()
            .any(|op| op.mounts() && op.target() == Path::new(inside_path))
    }

    fn dev(&mut self) -> Result<()> {
        let shown = PathBuf::from("/dev");
        let dev = self.under(&shown);
        self.ensure(&dev, &shown, true)?;
        self.push(
            Step::Mount {
                source: Some(c"tmpfs".to_owned()),
                target: Self::c(&dev)?,
                fstype: Some(c"tmpfs".to_owned()),
                flags: libc::MS_NOSUID | libc::MS_NOEXEC,
                data: Some(c"mode=755,size=64k".to_owned()),
            },
            format!("mount a tmpfs on {}", dev.display()),
        );
        self.table.push((dev.clone(), Mounted::Tmpfs));
        for name in DEVICES {
            let host = Path::new("/dev").join(name);
            if self.host.kind(&host).is_none() {
                continue;
            }
            let node = dev.join(name);
            self.push(
                Step::Touch(Self::c(&node)?),
                format!("create {}", node.display()),
            );
            self.push(
                Step::Mount {
                    source: Some(Self::c(&host)?),
                    target: Self::c(&node)?,
                    fstype: None,
                    flags: libc::MS_BIND,
                    data: None,
                },
                format!("bind-mount {} on {}", host.display(), node.display()),
            );
        }
        for (link, to) in [
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ] {
            let link = dev.join(link);
            self.push(
                Step::Symlink {
                    target: Self::c(Path::new(to))?,
                    link: Self::c(&link)?,
                },
                format!("link {} to {to}", link.display()),
            );
        }
        Ok(())
    }
}

/// The filesystem steps for `setup`, in the order the child runs them:
/// `/` made private; the root bound on itself; the automatic `/dev` and
/// `/tmp` (unless an op mounts something there); the ops in order; `/proc`;
/// `pivot_root` and the read-only root.
pub(crate) fn build(setup: &Setup<'_>, host: &dyn Lookup) -> Result<Built> {
    let mut b = Builder {
        setup,
        host,
        base: setup
            .root
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf),
        table: Vec::new(),
        out: Built::default(),
    };
    if !setup.mnt {
        if !setup.ops.is_empty() || setup.root.is_some() || setup.overlay.is_some() {
            return refuse("mounts need a mount namespace (Namespaces::MNT)".into());
        }
        if setup.tmp {
            return refuse("a tmpfs /tmp needs a mount namespace".into());
        }
        if setup.proc {
            return refuse("a new /proc needs a mount namespace".into());
        }
        return Ok(b.out);
    }
    b.push(
        Step::Mount {
            source: None,
            target: c"/".to_owned(),
            fstype: None,
            flags: libc::MS_REC | libc::MS_PRIVATE,
            data: None,
        },
        "make / private, recursively (so no mount propagates back)".into(),
    );
    // With an overlay root, the new root is the overlay mounted in a
    // staging tmpfs; everything in it is the sandbox's own.
    let overlay_root = match setup.overlay {
        Some(lowers) => Some(b.overlay(lowers)?),
        None => None,
    };
    if let Some(root) = &overlay_root {
        b.base = root.clone();
        if setup.dev && !b.asked_to_mount("/dev") {
            b.dev()?;
        }
    }
    if let Some(root) = setup.root {
        let r = Builder::c(root)?;
        b.push(
            Step::Mount {
                source: Some(r.clone()),
                target: r,
                fstype: None,
                flags: libc::MS_BIND | libc::MS_REC,
                data: None,
            },
            format!("bind-mount the new root {} on itself", root.display()),
        );
        if setup.dev && !b.asked_to_mount("/dev") {
            b.dev()?;
        }
    }
    if setup.tmp && !b.asked_to_mount("/tmp") {
        let shown = PathBuf::from("/tmp");
        let tmp = b.under(&shown);
        b.ensure(&tmp, &shown, true)?;
        b.tmpfs(&tmp, None, 0o1777)?;
    }
    for op in setup.ops {
        b.op(op)?;
    }
    if setup.proc && !b.asked_to_mount("/proc") {
        let shown = PathBuf::from("/proc");
        let proc = b.under(&shown);
        b.ensure(&proc, &shown, true)?;
        b.push(
            Step::Mount {
                source: Some(c"proc".to_owned()),
                target: Builder::c(&proc)?,
                fstype: Some(c"proc".to_owned()),
                flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                data: None,
            },
            format!(
                "mount a new proc on {} (in a user namespace the kernel wants an \
                 unobstructed /proc already visible)",
                proc.display()
            ),
        );
    }
    if let Some(root) = setup.root.or(overlay_root.as_deref()) {
        b.push(
            Step::Chdir(Builder::c(root)?),
            format!("chdir to {}", root.display()),
        );
        b.push(
            Step::PivotRoot,
            format!("pivot_root into {} and detach the old root", root.display()),
        );
        if setup.read_only_root {
            b.push(
                Step::SetAttr {
                    path: c"/".to_owned(),
                    attrs: MOUNT_ATTR_RDONLY,
                    recursive: false,
                },
                "make the new root read-only".into(),
            );
        }
    }
    Ok(b.out)
}

/// Removes, last made first, the entries a sandbox made in the caller's
/// root that are still what it made: an empty directory, an empty file, a
/// symlink to the same target; those that could not be removed (something
/// is in them, or they were replaced) stay listed.
pub(crate) fn tidy(made: &mut Vec<(PathBuf, Made)>) {
    let mut left = Vec::new();
    while let Some((path, what)) = made.pop() {
        let gone = match (std::fs::symlink_metadata(&path), &what) {
            (Err(_), _) => true,
            (Ok(m), Made::Dir) if m.is_dir() => std::fs::remove_dir(&path).is_ok(),
            (Ok(m), Made::File) if m.is_file() && m.len() == 0 => {
                std::fs::remove_file(&path).is_ok()
            }
            (Ok(m), Made::Symlink(to)) if m.file_type().is_symlink() => {
                std::fs::read_link(&path).is_ok_and(|l| &l == to)
                    && std::fs::remove_file(&path).is_ok()
            }
            (Ok(_), _) => false,
        };
        if !gone {
            left.push((path, what));
        }
    }
    left.reverse();
    *made = left;
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A made-up machine: paths and what they are.
    struct Fake(BTreeMap<PathBuf, Kind>);

    impl Fake {
        fn new(entries: &[(&str, Kind)]) -> Fake {
            Fake(
                entries
                    .iter()
                    .map(|(p, k)| (PathBuf::from(p), *k))
                    .collect(),
            )
        }
    }

    impl Lookup for Fake {
        fn kind(&self, path: &Path) -> Option<Kind> {
            self.0.get(path).copied()
        }
        fn is_dir(&self, path: &Path) -> bool {
            self.kind(path) == Some(Kind::Dir)
        }
    }

    fn machine() -> Fake {
        use Kind::{Dir, File};
        Fake::new(&[
            ("/", Dir),
            ("/usr", Dir),
            ("/etc", Dir),
            ("/etc/hosts", File),
            ("/tmp", Dir),
            ("/home", Dir),
            ("/home/me", Dir),
            ("/srv/root", Dir),
            ("/srv/root/usr", Dir),
            ("/mnt", Dir),
            ("/run", Dir),
            ("/tmp/image", Dir),
            ("/dev/null", Kind::Other),
        ])
    }

    fn setup<'a>(root: Option<&'a Path>, ops: &'a [FsOp]) -> Setup<'a> {
        Setup {
            root,
            overlay: None,
            read_only_root: false,
            ops,
            dev: false,
            tmp: false,
            proc: false,
            mnt: true,
            ipc: false,
        }
    }

    fn said(b: &Built) -> Vec<&str> {
        b.steps.iter().map(|(_, w)| w.as_str()).collect()
    }

    fn err(r: Result<Built>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn ops_run_in_order_after_the_automatic_mounts() {
        let root = Path::new("/srv/root");
        let ops = [
            FsOp::Tmpfs {
                target: "/run".into(),
                size: Some(1 << 20),
                mode: 0o700,
            },
            FsOp::Dir {
                path: "/run/a/b".into(),
                mode: Some(0o750),
            },
            FsOp::Bind(Bind::new("/usr", "/usr").read_only()),
            FsOp::Symlink {
                target: "usr/lib".into(),
                link: "/lib".into(),
            },
            FsOp::File {
                path: "/run/conf".into(),
                contents: b"x=1\n".to_vec(),
                mode: 0o644,
                read_only: true,
            },
        ];
        let mut s = setup(Some(root), &ops);
        s.tmp = true;
        s.dev = true;
        s.proc = true;
        let b = build(&s, &machine()).unwrap();
        let w = said(&b);
        let pos = |needle: &str| {
            w.iter()
                .position(|s| s.contains(needle))
                .unwrap_or_else(|| panic!("{needle:?} not in {w:#?}"))
        };
        assert!(pos("make / private") < pos("new root /srv/root on itself"));
        assert!(pos("tmpfs on /srv/root/dev") < pos("tmpfs on /srv/root/tmp"));
        assert!(pos("tmpfs on /srv/root/tmp") < pos("tmpfs on /srv/root/run"));
        assert!(pos("create /srv/root/run/a (a parent") < pos("create /srv/root/run/a/b"));
        assert!(pos("mode of /srv/root/run/a/b to 750") < pos("bind-mount /usr"));
        assert!(pos("make /srv/root/usr read-only and nodev") > pos("bind-mount /usr"));
        assert!(pos("link /srv/root/lib to usr/lib") > pos("read-only and nodev"));
        assert!(
            pos("write /srv/root/run/conf (4 bytes)") < pos("make /srv/root/run/conf read-only")
        );
        assert!(pos("new proc on /srv/root/proc") < pos("pivot_root"));
        // Made in the caller's root, to be removed: the mount points and
        // the link, not what is on the tmpfs.
        let made: Vec<(&str, &Made)> = b
            .made
            .iter()
            .map(|(p, m)| (p.to_str().unwrap(), m))
            .collect();
        assert_eq!(
            made,
            [
                ("/srv/root/dev", &Made::Dir),
                ("/srv/root/tmp", &Made::Dir),
                ("/srv/root/run", &Made::Dir),
                ("/srv/root/lib", &Made::Symlink("usr/lib".into())),
                ("/srv/root/proc", &Made::Dir),
            ]
        );
        let tmpfs = b
            .steps
            .iter()
            .find_map(|(s, _)| match s {
                Step::Mount {
                    target,
                    data: Some(d),
                    ..
                } if target.to_bytes() == b"/srv/root/run" => Some(d.to_str().unwrap().to_owned()),
                _ => None,
            })
            .unwrap();
        assert_eq!(tmpfs, "mode=700,size=1048576");
    }

    #[test]
    fn an_op_on_dev_tmp_or_proc_replaces_the_automatic_one() {
        let root = Path::new("/srv/root");
        let ops = [
            FsOp::Bind(Bind::new("/dev", "/dev").devices()),
            FsOp::Tmpfs {
                target: "/tmp".into(),
                size: None,
                mode: 0o755,
            },
        ];
        let mut s = setup(Some(root), &ops);
        s.dev = true;
        s.tmp = true;
        let b = build(&s, &machine()).unwrap();
        let w = said(&b);
        assert_eq!(
            w.iter()
                .filter(|s| s.contains("tmpfs on /srv/root/tmp"))
                .count(),
            1
        );
        assert!(
            !w.iter().any(|s| s.contains("tmpfs on /srv/root/dev")),
            "{w:#?}"
        );
        assert!(
            !w.iter().any(|s| s.contains("nodev")),
            "a --dev-bind is not nodev: {w:#?}"
        );
    }

    #[test]
    fn nothing_is_made_or_changed_in_the_callers_own_files() {
        // Without a root, the host tree is the caller's: a missing mount
        // point is not made, a file is not written, a mode not changed.
        let tmp = [FsOp::Tmpfs {
            target: "/nonexistent/t".into(),
            size: None,
            mode: 0o755,
        }];
        let e = err(build(&setup(None, &tmp), &machine()));
        assert!(
            e.contains("/nonexistent") && e.contains("your own files"),
            "{e}"
        );
        let file = [FsOp::File {
            path: "/etc/motd".into(),
            contents: vec![],
            mode: 0o644,
            read_only: false,
        }];
        let e = err(build(&setup(None, &file), &machine()));
        assert!(e.contains("/etc/motd") && e.contains("tmpfs"), "{e}");
        let chmod = [FsOp::Chmod {
            path: "/etc/hosts".into(),
            mode: 0o600,
        }];
        let e = err(build(&setup(None, &chmod), &machine()));
        assert!(e.contains("/etc/hosts"), "{e}");
        // Through a bind into a root: the bind's source is the caller's.
        let root = Path::new("/srv/root");
        let ops = [
            FsOp::Bind(Bind::new("/home/me", "/home")),
            FsOp::Dir {
                path: "/home/new".into(),
                mode: None,
            },
        ];
        let e = err(build(&setup(Some(root), &ops), &machine()));
        assert!(e.contains("/home/new") && e.contains("/home/me/new"), "{e}");
        // The same in the root's own directory: made, and tracked.
        let ops = [FsOp::Dir {
            path: "/data".into(),
            mode: Some(0o700),
        }];
        let b = build(&setup(Some(root), &ops), &machine()).unwrap();
        assert_eq!(b.made, [(PathBuf::from("/srv/root/data"), Made::Dir)]);
        // But a mode for a directory that was there is a change.
        let ops = [FsOp::Dir {
            path: "/usr".into(),
            mode: Some(0o700),
        }];
        let e = err(build(&setup(Some(root), &ops), &machine()));
        assert!(e.contains("/usr"), "{e}");
        // On a tmpfs of the sandbox's: anything goes, nothing tracked.
        let ops = [
            FsOp::Tmpfs {
                target: "/etc".into(),
                size: None,
                mode: 0o755,
            },
            FsOp::File {
                path: "/etc/passwd".into(),
                contents: b"root:x:0:0::/:/bin/sh\n".to_vec(),
                mode: 0o644,
                read_only: false,
            },
            FsOp::Chmod {
                path: "/etc/passwd".into(),
                mode: 0o600,
            },
        ];
        let b = build(&setup(None, &ops), &machine()).unwrap();
        assert!(b.made.is_empty(), "{:?}", b.made);
    }

    #[test]
    fn an_overlay_root_stages_where_no_lower_is() {
        let lowers = [PathBuf::from("/tmp/image"), PathBuf::from("/usr")];
        let mut s = setup(None, &[]);
        s.overlay = Some(&lowers);
        s.tmp = true;
        s.dev = true;
        let b = build(&s, &machine()).unwrap();
        let w = said(&b);
        // /tmp holds a lower: the staging tmpfs goes on /mnt.
        assert!(
            w.iter()
                .any(|l| l.starts_with("mount a tmpfs on /mnt for the overlay")),
            "{w:#?}"
        );
        let data = b
            .steps
            .iter()
            .find_map(|(s, _)| match s {
                Step::Mount {
                    fstype: Some(t),
                    data: Some(d),
                    ..
                } if t.to_bytes() == b"overlay" => Some(d.to_str().unwrap().to_owned()),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            data,
            "lowerdir=/tmp/image:/usr,upperdir=/mnt/upper,workdir=/mnt/work,userxattr"
        );
        // The rest goes into the overlay, and nothing is tracked: it is all
        // the sandbox's own.
        assert!(w.contains(&"mount a tmpfs on /mnt/root/tmp"), "{w:#?}");
        assert!(
            w.iter().any(|l| l.contains("pivot_root into /mnt/root")),
            "{w:#?}"
        );
        assert!(b.made.is_empty(), "{:?}", b.made);
    }

    /// bwrap's three overlays: a tmpfs upper is staged where neither a
    /// lower nor the target is, moved into place and its staging detached;
    /// a directory upper and a read-only one mount in place; each layer
    /// overlayfs cannot take is refused, naming it.
    #[test]
    fn overlays_at_a_path() {
        let lowers = vec![PathBuf::from("/tmp/image"), PathBuf::from("/usr")];
        let ops = [
            FsOp::Tmpfs {
                target: "/run".into(),
                size: None,
                mode: 0o755,
            },
            FsOp::Overlay {
                lowers: lowers.clone(),
                upper: OverlayUpper::Tmpfs,
                target: "/run/o".into(),
            },
            FsOp::Overlay {
                lowers: lowers.clone(),
                upper: OverlayUpper::ReadOnly,
                target: "/run/r".into(),
            },
            FsOp::Overlay {
                lowers: vec!["/usr".into()],
                upper: OverlayUpper::Dir {
                    upper: "/home/me".into(),
                    work: "/srv/root".into(),
                },
                target: "/run/w".into(),
            },
        ];
        let b = build(&setup(None, &ops), &machine()).unwrap();
        let w = said(&b);
        // /run is the target's, /tmp a lower's: the staging is /mnt.
        let at = |s: &str| {
            w.iter()
                .position(|l| l.starts_with(s))
                .unwrap_or(usize::MAX)
        };
        let stage = at("mount a tmpfs on /mnt to stage the overlay at /run/o");
        let mounted = at("mount an overlay of /tmp/image, /usr with a tmpfs upper on /mnt/merged");
        let moved = at("move the overlay to /run/o");
        let detached = at("detach the staging tmpfs from /mnt");
        assert!(
            stage < mounted && mounted < moved && moved < detached && detached < w.len(),
            "{w:#?}"
        );
        let data: Vec<String> = b
            .steps
            .iter()
            .filter_map(|(s, _)| match s {
                Step::Mount {
                    fstype: Some(t),
                    data: Some(d),
                    ..
                } if t.to_bytes() == b"overlay" => Some(d.to_str().unwrap().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(
            data,
            [
                "upperdir=/mnt/upper,workdir=/mnt/work,lowerdir=/tmp/image:/usr,userxattr",
                "lowerdir=/tmp/image:/usr,userxattr",
                "upperdir=/home/me,workdir=/srv/root,lowerdir=/usr,userxattr",
            ]
        );
        assert!(b.made.is_empty(), "{:?}", b.made);
        let refused = |op: FsOp, says: &str| {
            let ops = [op];
            let e = err(build(&setup(None, &ops), &machine()));
            assert!(e.contains(says), "{e}");
        };
        refused(
            FsOp::Overlay {
                lowers: vec!["/usr".into()],
                upper: OverlayUpper::ReadOnly,
                target: "/mnt/r".into(),
            },
            "a read-only overlay at /mnt/r needs at least two lower directories",
        );
        refused(
            FsOp::Overlay {
                lowers: vec!["/us,r".into()],
                upper: OverlayUpper::Tmpfs,
                target: "/mnt/r".into(),
            },
            "the overlay lower /us,r must be an absolute path",
        );
        refused(
            FsOp::Overlay {
                lowers: vec!["/nowhere".into()],
                upper: OverlayUpper::Tmpfs,
                target: "/mnt/r".into(),
            },
            "the overlay lower /nowhere is not a directory",
        );
        refused(
            FsOp::Overlay {
                lowers: vec!["/usr".into()],
                upper: OverlayUpper::Dir {
                    upper: "/etc/hosts".into(),
                    work: "/tmp".into(),
                },
                target: "/mnt/r".into(),
            },
            "the overlay upper /etc/hosts is not a directory",
        );
        refused(
            FsOp::Overlay {
                lowers: Vec::new(),
                upper: OverlayUpper::Tmpfs,
                target: "/mnt/r".into(),
            },
            "takes 1 to 500 lower directories, not 0",
        );
        // The target is made only where that is safe: not in your files.
        refused(
            FsOp::Overlay {
                lowers: vec!["/usr".into()],
                upper: OverlayUpper::Tmpfs,
                target: "/home/me/new".into(),
            },
            "would change your own files",
        );
    }

    #[test]
    fn bad_paths_and_missing_namespaces() {
        let dots = [FsOp::Dir {
            path: "/tmp/../etc".into(),
            mode: None,
        }];
        assert!(err(build(&setup(None, &dots), &machine())).contains(".."));
        let relative = [FsOp::Dir {
            path: "tmp/x".into(),
            mode: None,
        }];
        assert!(err(build(&setup(None, &relative), &machine())).contains("absolute"));
        let mq = [FsOp::Mqueue("/dev/mqueue".into())];
        assert!(err(build(&setup(None, &mq), &machine())).contains("IPC namespace"));
        let mut s = setup(None, &mq);
        s.mnt = false;
        s.ipc = true;
        assert!(err(build(&s, &machine())).contains("mount namespace"));
    }
}

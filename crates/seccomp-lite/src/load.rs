//! Loading a program into the kernel, with every check the kernel would
//! make done first so that its refusal comes with a reason.

use fd_core::{Error, ErrorKind, Result};

use crate::action::Action;
use crate::bpf;
use crate::notify::Listener;
use crate::program::Program;
use crate::raw::{self, FilterFlags};

/// Installs a [`Program`] on the calling thread (or process, with TSYNC).
///
/// Before the `seccomp` call it checks the program as the kernel would,
/// the flag combinations the kernel refuses, and, with
/// `SECCOMP_GET_ACTION_AVAIL`, that the kernel knows every action the
/// program returns; then it sets `no_new_privs` unless told not to.
/// A filter cannot be removed: load in a thread or process made for it.
#[derive(Clone, Debug)]
#[must_use = "a Loader does nothing until load() or load_listener()"]
pub struct Loader<'a> {
    program: &'a Program,
    flags: FilterFlags,
    no_new_privs: bool,
}

impl Program {
    /// A [`Loader`] for this program: no flags, `no_new_privs` set.
    pub fn loader(&self) -> Loader<'_> {
        Loader {
            program: self,
            flags: FilterFlags::empty(),
            no_new_privs: true,
        }
    }

    /// Loads the program on the calling thread with `no_new_privs`.
    ///
    /// # Errors
    /// As [`Loader::load`].
    pub fn load(&self) -> Result<()> {
        self.loader().load()
    }
}

impl Loader<'_> {
    /// Adds flags.
    pub fn flags(mut self, flags: FilterFlags) -> Self {
        self.flags |= flags;
        self
    }

    /// Installs on every thread of the process (TSYNC).
    pub fn tsync(self) -> Self {
        self.flags(FilterFlags::TSYNC)
    }

    /// Whether to set `no_new_privs` first (default yes). Without it the
    /// caller needs `CAP_SYS_ADMIN` in its user namespace.
    pub fn no_new_privs(mut self, set: bool) -> Self {
        self.no_new_privs = set;
        self
    }

    /// Checks and installs the filter.
    ///
    /// # Errors
    /// `InvalidInput`: a program the kernel would refuse (naming the
    /// instruction), flags it refuses together, or NEW_LISTENER (use
    /// [`load_listener`](Loader::load_listener)). `Unsupported`: an
    /// action or flag this kernel lacks, named. `PermissionDenied`:
    /// neither `no_new_privs` nor `CAP_SYS_ADMIN`. A TSYNC failure names
    /// the thread.
    pub fn load(self) -> Result<()> {
        if self.flags.contains(FilterFlags::NEW_LISTENER) {
            return Err(Error::invalid_input(
                "seccomp",
                "NEW_LISTENER returns a listener: use load_listener()",
            ));
        }
        self.install().map(drop)
    }

    /// Installs the filter with NEW_LISTENER and returns the listener that
    /// receives its `USER_NOTIF` calls.
    ///
    /// # Errors
    /// As [`load`](Loader::load); `EBUSY` (named) when a filter with a
    /// listener is already installed in this thread's chain.
    pub fn load_listener(mut self) -> Result<Listener> {
        self.flags |= FilterFlags::NEW_LISTENER;
        match self.install()? {
            Some(fd) => Listener::from_fd(fd),
            None => Err(Error::invalid_input(
                "seccomp",
                "the kernel returned no listener",
            )),
        }
    }

    /// Every check `load` makes, without installing anything.
    ///
    /// # Errors
    /// As [`load`](Loader::load), but for the kernel's own refusals.
    pub fn check(&self) -> Result<()> {
        self.flags.validate()?;
        bpf::check(self.program.instructions())?;
        for (ret, pc) in self.program.returns() {
            match raw::get_action_avail_ret(ret) {
                Ok(true) => {}
                Ok(false) => {
                    let what = if Action::is_known_ret(ret) {
                        let action = Action::from_ret(ret);
                        format!(
                            "this kernel lacks the action {} (it is {}+)",
                            action.name(),
                            action.since()
                        )
                    } else {
                        format!(
                            "{:#010x} is no action the kernel knows (it would kill the process)",
                            ret & 0xffff_0000
                        )
                    };
                    return Err(Error::from_errno("seccomp", libc::EOPNOTSUPP)
                        .with_kind(ErrorKind::Unsupported)
                        .with_detail(format!("{what}; returned by instruction {pc}")));
                }
                // Before 4.14 the query itself is missing: let the kernel decide.
                Err(e) if e.errno() == libc::EINVAL => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn install(self) -> Result<Option<std::os::fd::OwnedFd>> {
        self.check()?;
        if self.no_new_privs {
            raw::set_no_new_privs()?;
        }
        raw::seccomp_set_mode_filter(self.flags, self.program.instructions())
            .map_err(|e| explain(e, self.flags))
    }
}

fn explain(e: Error, flags: FilterFlags) -> Error {
    if e.detail().is_some() {
        return e;
    }
    match e.errno() {
        libc::EACCES => e.with_detail(
            "no_new_privs is not set and the caller lacks CAP_SYS_ADMIN in its user namespace: set no_new_privs (the Loader's default) or run with CAP_SYS_ADMIN",
        ),
        libc::EBUSY if flags.contains(FilterFlags::NEW_LISTENER) => e.with_detail(
            "a filter with a listener is already installed in this thread's filter chain; the kernel allows one",
        ),
        libc::ENOMEM => e.with_detail(
            "the filters stacked on this thread would pass the kernel's 32768 instructions per path (MAX_INSNS_PER_PATH)",
        ),
        libc::ESRCH if flags.contains(FilterFlags::TSYNC) => e.with_detail(
            "TSYNC_ESRCH: a thread of this process could not take the filter (it has a filter that is not an ancestor of this thread's)",
        ),
        libc::EINVAL if !flags.is_empty() => {
            let names: Vec<String> =
                flags.iter().map(|f| format!("{f:?} ({}+)", FilterFlags::since(f))).collect();
            e.with_kind(ErrorKind::Unsupported)
                .with_detail(format!("the kernel refused the filter with flags {}", names.join(", ")))
        }
        _ => e,
    }
}

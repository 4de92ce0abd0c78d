//! The one error type of the butter workspace.
//!
//! An [`Error`] keeps three things: the name of the call that failed, the errno
//! the kernel returned (or `EINVAL` for arguments rejected before the call), and
//! an optional detail sentence saying what was wrong in the caller's terms. Its
//! [`kind`](Error::kind) is one of the nine [`ErrorKind`]s, looked up in the
//! public [`ERRNO_TABLE`].

use std::borrow::Cow;
use std::fmt;
use std::io;

/// The small fixed set of failure kinds callers match on.
///
/// Every errno maps to exactly one kind through [`ERRNO_TABLE`]; an errno that
/// is not in the table is [`ErrorKind::Other`]. The set is deliberately closed
/// (not `#[non_exhaustive]`): a `match` over it is complete, and adding a kind
/// is a breaking change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// An argument was wrong: a bad value, a flag combination the kernel
    /// refuses, an fd of the wrong type (`EINVAL`, `EBADF`, `ENOTDIR`, …).
    InvalidInput,
    /// The caller lacks a privilege or a capability (`EPERM`, `EACCES`, `EROFS`).
    PermissionDenied,
    /// This kernel, this filesystem or this build lacks the feature
    /// (`ENOSYS`, `EOPNOTSUPP`, `ENODEV`, `EXDEV`, …).
    Unsupported,
    /// A limit was reached: open files, memory, watches, queue sizes
    /// (`EMFILE`, `ENFILE`, `ENOMEM`, `ENOSPC`, …). Raising the limit may help.
    ResourceLimit,
    /// The operation would block on a non-blocking fd (`EAGAIN`).
    WouldBlock,
    /// A path, process or child does not exist (`ENOENT`, `ESRCH`, `ECHILD`, …).
    NotFound,
    /// A signal interrupted the call (`EINTR`); retrying is correct.
    Interrupted,
    /// A time limit passed (`ETIMEDOUT`): the kernel's, or a bound the
    /// caller gave a butter call that reports running out as an error.
    TimedOut,
    /// Anything else (`EIO`, `EBUSY`, `ECANCELED`, …).
    Other,
}

impl ErrorKind {
    /// The kind of an errno value, from [`ERRNO_TABLE`]; [`ErrorKind::Other`] if
    /// the errno is not listed.
    pub fn of_errno(errno: i32) -> ErrorKind {
        errno_info(errno).map_or(ErrorKind::Other, |info| info.kind)
    }

    /// The matching [`std::io::ErrorKind`].
    ///
    /// [`ErrorKind::ResourceLimit`] becomes [`io::ErrorKind::QuotaExceeded`]
    /// ("a quota or some other kind of limit was exceeded"), the closest
    /// standard kind.
    pub fn io_kind(self) -> io::ErrorKind {
        match self {
            ErrorKind::InvalidInput => io::ErrorKind::InvalidInput,
            ErrorKind::PermissionDenied => io::ErrorKind::PermissionDenied,
            ErrorKind::Unsupported => io::ErrorKind::Unsupported,
            ErrorKind::ResourceLimit => io::ErrorKind::QuotaExceeded,
            ErrorKind::WouldBlock => io::ErrorKind::WouldBlock,
            ErrorKind::NotFound => io::ErrorKind::NotFound,
            ErrorKind::Interrupted => io::ErrorKind::Interrupted,
            ErrorKind::TimedOut => io::ErrorKind::TimedOut,
            ErrorKind::Other => io::ErrorKind::Other,
        }
    }

    /// A short lowercase name, as used in `butter` output ("invalid input").
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::ResourceLimit => "resource limit",
            ErrorKind::WouldBlock => "would block",
            ErrorKind::NotFound => "not found",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::TimedOut => "timed out",
            ErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of [`ERRNO_TABLE`]: an errno value, its C name and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrnoInfo {
    /// The errno value on this architecture.
    pub errno: i32,
    /// The C name, such as `"EINVAL"`.
    pub name: &'static str,
    /// The kind this errno maps to.
    pub kind: ErrorKind,
}

macro_rules! errno_table {
    ($($name:ident => $kind:ident),* $(,)?) => {
        /// The errno → [`ErrorKind`] table. Public API: every row is tested.
        ///
        /// Errno values not listed here are [`ErrorKind::Other`] with no name.
        /// The rows marked `Other` are listed for their names only.
        pub const ERRNO_TABLE: &[ErrnoInfo] = &[
            $(ErrnoInfo { errno: libc::$name, name: stringify!($name), kind: ErrorKind::$kind },)*
        ];
    };
}

errno_table! {
    EINVAL => InvalidInput,
    EBADF => InvalidInput,
    EFAULT => InvalidInput,
    ENAMETOOLONG => InvalidInput,
    ENOTDIR => InvalidInput,
    EISDIR => InvalidInput,
    ELOOP => InvalidInput,
    EEXIST => InvalidInput,
    EOVERFLOW => InvalidInput,
    ERANGE => InvalidInput,
    E2BIG => InvalidInput,
    ESPIPE => InvalidInput,
    ENOTSOCK => InvalidInput,
    EPERM => PermissionDenied,
    EACCES => PermissionDenied,
    EROFS => PermissionDenied,
    ENOSYS => Unsupported,
    EOPNOTSUPP => Unsupported,
    ENOTTY => Unsupported,
    ENODEV => Unsupported,
    EXDEV => Unsupported,
    EAFNOSUPPORT => Unsupported,
    EPROTONOSUPPORT => Unsupported,
    EMFILE => ResourceLimit,
    ENFILE => ResourceLimit,
    ENOMEM => ResourceLimit,
    ENOSPC => ResourceLimit,
    EDQUOT => ResourceLimit,
    ENOBUFS => ResourceLimit,
    EMLINK => ResourceLimit,
    EUSERS => ResourceLimit,
    EAGAIN => WouldBlock,
    ENOENT => NotFound,
    ESRCH => NotFound,
    ECHILD => NotFound,
    ENXIO => NotFound,
    EINTR => Interrupted,
    ETIMEDOUT => TimedOut,
    EIO => Other,
    EBUSY => Other,
    ECANCELED => Other,
    EPIPE => Other,
    ENOTEMPTY => Other,
    ETXTBSY => Other,
    ESTALE => Other,
    EDEADLK => Other,
}

/// The table row for `errno`, if it has one.
pub fn errno_info(errno: i32) -> Option<&'static ErrnoInfo> {
    ERRNO_TABLE.iter().find(|info| info.errno == errno)
}

/// Where an [`Error`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The kernel returned the errno.
    Kernel,
    /// butter rejected the arguments before making the call.
    Checked,
}

/// The error of every butter crate: the failing call, its errno, a kind.
///
/// Converts into [`std::io::Error`] with the matching [`io::ErrorKind`]; the
/// errno stays reachable through [`Error::errno_of`].
///
/// ```
/// use butter::fd_core::{Error, ErrorKind};
///
/// let err = Error::from_errno("eventfd2", libc::EMFILE);
/// assert_eq!(err.kind(), ErrorKind::ResourceLimit);
/// assert_eq!(err.errno(), libc::EMFILE);
/// assert_eq!(err.call(), "eventfd2");
///
/// let io: std::io::Error = err.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::QuotaExceeded);
/// assert_eq!(Error::errno_of(&io), Some(libc::EMFILE));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}{call}: {}", Context(*.context), describe(*.errno, *.origin, .detail.as_deref()))]
pub struct Error {
    call: &'static str,
    context: Option<&'static str>,
    errno: i32,
    kind: ErrorKind,
    origin: Origin,
    detail: Option<Cow<'static, str>>,
}

impl Error {
    /// An error the kernel returned from `call`, kind from [`ERRNO_TABLE`].
    pub fn from_errno(call: &'static str, errno: i32) -> Error {
        Error {
            call,
            context: None,
            errno,
            kind: ErrorKind::of_errno(errno),
            origin: Origin::Kernel,
            detail: None,
        }
    }

    /// The calling thread's current `errno`, after a failed libc call.
    pub fn last_os_error(call: &'static str) -> Error {
        Error::from_errno(
            call,
            io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }

    /// Arguments to `call` rejected before the call was made; errno `EINVAL`.
    ///
    /// `detail` says what was wrong, in the caller's terms.
    pub fn invalid_input(call: &'static str, detail: impl Into<Cow<'static, str>>) -> Error {
        Error {
            call,
            context: None,
            errno: libc::EINVAL,
            kind: ErrorKind::InvalidInput,
            origin: Origin::Checked,
            detail: Some(detail.into()),
        }
    }

    /// As [`invalid_input`](Error::invalid_input), refused by the butter
    /// API `api` (its [`context`](Error::context)) before `call`, the
    /// system call the argument was for.
    pub fn invalid_input_in(
        api: &'static str,
        call: &'static str,
        detail: impl Into<Cow<'static, str>>,
    ) -> Error {
        Error::invalid_input(call, detail).with_context(api)
    }

    /// Adds or replaces the sentence that explains the failure.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Error {
        self.detail = Some(detail.into());
        self
    }

    /// Overrides the kind where a call gives an errno a meaning of its own
    /// (`EAGAIN` from `io_setup` is a resource limit, not "would block").
    #[must_use]
    pub fn with_kind(mut self, kind: ErrorKind) -> Error {
        self.kind = kind;
        self
    }

    /// The kind callers match on.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The raw errno (`EINVAL` for arguments rejected before the call).
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// The errno's C name, such as `"EPERM"`, if it is in [`ERRNO_TABLE`].
    pub fn errno_name(&self) -> Option<&'static str> {
        errno_info(self.errno).map(|info| info.name)
    }

    /// The name of the failing system call, such as `"timerfd_create"`
    /// (for arguments refused before the call, the call they were for).
    pub fn call(&self) -> &'static str {
        self.call
    }

    /// The butter API the error came through, such as
    /// `"EventFd::from_fd"`, where that says more than the call: printed
    /// first (`EventFd::from_fd: readlink: …`).
    pub fn context(&self) -> Option<&'static str> {
        self.context
    }

    /// Names the butter API the error came through (see
    /// [`context`](Error::context)).
    #[must_use]
    pub fn with_context(mut self, api: &'static str) -> Error {
        self.context = Some(api);
        self
    }

    /// The explanation added by the crate that raised the error, if any.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// Whether the kernel returned this error (`false`: rejected before the call).
    pub fn is_from_kernel(&self) -> bool {
        self.origin == Origin::Kernel
    }

    /// The errno inside an [`io::Error`]: its raw OS error, or the errno of a
    /// butter [`Error`] it wraps.
    pub fn errno_of(err: &io::Error) -> Option<i32> {
        err.raw_os_error()
            .or_else(|| err.get_ref()?.downcast_ref::<Error>().map(Error::errno))
    }

    /// Converts an [`io::Error`] from `call` back into an [`Error`], keeping
    /// the butter error it wraps if there is one.
    pub fn from_io(call: &'static str, err: io::Error) -> Error {
        if let Some(inner) = err.get_ref().and_then(|e| e.downcast_ref::<Error>()) {
            return inner.clone();
        }
        match err.raw_os_error() {
            Some(errno) => Error::from_errno(call, errno),
            None => Error {
                call,
                context: None,
                errno: libc::EIO,
                kind: match err.kind() {
                    io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
                        ErrorKind::InvalidInput
                    }
                    io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
                    io::ErrorKind::Unsupported => ErrorKind::Unsupported,
                    io::ErrorKind::OutOfMemory | io::ErrorKind::QuotaExceeded => {
                        ErrorKind::ResourceLimit
                    }
                    io::ErrorKind::WouldBlock => ErrorKind::WouldBlock,
                    io::ErrorKind::NotFound => ErrorKind::NotFound,
                    io::ErrorKind::Interrupted => ErrorKind::Interrupted,
                    io::ErrorKind::TimedOut => ErrorKind::TimedOut,
                    _ => ErrorKind::Other,
                },
                origin: Origin::Kernel,
                detail: Some(err.to_string().into()),
            },
        }
    }
}

/// The text after `call: `: the kernel's description of the errno, its
/// name, and the detail; for arguments refused before the call, the
/// detail alone.
struct Describe<'a> {
    errno: i32,
    origin: Origin,
    detail: Option<&'a str>,
}

impl fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.origin == Origin::Checked {
            // The detail is the whole story; there was no kernel error.
            return f.write_str(self.detail.unwrap_or("invalid argument"));
        }
        let os = io::Error::from_raw_os_error(self.errno).to_string();
        let description = os.strip_suffix(&format!(" (os error {})", self.errno));
        f.write_str(description.unwrap_or(&os))?;
        match errno_info(self.errno) {
            Some(info) => write!(f, " ({})", info.name)?,
            None => write!(f, " (errno {})", self.errno)?,
        }
        if let Some(detail) = self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

/// `context: ` before the call, when there is one.
struct Context(Option<&'static str>);

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(api) => write!(f, "{api}: "),
            None => Ok(()),
        }
    }
}

fn describe(errno: i32, origin: Origin, detail: Option<&str>) -> Describe<'_> {
    Describe {
        errno,
        origin,
        detail,
    }
}

/// A std I/O error as a butter one, so that `?` works across std I/O in a
/// function returning [`Result`]: its errno (and kind) if it has one, `EIO`
/// and [`ErrorKind::Other`] with its text otherwise; a butter error it
/// wraps comes back as it was. [`call`](Error::call) is `"io"`: std does
/// not say which call failed (use [`Error::from_io`] to name it).
impl From<io::Error> for Error {
    fn from(err: io::Error) -> Error {
        Error::from_io("io", err)
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        io::Error::new(err.kind.io_kind(), err)
    }
}

/// The `Result` of every butter call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Names the call a raw result came from, turning its errno into an [`Error`].
///
/// ```
/// use butter::fd_core::{ErrorKind, SyscallResult};
///
/// let res: std::io::Result<()> = Err(std::io::Error::from_raw_os_error(libc::ENOENT));
/// let err = res.syscall("open").unwrap_err();
/// assert_eq!((err.call(), err.kind()), ("open", ErrorKind::NotFound));
/// ```
pub trait SyscallResult<T> {
    /// Turns the error side into an [`Error`] from `call`.
    fn syscall(self, call: &'static str) -> Result<T>;
}

impl<T> SyscallResult<T> for std::result::Result<T, rustix::io::Errno> {
    #[inline]
    fn syscall(self, call: &'static str) -> Result<T> {
        self.map_err(|e| Error::from_errno(call, e.raw_os_error()))
    }
}

impl<T> SyscallResult<T> for io::Result<T> {
    #[inline]
    fn syscall(self, call: &'static str) -> Result<T> {
        self.map_err(|e| Error::from_io(call, e))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn question_mark_across_std_io() {
        fn read_missing() -> Result<Vec<u8>> {
            Ok(std::fs::read("/nonexistent/butter")?)
        }
        let err = read_missing().unwrap_err();
        assert_eq!(
            (err.kind(), err.errno(), err.call()),
            (ErrorKind::NotFound, libc::ENOENT, "io")
        );
        // No errno: the kind still comes across.
        let timed = Error::from(io::Error::new(io::ErrorKind::TimedOut, "bound passed"));
        assert_eq!(timed.kind(), ErrorKind::TimedOut);
        assert!(timed.to_string().contains("bound passed"), "{timed}");
        assert_eq!(
            Error::from_errno("connect", libc::ETIMEDOUT).kind(),
            ErrorKind::TimedOut
        );
        assert_eq!(ErrorKind::TimedOut.io_kind(), io::ErrorKind::TimedOut);
        // A butter error that went through io::Error comes back whole.
        let orig = Error::from_errno("inotify_add_watch", libc::ENOSPC).with_detail("watch limit");
        let back = Error::from(io::Error::from(orig.clone()));
        assert_eq!(back.to_string(), orig.to_string());
    }

    use super::*;

    /// The table, restated row by row: a change to the mapping must change
    /// this test too.
    #[test]
    fn every_table_row_maps_to_its_kind() {
        use ErrorKind::*;
        let expected: &[(i32, ErrorKind)] = &[
            (libc::EINVAL, InvalidInput),
            (libc::EBADF, InvalidInput),
            (libc::EFAULT, InvalidInput),
            (libc::ENAMETOOLONG, InvalidInput),
            (libc::ENOTDIR, InvalidInput),
            (libc::EISDIR, InvalidInput),
            (libc::ELOOP, InvalidInput),
            (libc::EEXIST, InvalidInput),
            (libc::EOVERFLOW, InvalidInput),
            (libc::ERANGE, InvalidInput),
            (libc::E2BIG, InvalidInput),
            (libc::ESPIPE, InvalidInput),
            (libc::ENOTSOCK, InvalidInput),
            (libc::EPERM, PermissionDenied),
            (libc::EACCES, PermissionDenied),
            (libc::EROFS, PermissionDenied),
            (libc::ENOSYS, Unsupported),
            (libc::EOPNOTSUPP, Unsupported),
            (libc::ENOTTY, Unsupported),
            (libc::ENODEV, Unsupported),
            (libc::EXDEV, Unsupported),
            (libc::EAFNOSUPPORT, Unsupported),
            (libc::EPROTONOSUPPORT, Unsupported),
            (libc::EMFILE, ResourceLimit),
            (libc::ENFILE, ResourceLimit),
            (libc::ENOMEM, ResourceLimit),
            (libc::ENOSPC, ResourceLimit),
            (libc::EDQUOT, ResourceLimit),
            (libc::ENOBUFS, ResourceLimit),
            (libc::EMLINK, ResourceLimit),
            (libc::EUSERS, ResourceLimit),
            (libc::EAGAIN, WouldBlock),
            (libc::EWOULDBLOCK, WouldBlock),
            (libc::ENOENT, NotFound),
            (libc::ESRCH, NotFound),
            (libc::ECHILD, NotFound),
            (libc::ENXIO, NotFound),
            (libc::EINTR, Interrupted),
            (libc::ETIMEDOUT, TimedOut),
            (libc::EIO, Other),
            (libc::EBUSY, Other),
            (libc::ECANCELED, Other),
            (libc::EPIPE, Other),
            (libc::ENOTEMPTY, Other),
            (libc::ETXTBSY, Other),
            (libc::ESTALE, Other),
            (libc::EDEADLK, Other),
        ];
        for &(errno, kind) in expected {
            assert_eq!(ErrorKind::of_errno(errno), kind, "errno {errno}");
        }
        // Every table row is restated above (EWOULDBLOCK == EAGAIN adds one).
        assert_eq!(ERRNO_TABLE.len() + 1, expected.len());
        for row in ERRNO_TABLE {
            assert!(
                expected.contains(&(row.errno, row.kind)),
                "{} not restated",
                row.name
            );
        }
    }

    #[test]
    fn table_has_no_duplicate_errno() {
        for (i, a) in ERRNO_TABLE.iter().enumerate() {
            for b in &ERRNO_TABLE[i + 1..] {
                assert_ne!(a.errno, b.errno, "{} and {}", a.name, b.name);
            }
        }
    }

    #[test]
    fn unlisted_errno_is_other_without_name() {
        let err = Error::from_errno("x", libc::ENOLINK);
        assert_eq!(err.kind(), ErrorKind::Other);
        assert_eq!(err.errno_name(), None);
        assert!(
            err.to_string()
                .contains(&format!("(errno {})", libc::ENOLINK))
        );
    }

    #[test]
    fn io_conversion_matches_every_kind() {
        for row in ERRNO_TABLE {
            let io: io::Error = Error::from_errno("call", row.errno).into();
            assert_eq!(io.kind(), row.kind.io_kind(), "{}", row.name);
            assert_eq!(Error::errno_of(&io), Some(row.errno));
            let back = Error::from_io("other", io);
            assert_eq!((back.call(), back.errno()), ("call", row.errno));
        }
    }

    #[test]
    fn io_kinds_are_distinct() {
        use ErrorKind::*;
        let all = [
            InvalidInput,
            PermissionDenied,
            Unsupported,
            ResourceLimit,
            WouldBlock,
            NotFound,
            Interrupted,
            Other,
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.io_kind(), b.io_kind());
                assert_ne!(a.as_str(), b.as_str());
            }
        }
    }

    #[test]
    fn raw_os_io_error_keeps_errno() {
        let err = Error::from_io("read", io::Error::from_raw_os_error(libc::EBADF));
        assert_eq!(err.errno(), libc::EBADF);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let custom = Error::from_io("read", io::Error::other("boom"));
        assert_eq!(custom.kind(), ErrorKind::Other);
        assert!(custom.to_string().contains("boom"));
    }

    #[test]
    fn display_names_call_errno_and_detail() {
        let err = Error::from_errno("timerfd_create", libc::EPERM)
            .with_detail("CLOCK_REALTIME_ALARM needs CAP_WAKE_ALARM");
        assert_eq!(
            err.to_string(),
            "timerfd_create: Operation not permitted (EPERM): \
             CLOCK_REALTIME_ALARM needs CAP_WAKE_ALARM"
        );
        let checked = Error::invalid_input("eventfd_write", "u64::MAX is not a valid value");
        assert_eq!(
            checked.to_string(),
            "eventfd_write: u64::MAX is not a valid value"
        );
        assert!(!checked.is_from_kernel());
        assert_eq!(checked.errno(), libc::EINVAL);
    }

    #[test]
    fn with_kind_overrides_table() {
        let err = Error::from_errno("io_setup", libc::EAGAIN).with_kind(ErrorKind::ResourceLimit);
        assert_eq!(err.kind(), ErrorKind::ResourceLimit);
        assert_eq!(err.errno(), libc::EAGAIN);
    }

    #[test]
    fn syscall_names_rustix_errors() {
        let res: std::result::Result<(), rustix::io::Errno> = Err(rustix::io::Errno::NOENT);
        let err = res.syscall("open").unwrap_err();
        assert_eq!((err.call(), err.errno()), ("open", libc::ENOENT));
    }
}

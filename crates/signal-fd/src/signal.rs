//! Signals and signal sets.

use std::fmt;
use std::str::FromStr;

use fd_core::{Error, Result};

use crate::sys;

/// A signal a program may use: a standard one (1–31) or a real-time one
/// from the C library's `SIGRTMIN` to `SIGRTMAX`.
///
/// glibc keeps the first real-time signals (32 and 33) for its threads, so
/// `SIGRTMIN` is 34 there; [`Signal::rt`] counts from the C library's
/// `SIGRTMIN`, as C programs do. Names parse both ways:
///
/// ```
/// use butter::signalfd::Signal;
///
/// for text in ["SIGINT", "INT", "int", "2"] {
///     assert_eq!(text.parse::<Signal>()?, Signal::INT);
/// }
/// assert_eq!(Signal::INT.to_string(), "SIGINT");
/// let rt = "SIGRTMIN+3".parse::<Signal>()?;
/// assert_eq!(rt, Signal::rt(3)?);
/// assert_eq!(rt.to_string(), "SIGRTMIN+3");
/// # Ok::<(), butter::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

macro_rules! standard_signals {
    ($($name:ident = $c:ident: $doc:literal,)*) => {
        impl Signal {
            $(
                #[doc = concat!("`", stringify!($c), "`: ", $doc)]
                pub const $name: Signal = Signal(libc::$c);
            )*

            /// Every standard signal, in number order.
            pub const STANDARD: &'static [Signal] = &[$(Signal::$name),*];

            fn standard_name(self) -> Option<&'static str> {
                match self.0 {
                    $(libc::$c => Some(stringify!($c)),)*
                    _ => None,
                }
            }
        }
    };
}

standard_signals! {
    HUP = SIGHUP: "hangup, or \"reload your configuration\".",
    INT = SIGINT: "interrupt from the keyboard (Ctrl-C).",
    QUIT = SIGQUIT: "quit from the keyboard (Ctrl-\\\\), with a core dump.",
    ILL = SIGILL: "illegal instruction.",
    TRAP = SIGTRAP: "trace or breakpoint trap.",
    ABRT = SIGABRT: "abort, as `abort(3)` raises it.",
    BUS = SIGBUS: "bus error: bad memory access.",
    FPE = SIGFPE: "arithmetic error.",
    KILL = SIGKILL: "kill: cannot be caught, blocked or read from a signalfd.",
    USR1 = SIGUSR1: "user-defined signal 1.",
    SEGV = SIGSEGV: "invalid memory reference.",
    USR2 = SIGUSR2: "user-defined signal 2.",
    PIPE = SIGPIPE: "write to a pipe with no readers.",
    ALRM = SIGALRM: "timer signal from `alarm(2)`.",
    TERM = SIGTERM: "termination request.",
    STKFLT = SIGSTKFLT: "stack fault on a coprocessor (unused).",
    CHLD = SIGCHLD: "a child stopped, continued or ended.",
    CONT = SIGCONT: "continue if stopped.",
    STOP = SIGSTOP: "stop: cannot be caught, blocked or read from a signalfd.",
    TSTP = SIGTSTP: "stop typed at the terminal (Ctrl-Z).",
    TTIN = SIGTTIN: "terminal input for a background process.",
    TTOU = SIGTTOU: "terminal output for a background process.",
    URG = SIGURG: "urgent data on a socket.",
    XCPU = SIGXCPU: "CPU time limit exceeded.",
    XFSZ = SIGXFSZ: "file size limit exceeded.",
    VTALRM = SIGVTALRM: "virtual alarm clock.",
    PROF = SIGPROF: "profiling timer expired.",
    WINCH = SIGWINCH: "window resize.",
    IO = SIGIO: "I/O now possible (also `SIGPOLL`).",
    PWR = SIGPWR: "power failure.",
    SYS = SIGSYS: "bad system call (seccomp's `SECCOMP_RET_TRAP`).",
}

/// Other names of the standard signals, accepted by [`Signal::from_str`].
const ALIASES: &[(&str, Signal)] = &[
    ("SIGIOT", Signal::ABRT),
    ("SIGPOLL", Signal::IO),
    ("SIGCLD", Signal::CHLD),
    ("SIGUNUSED", Signal::SYS),
];

impl Signal {
    /// The signal numbered `n`.
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::InvalidInput`] for 0, numbers past `SIGRTMAX`,
    /// and the real-time signals the C library keeps for itself.
    pub fn new(n: i32) -> Result<Signal> {
        let (rtmin, rtmax) = sys::rt_range();
        match n {
            1..=31 => Ok(Signal(n)),
            n if (rtmin..=rtmax).contains(&n) => Ok(Signal(n)),
            32..=64 => Err(Error::invalid_input_in(
                "Signal::new",
                "kill",
                format!(
                    "signal {n} is reserved by the C library for its threads (SIGRTMIN is {rtmin})"
                ),
            )),
            _ => Err(Error::invalid_input_in(
                "Signal::new",
                "kill",
                format!("{n} is not a signal number (1 to {rtmax})"),
            )),
        }
    }

    /// The real-time signal `SIGRTMIN + n`.
    ///
    /// # Errors
    /// [`fd_core::ErrorKind::InvalidInput`] past `SIGRTMAX`.
    pub fn rt(n: u32) -> Result<Signal> {
        let (rtmin, rtmax) = sys::rt_range();
        i32::try_from(n)
            .ok()
            .and_then(|n| rtmin.checked_add(n))
            .filter(|s| *s <= rtmax)
            .map(Signal)
            .ok_or_else(|| {
                Error::invalid_input_in(
                    "Signal::rt",
                    "kill",
                    format!("SIGRTMIN+{n} is past SIGRTMAX (SIGRTMIN+{})", rtmax - rtmin),
                )
            })
    }

    /// `SIGRTMIN` as the C library defines it.
    pub fn rtmin() -> Signal {
        Signal(sys::rt_range().0)
    }

    /// `SIGRTMAX`.
    pub fn rtmax() -> Signal {
        Signal(sys::rt_range().1)
    }

    /// The signal number.
    pub fn raw(self) -> i32 {
        self.0
    }

    /// Whether this is a real-time signal: such signals queue (each one sent
    /// is delivered) where standard ones coalesce.
    pub fn is_realtime(self) -> bool {
        self.0 > 31
    }

    /// Whether a process can catch, block or read this signal (all but
    /// `SIGKILL` and `SIGSTOP`).
    pub fn is_catchable(self) -> bool {
        self != Signal::KILL && self != Signal::STOP
    }

    /// Builds a signal from a number the kernel reported, which may be one
    /// the C library reserves (its internal signals can show up in masks).
    pub(crate) fn from_kernel(n: i32) -> Signal {
        Signal(n)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.standard_name() {
            return f.write_str(name);
        }
        let (rtmin, rtmax) = sys::rt_range();
        match self.0 {
            n if n == rtmin => f.write_str("SIGRTMIN"),
            n if n == rtmax => f.write_str("SIGRTMAX"),
            n if n > rtmin && n < rtmax => write!(f, "SIGRTMIN+{}", n - rtmin),
            n => write!(f, "SIG{n}"),
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}({})", self.0)
    }
}

impl FromStr for Signal {
    type Err = Error;

    /// Parses a number (`"2"`), a name with or without `SIG` in any case
    /// (`"SIGINT"`, `"int"`), an alias (`"SIGPOLL"`), or a real-time name
    /// (`"SIGRTMIN"`, `"RTMIN+3"`, `"SIGRTMAX-1"`).
    fn from_str(s: &str) -> Result<Signal> {
        let text = s.trim();
        if let Ok(n) = text.parse::<i32>() {
            return Signal::new(n);
        }
        let upper = text.to_ascii_uppercase();
        let name = if upper.starts_with("SIG") {
            upper.clone()
        } else {
            format!("SIG{upper}")
        };
        if let Some(sig) = Signal::STANDARD
            .iter()
            .find(|s| s.standard_name() == Some(name.as_str()))
        {
            return Ok(*sig);
        }
        if let Some((_, sig)) = ALIASES.iter().find(|(alias, _)| *alias == name) {
            return Ok(*sig);
        }
        let unknown = || {
            Error::invalid_input_in(
                "Signal::from_str",
                "kill",
                format!(
                    "unknown signal {s:?}: expected a name such as SIGINT or INT, a number, or SIGRTMIN+N"
                ),
            )
        };
        let rt = |rest: &str, base: Signal, sign: i32| -> Result<Signal> {
            if rest.is_empty() {
                return Ok(base);
            }
            let n: i32 = rest.parse().map_err(|_| unknown())?;
            Signal::new(base.0 + sign * n).and_then(|sig| {
                if sig.is_realtime() {
                    Ok(sig)
                } else {
                    Err(unknown())
                }
            })
        };
        if let Some(rest) = name.strip_prefix("SIGRTMIN") {
            return match rest.strip_prefix('+') {
                Some(n) => rt(n, Signal::rtmin(), 1),
                None if rest.is_empty() => Ok(Signal::rtmin()),
                None => Err(unknown()),
            };
        }
        if let Some(rest) = name.strip_prefix("SIGRTMAX") {
            return match rest.strip_prefix('-') {
                Some(n) => rt(n, Signal::rtmax(), -1),
                None if rest.is_empty() => Ok(Signal::rtmax()),
                None => Err(unknown()),
            };
        }
        Err(unknown())
    }
}

/// A set of signals: what a mask blocks, what a signalfd reads, what is
/// pending.
///
/// ```
/// use butter::signalfd::{SigSet, Signal};
///
/// let mut set: SigSet = [Signal::INT, Signal::TERM].into_iter().collect();
/// set.insert(Signal::HUP);
/// assert!(set.contains(Signal::TERM));
/// set.remove(Signal::TERM);
/// assert_eq!(set.iter().collect::<Vec<_>>(), [Signal::HUP, Signal::INT]);
/// assert_eq!(set.to_string(), "{SIGHUP, SIGINT}");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SigSet {
    /// Bit `n - 1` is signal `n`, for 1..=64 (the kernel's `_NSIG`).
    bits: u64,
}

impl SigSet {
    /// The empty set.
    pub const fn empty() -> SigSet {
        SigSet { bits: 0 }
    }

    /// Every signal a program may use: the standard ones and the C
    /// library's real-time range (`SIGKILL` and `SIGSTOP` included, as
    /// `sigfillset` has them).
    pub fn full() -> SigSet {
        let mut set = SigSet::empty();
        for sig in Signal::STANDARD {
            set.insert(*sig);
        }
        let (rtmin, rtmax) = sys::rt_range();
        for n in rtmin..=rtmax {
            set.insert_raw(n);
        }
        set
    }

    /// [`SigSet::full`] without `SIGKILL` and `SIGSTOP`: everything a
    /// signalfd can read.
    pub fn catchable() -> SigSet {
        let mut set = SigSet::full();
        set.remove(Signal::KILL);
        set.remove(Signal::STOP);
        set
    }

    /// Adds `sig`; `true` if it was not there.
    pub fn insert(&mut self, sig: Signal) -> bool {
        let had = self.contains(sig);
        self.insert_raw(sig.raw());
        !had
    }

    pub(crate) fn insert_raw(&mut self, n: i32) {
        if (1..=64).contains(&n) {
            self.bits |= 1 << (n - 1);
        }
    }

    /// Removes `sig`; `true` if it was there.
    pub fn remove(&mut self, sig: Signal) -> bool {
        let had = self.contains(sig);
        if (1..=64).contains(&sig.raw()) {
            self.bits &= !(1 << (sig.raw() - 1));
        }
        had
    }

    /// This set with `sig` added.
    #[must_use]
    pub fn with(mut self, sig: Signal) -> SigSet {
        self.insert(sig);
        self
    }

    /// This set without `sig`.
    #[must_use]
    pub fn without(mut self, sig: Signal) -> SigSet {
        self.remove(sig);
        self
    }

    /// Whether `sig` is in the set.
    pub fn contains(&self, sig: Signal) -> bool {
        (1..=64).contains(&sig.raw()) && self.bits & (1 << (sig.raw() - 1)) != 0
    }

    /// The number of signals in the set.
    pub fn len(&self) -> usize {
        self.bits.count_ones() as usize
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// The signals in both sets.
    #[must_use]
    pub fn intersection(&self, other: &SigSet) -> SigSet {
        SigSet {
            bits: self.bits & other.bits,
        }
    }

    /// The signals in either set.
    #[must_use]
    pub fn union(&self, other: &SigSet) -> SigSet {
        SigSet {
            bits: self.bits | other.bits,
        }
    }

    /// The signals in this set and not in `other`.
    #[must_use]
    pub fn difference(&self, other: &SigSet) -> SigSet {
        SigSet {
            bits: self.bits & !other.bits,
        }
    }

    /// The signals, in number order.
    pub fn iter(&self) -> impl Iterator<Item = Signal> + '_ {
        let bits = self.bits;
        (1..=64)
            .filter(move |n| bits & (1 << (n - 1)) != 0)
            .map(Signal::from_kernel)
    }

    /// The kernel's 64-bit mask: bit `n - 1` for signal `n`, as in
    /// `/proc/<pid>/status`.
    pub fn bits(&self) -> u64 {
        self.bits
    }

    /// A set from the kernel's 64-bit mask (`SigBlk:` in
    /// `/proc/<pid>/status`, for example).
    pub fn from_bits(bits: u64) -> SigSet {
        SigSet { bits }
    }

    /// The first signal that a signalfd or `Signals` cannot take, if any.
    pub(crate) fn uncatchable(&self) -> Option<Signal> {
        [Signal::KILL, Signal::STOP]
            .into_iter()
            .find(|s| self.contains(*s))
    }
}

impl FromIterator<Signal> for SigSet {
    fn from_iter<I: IntoIterator<Item = Signal>>(iter: I) -> SigSet {
        let mut set = SigSet::empty();
        for sig in iter {
            set.insert(sig);
        }
        set
    }
}

impl Extend<Signal> for SigSet {
    fn extend<I: IntoIterator<Item = Signal>>(&mut self, iter: I) {
        for sig in iter {
            self.insert(sig);
        }
    }
}

impl From<Signal> for SigSet {
    fn from(sig: Signal) -> SigSet {
        SigSet::empty().with(sig)
    }
}

impl<const N: usize> From<[Signal; N]> for SigSet {
    fn from(sigs: [Signal; N]) -> SigSet {
        sigs.into_iter().collect()
    }
}

impl fmt::Display for SigSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, sig) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{sig}")?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for SigSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigSet{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fd_core::ErrorKind;

    #[test]
    fn every_standard_signal_round_trips() {
        assert_eq!(Signal::STANDARD.len(), 31);
        for (i, sig) in Signal::STANDARD.iter().enumerate() {
            assert_eq!(sig.raw(), i32::try_from(i).unwrap() + 1, "{sig}");
            let name = sig.to_string();
            assert_eq!(name.parse::<Signal>().unwrap(), *sig);
            assert_eq!(name[3..].parse::<Signal>().unwrap(), *sig);
            assert_eq!(name.to_lowercase().parse::<Signal>().unwrap(), *sig);
            assert_eq!(sig.raw().to_string().parse::<Signal>().unwrap(), *sig);
            assert_eq!(Signal::new(sig.raw()).unwrap(), *sig);
        }
    }

    #[test]
    fn aliases() {
        assert_eq!("SIGIOT".parse::<Signal>().unwrap(), Signal::ABRT);
        assert_eq!("poll".parse::<Signal>().unwrap(), Signal::IO);
        assert_eq!("cld".parse::<Signal>().unwrap(), Signal::CHLD);
    }

    #[test]
    fn realtime_names() {
        let (min, max) = sys::rt_range();
        assert_eq!(Signal::rt(0).unwrap().raw(), min);
        assert_eq!(Signal::rtmin().to_string(), "SIGRTMIN");
        assert_eq!(Signal::rtmax().to_string(), "SIGRTMAX");
        assert_eq!("rtmin+2".parse::<Signal>().unwrap().raw(), min + 2);
        assert_eq!("SIGRTMAX-1".parse::<Signal>().unwrap().raw(), max - 1);
        assert_eq!(
            "SIGRTMAX-1".parse::<Signal>().unwrap().to_string(),
            format!("SIGRTMIN+{}", max - 1 - min)
        );
        for n in min..=max {
            let sig = Signal::new(n).unwrap();
            assert!(sig.is_realtime());
            assert_eq!(sig.to_string().parse::<Signal>().unwrap(), sig);
        }
        let err = Signal::rt(u32::try_from(max - min + 1).unwrap()).unwrap_err();
        assert!(err.to_string().contains("past SIGRTMAX"), "{err}");
    }

    #[test]
    fn bad_signals_are_invalid_input() {
        for bad in [
            "",
            "SIGFOO",
            "0",
            "65",
            "-1",
            "SIGRTMIN+99",
            "SIGRTMIN-1",
            "RTMINX",
            "SIGRTMAX+1",
        ] {
            let err = bad.parse::<Signal>().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}");
        }
        assert!(
            "SIGFOO"
                .parse::<Signal>()
                .unwrap_err()
                .to_string()
                .contains("unknown signal \"SIGFOO\"")
        );
        let reserved = Signal::new(32).unwrap_err();
        assert!(
            reserved.to_string().contains("reserved by the C library"),
            "{reserved}"
        );
        assert!(
            Signal::new(0)
                .unwrap_err()
                .to_string()
                .contains("not a signal number")
        );
    }

    #[test]
    fn set_operations() {
        let a = SigSet::from([Signal::INT, Signal::TERM]);
        let b = SigSet::from([Signal::TERM, Signal::HUP]);
        assert_eq!(a.union(&b).len(), 3);
        assert_eq!(a.intersection(&b), SigSet::from(Signal::TERM));
        assert_eq!(a.difference(&b), SigSet::from(Signal::INT));
        let mut c = a;
        assert!(!c.insert(Signal::INT));
        assert!(c.remove(Signal::INT));
        assert!(!c.remove(Signal::INT));
        c.extend([Signal::USR1]);
        assert_eq!(c, SigSet::from([Signal::TERM, Signal::USR1]));
        assert!(SigSet::empty().is_empty());
        assert!(SigSet::full().contains(Signal::KILL));
        assert!(!SigSet::catchable().contains(Signal::STOP));
        assert_eq!(
            SigSet::full().len(),
            31 + usize::try_from(Signal::rtmax().raw() - Signal::rtmin().raw() + 1).unwrap()
        );
        assert_eq!(SigSet::from_bits(a.bits()), a);
        assert_eq!(format!("{:?}", a), "SigSet{SIGINT, SIGTERM}");
    }
}

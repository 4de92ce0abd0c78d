//! `signalfd_siginfo`, typed.

use std::fmt;
use std::time::Duration;

use crate::Signal;
#[cfg(test)]
use crate::sys::RawSiginfo;
use crate::sys::SigInfo;

/// Why a signal was sent: `si_code`, interpreted for its signal.
///
/// The generic codes (`SI_*`) say who sent it; positive codes are specific
/// to the signal (`CLD_*` for `SIGCHLD`, `SEGV_*` for `SIGSEGV`, …). The raw
/// value is always kept ([`SigInfo::code_raw`]); [`SigCode::name`] gives the
/// C name of every code this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigCode {
    /// `SI_USER`: `kill(2)` or `raise(3)`.
    User,
    /// `SI_KERNEL`: sent by the kernel.
    Kernel,
    /// `SI_QUEUE`: `sigqueue(3)`, with a value.
    Queue,
    /// `SI_TIMER`: a POSIX timer expired.
    Timer,
    /// `SI_MESGQ`: a POSIX message queue changed state.
    Mesgq,
    /// `SI_ASYNCIO`: POSIX AIO completed.
    AsyncIo,
    /// `SI_SIGIO`: queued `SIGIO`.
    SigIo,
    /// `SI_TKILL`: `tkill(2)` or `tgkill(2)`.
    Tkill,
    /// `SI_DETHREAD`: sent by `execve` killing subsidiary threads.
    DeThread,
    /// `SI_ASYNCNL`: asynchronous name lookup completed.
    AsyncNl,
    /// `CLD_EXITED`: the child exited.
    ChildExited,
    /// `CLD_KILLED`: the child was killed by a signal.
    ChildKilled,
    /// `CLD_DUMPED`: the child was killed by a signal and dumped core.
    ChildDumped,
    /// `CLD_TRAPPED`: a traced child trapped.
    ChildTrapped,
    /// `CLD_STOPPED`: the child stopped.
    ChildStopped,
    /// `CLD_CONTINUED`: a stopped child continued.
    ChildContinued,
    /// `SYS_SECCOMP`: a seccomp filter returned `SECCOMP_RET_TRAP`.
    Seccomp,
    /// A fault code of `SIGILL`, `SIGFPE`, `SIGSEGV`, `SIGBUS`, `SIGTRAP` or
    /// `SIGIO` (such as `SEGV_MAPERR`); see [`SigCode::name`].
    Fault(i32),
    /// A code this crate does not know.
    Other(i32),
}

/// Fault codes by signal, in code order from 1.
const FAULT_NAMES: &[(i32, &[&str])] = &[
    (
        libc::SIGILL,
        &[
            "ILL_ILLOPC",
            "ILL_ILLOPN",
            "ILL_ILLADR",
            "ILL_ILLTRP",
            "ILL_PRVOPC",
            "ILL_PRVREG",
            "ILL_COPROC",
            "ILL_BADSTK",
            "ILL_BADIADDR",
        ],
    ),
    (
        libc::SIGFPE,
        &[
            "FPE_INTDIV",
            "FPE_INTOVF",
            "FPE_FLTDIV",
            "FPE_FLTOVF",
            "FPE_FLTUND",
            "FPE_FLTRES",
            "FPE_FLTINV",
            "FPE_FLTSUB",
            "FPE_DECOVF",
            "FPE_DECDIV",
            "FPE_DECERR",
            "FPE_INVASC",
            "FPE_INVDEC",
            "FPE_FLTUNK",
            "FPE_CONDTRAP",
        ],
    ),
    (
        libc::SIGSEGV,
        &[
            "SEGV_MAPERR",
            "SEGV_ACCERR",
            "SEGV_BNDERR",
            "SEGV_PKUERR",
            "SEGV_ACCADI",
            "SEGV_ADIDERR",
            "SEGV_ADIPERR",
            "SEGV_MTEAERR",
            "SEGV_MTESERR",
            "SEGV_CPERR",
        ],
    ),
    (
        libc::SIGBUS,
        &[
            "BUS_ADRALN",
            "BUS_ADRERR",
            "BUS_OBJERR",
            "BUS_MCEERR_AR",
            "BUS_MCEERR_AO",
        ],
    ),
    (
        libc::SIGTRAP,
        &[
            "TRAP_BRKPT",
            "TRAP_TRACE",
            "TRAP_BRANCH",
            "TRAP_HWBKPT",
            "TRAP_UNK",
            "TRAP_PERF",
        ],
    ),
    (
        libc::SIGIO,
        &[
            "POLL_IN", "POLL_OUT", "POLL_MSG", "POLL_ERR", "POLL_PRI", "POLL_HUP",
        ],
    ),
];

impl SigCode {
    /// Interprets `code` for `signal`.
    pub fn from_raw(signal: i32, code: i32) -> SigCode {
        match code {
            0 => return SigCode::User,
            0x80 => return SigCode::Kernel,
            -1 => return SigCode::Queue,
            -2 => return SigCode::Timer,
            -3 => return SigCode::Mesgq,
            -4 => return SigCode::AsyncIo,
            -5 => return SigCode::SigIo,
            -6 => return SigCode::Tkill,
            -7 => return SigCode::DeThread,
            -60 => return SigCode::AsyncNl,
            _ => {}
        }
        match (signal, code) {
            (libc::SIGCHLD, 1) => SigCode::ChildExited,
            (libc::SIGCHLD, 2) => SigCode::ChildKilled,
            (libc::SIGCHLD, 3) => SigCode::ChildDumped,
            (libc::SIGCHLD, 4) => SigCode::ChildTrapped,
            (libc::SIGCHLD, 5) => SigCode::ChildStopped,
            (libc::SIGCHLD, 6) => SigCode::ChildContinued,
            (libc::SIGSYS, 1) => SigCode::Seccomp,
            (sig, c) if fault_name(sig, c).is_some() => SigCode::Fault(c),
            (_, c) => SigCode::Other(c),
        }
    }

    /// The C name (`"SI_USER"`, `"CLD_DUMPED"`, `"SEGV_MAPERR"`), given the
    /// signal the code came with; `None` for codes this crate does not know.
    pub fn name(self, signal: Signal) -> Option<&'static str> {
        Some(match self {
            SigCode::User => "SI_USER",
            SigCode::Kernel => "SI_KERNEL",
            SigCode::Queue => "SI_QUEUE",
            SigCode::Timer => "SI_TIMER",
            SigCode::Mesgq => "SI_MESGQ",
            SigCode::AsyncIo => "SI_ASYNCIO",
            SigCode::SigIo => "SI_SIGIO",
            SigCode::Tkill => "SI_TKILL",
            SigCode::DeThread => "SI_DETHREAD",
            SigCode::AsyncNl => "SI_ASYNCNL",
            SigCode::ChildExited => "CLD_EXITED",
            SigCode::ChildKilled => "CLD_KILLED",
            SigCode::ChildDumped => "CLD_DUMPED",
            SigCode::ChildTrapped => "CLD_TRAPPED",
            SigCode::ChildStopped => "CLD_STOPPED",
            SigCode::ChildContinued => "CLD_CONTINUED",
            SigCode::Seccomp => "SYS_SECCOMP",
            SigCode::Fault(c) => return fault_name(signal.raw(), c),
            SigCode::Other(_) => return None,
        })
    }

    /// Whether a process sent the signal (`kill`, `sigqueue`, `tgkill`), so
    /// that the sender's pid and uid are meaningful.
    pub fn is_from_process(self) -> bool {
        matches!(self, SigCode::User | SigCode::Queue | SigCode::Tkill)
    }
}

fn fault_name(signal: i32, code: i32) -> Option<&'static str> {
    let names = FAULT_NAMES.iter().find(|(s, _)| *s == signal)?.1;
    usize::try_from(code)
        .ok()?
        .checked_sub(1)
        .and_then(|i| names.get(i))
        .copied()
}

/// How a child changed state, decoded from a `SIGCHLD`'s code and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChildStatus {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Killed {
        /// The signal.
        signal: Signal,
        /// Whether it dumped core.
        core_dumped: bool,
    },
    /// A signal stopped it.
    Stopped(Signal),
    /// A traced child trapped with this signal.
    Trapped(Signal),
    /// It continued after a stop.
    Continued,
}

/// As `std::process::ExitStatus` reads: `success`, `code`, `signal`.
impl ChildStatus {
    /// Whether it exited with code 0.
    pub fn success(&self) -> bool {
        matches!(self, ChildStatus::Exited(0))
    }

    /// The exit code, if it exited.
    pub fn code(&self) -> Option<i32> {
        match self {
            ChildStatus::Exited(code) => Some(*code),
            _ => None,
        }
    }

    /// The signal that killed it, if one did.
    pub fn signal(&self) -> Option<Signal> {
        match self {
            ChildStatus::Killed { signal, .. } => Some(*signal),
            _ => None,
        }
    }

    /// Whether a signal killed it and it dumped core.
    pub fn core_dumped(&self) -> bool {
        matches!(
            self,
            ChildStatus::Killed {
                core_dumped: true,
                ..
            }
        )
    }

    /// The status as `wait(2)` encodes it (what `WIFEXITED` and the other
    /// macros decode): the exit code's low 8 bits, as the kernel keeps
    /// them.
    pub fn into_raw(self) -> i32 {
        match self {
            ChildStatus::Exited(code) => (code & 0xff) << 8,
            ChildStatus::Killed {
                signal,
                core_dumped,
            } => signal.raw() | if core_dumped { 0x80 } else { 0 },
            ChildStatus::Stopped(signal) | ChildStatus::Trapped(signal) => {
                (signal.raw() << 8) | 0x7f
            }
            ChildStatus::Continued => 0xffff,
        }
    }
}

impl From<ChildStatus> for std::process::ExitStatus {
    fn from(status: ChildStatus) -> std::process::ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        std::process::ExitStatus::from_raw(status.into_raw())
    }
}

/// Decodes std's status. A stop is [`ChildStatus::Stopped`] (`wait(2)`
/// does not tell a trace trap from a stop).
///
/// # Errors
/// [`fd_core::ErrorKind::InvalidInput`] for a raw status that names no
/// signal this kernel has (from `ExitStatusExt::from_raw` with a made-up
/// value).
impl TryFrom<std::process::ExitStatus> for ChildStatus {
    type Error = fd_core::Error;

    fn try_from(status: std::process::ExitStatus) -> fd_core::Result<ChildStatus> {
        use std::os::unix::process::ExitStatusExt;
        if let Some(code) = status.code() {
            return Ok(ChildStatus::Exited(code));
        }
        if let Some(sig) = status.signal() {
            return Ok(ChildStatus::Killed {
                signal: Signal::new(sig)?,
                core_dumped: status.core_dumped(),
            });
        }
        if let Some(sig) = status.stopped_signal() {
            return Ok(ChildStatus::Stopped(Signal::new(sig)?));
        }
        if status.continued() {
            return Ok(ChildStatus::Continued);
        }
        Err(fd_core::Error::invalid_input(
            "waitid",
            format!(
                "status {:#x} is no state wait(2) reports",
                status.into_raw()
            ),
        ))
    }
}

impl fmt::Display for ChildStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildStatus::Exited(code) => write!(f, "exited with code {code}"),
            ChildStatus::Killed {
                signal,
                core_dumped: false,
            } => write!(f, "killed by signal {signal}"),
            ChildStatus::Killed {
                signal,
                core_dumped: true,
            } => {
                write!(f, "killed by signal {signal} (core dumped)")
            }
            ChildStatus::Stopped(signal) => write!(f, "stopped by signal {signal}"),
            ChildStatus::Trapped(signal) => write!(f, "trapped with signal {signal}"),
            ChildStatus::Continued => f.write_str("continued"),
        }
    }
}

impl SigInfo {
    #[cfg(test)]
    pub(crate) fn from_raw(raw: RawSiginfo) -> SigInfo {
        SigInfo { raw }
    }

    /// The signal (`ssi_signo`).
    #[doc(alias = "ssi_signo")]
    pub fn signal(&self) -> Signal {
        Signal::from_kernel(i32::try_from(self.raw.ssi_signo).unwrap_or(0))
    }

    /// The errno sent with the signal (`ssi_errno`), usually 0.
    #[doc(alias = "ssi_errno")]
    pub fn errno(&self) -> i32 {
        self.raw.ssi_errno
    }

    /// Why the signal was sent (`ssi_code`), interpreted.
    pub fn code(&self) -> SigCode {
        SigCode::from_raw(self.signal().raw(), self.raw.ssi_code)
    }

    /// `ssi_code` as the kernel gave it.
    #[doc(alias = "ssi_code")]
    pub fn code_raw(&self) -> i32 {
        self.raw.ssi_code
    }

    /// The sending process, or the child for `SIGCHLD` (`ssi_pid`).
    #[doc(alias = "ssi_pid")]
    pub fn pid(&self) -> u32 {
        self.raw.ssi_pid
    }

    /// The real user id of the sender (`ssi_uid`).
    #[doc(alias = "ssi_uid")]
    pub fn uid(&self) -> u32 {
        self.raw.ssi_uid
    }

    /// The fd for `SIGIO` (`ssi_fd`).
    #[doc(alias = "ssi_fd")]
    pub fn fd(&self) -> i32 {
        self.raw.ssi_fd
    }

    /// The kernel timer id for `SI_TIMER` (`ssi_tid`): not a thread id.
    #[doc(alias = "ssi_tid")]
    pub fn timer_id(&self) -> u32 {
        self.raw.ssi_tid
    }

    /// The band event for `SIGIO` (`ssi_band`).
    #[doc(alias = "ssi_band")]
    pub fn band(&self) -> u32 {
        self.raw.ssi_band
    }

    /// The overrun count for `SI_TIMER` (`ssi_overrun`).
    #[doc(alias = "ssi_overrun")]
    pub fn overrun(&self) -> u32 {
        self.raw.ssi_overrun
    }

    /// The trap number of a hardware fault (`ssi_trapno`).
    #[doc(alias = "ssi_trapno")]
    pub fn trapno(&self) -> u32 {
        self.raw.ssi_trapno
    }

    /// `ssi_status` as the kernel gave it: the exit code or the signal for
    /// `SIGCHLD`; see [`child_status`](SigInfo::child_status).
    #[doc(alias = "ssi_status")]
    pub fn status_raw(&self) -> i32 {
        self.raw.ssi_status
    }

    /// For `SIGCHLD`, how the child changed state; `None` for other signals.
    pub fn child_status(&self) -> Option<ChildStatus> {
        if self.signal() != Signal::CHLD {
            return None;
        }
        let status = self.raw.ssi_status;
        let sig = Signal::from_kernel(status);
        Some(match self.code() {
            SigCode::ChildExited => ChildStatus::Exited(status),
            SigCode::ChildKilled => ChildStatus::Killed {
                signal: sig,
                core_dumped: false,
            },
            SigCode::ChildDumped => ChildStatus::Killed {
                signal: sig,
                core_dumped: true,
            },
            SigCode::ChildStopped => ChildStatus::Stopped(sig),
            SigCode::ChildTrapped => ChildStatus::Trapped(sig),
            SigCode::ChildContinued => ChildStatus::Continued,
            _ => return None,
        })
    }

    /// The int sent with `sigqueue` (`ssi_int`).
    #[doc(alias = "ssi_int")]
    pub fn value_int(&self) -> i32 {
        self.raw.ssi_int
    }

    /// The pointer-sized value sent with `sigqueue` (`ssi_ptr`).
    #[doc(alias = "ssi_ptr")]
    pub fn value_ptr(&self) -> u64 {
        self.raw.ssi_ptr
    }

    /// User CPU time of the child for `SIGCHLD` (`ssi_utime`, in clock ticks
    /// converted with `sysconf(_SC_CLK_TCK)`).
    #[doc(alias = "ssi_utime")]
    pub fn child_utime(&self) -> Duration {
        ticks(self.raw.ssi_utime)
    }

    /// System CPU time of the child for `SIGCHLD` (`ssi_stime`).
    #[doc(alias = "ssi_stime")]
    pub fn child_stime(&self) -> Duration {
        ticks(self.raw.ssi_stime)
    }

    /// The faulting address for hardware faults (`ssi_addr`).
    #[doc(alias = "ssi_addr")]
    pub fn addr(&self) -> u64 {
        self.raw.ssi_addr
    }

    /// The least significant bit of the address for `BUS_MCEERR_*`
    /// (`ssi_addr_lsb`).
    #[doc(alias = "ssi_addr_lsb")]
    pub fn addr_lsb(&self) -> u16 {
        self.raw.ssi_addr_lsb
    }

    /// The system call number for seccomp's `SIGSYS` (`ssi_syscall`).
    #[doc(alias = "ssi_syscall")]
    pub fn syscall(&self) -> i32 {
        self.raw.ssi_syscall
    }

    /// The address of the system call instruction for seccomp's `SIGSYS`
    /// (`ssi_call_addr`).
    #[doc(alias = "ssi_call_addr")]
    pub fn call_addr(&self) -> u64 {
        self.raw.ssi_call_addr
    }

    /// The `AUDIT_ARCH_*` of the system call for seccomp's `SIGSYS`
    /// (`ssi_arch`).
    #[doc(alias = "ssi_arch")]
    pub fn arch(&self) -> u32 {
        self.raw.ssi_arch
    }
}

fn ticks(n: u64) -> Duration {
    // USER_HZ, what the kernel converts these to, is 100 on every Linux ABI.
    const USER_HZ: u64 = 100;
    Duration::from_millis(n.saturating_mul(1000 / USER_HZ))
}

impl fmt::Debug for SigInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sig = self.signal();
        let mut d = f.debug_struct("SigInfo");
        d.field("signal", &sig)
            .field("code", &self.code().name(sig).unwrap_or("?"));
        d.field("pid", &self.pid()).field("uid", &self.uid());
        if let Some(status) = self.child_status() {
            d.field("child", &status);
        }
        if self.code() == SigCode::Queue {
            d.field("value", &self.value_int());
        }
        if self.errno() != 0 {
            d.field("errno", &self.errno());
        }
        d.finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(signo: i32, code: i32, status: i32) -> SigInfo {
        let mut raw = RawSiginfo::ZERO;
        raw.ssi_signo = u32::try_from(signo).unwrap();
        raw.ssi_code = code;
        raw.ssi_status = status;
        SigInfo::from_raw(raw)
    }

    #[test]
    fn generic_codes() {
        let cases = [
            (0, SigCode::User, "SI_USER"),
            (0x80, SigCode::Kernel, "SI_KERNEL"),
            (-1, SigCode::Queue, "SI_QUEUE"),
            (-2, SigCode::Timer, "SI_TIMER"),
            (-3, SigCode::Mesgq, "SI_MESGQ"),
            (-4, SigCode::AsyncIo, "SI_ASYNCIO"),
            (-5, SigCode::SigIo, "SI_SIGIO"),
            (-6, SigCode::Tkill, "SI_TKILL"),
            (-7, SigCode::DeThread, "SI_DETHREAD"),
            (-60, SigCode::AsyncNl, "SI_ASYNCNL"),
        ];
        for (raw, code, name) in cases {
            assert_eq!(SigCode::from_raw(libc::SIGUSR1, raw), code);
            assert_eq!(code.name(Signal::USR1), Some(name));
        }
        assert!(SigCode::User.is_from_process());
        assert!(!SigCode::Kernel.is_from_process());
    }

    #[test]
    fn signal_specific_codes() {
        assert_eq!(
            SigCode::from_raw(libc::SIGSEGV, 1).name(Signal::SEGV),
            Some("SEGV_MAPERR")
        );
        assert_eq!(
            SigCode::from_raw(libc::SIGBUS, 5).name(Signal::BUS),
            Some("BUS_MCEERR_AO")
        );
        assert_eq!(
            SigCode::from_raw(libc::SIGFPE, 1).name(Signal::FPE),
            Some("FPE_INTDIV")
        );
        assert_eq!(
            SigCode::from_raw(libc::SIGTRAP, 2).name(Signal::TRAP),
            Some("TRAP_TRACE")
        );
        assert_eq!(
            SigCode::from_raw(libc::SIGIO, 6).name(Signal::IO),
            Some("POLL_HUP")
        );
        assert_eq!(SigCode::from_raw(libc::SIGSYS, 1), SigCode::Seccomp);
        assert_eq!(SigCode::from_raw(libc::SIGSEGV, 99), SigCode::Other(99));
        assert_eq!(SigCode::from_raw(libc::SIGUSR1, 3), SigCode::Other(3));
        assert_eq!(SigCode::Other(3).name(Signal::USR1), None);
    }

    #[test]
    fn child_statuses() {
        let chld = libc::SIGCHLD;
        assert_eq!(
            info(chld, 1, 7).child_status(),
            Some(ChildStatus::Exited(7))
        );
        assert_eq!(
            info(chld, 2, libc::SIGTERM).child_status(),
            Some(ChildStatus::Killed {
                signal: Signal::TERM,
                core_dumped: false
            })
        );
        let dumped = info(chld, 3, libc::SIGABRT).child_status().unwrap();
        assert_eq!(dumped.to_string(), "killed by signal SIGABRT (core dumped)");
        assert_eq!(
            info(chld, 5, libc::SIGSTOP).child_status(),
            Some(ChildStatus::Stopped(Signal::STOP))
        );
        assert_eq!(
            info(chld, 4, libc::SIGTRAP).child_status(),
            Some(ChildStatus::Trapped(Signal::TRAP))
        );
        assert_eq!(
            info(chld, 6, libc::SIGCONT).child_status(),
            Some(ChildStatus::Continued)
        );
        assert_eq!(info(chld, 0, 0).child_status(), None);
        assert_eq!(info(libc::SIGUSR1, 1, 0).child_status(), None);
        assert_eq!(ChildStatus::Exited(3).to_string(), "exited with code 3");
        assert_eq!(
            ChildStatus::Killed {
                signal: Signal::KILL,
                core_dumped: false
            }
            .to_string(),
            "killed by signal SIGKILL"
        );
    }

    #[test]
    fn debug_names_what_matters() {
        let text = format!("{:?}", info(libc::SIGCHLD, 1, 3));
        assert!(
            text.contains("SIGCHLD") && text.contains("CLD_EXITED") && text.contains("Exited(3)"),
            "{text}"
        );
        assert_eq!(ticks(250), Duration::from_millis(2500));
    }

    proptest::proptest! {
        /// Any record the kernel could hand over (any signal number, code,
        /// status and field values) decodes and prints without panicking,
        /// and what it says agrees with its raw fields.
        #[test]
        fn any_record_decodes(
            signo in proptest::num::u32::ANY,
            code in proptest::num::i32::ANY,
            status in proptest::num::i32::ANY,
            pid in proptest::num::u32::ANY,
            ptr in proptest::num::u64::ANY,
        ) {
            let mut raw = RawSiginfo::ZERO;
            raw.ssi_signo = signo;
            raw.ssi_code = code;
            raw.ssi_status = status;
            raw.ssi_pid = pid;
            raw.ssi_ptr = ptr;
            let info = SigInfo::from_raw(raw);
            let _ = format!("{info:?}");
            proptest::prop_assert_eq!(info.code_raw(), code);
            proptest::prop_assert_eq!(info.value_ptr(), ptr);
            let sig = info.signal();
            let _ = info.code().name(sig);
            if let Some(child) = info.child_status() {
                proptest::prop_assert_eq!(signo, libc::SIGCHLD.cast_unsigned());
                let _ = child.to_string();
            }
        }
    }
}

//! The filter as rules: what the compiler turns into BPF, and what the
//! tests evaluate directly to check the compiled program.

use std::borrow::Cow;
use std::fmt;

use fd_core::{Error, Result};

use crate::action::Action;
use crate::arch::Arch;

/// A syscall a rule applies to: a name, resolved per architecture when
/// the filter is compiled, or a number used as is on every architecture
/// of the filter.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Syscall {
    /// A name from the architecture's table (`openat`).
    Name(Cow<'static, str>),
    /// A raw number, used as is on every architecture of the filter (x32's
    /// include [`X32_SYSCALL_BIT`](crate::X32_SYSCALL_BIT)). For libseccomp's
    /// meaning of a number (this machine's, carried by name), use
    /// [`Syscall::native`].
    Nr(u32),
}

impl From<&'static str> for Syscall {
    fn from(name: &'static str) -> Syscall {
        Syscall::Name(Cow::Borrowed(name))
    }
}

impl From<String> for Syscall {
    fn from(name: String) -> Syscall {
        Syscall::Name(Cow::Owned(name))
    }
}

impl From<u32> for Syscall {
    fn from(nr: u32) -> Syscall {
        Syscall::Nr(nr)
    }
}

impl Syscall {
    /// A number as libseccomp takes one: the syscall of that number on
    /// this machine's architecture, carried to the filter's other
    /// architectures by its name (`0` on x86_64 is `read`, so 63 on
    /// aarch64). A number this machine's table has no name for is used as
    /// is on every architecture, as [`Syscall::Nr`].
    pub fn native(nr: u32) -> Syscall {
        match Arch::native().and_then(|a| a.syscall_name(nr)) {
            Some(name) => Syscall::Name(Cow::Borrowed(name)),
            None => Syscall::Nr(nr),
        }
    }

    /// The number on `arch`, if it has one.
    pub fn on(&self, arch: Arch) -> Option<u32> {
        match self {
            Syscall::Name(name) => arch.syscall(name),
            Syscall::Nr(nr) => Some(*nr),
        }
    }
}

impl fmt::Display for Syscall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Syscall::Name(n) => f.write_str(n),
            Syscall::Nr(nr) => write!(f, "#{nr}"),
        }
    }
}

/// How an argument is compared.
///
/// The kernel hands every argument over as 64 bits. C `int`, `unsigned
/// int`, `mode_t`, `pid_t` and flag arguments are 32 bits wide, and what
/// lands in the upper half depends on the caller: some C libraries
/// sign-extend a negative `int` (`-1` arrives as `0xffff_ffff_ffff_ffff`),
/// others leave it zero (`0x0000_0000_ffff_ffff`). For such arguments use
/// a 32-bit width, which compares the lower half only, so both forms match.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Width {
    /// All 64 bits, unsigned (`size_t`, pointers, `unsigned long`): the default.
    U64,
    /// All 64 bits as a signed `long`/`off_t`.
    I64,
    /// The lower 32 bits, unsigned (`unsigned int`, flags, `mode_t`).
    U32,
    /// The lower 32 bits as a signed `int` (`fd`, `pid_t`).
    I32,
}

impl Width {
    fn bits(self) -> u32 {
        match self {
            Width::U64 | Width::I64 => 64,
            Width::U32 | Width::I32 => 32,
        }
    }

    fn signed(self) -> bool {
        matches!(self, Width::I64 | Width::I32)
    }
}

/// A comparison operator.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum CmpOp {
    /// `arg == value`
    Eq,
    /// `arg != value`
    Ne,
    /// `arg < value`
    Lt,
    /// `arg <= value`
    Le,
    /// `arg > value`
    Gt,
    /// `arg >= value`
    Ge,
    /// `arg & mask == value`
    MaskedEq(u64),
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmpOp::Eq => f.write_str("=="),
            CmpOp::Ne => f.write_str("!="),
            CmpOp::Lt => f.write_str("<"),
            CmpOp::Le => f.write_str("<="),
            CmpOp::Gt => f.write_str(">"),
            CmpOp::Ge => f.write_str(">="),
            CmpOp::MaskedEq(m) => write!(f, "& {m:#x} =="),
        }
    }
}

/// A value to compare an argument with: unsigned and signed integers are
/// taken as their two's-complement bit pattern, so `-1i32` and
/// `0xffff_ffffu32` are the same 32-bit value.
pub trait ArgValue: Copy {
    /// The value as 64 bits (signed types sign-extended).
    fn to_bits(self) -> u64;
}

macro_rules! arg_value {
    ($($t:ty => $via:ty),*) => {$(
        impl ArgValue for $t {
            #[allow(clippy::cast_sign_loss, clippy::cast_lossless)]
            fn to_bits(self) -> u64 { self as $via as u64 }
        }
    )*};
}
arg_value!(u64 => u64, u32 => u64, u16 => u64, u8 => u64, usize => u64, i64 => i64, i32 => i64, i16 => i64, i8 => i64, isize => i64);

/// A syscall argument (0 to 5) with the width it is compared at.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Arg {
    index: u8,
    width: Width,
}

impl Arg {
    /// Argument `index` as an unsigned 64-bit value (pointers, sizes).
    pub const fn new(index: u8) -> Arg {
        Arg {
            index,
            width: Width::U64,
        }
    }

    /// Argument `index` as an unsigned 32-bit value (flags, modes): the
    /// upper half is ignored.
    pub const fn u32(index: u8) -> Arg {
        Arg {
            index,
            width: Width::U32,
        }
    }

    /// Argument `index` as a signed 32-bit `int` (fds, pids): the upper
    /// half is ignored, `<` and `>` are signed.
    pub const fn i32(index: u8) -> Arg {
        Arg {
            index,
            width: Width::I32,
        }
    }

    /// Argument `index` as a signed 64-bit `long` (`off_t`).
    pub const fn i64(index: u8) -> Arg {
        Arg {
            index,
            width: Width::I64,
        }
    }

    /// Argument `index` at any width.
    pub const fn with_width(index: u8, width: Width) -> Arg {
        Arg { index, width }
    }

    /// The argument's index.
    pub const fn index(self) -> u8 {
        self.index
    }

    /// The width it is compared at.
    pub const fn width(self) -> Width {
        self.width
    }

    fn cmp(self, op: CmpOp, value: impl ArgValue) -> Cmp {
        Cmp {
            arg: self,
            op,
            value: value.to_bits(),
        }
    }

    /// `arg == value` (not `eq`, which is `PartialEq`'s: two `Arg`s
    /// compare with `==`).
    #[doc(alias = "eq")]
    pub fn equal(self, value: impl ArgValue) -> Cmp {
        self.cmp(CmpOp::Eq, value)
    }
    /// `arg != value` (not `ne`, which is `PartialEq`'s).
    #[doc(alias = "ne")]
    pub fn not_equal(self, value: impl ArgValue) -> Cmp {
        self.cmp(CmpOp::Ne, value)
    }
    /// `arg < value`
    pub fn lt(self, value: impl ArgValue) -> Cmp {
        self.cmp(CmpOp::Lt, value)
    }
    /// `arg <= value`
    pub fn le(self, value: impl ArgValue) -> Cmp {
        self.cmp(CmpOp::Le, value)
    }
    /// `arg > value`
    pub fn gt(self, value: impl ArgValue) -> Cmp {
        self.cmp(CmpOp::Gt, value)
    }
    /// `arg >= value`
    pub fn ge(self, value: impl ArgValue) -> Cmp {
        self.cmp(CmpOp::Ge, value)
    }
    /// `arg & mask == value` (`value` must have no bit outside `mask`).
    pub fn masked_eq(self, mask: impl ArgValue, value: impl ArgValue) -> Cmp {
        self.cmp(CmpOp::MaskedEq(mask.to_bits()), value)
    }
}

/// One argument comparison.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Cmp {
    /// The argument and its width.
    pub arg: Arg,
    /// The operator.
    pub op: CmpOp,
    /// The value, as 64 bits.
    pub value: u64,
}

impl Cmp {
    /// Refuses what the kernel cannot check or what can never match.
    ///
    /// # Errors
    /// `InvalidInput`: an index over 5; a value that does not fit a 32-bit
    /// width. (A masked value with bits outside its mask is compiled as
    /// libseccomp compiles it, masked too, with a
    /// [`Program::warnings`](crate::Program::warnings) entry.)
    pub fn validate(&self) -> Result<()> {
        let Arg { index, width } = self.arg;
        if index > 5 {
            return Err(Error::invalid_input(
                "seccomp",
                format!("argument index {index}: syscalls have arguments 0 to 5"),
            ));
        }
        if width.bits() == 32 {
            let fits = self.value >> 32 == 0 || self.value >> 31 == 0x1_ffff_ffff;
            let mask_fits = match self.op {
                CmpOp::MaskedEq(m) => m >> 32 == 0 || m >> 31 == 0x1_ffff_ffff,
                _ => true,
            };
            if !fits || !mask_fits {
                return Err(Error::invalid_input(
                    "seccomp",
                    format!(
                        "{:#x} does not fit 32 bits, and argument {index} is compared at 32 bits ({width:?}): use a 64-bit width",
                        self.value
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A masked comparison whose value has bits outside its mask, as
    /// libseccomp takes it (the value masked too), and the warning that
    /// says so; `None` for any other.
    pub(crate) fn masked_as_libseccomp(&self) -> Option<(Cmp, String)> {
        let CmpOp::MaskedEq(mask) = self.op else {
            return None;
        };
        let (m, v) = (self.norm(mask), self.norm(self.value));
        if v & !m == 0 {
            return None;
        }
        let index = self.arg.index;
        let warning = format!(
            "argument {index} & {m:#x} == {v:#x}: the value has bits outside the mask; compared as == {:#x} (the value masked too), as libseccomp does",
            v & m
        );
        Some((
            Cmp {
                value: self.value & mask,
                ..*self
            },
            warning,
        ))
    }

    fn norm(&self, v: u64) -> u64 {
        if self.arg.width.bits() == 32 {
            v & 0xffff_ffff
        } else {
            v
        }
    }

    /// Whether the comparison holds for these arguments: the reference the
    /// compiled BPF is tested against.
    pub fn matches(&self, args: &[u64; 6]) -> bool {
        let raw = args.get(usize::from(self.arg.index)).copied().unwrap_or(0);
        let (a, v) = (self.norm(raw), self.norm(self.value));
        let ord = match self.arg.width {
            Width::U64 | Width::U32 => a.cmp(&v),
            #[allow(clippy::cast_possible_wrap)]
            Width::I64 => (a as i64).cmp(&(v as i64)),
            #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
            Width::I32 => (a as u32 as i32).cmp(&(v as u32 as i32)),
        };
        match self.op {
            CmpOp::Eq => a == v,
            CmpOp::Ne => a != v,
            CmpOp::Lt => ord.is_lt(),
            CmpOp::Le => ord.is_le(),
            CmpOp::Gt => ord.is_gt(),
            CmpOp::Ge => ord.is_ge(),
            // As libseccomp: the value is masked too.
            CmpOp::MaskedEq(m) => a & self.norm(m) == v & self.norm(m),
        }
    }

    /// Whether the comparison holds for a call on `arch`: as
    /// [`matches`](Cmp::matches), but on an ABI whose arguments are 32-bit
    /// ([`Arch::arg_bits`]) in the low words only, as the compiled filter
    /// (and libseccomp's) compares them there.
    pub fn matches_on(&self, arch: Arch, args: &[u64; 6]) -> bool {
        self.on(arch).matches(args)
    }

    /// The comparison as it is compiled for `arch`: a 64-bit width
    /// becomes the 32-bit one of the same sign on a 32-bit ABI.
    pub(crate) fn on(&self, arch: Arch) -> Cmp {
        if arch.arg_bits() == 64 {
            return *self;
        }
        let width = match self.arg.width {
            Width::U64 => Width::U32,
            Width::I64 => Width::I32,
            w => w,
        };
        Cmp {
            arg: Arg { width, ..self.arg },
            ..*self
        }
    }

    /// Whether, on `arch`, a 64-bit value (or mask) of this comparison
    /// has a high word that is neither zero nor the low word's sign
    /// extension, which a 32-bit ABI cannot compare.
    pub(crate) fn narrowed(&self, arch: Arch) -> bool {
        if arch.arg_bits() == 64 || self.is_32() {
            return false;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        let wide = |v: u64| v >> 32 != 0 && (v as i64) != i64::from(v as u32 as i32);
        let mask = match self.op {
            CmpOp::MaskedEq(m) => m,
            _ => 0,
        };
        wide(self.value) || wide(mask)
    }

    pub(crate) fn signed(&self) -> bool {
        self.arg.width.signed()
    }

    pub(crate) fn is_32(&self) -> bool {
        self.arg.width.bits() == 32
    }
}

impl fmt::Display for Cmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arg{} {} {:#x}",
            self.arg.index,
            self.op,
            self.norm(self.value)
        )
    }
}

/// A rule: a syscall, the comparisons that must all hold, and the action
/// when they do.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Rule {
    /// The syscall.
    pub syscall: Syscall,
    /// Comparisons, all of which must hold (none: every call matches).
    pub cmps: Vec<Cmp>,
    /// The action when the rule matches.
    pub action: Action,
    /// The architectures the rule is for; empty: every architecture the
    /// filter covers (libseccomp's rule added to one filter of a merge,
    /// or after `seccomp_arch_add`).
    pub arches: Vec<Arch>,
}

impl Rule {
    /// A rule matching every call of `syscall`.
    pub fn new(syscall: impl Into<Syscall>, action: Action) -> Rule {
        Rule {
            syscall: syscall.into(),
            cmps: Vec::new(),
            action,
            arches: Vec::new(),
        }
    }

    /// Limits the rule to calls from `arches` (of those the filter
    /// covers); a call from another gets what the other rules and the
    /// default say.
    #[must_use]
    pub fn only_on(mut self, arches: impl IntoIterator<Item = Arch>) -> Rule {
        self.arches = arches.into_iter().collect();
        self
    }

    /// Whether the rule is for calls from `arch`.
    pub fn is_for(&self, arch: Arch) -> bool {
        self.arches.is_empty() || self.arches.contains(&arch)
    }

    /// Adds a comparison that must also hold.
    #[must_use]
    pub fn when(mut self, cmp: Cmp) -> Rule {
        self.cmps.push(cmp);
        self
    }

    /// Whether the rule's comparisons hold for `args` (on a 64-bit ABI;
    /// see [`matches_on`](Rule::matches_on)).
    pub fn matches(&self, args: &[u64; 6]) -> bool {
        self.cmps.iter().all(|c| c.matches(args))
    }

    /// Whether the rule's comparisons hold for a call on `arch` (see
    /// [`Cmp::matches_on`]).
    pub fn matches_on(&self, arch: Arch, args: &[u64; 6]) -> bool {
        self.cmps.iter().all(|c| c.matches_on(arch, args))
    }
}

/// What to do with a syscall name a filter's architectures do not know.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Unknown {
    /// Fail to compile, naming the syscall and the architectures (default).
    #[default]
    Error,
    /// Leave the rule out (what container runtimes do with a profile that
    /// names syscalls newer than their tables); [`Program::skipped`](crate::Program::skipped) lists them.
    Skip,
}

/// A seccomp filter: a default action, rules, and the architectures it
/// covers.
///
/// **Which rule wins.** For a call matching several rules of one syscall,
/// the most restrictive action wins, in [`Action`]'s order
/// (`KILL_PROCESS` first, `ALLOW` last): the order in which the kernel
/// ranks the answers of stacked filters, so one filter with two rules
/// answers as two filters with one rule each would. Between two matching
/// rules with the same action and different data (`ERRNO(EPERM)` and
/// `ERRNO(EACCES)`), the one added first. An unconditional rule and a
/// conditional one follow the same rule. A call matching no rule gets the
/// default action. A call from an architecture the filter does not cover
/// gets the bad-architecture action (`KILL_PROCESS` unless set).
///
/// **Multiplexers.** On an architecture with `socketcall` or `ipc` (i386
/// here), a rule on a socket or SysV IPC call also covers that call made
/// through the multiplexer (`socketcall(SYS_SOCKET, …)`), by the call
/// number in its first argument. The multiplexed call's own arguments are
/// in the caller's memory, out of BPF's reach: a rule with comparisons
/// covers it only when it is more restrictive than the default action, and
/// then every such call (denying `socket(AF_INET, …)` denies every
/// `socketcall(SYS_SOCKET, …)`); a less restrictive one with comparisons
/// leaves the multiplexed call to the other rules and the default.
///
/// **As libseccomp**: a masked comparison whose value has bits outside its
/// mask (`arg & 0xf0 == 0x0f`) compares with those bits cleared (`== 0`),
/// and [`Program::warnings`](crate::Program::warnings) says so. A rule can
/// be [limited to some architectures](Rule::only_on), as a rule added to
/// one of libseccomp's merged filters is. On an ABI whose arguments are
/// 32-bit ([`Arch::arg_bits`]: x86, x32, arm, o32 and n32 MIPS, ppc, s390,
/// PA-RISC, SuperH, m68k) a comparison tests the low word only, its value
/// cut to 32 bits (with a warning when that changes it); on a big-endian
/// machine the words are where that machine puts them.
///
/// **Where libseccomp answers otherwise**, on purpose:
/// - Overlapping rules of one syscall: libseccomp builds one decision tree
///   per syscall, in which an unconditional rule shadows every conditional
///   one and, of two matching conditional rules, the one its tree tests
///   first wins, whatever their actions. Here the most restrictive match
///   always wins, so adding a deny never lets a call through.
/// - A multiplexed twin of a less restrictive rule with comparisons:
///   libseccomp drops the comparisons (allowing every family through
///   `socketcall`); here there is no twin (see above).
///
/// ```
/// use butter::seccomp::{Action, Arg, Filter, Rule};
///
/// let filter = Filter::new(Action::Errno(1))
///     .allow(["read", "write", "exit_group"])
///     .rule(Rule::new("openat", Action::Errno(13)).when(Arg::u32(2).masked_eq(3u32, 1u32)));
/// let program = filter.compile()?;
/// assert!(program.len() < 40);
/// # Ok::<(), butter::seccomp::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Filter {
    pub(crate) default: Action,
    pub(crate) bad_arch: Action,
    pub(crate) arches: Vec<Arch>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) unknown: Unknown,
    pub(crate) enosys_for_newer: bool,
    pub(crate) precedence: Precedence,
}

/// How the rules of one syscall decide a call that more than one of them
/// matches.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[non_exhaustive]
pub enum Precedence {
    /// The most restrictive matching rule wins, always (the kernel's order
    /// between stacked filters): adding a deny never lets a call through.
    /// The default for filters built in code and for rule files.
    #[default]
    MostRestrictive,
    /// As libseccomp builds its filters (so runc, crun, Docker and podman
    /// answer): the first unconditional rule on a syscall decides every
    /// call of it, whatever comes after; an unconditional rule added after
    /// conditional ones replaces them. Between conditional rules alone,
    /// the most restrictive match still wins here (then the rule given
    /// first), where libseccomp's answer depends on the order its decision
    /// tree tests the arguments: of `errno(5)` for `arg2 > 128` and
    /// `errno(6)` for `arg2 > 256`, libseccomp answers 257 with `errno(6)`
    /// (its regression test 43), this with `errno(5)`.
    /// The default for Docker / OCI profiles. Where the two differ:
    /// containers-common's profile allows `setns` for everyone and denies
    /// it again to containers without `CAP_SYS_ADMIN`; libseccomp (and so
    /// this) allows it, the most restrictive rule denies it.
    Libseccomp,
}

impl fmt::Display for Precedence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precedence::MostRestrictive => "most restrictive match wins",
            Precedence::Libseccomp => {
                "as libseccomp: a syscall's first unconditional rule decides it"
            }
        })
    }
}

impl Filter {
    /// A filter answering `default` for every call no rule matches,
    /// covering this program's own architecture.
    pub fn new(default: Action) -> Filter {
        Filter {
            default,
            bad_arch: Action::KillProcess,
            arches: Arch::native().into_iter().collect(),
            rules: Vec::new(),
            unknown: Unknown::Error,
            enosys_for_newer: false,
            precedence: Precedence::MostRestrictive,
        }
    }

    /// Sets the architectures covered, replacing the default (the
    /// native one). x86_64 without x32 refuses x32's numbers.
    #[must_use]
    pub fn arches(mut self, arches: impl IntoIterator<Item = Arch>) -> Filter {
        self.arches.clear();
        for arch in arches {
            if !self.arches.contains(&arch) {
                self.arches.push(arch);
            }
        }
        self
    }

    /// Adds an architecture.
    #[must_use]
    pub fn arch(mut self, arch: Arch) -> Filter {
        if !self.arches.contains(&arch) {
            self.arches.push(arch);
        }
        self
    }

    /// The action for calls from architectures the filter does not cover
    /// (and x32 numbers under an x86_64-only filter). Default `KILL_PROCESS`.
    #[must_use]
    pub fn bad_arch(mut self, action: Action) -> Filter {
        self.bad_arch = action;
        self
    }

    /// Adds a rule.
    #[must_use]
    pub fn rule(mut self, rule: Rule) -> Filter {
        self.rules.push(rule);
        self
    }

    /// Adds a rule in place.
    pub fn push(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    /// Allows each of these syscalls unconditionally.
    #[must_use]
    pub fn allow<S: Into<Syscall>>(mut self, syscalls: impl IntoIterator<Item = S>) -> Filter {
        for s in syscalls {
            self.rules.push(Rule::new(s, Action::Allow));
        }
        self
    }

    /// Answers `action` for each of these syscalls unconditionally.
    #[must_use]
    pub fn with_action<S: Into<Syscall>>(
        mut self,
        action: Action,
        syscalls: impl IntoIterator<Item = S>,
    ) -> Filter {
        for s in syscalls {
            self.rules.push(Rule::new(s, action));
        }
        self
    }

    /// Sets how rules of one syscall that all match a call decide it (see
    /// [`Precedence`]).
    #[must_use]
    pub fn precedence(mut self, precedence: Precedence) -> Filter {
        self.precedence = precedence;
        self
    }

    /// How rules of one syscall decide a call more than one matches.
    pub fn precedence_rule(&self) -> Precedence {
        self.precedence
    }

    /// What to do with names none of the filter's architectures know.
    #[must_use]
    pub fn unknown_syscalls(mut self, unknown: Unknown) -> Filter {
        self.unknown = unknown;
        self
    }

    /// Answers `ERRNO(ENOSYS)` for numbers above the newest syscall in
    /// this crate's table for each architecture (runc's stub), so that a C
    /// library newer than the filter falls back to an older call instead
    /// of failing with the default action. Off by default; it has no
    /// effect when the default action is `ALLOW` or `LOG`.
    #[must_use]
    pub fn enosys_for_newer(mut self, on: bool) -> Filter {
        self.enosys_for_newer = on;
        self
    }

    /// The default action.
    pub fn default_action(&self) -> Action {
        self.default
    }

    /// The bad-architecture action.
    pub fn bad_arch_action(&self) -> Action {
        self.bad_arch
    }

    /// The architectures covered.
    pub fn architectures(&self) -> &[Arch] {
        &self.arches
    }

    /// The rules, in the order added.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The answer for a call, from the rules directly (no BPF): the
    /// reference the compiled program is tested against. `audit` and `nr`
    /// are `seccomp_data`'s `arch` and `nr`.
    pub fn evaluate(&self, audit: u32, nr: u32, args: &[u64; 6]) -> Action {
        let covered = Arch::from_audit(audit)
            .iter()
            .any(|a| self.arches.contains(a));
        if nr == u32::MAX {
            // A tracer's "skip this call": never an x32 number, never a rule.
            return if covered { self.default } else { self.bad_arch };
        }
        // x86_64's audit id with an x32 number under a filter without x32
        // (or the reverse), or an architecture not covered.
        let Some(arch) = Arch::of_call(audit, nr).filter(|a| self.arches.contains(a)) else {
            return self.bad_arch;
        };
        if self.stub_applies() && nr > self.stub_threshold(arch) {
            return Action::Errno(38);
        }
        let mut best: Option<Action> = None;
        for (rule_nr, _, rule) in self.rules_on(arch) {
            if rule_nr == nr
                && rule.matches_on(arch, args)
                && best.is_none_or(|b| rule.action.precedence() < b.precedence())
            {
                best = Some(rule.action);
            }
        }
        best.unwrap_or(self.default)
    }

    /// The rules that apply on `arch`, in the order added, each with its
    /// syscall's number there and the index of the rule it comes from:
    /// the rules that name a syscall `arch` has, and the twins on the
    /// multiplexers (`socketcall`, `ipc`) of those on calls the
    /// architecture also routes through one (see the crate docs).
    pub(crate) fn rules_on(&self, arch: Arch) -> Vec<(u32, usize, Cow<'_, Rule>)> {
        let mut out = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.is_for(arch) {
                continue;
            }
            if let Some(nr) = rule.syscall.on(arch)
                && nr != u32::MAX
            {
                out.push((nr, i, Cow::Borrowed(rule)));
            }
            if let Some((nr, twin)) = crate::multiplex::twin(arch, rule, self.default) {
                out.push((nr, i, Cow::Owned(twin)));
            }
        }
        if self.precedence == Precedence::Libseccomp {
            // A syscall's first unconditional rule decides it: libseccomp
            // drops every rule added after it, and the conditional ones
            // added before.
            let mut first: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
            for (nr, i, rule) in &out {
                if rule.cmps.is_empty() {
                    first.entry(*nr).or_insert(*i);
                }
            }
            out.retain(|(nr, i, _)| first.get(nr).is_none_or(|f| f == i));
        }
        out
    }

    /// Numbers above this get the ENOSYS stub on `arch`: the newest
    /// syscall in the table, or a higher number a rule names.
    pub(crate) fn stub_threshold(&self, arch: Arch) -> u32 {
        let rules = self
            .rules
            .iter()
            .filter(|r| r.is_for(arch))
            .filter_map(|r| r.syscall.on(arch));
        rules.chain([arch.max_syscall()]).max().unwrap_or(0)
    }

    pub(crate) fn stub_applies(&self) -> bool {
        self.enosys_for_newer && !matches!(self.default, Action::Allow | Action::Log)
    }
}

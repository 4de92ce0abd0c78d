//! `butter seccomp`: compile, simulate, run under and trace with seccomp
//! filters (seccomp-lite).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use butter::seccomp::{
    Action, Arch, Arg, Filter, Listener, Notification, Profile, ProfileOptions, Program, Response,
    Rule, SeccompCommandExt, Width, handoff,
};

use crate::output::{Outcome, UsageError, emit, fail, fail_exec, print};

/// `butter seccomp`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    help_template = crate::output::HELP_TEMPLATE,
    about = "Compile, simulate, run under and trace with seccomp filters (no libseccomp)"
)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Sub,
}

/// The `butter seccomp` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Sub {
    /// Compile a Docker/OCI JSON profile or a rule file to BPF.
    #[command(help_template = crate::output::HELP_TEMPLATE, long_about = RULES_HELP)]
    Compile {
        /// The profile (JSON) or rule file.
        profile: PathBuf,
        /// Architectures to cover (repeat; default: the profile's, or this machine's).
        #[arg(long = "arch", value_name = "ARCH")]
        arches: Vec<String>,
        /// Write the raw BPF (what seccomp_export_bpf writes) to this file.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Print the disassembly.
        #[arg(long)]
        disasm: bool,
        /// One JSON object: size, depth, cached and argument-checked syscalls.
        #[arg(long)]
        json: bool,
    },
    /// The action a filter takes for one call.
    #[command(help_template = crate::output::HELP_TEMPLATE)]
    Sim {
        /// A profile, a rule file, or raw BPF bytes.
        filter: PathBuf,
        /// The caller's architecture (default: this machine's).
        #[arg(long)]
        arch: Option<String>,
        /// The syscall, by name or number.
        syscall: String,
        /// Up to six arguments (decimal, 0x hex, or negative).
        #[arg(allow_negative_numbers = true, num_args = 0..=6)]
        args: Vec<String>,
    },
    /// Run a command under a filter.
    #[command(help_template = crate::output::HELP_TEMPLATE)]
    Run {
        /// Start from this profile or rule file.
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Fail SYSCALL with ERRNO (default EPERM); repeat.
        #[arg(long, value_name = "SYSCALL[=ERRNO]")]
        deny: Vec<String>,
        /// Allow SYSCALL; repeat. With --allow and no --default, everything else gets EPERM.
        #[arg(long, value_name = "SYSCALL")]
        allow: Vec<String>,
        /// The action for everything else (allow, log, errno(EPERM), kill, ...).
        #[arg(long, value_name = "ACTION")]
        default: Option<String>,
        /// The command and its arguments (options go before it, or before
        /// `--`; from its name on, every word is the command's).
        #[arg(required = true, trailing_var_arg = true)]
        command: Vec<String>,
    },
    /// Run a command and print every call of chosen syscalls, with paths,
    /// through a user-notification listener (no ptrace).
    ///
    /// Paths and addresses are read from the caller's memory while the
    /// call waits; another thread of the traced program can change them
    /// before the kernel reads them, so what is printed is a record, not a
    /// security decision (`--deny` goes by syscall, never by path).
    #[command(help_template = crate::output::HELP_TEMPLATE)]
    Trace {
        /// The syscalls to report (comma-separated).
        #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_TRACE.iter().map(|s| (*s).to_string()))]
        syscalls: Vec<String>,
        /// Answer SYSCALL with ERRNO (default EPERM) instead of letting it run; repeat.
        #[arg(long, value_name = "SYSCALL[=ERRNO]")]
        deny: Vec<String>,
        /// One JSON object per call.
        #[arg(long)]
        json: bool,
        /// The command and its arguments (options go before it, or before
        /// `--`; from its name on, every word is the command's).
        #[arg(required = true, trailing_var_arg = true)]
        command: Vec<String>,
    },
}

const RULES_HELP: &str = "\
PROFILE is a Docker/OCI JSON seccomp profile (it starts with '{'), or a rule file, one rule per line:

  default errno(EPERM)          the action for everything else (default: allow)
  arch x86_64 aarch64           the architectures covered (default: this machine's)
  badarch kill                  the action for other architectures (default: kill_process)
  allow read,write,close        ACTION SYSCALL[,SYSCALL...] [CONDITION...]
  errno(EACCES) openat arg2:u32&3==1
  kill ptrace
  # comments

A CONDITION is argN[:WIDTH]OP VALUE with no spaces: OP is ==, !=, <, <=, >, >= or &MASK==; WIDTH is \
u64 (default), i64, u32 or i32 (32-bit widths ignore the upper half, for int arguments). Actions: \
allow, log, errno(N|ENAME), trap(N), trace(N), user_notif, kill_thread, kill_process. When several \
rules match a call, the most restrictive action wins.";

/// Syscalls `trace` reports unless told otherwise.
pub const DEFAULT_TRACE: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "execve",
    "execveat",
    "connect",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "mkdir",
    "mkdirat",
];

/// Runs `butter seccomp`.
pub fn run(args: &Args) -> Outcome {
    match &args.command {
        Sub::Compile {
            profile,
            arches,
            output,
            disasm,
            json,
        } => compile(profile, arches, output.as_deref(), *disasm, *json),
        Sub::Sim {
            filter,
            arch,
            syscall,
            args,
        } => sim(filter, arch.as_deref(), syscall, args),
        Sub::Run {
            profile,
            deny,
            allow,
            default,
            command,
        } => run_under(profile.as_deref(), deny, allow, default.as_deref(), command),
        Sub::Trace {
            syscalls,
            deny,
            json,
            command,
        } => trace(syscalls, deny, *json, command),
    }
}

fn usage(e: impl std::fmt::Display) -> UsageError {
    UsageError(e.to_string())
}

fn parse_number(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let parsed = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if let Some(neg) = t.strip_prefix('-') {
        neg.parse::<i64>()
            .ok()
            .map(|n| n.wrapping_neg().cast_unsigned())
    } else {
        t.parse::<u64>().ok()
    };
    parsed.ok_or_else(|| format!("{text:?} is not a number"))
}

/// One condition of a rule file: `arg2:u32&3==1`, `arg0>=5`.
fn parse_condition(text: &str) -> Result<butter::seccomp::Cmp, String> {
    let bad = || {
        format!("condition {text:?}: expected argN[:WIDTH]OP VALUE, as arg0==1 or arg2:u32&3==1")
    };
    let rest = text.strip_prefix("arg").ok_or_else(bad)?;
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let index: u8 = rest[..digits].parse().map_err(|_| bad())?;
    let mut rest = &rest[digits..];
    let mut width = Width::U64;
    if let Some(r) = rest.strip_prefix(':') {
        let w: String = r.chars().take_while(char::is_ascii_alphanumeric).collect();
        width = match w.as_str() {
            "u64" => Width::U64,
            "i64" => Width::I64,
            "u32" => Width::U32,
            "i32" => Width::I32,
            _ => {
                return Err(format!(
                    "condition {text:?}: width {w:?} is not u64, i64, u32 or i32"
                ));
            }
        };
        rest = &r[w.len()..];
    }
    let arg = Arg::with_width(index, width);
    if let Some(r) = rest.strip_prefix('&') {
        let (mask, value) = r.split_once("==").ok_or_else(bad)?;
        return Ok(arg.masked_eq(parse_number(mask)?, parse_number(value)?));
    }
    type MakeCmp = fn(Arg, u64) -> butter::seccomp::Cmp;
    let ops: [(&str, MakeCmp); 6] = [
        ("==", |a, v| a.equal(v)),
        ("!=", |a, v| a.not_equal(v)),
        ("<=", |a, v| a.le(v)),
        (">=", |a, v| a.ge(v)),
        ("<", |a, v| a.lt(v)),
        (">", |a, v| a.gt(v)),
    ];
    for (op, make) in ops {
        if let Some(v) = rest.strip_prefix(op) {
            return Ok(make(arg, parse_number(v)?));
        }
    }
    Err(bad())
}

/// Parses our rule file format (see `butter seccomp compile --help`).
///
/// # Errors
/// A message naming the line.
pub fn parse_rules(text: &str) -> Result<Filter, String> {
    let mut default = Action::Allow;
    let mut arches: Vec<Arch> = Vec::new();
    let mut bad_arch = Action::KillProcess;
    let mut rules = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", n + 1);
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        match first {
            "default" => {
                default = words
                    .next()
                    .ok_or_else(|| at("default needs an action".into()))?
                    .parse()
                    .map_err(|e| at(format!("{e}")))?
            }
            "badarch" => {
                bad_arch = words
                    .next()
                    .ok_or_else(|| at("badarch needs an action".into()))?
                    .parse()
                    .map_err(|e| at(format!("{e}")))?
            }
            "arch" => {
                for a in words {
                    arches.push(a.parse().map_err(|e| at(format!("{e}")))?);
                }
            }
            action => {
                let action: Action = action.parse().map_err(|e| at(format!("{e}")))?;
                let names = words
                    .next()
                    .ok_or_else(|| at("a rule needs a syscall".into()))?;
                let cmps = words
                    .map(parse_condition)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(at)?;
                for name in names.split(',').filter(|s| !s.is_empty()) {
                    let mut rule = match name.parse::<u32>() {
                        Ok(nr) => Rule::new(nr, action),
                        Err(_) => Rule::new(name.to_string(), action),
                    };
                    rule.cmps.clone_from(&cmps);
                    rules.push(rule);
                }
            }
        }
    }
    let mut filter = Filter::new(default).bad_arch(bad_arch);
    if !arches.is_empty() {
        filter = filter.arches(arches);
    }
    for r in rules {
        filter.push(r);
    }
    Ok(filter)
}

/// The most `read_capped` reads: a BPF program is at most 32 KiB (4096
/// instructions), Docker's profile about 20 KiB.
const MAX_INPUT: u64 = 16 << 20;

/// Reads a profile, rule file or BPF program, refusing what is larger than
/// any of them can be (`/dev/zero` would otherwise be read until memory
/// ran out).
fn read_capped(path: &Path) -> Result<Vec<u8>, UsageError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| usage(format!("{}: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(usage(format!(
            "{}: over {} MiB: no profile, rule file or BPF program is that large (a program is at most 32 KiB)",
            path.display(),
            MAX_INPUT >> 20
        )));
    }
    Ok(bytes)
}

fn load_filter(path: &Path, arches: &[String]) -> Result<Filter, UsageError> {
    let text = String::from_utf8(read_capped(path)?).map_err(|_| {
        usage(format!(
            "{}: not UTF-8 text: a profile is JSON, a rule file text",
            path.display()
        ))
    })?;
    let mut filter = if text.trim_start().starts_with('{') {
        let profile =
            Profile::parse(&text).map_err(|e| usage(format!("{}: {e}", path.display())))?;
        let filter = profile
            .to_filter(&ProfileOptions::default())
            .map_err(|e| usage(format!("{}: {e}", path.display())))?;
        let dropped = profile.unsupported_architectures();
        if !dropped.is_empty() && arches.is_empty() {
            eprintln!(
                "butter seccomp: warning: {}: no syscall table here for {}; calls from {} get the bad-architecture action ({})",
                path.display(),
                dropped.join(", "),
                if dropped.len() == 1 { "it" } else { "them" },
                filter.bad_arch_action()
            );
        }
        filter
    } else {
        parse_rules(&text).map_err(|e| usage(format!("{}: {e}", path.display())))?
    };
    if !arches.is_empty() {
        let parsed = arches
            .iter()
            .map(|a| a.parse::<Arch>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(usage)?;
        filter = filter.arches(parsed);
    }
    Ok(filter)
}

fn compile(
    path: &Path,
    arches: &[String],
    output: Option<&Path>,
    disasm: bool,
    json: bool,
) -> Outcome {
    let filter = load_filter(path, arches)?;
    let start = std::time::Instant::now();
    let program = filter.compile().map_err(usage)?;
    let took = start.elapsed();
    if let Some(out) = output
        && let Err(e) = std::fs::write(out, program.to_bytes())
    {
        return Ok(fail(&format!("{}: {e}", out.display())));
    }
    if json {
        let per_arch: Vec<serde_json::Value> = program
            .arches()
            .iter()
            .map(|&a| {
                serde_json::json!({
                    "arch": a.name(),
                    "cached_allows": program.cached_allows(a).iter().map(|(n, _)| *n).collect::<Vec<_>>(),
                    "argument_checked": program.argument_checked(a).iter().map(|(n, _)| *n).collect::<Vec<_>>(),
                })
            })
            .collect();
        let v = serde_json::json!({
            "instructions": program.len(),
            "depth": program.depth(),
            "compile_us": took.as_micros(),
            "rules": filter.rules().len(),
            "skipped": program.skipped(),
            "arches": per_arch,
        });
        return Ok(print(&format!("{v}\n")));
    }
    let mut text = String::new();
    if disasm {
        text.push_str(&program.disassemble());
    }
    let _ = writeln!(
        text,
        "{}: {} rules, {} instructions, longest path {}, compiled in {:.2} ms",
        path.display(),
        filter.rules().len(),
        program.len(),
        program.depth(),
        took.as_secs_f64() * 1e3
    );
    for &a in program.arches() {
        let checked: Vec<&str> = program
            .argument_checked(a)
            .iter()
            .map(|(n, _)| *n)
            .collect();
        let _ = writeln!(
            text,
            "  {a}: {} syscalls allowed from the action cache (arch and number only); argument-checked: {}",
            program.cached_allows(a).len(),
            if checked.is_empty() {
                "none".to_string()
            } else {
                checked.join(" ")
            }
        );
    }
    if !program.skipped().is_empty() {
        let _ = writeln!(
            text,
            "  skipped (unknown on these architectures): {}",
            program.skipped().join(" ")
        );
    }
    if let Some(out) = output {
        let _ = writeln!(
            text,
            "  wrote {} bytes of BPF to {}",
            program.len() * 8,
            out.display()
        );
    }
    Ok(print(&text))
}

/// A compiled program from a profile, a rule file or raw BPF bytes (what
/// `seccomp_export_bpf` or `butter seccomp compile -o` wrote), told apart
/// by their bytes; a profile or rule file compiled for `arch` alone when
/// given, else for the architectures it names.
pub(crate) fn load_program(path: &Path, arch: Option<Arch>) -> Result<Program, UsageError> {
    let bytes = read_capped(path)?;
    if bytes.contains(&0) || std::str::from_utf8(&bytes).is_err() {
        return Program::from_bytes(&bytes).map_err(|e| usage(format!("{}: {e}", path.display())));
    }
    let mut filter = load_filter(path, &[])?;
    if let Some(arch) = arch {
        filter = filter.arch(arch);
    }
    filter
        .compile()
        .map_err(|e| usage(format!("{}: {e}", path.display())))
}

fn sim(path: &Path, arch: Option<&str>, syscall: &str, args: &[String]) -> Outcome {
    let arch = match arch {
        Some(a) => a.parse::<Arch>().map_err(usage)?,
        None => Arch::native()
            .ok_or_else(|| usage("this machine's architecture is unknown: pass --arch"))?,
    };
    let program = load_program(path, Some(arch))?;
    let nr = match syscall.parse::<u32>() {
        Ok(nr) => nr,
        Err(_) => arch.resolve(syscall).map_err(usage)?,
    };
    let mut values = [0u64; 6];
    for (slot, a) in values.iter_mut().zip(args) {
        *slot = parse_number(a).map_err(usage)?;
    }
    let action = program.simulate(arch, nr, values);
    Ok(print(&format!("{action}\n")))
}

fn deny_rule(spec: &str) -> Result<(String, Action), UsageError> {
    let (name, action) = match spec.split_once('=') {
        Some((n, e)) => (n, format!("errno({e})").parse::<Action>().map_err(usage)?),
        None => (spec, Action::Errno(1)),
    };
    Ok((name.to_string(), action))
}

fn run_under(
    profile: Option<&Path>,
    deny: &[String],
    allow: &[String],
    default: Option<&str>,
    command: &[String],
) -> Outcome {
    let mut filter = match profile {
        Some(p) => load_filter(p, &[])?,
        None => {
            let d = match default {
                Some(d) => d.parse::<Action>().map_err(usage)?,
                None if !allow.is_empty() => Action::Errno(1),
                None => Action::Allow,
            };
            Filter::new(d)
        }
    };
    for spec in deny {
        let (name, action) = deny_rule(spec)?;
        filter.push(Rule::new(name, action));
    }
    for name in allow {
        filter.push(Rule::new(name.clone(), Action::Allow));
    }
    let program = filter.compile().map_err(usage)?;
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]).seccomp(&program);
    match cmd.status() {
        Ok(status) => Ok(exit_like(status)),
        Err(e) => Ok(fail_exec(&format!("{}: {e}", command[0]), e.raw_os_error())),
    }
}

fn exit_like(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        (None, Some(sig)) => ExitCode::from(u8::try_from(128 + sig).unwrap_or(255)),
        _ => ExitCode::FAILURE,
    }
}

/// Where a syscall's path arguments are.
fn path_args(name: &str) -> &'static [usize] {
    match name {
        "open" | "execve" | "unlink" | "mkdir" | "stat" | "lstat" | "access" | "chdir"
        | "readlink" | "truncate" | "chmod" | "chown" | "lchown" | "rmdir" | "creat" | "statfs"
        | "mknod" | "chroot" => &[0],
        "openat" | "openat2" | "execveat" | "unlinkat" | "mkdirat" | "newfstatat" | "faccessat"
        | "faccessat2" | "readlinkat" | "statx" | "fchmodat" | "fchownat" | "mknodat" => &[1],
        "rename" | "symlink" | "link" => &[0, 1],
        "renameat" | "renameat2" | "linkat" => &[1, 3],
        "symlinkat" => &[0, 2],
        _ => &[],
    }
}

fn decode_sockaddr(listener: &Listener, n: &Notification, addr: u64, len: u64) -> Option<String> {
    let mut buf = [0u8; 128];
    let len = usize::try_from(len).ok()?.min(buf.len());
    let got = listener.read_memory(n, addr, &mut buf[..len]).ok()?;
    let buf = &buf[..got];
    let family = u16::from_ne_bytes([*buf.first()?, *buf.get(1)?]);
    match i32::from(family) {
        1 => {
            let path = &buf[2..];
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            if path.first() == Some(&0) {
                Some(format!("unix:@{}", String::from_utf8_lossy(&path[1..])))
            } else {
                Some(format!("unix:{}", String::from_utf8_lossy(&path[..end])))
            }
        }
        2 if buf.len() >= 8 => Some(format!(
            "{}.{}.{}.{}:{}",
            buf[4],
            buf[5],
            buf[6],
            buf[7],
            u16::from_be_bytes([buf[2], buf[3]])
        )),
        10 if buf.len() >= 24 => {
            let ip: [u8; 16] = buf[8..24].try_into().ok()?;
            Some(format!(
                "[{}]:{}",
                std::net::Ipv6Addr::from(ip),
                u16::from_be_bytes([buf[2], buf[3]])
            ))
        }
        f => Some(format!("family {f}")),
    }
}

/// One traced call, decoded.
fn describe(listener: &Listener, n: &Notification) -> (String, Vec<String>, Vec<String>) {
    let name = n
        .syscall_name()
        .map_or_else(|| format!("syscall_{}", n.data.nr), str::to_string);
    let paths_at = path_args(&name);
    let mut shown = Vec::new();
    let mut paths = Vec::new();
    let count = if name == "connect" {
        3
    } else {
        6.min(paths_at.iter().max().map_or(3, |m| m + 2))
    };
    for (i, &raw) in n.data.args.iter().enumerate().take(count) {
        if paths_at.contains(&i) {
            match listener.read_cstr(n, raw, 4096) {
                Ok(p) => {
                    let p = p.to_string_lossy().into_owned();
                    shown.push(format!("{p:?}"));
                    paths.push(p);
                }
                Err(_) => shown.push(format!("{raw:#x}")),
            }
        } else if name == "connect" && i == 1 {
            match decode_sockaddr(listener, n, raw, n.data.args[2]) {
                Some(a) => {
                    shown.push(a.clone());
                    paths.push(a);
                }
                None => shown.push(format!("{raw:#x}")),
            }
        } else if i == 0
            && name.ends_with("at")
            && ((raw & 0xffff_ffff) as u32).cast_signed() == -100
        {
            shown.push("AT_FDCWD".to_string());
        } else {
            shown.push(if raw < 4096 {
                raw.to_string()
            } else {
                format!("{raw:#x}")
            });
        }
    }
    (name, shown, paths)
}

fn trace(syscalls: &[String], deny: &[String], json: bool, command: &[String]) -> Outcome {
    let denied: Vec<(String, Action)> = deny
        .iter()
        .map(|d| deny_rule(d))
        .collect::<Result<_, _>>()?;
    let mut names: Vec<String> = syscalls
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    for (d, _) in &denied {
        if !names.contains(d) {
            names.push(d.clone());
        }
    }
    let arch = Arch::native().ok_or_else(|| usage("this machine's architecture is unknown"))?;
    let unknown: Vec<&String> = names.iter().filter(|n| arch.syscall(n).is_none()).collect();
    let (sender, receiver) = handoff().map_err(usage)?;
    let handoff_fd = std::os::fd::AsRawFd::as_raw_fd(&sender);
    let mut filter = Filter::new(Action::Allow);
    for name in names.iter().filter(|n| arch.syscall(n).is_some()) {
        let mut rule = Rule::new(name.clone(), Action::UserNotif);
        if name == "sendmsg" {
            // The handoff's own sendmsg must not wait for the listener it carries.
            rule = rule.when(Arg::i32(0).not_equal(handoff_fd));
        }
        filter.push(rule);
    }
    if !unknown.is_empty() {
        let list: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
        eprintln!(
            "butter seccomp trace: not on {arch}, ignored: {}",
            list.join(" ")
        );
    }
    let program = filter.compile().map_err(usage)?;
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]);
    cmd.seccomp_listener(&program, sender).map_err(usage)?;
    // spawn returns after exec, which is traced: serve on another thread.
    let server = std::thread::spawn(move || -> Result<(), String> {
        let listener = receiver.receive().map_err(|e| e.to_string())?;
        loop {
            let mut fds = [rustix::event::PollFd::new(
                &listener,
                rustix::event::PollFlags::IN,
            )];
            match rustix::event::poll(&mut fds, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(format!("poll: {e}")),
            }
            let ready = fds[0].revents();
            if !ready.contains(rustix::event::PollFlags::IN) {
                // The last traced process exited: the listener hangs up.
                return Ok(());
            }
            let n = match listener.recv() {
                Ok(n) => n,
                Err(e) if e.kind() == butter::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.to_string()),
            };
            let (name, args, paths) = describe(&listener, &n);
            let answer = denied.iter().find(|(d, _)| *d == name).map(|(_, a)| *a);
            let response = match answer {
                Some(Action::Errno(e)) => Response::Errno(i32::from(e)),
                _ => Response::Continue,
            };
            let verdict = match answer {
                Some(a) => format!("denied {a}"),
                None => "continue".to_string(),
            };
            let line = if json {
                serde_json::json!({"pid": n.pid, "syscall": name, "args": args, "paths": paths, "answer": verdict})
                    .to_string()
            } else {
                format!("{} {name}({}) -> {verdict}", n.pid, args.join(", "))
            };
            // Answer first: the caller is waiting. A caller that died
            // meanwhile is no error of ours.
            let _ = listener.respond(n.id, response);
            if emit(line).is_some() {
                return Ok(());
            }
        }
    });
    let outcome = cmd.spawn();
    drop(cmd);
    let status = match outcome {
        Ok(mut child) => child.wait(),
        Err(e) => {
            let _ = server.join();
            return Ok(fail_exec(&format!("{}: {e}", command[0]), e.raw_os_error()));
        }
    };
    let served = server
        .join()
        .unwrap_or_else(|_| Err("the tracing thread panicked".into()));
    if let Err(e) = served {
        return Ok(fail(&e));
    }
    match status {
        Ok(s) => Ok(exit_like(s)),
        Err(e) => Ok(fail(&e)),
    }
}

//! `butter seccomp`: compile, simulate, run under and trace with seccomp
//! filters (seccomp-lite).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use butter::seccomp::{
    Action, Arch, Arg, Filter, Profile, ProfileOptions, Program, Response, Rule, SeccompCommandExt,
    handoff,
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
    /// Run a command and write the seccomp profile it needs: every syscall
    /// it (its loader, its threads, its children) made allowed, the rest
    /// failing with EPERM. No root, no eBPF: a user-notification listener
    /// lets each call run and notes it.
    ///
    /// The calls every program needs to end and to return from a signal
    /// handler (exit, exit_group, rt_sigreturn, restart_syscall) are
    /// always allowed, so a profile never locks a program out of its own
    /// exit path. A call the recorded run never made (another code path,
    /// another input) is denied when the profile is used.
    ///
    /// Arguments that choose what a call does are pinned to the values
    /// the run used, when it used at most 16: socket and socketpair's
    /// family, ioctl's request, fcntl's command, prctl's option,
    /// personality, arch_prctl's code, madvise's advice, setsockopt and
    /// getsockopt's level, socketcall's and ipc's call (their low 32 bits,
    /// which is what the kernel reads). An `ioctl(TIOCSTI)` the run never
    /// made is then refused too. Through socketcall (32-bit x86's C
    /// library uses it) a socket's family is in memory, out of a filter's
    /// reach: only which socket calls is pinned there.
    #[command(help_template = crate::output::HELP_TEMPLATE)]
    Record {
        /// Write the profile here (replaced whole, never half-written)
        /// rather than to stdout.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Allow every syscall the run made whatever its arguments: no
        /// pinned values.
        #[arg(long)]
        names_only: bool,
        /// The command and its arguments (options go before it, or before
        /// `--`; from its name on, every word is the command's).
        #[arg(required = true, trailing_var_arg = true)]
        command: Vec<String>,
    },
    /// A syscall's number from its name, or its name from its number, as
    /// scmp_sys_resolver (for any architecture the tables cover).
    #[command(help_template = crate::output::HELP_TEMPLATE)]
    Resolve {
        /// The architecture (default: this machine's): x86_64, x32, x86,
        /// aarch64, or libseccomp's and the kernel's names for them.
        #[arg(short = 'a', long, value_name = "ARCH")]
        arch: Option<String>,
        /// A syscall name (openat) or number (257).
        syscall: String,
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
  errno(EPERM) personality arch=x86   a rule for some architectures only
  unknown skip                  leave out names no covered architecture has (default: error)
  precedence libseccomp         a syscall's first unconditional rule decides it (default: the
                                most restrictive match wins; profiles: libseccomp)
  # comments

A CONDITION is argN[:WIDTH]OP VALUE with no spaces: OP is ==, !=, <, <=, >, >= or &MASK==; WIDTH is \
u64 (default), i64, u32 or i32 (32-bit widths ignore the upper half, for int arguments). Actions: \
allow, log, errno(N|ENAME), trap(N), trace(N), user_notif, kill_thread, kill_process. When several \
rules match a call, the most restrictive action wins in a rule file, and as libseccomp decides in a \
JSON profile (a syscall's first unconditional rule decides it, as runc, crun, Docker and podman): \
compile prints which.";

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
        Sub::Resolve { arch, syscall } => resolve(arch.as_deref(), syscall),
        Sub::Record {
            output,
            names_only,
            command,
        } => record(output.as_deref(), *names_only, command),
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

/// `butter seccomp resolve`: the number for a name, the name for a number.
fn resolve(arch: Option<&str>, syscall: &str) -> Outcome {
    let arch = match arch {
        Some(a) => a
            .parse::<Arch>()
            .map_err(|e| usage(e.detail().unwrap_or_default()))?,
        None => Arch::native().ok_or_else(|| {
            usage("this machine's architecture has no syscall table here: give --arch")
        })?,
    };
    let answer = match syscall.parse::<u32>() {
        Ok(nr) => arch
            .syscall_name(nr)
            .map(str::to_string)
            .ok_or_else(|| format!("butter seccomp: {arch} has no syscall number {nr}")),
        Err(_) => arch
            .syscall(syscall)
            .map(|nr| nr.to_string())
            .ok_or_else(|| format!("butter seccomp: {arch} has no syscall named {syscall:?}")),
    };
    Ok(match answer {
        Ok(text) => print(&text),
        Err(why) => {
            eprintln!("{why}");
            ExitCode::from(1)
        }
    })
}

/// What the compiler took differently from how `path` wrote it, on stderr.
fn warn(path: &Path, program: &Program) {
    for w in program.warnings() {
        eprintln!("butter seccomp: warning: {}: {w}", path.display());
    }
}

fn usage(e: impl std::fmt::Display) -> UsageError {
    UsageError(e.to_string())
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
        profile
            .to_filter(&ProfileOptions::default())
            .map_err(|e| usage(format!("{}: {e}", path.display())))?
    } else {
        text.parse::<Filter>().map_err(|e| {
            usage(format!(
                "{}: {}",
                path.display(),
                e.detail().unwrap_or_default()
            ))
        })?
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
    warn(path, &program);
    if let Some(out) = output {
        // In the byte order of the machines that load it, as libseccomp
        // exports a filter for a big-endian architecture.
        let arches = program.arches();
        let Some(&first) = arches.first() else {
            return Err(usage("the filter covers no architecture"));
        };
        if arches
            .iter()
            .any(|a| a.little_endian() != first.little_endian())
        {
            let names: Vec<&str> = arches.iter().map(|a| a.name()).collect();
            return Err(usage(format!(
                "-o {}: the filter covers architectures of both byte orders ({}); a BPF file is for one kind of machine: compile one per byte order with --arch",
                out.display(),
                names.join(", ")
            )));
        }
        if let Err(e) = std::fs::write(out, program.to_bytes_for(first)) {
            return Ok(fail(&format!("{}: {e}", out.display())));
        }
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
            "precedence": match filter.precedence_rule() {
                butter::seccomp::Precedence::Libseccomp => "libseccomp",
                _ => "most_restrictive",
            },
            "warnings": program.warnings(),
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
    let _ = writeln!(text, "  precedence: {}", filter.precedence_rule());
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
        // Raw BPF is in the byte order of the machine it is for.
        let program = match arch {
            Some(arch) => Program::from_bytes_for(arch, &bytes),
            None => Program::from_bytes(&bytes),
        };
        return program.map_err(|e| usage(format!("{}: {e}", path.display())));
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
        *slot = butter::seccomp::rules::parse_value(a)
            .map_err(|e| usage(e.detail().unwrap_or_default()))?;
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

/// The calls a recorded profile always allows: a program's ways out and
/// back from a signal handler, which a recorded run may not have taken.
const ALWAYS: &[&str] = &["exit", "exit_group", "rt_sigreturn", "restart_syscall"];

/// `butter seccomp record`.
/// Arguments `record` pins: (syscall, argument index). Each chooses what
/// the call does from a small set of constants, and the kernel reads it
/// as a 32-bit value.
const PINNED: &[(&str, u8)] = &[
    ("socket", 0),
    ("socketpair", 0),
    ("ioctl", 1),
    ("fcntl", 1),
    ("fcntl64", 1),
    ("prctl", 0),
    ("personality", 0),
    ("arch_prctl", 0),
    ("madvise", 2),
    ("setsockopt", 1),
    ("getsockopt", 1),
    // The multiplexers' call numbers (x86, PowerPC, s390, o32 MIPS, …).
    ("socketcall", 0),
    ("ipc", 0),
];

/// More distinct values than this, and the argument is left free.
const MAX_PINNED_VALUES: usize = 16;

/// The profile's `syscalls`: one entry for the calls allowed whatever
/// their arguments, one per pinned value (libseccomp takes a call whose
/// pinned argument matches none of them to the default action).
fn recorded_entries(
    names: &std::collections::BTreeSet<String>,
    pinned: &std::collections::BTreeMap<String, (u8, std::collections::BTreeSet<u64>)>,
) -> Vec<serde_json::Value> {
    let free: Vec<&String> = names
        .iter()
        .filter(|n| !pinned.contains_key(n.as_str()))
        .collect();
    let mut entries = vec![serde_json::json!({
        "names": free,
        "action": "SCMP_ACT_ALLOW",
    })];
    for (name, (index, values)) in pinned {
        for v in values {
            entries.push(serde_json::json!({
                "names": [name],
                "action": "SCMP_ACT_ALLOW",
                "args": [{
                    "index": index,
                    "value": 0xffff_ffffu64,
                    "valueTwo": v & 0xffff_ffff,
                    "op": "SCMP_CMP_MASKED_EQ",
                }],
            }));
        }
    }
    entries
}

fn record(output: Option<&Path>, names_only: bool, command: &[String]) -> Outcome {
    use std::collections::{BTreeMap, BTreeSet};
    let arch = Arch::native().ok_or_else(|| usage("this machine's architecture is unknown"))?;
    if let Some(out) = output
        && out.is_dir()
    {
        return Err(usage(format!("-o {}: a directory", out.display())));
    }
    let (sender, receiver) = handoff().map_err(usage)?;
    let handoff_fd = std::os::fd::AsRawFd::as_raw_fd(&sender);
    // Every call waits for the listener, but the handoff's own sendmsg (it
    // carries the listener); this machine's compat ABIs too (a 32-bit
    // helper the program runs is recorded, not killed).
    let arches: Vec<Arch> = std::iter::once(arch)
        .chain(arch.compat().iter().copied())
        .collect();
    let filter = Filter::new(Action::UserNotif)
        .arches(arches.iter().copied())
        .bad_arch(Action::KillProcess)
        .rule(
            Rule::new("sendmsg", Action::Allow)
                .when(Arg::i32(0).equal(handoff_fd))
                .only_on([arch]),
        );
    let program = filter.compile().map_err(usage)?;
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]);
    cmd.seccomp_listener(&program, sender).map_err(usage)?;
    // The pinned arguments, by (architecture, number).
    let pins: Vec<((Arch, u32), u8)> = arches
        .iter()
        .flat_map(|&a| {
            PINNED
                .iter()
                .filter_map(move |&(name, index)| Some(((a, a.syscall(name)?), index)))
        })
        .collect();
    type Seen = (BTreeSet<(Arch, u32)>, BTreeMap<(Arch, u32), BTreeSet<u64>>);
    let server = std::thread::spawn(move || -> Result<Seen, String> {
        let mut seen = BTreeSet::new();
        let mut values: BTreeMap<(Arch, u32), BTreeSet<u64>> = BTreeMap::new();
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
            if !fds[0].revents().contains(rustix::event::PollFlags::IN) {
                return Ok((seen, values)); // the last recorded process exited
            }
            let n = match listener.recv() {
                Ok(n) => n,
                // Interrupted, or the caller died before we looked.
                Err(e) if e.kind() == butter::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == butter::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.to_string()),
            };
            if let Some(a) = Arch::of_call(n.data.arch, n.data.nr) {
                let key = (a, n.data.nr);
                seen.insert(key);
                if let Some(&(_, index)) = pins.iter().find(|(k, _)| *k == key) {
                    let set = values.entry(key).or_default();
                    // One past the limit marks it free; no need to keep more.
                    if set.len() <= MAX_PINNED_VALUES {
                        set.insert(n.data.args[usize::from(index)] & 0xffff_ffff);
                    }
                }
            }
            let _ = listener.respond(n.id, Response::Continue);
        }
    });
    let started = std::time::Instant::now();
    let outcome = cmd.spawn();
    drop(cmd);
    let status = match outcome {
        Ok(mut child) => child.wait(),
        Err(e) => {
            let _ = server.join();
            return Ok(fail_exec(&format!("{}: {e}", command[0]), e.raw_os_error()));
        }
    };
    let took = started.elapsed();
    let (seen, values) = match server.join() {
        Ok(Ok(seen)) => seen,
        Ok(Err(e)) => return Ok(fail(&e)),
        Err(_) => return Ok(fail(&"the recording thread panicked")),
    };
    let mut names: BTreeSet<String> = ALWAYS.iter().map(|s| (*s).to_string()).collect();
    let mut unnamed = Vec::new();
    let mut used = vec![arch];
    for &(a, nr) in &seen {
        if !used.contains(&a) {
            used.push(a);
        }
        match a.syscall_name(nr) {
            Some(name) => {
                names.insert(name.to_string());
            }
            None => unnamed.push(format!("{a} {nr}")),
        }
    }
    if !unnamed.is_empty() {
        eprintln!(
            "butter seccomp record: syscall numbers this tool has no name for, left out: {}",
            unnamed.join(", ")
        );
    }
    let oci_arches: Vec<String> = used
        .iter()
        .map(|a| format!("SCMP_ARCH_{}", a.name().to_ascii_uppercase()))
        .collect();
    // Pinned values by name, every architecture's together.
    let mut pinned: BTreeMap<String, (u8, BTreeSet<u64>)> = BTreeMap::new();
    let mut freed = Vec::new();
    if !names_only {
        for ((a, nr), set) in values {
            let (Some(name), Some(&(_, index))) = (
                a.syscall_name(nr),
                PINNED.iter().find(|(n, _)| a.syscall(n) == Some(nr)),
            ) else {
                continue;
            };
            pinned
                .entry(name.to_string())
                .or_insert_with(|| (index, BTreeSet::new()))
                .1
                .extend(set);
        }
        pinned.retain(|name, (_, set)| {
            let keep = set.len() <= MAX_PINNED_VALUES;
            if !keep {
                freed.push(name.clone());
            }
            keep
        });
    }
    let multiplexed: Vec<String> = used
        .iter()
        .filter(|&&a| {
            ["socketcall", "ipc"]
                .iter()
                .any(|m| a.syscall(m).is_some_and(|nr| seen.contains(&(a, nr))))
        })
        .map(|a| a.name().to_string())
        .collect();
    if !multiplexed.is_empty() {
        eprintln!(
            "butter seccomp record: on {}, socket or IPC calls went through socketcall/ipc: which calls is pinned, but their own arguments (a socket's family) are in the program's memory, where a filter cannot look",
            multiplexed.join(", ")
        );
    }
    if !freed.is_empty() {
        eprintln!(
            "butter seccomp record: more than {MAX_PINNED_VALUES} values seen, allowed whatever the argument: {}",
            freed.join(", ")
        );
    }
    let profile = serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": oci_arches,
        "syscalls": recorded_entries(&names, &pinned),
    });
    let text = format!(
        "{}\n",
        serde_json::to_string_pretty(&profile).unwrap_or_default()
    );
    eprintln!(
        "butter seccomp record: {} syscalls in {:.0} ms ({} always allowed; {} with pinned arguments{})",
        names.len(),
        took.as_secs_f64() * 1e3,
        ALWAYS.len(),
        pinned.len(),
        if pinned.is_empty() {
            String::new()
        } else {
            format!(
                ": {}",
                pinned
                    .iter()
                    .map(|(n, (i, v))| format!("{n} arg{i} ({} values)", v.len()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    match output {
        Some(out) => {
            if let Err(e) = write_whole(out, text.as_bytes()) {
                return Ok(fail(&format!("{}: {e}", out.display())));
            }
        }
        None => {
            if emit(text).is_some() {
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    match status {
        Ok(s) => Ok(exit_like(s)),
        Err(e) => Ok(fail(&e)),
    }
}

/// Writes `bytes` to `path` whole: into a new file beside it, then renamed
/// over it, so a reader never sees half a profile and a failure leaves
/// what was there.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.butter-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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
            let butter::seccomp::decode::Call {
                name, args, paths, ..
            } = butter::seccomp::decode::describe(&listener, &n);
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

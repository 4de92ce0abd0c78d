//! `cargo xtask gen-syscalls`: the syscall name tables of seccomp-lite,
//! generated into checked-in source from the per-architecture numbers that
//! the `linux-raw-sys` crate carries (bindgen's output of a current
//! kernel's UAPI headers, every architecture, values already evaluated:
//! x32's carry `__X32_SYSCALL_BIT`).
//!
//! The crate is found in cargo's registry through `cargo metadata` (rustix
//! depends on it, so it is there whenever the workspace builds), or named
//! with `--linux-raw-sys DIR`. A machine's own `linux-libc-dev` can be
//! years behind the kernel it runs (6.1's headers stop at syscall 450, so
//! `fchmodat2` and `futex_wait` were unknown names); linux-raw-sys follows
//! the kernel's releases. The tests check the result against the C
//! library's `SYS_*` numbers (host), libseccomp's `scmp_sys_resolver`
//! (every architecture) and the running kernel (no number it implements
//! is without a name).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a table's numbers come from.
enum Source {
    /// linux-raw-sys's `src/DIR/general.rs` (`__NR_*`, plus `__ARM_NR_*`
    /// for arm's private calls).
    RawSys(&'static str),
    /// A column of libseccomp's `src/syscalls.csv`, with the ABI's number
    /// base added (libseccomp stores MIPS numbers without theirs).
    Csv(&'static str, u32),
}

/// One table: the Rust name and where its numbers come from.
struct Table {
    name: &'static str,
    source: Source,
    /// libseccomp's column for the same ABI, compared when the source is
    /// linux-raw-sys: (column, number base).
    csv: (&'static str, u32),
}

const fn raw(name: &'static str, dir: &'static str, column: &'static str, base: u32) -> Table {
    Table {
        name,
        source: Source::RawSys(dir),
        csv: (column, base),
    }
}

const fn csv(name: &'static str, column: &'static str, base: u32) -> Table {
    Table {
        name,
        source: Source::Csv(column, base),
        csv: (column, base),
    }
}

/// Every table. The kernel's own headers (through linux-raw-sys) are the
/// source wherever linux-raw-sys has the ABI; for the four it does not
/// carry (MIPS n32, PA-RISC's two, SuperH, 31-bit s390), libseccomp's
/// table, which follows the kernel's `syscall.tbl` files release by
/// release. Where both have an ABI, every name both know must agree, or
/// the generator stops.
const TABLES: &[Table] = &[
    raw("X86_64", "x86_64", "x86_64", 0),
    raw("X32", "x32", "x32", 0x4000_0000),
    raw("I386", "x86", "x86", 0),
    raw("AARCH64", "aarch64", "aarch64", 0),
    raw("ARM", "arm", "arm", 0),
    raw("LOONGARCH64", "loongarch64", "loongarch64", 0),
    raw("M68K", "m68k", "m68k", 0),
    raw("MIPS", "mips", "mips", 4000),
    raw("MIPS64", "mips64", "mips64", 5000),
    csv("MIPS64N32", "mips64n32", 6000),
    csv("PARISC", "parisc", 0),
    csv("PARISC64", "parisc64", 0),
    raw("PPC", "powerpc", "ppc", 0),
    raw("PPC64", "powerpc64", "ppc64", 0),
    raw("RISCV64", "riscv64", "riscv64", 0),
    csv("S390", "s390", 0),
    raw("S390X", "s390x", "s390x", 0),
    csv("SH", "sh", 0),
];

/// `__NR_*` constants that are not syscalls.
const NOT_SYSCALLS: &[&str] = &[
    "syscalls",
    "arch_specific_syscall",
    // MIPS: the ABI's number base.
    "Linux",
    // arm: the OABI and EABI bases, and `__ARM_NR_BASE`.
    "OABI_SYSCALL_BASE",
    "SYSCALL_BASE",
    "SYSCALL_MASK",
    "BASE",
];

/// Entries linux-raw-sys carries for an ABI that the kernel's table does
/// not give it: (table, name, why).
const NOT_ON: &[(&str, &str, &str)] = &[(
    "X32",
    "map_shadow_stack",
    "syscall_64.tbl numbers it `64`, not `common`: shadow stacks are for 64-bit code only",
)];

pub(crate) fn generate(root: &Path, args: &[String]) -> Result<(), String> {
    let mut source: Option<PathBuf> = None;
    let mut libseccomp: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--linux-raw-sys" => {
                source = Some(
                    it.next()
                        .ok_or("--linux-raw-sys needs the crate's directory")?
                        .into(),
                );
            }
            "--libseccomp" => {
                libseccomp = Some(
                    it.next()
                        .ok_or("--libseccomp needs a libseccomp checkout's directory")?
                        .into(),
                );
            }
            other => return Err(format!("gen-syscalls: unknown argument {other:?}")),
        }
    }
    let source = match source {
        Some(dir) => dir,
        None => find_linux_raw_sys(root)?,
    };
    let libseccomp = libseccomp.ok_or(
        "gen-syscalls needs libseccomp's table for the ABIs linux-raw-sys does not carry \
         (MIPS n32, PA-RISC, SuperH, 31-bit s390): --libseccomp DIR, a checkout of \
         https://github.com/seccomp/libseccomp (its src/syscalls.csv)",
    )?;
    let csv = Csv::read(&libseccomp.join("src/syscalls.csv"))?;
    let version = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = String::new();
    writeln!(
        out,
        "//! Syscall numbers per architecture, sorted by name.\n//!\n\
         //! Generated by `cargo xtask gen-syscalls` from {version}'s per-architecture\n\
         //! `general.rs` (the kernel's UAPI headers) and, for MIPS n32, PA-RISC,\n\
         //! SuperH and 31-bit s390, which it does not carry, libseccomp's\n\
         //! `syscalls.csv` ({}); do not edit. The tests check them against the C\n\
         //! library's `SYS_*` numbers, libseccomp's `scmp_sys_resolver` and the\n\
         //! running kernel.\n",
        csv.version
    )
    .unwrap();
    for table in TABLES {
        let entries = match table.source {
            Source::RawSys(dir) => {
                let mut entries = read_table(&source, table, dir)?;
                compare(table, &mut entries, &csv)?;
                entries
            }
            Source::Csv(column, base) => csv.table(table, column, base)?,
        };
        writeln!(
            out,
            "/// {} syscalls: (name, number), sorted by name.",
            table.name.to_lowercase()
        )
        .unwrap();
        writeln!(out, "pub(crate) static {}: &[(&str, u32)] = &[", table.name).unwrap();
        for (name, nr) in &entries {
            writeln!(out, "    (\"{name}\", {nr:#x}),").unwrap();
        }
        writeln!(out, "];\n").unwrap();
        println!(
            "gen-syscalls: {} {} syscalls",
            table.name.to_lowercase(),
            entries.len()
        );
    }
    let path = root.join("crates/seccomp-lite/src/syscalls.rs");
    std::fs::write(&path, out.trim_end().to_string() + "\n")
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("gen-syscalls: wrote {}", path.display());
    Ok(())
}

/// libseccomp's `src/syscalls.csv`: a header naming the kernel release
/// and the columns (`name,x86,x86_kver,x86_64,…`), then one line per
/// syscall with a number or `PNR` (none) per architecture.
struct Csv {
    version: String,
    columns: Vec<String>,
    rows: Vec<(String, Vec<String>)>,
    path: PathBuf,
}

impl Csv {
    fn read(path: &Path) -> Result<Csv, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut lines = text.lines();
        let header = lines
            .next()
            .ok_or_else(|| format!("{}: empty", path.display()))?;
        let mut columns = header.split(',');
        let first = columns.next().unwrap_or_default();
        // "#syscall (v7.1.0-rc4 2026-05-19)"
        let version = first
            .split_once('(')
            .and_then(|(_, v)| v.split_once(')'))
            .map(|(v, _)| format!("kernel {v}"))
            .ok_or_else(|| format!("{}: no kernel version in {first:?}", path.display()))?;
        let columns = columns.map(str::to_string).collect();
        let rows = lines
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let mut fields = l.split(',');
                let name = fields.next().unwrap_or_default().to_string();
                (name, fields.map(str::to_string).collect())
            })
            .collect();
        Ok(Csv {
            version,
            columns,
            rows,
            path: path.to_path_buf(),
        })
    }

    /// The column's (name, number) pairs, sorted, with `base` added.
    fn table(&self, table: &Table, column: &str, base: u32) -> Result<Vec<(String, u32)>, String> {
        let index = self
            .columns
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| format!("{}: no column {column:?}", self.path.display()))?;
        let mut entries = Vec::new();
        for (name, fields) in &self.rows {
            let Some(value) = fields.get(index) else {
                return Err(format!(
                    "{}: {name}: no {column} field",
                    self.path.display()
                ));
            };
            if value == "PNR" {
                continue;
            }
            let nr: u32 = value.parse().map_err(|_| {
                format!(
                    "{}: {name}: bad {column} number {value:?}",
                    self.path.display()
                )
            })?;
            entries.push((name.clone(), nr + base));
        }
        entries.sort();
        if entries.len() < 200 {
            return Err(format!(
                "{}: only {} {} syscalls in column {column}",
                self.path.display(),
                entries.len(),
                table.name
            ));
        }
        Ok(entries)
    }
}

/// Names linux-raw-sys and libseccomp both know for `table` must have the
/// same number. Names only libseccomp knows are syscalls of a kernel newer
/// than linux-raw-sys's headers and are added (but those in [`NOT_ON`]);
/// names only linux-raw-sys knows are printed.
fn compare(table: &Table, ours: &mut Vec<(String, u32)>, csv: &Csv) -> Result<(), String> {
    let (column, base) = table.csv;
    let theirs = csv.table(table, column, base)?;
    let mut differ = Vec::new();
    for (name, nr) in ours.iter() {
        if let Some((_, other)) = theirs.iter().find(|(n, _)| n == name)
            && other != nr
        {
            differ.push(format!("{name}: {nr} here, {other} in libseccomp"));
        }
    }
    if !differ.is_empty() {
        return Err(format!(
            "{}: linux-raw-sys and libseccomp disagree: {}",
            table.name,
            differ.join("; ")
        ));
    }
    let only_ours: Vec<String> = ours
        .iter()
        .filter(|(n, _)| !theirs.iter().any(|(t, _)| t == n))
        .map(|(n, _)| n.clone())
        .collect();
    let newer: Vec<(String, u32)> = theirs
        .iter()
        .filter(|(n, _)| !ours.iter().any(|(o, _)| o == n))
        .filter(|(n, _)| {
            !NOT_ON
                .iter()
                .any(|&(t, name, _)| t == table.name && name == n)
        })
        .cloned()
        .collect();
    let name = table.name.to_lowercase();
    if !only_ours.is_empty() {
        println!(
            "gen-syscalls: {name}: only in linux-raw-sys: {}",
            only_ours.join(" ")
        );
    }
    if !newer.is_empty() {
        println!(
            "gen-syscalls: {name}: newer than linux-raw-sys, from libseccomp: {}",
            newer
                .iter()
                .map(|(n, nr)| format!("{n} {nr}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    ours.extend(newer);
    ours.sort();
    Ok(())
}

/// The directory of the linux-raw-sys that the workspace resolves to.
fn find_linux_raw_sys(root: &Path) -> Result<PathBuf, String> {
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(root)
        .args(["metadata", "--format-version", "1"])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // Every package's "manifest_path"; the JSON escapes nothing in a
    // registry path but backslashes, which a Linux path does not have.
    let mut found: Vec<PathBuf> = text
        .split("\"manifest_path\":\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(PathBuf::from)
        .filter(|p| {
            p.parent()
                .and_then(Path::file_name)
                .is_some_and(|n| n.to_string_lossy().starts_with("linux-raw-sys-"))
        })
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    found.sort();
    found
        .pop()
        .ok_or_else(|| "linux-raw-sys is not in the workspace's dependency graph; name it with --linux-raw-sys DIR".into())
}

fn read_table(source: &Path, table: &Table, dir: &str) -> Result<Vec<(String, u32)>, String> {
    let file = source.join("src").join(dir).join("general.rs");
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut entries = Vec::new();
    for line in text.lines() {
        // arm's private calls (`__ARM_NR_cacheflush`, 0xf0002) are
        // syscalls to seccomp as to libseccomp; their base is not.
        let line = line.trim();
        let Some(rest) = line
            .strip_prefix("pub const __NR_")
            .or_else(|| line.strip_prefix("pub const __ARM_NR_"))
        else {
            continue;
        };
        let Some((name, value)) = rest.split_once(": u32 = ") else {
            continue;
        };
        // MIPS tables name their holes (`reserved82`, `unused109`).
        if NOT_SYSCALLS.contains(&name)
            || name.starts_with("reserved")
            || name.starts_with("unused")
            || NOT_ON.iter().any(|&(t, n, _)| t == table.name && n == name)
        {
            continue;
        }
        let value = value.trim_end_matches(';');
        let nr: u32 = value
            .parse()
            .map_err(|_| format!("{}: bad number in {line:?}", file.display()))?;
        entries.push((name.to_string(), nr));
    }
    entries.sort();
    entries.dedup();
    if entries.len() < 200 {
        return Err(format!(
            "{}: only {} syscalls found; not linux-raw-sys?",
            file.display(),
            entries.len()
        ));
    }
    Ok(entries)
}

//! `butter doctor`: what this machine's kernel offers each butter crate.

use std::fmt::Write;

use butter::probe::{self, KernelVersion, Probe, Status};

use crate::json;

/// Everything `butter doctor` reports.
#[derive(Debug, Clone)]
pub struct Report {
    /// The running kernel, if its release string parsed.
    pub kernel: Option<KernelVersion>,
    /// `uname -r`.
    pub release: String,
    /// `uname -m`.
    pub machine: String,
    /// The effective user id.
    pub euid: u32,
    /// Whether the process has `CAP_SYS_ADMIN`.
    pub cap_sys_admin: bool,
    /// One row per probed feature.
    pub rows: Vec<Probe>,
}

impl Report {
    /// Probes this machine.
    pub fn collect() -> Report {
        let uname = rustix::system::uname();
        Report {
            kernel: KernelVersion::current().ok(),
            release: uname.release().to_string_lossy().into_owned(),
            machine: uname.machine().to_string_lossy().into_owned(),
            euid: rustix::process::geteuid().as_raw(),
            cap_sys_admin: probe::has_capability(probe::CAP_SYS_ADMIN).unwrap_or(false),
            rows: probe::machine(),
        }
    }

    fn count(&self, status: Status) -> usize {
        self.rows.iter().filter(|r| r.status == status).count()
    }

    /// The report as an aligned text table with a summary.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let who = if self.euid == 0 {
            "root".to_owned()
        } else {
            format!("uid {}", self.euid)
        };
        let _ = writeln!(
            out,
            "butter doctor: Linux {} ({}), running as {who}, CAP_SYS_ADMIN {}",
            self.release,
            self.machine,
            if self.cap_sys_admin { "yes" } else { "no" }
        );
        out.push('\n');
        let header = ["CRATE", "FEATURE", "SINCE", "STATUS", "DETAIL"];
        let cells: Vec<[&str; 5]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.group,
                    r.feature,
                    r.since,
                    r.status.as_str(),
                    r.detail.as_str(),
                ]
            })
            .collect();
        let mut width = header.map(str::len);
        for row in &cells {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut line = |cols: [&str; 5]| {
            let mut text = String::new();
            for (i, (cell, w)) in cols.iter().zip(width).enumerate() {
                if i == 4 {
                    text.push_str(cell);
                } else {
                    let _ = write!(text, "{cell:<w$}  ");
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(header);
        let mut last_group = "";
        for (row, probe) in cells.iter().zip(&self.rows) {
            // Name the crate once per group.
            let mut row = *row;
            if probe.group == last_group {
                row[0] = "";
            }
            last_group = probe.group;
            line(row);
        }
        let _ = writeln!(
            out,
            "\n{} available, {} need privilege, {} unavailable, {} unknown",
            self.count(Status::Available),
            self.count(Status::NeedsPrivilege),
            self.count(Status::Unavailable),
            self.count(Status::Unknown),
        );
        let needs: Vec<&str> = self
            .rows
            .iter()
            .filter(|r| r.status == Status::NeedsPrivilege)
            .map(|r| r.feature)
            .collect();
        if !needs.is_empty() {
            let _ = writeln!(out, "Run as root to use and confirm: {}.", needs.join(", "));
        } else if self.euid != 0 {
            let _ = writeln!(
                out,
                "Not root: mounts, fanotify marks and seccomp loading are tested in user namespaces where possible."
            );
        }
        out
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> String {
        let rows: Vec<json::Value> = self
            .rows
            .iter()
            .map(|r| {
                json::json!({
                    "crate": r.group,
                    "feature": r.feature,
                    "since": r.since,
                    "status": r.status.as_str(),
                    "detail": r.detail,
                })
            })
            .collect();
        let kernel = self.kernel.map(|k| k.to_string()).unwrap_or_default();
        json::json!({
            "kernel": kernel,
            "release": self.release,
            "machine": self.machine,
            "euid": self.euid,
            "cap_sys_admin": self.cap_sys_admin,
            "features": rows,
        })
        .to_string()
    }
}

/// `butter doctor`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    help_template = crate::output::HELP_TEMPLATE,
    about = "Probe this machine for every kernel feature the butter crates use",
    long_about = "Probes every kernel feature the butter crates use: the kernel that \
introduced it, whether it works here (yes, no, needs-privilege), and the limits that matter \
(max_user_watches, pipe-max-size, aio-max-nr, ...). Run without root, it tries unprivileged \
modes for real and ends with what root would add."
)]
pub struct Args {
    /// Print one JSON object for scripts.
    #[arg(long)]
    pub json: bool,
}

/// Runs `butter doctor`.
pub fn run(args: &Args) -> crate::output::Outcome {
    let report = Report::collect();
    Ok(crate::output::print(&if args.json {
        report.to_json()
    } else {
        report.to_text()
    }))
}

//! Output: terminal tables, the machine description, the JSON file.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::harness::{Config, Row, ScenarioReport};

/// What the numbers were measured on (research §3.1 item 5).
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// `lscpu`'s "Model name".
    pub cpu_model: String,
    /// CPUs available to the process (`nproc`).
    pub nproc: usize,
    /// Kernel release.
    pub kernel: String,
    /// Operating system and architecture.
    pub os: String,
    /// The compiler that built this binary.
    pub rustc: String,
    /// `valgrind --version`, if present.
    pub valgrind: Option<String>,
    /// The repository's commit, if known.
    pub git_commit: Option<String>,
    /// Load average (1 min) at the start.
    pub loadavg_1m: Option<f64>,
}

impl Machine {
    /// Reads the machine description.
    pub fn detect() -> Machine {
        let cpu_model = command_stdout("lscpu", &[])
            .and_then(|s| {
                s.lines()
                    .find(|l| l.trim_start().starts_with("Model name:"))
                    .map(|l| l.split_once(':').map_or("", |x| x.1).trim().to_string())
            })
            .or_else(|| {
                let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split_once(':').map_or("", |x| x.1).trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .ok()
            .or_else(|| command_stdout("uname", &["-r"]))
            .unwrap_or_else(|| "unknown".into());
        let git_commit = command_stdout(
            "git",
            &["-C", env!("CARGO_MANIFEST_DIR"), "describe", "--always", "--dirty", "--abbrev=12"],
        );
        let loadavg_1m = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()));
        Machine {
            cpu_model,
            nproc: crate::harness::cpus(),
            kernel,
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            rustc: env!("BENCH_RUSTC_VERSION").to_string(),
            valgrind: crate::scenarios::valgrind_version(),
            git_commit,
            loadavg_1m,
        }
    }

    /// One line for the terminal.
    pub fn summary(&self) -> String {
        format!(
            "{} | {} CPUs | Linux {} | {} | load {}",
            self.cpu_model,
            self.nproc,
            self.kernel,
            self.rustc,
            self.loadavg_1m.map_or("?".into(), |l| format!("{l:.2}"))
        )
    }
}

fn command_stdout(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Total steal ticks of all CPUs (`/proc/stat`), if available: time the
/// hypervisor gave our virtual CPUs to someone else.
pub fn steal_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().find(|l| l.starts_with("cpu "))?;
    cpu.split_whitespace().nth(8)?.parse().ok()
}

/// The whole report, as written to `report.json`.
#[derive(Serialize)]
pub struct Report<'a> {
    /// Always `rwlocker-bench`.
    pub tool: &'static str,
    /// This binary's version.
    pub version: &'static str,
    /// The configuration.
    pub config: &'a Config,
    /// The machine.
    pub machine: &'a Machine,
    /// Unix time at the start.
    pub started_unix_s: u64,
    /// Seconds the whole run took.
    pub wall_s: f64,
    /// Steal ticks accumulated during the run (a noisy host if large).
    pub steal_ticks_during: Option<u64>,
    /// Results, in run order.
    pub scenarios: &'a [ScenarioReport],
    /// Scenarios not implemented yet: `(id, what)`.
    pub planned: Vec<(&'static str, &'static str)>,
}

/// Writes `report` as pretty JSON to `path`.
pub fn write_json(path: &Path, report: &Report<'_>) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(path, json + "\n")
}

/// Formats `v` with `decimals`, or `-` for a missing/NaN value.
fn num(v: Option<f64>, decimals: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "-".into(),
    }
}

fn cell(row: &Row, col: &crate::harness::Column) -> String {
    if col.derived {
        return num(row.derived.get(col.key).copied(), col.decimals);
    }
    match row.metrics.get(col.key) {
        None => "-".into(),
        Some(s) if col.spread && s.n > 1 => {
            let d = col.decimals;
            format!("{} [{}–{}]", num(Some(s.median), d), num(Some(s.min), d), num(Some(s.max), d))
        }
        Some(s) => num(Some(s.median), col.decimals),
    }
}

/// The terminal table of one scenario, followed by its parts' tables.
pub fn table(r: &ScenarioReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n== {} {} ==", r.id, r.title);
    let _ = writeln!(out, "{}", r.about);
    table_body(&mut out, r);
    for part in &r.parts {
        let _ = writeln!(out, "\n-- {} {} --", part.id, part.title);
        let _ = writeln!(out, "{}", part.about);
        table_body(&mut out, part);
    }
    let _ = writeln!(out, "({:.1} s)", r.wall_s);
    out
}

/// The table, ratio legend and notes of `r` (without its title).
fn table_body(out: &mut String, r: &ScenarioReport) {
    let mut header: Vec<String> = vec!["case".into(), "contender".into()];
    header.extend(r.columns.iter().map(|c| c.label.to_string()));
    // One `vs <baseline>` column per baseline that some row was compared with.
    let ratio_labels: Vec<&str> = if r.primary.is_some() {
        let mut labels: Vec<&str> = Vec::new();
        for b in &r.baselines {
            if !labels.contains(&b.label) && r.rows.iter().any(|row| row.ratios.contains_key(b.label)) {
                labels.push(b.label);
            }
        }
        labels
    } else {
        Vec::new()
    };
    let ratios = !ratio_labels.is_empty();
    header.extend(ratio_labels.iter().map(|l| format!("vs {l}")));
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut last_case = None;
    for row in &r.rows {
        let case = if last_case == Some(&row.case) { String::new() } else { row.case.clone() };
        last_case = Some(&row.case);
        let mut line = vec![case, row.contender.name.to_string()];
        line.extend(r.columns.iter().map(|c| cell(row, c)));
        for label in &ratio_labels {
            line.push(row.ratios.get(*label).map_or("-".into(), |x| format!("{x:.2}x")));
        }
        lines.push(line);
    }
    if !lines.is_empty() {
        let widths: Vec<usize> = (0..header.len())
            .map(|i| lines.iter().map(|l| l[i].chars().count()).chain([header[i].chars().count()]).max().unwrap_or(0))
            .collect();
        let fmt_line = |cells: &[String]| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let pad = widths[i] - c.chars().count();
                if i < 2 {
                    let _ = write!(s, "{c}{}  ", " ".repeat(pad));
                } else {
                    let _ = write!(s, "{}{c}  ", " ".repeat(pad));
                }
            }
            s.trim_end().to_string()
        };
        let _ = writeln!(out, "{}", fmt_line(&header));
        let _ = writeln!(out, "{}", "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
        for l in &lines {
            let _ = writeln!(out, "{}", fmt_line(l));
        }
    }
    if ratios {
        let better = if r.lower_is_better { "below" } else { "above" };
        let same_kind = r.baselines.iter().any(|b| b.rwlock != b.mutex);
        let against = if same_kind {
            "the same-kind baseline's median (RwLock vs RwLock, Mutex vs Mutex)"
        } else {
            "the baseline's median (every contender against the same baseline)"
        };
        let _ = writeln!(out, "ratios: median {} / {against}; {better} 1.00x is better", r.primary.unwrap_or(""));
    }
    for note in &r.notes {
        let _ = writeln!(out, "note: {note}");
    }
}

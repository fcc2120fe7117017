//! Output: terminal tables, the machine description, the JSON file.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::harness::{Config, Row, ScenarioReport};

/// What the numbers were measured on (so that a run can be compared with another).
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

/// The cells of a scenario's table: header, lines (the case named on its
/// first line only), and the ratio legend if the table has ratio columns.
struct Grid {
    header: Vec<String>,
    lines: Vec<Vec<String>>,
    legend: Option<String>,
}

fn grid(r: &ScenarioReport) -> Grid {
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
    let legend = (!ratio_labels.is_empty()).then(|| {
        let better = if r.lower_is_better { "below" } else { "above" };
        let same_kind = r.baselines.iter().any(|b| b.rwlock != b.mutex);
        let against = if same_kind {
            "the same-kind baseline's median (RwLock vs RwLock, Mutex vs Mutex)"
        } else {
            "the baseline's median (every contender against the same baseline)"
        };
        format!("ratios: median {} / {against}; {better} 1.00x is better", r.primary.unwrap_or(""))
    });
    Grid { header, lines, legend }
}

/// The table, ratio legend and notes of `r` (without its title).
fn table_body(out: &mut String, r: &ScenarioReport) {
    let Grid { header, lines, legend } = grid(r);
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
    if let Some(legend) = legend {
        let _ = writeln!(out, "{legend}");
    }
    for note in &r.notes {
        let _ = writeln!(out, "note: {note}");
    }
}

// ---------------------------------------------------------------------------
// Markdown (docs/BENCHMARKS.md)
// ---------------------------------------------------------------------------

/// The marker after which the report writes its tables into a document.
pub const DOCS_START: &str = "<!-- bench:start -->";
/// The marker before which the report's tables end.
pub const DOCS_END: &str = "<!-- bench:end -->";

/// `text` made safe for Markdown prose and table cells: `<`, `>` and `&`
/// as entities (`Strict<PhaseFair>` would otherwise read as an HTML tag),
/// `|` escaped, `*`, `_` and backticks escaped.
fn md_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' | '*' | '_' | '`' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The whole report as Markdown: a line naming the run, then every
/// scenario's tables (and its parts'), legends and notes.
pub fn markdown(report: &Report<'_>) -> String {
    let mut out = String::new();
    let m = report.machine;
    let _ = writeln!(
        out,
        "_Generated by `scripts/bench.sh` ({} mode, medians over {} trials, `[min–max]` where shown) on {}, {} \
         CPUs, Linux {}, {}, commit {}, {} UTC; the run took {:.0} s._",
        format!("{:?}", report.config.mode).to_lowercase(),
        report.config.plan.trials,
        md_escape(&m.cpu_model),
        m.nproc,
        md_escape(&m.kernel),
        md_escape(&m.rustc),
        m.git_commit.as_deref().map_or("unknown".into(), md_escape),
        utc_date_time(report.started_unix_s),
        report.wall_s
    );
    for r in report.scenarios {
        let _ = writeln!(out, "\n### {} {}\n\n{}", r.id, md_escape(r.title), md_escape(r.about));
        markdown_body(&mut out, r);
        for part in &r.parts {
            let _ = writeln!(out, "\n#### {} {}\n\n{}", part.id, md_escape(part.title), md_escape(part.about));
            markdown_body(&mut out, part);
        }
    }
    out
}

fn markdown_body(out: &mut String, r: &ScenarioReport) {
    let Grid { header, lines, legend } = grid(r);
    if !lines.is_empty() {
        let row = |cells: &[String]| {
            let cells: Vec<String> = cells.iter().map(|c| md_escape(c)).collect();
            format!("| {} |", cells.join(" | "))
        };
        let _ = writeln!(out, "\n{}", row(&header));
        let rule: Vec<&str> = (0..header.len()).map(|i| if i < 2 { "---" } else { "--:" }).collect();
        let _ = writeln!(out, "|{}|", rule.join("|"));
        for l in &lines {
            let _ = writeln!(out, "{}", row(l));
        }
    }
    let mut remarks: Vec<String> = legend.into_iter().collect();
    remarks.extend(r.notes.iter().cloned());
    if !remarks.is_empty() {
        out.push('\n');
        for remark in remarks {
            let _ = writeln!(out, "- {}", md_escape(&remark));
        }
    }
}

/// `unix_s` as `YYYY-MM-DD HH:MM` (UTC), by the civil-from-days algorithm.
fn utc_date_time(unix_s: u64) -> String {
    let days = (unix_s / 86_400) as i64;
    let secs = unix_s % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

/// `doc` with the text between [`DOCS_START`] and [`DOCS_END`] replaced by
/// `generated` (the markers stay); `None` when a marker is missing or the
/// end comes before the start.
pub fn splice(doc: &str, generated: &str) -> Option<String> {
    let start = doc.find(DOCS_START)? + DOCS_START.len();
    let end = start + doc[start..].find(DOCS_END)?;
    Some(format!("{}\n{}{}{}", &doc[..start], generated.trim_end(), "\n", &doc[end..]))
}

/// Rewrites the generated part of the document at `path` with
/// `generated`. Returns `Ok(false)`, touching nothing, when the file does
/// not exist or lacks the markers.
pub fn update_docs(path: &Path, generated: &str) -> std::io::Result<bool> {
    let doc = match std::fs::read_to_string(path) {
        Ok(doc) => doc,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    match splice(&doc, generated) {
        Some(new) if new != doc => std::fs::write(path, new).map(|()| true),
        Some(_) => Ok(true),
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_between_the_markers() {
        let doc = format!("# Title\nintro\n{DOCS_START}\nold\ntables\n{DOCS_END}\noutro\n");
        let new = splice(&doc, "new tables\n").unwrap();
        assert_eq!(new, format!("# Title\nintro\n{DOCS_START}\nnew tables\n{DOCS_END}\noutro\n"));
        // Idempotent: splicing again gives the same document.
        assert_eq!(splice(&new, "new tables").unwrap(), new);
        assert_eq!(splice("no markers here", "x"), None);
        assert_eq!(splice(&format!("{DOCS_START} only the start"), "x"), None);
        assert_eq!(splice(&format!("{DOCS_END} before {DOCS_START}"), "x"), None);
    }

    #[test]
    fn update_docs_skips_a_missing_file_or_markers() {
        let dir = std::env::temp_dir().join(format!("rwlocker-bench-docs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.md");
        assert!(!update_docs(&missing, "x").unwrap());
        assert!(!missing.exists(), "a missing document must not be created");
        let plain = dir.join("plain.md");
        std::fs::write(&plain, "no markers\n").unwrap();
        assert!(!update_docs(&plain, "x").unwrap());
        assert_eq!(std::fs::read_to_string(&plain).unwrap(), "no markers\n");
        let marked = dir.join("marked.md");
        std::fs::write(&marked, format!("a\n{DOCS_START}\nb\n{DOCS_END}\nc\n")).unwrap();
        assert!(update_docs(&marked, "tables").unwrap());
        assert_eq!(std::fs::read_to_string(&marked).unwrap(), format!("a\n{DOCS_START}\ntables\n{DOCS_END}\nc\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn markdown_escapes_type_names_and_pipes() {
        assert_eq!(md_escape("rwlocker Strict<PhaseFair>"), "rwlocker Strict&lt;PhaseFair&gt;");
        assert_eq!(md_escape("a|b *c* d_e"), "a\\|b \\*c\\* d\\_e");
        assert_eq!(utc_date_time(0), "1970-01-01 00:00");
        assert_eq!(utc_date_time(951_782_400 + 3_661), "2000-02-29 01:01");
        assert_eq!(utc_date_time(1_798_761_599), "2026-12-31 23:59");
    }
}

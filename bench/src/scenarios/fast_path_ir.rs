//! B1: fast-path instruction counts under callgrind.
//!
//! The binary's hidden `ir-op <contender> <op> <n>` command runs one
//! operation `n` times. This scenario runs it under
//! `valgrind --tool=callgrind` at two values of `n` and reports
//! `(Ir(n2) − Ir(n1)) / (n2 − n1)`: the instructions of one operation, loop
//! included, with process start-up and exit cancelled out. Instruction
//! counts are deterministic, so one run is enough and they are the one
//! figure that can gate CI on a noisy machine.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use super::Scenario;
use crate::contenders::{Contender, ContenderInfo};
use crate::harness::{Bench, Column, Ctx, Headline, Mode, Phase, Sample, ScenarioReport, TrialPlan};
use crate::ops::Op;

pub struct FastPathIr;

/// The valgrind version, if valgrind can be run.
pub fn valgrind_version() -> Option<String> {
    static VERSION: OnceLock<Option<String>> = OnceLock::new();
    VERSION
        .get_or_init(|| {
            let out = Command::new("valgrind").arg("--version").output().ok()?;
            out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        })
        .clone()
}

struct Case<'a> {
    exe: &'a Path,
    op: Op,
    n1: u64,
    n2: u64,
    who: Who,
}

/// Which contenders a case counts: rwlocker's reader-biased locks run their
/// read+unlock in a case of their own, labelled as measured with the bias
/// on (the `ir-op` command turns it on before it counts).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    /// Every contender the operation applies to.
    All,
    /// All but the reader-biased ones.
    Unbiased,
    /// The reader-biased ones only.
    Biased,
}

/// The case label of the reader-biased locks' read+unlock.
const BIASED_READ: &str = "read+unlock, bias on (steady state)";

/// The binary to run under valgrind: a copy of this one without debug
/// information when `strip` is available (valgrind then starts about twice
/// as fast; the code, and so the count, is the same), else this one.
struct Subject {
    path: PathBuf,
    temp_dir: Option<PathBuf>,
}

impl Subject {
    fn prepare() -> Subject {
        let exe = std::env::current_exe().expect("path of the running benchmark binary");
        let dir = std::env::temp_dir().join(format!("rwlocker-bench-ir-{}", std::process::id()));
        let copy = dir.join("rwlocker-bench");
        let stripped = std::fs::create_dir_all(&dir).is_ok()
            && std::fs::copy(&exe, &copy).is_ok()
            && Command::new("strip").arg("--strip-debug").arg(&copy).status().is_ok_and(|s| s.success());
        if stripped {
            Subject { path: copy, temp_dir: Some(dir) }
        } else {
            let _ = std::fs::remove_dir_all(&dir);
            Subject { path: exe, temp_dir: None }
        }
    }
}

impl Drop for Subject {
    fn drop(&mut self) {
        if let Some(dir) = &self.temp_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Starts `ir-op id op n` under callgrind.
fn spawn_callgrind(exe: &Path, id: &str, op: Op, n: u64) -> Child {
    Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(exe)
        .args(["ir-op", id, op.id(), &n.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("valgrind could not be started")
}

/// Total instructions callgrind collected for the run `child`.
fn collected(child: Child, id: &str, op: Op, n: u64) -> u64 {
    let out = child.wait_with_output().expect("waiting for valgrind");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        panic!("callgrind run of `ir-op {id} {} {n}` failed ({}):\n{stderr}", op.id(), out.status);
    }
    parse_collected(&stderr).unwrap_or_else(|| {
        panic!("no \"Collected :\" line in callgrind's output of `ir-op {id} {}`:\n{stderr}", op.id())
    })
}

/// The total of callgrind's `==pid== Collected : N` line.
fn parse_collected(stderr: &str) -> Option<u64> {
    stderr.lines().find_map(|l| {
        let rest = l.split_once("Collected :")?.1;
        rest.split_whitespace().next()?.parse().ok()
    })
}

impl Bench for Case<'_> {
    fn biased(&self) -> bool {
        self.who != Who::Unbiased
    }
    fn applies(&self, c: &ContenderInfo) -> bool {
        self.op.applies(c) && (self.who != Who::Biased || c.biased)
    }
    fn run<C: Contender>(&self, _: Phase) -> Sample {
        // Counts do not depend on timing: run both sizes at once.
        let id = C::INFO.id;
        let first = spawn_callgrind(self.exe, id, self.op, self.n1);
        let second = spawn_callgrind(self.exe, id, self.op, self.n2);
        let a = collected(first, id, self.op, self.n1);
        let b = collected(second, id, self.op, self.n2);
        Sample::of("ir", (b as f64 - a as f64) / (self.n2 - self.n1) as f64)
    }
}

impl Scenario for FastPathIr {
    fn id(&self) -> &'static str {
        "B1"
    }
    fn title(&self) -> &'static str {
        "fast-path instructions per operation (callgrind)"
    }
    fn about(&self) -> &'static str {
        "Instructions retired per uncontended operation, loop included, from callgrind's total at two loop \
         counts; deterministic."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("ir");
        report.lower_is_better = true;
        report.columns = vec![Column::plain("ir", "Ir/op", 1)];
        if !ctx.cfg.callgrind {
            report.notes.push("skipped: callgrind disabled (--no-callgrind)".into());
            return;
        }
        let Some(version) = valgrind_version() else {
            report.notes.push("skipped: valgrind not found (install it, e.g. `apt-get install valgrind`)".into());
            return;
        };
        let (n1, n2) = ctx.cfg.pick((1_000, 11_000), (10_000, 210_000), (10_000, 1_010_000));
        report.notes.push(format!("{version}; Ir/op = (Ir(n={n2}) - Ir(n={n1})) / {}", n2 - n1));
        let subject = if ctx.counting() { None } else { Some(Subject::prepare()) };
        let exe = subject.as_ref().map_or(Path::new(""), |s| s.path.as_path());
        // Each case starts valgrind twice (about 1.5 s of start-up); quick
        // mode counts the two headline operations only.
        let ops: &[Op] = if ctx.cfg.mode == Mode::Full { &Op::ALL } else { &[Op::Read, Op::Write] };
        if ops.len() < Op::ALL.len() {
            report.notes.push("quick mode counts read+unlock and write+unlock; --full counts every operation".into());
        }
        for &op in ops {
            let who = if op == Op::Read { Who::Unbiased } else { Who::All };
            let rows = ctx.run_case_with(op.label(), &Case { exe, op, n1, n2, who }, TrialPlan::ONCE);
            report.rows.extend(rows);
            if op == Op::Read {
                let mut rows =
                    ctx.run_case_with(BIASED_READ, &Case { exe, op, n1, n2, who: Who::Biased }, TrialPlan::ONCE);
                // Ratios to the baselines' read+unlock (counted above: the
                // same operation; the biased case does not rerun them).
                for row in &mut rows {
                    for b in &report.baselines {
                        let base = report
                            .rows
                            .iter()
                            .find(|r| r.case == op.label() && r.contender.id == b.id_for(row.contender.kind));
                        if let (Some(mine), Some(base)) = (row.median("ir"), base.and_then(|r| r.median("ir"))) {
                            if base > 0.0 {
                                row.ratios.insert(b.label.to_string(), mine / base);
                            }
                        }
                    }
                }
                report.rows.extend(rows);
            }
        }
        report.notes.push(format!(
            "`{BIASED_READ}`: rwlocker's ReadBiased locks, counted after reads have turned the bias on and checked \
             to have it on still at the end (their ratios are to the baselines' read+unlock above)"
        ));
        // One chart of read+unlock, the reader-biased locks (bias on) included.
        let bars: Vec<_> = report
            .rows
            .iter()
            .filter(|r| r.case == Op::Read.label() || r.case == BIASED_READ)
            .filter_map(|r| r.median("ir").map(|v| (r.contender, v)))
            .collect();
        if !bars.is_empty() {
            report.headlines.push(Headline {
                title: "B1 read+unlock (ReadBiased: bias on): instructions/op".into(),
                axis: "Ir per op (lower is better)".into(),
                bars,
                log: false,
            });
        }
        report.headline(Op::Write.label(), "ir", "B1 write+unlock: instructions/op", "Ir per op (lower is better)");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_the_collected_line() {
        let err = "==12== Events    : Ir\n==12== Collected : 1234567\n==12==\n==12== I   refs:      1,234,567\n";
        assert_eq!(super::parse_collected(err), Some(1_234_567));
        assert_eq!(super::parse_collected("nothing here"), None);
    }
}

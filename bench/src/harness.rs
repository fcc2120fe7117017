//! The common harness: configuration, interleaved trials, statistics,
//! correctness checks, and the result model every scenario fills in.
//!
//! A scenario describes one *case* (a point of its parameter grid) as a
//! [`Bench`]; [`Ctx::run_case`] runs that case for every contender that it
//! applies to, all in this process, in a rotating order: round `k` starts
//! with contender `k mod n`, so slow drift of the machine (neighbours,
//! frequency changes) spreads over all contenders instead of punishing the
//! one that happens to run last. One warm-up round is discarded, then the
//! median, minimum and maximum over the trials are kept.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde::Serialize;

use crate::contenders::{
    self, AsyncCondvarContender, AsyncCondvarVisit, AsyncContender, AsyncVisit, Baseline, CondvarContender,
    CondvarVisit, Contender, ContenderInfo, LockKind, Visit,
};

/// How much to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The smallest configuration: proves the harness works, numbers mean
    /// little (used by the test suite).
    Smoke,
    /// The default: about four minutes on 2 cores.
    Quick,
    /// Everything, with more trials and larger grids.
    Full,
}

/// Warm-up rounds and measured trials for one case.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TrialPlan {
    /// Rounds run and discarded first.
    pub warmup: usize,
    /// Rounds measured.
    pub trials: usize,
}

impl TrialPlan {
    /// One measured run, no warm-up (deterministic measurements).
    pub const ONCE: TrialPlan = TrialPlan { warmup: 0, trials: 1 };

    fn rounds(self) -> usize {
        self.warmup + self.trials
    }
}

/// The run's configuration, from the command line.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// Smoke, quick or full.
    pub mode: Mode,
    /// Default warm-up and trial counts for timed cases.
    pub plan: TrialPlan,
    /// Whether B1 may run valgrind.
    pub callgrind: bool,
}

impl Config {
    /// The defaults of `mode`; `trials` overrides the trial count.
    pub fn new(mode: Mode, trials: Option<usize>, callgrind: bool) -> Config {
        let plan = match mode {
            Mode::Smoke => TrialPlan { warmup: 0, trials: 1 },
            Mode::Quick => TrialPlan { warmup: 1, trials: 3 },
            Mode::Full => TrialPlan { warmup: 1, trials: 5 },
        };
        let plan = TrialPlan { trials: trials.unwrap_or(plan.trials).max(1), ..plan };
        Config { mode, plan, callgrind }
    }

    /// Picks a parameter by mode.
    pub fn pick<T>(&self, smoke: T, quick: T, full: T) -> T {
        match self.mode {
            Mode::Smoke => smoke,
            Mode::Quick => quick,
            Mode::Full => full,
        }
    }
}

/// Whether a run is the discarded warm-up or a measured trial (scenarios
/// may shorten their warm-ups).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Discarded.
    Warmup,
    /// Measured.
    Trial,
}

/// The metrics of one run: `(name, value)` pairs.
#[derive(Clone, Debug, Default)]
pub struct Sample(pub Vec<(&'static str, f64)>);

impl Sample {
    /// A sample with one metric.
    pub fn of(key: &'static str, value: f64) -> Sample {
        Sample(vec![(key, value)])
    }
    /// Adds a metric.
    pub fn with(mut self, key: &'static str, value: f64) -> Sample {
        self.0.push((key, value));
        self
    }
}

/// One case of a scenario, runnable for any contender.
pub trait Bench: Sync {
    /// Whether this case makes sense for `c` (e.g. reader-writer locks only).
    fn applies(&self, c: &ContenderInfo) -> bool {
        let _ = c;
        true
    }
    /// Whether rwlocker's `Strict<P>` contenders run too, beside the
    /// default mode (the contention-sensitive scenarios say yes; elsewhere
    /// both modes run the same uncontended code).
    fn both_modes(&self) -> bool {
        false
    }
    /// Whether rwlocker's reader-biased contenders (`ReadBiased<P>`) run
    /// too (the scenarios the bias is meant for, or might hurt, say yes).
    fn biased(&self) -> bool {
        false
    }
    /// Runs the case once for contender `C`, asserting correctness (panics
    /// if the lock misbehaved), and returns the measured metrics.
    fn run<C: Contender>(&self, phase: Phase) -> Sample;
}

/// One case of a scenario, runnable for any async lock
/// ([`Ctx::run_async_case`]).
pub trait AsyncBench: Sync {
    /// Whether this case makes sense for `c`.
    fn applies(&self, c: &ContenderInfo) -> bool {
        let _ = c;
        true
    }
    /// Whether rwlocker's `Strict<P>` contenders run too, beside the
    /// default mode (the contention-sensitive scenarios say yes; elsewhere
    /// both modes run the same uncontended code).
    fn both_modes(&self) -> bool {
        false
    }
    /// Whether rwlocker's reader-biased contenders (`ReadBiased<P>`) run
    /// too (the scenarios the bias is meant for, or might hurt, say yes).
    fn biased(&self) -> bool {
        false
    }
    /// Runs the case once for async contender `C` (building whatever
    /// runtime it needs), asserting correctness, and returns the metrics.
    fn run<C: AsyncContender>(&self, phase: Phase) -> Sample;
}

/// One case of a scenario, runnable for any blocking condition variable
/// ([`Ctx::run_condvar_case_with`]).
pub trait CondvarBench: Sync {
    /// Whether this case makes sense for `c`.
    fn applies(&self, c: &ContenderInfo) -> bool {
        let _ = c;
        true
    }
    /// Whether rwlocker's `Strict<P>` contenders run too, beside the
    /// default mode (the contention-sensitive scenarios say yes; elsewhere
    /// both modes run the same uncontended code).
    fn both_modes(&self) -> bool {
        false
    }
    /// Whether rwlocker's reader-biased contenders (`ReadBiased<P>`) run
    /// too (the scenarios the bias is meant for, or might hurt, say yes).
    fn biased(&self) -> bool {
        false
    }
    /// Runs the case once for `C`, asserting correctness.
    fn run<C: CondvarContender>(&self, phase: Phase) -> Sample;
}

/// One case of a scenario, runnable for any async condition
/// ([`Ctx::run_async_condvar_case_with`]).
pub trait AsyncCondvarBench: Sync {
    /// Whether this case makes sense for `c`.
    fn applies(&self, c: &ContenderInfo) -> bool {
        let _ = c;
        true
    }
    /// Whether rwlocker's `Strict<P>` contenders run too, beside the
    /// default mode (the contention-sensitive scenarios say yes; elsewhere
    /// both modes run the same uncontended code).
    fn both_modes(&self) -> bool {
        false
    }
    /// Whether rwlocker's reader-biased contenders (`ReadBiased<P>`) run
    /// too (the scenarios the bias is meant for, or might hurt, say yes).
    fn biased(&self) -> bool {
        false
    }
    /// Runs the case once for `C`, asserting correctness.
    fn run<C: AsyncCondvarContender>(&self, phase: Phase) -> Sample;
}

/// Median, minimum and maximum over the trials.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Stat {
    /// Median (mean of the middle two for an even count).
    pub median: f64,
    /// Smallest trial.
    pub min: f64,
    /// Largest trial.
    pub max: f64,
    /// Number of trials.
    pub n: usize,
}

impl Stat {
    /// Statistics of `values` (not empty).
    pub fn of(values: &[f64]) -> Stat {
        assert!(!values.is_empty(), "no trials");
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Stat { median, min: v[0], max: v[n - 1], n }
    }
}

/// One contender in one case: its metrics, ratios and derived figures.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The case label (e.g. `threads=2 read=90%`).
    pub case: String,
    /// The contender.
    pub contender: ContenderInfo,
    /// Measured metrics over the trials.
    pub metrics: BTreeMap<String, Stat>,
    /// `ratio` of the primary metric's median to each baseline's median,
    /// keyed by the baseline's label (`std`, `parking_lot`, `tokio`, …):
    /// below 1 is better when lower is better.
    pub ratios: BTreeMap<String, f64>,
    /// Figures computed from the medians (speedup, efficiency, …).
    pub derived: BTreeMap<String, f64>,
}

impl Row {
    /// The median of a metric.
    pub fn median(&self, key: &str) -> Option<f64> {
        self.metrics.get(key).map(|s| s.median)
    }
}

/// A column of a scenario's table.
#[derive(Clone, Debug, Serialize)]
pub struct Column {
    /// Metric or derived key.
    pub key: &'static str,
    /// Header.
    pub label: &'static str,
    /// Decimals to print.
    pub decimals: usize,
    /// Whether to print `median [min–max]` (measured metrics) or just the value.
    pub spread: bool,
    /// Whether this is a derived figure rather than a measured metric.
    pub derived: bool,
}

impl Column {
    /// A measured metric, printed with its spread.
    pub fn metric(key: &'static str, label: &'static str, decimals: usize) -> Column {
        Column { key, label, decimals, spread: true, derived: false }
    }
    /// A measured metric, median only.
    pub fn plain(key: &'static str, label: &'static str, decimals: usize) -> Column {
        Column { key, label, decimals, spread: false, derived: false }
    }
    /// A derived figure.
    pub fn derived(key: &'static str, label: &'static str, decimals: usize) -> Column {
        Column { key, label, decimals, spread: false, derived: true }
    }
}

/// One bar chart of the SVG report.
#[derive(Clone, Debug, Serialize)]
pub struct Headline {
    /// Chart title.
    pub title: String,
    /// Value axis label (unit, and which way is better).
    pub axis: String,
    /// `(contender, value)` bars.
    pub bars: Vec<(ContenderInfo, f64)>,
    /// Whether the value axis is logarithmic (for values spanning decades).
    pub log: bool,
}

/// Everything one scenario reports.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    /// `B1`, `B2`, …
    pub id: &'static str,
    /// Short title.
    pub title: &'static str,
    /// What it measures.
    pub about: &'static str,
    /// The metric that ratios compare.
    pub primary: Option<&'static str>,
    /// Whether a lower primary metric is better (ratio < 1 = better).
    pub lower_is_better: bool,
    /// What the ratios compare with (default: std's and parking_lot's lock
    /// of the same kind).
    pub baselines: Vec<Baseline>,
    /// Table columns after `case` and `contender`.
    pub columns: Vec<Column>,
    /// Results.
    pub rows: Vec<Row>,
    /// Remarks printed under the table (skips, pinning, caveats).
    pub notes: Vec<String>,
    /// Charts for the SVG.
    pub headlines: Vec<Headline>,
    /// Further tables of the scenario, each with its own columns, primary
    /// metric and rows (B4's fixed-time cases); printed after the main one.
    pub parts: Vec<ScenarioReport>,
    /// Seconds the scenario took.
    pub wall_s: f64,
}

impl ScenarioReport {
    /// An empty report.
    pub fn new(id: &'static str, title: &'static str, about: &'static str) -> ScenarioReport {
        ScenarioReport {
            id,
            title,
            about,
            primary: None,
            lower_is_better: true,
            baselines: vec![Baseline::STD, Baseline::PARKING_LOT, Baseline::PARKING_LOT_013],
            columns: Vec::new(),
            rows: Vec::new(),
            notes: Vec::new(),
            headlines: Vec::new(),
            parts: Vec::new(),
            wall_s: 0.0,
        }
    }

    /// Fills in the ratio of each row's primary metric to each of
    /// [`baselines`](Self::baselines) in the same case (where it ran), in
    /// this table and its [`parts`](Self::parts).
    pub fn compute_ratios(&mut self) {
        for part in &mut self.parts {
            part.compute_ratios();
        }
        let Some(primary) = self.primary else { return };
        let medians: BTreeMap<(String, &str), f64> =
            self.rows.iter().filter_map(|r| r.median(primary).map(|m| ((r.case.clone(), r.contender.id), m))).collect();
        for row in &mut self.rows {
            let Some(mine) = row.median(primary) else { continue };
            for baseline in &self.baselines {
                let base = baseline.id_for(row.contender.kind);
                if let Some(&b) = medians.get(&(row.case.clone(), base)) {
                    if b > 0.0 {
                        row.ratios.insert(baseline.label.to_string(), mine / b);
                    }
                }
            }
        }
    }

    /// A headline chart of `key` (a metric median or a derived value) for
    /// the rows of `case`.
    pub fn headline(&mut self, case: &str, key: &str, title: impl Into<String>, axis: impl Into<String>) {
        self.push_headline(case, key, title.into(), axis.into(), false);
    }

    /// Like [`headline`](Self::headline), on a logarithmic value axis.
    pub fn headline_log(&mut self, case: &str, key: &str, title: impl Into<String>, axis: impl Into<String>) {
        self.push_headline(case, key, title.into(), axis.into(), true);
    }

    fn push_headline(&mut self, case: &str, key: &str, title: String, axis: String, log: bool) {
        let bars: Vec<(ContenderInfo, f64)> = self
            .rows
            .iter()
            .filter(|r| r.case == case)
            .filter_map(|r| r.median(key).or_else(|| r.derived.get(key).copied()).map(|v| (r.contender, v)))
            .collect();
        if !bars.is_empty() {
            self.headlines.push(Headline { title, axis, bars, log });
        }
    }
}

/// The running state shared by all scenarios: configuration and progress.
pub struct Ctx {
    /// The configuration.
    pub cfg: Config,
    progress: ProgressBar,
    /// When set, `run_case` only counts the runs it would make (the
    /// planning pass that sizes the progress bar).
    counting: bool,
    counted: u64,
    scenario: &'static str,
}

/// The body of every `run_*_case_with`: collect the contenders of one
/// family that `bench` applies to (through the family's visitor; the
/// `Strict<P>` ones only where the bench wants both modes, the
/// `ReadBiased<P>` ones only where it wants them), then run
/// them. The families differ only in the four names passed in.
macro_rules! collect_and_run {
    ($this:ident, $case:ident, $bench:ident, $plan:ident, $Bench:ident, $Visit:ident, $Contender:ident, $visit_all:ident) => {{
        struct Collect<'b, B> {
            bench: &'b B,
            out: Vec<Runner<'b>>,
        }
        impl<'b, B: $Bench> $Visit for Collect<'b, B> {
            fn visit<C: $Contender>(&mut self) {
                if self.bench.applies(&C::INFO)
                    && (!C::INFO.strict || self.bench.both_modes())
                    && (!C::INFO.biased || self.bench.biased())
                {
                    let bench = self.bench;
                    self.out.push((C::INFO, Box::new(move |phase| bench.run::<C>(phase))));
                }
            }
        }
        let mut c = Collect { bench: $bench, out: Vec::new() };
        contenders::$visit_all(&mut c);
        $this.run_runners($case.into(), c.out, $plan)
    }};
}

impl Ctx {
    /// A context reporting progress on `progress`.
    pub fn new(cfg: Config, progress: ProgressBar) -> Ctx {
        Ctx { cfg, progress, counting: false, counted: 0, scenario: "" }
    }

    /// Switches to (or out of) the counting pass; returns the runs counted
    /// since the last switch.
    pub fn set_counting(&mut self, on: bool) -> u64 {
        self.counting = on;
        std::mem::take(&mut self.counted)
    }

    /// Whether this is the counting pass: `run_case` only counts, so a
    /// scenario may skip expensive set-up.
    pub fn counting(&self) -> bool {
        self.counting
    }

    /// Names the scenario for progress messages.
    pub fn enter(&mut self, scenario: &'static str) {
        self.scenario = scenario;
    }

    /// Prints a line without tearing the progress bar.
    pub fn println(&self, line: impl AsRef<str>) {
        if !self.counting {
            self.progress.suspend(|| println!("{}", line.as_ref()));
        }
    }

    /// Runs `bench` with the default trial plan.
    pub fn run_case<B: Bench>(&mut self, case: impl Into<String>, bench: &B) -> Vec<Row> {
        let plan = self.cfg.plan;
        self.run_case_with(case, bench, plan)
    }

    /// Runs `bench` for every contender it applies to, interleaved in a
    /// rotating order, and returns one row per contender (empty while
    /// counting).
    pub fn run_case_with<B: Bench>(&mut self, case: impl Into<String>, bench: &B, plan: TrialPlan) -> Vec<Row> {
        collect_and_run!(self, case, bench, plan, Bench, Visit, Contender, visit_all)
    }

    /// [`run_case`](Self::run_case) for the async locks.
    pub fn run_async_case<B: AsyncBench>(&mut self, case: impl Into<String>, bench: &B) -> Vec<Row> {
        let plan = self.cfg.plan;
        self.run_async_case_with(case, bench, plan)
    }

    /// [`run_case_with`](Self::run_case_with) for the async locks.
    pub fn run_async_case_with<B: AsyncBench>(
        &mut self,
        case: impl Into<String>,
        bench: &B,
        plan: TrialPlan,
    ) -> Vec<Row> {
        collect_and_run!(self, case, bench, plan, AsyncBench, AsyncVisit, AsyncContender, visit_all_async)
    }

    /// [`run_case_with`](Self::run_case_with) for the blocking condition
    /// variables.
    pub fn run_condvar_case_with<B: CondvarBench>(
        &mut self,
        case: impl Into<String>,
        bench: &B,
        plan: TrialPlan,
    ) -> Vec<Row> {
        collect_and_run!(self, case, bench, plan, CondvarBench, CondvarVisit, CondvarContender, visit_all_condvars)
    }

    /// [`run_case_with`](Self::run_case_with) for the async conditions.
    pub fn run_async_condvar_case_with<B: AsyncCondvarBench>(
        &mut self,
        case: impl Into<String>,
        bench: &B,
        plan: TrialPlan,
    ) -> Vec<Row> {
        collect_and_run!(
            self,
            case,
            bench,
            plan,
            AsyncCondvarBench,
            AsyncCondvarVisit,
            AsyncCondvarContender,
            visit_all_async_condvars
        )
    }

    /// The common loop: rounds in rotating order, warm-ups discarded.
    fn run_runners(&mut self, case: String, runners: Vec<Runner<'_>>, plan: TrialPlan) -> Vec<Row> {
        if self.counting {
            self.counted += (runners.len() * plan.rounds()) as u64;
            return Vec::new();
        }
        let n = runners.len();
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); n];
        for round in 0..plan.rounds() {
            let phase = if round < plan.warmup { Phase::Warmup } else { Phase::Trial };
            for i in 0..n {
                let idx = (i + round) % n;
                let (info, run) = &runners[idx];
                let tag = if phase == Phase::Warmup { " (warm-up)" } else { "" };
                self.progress.set_message(format!("{} {} · {}{}", self.scenario, case, info.name, tag));
                let sample = run(phase);
                if phase == Phase::Trial {
                    samples[idx].push(sample);
                }
                self.progress.inc(1);
            }
        }
        runners
            .iter()
            .zip(samples)
            .map(|((info, _), samples)| {
                let mut values: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
                for s in &samples {
                    for &(k, v) in &s.0 {
                        values.entry(k).or_default().push(v);
                    }
                }
                Row {
                    case: case.clone(),
                    contender: *info,
                    metrics: values.into_iter().map(|(k, v)| (k.to_string(), Stat::of(&v))).collect(),
                    ratios: BTreeMap::new(),
                    derived: BTreeMap::new(),
                }
            })
            .collect()
    }
}

/// A contender of a case, with its monomorphised run.
type Runner<'b> = (ContenderInfo, Box<dyn Fn(Phase) -> Sample + 'b>);

// ---------------------------------------------------------------------------
// Correctness
// ---------------------------------------------------------------------------

/// Fails the run: a lock let two parties in that must exclude each other.
#[cold]
#[track_caller]
pub fn violation(what: &str) -> ! {
    panic!("rwlocker-bench: CORRECTNESS VIOLATION: {what}")
}

/// The in-critical-section check: counts who is inside, panics on overlap.
///
/// A reader announces itself, then checks that no writer is inside; a
/// writer raises its flag, then checks that no reader is inside. With
/// sequentially consistent operations at least one of two overlapping
/// parties sees the other, so any overlap the lock allowed is caught.
/// For a [`LockKind::Mutex`] every entry is exclusive.
#[repr(align(128))]
pub struct Checker {
    readers: AtomicU32,
    writer: AtomicBool,
    exclusive: bool,
}

impl Checker {
    /// A checker for a lock of `kind`.
    pub fn new(kind: LockKind) -> Checker {
        Checker { readers: AtomicU32::new(0), writer: AtomicBool::new(false), exclusive: kind == LockKind::Mutex }
    }

    /// Runs `f` as a reader inside the critical section.
    #[inline]
    pub fn read<R>(&self, f: impl FnOnce() -> R) -> R {
        let _inside = self.enter_read();
        f()
    }

    /// Runs `f` as the writer inside the critical section.
    #[inline]
    pub fn write<R>(&self, f: impl FnOnce() -> R) -> R {
        let _inside = self.enter_write();
        f()
    }

    /// Enters as a reader until the returned token drops (for critical
    /// sections that await).
    #[inline]
    pub fn enter_read(&self) -> Inside<'_> {
        if self.exclusive {
            return self.enter_write();
        }
        self.readers.fetch_add(1, SeqCst);
        if self.writer.load(SeqCst) {
            violation("a reader is inside while a writer is");
        }
        Inside { check: self, writer: false }
    }

    /// Enters as the writer until the returned token drops.
    #[inline]
    pub fn enter_write(&self) -> Inside<'_> {
        if self.writer.swap(true, SeqCst) {
            violation("two exclusive holders are inside at once");
        }
        if self.readers.load(SeqCst) != 0 {
            violation("a writer is inside while readers are");
        }
        Inside { check: self, writer: true }
    }
}

/// A party inside a [`Checker`]'s critical section; leaves on drop.
pub struct Inside<'a> {
    check: &'a Checker,
    writer: bool,
}

impl Drop for Inside<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.writer {
            self.check.writer.store(false, SeqCst);
        } else {
            self.check.readers.fetch_sub(1, SeqCst);
        }
    }
}

/// Asserts a final counter.
#[track_caller]
pub fn assert_total(what: &str, got: u64, expected: u64) {
    if got != expected {
        violation(&format!("{what}: final counter {got}, expected {expected} (lost or duplicated updates)"));
    }
}

// ---------------------------------------------------------------------------
// Small tools for scenarios
// ---------------------------------------------------------------------------

/// Pins the calling thread to `cpu` (modulo the CPUs available). Returns
/// whether it worked; a no-op off Linux.
pub fn pin_to_cpu(cpu: usize) -> bool {
    #[cfg(target_os = "linux")]
    {
        let n = cpus();
        if n < 2 {
            return false;
        }
        // SAFETY: `cpu_set_t` is plain old data for which all-zeroes is the
        // empty set; CPU_SET writes inside it for an index below
        // CPU_SETSIZE (ensured by the modulo and the check); pid 0 is the
        // calling thread, and the size passed is the set's real size.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let idx = cpu % n;
            if idx >= libc::CPU_SETSIZE as usize {
                return false;
            }
            libc::CPU_SET(idx, &mut set);
            libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) == 0
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = cpu;
        false
    }
}

/// CPUs available to this process.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Busy-waits for `d` (a critical section that occupies a CPU, unlike a
/// sleep).
#[inline]
pub fn spin_for(d: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Percentile `p` (0–100) of sorted `v` (nearest rank).
pub fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

/// Jain's fairness index `(Σx)² / (n·Σx²)`: 1 when all equal, 1/n when one
/// party did everything.
pub fn jain(xs: &[u64]) -> f64 {
    let n = xs.len() as f64;
    let sum: f64 = xs.iter().map(|&x| x as f64).sum();
    let sq: f64 = xs.iter().map(|&x| (x as f64) * (x as f64)).sum();
    if sq == 0.0 {
        return f64::NAN;
    }
    sum * sum / (n * sq)
}

/// A tiny deterministic random number generator (xorshift64*), so that
/// every contender sees the same operation sequence.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// The next value.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The span from the earliest start to the latest end of `(start, end)`
/// pairs recorded by worker threads. Workers time themselves because the
/// coordinating thread may be scheduled long after a barrier releases them.
pub fn span(times: impl IntoIterator<Item = (Instant, Instant)>) -> Duration {
    let mut first: Option<Instant> = None;
    let mut last: Option<Instant> = None;
    for (a, b) in times {
        first = Some(first.map_or(a, |f| f.min(a)));
        last = Some(last.map_or(b, |l| l.max(b)));
    }
    match (first, last) {
        (Some(a), Some(b)) => b.saturating_duration_since(a),
        _ => Duration::ZERO,
    }
}

/// The tokio runtime a scenario runs its tasks on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `current_thread`: every task on the calling thread.
    CurrentThread,
    /// `multi_thread` with 2 worker threads.
    MultiThread2,
}

impl Flavor {
    /// Label for case names.
    pub fn label(self) -> &'static str {
        match self {
            Flavor::CurrentThread => "current_thread",
            Flavor::MultiThread2 => "multi_thread(2)",
        }
    }

    /// A new runtime of this flavour, with its timer enabled.
    pub fn runtime(self) -> tokio::runtime::Runtime {
        match self {
            Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread().enable_time().build(),
            Flavor::MultiThread2 => tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build(),
        }
        .expect("build a tokio runtime")
    }
}

/// The output of a joined tokio task, re-raising its panic (a correctness
/// violation) on the calling task.
pub fn join_task<T>(r: Result<T, tokio::task::JoinError>) -> T {
    match r {
        Ok(v) => v,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("rwlocker-bench: a task did not finish: {e}"),
    }
}

/// Joins a scoped thread, re-raising its panic (a correctness violation)
/// on the calling thread.
pub fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    match h.join() {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn stat_median_min_max() {
        let s = Stat::of(&[3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        assert_eq!(Stat::of(&[4.0, 1.0, 2.0, 3.0]).median, 2.5);
    }

    #[test]
    fn percentiles_and_fairness() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert!(percentile(&[], 50.0).is_nan());
        assert_eq!(jain(&[5, 5]), 1.0);
        assert_eq!(jain(&[10, 0]), 0.5);
    }

    #[test]
    fn span_covers_all_workers() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(span([(t + ms(2), t + ms(5)), (t, t + ms(3))]), ms(5));
        assert_eq!(span(std::iter::empty()), Duration::ZERO);
    }

    static ORDER: Mutex<Vec<(&'static str, bool)>> = Mutex::new(Vec::new());

    struct Record;
    impl Bench for Record {
        fn run<C: Contender>(&self, phase: Phase) -> Sample {
            ORDER.lock().unwrap().push((C::INFO.id, phase == Phase::Warmup));
            Sample::of("x", ORDER.lock().unwrap().len() as f64)
        }
    }

    #[test]
    fn rounds_rotate_and_warmups_are_discarded() {
        let cfg = Config::new(Mode::Smoke, None, false);
        let mut ctx = Ctx::new(cfg, ProgressBar::hidden());
        ctx.set_counting(true);
        assert!(ctx.run_case_with("c", &Record, TrialPlan { warmup: 1, trials: 2 }).is_empty());
        // Record runs the default mode only: no Strict<P> contender.
        let defaults: Vec<ContenderInfo> =
            contenders::all_infos().into_iter().filter(|c| !c.strict && !c.biased).collect();
        assert!(defaults.len() < contenders::all_infos().len(), "the registry has Strict<P> contenders");
        let n = defaults.len();
        assert_eq!(ctx.set_counting(false), 3 * n as u64);
        assert!(ORDER.lock().unwrap().is_empty(), "the counting pass must not run anything");

        let rows = ctx.run_case_with("c", &Record, TrialPlan { warmup: 1, trials: 2 });
        let order = ORDER.lock().unwrap().clone();
        let ids: Vec<&str> = defaults.iter().map(|c| c.id).collect();
        assert_eq!(order.len(), 3 * n);
        for round in 0..3 {
            // Round k starts with contender k and visits every contender once.
            assert_eq!(order[round * n].0, ids[round % n]);
            let mut seen: Vec<&str> = order[round * n..(round + 1) * n].iter().map(|o| o.0).collect();
            seen.sort_unstable();
            let mut all = ids.clone();
            all.sort_unstable();
            assert_eq!(seen, all);
            assert!(order[round * n..(round + 1) * n].iter().all(|o| o.1 == (round == 0)));
        }
        assert_eq!(rows.len(), n);
        assert!(rows.iter().all(|r| r.metrics["x"].n == 2), "only the two trials are kept");
    }

    #[test]
    fn checker_catches_overlap() {
        let c = Checker::new(LockKind::RwLock);
        c.read(|| c.read(|| ())); // readers may share
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.read(|| c.write(|| ()))));
        assert!(r.is_err(), "a writer inside a read section must be caught");
        let m = Checker::new(LockKind::Mutex);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.read(|| m.read(|| ()))));
        assert!(r.is_err(), "two holders of a mutex must be caught");
    }
}

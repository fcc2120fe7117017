//! `rwlocker-bench`: the benchmark report of rwlocker (docs/SEMANTICS.md §7).
//!
//! Runs every scenario with rwlocker's locks and the std / parking_lot (0.12 and 0.13) /
//! tokio / async-lock baselines in one process, interleaved, prints a table per scenario with
//! ratios to the baselines, and writes `report.json` and `report.svg` to
//! the output folder. `scripts/bench.sh` runs it in release mode.

mod chart;
mod contenders;
mod harness;
mod ops;
mod report;
mod scenarios;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::{ArgGroup, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use harness::{Config, Ctx, Mode, ScenarioReport};

/// The benchmark report of rwlocker: its locks and condition variables
/// against std, parking_lot, tokio and async-lock.
#[derive(Parser, Debug)]
#[command(name = "rwlocker-bench", version, args_conflicts_with_subcommands = true)]
#[command(group(ArgGroup::new("mode").args(["smoke", "quick", "full"])))]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Run the quick configuration (the default): about four minutes on 2 cores.
    #[arg(long)]
    quick: bool,
    /// Run everything: more trials, larger grids, all mutexes in B5.
    #[arg(long)]
    full: bool,
    /// Run the smallest configuration (seconds; proves the harness works).
    #[arg(long)]
    smoke: bool,
    /// Folder for report.json and report.svg.
    #[arg(long, value_name = "DIR", default_value = "bench-report")]
    out: PathBuf,
    /// Run only these scenarios (e.g. `--only B1 B5`).
    #[arg(long, value_name = "SCENARIO", num_args = 1..)]
    only: Vec<String>,
    /// Measured trials per case (default: 1 smoke, 3 quick, 5 full).
    #[arg(long, value_name = "N")]
    trials: Option<usize>,
    /// Skip B1 (the callgrind instruction counts) even if valgrind is installed.
    #[arg(long)]
    no_callgrind: bool,
    /// List the scenarios and contenders, then exit.
    #[arg(long)]
    list: bool,
    /// Do not rewrite the tables in docs/BENCHMARKS.md (a full run of the
    /// report, not --smoke or --only, rewrites them by default).
    #[arg(long)]
    no_docs: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs one fast-path operation N times (what B1 runs under callgrind).
    #[command(hide = true)]
    IrOp {
        /// Contender id (see --list).
        contender: String,
        /// Operation.
        #[arg(value_enum)]
        op: ops::Op,
        /// Repetitions.
        n: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::IrOp { contender, op, n }) = &cli.command {
        return match ops::run_op_by_id(contender, *op, *n) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rwlocker-bench ir-op: {e}");
                ExitCode::from(2)
            }
        };
    }
    if cli.list {
        list();
        return ExitCode::SUCCESS;
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rwlocker-bench: {e}");
            ExitCode::from(2)
        }
    }
}

fn list() {
    println!("scenarios:");
    for s in scenarios::all() {
        println!("  {:<4} {}", s.id(), s.title());
    }
    for (id, what) in scenarios::PLANNED {
        println!("  {id:<4} (planned) {what}");
    }
    let lists = [
        ("blocking locks", contenders::all_infos()),
        ("async locks (B2 async, B6, B13, B14, B15)", contenders::all_async_infos()),
        ("condition variables (B10, B11, B14)", contenders::all_condvar_infos()),
        ("async conditions (B11, B14)", contenders::all_async_condvar_infos()),
    ];
    for (what, infos) in lists {
        println!("contenders, {what}:");
        for c in infos {
            println!("  {:<28} {}", c.id, c.name);
        }
    }
    println!("(the Strict<P> contenders run in the scenarios that compare both modes: B4, B7, B8, B9, B12, B15)");
    println!("(the ReadBiased<P> contenders run where the reader bias is measured: B1, B3, B4, B7, B14, B16)");
}

fn run(cli: &Cli) -> Result<(), String> {
    let mode = if cli.full {
        Mode::Full
    } else if cli.smoke {
        Mode::Smoke
    } else {
        Mode::Quick
    };
    let cfg = Config::new(mode, cli.trials, !cli.no_callgrind);

    // Which scenarios.
    let mut selected = scenarios::all();
    if !cli.only.is_empty() {
        let wanted: Vec<String> = cli.only.iter().map(|s| s.to_ascii_uppercase()).collect();
        for w in &wanted {
            if let Some((_, what)) = scenarios::PLANNED.iter().find(|(id, _)| id == w) {
                println!("{w} is not available yet: {what}");
            } else if !selected.iter().any(|s| s.id() == w) {
                let known: Vec<&str> = selected.iter().map(|s| s.id()).collect();
                return Err(format!("unknown scenario {w:?}; available: {}", known.join(" ")));
            }
        }
        selected.retain(|s| wanted.iter().any(|w| w == s.id()));
        if selected.is_empty() {
            return Err("nothing to run".into());
        }
    }
    std::fs::create_dir_all(&cli.out).map_err(|e| format!("cannot create {}: {e}", cli.out.display()))?;

    let machine = report::Machine::detect();
    let started_unix_s = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    println!("rwlocker-bench {} ({mode:?} mode)", env!("CARGO_PKG_VERSION"));
    println!("machine: {}", machine.summary());
    if cfg.callgrind && machine.valgrind.is_none() && selected.iter().any(|s| s.id() == "B1") {
        println!("valgrind not found: B1 (instruction counts) will be skipped");
    }

    // Planning pass: count the runs so the progress bar has a length.
    let progress = ProgressBar::new(0);
    let mut ctx = Ctx::new(cfg.clone(), progress.clone());
    ctx.set_counting(true);
    for s in &selected {
        let mut scratch = ScenarioReport::new(s.id(), s.title(), s.about());
        s.run(&mut ctx, &mut scratch);
    }
    let total_runs = ctx.set_counting(false);
    progress.set_length(total_runs);
    progress.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:32.cyan/blue}] {pos}/{len} runs  {wide_msg}")
            .expect("valid progress template")
            .progress_chars("=> "),
    );

    let steal_before = report::steal_ticks();
    let t0 = Instant::now();
    let mut results = Vec::new();
    for s in &selected {
        ctx.enter(s.id());
        let mut r = ScenarioReport::new(s.id(), s.title(), s.about());
        let ts = Instant::now();
        s.run(&mut ctx, &mut r);
        r.wall_s = ts.elapsed().as_secs_f64();
        r.compute_ratios();
        ctx.println(report::table(&r));
        results.push(r);
    }
    progress.finish_and_clear();
    let wall_s = t0.elapsed().as_secs_f64();
    let steal_ticks_during = steal_before.zip(report::steal_ticks()).map(|(a, b)| b.saturating_sub(a));

    let doc = report::Report {
        tool: "rwlocker-bench",
        version: env!("CARGO_PKG_VERSION"),
        config: &cfg,
        machine: &machine,
        started_unix_s,
        wall_s,
        steal_ticks_during,
        scenarios: &results,
        planned: scenarios::PLANNED.to_vec(),
    };
    let json_path = cli.out.join("report.json");
    report::write_json(&json_path, &doc).map_err(|e| format!("cannot write {}: {e}", json_path.display()))?;
    let headlines: Vec<_> = results.iter().flat_map(|r| r.headlines.iter().cloned()).collect();
    let subtitle = format!("{mode:?} mode · {} · medians over trials", machine.summary());
    let svg = chart::render("rwlocker benchmark report: headline comparisons", &subtitle, &headlines)?;
    let svg_path = cli.out.join("report.svg");
    std::fs::write(&svg_path, svg).map_err(|e| format!("cannot write {}: {e}", svg_path.display()))?;

    println!("\ndone in {wall_s:.1} s; wrote {} and {}", json_path.display(), svg_path.display());
    // A complete run regenerates the tables of the benchmark page, between
    // its markers; a document without them (or no document) is left alone.
    if mode != Mode::Smoke && cli.only.is_empty() && !cli.no_docs {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("docs").join("BENCHMARKS.md");
        match report::update_docs(&docs, &report::markdown(&doc)) {
            Ok(true) => println!("rewrote the tables of {}", docs.display()),
            Ok(false) => {}
            Err(e) => eprintln!("rwlocker-bench: cannot update {}: {e}", docs.display()),
        }
    }
    if let Some(steal) = steal_ticks_during {
        if steal > 0 {
            println!("note: the hypervisor stole {steal} ticks during the run (noisy host)");
        }
    }
    Ok(())
}

//! B5: the IO-bound scenario of the Python library rwlocker, for threads.
//!
//! R readers and W writers, all released together by a barrier, each take
//! the lock `iterations` times and sleep 1 ms inside. The exclusive
//! baseline (std `Mutex`) serialises everything: T ≈ (R+W)·I·d. A
//! reader-writer lock still runs writers one at a time and no read phase
//! overlaps a writer, so T ≥ (W+1)·I·d, and the speedup over the mutex is
//! bounded by (R+W)/(W+1) (docs/BENCHMARKS.md). *Efficiency* = speedup / bound:
//! it measures how densely the policy batches readers into phases and how
//! fast it wakes them, not how fast the lock's fast path is.

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use super::Scenario;
use crate::contenders::{Contender, ContenderInfo, LockKind};
use crate::harness::{self, assert_total, Bench, Checker, Column, Ctx, Mode, Phase, Sample, ScenarioReport};

pub struct IoBound;

struct Case {
    readers: usize,
    writers: usize,
    iterations: u64,
    /// Whether every mutex runs, or only std's (the exclusive baseline).
    all_mutexes: bool,
}

impl Case {
    fn bound(&self) -> f64 {
        (self.readers + self.writers) as f64 / (self.writers + 1) as f64
    }
}

const SLEEP: Duration = Duration::from_millis(1);

impl Bench for Case {
    fn applies(&self, c: &ContenderInfo) -> bool {
        c.kind == LockKind::RwLock || self.all_mutexes || c.id == "std-mutex"
    }

    fn run<C: Contender>(&self, phase: Phase) -> Sample {
        // The warm-up only needs to spawn the threads and touch the code.
        let iterations = if phase == Phase::Warmup { 1 } else { self.iterations };
        let lock = C::new(0);
        let check = Checker::new(C::INFO.kind);
        let workers = self.readers + self.writers;
        let barrier = Barrier::new(workers + 1);
        let elapsed = thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|i| {
                    let (lock, check, barrier) = (&lock, &check, &barrier);
                    let reader = i < self.readers;
                    thread::Builder::new()
                        .stack_size(256 * 1024)
                        .spawn_scoped(s, move || {
                            barrier.wait();
                            let start = Instant::now();
                            for _ in 0..iterations {
                                if reader {
                                    C::read(lock, |_| check.read(|| thread::sleep(SLEEP)));
                                } else {
                                    C::write(lock, |v| {
                                        check.write(|| {
                                            thread::sleep(SLEEP);
                                            *v += 1;
                                        })
                                    });
                                }
                            }
                            (start, Instant::now())
                        })
                        .expect("spawn an IO-bound worker")
                })
                .collect();
            barrier.wait();
            harness::span(handles.into_iter().map(harness::join))
        });
        assert_total("writes", lock.into_inner(), self.writers as u64 * iterations);
        Sample::of("s", elapsed.as_secs_f64())
    }
}

impl Scenario for IoBound {
    fn id(&self) -> &'static str {
        "B5"
    }
    fn title(&self) -> &'static str {
        "IO-bound (1 ms sleep inside the lock)"
    }
    fn about(&self) -> &'static str {
        "R readers + W writers x 10 acquisitions, each sleeping 1 ms inside the lock; speedup over std Mutex and \
         efficiency against the bound (R+W)/(W+1). Measures the policy (reader batching, wake-ups), not lock speed."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("s");
        report.columns = vec![
            Column::metric("s", "elapsed s", 3),
            Column::derived("speedup", "speedup vs std Mutex", 2),
            Column::derived("bound", "bound", 2),
            Column::derived("efficiency", "efficiency", 2),
        ];
        // Write-heavy (bound 1.01x: every lock ties with the mutex) runs in
        // --full only, to keep quick mode near two minutes.
        let workloads: &[(&str, usize, usize)] = match ctx.cfg.mode {
            Mode::Smoke => &[("read-heavy", 20, 2), ("balanced", 10, 10), ("write-heavy", 2, 20)],
            Mode::Quick => &[("read-heavy", 100, 2), ("balanced", 50, 50)],
            Mode::Full => &[("read-heavy", 100, 2), ("balanced", 50, 50), ("write-heavy", 2, 100)],
        };
        let iterations = ctx.cfg.pick(2, 10, 10);
        let all_mutexes = ctx.cfg.mode == Mode::Full;
        for &(name, readers, writers) in workloads {
            let case = format!("{name} {readers}R/{writers}W");
            let bench = Case { readers, writers, iterations, all_mutexes };
            let mut rows = ctx.run_case(case.clone(), &bench);
            let base = rows.iter().find(|r| r.contender.id == "std-mutex").and_then(|r| r.median("s"));
            for row in &mut rows {
                row.derived.insert("bound".into(), bench.bound());
                if let (Some(base), Some(mine)) = (base, row.median("s")) {
                    let speedup = base / mine;
                    row.derived.insert("speedup".into(), speedup);
                    row.derived.insert("efficiency".into(), speedup / bench.bound());
                }
            }
            report.rows.extend(rows);
            if name == "read-heavy" {
                report.headline(
                    &case,
                    "efficiency",
                    format!("B5 IO-bound {case}: efficiency (speedup / bound)"),
                    "efficiency, 1.0 = the bound (higher is better)",
                );
            }
        }
        report.notes.push(format!(
            "{iterations} iterations x thread::sleep(1 ms) per worker; warm-up runs 1 iteration{}",
            if all_mutexes { "" } else { "; other mutexes than std's, and write-heavy, run in --full only" }
        ));
    }
}

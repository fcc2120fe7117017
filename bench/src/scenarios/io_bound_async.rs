//! B6: the IO-bound scenario for async tasks (B5's twin on tokio).
//!
//! R reader tasks and W writer tasks, released together by a barrier, each
//! take the lock `iterations` times and `tokio::time::sleep(1 ms)` inside
//! (tokio's timer rounds that up to about 2 ms; the bound below does not
//! depend on it). The exclusive baseline (tokio `Mutex`) serialises
//! everything; a reader-writer lock still runs writers one at a time, so the
//! speedup over the mutex is bounded by (R+W)/(W+1), and *efficiency* =
//! speedup / bound measures how densely the policy batches readers and how
//! fast it wakes them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Scenario;
use crate::contenders::{AsyncContender, Baseline, ContenderInfo, LockKind};
use crate::harness::{
    self, assert_total, AsyncBench, Checker, Column, Ctx, Flavor, Mode, Phase, Sample, ScenarioReport,
};

pub struct IoBoundAsync;

struct Case {
    readers: usize,
    writers: usize,
    iterations: u64,
    flavor: Flavor,
    /// Whether every mutex runs, or only tokio's (the exclusive baseline).
    all_mutexes: bool,
}

impl Case {
    fn bound(&self) -> f64 {
        (self.readers + self.writers) as f64 / (self.writers + 1) as f64
    }
}

const SLEEP: Duration = Duration::from_millis(1);

/// `(name, readers, writers)` of each workload.
type Workloads = &'static [(&'static str, usize, usize)];

impl AsyncBench for Case {
    fn applies(&self, c: &ContenderInfo) -> bool {
        c.kind == LockKind::RwLock || self.all_mutexes || c.id == "tokio-mutex"
    }

    fn run<C: AsyncContender>(&self, phase: Phase) -> Sample {
        // The warm-up only needs to start the runtime and touch the code.
        let iterations = if phase == Phase::Warmup { 1 } else { self.iterations };
        let rt = self.flavor.runtime();
        let lock = Arc::new(C::new(0));
        let check = Arc::new(Checker::new(C::INFO.kind));
        let workers = self.readers + self.writers;
        let barrier = Arc::new(tokio::sync::Barrier::new(workers + 1));
        let elapsed = rt.block_on(async {
            let handles: Vec<_> = (0..workers)
                .map(|i| {
                    let (lock, check, barrier) = (lock.clone(), check.clone(), barrier.clone());
                    let reader = i < self.readers;
                    tokio::spawn(async move {
                        barrier.wait().await;
                        let start = Instant::now();
                        for _ in 0..iterations {
                            if reader {
                                let guard = lock.read().await;
                                let inside = check.enter_read();
                                tokio::time::sleep(SLEEP).await;
                                drop(inside);
                                drop(guard);
                            } else {
                                let mut guard = lock.write().await;
                                let inside = check.enter_write();
                                tokio::time::sleep(SLEEP).await;
                                *guard += 1;
                                drop(inside);
                                drop(guard);
                            }
                        }
                        (start, Instant::now())
                    })
                })
                .collect();
            barrier.wait().await;
            let mut times = Vec::with_capacity(workers);
            for h in handles {
                times.push(harness::join_task(h.await));
            }
            harness::span(times)
        });
        drop(rt);
        let lock = Arc::into_inner(lock).expect("every task has finished");
        assert_total("writes", lock.into_inner(), self.writers as u64 * iterations);
        Sample::of("s", elapsed.as_secs_f64())
    }
}

impl Scenario for IoBoundAsync {
    fn id(&self) -> &'static str {
        "B6"
    }
    fn title(&self) -> &'static str {
        "IO-bound async (tokio::time::sleep(1 ms) inside the lock)"
    }
    fn about(&self) -> &'static str {
        "R reader + W writer tasks x 10 acquisitions, each awaiting tokio::time::sleep(1 ms) inside the lock; \
         speedup over tokio Mutex and efficiency against the bound (R+W)/(W+1)."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("s");
        report.baselines = vec![Baseline::TOKIO, Baseline::ASYNC_LOCK];
        report.columns = vec![
            Column::metric("s", "elapsed s", 3),
            Column::derived("speedup", "speedup vs tokio Mutex", 2),
            Column::derived("bound", "bound", 2),
            Column::derived("efficiency", "efficiency", 2),
        ];
        let (multi, current): (Workloads, Workloads) = match ctx.cfg.mode {
            Mode::Smoke => (&[("read-heavy", 20, 2), ("balanced", 10, 10)], &[("read-heavy", 20, 2)]),
            Mode::Quick => (&[("read-heavy", 100, 2), ("balanced", 50, 50)], &[]),
            Mode::Full => {
                const ALL: &[(&str, usize, usize)] =
                    &[("read-heavy", 100, 2), ("balanced", 50, 50), ("write-heavy", 2, 100)];
                (ALL, ALL)
            }
        };
        let iterations = ctx.cfg.pick(2, 10, 10);
        // Smoke mode runs them too, so that every contender is exercised.
        let all_mutexes = ctx.cfg.mode != Mode::Quick;
        let grid =
            multi.iter().map(|w| (Flavor::MultiThread2, w)).chain(current.iter().map(|w| (Flavor::CurrentThread, w)));
        for (flavor, &(name, readers, writers)) in grid {
            let case = format!("{name} {readers}R/{writers}W {}", flavor.label());
            let bench = Case { readers, writers, iterations, flavor, all_mutexes };
            let mut rows = ctx.run_async_case(case.clone(), &bench);
            let base = rows.iter().find(|r| r.contender.id == "tokio-mutex").and_then(|r| r.median("s"));
            for row in &mut rows {
                row.derived.insert("bound".into(), bench.bound());
                if let (Some(base), Some(mine)) = (base, row.median("s")) {
                    let speedup = base / mine;
                    row.derived.insert("speedup".into(), speedup);
                    row.derived.insert("efficiency".into(), speedup / bench.bound());
                }
            }
            report.rows.extend(rows);
            if name == "read-heavy" && flavor == Flavor::MultiThread2 {
                report.headline(
                    &case,
                    "efficiency",
                    format!("B6 IO-bound async {case}: efficiency (speedup / bound)"),
                    "efficiency, 1.0 = the bound (higher is better)",
                );
            }
        }
        report.notes.push(format!(
            "{iterations} iterations x tokio::time::sleep(1 ms) per task (about 2 ms: tokio's timer has 1 ms \
             ticks); warm-up runs 1 iteration; a fresh runtime per run{}",
            if ctx.cfg.mode == Mode::Quick {
                "; quick mode runs multi_thread(2) only and, of the mutexes, only tokio's (--full adds \
                 current_thread, write-heavy and every mutex)"
            } else {
                ""
            }
        ));
        report.notes.push(
            "the bound assumes every critical section lasts the same d; tokio's timer rounds each sleep up to a \
             1 ms tick, and a chain of hand-offs (the mutex) and a batch of readers line up with the ticks \
             differently, so an efficiency a little above 1 is timer quantisation, not a broken bound"
                .into(),
        );
    }
}

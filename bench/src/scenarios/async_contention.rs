//! B15: async write contention.
//!
//! N tasks on a tokio `multi_thread(2)` runtime take the write lock of one
//! lock in a loop for a fixed time, with no await inside the critical
//! section (an increment and the in-section check), so the tasks contend
//! only for the lock: with more tasks than workers, every contended acquire
//! parks its task, and the lock decides whether a release hands it over to
//! a parked task (a wake-up and a trip through the scheduler per
//! acquisition) or lets a running task take it. Reported: acquisitions per
//! second and the tasks' share spread (the busiest task's acquisitions over
//! the idlest one's); the final counter must equal the acquisitions.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Scenario;
use crate::contenders::{AsyncContender, Baseline};
use crate::harness::{self, assert_total, AsyncBench, Checker, Column, Ctx, Flavor, Phase, Sample, ScenarioReport};

pub struct AsyncContention;

struct Case {
    tasks: usize,
    duration: Duration,
}

impl AsyncBench for Case {
    fn both_modes(&self) -> bool {
        true
    }

    fn run<C: AsyncContender>(&self, phase: Phase) -> Sample {
        let duration = if phase == Phase::Warmup { self.duration / 4 } else { self.duration };
        let rt = Flavor::MultiThread2.runtime();
        let lock = Arc::new(C::new(0));
        let check = Arc::new(Checker::new(C::INFO.kind));
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..self.tasks)
            .map(|_| {
                let (lock, check, stop) = (lock.clone(), check.clone(), stop.clone());
                rt.spawn(async move {
                    let start = Instant::now();
                    let mut ops = 0u64;
                    // At least one acquisition each, however late the task runs.
                    loop {
                        let mut guard = C::write(&lock).await;
                        let inside = check.enter_write();
                        *guard += 1;
                        drop(inside);
                        drop(guard);
                        ops += 1;
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                    (ops, start, Instant::now())
                })
            })
            .collect();
        // The tasks never await anything but the lock, so the deadline is
        // kept by this thread, outside the runtime.
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        let results: Vec<(u64, Instant, Instant)> = rt.block_on(async {
            let mut results = Vec::with_capacity(handles.len());
            for h in handles {
                results.push(harness::join_task(h.await));
            }
            results
        });
        drop(rt);
        let wall = harness::span(results.iter().map(|r| (r.1, r.2)));
        let counts: Vec<u64> = results.iter().map(|r| r.0).collect();
        let total: u64 = counts.iter().sum();
        let lock = Arc::into_inner(lock).expect("every task has finished");
        assert_total("writes", lock.into_inner(), total);
        let (most, least) = (counts.iter().max().copied().unwrap_or(1), counts.iter().min().copied().unwrap_or(1));
        Sample::of("m_ops_per_s", total as f64 / wall.as_secs_f64() / 1e6)
            .with("spread", most as f64 / least.max(1) as f64)
    }
}

impl Scenario for AsyncContention {
    fn id(&self) -> &'static str {
        "B15"
    }
    fn title(&self) -> &'static str {
        "async write contention"
    }
    fn about(&self) -> &'static str {
        "N tasks on a multi_thread(2) runtime take the write lock of one lock in a loop for a fixed time, no await \
         inside the critical section: acquisitions per second, and the tasks' share spread (busiest over idlest)."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("m_ops_per_s");
        report.lower_is_better = false;
        report.baselines = vec![Baseline::TOKIO, Baseline::ASYNC_LOCK];
        report.columns = vec![Column::metric("m_ops_per_s", "M ops/s", 2), Column::plain("spread", "share spread", 2)];
        let duration = Duration::from_millis(ctx.cfg.pick(20, 100, 500));
        for tasks in [4, 64] {
            let case = format!("{tasks} tasks multi_thread(2)");
            let rows = ctx.run_async_case(case.clone(), &Case { tasks, duration });
            report.rows.extend(rows);
            report.headline(
                &case,
                "m_ops_per_s",
                format!("B15 async write contention, {case}"),
                "million acquisitions/s (higher is better)",
            );
        }
        report.notes.push(format!(
            "{} ms per trial, a fresh runtime per run; the critical section is an increment and the in-section check; \
             every task acquires at least once",
            duration.as_millis()
        ));
        report.notes.push(
            "a task whose acquire never has to wait never yields to the runtime, so the spread shows how the lock's \
             waits share the 2 workers among the tasks (tokio's locks also spend tokio's cooperative budget: a \
             forced yield every 128 acquisitions)"
                .into(),
        );
    }
}

//! B13: async cancellation churn.
//!
//! 64 tasks on a tokio `multi_thread(2)` runtime. Two of them are
//! *holders*: they take the write lock with no timeout and keep it across a
//! `tokio::time::sleep`, so the lock is often busy for a millisecond or
//! more, a good part of the time. The others loop over `tokio::time::timeout(d, lock.write())` (and
//! `lock.read()` one time in four) with `d` drawn from 1 µs..1 ms, so that
//! many acquisitions are abandoned while queued — or just as they are
//! granted. Reported: completed acquisitions per second, and timeouts.
//!
//! At the end every task has stopped, so the lock must be free and its
//! queue empty: `try_write()` and `try_read()` must succeed, and for
//! rwlocker `raw().state_snapshot()` must show no queued waiter. A lock that
//! leaks a cancelled waiter, or loses a grant, fails the run.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Scenario;
use crate::contenders::{AsyncContender, Baseline, ContenderInfo, LockKind};
use crate::harness::{
    self, assert_total, violation, AsyncBench, Checker, Column, Ctx, Flavor, Mode, Phase, Rng, Sample, ScenarioReport,
};

pub struct Cancellation;

const TASKS: u64 = 64;
const HOLDERS: u64 = 2;
/// How long a holder sleeps with the write lock (tokio rounds it up to the
/// next 1 ms tick: about 1–2 ms), and then without it (so the lock is held
/// by a holder a good part of the time).
const HOLD: Duration = Duration::from_micros(500);
const GAP: Duration = Duration::from_millis(1);

struct Case {
    duration: Duration,
    all_mutexes: bool,
}

#[derive(Default)]
struct Tally {
    done: u64,
    writes: u64,
    timeouts: u64,
}

impl AsyncBench for Case {
    fn applies(&self, c: &ContenderInfo) -> bool {
        c.kind == LockKind::RwLock || self.all_mutexes
    }

    fn run<C: AsyncContender>(&self, phase: Phase) -> Sample {
        let duration = if phase == Phase::Warmup { self.duration / 4 } else { self.duration };
        let rt = Flavor::MultiThread2.runtime();
        let lock = Arc::new(C::new(0));
        let check = Arc::new(Checker::new(C::INFO.kind));
        let stop = Arc::new(AtomicBool::new(false));
        let (tally, elapsed) = rt.block_on(async {
            let t0 = Instant::now();
            let handles: Vec<_> = (0..TASKS)
                .map(|i| {
                    let (lock, check, stop) = (lock.clone(), check.clone(), stop.clone());
                    tokio::spawn(async move {
                        let mut rng = Rng::new(i + 1);
                        let mut t = Tally::default();
                        while !stop.load(Ordering::Relaxed) {
                            if i < HOLDERS {
                                let mut guard = lock.write().await;
                                let inside = check.enter_write();
                                *guard += 1;
                                tokio::time::sleep(HOLD).await;
                                drop(inside);
                                drop(guard);
                                t.writes += 1;
                                t.done += 1;
                                tokio::time::sleep(GAP).await;
                                continue;
                            }
                            let limit = Duration::from_micros(1 + rng.next_u64() % 1000);
                            if rng.next_u64().is_multiple_of(4) {
                                match tokio::time::timeout(limit, lock.read()).await {
                                    Ok(guard) => {
                                        let _inside = check.enter_read();
                                        black_box(*guard);
                                        t.done += 1;
                                    }
                                    Err(_) => t.timeouts += 1,
                                }
                            } else {
                                match tokio::time::timeout(limit, lock.write()).await {
                                    Ok(mut guard) => {
                                        let _inside = check.enter_write();
                                        *guard += 1;
                                        t.writes += 1;
                                        t.done += 1;
                                    }
                                    Err(_) => t.timeouts += 1,
                                }
                            }
                            // Let the other tasks of this worker run (not
                            // every lock spends tokio's cooperative budget).
                            tokio::task::yield_now().await;
                        }
                        t
                    })
                })
                .collect();
            tokio::time::sleep(duration).await;
            stop.store(true, Ordering::Relaxed);
            let mut total = Tally::default();
            for h in handles {
                let t = harness::join_task(h.await);
                total.done += t.done;
                total.writes += t.writes;
                total.timeouts += t.timeouts;
            }
            (total, t0.elapsed())
        });
        drop(rt);
        // Every task is gone: nothing may be held or queued.
        if let Some((readers, writers)) = lock.queued() {
            if readers + writers != 0 {
                violation(&format!("{readers} readers and {writers} writers left queued by cancelled acquires"));
            }
        }
        if C::try_read(&lock).is_none() {
            violation("try_read fails after every task has stopped (a leaked grant or waiter)");
        }
        if C::try_write(&lock).is_none() {
            violation("try_write fails after every task has stopped (a leaked grant or waiter)");
        }
        let lock = Arc::into_inner(lock).expect("every task has finished");
        assert_total("writes", lock.into_inner(), tally.writes);
        let secs = elapsed.as_secs_f64();
        Sample::of("k_ops_per_s", tally.done as f64 / secs / 1e3)
            .with("k_timeouts_per_s", tally.timeouts as f64 / secs / 1e3)
            .with("timeout_pct", 100.0 * tally.timeouts as f64 / (tally.done + tally.timeouts).max(1) as f64)
    }
}

impl Scenario for Cancellation {
    fn id(&self) -> &'static str {
        "B13"
    }
    fn title(&self) -> &'static str {
        "async cancellation churn"
    }
    fn about(&self) -> &'static str {
        "64 tasks: 2 hold the write lock across a sleep, 62 loop over timeout(1 µs..1 ms, write()/read()); \
         completed acquisitions per second; afterwards the lock must be free with nothing queued."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("k_ops_per_s");
        report.lower_is_better = false;
        report.baselines = vec![Baseline::TOKIO, Baseline::ASYNC_LOCK];
        report.columns = vec![
            Column::metric("k_ops_per_s", "k ops/s", 1),
            Column::plain("k_timeouts_per_s", "k timeouts/s", 1),
            Column::plain("timeout_pct", "timeouts %", 1),
        ];
        let duration = Duration::from_millis(ctx.cfg.pick(100, 300, 1000));
        // Smoke mode runs them too, so that every contender is exercised.
        let all_mutexes = ctx.cfg.mode != Mode::Quick;
        let case = format!("{TASKS} tasks multi_thread(2)");
        let rows = ctx.run_async_case(case.clone(), &Case { duration, all_mutexes });
        report.rows.extend(rows);
        report.headline(
            &case,
            "k_ops_per_s",
            "B13 async cancellation churn: completed acquisitions",
            "thousand per second (higher is better)",
        );
        report.notes.push(format!(
            "{} ms per trial; {HOLDERS} holders keep the write lock across tokio::time::sleep({} µs), then sleep {} \
             ms without it; the others use timeouts of 1 µs..1 ms (tokio's timer fires them on its 1 ms ticks), 1 in 4 a read; after each \
             run: try_read/try_write succeed, the counter matches, rwlocker's queue is empty{}",
            duration.as_millis(),
            HOLD.as_micros(),
            GAP.as_millis(),
            if all_mutexes { "" } else { "; the mutexes run in --full only" }
        ));
    }
}

//! B11: the condition-variable epoch scenario of the Python library
//! rwlocker (its `RWCondition` benchmark), for threads and for tasks.
//!
//! W writers each do, `iterations` times: take the write lock, sleep 1 ms,
//! bump the epoch, `notify_all`, release. R readers each loop until they
//! have seen the final epoch (W x iterations): take the read lock, wait
//! while the epoch is older than the one they expect next, note
//! `expected = epoch + 1`, sleep 1 ms still holding the read lock, release.
//! Readers skip epochs they slept through, so the number of reads varies
//! (it is reported). All workers start together at a barrier; the elapsed
//! time runs from the barrier to the last worker's end.
//!
//! The speedup is the Python library's formula: `elapsed(baseline) /
//! elapsed(target)` where the baseline is the exclusive condition — Python's
//! `threading.Condition(threading.Lock())`, here std `Condvar` + `Mutex`
//! (threads) and tokio `Mutex` + `Notify` (tasks; tokio has no condition
//! variable: see [`crate::contenders`] for how the `Notify` is used).

use std::cell::Cell;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use super::Scenario;
use crate::contenders::{AsyncCondvarContender, Baseline, CondvarContender, ContenderInfo, Family, LockKind};
use crate::harness::{
    self, assert_total, AsyncCondvarBench, Checker, Column, CondvarBench, Ctx, Flavor, Mode, Phase, Sample,
    ScenarioReport,
};

pub struct CondvarEpoch;

const SLEEP: Duration = Duration::from_millis(1);

struct Case {
    readers: usize,
    writers: usize,
    iterations: u64,
    /// Whether every mutex-based contender runs, or only the baselines.
    all_mutexes: bool,
}

impl Case {
    fn iterations(&self, phase: Phase) -> u64 {
        if phase == Phase::Warmup {
            1
        } else {
            self.iterations
        }
    }

    fn runs(&self, c: &ContenderInfo) -> bool {
        c.kind == LockKind::RwLock || self.all_mutexes || c.family != Family::Rwlocker
    }
}

impl CondvarBench for Case {
    fn applies(&self, c: &ContenderInfo) -> bool {
        self.runs(c)
    }

    fn run<C: CondvarContender>(&self, phase: Phase) -> Sample {
        let iterations = self.iterations(phase);
        let target = self.writers as u64 * iterations;
        let cv = C::new(0);
        let check = Checker::new(C::INFO.kind);
        let workers = self.readers + self.writers;
        let barrier = Barrier::new(workers + 1);
        let (elapsed, reads) = thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|i| {
                    let (cv, check, barrier) = (&cv, &check, &barrier);
                    let reader = i < self.readers;
                    thread::Builder::new()
                        .stack_size(128 * 1024)
                        .spawn_scoped(s, move || {
                            barrier.wait();
                            let start = Instant::now();
                            let mut reads = 0u64;
                            if reader {
                                let expected = Cell::new(1u64);
                                while expected.get() <= target {
                                    cv.read_wait_while(
                                        |_| (),
                                        |epoch| *epoch < expected.get(),
                                        |epoch| {
                                            check.read(|| {
                                                expected.set(*epoch + 1);
                                                thread::sleep(SLEEP);
                                            })
                                        },
                                    );
                                    reads += 1;
                                }
                            } else {
                                for _ in 0..iterations {
                                    cv.write(|epoch| {
                                        check.write(|| {
                                            thread::sleep(SLEEP);
                                            *epoch += 1;
                                            cv.notify_all();
                                        })
                                    });
                                }
                            }
                            (start, Instant::now(), reads)
                        })
                        .expect("spawn an epoch worker")
                })
                .collect();
            barrier.wait();
            let results: Vec<_> = handles.into_iter().map(harness::join).collect();
            let reads = results.iter().map(|r| r.2).sum::<u64>();
            (harness::span(results.into_iter().map(|r| (r.0, r.1))), reads)
        });
        assert_total("epoch", cv.into_inner(), target);
        Sample::of("s", elapsed.as_secs_f64()).with("reads", reads as f64)
    }
}

impl AsyncCondvarBench for Case {
    fn applies(&self, c: &ContenderInfo) -> bool {
        self.runs(c)
    }

    fn run<C: AsyncCondvarContender>(&self, phase: Phase) -> Sample {
        let iterations = self.iterations(phase);
        let target = self.writers as u64 * iterations;
        let rt = Flavor::MultiThread2.runtime();
        let cv = Arc::new(C::new(0));
        let check = Arc::new(Checker::new(C::INFO.kind));
        let workers = self.readers + self.writers;
        let barrier = Arc::new(tokio::sync::Barrier::new(workers + 1));
        let (elapsed, reads) = rt.block_on(async {
            let handles: Vec<_> = (0..workers)
                .map(|i| {
                    let (cv, check, barrier) = (cv.clone(), check.clone(), barrier.clone());
                    let reader = i < self.readers;
                    tokio::spawn(async move {
                        barrier.wait().await;
                        let start = Instant::now();
                        let mut reads = 0u64;
                        if reader {
                            let mut expected = 1u64;
                            while expected <= target {
                                let mut guard = cv.read().await;
                                while *guard < expected {
                                    guard = cv.wait_read(guard).await;
                                }
                                let inside = check.enter_read();
                                expected = *guard + 1;
                                tokio::time::sleep(SLEEP).await;
                                drop(inside);
                                drop(guard);
                                reads += 1;
                            }
                        } else {
                            for _ in 0..iterations {
                                let mut guard = cv.write().await;
                                let inside = check.enter_write();
                                tokio::time::sleep(SLEEP).await;
                                *guard += 1;
                                cv.notify_all();
                                drop(inside);
                                drop(guard);
                            }
                        }
                        (start, Instant::now(), reads)
                    })
                })
                .collect();
            barrier.wait().await;
            let mut results = Vec::with_capacity(workers);
            for h in handles {
                results.push(harness::join_task(h.await));
            }
            let reads = results.iter().map(|r| r.2).sum::<u64>();
            (harness::span(results.into_iter().map(|r| (r.0, r.1))), reads)
        });
        drop(rt);
        let cv = Arc::into_inner(cv).expect("every task has finished");
        assert_total("epoch", cv.into_inner(), target);
        Sample::of("s", elapsed.as_secs_f64()).with("reads", reads as f64)
    }
}

/// The Python library's published speedup for its version of a contender
/// (rwlocker 3.2, `figures/3.14.3_standard.json`, read-heavy).
fn python_reference(id: &str) -> Option<f64> {
    match id {
        "rwlocker-wp-cv" | "rwlocker-async-wp-cv" => Some(45.55), // RWCondition / AsyncRWCondition (Write-Pref)
        "rwlocker-rp-cv" => Some(27.8),                           // RWCondition (Read-Pref)
        "rwlocker-pf-cv" => Some(21.1),                           // RWCondition (Fair)
        _ => None,
    }
}

impl Scenario for CondvarEpoch {
    fn id(&self) -> &'static str {
        "B11"
    }
    fn title(&self) -> &'static str {
        "condvar epoch scenario (the Python library's RWCondition benchmark)"
    }
    fn about(&self) -> &'static str {
        "2 writers bump an epoch under the write lock (1 ms sleep) and notify_all; 100 readers wait_while the \
         epoch is old, then sleep 1 ms under the read lock; 10 iterations. Threads, then tokio tasks."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("s");
        report.baselines =
            vec![Baseline::STD_CONDVAR, Baseline::PL_CONDVAR, Baseline::PL013_CONDVAR, Baseline::TOKIO_MUTEX_NOTIFY];
        report.columns = vec![
            Column::metric("s", "elapsed s", 3),
            Column::plain("reads", "reads", 0),
            Column::derived("speedup", "speedup (Python formula)", 1),
            Column::derived("speedup_pl", "vs parking_lot Condvar", 1),
            Column::derived("python", "Python 3.2 reports", 1),
        ];
        let (readers, writers) = if ctx.cfg.mode == Mode::Smoke { (20, 2) } else { (100, 2) };
        let iterations = ctx.cfg.pick(2, 10, 10);
        // Smoke mode runs them too, so that every contender is exercised.
        let all_mutexes = ctx.cfg.mode != Mode::Quick;
        let bench = Case { readers, writers, iterations, all_mutexes };
        let plan = ctx.cfg.plan;

        let threads = format!("threads {readers}R/{writers}W");
        let mut rows = ctx.run_condvar_case_with(threads.clone(), &bench, plan);
        let std = rows.iter().find(|r| r.contender.id == "std-condvar").and_then(|r| r.median("s"));
        let pl = rows.iter().find(|r| r.contender.id == "pl-condvar").and_then(|r| r.median("s"));
        for row in &mut rows {
            let Some(mine) = row.median("s") else { continue };
            if let Some(std) = std {
                row.derived.insert("speedup".into(), std / mine);
            }
            if let Some(pl) = pl {
                row.derived.insert("speedup_pl".into(), pl / mine);
            }
            if let Some(p) = python_reference(row.contender.id) {
                row.derived.insert("python".into(), p);
            }
        }
        report.rows.extend(rows);
        report.headline(
            &threads,
            "speedup",
            format!("B11 condvar epoch, {threads}: speedup over std Condvar+Mutex"),
            "x (higher is better; Python rwlocker reports 45x)",
        );

        let tasks = format!("tasks {readers}R/{writers}W multi_thread(2)");
        let mut rows = ctx.run_async_condvar_case_with(tasks.clone(), &bench, plan);
        let base = rows.iter().find(|r| r.contender.id == "tokio-mutex-notify").and_then(|r| r.median("s"));
        for row in &mut rows {
            if let (Some(base), Some(mine)) = (base, row.median("s")) {
                row.derived.insert("speedup".into(), base / mine);
            }
            if let Some(p) = python_reference(row.contender.id) {
                row.derived.insert("python".into(), p);
            }
        }
        report.rows.extend(rows);
        report.headline(
            &tasks,
            "speedup",
            format!("B11 condvar epoch, {tasks}: speedup over tokio Mutex+Notify"),
            "x (higher is better)",
        );

        report.notes.push(
            "speedup (Python formula) = elapsed(exclusive baseline) / elapsed(contender), the baseline being the \
             exclusive condition as in the Python library (threading.Condition(threading.Lock())): std \
             Condvar+Mutex for threads, tokio Mutex+Notify for tasks"
                .into(),
        );
        report.notes.push(
            "Python 3.2 reports (figures/3.14.3_standard.json, read-heavy, one run): RWCondition Write-Pref 45.6x, \
             Read-Pref 27.8x, Fair 21.1x; AsyncRWCondition Write-Pref 45.6x; it sleeps 1 ms with time.sleep / \
             asyncio.sleep (tokio's sleep is about 2 ms, which scales both sides alike)"
                .into(),
        );
        report.notes.push(
            "tokio has no condition variable: its closest equivalent is a Notify whose Notified future is enabled \
             before the lock is released (no lost wakeup), then the lock is taken again; tokio RwLock+Notify is \
             the reader-writer version, tokio Mutex+Notify the exclusive baseline"
                .into(),
        );
        if !all_mutexes {
            report.notes.push("rwlocker's Mutex with RwCondvar / AsyncRwCondvar runs in --full only".into());
        }
    }
}

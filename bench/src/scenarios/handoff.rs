//! B12: hand-off latency through the write lock.
//!
//! Two threads take turns. The holder waits until the other thread has
//! announced that it is calling `write()`, gives it 50 µs to spin and go to
//! sleep, stamps the time and releases; the other thread records the time
//! from that stamp to its first instruction inside the critical section.
//! That is the cost of waking a blocked waiter (release, futex wake,
//! scheduling), the path that dominates every contended scenario.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::Scenario;
use crate::contenders::Contender;
use crate::harness::{
    self, assert_total, percentile, Bench, Checker, Column, Ctx, Mode, Phase, Sample, ScenarioReport,
};

pub struct Handoff;

/// How long the holder keeps the lock after the waiter announced itself.
const SETTLE: Duration = Duration::from_micros(50);

struct Case {
    rounds: u64,
    same_core: bool,
}

/// Waits (yielding, so it also works with both threads on one CPU) until
/// `a` holds `v`.
fn await_value(a: &AtomicU64, v: u64) {
    while a.load(Ordering::Acquire) != v {
        thread::yield_now();
    }
}

impl Bench for Case {
    fn both_modes(&self) -> bool {
        true
    }

    fn run<C: Contender>(&self, phase: Phase) -> Sample {
        let rounds = if phase == Phase::Warmup { self.rounds / 4 + 2 } else { self.rounds };
        let lock = C::new(0);
        let check = Checker::new(C::INFO.kind);
        let done = AtomicU64::new(0); // acquisitions completed
        let announced = AtomicU64::new(u64::MAX); // round whose thread is calling write()
        let released_at = AtomicU64::new(0); // ns since `base`, stamped just before a hand-off
        let base = Instant::now();
        let now_ns = || base.elapsed().as_nanos() as u64;
        let mut lat: Vec<u64> = thread::scope(|s| {
            let handles: Vec<_> = (0..2u64)
                .map(|me| {
                    let (lock, check, done, announced, released_at) = (&lock, &check, &done, &announced, &released_at);
                    let same_core = self.same_core;
                    s.spawn(move || {
                        harness::pin_to_cpu(if same_core { 0 } else { me as usize });
                        let mut lat = Vec::with_capacity(rounds as usize / 2 + 1);
                        let mut r = me;
                        while r < rounds {
                            await_value(done, r);
                            announced.store(r, Ordering::Release);
                            C::write(lock, |v| {
                                let t = now_ns();
                                check.write(|| *v += 1);
                                if r > 0 {
                                    lat.push(t.saturating_sub(released_at.load(Ordering::Acquire)));
                                }
                                done.store(r + 1, Ordering::Release);
                                if r + 1 < rounds {
                                    await_value(announced, r + 1);
                                    thread::sleep(SETTLE);
                                    released_at.store(now_ns(), Ordering::Release);
                                }
                            });
                            r += 2;
                        }
                        lat
                    })
                })
                .collect();
            handles.into_iter().flat_map(harness::join).collect()
        });
        assert_total("hand-offs", lock.into_inner(), rounds);
        lat.sort_unstable();
        Sample::of("p50_us", percentile(&lat, 50.0) / 1e3)
            .with("p99_us", percentile(&lat, 99.0) / 1e3)
            .with("max_us", lat.last().copied().unwrap_or(0) as f64 / 1e3)
    }
}

impl Scenario for Handoff {
    fn id(&self) -> &'static str {
        "B12"
    }
    fn title(&self) -> &'static str {
        "hand-off latency"
    }
    fn about(&self) -> &'static str {
        "Release-to-acquire latency when the write lock passes to a thread that is blocked waiting for it \
         (p50/p99/max over the hand-offs of a trial)."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("p50_us");
        report.columns = vec![
            Column::metric("p50_us", "p50 µs", 2),
            Column::plain("p99_us", "p99 µs", 2),
            Column::plain("max_us", "max µs", 0),
        ];
        let rounds = ctx.cfg.pick(40, 300, 1000);
        let mut cases = Vec::new();
        if harness::cpus() >= 2 {
            cases.push(("cross-core (pinned 0/1)", false));
            if ctx.cfg.mode == Mode::Full {
                cases.push(("same core (pinned 0/0)", true));
            }
        } else {
            cases.push(("1 CPU", true));
        }
        for (i, &(case, same_core)) in cases.iter().enumerate() {
            let rows = ctx.run_case(case, &Case { rounds, same_core });
            report.rows.extend(rows);
            if i == 0 {
                report.headline(case, "p50_us", format!("B12 hand-off latency, {case}: p50"), "µs (lower is better)");
            }
        }
        report.notes.push(format!(
            "{rounds} hand-offs per trial; the holder waits {} µs for the waiter to block",
            SETTLE.as_micros()
        ));
    }
}

//! B3: threads doing nothing but read-locking one lock.
//!
//! The shared reader count bounces between the cores' caches, so this
//! measures the cost of that cache-line traffic: 2 threads always, and on a
//! machine with more cores also 4, 8, ... up to one thread per core, which
//! shows how read throughput scales (or does not) with the core count. Every 1024th read
//! also checks that `try_write` fails while the read lock is held, so a
//! lock that does not really lock cannot look fast.

use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use super::Scenario;
use crate::contenders::Contender;
use crate::harness::{self, assert_total, violation, Bench, Column, Ctx, Phase, Sample, ScenarioReport};

pub struct ReadOnly;

struct Case {
    threads: usize,
    per_thread: u64,
}

impl Bench for Case {
    fn run<C: Contender>(&self, phase: Phase) -> Sample {
        let n = if phase == Phase::Warmup { self.per_thread / 4 + 1 } else { self.per_thread };
        let lock = C::new(1);
        let barrier = Barrier::new(self.threads + 1);
        let (wall, per_thread) = thread::scope(|s| {
            let handles: Vec<_> = (0..self.threads)
                .map(|t| {
                    let (lock, barrier) = (&lock, &barrier);
                    s.spawn(move || {
                        harness::pin_to_cpu(t);
                        barrier.wait();
                        let t0 = Instant::now();
                        let mut sum = 0u64;
                        for i in 0..n {
                            sum += C::read(lock, |v| {
                                if i % 1024 == 0 && C::try_write(lock, |_| ()).is_some() {
                                    violation("try_write succeeded while a read lock was held");
                                }
                                *v
                            });
                        }
                        (sum, t0, Instant::now())
                    })
                })
                .collect();
            barrier.wait();
            let results: Vec<_> = handles.into_iter().map(harness::join).collect();
            (harness::span(results.iter().map(|r| (r.1, r.2))), results)
        });
        let mut ns = 0.0;
        for &(sum, start, end) in &per_thread {
            assert_total("reads", sum, n);
            ns += (end - start).as_nanos() as f64 / n as f64;
        }
        assert_total("value", lock.into_inner(), 1);
        let total = (n * self.threads as u64) as f64;
        Sample::of("ns_per_acq", ns / self.threads as f64).with("total_m_per_s", total / wall.as_secs_f64() / 1e6)
    }
}

impl Scenario for ReadOnly {
    fn id(&self) -> &'static str {
        "B3"
    }
    fn title(&self) -> &'static str {
        "read-only scaling"
    }
    fn about(&self) -> &'static str {
        "Threads, pinned one per CPU, read-lock the same lock in a loop: ns per acquisition per thread and \
         total millions of acquisitions per second (mutexes lock exclusively). 2 threads, then powers of two \
         up to the core count on larger machines."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("ns_per_acq");
        report.columns =
            vec![Column::metric("ns_per_acq", "ns/acq/thread", 1), Column::plain("total_m_per_s", "total M/s", 2)];
        // The same total work at every thread count.
        let total = ctx.cfg.pick(40_000, 2_000_000, 10_000_000);
        let mut counts = vec![2];
        while counts.last().is_some_and(|&n| n * 2 <= harness::cpus()) {
            counts.push(counts.last().unwrap() * 2);
        }
        for &threads in &counts {
            let case = format!("{threads} threads");
            let rows = ctx.run_case(case.clone(), &Case { threads, per_thread: total / threads as u64 });
            report.rows.extend(rows);
            report.headline(
                &case,
                "total_m_per_s",
                format!("B3 {threads}-thread read-only: throughput"),
                "M acquisitions/s (higher is better)",
            );
        }
        let pinned = if harness::cpus() >= 2 { "pinned one per CPU" } else { "not pinned (1 CPU)" };
        report.notes.push(format!("{total} acquisitions in all, shared equally among the threads, {pinned}"));
    }
}

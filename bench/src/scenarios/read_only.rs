//! B3: threads doing nothing but read-locking one lock.
//!
//! The shared reader count bounces between the cores' caches, so this
//! measures the cost of that cache-line traffic: 2 threads always, and on a
//! machine with more cores also 4, 8, ... up to one thread per core, which
//! shows how read throughput scales (or does not) with the core count. Every 1024th read
//! also checks that `try_write` fails while the read lock is held, so a
//! lock that does not really lock cannot look fast.
//!
//! rwlocker's reader-biased locks (`ReadBiased<P>`) run here too: their
//! readers publish themselves in per-thread slots instead of writing the
//! shared count. For them a failing `try_write` is a writer's attempt that
//! revokes the bias, so each thread runs that check once, halfway through
//! (where it must revoke and still fail), and looks a quarter of the way
//! in whether the bias is on (the `bias on` column: the share of threads
//! that found it on).

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

/// Whether read `i` of `n` (of one thread) checks that `try_write` fails:
/// every 1024th, or for a reader-biased lock only the one halfway through.
#[inline]
fn checks_try_write(biased: bool, i: u64, n: u64) -> bool {
    if biased {
        i == n / 2
    } else {
        i.is_multiple_of(1024)
    }
}

impl Bench for Case {
    fn biased(&self) -> bool {
        true
    }

    fn run<C: Contender>(&self, phase: Phase) -> Sample {
        let biased = C::INFO.biased;
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
                        let mut bias_on = None;
                        for i in 0..n {
                            if biased && i == n / 4 {
                                // Before the halfway revocation: reads have
                                // turned the bias on by now.
                                bias_on = C::bias_on(lock);
                            }
                            sum += C::read(lock, |v| {
                                if checks_try_write(biased, i, n) && C::try_write(lock, |_| ()).is_some() {
                                    violation("try_write succeeded while a read lock was held");
                                }
                                *v
                            });
                        }
                        (sum, t0, Instant::now(), bias_on)
                    })
                })
                .collect();
            barrier.wait();
            let results: Vec<_> = handles.into_iter().map(harness::join).collect();
            (harness::span(results.iter().map(|r| (r.1, r.2))), results)
        });
        let mut ns = 0.0;
        for &(sum, start, end, _) in &per_thread {
            assert_total("reads", sum, n);
            ns += (end - start).as_nanos() as f64 / n as f64;
        }
        assert_total("value", lock.into_inner(), 1);
        let total = (n * self.threads as u64) as f64;
        let sample =
            Sample::of("ns_per_acq", ns / self.threads as f64).with("total_m_per_s", total / wall.as_secs_f64() / 1e6);
        if biased {
            let on = per_thread.iter().filter(|r| r.3 == Some(true)).count();
            sample.with("bias_on", on as f64 / self.threads as f64)
        } else {
            sample
        }
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
        report.columns = vec![
            Column::metric("ns_per_acq", "ns/acq/thread", 1),
            Column::plain("total_m_per_s", "total M/s", 2),
            Column::plain("bias_on", "bias on", 2),
        ];
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
        report.notes.push(
            "ReadBiased rows: each thread checks try_write once, halfway (it revokes the bias, then must fail), \
             instead of every 1024th read; `bias on` = share of the threads that found the bias on a quarter of the \
             way in (1.00: all)"
                .into(),
        );
    }
}

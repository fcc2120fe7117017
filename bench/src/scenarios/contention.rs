//! B4: contention sweep (after matklad's "mutexes are faster than
//! spinlocks" harness).
//!
//! `threads` threads each do `ops` operations on one of `locks` locks
//! picked at random; an operation is a read (check the value) with
//! probability `read%`, otherwise a write (increment). The critical section
//! is the access plus the in-section check, the same for every contender.
//! At the end the counters must add up to the number of writes.

use std::sync::Barrier;
use std::thread;
use std::time::Instant;

use super::Scenario;
use crate::contenders::Contender;
use crate::harness::{self, assert_total, Bench, Checker, Column, Ctx, Phase, Rng, Sample, ScenarioReport};

pub struct Contention;

struct Case {
    threads: usize,
    locks: usize,
    read_pct: u64,
    ops: u64,
}

/// A lock and its checker on their own cache lines, so that neighbouring
/// locks do not share a line.
#[repr(align(128))]
struct Slot<C> {
    lock: C,
    check: Checker,
}

impl Bench for Case {
    fn both_modes(&self) -> bool {
        true
    }

    fn run<C: Contender>(&self, phase: Phase) -> Sample {
        let ops = if phase == Phase::Warmup { self.ops / 4 + 1 } else { self.ops };
        let slots: Vec<Slot<C>> =
            (0..self.locks).map(|_| Slot { lock: C::new(0), check: Checker::new(C::INFO.kind) }).collect();
        let barrier = Barrier::new(self.threads + 1);
        let (wall, writes) = thread::scope(|s| {
            let handles: Vec<_> = (0..self.threads)
                .map(|t| {
                    let (slots, barrier) = (&slots, &barrier);
                    let (locks, read_pct) = (self.locks as u64, self.read_pct);
                    s.spawn(move || {
                        let mut rng = Rng::new(t as u64 + 1);
                        barrier.wait();
                        let start = Instant::now();
                        let mut writes = 0u64;
                        for _ in 0..ops {
                            let r = rng.next_u64();
                            let slot = &slots[(r % locks) as usize];
                            if (r >> 32) % 100 < read_pct {
                                C::read(&slot.lock, |v| slot.check.read(|| std::hint::black_box(*v)));
                            } else {
                                C::write(&slot.lock, |v| slot.check.write(|| *v += 1));
                                writes += 1;
                            }
                        }
                        (writes, start, Instant::now())
                    })
                })
                .collect();
            barrier.wait();
            let results: Vec<_> = handles.into_iter().map(harness::join).collect();
            (harness::span(results.iter().map(|r| (r.1, r.2))), results.iter().map(|r| r.0).sum::<u64>())
        });
        let total: u64 = slots.into_iter().map(|s| s.lock.into_inner()).sum();
        assert_total("writes", total, writes);
        let all_ops = (ops * self.threads as u64) as f64;
        Sample::of("ms", wall.as_secs_f64() * 1e3).with("m_ops_per_s", all_ops / wall.as_secs_f64() / 1e6)
    }
}

impl Scenario for Contention {
    fn id(&self) -> &'static str {
        "B4"
    }
    fn title(&self) -> &'static str {
        "contention sweep"
    }
    fn about(&self) -> &'static str {
        "Threads hammer a few locks with a mix of reads and increments; total time for a fixed number of \
         operations (4 threads on 2 cores is oversubscribed and exercises the blocking path)."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("ms");
        report.columns = vec![Column::metric("ms", "time ms", 2), Column::plain("m_ops_per_s", "M ops/s", 2)];
        let ops = ctx.cfg.pick(5_000, 100_000, 400_000);
        let threads: &[usize] = ctx.cfg.pick(&[2], &[2, 4], &[2, 4]);
        let locks: &[usize] = ctx.cfg.pick(&[1], &[1], &[1, 64]);
        let read_pcts: &[u64] = ctx.cfg.pick(&[90, 0], &[100, 90, 50, 0], &[100, 90, 50, 0]);
        let mut headline_case = None;
        for &threads in threads {
            for &locks in locks {
                for &read_pct in read_pcts {
                    let case = format!("threads={threads} locks={locks} read={read_pct}%");
                    if threads == 2 && locks == 1 && read_pct == 90 {
                        headline_case = Some(case.clone());
                    }
                    let rows = ctx.run_case(case, &Case { threads, locks, read_pct, ops });
                    report.rows.extend(rows);
                }
            }
        }
        report.notes.push(format!("{ops} operations per thread; critical section = access + in-section check"));
        if let Some(case) = headline_case {
            report.headline(&case, "ms", format!("B4 contention: {case}"), "ms for the batch (lower is better)");
        }
    }
}

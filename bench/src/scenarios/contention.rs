//! B4: contention sweep (after matklad's "mutexes are faster than
//! spinlocks" harness).
//!
//! `threads` threads share a fixed number of operations, each on one of
//! `locks` locks picked at random; an operation is a read (check the value)
//! with probability `read%`, otherwise a write (increment). The critical
//! section is the access plus the in-section check, the same for every
//! contender. At the end the counters must add up to the number of writes.
//! The thread counts are 1x, 2x and 4x the CPUs, so two of them are
//! oversubscribed (more threads than cores: the blocking path, and lock
//! convoys for a lock that hands off to a descheduled waiter).
//!
//! A second table runs the same loop for a fixed time instead: every
//! thread works until a shared deadline, counting its own operations, and
//! the table adds the threads' *share spread*, the busiest thread's count
//! over the idlest one's (1.0: equal shares).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use super::Scenario;
use crate::contenders::Contender;
use crate::harness::{self, assert_total, jain, Bench, Checker, Column, Ctx, Phase, Rng, Sample, ScenarioReport};

pub struct Contention;

struct Case {
    threads: usize,
    locks: usize,
    read_pct: u64,
    /// Operations per thread.
    ops: u64,
}

/// The fixed-time variant: one lock, `threads` threads until `duration`
/// has passed.
struct Timed {
    threads: usize,
    read_pct: u64,
    duration: Duration,
}

/// A lock and its checker on their own cache lines, so that neighbouring
/// locks do not share a line.
#[repr(align(128))]
struct Slot<C> {
    lock: C,
    check: Checker,
}

/// One operation of the mix on `slot`: a read with probability `read_pct`
/// (drawn from the high half of `r`), otherwise an increment. Returns
/// whether it wrote.
#[inline]
fn operate<C: Contender>(slot: &Slot<C>, r: u64, read_pct: u64) -> bool {
    if (r >> 32) % 100 < read_pct {
        C::read(&slot.lock, |v| slot.check.read(|| std::hint::black_box(*v)));
        false
    } else {
        C::write(&slot.lock, |v| slot.check.write(|| *v += 1));
        true
    }
}

/// The read share from which rwlocker's reader-biased locks run beside
/// the plain ones (the bias is meant for read-mostly mixes; with no reads
/// it never turns on).
const BIASED_FROM_READ_PCT: u64 = 50;

/// The stop flag of the fixed-time loop, on a cache line of its own (the
/// threads read it after every operation).
#[repr(align(128))]
struct Stop(AtomicBool);

impl Bench for Case {
    fn both_modes(&self) -> bool {
        true
    }

    fn biased(&self) -> bool {
        self.read_pct >= BIASED_FROM_READ_PCT
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
                            writes += u64::from(operate(&slots[(r % locks) as usize], r, read_pct));
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

impl Bench for Timed {
    fn both_modes(&self) -> bool {
        true
    }

    fn biased(&self) -> bool {
        self.read_pct >= BIASED_FROM_READ_PCT
    }

    fn run<C: Contender>(&self, phase: Phase) -> Sample {
        let duration = if phase == Phase::Warmup { self.duration / 4 } else { self.duration };
        let slot = Slot { lock: C::new(0), check: Checker::new(C::INFO.kind) };
        let stop = Stop(AtomicBool::new(false));
        let barrier = Barrier::new(self.threads + 1);
        let per_thread: Vec<(u64, u64, Duration)> = thread::scope(|s| {
            let handles: Vec<_> = (0..self.threads)
                .map(|t| {
                    let (slot, stop, barrier, read_pct) = (&slot, &stop, &barrier, self.read_pct);
                    s.spawn(move || {
                        let mut rng = Rng::new(t as u64 + 1);
                        let (mut ops, mut writes) = (0u64, 0u64);
                        barrier.wait();
                        let start = Instant::now();
                        // At least one operation each, however late the thread runs.
                        loop {
                            writes += u64::from(operate(slot, rng.next_u64(), read_pct));
                            ops += 1;
                            if stop.0.load(Ordering::Relaxed) {
                                break;
                            }
                        }
                        (ops, writes, start.elapsed())
                    })
                })
                .collect();
            barrier.wait();
            thread::sleep(duration);
            stop.0.store(true, Ordering::Relaxed);
            handles.into_iter().map(harness::join).collect()
        });
        let writes: u64 = per_thread.iter().map(|r| r.1).sum();
        assert_total("writes", slot.lock.into_inner(), writes);
        let counts: Vec<u64> = per_thread.iter().map(|r| r.0).collect();
        let ops: u64 = counts.iter().sum();
        let secs = per_thread.iter().map(|r| r.2).max().unwrap_or_default().as_secs_f64();
        let (most, least) = (counts.iter().max().copied().unwrap_or(1), counts.iter().min().copied().unwrap_or(1));
        Sample::of("m_ops_per_s", ops as f64 / secs / 1e6)
            .with("spread", most as f64 / least.max(1) as f64)
            .with("jain", jain(&counts))
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
        "Threads (1x, 2x and 4x the CPUs: the last two oversubscribed, exercising the blocking path) hammer a few \
         locks with a mix of reads and increments; total time for a fixed number of operations shared among them."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("ms");
        report.columns = vec![Column::metric("ms", "time ms", 2), Column::plain("m_ops_per_s", "M ops/s", 2)];
        // 1x, 2x and 4x the CPUs (2, 4 and 8 threads on 2 cores); the
        // operations of a case are shared among its threads, so every case
        // does the same work.
        let cpus = harness::cpus();
        let threads: Vec<usize> =
            ctx.cfg.pick(vec![cpus], vec![cpus, 2 * cpus, 4 * cpus], vec![cpus, 2 * cpus, 4 * cpus]);
        let total_ops = ctx.cfg.pick(10_000, 200_000, 800_000);
        let locks: &[usize] = ctx.cfg.pick(&[1], &[1], &[1, 64]);
        let read_pcts: &[u64] = ctx.cfg.pick(&[90, 0], &[90, 50, 0], &[100, 90, 50, 0]);
        for &threads in &threads {
            for &locks in locks {
                for &read_pct in read_pcts {
                    let case = format!("threads={threads} locks={locks} read={read_pct}%");
                    let ops = (total_ops / threads as u64).max(1);
                    let rows = ctx.run_case(case, &Case { threads, locks, read_pct, ops });
                    report.rows.extend(rows);
                }
            }
        }
        report.notes.push(format!(
            "{total_ops} operations per case, shared among its threads; critical section = access + in-section check"
        ));
        report.notes.push(format!(
            "ReadBiased rows run in the cases with at least {BIASED_FROM_READ_PCT}% reads: every write there revokes \
             the bias if a spell of reads has turned it back on"
        ));
        report.notes.push(
            "a batch takes milliseconds, less than a scheduler time slice: with more threads than CPUs a lock either \
             finishes it while the threads run nearly one after another or falls into a convoy (hand-offs to \
             descheduled threads), so these cases swing between runs; the fixed-time table below spans many time \
             slices"
                .into(),
        );
        let first = threads[0];
        let last = threads[threads.len() - 1];
        let case = format!("threads={first} locks=1 read=90%");
        report.headline(&case, "ms", format!("B4 contention: {case}"), "ms for the batch (lower is better)");
        let case = format!("threads={last} locks=1 read=0%");
        report.headline(
            &case,
            "m_ops_per_s",
            format!("B4 contention, {last} threads on {cpus} CPUs, writes only"),
            "million operations/s (higher is better)",
        );

        let mut part = ScenarioReport::new(
            "B4",
            "fixed time: throughput and the threads' shares",
            "The same loop on one lock, each thread working until a shared deadline and counting its own \
             operations: throughput, share spread (the busiest thread's operations over the idlest one's; 1.0 = \
             equal shares) and Jain's index over the threads' counts.",
        );
        part.primary = Some("m_ops_per_s");
        part.lower_is_better = false;
        part.columns = vec![
            Column::metric("m_ops_per_s", "M ops/s", 2),
            Column::metric("spread", "share spread", 2),
            Column::plain("jain", "Jain", 3),
        ];
        let timed_threads: Vec<usize> = ctx.cfg.pick(vec![4 * cpus], threads.clone(), threads.clone());
        let timed_reads: &[u64] = ctx.cfg.pick(&[0], &[0, 50, 90], &[0, 50, 90]);
        let duration = Duration::from_millis(ctx.cfg.pick(20, 100, 500));
        for &threads in &timed_threads {
            for &read_pct in timed_reads {
                let case = format!("threads={threads} read={read_pct}%");
                let rows = ctx.run_case(case, &Timed { threads, read_pct, duration });
                part.rows.extend(rows);
            }
        }
        part.notes.push(format!(
            "{} ms per trial; every thread does at least one operation; spread and Jain's index describe how the \
             lock shared itself among the threads (a thread the OS did not run counts against the lock too)",
            duration.as_millis()
        ));
        let case = format!("threads={} read=0%", timed_threads[timed_threads.len() - 1]);
        part.headline_log(
            &case,
            "spread",
            format!("B4 fixed time, {case}: the threads' share spread"),
            "busiest / idlest thread's operations, log scale (lower is fairer)",
        );
        report.headlines.append(&mut part.headlines);
        report.parts.push(part);
    }
}

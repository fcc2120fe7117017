//! B9: phase alternation under a 50/50 mix of short reads and writes.
//!
//! T threads (1x, 2x and 4x the CPUs: 2, 4 and 8 on 2 cores, the last two
//! oversubscribed) loop for a fixed time,
//! each operation a read or a write with equal odds, the critical section
//! a few hundred nanoseconds of work. Inside the lock the scenario tracks
//! the *phases*: a run of reads between two writes is one read phase,
//! every write is a write phase. It reports how often the lock changes
//! phase, how many operations a phase holds on average, the longest read
//! phase seen (a phase-fair lock cuts a read phase as soon as a writer
//! waits, so it stays near one read per thread), and the threads' shares:
//! the spread (the busiest thread's operation count over the idlest one's)
//! and Jain's index over the counts (both 1.0: every thread got the same
//! share).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use super::Scenario;
use crate::contenders::{Contender, ContenderInfo, LockKind};
use crate::harness::{self, assert_total, jain, Bench, Checker, Column, Ctx, Phase, Rng, Sample, ScenarioReport};

pub struct PhaseAlternation;

struct Case {
    threads: usize,
    duration: Duration,
}

/// A short critical section: a little dependent arithmetic.
#[inline]
fn work(seed: u64) -> u64 {
    let mut x = seed;
    for _ in 0..32 {
        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407));
    }
    x
}

impl Bench for Case {
    fn both_modes(&self) -> bool {
        true
    }

    fn applies(&self, c: &ContenderInfo) -> bool {
        c.kind == LockKind::RwLock
    }

    fn run<C: Contender>(&self, phase: Phase) -> Sample {
        let duration = if phase == Phase::Warmup { self.duration / 4 } else { self.duration };
        let lock = C::new(0);
        let check = Checker::new(C::INFO.kind);
        let stop = AtomicBool::new(false);
        // Reads since the last write (only writers reset it: they are alone).
        let run = AtomicU64::new(0);
        let barrier = Barrier::new(self.threads + 1);
        let (elapsed, per_thread) = thread::scope(|s| {
            let handles: Vec<_> = (0..self.threads)
                .map(|t| {
                    let (lock, check, stop, run, barrier) = (&lock, &check, &stop, &run, &barrier);
                    s.spawn(move || {
                        let mut rng = Rng::new(t as u64 + 7);
                        // (ops, writes, read phases ended, longest read phase)
                        let (mut ops, mut writes, mut read_phases, mut longest) = (0u64, 0u64, 0u64, 0u64);
                        barrier.wait();
                        let t0 = Instant::now();
                        // At least one operation each, however late the thread runs.
                        loop {
                            if rng.next_u64() & 1 == 0 {
                                C::read(lock, |v| {
                                    check.read(|| {
                                        run.fetch_add(1, Ordering::Relaxed);
                                        black_box(work(*v));
                                    })
                                });
                            } else {
                                C::write(lock, |v| {
                                    check.write(|| {
                                        let reads = run.swap(0, Ordering::Relaxed);
                                        if reads > 0 {
                                            read_phases += 1;
                                            longest = longest.max(reads);
                                        }
                                        *v = v.wrapping_add(1);
                                        black_box(work(*v));
                                    })
                                });
                                writes += 1;
                            }
                            ops += 1;
                            if stop.load(Ordering::Relaxed) {
                                break;
                            }
                        }
                        (ops, writes, read_phases, longest, t0.elapsed())
                    })
                })
                .collect();
            barrier.wait();
            thread::sleep(duration);
            stop.store(true, Ordering::Relaxed);
            let results: Vec<_> = handles.into_iter().map(harness::join).collect();
            let elapsed = results.iter().map(|r| r.4).max().unwrap_or_default();
            (elapsed, results)
        });
        let ops: u64 = per_thread.iter().map(|r| r.0).sum();
        let writes: u64 = per_thread.iter().map(|r| r.1).sum();
        let read_phases: u64 = per_thread.iter().map(|r| r.2).sum();
        let longest = per_thread.iter().map(|r| r.3).max().unwrap_or(0);
        assert_total("writes", lock.into_inner(), writes);
        // Phases: every write, plus every read phase (the one still open
        // at the end included when reads are pending).
        let phases = writes + read_phases + u64::from(run.load(Ordering::Relaxed) > 0);
        let secs = elapsed.as_secs_f64();
        let counts: Vec<u64> = per_thread.iter().map(|r| r.0).collect();
        let (most, least) = (counts.iter().max().copied().unwrap_or(1), counts.iter().min().copied().unwrap_or(1));
        Sample::of("m_ops_per_s", ops as f64 / secs / 1e6)
            .with("spread", most as f64 / least.max(1) as f64)
            .with("k_phases_per_s", phases as f64 / secs / 1e3)
            .with("ops_per_phase", ops as f64 / phases.max(1) as f64)
            .with("longest_read_phase", longest as f64)
            .with("jain", jain(&counts))
    }
}

impl Scenario for PhaseAlternation {
    fn id(&self) -> &'static str {
        "B9"
    }
    fn title(&self) -> &'static str {
        "phase alternation (50/50, short critical sections)"
    }
    fn about(&self) -> &'static str {
        "Threads (1x, 2x and 4x the CPUs) loop over 50% reads / 50% writes with a short critical section: \
         throughput, phase changes per second, operations per phase, the longest read phase, and the threads' \
         shares (spread: busiest over idlest thread's operations; Jain's index)."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("m_ops_per_s");
        report.lower_is_better = false;
        report.columns = vec![
            Column::metric("m_ops_per_s", "M ops/s", 2),
            Column::plain("k_phases_per_s", "k phases/s", 0),
            Column::plain("ops_per_phase", "ops/phase", 2),
            Column::plain("longest_read_phase", "longest read phase", 0),
            Column::plain("spread", "share spread", 2),
            Column::plain("jain", "Jain", 3),
        ];
        let duration = Duration::from_millis(ctx.cfg.pick(30, 100, 500));
        let cpus = harness::cpus();
        let threads: Vec<usize> =
            ctx.cfg.pick(vec![cpus, 2 * cpus], vec![cpus, 2 * cpus, 4 * cpus], vec![cpus, 2 * cpus, 4 * cpus]);
        for &t in &threads {
            let case = format!("{t} threads");
            let rows = ctx.run_case(case.clone(), &Case { threads: t, duration });
            report.rows.extend(rows);
            if t == 2 * cpus {
                report.headline(
                    &case,
                    "m_ops_per_s",
                    format!("B9 phase alternation, 50/50, {t} threads on {cpus} CPUs: throughput"),
                    "million operations/s (higher is better)",
                );
            }
        }
        report.notes.push(format!(
            "{} ms per trial; a read phase is a run of reads between two writes (its length: reads admitted in it, \
             from every thread); each write is a phase of its own",
            duration.as_millis()
        ));
    }
}

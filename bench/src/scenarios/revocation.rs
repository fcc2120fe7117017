//! B16: what revoking the reader bias costs a writer, and how often it
//! happens.
//!
//! The readers of a reader-biased lock (`ReadBiased<P>`) publish themselves
//! in a process-wide table of slots instead of counting themselves in the
//! lock. A writer that finds the bias on first revokes it: it scans the
//! table, moves the readers it finds into the lock's count, then waits for
//! them as for any reader. The bias returns once reads find the inhibit
//! window (nine times the last revocation's cost) over. The engine keeps no
//! count of revocations, so this scenario sees them from outside: a write
//! right after `is_biased()` said the bias was on revokes for certain (the
//! lone writer is the only party that revokes). It times `write()`
//! (acquisition, the increment, release) beside the same write on the
//! unbiased locks:
//!
//! * `idle`: one thread. Before each write it reads until the bias is back on
//!   (at most a few milliseconds: longer than any inhibit
//!   window here), then times the write. Nobody else is inside, so the
//!   biased write's extra time over the unbiased one's is the revocation
//!   itself: the scan of the table. A second idle case walks a 2 MiB
//!   buffer before each write, so that the scan finds the 128 KiB table
//!   out of the core's private caches (the usual state when writes are
//!   rare).
//! * `N readers + 1 writer`: N threads (one per CPU but one, pinned) read
//!   back to back; the writer (pinned to the last CPU) writes every
//!   period, first checking whether the bias is on.
//!   The share of writes that found it on says how often revocation
//!   happened under a steady read load; the readers' throughput says what
//!   the revocations cost them.
//!
//! The derived `revoke µs` column is a biased lock's median write time
//! minus the same policy's unbiased one in the same case: one revocation's
//! cost (medians, since on a shared machine a preempted writer drags the
//! mean).
//! Every read and write runs inside the exclusion checker, readers check
//! that the value never goes back, and the final counter must equal the
//! writes.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use super::Scenario;
use crate::contenders::{Contender, ContenderInfo, LockKind};
use crate::harness::{
    self, assert_total, percentile, violation, Bench, Checker, Column, Ctx, Phase, Sample, ScenarioReport,
};

pub struct Revocation;

/// The unbiased twin of each reader-biased contender (the `revoke µs`
/// column's reference).
const TWINS: &[(&str, &str)] = &[("rwlocker-biased-pf", "rwlocker-pf"), ("rwlocker-biased-wp", "rwlocker-wp")];

/// Reader-writer locks; of rwlocker's, the writer-preferring and
/// phase-fair ones, biased and not (a reader-preferring lock may starve
/// the writer under a read load, whatever its bias).
fn applies(c: &ContenderInfo) -> bool {
    c.kind == LockKind::RwLock
        && (c.family != crate::contenders::Family::Rwlocker || c.id.ends_with("-pf") || c.id.ends_with("-wp"))
}

/// How long the idle case reads, at most, waiting for the bias to return
/// before a write.
const ENGAGE_FOR: Duration = Duration::from_millis(5);

/// How much the cold idle case walks before each write: twice the L2
/// cache of most current cores (the table is 128 KiB).
const EVICT: usize = 2 << 20;

/// Reads between two probes while waiting for the bias (a counted read
/// turns it back on only every so many reads per thread).
const READS_PER_PROBE: u64 = 64;

/// The write every case times: the increment, inside the checker.
#[inline]
fn timed_write<C: Contender>(lock: &C, check: &Checker) -> u64 {
    let t0 = Instant::now();
    C::write(lock, |v| check.write(|| *v += 1));
    t0.elapsed().as_nanos() as u64
}

/// mean/p50/p99 in µs of `waits` (ns), into `sample`.
fn wait_metrics(sample: Sample, waits: &mut [u64]) -> Sample {
    waits.sort_unstable();
    let mean = waits.iter().sum::<u64>() as f64 / waits.len().max(1) as f64;
    sample
        .with("mean_us", mean / 1e3)
        .with("p50_us", percentile(waits, 50.0) / 1e3)
        .with("p99_us", percentile(waits, 99.0) / 1e3)
}

/// One thread: reads until the bias is on, then one timed write; `writes`
/// times. With `evict` bytes, it walks a buffer that large just before each
/// write, so that the write finds the table (and the lock) out of the
/// core's private caches, as a write after a long spell of other work does.
struct Idle {
    writes: u64,
    evict: usize,
}

/// Touches one byte per cache line of `buf` (pushing older lines out of
/// the core's caches); returns a sum so that the walk is not optimised out.
#[inline(never)]
fn walk(buf: &mut [u8], round: u64) -> u64 {
    let mut sum = 0u64;
    for line in buf.chunks_mut(64) {
        line[0] = line[0].wrapping_add(round as u8);
        sum += u64::from(line[0]);
    }
    sum
}

impl Bench for Idle {
    fn biased(&self) -> bool {
        true
    }
    fn applies(&self, c: &ContenderInfo) -> bool {
        applies(c)
    }

    fn run<C: Contender>(&self, phase: Phase) -> Sample {
        let writes = if phase == Phase::Warmup { self.writes / 4 + 1 } else { self.writes };
        let lock = C::new(0);
        let check = Checker::new(C::INFO.kind);
        let mut waits = Vec::with_capacity(writes as usize);
        let mut revoked = 0u64;
        let mut buf = vec![0u8; self.evict];
        let mut walked = 0u64;
        for done in 0..writes {
            // Reads (checking they see every write so far) until the bias is
            // back on; an unbiased lock gets one round of the same reads.
            let deadline = Instant::now() + ENGAGE_FOR;
            loop {
                for _ in 0..READS_PER_PROBE {
                    if C::read(&lock, |v| check.read(|| black_box(*v))) != done {
                        violation("a read after a write did not see it");
                    }
                }
                match C::bias_on(&lock) {
                    Some(true) => {
                        revoked += 1;
                        break;
                    }
                    Some(false) if Instant::now() < deadline => {}
                    _ => break,
                }
            }
            walked = walked.wrapping_add(walk(&mut buf, done));
            waits.push(timed_write(&lock, &check));
        }
        black_box(walked);
        assert_total("writes", lock.into_inner(), writes);
        let sample = Sample::of("writes", writes as f64).with("revoked", revoked as f64);
        wait_metrics(sample, &mut waits)
    }
}

/// `readers` threads read back to back; one writer writes every `period`.
struct Loaded {
    readers: usize,
    period: Duration,
    duration: Duration,
}

impl Bench for Loaded {
    fn biased(&self) -> bool {
        true
    }
    fn applies(&self, c: &ContenderInfo) -> bool {
        applies(c)
    }

    fn run<C: Contender>(&self, phase: Phase) -> Sample {
        let duration = if phase == Phase::Warmup { self.duration / 5 } else { self.duration };
        let lock = C::new(0);
        let check = Checker::new(C::INFO.kind);
        let stop = AtomicBool::new(false);
        let barrier = Barrier::new(self.readers + 2);
        let (mut waits, revoked, reads, secs) = thread::scope(|s| {
            let readers: Vec<_> = (0..self.readers)
                .map(|t| {
                    let (lock, check, stop, barrier) = (&lock, &check, &stop, &barrier);
                    s.spawn(move || {
                        harness::pin_to_cpu(t);
                        barrier.wait();
                        let (mut ops, mut last) = (0u64, 0u64);
                        // At least one read each, however late the thread runs.
                        loop {
                            let v = C::read(lock, |v| check.read(|| *v));
                            if v < last {
                                violation("a reader saw the counter go back");
                            }
                            last = v;
                            ops += 1;
                            if stop.load(Ordering::Relaxed) {
                                break ops;
                            }
                        }
                    })
                })
                .collect();
            let writer = {
                let (lock, check, stop, barrier, period) = (&lock, &check, &stop, &barrier, self.period);
                let cpu = self.readers;
                s.spawn(move || {
                    harness::pin_to_cpu(cpu);
                    barrier.wait();
                    let (mut waits, mut revoked) = (Vec::with_capacity(4096), 0u64);
                    let start = Instant::now();
                    let mut next = start;
                    loop {
                        next += period;
                        let now = Instant::now();
                        if next > now {
                            thread::sleep(next - now);
                        } else {
                            next = now;
                        }
                        // The bias is on now: this write revokes it (only
                        // writers revoke, and this is the only one).
                        if C::bias_on(lock) == Some(true) {
                            revoked += 1;
                        }
                        waits.push(timed_write(lock, check));
                        if stop.load(Ordering::Relaxed) {
                            break (waits, revoked, start.elapsed());
                        }
                    }
                })
            };
            barrier.wait();
            thread::sleep(duration);
            stop.store(true, Ordering::Relaxed);
            let reads: u64 = readers.into_iter().map(harness::join).sum();
            let (waits, revoked, elapsed) = harness::join(writer);
            (waits, revoked, reads, elapsed.as_secs_f64())
        });
        assert_total("writes", lock.into_inner(), waits.len() as u64);
        let sample = Sample::of("writes", waits.len() as f64)
            .with("revoked", revoked as f64)
            .with("revocations_per_s", revoked as f64 / secs)
            .with("reader_m_per_s", reads as f64 / secs / 1e6);
        wait_metrics(sample, &mut waits)
    }
}

impl Scenario for Revocation {
    fn id(&self) -> &'static str {
        "B16"
    }
    fn title(&self) -> &'static str {
        "reader bias: revocation cost and rate"
    }
    fn about(&self) -> &'static str {
        "A writer's write() (acquire, increment, release) on a reader-biased lock whose bias is on, so that it \
         revokes it first, beside the same write on unbiased locks: alone after a spell of reads (idle), and every \
         0.5 ms under back-to-back readers. revoked = writes that found the bias on; revoke µs = median write \
         minus the unbiased twin's median."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("p50_us");
        report.columns = vec![
            Column::plain("writes", "writes", 0),
            Column::plain("revoked", "revoked", 0),
            Column::plain("mean_us", "write mean µs", 2),
            Column::metric("p50_us", "p50 µs", 2),
            Column::plain("p99_us", "p99 µs", 2),
            Column::derived("revoke_us", "revoke µs", 2),
            Column::plain("revocations_per_s", "revocations/s", 0),
            Column::plain("reader_m_per_s", "reader M/s", 2),
        ];
        let idle = Idle { writes: ctx.cfg.pick(200, 1000, 5000), evict: 0 };
        let rows = ctx.run_case("idle (1 thread)", &idle);
        report.rows.extend(rows);
        let cold = Idle { evict: EVICT, ..idle };
        let rows = ctx.run_case(format!("idle, {} MiB walked first", EVICT >> 20), &cold);
        report.rows.extend(rows);

        let readers = harness::cpus().saturating_sub(1).max(1);
        let loaded = Loaded {
            readers,
            period: Duration::from_micros(500),
            duration: Duration::from_millis(ctx.cfg.pick(50, 250, 1000)),
        };
        let case = format!("{readers} reader{} + 1 writer", if readers == 1 { "" } else { "s" });
        let rows = ctx.run_case(case.clone(), &loaded);
        report.rows.extend(rows);

        // One revocation's cost: a biased lock's median write minus its
        // unbiased twin's, case by case.
        let medians: Vec<(String, &str, f64)> = report
            .rows
            .iter()
            .filter_map(|r| r.median("p50_us").map(|m| (r.case.clone(), r.contender.id, m)))
            .collect();
        for row in &mut report.rows {
            let Some(&(_, twin)) = TWINS.iter().find(|(biased, _)| *biased == row.contender.id) else { continue };
            let twin_p50 = medians.iter().find(|(case, id, _)| *case == row.case && *id == twin).map(|m| m.2);
            if let (Some(mine), Some(theirs)) = (row.median("p50_us"), twin_p50) {
                row.derived.insert("revoke_us".into(), mine - theirs);
            }
        }
        report.notes.push(format!(
            "idle: {} writes per trial, each after reads that turned the bias back on (at most {} ms of reads); \
             the second idle case walks {} MiB (one byte per 64-byte line) just before each write, so the write \
             finds the bias table out of the core's L1/L2, as after other work; \
             loaded: {readers} reader thread(s) pinned one per CPU, the writer on the next CPU, one write every {} \
             µs, {} ms per trial; before each write the writer looks whether the bias is on (RawRwLock::is_biased)",
            idle.writes,
            ENGAGE_FOR.as_millis(),
            EVICT >> 20,
            loaded.period.as_micros(),
            loaded.duration.as_millis()
        ));
        report.headline(
            "idle (1 thread)",
            "p50_us",
            "B16 write right after biased reads (revocation included): p50",
            "µs (lower is better)",
        );
        report.headline(&case, "p99_us", format!("B16 write under {case}: p99"), "µs (lower is better)");
    }
}

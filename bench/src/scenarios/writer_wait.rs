//! B7: writer wait under a reader flood.
//!
//! Two reader threads hold read locks back to back (about 2 µs each,
//! busy); a writer asks for the write lock every millisecond. A
//! reader-preferring lock lets overlapping readers starve the writer (its
//! waits grow to the length of the run); writer-preferring and phase-fair
//! locks must keep the writer's wait short. The readers stop at the end of
//! the run, so even a starved writer finishes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use super::Scenario;
use crate::contenders::{Contender, ContenderInfo, LockKind};
use crate::harness::{self, assert_total, percentile, Bench, Checker, Column, Ctx, Phase, Sample, ScenarioReport};

pub struct WriterWait;

/// Shared by B7 and B8: flood threads, period, run length.
pub(super) struct Flood {
    pub flooders: usize,
    pub hold: Duration,
    pub period: Duration,
    pub duration: Duration,
}

impl Flood {
    pub fn for_ctx(ctx: &Ctx) -> Flood {
        Flood {
            flooders: 2,
            hold: Duration::from_micros(2),
            period: Duration::from_millis(1),
            duration: Duration::from_millis(ctx.cfg.pick(60, 250, 2000)),
        }
    }

    /// Run length for `phase` (warm-ups are short).
    pub fn duration(&self, phase: Phase) -> Duration {
        if phase == Phase::Warmup {
            self.duration / 5
        } else {
            self.duration
        }
    }

    pub fn note(&self, flooders: &str, probe: &str) -> String {
        format!(
            "{} {flooders} threads holding ~{} µs each, one {probe} every {} ms, {} ms per trial",
            self.flooders,
            self.hold.as_micros(),
            self.period.as_millis(),
            self.duration.as_millis()
        )
    }
}

/// Stops the run at the deadline and returns the waits (ns) of the probing
/// thread, sorted, plus the flood threads' operation counts.
pub(super) fn run_flood<C: Contender>(
    flood: &Flood,
    phase: Phase,
    flood_op: impl Fn(&C, &Checker) + Sync,
    probe_op: impl Fn(&C, &Checker) + Sync,
) -> (C, Vec<u64>, Vec<u64>) {
    let lock = C::new(0);
    let check = Checker::new(C::INFO.kind);
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(flood.flooders + 2);
    let duration = flood.duration(phase);
    let (waits, ops) = thread::scope(|s| {
        let flooders: Vec<_> = (0..flood.flooders)
            .map(|_| {
                let (lock, check, stop, barrier, flood_op) = (&lock, &check, &stop, &barrier, &flood_op);
                s.spawn(move || {
                    barrier.wait();
                    // At least one operation each, however late the thread runs.
                    let mut ops = 0u64;
                    loop {
                        flood_op(lock, check);
                        ops += 1;
                        if stop.load(Ordering::Relaxed) {
                            break ops;
                        }
                    }
                })
            })
            .collect();
        let probe = {
            let (lock, check, stop, barrier, probe_op) = (&lock, &check, &stop, &barrier, &probe_op);
            let period = flood.period;
            s.spawn(move || {
                barrier.wait();
                let mut waits = Vec::with_capacity(4096);
                let mut next = Instant::now();
                loop {
                    next += period;
                    let now = Instant::now();
                    if next > now {
                        thread::sleep(next - now);
                    } else {
                        next = now;
                    }
                    let t0 = Instant::now();
                    probe_op(lock, check);
                    waits.push(t0.elapsed().as_nanos() as u64);
                    if stop.load(Ordering::Relaxed) {
                        break waits;
                    }
                }
            })
        };
        barrier.wait();
        thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        let ops: Vec<u64> = flooders.into_iter().map(harness::join).collect();
        (harness::join(probe), ops)
    });
    let mut waits = waits;
    waits.sort_unstable();
    (lock, waits, ops)
}

/// p50/p99/max of sorted `waits` in µs, into `sample`.
pub(super) fn wait_metrics(sample: Sample, waits: &[u64]) -> Sample {
    sample
        .with("p50_us", percentile(waits, 50.0) / 1e3)
        .with("p99_us", percentile(waits, 99.0) / 1e3)
        .with("max_us", waits.last().copied().unwrap_or(0) as f64 / 1e3)
}

struct Case(Flood);

impl Bench for Case {
    fn both_modes(&self) -> bool {
        true
    }

    fn biased(&self) -> bool {
        true
    }

    /// Reader-writer locks; of the reader-biased ones the writer- and
    /// phase-fair policies (a reader-preferring lock starves the writer
    /// here whether biased or not).
    fn applies(&self, c: &ContenderInfo) -> bool {
        c.kind == LockKind::RwLock && c.id != "rwlocker-biased-rp"
    }

    fn run<C: Contender>(&self, phase: Phase) -> Sample {
        let hold = self.0.hold;
        let (lock, waits, reads) = run_flood::<C>(
            &self.0,
            phase,
            |lock, check| C::read(lock, |_| check.read(|| harness::spin_for(hold))),
            |lock, check| C::write(lock, |v| check.write(|| *v += 1)),
        );
        assert_total("writes", lock.into_inner(), waits.len() as u64);
        let secs = self.0.duration(phase).as_secs_f64();
        let sample = Sample::of("writes", waits.len() as f64);
        wait_metrics(sample, &waits).with("reader_m_ops_per_s", reads.iter().sum::<u64>() as f64 / secs / 1e6)
    }
}

impl Scenario for WriterWait {
    fn id(&self) -> &'static str {
        "B7"
    }
    fn title(&self) -> &'static str {
        "writer wait under a reader flood"
    }
    fn about(&self) -> &'static str {
        "Two threads read-lock back to back; a writer asks every 1 ms. Writer wait p50/p99/max and writes done \
         (reader-preferring locks may starve the writer: that is their documented policy)."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("p99_us");
        report.columns = vec![
            Column::plain("writes", "writes", 0),
            Column::plain("p50_us", "wait p50 µs", 1),
            Column::metric("p99_us", "wait p99 µs", 1),
            Column::plain("max_us", "wait max µs", 0),
            Column::plain("reader_m_ops_per_s", "reader M/s", 2),
        ];
        let flood = Flood::for_ctx(ctx);
        report.notes.push(flood.note("reader", "write"));
        report.notes.push(
            "ReadBiased rows: each write first revokes the bias that the readers turned back on since the last one \
             (the revocation's cost is in the wait; B16 isolates it)"
                .into(),
        );
        let case = "2 readers + 1 writer";
        let rows = ctx.run_case(case, &Case(flood));
        report.rows.extend(rows);
        report.headline_log(
            case,
            "p99_us",
            "B7 writer wait under reader flood: p99",
            "µs, log scale (lower is better)",
        );
    }
}

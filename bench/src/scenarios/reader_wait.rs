//! B8: reader wait under a writer flood (the mirror of B7).
//!
//! Two writer threads take the write lock back to back (about 2 µs each,
//! busy); a reader asks for a read lock every millisecond. A
//! writer-preferring lock may starve the reader; a phase-fair lock must
//! admit it after at most one writer's critical section. Jain's index over
//! the two writers' operation counts shows whether they share the lock
//! evenly (1.0) or one of them hogs it (0.5).

use super::writer_wait::{run_flood, wait_metrics, Flood};
use super::Scenario;
use crate::contenders::{Contender, ContenderInfo, LockKind};
use crate::harness::{self, assert_total, jain, Bench, Column, Ctx, Phase, Sample, ScenarioReport};

pub struct ReaderWait;

struct Case(Flood);

impl Bench for Case {
    fn both_modes(&self) -> bool {
        true
    }

    fn applies(&self, c: &ContenderInfo) -> bool {
        c.kind == LockKind::RwLock
    }

    fn run<C: Contender>(&self, phase: Phase) -> Sample {
        let hold = self.0.hold;
        let (lock, waits, writes) = run_flood::<C>(
            &self.0,
            phase,
            |lock, check| {
                C::write(lock, |v| {
                    check.write(|| {
                        harness::spin_for(hold);
                        *v += 1;
                    })
                })
            },
            |lock, check| {
                C::read(lock, |v| check.read(|| std::hint::black_box(*v)));
            },
        );
        assert_total("writes", lock.into_inner(), writes.iter().sum());
        let secs = self.0.duration(phase).as_secs_f64();
        let sample = Sample::of("reads", waits.len() as f64);
        wait_metrics(sample, &waits)
            .with("writer_m_ops_per_s", writes.iter().sum::<u64>() as f64 / secs / 1e6)
            .with("jain", jain(&writes))
    }
}

impl Scenario for ReaderWait {
    fn id(&self) -> &'static str {
        "B8"
    }
    fn title(&self) -> &'static str {
        "reader wait under a writer flood"
    }
    fn about(&self) -> &'static str {
        "Two threads write-lock back to back; a reader asks every 1 ms. Reader wait p50/p99/max, reads done, and \
         Jain's fairness index over the writers (writer-preferring locks may starve the reader)."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("p99_us");
        report.columns = vec![
            Column::plain("reads", "reads", 0),
            Column::plain("p50_us", "wait p50 µs", 1),
            Column::metric("p99_us", "wait p99 µs", 1),
            Column::plain("max_us", "wait max µs", 0),
            Column::plain("writer_m_ops_per_s", "writer M/s", 3),
            Column::plain("jain", "Jain (writers)", 2),
        ];
        let flood = Flood::for_ctx(ctx);
        report.notes.push(flood.note("writer", "read"));
        let case = "2 writers + 1 reader";
        let rows = ctx.run_case(case, &Case(flood));
        report.rows.extend(rows);
        report.headline_log(
            case,
            "p99_us",
            "B8 reader wait under writer flood: p99",
            "µs, log scale (lower is better)",
        );
    }
}

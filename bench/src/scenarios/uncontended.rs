//! B2: uncontended nanoseconds per operation, one thread.

use std::time::Instant;

use super::Scenario;
use crate::contenders::{Contender, ContenderInfo};
use crate::harness::{Bench, Column, Ctx, Phase, Sample, ScenarioReport};
use crate::ops::{run_op, Op};

pub struct Uncontended;

struct Case {
    op: Op,
    n: u64,
}

impl Bench for Case {
    fn applies(&self, c: &ContenderInfo) -> bool {
        self.op.applies(c)
    }
    fn run<C: Contender>(&self, phase: Phase) -> Sample {
        let n = if phase == Phase::Warmup { self.n / 4 + 1 } else { self.n };
        let t0 = Instant::now();
        run_op::<C>(self.op, n);
        Sample::of("ns_per_op", t0.elapsed().as_nanos() as f64 / n as f64)
    }
}

impl Scenario for Uncontended {
    fn id(&self) -> &'static str {
        "B2"
    }
    fn title(&self) -> &'static str {
        "uncontended ns per operation"
    }
    fn about(&self) -> &'static str {
        "Wall time of one uncontended operation on one thread (loop included), median over trials."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("ns_per_op");
        report.columns = vec![Column::metric("ns_per_op", "ns/op", 1)];
        let n = ctx.cfg.pick(20_000, 1_000_000, 5_000_000);
        for op in Op::ALL {
            let rows = ctx.run_case(op.label(), &Case { op, n });
            report.rows.extend(rows);
        }
        report.notes.push(format!("{n} operations per trial, including a correctness check of the final state"));
    }
}

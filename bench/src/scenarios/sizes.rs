//! B14: footprint — `size_of` the locks and their guards.

use super::Scenario;
use crate::contenders::Contender;
use crate::harness::{Bench, Column, Ctx, Phase, Sample, ScenarioReport, TrialPlan};

pub struct Sizes;

struct Case;

impl Bench for Case {
    fn run<C: Contender>(&self, _: Phase) -> Sample {
        let s = C::sizes();
        Sample::of("lock_unit", s.lock_unit as f64)
            .with("lock_u64", s.lock_u64 as f64)
            .with("read_guard", s.read_guard as f64)
            .with("write_guard", s.write_guard as f64)
    }
}

impl Scenario for Sizes {
    fn id(&self) -> &'static str {
        "B14"
    }
    fn title(&self) -> &'static str {
        "sizes"
    }
    fn about(&self) -> &'static str {
        "size_of the lock (of () and of u64) and of its guards, in bytes; a mutex's read and write guard are its \
         lock guard."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("lock_unit");
        report.columns = vec![
            Column::plain("lock_unit", "lock<()> B", 0),
            Column::plain("lock_u64", "lock<u64> B", 0),
            Column::plain("read_guard", "read guard B", 0),
            Column::plain("write_guard", "write guard B", 0),
        ];
        let rows = ctx.run_case_with("size_of", &Case, TrialPlan::ONCE);
        report.rows.extend(rows);
    }
}

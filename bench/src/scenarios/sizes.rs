//! B14: footprint — `size_of` the locks, their guards and futures, and the
//! condition variables.

use super::Scenario;
use crate::contenders::{AsyncCondvarContender, AsyncContender, Baseline, CondvarContender, Contender, ContenderInfo};
use crate::harness::{
    AsyncBench, AsyncCondvarBench, Bench, Column, CondvarBench, Ctx, Phase, Sample, ScenarioReport, TrialPlan,
};

pub struct Sizes;

struct Case;

impl Bench for Case {
    fn biased(&self) -> bool {
        true
    }
    fn run<C: Contender>(&self, _: Phase) -> Sample {
        let s = C::sizes();
        Sample::of("lock_unit", s.lock_unit as f64)
            .with("lock_u64", s.lock_u64 as f64)
            .with("read_guard", s.read_guard as f64)
            .with("write_guard", s.write_guard as f64)
    }
}

impl AsyncBench for Case {
    fn run<C: AsyncContender>(&self, _: Phase) -> Sample {
        let s = C::sizes();
        Sample::of("lock_unit", s.lock_unit as f64)
            .with("lock_u64", s.lock_u64 as f64)
            .with("read_guard", s.read_guard as f64)
            .with("write_guard", s.write_guard as f64)
            .with("read_future", s.read_future as f64)
            .with("write_future", s.write_future as f64)
    }
}

/// The condition variables: one row per kind of condvar (rwlocker's pairs
/// differ only in their lock's policy).
fn one_per_condvar(c: &ContenderInfo) -> bool {
    matches!(
        c.id,
        "rwlocker-pf-cv"
            | "std-condvar"
            | "pl-condvar"
            | "pl013-condvar"
            | "rwlocker-async-pf-cv"
            | "tokio-rwlock-notify"
    )
}

impl CondvarBench for Case {
    fn applies(&self, c: &ContenderInfo) -> bool {
        one_per_condvar(c)
    }
    fn run<C: CondvarContender>(&self, _: Phase) -> Sample {
        Sample::of("condvar", C::condvar_size() as f64)
    }
}

impl AsyncCondvarBench for Case {
    fn applies(&self, c: &ContenderInfo) -> bool {
        one_per_condvar(c)
    }
    fn run<C: AsyncCondvarContender>(&self, _: Phase) -> Sample {
        let (cv, wait) = C::sizes();
        Sample::of("condvar", cv as f64).with("wait_future", wait as f64)
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
        "size_of the lock (of () and of u64), its guards and (async) its read/write futures, and the condition \
         variables and their wait futures, in bytes; a mutex's read and write guard are its lock guard."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("lock_unit");
        report.baselines = vec![
            Baseline::STD,
            Baseline::PARKING_LOT,
            Baseline::PARKING_LOT_013,
            Baseline::TOKIO,
            Baseline::ASYNC_LOCK,
        ];
        report.columns = vec![
            Column::plain("lock_unit", "lock<()> B", 0),
            Column::plain("lock_u64", "lock<u64> B", 0),
            Column::plain("read_guard", "read guard B", 0),
            Column::plain("write_guard", "write guard B", 0),
            Column::plain("read_future", "read fut B", 0),
            Column::plain("write_future", "write fut B", 0),
            Column::plain("condvar", "condvar B", 0),
            Column::plain("wait_future", "wait fut B", 0),
        ];
        let rows = ctx.run_case_with("blocking locks", &Case, TrialPlan::ONCE);
        report.rows.extend(rows);
        let rows = ctx.run_async_case_with("async locks", &Case, TrialPlan::ONCE);
        report.rows.extend(rows);
        let rows = ctx.run_condvar_case_with("condvars", &Case, TrialPlan::ONCE);
        report.rows.extend(rows);
        let rows = ctx.run_async_condvar_case_with("async condvars", &Case, TrialPlan::ONCE);
        report.rows.extend(rows);
        report.notes.push(
            "futures of a lock of (); tokio's read()/write()/lock() are async fns whose futures have no name: \
             size_of_val of an unpolled one; tokio has no condvar: its row is Notify and its Notified future; \
             condvar B is the condition variable alone (without its lock)"
                .into(),
        );
    }
}

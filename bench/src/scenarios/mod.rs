//! The scenarios of the report (docs/BENCHMARKS.md: B1–B16), one module each.
//!
//! A scenario fills a [`ScenarioReport`]: it runs its cases through
//! [`Ctx::run_case`], sets its columns and primary metric, and adds notes
//! and headline charts. Adding a scenario is one module plus one line in
//! [`all`]; a scenario not written yet is listed in [`PLANNED`] so that
//! `--only` explains why it is absent.

use crate::harness::{Ctx, ScenarioReport};

mod async_contention;
mod cancellation;
mod condvar_broadcast;
mod condvar_epoch;
mod contention;
mod fast_path_ir;
mod handoff;
mod io_bound;
mod io_bound_async;
mod phase_alternation;
mod read_only;
mod reader_wait;
mod revocation;
mod sizes;
mod uncontended;
mod writer_wait;

pub use fast_path_ir::valgrind_version;

/// One scenario of the report.
pub trait Scenario {
    /// `B1`, `B2`, …
    fn id(&self) -> &'static str;
    /// Short title.
    fn title(&self) -> &'static str;
    /// One sentence: what it measures.
    fn about(&self) -> &'static str;
    /// Runs it (or, while `ctx.counting()`, only plans its runs) and fills
    /// `report`.
    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport);
}

/// Every implemented scenario, in report order.
pub fn all() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(fast_path_ir::FastPathIr),
        Box::new(uncontended::Uncontended),
        Box::new(read_only::ReadOnly),
        Box::new(contention::Contention),
        Box::new(io_bound::IoBound),
        Box::new(io_bound_async::IoBoundAsync),
        Box::new(writer_wait::WriterWait),
        Box::new(reader_wait::ReaderWait),
        Box::new(phase_alternation::PhaseAlternation),
        Box::new(condvar_broadcast::CondvarBroadcast),
        Box::new(condvar_epoch::CondvarEpoch),
        Box::new(handoff::Handoff),
        Box::new(cancellation::Cancellation),
        Box::new(sizes::Sizes),
        Box::new(async_contention::AsyncContention),
        Box::new(revocation::Revocation),
    ]
}

/// Scenarios of the suite not written yet, with what each will measure.
pub const PLANNED: &[(&str, &str)] = &[];

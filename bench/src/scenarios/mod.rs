//! The scenarios of the report (research §5, B1–B14), one module each.
//!
//! A scenario fills a [`ScenarioReport`]: it runs its cases through
//! [`Ctx::run_case`], sets its columns and primary metric, and adds notes
//! and headline charts. Adding a scenario is one module plus one line in
//! [`all`]; a scenario that waits for an API not yet in rwlocker is listed
//! in [`PLANNED`] so that `--only` explains why it is absent.

use crate::harness::{Ctx, ScenarioReport};

mod contention;
mod fast_path_ir;
mod handoff;
mod io_bound;
mod read_only;
mod reader_wait;
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
        Box::new(writer_wait::WriterWait),
        Box::new(reader_wait::ReaderWait),
        Box::new(handoff::Handoff),
        Box::new(sizes::Sizes),
    ]
}

/// Scenarios of the suite that need APIs rwlocker does not have yet, with
/// what each will measure and what it waits for.
pub const PLANNED: &[(&str, &str)] = &[
    (
        "B6",
        "IO-bound async (tokio current_thread and multi_thread(2)) against tokio RwLock/Mutex and async-lock; \
         waits for rwlocker's AsyncRwLock (add an AsyncContender trait in contenders.rs)",
    ),
    ("B9", "phase alternation (phases/s, phase length, per-thread dispersion); not written yet"),
    (
        "B10",
        "condvar broadcast wake-up (first/last-wake latency, futile wake-ups) against std and parking_lot Condvar; \
         waits for rwlocker's RwCondvar",
    ),
    ("B11", "condvar epoch scenario (100 readers wait_for an epoch, 2 writers notify_all); waits for RwCondvar"),
    (
        "B13",
        "async cancellation throughput (timeouts around write().await; zero leaked waiters) against tokio and \
         async-lock; waits for rwlocker's AsyncRwLock",
    ),
];

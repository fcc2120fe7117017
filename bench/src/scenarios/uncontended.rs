//! B2: uncontended nanoseconds per operation, one thread.
//!
//! The blocking locks run the fast-path operations of [`Op`]; the async
//! locks run `read().await` and `write().await` in a loop inside one task
//! on a tokio `current_thread` runtime (the future is created, polled once
//! and completes at once; the guard drops each time).

use std::hint::black_box;
use std::time::Instant;

use super::Scenario;
use crate::contenders::{AsyncContender, Baseline, Contender, ContenderInfo, LockKind};
use crate::harness::{assert_total, violation, AsyncBench, Bench, Column, Ctx, Flavor, Phase, Sample, ScenarioReport};
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

/// `read().await` (or `write().await`) `n` times in one task.
struct AsyncCase {
    write: bool,
    n: u64,
}

impl AsyncCase {
    fn label(&self) -> &'static str {
        if self.write {
            "async write().await+unlock"
        } else {
            "async read().await+unlock"
        }
    }
}

impl AsyncBench for AsyncCase {
    fn applies(&self, c: &ContenderInfo) -> bool {
        // A mutex has only lock(): its "read" would measure the same code.
        self.write || c.kind == LockKind::RwLock
    }

    fn run<C: AsyncContender>(&self, phase: Phase) -> Sample {
        let n = if phase == Phase::Warmup { self.n / 4 + 1 } else { self.n };
        let rt = Flavor::CurrentThread.runtime();
        let lock = C::new(0);
        let elapsed = rt.block_on(async {
            let lock = &lock;
            if self.write {
                let t0 = Instant::now();
                for _ in 0..n {
                    *C::write(black_box(lock)).await += 1;
                }
                let elapsed = t0.elapsed();
                assert_total("async writes", *C::read(lock).await, n);
                elapsed
            } else {
                *C::write(lock).await = 1;
                let mut sum = 0u64;
                let t0 = Instant::now();
                for _ in 0..n {
                    sum += *C::read(black_box(lock)).await;
                }
                let elapsed = t0.elapsed();
                assert_total("async reads", sum, n);
                elapsed
            }
        });
        if C::try_write(&lock).is_none() {
            violation("the async lock is still held after the operations released it");
        }
        Sample::of("ns_per_op", elapsed.as_nanos() as f64 / n as f64)
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
        "Wall time of one uncontended operation on one thread (loop included), median over trials; async locks: \
         read().await / write().await in one task on a tokio current_thread runtime."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("ns_per_op");
        report.baselines = vec![
            Baseline::STD,
            Baseline::PARKING_LOT,
            Baseline::PARKING_LOT_013,
            Baseline::TOKIO,
            Baseline::ASYNC_LOCK,
        ];
        report.columns = vec![Column::metric("ns_per_op", "ns/op", 1)];
        let n = ctx.cfg.pick(20_000, 1_000_000, 5_000_000);
        for op in Op::ALL {
            let rows = ctx.run_case(op.label(), &Case { op, n });
            report.rows.extend(rows);
        }
        let async_n = ctx.cfg.pick(20_000, 500_000, 2_000_000);
        for write in [false, true] {
            let case = AsyncCase { write, n: async_n };
            let rows = ctx.run_async_case(case.label(), &case);
            report.rows.extend(rows);
        }
        report.notes.push(format!(
            "{n} operations per trial (async: {async_n}), including a correctness check of the final state"
        ));
        report.notes.push(
            "async rows compare with tokio and async-lock (same kind); tokio's acquire futures also spend tokio's \
             cooperative budget, yielding every 128 operations: that is part of its cost"
                .into(),
        );
        report.headline(
            AsyncCase { write: false, n: 0 }.label(),
            "ns_per_op",
            "B2 async read().await+unlock, current_thread: ns/op",
            "ns per op (lower is better)",
        );
    }
}

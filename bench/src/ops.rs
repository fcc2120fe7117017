//! The single-thread fast-path operations of B1 (instruction counts) and
//! B2 (ns/op), each run `n` times in a loop with its own correctness check.

use std::hint::black_box;

use crate::contenders::{Contender, ContenderInfo, LockKind};
use crate::harness::{assert_total, violation};

/// A fast-path operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Op {
    /// Read lock + unlock, uncontended.
    Read,
    /// Write lock + unlock, uncontended (`lock` + unlock for a mutex).
    Write,
    /// `try_read` on a write-locked lock (the failure path).
    TryReadFail,
    /// `try_write` on a read-locked lock (`try_lock` on a locked mutex).
    TryWriteFail,
    /// Write lock, downgrade to read, unlock.
    Downgrade,
}

impl Op {
    /// Every operation, in report order.
    pub const ALL: [Op; 5] = [Op::Read, Op::Write, Op::TryReadFail, Op::TryWriteFail, Op::Downgrade];

    /// Command-line / JSON name.
    pub fn id(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::TryReadFail => "try-read-fail",
            Op::TryWriteFail => "try-write-fail",
            Op::Downgrade => "downgrade",
        }
    }

    /// Table label.
    pub fn label(self) -> &'static str {
        match self {
            Op::Read => "read+unlock",
            Op::Write => "write+unlock",
            Op::TryReadFail => "try_read fail",
            Op::TryWriteFail => "try_write fail",
            Op::Downgrade => "write+downgrade+unlock",
        }
    }

    /// Whether the operation exists for this contender. A mutex has only
    /// lock+unlock and a failing try_lock (its "read" would measure the
    /// same code as "write").
    pub fn applies(self, c: &ContenderInfo) -> bool {
        match c.kind {
            LockKind::RwLock => true,
            LockKind::Mutex => matches!(self, Op::Write | Op::TryWriteFail),
        }
    }
}

/// Runs `op` `n` times on a fresh lock of `C`, checking that every
/// operation did what it must. Returns false if `op` does not apply.
#[inline(never)]
pub fn run_op<C: Contender>(op: Op, n: u64) -> bool {
    if !op.applies(&C::INFO) {
        return false;
    }
    let lock = C::new(0);
    match op {
        Op::Read => {
            C::write(&lock, |v| *v = 1);
            // A reader-biased lock is measured with its bias on, the state
            // every read after the first few finds it in.
            let biased = C::INFO.biased;
            if biased {
                engage_bias(&lock);
            }
            let mut sum = 0u64;
            for _ in 0..n {
                sum += C::read(black_box(&lock), |v| *v);
            }
            assert_total("read", sum, n);
            if biased && C::bias_on(&lock) != Some(true) {
                panic!("rwlocker-bench: {}: the reader bias turned off during uncontended reads", C::INFO.id);
            }
        }
        Op::Write => {
            for _ in 0..n {
                C::write(black_box(&lock), |v| *v += 1);
            }
            assert_total("write", C::read(&lock, |v| *v), n);
        }
        Op::TryReadFail => C::write(&lock, |_| {
            for _ in 0..n {
                if C::try_read(black_box(&lock), |v| *v).is_some() {
                    violation("try_read succeeded on a write-locked lock");
                }
            }
        }),
        Op::TryWriteFail => {
            let hold = |f: &mut dyn FnMut()| match C::INFO.kind {
                LockKind::RwLock => C::read(&lock, |_| f()),
                LockKind::Mutex => C::write(&lock, |_| f()),
            };
            hold(&mut || {
                for _ in 0..n {
                    if C::try_write(black_box(&lock), |v| *v += 1).is_some() {
                        violation("try_write succeeded on a locked lock");
                    }
                }
            });
        }
        Op::Downgrade => {
            let mut sum = 0u64;
            for _ in 0..n {
                sum += C::write_downgrade(black_box(&lock), |v| *v += 1, |v| *v).unwrap_or(0);
            }
            assert_total("downgrade", sum, n * (n + 1) / 2);
        }
    }
    // The lock is free again: a write must succeed at once.
    if C::try_write(&lock, |_| ()).is_none() {
        violation("the lock is still held after the operations released it");
    }
    true
}

/// Reads `lock` (a reader-biased lock) until the bias is on; panics if a
/// few thousand reads do not turn it on.
pub fn engage_bias<C: Contender>(lock: &C) {
    for _ in 0..100 {
        if C::bias_on(lock) == Some(true) {
            return;
        }
        // Counted reads turn the bias (back) on, every so many per thread.
        for _ in 0..64 {
            C::read(lock, |v| black_box(*v));
        }
    }
    panic!("rwlocker-bench: {}: uncontended reads did not turn the reader bias on", C::INFO.id);
}

/// Runs `op` on the contender with id `id` (the hidden `ir-op` command
/// that B1 runs under callgrind). `Err` if the id is unknown or the
/// operation does not apply.
pub fn run_op_by_id(id: &str, op: Op, n: u64) -> Result<(), String> {
    struct ById<'a> {
        id: &'a str,
        op: Op,
        n: u64,
        found: Option<bool>,
    }
    impl crate::contenders::Visit for ById<'_> {
        fn visit<C: Contender>(&mut self) {
            if C::INFO.id == self.id {
                self.found = Some(run_op::<C>(self.op, self.n));
            }
        }
    }
    let mut v = ById { id, op, n, found: None };
    crate::contenders::visit_all(&mut v);
    match v.found {
        None => Err(format!("unknown contender {id:?}")),
        Some(false) => Err(format!("operation {} does not apply to {id}", op.id())),
        Some(true) => Ok(()),
    }
}

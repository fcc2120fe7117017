//! A ledger that writes, downgrades, and audits under the read lock without
//! letting another writer in.
//!
//! Part 1 uses [`RwLock`] and [`RwLockWriteGuard::downgrade`]. Part 2 uses
//! [`ReentrantRwLock`], whose write owner may lock again (a transfer calls
//! `debit` and `credit`, which lock too), and
//! [`ReentrantRwLockWriteGuard::downgrade`], which returns `Err(guard)` while
//! a nested guard is alive.
//!
//! Guards release on drop, so an early `return Err(..)` before the downgrade
//! cannot leak the write lock. (The Python library's ledger example did leak
//! it: its `finally:` released a read lock that was never taken.)
//!
//! Run with `cargo run --release --example ledger`.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::thread;

use rwlocker::{
    PhaseFair, ReentrantRwLock, ReentrantRwLockWriteGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, WriterPreferring,
};

// ---------------------------------------------------------------------------
// Part 1: RwLock, write → downgrade → audit
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Book {
    balance: i64,
    entries: Vec<i64>,
}

/// Spins (yielding) until the lock has `n` queued writers: a state check,
/// not a sleep.
fn wait_for_queued_writers(raw_snapshot: impl Fn() -> usize, n: usize) {
    while raw_snapshot() < n {
        thread::yield_now();
    }
}

/// Applies a payment, then audits it under a read lock obtained by
/// downgrading the write lock: nobody can change the book in between.
fn pay(
    book: &RwLock<Book, WriterPreferring>,
    amount: i64,
) -> Result<RwLockReadGuard<'_, Book, WriterPreferring>, String> {
    let mut w = book.write();
    if w.balance + amount < 0 {
        // The write guard is dropped here: the lock is released, no leak.
        return Err(format!("insufficient funds for {amount} (balance {})", w.balance));
    }
    w.balance += amount;
    w.entries.push(amount);
    Ok(RwLockWriteGuard::downgrade(w))
}

fn part1() {
    let book = RwLock::<Book, WriterPreferring>::new(Book { balance: 100, entries: vec![100] });

    // A payment that fails before the downgrade leaves the lock free.
    let err = pay(&book, -500).unwrap_err();
    println!("payment refused: {err}");
    assert!(!book.is_locked(), "an early return must not leak the write lock");

    let written_by_other = thread::scope(|s| {
        let audit = pay(&book, -30).unwrap();
        // Another writer arrives while we audit under the downgraded lock.
        let other = s.spawn(|| {
            let mut w = book.write();
            w.balance += 1_000;
            w.entries.push(1_000);
            w.balance
        });
        wait_for_queued_writers(|| book.raw().state_snapshot().queued_writers, 1);

        // The audit sees exactly what this payment wrote; the writer is still out.
        let sum: i64 = audit.entries.iter().sum();
        assert_eq!(sum, audit.balance, "ledger does not add up");
        assert_eq!(audit.balance, 70);
        assert!(book.try_write().is_none(), "no writer can get in during the audit");
        let snap = book.raw().state_snapshot();
        assert_eq!((snap.readers, snap.queued_writers), (1, 1));
        println!(
            "audit under the downgraded lock: balance {} = sum of {} entries; 1 writer kept waiting",
            audit.balance,
            audit.entries.len()
        );
        drop(audit);
        other.join().unwrap()
    });
    assert_eq!(written_by_other, 1_070);
    println!("after the audit the waiting writer ran: balance {written_by_other}");
}

// ---------------------------------------------------------------------------
// Part 2: ReentrantRwLock, nested writes, downgrade Err/Ok
// ---------------------------------------------------------------------------

/// Guards of a `ReentrantRwLock` give `&T` only (two nested guards of one
/// thread must not hand out two `&mut T`), so the account mutates through
/// atomics.
#[derive(Debug, Default)]
struct Account {
    balance: AtomicI64,
    entries: AtomicUsize,
}

type Ledger = ReentrantRwLock<Account, PhaseFair>;

/// Locks for itself: called alone or from inside `transfer`.
fn debit(ledger: &Ledger, amount: i64) -> Result<(), String> {
    let w = ledger.write(); // nested when the caller holds the write lock
    let balance = w.balance.load(Ordering::Relaxed);
    if balance < amount {
        return Err(format!("cannot debit {amount} from {balance}"));
    }
    w.balance.store(balance - amount, Ordering::Relaxed);
    w.entries.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Locks for itself too.
fn credit(ledger: &Ledger, amount: i64) {
    let w = ledger.write();
    w.balance.fetch_add(amount, Ordering::Relaxed);
    w.entries.fetch_add(1, Ordering::Relaxed);
}

fn part2() {
    let ledger = Ledger::new(Account { balance: AtomicI64::new(500), entries: AtomicUsize::new(1) });

    // Reentrancy: the helpers lock again without deadlocking.
    {
        let outer = ledger.write();
        debit(&ledger, 200).unwrap();
        credit(&ledger, 50);
        assert!(debit(&ledger, 10_000).is_err());
        assert!(ledger.is_owned_by_current_thread());
        println!(
            "transfer: debit and credit nested inside the outer write lock, balance {}",
            outer.balance.load(Ordering::Relaxed)
        );
    }
    assert!(!ledger.is_locked());

    thread::scope(|s| {
        let outer = ledger.write();
        let nested = ledger.write(); // e.g. a helper still holds its guard

        // A writer on another thread queues up.
        let other = s.spawn(|| credit(&ledger, 1_000));
        wait_for_queued_writers(|| ledger.raw().state_snapshot().queued_writers, 1);

        // Downgrading while the nested guard is alive is refused: it relies on the write lock.
        let outer = match ReentrantRwLockWriteGuard::downgrade(outer) {
            Ok(_) => panic!("downgrade must fail while a nested guard is alive"),
            Err(still_writing) => still_writing,
        };
        println!("downgrade with a nested guard alive: Err (still the write owner)");
        assert!(ledger.is_locked_exclusive());

        drop(nested);
        let audit = ReentrantRwLockWriteGuard::downgrade(outer).expect("depth 1: downgrade succeeds");
        assert!(!ledger.is_owned_by_current_thread(), "a downgraded guard is a plain read lock");
        // Do not call `ledger.read()` again here: this thread now holds a plain
        // read, and a second read would queue behind the waiting writer (PhaseFair)
        // while that writer waits for us: a deadlock. Only writes nest.
        let balance = audit.balance.load(Ordering::Relaxed);
        assert_eq!(balance, 350);
        let snap = ledger.raw().state_snapshot();
        assert_eq!((snap.readers, snap.writer, snap.queued_writers), (1, false, 1));
        println!("downgrade at depth 1: Ok; audit sees balance {balance}; the other writer is still queued");
        drop(audit);
        other.join().unwrap();
    });
    let account = ledger.into_inner();
    assert_eq!(account.balance.into_inner(), 1_350);
    assert_eq!(account.entries.into_inner(), 4);
    println!("after the audit the other writer credited 1000: balance 1350");
}

fn main() {
    part1();
    part2();
    println!("OK: ledger downgraded and audited with no writer in between");
}

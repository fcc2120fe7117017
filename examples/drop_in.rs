//! rwlocker as a drop-in:
//!
//! 1. Code written against `lock_api` (generic over `lock_api::RawRwLock`
//!    or `lock_api::RawMutex`) runs unchanged on `rwlocker::RawRwLock<P>`,
//!    with the admission policy chosen by the type, and on parking_lot's raw
//!    lock for comparison. Needs the default `lock_api` feature.
//! 2. `rwlocker::Mutex` (an `RwLock` whose every acquisition is exclusive)
//!    shares one `RwCondvar` between waiters holding its `lock()` (write)
//!    guard and waiters holding its `read()` guard; the same function also
//!    runs on a phase-fair `RwLock`, so code can move between the two.
//!
//! Run with `cargo run --release --example drop_in`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use rwlocker::{Exclusive, PhaseFair, Policy, RwCondvar, RwLock};

// ---------------------------------------------------------------------------
// Part 1: generic lock_api code
// ---------------------------------------------------------------------------

#[cfg(feature = "lock_api")]
mod generic {
    use std::thread;

    /// Counts in parallel through any `lock_api` reader-writer lock; returns
    /// what the readers saw at the end.
    pub fn hammer_rwlock<R: lock_api::RawRwLock + Send + Sync>(lock: &lock_api::RwLock<R, u64>) -> u64 {
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        *lock.write() += 1;
                        let _ = *lock.read();
                    }
                });
            }
        });
        *lock.read()
    }

    /// The same through any `lock_api` mutex.
    pub fn hammer_mutex<R: lock_api::RawMutex + Send + Sync>(lock: &lock_api::Mutex<R, u64>) -> u64 {
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        *lock.lock() += 1;
                    }
                });
            }
        });
        *lock.lock()
    }

    pub fn run() {
        use rwlocker::{PhaseFair, RawRwLock, ReaderPreferring, WriterPreferring};

        let expected = 40_000;
        assert_eq!(hammer_rwlock(&lock_api::RwLock::<RawRwLock<PhaseFair>, u64>::new(0)), expected);
        assert_eq!(hammer_rwlock(&lock_api::RwLock::<RawRwLock<ReaderPreferring>, u64>::new(0)), expected);
        assert_eq!(hammer_rwlock(&lock_api::RwLock::<RawRwLock<WriterPreferring>, u64>::new(0)), expected);
        assert_eq!(hammer_rwlock(&lock_api::RwLock::<parking_lot::RawRwLock, u64>::new(0)), expected);
        println!("lock_api::RwLock generic code: same result on rwlocker (3 policies) and parking_lot");

        // RawMutex routes to the exclusive side of the same raw lock.
        assert_eq!(hammer_mutex(&lock_api::Mutex::<RawRwLock, u64>::new(0)), expected);
        assert_eq!(hammer_mutex(&lock_api::Mutex::<parking_lot::RawMutex, u64>::new(0)), expected);
        println!("lock_api::Mutex generic code: same result on rwlocker and parking_lot");

        // Downgrade through lock_api's RawRwLockDowngrade.
        let lock = lock_api::RwLock::<RawRwLock<PhaseFair>, Vec<u8>>::new(vec![]);
        let mut w = lock.write();
        w.push(1);
        let r = lock_api::RwLockWriteGuard::downgrade(w);
        assert!(lock.try_write().is_none() && lock.try_read().is_some());
        drop(r);
        println!("lock_api::RwLockWriteGuard::downgrade works on rwlocker::RawRwLock");
    }
}

#[cfg(not(feature = "lock_api"))]
mod generic {
    pub fn run() {
        println!("(lock_api part skipped: the `lock_api` feature is off)");
    }
}

// ---------------------------------------------------------------------------
// Part 2: one condvar, read and write waiters, Mutex or RwLock
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Gate {
    open: bool,
    /// Waiters that found the gate closed (counted while holding the lock,
    /// just before they register with the condvar).
    waiting: AtomicUsize,
}

/// Starts `readers` threads waiting with read guards and `writers` waiting
/// with write guards on one condvar, opens the gate, and returns how many
/// the single `notify_all` woke. Works for any policy: `Mutex` is just
/// `RwLock<_, Exclusive>`.
fn gate_demo<P: Policy>(lock: &RwLock<Gate, P>, cv: &RwCondvar, readers: usize, writers: usize) -> usize
where
    RwLock<Gate, P>: Sync,
{
    let count_once = |counted: &mut bool, g: &Gate| {
        if !g.open && !*counted {
            *counted = true;
            g.waiting.fetch_add(1, Ordering::SeqCst);
        }
        !g.open
    };
    thread::scope(|s| {
        for _ in 0..readers {
            s.spawn(|| {
                let mut g = lock.read();
                let mut counted = false;
                cv.wait_while(&mut g, |g| count_once(&mut counted, g));
                assert!(g.open); // held in read mode again (exclusive under `Exclusive`)
            });
        }
        for _ in 0..writers {
            s.spawn(|| {
                let mut g = lock.lock(); // the drop-in exclusive entry (= write)
                let mut counted = false;
                cv.wait_while(&mut g, |g| count_once(&mut counted, g));
                g.open = true; // write mode again: may mutate
            });
        }
        // Every counted waiter holds the lock until it has registered with the
        // condvar, so once all are counted, taking the write lock means all are
        // registered: `notify_all` then reaches every one of them.
        while lock.read().waiting.load(Ordering::SeqCst) < readers + writers {
            thread::yield_now();
        }
        let mut g = lock.write();
        g.open = true;
        cv.notify_all()
    })
}

fn condvar_part() {
    // The Mutex: `lock()` is the write guard; `read()` exists too and is exclusive.
    let m = rwlocker::Mutex::new(Gate::default());
    let cv = RwCondvar::new();
    {
        let r = m.read();
        assert!(m.is_locked_exclusive(), "under Exclusive a read is exclusive");
        drop(r);
    }
    let woken = gate_demo::<Exclusive>(&m, &cv, 2, 2);
    println!("rwlocker::Mutex + RwCondvar: 2 read waiters and 2 lock() waiters; notify_all woke {woken}");
    assert_eq!(woken, 4);

    // The same function on a phase-fair RwLock, with the same condvar (no waiters left).
    let rw = RwLock::<Gate, PhaseFair>::new(Gate::default());
    let woken_rw = gate_demo::<PhaseFair>(&rw, &cv, 3, 1);
    println!(
        "RwLock<_, PhaseFair> + the same RwCondvar: 3 read waiters and 1 write waiter; notify_all woke {woken_rw}"
    );
    assert_eq!(woken_rw, 4);
    assert!(!m.is_locked() && !rw.is_locked());
}

fn main() {
    generic::run();
    condvar_part();
    println!("OK: lock_api generics and a shared RwCondvar work as drop-ins");
}

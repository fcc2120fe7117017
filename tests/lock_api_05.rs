//! `rwlocker::RawRwLock<P>` and `RawRwCondvar<P>` through `lock_api` 0.5's
//! generic `RwLock`, `Mutex` and `Condvar` (feature `lock_api_05`).
#![cfg(feature = "lock_api_05")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use lock_api_05 as lock_api;
use rwlocker::lock_api_impl::RawRwCondvar;
use rwlocker::{Exclusive, PhaseFair, Policy, PolicyKind, RawRwLock, ReaderPreferring, Strict, WriterPreferring};

type LRwLock<P, T> = lock_api::RwLock<RawRwLock<P>, T>;
type LMutex<P, T> = lock_api::Mutex<RawRwLock<P>, T>;
type LCondvar<P> = lock_api::Condvar<RawRwCondvar<P>>;

/// Spins (with a deadline) until `cond` holds.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        thread::yield_now();
    }
}

/// How many waiters the condvar has registered (from its `Debug` output).
fn waiting<P: Policy>(cv: &LCondvar<P>) -> usize {
    let s = format!("{:?}", cv.raw());
    let n = s.split("waiters: ").nth(1).expect("waiters in Debug output");
    n.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().unwrap()
}

fn rwlock<P: Policy>() {
    let lock: LRwLock<P, Vec<i32>> = lock_api::RwLock::new(vec![1]);
    lock.write().push(2);
    {
        let r = lock.read();
        assert_eq!(*r, [1, 2]);
        assert!(lock.is_locked());
        assert!(lock.try_write().is_none());
        assert_eq!(lock.try_read().is_some(), P::KIND != PolicyKind::Exclusive);
    }
    assert!(!lock.is_locked());

    let mut w = lock.write();
    w.push(3);
    assert!(lock.is_locked_exclusive());
    let r = lock_api::RwLockWriteGuard::downgrade(w);
    assert_eq!(*r, [1, 2, 3]);
    assert!(lock.try_write().is_none());
    assert_eq!(lock.is_locked_exclusive(), P::KIND == PolicyKind::Exclusive);
    drop(r);
    assert!(!lock.is_locked());

    // Timed calls give up while a writer holds, and succeed once it is gone.
    let w = lock.write();
    let d = Duration::from_millis(20);
    thread::scope(|s| {
        s.spawn(|| {
            assert!(lock.try_read_for(d).is_none());
            assert!(lock.try_write_until(Instant::now() + d).is_none());
        });
    });
    drop(w);
    assert!(lock.try_read_for(d).is_some());
    assert!(lock.try_write_for(d).is_some());
    assert!(!lock.is_locked(), "timed guards released on drop");

    // Contention through the generic API.
    let counter: LRwLock<P, u64> = lock_api::RwLock::new(0);
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                for i in 0..300 {
                    if i % 4 == 0 {
                        assert!(*counter.read() <= 900);
                    } else {
                        *counter.write() += 1;
                    }
                }
            });
        }
    });
    assert_eq!(counter.into_inner(), 3 * 225);
}

fn mutex<P: Policy>() {
    let m: LMutex<P, u64> = lock_api::Mutex::new(0);
    let g = m.lock();
    assert!(m.is_locked());
    assert!(m.try_lock().is_none());
    thread::scope(|s| {
        s.spawn(|| {
            // RawMutexTimed: gives up while the lock is held.
            assert!(m.try_lock_for(Duration::from_millis(10)).is_none());
            assert!(m.try_lock_until(Instant::now() + Duration::from_millis(10)).is_none());
        });
    });
    drop(g);
    *m.try_lock_for(Duration::from_millis(10)).expect("free") += 1;
    *m.try_lock_until(Instant::now() + Duration::from_millis(10)).expect("free") += 1;
    assert!(!m.is_locked());
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..300 {
                    *m.lock() += 1;
                }
            });
        }
    });
    assert_eq!(m.into_inner(), 902);
}

#[test]
fn rwlock_every_policy() {
    rwlock::<PhaseFair>();
    rwlock::<ReaderPreferring>();
    rwlock::<WriterPreferring>();
    rwlock::<Exclusive>();
    rwlock::<Strict<PhaseFair>>();
}

#[test]
fn mutex_every_policy() {
    mutex::<PhaseFair>();
    mutex::<ReaderPreferring>();
    mutex::<WriterPreferring>();
    mutex::<Exclusive>();
    mutex::<Strict<Exclusive>>();
}

#[test]
fn const_statics() {
    static LOCK: LRwLock<PhaseFair, u32> = lock_api::RwLock::new(1);
    static MUTEX: LMutex<Exclusive, u32> = lock_api::Mutex::new(2);
    static CV: LCondvar<Exclusive> = lock_api::Condvar::new();
    *LOCK.write() += 1;
    *MUTEX.lock() += 1;
    assert!(!CV.notify_one());
    assert_eq!((*LOCK.read(), *MUTEX.lock()), (2, 3));
}

/// `notify_one` / `notify_all` wake exactly as many waiters as they report,
/// oldest first, and a plain `wait` (no predicate loop) never returns
/// without a notification.
fn condvar_exact<P: Policy>() {
    common::within("condvar_exact", Duration::from_secs(30), || {
        let pair = Arc::new((LMutex::<P, Vec<usize>>::new(Vec::new()), LCondvar::<P>::new()));
        let woke = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for i in 0..3 {
            let (p, woke) = (pair.clone(), woke.clone());
            handles.push(thread::spawn(move || {
                let (m, cv) = &*p;
                let mut g = m.lock();
                cv.wait(&mut g);
                // The mutex is held again here.
                g.push(i);
                woke.fetch_add(1, Ordering::SeqCst);
            }));
            // Register in order, so that FIFO order is known.
            eventually("a waiter registered", || waiting(&pair.1) == i + 1);
        }
        let (m, cv) = &*pair;
        assert!(cv.notify_one());
        eventually("the notified waiter returned", || woke.load(Ordering::SeqCst) == 1);
        assert_eq!(*m.lock(), [0], "oldest first");
        assert_eq!(waiting(cv), 2, "the others still wait: no spurious wakeup");
        assert_eq!(woke.load(Ordering::SeqCst), 1);
        assert_eq!(cv.notify_all(), 2);
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*m.lock(), [0, 1, 2]);
        assert_eq!(cv.notify_all(), 0);
        assert!(!cv.notify_one());
    });
}

#[test]
fn condvar_exact_counts() {
    condvar_exact::<Exclusive>();
    condvar_exact::<PhaseFair>();
}

#[test]
fn condvar_timeouts() {
    common::within("condvar_timeouts", Duration::from_secs(30), || {
        let m = LMutex::<Exclusive, u32>::new(0);
        let cv = LCondvar::<Exclusive>::new();
        let mut g = m.lock();
        let d = Duration::from_millis(20);
        let start = Instant::now();
        assert!(cv.wait_for(&mut g, d).timed_out());
        assert!(start.elapsed() >= d, "a timed-out wait does not return early");
        assert!(m.is_locked(), "the mutex is held again after a timeout");
        assert!(cv.wait_until(&mut g, Instant::now() + d).timed_out());
        assert!(!cv.notify_one(), "a timed-out waiter is not counted");
        // A notified timed wait reports no timeout.
        thread::scope(|s| {
            s.spawn(|| {
                eventually("the waiter registered", || waiting(&cv) == 1);
                *m.lock() = 7;
                assert!(cv.notify_one());
            });
            let r = cv.wait_while_for(&mut g, |v| *v != 7, Duration::from_secs(3600));
            assert!(!r.timed_out());
            assert_eq!(*g, 7);
        });
    });
}

#[test]
fn condvar_second_mutex_panics_without_releasing() {
    let pair = Arc::new((LMutex::<Exclusive, ()>::new(()), LCondvar::<Exclusive>::new()));
    let p = pair.clone();
    let waiter = thread::spawn(move || {
        let mut g = p.0.lock();
        p.1.wait(&mut g);
    });
    eventually("the waiter registered", || waiting(&pair.1) == 1);
    let other = LMutex::<Exclusive, ()>::new(());
    let mut g = other.lock();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pair.1.wait(&mut g)));
    assert!(r.is_err(), "a second mutex panics");
    assert!(other.is_locked(), "still held after the panic");
    drop(g);
    assert!(pair.1.notify_one());
    waiter.join().unwrap();
}

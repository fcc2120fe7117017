//! `rwlocker::RawRwLock<P>` through `lock_api`'s generic `RwLock` and
//! `Mutex`, for every policy (docs/SEMANTICS.md §5, interop).
#![cfg(feature = "lock_api")]

use std::thread;
use std::time::{Duration, Instant};

use rwlocker::{Exclusive, PhaseFair, Policy, RawRwLock, ReaderPreferring, WriterPreferring};

type LRwLock<P, T> = lock_api::RwLock<RawRwLock<P>, T>;
type LMutex<P, T> = lock_api::Mutex<RawRwLock<P>, T>;

fn wait_until<P: Policy>(raw: &RawRwLock<P>, what: &str, cond: impl Fn(rwlocker::engine::StateSnapshot) -> bool) {
    let start = Instant::now();
    loop {
        let s = raw.state_snapshot();
        if cond(s) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}: {s:?}");
        thread::yield_now();
    }
}

fn rwlock<P: Policy>() {
    let lock: LRwLock<P, Vec<i32>> = lock_api::RwLock::new(vec![1]);
    lock.write().push(2);
    {
        let r = lock.read();
        assert_eq!(*r, [1, 2]);
        assert!(lock.is_locked());
        assert!(lock.try_write().is_none());
        // a second reader, except under Exclusive
        assert_eq!(lock.try_read().is_some(), P::KIND != rwlocker::PolicyKind::Exclusive);
    }
    assert!(!lock.is_locked());

    // downgrade keeps the lock readable and excludes writers
    let mut w = lock.write();
    w.push(3);
    let r = lock_api::RwLockWriteGuard::downgrade(w);
    assert_eq!(*r, [1, 2, 3]);
    assert!(lock.is_locked());
    assert!(lock.try_write().is_none());
    assert_eq!(lock.is_locked_exclusive(), P::KIND == rwlocker::PolicyKind::Exclusive);
    drop(r);

    // timed calls
    let w = lock.write();
    let d = Duration::from_millis(20);
    thread::scope(|s| {
        s.spawn(|| {
            let t = Instant::now();
            assert!(lock.try_read_for(d).is_none());
            assert!(t.elapsed() >= d);
            let deadline = Instant::now() + d;
            assert!(lock.try_write_until(deadline).is_none());
            assert!(Instant::now() >= deadline);
        });
    });
    drop(w);
    assert!(lock.try_read_for(d).is_some());
    let g = lock.try_write_until(Instant::now() + d).expect("free");
    assert!(lock.is_locked_exclusive());
    drop(g);

    // a timed writer granted when the holder releases
    let r = lock.read();
    thread::scope(|s| {
        s.spawn(|| {
            let mut g = lock.try_write_until(Instant::now() + Duration::from_secs(3600)).expect("granted");
            g.push(4);
        });
        // SAFETY: only reads the engine's diagnostic state.
        wait_until(unsafe { lock.raw() }, "the writer queued", |s| s.queued_writers == 1);
        drop(r);
    });
    assert_eq!(*lock.read(), [1, 2, 3, 4]);

    // contention through the generic API
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
    {
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
    }
    assert!(!m.is_locked());
    *m.try_lock_for(Duration::from_millis(10)).expect("free") += 1;
    *m.try_lock_until(Instant::now() + Duration::from_millis(10)).expect("free") -= 1;
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
    assert_eq!(m.into_inner(), 900);
}

#[test]
fn rwlock_phase_fair() {
    rwlock::<PhaseFair>();
}
#[test]
fn rwlock_reader_preferring() {
    rwlock::<ReaderPreferring>();
}
#[test]
fn rwlock_writer_preferring() {
    rwlock::<WriterPreferring>();
}
#[test]
fn rwlock_exclusive() {
    rwlock::<Exclusive>();
}
#[test]
fn mutex_phase_fair() {
    mutex::<PhaseFair>();
}
#[test]
fn mutex_reader_preferring() {
    mutex::<ReaderPreferring>();
}
#[test]
fn mutex_writer_preferring() {
    mutex::<WriterPreferring>();
}
#[test]
fn mutex_exclusive() {
    mutex::<Exclusive>();
}

#[test]
fn const_statics() {
    static LOCK: LRwLock<PhaseFair, u32> = lock_api::RwLock::new(1);
    static MUTEX: LMutex<Exclusive, u32> = lock_api::Mutex::new(2);
    *LOCK.write() += 1;
    *MUTEX.lock() += 1;
    assert_eq!((*LOCK.read(), *MUTEX.lock()), (2, 3));
}

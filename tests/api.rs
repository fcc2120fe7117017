//! The API users reach for when porting from std, parking_lot and tokio:
//! mutex names, upgrade, `Arc` guards, mapping, and condvar waits that keep
//! the guard.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rwlocker::{AsyncMutex, AsyncRwLock, Exclusive, Mutex, MutexGuard, PhaseFair, RwLock, Strict};

const SHORT: Duration = Duration::from_millis(10);

/// Spins (with a deadline) until `cond` holds.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        thread::yield_now();
    }
}

// ---------------------------------------------------------------------------
// Mutex names
// ---------------------------------------------------------------------------

fn mutex_names<P: rwlocker::Policy>()
where
    P::Shared<u32>: Sync,
{
    let m: RwLock<u32, P> = RwLock::new(0);
    let g = m.try_lock().expect("free");
    assert!(m.is_locked_exclusive(), "try_lock is exclusive");
    assert!(m.try_lock().is_none());
    thread::scope(|s| {
        s.spawn(|| {
            assert!(m.try_lock_for(SHORT).is_none());
            assert!(m.try_lock_until(Instant::now() + SHORT).is_none());
        });
    });
    drop(g);
    *m.try_lock_for(SHORT).expect("free") += 1;
    *m.try_lock_until(Instant::now() + SHORT).expect("free") += 1;
    assert!(!m.is_locked());
    assert_eq!(m.into_inner(), 2);
}

#[test]
fn mutex_try_lock_forms() {
    mutex_names::<Exclusive>();
    mutex_names::<Strict<Exclusive>>();
    mutex_names::<PhaseFair>();
}

#[test]
fn mutex_try_lock_is_exclusive_under_a_sharing_policy() {
    let lock: RwLock<u32> = RwLock::new(0);
    let r = lock.read();
    assert!(lock.try_lock().is_none(), "a reader holds: the exclusive entry fails");
    assert!(lock.try_lock_for(SHORT).is_none());
    drop(r);
    assert!(lock.try_lock().is_some());
}

#[test]
fn mutex_timed_lock_waits_for_the_holder() {
    let m = Mutex::new(0);
    for until in [false, true] {
        let g = m.lock();
        thread::scope(|s| {
            s.spawn(|| {
                let long = Duration::from_secs(3600);
                let got = if until { m.try_lock_until(Instant::now() + long) } else { m.try_lock_for(long) };
                *got.expect("granted when the holder leaves") += 1;
            });
            eventually("the timed locker queued", || m.raw().state_snapshot().queued_writers == 1);
            drop(g);
        });
    }
    assert_eq!(m.into_inner(), 2);
}

#[test]
fn mutex_guard_alias() {
    fn add(g: &mut MutexGuard<'_, Vec<u8>>, v: u8) {
        g.push(v);
    }
    let m = Mutex::new(Vec::new());
    add(&mut m.lock(), 1);
    add(&mut m.try_lock().unwrap(), 2);
    assert_eq!(*m.lock(), [1, 2]);
}

#[test]
fn async_mutex_names() {
    let m = Arc::new(AsyncMutex::new(0u32));
    let g = m.try_lock().expect("free");
    assert!(m.is_locked_exclusive());
    assert!(m.try_lock().is_none());
    drop(g);
    *m.lock_blocking() += 1;
    assert!(!m.is_locked());
    futures::executor::block_on(async {
        let mut g = m.clone().lock_owned().await;
        assert!(m.try_lock().is_none(), "lock_owned holds the lock exclusively");
        *g += 1;
    });
    assert!(!m.is_locked());
    // lock_blocking waits for a holder on another thread.
    let g = m.try_lock().unwrap();
    let m2 = m.clone();
    let t = thread::spawn(move || *m2.lock_blocking() += 1);
    eventually("the blocking locker queued", || m.raw().state_snapshot().queued_writers == 1);
    drop(g);
    common::within("lock_blocking after the release", Duration::from_secs(10), move || t.join().unwrap());
    assert_eq!(*m.try_lock().unwrap(), 3);
    // Under a sharing policy the names are still the exclusive entry.
    let lock = Arc::new(AsyncRwLock::<u32>::new(0));
    let r = lock.try_read().unwrap();
    assert!(lock.try_lock().is_none(), "a reader holds");
    drop(r);
    let w = futures::executor::block_on(lock.clone().lock_owned());
    assert!(lock.try_read().is_none(), "lock_owned is exclusive");
    drop(w);
    let w = lock.lock_blocking();
    assert!(lock.try_read().is_none(), "lock_blocking is exclusive");
    drop(w);
}

// ---------------------------------------------------------------------------
// Upgrade
// ---------------------------------------------------------------------------

fn upgrade_rules<P: rwlocker::Policy>()
where
    P::Shared<u32>: Sync,
{
    use rwlocker::{PolicyKind, RwLockReadGuard};
    let lock: RwLock<u32, P> = RwLock::new(0);

    // The sole reader, nobody queued: succeeds, and the lock is exclusive.
    let mut w = RwLockReadGuard::try_upgrade(lock.read()).expect("the only reader");
    *w += 1;
    assert!(lock.is_locked_exclusive());
    assert!(lock.try_read().is_none());
    drop(w);
    assert!(!lock.is_locked(), "the upgraded guard releases the write lock");

    if P::KIND == PolicyKind::Exclusive {
        return; // a read guard is exclusive: there is never a second reader
    }
    // Two readers: fails, and both still read.
    let (r1, r2) = (lock.read(), lock.read());
    let r1 = RwLockReadGuard::try_upgrade(r1).expect_err("another reader holds");
    assert_eq!(lock.raw().state_snapshot().readers, 2);
    drop(r2);

    // The sole reader with a writer queued behind it: fails under every
    // policy (a try_write would fail too), and the writer goes next.
    thread::scope(|s| {
        s.spawn(|| *lock.write() += 10);
        eventually("the writer queued", || lock.raw().state_snapshot().queued_writers == 1);
        let r1 = RwLockReadGuard::try_upgrade(r1).expect_err("a writer waits");
        assert_eq!(*r1, 1);
        drop(r1);
    });
    assert_eq!(*lock.read(), 11);
}

#[test]
fn upgrade_only_when_try_write_would_succeed() {
    upgrade_rules::<PhaseFair>();
    upgrade_rules::<rwlocker::ReaderPreferring>();
    upgrade_rules::<rwlocker::WriterPreferring>();
    upgrade_rules::<Exclusive>();
    upgrade_rules::<Strict<PhaseFair>>();
}

#[test]
fn upgrade_async_and_owned() {
    use rwlocker::{AsyncRwLockReadGuard, OwnedAsyncRwLockReadGuard};
    futures::executor::block_on(async {
        let lock = Arc::new(AsyncRwLock::<u32>::new(0));
        let r = lock.read().await;
        let other = lock.read().await;
        let r = AsyncRwLockReadGuard::try_upgrade(r).expect_err("two readers");
        drop(other);
        let mut w = AsyncRwLockReadGuard::try_upgrade(r).expect("the only reader");
        *w += 1;
        assert!(lock.try_read().is_none());
        drop(w);

        let r = lock.clone().read_owned().await;
        let other = lock.try_read().unwrap();
        let r = OwnedAsyncRwLockReadGuard::try_upgrade(r).expect_err("two readers");
        drop(other);
        let mut w = OwnedAsyncRwLockReadGuard::try_upgrade(r).expect("the only reader");
        *w += 1;
        assert!(lock.try_read().is_none());
        drop(w);
        assert!(!lock.is_locked());

        // A queued writer (a pending future) blocks the upgrade.
        let r = lock.read().await;
        let mut writer = common::Polled::new(Box::pin(lock.write()));
        assert!(writer.poll().is_pending());
        let r = AsyncRwLockReadGuard::try_upgrade(r).expect_err("a writer waits");
        drop(r);
        assert!(writer.is_woken());
        match writer.poll() {
            std::task::Poll::Ready(mut g) => *g += 1,
            std::task::Poll::Pending => panic!("the writer goes next"),
        }
        assert_eq!(*lock.read().await, 3);
    });
}

// ---------------------------------------------------------------------------
// Arc guards
// ---------------------------------------------------------------------------

#[test]
fn arc_guards_lock_and_release() {
    use rwlocker::{ArcRwLockReadGuard, ArcRwLockWriteGuard};
    let lock = Arc::new(RwLock::<u32>::new(0));

    let (r1, r2) = (lock.read_arc(), lock.try_read_arc().expect("readers share"));
    assert_eq!(lock.raw().state_snapshot().readers, 2);
    assert!(lock.try_write_arc().is_none());
    assert!(lock.try_write_arc_for(SHORT).is_none());
    assert!(lock.try_write_arc_until(Instant::now() + SHORT).is_none());
    assert!(Arc::ptr_eq(ArcRwLockReadGuard::rwlock(&r1), &lock));
    assert_eq!(Arc::strong_count(&lock), 3);
    // The guards move to another thread (no borrow of `lock`).
    thread::spawn(move || drop((r1, r2))).join().unwrap();
    assert!(!lock.is_locked());
    assert_eq!(Arc::strong_count(&lock), 1, "the guards gave their Arc back");

    let mut w = lock.write_arc();
    assert!(lock.try_read_arc().is_none());
    assert!(lock.try_read_arc_for(SHORT).is_none());
    assert!(lock.try_read_arc_until(Instant::now() + SHORT).is_none());
    *w += 1;
    let w = thread::spawn(move || {
        let mut w = w;
        *w += 1;
        w
    })
    .join()
    .unwrap();
    // Downgrade keeps writers out; upgrade of the sole reader succeeds.
    let r = ArcRwLockWriteGuard::downgrade(w);
    assert!(lock.try_write().is_none());
    assert!(lock.try_read().is_some());
    let mut w = ArcRwLockReadGuard::try_upgrade(r).expect("the only reader");
    *w += 1;
    assert!(lock.try_read().is_none());
    drop(w);
    assert_eq!(*lock.try_read_arc_for(SHORT).unwrap(), 3);
    *lock.try_write_arc_until(Instant::now() + SHORT).unwrap() += 1;
    *lock.try_write_arc_for(SHORT).unwrap() += 1;
    assert_eq!(*lock.try_read_arc_until(Instant::now() + SHORT).unwrap(), 5);
    assert!(!lock.is_locked());
    assert_eq!(Arc::strong_count(&lock), 1);
}

#[test]
fn arc_guard_timed_forms_wait_for_the_holder() {
    let lock = Arc::new(RwLock::<u32>::new(0));
    let w = lock.write_arc();
    let l = lock.clone();
    let t = thread::spawn(move || {
        let long = Duration::from_secs(3600);
        let r = l.try_read_arc_for(long).expect("granted");
        drop(r);
        *l.try_write_arc_until(Instant::now() + long).expect("granted") += 1;
    });
    eventually("the reader queued", || lock.raw().state_snapshot().queued_readers == 1);
    drop(w);
    common::within("the timed Arc guards", Duration::from_secs(10), move || t.join().unwrap());
    assert_eq!(*lock.read(), 1);
}

#[test]
fn arc_guards_are_send_where_the_lock_is_sync() {
    fn send<T: Send>(_: &T) {}
    fn sync<T: Sync>(_: &T) {}
    // Under Exclusive, `T: Send` suffices (a `Cell` is not `Sync`).
    let m = Arc::new(Mutex::new(std::cell::Cell::new(1)));
    let g = m.write_arc();
    send(&g);
    drop(g);
    let lock = Arc::new(RwLock::<u32>::new(1));
    let (r, w) = (lock.read_arc(), ());
    send(&r);
    sync(&r);
    drop((r, w));
    let w = lock.write_arc();
    send(&w);
    sync(&w);
}

#[test]
fn condvar_with_arc_guards() {
    use rwlocker::RwCondvar;
    let lock = Arc::new(RwLock::<u32>::new(0));
    let cv = Arc::new(RwCondvar::new());
    let mut handles = Vec::new();
    for write in [false, true] {
        let (lock, cv) = (lock.clone(), cv.clone());
        handles.push(thread::spawn(move || {
            if write {
                let mut g = lock.write_arc();
                cv.wait_while(&mut g, |v| *v == 0);
                assert!(lock.is_locked_exclusive(), "the write lock is held again");
                *g += 10;
            } else {
                let mut g = lock.read_arc();
                let r = cv.wait_while_for(&mut g, |v| *v == 0, Duration::from_secs(3600));
                assert!(!r.timed_out());
                assert!(*g >= 1);
                assert!(lock.raw().state_snapshot().readers >= 1, "a read lock is held again");
            }
        }));
    }
    eventually("both waiters registered", || format!("{cv:?}").contains("waiters: 2"));
    assert!(!lock.is_locked(), "the waiters released their Arc guards' locks");
    *lock.write_arc() = 1;
    assert_eq!(cv.notify_all(), 2);
    common::within("the Arc guard waiters", Duration::from_secs(10), move || {
        for h in handles {
            h.join().unwrap();
        }
    });
    assert_eq!(*lock.read(), 11);
}

#[test]
fn async_try_owned() {
    use rwlocker::{AsyncRwCondvar, OwnedAsyncRwLockReadGuard};
    let lock = Arc::new(AsyncRwLock::<u32>::new(0));
    let r = lock.clone().try_read_owned().expect("free");
    let r2 = lock.clone().try_read_owned().expect("readers share");
    assert!(lock.clone().try_write_owned().is_none());
    assert_eq!(Arc::strong_count(&lock), 3, "a failed try dropped its Arc");
    drop((r, r2));
    let mut w = lock.clone().try_write_owned().expect("free");
    assert!(lock.clone().try_read_owned().is_none());
    assert!(lock.clone().try_write_owned().is_none());
    *w += 1;
    drop(w);
    assert!(!lock.is_locked());
    assert_eq!(Arc::strong_count(&lock), 1);

    // They wait on the async condvar like the other owned guards.
    let cv = Arc::new(AsyncRwCondvar::new());
    common::within("the owned condvar wait", Duration::from_secs(10), move || {
        futures::executor::block_on(async {
            let waiter = async {
                let g: OwnedAsyncRwLockReadGuard<u32> = lock.clone().try_read_owned().unwrap();
                let g = cv.wait_while(g, |v| *v < 2).await;
                *g
            };
            let setter = async {
                let mut g = lock.clone().write_owned().await;
                *g = 2;
                drop(g);
                cv.notify_all();
            };
            let (v, ()) = futures::join!(waiter, setter);
            assert_eq!(v, 2);
        });
    });
}

// ---------------------------------------------------------------------------
// Mapping
// ---------------------------------------------------------------------------

#[test]
fn blocking_try_map_and_downgrade_map() {
    use rwlocker::{MappedRwLockReadGuard, MappedRwLockWriteGuard, RwLockReadGuard, RwLockWriteGuard};
    let lock = RwLock::<Vec<Vec<u32>>>::new(vec![vec![1, 2]]);

    let r = RwLockReadGuard::try_map(lock.read(), |v| v.get(3)).expect_err("no such row");
    assert_eq!(lock.raw().state_snapshot().readers, 1, "the guard came back holding its read lock");
    let row = RwLockReadGuard::try_map(r, |v| v.first()).expect("row 0");
    let row = MappedRwLockReadGuard::try_map(row, |r| r.get(9)).expect_err("no such cell");
    let cell = MappedRwLockReadGuard::try_map(row, |r| r.get(1)).expect("cell 1");
    assert_eq!(*cell, 2);
    assert!(lock.try_write().is_none());
    drop(cell);
    assert!(!lock.is_locked());

    let w = RwLockWriteGuard::try_map(lock.write(), |v| v.get_mut(3)).expect_err("no such row");
    assert!(lock.is_locked_exclusive(), "the guard came back holding the write lock");
    let row = RwLockWriteGuard::try_map(w, |v| v.first_mut()).expect("row 0");
    let row = MappedRwLockWriteGuard::try_map(row, |r| r.get_mut(9)).expect_err("no such cell");
    *MappedRwLockWriteGuard::try_map(row, |r| r.get_mut(0)).expect("cell 0") = 10;
    assert!(!lock.is_locked());

    let mut w = lock.write();
    w.push(vec![3]);
    let last = RwLockWriteGuard::downgrade_map(w, |v| v.last().unwrap());
    assert!(!lock.is_locked_exclusive(), "downgraded");
    assert!(lock.try_write().is_none());
    let other = lock.try_read().expect("readers share again");
    assert_eq!((&*last, other.len()), (&vec![3], 2));
    drop((last, other));

    let w = RwLockWriteGuard::try_downgrade_map(lock.write(), |v| v.get(5)).expect_err("no such row");
    assert!(lock.is_locked_exclusive(), "still writing");
    let first = RwLockWriteGuard::try_downgrade_map(w, |v| v.first()).expect("row 0");
    assert!(!lock.is_locked_exclusive());
    assert_eq!(*first, [10, 2]);
    drop(first);
    assert!(!lock.is_locked());
}

#[test]
fn a_panicking_map_releases_the_lock() {
    use rwlocker::{RwLockReadGuard, RwLockWriteGuard};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    let lock = RwLock::<u32>::new(0);
    fn boom(_: &u32) -> Option<&u32> {
        panic!("boom")
    }
    assert!(catch_unwind(AssertUnwindSafe(|| RwLockReadGuard::try_map(lock.read(), boom))).is_err());
    assert!(!lock.is_locked());
    assert!(catch_unwind(AssertUnwindSafe(|| RwLockWriteGuard::try_downgrade_map(lock.write(), boom))).is_err());
    assert!(!lock.is_locked());
    assert!(catch_unwind(AssertUnwindSafe(|| RwLockWriteGuard::downgrade_map(lock.write(), |_| -> &u32 {
        panic!("boom")
    })))
    .is_err());
    assert!(!lock.is_locked());
}

#[test]
fn async_guards_map() {
    use rwlocker::{
        AsyncRwLockReadGuard, AsyncRwLockWriteGuard, OwnedAsyncRwLockReadGuard, OwnedAsyncRwLockWriteGuard,
        OwnedMappedAsyncRwLockReadGuard, OwnedMappedAsyncRwLockWriteGuard,
    };
    futures::executor::block_on(async {
        let lock = Arc::new(AsyncRwLock::<(u32, Vec<u32>)>::new((1, vec![5])));

        // Borrowed guards.
        let r = AsyncRwLockReadGuard::try_map(lock.read().await, |(_, v)| v.get(1)).expect_err("no such item");
        let n = AsyncRwLockReadGuard::map(r, |(n, _)| n);
        assert_eq!(*n, 1);
        assert!(lock.try_write().is_none());
        drop(n);
        let w = AsyncRwLockWriteGuard::try_map(lock.write().await, |(_, v)| v.get_mut(1)).expect_err("none");
        assert!(lock.is_locked_exclusive());
        *AsyncRwLockWriteGuard::try_map(w, |(_, v)| v.first_mut()).expect("item 0") += 1;
        *AsyncRwLockWriteGuard::map(lock.write().await, |(n, _)| n) += 1;
        let w = AsyncRwLockWriteGuard::try_downgrade_map(lock.write().await, |(_, v)| v.get(1)).expect_err("none");
        assert!(lock.is_locked_exclusive());
        let item = AsyncRwLockWriteGuard::try_downgrade_map(w, |(_, v)| v.first()).expect("item 0");
        assert!(!lock.is_locked_exclusive() && lock.try_read().is_some());
        assert_eq!(*item, 6);
        drop(item);
        let n = AsyncRwLockWriteGuard::downgrade_map(lock.write().await, |(n, _)| n);
        assert!(!lock.is_locked_exclusive() && lock.try_write().is_none());
        assert_eq!(*n, 2);
        drop(n);
        assert!(!lock.is_locked());

        // Owned guards.
        let r = OwnedAsyncRwLockReadGuard::try_map(lock.clone().read_owned().await, |(_, v)| v.get(1))
            .expect_err("no such item");
        let v = OwnedAsyncRwLockReadGuard::map(r, |(_, v)| v);
        let v = OwnedMappedAsyncRwLockReadGuard::try_map(v, |v| v.get(1)).expect_err("none");
        let item = OwnedMappedAsyncRwLockReadGuard::try_map(v, |v| v.first()).expect("item 0");
        let item = OwnedMappedAsyncRwLockReadGuard::map(item, |i| i);
        assert_eq!(*item, 6);
        assert!(lock.try_write().is_none());
        drop(item);

        let w = OwnedAsyncRwLockWriteGuard::try_map(lock.clone().write_owned().await, |(_, v)| v.get_mut(1))
            .expect_err("none");
        let v = OwnedAsyncRwLockWriteGuard::map(w, |(_, v)| v);
        let v = OwnedMappedAsyncRwLockWriteGuard::try_map(v, |v| v.get_mut(1)).expect_err("none");
        assert!(lock.is_locked_exclusive());
        let item = OwnedMappedAsyncRwLockWriteGuard::try_map(v, |v| v.first_mut()).expect("item 0");
        *OwnedMappedAsyncRwLockWriteGuard::map(item, |i| i) += 1;
        *OwnedAsyncRwLockWriteGuard::try_map(lock.clone().write_owned().await, |(n, _)| Some(n)).unwrap() += 1;

        let w = OwnedAsyncRwLockWriteGuard::try_downgrade_map(lock.clone().write_owned().await, |(_, v)| v.get(1))
            .expect_err("none");
        assert!(lock.is_locked_exclusive());
        let item = OwnedAsyncRwLockWriteGuard::try_downgrade_map(w, |(_, v)| v.first()).expect("item 0");
        assert!(!lock.is_locked_exclusive() && lock.try_read().is_some());
        assert_eq!(*item, 7);
        drop(item);
        let n = OwnedAsyncRwLockWriteGuard::downgrade_map(lock.clone().write_owned().await, |(n, _)| n);
        assert!(!lock.is_locked_exclusive() && lock.try_write().is_none());
        assert_eq!(*n, 3);
        // The owned mapped guard moves to another thread.
        thread::spawn(move || drop(n)).join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(Arc::strong_count(&lock), 1, "every guard gave its Arc back");
    });
}

// ---------------------------------------------------------------------------
// Condvar timeouts that keep the guard; unlocked
// ---------------------------------------------------------------------------

#[test]
fn wait_while_until_keeps_the_guard() {
    common::within("wait_while_until_keeps_the_guard", Duration::from_secs(30), || {
        use rwlocker::RwCondvar;
        let lock = RwLock::<u32>::new(0);
        let cv = RwCondvar::new();
        let mut g = lock.write();
        let deadline = Instant::now() + SHORT;
        let r = cv.wait_while_until(&mut g, |v| *v == 0, deadline);
        assert!(r.timed_out());
        assert!(Instant::now() >= deadline, "not before the deadline");
        assert!(lock.is_locked_exclusive(), "the write lock is held again");
        assert!(!cv.notify_one(), "the timed-out waiter left");
        thread::scope(|s| {
            s.spawn(|| {
                eventually("the waiter registered", || format!("{cv:?}").contains("waiters: 1"));
                *lock.write() = 1;
                cv.notify_all();
            });
            let r = cv.wait_while_until(&mut g, |v| *v == 0, Instant::now() + Duration::from_secs(3600));
            assert!(!r.timed_out());
            assert_eq!(*g, 1);
        });
        drop(g);
        let mut r = lock.read();
        assert!(!cv.wait_while_until(&mut r, |v| *v == 0, Instant::now()).timed_out(), "the condition is false");
    });
}

/// A timer that completes when its sender fires (or is dropped).
fn timer() -> (futures::channel::oneshot::Sender<()>, impl std::future::Future<Output = ()> + Unpin) {
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    (
        tx,
        Box::pin(async move {
            let _ = rx.await;
        }),
    )
}

#[test]
fn async_wait_timeout_returns_the_guard() {
    common::within("async_wait_timeout_returns_the_guard", Duration::from_secs(30), || {
        use common::Polled;
        use rwlocker::AsyncRwCondvar;
        use std::task::Poll;
        let lock = AsyncRwLock::<u32>::new(0);
        let cv = AsyncRwCondvar::new();

        // The timer fires first: timed out, the write lock is held again.
        let (fire, t) = timer();
        let mut wait = Polled::new(cv.wait_timeout(lock.try_write().unwrap(), t));
        assert!(wait.poll().is_pending());
        assert!(!lock.is_locked(), "released while waiting");
        fire.send(()).unwrap();
        assert!(wait.is_woken());
        let Poll::Ready((mut g, r)) = wait.poll() else { panic!("the timer fired") };
        assert!(r.timed_out());
        assert!(lock.is_locked_exclusive());
        *g += 1;
        assert!(!cv.notify_one(), "the timed-out waiter left the condvar");

        // A notification first: not timed out.
        let (_fire, t) = timer();
        let mut wait = Polled::new(cv.wait_timeout(g, t));
        assert!(wait.poll().is_pending());
        assert!(cv.notify_one());
        let Poll::Ready((g, r)) = wait.poll() else { panic!("notified") };
        assert!(!r.timed_out());
        drop(g);

        // Timed out while another task holds the lock: the guard comes back
        // once the lock is free again, still marked timed out.
        let (fire, t) = timer();
        let mut wait = Polled::new(cv.wait_timeout(lock.try_read().unwrap(), t));
        assert!(wait.poll().is_pending());
        let w = lock.try_write().unwrap();
        fire.send(()).unwrap();
        assert!(wait.poll().is_pending(), "re-acquiring behind the writer");
        drop(w);
        assert!(wait.is_woken());
        let Poll::Ready((g, r)) = wait.poll() else { panic!("granted") };
        assert!(r.timed_out());
        assert_eq!((*g, lock.raw().state_snapshot().readers), (1, 1));
        drop(g);

        // Dropping a timed wait that was notified passes the notification on.
        let (_fire, t) = timer();
        let mut first = Polled::new(cv.wait_timeout(lock.try_read().unwrap(), t));
        let mut second = Polled::new(cv.wait(lock.try_read().unwrap()));
        assert!(first.poll().is_pending() && second.poll().is_pending());
        assert!(cv.notify_one());
        drop(first);
        assert!(second.poll().is_ready(), "the notification reached the next waiter");
    });
}

#[test]
fn async_wait_while_timeout_takes_a_racing_notification_and_polls_the_timer_once() {
    common::within(
        "async_wait_while_timeout_takes_a_racing_notification_and_polls_the_timer_once",
        Duration::from_secs(30),
        || {
            use rwlocker::AsyncRwCondvar;
            use std::task::Poll;
            let lock = AsyncRwLock::<u32>::new(0);
            let cv = AsyncRwCondvar::new();
            // A timer that notifies as it fires (the race), and panics if polled
            // again after completing.
            let mut fired = false;
            let racing_timer = std::future::poll_fn(|_| {
                assert!(!fired, "a completed timer was polled again");
                fired = true;
                assert!(cv.notify_one(), "the waiter is registered");
                Poll::Ready(())
            });
            let (g, r) = futures::executor::block_on(cv.wait_timeout(
                lock.try_read().unwrap(),
                std::future::poll_fn(|_| {
                    assert!(cv.notify_one(), "the waiter is registered");
                    Poll::Ready(())
                }),
            ));
            assert!(!r.timed_out(), "the notification that raced the timer was taken");
            assert!(!cv.notify_one(), "and not left behind");
            drop(g);
            let (g, r) =
                futures::executor::block_on(cv.wait_while_timeout(lock.try_read().unwrap(), |v| *v == 0, racing_timer));
            assert!(r.timed_out(), "the condition still held when the timer had fired");
            assert_eq!(lock.raw().state_snapshot().readers, 1, "the read lock is held again");
            drop(g);
            assert!(!cv.notify_one(), "nobody is left registered");

            // The condition becomes false before the timer: not timed out.
            let (_fire, t) = timer();
            futures::executor::block_on(async {
                let waiter = async {
                    let g = lock.read().await;
                    cv.wait_while_timeout(g, |v| *v == 0, t).await
                };
                let setter = async {
                    *lock.write().await = 5;
                    cv.notify_all();
                };
                let ((g, r), ()) = futures::join!(waiter, setter);
                assert!(!r.timed_out());
                assert_eq!(*g, 5);
            });
        },
    );
}

#[test]
fn unlocked_releases_and_retakes_the_same_mode() {
    common::within("unlocked_releases_and_retakes_the_same_mode", Duration::from_secs(30), || {
        use rwlocker::{ArcRwLockReadGuard, ArcRwLockWriteGuard, RwLockReadGuard, RwLockWriteGuard};
        use std::panic::{catch_unwind, AssertUnwindSafe};
        let lock = Arc::new(RwLock::<u32>::new(0));

        let mut r = lock.read();
        RwLockReadGuard::unlocked(&mut r, || *lock.try_write().expect("released") += 1);
        assert_eq!(lock.raw().state_snapshot().readers, 1, "a read lock is held again");
        assert_eq!(*r, 1);
        drop(r);

        let mut w = lock.write();
        let seen = RwLockWriteGuard::unlocked(&mut w, || *lock.try_read().expect("released"));
        assert!(lock.is_locked_exclusive(), "the write lock is held again");
        *w += seen;
        // A panic in `f` leaves the guard holding its lock again.
        assert!(catch_unwind(AssertUnwindSafe(|| RwLockWriteGuard::unlocked(&mut w, || panic!("boom")))).is_err());
        assert!(lock.is_locked_exclusive());
        drop(w);
        assert!(!lock.is_locked());

        let mut r = lock.read_arc();
        ArcRwLockReadGuard::unlocked(&mut r, || *lock.try_write().expect("released") += 1);
        assert_eq!((*r, lock.raw().state_snapshot().readers), (3, 1));
        assert!(catch_unwind(AssertUnwindSafe(|| ArcRwLockReadGuard::unlocked(&mut r, || panic!("boom")))).is_err());
        assert_eq!(lock.raw().state_snapshot().readers, 1);
        drop(r);
        let mut w = lock.write_arc();
        assert_eq!(ArcRwLockWriteGuard::unlocked(&mut w, || *lock.try_read().expect("released")), 3);
        assert!(lock.is_locked_exclusive());
        drop(w);
        assert!(!lock.is_locked());
    });
}

#[test]
fn async_timed_waits_are_send_under_tokio() {
    use rwlocker::AsyncRwCondvar;
    common::within("tokio timed waits", Duration::from_secs(30), || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap();
        rt.block_on(async {
            let lock = Arc::new(AsyncRwLock::<u32>::new(0));
            let cv = Arc::new(AsyncRwCondvar::new());
            let (l, c) = (lock.clone(), cv.clone());
            let (first_done, first) = tokio::sync::oneshot::channel();
            // Spawned: the wait futures are `Send` with a tokio timer.
            let waiter = tokio::spawn(async move {
                let g = l.clone().write_owned().await;
                let (g, r) = c.wait_timeout(g, tokio::time::sleep(SHORT)).await;
                assert!(r.timed_out());
                drop(g);
                first_done.send(()).unwrap();
                let g = l.read().await;
                let (g, r) = c.wait_while_timeout(g, |v| *v == 0, tokio::time::sleep(Duration::from_secs(3600))).await;
                assert!(!r.timed_out());
                *g
            });
            first.await.unwrap();
            while !format!("{cv:?}").contains("waiters: 1") {
                tokio::task::yield_now().await;
            }
            *lock.write().await = 4;
            cv.notify_all();
            assert_eq!(waiter.await.unwrap(), 4);
        });
    });
}

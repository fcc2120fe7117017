//! Reader bias (`ReadBiased<P>`, docs/SEMANTICS.md §2b) through the public
//! API: biased reads engage, writers revoke and wait for published readers,
//! and every way a read guard can end (drop on another thread, condvar
//! wait, `unlocked`, upgrade, map, async) releases exactly its own read.

mod common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::{within, Polled};
use rwlocker::{
    AsyncRwLock, Policy, ReadBiased, RwCondvar, RwLock, RwLockReadGuard, RwLockWriteGuard, Strict, WriterPreferring,
};

type Pf = ReadBiased<rwlocker::PhaseFair>;

const LIMIT: Duration = Duration::from_secs(20);

/// Reads until the bias is on (a counted read turns it on, every 32nd per
/// thread, once the inhibit window after the last revocation has passed);
/// fails if it does not come on within seconds.
fn bias_on<T, P: Policy>(lock: &RwLock<T, P>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !lock.raw().is_biased() {
        assert!(std::time::Instant::now() < deadline, "the bias never came on");
        for _ in 0..64 {
            drop(lock.read());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn idle<T, P: Policy>(lock: &RwLock<T, P>) {
    let s = lock.raw().state_snapshot();
    assert_eq!((s.readers, s.writer, s.queued_readers, s.queued_writers), (0, false, 0, 0), "lock not idle: {s:?}");
    assert!(lock.try_write().is_some(), "lock not free");
}

#[test]
fn a_published_reader_holds_the_lock_against_writers() {
    let lock = RwLock::<u32, Pf>::new(0);
    bias_on(&lock);
    let r = lock.read();
    assert!(lock.raw().is_biased(), "the read was published, the bias stays on");
    assert_eq!(lock.raw().state_snapshot().readers, 1);
    assert!(lock.is_locked());
    assert!(lock.try_write().is_none(), "a published reader holds the lock");
    assert!(!lock.raw().is_biased(), "the writer's attempt revoked the bias");
    assert!(lock.try_write_for(Duration::from_millis(20)).is_none());
    drop(r);
    idle(&lock);
}

#[test]
fn a_blocked_writer_waits_for_published_readers() {
    within("blocked writer", LIMIT, || {
        let lock = Arc::new(RwLock::<u64, Pf>::new(0));
        bias_on(&lock);
        let r = lock.read();
        let entered = Arc::new(AtomicBool::new(false));
        let w = {
            let (lock, entered) = (lock.clone(), entered.clone());
            std::thread::spawn(move || {
                let mut g = lock.write();
                entered.store(true, SeqCst);
                *g += 1;
            })
        };
        while lock.raw().state_snapshot().queued_writers == 0 {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(20));
        assert!(!entered.load(SeqCst), "the writer entered while a published reader held the lock");
        assert_eq!(*r, 0);
        drop(r);
        w.join().unwrap();
        assert_eq!(*lock.read(), 1);
        idle(&lock);
    });
}

#[test]
fn a_queued_writer_stops_new_biased_readers_under_writer_preferring() {
    within("writer preferring", LIMIT, || {
        let lock = Arc::new(RwLock::<u64, ReadBiased<WriterPreferring>>::new(0));
        bias_on(&lock);
        let r = lock.read();
        let w = {
            let lock = lock.clone();
            std::thread::spawn(move || *lock.write() += 1)
        };
        while lock.raw().state_snapshot().queued_writers == 0 {
            std::thread::yield_now();
        }
        assert!(!lock.raw().is_biased(), "a queued writer found the bias on");
        assert!(lock.try_read().is_none(), "a reader overtook the queued writer");
        drop(r);
        w.join().unwrap();
        assert_eq!(*lock.read(), 1);
    });
}

#[test]
fn a_read_guard_released_on_another_thread() {
    within("release elsewhere", LIMIT, || {
        let lock = Arc::new(RwLock::<u64, Pf>::new(7));
        bias_on(&lock);
        let r = lock.read_arc();
        let r2 = lock.read_arc();
        std::thread::spawn(move || assert_eq!(*r, 7)).join().unwrap();
        assert_eq!(lock.raw().state_snapshot().readers, 1);
        std::thread::spawn(move || drop(r2)).join().unwrap();
        idle(&lock);
        // And after a revocation moved it into the count.
        bias_on(&lock);
        let r = lock.read_arc();
        assert!(lock.try_write().is_none());
        std::thread::spawn(move || drop(r)).join().unwrap();
        idle(&lock);
    });
}

#[test]
fn condvar_waits_with_a_published_read_guard() {
    within("condvar", LIMIT, || {
        let lock = RwLock::<u32, Pf>::new(0);
        let cv = RwCondvar::new();
        bias_on(&lock);
        let mut r = lock.read();
        assert!(cv.wait_for(&mut r, Duration::from_millis(5)).timed_out());
        assert_eq!(lock.raw().state_snapshot().readers, 1, "exactly the waiter's read is held again");
        drop(r);
        idle(&lock);
    });
}

#[test]
fn unlocked_releases_a_published_read() {
    let lock = RwLock::<u32, Pf>::new(0);
    bias_on(&lock);
    let mut r = lock.read();
    RwLockReadGuard::unlocked(&mut r, || *lock.write() += 1);
    assert_eq!(*r, 1);
    assert_eq!(lock.raw().state_snapshot().readers, 1);
    drop(r);
    idle(&lock);
}

#[test]
fn upgrade_map_and_downgrade_of_published_reads() {
    let lock = RwLock::<(u32, u32), Pf>::new((0, 0));
    bias_on(&lock);
    let (r1, r2) = (lock.read(), lock.read());
    let r1 = RwLockReadGuard::try_upgrade(r1).unwrap_err();
    assert_eq!(lock.raw().state_snapshot().readers, 2);
    drop(r2);
    let mut w = RwLockReadGuard::try_upgrade(r1).expect("the only reader");
    w.0 = 1;
    let r = RwLockWriteGuard::downgrade(w);
    assert_eq!(r.0, 1);
    drop(r);
    idle(&lock);
    bias_on(&lock);
    let first = RwLockReadGuard::map(lock.read(), |p| &p.0);
    let second = RwLockReadGuard::map(lock.read(), |p| &p.1);
    assert_eq!((*first, *second), (1, 0));
    drop((first, second));
    idle(&lock);
}

#[test]
fn async_read_guards_carry_their_slot() {
    let lock = Arc::new(AsyncRwLock::<u32, ReadBiased<Strict<rwlocker::PhaseFair>>>::new(0));
    while !lock.raw().is_biased() {
        drop(lock.try_read().unwrap());
    }
    assert!(lock.raw().is_biased());
    let mut read = Polled::new(Box::pin(lock.clone().read_owned()));
    let Poll::Ready(r) = read.poll() else { panic!("a free lock made a reader wait") };
    let mut write = Polled::new(Box::pin(lock.write()));
    assert!(write.poll().is_pending(), "a writer entered past a published async reader");
    let owned = lock.clone().try_read_owned();
    assert!(owned.is_none(), "a reader overtook the queued writer");
    // The guard moves to another thread and is released there.
    std::thread::spawn(move || drop(r)).join().unwrap();
    assert!(write.is_woken(), "the release did not wake the writer");
    let Poll::Ready(mut w) = write.poll() else { panic!("the writer was not admitted") };
    *w += 1;
    drop(w);
    assert_eq!(*lock.try_read().unwrap(), 1);
    assert!(!lock.is_locked());
}

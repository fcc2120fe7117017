//! Soundness regressions: each test is a way safe code could once break a
//! lock (release a lock it does not hold, strand a lock, leave a guard
//! without its lock, leave a stale condvar registration), checked against
//! the fixed behaviour.

mod common;

use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;

use rwlocker::{AsyncRwCondvar, PhaseFair, RawAcquire, RawRwLock, RwLock, WriterPreferring};

fn noop_cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

// ---------------------------------------------------------------------------
// Raw acquisitions are bound to their lock
// ---------------------------------------------------------------------------

/// The acquisition that was granted lock `a` gives up: it releases `a`, and
/// nothing can make it touch lock `b` (it was once handed a lock on every
/// call, so a `cancel` with `b` released `b` under a live write guard).
#[test]
fn raw_acquire_releases_only_its_own_lock() {
    let a = RwLock::<u32>::new(0);
    let b = RwLock::<u32>::new(0);
    let mut cx = noop_cx();
    let guard_a = a.write();
    let mut acq = RawAcquire::write(a.raw());
    assert!(acq.poll(&mut cx).is_pending());
    drop(guard_a); // hands `a` to `acq`
    assert!(a.is_locked_exclusive());
    let guard_b = b.write();
    acq.cancel(); // releases the grant of `a`, and only that
    assert!(!a.is_locked());
    assert!(b.is_locked_exclusive());
    assert!(b.try_write().is_none(), "a second write guard of `b` beside the first");
    drop(guard_b);
    assert!(!b.is_locked());
}

/// A queued acquisition that is dropped leaves the queue (it once stayed
/// queued and blocked everyone behind it), and a dropped acquisition that
/// had been granted the lock releases it.
#[test]
fn dropped_raw_acquire_never_strands_the_lock() {
    common::within("dropped RawAcquire", Duration::from_secs(20), || {
        let lock = RawRwLock::<WriterPreferring>::new();
        let mut cx = noop_cx();
        assert!(lock.try_lock_shared());
        let mut writer = RawAcquire::write(&lock);
        assert!(writer.poll(&mut cx).is_pending());
        drop(writer); // queued: must leave, or readers wait behind it forever
        assert!(lock.try_lock_shared(), "a dropped writer still holds readers back");
        // SAFETY: two read locks were taken above.
        unsafe { lock.unlock_shared() };
        // SAFETY: as above.
        unsafe { lock.unlock_shared() };
        assert!(!lock.is_locked());

        // Granted, then dropped unpolled: the grant is released.
        assert!(lock.try_lock_exclusive());
        let mut reader = RawAcquire::read(&lock);
        assert!(reader.poll(&mut cx).is_pending());
        // SAFETY: the write lock was taken above; this hands it to `reader`.
        unsafe { lock.unlock_exclusive() };
        assert!(lock.is_locked());
        drop(reader);
        assert!(!lock.is_locked(), "a dropped, granted acquisition kept its read lock");
        lock.lock_exclusive(); // would block forever on a stranded lock
                               // SAFETY: taken on the line above.
        unsafe { lock.unlock_exclusive() };
    });
}

/// The owned form keeps its lock alive and works across policies behind
/// one type (what a foreign binding stores).
#[test]
fn owned_raw_acquire_keeps_its_lock() {
    let fair = Arc::new(RawRwLock::<PhaseFair>::new());
    let wp = Arc::new(RawRwLock::<WriterPreferring>::new());
    let mut cx = noop_cx();
    assert!(fair.try_lock_exclusive());
    let mut pending: Vec<RawAcquire<'static>> =
        vec![RawAcquire::read_owned(fair.clone()), RawAcquire::write_owned(wp.clone())];
    assert!(pending[0].poll(&mut cx).is_pending());
    assert!(pending[1].poll(&mut cx).is_ready());
    assert!(wp.is_locked_exclusive());
    assert_eq!(Arc::strong_count(&fair), 2);
    // SAFETY: the write lock of `fair` was taken above.
    unsafe { fair.unlock_exclusive() };
    assert!(fair.is_locked(), "the queued reader was granted");
    drop(pending); // releases the read grant; the completed write stays held
    assert!(!fair.is_locked());
    assert!(wp.is_locked_exclusive());
    assert_eq!(Arc::strong_count(&fair), 1);
    // SAFETY: the completed write acquisition of `wp` is ours to release.
    unsafe { wp.unlock_exclusive() };
}

// ---------------------------------------------------------------------------
// Hand-driven condvar waits
// ---------------------------------------------------------------------------

/// `cancel` reports a notification once, and only one it has not consumed
/// (a wait cancelled before, or polled `Ready`, once claimed one).
#[test]
fn raw_condvar_wait_cancel_is_truthful() {
    let cv = AsyncRwCondvar::new();
    let mut cx = noop_cx();
    let mut wait = cv.register_raw(1, cx.waker());
    assert!(!wait.cancel(), "not notified");
    assert!(!wait.cancel(), "cancelled before");
    assert_eq!(cv.notify(1), 0);

    let mut wait = cv.register_raw(1, cx.waker());
    assert_eq!(cv.notify(1), 1);
    assert!(wait.cancel());
    assert!(!wait.cancel(), "reported twice");

    let mut wait = cv.register_raw(1, cx.waker());
    assert_eq!(cv.notify(1), 1);
    assert!(wait.poll(&mut cx).is_ready());
    assert!(!wait.cancel(), "consumed by the Ready poll");
}

/// Dropping a registered wait deregisters it; a notification it had
/// received passes on to the next waiter. (A dropped wait once stayed
/// registered and swallowed notifications.)
#[test]
fn dropped_raw_condvar_wait_deregisters_and_passes_on() {
    let cv = Arc::new(AsyncRwCondvar::new());
    let mut cx = noop_cx();
    let first = cv.register_raw(1, cx.waker());
    drop(first);
    assert_eq!(cv.notify(1), 0, "a dropped wait stayed registered");

    let first = cv.clone().register_raw_owned(1, cx.waker());
    let mut second = cv.register_raw(1, cx.waker());
    assert_eq!(cv.notify(1), 1);
    drop(first); // notified, never polled
    assert!(second.poll(&mut cx).is_ready(), "the notification was lost");
    assert_eq!(Arc::strong_count(&cv), 1);
}

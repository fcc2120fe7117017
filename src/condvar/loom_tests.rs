//! loom models of the condition variables: a notification racing a wait is
//! never lost (a lost one shows as a deadlock, which loom reports), waiters
//! return holding their mode, and a dropped async wait racing a notify
//! passes the notification on.
//!
//! Run with
//! `LOOM_MAX_PREEMPTIONS=2 RUSTFLAGS="--cfg loom -C debug-assertions"
//! cargo test --release --lib -- loom_`. The two-thread models are small
//! enough to explore every interleaving whatever the preemption bound
//! (about 1,500 iterations each); the larger ones use the bound from the
//! environment. Timed waits are not modelled (loom has no timed park).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use loom::thread;

use crate::loom::Arc;
use crate::{AsyncRwCondvar, AsyncRwLock, Exclusive, PhaseFair, Policy, RwCondvar, RwLock, WriterPreferring};

/// Explores every interleaving of `f`, ignoring `LOOM_MAX_PREEMPTIONS`:
/// for models small enough to be checked exhaustively.
fn exhaustive(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = None;
    builder.check(f);
}

/// A waiter does `lock`, `wait_while(flag is false)` with a write guard;
/// the notifier sets the flag under the lock and notifies (inside or after
/// the critical section). The waiter must end holding the write lock with
/// the flag set.
fn notify_racing_wait_write<P: Policy>(notify_inside: bool) {
    exhaustive(move || {
        let shared = Arc::new((RwLock::<bool, P>::new(false), RwCondvar::new()));
        let waiter = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (lock, cv) = &*shared;
                let mut g = lock.write();
                cv.wait_while(&mut g, |flag| !*flag);
                assert!(*g);
                assert!(lock.is_locked_exclusive());
                assert!(lock.try_read().is_none());
            })
        };
        let (lock, cv) = &*shared;
        let mut g = lock.write();
        *g = true;
        if notify_inside {
            cv.notify_one();
            drop(g);
        } else {
            drop(g);
            cv.notify_one();
        }
        waiter.join().unwrap();
        assert!(!lock.is_locked());
        assert!(!cv.notify_one());
    });
}

#[test]
fn loom_notify_racing_wait_write_guard() {
    notify_racing_wait_write::<PhaseFair>(false);
}

#[test]
fn loom_notify_racing_wait_write_guard_notify_under_lock() {
    notify_racing_wait_write::<PhaseFair>(true);
}

#[test]
fn loom_notify_racing_wait_mutex() {
    notify_racing_wait_write::<Exclusive>(false);
}

/// The same race with a read guard: the waiter ends holding a read lock.
#[test]
fn loom_notify_racing_wait_read_guard() {
    exhaustive(|| {
        let shared = Arc::new((RwLock::<bool, WriterPreferring>::new(false), RwCondvar::new()));
        let waiter = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (lock, cv) = &*shared;
                let mut g = lock.read();
                cv.wait_while(&mut g, |flag| !*flag);
                assert!(*g);
                assert!(!lock.is_locked_exclusive());
                assert_eq!(lock.raw().state_snapshot().readers, 1);
            })
        };
        let (lock, cv) = &*shared;
        *lock.write() = true;
        cv.notify_one();
        waiter.join().unwrap();
        assert!(!lock.is_locked());
    });
}

/// `notify_all` racing one read-guard and one write-guard waiter: both
/// return (holding their modes), nothing is left registered.
#[test]
fn loom_notify_all_read_and_write_waiters() {
    loom::model(|| {
        let shared = Arc::new((RwLock::<u8>::new(0), RwCondvar::new()));
        let reader = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (lock, cv) = &*shared;
                let mut g = lock.read();
                cv.wait_while(&mut g, |v| *v == 0);
                assert!(!lock.is_locked_exclusive());
            })
        };
        let writer = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (lock, cv) = &*shared;
                let mut g = lock.write();
                cv.wait_while(&mut g, |v| *v == 0);
                *g += 1;
                assert!(lock.is_locked_exclusive());
            })
        };
        let (lock, cv) = &*shared;
        *lock.write() = 1;
        cv.notify_all();
        reader.join().unwrap();
        writer.join().unwrap();
        assert_eq!(*lock.read(), 2);
        assert!(!cv.notify_one());
        assert!(!lock.is_locked());
    });
}

/// Polls `f` once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let waker = futures_noop_waker();
    Pin::new(f).poll(&mut Context::from_waker(&waker))
}

/// A waker that does nothing (no dependency on `futures` in the library).
fn futures_noop_waker() -> core::task::Waker {
    use core::task::{RawWaker, RawWakerVTable, Waker};
    fn clone(_: *const ()) -> RawWaker {
        RawWaker::new(core::ptr::null(), &VTABLE)
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: every vtable function ignores the (null) data pointer.
    unsafe { Waker::from_raw(RawWaker::new(core::ptr::null(), &VTABLE)) }
}

/// An async waiter (task on `loom::future::block_on`) races a blocking
/// notifier: the notification is never lost.
#[test]
fn loom_async_notify_racing_wait() {
    loom::model(|| {
        let shared = Arc::new((AsyncRwLock::<bool>::new(false), AsyncRwCondvar::new()));
        let waiter = {
            let shared = shared.clone();
            thread::spawn(move || {
                let (lock, cv) = &*shared;
                loom::future::block_on(async {
                    let g = lock.write().await;
                    let g = cv.wait_while(g, |flag| !*flag).await;
                    assert!(*g);
                    assert!(lock.is_locked_exclusive());
                });
            })
        };
        let (lock, cv) = &*shared;
        *lock.write_blocking() = true;
        cv.notify_one();
        waiter.join().unwrap();
        assert!(!lock.is_locked());
    });
}

/// A dropped async wait racing `notify(1)`: whichever comes first, the
/// other waiter ends up notified, and the lock ends free.
#[test]
fn loom_async_dropped_wait_racing_notify() {
    exhaustive(|| {
        let shared = Arc::new((AsyncRwLock::<u8>::new(0), AsyncRwCondvar::new()));
        let (lock, cv) = &*shared;
        let mut w1 = cv.wait(lock.try_read().unwrap());
        assert!(poll_once(&mut w1).is_pending());
        let mut w2 = cv.wait(lock.try_read().unwrap());
        assert!(poll_once(&mut w2).is_pending());
        let notifier = {
            let shared = shared.clone();
            thread::spawn(move || assert_eq!(shared.1.notify(1), 1))
        };
        drop(w1);
        notifier.join().unwrap();
        match poll_once(&mut w2) {
            Poll::Ready(g) => drop(g),
            Poll::Pending => panic!("the notification was lost with the dropped wait"),
        }
        assert!(!lock.is_locked());
        assert!(!cv.notify_one());
    });
}

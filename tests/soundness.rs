//! Soundness regressions: each test is a way safe code could once break a
//! lock (release a lock it does not hold, strand a lock, leave a guard
//! without its lock, leave a stale condvar registration), checked against
//! the fixed behaviour.

mod common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use rwlocker::{
    AsyncRwCondvar, AsyncRwLock, RawAcquire, RawRwLock, ReentrantRwLock, RwCondvar, RwLock, RwLockWriteGuard,
};

// Exact-order tests: they run against the strict hand-off mode
// (`Strict<P>`, docs/SEMANTICS.md §2a), whose order is the policy table.
type PhaseFair = rwlocker::Strict<rwlocker::PhaseFair>;
type WriterPreferring = rwlocker::Strict<rwlocker::WriterPreferring>;

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
    let a = RwLock::<u32, PhaseFair>::new(0);
    let b = RwLock::<u32, PhaseFair>::new(0);
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
// Panicking wakers
// ---------------------------------------------------------------------------

/// A waker whose `wake` panics (safe code can write one).
struct PanicWaker;

impl std::task::Wake for PanicWaker {
    fn wake(self: Arc<Self>) {
        panic!("test waker panics on wake");
    }
}

fn panic_waker() -> Waker {
    Waker::from(Arc::new(PanicWaker))
}

/// Polls `fut` once with `waker`.
fn poll_with<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(waker))
}

/// Waits (bounded) until `lock` has `n` queued readers.
fn until_queued_readers<P: rwlocker::Policy>(lock: &RawRwLock<P>, n: usize) {
    let start = Instant::now();
    while lock.state_snapshot().queued_readers < n {
        assert!(start.elapsed() < Duration::from_secs(20), "readers never queued");
        thread::sleep(Duration::from_millis(1));
    }
}

/// A release that grants a task (whose waker panics) and a thread together
/// still wakes the thread; the panic reaches the releaser afterwards. The
/// rest of the wake list was once dropped: the thread slept forever while
/// holding a read grant.
#[test]
fn panicking_waker_does_not_strand_the_other_waiters() {
    let lock = Arc::new(AsyncRwLock::<u32, PhaseFair>::new(0));
    let w = lock.try_write().unwrap();
    let mut task = lock.read();
    assert!(poll_with(&mut task, &panic_waker()).is_pending());
    let thread_reader = {
        let lock = lock.clone();
        thread::spawn(move || *lock.read_blocking())
    };
    until_queued_readers(lock.raw(), 2);
    // Long enough for the thread to stop spinning and park.
    thread::sleep(Duration::from_millis(100));
    let released = catch_unwind(AssertUnwindSafe(|| drop(w)));
    assert!(released.is_err(), "the waker's panic reaches the releaser");
    common::within("thread reader", Duration::from_secs(20), move || thread_reader.join().unwrap());
    let g = match poll_with(&mut task, Waker::noop()) {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("the task reader was not granted"),
    };
    drop(g);
    drop(task);
    assert!(!lock.is_locked());
    assert!(lock.try_write().is_some());
}

/// A large grant is woken by several threads (a granted thread wakes part
/// of the batch once it runs). A task's waker is never handed to such a
/// thread: its panic would unwind out of that thread's `read` while it
/// holds the lock.
#[test]
fn granted_thread_never_runs_a_panicking_waker() {
    const THREADS: usize = 9;
    let lock = Arc::new(AsyncRwLock::<u32, PhaseFair>::new(0));
    let w = lock.try_write().unwrap();
    let readers: Vec<_> = (0..THREADS)
        .map(|_| {
            let lock = lock.clone();
            thread::spawn(move || *lock.read_blocking())
        })
        .collect();
    until_queued_readers(lock.raw(), THREADS);
    // Long enough for the threads to stop spinning and park.
    thread::sleep(Duration::from_millis(100));
    let mut task = lock.read();
    assert!(poll_with(&mut task, &panic_waker()).is_pending());
    let released = catch_unwind(AssertUnwindSafe(|| drop(w)));
    assert!(released.is_err(), "the releaser wakes the task itself");
    common::within("thread readers", Duration::from_secs(20), move || {
        for r in readers {
            assert_eq!(r.join().expect("a granted reader panicked"), 0);
        }
    });
    match poll_with(&mut task, Waker::noop()) {
        Poll::Ready(g) => drop(g),
        Poll::Pending => panic!("the task reader was not granted"),
    }
    drop(task);
    assert!(!lock.is_locked());
}

/// An owned guard whose release panics (a waker it runs) still drops its
/// `Arc` (it was once leaked).
#[test]
fn owned_guard_drops_its_arc_when_the_release_panics() {
    let lock = Arc::new(AsyncRwLock::<u32, PhaseFair>::new(0));
    let mut write = lock.clone().write_owned();
    let w = match poll_with(&mut write, Waker::noop()) {
        Poll::Ready(w) => w,
        Poll::Pending => panic!("the lock is free"),
    };
    drop(write);
    let mut reader = lock.read();
    assert!(poll_with(&mut reader, &panic_waker()).is_pending());
    assert!(catch_unwind(AssertUnwindSafe(|| drop(w))).is_err());
    match poll_with(&mut reader, Waker::noop()) {
        Poll::Ready(g) => drop(g),
        Poll::Pending => panic!("the reader was not granted"),
    }
    drop(reader);
    assert!(!lock.is_locked());
    assert_eq!(Arc::strong_count(&lock), 1, "the guard's Arc was leaked");
}

/// A downgrade whose wake-up panics leaves the read lock with a guard that
/// releases it (it was once left held with no guard at all).
#[test]
fn panicking_waker_in_downgrade_does_not_strand_the_read_lock() {
    let lock = RwLock::<u32, PhaseFair>::new(0);
    let w = lock.write();
    let mut acq = RawAcquire::read(lock.raw());
    assert!(acq.poll(&mut Context::from_waker(&panic_waker())).is_pending());
    let downgraded = catch_unwind(AssertUnwindSafe(|| drop(RwLockWriteGuard::downgrade(w))));
    assert!(downgraded.is_err());
    assert!(acq.poll(&mut noop_cx()).is_ready(), "the queued reader was granted");
    // SAFETY: `acq` completed: its read lock is ours to release.
    unsafe { lock.raw().unlock_shared() };
    assert!(!lock.is_locked(), "the downgraded read lock was stranded");
}

/// The body of the two tests below.
macro_rules! condvar_wait_unwinds_with_the_lock {
    ($lock:expr, $check:expr) => {
        common::within("condvar wait with a panicking waker", Duration::from_secs(30), move || {
            let pair = Arc::new(($lock, RwCondvar::new()));
            let (held_tx, held_rx) = mpsc::channel();
            let (go_tx, go_rx) = mpsc::channel();
            let waiter = {
                let pair = pair.clone();
                thread::spawn(move || {
                    let (lock, cv) = &*pair;
                    let mut guard = lock.write();
                    held_tx.send(()).unwrap();
                    go_rx.recv().unwrap();
                    let waited = catch_unwind(AssertUnwindSafe(|| cv.wait_for(&mut guard, Duration::from_secs(60))));
                    assert!(waited.is_err(), "the waker's panic reaches the waiter");
                    assert!(lock.raw().is_locked_exclusive(), "the guard lost its lock");
                    assert_eq!(lock.raw().state_snapshot().readers, 0);
                    #[allow(clippy::redundant_closure_call)]
                    ($check)(lock);
                    assert_eq!(cv.notify_all(), 0, "a registration was left behind");
                    drop(guard);
                })
            };
            held_rx.recv().unwrap();
            let (lock, _) = &*pair;
            let mut acq = RawAcquire::read(lock.raw());
            assert!(acq.poll(&mut Context::from_waker(&panic_waker())).is_pending());
            go_tx.send(()).unwrap();
            // The wait's release grants `acq` (and runs its waker); the
            // waiter re-takes the write lock once `acq` lets go. (Polling
            // before the grant would replace the panicking waker.)
            let start = Instant::now();
            while lock.raw().state_snapshot().readers == 0 {
                assert!(start.elapsed() < Duration::from_secs(20), "the reader was never granted");
                thread::sleep(Duration::from_millis(1));
            }
            assert!(acq.poll(&mut noop_cx()).is_ready());
            // SAFETY: `acq` completed: its read lock is ours to release.
            unsafe { lock.raw().unlock_shared() };
            waiter.join().unwrap();
            assert!(!lock.is_locked());
        })
    };
}

/// `RwCondvar::wait` whose release panics (a waker it runs) returns by
/// unwinding only once the guard holds its lock again, with no
/// registration left. It once unwound without the lock (a reader got in
/// beside the write guard) and left its registration behind.
#[test]
fn rwcondvar_wait_unwinds_holding_the_lock() {
    condvar_wait_unwinds_with_the_lock!(RwLock::<u32, PhaseFair>::new(0), |_: &RwLock<u32, PhaseFair>| {});
}

/// The reentrant write guard also keeps its owner and depth.
#[test]
fn rwcondvar_wait_unwinds_keeping_the_reentrant_owner() {
    condvar_wait_unwinds_with_the_lock!(ReentrantRwLock::<u32, PhaseFair>::new(0), |l: &ReentrantRwLock<
        u32,
        PhaseFair,
    >| {
        assert!(l.is_owned_by_current_thread(), "the owner was not restored");
        drop(l.write()); // nests, and the depth comes back to 1
        assert!(l.is_owned_by_current_thread());
    });
}

/// An async condvar wait whose release panics deregisters; its stale entry
/// once swallowed the next `notify(1)`.
#[test]
fn async_condvar_wait_deregisters_when_the_release_panics() {
    let lock = AsyncRwLock::<u32, PhaseFair>::new(0);
    let cv = AsyncRwCondvar::new();
    let w = lock.try_write().unwrap();
    let mut reader = lock.read();
    assert!(poll_with(&mut reader, &panic_waker()).is_pending());
    let mut wait = cv.wait(w);
    let polled = catch_unwind(AssertUnwindSafe(|| poll_with(&mut wait, Waker::noop()).is_pending()));
    assert!(polled.is_err(), "the waker's panic reaches the poll");
    drop(wait);
    assert_eq!(cv.notify(1), 0, "a registration was left behind");
    match poll_with(&mut reader, Waker::noop()) {
        Poll::Ready(g) => drop(g),
        Poll::Pending => panic!("the reader was not granted"),
    }
    drop(reader);
    assert!(!lock.is_locked());
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

// ---------------------------------------------------------------------------
// Send and Sync of guards (the negative cases are `compile_fail` doc tests
// on `RwLockReadGuard`)
// ---------------------------------------------------------------------------

/// A guard is `Send` where its lock is `Sync`, and `Sync` where in addition
/// `T: Sync`; these are the positive cases, checked at compile time.
#[test]
fn guards_are_send_where_the_lock_is_sync() {
    use std::cell::Cell;

    use rwlocker::{
        AsyncMutex, AsyncRwLockReadGuard, AsyncRwLockWriteGuard, Exclusive, MappedRwLockReadGuard,
        MappedRwLockWriteGuard, Mutex, OwnedAsyncRwLockReadGuard, OwnedAsyncRwLockWriteGuard, ReentrantRwLockReadGuard,
        ReentrantRwLockWriteGuard, RwLockReadGuard,
    };

    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    fn lock_sync<T: Sync>() {}

    // Sharing policies with `T: Send + Sync`: everything.
    send::<RwLockReadGuard<'static, u32>>();
    sync::<RwLockReadGuard<'static, u32>>();
    send::<RwLockWriteGuard<'static, u32, WriterPreferring>>();
    sync::<RwLockWriteGuard<'static, u32, WriterPreferring>>();
    send::<MappedRwLockReadGuard<'static, u32>>();
    send::<MappedRwLockWriteGuard<'static, u32>>();
    sync::<ReentrantRwLockReadGuard<'static, u32>>();
    sync::<ReentrantRwLockWriteGuard<'static, u32>>();
    send::<AsyncRwLockReadGuard<'static, u32>>();
    sync::<AsyncRwLockWriteGuard<'static, u32>>();
    send::<OwnedAsyncRwLockReadGuard<u32>>();
    sync::<OwnedAsyncRwLockWriteGuard<u32>>();

    // `Exclusive` with `T: Send + !Sync`: the lock is `Sync`, so its guards
    // may move, but not be shared.
    lock_sync::<Mutex<Cell<u32>>>();
    send::<RwLockReadGuard<'static, Cell<u32>, Exclusive>>();
    send::<RwLockWriteGuard<'static, Cell<u32>, Exclusive>>();
    lock_sync::<AsyncMutex<Cell<u32>>>();
    send::<AsyncRwLockWriteGuard<'static, Cell<u32>, Exclusive>>();
    send::<OwnedAsyncRwLockReadGuard<Cell<u32>, Exclusive>>();
}

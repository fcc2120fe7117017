//! `AsyncRwCondvar`: deterministic poll tests (counting wakers, pending and
//! ready at each step) with read and write guards, borrowed and owned,
//! under every policy; registration at the first poll; the cancellation
//! rules of docs/SEMANTICS.md §4; the one-lock rule; and many tasks woken by one
//! `notify_all` on tokio's multi-thread runtime.

use std::future::Future;
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use rwlocker::{
    AsyncCondvarGuard, AsyncRwCondvar, AsyncRwLock, AsyncRwLockReadGuard, AsyncRwLockWriteGuard,
    OwnedAsyncRwLockReadGuard, OwnedAsyncRwLockWriteGuard, Policy, PolicyKind,
};

// Exact-order tests: they run against the strict hand-off mode
// (`Strict<P>`, docs/SEMANTICS.md §2a), whose order is the policy table.
type PhaseFair = rwlocker::Strict<rwlocker::PhaseFair>;
type ReaderPreferring = rwlocker::Strict<rwlocker::ReaderPreferring>;
type WriterPreferring = rwlocker::Strict<rwlocker::WriterPreferring>;
type Exclusive = rwlocker::Strict<rwlocker::Exclusive>;
type AsyncMutex<T> = rwlocker::AsyncRwLock<T, Exclusive>;

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

type Hook = Option<Box<dyn Fn() + Send + Sync>>;

/// A waker that counts its wakes and may run hooks on wake and on drop.
struct Counter {
    wakes: AtomicUsize,
    on_wake: Hook,
    on_drop: Hook,
}

impl Drop for Counter {
    fn drop(&mut self) {
        if let Some(hook) = &self.on_drop {
            hook();
        }
    }
}

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
        if let Some(hook) = &self.on_wake {
            hook();
        }
    }
}

/// One party's waker and what happened to it.
struct Probe {
    counter: Arc<Counter>,
    waker: Waker,
}

impl Probe {
    fn new() -> Probe {
        Probe::with_hooks(None, None)
    }

    fn with_hooks(on_wake: Hook, on_drop: Hook) -> Probe {
        let counter = Arc::new(Counter { wakes: AtomicUsize::new(0), on_wake, on_drop });
        Probe { waker: Waker::from(counter.clone()), counter }
    }

    fn wakes(&self) -> usize {
        self.counter.wakes.load(SeqCst)
    }

    fn poll<F: Future + Unpin + ?Sized>(&self, f: &mut F) -> Poll<F::Output> {
        std::pin::Pin::new(f).poll(&mut Context::from_waker(&self.waker))
    }
}

/// The value of a future that must be ready at its first poll.
fn now<F: Future>(f: F) -> F::Output {
    let f = pin!(f);
    match f.poll(&mut Context::from_waker(&futures::task::noop_waker())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("expected the future to be ready at once"),
    }
}

#[track_caller]
fn ready<T>(p: Poll<T>) -> T {
    match p {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("expected Ready, got Pending"),
    }
}

#[track_caller]
fn pending<T>(p: Poll<T>) {
    assert!(p.is_pending(), "expected Pending, got Ready");
}

/// The number of registered waiters, from the condvar's `Debug` output
/// (`AsyncRwCondvar { waiters: N }`).
fn waiters(cv: &AsyncRwCondvar) -> usize {
    let text = format!("{cv:?}");
    let n = text.split("waiters:").nth(1).unwrap_or_else(|| panic!("no waiter count in {text:?}"));
    n.trim().trim_end_matches('}').trim().parse().unwrap_or_else(|_| panic!("bad waiter count in {text:?}"))
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("<non-string panic>")
    }
}

/// Runs `body` on its own thread; fails if it does not finish in time (a
/// deadlock, e.g. a waker called with an internal lock held).
fn with_watchdog(body: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let h = thread::spawn(move || {
        body();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(()) => h.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(e) = h.join() {
                std::panic::resume_unwind(e)
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("deadlock: the test body did not finish"),
    }
}

/// Fails (instead of hanging) if `f` does not finish within a minute.
async fn stall_guard<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f).await.expect("stalled: not finished within a minute")
}

type Lock<P> = Arc<AsyncRwLock<u64, P>>;

/// How a scenario gets its guards: read or write, borrowed or owned. Every
/// `make` must succeed at once (the tests only make guards of free locks).
trait Maker: 'static {
    const WRITE: bool;
    type G<'a, P: Policy>: AsyncCondvarGuard + Deref<Target = u64> + 'a;
    fn make<P: Policy>(lock: &Lock<P>) -> Self::G<'_, P>;
}

struct BorrowedRead;
struct BorrowedWrite;
struct OwnedRead;
struct OwnedWrite;

impl Maker for BorrowedRead {
    const WRITE: bool = false;
    type G<'a, P: Policy> = AsyncRwLockReadGuard<'a, u64, P>;
    fn make<P: Policy>(lock: &Lock<P>) -> Self::G<'_, P> {
        lock.try_read().expect("the lock should be readable")
    }
}

impl Maker for BorrowedWrite {
    const WRITE: bool = true;
    type G<'a, P: Policy> = AsyncRwLockWriteGuard<'a, u64, P>;
    fn make<P: Policy>(lock: &Lock<P>) -> Self::G<'_, P> {
        lock.try_write().expect("the lock should be free")
    }
}

impl Maker for OwnedRead {
    const WRITE: bool = false;
    type G<'a, P: Policy> = OwnedAsyncRwLockReadGuard<u64, P>;
    fn make<P: Policy>(lock: &Lock<P>) -> Self::G<'_, P> {
        now(lock.clone().read_owned())
    }
}

impl Maker for OwnedWrite {
    const WRITE: bool = true;
    type G<'a, P: Policy> = OwnedAsyncRwLockWriteGuard<u64, P>;
    fn make<P: Policy>(lock: &Lock<P>) -> Self::G<'_, P> {
        now(lock.clone().write_owned())
    }
}

/// Whether guards of `M` share the lock with other readers.
fn shares<M: Maker, P: Policy>() -> bool {
    !M::WRITE && P::KIND != PolicyKind::Exclusive
}

/// Asserts that the lock is held as a guard of `M` holds it (checked with
/// `try_*`, which take nothing they cannot release at once).
#[track_caller]
fn assert_held_as<M: Maker, P: Policy>(lock: &Lock<P>) {
    assert!(lock.is_locked());
    assert_eq!(lock.is_locked_exclusive(), !shares::<M, P>());
    assert!(lock.try_write().is_none());
    assert_eq!(lock.try_read().is_some(), shares::<M, P>());
}

/// Every scenario for the four guard kinds under the four policies.
macro_rules! matrix {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            matrix!(@makers $scenario;
                borrowed_read BorrowedRead, borrowed_write BorrowedWrite,
                owned_read OwnedRead, owned_write OwnedWrite);
        }
    )*};
    (@makers $scenario:ident; $($m:ident $M:ident),*) => {$(
        mod $m {
            use crate::*;
            #[test]
            fn reader_preferring() { crate::$scenario::<$M, ReaderPreferring>() }
            #[test]
            fn writer_preferring() { crate::$scenario::<$M, WriterPreferring>() }
            #[test]
            fn phase_fair() { crate::$scenario::<$M, PhaseFair>() }
            #[test]
            fn mutex() { crate::$scenario::<$M, Exclusive>() }
        }
    )*};
}

matrix!(
    pending_until_notified,
    notify_n_wakes_exactly_n,
    fifo_wake_order,
    registers_at_first_poll,
    registers_before_releasing,
    dropped_notified_wait_passes_it_on,
    dropped_reacquiring_wait_passes_it_on,
    dropped_granted_wait_releases_and_passes_it_on,
    dropped_unnotified_wait_leaves_no_trace,
    one_lock_at_a_time,
    wakers_run_with_no_internal_lock_held,
);

// ---------------------------------------------------------------------------
// Deterministic poll scenarios
// ---------------------------------------------------------------------------

/// A wait is pending until notified (lock traffic, repeated polls and
/// other condvars do not wake it), then ready, holding the same mode.
fn pending_until_notified<M: Maker, P: Policy>() {
    let lock: Lock<P> = Arc::new(AsyncRwLock::new(0));
    let cv = AsyncRwCondvar::new();
    let other = AsyncRwCondvar::new();
    let p = Probe::new();
    let mut w = cv.wait(M::make(&lock));
    pending(p.poll(&mut w));
    assert!(!lock.is_locked(), "the wait did not release the lock");
    assert_eq!(waiters(&cv), 1);
    for _ in 0..3 {
        drop(lock.try_write().unwrap());
        drop(lock.try_read().unwrap());
        assert_eq!(other.notify_all(), 0);
        pending(p.poll(&mut w));
    }
    assert_eq!(p.wakes(), 0, "woken without a notification");

    assert!(cv.notify_one());
    assert_eq!(p.wakes(), 1);
    assert_eq!(waiters(&cv), 0);
    let g = ready(p.poll(&mut w));
    assert_eq!(*g, 0);
    assert_held_as::<M, P>(&lock);
    drop(g);
    assert!(!lock.is_locked());
    assert!(!cv.notify_one());
}

/// `notify(n)` with fewer, exactly as many and more than the waiters wakes
/// exactly `min(n, waiting)`, the oldest, and returns that number.
fn notify_n_wakes_exactly_n<M: Maker, P: Policy>() {
    let lock: Lock<P> = Arc::new(AsyncRwLock::new(0));
    let cv = AsyncRwCondvar::new();
    let probes: Vec<Probe> = (0..5).map(|_| Probe::new()).collect();
    let mut ws = Vec::new();
    for p in &probes {
        let mut w = cv.wait(M::make(&lock));
        pending(p.poll(&mut w));
        ws.push(w);
    }
    assert_eq!(waiters(&cv), 5);
    let wakes = || probes.iter().map(Probe::wakes).collect::<Vec<_>>();

    // Fewer than waiting.
    assert_eq!(cv.notify(2), 2);
    assert_eq!(wakes(), [1, 1, 0, 0, 0]);
    let g0 = ready(probes[0].poll(&mut ws[0]));
    if shares::<M, P>() {
        // Notified readers re-enter beside each other.
        drop(ready(probes[1].poll(&mut ws[1])));
        drop(g0);
    } else {
        // Notified, re-acquiring behind the first.
        pending(probes[1].poll(&mut ws[1]));
        drop(g0);
        assert_eq!(probes[1].wakes(), 2, "not woken by the lock's release");
        drop(ready(probes[1].poll(&mut ws[1])));
    }
    for i in 2..5 {
        pending(probes[i].poll(&mut ws[i]));
    }
    assert_eq!(wakes(), [1, 2 - usize::from(shares::<M, P>()), 0, 0, 0]);

    // Three waiting: fewer, then more than waiting.
    assert_eq!(cv.notify(1), 1);
    assert_eq!(probes[2].wakes(), 1);
    assert_eq!(probes[3].wakes() + probes[4].wakes(), 0);
    drop(ready(probes[2].poll(&mut ws[2])));
    assert_eq!(cv.notify(10), 2);
    assert_eq!((probes[3].wakes(), probes[4].wakes()), (1, 1));
    drop(ready(probes[3].poll(&mut ws[3])));
    drop(ready(probes[4].poll(&mut ws[4])));
    assert!(!cv.notify_one());
    assert_eq!(cv.notify_all(), 0);
    assert!(!lock.is_locked());

    // Exactly as many as waiting.
    let mut ws = Vec::new();
    for p in &probes[..3] {
        let mut w = cv.wait(M::make(&lock));
        pending(p.poll(&mut w));
        ws.push(w);
    }
    assert_eq!(cv.notify(3), 3);
    for (p, w) in probes.iter().zip(&mut ws) {
        drop(ready(p.poll(w)));
    }
    assert_eq!(cv.notify(3), 0);
    assert!(!lock.is_locked());
}

/// Waiters are woken oldest first.
fn fifo_wake_order<M: Maker, P: Policy>() {
    const N: usize = 4;
    let lock: Lock<P> = Arc::new(AsyncRwLock::new(0));
    let cv = AsyncRwCondvar::new();
    let probes: Vec<Probe> = (0..N).map(|_| Probe::new()).collect();
    let mut ws = Vec::new();
    for p in &probes {
        let mut w = cv.wait(M::make(&lock));
        pending(p.poll(&mut w));
        ws.push(Some(w));
    }
    for k in 0..N {
        assert!(cv.notify_one());
        for (i, p) in probes.iter().enumerate() {
            assert_eq!(p.wakes(), usize::from(i <= k), "after {} notify_one: waiter {i}", k + 1);
        }
        for (i, w) in ws.iter_mut().enumerate().skip(k) {
            let w = w.as_mut().unwrap();
            if i == k {
                drop(ready(probes[i].poll(w)));
            } else {
                pending(probes[i].poll(w));
            }
        }
        ws[k] = None;
    }
    assert!(!cv.notify_one());
}

/// Nothing is registered before the first poll (and dropping an unpolled
/// wait releases its guard); from the first `Pending` on, a notification
/// is not lost.
fn registers_at_first_poll<M: Maker, P: Policy>() {
    let lock: Lock<P> = Arc::new(AsyncRwLock::new(0));
    let cv = AsyncRwCondvar::new();
    let p = Probe::new();

    let unpolled = cv.wait(M::make(&lock));
    assert_held_as::<M, P>(&lock);
    assert_eq!(waiters(&cv), 0);
    assert!(!cv.notify_one());
    drop(unpolled);
    assert!(!lock.is_locked(), "dropping an unpolled wait kept the lock");
    assert_eq!(waiters(&cv), 0);

    let mut w = cv.wait(M::make(&lock));
    assert!(!cv.notify_one(), "registered before being polled");
    pending(p.poll(&mut w));
    assert!(cv.notify_one(), "not registered by the first poll");
    assert_eq!(p.wakes(), 1);
    let g = ready(p.poll(&mut w));
    assert_held_as::<M, P>(&lock);
    drop(g);
}

/// The first poll registers the waiter *before* releasing the lock: a
/// party that the release lets in, and that notifies at once, finds the
/// waiter. Here that party is a writer queued on the lock, whose waker
/// (called by the release, inside the wait's first poll) notifies.
fn registers_before_releasing<M: Maker, P: Policy>() {
    let lock: Lock<P> = Arc::new(AsyncRwLock::new(0));
    let cv = Arc::new(AsyncRwCondvar::new());
    let notified = Arc::new(AtomicUsize::new(usize::MAX));
    let writer = {
        let (cv, notified) = (cv.clone(), notified.clone());
        Probe::with_hooks(
            Some(Box::new(move || {
                notified.store(usize::from(cv.notify_one()), SeqCst);
            })),
            None,
        )
    };
    let p = Probe::new();

    let guard = M::make(&lock);
    let mut write = lock.write();
    pending(writer.poll(&mut write));
    assert_eq!(lock.raw().state_snapshot().queued_writers, 1);

    let mut w = cv.wait(guard);
    // Releases the lock, which is handed to the queued writer, whose waker
    // notifies the condvar: the wait must already be registered.
    pending(p.poll(&mut w));
    assert_eq!(writer.wakes(), 1, "the release did not let the writer in");
    assert_eq!(notified.load(SeqCst), 1, "the notification sent right after the release was lost");
    assert_eq!(p.wakes(), 1);

    // Notified, re-acquiring behind the writer.
    pending(p.poll(&mut w));
    let wg = ready(writer.poll(&mut write));
    pending(p.poll(&mut w));
    drop(wg);
    let g = ready(p.poll(&mut w));
    assert_held_as::<M, P>(&lock);
    drop(g);
    assert!(!lock.is_locked());
    assert_eq!(waiters(&cv), 0);
}

/// Two waiters; the first is notified and dropped before it polls again:
/// the notification passes to the second.
fn dropped_notified_wait_passes_it_on<M: Maker, P: Policy>() {
    let lock: Lock<P> = Arc::new(AsyncRwLock::new(0));
    let cv = AsyncRwCondvar::new();
    let (p1, p2) = (Probe::new(), Probe::new());
    let mut w1 = cv.wait(M::make(&lock));
    pending(p1.poll(&mut w1));
    let mut w2 = cv.wait(M::make(&lock));
    pending(p2.poll(&mut w2));

    assert_eq!(cv.notify(1), 1);
    assert_eq!((p1.wakes(), p2.wakes()), (1, 0));
    drop(w1);
    assert_eq!(p2.wakes(), 1, "the dropped waiter's notification was lost");
    assert_eq!(waiters(&cv), 0);
    assert!(!lock.is_locked(), "the dropped waiter holds the lock");
    let g = ready(p2.poll(&mut w2));
    assert_held_as::<M, P>(&lock);
    drop(g);
    assert!(!lock.is_locked());
    assert!(!cv.notify_one());

    // notify(2) of three waiters, the first dropped: the other two are
    // still both notified.
    let probes: Vec<Probe> = (0..3).map(|_| Probe::new()).collect();
    let mut ws = Vec::new();
    for p in &probes {
        let mut w = cv.wait(M::make(&lock));
        pending(p.poll(&mut w));
        ws.push(w);
    }
    assert_eq!(cv.notify(2), 2);
    drop(ws.remove(0));
    assert_eq!((probes[1].wakes(), probes[2].wakes()), (1, 1));
    drop(ready(probes[1].poll(&mut ws[0])));
    drop(ready(probes[2].poll(&mut ws[1])));
    assert!(!cv.notify_one());
    assert!(!lock.is_locked());
}

/// A notified wait that is queued on the lock again (re-acquiring) and then
/// dropped leaves the lock's queue and passes the notification on.
fn dropped_reacquiring_wait_passes_it_on<M: Maker, P: Policy>() {
    let lock: Lock<P> = Arc::new(AsyncRwLock::new(0));
    let cv = AsyncRwCondvar::new();
    let (p1, p2) = (Probe::new(), Probe::new());
    let mut w1 = cv.wait(M::make(&lock));
    pending(p1.poll(&mut w1));
    let mut w2 = cv.wait(M::make(&lock));
    pending(p2.poll(&mut w2));

    let held = lock.try_write().unwrap();
    assert_eq!(cv.notify(1), 1);
    pending(p1.poll(&mut w1));
    let snap = lock.raw().state_snapshot();
    assert_eq!(snap.queued_readers + snap.queued_writers, 1, "{snap:?}");
    drop(w1);
    let snap = lock.raw().state_snapshot();
    assert_eq!(snap.queued_readers + snap.queued_writers, 0, "the dropped wait stayed queued: {snap:?}");
    assert_eq!(p2.wakes(), 1, "the dropped waiter's notification was lost");
    pending(p2.poll(&mut w2));
    drop(held);
    let g = ready(p2.poll(&mut w2));
    assert_held_as::<M, P>(&lock);
    drop(g);
    assert!(!lock.is_locked());
    assert_eq!(waiters(&cv), 0);
}

/// A notified wait that had been granted the lock again, dropped before it
/// returned: it releases the lock (which ends free) and passes the
/// notification on.
fn dropped_granted_wait_releases_and_passes_it_on<M: Maker, P: Policy>() {
    let lock: Lock<P> = Arc::new(AsyncRwLock::new(0));
    let cv = AsyncRwCondvar::new();
    let (p1, p2) = (Probe::new(), Probe::new());
    let mut w1 = cv.wait(M::make(&lock));
    pending(p1.poll(&mut w1));
    let mut w2 = cv.wait(M::make(&lock));
    pending(p2.poll(&mut w2));

    let held = lock.try_write().unwrap();
    assert_eq!(cv.notify(1), 1);
    pending(p1.poll(&mut w1));
    drop(held); // hands the lock to w1
    assert_eq!(p1.wakes(), 2);
    assert_held_as::<M, P>(&lock);
    drop(w1);
    assert!(!lock.is_locked(), "the dropped wait kept its grant");
    assert_eq!(p2.wakes(), 1, "the dropped waiter's notification was lost");
    let g = ready(p2.poll(&mut w2));
    assert_held_as::<M, P>(&lock);
    drop(g);
    assert!(!lock.is_locked());

    // The only waiter: the lock ends free and nothing is left registered.
    let mut w = cv.wait(M::make(&lock));
    pending(p1.poll(&mut w));
    let held = lock.try_write().unwrap();
    assert!(cv.notify_one());
    pending(p1.poll(&mut w));
    drop(held);
    drop(w);
    assert!(!lock.is_locked());
    assert_eq!(waiters(&cv), 0);
    assert!(lock.try_write().is_some());
}

/// A wait dropped before any notification leaves nothing behind: no
/// waiter, no stored notification, the lock free.
fn dropped_unnotified_wait_leaves_no_trace<M: Maker, P: Policy>() {
    let lock: Lock<P> = Arc::new(AsyncRwLock::new(0));
    let cv = AsyncRwCondvar::new();
    let (p1, p2, p3) = (Probe::new(), Probe::new(), Probe::new());

    let mut w1 = cv.wait(M::make(&lock));
    pending(p1.poll(&mut w1));
    drop(w1);
    assert_eq!(waiters(&cv), 0);
    assert!(!lock.is_locked());
    assert_eq!(cv.notify(1), 0);
    assert!(!cv.notify_one());

    // Among two, the second is the one reached.
    let mut w1 = cv.wait(M::make(&lock));
    pending(p1.poll(&mut w1));
    let mut w2 = cv.wait(M::make(&lock));
    pending(p2.poll(&mut w2));
    drop(w1);
    assert_eq!(cv.notify(1), 1);
    assert_eq!(p2.wakes(), 1);
    drop(ready(p2.poll(&mut w2)));

    // A notification nobody received is not stored for a later waiter.
    let mut w3 = cv.wait(M::make(&lock));
    pending(p3.poll(&mut w3));
    pending(p3.poll(&mut w3));
    assert_eq!(p3.wakes(), 0);
    assert!(cv.notify_one());
    drop(ready(p3.poll(&mut w3)));
    assert!(!lock.is_locked());
}

/// Waiting with a second lock while waiters of the first are registered
/// panics at the poll (the second lock is released); once none is
/// registered the condvar works with the other lock.
fn one_lock_at_a_time<M: Maker, P: Policy>() {
    let a: Lock<P> = Arc::new(AsyncRwLock::new(0));
    let b: Lock<P> = Arc::new(AsyncRwLock::new(0));
    let cv = AsyncRwCondvar::new();
    let p = Probe::new();
    let mut wa = cv.wait(M::make(&a));
    pending(p.poll(&mut wa));

    let mut wb = cv.wait(M::make(&b));
    let err = catch_unwind(AssertUnwindSafe(|| p.poll(&mut wb).is_ready()))
        .expect_err("waiting with a second lock did not panic");
    let msg = panic_message(err);
    assert!(msg.contains("two different locks"), "unclear panic message: {msg}");
    drop(wb);
    assert!(!b.is_locked(), "the panicking wait kept the second lock");
    assert_eq!(waiters(&cv), 1);

    assert!(cv.notify_one());
    drop(ready(p.poll(&mut wa)));
    for lock in [&b, &a] {
        let mut w = cv.wait(M::make(lock));
        pending(p.poll(&mut w));
        assert!(cv.notify_one());
        drop(ready(p.poll(&mut w)));
        assert!(!lock.is_locked());
    }
}

/// Wakers are called and dropped with no internal lock held: a waker whose
/// wake and drop use the condvar and the lock (which take their internal
/// locks) does not deadlock, on the notify, grant and pass-on paths.
fn wakers_run_with_no_internal_lock_held<M: Maker, P: Policy>()
where
    P::Shared<u64>: Sync,
{
    with_watchdog(|| {
        let lock: Lock<P> = Arc::new(AsyncRwLock::new(0));
        let cv = Arc::new(AsyncRwCondvar::new());
        let touches = Arc::new(AtomicUsize::new(0));
        // A fresh waker per poll, so that the stored one is replaced (and
        // dropped) each time.
        let hook = || -> Hook {
            let (lock, cv, touches) = (lock.clone(), cv.clone(), touches.clone());
            Some(Box::new(move || {
                let _ = waiters(&cv);
                let _ = lock.raw().state_snapshot();
                touches.fetch_add(1, SeqCst);
            }))
        };
        let probe = || Probe::with_hooks(hook(), hook());
        let mut w1 = cv.wait(M::make(&lock));
        pending(probe().poll(&mut w1));
        let mut w2 = cv.wait(M::make(&lock));
        pending(probe().poll(&mut w2));
        pending(probe().poll(&mut w2));

        let held = lock.try_write().unwrap();
        assert_eq!(cv.notify(1), 1); // wakes w1's waker
        pending(probe().poll(&mut w1));
        drop(held); // grants w1, waking its new waker
        drop(w1); // releases the grant, passes the notification to w2
        let g = ready(probe().poll(&mut w2));
        drop(g);
        // Three wakes (notify, grant, pass-on) and the replaced wakers.
        assert!(touches.load(SeqCst) >= 6, "{} hook runs", touches.load(SeqCst));
        assert!(!lock.is_locked());
    });
}

// ---------------------------------------------------------------------------
// Executors
// ---------------------------------------------------------------------------

/// Many tasks on tokio's multi-thread runtime, woken by one `notify_all`:
/// it returns exactly their number, every task finishes, exclusive holders
/// enter one at a time.
async fn many_tasks<P: Policy>(n: usize, write: bool, owned: bool)
where
    P::Shared<u64>: Sync,
{
    let lock: Lock<P> = Arc::new(AsyncRwLock::new(0));
    let cv = Arc::new(AsyncRwCondvar::new());
    let inside = Arc::new(AtomicUsize::new(0));
    let max_inside = Arc::new(AtomicUsize::new(0));
    let returned = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (lock, cv, inside, max_inside) = (lock.clone(), cv.clone(), inside.clone(), max_inside.clone());
        let returned = returned.clone();
        tasks.push(tokio::spawn(async move {
            let section = || async {
                returned.fetch_add(1, SeqCst);
                let now = inside.fetch_add(1, SeqCst) + 1;
                max_inside.fetch_max(now, SeqCst);
                tokio::task::yield_now().await;
                inside.fetch_sub(1, SeqCst);
            };
            match (write, owned) {
                (false, false) => {
                    let g = cv.wait(lock.read().await).await;
                    section().await;
                    drop(g);
                }
                (true, false) => {
                    let mut g = cv.wait(lock.write().await).await;
                    section().await;
                    *g += 1;
                }
                (false, true) => {
                    let g = cv.wait(lock.clone().read_owned().await).await;
                    section().await;
                    drop(g);
                }
                (true, true) => {
                    let mut g = cv.wait(lock.clone().write_owned().await).await;
                    section().await;
                    *g += 1;
                }
            }
        }));
    }
    let mut spins = 0;
    while waiters(&cv) < n {
        spins += 1;
        assert!(spins < 10_000, "only {} of {n} tasks registered", waiters(&cv));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Registered and not notified: nobody has returned, even after a while.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(returned.load(SeqCst), 0, "a wait returned without a notification");
    assert_eq!(waiters(&cv), n);
    assert_eq!(cv.notify_all(), n);
    assert!(!cv.notify_one());
    stall_guard(async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
    assert_eq!(returned.load(SeqCst), n);
    assert_eq!(waiters(&cv), 0);
    assert!(!cv.notify_one());
    assert!(!lock.is_locked());
    let exclusive = write || P::KIND == PolicyKind::Exclusive;
    if exclusive {
        assert_eq!(max_inside.load(SeqCst), 1, "two exclusive holders at once");
    }
    assert_eq!(*lock.read().await, if write { n as u64 } else { 0 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_tasks_read_phase_fair() {
    many_tasks::<PhaseFair>(1000, false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_tasks_read_reader_preferring() {
    many_tasks::<ReaderPreferring>(1000, false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_tasks_write_phase_fair() {
    many_tasks::<PhaseFair>(1000, true, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_tasks_owned_read_writer_preferring() {
    many_tasks::<WriterPreferring>(1000, false, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_tasks_owned_write_mutex() {
    many_tasks::<Exclusive>(1000, true, true).await;
}

/// `wait_while` on tokio's current-thread runtime: a consumer waits for a
/// value a producer sets, re-checking after each notification.
#[tokio::test(flavor = "current_thread")]
async fn wait_while_current_thread() {
    let lock = Arc::new(AsyncMutex::new(0u32));
    let cv = Arc::new(AsyncRwCondvar::new());
    let consumer = {
        let (lock, cv) = (lock.clone(), cv.clone());
        tokio::spawn(async move {
            let g = lock.lock().await;
            let mut g = cv.wait_while(g, |v| *v < 3).await;
            *g += 10;
            *g
        })
    };
    for i in 1..=3 {
        while waiters(&cv) == 0 {
            tokio::task::yield_now().await;
        }
        *lock.lock().await = i;
        assert!(cv.notify_one());
    }
    assert_eq!(stall_guard(consumer).await.unwrap(), 13);
    assert_eq!(*lock.lock().await, 13);
}

/// Returns `Pending` once, waking itself.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// On `futures::executor`: a read-guard waiter and a writer that sets the
/// flag, joined in one task.
#[test]
fn wait_while_futures_executor() {
    with_watchdog(|| {
        futures::executor::block_on(async {
            let lock = AsyncRwLock::<bool, WriterPreferring>::new(false);
            let cv = AsyncRwCondvar::new();
            let waiter = async {
                let g = lock.read().await;
                let g = cv.wait_while(g, |ready| !*ready).await;
                assert!(*g);
            };
            let setter = async {
                // Let the waiter register first.
                while waiters(&cv) == 0 {
                    YieldNow(false).await;
                }
                *lock.write().await = true;
                assert_eq!(cv.notify_all(), 1);
            };
            futures::join!(waiter, setter);
            assert!(!lock.is_locked());
        });
    });
}

/// `tokio::time::timeout` around a wait: the timed-out wait leaves no
/// trace, and a later notification reaches the next waiter.
#[tokio::test(flavor = "current_thread")]
async fn timeout_leaves_no_trace() {
    let lock = Arc::new(AsyncRwLock::<u64>::new(0));
    let cv = Arc::new(AsyncRwCondvar::new());
    let g = lock.write().await;
    let r = tokio::time::timeout(Duration::from_millis(10), cv.wait(g)).await;
    assert!(r.is_err());
    assert_eq!(waiters(&cv), 0);
    assert!(!lock.is_locked());
    assert!(!cv.notify_one());

    let waiter = {
        let (lock, cv) = (lock.clone(), cv.clone());
        tokio::spawn(async move {
            let g = lock.clone().read_owned().await;
            drop(cv.wait(g).await);
        })
    };
    while waiters(&cv) == 0 {
        tokio::task::yield_now().await;
    }
    assert!(cv.notify_one());
    stall_guard(waiter).await.unwrap();
    assert!(!lock.is_locked());
}

/// The futures are `Send`, so they run under `tokio::spawn`.
#[test]
fn futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let lock = Arc::new(AsyncRwLock::<u64>::new(0));
    let cv = AsyncRwCondvar::new();
    let w = cv.wait(lock.try_write().unwrap());
    is_send(&w);
    drop(w);
    let w = cv.wait(now(lock.clone().read_owned()));
    is_send(&w);
    drop(w);
    let ww = cv.wait_while(lock.try_read().unwrap(), |v| *v == 0);
    is_send(&ww);
}

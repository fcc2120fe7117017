//! `RwCondvar` with read guards and write guards of `RwLock` under every
//! policy (and of `Mutex`): exact `notify(n)`, FIFO wake order, no spurious
//! wakeups, re-acquisition in the same mode, timeouts, readers woken
//! together, writers requeued one at a time, the one-lock rule, and many
//! waiters woken by one `notify_all`.
//!
//! Waiters are known to be registered by the condvar's `Debug` output (its
//! waiter count) or by the lock's state; sleeps appear only where a test
//! asserts that something does *not* happen.

use std::ops::{Deref, DerefMut};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Mutex as StdMutex};
use std::thread;
use std::time::{Duration, Instant};

use rwlocker::{
    CondvarGuard, Policy, PolicyKind, RwCondvar, RwLock, RwLockReadGuard, RwLockWriteGuard, WaitTimeoutResult,
};

// Exact-order tests: they run against the strict hand-off mode
// (`Strict<P>`, docs/SEMANTICS.md §2a), whose order is the policy table.
type PhaseFair = rwlocker::Strict<rwlocker::PhaseFair>;
type ReaderPreferring = rwlocker::Strict<rwlocker::ReaderPreferring>;
type WriterPreferring = rwlocker::Strict<rwlocker::WriterPreferring>;
type Exclusive = rwlocker::Strict<rwlocker::Exclusive>;
type Mutex<T> = rwlocker::RwLock<T, Exclusive>;

/// How long a state check may take before the test fails (a stall).
const PATIENCE: Duration = Duration::from_secs(10);
/// How long a test watches for something that must not happen.
const QUIET: Duration = Duration::from_millis(50);

/// Polls `cond` until it holds; panics (naming `what`) after [`PATIENCE`].
fn spin_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    let mut spins = 0u32;
    while !cond() {
        if start.elapsed() > PATIENCE {
            panic!("stalled waiting for {what}");
        }
        spins += 1;
        if spins < 200 {
            thread::yield_now();
        } else {
            // Many threads on few cores: let the others run.
            thread::sleep(Duration::from_micros(200));
        }
    }
}

/// Runs a test body on its own thread and fails if it does not finish
/// within a minute (a deadlock or a lost wakeup), instead of hanging.
fn watchdog(body: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let h = thread::spawn(move || {
        body();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => h.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(e) = h.join() {
                std::panic::resume_unwind(e)
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("stalled: the test did not finish within a minute"),
    }
}

/// Declared first in a `thread::scope`, so dropped last: if the main
/// thread panics (a failed assertion), keeps notifying for a while so that
/// the scope's waiting threads return and the failure is reported instead
/// of the scope waiting for them forever.
struct Rescue<'a>(&'a RwCondvar);

impl Drop for Rescue<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            for _ in 0..100 {
                self.0.notify_all();
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// The number of registered waiters, from the condvar's `Debug` output
/// (`RwCondvar { waiters: N }`).
fn waiters(cv: &RwCondvar) -> usize {
    let text = format!("{cv:?}");
    let n = text.split("waiters:").nth(1).unwrap_or_else(|| panic!("no waiter count in {text:?}"));
    n.trim().trim_end_matches('}').trim().parse().unwrap_or_else(|_| panic!("bad waiter count in {text:?}"))
}

/// Waits until exactly `n` waiters are registered.
fn await_waiters(cv: &RwCondvar, n: usize) {
    spin_until(&format!("{n} registered waiters"), || waiters(cv) == n);
}

/// The panic message of a caught panic.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("<non-string panic>")
    }
}

/// The mode a guard holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Read,
    Write,
}

/// A held guard of either mode, so that one scenario serves both.
trait Held<T> {
    fn wait(&mut self, cv: &RwCondvar);
    fn wait_for(&mut self, cv: &RwCondvar, timeout: Duration) -> WaitTimeoutResult;
    fn wait_until(&mut self, cv: &RwCondvar, deadline: Instant) -> WaitTimeoutResult;
    fn wait_while(&mut self, cv: &RwCondvar, condition: &mut dyn FnMut(&T) -> bool);
    fn wait_while_for(
        &mut self,
        cv: &RwCondvar,
        condition: &mut dyn FnMut(&T) -> bool,
        timeout: Duration,
    ) -> WaitTimeoutResult;
    fn get(&self) -> &T;
    /// `Some` for a write guard.
    fn get_mut(&mut self) -> Option<&mut T>;
}

macro_rules! held {
    ($guard:ident, |$g:ident| $get_mut:expr) => {
        impl<T, P: Policy> Held<T> for $guard<'_, T, P> {
            fn wait(&mut self, cv: &RwCondvar) {
                cv.wait(self)
            }
            fn wait_for(&mut self, cv: &RwCondvar, timeout: Duration) -> WaitTimeoutResult {
                cv.wait_for(self, timeout)
            }
            fn wait_until(&mut self, cv: &RwCondvar, deadline: Instant) -> WaitTimeoutResult {
                cv.wait_until(self, deadline)
            }
            fn wait_while(&mut self, cv: &RwCondvar, condition: &mut dyn FnMut(&T) -> bool) {
                cv.wait_while(self, condition)
            }
            fn wait_while_for(
                &mut self,
                cv: &RwCondvar,
                condition: &mut dyn FnMut(&T) -> bool,
                timeout: Duration,
            ) -> WaitTimeoutResult {
                cv.wait_while_for(self, condition, timeout)
            }
            fn get(&self) -> &T {
                self
            }
            fn get_mut(&mut self) -> Option<&mut T> {
                let $g = self;
                $get_mut
            }
        }
    };
}
held!(RwLockReadGuard, |_g| None);
held!(RwLockWriteGuard, |g| Some(g.deref_mut()));

/// Takes `lock` in `mode` and runs `f` with the guard (write guards of the
/// `Exclusive` policy come from `Mutex::lock`).
fn hold<T, P: Policy, R>(lock: &RwLock<T, P>, mode: Mode, f: impl FnOnce(&mut dyn Held<T>) -> R) -> R {
    match mode {
        Mode::Read => f(&mut lock.read()),
        Mode::Write => f(&mut lock.lock()),
    }
}

/// Whether a guard of `mode` shares the lock with other readers.
fn shares<P: Policy>(mode: Mode) -> bool {
    mode == Mode::Read && P::KIND != PolicyKind::Exclusive
}

/// Every scenario for read and write guards of every policy (`Exclusive`
/// is `Mutex`).
macro_rules! matrix {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use super::*;
            #[test]
            fn reader_preferring_read() { watchdog(|| super::$scenario::<ReaderPreferring>(Mode::Read)) }
            #[test]
            fn reader_preferring_write() { watchdog(|| super::$scenario::<ReaderPreferring>(Mode::Write)) }
            #[test]
            fn writer_preferring_read() { watchdog(|| super::$scenario::<WriterPreferring>(Mode::Read)) }
            #[test]
            fn writer_preferring_write() { watchdog(|| super::$scenario::<WriterPreferring>(Mode::Write)) }
            #[test]
            fn phase_fair_read() { watchdog(|| super::$scenario::<PhaseFair>(Mode::Read)) }
            #[test]
            fn phase_fair_write() { watchdog(|| super::$scenario::<PhaseFair>(Mode::Write)) }
            #[test]
            fn mutex_read() { watchdog(|| super::$scenario::<Exclusive>(Mode::Read)) }
            #[test]
            fn mutex_write() { watchdog(|| super::$scenario::<Exclusive>(Mode::Write)) }
        }
    )*};
}

/// Every scenario for each policy.
macro_rules! per_policy {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use super::*;
            #[test]
            fn reader_preferring() { watchdog(super::$scenario::<ReaderPreferring>) }
            #[test]
            fn writer_preferring() { watchdog(super::$scenario::<WriterPreferring>) }
            #[test]
            fn phase_fair() { watchdog(super::$scenario::<PhaseFair>) }
            #[test]
            fn mutex() { watchdog(super::$scenario::<Exclusive>) }
        }
    )*};
}

matrix!(
    notify_n_wakes_exactly_n,
    fifo_wake_order,
    no_spurious_wakeups,
    reacquires_the_same_mode,
    wait_for_times_out_holding_the_guard,
    wait_while_for_reports_the_condition,
    one_lock_at_a_time,
    many_waiters_one_notify_all,
    stress_no_lost_wakeup,
);

per_policy!(
    notified_readers_arrive_behind_a_queued_writer,
    notified_readers_arrive_while_a_writer_holds,
    notified_writers_are_requeued_one_at_a_time,
);

#[test]
fn notify_without_waiters() {
    let cv = RwCondvar::new();
    assert!(!cv.notify_one());
    assert_eq!(cv.notify(0), 0);
    assert_eq!(cv.notify(3), 0);
    assert_eq!(cv.notify_all(), 0);
    assert_eq!(waiters(&cv), 0);
    static CV: RwCondvar = RwCondvar::new();
    assert!(!CV.notify_one());
    assert_eq!(RwCondvar::default().notify_all(), 0);
}

#[test]
fn notify_zero_wakes_nobody() {
    watchdog(|| {
        let lock = RwLock::<u64>::new(0);
        let cv = RwCondvar::new();
        let returned = AtomicUsize::new(0);
        thread::scope(|s| {
            let _rescue = Rescue(&cv);
            s.spawn(|| {
                hold(&lock, Mode::Write, |g| g.wait(&cv));
                returned.fetch_add(1, SeqCst);
            });
            await_waiters(&cv, 1);
            assert_eq!(cv.notify(0), 0);
            thread::sleep(QUIET);
            assert_eq!(returned.load(SeqCst), 0);
            assert_eq!(cv.notify_all(), 1);
        });
        assert_eq!(returned.load(SeqCst), 1);
    });
}

/// `notify(n)` with fewer, exactly as many and more than the waiters:
/// it returns `min(n, waiting)` and exactly that many return from `wait`.
fn notify_n_wakes_exactly_n<P: Policy>(mode: Mode)
where
    RwLock<u64, P>: Sync,
{
    let lock = RwLock::<u64, P>::new(0);
    let cv = RwCondvar::new();
    let returned = AtomicUsize::new(0);
    let waiter = || {
        hold(&lock, mode, |g| g.wait(&cv));
        returned.fetch_add(1, SeqCst);
    };
    thread::scope(|s| {
        let _rescue = Rescue(&cv);
        for i in 0..5 {
            s.spawn(waiter);
            await_waiters(&cv, i + 1);
        }
        // Fewer than waiting.
        assert_eq!(cv.notify(2), 2);
        spin_until("2 returns", || returned.load(SeqCst) == 2);
        thread::sleep(QUIET);
        assert_eq!(returned.load(SeqCst), 2, "notify(2) released more than 2 waiters");
        assert_eq!(waiters(&cv), 3);

        // Exactly as many as waiting.
        assert_eq!(cv.notify(3), 3);
        spin_until("5 returns", || returned.load(SeqCst) == 5);
        assert_eq!(waiters(&cv), 0);

        // More than waiting.
        for i in 0..2 {
            s.spawn(waiter);
            await_waiters(&cv, i + 1);
        }
        assert_eq!(cv.notify(10), 2);
        spin_until("7 returns", || returned.load(SeqCst) == 7);
        assert!(!cv.notify_one());

        // notify_one wakes one; the rest wait for a later notify_all.
        for i in 0..3 {
            s.spawn(waiter);
            await_waiters(&cv, i + 1);
        }
        assert!(cv.notify_one());
        spin_until("8 returns", || returned.load(SeqCst) == 8);
        thread::sleep(QUIET);
        assert_eq!(returned.load(SeqCst), 8, "notify_one released more than one waiter");
        assert_eq!(cv.notify_all(), 2);
    });
    assert_eq!(returned.load(SeqCst), 10);
    assert_eq!(cv.notify(1), 0);
    assert_eq!(cv.notify_all(), 0);
    assert!(!lock.is_locked());
}

/// Waiters registered one by one return in the same order.
fn fifo_wake_order<P: Policy>(mode: Mode)
where
    RwLock<u64, P>: Sync,
{
    const N: usize = 6;
    let lock = RwLock::<u64, P>::new(0);
    let cv = RwCondvar::new();
    let order = StdMutex::new(Vec::new());
    let returned = || order.lock().unwrap().len();
    thread::scope(|s| {
        let _rescue = Rescue(&cv);
        for id in 0..N {
            let (lock, cv, order) = (&lock, &cv, &order);
            s.spawn(move || {
                hold(lock, mode, |g| g.wait(cv));
                order.lock().unwrap().push(id);
            });
            await_waiters(cv, id + 1);
        }
        // The two oldest, together.
        assert_eq!(cv.notify(2), 2);
        spin_until("2 returns", || returned() == 2);
        let mut first = order.lock().unwrap().clone();
        first.sort();
        assert_eq!(first, [0, 1]);
        // Then one at a time, oldest first.
        for k in 2..N {
            assert!(cv.notify_one());
            spin_until("one more return", || returned() == k + 1);
            assert_eq!(order.lock().unwrap()[k], k, "woken out of order: {:?}", order.lock().unwrap());
        }
        assert!(!cv.notify_one());
    });
}

/// A waiter that is not notified stays waiting, whatever else happens: an
/// unpark of its thread, lock traffic, notifications of another condvar.
fn no_spurious_wakeups<P: Policy>(mode: Mode)
where
    RwLock<u64, P>: Sync,
{
    let lock = RwLock::<u64, P>::new(0);
    let cv = RwCondvar::new();
    let other = RwCondvar::new();
    let returned = AtomicUsize::new(0);
    let timed = StdMutex::new(None);
    thread::scope(|s| {
        let _rescue = Rescue(&cv);
        let plain = s.spawn(|| {
            hold(&lock, mode, |g| g.wait(&cv));
            returned.fetch_add(1, SeqCst);
        });
        await_waiters(&cv, 1);
        let with_timeout = s.spawn(|| {
            let r = hold(&lock, mode, |g| g.wait_for(&cv, Duration::from_secs(600)));
            *timed.lock().unwrap() = Some(r);
            returned.fetch_add(1, SeqCst);
        });
        await_waiters(&cv, 2);
        for _ in 0..3 {
            plain.thread().unpark();
            with_timeout.thread().unpark();
            drop(lock.write());
            drop(lock.read());
            assert_eq!(other.notify_all(), 0);
            thread::sleep(QUIET / 3);
        }
        assert_eq!(returned.load(SeqCst), 0, "a waiter returned without a notification");
        assert_eq!(waiters(&cv), 2);
        assert_eq!(cv.notify_all(), 2);
    });
    assert_eq!(returned.load(SeqCst), 2);
    assert!(!timed.lock().unwrap().unwrap().timed_out(), "notified before the deadline, yet timed out");
}

/// A waiter returns holding the mode it waited with, and only once the lock
/// is available in that mode.
fn reacquires_the_same_mode<P: Policy>(mode: Mode)
where
    RwLock<u64, P>: Sync,
{
    let lock = RwLock::<u64, P>::new(0);
    let cv = RwCondvar::new();
    let holding = AtomicBool::new(false);
    let checked = AtomicBool::new(false);
    thread::scope(|s| {
        let _rescue = Rescue(&cv);
        s.spawn(|| {
            hold(&lock, mode, |g| {
                g.wait(&cv);
                if let Some(v) = g.get_mut() {
                    *v += 1;
                }
                holding.store(true, SeqCst);
                spin_until("the main thread's checks", || checked.load(SeqCst));
            });
        });
        await_waiters(&cv, 1);
        // Notified while the main thread holds the write lock: the waiter
        // cannot return before it is released.
        let w = lock.write();
        assert!(cv.notify_one());
        thread::sleep(QUIET);
        assert!(!holding.load(SeqCst), "returned from wait without the lock");
        drop(w);
        spin_until("the waiter to hold the lock", || holding.load(SeqCst));

        // From this (another) thread: is it held in the same mode?
        assert!(lock.is_locked());
        assert!(lock.try_write().is_none(), "a writer got in beside a condvar waiter");
        if shares::<P>(mode) {
            assert!(!lock.is_locked_exclusive());
            assert_eq!(lock.raw().state_snapshot().readers, 1);
            let r = lock.try_read().expect("a reader could not join a read-guard waiter");
            assert_eq!(*r, 0);
        } else {
            assert!(lock.is_locked_exclusive());
            assert!(lock.try_read().is_none(), "a reader got in beside an exclusive condvar waiter");
        }
        checked.store(true, SeqCst);
    });
    assert!(!lock.is_locked());
    assert_eq!(*lock.read(), u64::from(mode == Mode::Write));
}

/// `wait_for` and `wait_until` time out no earlier than asked, holding the
/// guard again, and leave no waiter behind.
fn wait_for_times_out_holding_the_guard<P: Policy>(mode: Mode)
where
    RwLock<u64, P>: Sync,
{
    let lock = RwLock::<u64, P>::new(0);
    let cv = RwCondvar::new();
    let timeout = Duration::from_millis(30);
    hold(&lock, mode, |g| {
        let start = Instant::now();
        let r = g.wait_for(&cv, timeout);
        assert!(r.timed_out());
        assert!(start.elapsed() >= timeout, "timed out early: {:?}", start.elapsed());
        assert_eq!(waiters(&cv), 0, "a timed-out waiter stayed registered");
        // Held again, in the same mode.
        thread::scope(|s| {
            s.spawn(|| {
                assert!(lock.try_write().is_none());
                assert_eq!(lock.try_read().is_some(), shares::<P>(mode));
            });
        });
        if let Some(v) = g.get_mut() {
            *v += 1;
        }

        // A deadline already past: an immediate timeout, guard held.
        let r = g.wait_until(&cv, Instant::now() - Duration::from_millis(1));
        assert!(r.timed_out());
        assert!(lock.is_locked());
        assert_eq!(waiters(&cv), 0);
        if let Some(v) = g.get_mut() {
            *v += 1;
        }
    });
    assert!(!cv.notify_one());
    assert!(!lock.is_locked());
    assert_eq!(*lock.read(), if mode == Mode::Write { 2 } else { 0 });

    // Notified before the deadline: not timed out.
    thread::scope(|s| {
        let _rescue = Rescue(&cv);
        let h = s.spawn(|| hold(&lock, mode, |g| g.wait_for(&cv, Duration::from_secs(600))));
        await_waiters(&cv, 1);
        assert!(cv.notify_one());
        assert!(!h.join().unwrap().timed_out());
    });
    assert!(!lock.is_locked());
}

/// `wait_while_for`: `timed_out()` is true iff the condition still held at
/// the deadline.
fn wait_while_for_reports_the_condition<P: Policy>(mode: Mode)
where
    RwLock<u64, P>: Sync,
{
    let lock = RwLock::<u64, P>::new(0);
    let cv = RwCondvar::new();
    let timeout = Duration::from_millis(30);

    // The condition is false from the start: no wait.
    let r = hold(&lock, mode, |g| g.wait_while_for(&cv, &mut |v| *v != 0, Duration::from_secs(600)));
    assert!(!r.timed_out());

    // The condition keeps holding: timed out, after the timeout.
    let start = Instant::now();
    let r = hold(&lock, mode, |g| g.wait_while_for(&cv, &mut |v| *v == 0, timeout));
    assert!(r.timed_out());
    assert!(start.elapsed() >= timeout);

    // Notified, but the condition still holds: waits on, then times out.
    // The notifier is a writer queued on the lock before the wait, so the
    // wait's release hands it the lock (and the waiter cannot leave before
    // it lets go).
    thread::scope(|s| {
        let _rescue = Rescue(&cv);
        let r = hold(&lock, mode, |g| {
            s.spawn(|| {
                let _w = lock.write();
                // Normally true; false only if the waiter's deadline passed
                // before this thread ran, which the waiter's result allows.
                let _ = cv.notify_one();
            });
            spin_until("the notifier to queue", || lock.raw().state_snapshot().queued_writers == 1);
            let start = Instant::now();
            let r = g.wait_while_for(&cv, &mut |v| *v == 0, timeout);
            assert!(start.elapsed() >= timeout);
            r
        });
        assert!(r.timed_out());
    });

    // Made false and notified: returns, not timed out.
    thread::scope(|s| {
        let _rescue = Rescue(&cv);
        s.spawn(|| {
            await_waiters(&cv, 1);
            *lock.write() = 1;
            assert_eq!(cv.notify_all(), 1);
        });
        let r = hold(&lock, mode, |g| {
            let r = g.wait_while_for(&cv, &mut |v| *v == 0, Duration::from_secs(600));
            assert_eq!(*g.get(), 1);
            r
        });
        assert!(!r.timed_out());
    });

    // Made false without a notification: at the deadline the condition no
    // longer holds, so not timed out. The setter is a writer queued before
    // the wait: the wait's release hands it the lock, so it has set the
    // value before the waiter can take the lock back.
    thread::scope(|s| {
        let _rescue = Rescue(&cv);
        let r = hold(&lock, mode, |g| {
            s.spawn(|| *lock.write() = 2);
            spin_until("the setter to queue", || lock.raw().state_snapshot().queued_writers == 1);
            let start = Instant::now();
            let r = g.wait_while_for(&cv, &mut |v| *v == 1, timeout);
            assert!(start.elapsed() >= timeout);
            assert_eq!(*g.get(), 2);
            r
        });
        assert!(!r.timed_out(), "the condition was false at the deadline");
    });
    assert_eq!(waiters(&cv), 0);
    assert!(!lock.is_locked());
}

/// Waiting with a second lock while waiters of the first are registered
/// panics (releasing nothing it should not); once no waiter is registered
/// the condvar works with the other lock.
fn one_lock_at_a_time<P: Policy>(mode: Mode)
where
    RwLock<u64, P>: Sync,
{
    let a = RwLock::<u64, P>::new(0);
    let b = RwLock::<u64, P>::new(0);
    let cv = RwCondvar::new();
    thread::scope(|s| {
        let _rescue = Rescue(&cv);
        let on_a = s.spawn(|| hold(&a, mode, |g| g.wait(&cv)));
        await_waiters(&cv, 1);
        let err = catch_unwind(AssertUnwindSafe(|| hold(&b, mode, |g| g.wait(&cv))))
            .expect_err("waiting with a second lock did not panic");
        let msg = panic_message(err);
        assert!(msg.contains("two different locks"), "unclear panic message: {msg}");
        // The second lock was released by the unwinding guard; the first
        // waiter is still registered and is woken normally.
        assert!(!b.is_locked());
        assert_eq!(waiters(&cv), 1);
        assert!(b.try_write().is_some());
        assert!(cv.notify_one());
        on_a.join().unwrap();
        assert!(!a.is_locked());

        // No waiter left: the condvar may move to `b`, and back to `a`.
        let cv = &cv;
        for lock in [&b, &a] {
            let h = s.spawn(move || hold(lock, mode, |g| g.wait(cv)));
            await_waiters(cv, 1);
            assert!(cv.notify_one());
            h.join().unwrap();
            assert!(!lock.is_locked());
        }
    });
}

/// Many waiting threads, one `notify_all`: it returns exactly their number,
/// all of them return, nothing is left behind.
fn many_waiters_one_notify_all<P: Policy>(mode: Mode)
where
    RwLock<u64, P>: Sync,
{
    let n = if cfg!(debug_assertions) { 50 } else { 200 };
    let lock = RwLock::<u64, P>::new(0);
    let cv = RwCondvar::new();
    let returned = AtomicUsize::new(0);
    thread::scope(|s| {
        let _rescue = Rescue(&cv);
        for _ in 0..n {
            s.spawn(|| {
                hold(&lock, mode, |g| {
                    g.wait(&cv);
                    if let Some(v) = g.get_mut() {
                        *v += 1;
                    }
                });
                returned.fetch_add(1, SeqCst);
            });
        }
        await_waiters(&cv, n);
        assert_eq!(returned.load(SeqCst), 0, "a wait returned without a notification");
        assert_eq!(cv.notify_all(), n);
        assert!(!cv.notify_one());
    });
    assert_eq!(returned.load(SeqCst), n);
    assert_eq!(waiters(&cv), 0);
    assert!(!cv.notify_one());
    assert!(!lock.is_locked());
    assert_eq!(lock.into_inner(), if mode == Mode::Write { n as u64 } else { 0 });
}

/// Real-thread race of notify against wait: an epoch writer and waiters
/// that follow it. A waiter registered before an epoch change is always
/// notified of it, so a timed-out wait with a changed epoch is a lost
/// wakeup.
fn stress_no_lost_wakeup<P: Policy>(mode: Mode)
where
    RwLock<u64, P>: Sync,
{
    const EPOCHS: u64 = 300;
    let lock = RwLock::<u64, P>::new(0);
    let cv = RwCondvar::new();
    thread::scope(|s| {
        let _rescue = Rescue(&cv);
        for _ in 0..3 {
            s.spawn(|| {
                let mut seen = 0;
                while seen < EPOCHS {
                    hold(&lock, mode, |g| {
                        while *g.get() == seen {
                            let r = g.wait_for(&cv, PATIENCE);
                            assert!(!(r.timed_out() && *g.get() != seen), "lost wakeup at epoch {seen}");
                            assert!(!r.timed_out(), "stall at epoch {seen}");
                        }
                        seen = *g.get();
                    });
                }
            });
        }
        for e in 1..=EPOCHS {
            *lock.write() = e;
            if e % 2 == 0 {
                cv.notify_all();
            } else {
                // One at a time: FIFO serves the waiters registered before
                // this epoch first, and there are at most 3 of them.
                for _ in 0..3 {
                    cv.notify_one();
                }
            }
        }
    });
    assert_eq!(waiters(&cv), 0);
}

/// Which order parties entered in: each takes a ticket on entry.
#[derive(Default)]
struct Entries {
    ticket: AtomicUsize,
    writer: StdMutex<Option<usize>>,
    readers: StdMutex<Vec<(usize, usize)>>,
    inside: AtomicUsize,
    max_inside: AtomicUsize,
    readers_entered: AtomicUsize,
}

impl Entries {
    fn enter(&self) -> usize {
        let now = self.inside.fetch_add(1, SeqCst) + 1;
        self.max_inside.fetch_max(now, SeqCst);
        self.ticket.fetch_add(1, SeqCst)
    }
    fn leave(&self) {
        self.inside.fetch_sub(1, SeqCst);
    }
}

/// What a policy does with notified read-guard waiters (`R` of them) while
/// the main thread holds the lock in `main_mode` and a writer is queued.
fn notified_readers_with_queued_writer<P: Policy>(main_mode: Mode)
where
    RwLock<u64, P>: Sync,
{
    const R: usize = 3;
    use PolicyKind::*;
    // Expected behaviour, per docs/SEMANTICS.md §2 with the notified readers arriving at
    // the moment of the notification.
    let readers_at_once = P::KIND == ReaderPreferring && main_mode == Mode::Read;
    let writer_first = match P::KIND {
        ReaderPreferring => false,
        WriterPreferring | Exclusive => true,
        // A reader holds: the notified readers queue behind the writer. A
        // writer holds: its release opens a read phase for every waiting
        // reader, the notified ones included.
        PhaseFair => main_mode == Mode::Read,
    };
    let together = P::KIND != Exclusive;

    let lock = RwLock::<u64, P>::new(0);
    let cv = RwCondvar::new();
    let e = Entries::default();
    thread::scope(|s| {
        let _rescue = Rescue(&cv);
        for id in 0..R {
            let (lock, cv, e) = (&lock, &cv, &e);
            s.spawn(move || {
                let mut g = lock.read();
                cv.wait(&mut g);
                let t = e.enter();
                e.readers.lock().unwrap().push((id, t));
                e.readers_entered.fetch_add(1, SeqCst);
                if together {
                    // Proof that all were inside at once: nobody leaves
                    // before every notified reader has entered.
                    spin_until("every notified reader inside together", || e.readers_entered.load(SeqCst) == R);
                }
                e.leave();
                drop(g);
            });
            await_waiters(cv, id + 1);
        }
        spin_until("the waiters to release their locks", || !lock.is_locked());

        let main_guard: Box<dyn Held<u64> + '_> = match main_mode {
            Mode::Read => Box::new(lock.read()),
            Mode::Write => Box::new(lock.write()),
        };
        s.spawn(|| {
            let _w = lock.write();
            *e.writer.lock().unwrap() = Some(e.enter());
            e.leave();
        });
        spin_until("the writer to queue", || lock.raw().state_snapshot().queued_writers == 1);

        assert_eq!(cv.notify_all(), R);
        assert_eq!(waiters(&cv), 0);
        if readers_at_once {
            spin_until("the notified readers to enter", || e.readers_entered.load(SeqCst) == R);
            assert_eq!(lock.raw().state_snapshot().queued_writers, 1);
        } else {
            // Moved onto the lock's queue, not woken to fight for it.
            let snap = lock.raw().state_snapshot();
            assert_eq!((snap.queued_readers, snap.queued_writers), (R, 1), "{snap:?}");
            thread::sleep(QUIET);
            assert_eq!(e.readers_entered.load(SeqCst), 0, "a notified reader entered early");
        }
        assert!(e.writer.lock().unwrap().is_none());
        drop(main_guard);
    });

    let w = e.writer.lock().unwrap().expect("the writer never entered");
    let readers = e.readers.lock().unwrap().clone();
    assert_eq!(readers.len(), R);
    for &(id, t) in &readers {
        assert_eq!(t < w, !writer_first, "reader {id} (ticket {t}) vs writer (ticket {w})");
    }
    if together {
        assert!(e.max_inside.load(SeqCst) >= R);
    } else {
        // Exclusive: one at a time, oldest waiter first.
        assert_eq!(e.max_inside.load(SeqCst), 1);
        let ids: Vec<usize> = readers.iter().map(|&(id, _)| id).collect();
        assert_eq!(ids, [0, 1, 2]);
    }
    assert!(!lock.is_locked());
}

/// The notifier holds a read lock, a writer is queued: under PhaseFair and
/// WriterPreferring the notified readers wait behind the writer, then enter
/// together; under ReaderPreferring they enter at once; under Exclusive
/// everyone goes one at a time in arrival order.
fn notified_readers_arrive_behind_a_queued_writer<P: Policy>()
where
    RwLock<u64, P>: Sync,
{
    notified_readers_with_queued_writer::<P>(Mode::Read);
}

/// The notifier holds the write lock, a writer is queued: its release
/// admits the notified readers together under PhaseFair (a read phase) and
/// ReaderPreferring, the queued writer first under WriterPreferring.
fn notified_readers_arrive_while_a_writer_holds<P: Policy>()
where
    RwLock<u64, P>: Sync,
{
    notified_readers_with_queued_writer::<P>(Mode::Write);
}

/// `notify_all` to write-guard waiters moves them onto the lock's queue;
/// they enter one at a time, in order, and all finish.
fn notified_writers_are_requeued_one_at_a_time<P: Policy>()
where
    RwLock<u64, P>: Sync,
{
    const N: usize = 5;
    let lock = RwLock::<u64, P>::new(0);
    let cv = RwCondvar::new();
    let e = Entries::default();
    thread::scope(|s| {
        let _rescue = Rescue(&cv);
        for id in 0..N {
            let (lock, cv, e) = (&lock, &cv, &e);
            s.spawn(move || {
                let mut g = lock.write();
                cv.wait(&mut g);
                let t = e.enter();
                e.readers.lock().unwrap().push((id, t));
                for _ in 0..10 {
                    thread::yield_now();
                }
                *g += 1;
                e.leave();
            });
            await_waiters(cv, id + 1);
        }
        let mut g = lock.write();
        assert_eq!(cv.notify_all(), N);
        let snap = lock.raw().state_snapshot();
        assert!(snap.writer);
        assert_eq!((snap.queued_readers, snap.queued_writers), (0, N), "{snap:?}");
        thread::sleep(QUIET);
        assert_eq!(e.ticket.load(SeqCst), 0, "a notified writer entered while the lock was held");
        *g += 100;
        drop(g);
    });
    assert_eq!(e.max_inside.load(SeqCst), 1, "two writers inside at once");
    let ids: Vec<usize> = e.readers.lock().unwrap().iter().map(|&(id, _)| id).collect();
    assert_eq!(ids, [0, 1, 2, 3, 4]);
    assert_eq!(lock.into_inner(), 100 + N as u64);
}

/// `wait_while` re-checks the condition after each wakeup, and accepts
/// `Mutex` guards from `lock()`.
#[test]
fn wait_while_with_a_mutex() {
    watchdog(|| {
        let m = Mutex::new(0u32);
        let cv = RwCondvar::new();
        thread::scope(|s| {
            let _rescue = Rescue(&cv);
            let h = s.spawn(|| {
                let mut g = m.lock();
                cv.wait_while(&mut g, |v| *v < 3);
                *g += 10;
                *g
            });
            for i in 1..=3 {
                await_waiters(&cv, 1);
                *m.lock() = i;
                assert!(cv.notify_one());
            }
            assert_eq!(h.join().unwrap(), 13);
        });
        assert_eq!(waiters(&cv), 0);
    });
}

/// Read and write guards wait on the same condvar and lock; one
/// `notify_all` wakes both kinds.
#[test]
fn read_and_write_waiters_mixed() {
    watchdog(|| {
        let lock = RwLock::<u64>::new(0);
        let cv = RwCondvar::new();
        let returned = AtomicUsize::new(0);
        thread::scope(|s| {
            let _rescue = Rescue(&cv);
            for i in 0..4 {
                let mode = if i % 2 == 0 { Mode::Read } else { Mode::Write };
                let (lock, cv, returned) = (&lock, &cv, &returned);
                s.spawn(move || {
                    hold(lock, mode, |g| g.wait_while(cv, &mut |v| *v == 0));
                    returned.fetch_add(1, SeqCst);
                });
                await_waiters(cv, i + 1);
            }
            *lock.write() = 1;
            assert_eq!(cv.notify_all(), 4);
        });
        assert_eq!(returned.load(SeqCst), 4);
        assert!(!lock.is_locked());
    });
}

/// A guard type-checks as a `CondvarGuard` through a generic function.
#[test]
fn generic_over_condvar_guards() {
    fn timed_out<G: CondvarGuard + Deref<Target = u64>>(cv: &RwCondvar, g: &mut G) -> bool {
        cv.wait_while_for(g, |v| *v == 0, Duration::from_millis(1)).timed_out()
    }
    let lock = RwLock::<u64, WriterPreferring>::new(0);
    let cv = RwCondvar::new();
    assert!(timed_out(&cv, &mut lock.read()));
    assert!(timed_out(&cv, &mut lock.write()));
    *lock.write() = 1;
    assert!(!timed_out(&cv, &mut lock.read()));
}

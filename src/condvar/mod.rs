//! Condition variables that take read guards and write guards.
//!
//! [`RwCondvar`] (threads) and [`AsyncRwCondvar`] (tasks) wait with a read
//! or a write guard, release that mode, sleep, and return holding the same
//! mode again. Waiters are woken in FIFO order; `notify(n)` wakes exactly
//! `min(n, waiting)`; a waiter never returns without a notification (or,
//! for timed waits, its timeout).

mod async_cv;
mod guard;

use core::fmt;
use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

pub use async_cv::{AsyncCondvarGuard, AsyncRwCondvar, AsyncRwCondvarWait, AsyncRwCondvarWaitTimeout, RawCondvarWait};
pub use guard::CondvarGuard;
#[cfg(all(feature = "lock_api_05", not(loom)))]
pub(crate) use guard::RawWriteHeld;
use guard::{Token, WaitLock};

use crate::engine::waiter::{wake_all, Kind, Waiter, CV_WAITING, NOTIFIED, WOKEN};
use crate::loom::{park, park_timeout, Arc, Mutex};

/// The result of a timed wait: whether it returned because time ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True when the wait ended at its deadline without a notification (for
    /// [`RwCondvar::wait_while_for`]: when the condition still held).
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// A condition variable for [`RwLock`](crate::RwLock) read and write guards
/// (every policy, [`Mutex`](crate::Mutex) included) and
/// [`ReentrantRwLock`](crate::ReentrantRwLock) guards at depth 1.
///
/// * `wait` atomically releases the guard's mode, sleeps, and re-acquires
///   the **same mode** before returning. A notified waiter re-acquires as an
///   arrival at the moment of notification: under `PhaseFair` a notified
///   reader waits behind a writer already queued.
/// * FIFO: waiters are woken in the order they started waiting.
///   [`notify`](Self::notify)`(n)` wakes exactly `min(n, waiting)` waiters
///   and returns that number.
/// * No spurious wakeups: `wait` returns only after a notify (or, for the
///   timed forms, the timeout).
/// * No thundering herd: notified waiters are moved onto the lock's queue
///   (not woken to fight for it); notified readers are admitted together,
///   notified writers are handed the lock one at a time.
/// * One lock at a time: waiting with a guard of a second lock while
///   waiters of the first are registered panics. Once no waiter is
///   registered, the condvar may be used with another lock.
///
/// ```
/// use std::sync::Arc;
/// use rwlocker::{RwCondvar, RwLock};
///
/// let pair = Arc::new((RwLock::<u32>::new(0), RwCondvar::new()));
/// let readers: Vec<_> = (0..4)
///     .map(|_| {
///         let pair = pair.clone();
///         std::thread::spawn(move || {
///             let (lock, cv) = &*pair;
///             let mut guard = lock.read();
///             cv.wait_while(&mut guard, |epoch| *epoch == 0);
///             *guard // read lock held again
///         })
///     })
///     .collect();
/// {
///     let (lock, cv) = &*pair;
///     *lock.write() = 1;
///     cv.notify_all();
/// }
/// for r in readers {
///     assert_eq!(r.join().unwrap(), 1);
/// }
/// ```
pub struct RwCondvar {
    state: Mutex<CvState>,
}

struct CvState {
    /// The lock the registered waiters released; valid while `waiters` is
    /// not empty (see `notify`).
    lock: Option<*const (dyn WaitLock + 'static)>,
    waiters: VecDeque<Arc<Waiter>>,
}

// SAFETY: `CvState::lock` is only dereferenced under the condvar's mutex
// while a registered waiter keeps the lock alive (see `notify`); the lock
// type is `Sync`.
unsafe impl Send for CvState {}

/// The identity of a lock, for the one-lock-at-a-time rule.
fn same_lock(a: *const (dyn WaitLock + 'static), b: *const (dyn WaitLock + 'static)) -> bool {
    core::ptr::addr_eq(a, b)
}

#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn two_locks() -> ! {
    panic!("rwlocker: a condition variable was used with two different locks at once (wait with a guard of one lock while waiters of another are registered)")
}

impl Default for RwCondvar {
    fn default() -> Self {
        RwCondvar::new()
    }
}

impl fmt::Debug for RwCondvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwCondvar").field("waiters", &self.state.lock().waiters.len()).finish()
    }
}

impl RwCondvar {
    crate::engine::maybe_const_fn! {
        /// A condition variable with no waiters.
        pub fn new() -> Self {
            RwCondvar { state: Mutex::new(CvState { lock: None, waiters: VecDeque::new() }) }
        }
    }

    /// Releases the guard's lock, waits for a notification, and re-acquires
    /// the lock in the same mode.
    ///
    /// # Panics
    /// If waiters of another lock are registered, or if the guard is a
    /// nested [`ReentrantRwLock`](crate::ReentrantRwLock) guard.
    pub fn wait<G: CondvarGuard>(&self, guard: &mut G) {
        self.wait_inner(guard, None);
    }

    /// Waits while `condition` holds: returns once it is false, holding the
    /// lock.
    pub fn wait_while<G, T>(&self, guard: &mut G, mut condition: impl FnMut(&T) -> bool)
    where
        G: CondvarGuard + core::ops::Deref<Target = T>,
        T: ?Sized,
    {
        while condition(&**guard) {
            self.wait(guard);
        }
    }

    /// Like [`wait`](Self::wait), giving up after `timeout`. The lock is
    /// held again on return either way.
    pub fn wait_for<G: CondvarGuard>(&self, guard: &mut G, timeout: Duration) -> WaitTimeoutResult {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.wait_until(guard, deadline),
            None => {
                self.wait(guard);
                WaitTimeoutResult(false)
            }
        }
    }

    /// Like [`wait`](Self::wait), giving up at `deadline`.
    pub fn wait_until<G: CondvarGuard>(&self, guard: &mut G, deadline: Instant) -> WaitTimeoutResult {
        WaitTimeoutResult(self.wait_inner(guard, Some(deadline)))
    }

    /// Waits while `condition` holds, for at most `timeout`. `timed_out()`
    /// is true iff the condition still held at the deadline.
    pub fn wait_while_for<G, T>(
        &self,
        guard: &mut G,
        mut condition: impl FnMut(&T) -> bool,
        timeout: Duration,
    ) -> WaitTimeoutResult
    where
        G: CondvarGuard + core::ops::Deref<Target = T>,
        T: ?Sized,
    {
        let deadline = Instant::now().checked_add(timeout);
        while condition(&**guard) {
            match deadline {
                None => self.wait(guard),
                Some(d) => {
                    if self.wait_until(guard, d).timed_out() {
                        return WaitTimeoutResult(condition(&**guard));
                    }
                }
            }
        }
        WaitTimeoutResult(false)
    }

    /// Waits while `condition` holds, until `deadline` at the latest.
    /// `timed_out()` is true iff the condition still held at the deadline;
    /// the lock is held again on return either way.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use rwlocker::{RwCondvar, RwLock};
    ///
    /// let (lock, cv) = (RwLock::<u32>::new(0), RwCondvar::new());
    /// let mut g = lock.write();
    /// let r = cv.wait_while_until(&mut g, |n| *n == 0, Instant::now() + Duration::from_millis(5));
    /// assert!(r.timed_out());
    /// *g += 1; // still the write lock
    /// let r = cv.wait_while_until(&mut g, |n| *n == 0, Instant::now());
    /// assert!(!r.timed_out(), "the condition no longer holds");
    /// ```
    pub fn wait_while_until<G, T>(
        &self,
        guard: &mut G,
        mut condition: impl FnMut(&T) -> bool,
        deadline: Instant,
    ) -> WaitTimeoutResult
    where
        G: CondvarGuard + core::ops::Deref<Target = T>,
        T: ?Sized,
    {
        while condition(&**guard) {
            if self.wait_until(guard, deadline).timed_out() {
                return WaitTimeoutResult(condition(&**guard));
            }
        }
        WaitTimeoutResult(false)
    }

    /// Returns whether the wait timed out.
    ///
    /// The guard holds its lock again whenever this returns **or unwinds**
    /// (what `lock_api` asks of a condition variable: re-lock before
    /// unwinding), and no registration is left behind. A panic while the
    /// lock is released (a task's waker that panics when the release wakes
    /// it) ends the wait early: the waiter leaves, re-takes the lock, and
    /// the panic continues.
    fn wait_inner<G: CondvarGuard>(&self, guard: &mut G, deadline: Option<Instant>) -> bool {
        let (lock, kind) = guard.wait_lock(Token);
        guard.before_wait(Token);
        let waiter = Waiter::thread(kind, CV_WAITING);
        {
            let mut st = self.state.lock();
            let ptr: *const (dyn WaitLock + 'static) = lock;
            match st.lock {
                Some(other) if !st.waiters.is_empty() && !same_lock(other, ptr) => {
                    drop(st);
                    guard.after_wait(Token);
                    two_locks()
                }
                _ => st.lock = Some(ptr),
            }
            st.waiters.push_back(waiter.clone());
        }
        let slept = catch_unwind(AssertUnwindSafe(|| self.sleep(&waiter, lock, kind, deadline)));
        // The lock is held again, whatever happened.
        guard.after_wait(Token);
        slept.unwrap_or_else(|payload| resume_unwind(payload))
    }

    /// The part of a wait without the lock: releases it, sleeps until
    /// notified (or the deadline), re-takes it. Returns whether the wait
    /// timed out. `waiter` is registered on entry; if this unwinds, it is
    /// not, and the lock is held again.
    fn sleep(
        &self,
        waiter: &Arc<Waiter>,
        lock: &(dyn WaitLock + 'static),
        kind: Kind,
        deadline: Option<Instant>,
    ) -> bool {
        // Registered before releasing: a notify from now on finds us.
        // SAFETY: the guard holds the lock in `kind` mode; it is re-taken
        // (below, or in `leave`) before the guard is used again.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| unsafe { lock.unlock_kind(kind) })) {
            // The release is complete (the engine finishes its transition
            // before a waker's panic goes on): leave, take the lock back.
            self.leave(waiter, lock, kind);
            resume_unwind(payload);
        }
        loop {
            if waiter.take_grant() {
                return false;
            }
            if matches!(waiter.state(), NOTIFIED | WOKEN) {
                // On the lock's queue now (the lock is on its way, whatever
                // the deadline): wait for the grant as the lock's waiters do.
                lock.wait_requeued(waiter);
                return false;
            }
            waiter.set_asleep();
            match deadline {
                None => park(),
                Some(d) => {
                    let now = Instant::now();
                    if now < d {
                        park_timeout(d - now);
                        continue;
                    }
                    let mut st = self.state.lock();
                    if waiter.state() == CV_WAITING {
                        // Not notified in time: leave, then take the lock
                        // back as a plain arrival.
                        deregister(&mut st.waiters, waiter);
                        drop(st);
                        relock(lock, kind);
                        return true;
                    }
                }
            }
        }
    }

    /// A registered waiter gives up early: deregisters, or if it was
    /// notified (and so re-queued on the lock), waits for that grant and
    /// passes the notification on. Returns holding the lock in `kind` mode.
    fn leave(&self, waiter: &Arc<Waiter>, lock: &(dyn WaitLock + 'static), kind: Kind) {
        let mut st = self.state.lock();
        if waiter.state() == CV_WAITING {
            deregister(&mut st.waiters, waiter);
            drop(st);
            relock(lock, kind);
        } else {
            drop(st);
            if !waiter.take_grant() {
                lock.wait_requeued(waiter);
            }
            self.notify(1);
        }
    }

    /// Wakes one waiter; returns whether there was one.
    pub fn notify_one(&self) -> bool {
        self.notify(1) == 1
    }

    /// Wakes every waiter registered before this call; returns how many.
    pub fn notify_all(&self) -> usize {
        self.notify(usize::MAX)
    }

    /// Wakes exactly `min(n, waiting)` waiters, oldest first; returns that
    /// number.
    pub fn notify(&self, n: usize) -> usize {
        let mut st = self.state.lock();
        let count = n.min(st.waiters.len());
        if count == 0 {
            return 0;
        }
        let lock = st.lock.expect("registered waiters without a lock");
        // SAFETY: `count > 0` waiters are registered. Each is a thread blocked
        // in `wait_inner`, holding a borrow of the lock through its guard, and
        // it cannot leave before being granted (which only the `requeue`
        // below can start) or before removing itself under this mutex (which
        // we hold). So the lock is alive and unmoved for this call.
        let lock = unsafe { &*lock };
        let mut batch = st.waiters.drain(..count).inspect(|w| w.set_state(NOTIFIED));
        let wake = lock.requeue(&mut batch);
        drop(batch);
        drop(st);
        wake_all(wake);
        count
    }
}

/// Removes a waiter that is still `CV_WAITING` from the condvar's list. It
/// is always there; should it not be (a bug), the wait still goes on to
/// re-take its lock rather than unwind without it.
fn deregister(waiters: &mut VecDeque<Arc<Waiter>>, waiter: &Arc<Waiter>) {
    let i = waiters.iter().position(|w| Arc::ptr_eq(w, waiter));
    debug_assert!(i.is_some(), "a waiting condvar waiter is not registered");
    if let Some(i) = i {
        waiters.remove(i);
    }
}

/// Takes the lock in `kind` mode for a wait that must return (or unwind)
/// holding it. A read lock cannot be counted while the reader count is
/// full; rather than leave the guard without its lock, this waits until a
/// reader has left.
fn relock(lock: &(dyn WaitLock + 'static), kind: Kind) {
    let mut pause = Duration::from_micros(50);
    loop {
        // (A full count may also be met inside `lock_kind`, if readers
        // came in meanwhile: it panics before changing anything.)
        if !(kind == Kind::Read && lock.readers_full())
            && catch_unwind(AssertUnwindSafe(|| lock.lock_kind(kind))).is_ok()
        {
            return;
        }
        #[cfg(not(loom))]
        std::thread::sleep(pause);
        #[cfg(loom)]
        loom::thread::yield_now();
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(all(test, loom))]
mod loom_tests;

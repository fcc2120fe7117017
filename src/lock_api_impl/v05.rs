//! The `lock_api` 0.5 traits (feature `lock_api_05`). Guard state is the
//! stateless [`GuardSend`]: the engine lets any thread release a lock.

use core::fmt;
use core::marker::PhantomData;
use std::time::{Duration, Instant};

use lock_api_05 as la;
use lock_api_05::GuardSend;

use crate::condvar::{RawWriteHeld, RwCondvar};
use crate::engine::RawRwLock;
use crate::policy::{Exclusive, Policy};

// SAFETY: `RawRwLock` is a correct reader-writer lock (`lock_exclusive`
// excludes every other holder, `lock_shared` excludes writers) with acquire
// ordering on success and release ordering on unlock. A lock call that panics
// (reader overflow) panics before it takes the lock; unlocks do not unwind.
// The guard state carries nothing, so forgetting it is safe, and the engine
// keeps no pointer to a free lock, so moving or dropping an owned lock is too.
unsafe impl<P: Policy> la::RawRwLock for RawRwLock<P> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawRwLock::new();
    type SharedGuard = GuardSend;
    type ExclusiveGuard = GuardSend;

    #[inline]
    fn lock_shared(&self) -> GuardSend {
        RawRwLock::lock_shared(self);
        GuardSend::new()
    }
    #[inline]
    fn try_lock_shared(&self) -> Option<GuardSend> {
        RawRwLock::try_lock_shared(self).then(GuardSend::new)
    }
    #[inline]
    unsafe fn unlock_shared(&self, _guard: GuardSend) {
        // SAFETY: the caller gives up a shared acquisition of this lock.
        unsafe { RawRwLock::unlock_shared(self) }
    }
    #[inline]
    fn lock_exclusive(&self) -> GuardSend {
        RawRwLock::lock_exclusive(self);
        GuardSend::new()
    }
    #[inline]
    fn try_lock_exclusive(&self) -> Option<GuardSend> {
        RawRwLock::try_lock_exclusive(self).then(GuardSend::new)
    }
    #[inline]
    unsafe fn unlock_exclusive(&self, _guard: GuardSend) {
        // SAFETY: the caller gives up the exclusive acquisition of this lock.
        unsafe { RawRwLock::unlock_exclusive(self) }
    }
    #[inline]
    fn is_locked(&self) -> bool {
        RawRwLock::is_locked(self)
    }
    #[inline]
    fn is_locked_exclusive(&self) -> bool {
        RawRwLock::is_locked_exclusive(self)
    }
}

// SAFETY: `downgrade` atomically turns the held write lock into a read lock;
// the writers queued behind stay queued, so no writer gets in between.
unsafe impl<P: Policy> la::RawRwLockDowngrade for RawRwLock<P> {
    #[inline]
    unsafe fn downgrade(&self, _guard: GuardSend) -> GuardSend {
        let bomb = super::AbortOnUnwind;
        // SAFETY: the caller holds the exclusive acquisition of this lock.
        unsafe { RawRwLock::downgrade(self) };
        core::mem::forget(bomb);
        GuardSend::new()
    }
}

// SAFETY: the timed methods return a guard exactly when the lock is held; a
// waiter that times out leaves the queue holding nothing, and it gives up
// only once its deadline has passed.
unsafe impl<P: Policy> la::RawRwLockTimed for RawRwLock<P> {
    type Duration = Duration;
    type Instant = Instant;

    fn try_lock_shared_for(&self, timeout: Duration) -> Option<GuardSend> {
        RawRwLock::try_lock_shared_for(self, timeout).then(GuardSend::new)
    }
    fn try_lock_shared_until(&self, deadline: Instant) -> Option<GuardSend> {
        RawRwLock::try_lock_shared_until(self, deadline).then(GuardSend::new)
    }
    fn try_lock_exclusive_for(&self, timeout: Duration) -> Option<GuardSend> {
        RawRwLock::try_lock_exclusive_for(self, timeout).then(GuardSend::new)
    }
    fn try_lock_exclusive_until(&self, deadline: Instant) -> Option<GuardSend> {
        RawRwLock::try_lock_exclusive_until(self, deadline).then(GuardSend::new)
    }
}

// SAFETY: routed to the exclusive side, which is a correct mutex under every
// policy (see the `RawRwLock` impl above for unwinding and guard state).
unsafe impl<P: Policy> la::RawMutex for RawRwLock<P> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawRwLock::new();
    type Guard = GuardSend;

    #[inline]
    fn lock(&self) -> GuardSend {
        RawRwLock::lock_exclusive(self);
        GuardSend::new()
    }
    #[inline]
    fn try_lock(&self) -> Option<GuardSend> {
        RawRwLock::try_lock_exclusive(self).then(GuardSend::new)
    }
    #[inline]
    unsafe fn unlock(&self, _guard: GuardSend) {
        // SAFETY: the caller gives up the exclusive acquisition of this lock.
        unsafe { RawRwLock::unlock_exclusive(self) }
    }
    #[inline]
    fn is_locked(&self) -> bool {
        RawRwLock::is_locked(self)
    }
}

// SAFETY: as for `RawRwLockTimed`, on the exclusive side.
unsafe impl<P: Policy> la::RawMutexTimed for RawRwLock<P> {
    type Duration = Duration;
    type Instant = Instant;

    fn try_lock_for(&self, timeout: Duration) -> Option<GuardSend> {
        RawRwLock::try_lock_exclusive_for(self, timeout).then(GuardSend::new)
    }
    fn try_lock_until(&self, deadline: Instant) -> Option<GuardSend> {
        RawRwLock::try_lock_exclusive_until(self, deadline).then(GuardSend::new)
    }
}

/// The `lock_api` 0.5 raw condition variable for mutexes over
/// [`RawRwLock<P>`](RawRwLock): `lock_api::Condvar<RawRwCondvar<P>>` works
/// with `lock_api::Mutex<RawRwLock<P>, T>` (`P` = [`Exclusive`] by default).
///
/// It is a [`RwCondvar`] underneath, with the same guarantees: waiters are
/// woken in FIFO order, `notify_one` / `notify_all` return exactly how many
/// waiters they woke (a waiter that timed out is not counted), and there are
/// **no spurious wakeups**: `wait` returns only after a notification, and a
/// timed wait that returns `false` (not timed out) was notified. A notified
/// thread is moved onto the mutex's queue rather than woken to contend.
///
/// One mutex at a time: waiting with a second mutex while waiters of the
/// first are registered panics (before the mutex is released).
///
/// Needs feature `lock_api_05`.
///
/// ```
/// # use lock_api_05 as lock_api; // `lock_api` 0.5 in your Cargo.toml
/// use rwlocker::{lock_api_impl::RawRwCondvar, RawRwLock, Exclusive};
///
/// let pair = (lock_api::Mutex::<RawRwLock<Exclusive>, bool>::new(false),
///             lock_api::Condvar::<RawRwCondvar>::new());
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         let mut ready = pair.0.lock();
///         pair.1.wait_while(&mut ready, |r| !*r);
///     });
///     *pair.0.lock() = true;
///     pair.1.notify_all();
/// });
/// ```
pub struct RawRwCondvar<P: Policy = Exclusive> {
    cv: RwCondvar,
    _policy: PhantomData<P>,
}

impl<P: Policy> RawRwCondvar<P> {
    /// A condition variable with no waiters.
    pub const fn new() -> Self {
        RawRwCondvar { cv: RwCondvar::new(), _policy: PhantomData }
    }
}

impl<P: Policy> Default for RawRwCondvar<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Policy> fmt::Debug for RawRwCondvar<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawRwCondvar").field(&self.cv).finish()
    }
}

// SAFETY: `RwCondvar` registers the waiter before it releases the mutex, so
// a notify after the release finds it; it returns only with the mutex held
// again, in the same (exclusive) mode. The only panic it raises (a second
// mutex while waiters of another are registered) happens before the mutex is
// released. Notification counts are exact and there are no spurious
// wakeups, as documented above.
unsafe impl<P: Policy> la::RawCondvar for RawRwCondvar<P> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawRwCondvar::new();
    type RawMutex = RawRwLock<P>;

    unsafe fn wait(&self, mutex: &RawRwLock<P>, _guard: &mut GuardSend) {
        // The caller holds `mutex` exclusively (the trait's contract).
        self.cv.wait(&mut RawWriteHeld(mutex));
    }
    fn notify_one(&self) -> bool {
        self.cv.notify_one()
    }
    fn notify_all(&self) -> usize {
        self.cv.notify_all()
    }
}

// SAFETY: as for `RawCondvar`; a timed-out wait gives up only once its
// deadline has passed, and re-takes the mutex before returning.
unsafe impl<P: Policy> la::RawCondvarTimed for RawRwCondvar<P> {
    fn checked_duration_to_instant(timeout: &Duration) -> Option<Instant> {
        Instant::now().checked_add(*timeout)
    }

    unsafe fn wait_until(&self, mutex: &RawRwLock<P>, _guard: &mut GuardSend, deadline: &Instant) -> bool {
        // The caller holds `mutex` exclusively (the trait's contract).
        self.cv.wait_until(&mut RawWriteHeld(mutex), *deadline).timed_out()
    }
}

//! The `lock_api` 0.4 traits (feature `lock_api`, on by default).

use std::time::{Duration, Instant};

use crate::engine::RawRwLock;
use crate::policy::Policy;

// SAFETY: `RawRwLock` is a correct reader-writer lock: `lock_exclusive`
// excludes every other holder, `lock_shared` excludes writers, and the
// unlock methods are only called (per the trait's contract) by holders.
unsafe impl<P: Policy> lock_api::RawRwLock for RawRwLock<P> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawRwLock::new();
    type GuardMarker = lock_api::GuardSend;

    #[inline]
    fn lock_shared(&self) {
        RawRwLock::lock_shared(self)
    }
    #[inline]
    fn try_lock_shared(&self) -> bool {
        RawRwLock::try_lock_shared(self)
    }
    #[inline]
    unsafe fn unlock_shared(&self) {
        // SAFETY: forwarded from the caller's obligation.
        unsafe { RawRwLock::unlock_shared(self) }
    }
    #[inline]
    fn lock_exclusive(&self) {
        RawRwLock::lock_exclusive(self)
    }
    #[inline]
    fn try_lock_exclusive(&self) -> bool {
        RawRwLock::try_lock_exclusive(self)
    }
    #[inline]
    unsafe fn unlock_exclusive(&self) {
        // SAFETY: forwarded from the caller's obligation.
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

// SAFETY: `downgrade` atomically turns the held write lock into a read lock.
unsafe impl<P: Policy> lock_api::RawRwLockDowngrade for RawRwLock<P> {
    #[inline]
    unsafe fn downgrade(&self) {
        let bomb = super::AbortOnUnwind;
        // SAFETY: forwarded from the caller's obligation.
        unsafe { RawRwLock::downgrade(self) }
        core::mem::forget(bomb);
    }
}

// SAFETY: the timed methods return true exactly when the lock is held.
unsafe impl<P: Policy> lock_api::RawRwLockTimed for RawRwLock<P> {
    type Duration = Duration;
    type Instant = Instant;

    fn try_lock_shared_for(&self, timeout: Duration) -> bool {
        RawRwLock::try_lock_shared_for(self, timeout)
    }
    fn try_lock_shared_until(&self, deadline: Instant) -> bool {
        RawRwLock::try_lock_shared_until(self, deadline)
    }
    fn try_lock_exclusive_for(&self, timeout: Duration) -> bool {
        RawRwLock::try_lock_exclusive_for(self, timeout)
    }
    fn try_lock_exclusive_until(&self, deadline: Instant) -> bool {
        RawRwLock::try_lock_exclusive_until(self, deadline)
    }
}

// SAFETY: routed to the exclusive side, which is a correct mutex.
unsafe impl<P: Policy> lock_api::RawMutex for RawRwLock<P> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = RawRwLock::new();
    type GuardMarker = lock_api::GuardSend;

    #[inline]
    fn lock(&self) {
        RawRwLock::lock_exclusive(self)
    }
    #[inline]
    fn try_lock(&self) -> bool {
        RawRwLock::try_lock_exclusive(self)
    }
    #[inline]
    unsafe fn unlock(&self) {
        // SAFETY: forwarded from the caller's obligation.
        unsafe { RawRwLock::unlock_exclusive(self) }
    }
    #[inline]
    fn is_locked(&self) -> bool {
        RawRwLock::is_locked(self)
    }
}

// SAFETY: the timed methods return true exactly when the exclusive lock is
// held, as for `RawRwLockTimed`.
unsafe impl<P: Policy> lock_api::RawMutexTimed for RawRwLock<P> {
    type Duration = Duration;
    type Instant = Instant;

    fn try_lock_for(&self, timeout: Duration) -> bool {
        RawRwLock::try_lock_exclusive_for(self, timeout)
    }
    fn try_lock_until(&self, deadline: Instant) -> bool {
        RawRwLock::try_lock_exclusive_until(self, deadline)
    }
}

//! Upgrading a read lock to the write lock, when no policy rule objects.

use super::{Ordering, RawRwLock, READER, WRITER};
use crate::policy::{Policy, PolicyKind};

impl<P: Policy> RawRwLock<P> {
    /// Turns the caller's read lock into the write lock, if the caller is
    /// the **only reader** and a [`try_lock_exclusive`](Self::try_lock_exclusive)
    /// would succeed were that read lock gone: no writer holds, nobody is
    /// queued. No waiter is overtaken, so no policy rule is broken. Returns
    /// whether it did; on `false` the caller still holds its read lock.
    ///
    /// Under `Exclusive` a read lock already is exclusive: always `true`.
    ///
    /// ```
    /// use rwlocker::RawRwLock;
    ///
    /// let raw = RawRwLock::<rwlocker::PhaseFair>::new();
    /// raw.lock_shared();
    /// assert!(raw.try_lock_shared());
    /// // SAFETY: this thread holds a read lock (two, in fact).
    /// assert!(!unsafe { raw.try_upgrade() }, "another reader holds");
    /// // SAFETY: releases one of the two read locks held.
    /// unsafe { raw.unlock_shared() };
    /// // SAFETY: the remaining read lock is held.
    /// assert!(unsafe { raw.try_upgrade() });
    /// assert!(raw.is_locked_exclusive());
    /// // SAFETY: the upgrade left the write lock held.
    /// unsafe { raw.unlock_exclusive() };
    /// ```
    ///
    /// # Safety
    /// The caller holds a read lock of this lock. On `true` it holds the
    /// write lock instead (and must release it as such).
    #[inline]
    pub unsafe fn try_upgrade(&self) -> bool {
        if P::KIND == PolicyKind::Exclusive {
            return true;
        }
        // The state word is exactly "one reader": no `WRITER`, no `QUEUED`
        // (nobody waits), and the caller is that reader. Swap the reader for
        // the writer in one step. `Acquire` pairs with the `Release` of the
        // readers that left before, whose accesses must precede our writes.
        self.state.compare_exchange(READER, WRITER, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }
}

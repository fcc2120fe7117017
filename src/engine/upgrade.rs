//! Upgrading a read lock to the write lock, when no policy rule objects.

use super::{Ordering, RawRwLock, BIASED, READER, WRITER};
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
        if P::BIASED && self.state.load(Ordering::Relaxed) & BIASED != 0 {
            // Published readers are not in the count: move them there first.
            self.revoke();
        }
        // The state word is exactly "one reader": no `WRITER`, no `QUEUED`
        // (nobody waits), and the caller is that reader. Swap the reader for
        // the writer in one step. `Acquire` pairs with the `Release` of the
        // readers that left before, whose accesses must precede our writes.
        self.state.compare_exchange(READER, WRITER, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }
}

/// loom model: readers that try to upgrade, racing a writer. loom's
/// `UnsafeCell` reports two upgrades at once, or an upgrade beside a reader
/// or the writer, as a data race; a lost hand-off shows up as a deadlock.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::RawRwLock;
    use crate::loom::{Arc, UnsafeCell};
    use crate::policy::{PhaseFair, Policy, ReaderPreferring, WriterPreferring};

    struct Shared<P: Policy> {
        lock: RawRwLock<P>,
        value: UnsafeCell<usize>,
    }
    // SAFETY: `value` is only accessed with `lock` held in the matching mode
    // (loom checks that claim).
    unsafe impl<P: Policy> Sync for Shared<P> {}
    // SAFETY: as above; the value is a plain `usize`.
    unsafe impl<P: Policy> Send for Shared<P> {}

    /// Reads, upgrades if it may, and writes then; returns whether it did.
    fn read_then_maybe_write<P: Policy>(s: &Shared<P>) -> bool {
        s.lock.lock_shared();
        // SAFETY: a read lock is held.
        let seen = s.value.with(|v| unsafe { *v });
        // SAFETY: this thread holds a read lock.
        if unsafe { s.lock.try_upgrade() } {
            // SAFETY: the upgrade left the write lock held.
            s.value.with_mut(|v| unsafe { *v = seen + 1 });
            // SAFETY: the write lock is held.
            unsafe { s.lock.unlock_exclusive() };
            true
        } else {
            // SAFETY: the read lock is still held.
            unsafe { s.lock.unlock_shared() };
            false
        }
    }

    fn upgrade_model<P: Policy>() {
        loom::model(|| {
            let s = Arc::new(Shared::<P> { lock: RawRwLock::new(), value: UnsafeCell::new(0) });
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    let s = s.clone();
                    loom::thread::spawn(move || read_then_maybe_write(&s))
                })
                .collect();
            s.lock.lock_exclusive();
            // SAFETY: the write lock is held.
            s.value.with_mut(|v| unsafe { *v += 1 });
            // SAFETY: taken just above.
            unsafe { s.lock.unlock_exclusive() };
            let upgrades = readers.into_iter().map(|t| t.join().unwrap()).filter(|&u| u).count();
            assert!(!s.lock.is_locked());
            // Every write happened under the write lock, one after another:
            // none was lost.
            s.lock.lock_shared();
            // SAFETY: a read lock is held.
            let v = s.value.with(|v| unsafe { *v });
            // SAFETY: taken just above.
            unsafe { s.lock.unlock_shared() };
            assert_eq!(v, 1 + upgrades);
        });
    }

    #[test]
    fn loom_upgrade_phase_fair() {
        upgrade_model::<PhaseFair>();
    }
    #[test]
    fn loom_upgrade_reader_preferring() {
        upgrade_model::<ReaderPreferring>();
    }
    #[test]
    fn loom_upgrade_writer_preferring() {
        upgrade_model::<WriterPreferring>();
    }
}

//! `unlocked(|| …)`: run code with a guard's lock released, and hold the
//! lock again, in the same mode, afterwards (also when the code panics).

use crate::blocking::arc::{ArcRwLockReadGuard, ArcRwLockWriteGuard};
use crate::blocking::rwlock::{RwLockReadGuard, RwLockWriteGuard};
use crate::engine::bias::ReadToken as _;
use crate::engine::RawRwLock;
use crate::policy::Policy;

/// Releases the lock (held in `shared` or exclusive mode by the caller's
/// guard; a read lock: the one `token` stands for), runs `f`, and takes
/// the lock back in the same mode (a read lock: a counted one, which the
/// guard's old token releases correctly: see `Policy::ReadToken`).
///
/// # Safety
/// The caller's guard holds `raw` in that mode and is not used while `f`
/// runs (it is borrowed mutably by the caller).
unsafe fn unlocked<P: Policy, R>(raw: &RawRwLock<P>, shared: bool, token: P::ReadToken, f: impl FnOnce() -> R) -> R {
    /// Takes the lock back when dropped: after `f` returns or unwinds.
    struct Relock<'a, P: Policy>(&'a RawRwLock<P>, bool);
    impl<P: Policy> Drop for Relock<'_, P> {
        fn drop(&mut self) {
            // The guard will release the lock again, so it must be held
            // again whatever happens: a failure to re-acquire (reader
            // overflow, with about 2³⁰ read guards held) aborts rather than
            // leave a guard that does not hold its lock.
            let relock = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if self.1 {
                    self.0.lock_shared()
                } else {
                    self.0.lock_exclusive()
                }
            }));
            if relock.is_err() {
                std::process::abort();
            }
        }
    }
    // SAFETY: the caller's guard holds the lock in this mode; `Relock`
    // takes it back before the guard can be used or dropped.
    unsafe {
        if shared {
            raw.unlock_read(token)
        } else {
            raw.unlock_exclusive()
        }
    }
    let _relock = Relock(raw, shared);
    f()
}

impl<T: ?Sized, P: Policy> RwLockReadGuard<'_, T, P> {
    /// Runs `f` with the read lock released, and holds a read lock again
    /// when it returns (or panics). The lock is taken again as an arrival:
    /// writers may go first, and the data may have changed.
    ///
    /// ```
    /// use rwlocker::{RwLock, RwLockReadGuard};
    ///
    /// let lock = RwLock::<u32>::new(0);
    /// let mut r = lock.read();
    /// RwLockReadGuard::unlocked(&mut r, || *lock.write() += 1);
    /// assert_eq!(*r, 1);
    /// ```
    pub fn unlocked<R>(this: &mut Self, f: impl FnOnce() -> R) -> R {
        // SAFETY: the guard holds a read lock and is borrowed while `f` runs.
        unsafe { unlocked(this.lock.raw(), true, this.token, f) }
    }
}

impl<T: ?Sized, P: Policy> RwLockWriteGuard<'_, T, P> {
    /// Runs `f` with the write lock released, and holds the write lock
    /// again when it returns (or panics).
    ///
    /// ```
    /// use rwlocker::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::<u32>::new(0);
    /// let mut w = lock.write();
    /// let seen = RwLockWriteGuard::unlocked(&mut w, || *lock.read());
    /// *w += 1;
    /// assert_eq!(seen, 0);
    /// ```
    pub fn unlocked<R>(this: &mut Self, f: impl FnOnce() -> R) -> R {
        // SAFETY: the guard holds the write lock and is borrowed while `f`
        // runs.
        unsafe { unlocked(this.lock.raw(), false, P::ReadToken::COUNTED, f) }
    }
}

impl<T: ?Sized, P: Policy> ArcRwLockReadGuard<T, P> {
    /// Runs `f` with the read lock released, as
    /// [`RwLockReadGuard::unlocked`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rwlocker::{ArcRwLockReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::<u32>::new(0));
    /// let mut r = lock.read_arc();
    /// ArcRwLockReadGuard::unlocked(&mut r, || *lock.write() += 1);
    /// assert_eq!(*r, 1);
    /// ```
    pub fn unlocked<R>(this: &mut Self, f: impl FnOnce() -> R) -> R {
        // SAFETY: the guard holds a read lock and is borrowed while `f` runs.
        unsafe { unlocked(ArcRwLockReadGuard::rwlock(this).raw(), true, ArcRwLockReadGuard::token(this), f) }
    }
}

impl<T: ?Sized, P: Policy> ArcRwLockWriteGuard<T, P> {
    /// Runs `f` with the write lock released, as
    /// [`RwLockWriteGuard::unlocked`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rwlocker::{ArcRwLockWriteGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::<u32>::new(0));
    /// let mut w = lock.write_arc();
    /// assert_eq!(ArcRwLockWriteGuard::unlocked(&mut w, || *lock.read()), 0);
    /// ```
    pub fn unlocked<R>(this: &mut Self, f: impl FnOnce() -> R) -> R {
        // SAFETY: the guard holds the write lock and is borrowed while `f`
        // runs.
        unsafe { unlocked(ArcRwLockWriteGuard::rwlock(this).raw(), false, P::ReadToken::COUNTED, f) }
    }
}

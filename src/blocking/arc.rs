//! Guards that keep an `Arc` of their [`RwLock`] (no lifetime), for locks
//! shared through `Arc` whose guards must outlive a borrow: moved into a
//! thread, stored in a struct, returned from a function.

use core::fmt;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::blocking::rwlock::RwLock;
use crate::engine::bias::ReadToken as _;
use crate::engine::waiter::Kind;
use crate::engine::RawRwLock;
use crate::policy::{PhaseFair, Policy};

impl<T: ?Sized, P: Policy> RwLock<T, P> {
    /// Blocks until a read lock is held; the guard keeps a clone of the
    /// `Arc` (no lifetime).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rwlocker::RwLock;
    ///
    /// let lock = Arc::new(RwLock::<u32>::new(1));
    /// let guard = lock.read_arc();
    /// let t = std::thread::spawn(move || *guard + 1); // the guard moves
    /// assert_eq!(t.join().unwrap(), 2);
    /// ```
    ///
    /// # Panics
    /// If the number of readers would overflow (about 2³⁰ guards).
    pub fn read_arc(self: &Arc<Self>) -> ArcRwLockReadGuard<T, P> {
        let token = self.raw().lock_read();
        // SAFETY: the read lock `token` stands for is held; the guard releases it.
        unsafe { ArcRwLockReadGuard::with_token(self.clone(), token) }
    }

    /// Blocks until the write lock is held; the guard keeps a clone of the
    /// `Arc`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rwlocker::RwLock;
    ///
    /// let lock = Arc::new(RwLock::<u32>::new(1));
    /// let mut guard = lock.write_arc();
    /// std::thread::spawn(move || *guard += 1).join().unwrap();
    /// assert_eq!(*lock.read(), 2);
    /// ```
    pub fn write_arc(self: &Arc<Self>) -> ArcRwLockWriteGuard<T, P> {
        self.raw().lock_exclusive();
        // SAFETY: the write lock is held and the guard releases it.
        unsafe { ArcRwLockWriteGuard::new(self.clone()) }
    }

    /// [`try_read`](Self::try_read) with a guard that keeps the `Arc`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(rwlocker::RwLock::<u32>::new(1));
    /// let w = lock.write_arc();
    /// assert!(lock.try_read_arc().is_none());
    /// drop(w);
    /// assert_eq!(*lock.try_read_arc().unwrap(), 1);
    /// ```
    pub fn try_read_arc(self: &Arc<Self>) -> Option<ArcRwLockReadGuard<T, P>> {
        let token = self.raw().read_with(RawRwLock::try_lock_shared)?;
        // SAFETY: the read lock `token` stands for is held.
        Some(unsafe { ArcRwLockReadGuard::with_token(self.clone(), token) })
    }

    /// [`try_write`](Self::try_write) with a guard that keeps the `Arc`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let lock = Arc::new(rwlocker::RwLock::<u32>::new(1));
    /// let r = lock.read_arc();
    /// assert!(lock.try_write_arc().is_none());
    /// drop(r);
    /// *lock.try_write_arc().unwrap() += 1;
    /// ```
    pub fn try_write_arc(self: &Arc<Self>) -> Option<ArcRwLockWriteGuard<T, P>> {
        // SAFETY: the write lock is held when the call returns true.
        self.raw().try_lock_exclusive().then(|| unsafe { ArcRwLockWriteGuard::new(self.clone()) })
    }

    /// [`try_read_for`](Self::try_read_for) with a guard that keeps the `Arc`.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    ///
    /// let lock = Arc::new(rwlocker::RwLock::<u32>::new(1));
    /// assert!(lock.try_read_arc_for(Duration::from_millis(5)).is_some());
    /// ```
    pub fn try_read_arc_for(self: &Arc<Self>, timeout: Duration) -> Option<ArcRwLockReadGuard<T, P>> {
        let token = self.raw().read_with(|raw| raw.try_lock_shared_for(timeout))?;
        // SAFETY: the read lock `token` stands for is held.
        Some(unsafe { ArcRwLockReadGuard::with_token(self.clone(), token) })
    }

    /// [`try_read_until`](Self::try_read_until) with a guard that keeps the
    /// `Arc`.
    ///
    /// ```
    /// use std::{sync::Arc, time::{Duration, Instant}};
    ///
    /// let lock = Arc::new(rwlocker::RwLock::<u32>::new(1));
    /// let w = lock.write_arc();
    /// assert!(lock.try_read_arc_until(Instant::now() + Duration::from_millis(5)).is_none());
    /// ```
    pub fn try_read_arc_until(self: &Arc<Self>, deadline: Instant) -> Option<ArcRwLockReadGuard<T, P>> {
        let token = self.raw().read_with(|raw| raw.try_lock_shared_until(deadline))?;
        // SAFETY: the read lock `token` stands for is held.
        Some(unsafe { ArcRwLockReadGuard::with_token(self.clone(), token) })
    }

    /// [`try_write_for`](Self::try_write_for) with a guard that keeps the
    /// `Arc`.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    ///
    /// let lock = Arc::new(rwlocker::RwLock::<u32>::new(1));
    /// let r = lock.read_arc();
    /// assert!(lock.try_write_arc_for(Duration::from_millis(5)).is_none());
    /// ```
    pub fn try_write_arc_for(self: &Arc<Self>, timeout: Duration) -> Option<ArcRwLockWriteGuard<T, P>> {
        // SAFETY: the write lock is held when the call returns true.
        self.raw().try_lock_exclusive_for(timeout).then(|| unsafe { ArcRwLockWriteGuard::new(self.clone()) })
    }

    /// [`try_write_until`](Self::try_write_until) with a guard that keeps
    /// the `Arc`.
    ///
    /// ```
    /// use std::{sync::Arc, time::{Duration, Instant}};
    ///
    /// let lock = Arc::new(rwlocker::RwLock::<u32>::new(1));
    /// *lock.try_write_arc_until(Instant::now() + Duration::from_millis(5)).unwrap() += 1;
    /// ```
    pub fn try_write_arc_until(self: &Arc<Self>, deadline: Instant) -> Option<ArcRwLockWriteGuard<T, P>> {
        // SAFETY: the write lock is held when the call returns true.
        self.raw().try_lock_exclusive_until(deadline).then(|| unsafe { ArcRwLockWriteGuard::new(self.clone()) })
    }
}

/// A read lock on an `Arc<RwLock>` ([`RwLock::read_arc`]); released on drop.
/// It works with [`RwCondvar`](crate::RwCondvar) like the borrowed guards.
#[must_use = "if unused the lock is released at once"]
pub struct ArcRwLockReadGuard<T: ?Sized, P: Policy = PhaseFair> {
    lock: ManuallyDrop<Arc<RwLock<T, P>>>,
    /// What the read lock's release needs (see `Policy::ReadToken`).
    token: P::ReadToken,
}

/// The write lock on an `Arc<RwLock>` ([`RwLock::write_arc`]); released on
/// drop. It works with [`RwCondvar`](crate::RwCondvar) like the borrowed
/// guards.
#[must_use = "if unused the lock is released at once"]
pub struct ArcRwLockWriteGuard<T: ?Sized, P: Policy = PhaseFair> {
    lock: ManuallyDrop<Arc<RwLock<T, P>>>,
}

// SAFETY: sending the guard sends an `Arc` of the lock (which needs the lock
// to be `Send + Sync`: `T: Send` and `P::Shared<T>: Sync`) and the right to
// reach the data on the receiving thread, which the lock being `Sync` allows;
// the engine lets any thread release.
unsafe impl<T: ?Sized + Send, P: Policy> Send for ArcRwLockReadGuard<T, P> where P::Shared<T>: Sync {}
// SAFETY: sharing the guard shares `&T` (needs `T: Sync`) and `&Arc` of the
// lock (needs the lock `Send + Sync`).
unsafe impl<T: ?Sized + Send + Sync, P: Policy> Sync for ArcRwLockReadGuard<T, P> where P::Shared<T>: Sync {}
// SAFETY: as for the read guard; `&mut T` on the receiving thread needs
// `T: Send`, which the bound has.
unsafe impl<T: ?Sized + Send, P: Policy> Send for ArcRwLockWriteGuard<T, P> where P::Shared<T>: Sync {}
// SAFETY: sharing the guard shares only `&T` and `&Arc` of the lock.
unsafe impl<T: ?Sized + Send + Sync, P: Policy> Sync for ArcRwLockWriteGuard<T, P> where P::Shared<T>: Sync {}

macro_rules! arc_guard_common {
    ($guard:ident, $kind:expr, $token_of:expr $(, $token:ident)?) => {
        impl<T: ?Sized, P: Policy> $guard<T, P> {
            /// # Safety
            /// The lock is held in this guard's mode (a read lock: a counted
            /// one); the guard releases it.
            #[inline]
            pub(crate) unsafe fn new(lock: Arc<RwLock<T, P>>) -> Self {
                $guard { lock: ManuallyDrop::new(lock) $(, $token: P::ReadToken::COUNTED)? }
            }

            /// Gives up the guard without releasing the lock; returns the
            /// `Arc`.
            pub(crate) fn into_lock(this: Self) -> Arc<RwLock<T, P>> {
                let mut this = ManuallyDrop::new(this);
                // SAFETY: `this` is never dropped, so the `Arc` is moved out
                // once.
                unsafe { ManuallyDrop::take(&mut this.lock) }
            }

            /// The lock this guard belongs to.
            pub fn rwlock(this: &Self) -> &Arc<RwLock<T, P>> {
                &this.lock
            }
        }

        impl<T: ?Sized, P: Policy> Deref for $guard<T, P> {
            type Target = T;
            #[inline]
            fn deref(&self) -> &T {
                // SAFETY: the guard holds the lock, so no `&mut T` exists
                // besides one this guard itself hands out.
                unsafe { &*self.lock.data_ptr() }
            }
        }

        impl<T: ?Sized, P: Policy> Drop for $guard<T, P> {
            #[inline]
            fn drop(&mut self) {
                // SAFETY: the guard holds the lock in this mode and gives it
                // up exactly once; the `Arc` is dropped once, after the
                // release.
                #[allow(clippy::redundant_closure_call)]
                unsafe {
                    self.lock.raw().unlock_held($kind, ($token_of)(&*self));
                    ManuallyDrop::drop(&mut self.lock);
                }
            }
        }

        impl<T: ?Sized + fmt::Debug, P: Policy> fmt::Debug for $guard<T, P> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: ?Sized + fmt::Display, P: Policy> fmt::Display for $guard<T, P> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }
    };
}

arc_guard_common!(ArcRwLockReadGuard, Kind::Read, |g: &Self| g.token, token);
arc_guard_common!(ArcRwLockWriteGuard, Kind::Write, |_: &Self| P::ReadToken::COUNTED);

impl<T: ?Sized, P: Policy> ArcRwLockReadGuard<T, P> {
    /// # Safety
    /// The read lock `token` stands for is held; the guard releases it.
    #[inline]
    pub(crate) unsafe fn with_token(lock: Arc<RwLock<T, P>>, token: P::ReadToken) -> Self {
        ArcRwLockReadGuard { lock: ManuallyDrop::new(lock), token }
    }

    /// The read lock's token, for a release by hand.
    pub(crate) fn token(this: &Self) -> P::ReadToken {
        this.token
    }
}

impl<T: ?Sized, P: Policy> DerefMut for ArcRwLockWriteGuard<T, P> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock: access is exclusive.
        unsafe { &mut *self.lock.data_ptr() }
    }
}

impl<T: ?Sized, P: Policy> ArcRwLockReadGuard<T, P> {
    /// Turns this read lock into the write lock if that breaks no policy
    /// rule; otherwise returns the guard, still reading. See
    /// [`RwLockReadGuard::try_upgrade`](crate::RwLockReadGuard::try_upgrade).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rwlocker::{ArcRwLockReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::<u32>::new(0));
    /// let mut w = ArcRwLockReadGuard::try_upgrade(lock.read_arc()).expect("the only reader");
    /// *w += 1;
    /// ```
    pub fn try_upgrade(this: Self) -> Result<ArcRwLockWriteGuard<T, P>, Self> {
        // SAFETY: the guard holds a read lock of this lock: counted in, it
        // is the one the upgrade looks for.
        if unsafe {
            this.lock.raw().count_in(this.token);
            this.lock.raw().try_upgrade()
        } {
            // SAFETY: the read lock became the write lock, which passes to
            // the new guard.
            Ok(unsafe { ArcRwLockWriteGuard::new(Self::into_lock(this)) })
        } else {
            Err(this)
        }
    }
}

impl<T: ?Sized, P: Policy> ArcRwLockWriteGuard<T, P> {
    /// Turns the write lock into a read lock atomically, as
    /// [`RwLockWriteGuard::downgrade`](crate::RwLockWriteGuard::downgrade).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rwlocker::{ArcRwLockWriteGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::<u32>::new(0));
    /// let mut w = lock.write_arc();
    /// *w = 1;
    /// let r = ArcRwLockWriteGuard::downgrade(w);
    /// assert!(lock.try_write().is_none());
    /// assert_eq!(*r, 1);
    /// ```
    pub fn downgrade(this: Self) -> ArcRwLockReadGuard<T, P> {
        let lock = Self::into_lock(this);
        // SAFETY: we held the write lock; after the downgrade we hold a read
        // lock, which passes to the new guard.
        unsafe {
            lock.raw().downgrade();
            ArcRwLockReadGuard::new(lock)
        }
    }
}

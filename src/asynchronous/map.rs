//! Mapping async guards to a part of the data: borrowed guards map to the
//! blocking [`MappedRwLockReadGuard`] / [`MappedRwLockWriteGuard`] (the same
//! raw lock underneath), owned guards to [`OwnedMappedAsyncRwLockReadGuard`]
//! / [`OwnedMappedAsyncRwLockWriteGuard`], which keep the `Arc`.
//!
//! A mapped write guard cannot be downgraded: the part was reached through
//! `&mut T`, and shared access to it need not be sound (tokio#3344). Use
//! `downgrade_map` on the unmapped write guard instead.

use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use std::sync::Arc;

use super::{
    AsyncRwLock, AsyncRwLockReadGuard, AsyncRwLockWriteGuard, OwnedAsyncRwLockReadGuard, OwnedAsyncRwLockWriteGuard,
};
use crate::blocking::rwlock::{MappedRwLockReadGuard, MappedRwLockWriteGuard};
use crate::engine::bias::ReadToken as _;
use crate::engine::waiter::Kind;
use crate::policy::{PhaseFair, Policy};

impl<'a, T: ?Sized, P: Policy> AsyncRwLockReadGuard<'a, T, P> {
    /// A guard for a part of the data, keeping the same read lock.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use rwlocker::{AsyncRwLock, AsyncRwLockReadGuard};
    ///
    /// let lock = AsyncRwLock::<(u32, String)>::new((1, "a".into()));
    /// let name = AsyncRwLockReadGuard::map(lock.read().await, |(_, n)| n.as_str());
    /// assert_eq!(&*name, "a");
    /// # });
    /// ```
    pub fn map<U: ?Sized>(this: Self, f: impl FnOnce(&T) -> &U) -> MappedRwLockReadGuard<'a, U, P> {
        let data = NonNull::from(f(&*this));
        let (lock, token) = Self::into_parts(this);
        // SAFETY: the read lock passes from the consumed guard; `data` came
        // from `&T` under it.
        unsafe { MappedRwLockReadGuard::from_raw(&lock.raw, token, data) }
    }

    /// A guard for a part of the data if `f` finds one; otherwise the guard
    /// back.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use rwlocker::{AsyncRwLock, AsyncRwLockReadGuard};
    ///
    /// let lock = AsyncRwLock::<Vec<u32>>::new(vec![4]);
    /// let g = AsyncRwLockReadGuard::try_map(lock.read().await, |v| v.get(2)).unwrap_err();
    /// assert_eq!(*AsyncRwLockReadGuard::try_map(g, |v| v.first()).unwrap(), 4);
    /// # });
    /// ```
    pub fn try_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<MappedRwLockReadGuard<'a, U, P>, Self> {
        match f(&*this).map(NonNull::from) {
            Some(data) => {
                let (lock, token) = Self::into_parts(this);
                // SAFETY: as in `map`.
                Ok(unsafe { MappedRwLockReadGuard::from_raw(&lock.raw, token, data) })
            }
            None => Err(this),
        }
    }
}

impl<'a, T: ?Sized, P: Policy> AsyncRwLockWriteGuard<'a, T, P> {
    /// A guard for a part of the data, keeping the write lock.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use rwlocker::{AsyncRwLock, AsyncRwLockWriteGuard};
    ///
    /// let lock = AsyncRwLock::<(u32, String)>::new((1, "a".into()));
    /// AsyncRwLockWriteGuard::map(lock.write().await, |(_, n)| n).push('b');
    /// assert_eq!(lock.read().await.1, "ab");
    /// # });
    /// ```
    pub fn map<U: ?Sized>(mut this: Self, f: impl FnOnce(&mut T) -> &mut U) -> MappedRwLockWriteGuard<'a, U, P> {
        let data = NonNull::from(f(&mut *this));
        let lock = Self::into_lock(this);
        // SAFETY: the write lock passes from the consumed guard; `data` came
        // from `&mut T` under it.
        unsafe { MappedRwLockWriteGuard::from_raw(&lock.raw, data) }
    }

    /// A guard for a part of the data if `f` finds one, keeping the write
    /// lock; otherwise the guard back.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use rwlocker::{AsyncRwLock, AsyncRwLockWriteGuard};
    ///
    /// let lock = AsyncRwLock::<Vec<u32>>::new(vec![4]);
    /// let g = AsyncRwLockWriteGuard::try_map(lock.write().await, |v| v.get_mut(2)).unwrap_err();
    /// *AsyncRwLockWriteGuard::try_map(g, |v| v.first_mut()).unwrap() += 1;
    /// assert_eq!(*lock.read().await, [5]);
    /// # });
    /// ```
    pub fn try_map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<MappedRwLockWriteGuard<'a, U, P>, Self> {
        match f(&mut *this).map(NonNull::from) {
            Some(data) => {
                let lock = Self::into_lock(this);
                // SAFETY: as in `map`.
                Ok(unsafe { MappedRwLockWriteGuard::from_raw(&lock.raw, data) })
            }
            None => Err(this),
        }
    }

    /// Downgrades atomically to a read guard for a part of the data, as
    /// [`RwLockWriteGuard::downgrade_map`](crate::RwLockWriteGuard::downgrade_map).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use rwlocker::{AsyncRwLock, AsyncRwLockWriteGuard};
    ///
    /// let lock = AsyncRwLock::<(u32, String)>::new((1, "a".into()));
    /// let n = AsyncRwLockWriteGuard::downgrade_map(lock.write().await, |(n, _)| n);
    /// assert!(lock.try_write().is_none());
    /// assert!(lock.try_read().is_some());
    /// assert_eq!(*n, 1);
    /// # });
    /// ```
    pub fn downgrade_map<U: ?Sized>(this: Self, f: impl FnOnce(&T) -> &U) -> MappedRwLockReadGuard<'a, U, P> {
        let data = NonNull::from(f(&*this));
        let lock = Self::into_lock(this);
        // SAFETY: the consumed guard held the write lock; after the
        // downgrade a read lock is held, under which `data` (from `&T`)
        // stays valid; it passes to the mapped guard.
        unsafe {
            lock.raw.downgrade();
            MappedRwLockReadGuard::from_raw(&lock.raw, P::ReadToken::COUNTED, data)
        }
    }

    /// [`downgrade_map`](Self::downgrade_map) if `f` finds a part;
    /// otherwise the write guard back.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use rwlocker::{AsyncRwLock, AsyncRwLockWriteGuard};
    ///
    /// let lock = AsyncRwLock::<Vec<u32>>::new(vec![4]);
    /// let w = AsyncRwLockWriteGuard::try_downgrade_map(lock.write().await, |v| v.get(2)).unwrap_err();
    /// assert_eq!(*AsyncRwLockWriteGuard::try_downgrade_map(w, |v| v.first()).unwrap(), 4);
    /// # });
    /// ```
    pub fn try_downgrade_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<MappedRwLockReadGuard<'a, U, P>, Self> {
        match f(&*this).map(NonNull::from) {
            Some(data) => {
                let lock = Self::into_lock(this);
                // SAFETY: as in `downgrade_map`.
                unsafe {
                    lock.raw.downgrade();
                    Ok(MappedRwLockReadGuard::from_raw(&lock.raw, P::ReadToken::COUNTED, data))
                }
            }
            None => Err(this),
        }
    }
}

/// A read guard for part of the data of an `Arc<AsyncRwLock<T, P>>`
/// ([`OwnedAsyncRwLockReadGuard::map`]); it keeps the `Arc`.
#[must_use = "if unused the lock is released at once"]
pub struct OwnedMappedAsyncRwLockReadGuard<T: ?Sized, U: ?Sized, P: Policy = PhaseFair> {
    lock: ManuallyDrop<Arc<AsyncRwLock<T, P>>>,
    /// What the read lock's release needs (see `Policy::ReadToken`).
    token: P::ReadToken,
    data: NonNull<U>,
    _marker: PhantomData<*const ()>,
}

/// A write guard for part of the data of an `Arc<AsyncRwLock<T, P>>`
/// ([`OwnedAsyncRwLockWriteGuard::map`]); it keeps the `Arc`. It has no
/// `downgrade`.
#[must_use = "if unused the lock is released at once"]
pub struct OwnedMappedAsyncRwLockWriteGuard<T: ?Sized, U: ?Sized, P: Policy = PhaseFair> {
    lock: ManuallyDrop<Arc<AsyncRwLock<T, P>>>,
    data: NonNull<U>,
    _marker: PhantomData<*const ()>,
}

// SAFETY: sending the guard sends an `Arc` of the lock (the lock must be
// `Send + Sync`: `T: Send`, `P::Shared<T>: Sync`) and `&U` access on the
// receiving thread while other readers may hold `&U` too (`U: Sync`).
unsafe impl<T: ?Sized + Send, U: ?Sized + Sync, P: Policy> Send for OwnedMappedAsyncRwLockReadGuard<T, U, P> where
    P::Shared<T>: Sync
{
}
// SAFETY: sharing the guard shares `&U`; `T: Sync` as for every guard.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Sync, P: Policy> Sync for OwnedMappedAsyncRwLockReadGuard<T, U, P> where
    P::Shared<T>: Sync
{
}
// SAFETY: as for the read guard; `&mut U` on the receiving thread needs
// `U: Send`, and `&U` through it `U: Sync`.
unsafe impl<T: ?Sized + Send, U: ?Sized + Send + Sync, P: Policy> Send for OwnedMappedAsyncRwLockWriteGuard<T, U, P> where
    P::Shared<T>: Sync
{
}
// SAFETY: sharing the guard shares only `&U`.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Sync, P: Policy> Sync for OwnedMappedAsyncRwLockWriteGuard<T, U, P> where
    P::Shared<T>: Sync
{
}

macro_rules! owned_mapped_common {
    ($guard:ident, $kind:expr, $token:expr) => {
        impl<T: ?Sized, U: ?Sized, P: Policy> Deref for $guard<T, U, P> {
            type Target = U;
            #[inline]
            fn deref(&self) -> &U {
                // SAFETY: `data` points into the data under the lock this
                // guard holds, and was derived with the access it grants.
                unsafe { self.data.as_ref() }
            }
        }

        impl<T: ?Sized, U: ?Sized, P: Policy> Drop for $guard<T, U, P> {
            fn drop(&mut self) {
                // SAFETY: the guard holds the lock in this mode and gives it
                // up exactly once; the `Arc` is dropped once, after.
                unsafe {
                    #[allow(clippy::redundant_closure_call)]
                    self.lock.raw.unlock_held($kind, ($token)(&*self));
                    ManuallyDrop::drop(&mut self.lock);
                }
            }
        }

        impl<T: ?Sized, U: ?Sized + fmt::Debug, P: Policy> fmt::Debug for $guard<T, U, P> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: ?Sized, U: ?Sized + fmt::Display, P: Policy> fmt::Display for $guard<T, U, P> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }

        impl<T: ?Sized, U: ?Sized, P: Policy> $guard<T, U, P> {
            /// Gives up the guard without releasing the lock; returns the
            /// `Arc` and the token.
            fn into_parts(this: Self) -> (Arc<AsyncRwLock<T, P>>, P::ReadToken) {
                let mut this = ManuallyDrop::new(this);
                // SAFETY: `this` is never dropped, so the `Arc` is moved out
                // once.
                #[allow(clippy::redundant_closure_call)]
                let token = ($token)(&*this);
                // SAFETY: `this` is never dropped, so the `Arc` is moved out
                // once.
                (unsafe { ManuallyDrop::take(&mut this.lock) }, token)
            }
        }
    };
}

owned_mapped_common!(OwnedMappedAsyncRwLockReadGuard, Kind::Read, |g: &Self| g.token);
owned_mapped_common!(OwnedMappedAsyncRwLockWriteGuard, Kind::Write, |_: &Self| P::ReadToken::COUNTED);

impl<T: ?Sized, U: ?Sized, P: Policy> DerefMut for OwnedMappedAsyncRwLockWriteGuard<T, U, P> {
    #[inline]
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: `data` came from `&mut T` under the write lock this guard
        // holds, and `&mut self` makes this the only access.
        unsafe { self.data.as_mut() }
    }
}

impl<T: ?Sized, P: Policy> OwnedAsyncRwLockReadGuard<T, P> {
    /// A guard for a part of the data, keeping the read lock and the `Arc`.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    /// use rwlocker::{AsyncRwLock, OwnedAsyncRwLockReadGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::<(u32, String)>::new((1, "a".into())));
    /// let name = OwnedAsyncRwLockReadGuard::map(lock.read_owned().await, |(_, n)| n.as_str());
    /// assert_eq!(&*name, "a");
    /// # });
    /// ```
    pub fn map<U: ?Sized>(this: Self, f: impl FnOnce(&T) -> &U) -> OwnedMappedAsyncRwLockReadGuard<T, U, P> {
        let data = NonNull::from(f(&*this));
        let (lock, token) = Self::into_parts(this);
        let lock = ManuallyDrop::new(lock);
        OwnedMappedAsyncRwLockReadGuard { lock, token, data, _marker: PhantomData }
    }

    /// A guard for a part of the data if `f` finds one; otherwise the guard
    /// back.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    /// use rwlocker::{AsyncRwLock, OwnedAsyncRwLockReadGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::<Vec<u32>>::new(vec![3]));
    /// let g = OwnedAsyncRwLockReadGuard::try_map(lock.read_owned().await, |v| v.get(1)).unwrap_err();
    /// assert_eq!(*OwnedAsyncRwLockReadGuard::try_map(g, |v| v.first()).unwrap(), 3);
    /// # });
    /// ```
    pub fn try_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<OwnedMappedAsyncRwLockReadGuard<T, U, P>, Self> {
        match f(&*this).map(NonNull::from) {
            Some(data) => {
                let (lock, token) = Self::into_parts(this);
                let lock = ManuallyDrop::new(lock);
                Ok(OwnedMappedAsyncRwLockReadGuard { lock, token, data, _marker: PhantomData })
            }
            None => Err(this),
        }
    }
}

impl<T: ?Sized, P: Policy> OwnedAsyncRwLockWriteGuard<T, P> {
    /// A guard for a part of the data, keeping the write lock and the `Arc`.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    /// use rwlocker::{AsyncRwLock, OwnedAsyncRwLockWriteGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::<(u32, String)>::new((1, "a".into())));
    /// OwnedAsyncRwLockWriteGuard::map(lock.clone().write_owned().await, |(_, n)| n).push('b');
    /// assert_eq!(lock.read().await.1, "ab");
    /// # });
    /// ```
    pub fn map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> &mut U,
    ) -> OwnedMappedAsyncRwLockWriteGuard<T, U, P> {
        let data = NonNull::from(f(&mut *this));
        let (lock, _) = Self::into_parts(this);
        let lock = ManuallyDrop::new(lock);
        OwnedMappedAsyncRwLockWriteGuard { lock, data, _marker: PhantomData }
    }

    /// A guard for a part of the data if `f` finds one, keeping the write
    /// lock; otherwise the guard back.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    /// use rwlocker::{AsyncRwLock, OwnedAsyncRwLockWriteGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::<Vec<u32>>::new(vec![3]));
    /// let g = OwnedAsyncRwLockWriteGuard::try_map(lock.clone().write_owned().await, |v| v.get_mut(1)).unwrap_err();
    /// *OwnedAsyncRwLockWriteGuard::try_map(g, |v| v.first_mut()).unwrap() += 1;
    /// assert_eq!(*lock.read().await, [4]);
    /// # });
    /// ```
    pub fn try_map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<OwnedMappedAsyncRwLockWriteGuard<T, U, P>, Self> {
        match f(&mut *this).map(NonNull::from) {
            Some(data) => {
                let (lock, _) = Self::into_parts(this);
                let lock = ManuallyDrop::new(lock);
                Ok(OwnedMappedAsyncRwLockWriteGuard { lock, data, _marker: PhantomData })
            }
            None => Err(this),
        }
    }

    /// Downgrades atomically to a read guard for a part of the data, as
    /// [`RwLockWriteGuard::downgrade_map`](crate::RwLockWriteGuard::downgrade_map).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    /// use rwlocker::{AsyncRwLock, OwnedAsyncRwLockWriteGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::<(u32, String)>::new((1, "a".into())));
    /// let n = OwnedAsyncRwLockWriteGuard::downgrade_map(lock.clone().write_owned().await, |(n, _)| n);
    /// assert!(lock.try_write().is_none());
    /// assert!(lock.try_read().is_some());
    /// assert_eq!(*n, 1);
    /// # });
    /// ```
    pub fn downgrade_map<U: ?Sized>(this: Self, f: impl FnOnce(&T) -> &U) -> OwnedMappedAsyncRwLockReadGuard<T, U, P> {
        let data = NonNull::from(f(&*this));
        let (lock, token) = Self::into_parts(this);
        let lock = ManuallyDrop::new(lock);
        // SAFETY: the consumed guard held the write lock; after the
        // downgrade a read lock is held, under which `data` (from `&T`)
        // stays valid; it passes to the mapped guard.
        unsafe { lock.raw.downgrade() };
        OwnedMappedAsyncRwLockReadGuard { lock, token, data, _marker: PhantomData }
    }

    /// [`downgrade_map`](Self::downgrade_map) if `f` finds a part;
    /// otherwise the write guard back.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    /// use rwlocker::{AsyncRwLock, OwnedAsyncRwLockWriteGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::<Vec<u32>>::new(vec![3]));
    /// let w = OwnedAsyncRwLockWriteGuard::try_downgrade_map(lock.write_owned().await, |v| v.get(1)).unwrap_err();
    /// assert_eq!(*OwnedAsyncRwLockWriteGuard::try_downgrade_map(w, |v| v.first()).unwrap(), 3);
    /// # });
    /// ```
    pub fn try_downgrade_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<OwnedMappedAsyncRwLockReadGuard<T, U, P>, Self> {
        match f(&*this).map(NonNull::from) {
            Some(data) => {
                let (lock, token) = Self::into_parts(this);
                let lock = ManuallyDrop::new(lock);
                // SAFETY: as in `downgrade_map`.
                unsafe { lock.raw.downgrade() };
                Ok(OwnedMappedAsyncRwLockReadGuard { lock, token, data, _marker: PhantomData })
            }
            None => Err(this),
        }
    }
}

impl<T: ?Sized, U: ?Sized, P: Policy> OwnedMappedAsyncRwLockReadGuard<T, U, P> {
    /// Maps further into the data.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    /// use rwlocker::{AsyncRwLock, OwnedAsyncRwLockReadGuard, OwnedMappedAsyncRwLockReadGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::<Vec<Vec<u32>>>::new(vec![vec![3]]));
    /// let row = OwnedAsyncRwLockReadGuard::map(lock.read_owned().await, |v| &v[0]);
    /// assert_eq!(*OwnedMappedAsyncRwLockReadGuard::map(row, |r| &r[0]), 3);
    /// # });
    /// ```
    pub fn map<V: ?Sized>(this: Self, f: impl FnOnce(&U) -> &V) -> OwnedMappedAsyncRwLockReadGuard<T, V, P> {
        let data = NonNull::from(f(&*this));
        let (lock, token) = Self::into_parts(this);
        let lock = ManuallyDrop::new(lock);
        OwnedMappedAsyncRwLockReadGuard { lock, token, data, _marker: PhantomData }
    }

    /// Maps further into the data if `f` finds a part; otherwise the guard
    /// back.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    /// use rwlocker::{AsyncRwLock, OwnedAsyncRwLockReadGuard, OwnedMappedAsyncRwLockReadGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::<Vec<Vec<u32>>>::new(vec![vec![3]]));
    /// let row = OwnedAsyncRwLockReadGuard::map(lock.read_owned().await, |v| &v[0]);
    /// let row = OwnedMappedAsyncRwLockReadGuard::try_map(row, |r| r.get(1)).unwrap_err();
    /// assert_eq!(*OwnedMappedAsyncRwLockReadGuard::try_map(row, |r| r.first()).unwrap(), 3);
    /// # });
    /// ```
    pub fn try_map<V: ?Sized>(
        this: Self,
        f: impl FnOnce(&U) -> Option<&V>,
    ) -> Result<OwnedMappedAsyncRwLockReadGuard<T, V, P>, Self> {
        match f(&*this).map(NonNull::from) {
            Some(data) => {
                let (lock, token) = Self::into_parts(this);
                let lock = ManuallyDrop::new(lock);
                Ok(OwnedMappedAsyncRwLockReadGuard { lock, token, data, _marker: PhantomData })
            }
            None => Err(this),
        }
    }
}

impl<T: ?Sized, U: ?Sized, P: Policy> OwnedMappedAsyncRwLockWriteGuard<T, U, P> {
    /// Maps further into the data.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    /// use rwlocker::{AsyncRwLock, OwnedAsyncRwLockWriteGuard, OwnedMappedAsyncRwLockWriteGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::<Vec<Vec<u32>>>::new(vec![vec![3]]));
    /// let row = OwnedAsyncRwLockWriteGuard::map(lock.clone().write_owned().await, |v| &mut v[0]);
    /// *OwnedMappedAsyncRwLockWriteGuard::map(row, |r| &mut r[0]) += 1;
    /// assert_eq!(lock.read().await[0], [4]);
    /// # });
    /// ```
    pub fn map<V: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut U) -> &mut V,
    ) -> OwnedMappedAsyncRwLockWriteGuard<T, V, P> {
        let data = NonNull::from(f(&mut *this));
        let (lock, _) = Self::into_parts(this);
        let lock = ManuallyDrop::new(lock);
        OwnedMappedAsyncRwLockWriteGuard { lock, data, _marker: PhantomData }
    }

    /// Maps further into the data if `f` finds a part; otherwise the guard
    /// back.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    /// use rwlocker::{AsyncRwLock, OwnedAsyncRwLockWriteGuard, OwnedMappedAsyncRwLockWriteGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::<Vec<Vec<u32>>>::new(vec![vec![3]]));
    /// let row = OwnedAsyncRwLockWriteGuard::map(lock.clone().write_owned().await, |v| &mut v[0]);
    /// let row = OwnedMappedAsyncRwLockWriteGuard::try_map(row, |r| r.get_mut(1)).unwrap_err();
    /// *OwnedMappedAsyncRwLockWriteGuard::try_map(row, |r| r.first_mut()).unwrap() += 1;
    /// assert_eq!(lock.read().await[0], [4]);
    /// # });
    /// ```
    pub fn try_map<V: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut U) -> Option<&mut V>,
    ) -> Result<OwnedMappedAsyncRwLockWriteGuard<T, V, P>, Self> {
        match f(&mut *this).map(NonNull::from) {
            Some(data) => {
                let (lock, _) = Self::into_parts(this);
                let lock = ManuallyDrop::new(lock);
                Ok(OwnedMappedAsyncRwLockWriteGuard { lock, data, _marker: PhantomData })
            }
            None => Err(this),
        }
    }
}

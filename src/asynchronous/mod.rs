//! The async (task) front of the engine: [`AsyncRwLock`] and its guards.
//!
//! Runtime-agnostic: futures register the task's `Waker` with the engine's
//! queue and are woken by the engine exactly as parked threads are.

mod acquire;
mod map;

use core::cell::UnsafeCell;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;

pub(crate) use acquire::Acquire;
pub use acquire::RawAcquire;
pub use map::{OwnedMappedAsyncRwLockReadGuard, OwnedMappedAsyncRwLockWriteGuard};

use crate::engine::bias::ReadToken as _;
use crate::engine::waiter::Kind;
use crate::engine::RawRwLock;
use crate::policy::{Exclusive, PhaseFair, Policy};

/// A reader-writer lock for async tasks, with an admission [`Policy`].
///
/// The same engine and policies as [`RwLock`](crate::RwLock); any executor
/// works (the crate depends on none). Threads may share the lock through
/// [`read_blocking`](Self::read_blocking) and
/// [`write_blocking`](Self::write_blocking).
///
/// **Cancellation** is safe at every await point: dropping an acquire
/// future leaves no trace in the queue, admits at once whoever it was
/// holding back, and releases a grant it had already received. Timeouts are
/// therefore simply the caller's, e.g. `tokio::time::timeout(d, lock.write())`.
///
/// ```
/// # futures::executor::block_on(async {
/// use rwlocker::AsyncRwLock;
///
/// let lock = AsyncRwLock::<_>::new(5);
/// {
///     let r1 = lock.read().await;
///     let r2 = lock.read().await;
///     assert_eq!(*r1 + *r2, 10);
/// }
/// *lock.write().await += 1;
/// assert_eq!(*lock.read().await, 6);
/// # });
/// ```
pub struct AsyncRwLock<T: ?Sized, P: Policy = PhaseFair> {
    raw: RawRwLock<P>,
    data: UnsafeCell<T>,
}

/// A fair (FIFO) async mutex: an [`AsyncRwLock`] whose every acquisition is
/// exclusive; [`lock`](AsyncRwLock::lock) returns a write guard.
pub type AsyncMutex<T> = AsyncRwLock<T, Exclusive>;

// SAFETY: the lock owns a `T`; moving it moves the `T`.
unsafe impl<T: ?Sized + Send, P: Policy> Send for AsyncRwLock<T, P> {}
// SAFETY: as for `RwLock`: writers need `T: Send`, shared readers need
// `T: Sync` unless the policy is `Exclusive` (`P::Shared<T>`).
unsafe impl<T: ?Sized + Send, P: Policy> Sync for AsyncRwLock<T, P> where P::Shared<T>: Sync {}

impl<T, P: Policy> AsyncRwLock<T, P> {
    crate::engine::maybe_const_fn! {
        /// Creates a new, unlocked lock holding `value`.
        pub fn new(value: T) -> Self {
            AsyncRwLock { raw: RawRwLock::new(), data: UnsafeCell::new(value) }
        }
    }

    /// Consumes the lock and returns the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized, P: Policy> AsyncRwLock<T, P> {
    /// Waits for a read lock.
    ///
    /// The future joins the queue at its first `Pending` poll.
    pub fn read(&self) -> AsyncRwLockReadFuture<'_, T, P> {
        AsyncRwLockReadFuture { lock: self, acquire: Acquire::biased(Kind::Read) }
    }

    /// Waits for the write lock.
    pub fn write(&self) -> AsyncRwLockWriteFuture<'_, T, P> {
        AsyncRwLockWriteFuture { lock: self, acquire: Acquire::new(Kind::Write) }
    }

    /// The exclusive entry, for code written against a mutex: the same as
    /// [`write`](Self::write).
    pub fn lock(&self) -> AsyncRwLockWriteFuture<'_, T, P> {
        self.write()
    }

    /// The exclusive entry with a guard that keeps the `Arc`, for code
    /// written against a mutex: the same as [`write_owned`](Self::write_owned).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    ///
    /// let m = Arc::new(rwlocker::AsyncMutex::new(1));
    /// let mut g = m.clone().lock_owned().await; // no borrow of `m`
    /// *g += 1;
    /// drop(g);
    /// assert_eq!(*m.lock().await, 2);
    /// # });
    /// ```
    pub fn lock_owned(self: Arc<Self>) -> OwnedAsyncRwLockWriteFuture<T, P> {
        self.write_owned()
    }

    /// Waits for a read lock whose guard keeps the `Arc` (no lifetime).
    pub fn read_owned(self: Arc<Self>) -> OwnedAsyncRwLockReadFuture<T, P> {
        OwnedAsyncRwLockReadFuture { lock: Some(self), acquire: Acquire::biased(Kind::Read) }
    }

    /// Waits for the write lock with a guard that keeps the `Arc`.
    pub fn write_owned(self: Arc<Self>) -> OwnedAsyncRwLockWriteFuture<T, P> {
        OwnedAsyncRwLockWriteFuture { lock: Some(self), acquire: Acquire::new(Kind::Write) }
    }

    /// A read lock if one is available at once, without overtaking a waiter
    /// the policy serves first.
    pub fn try_read(&self) -> Option<AsyncRwLockReadGuard<'_, T, P>> {
        // SAFETY: a read lock is held when `read_with` returns its token.
        self.raw
            .read_with(RawRwLock::try_lock_shared)
            .map(|token| unsafe { AsyncRwLockReadGuard::with_token(self, token) })
    }

    /// The write lock if it is free and nobody waits for it.
    pub fn try_write(&self) -> Option<AsyncRwLockWriteGuard<'_, T, P>> {
        // SAFETY: the write lock is held when `try_lock_exclusive` returns true.
        self.raw.try_lock_exclusive().then(|| unsafe { AsyncRwLockWriteGuard::new(self) })
    }

    /// [`try_read`](Self::try_read) with a guard that keeps the `Arc` (no
    /// lifetime). On failure the `Arc` is dropped; clone it first to keep it.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rwlocker::AsyncRwLock;
    ///
    /// let lock = Arc::new(AsyncRwLock::<u32>::new(1));
    /// let w = lock.try_write().unwrap();
    /// assert!(lock.clone().try_read_owned().is_none());
    /// drop(w);
    /// let r = lock.clone().try_read_owned().unwrap();
    /// assert_eq!(*r, 1);
    /// ```
    pub fn try_read_owned(self: Arc<Self>) -> Option<OwnedAsyncRwLockReadGuard<T, P>> {
        // SAFETY: a read lock is held when `read_with` returns its token.
        let token = self.raw.read_with(RawRwLock::try_lock_shared)?;
        Some(unsafe { OwnedAsyncRwLockReadGuard::with_token(self, token) })
    }

    /// [`try_write`](Self::try_write) with a guard that keeps the `Arc`. On
    /// failure the `Arc` is dropped; clone it first to keep it.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rwlocker::AsyncRwLock;
    ///
    /// let lock = Arc::new(AsyncRwLock::<u32>::new(1));
    /// let r = lock.try_read().unwrap();
    /// assert!(lock.clone().try_write_owned().is_none());
    /// drop(r);
    /// *lock.clone().try_write_owned().unwrap() += 1;
    /// ```
    pub fn try_write_owned(self: Arc<Self>) -> Option<OwnedAsyncRwLockWriteGuard<T, P>> {
        // SAFETY: the write lock is held when `try_lock_exclusive` returns true.
        self.raw.try_lock_exclusive().then(|| unsafe { OwnedAsyncRwLockWriteGuard::new(self) })
    }

    /// The exclusive entry without waiting, for code written against a
    /// mutex: the same as [`try_write`](Self::try_write).
    ///
    /// ```
    /// let m = rwlocker::AsyncMutex::new(1);
    /// let g = m.try_lock().expect("free");
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<AsyncRwLockWriteGuard<'_, T, P>> {
        self.try_write()
    }

    /// The exclusive entry for synchronous code, blocking the calling
    /// thread: the same as [`write_blocking`](Self::write_blocking). Do not
    /// call it from async code.
    ///
    /// ```
    /// let m = rwlocker::AsyncMutex::new(1);
    /// *m.lock_blocking() += 1;
    /// assert_eq!(*m.lock_blocking(), 2);
    /// ```
    pub fn lock_blocking(&self) -> AsyncRwLockWriteGuard<'_, T, P> {
        self.write_blocking()
    }

    /// Blocks the calling thread until a read lock is held: for synchronous
    /// code sharing the lock with tasks. Do not call it from async code.
    pub fn read_blocking(&self) -> AsyncRwLockReadGuard<'_, T, P> {
        let token = self.raw.lock_read();
        // SAFETY: the read lock `token` stands for is held.
        unsafe { AsyncRwLockReadGuard::with_token(self, token) }
    }

    /// Blocks the calling thread until the write lock is held.
    pub fn write_blocking(&self) -> AsyncRwLockWriteGuard<'_, T, P> {
        self.raw.lock_exclusive();
        // SAFETY: the write lock is held.
        unsafe { AsyncRwLockWriteGuard::new(self) }
    }

    /// Whether anyone holds the lock.
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Whether the lock is held exclusively.
    pub fn is_locked_exclusive(&self) -> bool {
        self.raw.is_locked_exclusive()
    }

    /// The data, through exclusive access to the lock.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// The raw lock underneath (for diagnostics and manual locking).
    pub fn raw(&self) -> &RawRwLock<P> {
        &self.raw
    }
}

crate::macros::data_lock_impls!(AsyncRwLock);

// ---------------------------------------------------------------------------
// Futures
// ---------------------------------------------------------------------------

macro_rules! borrowed_future {
    ($(#[$doc:meta])* $name:ident => $guard:ident, $make:ident) => {
        $(#[$doc])*
        #[must_use = "futures do nothing unless polled"]
        pub struct $name<'a, T: ?Sized, P: Policy = PhaseFair> {
            lock: &'a AsyncRwLock<T, P>,
            acquire: Acquire,
        }

        impl<'a, T: ?Sized, P: Policy> Future for $name<'a, T, P> {
            type Output = $guard<'a, T, P>;
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                let this = self.get_mut();
                match this.acquire.poll(&this.lock.raw, cx) {
                    // SAFETY: `Ready` means the lock is held in this mode
                    // (for a read, the read lock `token` stands for).
                    Poll::Ready(token) => Poll::Ready(unsafe { $guard::$make(this.lock, token) }),
                    Poll::Pending => Poll::Pending,
                }
            }
        }

        impl<T: ?Sized, P: Policy> Drop for $name<'_, T, P> {
            fn drop(&mut self) {
                self.acquire.cancel(&self.lock.raw);
            }
        }

        impl<T: ?Sized, P: Policy> fmt::Debug for $name<'_, T, P> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

macro_rules! owned_future {
    ($(#[$doc:meta])* $name:ident => $guard:ident, $make:ident) => {
        $(#[$doc])*
        #[must_use = "futures do nothing unless polled"]
        pub struct $name<T: ?Sized, P: Policy = PhaseFair> {
            /// `None` once the guard has taken it.
            lock: Option<Arc<AsyncRwLock<T, P>>>,
            acquire: Acquire,
        }

        impl<T: ?Sized, P: Policy> Future for $name<T, P> {
            type Output = $guard<T, P>;
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                let this = self.get_mut();
                let lock = this.lock.as_ref().expect("rwlocker: lock future polled after it completed");
                match this.acquire.poll(&lock.raw, cx) {
                    // SAFETY: `Ready` means the lock is held in this mode
                    // (for a read, the read lock `token` stands for).
                    Poll::Ready(token) => Poll::Ready(unsafe { $guard::$make(this.lock.take().unwrap(), token) }),
                    Poll::Pending => Poll::Pending,
                }
            }
        }

        impl<T: ?Sized, P: Policy> Drop for $name<T, P> {
            fn drop(&mut self) {
                if let Some(lock) = &self.lock {
                    self.acquire.cancel(&lock.raw);
                }
            }
        }

        impl<T: ?Sized, P: Policy> fmt::Debug for $name<T, P> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

borrowed_future! {
    /// The future of [`AsyncRwLock::read`].
    AsyncRwLockReadFuture => AsyncRwLockReadGuard, with_token
}
borrowed_future! {
    /// The future of [`AsyncRwLock::write`] and [`AsyncRwLock::lock`].
    AsyncRwLockWriteFuture => AsyncRwLockWriteGuard, granted
}
owned_future! {
    /// The future of [`AsyncRwLock::read_owned`].
    OwnedAsyncRwLockReadFuture => OwnedAsyncRwLockReadGuard, with_token
}
owned_future! {
    /// The future of [`AsyncRwLock::write_owned`].
    OwnedAsyncRwLockWriteFuture => OwnedAsyncRwLockWriteGuard, granted
}

// ---------------------------------------------------------------------------
// Guards
// ---------------------------------------------------------------------------

/// A read lock on an [`AsyncRwLock`]; released on drop.
///
/// Like every async guard (borrowed or owned, read or write), it is `Send`
/// where the lock is `Sync` (`T: Send`, and `T: Sync` unless the policy is
/// [`Exclusive`]) and `Sync` where in addition `T: Sync`: a guard held
/// across an `.await` keeps a task `Send` exactly when the lock could be
/// shared.
#[must_use = "if unused the lock is released at once"]
pub struct AsyncRwLockReadGuard<'a, T: ?Sized, P: Policy = PhaseFair> {
    lock: &'a AsyncRwLock<T, P>,
    /// What the read lock's release needs (see `Policy::ReadToken`).
    token: P::ReadToken,
    _marker: PhantomData<*const ()>,
}

/// The write lock on an [`AsyncRwLock`]; released on drop.
#[must_use = "if unused the lock is released at once"]
pub struct AsyncRwLockWriteGuard<'a, T: ?Sized, P: Policy = PhaseFair> {
    lock: &'a AsyncRwLock<T, P>,
    _marker: PhantomData<*const ()>,
}

/// A read lock on an `Arc<AsyncRwLock>`; released on drop.
#[must_use = "if unused the lock is released at once"]
pub struct OwnedAsyncRwLockReadGuard<T: ?Sized, P: Policy = PhaseFair> {
    lock: ManuallyDrop<Arc<AsyncRwLock<T, P>>>,
    /// What the read lock's release needs (see `Policy::ReadToken`).
    token: P::ReadToken,
    _marker: PhantomData<*const ()>,
}

/// The write lock on an `Arc<AsyncRwLock>`; released on drop.
#[must_use = "if unused the lock is released at once"]
pub struct OwnedAsyncRwLockWriteGuard<T: ?Sized, P: Policy = PhaseFair> {
    lock: ManuallyDrop<Arc<AsyncRwLock<T, P>>>,
    _marker: PhantomData<*const ()>,
}

macro_rules! guard_common {
    ($guard:ident $(<$a:lifetime>)?, $handle:ty, $wrap:expr $(, $token:ident)?) => {
        impl<$($a,)? T: ?Sized, P: Policy> $guard<$($a,)? T, P> {
            /// # Safety
            /// The lock is held in this guard's mode (a read lock: a
            /// counted one); the guard releases it.
            #[inline]
            pub(crate) unsafe fn new(lock: $handle) -> Self {
                #[allow(clippy::redundant_closure_call)]
                $guard { lock: ($wrap)(lock), $($token: P::ReadToken::COUNTED,)? _marker: PhantomData }
            }

            /// The lock this guard belongs to.
            pub fn rwlock(this: &Self) -> &AsyncRwLock<T, P> {
                &this.lock
            }
        }

        // SAFETY: the guard gives `&T` (and `&mut T` for writers) and the
        // lock itself (`rwlock()`) on the thread that has it, which is what
        // the lock being `Sync` allows; the engine lets any thread release.
        unsafe impl<$($a,)? T: ?Sized + Send, P: Policy> Send for $guard<$($a,)? T, P> where P::Shared<T>: Sync {}
        // SAFETY: sharing the guard shares `&T` (`T: Sync`) and the lock.
        unsafe impl<$($a,)? T: ?Sized + Send + Sync, P: Policy> Sync for $guard<$($a,)? T, P> where P::Shared<T>: Sync {}

        impl<$($a,)? T: ?Sized, P: Policy> Deref for $guard<$($a,)? T, P> {
            type Target = T;
            #[inline]
            fn deref(&self) -> &T {
                // SAFETY: the guard holds the lock, so no `&mut T` exists
                // besides one this guard itself hands out.
                unsafe { &*self.lock.data.get() }
            }
        }

        impl<$($a,)? T: ?Sized + fmt::Debug, P: Policy> fmt::Debug for $guard<$($a,)? T, P> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<$($a,)? T: ?Sized + fmt::Display, P: Policy> fmt::Display for $guard<$($a,)? T, P> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }
    };
}

guard_common!(AsyncRwLockReadGuard<'a>, &'a AsyncRwLock<T, P>, |l| l, token);
guard_common!(AsyncRwLockWriteGuard<'a>, &'a AsyncRwLock<T, P>, |l| l);
guard_common!(OwnedAsyncRwLockReadGuard, Arc<AsyncRwLock<T, P>>, ManuallyDrop::new, token);
guard_common!(OwnedAsyncRwLockWriteGuard, Arc<AsyncRwLock<T, P>>, ManuallyDrop::new);

macro_rules! deref_mut {
    ($guard:ident $(<$a:lifetime>)?) => {
        impl<$($a,)? T: ?Sized, P: Policy> DerefMut for $guard<$($a,)? T, P> {
            #[inline]
            fn deref_mut(&mut self) -> &mut T {
                // SAFETY: the guard holds the write lock: access is exclusive.
                unsafe { &mut *self.lock.data.get() }
            }
        }
    };
}
deref_mut!(AsyncRwLockWriteGuard<'a>);
deref_mut!(OwnedAsyncRwLockWriteGuard);

impl<T: ?Sized, P: Policy> Drop for AsyncRwLockReadGuard<'_, T, P> {
    fn drop(&mut self) {
        // SAFETY: the guard holds that read lock and gives it up exactly once.
        unsafe { self.lock.raw.unlock_read(self.token) }
    }
}

impl<T: ?Sized, P: Policy> Drop for AsyncRwLockWriteGuard<'_, T, P> {
    fn drop(&mut self) {
        // SAFETY: the guard holds the write lock and gives it up exactly once.
        unsafe { self.lock.raw.unlock_exclusive() }
    }
}

impl<T: ?Sized, P: Policy> Drop for OwnedAsyncRwLockReadGuard<T, P> {
    fn drop(&mut self) {
        // SAFETY: the `Arc` is taken out once (the field is not used
        // again); the guard holds a read lock and gives it up exactly once. The
        // `Arc` is dropped after the release, also if the release unwinds (a
        // waker it runs panics).
        unsafe {
            let lock = ManuallyDrop::take(&mut self.lock);
            lock.raw.unlock_read(self.token);
        }
    }
}

impl<T: ?Sized, P: Policy> Drop for OwnedAsyncRwLockWriteGuard<T, P> {
    fn drop(&mut self) {
        // SAFETY: the `Arc` is taken out once (the field is not used
        // again); the guard holds the write lock and gives it up exactly once. The
        // `Arc` is dropped after the release, also if the release unwinds (a
        // waker it runs panics).
        unsafe {
            let lock = ManuallyDrop::take(&mut self.lock);
            lock.raw.unlock_exclusive();
        }
    }
}

impl<'a, T: ?Sized, P: Policy> AsyncRwLockReadGuard<'a, T, P> {
    /// # Safety
    /// The read lock `token` stands for is held; the guard releases it.
    #[inline]
    pub(crate) unsafe fn with_token(lock: &'a AsyncRwLock<T, P>, token: P::ReadToken) -> Self {
        AsyncRwLockReadGuard { lock, token, _marker: PhantomData }
    }

    /// Gives up the guard without releasing the lock; returns the lock and
    /// the read lock's token.
    pub(crate) fn into_parts(this: Self) -> (&'a AsyncRwLock<T, P>, P::ReadToken) {
        let (lock, token) = (this.lock, this.token);
        core::mem::forget(this);
        (lock, token)
    }
}

impl<'a, T: ?Sized, P: Policy> AsyncRwLockReadGuard<'a, T, P> {
    /// Turns this read lock into the write lock if that breaks no policy
    /// rule (this guard is the only reader and a `try_write` would succeed
    /// were it gone); otherwise returns the guard, still reading. See
    /// [`RwLockReadGuard::try_upgrade`](crate::RwLockReadGuard::try_upgrade).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use rwlocker::{AsyncRwLock, AsyncRwLockReadGuard};
    ///
    /// let lock = AsyncRwLock::<u32>::new(0);
    /// let r = lock.read().await;
    /// let mut w = AsyncRwLockReadGuard::try_upgrade(r).expect("the only reader");
    /// *w += 1;
    /// # });
    /// ```
    pub fn try_upgrade(this: Self) -> Result<AsyncRwLockWriteGuard<'a, T, P>, Self> {
        // SAFETY: the guard holds a read lock of this lock: counted in, it
        // is the one the upgrade looks for.
        if unsafe {
            this.lock.raw.count_in(this.token);
            this.lock.raw.try_upgrade()
        } {
            let (lock, _) = Self::into_parts(this);
            // SAFETY: the read lock became the write lock, which passes to
            // the new guard.
            Ok(unsafe { AsyncRwLockWriteGuard::new(lock) })
        } else {
            Err(this)
        }
    }
}

impl<'a, T: ?Sized, P: Policy> AsyncRwLockWriteGuard<'a, T, P> {
    /// Gives up the guard without releasing the lock; returns the lock.
    pub(crate) fn into_lock(this: Self) -> &'a AsyncRwLock<T, P> {
        let lock = this.lock;
        core::mem::forget(this);
        lock
    }

    /// [`into_lock`](Self::into_lock), with the counted token, as for
    /// read guards.
    pub(crate) fn into_parts(this: Self) -> (&'a AsyncRwLock<T, P>, P::ReadToken) {
        (Self::into_lock(this), P::ReadToken::COUNTED)
    }

    /// The guard of a write acquisition that completed (whose token, that
    /// of a write, says nothing).
    ///
    /// # Safety
    /// The write lock is held; the guard releases it.
    unsafe fn granted(lock: &'a AsyncRwLock<T, P>, _: P::ReadToken) -> Self {
        // SAFETY: forwarded from the caller's obligation.
        unsafe { Self::new(lock) }
    }

    /// Turns the write lock into a read lock atomically (no writer gets in
    /// between). Waiting readers join per policy, as for
    /// [`RwLockWriteGuard::downgrade`](crate::RwLockWriteGuard::downgrade).
    pub fn downgrade(this: Self) -> AsyncRwLockReadGuard<'a, T, P> {
        let lock = Self::into_lock(this);
        // SAFETY: we held the write lock; after the downgrade we hold a
        // read lock, which belongs to the new guard. The guard is made
        // first, so that it releases the read if the downgrade unwinds (a
        // waker it runs panics, once the lock is read-held).
        unsafe {
            let read = AsyncRwLockReadGuard::new(lock);
            lock.raw.downgrade();
            read
        }
    }
}

impl<T: ?Sized, P: Policy> OwnedAsyncRwLockReadGuard<T, P> {
    /// # Safety
    /// The read lock `token` stands for is held; the guard releases it.
    #[inline]
    pub(crate) unsafe fn with_token(lock: Arc<AsyncRwLock<T, P>>, token: P::ReadToken) -> Self {
        OwnedAsyncRwLockReadGuard { lock: ManuallyDrop::new(lock), token, _marker: PhantomData }
    }

    /// Gives up the guard without releasing the lock; returns the `Arc` and
    /// the read lock's token.
    pub(crate) fn into_parts(this: Self) -> (Arc<AsyncRwLock<T, P>>, P::ReadToken) {
        let mut this = ManuallyDrop::new(this);
        // SAFETY: `this` is never dropped, so the `Arc` is moved out once.
        (unsafe { ManuallyDrop::take(&mut this.lock) }, this.token)
    }
}

impl<T: ?Sized, P: Policy> OwnedAsyncRwLockReadGuard<T, P> {
    /// Turns this read lock into the write lock if that breaks no policy
    /// rule; otherwise returns the guard, still reading. See
    /// [`RwLockReadGuard::try_upgrade`](crate::RwLockReadGuard::try_upgrade).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use std::sync::Arc;
    /// use rwlocker::{AsyncRwLock, OwnedAsyncRwLockReadGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::<u32>::new(0));
    /// let r = lock.clone().read_owned().await;
    /// let other = lock.try_read().unwrap();
    /// let r = OwnedAsyncRwLockReadGuard::try_upgrade(r).unwrap_err(); // two readers
    /// drop(other);
    /// let mut w = OwnedAsyncRwLockReadGuard::try_upgrade(r).expect("the only reader");
    /// *w += 1;
    /// # });
    /// ```
    pub fn try_upgrade(this: Self) -> Result<OwnedAsyncRwLockWriteGuard<T, P>, Self> {
        // SAFETY: as for `AsyncRwLockReadGuard::try_upgrade`.
        if unsafe {
            this.lock.raw.count_in(this.token);
            this.lock.raw.try_upgrade()
        } {
            let (lock, _) = Self::into_parts(this);
            // SAFETY: the read lock became the write lock, which passes to
            // the new guard.
            Ok(unsafe { OwnedAsyncRwLockWriteGuard::new(lock) })
        } else {
            Err(this)
        }
    }
}

impl<T: ?Sized, P: Policy> OwnedAsyncRwLockWriteGuard<T, P> {
    /// Gives up the guard without releasing the lock; returns the `Arc`.
    pub(crate) fn into_lock(this: Self) -> Arc<AsyncRwLock<T, P>> {
        let mut this = ManuallyDrop::new(this);
        // SAFETY: `this` is never dropped, so the `Arc` is moved out once.
        unsafe { ManuallyDrop::take(&mut this.lock) }
    }

    /// [`into_lock`](Self::into_lock), with the counted token, as for
    /// read guards.
    pub(crate) fn into_parts(this: Self) -> (Arc<AsyncRwLock<T, P>>, P::ReadToken) {
        (Self::into_lock(this), P::ReadToken::COUNTED)
    }

    /// The guard of a write acquisition that completed (whose token, that
    /// of a write, says nothing).
    ///
    /// # Safety
    /// The write lock is held; the guard releases it.
    unsafe fn granted(lock: Arc<AsyncRwLock<T, P>>, _: P::ReadToken) -> Self {
        // SAFETY: forwarded from the caller's obligation.
        unsafe { Self::new(lock) }
    }

    /// Turns the write lock into a read lock atomically.
    pub fn downgrade(this: Self) -> OwnedAsyncRwLockReadGuard<T, P> {
        let lock = Self::into_lock(this);
        // SAFETY: as for `AsyncRwLockWriteGuard::downgrade`: the read guard
        // is made first and owns the read lock the downgrade leaves.
        unsafe {
            let read = OwnedAsyncRwLockReadGuard::new(lock);
            read.lock.raw.downgrade();
            read
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests;

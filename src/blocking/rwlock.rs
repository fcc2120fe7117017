//! [`RwLock`]: the blocking, data-owning lock over the engine.

use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use std::time::{Duration, Instant};

use crate::engine::bias::ReadToken as _;
use crate::engine::RawRwLock;
use crate::policy::{Exclusive, PhaseFair, Policy};

/// A reader-writer lock for threads, with an admission [`Policy`].
///
/// `P` chooses who goes first when readers and writers contend:
/// [`PhaseFair`] (the default, nobody starves), [`ReaderPreferring`],
/// [`WriterPreferring`] or [`Exclusive`] (see [`Mutex`]). Uncontended
/// acquire and release are a single atomic operation; a contended release
/// wakes the waiters the policy picks, and past the starvation bound (or
/// under [`Strict<P>`](crate::Strict)) hands them the lock directly.
///
/// There is no poisoning: a panic while a guard is held releases the lock.
///
/// [`ReaderPreferring`]: crate::ReaderPreferring
/// [`WriterPreferring`]: crate::WriterPreferring
///
/// ```
/// use rwlocker::{RwLock, WriterPreferring};
///
/// let lock: RwLock<Vec<u32>, WriterPreferring> = RwLock::new(vec![1]);
/// lock.write().push(2);
/// assert_eq!(*lock.read(), [1, 2]);
/// let w = lock.write();
/// let r = rwlocker::RwLockWriteGuard::downgrade(w); // no writer can get in between
/// assert_eq!(r.len(), 2);
/// ```
pub struct RwLock<T: ?Sized, P: Policy = PhaseFair> {
    raw: RawRwLock<P>,
    data: UnsafeCell<T>,
}

/// A fair (FIFO) mutex: an [`RwLock`] whose every acquisition is exclusive.
///
/// [`lock`](RwLock::lock) returns a write guard. It works with
/// [`RwCondvar`](crate::RwCondvar) like any other lock of this crate.
///
/// ```
/// let m = rwlocker::Mutex::new(0);
/// *m.lock() += 1;
/// assert_eq!(*m.lock(), 1);
/// ```
pub type Mutex<T> = RwLock<T, Exclusive>;

/// The guard of [`Mutex::lock`](RwLock::lock): a write guard of a
/// [`Mutex`].
///
/// ```
/// use rwlocker::{Mutex, MutexGuard};
///
/// fn bump(g: &mut MutexGuard<'_, u32>) {
///     **g += 1;
/// }
/// let m = Mutex::new(0);
/// bump(&mut m.lock());
/// assert_eq!(*m.lock(), 1);
/// ```
pub type MutexGuard<'a, T> = RwLockWriteGuard<'a, T, Exclusive>;

// SAFETY: the lock owns a `T`; moving it to another thread moves the `T`.
unsafe impl<T: ?Sized + Send, P: Policy> Send for RwLock<T, P> {}
// SAFETY: writers get `&mut T` (needs `T: Send`); under a sharing policy
// readers get `&T` on several threads at once, which `P::Shared<T>: Sync`
// requires (`T: Sync`); under `Exclusive` only one thread at a time has
// access, so `T: Send` suffices, as for `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send, P: Policy> Sync for RwLock<T, P> where P::Shared<T>: Sync {}

impl<T, P: Policy> RwLock<T, P> {
    crate::engine::maybe_const_fn! {
        /// Creates a new, unlocked lock holding `value`.
        pub fn new(value: T) -> Self {
            RwLock { raw: RawRwLock::new(), data: UnsafeCell::new(value) }
        }
    }

    /// Consumes the lock and returns the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized, P: Policy> RwLock<T, P> {
    /// Blocks until a read lock is held.
    ///
    /// # Panics
    /// If the number of readers would overflow (about 2³⁰ guards).
    #[inline]
    pub fn read(&self) -> RwLockReadGuard<'_, T, P> {
        let token = self.raw.lock_read();
        // SAFETY: a read lock is held and the guard releases it.
        unsafe { self.read_guard(token) }
    }

    /// Blocks until the write lock is held.
    #[inline]
    pub fn write(&self) -> RwLockWriteGuard<'_, T, P> {
        self.raw.lock_exclusive();
        // SAFETY: the write lock is held and the guard releases it.
        unsafe { self.write_guard() }
    }

    /// The exclusive entry, for code written against a mutex: the same as
    /// [`write`](Self::write).
    #[inline]
    pub fn lock(&self) -> RwLockWriteGuard<'_, T, P> {
        self.write()
    }

    /// The exclusive entry without waiting, for code written against a
    /// mutex: the same as [`try_write`](Self::try_write). It fails while the
    /// lock is held or anyone waits for it.
    ///
    /// ```
    /// let m = rwlocker::Mutex::new(1);
    /// let g = m.try_lock().expect("free");
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert_eq!(*m.try_lock().unwrap(), 1);
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<RwLockWriteGuard<'_, T, P>> {
        self.try_write()
    }

    /// The exclusive entry, waiting up to `timeout`: the same as
    /// [`try_write_for`](Self::try_write_for).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let m = rwlocker::Mutex::new(1);
    /// let g = m.lock();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(m.try_lock_for(Duration::from_millis(5)).is_none()));
    /// });
    /// drop(g);
    /// assert!(m.try_lock_for(Duration::from_millis(5)).is_some());
    /// ```
    pub fn try_lock_for(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T, P>> {
        self.try_write_for(timeout)
    }

    /// The exclusive entry, waiting until `deadline`: the same as
    /// [`try_write_until`](Self::try_write_until).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let m = rwlocker::Mutex::new(1);
    /// *m.try_lock_until(Instant::now() + Duration::from_millis(5)).unwrap() += 1;
    /// assert_eq!(*m.lock(), 2);
    /// ```
    pub fn try_lock_until(&self, deadline: Instant) -> Option<RwLockWriteGuard<'_, T, P>> {
        self.try_write_until(deadline)
    }

    /// A read lock if one is available at once, without overtaking a waiter
    /// the policy serves first.
    #[inline]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T, P>> {
        // SAFETY: a read lock is held when `try_lock_shared` returns true.
        self.raw.read_with(RawRwLock::try_lock_shared).map(|token| unsafe { self.read_guard(token) })
    }

    /// The write lock if it is free and nobody waits for it.
    #[inline]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T, P>> {
        // SAFETY: the write lock is held when `try_lock_exclusive` returns true.
        self.raw.try_lock_exclusive().then(|| unsafe { self.write_guard() })
    }

    /// Waits up to `timeout` for a read lock. A waiter that gives up leaves
    /// no trace: whoever it held back is admitted at once.
    pub fn try_read_for(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T, P>> {
        // SAFETY: a read lock is held when the call returns true.
        self.raw.read_with(|raw| raw.try_lock_shared_for(timeout)).map(|token| unsafe { self.read_guard(token) })
    }

    /// Waits until `deadline` for a read lock.
    pub fn try_read_until(&self, deadline: Instant) -> Option<RwLockReadGuard<'_, T, P>> {
        // SAFETY: a read lock is held when the call returns true.
        self.raw.read_with(|raw| raw.try_lock_shared_until(deadline)).map(|token| unsafe { self.read_guard(token) })
    }

    /// Waits up to `timeout` for the write lock. A writer that gives up
    /// leaves no trace: readers it held back are admitted at once.
    pub fn try_write_for(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T, P>> {
        // SAFETY: the write lock is held when the call returns true.
        self.raw.try_lock_exclusive_for(timeout).then(|| unsafe { self.write_guard() })
    }

    /// Waits until `deadline` for the write lock.
    pub fn try_write_until(&self, deadline: Instant) -> Option<RwLockWriteGuard<'_, T, P>> {
        // SAFETY: the write lock is held when the call returns true.
        self.raw.try_lock_exclusive_until(deadline).then(|| unsafe { self.write_guard() })
    }

    /// Whether anyone holds the lock.
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Whether the lock is held exclusively (always the case when held
    /// under [`Exclusive`]).
    pub fn is_locked_exclusive(&self) -> bool {
        self.raw.is_locked_exclusive()
    }

    /// The data, through exclusive access to the lock (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// The raw lock underneath, for code that manages locking itself.
    pub fn raw(&self) -> &RawRwLock<P> {
        &self.raw
    }

    /// A pointer to the data; dereferencing it is only sound while a guard
    /// (or a manually taken raw lock) grants access.
    pub fn data_ptr(&self) -> *mut T {
        self.data.get()
    }

    /// # Safety
    /// The read lock `token` stands for is held and ownership of it passes
    /// to the guard.
    #[inline]
    pub(crate) unsafe fn read_guard(&self, token: P::ReadToken) -> RwLockReadGuard<'_, T, P> {
        RwLockReadGuard { lock: self, token, _not_send: PhantomData }
    }

    /// # Safety
    /// The write lock is held and ownership of it passes to the guard.
    #[inline]
    pub(crate) unsafe fn write_guard(&self) -> RwLockWriteGuard<'_, T, P> {
        RwLockWriteGuard { lock: self, _not_send: PhantomData }
    }
}

crate::macros::data_lock_impls!(RwLock);

/// A read lock on an [`RwLock`]; released on drop.
///
/// **`Send` and `Sync`.** A guard gives access to its lock
/// ([`rwlock`](Self::rwlock)), so it is `Send` only where the lock is
/// `Sync` (`T: Send`, and `T: Sync` unless the policy is
/// [`Exclusive`](crate::Exclusive)), and `Sync` only where, in addition,
/// `T: Sync`. The same holds for [`RwLockWriteGuard`] and the async guards.
/// A `T` that is `Sync` but not `Send` cannot travel in a guard (another
/// thread could take the write lock and move it out):
///
/// ```compile_fail,E0277
/// struct OnlySync(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for OnlySync {}
/// fn assert_send<G: Send>(_: &G) {}
///
/// let lock = rwlocker::RwLock::<_>::new(OnlySync(std::marker::PhantomData));
/// assert_send(&lock.read()); // `RwLock<OnlySync>` is not `Sync`
/// ```
///
/// ```
/// fn assert_send<G: Send>(_: &G) {}
/// let mutex = rwlocker::Mutex::new(std::cell::Cell::new(1));
/// assert_send(&mutex.lock()); // `Mutex<Cell<_>>` is `Sync`
/// let lock = rwlocker::RwLock::<_>::new(1);
/// assert_send(&lock.read());
/// ```
#[must_use = "if unused the lock is released at once"]
pub struct RwLockReadGuard<'a, T: ?Sized, P: Policy = PhaseFair> {
    pub(crate) lock: &'a RwLock<T, P>,
    /// Where the read lock was published (read-biased locks), for its release.
    pub(crate) token: P::ReadToken,
    _not_send: PhantomData<*const ()>,
}

/// The write lock on an [`RwLock`]; released on drop.
///
/// `Send` where the lock is `Sync`, `Sync` where in addition `T: Sync` (see
/// [`RwLockReadGuard`]).
#[must_use = "if unused the lock is released at once"]
pub struct RwLockWriteGuard<'a, T: ?Sized, P: Policy = PhaseFair> {
    pub(crate) lock: &'a RwLock<T, P>,
    _not_send: PhantomData<*const ()>,
}

// The guards hand out the lock itself (`rwlock()`), so a guard may move to
// another thread only where the lock may be shared (`RwLock: Sync`, i.e.
// `T: Send` and `P::Shared<T>: Sync`); a `T` that is `Sync` but not `Send`
// could otherwise be moved out by that thread through a write lock. Sharing
// a guard also shares `&T`, so `Sync` needs `T: Sync` on top.
//
// SAFETY: moving a read guard moves a read lock (the engine lets any
// thread release it), `&T` on the new thread (`P::Shared<T>: Sync`: `T:
// Sync`, or under `Exclusive` no other thread has access) and `&RwLock`
// (`Sync` under the same bounds).
unsafe impl<T: ?Sized + Send, P: Policy> Send for RwLockReadGuard<'_, T, P> where P::Shared<T>: Sync {}
// SAFETY: sharing the guard shares `&T` (`T: Sync`) and `&RwLock`.
unsafe impl<T: ?Sized + Send + Sync, P: Policy> Sync for RwLockReadGuard<'_, T, P> where P::Shared<T>: Sync {}
// SAFETY: moving a write guard moves `&mut T` (`T: Send`) and `&RwLock`.
unsafe impl<T: ?Sized + Send, P: Policy> Send for RwLockWriteGuard<'_, T, P> where P::Shared<T>: Sync {}
// SAFETY: sharing the guard shares only `&T` (`T: Sync`) and `&RwLock`.
unsafe impl<T: ?Sized + Send + Sync, P: Policy> Sync for RwLockWriteGuard<'_, T, P> where P::Shared<T>: Sync {}

impl<'a, T: ?Sized, P: Policy> RwLockReadGuard<'a, T, P> {
    /// A guard for a part of the data, keeping the same read lock.
    pub fn map<U: ?Sized>(this: Self, f: impl FnOnce(&T) -> &U) -> MappedRwLockReadGuard<'a, U, P> {
        let (raw, token) = (&this.lock.raw, this.token);
        let data = NonNull::from(f(&*this));
        core::mem::forget(this);
        MappedRwLockReadGuard { raw, token, data, _marker: PhantomData }
    }

    /// A guard for a part of the data if `f` finds one; otherwise the
    /// guard back, still reading.
    ///
    /// ```
    /// use rwlocker::{RwLock, RwLockReadGuard};
    ///
    /// let lock = RwLock::<Vec<u32>>::new(vec![7]);
    /// let first = RwLockReadGuard::try_map(lock.read(), |v| v.first()).unwrap();
    /// assert_eq!(*first, 7);
    /// drop(first);
    /// let whole = RwLockReadGuard::try_map(lock.read(), |v| v.get(5)).unwrap_err();
    /// assert_eq!(whole.len(), 1);
    /// ```
    pub fn try_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<MappedRwLockReadGuard<'a, U, P>, Self> {
        match f(&*this).map(NonNull::from) {
            Some(data) => {
                let (raw, token) = (&this.lock.raw, this.token);
                core::mem::forget(this);
                Ok(MappedRwLockReadGuard { raw, token, data, _marker: PhantomData })
            }
            None => Err(this),
        }
    }

    /// The lock this guard belongs to.
    pub fn rwlock(this: &Self) -> &'a RwLock<T, P> {
        this.lock
    }

    /// Turns this read lock into the write lock if that breaks no policy
    /// rule: this guard is the **only reader** and a
    /// [`try_write`](RwLock::try_write) would succeed were it gone (no
    /// writer waits, nobody is queued). Otherwise returns the guard, still
    /// reading. Under [`Exclusive`] a read guard already is exclusive, so the
    /// upgrade always succeeds.
    ///
    /// It never waits, so two readers that both try cannot deadlock; a
    /// reader that must write when this fails drops its guard, takes
    /// [`write`](RwLock::write), and checks its condition again.
    ///
    /// ```
    /// use rwlocker::{RwLock, RwLockReadGuard};
    ///
    /// let lock = RwLock::<Vec<u32>>::new(vec![]);
    /// let r = lock.read();
    /// if r.is_empty() {
    ///     let mut w = RwLockReadGuard::try_upgrade(r).expect("the only reader");
    ///     w.push(1);
    /// }
    /// let (r1, r2) = (lock.read(), lock.read());
    /// let r1 = RwLockReadGuard::try_upgrade(r1).unwrap_err(); // another reader holds
    /// assert_eq!(*r1, [1]);
    /// # drop(r2);
    /// ```
    pub fn try_upgrade(this: Self) -> Result<RwLockWriteGuard<'a, T, P>, Self> {
        // SAFETY: the guard holds a read lock of this lock: counted in, it
        // is the one the upgrade looks for (a stale token is harmless).
        if unsafe {
            this.lock.raw.count_in(this.token);
            this.lock.raw.try_upgrade()
        } {
            let lock = this.lock;
            core::mem::forget(this);
            // SAFETY: the read lock became the write lock; the forgotten
            // guard will not release it, the new one will.
            Ok(unsafe { lock.write_guard() })
        } else {
            Err(this)
        }
    }
}

impl<'a, T: ?Sized, P: Policy> RwLockWriteGuard<'a, T, P> {
    /// Turns the write lock into a read lock atomically: no writer can get
    /// in between. Readers waiting join now under `ReaderPreferring` and
    /// `PhaseFair`; under `WriterPreferring` they keep waiting while a
    /// writer waits; under `Exclusive` the lock stays exclusive.
    pub fn downgrade(this: Self) -> RwLockReadGuard<'a, T, P> {
        let lock = this.lock;
        core::mem::forget(this);
        // SAFETY: the forgotten guard held the write lock; after the
        // downgrade a read lock is held and belongs to the new guard. The
        // guard is made first: if the downgrade unwinds (a waker it runs
        // panics, once the lock is read-held), dropping it releases the read.
        unsafe {
            let read = lock.read_guard(P::ReadToken::COUNTED);
            lock.raw.downgrade();
            read
        }
    }

    /// A guard for a part of the data, keeping the write lock. A mapped
    /// write guard cannot be downgraded (the mapped reference could outlive
    /// the exclusive access it was derived from).
    pub fn map<U: ?Sized>(mut this: Self, f: impl FnOnce(&mut T) -> &mut U) -> MappedRwLockWriteGuard<'a, U, P> {
        let raw = &this.lock.raw;
        let data = NonNull::from(f(&mut *this));
        core::mem::forget(this);
        MappedRwLockWriteGuard { raw, data, _marker: PhantomData }
    }

    /// A guard for a part of the data if `f` finds one, keeping the write
    /// lock; otherwise the guard back.
    ///
    /// ```
    /// use rwlocker::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::<Vec<u32>>::new(vec![7]);
    /// *RwLockWriteGuard::try_map(lock.write(), |v| v.first_mut()).unwrap() += 1;
    /// assert!(RwLockWriteGuard::try_map(lock.write(), |v| v.get_mut(5)).is_err());
    /// assert_eq!(*lock.read(), [8]);
    /// ```
    pub fn try_map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<MappedRwLockWriteGuard<'a, U, P>, Self> {
        match f(&mut *this).map(NonNull::from) {
            Some(data) => {
                let raw = &this.lock.raw;
                core::mem::forget(this);
                Ok(MappedRwLockWriteGuard { raw, data, _marker: PhantomData })
            }
            None => Err(this),
        }
    }

    /// Downgrades atomically (as [`downgrade`](Self::downgrade)) to a read
    /// guard for a part of the data. `f` sees the data through `&T` only, so
    /// the part is one that shared access may reach (unlike a downgrade of a
    /// mapped *write* guard, which this crate does not offer).
    ///
    /// ```
    /// use rwlocker::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::<(u32, String)>::new((0, "a".into()));
    /// let mut w = lock.write();
    /// w.1.push('b');
    /// let name = RwLockWriteGuard::downgrade_map(w, |(_, name)| name.as_str());
    /// assert!(lock.try_write().is_none());
    /// assert!(lock.try_read().is_some()); // readers share again
    /// assert_eq!(&*name, "ab");
    /// ```
    pub fn downgrade_map<U: ?Sized>(this: Self, f: impl FnOnce(&T) -> &U) -> MappedRwLockReadGuard<'a, U, P> {
        // `f` runs under the write lock: if it panics, `this` releases it.
        let data = NonNull::from(f(&*this));
        let raw = &this.lock.raw;
        core::mem::forget(this);
        // SAFETY: the forgotten guard held the write lock; afterwards a read
        // lock is held, under which `data` (derived from `&T`) stays valid.
        unsafe { raw.downgrade() };
        MappedRwLockReadGuard { raw, token: P::ReadToken::COUNTED, data, _marker: PhantomData }
    }

    /// [`downgrade_map`](Self::downgrade_map) if `f` finds a part;
    /// otherwise the write guard back, still writing.
    ///
    /// ```
    /// use rwlocker::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::<Vec<u32>>::new(vec![1]);
    /// let w = RwLockWriteGuard::try_downgrade_map(lock.write(), |v| v.get(3)).unwrap_err();
    /// assert!(lock.is_locked_exclusive());
    /// let r = RwLockWriteGuard::try_downgrade_map(w, |v| v.first()).unwrap();
    /// assert_eq!((*r, lock.is_locked_exclusive()), (1, false));
    /// ```
    pub fn try_downgrade_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<MappedRwLockReadGuard<'a, U, P>, Self> {
        match f(&*this).map(NonNull::from) {
            Some(data) => {
                let raw = &this.lock.raw;
                core::mem::forget(this);
                // SAFETY: as in `downgrade_map`.
                unsafe { raw.downgrade() };
                Ok(MappedRwLockReadGuard { raw, token: P::ReadToken::COUNTED, data, _marker: PhantomData })
            }
            None => Err(this),
        }
    }

    /// The lock this guard belongs to.
    pub fn rwlock(this: &Self) -> &'a RwLock<T, P> {
        this.lock
    }
}

impl<T: ?Sized, P: Policy> Deref for RwLockReadGuard<'_, T, P> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds a read lock, so no `&mut T` exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized, P: Policy> Deref for RwLockWriteGuard<'_, T, P> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the write lock: access is exclusive.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized, P: Policy> DerefMut for RwLockWriteGuard<'_, T, P> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock: access is exclusive.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized, P: Policy> Drop for RwLockReadGuard<'_, T, P> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds that read lock and gives it up exactly once.
        unsafe { self.lock.raw.unlock_read(self.token) }
    }
}

impl<T: ?Sized, P: Policy> Drop for RwLockWriteGuard<'_, T, P> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds the write lock and gives it up exactly once.
        unsafe { self.lock.raw.unlock_exclusive() }
    }
}

/// A read guard for part of the data ([`RwLockReadGuard::map`],
/// [`RwLockWriteGuard::downgrade_map`], and the same methods of the borrowed
/// async guards).
#[must_use = "if unused the lock is released at once"]
pub struct MappedRwLockReadGuard<'a, T: ?Sized, P: Policy = PhaseFair> {
    raw: &'a RawRwLock<P>,
    token: P::ReadToken,
    data: NonNull<T>,
    _marker: PhantomData<&'a T>,
}

/// A write guard for part of the data ([`RwLockWriteGuard::map`], and
/// [`AsyncRwLockWriteGuard::map`](crate::AsyncRwLockWriteGuard::map)); it has
/// no `downgrade`.
#[must_use = "if unused the lock is released at once"]
pub struct MappedRwLockWriteGuard<'a, T: ?Sized, P: Policy = PhaseFair> {
    raw: &'a RawRwLock<P>,
    data: NonNull<T>,
    _marker: PhantomData<&'a mut T>,
}

// A mapped guard keeps only the raw lock and the mapped part `T` (no
// `rwlock()`), so its bounds are those of a `&T` / `&mut T`.
//
// SAFETY: the data is reached only through `&T` (read) or `&mut T` (write)
// on the thread holding the guard; any thread may release the raw lock.
unsafe impl<T: ?Sized + Sync, P: Policy> Send for MappedRwLockReadGuard<'_, T, P> {}
// SAFETY: sharing the guard shares `&T`.
unsafe impl<T: ?Sized + Sync, P: Policy> Sync for MappedRwLockReadGuard<'_, T, P> {}
// SAFETY: see `RwLockWriteGuard`.
unsafe impl<T: ?Sized + Send + Sync, P: Policy> Send for MappedRwLockWriteGuard<'_, T, P> {}
// SAFETY: sharing the guard shares `&T`.
unsafe impl<T: ?Sized + Sync, P: Policy> Sync for MappedRwLockWriteGuard<'_, T, P> {}

impl<'a, T: ?Sized, P: Policy> MappedRwLockReadGuard<'a, T, P> {
    /// Maps further into the data.
    pub fn map<U: ?Sized>(this: Self, f: impl FnOnce(&T) -> &U) -> MappedRwLockReadGuard<'a, U, P> {
        let (raw, token) = (this.raw, this.token);
        let data = NonNull::from(f(&*this));
        core::mem::forget(this);
        MappedRwLockReadGuard { raw, token, data, _marker: PhantomData }
    }

    /// Maps further into the data if `f` finds a part; otherwise the guard
    /// back.
    ///
    /// ```
    /// use rwlocker::{MappedRwLockReadGuard, RwLock, RwLockReadGuard};
    ///
    /// let lock = RwLock::<Vec<Vec<u32>>>::new(vec![vec![5]]);
    /// let row = RwLockReadGuard::map(lock.read(), |v| &v[0]);
    /// let row = MappedRwLockReadGuard::try_map(row, |r| r.get(1)).unwrap_err();
    /// let cell = MappedRwLockReadGuard::try_map(row, |r| r.first()).unwrap();
    /// assert_eq!(*cell, 5);
    /// ```
    pub fn try_map<U: ?Sized>(
        this: Self,
        f: impl FnOnce(&T) -> Option<&U>,
    ) -> Result<MappedRwLockReadGuard<'a, U, P>, Self> {
        match f(&*this).map(NonNull::from) {
            Some(data) => {
                let (raw, token) = (this.raw, this.token);
                core::mem::forget(this);
                Ok(MappedRwLockReadGuard { raw, token, data, _marker: PhantomData })
            }
            None => Err(this),
        }
    }

    /// A mapped guard over `data`, holding the read lock of `raw` that
    /// `token` stands for.
    ///
    /// # Safety
    /// That read lock is held and passes to the guard; `data` is valid for
    /// shared access for as long as it is held.
    pub(crate) unsafe fn from_raw(raw: &'a RawRwLock<P>, token: P::ReadToken, data: NonNull<T>) -> Self {
        MappedRwLockReadGuard { raw, token, data, _marker: PhantomData }
    }
}

impl<'a, T: ?Sized, P: Policy> MappedRwLockWriteGuard<'a, T, P> {
    /// Maps further into the data.
    pub fn map<U: ?Sized>(mut this: Self, f: impl FnOnce(&mut T) -> &mut U) -> MappedRwLockWriteGuard<'a, U, P> {
        let raw = this.raw;
        let data = NonNull::from(f(&mut *this));
        core::mem::forget(this);
        MappedRwLockWriteGuard { raw, data, _marker: PhantomData }
    }

    /// Maps further into the data if `f` finds a part; otherwise the guard
    /// back.
    ///
    /// ```
    /// use rwlocker::{MappedRwLockWriteGuard, RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::<Vec<Vec<u32>>>::new(vec![vec![5]]);
    /// let row = RwLockWriteGuard::map(lock.write(), |v| &mut v[0]);
    /// let row = MappedRwLockWriteGuard::try_map(row, |r| r.get_mut(1)).unwrap_err();
    /// *MappedRwLockWriteGuard::try_map(row, |r| r.first_mut()).unwrap() += 1;
    /// assert_eq!(lock.read()[0], [6]);
    /// ```
    pub fn try_map<U: ?Sized>(
        mut this: Self,
        f: impl FnOnce(&mut T) -> Option<&mut U>,
    ) -> Result<MappedRwLockWriteGuard<'a, U, P>, Self> {
        match f(&mut *this).map(NonNull::from) {
            Some(data) => {
                let raw = this.raw;
                core::mem::forget(this);
                Ok(MappedRwLockWriteGuard { raw, data, _marker: PhantomData })
            }
            None => Err(this),
        }
    }

    /// A mapped guard over `data`, holding the write lock of `raw`.
    ///
    /// # Safety
    /// The write lock of `raw` is held and passes to the guard; `data` is
    /// valid for exclusive access for as long as that lock is held.
    pub(crate) unsafe fn from_raw(raw: &'a RawRwLock<P>, data: NonNull<T>) -> Self {
        MappedRwLockWriteGuard { raw, data, _marker: PhantomData }
    }
}

impl<T: ?Sized, P: Policy> Deref for MappedRwLockReadGuard<'_, T, P> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `data` came from a `&T` under the read lock this guard holds.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized, P: Policy> Deref for MappedRwLockWriteGuard<'_, T, P> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `data` came from a `&mut T` under the write lock this guard holds.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized, P: Policy> DerefMut for MappedRwLockWriteGuard<'_, T, P> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: `data` came from a `&mut T` under the write lock this guard
        // holds, and `&mut self` makes this the only access.
        unsafe { self.data.as_mut() }
    }
}

impl<T: ?Sized, P: Policy> Drop for MappedRwLockReadGuard<'_, T, P> {
    fn drop(&mut self) {
        // SAFETY: the guard holds that read lock and gives it up exactly once.
        unsafe { self.raw.unlock_read(self.token) }
    }
}

impl<T: ?Sized, P: Policy> Drop for MappedRwLockWriteGuard<'_, T, P> {
    fn drop(&mut self) {
        // SAFETY: the guard holds the write lock and gives it up exactly once.
        unsafe { self.raw.unlock_exclusive() }
    }
}

macro_rules! fmt_via_deref {
    ($($guard:ident),*) => {$(
        impl<T: ?Sized + fmt::Debug, P: Policy> fmt::Debug for $guard<'_, T, P> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }
        impl<T: ?Sized + fmt::Display, P: Policy> fmt::Display for $guard<'_, T, P> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }
    )*};
}
fmt_via_deref!(RwLockReadGuard, RwLockWriteGuard, MappedRwLockReadGuard, MappedRwLockWriteGuard);

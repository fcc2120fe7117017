//! [`ReentrantRwLock`]: a blocking lock whose write holder may lock again.

use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;
use std::time::{Duration, Instant};

use crate::engine::RawRwLock;
use crate::loom::{thread_id, AtomicUsize, Ordering};
use crate::policy::{PhaseFair, Policy};

/// A reader-writer lock whose **write** holder may take the lock again.
///
/// The thread that holds the write lock may call [`write`](Self::write),
/// [`read`](Self::read) and their `try_*` forms again: they succeed at once,
/// nested, and are counted. The write lock is held until every guard that
/// thread took is gone, in whatever order the guards are dropped. Other
/// threads block as with [`RwLock`](crate::RwLock), under the admission
/// [`Policy`] `P`.
///
/// Guards give `&T` only, like parking_lot's `ReentrantMutex`: two nested
/// guards of one thread could otherwise hand out two `&mut T`. Mutate
/// through interior mutability (`Cell`, `RefCell` under
/// [`Exclusive`](crate::Exclusive), atomics, a `Mutex`). Guards are
/// `!Send`: a guard must be dropped on the thread that took it.
///
/// # Only writes are reentrant
///
/// A thread that holds only a **read** lock does not own the lock. If it
/// calls `read` again, that is a new, independent read acquisition: under
/// [`PhaseFair`] and [`WriterPreferring`](crate::WriterPreferring) it waits
/// behind any writer already waiting, and that writer waits for the first
/// read to end, so the thread **deadlocks**. Likewise, a read holder that
/// calls `write` waits for itself forever (there is no upgrade), and so
/// does the holder of a guard returned by
/// [`downgrade`](ReentrantRwLockWriteGuard::downgrade), which is a plain
/// read lock. Under [`Exclusive`](crate::Exclusive) every read is
/// exclusive, so a nested read by a read holder deadlocks at once: take
/// [`write`](Self::write) (or [`lock`](Self::lock)) to nest.
/// Under [`ReaderPreferring`](crate::ReaderPreferring) nested reads do not
/// deadlock (waiting writers are ignored), at the price that writers can
/// starve.
///
/// A thread is recognised by the address of a thread-local value; if a
/// thread exits while its write guard is leaked (`mem::forget`), a later
/// thread may inherit the ownership together with the leaked lock.
///
/// ```
/// use std::cell::Cell;
/// use rwlocker::{Exclusive, ReentrantRwLock};
///
/// let lock: ReentrantRwLock<Cell<u32>, Exclusive> = ReentrantRwLock::new(Cell::new(1));
/// let outer = lock.write();
/// let inner = lock.write(); // the owner locks again: no deadlock
/// inner.set(2);
/// let read = lock.read(); // and may read too
/// assert_eq!(read.get(), 2);
/// drop(outer); // any order: the lock is held until the last guard goes
/// assert!(lock.is_locked_exclusive());
/// drop((inner, read));
/// assert!(!lock.is_locked());
///
/// // A downgrade succeeds only when no other guard of the owner is alive.
/// let w = lock.write();
/// let nested = lock.write();
/// let w = rwlocker::ReentrantRwLockWriteGuard::downgrade(w).unwrap_err();
/// drop(nested);
/// let r = rwlocker::ReentrantRwLockWriteGuard::downgrade(w).ok().unwrap();
/// assert_eq!(r.get(), 2);
/// ```
pub struct ReentrantRwLock<T: ?Sized, P: Policy = PhaseFair> {
    raw: RawRwLock<P>,
    /// `thread_id()` of the thread holding the write lock; 0 when none.
    owner: AtomicUsize,
    /// Guards the owner holds (writes and nested reads). Only the owner
    /// touches it, while it holds the write lock.
    depth: AtomicUsize,
    data: UnsafeCell<T>,
}

// SAFETY: the lock owns a `T`; moving it to another thread moves the `T`.
unsafe impl<T: ?Sized + Send, P: Policy> Send for ReentrantRwLock<T, P> {}
// SAFETY: guards hand out `&T` only. Under a sharing policy several threads
// hold read guards at once, which `P::Shared<T>: Sync` requires (`T:
// Sync`); under `Exclusive` only one thread at a time reaches the data, so
// `T: Send` suffices (as for `std::sync::ReentrantLock` / a mutex).
unsafe impl<T: ?Sized + Send, P: Policy> Sync for ReentrantRwLock<T, P> where P::Shared<T>: Sync {}

impl<T, P: Policy> ReentrantRwLock<T, P> {
    crate::engine::maybe_const_fn! {
        /// Creates a new, unlocked lock holding `value`.
        pub fn new(value: T) -> Self {
            ReentrantRwLock {
                raw: RawRwLock::new(),
                owner: AtomicUsize::new(0),
                depth: AtomicUsize::new(0),
                data: UnsafeCell::new(value),
            }
        }
    }

    /// Consumes the lock and returns the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized, P: Policy> ReentrantRwLock<T, P> {
    /// Whether the calling thread holds the write lock (directly, or
    /// through guards nested in it).
    #[inline]
    pub fn is_owned_by_current_thread(&self) -> bool {
        // Relaxed suffices: the owner field equals this thread's id only if
        // this thread stored it, and a thread always sees its own latest store.
        self.owner.load(Ordering::Relaxed) == thread_id()
    }

    /// The nested guards (writes and reads) the calling thread holds as the
    /// write owner; 0 when it does not own the write lock. A condition
    /// variable may release the lock only at depth 1.
    #[allow(dead_code)] // for the condition variable
    pub(crate) fn owner_depth(&self) -> usize {
        if self.is_owned_by_current_thread() {
            self.depth.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// Gives up the ownership record of the calling thread, which owns the
    /// write lock at depth 1, without releasing the raw write lock (the
    /// caller releases it next, e.g. a condition variable about to sleep).
    ///
    /// # Safety
    /// The calling thread owns the write lock at depth 1, and the guard
    /// that accounts for that depth will not release it.
    pub(crate) unsafe fn disown(&self) {
        debug_assert_eq!(self.owner_depth(), 1, "disown at nesting depth != 1");
        self.depth.store(0, Ordering::Relaxed);
        self.owner.store(0, Ordering::Relaxed);
    }

    /// Records the calling thread as owner at depth 1, after it acquired
    /// the raw write lock.
    ///
    /// # Safety
    /// The calling thread has just acquired the raw write lock and nobody
    /// is recorded as owner.
    #[inline]
    pub(crate) unsafe fn own(&self) {
        debug_assert_eq!(self.owner.load(Ordering::Relaxed), 0, "a second owner");
        self.depth.store(1, Ordering::Relaxed);
        self.owner.store(thread_id(), Ordering::Relaxed);
    }

    /// One more nested guard of the owner.
    #[inline]
    fn nest(&self) {
        let depth = self.depth.load(Ordering::Relaxed);
        let depth = depth.checked_add(1).expect("rwlocker: ReentrantRwLock nesting depth overflow");
        self.depth.store(depth, Ordering::Relaxed);
    }

    /// One nested guard of the owner fewer; releases the write lock with the
    /// last one.
    ///
    /// # Safety
    /// The calling thread owns the write lock and gives up one of its guards.
    #[inline]
    unsafe fn unnest(&self) {
        let depth = self.depth.load(Ordering::Relaxed);
        debug_assert!(depth > 0 && self.is_owned_by_current_thread(), "unnest without ownership");
        if depth == 1 {
            self.depth.store(0, Ordering::Relaxed);
            self.owner.store(0, Ordering::Relaxed);
            // SAFETY: the owner's last guard goes: it releases the write
            // lock it acquired when it became the owner.
            unsafe { self.raw.unlock_exclusive() }
        } else {
            self.depth.store(depth - 1, Ordering::Relaxed);
        }
    }

    /// Blocks until a read lock is held. The write owner gets a nested read
    /// at once; any other thread takes a plain read lock (see [the type's
    /// docs](Self) for the deadlock of nested plain reads).
    ///
    /// # Panics
    /// If the number of readers would overflow.
    pub fn read(&self) -> ReentrantRwLockReadGuard<'_, T, P> {
        if self.is_owned_by_current_thread() {
            self.nest();
            return ReentrantRwLockReadGuard::new(self, true);
        }
        self.raw.lock_shared();
        ReentrantRwLockReadGuard::new(self, false)
    }

    /// Blocks until the write lock is held; the owner gets a nested write
    /// at once.
    pub fn write(&self) -> ReentrantRwLockWriteGuard<'_, T, P> {
        if self.is_owned_by_current_thread() {
            self.nest();
        } else {
            self.raw.lock_exclusive();
            // SAFETY: the raw write lock was just acquired by this thread.
            unsafe { self.own() };
        }
        ReentrantRwLockWriteGuard::new(self)
    }

    /// The exclusive entry, for code written against a mutex: the same as
    /// [`write`](Self::write).
    pub fn lock(&self) -> ReentrantRwLockWriteGuard<'_, T, P> {
        self.write()
    }

    /// A read lock if one is available at once (always for the owner),
    /// without overtaking a waiter the policy serves first.
    pub fn try_read(&self) -> Option<ReentrantRwLockReadGuard<'_, T, P>> {
        self.try_read_with(|raw| raw.try_lock_shared())
    }

    /// The write lock if the calling thread owns it already, or if it is
    /// free and nobody waits for it.
    pub fn try_write(&self) -> Option<ReentrantRwLockWriteGuard<'_, T, P>> {
        self.try_write_with(|raw| raw.try_lock_exclusive())
    }

    /// Waits up to `timeout` for a read lock (at once for the owner).
    pub fn try_read_for(&self, timeout: Duration) -> Option<ReentrantRwLockReadGuard<'_, T, P>> {
        self.try_read_with(|raw| raw.try_lock_shared_for(timeout))
    }

    /// Waits until `deadline` for a read lock (at once for the owner).
    pub fn try_read_until(&self, deadline: Instant) -> Option<ReentrantRwLockReadGuard<'_, T, P>> {
        self.try_read_with(|raw| raw.try_lock_shared_until(deadline))
    }

    /// Waits up to `timeout` for the write lock (at once for the owner).
    pub fn try_write_for(&self, timeout: Duration) -> Option<ReentrantRwLockWriteGuard<'_, T, P>> {
        self.try_write_with(|raw| raw.try_lock_exclusive_for(timeout))
    }

    /// Waits until `deadline` for the write lock (at once for the owner).
    pub fn try_write_until(&self, deadline: Instant) -> Option<ReentrantRwLockWriteGuard<'_, T, P>> {
        self.try_write_with(|raw| raw.try_lock_exclusive_until(deadline))
    }

    fn try_read_with(&self, acquire: impl FnOnce(&RawRwLock<P>) -> bool) -> Option<ReentrantRwLockReadGuard<'_, T, P>> {
        if self.is_owned_by_current_thread() {
            self.nest();
            Some(ReentrantRwLockReadGuard::new(self, true))
        } else {
            acquire(&self.raw).then(|| ReentrantRwLockReadGuard::new(self, false))
        }
    }

    fn try_write_with(
        &self,
        acquire: impl FnOnce(&RawRwLock<P>) -> bool,
    ) -> Option<ReentrantRwLockWriteGuard<'_, T, P>> {
        if self.is_owned_by_current_thread() {
            self.nest();
        } else if acquire(&self.raw) {
            // SAFETY: the raw write lock was just acquired by this thread.
            unsafe { self.own() };
        } else {
            return None;
        }
        Some(ReentrantRwLockWriteGuard::new(self))
    }

    /// Whether anyone holds the lock.
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Whether the lock is held exclusively (by a write owner, or by anyone
    /// under [`Exclusive`](crate::Exclusive)).
    pub fn is_locked_exclusive(&self) -> bool {
        self.raw.is_locked_exclusive()
    }

    /// The data, through exclusive access to the lock (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// The raw lock underneath (diagnostics such as
    /// [`state_snapshot`](RawRwLock::state_snapshot)). Locking it directly
    /// bypasses the ownership record: don't mix that with this lock's guards.
    pub fn raw(&self) -> &RawRwLock<P> {
        &self.raw
    }

    /// A pointer to the data; dereferencing it is only sound while a guard
    /// grants access.
    pub fn data_ptr(&self) -> *mut T {
        self.data.get()
    }
}

crate::macros::data_lock_impls!(ReentrantRwLock);

/// A read lock on a [`ReentrantRwLock`]: either a nested read of the write
/// owner or a plain read lock. Released on drop; `!Send`; `Sync` where the
/// lock is `Sync` and `T: Sync`:
///
/// ```compile_fail,E0277
/// struct OnlySync(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for OnlySync {}
/// fn assert_sync<G: Sync>(_: &G) {}
///
/// let lock = rwlocker::ReentrantRwLock::<_>::new(OnlySync(std::marker::PhantomData));
/// assert_sync(&lock.read()); // the lock is not `Sync` (`OnlySync: !Send`)
/// ```
#[must_use = "if unused the lock is released at once"]
pub struct ReentrantRwLockReadGuard<'a, T: ?Sized, P: Policy = PhaseFair> {
    pub(crate) lock: &'a ReentrantRwLock<T, P>,
    /// A nested read of the write owner (counted in its depth) rather than
    /// a plain read lock.
    pub(crate) owned: bool,
    _not_send: PhantomData<*const ()>,
}

/// The write lock on a [`ReentrantRwLock`], possibly nested; it gives `&T`
/// only. The lock is released when the owner's last guard is dropped;
/// `!Send`; `Sync` where the lock is `Sync` and `T: Sync`.
#[must_use = "if unused the lock is released at once"]
pub struct ReentrantRwLockWriteGuard<'a, T: ?Sized, P: Policy = PhaseFair> {
    pub(crate) lock: &'a ReentrantRwLock<T, P>,
    _not_send: PhantomData<*const ()>,
}

// Guards are `!Send` (released on the owning thread). Sharing one shares
// `&T` and, through `rwlock()`, the lock: `Sync` needs `T: Sync` and the
// lock to be `Sync` (`T: Send`, `P::Shared<T>: Sync`).
//
// SAFETY: sharing a guard (not sending it) shares `&T` and `&ReentrantRwLock`.
unsafe impl<T: ?Sized + Send + Sync, P: Policy> Sync for ReentrantRwLockReadGuard<'_, T, P> where P::Shared<T>: Sync {}
// SAFETY: sharing a guard (not sending it) shares `&T` and `&ReentrantRwLock`.
unsafe impl<T: ?Sized + Send + Sync, P: Policy> Sync for ReentrantRwLockWriteGuard<'_, T, P> where P::Shared<T>: Sync {}

impl<'a, T: ?Sized, P: Policy> ReentrantRwLockReadGuard<'a, T, P> {
    #[inline]
    fn new(lock: &'a ReentrantRwLock<T, P>, owned: bool) -> Self {
        ReentrantRwLockReadGuard { lock, owned, _not_send: PhantomData }
    }

    /// The lock this guard belongs to.
    pub fn rwlock(this: &Self) -> &'a ReentrantRwLock<T, P> {
        this.lock
    }
}

impl<'a, T: ?Sized, P: Policy> ReentrantRwLockWriteGuard<'a, T, P> {
    #[inline]
    fn new(lock: &'a ReentrantRwLock<T, P>) -> Self {
        ReentrantRwLockWriteGuard { lock, _not_send: PhantomData }
    }

    /// Turns the write lock into a plain read lock atomically (no writer can
    /// get in between), if this guard is the owner's only guard. Waiting
    /// readers join per policy, as for
    /// [`RwLockWriteGuard::downgrade`](crate::RwLockWriteGuard::downgrade).
    ///
    /// Returns `Err(this)` unchanged while any other guard of the owner,
    /// read or write, is alive: the nested guards rely on the write lock.
    /// The returned read guard is not an owner: nesting again from it is a
    /// plain read (see [`ReentrantRwLock`]).
    pub fn downgrade(this: Self) -> Result<ReentrantRwLockReadGuard<'a, T, P>, Self> {
        let lock = this.lock;
        if lock.depth.load(Ordering::Relaxed) != 1 {
            return Err(this);
        }
        core::mem::forget(this);
        // The read guard is made first, so that it releases the read lock if
        // the downgrade unwinds (a waker it runs panics, once the lock is
        // read-held).
        let read = ReentrantRwLockReadGuard::new(lock, false);
        // SAFETY: this thread owns the write lock through this guard alone
        // (depth 1); it stops being the owner and turns the raw write lock
        // into the read lock `read` owns.
        unsafe {
            lock.disown();
            lock.raw.downgrade();
        }
        Ok(read)
    }

    /// The lock this guard belongs to.
    pub fn rwlock(this: &Self) -> &'a ReentrantRwLock<T, P> {
        this.lock
    }
}

impl<T: ?Sized, P: Policy> Deref for ReentrantRwLockReadGuard<'_, T, P> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a read lock or the write lock is held: nobody has `&mut T`
        // (guards of this lock never give one out).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized, P: Policy> Deref for ReentrantRwLockWriteGuard<'_, T, P> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held by this thread; guards of this lock
        // give only `&T`, so nested guards alias only shared references.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized, P: Policy> Drop for ReentrantRwLockReadGuard<'_, T, P> {
    #[inline]
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: a nested read of the owner (guards are `!Send`, so this
            // is the owning thread) gives up its place in the depth.
            unsafe { self.lock.unnest() }
        } else {
            // SAFETY: the guard holds a plain read lock and gives it up once.
            unsafe { self.lock.raw.unlock_shared() }
        }
    }
}

impl<T: ?Sized, P: Policy> Drop for ReentrantRwLockWriteGuard<'_, T, P> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard is one of the owner's (guards are `!Send`, so
        // this is the owning thread) and gives up its place once.
        unsafe { self.lock.unnest() }
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
fmt_via_deref!(ReentrantRwLockReadGuard, ReentrantRwLockWriteGuard);

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::policy::{Exclusive, ReaderPreferring, WriterPreferring};

    fn depth_counts<P: Policy>() {
        let lock = ReentrantRwLock::<u8, P>::new(0);
        assert_eq!(lock.owner_depth(), 0);
        let w = lock.write();
        let r = lock.read();
        let w2 = lock.try_write().unwrap();
        assert_eq!(lock.owner_depth(), 3);
        drop(w);
        assert_eq!(lock.owner_depth(), 2);
        drop(w2);
        drop(r);
        assert_eq!(lock.owner_depth(), 0);
        assert!(!lock.is_locked());
        let r = lock.read();
        assert_eq!(lock.owner_depth(), 0, "a plain read is not an owner");
        drop(r);
        let w = lock.write();
        // SAFETY: depth 1; the guard is forgotten instead of dropped.
        unsafe { lock.disown() };
        core::mem::forget(w);
        assert_eq!(lock.owner_depth(), 0);
        assert!(lock.is_locked_exclusive());
        // SAFETY: the raw write lock is still held (by nobody's guard).
        unsafe { lock.own() };
        assert_eq!(lock.owner_depth(), 1);
        // SAFETY: owner at depth 1 with no guard: release by hand.
        unsafe { lock.unnest() };
        assert!(!lock.is_locked());
    }

    #[test]
    fn owner_depth_counts_writes_and_owner_reads() {
        depth_counts::<PhaseFair>();
        depth_counts::<ReaderPreferring>();
        depth_counts::<WriterPreferring>();
        depth_counts::<Exclusive>();
    }
}

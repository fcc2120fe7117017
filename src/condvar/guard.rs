//! How a condition variable releases and re-takes the lock of a guard.
//!
//! The condvars are not generic over locks; the guard types implement a
//! sealed trait that gives the condvar the raw lock (as `dyn WaitLock`) and
//! the mode to release and re-acquire.

// The sealed traits name crate-private types on purpose: nobody outside the
// crate can call or implement their items.
#![allow(private_interfaces)]

use crate::blocking::arc::{ArcRwLockReadGuard, ArcRwLockWriteGuard};
use crate::blocking::reentrant::{ReentrantRwLockReadGuard, ReentrantRwLockWriteGuard};
use crate::blocking::rwlock::{RwLockReadGuard, RwLockWriteGuard};
use crate::engine::bias::ReadToken as _;
use crate::engine::waiter::{Kind, Waiter, WakeList};
use crate::engine::RawRwLock;
use crate::loom::Arc;
use crate::policy::Policy;

/// The operations a condvar needs from a raw lock, object-safe so that one
/// condvar serves every policy.
pub trait WaitLock: Sync {
    /// Re-queues notified waiters as arrivals; returns those admitted now.
    fn requeue(&self, waiters: &mut dyn Iterator<Item = Arc<Waiter>>) -> WakeList;
    /// Blocks until `waiter`, re-queued by [`requeue`](Self::requeue), is
    /// granted the lock.
    fn wait_requeued(&self, waiter: &Arc<Waiter>);
    /// Takes the lock in `kind` mode, blocking.
    fn lock_kind(&self, kind: Kind);
    /// Releases the lock held in `kind` mode.
    ///
    /// # Safety
    /// The caller holds the lock in that mode.
    unsafe fn unlock_kind(&self, kind: Kind);
    /// Whether the reader count is full (a read lock now would overflow it).
    fn readers_full(&self) -> bool;
}

impl<P: Policy> WaitLock for RawRwLock<P> {
    fn requeue(&self, waiters: &mut dyn Iterator<Item = Arc<Waiter>>) -> WakeList {
        RawRwLock::requeue(self, waiters)
    }
    fn wait_requeued(&self, waiter: &Arc<Waiter>) {
        RawRwLock::wait_requeued(self, waiter)
    }
    fn lock_kind(&self, kind: Kind) {
        match kind {
            Kind::Read => self.lock_shared(),
            Kind::Write => self.lock_exclusive(),
        }
    }
    unsafe fn unlock_kind(&self, kind: Kind) {
        // SAFETY: forwarded from the caller's obligation (a condvar's read
        // lock is a counted one: see the read guards' `before_wait`).
        unsafe { self.unlock_held(kind, P::ReadToken::COUNTED) }
    }
    fn readers_full(&self) -> bool {
        P::KIND != crate::policy::PolicyKind::Exclusive && self.state_snapshot().readers >= crate::engine::MAX_READERS
    }
}

/// A value only this crate can make: the sealed traits' methods take one, so
/// that code outside the crate, which can name them through a
/// `G: CondvarGuard` bound, cannot call them (and, say, drop a reentrant
/// guard's ownership record while it holds the lock).
#[derive(Clone, Copy)]
pub(crate) struct Token;

pub(crate) mod sealed {
    use super::*;

    /// The part of [`CondvarGuard`](super::CondvarGuard) that only this
    /// crate can see.
    pub trait Sealed {
        /// The raw lock and the mode this guard holds it in.
        fn wait_lock(&self, _: Token) -> (&(dyn WaitLock + 'static), Kind);
        /// Called before the lock is released for a wait: panics on a guard
        /// that cannot wait (a nested reentrant guard).
        fn before_wait(&self, _: Token) {}
        /// Called after the lock is held again, also when the wait unwinds.
        fn after_wait(&self, _: Token) {}
    }
}

/// A guard [`RwCondvar`](crate::RwCondvar) can wait with: the read and
/// write guards of [`RwLock`](crate::RwLock) (any policy, so
/// [`Mutex`](crate::Mutex) too), borrowed or `Arc`
/// ([`RwLock::read_arc`](crate::RwLock::read_arc)), and of
/// [`ReentrantRwLock`](crate::ReentrantRwLock) at nesting depth 1.
///
/// The trait is sealed, and the hooks the condvar calls on a guard cannot
/// be called from outside this crate (they would, for instance, drop a
/// reentrant guard's ownership record while it holds the lock):
///
/// ```compile_fail,E0061
/// fn reown<G: rwlocker::CondvarGuard>(guard: &G) {
///     guard.after_wait(); // not callable outside rwlocker
/// }
/// ```
pub trait CondvarGuard: sealed::Sealed {}

impl<T: ?Sized, P: Policy> sealed::Sealed for RwLockReadGuard<'_, T, P> {
    fn wait_lock(&self, _: Token) -> (&(dyn WaitLock + 'static), Kind) {
        (self.lock.raw(), Kind::Read)
    }
    fn before_wait(&self, _: Token) {
        // The condvar releases and re-takes a counted read lock: make this
        // one counted (a no-op unless the lock is read-biased; the guard's
        // old token then releases the counted lock, see `Policy::ReadToken`).
        // SAFETY: the guard holds the read lock its token stands for.
        unsafe { self.lock.raw().count_in(self.token) }
    }
}
impl<T: ?Sized, P: Policy> CondvarGuard for RwLockReadGuard<'_, T, P> {}

impl<T: ?Sized, P: Policy> sealed::Sealed for RwLockWriteGuard<'_, T, P> {
    fn wait_lock(&self, _: Token) -> (&(dyn WaitLock + 'static), Kind) {
        (self.lock.raw(), Kind::Write)
    }
}
impl<T: ?Sized, P: Policy> CondvarGuard for RwLockWriteGuard<'_, T, P> {}

/// The write lock of a raw lock, held by code that manages locking itself
/// (the `lock_api` 0.5 condvar). Whoever builds one asserts that the lock is
/// held exclusively for as long as the value is waited with.
#[cfg(all(feature = "lock_api_05", not(loom)))]
pub(crate) struct RawWriteHeld<'a, P: Policy>(pub(crate) &'a RawRwLock<P>);

#[cfg(all(feature = "lock_api_05", not(loom)))]
impl<P: Policy> sealed::Sealed for RawWriteHeld<'_, P> {
    fn wait_lock(&self, _: Token) -> (&(dyn WaitLock + 'static), Kind) {
        (self.0, Kind::Write)
    }
}
#[cfg(all(feature = "lock_api_05", not(loom)))]
impl<P: Policy> CondvarGuard for RawWriteHeld<'_, P> {}

impl<T: ?Sized, P: Policy> sealed::Sealed for ArcRwLockReadGuard<T, P> {
    fn wait_lock(&self, _: Token) -> (&(dyn WaitLock + 'static), Kind) {
        (ArcRwLockReadGuard::rwlock(self).raw(), Kind::Read)
    }
    fn before_wait(&self, _: Token) {
        // As for `RwLockReadGuard`.
        // SAFETY: the guard holds the read lock its token stands for.
        unsafe { ArcRwLockReadGuard::rwlock(self).raw().count_in(ArcRwLockReadGuard::token(self)) }
    }
}
impl<T: ?Sized, P: Policy> CondvarGuard for ArcRwLockReadGuard<T, P> {}

impl<T: ?Sized, P: Policy> sealed::Sealed for ArcRwLockWriteGuard<T, P> {
    fn wait_lock(&self, _: Token) -> (&(dyn WaitLock + 'static), Kind) {
        (ArcRwLockWriteGuard::rwlock(self).raw(), Kind::Write)
    }
}
impl<T: ?Sized, P: Policy> CondvarGuard for ArcRwLockWriteGuard<T, P> {}

#[cold]
#[inline(never)]
#[track_caller]
fn nested_reentrant_wait() -> ! {
    panic!("rwlocker: RwCondvar wait with a nested ReentrantRwLock guard: the owner holds other guards of the lock, which a wait cannot release; drop the inner guards first")
}

impl<T: ?Sized, P: Policy> sealed::Sealed for ReentrantRwLockReadGuard<'_, T, P> {
    fn wait_lock(&self, _: Token) -> (&(dyn WaitLock + 'static), Kind) {
        (self.lock.raw(), Kind::Read)
    }
    fn before_wait(&self, _: Token) {
        // A read of the write owner is nested inside its write lock.
        if self.owned {
            nested_reentrant_wait()
        }
    }
}
impl<T: ?Sized, P: Policy> CondvarGuard for ReentrantRwLockReadGuard<'_, T, P> {}

impl<T: ?Sized, P: Policy> sealed::Sealed for ReentrantRwLockWriteGuard<'_, T, P> {
    fn wait_lock(&self, _: Token) -> (&(dyn WaitLock + 'static), Kind) {
        (self.lock.raw(), Kind::Write)
    }
    fn before_wait(&self, _: Token) {
        if self.lock.owner_depth() != 1 {
            nested_reentrant_wait()
        }
        // SAFETY: this thread owns the write lock at depth 1 through this
        // guard; the condvar releases the raw write lock next and the guard
        // is not used until `after_wait` restores the ownership.
        unsafe { self.lock.disown() }
    }
    fn after_wait(&self, _: Token) {
        // SAFETY: the condvar re-acquired the raw write lock for this thread.
        unsafe { self.lock.own() }
    }
}
impl<T: ?Sized, P: Policy> CondvarGuard for ReentrantRwLockWriteGuard<'_, T, P> {}

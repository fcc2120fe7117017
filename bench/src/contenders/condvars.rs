//! Condition variables paired with their lock, for B10 and B11.
//!
//! * Blocking ([`CondvarContender`]): rwlocker's `RwCondvar` with an
//!   `RwLock` under each policy (waiting with read or write guards) and
//!   with `rwlocker::Mutex`; std `Condvar` + `Mutex` and parking_lot's
//!   (0.12 and 0.13) `Condvar` + `Mutex`. std and parking_lot have no condition variable
//!   for a reader-writer lock, so their "read" waiters hold the mutex.
//! * Async ([`AsyncCondvarContender`]): rwlocker's `AsyncRwCondvar` with an
//!   `AsyncRwLock` under each policy; tokio has no condition variable, so
//!   its closest honest equivalent is a `tokio::sync::Notify` beside the
//!   lock, used the way a condvar is: the waiter creates and *enables* a
//!   `Notified` future while it still holds the lock, then releases the
//!   lock, awaits the notification and locks again (`notify_waiters`
//!   reaches every enabled waiter, so no wakeup is lost). It is paired
//!   with tokio's `RwLock` (read waiters share it) and with tokio's `Mutex`
//!   (the exclusive baseline, like Python's `asyncio.Condition`).

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::pin;

use rwlocker::{
    AsyncRwCondvar, AsyncRwLock, Exclusive, PhaseFair, Policy, ReaderPreferring, RwCondvar, RwLock, WriterPreferring,
};

use super::{ContenderInfo, Family, LockKind};

/// A lock and its condition variable, protecting a `u64`.
///
/// Access goes through closures, as for [`Contender`](super::Contender).
/// For a [`LockKind::Mutex`] pair, the "read" methods lock exclusively.
pub trait CondvarContender: Send + Sync + Sized + 'static {
    /// Name, family and kind.
    const INFO: ContenderInfo;

    /// A new pair with no waiters, the lock holding `value`.
    fn new(value: u64) -> Self;
    /// Takes a read lock, runs `locked`, waits on the condition variable
    /// while `condition` holds (re-taking the read lock after each wake),
    /// then runs `then`, still holding the read lock.
    fn read_wait_while<R>(
        &self,
        locked: impl FnOnce(&u64),
        condition: impl FnMut(&u64) -> bool,
        then: impl FnOnce(&u64) -> R,
    ) -> R;
    /// Like [`read_wait_while`](Self::read_wait_while), with the write lock.
    fn write_wait_while<R>(
        &self,
        locked: impl FnOnce(&mut u64),
        condition: impl FnMut(&u64) -> bool,
        then: impl FnOnce(&mut u64) -> R,
    ) -> R;
    /// Runs `f` under the write lock (no waiting).
    fn write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R;
    /// Wakes every waiter.
    fn notify_all(&self);
    /// The value, consuming the pair.
    fn into_inner(self) -> u64;
    /// `size_of` the condition variable alone.
    fn condvar_size() -> usize;
}

/// Something to do once per blocking condvar contender type.
pub trait CondvarVisit {
    /// Called once for each contender, in the order of [`visit_all_condvars`].
    fn visit<C: CondvarContender>(&mut self);
}

/// Visits every blocking condvar contender: the one list to extend.
pub fn visit_all_condvars(v: &mut impl CondvarVisit) {
    v.visit::<RwCv<ReaderPreferring>>();
    v.visit::<RwCv<WriterPreferring>>();
    v.visit::<RwCv<PhaseFair>>();
    v.visit::<RwCv<Exclusive>>();
    v.visit::<StdCv>();
    v.visit::<PlCv>();
    v.visit::<Pl013Cv>();
}

infos_fn!(
    /// Every blocking condvar contender's description, in registry order.
    all_condvar_infos, CondvarVisit, CondvarContender, visit_all_condvars
);

/// rwlocker `RwCondvar` + `RwLock<u64, P>`.
pub struct RwCv<P: Policy> {
    lock: RwLock<u64, P>,
    cv: RwCondvar,
}

/// The description of the rwlocker pair of one policy.
trait CvInfo {
    const INFO: ContenderInfo;
    const ASYNC_INFO: ContenderInfo;
}

macro_rules! cv_info {
    ($p:ty, $id:literal, $name:literal, $aid:literal, $aname:literal, $kind:ident) => {
        impl CvInfo for $p {
            const INFO: ContenderInfo = ContenderInfo {
                id: $id,
                name: $name,
                family: Family::Rwlocker,
                kind: LockKind::$kind,
                strict: false,
                biased: false,
            };
            const ASYNC_INFO: ContenderInfo = ContenderInfo {
                id: $aid,
                name: $aname,
                family: Family::Rwlocker,
                kind: LockKind::$kind,
                strict: false,
                biased: false,
            };
        }
    };
}

cv_info!(
    ReaderPreferring,
    "rwlocker-rp-cv",
    "RwCondvar+RwLock ReaderPref",
    "rwlocker-async-rp-cv",
    "AsyncRwCondvar ReaderPref",
    RwLock
);
cv_info!(
    WriterPreferring,
    "rwlocker-wp-cv",
    "RwCondvar+RwLock WriterPref",
    "rwlocker-async-wp-cv",
    "AsyncRwCondvar WriterPref",
    RwLock
);
cv_info!(
    PhaseFair,
    "rwlocker-pf-cv",
    "RwCondvar+RwLock PhaseFair",
    "rwlocker-async-pf-cv",
    "AsyncRwCondvar PhaseFair",
    RwLock
);
cv_info!(
    Exclusive,
    "rwlocker-mutex-cv",
    "RwCondvar+rwlocker Mutex",
    "rwlocker-async-mutex-cv",
    "AsyncRwCondvar+AsyncMutex",
    Mutex
);

impl<P: Policy + CvInfo + Send + Sync + 'static> CondvarContender for RwCv<P>
where
    P::Shared<u64>: Sync,
{
    const INFO: ContenderInfo = P::INFO;

    fn new(value: u64) -> Self {
        RwCv { lock: RwLock::new(value), cv: RwCondvar::new() }
    }
    #[inline]
    fn read_wait_while<R>(
        &self,
        locked: impl FnOnce(&u64),
        mut condition: impl FnMut(&u64) -> bool,
        then: impl FnOnce(&u64) -> R,
    ) -> R {
        let mut g = self.lock.read();
        locked(&g);
        self.cv.wait_while(&mut g, |v: &u64| condition(v));
        then(&g)
    }
    #[inline]
    fn write_wait_while<R>(
        &self,
        locked: impl FnOnce(&mut u64),
        mut condition: impl FnMut(&u64) -> bool,
        then: impl FnOnce(&mut u64) -> R,
    ) -> R {
        let mut g = self.lock.write();
        locked(&mut g);
        self.cv.wait_while(&mut g, |v: &u64| condition(v));
        then(&mut g)
    }
    #[inline]
    fn write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
        f(&mut self.lock.write())
    }
    #[inline]
    fn notify_all(&self) {
        self.cv.notify_all();
    }
    fn into_inner(self) -> u64 {
        self.lock.into_inner()
    }
    fn condvar_size() -> usize {
        size_of::<RwCondvar>()
    }
}

/// std `Condvar` + `Mutex<u64>`.
pub struct StdCv {
    lock: std::sync::Mutex<u64>,
    cv: std::sync::Condvar,
}

impl CondvarContender for StdCv {
    const INFO: ContenderInfo = ContenderInfo {
        id: "std-condvar",
        name: "std Condvar+Mutex",
        family: Family::Std,
        kind: LockKind::Mutex,
        strict: false,
        biased: false,
    };

    fn new(value: u64) -> Self {
        StdCv { lock: std::sync::Mutex::new(value), cv: std::sync::Condvar::new() }
    }
    #[inline]
    fn read_wait_while<R>(
        &self,
        locked: impl FnOnce(&u64),
        condition: impl FnMut(&u64) -> bool,
        then: impl FnOnce(&u64) -> R,
    ) -> R {
        self.write_wait_while(|v| locked(v), condition, |v| then(v))
    }
    #[inline]
    fn write_wait_while<R>(
        &self,
        locked: impl FnOnce(&mut u64),
        mut condition: impl FnMut(&u64) -> bool,
        then: impl FnOnce(&mut u64) -> R,
    ) -> R {
        let mut g = self.lock.lock().unwrap();
        locked(&mut g);
        let mut g = self.cv.wait_while(g, |v| condition(v)).unwrap();
        then(&mut g)
    }
    #[inline]
    fn write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
        f(&mut self.lock.lock().unwrap())
    }
    #[inline]
    fn notify_all(&self) {
        self.cv.notify_all();
    }
    fn into_inner(self) -> u64 {
        self.lock.into_inner().unwrap()
    }
    fn condvar_size() -> usize {
        size_of::<std::sync::Condvar>()
    }
}

/// Defines a parking_lot `Condvar` + `Mutex<u64>` pair for one parking_lot
/// release (`$pl` is the crate, under the name the bench depends on it by).
macro_rules! parking_lot_condvar {
    ($(#[$m:meta])* $name:ident, $pl:ident, $family:ident, $id:literal, $label:literal) => {
        $(#[$m])*
        pub struct $name {
            lock: $pl::Mutex<u64>,
            cv: $pl::Condvar,
        }

        impl CondvarContender for $name {
            const INFO: ContenderInfo =
                ContenderInfo { id: $id, name: $label, family: Family::$family, kind: LockKind::Mutex, strict: false, biased: false };

            fn new(value: u64) -> Self {
                $name { lock: $pl::Mutex::new(value), cv: $pl::Condvar::new() }
            }
            #[inline]
            fn read_wait_while<R>(
                &self,
                locked: impl FnOnce(&u64),
                condition: impl FnMut(&u64) -> bool,
                then: impl FnOnce(&u64) -> R,
            ) -> R {
                self.write_wait_while(|v| locked(v), condition, |v| then(v))
            }
            #[inline]
            fn write_wait_while<R>(
                &self,
                locked: impl FnOnce(&mut u64),
                mut condition: impl FnMut(&u64) -> bool,
                then: impl FnOnce(&mut u64) -> R,
            ) -> R {
                let mut g = self.lock.lock();
                locked(&mut g);
                self.cv.wait_while(&mut g, |v| condition(v));
                then(&mut g)
            }
            #[inline]
            fn write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
                f(&mut self.lock.lock())
            }
            #[inline]
            fn notify_all(&self) {
                self.cv.notify_all();
            }
            fn into_inner(self) -> u64 {
                self.lock.into_inner()
            }
            fn condvar_size() -> usize {
                size_of::<$pl::Condvar>()
            }
        }
    };
}

parking_lot_condvar!(
    /// parking_lot 0.12 `Condvar` + `Mutex<u64>`.
    PlCv,
    parking_lot,
    ParkingLot,
    "pl-condvar",
    "parking_lot 0.12 Condvar+Mutex"
);
parking_lot_condvar!(
    /// parking_lot 0.13 `Condvar` + `Mutex<u64>`.
    Pl013Cv,
    parking_lot_013,
    ParkingLot013,
    "pl013-condvar",
    "parking_lot 0.13 Condvar+Mutex"
);

// ---------------------------------------------------------------------------
// Async
// ---------------------------------------------------------------------------

/// An async lock and its condition (variable), protecting a `u64`.
///
/// Guards are handed out, as for
/// [`AsyncContender`](super::AsyncContender), so that scenarios can await
/// inside the critical section. For a [`LockKind::Mutex`] pair both guard
/// types are the mutex guard.
pub trait AsyncCondvarContender: Send + Sync + Sized + 'static {
    /// Name, family and kind.
    const INFO: ContenderInfo;
    /// The read guard.
    type Read<'a>: Deref<Target = u64> + Send + 'a;
    /// The write guard.
    type Write<'a>: DerefMut<Target = u64> + Send + 'a;

    /// A new pair with no waiters, the lock holding `value`.
    fn new(value: u64) -> Self;
    /// Acquires a read lock.
    fn read(&self) -> impl Future<Output = Self::Read<'_>> + Send + '_;
    /// Acquires the write lock.
    fn write(&self) -> impl Future<Output = Self::Write<'_>> + Send + '_;
    /// Releases `guard`, waits for a notification, and re-acquires the
    /// same mode (the waiter is registered before the lock is released).
    fn wait_read<'a>(&'a self, guard: Self::Read<'a>) -> impl Future<Output = Self::Read<'a>> + Send + 'a;
    /// Like [`wait_read`](Self::wait_read), for the write guard.
    fn wait_write<'a>(&'a self, guard: Self::Write<'a>) -> impl Future<Output = Self::Write<'a>> + Send + 'a;
    /// Wakes every registered waiter.
    fn notify_all(&self);
    /// The value, consuming the pair.
    fn into_inner(self) -> u64;
    /// `size_of` the condition variable alone and of its wait future
    /// (waiting with a read guard of a lock of `()`).
    fn sizes() -> (usize, usize);
}

/// Something to do once per async condvar contender type.
pub trait AsyncCondvarVisit {
    /// Called once for each contender, in the order of
    /// [`visit_all_async_condvars`].
    fn visit<C: AsyncCondvarContender>(&mut self);
}

/// Visits every async condvar contender: the one list to extend.
pub fn visit_all_async_condvars(v: &mut impl AsyncCondvarVisit) {
    v.visit::<AsyncRwCv<ReaderPreferring>>();
    v.visit::<AsyncRwCv<WriterPreferring>>();
    v.visit::<AsyncRwCv<PhaseFair>>();
    v.visit::<AsyncRwCv<Exclusive>>();
    v.visit::<TokioRwNotify>();
    v.visit::<TokioMutexNotify>();
}

infos_fn!(
    /// Every async condvar contender's description, in registry order.
    all_async_condvar_infos, AsyncCondvarVisit, AsyncCondvarContender, visit_all_async_condvars
);

/// rwlocker `AsyncRwCondvar` + `AsyncRwLock<u64, P>`.
pub struct AsyncRwCv<P: Policy> {
    lock: AsyncRwLock<u64, P>,
    cv: AsyncRwCondvar,
}

impl<P: Policy + CvInfo + Send + Sync + 'static> AsyncCondvarContender for AsyncRwCv<P>
where
    P::Shared<u64>: Sync,
{
    const INFO: ContenderInfo = P::ASYNC_INFO;
    type Read<'a> = rwlocker::AsyncRwLockReadGuard<'a, u64, P>;
    type Write<'a> = rwlocker::AsyncRwLockWriteGuard<'a, u64, P>;

    fn new(value: u64) -> Self {
        AsyncRwCv { lock: AsyncRwLock::new(value), cv: AsyncRwCondvar::new() }
    }
    #[inline]
    fn read(&self) -> impl Future<Output = Self::Read<'_>> + Send + '_ {
        self.lock.read()
    }
    #[inline]
    fn write(&self) -> impl Future<Output = Self::Write<'_>> + Send + '_ {
        self.lock.write()
    }
    #[inline]
    fn wait_read<'a>(&'a self, guard: Self::Read<'a>) -> impl Future<Output = Self::Read<'a>> + Send + 'a {
        self.cv.wait(guard)
    }
    #[inline]
    fn wait_write<'a>(&'a self, guard: Self::Write<'a>) -> impl Future<Output = Self::Write<'a>> + Send + 'a {
        self.cv.wait(guard)
    }
    #[inline]
    fn notify_all(&self) {
        self.cv.notify_all();
    }
    fn into_inner(self) -> u64 {
        self.lock.into_inner()
    }
    fn sizes() -> (usize, usize) {
        (
            size_of::<AsyncRwCondvar>(),
            size_of::<rwlocker::AsyncRwCondvarWait<'static, rwlocker::AsyncRwLockReadGuard<'static, (), P>>>(),
        )
    }
}

/// Waits on `notify` the way a condition variable does: registers (enables
/// the `Notified` future) while the lock is still held, then releases it.
async fn notify_wait<G>(notify: &tokio::sync::Notify, guard: G) {
    let mut notified = pin!(notify.notified());
    notified.as_mut().enable();
    drop(guard);
    notified.await;
}

/// tokio `RwLock<u64>` + `Notify`.
pub struct TokioRwNotify {
    lock: tokio::sync::RwLock<u64>,
    notify: tokio::sync::Notify,
}

impl AsyncCondvarContender for TokioRwNotify {
    const INFO: ContenderInfo = ContenderInfo {
        id: "tokio-rwlock-notify",
        name: "tokio RwLock+Notify",
        family: Family::Tokio,
        kind: LockKind::RwLock,
        strict: false,
        biased: false,
    };
    type Read<'a> = tokio::sync::RwLockReadGuard<'a, u64>;
    type Write<'a> = tokio::sync::RwLockWriteGuard<'a, u64>;

    fn new(value: u64) -> Self {
        TokioRwNotify { lock: tokio::sync::RwLock::new(value), notify: tokio::sync::Notify::new() }
    }
    #[inline]
    fn read(&self) -> impl Future<Output = Self::Read<'_>> + Send + '_ {
        self.lock.read()
    }
    #[inline]
    fn write(&self) -> impl Future<Output = Self::Write<'_>> + Send + '_ {
        self.lock.write()
    }
    async fn wait_read<'a>(&'a self, guard: Self::Read<'a>) -> Self::Read<'a> {
        notify_wait(&self.notify, guard).await;
        self.lock.read().await
    }
    async fn wait_write<'a>(&'a self, guard: Self::Write<'a>) -> Self::Write<'a> {
        notify_wait(&self.notify, guard).await;
        self.lock.write().await
    }
    #[inline]
    fn notify_all(&self) {
        self.notify.notify_waiters();
    }
    fn into_inner(self) -> u64 {
        self.lock.into_inner()
    }
    fn sizes() -> (usize, usize) {
        let notify = tokio::sync::Notify::new();
        let wait = size_of_val(&notify.notified());
        (size_of::<tokio::sync::Notify>(), wait)
    }
}

/// tokio `Mutex<u64>` + `Notify`: the exclusive baseline.
pub struct TokioMutexNotify {
    lock: tokio::sync::Mutex<u64>,
    notify: tokio::sync::Notify,
}

impl AsyncCondvarContender for TokioMutexNotify {
    const INFO: ContenderInfo = ContenderInfo {
        id: "tokio-mutex-notify",
        name: "tokio Mutex+Notify",
        family: Family::Tokio,
        kind: LockKind::Mutex,
        strict: false,
        biased: false,
    };
    type Read<'a> = tokio::sync::MutexGuard<'a, u64>;
    type Write<'a> = tokio::sync::MutexGuard<'a, u64>;

    fn new(value: u64) -> Self {
        TokioMutexNotify { lock: tokio::sync::Mutex::new(value), notify: tokio::sync::Notify::new() }
    }
    #[inline]
    fn read(&self) -> impl Future<Output = Self::Read<'_>> + Send + '_ {
        self.lock.lock()
    }
    #[inline]
    fn write(&self) -> impl Future<Output = Self::Write<'_>> + Send + '_ {
        self.lock.lock()
    }
    fn wait_read<'a>(&'a self, guard: Self::Read<'a>) -> impl Future<Output = Self::Read<'a>> + Send + 'a {
        self.wait_write(guard)
    }
    async fn wait_write<'a>(&'a self, guard: Self::Write<'a>) -> Self::Write<'a> {
        notify_wait(&self.notify, guard).await;
        self.lock.lock().await
    }
    #[inline]
    fn notify_all(&self) {
        self.notify.notify_waiters();
    }
    fn into_inner(self) -> u64 {
        self.lock.into_inner()
    }
    fn sizes() -> (usize, usize) {
        let notify = tokio::sync::Notify::new();
        let wait = size_of_val(&notify.notified());
        (size_of::<tokio::sync::Notify>(), wait)
    }
}

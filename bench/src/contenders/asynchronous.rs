//! The async locks that compete in B2 (async), B6, B13 and B15: rwlocker's
//! `AsyncRwLock` under each policy and `AsyncMutex` (each also in its
//! `Strict<P>` mode, for the scenarios that compare both modes), tokio's
//! `RwLock` and `Mutex`, async-lock's `RwLock` and `Mutex`.
//!
//! Unlike the blocking [`Contender`](super::Contender), an async contender
//! hands out its guards (as associated types), because the scenarios await
//! inside the critical section (`tokio::time::sleep` in B6) and wrap the
//! acquire futures in `tokio::time::timeout` (B13).

use std::future::Future;
use std::ops::{Deref, DerefMut};

use rwlocker::{AsyncMutex, AsyncRwLock, Exclusive, PhaseFair, ReaderPreferring, Strict, WriterPreferring};
use serde::Serialize;

use super::{ContenderInfo, Family, LockKind};

/// Sizes of an async lock, its guards and its acquire futures, in bytes
/// (scenario B14).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct AsyncSizes {
    /// `size_of` the lock protecting `()`.
    pub lock_unit: usize,
    /// `size_of` the lock protecting a `u64`.
    pub lock_u64: usize,
    /// `size_of` a read guard (the lock guard for a mutex).
    pub read_guard: usize,
    /// `size_of` a write guard.
    pub write_guard: usize,
    /// Size of the future `read()` returns on a lock of `()` (`lock()` for
    /// a mutex); `size_of_val` of an unpolled future where its type has no
    /// name.
    pub read_future: usize,
    /// Size of the future `write()` (`lock()`) returns.
    pub write_future: usize,
}

/// An async lock protecting a `u64`.
///
/// For a [`LockKind::Mutex`], `read` and `try_read` lock exclusively and
/// both guard types are the mutex guard.
pub trait AsyncContender: Send + Sync + Sized + 'static {
    /// Name, family and kind.
    const INFO: ContenderInfo;
    /// The read guard.
    type Read<'a>: Deref<Target = u64> + Send + 'a;
    /// The write guard.
    type Write<'a>: DerefMut<Target = u64> + Send + 'a;

    /// A new, unlocked lock holding `value`.
    fn new(value: u64) -> Self;
    /// Acquires a read lock.
    fn read(&self) -> impl Future<Output = Self::Read<'_>> + Send + '_;
    /// Acquires the write lock.
    fn write(&self) -> impl Future<Output = Self::Write<'_>> + Send + '_;
    /// A read lock if one is available at once.
    fn try_read(&self) -> Option<Self::Read<'_>>;
    /// The write lock if it is available at once.
    fn try_write(&self) -> Option<Self::Write<'_>>;
    /// The value, consuming the lock.
    fn into_inner(self) -> u64;
    /// Readers and writers still queued in the lock's wait queue, where the
    /// lock can tell (rwlocker's `raw().state_snapshot()`).
    fn queued(&self) -> Option<(usize, usize)> {
        None
    }
    /// Sizes of the lock, its guards and futures.
    fn sizes() -> AsyncSizes;
}

/// Something to do once per async contender type.
pub trait AsyncVisit {
    /// Called once for each async contender, in the order of
    /// [`visit_all_async`].
    fn visit<C: AsyncContender>(&mut self);
}

/// Visits every async contender: the one list to extend.
pub fn visit_all_async(v: &mut impl AsyncVisit) {
    v.visit::<AsyncRwLock<u64, ReaderPreferring>>();
    v.visit::<AsyncRwLock<u64, WriterPreferring>>();
    v.visit::<AsyncRwLock<u64, PhaseFair>>();
    v.visit::<AsyncMutex<u64>>();
    v.visit::<AsyncRwLock<u64, Strict<ReaderPreferring>>>();
    v.visit::<AsyncRwLock<u64, Strict<WriterPreferring>>>();
    v.visit::<AsyncRwLock<u64, Strict<PhaseFair>>>();
    v.visit::<AsyncRwLock<u64, Strict<Exclusive>>>();
    v.visit::<tokio::sync::RwLock<u64>>();
    v.visit::<tokio::sync::Mutex<u64>>();
    v.visit::<async_lock::RwLock<u64>>();
    v.visit::<async_lock::Mutex<u64>>();
}

infos_fn!(
    /// Every async contender's description, in registry order.
    all_async_infos, AsyncVisit, AsyncContender, visit_all_async
);

// ---------------------------------------------------------------------------
// rwlocker
// ---------------------------------------------------------------------------

macro_rules! rwlocker_async {
    ($p:ty, $id:literal, $name:literal, $kind:ident) => {
        impl AsyncContender for AsyncRwLock<u64, $p> {
            const INFO: ContenderInfo = ContenderInfo {
                id: $id,
                name: $name,
                family: Family::Rwlocker,
                kind: LockKind::$kind,
                strict: <$p as rwlocker::Policy>::STRICT,
                biased: <$p as rwlocker::Policy>::BIASED,
            };
            type Read<'a> = rwlocker::AsyncRwLockReadGuard<'a, u64, $p>;
            type Write<'a> = rwlocker::AsyncRwLockWriteGuard<'a, u64, $p>;

            #[inline]
            fn new(value: u64) -> Self {
                AsyncRwLock::new(value)
            }
            #[inline]
            fn read(&self) -> impl Future<Output = Self::Read<'_>> + Send + '_ {
                AsyncRwLock::read(self)
            }
            #[inline]
            fn write(&self) -> impl Future<Output = Self::Write<'_>> + Send + '_ {
                AsyncRwLock::write(self)
            }
            #[inline]
            fn try_read(&self) -> Option<Self::Read<'_>> {
                AsyncRwLock::try_read(self)
            }
            #[inline]
            fn try_write(&self) -> Option<Self::Write<'_>> {
                AsyncRwLock::try_write(self)
            }
            fn into_inner(self) -> u64 {
                AsyncRwLock::into_inner(self)
            }
            fn queued(&self) -> Option<(usize, usize)> {
                let s = self.raw().state_snapshot();
                Some((s.queued_readers, s.queued_writers))
            }
            fn sizes() -> AsyncSizes {
                AsyncSizes {
                    lock_unit: size_of::<AsyncRwLock<(), $p>>(),
                    lock_u64: size_of::<Self>(),
                    read_guard: size_of::<rwlocker::AsyncRwLockReadGuard<'static, (), $p>>(),
                    write_guard: size_of::<rwlocker::AsyncRwLockWriteGuard<'static, (), $p>>(),
                    read_future: size_of::<rwlocker::AsyncRwLockReadFuture<'static, (), $p>>(),
                    write_future: size_of::<rwlocker::AsyncRwLockWriteFuture<'static, (), $p>>(),
                }
            }
        }
    };
}

rwlocker_async!(ReaderPreferring, "rwlocker-async-rp", "rwlocker async ReaderPref", RwLock);
rwlocker_async!(WriterPreferring, "rwlocker-async-wp", "rwlocker async WriterPref", RwLock);
rwlocker_async!(PhaseFair, "rwlocker-async-pf", "rwlocker async PhaseFair", RwLock);
rwlocker_async!(Exclusive, "rwlocker-async-mutex", "rwlocker AsyncMutex", Mutex);
rwlocker_async!(Strict<ReaderPreferring>, "rwlocker-async-strict-rp", "rwlocker async Strict<ReaderPref>", RwLock);
rwlocker_async!(Strict<WriterPreferring>, "rwlocker-async-strict-wp", "rwlocker async Strict<WriterPref>", RwLock);
rwlocker_async!(Strict<PhaseFair>, "rwlocker-async-strict-pf", "rwlocker async Strict<PhaseFair>", RwLock);
rwlocker_async!(Strict<Exclusive>, "rwlocker-async-strict-mutex", "rwlocker async Strict<Exclusive>", Mutex);

// ---------------------------------------------------------------------------
// tokio
// ---------------------------------------------------------------------------

impl AsyncContender for tokio::sync::RwLock<u64> {
    const INFO: ContenderInfo = ContenderInfo {
        id: "tokio-rwlock",
        name: "tokio RwLock",
        family: Family::Tokio,
        kind: LockKind::RwLock,
        strict: false,
        biased: false,
    };
    type Read<'a> = tokio::sync::RwLockReadGuard<'a, u64>;
    type Write<'a> = tokio::sync::RwLockWriteGuard<'a, u64>;

    #[inline]
    fn new(value: u64) -> Self {
        tokio::sync::RwLock::new(value)
    }
    #[inline]
    fn read(&self) -> impl Future<Output = Self::Read<'_>> + Send + '_ {
        tokio::sync::RwLock::read(self)
    }
    #[inline]
    fn write(&self) -> impl Future<Output = Self::Write<'_>> + Send + '_ {
        tokio::sync::RwLock::write(self)
    }
    #[inline]
    fn try_read(&self) -> Option<Self::Read<'_>> {
        tokio::sync::RwLock::try_read(self).ok()
    }
    #[inline]
    fn try_write(&self) -> Option<Self::Write<'_>> {
        tokio::sync::RwLock::try_write(self).ok()
    }
    fn into_inner(self) -> u64 {
        tokio::sync::RwLock::into_inner(self)
    }
    fn sizes() -> AsyncSizes {
        let lock = tokio::sync::RwLock::new(());
        // `read()` and `write()` are `async fn`s: their futures have no
        // name, so measure unpolled instances.
        let read_future = size_of_val(&lock.read());
        let write_future = size_of_val(&lock.write());
        AsyncSizes {
            lock_unit: size_of::<tokio::sync::RwLock<()>>(),
            lock_u64: size_of::<Self>(),
            read_guard: size_of::<tokio::sync::RwLockReadGuard<'static, ()>>(),
            write_guard: size_of::<tokio::sync::RwLockWriteGuard<'static, ()>>(),
            read_future,
            write_future,
        }
    }
}

impl AsyncContender for tokio::sync::Mutex<u64> {
    const INFO: ContenderInfo = ContenderInfo {
        id: "tokio-mutex",
        name: "tokio Mutex",
        family: Family::Tokio,
        kind: LockKind::Mutex,
        strict: false,
        biased: false,
    };
    type Read<'a> = tokio::sync::MutexGuard<'a, u64>;
    type Write<'a> = tokio::sync::MutexGuard<'a, u64>;

    #[inline]
    fn new(value: u64) -> Self {
        tokio::sync::Mutex::new(value)
    }
    #[inline]
    fn read(&self) -> impl Future<Output = Self::Read<'_>> + Send + '_ {
        self.lock()
    }
    #[inline]
    fn write(&self) -> impl Future<Output = Self::Write<'_>> + Send + '_ {
        self.lock()
    }
    #[inline]
    fn try_read(&self) -> Option<Self::Read<'_>> {
        self.try_lock().ok()
    }
    #[inline]
    fn try_write(&self) -> Option<Self::Write<'_>> {
        self.try_lock().ok()
    }
    fn into_inner(self) -> u64 {
        tokio::sync::Mutex::into_inner(self)
    }
    fn sizes() -> AsyncSizes {
        let lock = tokio::sync::Mutex::new(());
        let guard = size_of::<tokio::sync::MutexGuard<'static, ()>>();
        let future = size_of_val(&lock.lock());
        AsyncSizes {
            lock_unit: size_of::<tokio::sync::Mutex<()>>(),
            lock_u64: size_of::<Self>(),
            read_guard: guard,
            write_guard: guard,
            read_future: future,
            write_future: future,
        }
    }
}

// ---------------------------------------------------------------------------
// async-lock
// ---------------------------------------------------------------------------

impl AsyncContender for async_lock::RwLock<u64> {
    const INFO: ContenderInfo = ContenderInfo {
        id: "al-rwlock",
        name: "async-lock RwLock",
        family: Family::AsyncLock,
        kind: LockKind::RwLock,
        strict: false,
        biased: false,
    };
    type Read<'a> = async_lock::RwLockReadGuard<'a, u64>;
    type Write<'a> = async_lock::RwLockWriteGuard<'a, u64>;

    #[inline]
    fn new(value: u64) -> Self {
        async_lock::RwLock::new(value)
    }
    #[inline]
    fn read(&self) -> impl Future<Output = Self::Read<'_>> + Send + '_ {
        async_lock::RwLock::read(self)
    }
    #[inline]
    fn write(&self) -> impl Future<Output = Self::Write<'_>> + Send + '_ {
        async_lock::RwLock::write(self)
    }
    #[inline]
    fn try_read(&self) -> Option<Self::Read<'_>> {
        async_lock::RwLock::try_read(self)
    }
    #[inline]
    fn try_write(&self) -> Option<Self::Write<'_>> {
        async_lock::RwLock::try_write(self)
    }
    fn into_inner(self) -> u64 {
        async_lock::RwLock::into_inner(self)
    }
    fn sizes() -> AsyncSizes {
        AsyncSizes {
            lock_unit: size_of::<async_lock::RwLock<()>>(),
            lock_u64: size_of::<Self>(),
            read_guard: size_of::<async_lock::RwLockReadGuard<'static, ()>>(),
            write_guard: size_of::<async_lock::RwLockWriteGuard<'static, ()>>(),
            read_future: size_of::<async_lock::futures::Read<'static, ()>>(),
            write_future: size_of::<async_lock::futures::Write<'static, ()>>(),
        }
    }
}

impl AsyncContender for async_lock::Mutex<u64> {
    const INFO: ContenderInfo = ContenderInfo {
        id: "al-mutex",
        name: "async-lock Mutex",
        family: Family::AsyncLock,
        kind: LockKind::Mutex,
        strict: false,
        biased: false,
    };
    type Read<'a> = async_lock::MutexGuard<'a, u64>;
    type Write<'a> = async_lock::MutexGuard<'a, u64>;

    #[inline]
    fn new(value: u64) -> Self {
        async_lock::Mutex::new(value)
    }
    #[inline]
    fn read(&self) -> impl Future<Output = Self::Read<'_>> + Send + '_ {
        self.lock()
    }
    #[inline]
    fn write(&self) -> impl Future<Output = Self::Write<'_>> + Send + '_ {
        self.lock()
    }
    #[inline]
    fn try_read(&self) -> Option<Self::Read<'_>> {
        self.try_lock()
    }
    #[inline]
    fn try_write(&self) -> Option<Self::Write<'_>> {
        self.try_lock()
    }
    fn into_inner(self) -> u64 {
        async_lock::Mutex::into_inner(self)
    }
    fn sizes() -> AsyncSizes {
        let guard = size_of::<async_lock::MutexGuard<'static, ()>>();
        let future = size_of::<async_lock::futures::Lock<'static, ()>>();
        AsyncSizes {
            lock_unit: size_of::<async_lock::Mutex<()>>(),
            lock_u64: size_of::<Self>(),
            read_guard: guard,
            write_guard: guard,
            read_future: future,
            write_future: future,
        }
    }
}

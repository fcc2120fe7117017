//! The one place every synchronisation primitive of the crate comes from.
//!
//! Normal builds use `std` atomics, `std::thread` parking and `parking_lot`'s
//! mutex. Under `RUSTFLAGS="--cfg loom"` the same names resolve to loom's
//! model-checked types, so the whole engine can be explored exhaustively
//! (tokio's `src/loom` is the model for this layout).

// The facade offers the same names in both builds; not every build uses all.
#![allow(dead_code, unused_imports)]

#[cfg(not(loom))]
mod imp {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
    pub(crate) use std::sync::Arc;
    pub(crate) use std::thread::{current, park, park_timeout, yield_now, Thread};

    use parking_lot::lock_api::RawMutex as _;

    /// Busy-wait hint used by the bounded spin before parking.
    #[inline]
    pub(crate) fn spin_loop() {
        std::hint::spin_loop()
    }

    /// An `UnsafeCell` with loom's closure-based access API.
    #[derive(Debug, Default)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }
        #[inline]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }
        #[inline]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0.get_mut()
        }
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    /// The lock that guards an engine's waiter queue: one byte, parks on
    /// contention (parking_lot's word-sized mutex).
    pub(crate) struct QueueLock(parking_lot::RawMutex);

    impl QueueLock {
        pub(crate) const fn new() -> Self {
            QueueLock(parking_lot::RawMutex::INIT)
        }
        #[inline]
        pub(crate) fn lock(&self) -> QueueLockGuard<'_> {
            self.0.lock();
            QueueLockGuard(&self.0)
        }
    }

    pub(crate) struct QueueLockGuard<'a>(&'a parking_lot::RawMutex);

    impl Drop for QueueLockGuard<'_> {
        #[inline]
        fn drop(&mut self) {
            // SAFETY: the guard exists only after `lock()` succeeded on this
            // mutex, and it is dropped exactly once.
            unsafe { self.0.unlock() }
        }
    }

    /// A small data-owning mutex for per-waiter state.
    pub(crate) type Mutex<T> = parking_lot::Mutex<T>;

    /// A non-zero number that identifies the calling thread among the
    /// threads alive now: the address of a thread-local byte (the scheme of
    /// parking_lot's `ReentrantMutex`). A number may be reused once its
    /// thread has exited.
    #[inline]
    pub(crate) fn thread_id() -> usize {
        thread_local!(static ID: u8 = const { 0 });
        ID.with(|id| id as *const u8 as usize)
    }

    /// The engine's clock (see the `clock` module).
    pub(crate) use crate::clock::now_ns;
}

#[cfg(loom)]
mod imp {
    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
    pub(crate) use loom::sync::Arc;
    pub(crate) use loom::thread::{current, park, yield_now, Thread};

    /// loom has no timed park; a timed wait is modelled as an untimed one and
    /// timeouts are modelled explicitly by the tests (a waiter that gives up).
    pub(crate) fn park_timeout(_: std::time::Duration) {
        loom::thread::park()
    }

    pub(crate) fn spin_loop() {
        loom::thread::yield_now()
    }

    pub(crate) struct QueueLock(loom::sync::Mutex<()>);

    impl QueueLock {
        pub(crate) fn new() -> Self {
            QueueLock(loom::sync::Mutex::new(()))
        }
        pub(crate) fn lock(&self) -> QueueLockGuard<'_> {
            QueueLockGuard(self.0.lock().unwrap())
        }
    }

    pub(crate) struct QueueLockGuard<'a>(#[allow(dead_code)] loom::sync::MutexGuard<'a, ()>);

    /// A non-zero number that identifies the calling (model) thread among
    /// the threads alive now: the address of a loom thread-local byte.
    pub(crate) fn thread_id() -> usize {
        loom::thread_local!(static ID: u8 = 0);
        ID.with(|id| id as *const u8 as usize)
    }

    std::thread_local! {
        /// The model's clock and starvation bound (see `set_model_time`).
        static MODEL_TIME: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, u64::MAX / 2)) };
    }

    /// loom has no clock: a model sets the time and the starvation bound
    /// itself. loom runs every model thread on the test's own OS thread, so
    /// a thread-local value is per test and seen by all its model threads.
    pub(crate) fn set_model_time(now: u64, bound: u64) {
        MODEL_TIME.with(|t| t.set((now, bound)))
    }

    pub(crate) fn now_ns() -> u64 {
        MODEL_TIME.with(|t| t.get().0)
    }

    pub(crate) fn model_bound_ns() -> u64 {
        MODEL_TIME.with(|t| t.get().1)
    }

    /// loom's mutex with parking_lot's (non-poisoning) signature.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }
        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
    }
}

pub(crate) use imp::*;

//! Read-write locks done properly: a selectable admission policy, for
//! threads and async tasks, on one engine; a condition variable that takes
//! read guards and write guards; a reentrant-writer lock.
//!
//! ```
//! use rwlocker::{RwLock, PhaseFair};
//!
//! let lock: RwLock<u32, PhaseFair> = RwLock::new(0);
//! *lock.write() += 1;
//! assert_eq!(*lock.read(), 1);
//! ```
#![warn(missing_docs)]

mod loom;

mod asynchronous;
mod blocking;
mod condvar;
pub mod engine;
#[cfg(all(feature = "lock_api", not(loom)))]
pub mod lock_api_impl;
mod policy;

pub use asynchronous::{
    AsyncMutex, AsyncRwLock, AsyncRwLockReadFuture, AsyncRwLockReadGuard, AsyncRwLockWriteFuture,
    AsyncRwLockWriteGuard, OwnedAsyncRwLockReadFuture, OwnedAsyncRwLockReadGuard, OwnedAsyncRwLockWriteFuture,
    OwnedAsyncRwLockWriteGuard, RawAcquire,
};
pub use blocking::reentrant::{ReentrantRwLock, ReentrantRwLockReadGuard, ReentrantRwLockWriteGuard};
pub use blocking::rwlock::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard,
};
pub use condvar::{
    AsyncCondvarGuard, AsyncRwCondvar, AsyncRwCondvarWait, CondvarGuard, RawCondvarWait, RwCondvar, WaitTimeoutResult,
};
pub use engine::RawRwLock;
pub use policy::{Exclusive, PhaseFair, Policy, PolicyKind, ReaderPreferring, WriterPreferring};

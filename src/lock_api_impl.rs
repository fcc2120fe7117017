//! [`lock_api`] implementations for [`RawRwLock`](crate::RawRwLock), so that generic code
//! written against `lock_api` (`lock_api::RwLock`, `lock_api::Mutex`, and with
//! 0.5 `lock_api::Condvar`) runs on rwlocker's engine and policies.
//!
//! * Feature `lock_api` (default): `lock_api` **0.4** `RawRwLock`,
//!   `RawRwLockDowngrade`, `RawRwLockTimed`, `RawMutex` and `RawMutexTimed`.
//! * Feature `lock_api_05`: the same traits of `lock_api` **0.5** (whose
//!   guards carry a state value; rwlocker's is the stateless `GuardSend`),
//!   and `RawCondvar` / `RawCondvarTimed` through `RawRwCondvar`. `lock_api`
//!   0.5 needs Rust 1.95, so this feature is not on by default (rwlocker
//!   itself needs 1.85).
//!
//! Both features may be on at once: the two versions are different crates.
//! `RawMutex` is the exclusive side of the lock under every policy: the
//! policy only matters for `RawRwLock`'s shared side.
//!
//! ```
//! # #[cfg(feature = "lock_api")] {
//! use rwlocker::{RawRwLock, WriterPreferring};
//!
//! let lock: lock_api::RwLock<RawRwLock<WriterPreferring>, i32> = lock_api::RwLock::new(1);
//! *lock.write() += 1;
//! let m: lock_api::Mutex<RawRwLock, i32> = lock_api::Mutex::new(0);
//! *m.lock() += 1;
//! assert!(m.try_lock_for(std::time::Duration::from_millis(1)).is_some());
//! assert_eq!((*lock.read(), *m.lock()), (2, 1));
//! # }
//! ```

#[cfg(feature = "lock_api")]
mod v04;
#[cfg(feature = "lock_api_05")]
mod v05;

#[cfg(feature = "lock_api_05")]
pub use v05::RawRwCondvar;

/// Aborts the process if dropped, i.e. if the code it spans unwinds.
///
/// A downgrade that admits waiting readers wakes them, and a task's waker
/// may panic once the lock is read-held. `lock_api` would then drop its
/// write guard, releasing a write lock that is no longer held; rather than
/// corrupt the lock, such a panic aborts.
#[allow(dead_code)] // (with neither feature on)
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        eprintln!("rwlocker: a waker panicked during a lock_api downgrade; aborting (unwinding would release the lock as a writer)");
        std::process::abort();
    }
}

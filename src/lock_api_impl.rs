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

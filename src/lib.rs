//! Reader-writer locks with a **selectable admission policy**, for threads and
//! async tasks, on one engine; a **condition variable that takes read guards
//! and write guards** and wakes exactly `n` waiters; a lock whose **write holder
//! may lock again**; and `Mutex` types that share all of it.
//!
//! ```
//! use rwlocker::{RwLock, WriterPreferring};
//!
//! let lock: RwLock<Vec<u32>> = RwLock::new(vec![1]); // PhaseFair, the default
//! lock.write().push(2);
//! assert_eq!(*lock.read(), [1, 2]);
//!
//! let urgent: RwLock<u32, WriterPreferring> = RwLock::new(0); // the policy is a type parameter
//! *urgent.write() += 1;
//! let w = urgent.write();
//! let r = rwlocker::RwLockWriteGuard::downgrade(w); // atomic: no writer gets in between
//! assert_eq!(*r, 1);
//! ```
//!
//! The longer guide is `docs/GUIDE.md` in the repository. The `examples/`
//! directory has one runnable program for each scenario: `cache`, `ledger`,
//! `token_refresh`, `telemetry`, `config_cache`, `job_queue` and `drop_in`.
//!
//! # What is here
//!
//! | Type | For |
//! |---|---|
//! | [`RwLock<T, P>`](RwLock), [`Mutex<T>`](Mutex) | threads. `read`, `write`, `lock`, `try_*`, `try_*_for` / `_until`, [`downgrade`](RwLockWriteGuard::downgrade), [`try_upgrade`](RwLockReadGuard::try_upgrade), `map`, `try_map`, [`downgrade_map`](RwLockWriteGuard::downgrade_map); `read_arc` / `write_arc` (and their `try_` forms) for guards that keep an `Arc` |
//! | [`ReentrantRwLock<T, P>`](ReentrantRwLock) | threads. The write owner may take `write` and `read` again |
//! | [`AsyncRwLock<T, P>`](AsyncRwLock), [`AsyncMutex<T>`](AsyncMutex) | tasks on any executor: borrowed and owned (`Arc`) guards, the same `try_upgrade` and mapping, plus `read_blocking` / `write_blocking` for synchronous code |
//! | [`RwCondvar`], [`AsyncRwCondvar`] | waiting on a condition with a read guard **or** a write guard |
//! | [`RawRwLock<P>`](RawRwLock) | the engine. It implements `lock_api`'s `RawRwLock`, `RawRwLockDowngrade`, `RawRwLockTimed`, `RawMutex` and `RawMutexTimed`: 0.4 with the default `lock_api` feature, 0.5 (and `RawCondvar`) with `lock_api_05` ([`lock_api_impl`]) |
//!
//! # Choosing a policy
//!
//! The policy `P` is a zero-sized type. It decides who goes next when readers
//! and writers contend; the exact rules are the policy table of
//! `docs/SEMANTICS.md` §2 in the repository (written once, there).
//!
//! * **[`PhaseFair`]** (the default) is the choice unless you have a reason
//!   for another: no reader enters while a writer holds or waits, a releasing
//!   writer admits the readers waiting then as one phase, and nobody starves.
//! * **[`ReaderPreferring`]** suits read-mostly data whose writes can wait,
//!   such as caches: readers enter unless a writer *holds*, so writers can
//!   starve. It is the only policy under which a thread that holds a read may
//!   safely read again.
//! * **[`WriterPreferring`]** suits rare writes that must not be delayed, such
//!   as a token refresh: waiting writers go first, so readers can starve.
//! * **[`Exclusive`]** gives a mutex ([`Mutex`]) that still works with
//!   [`RwCondvar`].
//!
//! # Two hand-off modes
//!
//! The plain policy types use **bounded barging** (`docs/SEMANTICS.md` §2a):
//! the policy's class rule always holds, but a contended release *wakes* the
//! waiters the policy would admit instead of handing them the lock, and
//! whoever the class rule lets in may take the free lock first, as with std's
//! and parking_lot's locks. That keeps a running thread running and avoids
//! lock convoys when threads outnumber cores. The bound: once the oldest
//! waiter has waited longer than [`engine::STARVATION_BOUND`] (0.25 ms),
//! releases hand the lock directly to it and nobody overtakes it, so nobody
//! waits longer than under exact hand-off plus the bound.
//!
//! [`Strict<P>`](Strict) keeps exact hand-off: `RwLock<T, Strict<PhaseFair>>`,
//! and `RwLock<T, Strict<Exclusive>>` for a strict FIFO mutex. Writers are then
//! served in arrival order, every contended release hands the lock directly
//! to the waiters the policy picks, and `try_read` / `try_write` succeed
//! exactly when a blocking call would get in at once, never ahead of a
//! waiter. Choose it for a deterministic order (tests, replay, real-time
//! work); it costs a hand-off, often a wake-up, per contended acquisition.
//!
//! ```
//! use rwlocker::{PhaseFair, RwLock, Strict};
//!
//! let fast: RwLock<u32> = RwLock::new(0); // PhaseFair, bounded barging
//! let exact: RwLock<u32, Strict<PhaseFair>> = RwLock::new(0); // exact hand-off
//! *fast.write() += 1;
//! *exact.write() += 1;
//! ```
//!
//! # Reads that scale: [`ReadBiased<P>`](ReadBiased)
//!
//! `RwLock<T, ReadBiased<PhaseFair>>` (any policy, either mode, blocking or
//! async) lets readers publish themselves in a slot of a process-wide table
//! instead of all writing the lock's one state word, so reads on different
//! cores do not contend. A writer first revokes the bias (a scan of the
//! table) and then waits for those readers like any others; the bias returns
//! after nine times the revocation's cost. Choose it for read-mostly data
//! read by many threads; see docs/SEMANTICS.md §2b.
//!
//! ```
//! use rwlocker::{PhaseFair, ReadBiased, RwLock};
//!
//! let routes: RwLock<Vec<u32>, ReadBiased<PhaseFair>> = RwLock::new(vec![1]);
//! assert_eq!(routes.read()[0], 1); // no write to a shared line once biased
//! routes.write().push(2); // revokes the bias, then writes
//! ```
//!
//! # Condition variables
//!
//! ```
//! use rwlocker::{RwCondvar, RwLock};
//!
//! let lock = RwLock::<u32>::new(0);
//! let cv = RwCondvar::new();
//! std::thread::scope(|s| {
//!     s.spawn(|| {
//!         let mut n = lock.write();
//!         cv.wait_while(&mut n, |n| *n == 0); // the write lock is held again here
//!         *n += 1;
//!     });
//!     s.spawn(|| {
//!         let mut n = lock.read();
//!         cv.wait_while(&mut n, |n| *n == 0); // a read lock is held again here
//!         assert!(*n >= 1);
//!     });
//!     *lock.write() = 1;
//!     cv.notify_all();
//! });
//! assert_eq!(lock.into_inner(), 2);
//! ```
//!
//! * `wait` accepts a read or a write guard of [`RwLock`] (any policy), or of
//!   [`ReentrantRwLock`] at nesting depth 1. It releases the guard's mode
//!   atomically with registering the waiter, and returns holding **the same
//!   mode**. [`AsyncRwCondvar::wait`] takes the guard by value and returns it.
//! * Waiters are woken in FIFO order. [`notify(n)`](RwCondvar::notify) wakes
//!   exactly `min(n, waiting)` waiters and returns that number. There are no
//!   spurious wakeups.
//! * [`RwCondvar`] moves notified threads onto the lock's queue at the moment
//!   of the notify. Readers re-enter together and writers one at a time, with
//!   no thundering herd. A notified thread re-enters as an arrival at that
//!   moment.
//! * An [`AsyncRwCondvar`] waiter re-enters the lock when its task next runs,
//!   as an arrival at that moment.
//! * A condvar serves one lock at a time. Waiting with a guard of a second lock
//!   while waiters of the first are registered panics.
//! * Timed waits hold the lock again on return, whether or not they timed out.
//!   The timeout bounds the wait for a notification, not the re-acquisition
//!   of the lock. [`AsyncRwCondvar::wait_timeout`] takes any timer future
//!   (runtime-agnostic) and returns the guard with the timed-out flag, so
//!   the condition can be checked again under the lock.
//!
//! # Cancellation and timeouts
//!
//! A waiter that gives up leaves no trace. This holds for a timed-out
//! `try_*_for`, a timed-out condvar wait, and a dropped future. Whoever it was
//! holding back is admitted at once. A waiter that had already been granted
//! the lock releases it as if it had run. For async code, dropping a future at
//! any await point is giving up, so timeouts are simply the caller's:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use rwlocker::AsyncRwLock;
//!
//! let lock = AsyncRwLock::<u32>::new(0);
//! let reader = lock.read().await;
//! // The writer queues behind the reader, then gives up.
//! assert!(tokio::time::timeout(Duration::from_millis(10), lock.write()).await.is_err());
//! // It left no trace: under PhaseFair a queued writer would stop new readers.
//! let another = lock.try_read().expect("the timed-out writer is gone");
//! drop((reader, another));
//! # });
//! ```
//!
//! * An acquire future joins the queue at its first `Pending` poll.
//! * A dropped [`AsyncRwCondvar`] wait that had already been notified passes
//!   the notification to the next waiter, so `notify(n)` always reaches `n`
//!   live waiters.
//! * Wakers are never called or dropped while an internal lock is held.
//! * Under `Strict<P>` (and in the default mode past the bound) the lock is
//!   handed directly to the oldest waiter. A future that was polled
//!   once and then is neither polled again nor dropped can therefore hold up
//!   the queue, as with tokio and async-lock.
//! * `read_blocking` and `write_blocking` block the thread. They do not detect
//!   that they run inside an async runtime.
//!
//! # `Send` and `Sync`
//!
//! * Every lock is `Send` when `T: Send`. It is `Sync` when `T: Send + Sync`;
//!   under [`Exclusive`], `T: Send` suffices, as for `std::sync::Mutex`.
//! * Async guards, acquire futures and condvar wait futures are `Send` when
//!   the lock is `Sync`, so they work under `tokio::spawn`.
//! * Blocking guards are `Send` too (read guards when `T: Sync`, write guards
//!   when `T: Send + Sync`), because the engine lets any thread release.
//! * [`ReentrantRwLock`] guards are `!Send`: ownership is per thread.
//!
//! # Decisions where the contract is silent
//!
//! * **No poisoning.** A panic while a guard is held releases the lock during
//!   unwinding.
//! * **Reader overflow panics.** Holding about 2³⁰ read guards at once panics
//!   rather than wrapping.
//! * **[`ReentrantRwLock`] only nests writes.** The write owner may take
//!   `write` and `read` again. A thread that holds only a read does not own the
//!   lock (this includes a read obtained by
//!   [`downgrade`](ReentrantRwLockWriteGuard::downgrade)). Its second read is a
//!   plain acquisition, which can deadlock behind a waiting writer under
//!   `PhaseFair` and `WriterPreferring`. Its guards give `&T` only.
//!   `downgrade` returns `Err(guard)` while another guard of the owner is
//!   alive.
//! * **No reentrancy for async tasks.** A task has no portable identity.
//! * **Guards are `Send` where the engine allows** (see above).
//! * **Upgrade only when no rule objects.**
//!   [`try_upgrade`](RwLockReadGuard::try_upgrade) turns the sole reader's
//!   guard into a write guard when a `try_write` would succeed were that
//!   reader gone, and otherwise returns the read guard. It never waits. There
//!   is no upgradable read mode that excludes other upgraders: take the write
//!   lock and check again, or use parking_lot or async-lock.
//! * A mapped write guard has no `downgrade` (tokio#3344). `downgrade_map`
//!   on the unmapped write guard maps through `&T` and downgrades at once.
//! * Under [`Exclusive`], `read()` exists and is exclusive, and `downgrade`
//!   keeps the lock exclusive.
//!
//! # Compared with std, parking_lot, tokio and async-lock
//!
//! | | rwlocker | std | parking_lot | tokio | async-lock |
//! |---|---|---|---|---|---|
//! | Threads / tasks | both, one engine | threads | threads | tasks | both |
//! | Policy | your choice of four | OS-dependent | writer-preferring | FIFO | writer-preferring |
//! | Contended hand-off | barging within a 0.25 ms bound, or exact (`Strict<P>`) | barging | barging (0.12: randomly fair about every 0.5 ms; 0.13: no bound) | exact FIFO | barging, 0.5 ms bound (mutex) |
//! | Condvar for RwLock guards | read and write, sync and async, `notify(n)` | no | no | no | no |
//! | Reentrant write lock | yes | no | no (`ReentrantMutex`) | no | no |
//! | Timed blocking acquire | yes | no | yes | – | no |
//! | Upgradable read | `try_upgrade` of the sole reader | no | **yes** | no | **yes** |
//! | Poisoning | no | **yes** | no | no | no |
//! | `no_std` | no | no | `lock_api` | no | **yes** |
//! | Lock size, `<()>` on x86_64 | 16 B | 12 B | **8 B** | 48 B | 40 B |
//!
//! What the others do better:
//!
//! * **std** has zero dependencies, offers poisoning, and has the smallest
//!   `Mutex` and `Condvar`.
//! * **parking_lot** has an 8-byte lock with a finely tuned uncontended path,
//!   upgradable reads, fair unlocking, and years of production use.
//! * **tokio** fits the tokio ecosystem (`Notify`, `Semaphore`, owned and
//!   mapped guards, `downgrade_map`) and needs no extra dependency in a tokio
//!   program.
//! * **async-lock** is small and runtime-agnostic, supports `no_std`, and has
//!   upgradable reads.
//!
//! Speed is measured, not claimed: the repository's benchmark report runs
//! rwlocker against all of them in one process.
#![warn(missing_docs)]

#[cfg(not(loom))]
mod clock;
mod loom;
mod macros;

mod asynchronous;
mod blocking;
mod condvar;
pub mod engine;
#[cfg(all(any(feature = "lock_api", feature = "lock_api_05"), not(loom)))]
pub mod lock_api_impl;
mod policy;

pub use asynchronous::{
    AsyncMutex, AsyncRwLock, AsyncRwLockReadFuture, AsyncRwLockReadGuard, AsyncRwLockWriteFuture,
    AsyncRwLockWriteGuard, OwnedAsyncRwLockReadFuture, OwnedAsyncRwLockReadGuard, OwnedAsyncRwLockWriteFuture,
    OwnedAsyncRwLockWriteGuard, OwnedMappedAsyncRwLockReadGuard, OwnedMappedAsyncRwLockWriteGuard, RawAcquire,
};
pub use blocking::arc::{ArcRwLockReadGuard, ArcRwLockWriteGuard};
pub use blocking::reentrant::{ReentrantRwLock, ReentrantRwLockReadGuard, ReentrantRwLockWriteGuard};
pub use blocking::rwlock::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
};
pub use condvar::{
    AsyncCondvarGuard, AsyncRwCondvar, AsyncRwCondvarWait, AsyncRwCondvarWaitTimeout, CondvarGuard, RawCondvarWait,
    RwCondvar, WaitTimeoutResult,
};
pub use engine::RawRwLock;
pub use policy::{Exclusive, PhaseFair, Policy, PolicyKind, ReadBiased, ReaderPreferring, Strict, WriterPreferring};

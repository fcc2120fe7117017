//! The admission engine: one state word, a waiter queue, four policies.
//!
//! # The state word
//!
//! ```text
//!  31                                   2   1        0
//! +--------------------------------------+--------+--------+
//! |            reader count              | QUEUED | WRITER |
//! +--------------------------------------+--------+--------+
//! ```
//!
//! * `WRITER`: the lock is held exclusively (a writer, or any holder under
//!   [`Exclusive`](crate::Exclusive)).
//! * `QUEUED`: the waiter queue is not empty. Every transition that can
//!   admit a waiter sees this bit and takes the slow path, so queued
//!   waiters are never overtaken and never forgotten.
//! * reader count: the readers holding the lock.
//!
//! Invariant (outside the queue lock): `QUEUED` is set exactly when the
//! queue is not empty, and a non-empty queue means the lock is held, with
//! one brief exception: a last reader's release (a `fetch_sub`, to keep the
//! read fast path short) can leave the lock free with `QUEUED` set until
//! that reader takes the queue lock and hands the lock over. Everyone who
//! sees that state treats it as held (writers and `try_write` fail, queued
//! waiters are not overtaken); only `ReaderPreferring` readers may enter,
//! which its rule allows. Every other release hands the lock over in the
//! same compare-and-swap that releases it (*direct hand-off*), so the
//! policy decides exactly who goes next and `try_*` cannot slip in between.
//!
//! # Fast and slow paths
//!
//! Uncontended acquire and release are one compare-and-swap on the state
//! word. Everything else takes the queue lock, recomputes the state from
//! the queue and the policy (`plan`, the table of SPEC §2 as a pure
//! function), and wakes the chosen waiters after the queue lock is released.

#[cfg(not(loom))]
mod cpus;
mod queue;
mod upgrade;
pub(crate) mod waiter;

use core::fmt;
use core::marker::PhantomData;
use std::time::{Duration, Instant};

use crate::loom::{park, park_timeout, spin_loop, Arc, AtomicU32, Ordering, QueueLock, UnsafeCell};
use crate::policy::{PhaseFair, Policy, PolicyKind};
use queue::Queue;
use waiter::{wake_all, Kind, Waiter, WakeList, WAITING};

const WRITER: u32 = 1;
const QUEUED: u32 = 2;
const READER: u32 = 4;

/// Most readers that may hold the lock at once; one more panics.
#[cfg(not(any(loom, test)))]
pub(crate) const MAX_READERS: u32 = (u32::MAX >> 2) - 1;
/// Narrow under test so the overflow path is reachable.
#[cfg(all(test, not(loom)))]
pub(crate) const MAX_READERS: u32 = 1000;
/// Narrow under loom so the model can reach the overflow path.
#[cfg(loom)]
pub(crate) const MAX_READERS: u32 = 3;

/// Bounded spin before queueing (only while nobody is queued).
#[cfg(not(loom))]
const SPIN_LIMIT: u32 = 100;
#[cfg(loom)]
const SPIN_LIMIT: u32 = 0;

/// How long the first queued waiter waits for its grant awake before
/// parking: about as long as a release takes to come when a short
/// critical section is running. See [`RawRwLock::spin_granted`]. No
/// `yield_now` in that wait: a yielding waiter can push a reader that
/// holds the lock off its core for a whole scheduler tick.
#[cfg(not(loom))]
const SPIN_FIRST: Duration = Duration::from_micros(5);
/// How much longer a waiter further back spins, per waiter ahead of it:
/// more than a parked thread takes to wake up, so that one parked waiter
/// ahead does not make everyone behind it park too.
#[cfg(not(loom))]
const SPIN_PER_AHEAD: Duration = Duration::from_micros(20);
/// A spinning waiter parks early when the lock has not been handed over
/// for this long: its holder is in a long critical section (or not
/// running), and spinning would only burn a core.
#[cfg(not(loom))]
const SPIN_IDLE: Duration = Duration::from_micros(20);
/// How many parked waiters near the front one transition wakes ahead of
/// their grant (see [`RawRwLock::prewake`]).
const PREWAKE_PER_GRANT: usize = 2;
/// The spin budget of a waiter woken ahead of its grant: that of an
/// arrival at the back of the awake window.
fn prewoken_ahead() -> usize {
    spinners() - 1
}
/// Spin-loop hints between two looks at the clock.
#[cfg(not(loom))]
const SPIN_CHUNK: u32 = 16;
/// Under loom (no timing), a queued waiter looks at its grant this often.
#[cfg(loom)]
const LOOM_SPIN_LOOKS: u32 = 10;

/// How many queued threads wait for their grant awake (the rest park at
/// once): one per core but one, since the holder needs a core to release.
#[cfg(not(any(loom, test)))]
fn spinners() -> usize {
    cpus::cpus().max(2) - 1
}
/// In unit tests, as on a machine with 9 cores, so that the spins of
/// waiters further back run on the 2-core test machine too.
#[cfg(all(test, not(loom)))]
fn spinners() -> usize {
    8
}
/// Under loom, only the first queued waiter spins (spins are yields there).
#[cfg(loom)]
fn spinners() -> usize {
    1
}

#[inline]
const fn readers(s: u32) -> u32 {
    s / READER
}

/// Nobody holds the lock (the queue may still be being updated).
#[inline]
const fn is_free(s: u32) -> bool {
    s & !QUEUED == 0
}

/// A reader may take the fast path: nobody it must respect holds or waits.
#[inline]
fn is_read_lockable(kind: PolicyKind, s: u32) -> bool {
    match kind {
        // Waiting writers are ignored; only a holding writer blocks readers.
        PolicyKind::ReaderPreferring => s & WRITER == 0,
        // A queued waiter means a writer holds or waits.
        PolicyKind::WriterPreferring | PolicyKind::PhaseFair => s & (WRITER | QUEUED) == 0,
        PolicyKind::Exclusive => s == 0,
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn reader_overflow() -> ! {
    panic!("rwlocker: reader count overflow: more than {MAX_READERS} read guards held at once (leaked guards?)")
}

/// `s` with `n` more readers, panicking before the count could wrap.
#[inline]
fn add_readers(s: u32, n: u32) -> u32 {
    if readers(s) + n > MAX_READERS {
        reader_overflow()
    }
    s + n * READER
}

/// What happened to an arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arrival {
    Admitted,
    /// Queued behind `ahead` waiters.
    Queued {
        ahead: usize,
    },
}

/// Why the engine is re-deciding who may hold the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The last (or a) reader released.
    ReaderReleased,
    /// The writer released.
    WriterReleased,
    /// The writer downgraded to a read lock.
    Downgraded,
    /// A waiter left the queue without the lock.
    WaiterLeft,
}

/// Whom a transition admits from the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grant {
    Nobody,
    /// Every queued reader, together.
    Readers,
    /// The oldest queued writer.
    FirstWriter,
    /// The oldest waiter of either kind, exclusively.
    Front,
}

/// The policy table of SPEC §2 as a pure function: given the state after
/// the caller's own change, the queued counts and what happened, whom to
/// admit.
pub(crate) fn plan(kind: PolicyKind, s: u32, queued_readers: usize, queued_writers: usize, cause: Cause) -> Grant {
    use PolicyKind::*;
    let (r, w) = (queued_readers > 0, queued_writers > 0);
    if s & WRITER != 0 || !(r || w) {
        return Grant::Nobody;
    }
    if readers(s) == 0 {
        // The lock is free: hand it over.
        match kind {
            Exclusive => Grant::Front,
            ReaderPreferring if r => Grant::Readers,
            WriterPreferring if !w => Grant::Readers,
            // A writer's release opens a read phase for everyone waiting;
            // after a read phase the oldest writer goes.
            PhaseFair if r && (cause == Cause::WriterReleased || !w) => Grant::Readers,
            _ => Grant::FirstWriter,
        }
    } else {
        // Readers hold the lock: more readers may join, per policy.
        let join = match kind {
            Exclusive => false,
            ReaderPreferring => true,
            WriterPreferring => !w,
            PhaseFair => !w || cause == Cause::Downgraded,
        };
        if r && join {
            Grant::Readers
        } else {
            Grant::Nobody
        }
    }
}

/// The raw lock: admission state and waiter queue, no data.
///
/// Every lock of this crate is a thin, typed layer over this engine. It is
/// public so that generic code written against `lock_api` can use it
/// (the `lock_api_impl` module, default feature `lock_api`); most users want
/// [`RwLock`](crate::RwLock).
pub struct RawRwLock<P: Policy = PhaseFair> {
    state: AtomicU32,
    queue_lock: QueueLock,
    /// Bumped (wrapping) by every release that hands the lock to queued
    /// waiters, so that spinning waiters can tell a moving queue from a
    /// long critical section. Written only with `queue_lock` held; it fits
    /// in the padding after `queue_lock` (the lock stays 16 bytes).
    #[cfg(not(loom))]
    handoffs: std::sync::atomic::AtomicU16,
    /// Allocated on first contention; only touched with `queue_lock` held.
    queue: UnsafeCell<Option<Box<Queue>>>,
    _policy: PhantomData<P>,
}

// SAFETY: the only non-`Sync` field is `queue`, and it is accessed solely
// through `with_queue`, which holds `queue_lock` for the whole access. The
// waiters it stores are `Send + Sync` (threads, wakers behind a mutex).
unsafe impl<P: Policy> Sync for RawRwLock<P> {}
// SAFETY: moving the lock moves the boxed queue with it; no waiter refers
// to the lock's address (a queued waiter borrows the lock, so it cannot move).
unsafe impl<P: Policy> Send for RawRwLock<P> {}

impl<P: Policy> Default for RawRwLock<P> {
    fn default() -> Self {
        Self::new()
    }
}

/// Declares a `const fn`, or a plain `fn` under loom (whose primitives
/// have no `const` constructors).
macro_rules! maybe_const_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),*) -> Self $body:block) => {
        #[cfg(not(loom))]
        $(#[$m])*
        $vis const fn $name($($arg: $ty),*) -> Self $body
        #[cfg(loom)]
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) -> Self $body
    };
}
pub(crate) use maybe_const_fn;

impl<P: Policy> RawRwLock<P> {
    maybe_const_fn! {
        /// A new, unlocked raw lock.
        pub fn new() -> Self {
            RawRwLock {
                state: AtomicU32::new(0),
                queue_lock: QueueLock::new(),
                #[cfg(not(loom))]
                handoffs: std::sync::atomic::AtomicU16::new(0),
                queue: UnsafeCell::new(None),
                _policy: PhantomData,
            }
        }
    }

    // ---------------------------------------------------------------
    // Fast paths
    // ---------------------------------------------------------------

    /// Takes a read lock if that is possible at once, without overtaking a
    /// waiter the policy serves first.
    ///
    /// # Panics
    /// If the reader count would overflow.
    #[inline]
    pub fn try_lock_shared(&self) -> bool {
        if P::KIND == PolicyKind::Exclusive {
            return self.try_lock_exclusive();
        }
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if !is_read_lockable(P::KIND, s) {
                return false;
            }
            match self.state.compare_exchange_weak(s, add_readers(s, 1), Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(e) => s = e,
            }
        }
    }

    /// Takes the write lock if it is free and nobody waits for it.
    #[inline]
    pub fn try_lock_exclusive(&self) -> bool {
        // Read first: a failing attempt (spinners, `try_write` polling)
        // then leaves the cache line shared instead of pulling it away.
        self.state.load(Ordering::Relaxed) == 0 && self.try_lock_exclusive_fast()
    }

    /// The write fast path: one compare-and-swap, no read before it (the
    /// uncontended case pays for one atomic operation only).
    #[inline]
    fn try_lock_exclusive_fast(&self) -> bool {
        self.state.compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// One attempt at the read fast path; false sends the caller to the
    /// slow path (which also reports reader overflow).
    #[inline]
    fn try_lock_shared_fast(&self) -> bool {
        if P::KIND == PolicyKind::Exclusive {
            return self.try_lock_exclusive_fast();
        }
        let s = self.state.load(Ordering::Relaxed);
        is_read_lockable(P::KIND, s)
            && readers(s) < MAX_READERS
            && self.state.compare_exchange_weak(s, s + READER, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Blocks the calling thread until a read lock is held.
    ///
    /// # Panics
    /// If the reader count would overflow.
    #[inline]
    pub fn lock_shared(&self) {
        if !self.try_lock_shared_fast() {
            self.lock_slow(Kind::Read, None);
        }
    }

    /// Blocks the calling thread until the write lock is held.
    #[inline]
    pub fn lock_exclusive(&self) {
        if !self.try_lock_exclusive_fast() {
            self.lock_slow(Kind::Write, None);
        }
    }

    /// Like [`lock_shared`](Self::lock_shared), giving up after `timeout`
    /// (a timeout too large to represent waits forever). Returns whether
    /// the lock is held.
    pub fn try_lock_shared_for(&self, timeout: Duration) -> bool {
        self.try_lock_shared_fast() || self.lock_slow(Kind::Read, Instant::now().checked_add(timeout))
    }

    /// Like [`lock_exclusive`](Self::lock_exclusive), giving up after
    /// `timeout`. Returns whether the lock is held.
    pub fn try_lock_exclusive_for(&self, timeout: Duration) -> bool {
        self.try_lock_exclusive_fast() || self.lock_slow(Kind::Write, Instant::now().checked_add(timeout))
    }

    /// Like [`lock_shared`](Self::lock_shared), giving up at `deadline`.
    /// Returns whether the lock is held.
    pub fn try_lock_shared_until(&self, deadline: Instant) -> bool {
        self.try_lock_shared_fast() || self.lock_slow(Kind::Read, Some(deadline))
    }

    /// Like [`lock_exclusive`](Self::lock_exclusive), giving up at `deadline`.
    /// Returns whether the lock is held.
    pub fn try_lock_exclusive_until(&self, deadline: Instant) -> bool {
        self.try_lock_exclusive() || self.lock_slow(Kind::Write, Some(deadline))
    }

    /// Releases a read lock.
    ///
    /// # Safety
    /// The caller holds a read lock taken from this lock, and gives it up.
    #[inline]
    pub unsafe fn unlock_shared(&self) {
        if P::KIND == PolicyKind::Exclusive {
            // SAFETY: under `Exclusive` a read lock is the exclusive lock.
            return unsafe { self.unlock_exclusive() };
        }
        let prev = self.state.fetch_sub(READER, Ordering::Release);
        debug_assert!(readers(prev) > 0, "unlock_shared without a read lock");
        // (A reader release never sees `WRITER`.)
        if prev == READER | QUEUED {
            // The last reader, with waiters behind: hand the lock over.
            self.unlock_slow(0, 0, Cause::ReaderReleased);
        }
    }

    /// Releases the write lock.
    ///
    /// # Safety
    /// The caller holds the write lock of this lock, and gives it up.
    #[inline]
    pub unsafe fn unlock_exclusive(&self) {
        debug_assert!(self.state.load(Ordering::Relaxed) & WRITER != 0, "unlock_exclusive without the write lock");
        if self.state.compare_exchange(WRITER, 0, Ordering::Release, Ordering::Relaxed).is_err() {
            self.unlock_slow(WRITER, 0, Cause::WriterReleased);
        }
    }

    /// Turns the held write lock into a read lock, atomically: no writer can
    /// get in between. Waiting readers join per policy. Under `Exclusive`
    /// the lock stays exclusive.
    ///
    /// # Safety
    /// The caller holds the write lock of this lock; afterwards it holds a
    /// read lock instead.
    #[inline]
    pub unsafe fn downgrade(&self) {
        if P::KIND == PolicyKind::Exclusive {
            return;
        }
        if self.state.compare_exchange(WRITER, READER, Ordering::Release, Ordering::Relaxed).is_err() {
            self.unlock_slow(WRITER, READER, Cause::Downgraded);
        }
    }

    /// Whether anyone holds the lock.
    #[inline]
    pub fn is_locked(&self) -> bool {
        !is_free(self.state.load(Ordering::Relaxed))
    }

    /// Whether the lock is held exclusively (by a writer, or by anyone
    /// under `Exclusive`).
    #[inline]
    pub fn is_locked_exclusive(&self) -> bool {
        self.state.load(Ordering::Relaxed) & WRITER != 0
    }

    // ---------------------------------------------------------------
    // Slow paths
    // ---------------------------------------------------------------

    /// Runs `f` on the queue with the queue lock held.
    #[inline]
    fn with_queue<R>(&self, f: impl FnOnce(&mut Queue) -> R) -> R {
        let _guard = self.queue_lock.lock();
        self.queue.with_mut(|q| {
            // SAFETY: `queue` is only accessed here, under `queue_lock`,
            // which `_guard` holds until `f` returns: this is the only
            // reference to it.
            let q = unsafe { &mut *q };
            f(q.get_or_insert_with(Box::default))
        })
    }

    /// Blocking acquire after the fast path failed. Returns whether the lock
    /// is held (false only when `deadline` passed first).
    #[cold]
    fn lock_slow(&self, kind: Kind, deadline: Option<Instant>) -> bool {
        let try_lock = || match kind {
            Kind::Read => self.try_lock_shared(),
            Kind::Write => self.try_lock_exclusive(),
        };
        // The fast path makes one attempt; retry properly (this also
        // reports reader overflow), then spin briefly while the holder may
        // be about to release and nobody is queued (a queued waiter must
        // not be overtaken by a spinner).
        if try_lock() {
            return true;
        }
        // (Both spin bounds are 0 under loom, which explores no spinning.)
        #[allow(clippy::reversed_empty_ranges)]
        for _ in 0..SPIN_LIMIT {
            spin_loop();
            if self.state.load(Ordering::Relaxed) & QUEUED != 0 {
                break;
            }
            if try_lock() {
                return true;
            }
        }
        let waiter = Waiter::thread(kind, WAITING);
        match self.with_queue(|q| self.arrive_locked(q, &waiter)) {
            Arrival::Admitted => true,
            // Near the front: the grant may come soon, so wait for it awake
            // for a while and the hand-off costs no wake-up. Further back,
            // spinning would only take CPU time from those ahead.
            Arrival::Queued { ahead } if ahead < spinners() => {
                self.spin_granted(&waiter, ahead, deadline) || self.wait_granted(&waiter, deadline)
            }
            Arrival::Queued { .. } => self.wait_granted(&waiter, deadline),
        }
    }

    /// Waits for a grant without parking, for at most [`SPIN_FIRST`] plus
    /// [`SPIN_PER_AHEAD`] per waiter `ahead` (each of them is handed the
    /// lock first), or until the lock has gone [`SPIN_IDLE`] without a
    /// hand-off, or `deadline`.
    /// Returns whether the lock was granted.
    ///
    /// This keeps a strictly FIFO lock out of a convoy while its waiters fit
    /// on the cores: the lock passes from one running thread to the next.
    /// If only the first waiter spun (or the budget were shorter than a
    /// wake-up), every hand-off would wait for a parked thread to be woken
    /// and scheduled, however many cores are idle, and once a thread has
    /// parked the waits behind it grow until everyone parks.
    #[cfg(not(loom))]
    fn spin_granted(&self, waiter: &Waiter, ahead: usize, deadline: Option<Instant>) -> bool {
        let start = Instant::now();
        let budget = SPIN_FIRST + SPIN_PER_AHEAD.saturating_mul(ahead as u32);
        let (mut seen, mut moved) = (self.handoffs.load(Ordering::Relaxed), start);
        loop {
            // The grant is a load of the waiter's own cache line: look after
            // every hint, so that a hand-off is taken up at once.
            for _ in 0..SPIN_CHUNK {
                spin_loop();
                if waiter.take_grant() {
                    return true;
                }
            }
            let now = Instant::now();
            let handoffs = self.handoffs.load(Ordering::Relaxed);
            if handoffs != seen {
                (seen, moved) = (handoffs, now);
            }
            if now - start >= budget || now - moved >= SPIN_IDLE || deadline.is_some_and(|d| now >= d) {
                return false;
            }
        }
    }

    /// Under loom: a few looks at the grant (spins are yields there).
    #[cfg(loom)]
    fn spin_granted(&self, waiter: &Waiter, _ahead: usize, _deadline: Option<Instant>) -> bool {
        for _ in 0..LOOM_SPIN_LOOKS {
            if waiter.take_grant() {
                return true;
            }
            spin_loop();
        }
        waiter.take_grant()
    }

    /// Parks until `waiter` is granted, or gives up at `deadline`. Woken
    /// ahead of its grant (it reached the front; see [`prewake`](Self::prewake)),
    /// it waits awake as a waiter near the front does on arrival.
    fn wait_granted(&self, waiter: &Arc<Waiter>, deadline: Option<Instant>) -> bool {
        loop {
            if waiter.take_grant() {
                return true;
            }
            waiter.set_asleep();
            match deadline {
                None => park(),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        let granted = self.abandon(waiter);
                        if granted {
                            waiter.help_wake();
                        }
                        return granted;
                    }
                    park_timeout(d - now);
                }
            }
            if waiter.is_awake() && self.spin_granted(waiter, prewoken_ahead(), deadline) {
                return true;
            }
        }
    }

    /// Blocks until a waiter that a condition variable re-queued here is
    /// granted; the waiter has just woken (ahead of its grant, if
    /// [`prewake`](Self::prewake) woke it).
    pub(crate) fn wait_requeued(&self, waiter: &Arc<Waiter>) {
        if !(waiter.is_awake() && self.spin_granted(waiter, prewoken_ahead(), None)) {
            self.wait_granted(waiter, None);
        }
    }

    /// Wakes parked thread waiters near the front of the queue ahead of
    /// their grant, so that they are running when it comes. Queue lock held;
    /// adds them to `wake` (after the granted waiters).
    ///
    /// A waiter that arrives near the front waits for its grant awake (see
    /// [`spin_granted`](RawRwLock::spin_granted)); one that parked earlier
    /// (further back, or re-queued by a condition variable) would otherwise
    /// be woken only by its grant, so that every hand-off to it waited a
    /// whole wake-up while the lock sat idle. Each transition wakes at most
    /// [`PREWAKE_PER_GRANT`] of them: more than the one that each grant
    /// takes off the front, so the awake window refills, and few enough
    /// that the releaser's cost stays small.
    fn prewake(q: &Queue, wake: &mut WakeList) {
        let mut budget = PREWAKE_PER_GRANT;
        for w in q.front(spinners()) {
            if budget == 0 {
                break;
            }
            if w.claim_prewake() {
                wake.push(w.clone());
                budget -= 1;
            }
        }
    }

    /// A new arrival: admitted at once if the policy allows (returns true,
    /// the caller holds the lock), otherwise queued.
    pub(crate) fn arrive(&self, waiter: &Arc<Waiter>) -> bool {
        self.with_queue(|q| self.arrive_locked(q, waiter)) == Arrival::Admitted
    }

    fn arrive_locked(&self, q: &mut Queue, waiter: &Arc<Waiter>) -> Arrival {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            let admit = match (P::KIND, waiter.kind) {
                (PolicyKind::Exclusive, _) | (_, Kind::Write) => is_free(s) && q.is_empty(),
                (PolicyKind::ReaderPreferring, Kind::Read) => s & WRITER == 0,
                (_, Kind::Read) => s & WRITER == 0 && q.writers == 0,
            };
            let new = if !admit {
                s | QUEUED
            } else if P::KIND == PolicyKind::Exclusive || waiter.kind == Kind::Write {
                s | WRITER
            } else {
                add_readers(s, 1)
            };
            let cas = if new == s {
                Ok(s)
            } else {
                self.state.compare_exchange_weak(s, new, Ordering::Acquire, Ordering::Relaxed)
            };
            match cas {
                Ok(_) if admit => {
                    waiter.set_state(waiter::GRANTED);
                    return Arrival::Admitted;
                }
                Ok(_) => {
                    let ahead = q.len();
                    q.push(waiter.clone());
                    return Arrival::Queued { ahead };
                }
                Err(e) => s = e,
            }
        }
    }

    /// Re-queues waiters a condition variable notified, each as an arrival
    /// at this moment. Returns those admitted at once, to be woken by the
    /// caller once it holds no lock.
    pub(crate) fn requeue(&self, waiters: impl IntoIterator<Item = Arc<Waiter>>) -> WakeList {
        self.with_queue(|q| {
            let mut wake = WakeList::new();
            for w in waiters {
                if self.arrive_locked(q, &w) == Arrival::Admitted {
                    wake.push(w);
                }
            }
            wake
        })
    }

    /// A waiter gives up (timeout, dropped future). Returns true if it had
    /// already been granted the lock: the caller then holds it and must
    /// keep or release it (a thread waiter must also call `help_wake`).
    /// Otherwise it leaves the queue, and whoever its departure makes
    /// admissible is admitted now.
    pub(crate) fn abandon(&self, waiter: &Arc<Waiter>) -> bool {
        let (granted, wake) = self.with_queue(|q| {
            if waiter.is_granted() {
                return (true, WakeList::new());
            }
            let was_queued = q.remove(waiter);
            debug_assert!(was_queued, "abandoning a waiter that is neither queued nor granted");
            (false, self.transition(q, 0, 0, Cause::WaiterLeft))
        });
        wake_all(wake);
        granted
    }

    #[cold]
    #[inline(never)]
    fn unlock_slow(&self, release: u32, acquire: u32, cause: Cause) {
        let wake = self.with_queue(|q| self.transition(q, release, acquire, cause));
        wake_all(wake);
    }

    /// Applies the caller's own change (`- release + acquire`) and the
    /// policy's grants to the state word in one compare-and-swap, then
    /// takes the granted waiters off the queue. Queue lock held.
    fn transition(&self, q: &mut Queue, release: u32, acquire: u32, cause: Cause) -> WakeList {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            let base = s - release + acquire;
            let grant = plan(P::KIND, base, q.readers, q.writers, cause);
            let (mut new, granted) = match grant {
                Grant::Nobody => (base, 0),
                Grant::Readers => (add_readers(base, q.readers as u32), q.readers),
                Grant::FirstWriter | Grant::Front => (base | WRITER, 1),
            };
            if q.len() == granted {
                new &= !QUEUED;
            } else {
                new |= QUEUED;
            }
            match self.state.compare_exchange_weak(s, new, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => {
                    let mut wake = WakeList::new();
                    match grant {
                        Grant::Nobody => return wake,
                        Grant::Readers => q.grant_readers(&mut wake),
                        Grant::FirstWriter => q.grant_first_writer(&mut wake),
                        Grant::Front => q.grant_front(&mut wake),
                    }
                    // Only the queue lock's holder writes the counter, so a
                    // load and a store suffice (no locked instruction).
                    #[cfg(not(loom))]
                    self.handoffs.store(self.handoffs.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
                    Self::prewake(q, &mut wake);
                    return wake;
                }
                Err(e) => s = e,
            }
        }
    }

    /// The lock's state, for diagnostics (watchdogs, `Debug`).
    pub fn state_snapshot(&self) -> StateSnapshot {
        let s = self.state.load(Ordering::Relaxed);
        let (queued_readers, queued_writers) = self.with_queue(|q| (q.readers, q.writers));
        StateSnapshot { readers: readers(s), writer: s & WRITER != 0, queued_readers, queued_writers }
    }
}

/// A point-in-time view of a lock's state, for diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateSnapshot {
    /// Readers holding the lock.
    pub readers: u32,
    /// Whether the lock is held exclusively.
    pub writer: bool,
    /// Readers waiting in the queue.
    pub queued_readers: usize,
    /// Writers waiting in the queue.
    pub queued_writers: usize,
}

impl<P: Policy> fmt::Debug for RawRwLock<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawRwLock").field("policy", &P::KIND).field("state", &self.state_snapshot()).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(all(test, loom))]
mod loom_tests;

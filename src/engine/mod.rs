//! The admission engine: one state word, a waiter queue, four policies,
//! two hand-off modes.
//!
//! # The state word
//!
//! ```text
//!  31                          4    3        2        1        0
//! +------------------------------+--------+--------+--------+--------+
//! |         reader count         | WAKING | BIASED | QUEUED | WRITER |
//! +------------------------------+--------+--------+--------+--------+
//! ```
//!
//! * `WRITER`: the lock is held exclusively (a writer, or any holder under
//!   [`Exclusive`](crate::Exclusive)).
//! * `QUEUED`: the waiter queue is not empty, so a release must make sure
//!   someone looks at it. Only the holder of the queue lock changes it.
//! * `BIASED` ([`ReadBiased`](crate::ReadBiased) locks only): readers may
//!   publish themselves in the visible-readers table instead of counting
//!   themselves here (see the `bias` module). While it is set the lock is
//!   not free for a writer: a writer must revoke the bias first. It is set
//!   only by a counted reader while no writer holds and nobody is queued,
//!   and a writer revokes it before it queues, so a queued writer never
//!   sees it.
//! * `WAKING` (default mode only; implies `QUEUED`): a queued waiter was
//!   woken by a release and is on its way to make its attempt. Exactly
//!   "the queue's woken count is not zero" as of the last compare-and-swap
//!   made under the queue lock: every change of that count happens under
//!   the queue lock and is published by the compare-and-swap that also
//!   sets or clears `QUEUED`, computed before it. Only the holder of the
//!   queue lock changes it.
//! * reader count: the readers holding the lock and counted here.
//!
//! Everything else lives with the queue, under the queue lock: which queued
//! waiters were woken (while any are, releases wake nobody else: no
//! thundering herd), and when the oldest waiter passes the starvation bound
//! (also published for lock-free readers, see `Shared`). Keeping the word
//! to a few flags keeps the uncontended paths as short as they were (one
//! comparison decides a reader's release).
//!
//! # The two hand-off modes (docs/SEMANTICS.md §2a)
//!
//! Under [`Strict<P>`](crate::Strict) a contended release hands the lock
//! directly to the waiters the policy picks, in the compare-and-swap that
//! releases it, so the policy table holds exactly and `try_*` never slip in
//! between. Invariant: a non-empty queue means the lock is held, with one
//! brief exception: a last reader's release (a `fetch_sub`, to keep the
//! read fast path short) can leave the lock free with `QUEUED` set until
//! that reader takes the queue lock and hands the lock over. Nobody is
//! ever woken without a grant there, so `WAKING` is never set.
//!
//! In the default mode (*bounded barging*) a release instead *wakes* the
//! waiters the policy would admit (state `WOKEN`, still queued) and frees
//! the lock; anyone the policy's class rule allows may take a free lock
//! meanwhile, and a woken waiter that finds it taken waits again in its
//! place. A woken waiter first waits awake a little for the lock to come
//! free; a woken writer (any woken waiter under `Exclusive`) then takes a
//! free lock directly, as an arrival would, and leaves the queue
//! afterwards (until it has, `WAKING` may count it; nobody else can
//! release meanwhile); otherwise the attempt is made under the queue lock.
//! Invariant: a free lock with `QUEUED` set also has `WAKING` set,
//! and then a woken waiter is on its way (it will take the queue lock and
//! make its attempt, or leave the queue and pass its wake-up on), except
//! while a release or a woken waiter's attempt is about to take the queue
//! lock and look (a last reader between its `fetch_sub` and the queue
//! lock; a woken waiter between its un-wake and its compare-and-swap).
//! Every queued waiter carries the time it passes the bound; the queue's
//! oldest deadline is published where arrivals read it without the queue
//! lock, and releases that take the slow path compare it with the clock:
//! past it, the lock hands off exactly, as under `Strict<P>`, and arrivals
//! do not barge, until that waiter is in (while it waits it stays the
//! oldest, so the check keeps saying so).
//!
//! ## Releases while a wake-up is on its way
//!
//! A writer's release, or a last reader's, that finds `WAKING` set (in the
//! same atomic operation that releases) takes neither the queue lock nor
//! the clock: it only clears its bits. With a woken waiter already on its
//! way, the transition it would have run could do nothing but that (it
//! wakes nobody else), except past the bound, where it would hand off
//! exactly; skipping that is safe because arrivals check the published
//! deadline themselves before barging, and the woken waiter's attempt runs
//! the exact transition (under the queue lock, with the clock) and grants
//! the policy's choice, so nobody gets in ahead of the oldest waiter
//! meanwhile. (That attempt replays the cause of the release that woke it,
//! so under `PhaseFair` past the bound the phase it opens may be the other
//! one than this release's would have been; the oldest waiter still gets
//! in with the next phase.) A downgrade always takes the queue lock: the
//! readers it lets join are its own decision. The one race is the woken waiter
//! finding the lock held and waiting again: its un-wake clears `WAKING` in
//! the compare-and-swap of its attempt, and a release's own operation on
//! the word is ordered against that one. If the release comes first, the
//! attempt's compare-and-swap fails, and its retry sees the free lock (and
//! takes it, or wakes whom the policy picks); if the attempt comes first,
//! the release sees `QUEUED` without `WAKING` and takes the slow path (a
//! writer's compare-and-swap fails and it looks again; a last reader's
//! `fetch_sub` returns a word without `WAKING`). Either way no free lock
//! is left with waiters queued and nobody on the way. A woken waiter that
//! is granted instead, or that times out or is cancelled, leaves the queue
//! in a transition whose compare-and-swap recomputes `WAKING` too.
//!
//! # Fast and slow paths
//!
//! Uncontended acquire and release are one atomic operation on the state
//! word. Everything else takes the queue lock, recomputes the state from
//! the queue and the policy (`plan`, the policy table as a pure
//! function), and wakes the chosen waiters after the queue lock is
//! released.

pub(crate) mod bias;
#[cfg(not(loom))]
mod cpus;
mod queue;
mod upgrade;
pub(crate) mod waiter;

use core::fmt;
use core::marker::PhantomData;
use std::time::{Duration, Instant};

use crate::loom::{
    now_ns, park, park_timeout, spin_loop, yield_now, Arc, AtomicPtr, AtomicU32, AtomicU64, Ordering, QueueLock,
    UnsafeCell,
};
use crate::policy::{PhaseFair, Policy, PolicyKind};
use queue::Queue;
use waiter::{wake_all, Kind, Waiter, WakeList, WAITING, WOKEN};

const WRITER: u32 = 1;
const QUEUED: u32 = 2;
const BIASED: u32 = 4;
/// Default mode: a woken waiter is on its way (see the module comment).
const WAKING: u32 = 8;
const READER: u32 = 16;

/// Most readers that may hold the lock at once; one more panics.
#[cfg(not(any(loom, test)))]
pub(crate) const MAX_READERS: u32 = (u32::MAX / READER) - 1;
/// Narrow under test so the overflow path is reachable.
#[cfg(all(test, not(loom)))]
pub(crate) const MAX_READERS: u32 = 1000;
/// Narrow under loom so the model can reach the overflow path. (Four, not
/// three: a revocation holds a read lock of its own and, for a moment,
/// counts a published reader that is leaving by its slot, so the models of
/// two readers racing a revocation reach four counted reads.)
#[cfg(loom)]
pub(crate) const MAX_READERS: u32 = 4;

/// The starvation bound of the default mode: once the oldest queued waiter
/// has waited this long, the lock hands off exactly until it is admitted
/// (docs/SEMANTICS.md §2a). 0.25 ms: long enough that a thread which
/// releases and re-acquires a lock keeps its core's cache warm for many
/// critical sections, short enough to stay well under a scheduler tick.
/// Measured with 0.25, 0.5 and 1 ms on 2 cores: 8 threads writing one lock
/// ran at the same rate with all three (within the run-to-run spread), while
/// the p99 reader wait under a writer flood (B8) grew with the bound (about
/// 0.7, 1.3 and 2.1 ms under `PhaseFair`).
/// (`RWLOCKER_BOUND_US` overrides it, read once, for experiments.)
pub const STARVATION_BOUND: Duration = Duration::from_micros(250);

/// [`STARVATION_BOUND`] in nanoseconds (or the model's bound under loom).
#[cfg(not(loom))]
#[inline]
fn bound_ns() -> u64 {
    static BOUND: AtomicU64 = AtomicU64::new(0);
    let b = BOUND.load(Ordering::Relaxed);
    if b != 0 {
        return b;
    }
    let b = std::env::var("RWLOCKER_BOUND_US")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(STARVATION_BOUND.as_nanos() as u64, |us| us.saturating_mul(1000))
        .max(1);
    BOUND.store(b, Ordering::Relaxed);
    b
}
#[cfg(loom)]
fn bound_ns() -> u64 {
    crate::loom::model_bound_ns()
}

/// Bounded spin before queueing, strict mode (only while nobody is queued).
#[cfg(not(loom))]
const SPIN_LIMIT: u32 = 100;
#[cfg(loom)]
const SPIN_LIMIT: u32 = 0;

/// Default mode: busy-spin rounds (2, 4, 8, … hints) before an arrival
/// queues, then rounds of `yield_now`: a barging lock lives on arrivals
/// that find it free without sleeping, and on an oversubscribed machine
/// yielding lets the holder finish.
#[cfg(not(loom))]
const BARGE_SPINS: u32 = 4;
#[cfg(not(loom))]
const BARGE_YIELDS: u32 = 6;
#[cfg(loom)]
const BARGE_SPINS: u32 = 0;
#[cfg(loom)]
const BARGE_YIELDS: u32 = 0;

/// Round `round` of the default mode's back-off, which arrivals and woken
/// waiters share: `2 << round` spin-loop hints in the first
/// [`BARGE_SPINS`] rounds, one `yield_now` in each round after them.
#[inline]
#[allow(clippy::absurd_extreme_comparisons)]
fn pause_round(round: u32) {
    if round < BARGE_SPINS {
        for _ in 0..(2u32 << round) {
            spin_loop();
        }
    } else {
        yield_now();
    }
}

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

/// Free for a writer: nobody holds the lock as far as the state word
/// tells, and no reader may be published in the table (waiters may be
/// queued, and one of them woken).
#[inline]
const fn is_free(s: u32) -> bool {
    s & !(QUEUED | WAKING) == 0
}

/// What is known of the queue when deciding on an arrival: exactly (with
/// the queue lock held) or conservatively from the state word alone (a
/// queued waiter might be a writer).
#[derive(Clone, Copy, Debug)]
struct QueueView {
    empty: bool,
    writers: bool,
}

impl QueueView {
    /// What the state word says: `QUEUED` may mean writers.
    #[inline]
    const fn of_state(s: u32) -> Self {
        QueueView { empty: s & QUEUED == 0, writers: s & QUEUED != 0 }
    }

    fn exact(q: &Queue) -> Self {
        QueueView { empty: q.is_empty(), writers: q.writers > 0 }
    }
}

/// **The class rule** (docs/SEMANTICS.md §2, §2a): whether an arrival
/// asking for `who` may enter now. `exact` says the lock behaves as
/// `Strict<P>` at this moment (always under `Strict<P>`; in the default
/// mode while the oldest waiter is past the bound): then a writer must also
/// find nobody queued, otherwise it may take any free lock.
///
/// Every admission of an arrival (fast paths, `try_*`, blocking and async
/// arrivals, condvar re-queues) is this function; queued waiters are
/// admitted by [`plan`].
#[inline]
fn admits(kind: PolicyKind, who: Kind, s: u32, q: QueueView, exact: bool) -> bool {
    if kind == PolicyKind::Exclusive || who == Kind::Write {
        is_free(s) && (q.empty || !exact)
    } else if kind == PolicyKind::ReaderPreferring {
        // Waiting writers are ignored; only a holding writer blocks readers.
        s & WRITER == 0
    } else {
        // WriterPreferring, PhaseFair: no writer holds or waits. (Written
        // as one test, so that with the state word's view, where
        // `q.writers` is `s & QUEUED != 0`, the fast path folds to one mask.)
        (s & WRITER) | q.writers as u32 == 0
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn reader_overflow() -> ! {
    panic!("rwlocker: reader count overflow: more than {MAX_READERS} read guards held at once (leaked guards?)")
}

/// Whether `n` more readers fit.
#[inline]
const fn readers_fit(s: u32, n: u32) -> bool {
    readers(s) as u64 + n as u64 <= MAX_READERS as u64
}

/// `s` with `n` more readers, panicking before the count could wrap.
#[inline]
fn add_readers(s: u32, n: u32) -> u32 {
    if !readers_fit(s, n) {
        reader_overflow()
    }
    s + n * READER
}

/// `s` with an admitted arrival of `who` holding the lock (reads are
/// exclusive under `Exclusive`).
#[inline]
fn entered(kind: PolicyKind, s: u32, who: Kind) -> u32 {
    if who == Kind::Write || kind == PolicyKind::Exclusive {
        s | WRITER
    } else {
        add_readers(s, 1)
    }
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

/// Who is arriving: a fresh acquisition (reader overflow panics) or a
/// waiter that must end up holding the lock whatever happens (a condvar
/// waiter re-queued by a notify: on overflow it waits for a reader to
/// leave instead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Fresh,
    Requeued,
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
    /// A waiter left the queue without the lock (or came back from a
    /// wake-up without it).
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

/// The policy table (docs/SEMANTICS.md §2) as a pure function: given the
/// state after the caller's own change, the queued counts and what
/// happened, whom to admit from the queue.
pub(crate) fn plan(kind: PolicyKind, s: u32, queued_readers: usize, queued_writers: usize, cause: Cause) -> Grant {
    use PolicyKind::*;
    let (r, w) = (queued_readers > 0, queued_writers > 0);
    if s & WRITER != 0 || !(r || w) {
        return Grant::Nobody;
    }
    if readers(s) == 0 && s & BIASED == 0 {
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

/// The queue and the fields of it that are read without the queue lock.
struct Shared {
    /// When the oldest queued waiter passes the starvation bound (engine
    /// clock, ns; `u64::MAX`: nobody queued). Written with the queue lock
    /// held, read by arrivals deciding whether they may barge.
    oldest_deadline: AtomicU64,
    /// Read-biased locks: until when (engine clock, ns) the bias stays off
    /// after the last revocation. Written by revocations (queue lock held),
    /// read by readers about to re-enable it.
    inhibit_until: AtomicU64,
    queue: UnsafeCell<Queue>,
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
    /// Allocated on first contention (with `queue_lock` held), freed with
    /// the lock; never changes in between.
    shared: AtomicPtr<Shared>,
    _policy: PhantomData<P>,
}

// SAFETY: the queue behind `shared` is accessed solely through
// `with_queue`, which holds `queue_lock` for the whole access; its
// deadline is an atomic. The waiters it stores are `Send + Sync` (threads,
// wakers behind a mutex).
unsafe impl<P: Policy> Sync for RawRwLock<P> {}
// SAFETY: moving the lock moves the ownership of its heap queue with it;
// no waiter refers to the lock's address (a queued waiter borrows the
// lock, so it cannot move).
unsafe impl<P: Policy> Send for RawRwLock<P> {}

impl<P: Policy> Default for RawRwLock<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Policy> Drop for RawRwLock<P> {
    fn drop(&mut self) {
        if P::BIASED && self.state.load(Ordering::Relaxed) & BIASED != 0 {
            // Read guards leaked with `mem::forget` may have left entries in
            // the table; a lock allocated here later must not inherit them.
            let me = self.addr();
            for slot in bias::slots() {
                let _ = slot.compare_exchange(me, 0, Ordering::Relaxed, Ordering::Relaxed);
            }
        }
        let shared = self.shared.load(Ordering::Acquire);
        if !shared.is_null() {
            // SAFETY: `shared` came from `Box::into_raw` in `with_queue`
            // and is freed only here, once; `&mut self` means nobody else
            // can reach it any more.
            drop(unsafe { Box::from_raw(shared) });
        }
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
                shared: AtomicPtr::new(core::ptr::null_mut()),
                _policy: PhantomData,
            }
        }
    }

    // ---------------------------------------------------------------
    // Fast paths
    // ---------------------------------------------------------------

    /// Whether the oldest queued waiter is past the starvation bound at
    /// `now`, read without the queue lock (default mode).
    #[inline]
    fn oldest_past_bound(&self, now: u64) -> bool {
        let shared = self.shared.load(Ordering::Acquire);
        // SAFETY: once set, `shared` points to a live allocation until the
        // lock is dropped, which cannot happen while `&self` exists.
        !shared.is_null() && unsafe { (*shared).oldest_deadline.load(Ordering::Relaxed) } <= now
    }

    /// Whether an arrival must follow the exact rules now (see [`admits`]):
    /// always under `Strict<P>`; in the default mode while the oldest
    /// waiter is past the bound.
    #[inline]
    fn exact_now(&self, s: u32) -> bool {
        P::STRICT || (s & QUEUED != 0 && self.oldest_past_bound(now_ns()))
    }

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
            if !admits(P::KIND, Kind::Read, s, QueueView::of_state(s), true) {
                // Queued waiters that are not writers do not stop a
                // reader: only the queue itself can tell.
                return s & (WRITER | QUEUED) == QUEUED && self.try_arrive(Kind::Read);
            }
            match self.state.compare_exchange_weak(s, add_readers(s, 1), Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(e) => s = e,
            }
        }
    }

    /// Takes the write lock if it is free and the policy lets a writer in
    /// now: under `Strict<P>` only if nobody waits; in the default mode
    /// unless the oldest waiter is past the bound.
    #[inline]
    pub fn try_lock_exclusive(&self) -> bool {
        // Read first: a failing attempt (spinners, `try_write` polling)
        // then leaves the cache line shared instead of pulling it away.
        let s = self.state.load(Ordering::Relaxed);
        if s == 0 {
            return self.try_lock_exclusive_fast();
        }
        if P::BIASED && s & BIASED != 0 {
            return self.revoke_then_try_exclusive();
        }
        !P::STRICT && self.try_barge_exclusive(s)
    }

    /// The default mode's write attempt on a lock with waiters queued.
    #[cold]
    fn try_barge_exclusive(&self, mut s: u32) -> bool {
        loop {
            if !is_free(s) || self.exact_now(s) {
                return false;
            }
            match self.state.compare_exchange_weak(s, s | WRITER, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(e) => s = e,
            }
        }
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
        admits(P::KIND, Kind::Read, s, QueueView::of_state(s), true)
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
    /// The caller holds a read lock taken from this lock with this raw
    /// API (`lock_shared`, `try_lock_shared*`, a downgrade, `RawAcquire`), and
    /// gives it up. (A read *guard* of a [`ReadBiased`](crate::ReadBiased)
    /// lock may hold a read published in the bias table instead, which only
    /// the guard itself can release: do not `mem::forget` such a guard and
    /// release its lock here.)
    #[inline]
    pub unsafe fn unlock_shared(&self) {
        if P::KIND == PolicyKind::Exclusive {
            // SAFETY: under `Exclusive` a read lock is the exclusive lock.
            return unsafe { self.unlock_exclusive() };
        }
        let prev = self.state.fetch_sub(READER, Ordering::Release);
        debug_assert!(readers(prev) > 0, "unlock_shared without a read lock");
        // (A reader release never sees `WRITER`. With `WAKING` set too, a
        // woken waiter is on its way and will look: nothing to do.)
        let prev = if P::BIASED { prev & !BIASED } else { prev };
        if prev == READER | QUEUED {
            // The last reader, with waiters behind: let the queue decide.
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
        let s = self.state.load(Ordering::Relaxed);
        if P::BIASED && s & BIASED != 0 {
            return readers(s) > 0 || self.published_readers() > 0;
        }
        !is_free(s)
    }

    /// Whether the lock is biased now (only [`ReadBiased`](crate::ReadBiased)
    /// locks ever are): readers then enter without writing the lock's state
    /// word, and the next writer revokes the bias first
    /// (docs/SEMANTICS.md §2b).
    ///
    /// ```
    /// use rwlocker::{PhaseFair, ReadBiased, RwLock};
    ///
    /// let lock = RwLock::<u32, ReadBiased<PhaseFair>>::new(0);
    /// for _ in 0..64 {
    ///     drop(lock.read()); // a counted read turns the bias on
    /// }
    /// assert!(lock.raw().is_biased());
    /// drop(lock.write()); // revokes it
    /// assert!(!lock.raw().is_biased());
    /// ```
    #[inline]
    pub fn is_biased(&self) -> bool {
        P::BIASED && self.state.load(Ordering::Relaxed) & BIASED != 0
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

    /// Runs `f` on the queue with the queue lock held, then publishes the
    /// queue's oldest deadline for lock-free readers.
    #[inline]
    fn with_queue<R>(&self, f: impl FnOnce(&mut Queue) -> R) -> R {
        let _guard = self.queue_lock.lock();
        let mut shared = self.shared.load(Ordering::Acquire);
        if shared.is_null() {
            let fresh = Shared {
                oldest_deadline: AtomicU64::new(u64::MAX),
                inhibit_until: AtomicU64::new(0),
                queue: UnsafeCell::new(Queue::default()),
            };
            shared = Box::into_raw(Box::new(fresh));
            // Only the queue lock's holder allocates; `Release` publishes
            // the allocation to lock-free readers of the deadline.
            self.shared.store(shared, Ordering::Release);
        }
        // SAFETY: `shared` is live until the lock is dropped (see `Drop`).
        let shared = unsafe { &*shared };
        shared.queue.with_mut(|q| {
            // SAFETY: the queue is only accessed here, under `queue_lock`,
            // which `_guard` holds until this closure returns: this is the
            // only reference to it.
            let q = unsafe { &mut *q };
            self.debug_check_flags(q);
            let r = f(q);
            self.debug_check_flags(q);
            if !P::STRICT {
                let deadline = q.front_deadline();
                if shared.oldest_deadline.load(Ordering::Relaxed) != deadline {
                    shared.oldest_deadline.store(deadline, Ordering::Relaxed);
                }
            }
            r
        })
    }

    /// Queue lock held: the state word's flags say what the queue holds
    /// (only the queue lock's holder changes them, so other threads' changes
    /// to the word cannot make this fail).
    #[inline]
    fn debug_check_flags(&self, q: &Queue) {
        if cfg!(debug_assertions) {
            let s = self.state.load(Ordering::Relaxed);
            debug_assert_eq!(s & QUEUED != 0, !q.is_empty(), "QUEUED disagrees with the queue: {s:#x}");
            debug_assert_eq!(
                s & WAKING != 0,
                q.woken > 0,
                "WAKING disagrees with the queue: {s:#x}, {} woken",
                q.woken
            );
        }
    }

    /// Takes the lock in `kind` mode if that is possible at once.
    fn try_lock_kind(&self, kind: Kind) -> bool {
        match kind {
            Kind::Read => self.try_lock_shared(),
            Kind::Write => self.try_lock_exclusive(),
        }
    }

    /// Blocking acquire after the fast path failed. Returns whether the lock
    /// is held (false only when `deadline` passed first).
    #[cold]
    fn lock_slow(&self, kind: Kind, deadline: Option<Instant>) -> bool {
        // The fast path makes one attempt; retry properly (this also
        // reports reader overflow).
        if self.try_lock_kind(kind) {
            return true;
        }
        if P::STRICT {
            // Spin briefly while the holder may be about to release and
            // nobody is queued (a queued waiter must not be overtaken).
            // (The bound is 0 under loom, which explores no spinning.)
            #[allow(clippy::reversed_empty_ranges)]
            for _ in 0..SPIN_LIMIT {
                spin_loop();
                if self.state.load(Ordering::Relaxed) & QUEUED != 0 {
                    break;
                }
                if self.try_lock_kind(kind) {
                    return true;
                }
            }
        } else if self.spin_barging(kind, deadline) {
            return true;
        }
        let waiter = Waiter::thread(kind, WAITING);
        let (arrival, wake) = self.with_queue(|q| self.arrive_locked(q, &waiter, Origin::Fresh));
        wake_all(wake);
        match arrival {
            Arrival::Admitted => true,
            // Near the front: the grant may come soon, so wait for it awake
            // for a while and the hand-off costs no wake-up. Further back,
            // spinning would only take CPU time from those ahead.
            Arrival::Queued { ahead } if P::STRICT && ahead < spinners() => {
                self.spin_granted(&waiter, ahead, deadline) || self.wait_granted(&waiter, deadline)
            }
            Arrival::Queued { ahead } if ahead < spinners() => {
                self.await_wakeup(&waiter, ahead, deadline) || self.wait_granted(&waiter, deadline)
            }
            Arrival::Queued { .. } => self.wait_granted(&waiter, deadline),
        }
    }

    /// Default mode: retries the lock a few times before the caller
    /// queues, spinning first, then yielding. Returns whether it is held.
    /// (Both bounds are 0 under loom, which explores no spinning.)
    #[allow(clippy::reversed_empty_ranges)]
    fn spin_barging(&self, kind: Kind, deadline: Option<Instant>) -> bool {
        if self.spin_busy(kind) {
            return true;
        }
        for _ in 0..BARGE_YIELDS {
            // A writer facing readers queues after the short busy rounds
            // under `WriterPreferring` and `PhaseFair`: its queued presence
            // is what stops new readers, and yielding its core to them would
            // only let more of them in (a writer could wait milliseconds).
            if kind == Kind::Write
                && P::KIND != PolicyKind::ReaderPreferring
                && readers(self.state.load(Ordering::Relaxed)) > 0
            {
                return false;
            }
            yield_now();
            if self.try_lock_kind(kind) {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
        }
        false
    }

    /// The busy rounds of [`spin_barging`](Self::spin_barging): rounds of
    /// 2, 4, 8, … spin-loop hints, each followed by one attempt (under a
    /// microsecond in all). Returns whether the lock is held.
    #[allow(clippy::reversed_empty_ranges)]
    fn spin_busy(&self, kind: Kind) -> bool {
        (0..BARGE_SPINS).any(|round| {
            pause_round(round);
            self.try_lock_kind(kind)
        })
    }

    /// Default mode, a task's arrival: only the busy rounds of
    /// [`spin_barging`](Self::spin_barging) (a task never yields its
    /// worker thread), so that a task whose lock is released a moment later
    /// takes it instead of queueing and paying a wake-up and a trip through
    /// its executor. Returns whether the lock is held; always false under
    /// `Strict<P>`, whose arrivals do not spin.
    pub(crate) fn spin_task_arrival(&self, kind: Kind) -> bool {
        !P::STRICT && self.spin_busy(kind)
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

    /// Default mode: waits for a wake-up (or a grant) without parking, for
    /// at most [`SPIN_FIRST`] plus [`SPIN_PER_AHEAD`] per waiter `ahead`, or
    /// until `deadline`, and makes its attempt when woken (a lost attempt
    /// keeps its place and waits on). Returns whether the lock is held.
    ///
    /// A writer queues to stop new readers (`WriterPreferring`,
    /// `PhaseFair`) while the readers inside finish their short sections;
    /// parked, it would leave the lock idle for a whole wake-up once they
    /// are out, with new readers kept out meanwhile.
    #[cfg(not(loom))]
    fn await_wakeup(&self, waiter: &Arc<Waiter>, ahead: usize, deadline: Option<Instant>) -> bool {
        let start = Instant::now();
        let budget = SPIN_FIRST + SPIN_PER_AHEAD.saturating_mul(ahead as u32);
        loop {
            for _ in 0..SPIN_CHUNK {
                spin_loop();
                match waiter.state() {
                    WOKEN => self.spin_woken(waiter, deadline),
                    waiter::GRANTED => {}
                    _ => continue,
                }
                if self.take_turn(waiter) {
                    return true;
                }
            }
            let now = Instant::now();
            if now - start >= budget || deadline.is_some_and(|d| now >= d) {
                return false;
            }
        }
    }

    /// Under loom: no waiting awake (spins are yields there).
    #[cfg(loom)]
    fn await_wakeup(&self, _waiter: &Arc<Waiter>, _ahead: usize, _deadline: Option<Instant>) -> bool {
        false
    }

    /// Whether a queued waiter holds the lock now: it was granted, or it
    /// was woken (default mode) and its attempt admitted it. A woken waiter
    /// that finds the lock taken waits again in its place.
    pub(crate) fn poll_queued(&self, waiter: &Arc<Waiter>) -> bool {
        if waiter.is_granted() {
            return true;
        }
        if waiter.state() != WOKEN {
            return false;
        }
        if !P::STRICT && (waiter.kind == Kind::Write || P::KIND == PolicyKind::Exclusive) && self.barge_woken(waiter) {
            return true;
        }
        let (granted, wake) = self.with_queue(|q| {
            if waiter.state() != WOKEN {
                // Granted (or not woken) since we looked.
                return (waiter.is_granted(), WakeList::new());
            }
            q.unwake(waiter);
            let cause = q.wake_cause;
            let wake = self.transition(q, 0, 0, cause, Some(waiter));
            (waiter.is_granted(), wake)
        });
        wake_all(wake);
        granted
    }

    /// Default mode: a woken exclusive waiter takes a free lock the way an
    /// arrival would (one compare-and-swap, no queue lock on the way in:
    /// taking the queue lock first loses the lock to the next arrival most
    /// of the time under contention), then leaves the queue. Not past the
    /// bound: there the exact transition decides. Returns whether it holds
    /// the lock.
    fn barge_woken(&self, waiter: &Arc<Waiter>) -> bool {
        let s = self.state.load(Ordering::Relaxed);
        if !is_free(s) || self.exact_now(s) {
            return false;
        }
        // (A grant to this waiter would have taken the lock: if this
        // succeeds, nobody granted it.)
        if self.state.compare_exchange(s, s | WRITER, Ordering::Acquire, Ordering::Relaxed).is_err() {
            return false;
        }
        // It holds the lock, still queued and counted as woken (so `WAKING`
        // may stay set meanwhile; nobody else can release): leave the queue
        // and bring the flags up to date.
        let wake = self.with_queue(|q| {
            let was_queued = q.remove(waiter);
            debug_assert!(was_queued, "a woken waiter that is not queued");
            waiter.set_state(waiter::GRANTED);
            self.transition(q, 0, 0, Cause::WaiterLeft, None)
        });
        debug_assert!(wake.is_empty(), "a transition under a held write lock woke someone");
        true
    }

    /// Default mode: a woken waiter that finds the lock taken waits awake
    /// a little for it to come free (spinning, then yielding, as an arrival
    /// does) before it makes its attempt, so that it does not go back to
    /// sleep at once, to be woken again by the next release.
    #[allow(clippy::reversed_empty_ranges)]
    fn spin_woken(&self, waiter: &Waiter, deadline: Option<Instant>) {
        for round in 0..BARGE_SPINS + BARGE_YIELDS {
            let s = self.state.load(Ordering::Relaxed);
            let open = if waiter.kind == Kind::Write || P::KIND == PolicyKind::Exclusive {
                is_free(s)
            } else {
                s & WRITER == 0
            };
            if open || waiter.state() != WOKEN || deadline.is_some_and(|d| Instant::now() >= d) {
                return;
            }
            pause_round(round);
        }
    }

    /// For a thread waiter: [`poll_queued`](Self::poll_queued), doing the
    /// wake-ups delegated to it once it holds the lock.
    fn take_turn(&self, waiter: &Arc<Waiter>) -> bool {
        if self.poll_queued(waiter) {
            waiter.help_wake();
            return true;
        }
        false
    }

    /// Parks until `waiter` holds the lock, or gives up at `deadline`. Woken
    /// ahead of its grant (strict mode: it reached the front; see
    /// [`prewake`](Self::prewake)), it waits awake as a waiter near the
    /// front does on arrival; woken by a release (default mode), it makes
    /// its attempt.
    fn wait_granted(&self, waiter: &Arc<Waiter>, deadline: Option<Instant>) -> bool {
        loop {
            if !P::STRICT && waiter.state() == WOKEN {
                self.spin_woken(waiter, deadline);
            }
            if self.take_turn(waiter) {
                return true;
            }
            waiter.set_asleep();
            // Look again: a wake-up between the attempt and `set_asleep`
            // has already been delivered (it unparks), so this only saves
            // a park.
            if waiter.state() == WOKEN {
                continue;
            }
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
            if P::STRICT && waiter.is_awake() && self.spin_granted(waiter, prewoken_ahead(), deadline) {
                return true;
            }
        }
    }

    /// Blocks until a waiter that a condition variable re-queued here holds
    /// the lock; the waiter has just woken (ahead of its grant, if
    /// [`prewake`](Self::prewake) woke it).
    pub(crate) fn wait_requeued(&self, waiter: &Arc<Waiter>) {
        if !(P::STRICT && waiter.is_awake() && self.spin_granted(waiter, prewoken_ahead(), None)) {
            self.wait_granted(waiter, None);
        }
    }

    /// Wakes parked thread waiters near the front of the queue ahead of
    /// their grant, so that they are running when it comes (strict mode).
    /// Queue lock held; adds them to `wake` (after the granted waiters).
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
        let (arrival, wake) = self.with_queue(|q| self.arrive_locked(q, waiter, Origin::Fresh));
        wake_all(wake);
        arrival == Arrival::Admitted
    }

    /// Queue lock held: whether the lock follows the exact rules at `now`
    /// (always under `Strict<P>`; in the default mode while the oldest
    /// waiter is past the bound). The queue lock keeps the oldest waiter in
    /// place, so the answer holds for the caller's whole transition.
    #[inline]
    fn exact_at(q: &Queue, now: u64) -> bool {
        P::STRICT || q.front_deadline() <= now
    }

    /// [`exact_at`](Self::exact_at) now (reads the clock only when it matters).
    fn exact_locked(q: &Queue) -> bool {
        P::STRICT || (!q.is_empty() && Self::exact_at(q, now_ns()))
    }

    /// `try_*` with the queue in view: admitted now, or not at all.
    fn try_arrive(&self, kind: Kind) -> bool {
        self.with_queue(|q| {
            let exact = Self::exact_locked(q);
            let mut s = self.state.load(Ordering::Relaxed);
            loop {
                if !admits(P::KIND, kind, s, QueueView::exact(q), exact) {
                    return false;
                }
                let new = entered(P::KIND, s, kind);
                match self.state.compare_exchange_weak(s, new, Ordering::Acquire, Ordering::Relaxed) {
                    Ok(_) => return true,
                    Err(e) => s = e,
                }
            }
        })
    }

    /// Queue lock held: admits `waiter` if the class rule allows, otherwise
    /// queues it (stamped with its deadline). Returns what happened and any
    /// waiters to wake (see the default mode's invariant at the top).
    fn arrive_locked(&self, q: &mut Queue, waiter: &Arc<Waiter>, origin: Origin) -> (Arrival, WakeList) {
        let now = if P::STRICT { 0 } else { now_ns() };
        let exact = Self::exact_at(q, now);
        let exclusive = P::KIND == PolicyKind::Exclusive || waiter.kind == Kind::Write;
        let mut revoked = WakeList::new();
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if P::BIASED && exclusive && s & BIASED != 0 {
                // A writer must not queue behind published readers it cannot
                // see: revoke first (readers set `BIASED` only while nobody
                // is queued, so once this writer is queued it stays off).
                revoked.extend(self.revoke_locked(q));
                s = self.state.load(Ordering::Relaxed);
                continue;
            }
            let admit = admits(P::KIND, waiter.kind, s, QueueView::exact(q), exact)
                && (exclusive || origin == Origin::Fresh || readers_fit(s, 1));
            let new = if admit { entered(P::KIND, s, waiter.kind) } else { s | QUEUED };
            let cas = if new == s {
                Ok(s)
            } else {
                self.state.compare_exchange_weak(s, new, Ordering::AcqRel, Ordering::Relaxed)
            };
            match cas {
                Ok(_) if admit => {
                    waiter.set_state(waiter::GRANTED);
                    return (Arrival::Admitted, revoked);
                }
                Ok(_) => {
                    let ahead = q.len();
                    waiter.set_deadline(now.saturating_add(bound_ns()));
                    q.push(waiter.clone());
                    // Default mode: a free lock with waiters must have a
                    // wake-up on its way (it can be free here while a last
                    // reader is on its way to the queue lock, or when this
                    // arrival may not barge past a waiter over the bound).
                    if !P::STRICT && is_free(s) && q.woken == 0 {
                        revoked.extend(self.transition(q, 0, 0, Cause::WaiterLeft, None));
                    }
                    return (Arrival::Queued { ahead }, revoked);
                }
                Err(e) => s = e,
            }
        }
    }

    /// Re-queues waiters a condition variable notified, each as an arrival
    /// at this moment. Returns those to wake (admitted at once, or woken by
    /// the default mode's rule), to be woken by the caller once it holds no
    /// lock.
    pub(crate) fn requeue(&self, waiters: impl IntoIterator<Item = Arc<Waiter>>) -> WakeList {
        self.with_queue(|q| {
            let mut wake = WakeList::new();
            for w in waiters {
                let (arrival, more) = self.arrive_locked(q, &w, Origin::Requeued);
                if arrival == Arrival::Admitted {
                    wake.push(w);
                }
                wake.extend(more);
            }
            wake
        })
    }

    /// A waiter gives up (timeout, dropped future). Returns true if it had
    /// already been granted the lock: the caller then holds it and must
    /// keep or release it (a thread waiter must also call `help_wake`).
    /// Otherwise it leaves the queue, and whoever its departure makes
    /// admissible is admitted (strict mode) or woken (default mode: a
    /// wake-up it had received but not used passes on).
    pub(crate) fn abandon(&self, waiter: &Arc<Waiter>) -> bool {
        let (granted, wake) = self.with_queue(|q| {
            if waiter.is_granted() {
                return (true, WakeList::new());
            }
            let was_queued = q.remove(waiter);
            debug_assert!(was_queued, "abandoning a waiter that is neither queued nor granted");
            (false, self.transition(q, 0, 0, Cause::WaiterLeft, None))
        });
        wake_all(wake);
        granted
    }

    /// A release that the fast path could not make alone: the caller's
    /// change (`- release + acquire`) is still to be applied (a last
    /// reader's `fetch_sub` has already applied its own: 0 and 0).
    #[cold]
    #[inline(never)]
    fn unlock_slow(&self, release: u32, acquire: u32, cause: Cause) {
        // (A downgrade always looks at the queue: past the bound, the
        // readers it lets join are its own decision, not the woken waiter's.)
        if !P::STRICT && cause != Cause::Downgraded && self.release_while_waking(release) {
            return;
        }
        let wake = self.with_queue(|q| self.transition(q, release, acquire, cause, None));
        wake_all(wake);
    }

    /// Default mode: releases alone (`release`: the caller's bits, 0 for a
    /// last reader whose `fetch_sub` already did) if a woken waiter is on
    /// its way (`WAKING`), in one compare-and-swap that fails if that
    /// waiter's un-wake cleared the flag first (see the module comment).
    /// Returns whether it did; false: the caller takes the queue lock.
    #[inline]
    fn release_while_waking(&self, release: u32) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        while s & WAKING != 0 {
            debug_assert!(s & QUEUED != 0, "WAKING without QUEUED: {s:#x}");
            if release == 0 {
                // A last reader whose `fetch_sub` came before `WAKING` was
                // set: the woken waiter's attempt comes later and sees it.
                return true;
            }
            match self.state.compare_exchange_weak(s, s - release, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(e) => s = e,
            }
        }
        false
    }

    /// Applies the caller's own change (`- release + acquire`) and the
    /// policy's decision to the state word in one compare-and-swap, then
    /// updates the queue. Queue lock held. Returns whom to wake.
    ///
    /// The policy's choice ([`plan`]) is *granted* (handed the lock, taken
    /// off the queue) under `Strict<P>` and, in the default mode, while the
    /// oldest waiter is past the bound, or when the choice includes `me`, a
    /// woken waiter making its attempt. Otherwise, in the default mode, it
    /// is *woken* (unless an earlier wake-up is still on its way) and the
    /// lock stays free for whoever comes first.
    fn transition(
        &self,
        q: &mut Queue,
        release: u32,
        acquire: u32,
        cause: Cause,
        me: Option<&Arc<Waiter>>,
    ) -> WakeList {
        #[derive(Clone, Copy, PartialEq, Eq)]
        enum Act {
            Grant,
            Wake,
            Nothing,
        }
        let now = if P::STRICT || q.is_empty() { 0 } else { now_ns() };
        let exact = Self::exact_at(q, now);
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            let base = s - release + acquire;
            let mut grant = plan(P::KIND, base, q.readers, q.writers, cause);
            if grant == Grant::Readers && !readers_fit(base, q.readers as u32) {
                // Absurdly many readers: the queued ones wait for some to leave.
                grant = Grant::Nobody;
            }
            let act = if grant == Grant::Nobody {
                Act::Nothing
            } else if exact || me.is_some_and(|m| q.grant_includes(grant, m)) {
                Act::Grant
            } else if q.woken == 0 {
                Act::Wake
            } else {
                Act::Nothing
            };
            let granted = if act == Act::Grant { q.admitted_by(grant) } else { 0 };
            let mut new = match (act, grant) {
                (Act::Grant, Grant::Readers) => base + granted as u32 * READER,
                (Act::Grant, _) => base | WRITER,
                _ => base,
            };
            let left = q.len() - granted;
            if left > 0 {
                new |= QUEUED;
            } else {
                new &= !QUEUED;
            }
            // The queue's woken count after the act, published as `WAKING`
            // in this same compare-and-swap (see the module comment).
            let woken = match act {
                Act::Grant if q.woken > 0 => q.woken - q.woken_in(grant),
                // Nobody else is woken (`q.woken == 0`): every waiter the
                // grant names is woken now.
                Act::Wake => {
                    debug_assert_eq!(q.woken, 0);
                    q.admitted_by(grant)
                }
                _ => q.woken,
            };
            debug_assert!(woken <= left, "{woken} woken of {left} queued");
            if woken > 0 {
                new |= WAKING;
            } else {
                new &= !WAKING;
            }
            match self.state.compare_exchange_weak(s, new, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => {
                    let mut wake = WakeList::new();
                    match (act, grant) {
                        (Act::Nothing, _) | (_, Grant::Nobody) => return wake,
                        (Act::Wake, _) => {
                            let n = q.wake(grant, cause, &mut wake);
                            debug_assert!(n > 0, "a wake-up that wakes nobody");
                            debug_assert_eq!(q.woken, woken, "WAKING published a wrong count");
                            return wake;
                        }
                        (Act::Grant, Grant::Readers) => q.grant_readers(&mut wake),
                        (Act::Grant, Grant::FirstWriter) => q.grant_first_writer(&mut wake),
                        (Act::Grant, Grant::Front) => q.grant_front(&mut wake),
                    }
                    debug_assert_eq!(q.woken, woken, "WAKING published a wrong count");
                    if let Some(m) = me {
                        // The attempt's own grant needs no wake-up.
                        if let Some(i) = wake.iter().position(|w| Arc::ptr_eq(w, m)) {
                            wake.remove(i);
                        }
                    }
                    if P::STRICT {
                        // Only the queue lock's holder writes the counter, so
                        // a load and a store suffice (no locked instruction).
                        #[cfg(not(loom))]
                        self.handoffs.store(self.handoffs.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
                        Self::prewake(q, &mut wake);
                    }
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
        // Readers published in the bias table hold the lock too.
        let published = if P::BIASED && s & BIASED != 0 { self.published_readers() as u32 } else { 0 };
        StateSnapshot { readers: readers(s) + published, writer: s & WRITER != 0, queued_readers, queued_writers }
    }
}

/// A point-in-time view of a lock's state, for diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateSnapshot {
    /// Readers holding the lock (on a read-biased lock, those published in
    /// the bias table too).
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

#[cfg(all(test, not(loom)))]
mod bias_tests;

#[cfg(all(test, loom))]
mod loom_tests;

#[cfg(all(test, loom))]
mod bias_loom_tests;

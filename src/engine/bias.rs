//! Reader bias (docs/SEMANTICS.md §2b): the visible-readers table that
//! lets a [`ReadBiased`](crate::ReadBiased) lock's readers enter without
//! writing the lock's shared state word.
//!
//! # How it works
//!
//! While a lock's state word has its `BIASED` bit set, a reader publishes
//! itself by writing the lock's address into one slot of a process-wide
//! table (the slot is picked by hashing the thread and the lock), then
//! checks that `BIASED` is still set. Each slot is on its own cache line,
//! so readers on different cores write different lines and scale with the
//! cores; a read costs no write to the lock's line at all.
//!
//! A writer that finds `BIASED` set **revokes** the bias before it may
//! enter: in one compare-and-swap it clears `BIASED` and takes a temporary
//! read lock (so that the lock cannot look free meanwhile), then scans the
//! table and *moves* every published reader of this lock into the reader
//! count of the state word (count first, then empty the slot; if the slot
//! was emptied by its reader first, take the count back). From then on the
//! lock is an ordinary read-write lock: the writer waits for the counted
//! readers as for any others, blocking or async, through the queue.
//!
//! A reader releases by emptying its slot if its entry is still there; if
//! it is not, a revocation moved the entry into the count, and the reader
//! releases a counted read lock instead. Read locks of one lock are
//! interchangeable, so a slot that was refilled meanwhile by another
//! reader of the same lock (same thread and lock, same slot) needs no
//! special care: each release takes away exactly one entry, from the slot
//! or from the count.
//!
//! The reader's publish and the writer's revoke form a store-then-load
//! race on two locations (the slot, the state word): both sides use
//! sequentially consistent operations, so at least one of them sees the
//! other. Either the revoker's scan finds the slot (and counts the reader),
//! or the reader sees `BIASED` gone and backs off (and, if the revoker
//! counted it in between, it simply holds that counted read lock).
//!
//! The bias comes back only when a counted reader, holding its read lock
//! with no writer holding or queued, sets `BIASED` again, and only after
//! the *inhibit window*: [`INHIBIT_FACTOR`] times as long as the last
//! revocation took (counted as at least [`MIN_REVOKE_COST`]), so that writers spend at most about
//! 1/(`INHIBIT_FACTOR` + 1) of the time revoking.

use crate::loom::{AtomicUsize, Ordering};

/// How many times the cost of the last revocation the bias stays off.
pub(crate) const INHIBIT_FACTOR: u64 = 9;

/// The least cost (ns) a revocation is counted at. The scan alone takes
/// under a microsecond, but a revocation disturbs more than the scan: the
/// readers it moves into the count release through the shared word, and
/// the next ones queue behind the writer. Measured with one thread reading
/// and one writing on 2 cores, a write that revokes took 4–8 µs more than
/// one that did not, so the window is at least 9 × 5 µs.
#[cfg(not(loom))]
pub(crate) const MIN_REVOKE_COST: u64 = 5_000;
/// Under loom, 1 model nanosecond (the models set the clock by hand).
#[cfg(loom)]
pub(crate) const MIN_REVOKE_COST: u64 = 1;

/// Slots in the visible-readers table (a power of two).
#[cfg(not(loom))]
pub(crate) const SLOTS: usize = 1024;
/// Under loom: few slots, one per model thread (see [`slot_index`]).
#[cfg(loom)]
pub(crate) const SLOTS: usize = 4;

/// A counted read taken on a biased lock re-enables the bias (if the
/// inhibit window has passed) only this often per thread, so that a lock
/// whose bias is inhibited does not read the clock on every read.
#[cfg(not(loom))]
const ENABLE_EVERY: u32 = 32;

/// One slot: the address of the lock a reader of it holds, or 0. On its
/// own 128-byte line (two 64-byte lines: the adjacent-line prefetcher of
/// many x86 cores pulls pairs).
#[repr(align(128))]
pub(crate) struct Slot(AtomicUsize);

#[cfg(not(loom))]
static TABLE: [Slot; SLOTS] = [const { Slot(AtomicUsize::new(0)) }; SLOTS];

#[cfg(loom)]
loom::lazy_static! {
    static ref TABLE: Vec<Slot> = (0..SLOTS).map(|_| Slot(AtomicUsize::new(0))).collect();
    static ref NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);
}

/// The slot for the calling thread and the lock at `lock`: a hash of the
/// two, so that threads reading one lock spread over the table, and one
/// thread reading several locks too.
#[cfg(not(loom))]
#[inline]
pub(crate) fn slot_index(lock: usize) -> usize {
    let h = (crate::loom::thread_id() ^ lock.rotate_left(23)).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize);
    h >> (usize::BITS - SLOTS.trailing_zeros())
}

/// Under loom, model thread `n` (in order of first use) uses slot `n`, so
/// that the models exercise the biased path rather than hash collisions.
#[cfg(loom)]
pub(crate) fn slot_index(_lock: usize) -> usize {
    loom::thread_local!(static INDEX: usize = NEXT_THREAD.fetch_add(1, Ordering::Relaxed) % SLOTS);
    INDEX.with(|i| *i)
}

/// The slot at `index`.
#[inline]
pub(crate) fn slot(index: usize) -> &'static AtomicUsize {
    &TABLE[index].0
}

/// Every slot, for a revocation's scan.
pub(crate) fn slots() -> impl Iterator<Item = &'static AtomicUsize> {
    TABLE.iter().map(|s| &s.0)
}

/// Whether this counted read should try to re-enable the bias (one in
/// [`ENABLE_EVERY`] per thread).
#[cfg(not(loom))]
#[inline]
pub(crate) fn enable_tick() -> bool {
    std::thread_local!(static TICK: core::cell::Cell<u32> = const { core::cell::Cell::new(0) });
    TICK.with(|t| {
        let n = t.get().wrapping_add(1);
        t.set(n);
        n % ENABLE_EVERY == 1
    })
}

/// Under loom, every counted read tries (the models are small).
#[cfg(loom)]
pub(crate) fn enable_tick() -> bool {
    true
}

/// What a read guard of a lock with policy `P` carries to release its read
/// lock: where its entry was published ([`ReadBiased`](crate::ReadBiased)
/// locks), or nothing (every other lock). Crate-internal: the type is
/// named only by [`Policy`](crate::Policy)'s hidden associated type.
pub trait ReadToken: Copy + Send + Sync + Unpin + core::fmt::Debug + 'static {
    /// A counted read lock (the state word's reader count holds it).
    #[doc(hidden)]
    const COUNTED: Self;
    /// The table slot this read lock was published in, if any.
    #[doc(hidden)]
    fn slot(self) -> Option<usize>;
    /// A read lock published in slot `index`.
    #[doc(hidden)]
    fn published(index: usize) -> Self;
}

/// The read token of a lock without reader bias: nothing at all.
#[derive(Clone, Copy, Debug)]
pub struct Counted;

impl ReadToken for Counted {
    const COUNTED: Self = Counted;
    #[inline(always)]
    fn slot(self) -> Option<usize> {
        None
    }
    #[inline(always)]
    fn published(_: usize) -> Self {
        unreachable!("a lock without reader bias published a read")
    }
}

/// The read token of a [`ReadBiased`](crate::ReadBiased) lock: the slot the
/// read was published in (a hint: a revocation may have moved it into the
/// count since), or none.
#[derive(Clone, Copy, Debug)]
pub struct Published(u32);

impl ReadToken for Published {
    const COUNTED: Self = Published(u32::MAX);
    #[inline(always)]
    fn slot(self) -> Option<usize> {
        (self.0 != u32::MAX).then_some(self.0 as usize)
    }
    #[inline(always)]
    fn published(index: usize) -> Self {
        Published(index as u32)
    }
}

// ---------------------------------------------------------------------
// The engine's side: biased reads, their release, revocation.
// ---------------------------------------------------------------------

use super::{add_readers, readers, wake_all, Cause, Kind, Queue, RawRwLock, WakeList, BIASED, QUEUED, READER, WRITER};
use crate::loom::now_ns;
use crate::policy::Policy;

impl<P: Policy> RawRwLock<P> {
    /// The lock's address: what its published readers write in the table.
    #[inline]
    pub(crate) fn addr(&self) -> usize {
        self as *const Self as usize
    }

    /// Blocks until a read lock is held; returns what its release needs.
    /// A read-biased lock tries the biased path first.
    ///
    /// # Panics
    /// If the reader count would overflow.
    #[inline]
    pub(crate) fn lock_read(&self) -> P::ReadToken {
        // (`read_with` with a blocking acquire, spelled out: through the
        // `Option` the biased read+unlock costs two more instructions.)
        if P::BIASED {
            if let Some(token) = self.try_read_biased() {
                return token;
            }
        }
        self.lock_shared();
        self.after_counted_read();
        P::ReadToken::COUNTED
    }

    /// A read lock by the biased path if the bias is on, otherwise by
    /// `acquire` (which takes a counted read lock, or gives up: `false`).
    #[inline]
    pub(crate) fn read_with(&self, acquire: impl FnOnce(&Self) -> bool) -> Option<P::ReadToken> {
        if P::BIASED {
            if let Some(token) = self.try_read_biased() {
                return Some(token);
            }
        }
        if !acquire(self) {
            return None;
        }
        self.after_counted_read();
        Some(P::ReadToken::COUNTED)
    }

    /// The biased path: publish in this thread's slot, then make sure the
    /// bias is still on (see the module documentation for the race with a
    /// revocation). `None`: take a counted read lock instead.
    #[inline]
    pub(crate) fn try_read_biased(&self) -> Option<P::ReadToken> {
        if !P::BIASED || self.state.load(Ordering::Relaxed) & BIASED == 0 {
            return None;
        }
        let me = self.addr();
        let index = slot_index(me);
        let slot = slot(index);
        // `SeqCst` here and on the load below, as on the revocation's
        // clearing of `BIASED` and its scan: of "publish, then look at the
        // bias" and "clear the bias, then look at the slots", at least one
        // side sees the other's write.
        if slot.compare_exchange(0, me, Ordering::SeqCst, Ordering::Relaxed).is_err() {
            // Taken by another reader (of this lock or another).
            return None;
        }
        if self.state_after_publish() & BIASED != 0 {
            return Some(P::ReadToken::published(index));
        }
        Self::back_off(slot, me)
    }

    /// The reader's look at the state word after it published itself: a
    /// `SeqCst` load.
    #[cfg(not(loom))]
    #[inline(always)]
    fn state_after_publish(&self) -> u32 {
        self.state.load(Ordering::SeqCst)
    }

    /// Under loom, the same look as a read-modify-write that changes
    /// nothing. loom treats a `SeqCst` load as an `Acquire` one (its README,
    /// "Unsupported features"), so it would let this load and the
    /// revocation's scan both miss the other side's write, which the
    /// memory model forbids here (all four accesses are `SeqCst`): every
    /// model of a biased reader racing a revocation would report a false
    /// data race. A read-modify-write reads the latest value, as the
    /// `SeqCst` load does in that race, and with the same ordering, so a
    /// weaker ordering here still fails the models.
    #[cfg(loom)]
    fn state_after_publish(&self) -> u32 {
        self.state.fetch_add(0, Ordering::SeqCst)
    }

    /// A published reader found the bias revoked: it leaves its slot, or,
    /// if the revocation already moved it into the count, keeps that
    /// counted read lock.
    #[cold]
    fn back_off(slot: &AtomicUsize, me: usize) -> Option<P::ReadToken> {
        match slot.compare_exchange(me, 0, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => None,
            Err(_) => Some(P::ReadToken::COUNTED),
        }
    }

    /// After a counted read lock was taken on a read-biased lock: turns the
    /// bias (back) on if nothing speaks against it.
    #[inline]
    fn after_counted_read(&self) {
        if P::BIASED && self.state.load(Ordering::Relaxed) & (WRITER | QUEUED | BIASED) == 0 && enable_tick() {
            self.try_enable_bias();
        }
    }

    /// Sets `BIASED`, while the caller holds a counted read lock, no writer
    /// is queued (nobody is), and the inhibit window after the last
    /// revocation has passed.
    #[cold]
    fn try_enable_bias(&self) {
        // `Acquire`: if this sees a revocation's change, it sees the window
        // that revocation opened before it (see `revoke_locked`).
        let s = self.state.load(Ordering::Acquire);
        if s & (WRITER | QUEUED | BIASED) != 0 || readers(s) == 0 {
            return;
        }
        let shared = self.shared.load(Ordering::Acquire);
        // SAFETY: once set, `shared` points to a live allocation until the
        // lock is dropped, which cannot happen while `&self` exists.
        if !shared.is_null() && now_ns() < unsafe { (*shared).inhibit_until.load(Ordering::Relaxed) } {
            return;
        }
        // Fails harmlessly if the state moved (say, a writer queued).
        let _ = self.state.compare_exchange(s, s | BIASED, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// Releases a read lock taken by [`lock_read`](Self::lock_read) or
    /// [`read_with`](Self::read_with): empties its slot if its entry is
    /// still there, otherwise releases a counted read lock (a revocation
    /// moved the entry into the count).
    ///
    /// # Safety
    /// The caller holds that read lock, and gives it up.
    #[inline]
    pub(crate) unsafe fn unlock_read(&self, token: P::ReadToken) {
        if let Some(index) = token.slot() {
            if slot(index).compare_exchange(self.addr(), 0, Ordering::Release, Ordering::Relaxed).is_ok() {
                return;
            }
        }
        // SAFETY: the caller holds a read lock, counted in the state word.
        unsafe { self.unlock_shared() }
    }

    /// Releases the lock held in `kind` mode: a read lock as
    /// [`unlock_read`](Self::unlock_read) does, the write lock as
    /// [`unlock_exclusive`](Self::unlock_exclusive).
    ///
    /// # Safety
    /// The caller holds the lock in that mode (for a read, the read lock
    /// `token` stands for), and gives it up.
    pub(crate) unsafe fn unlock_held(&self, kind: Kind, token: P::ReadToken) {
        // SAFETY: forwarded from the caller's obligation.
        unsafe {
            match kind {
                Kind::Read => self.unlock_read(token),
                Kind::Write => self.unlock_exclusive(),
            }
        }
    }

    /// Makes the caller's read lock a counted one (before an upgrade, which
    /// needs to see it in the count).
    ///
    /// # Safety
    /// The caller holds the read lock `token` stands for.
    pub(crate) unsafe fn count_in(&self, token: P::ReadToken) {
        if let Some(index) = token.slot() {
            // If a revocation moved the entry first, the caller's read is
            // in the count already.
            self.move_into_count(slot(index));
        }
    }

    /// Moves the entry of this lock in `slot`, if it is still there, into
    /// the state word's count: count first, then empty the slot, so that
    /// the lock never looks emptier than it is; if the slot was emptied
    /// first (its reader left, or another mover took it), takes the count
    /// back. `Acquire` on failure too: a reader that left by emptying its
    /// slot (`Release`) is done with the data.
    ///
    /// The caller holds a read lock of this lock (its own, or a
    /// revocation's temporary one), so taking the count back never
    /// releases the last reader.
    fn move_into_count(&self, slot: &AtomicUsize) {
        self.state.fetch_add(READER, Ordering::Relaxed);
        if slot.compare_exchange(self.addr(), 0, Ordering::Acquire, Ordering::Acquire).is_err() {
            self.state.fetch_sub(READER, Ordering::Relaxed);
        }
    }

    /// How many readers of this lock are published in the table now.
    pub(crate) fn published_readers(&self) -> usize {
        let me = self.addr();
        slots().filter(|s| s.load(Ordering::SeqCst) == me).count()
    }

    /// A writer's attempt found `BIASED`: revoke, then try once more, as
    /// [`try_lock_exclusive`](Self::try_lock_exclusive) does.
    #[cold]
    pub(crate) fn revoke_then_try_exclusive(&self) -> bool {
        self.revoke();
        let s = self.state.load(Ordering::Relaxed);
        if s == 0 {
            return self.try_lock_exclusive_fast();
        }
        // (Re-enabled meanwhile: readers hold the lock, it is not free.)
        s & BIASED == 0 && !P::STRICT && self.try_barge_exclusive(s)
    }

    /// Revokes the bias, if it is on (see [`revoke_locked`](Self::revoke_locked)).
    #[cold]
    pub(crate) fn revoke(&self) {
        let wake = self.with_queue(|q| self.revoke_locked(q));
        wake_all(wake);
    }

    /// Queue lock held: turns the bias off and moves every published reader
    /// of this lock into the state word's count; from then on a writer
    /// waits for them as for any counted reader. Returns whom to wake (the
    /// temporary read lock's release may hand the lock on).
    pub(crate) fn revoke_locked(&self, q: &mut Queue) -> WakeList {
        let mut s = self.state.load(Ordering::Relaxed);
        if s & BIASED == 0 {
            return WakeList::new();
        }
        // SAFETY: the queue lock is held, so `with_queue` allocated `shared`;
        // it lives until the lock is dropped.
        let shared = unsafe { &*self.shared.load(Ordering::Acquire) };
        // The window opens now, before the bias goes off, so that a counted
        // reader arriving during the scan does not turn it back on (its
        // `Acquire` look at the state, after this, sees the window). Only
        // revocations clear `BIASED`, under the queue lock: it stays set
        // until the compare-and-swap below.
        shared.inhibit_until.store(u64::MAX, Ordering::Relaxed);
        loop {
            // Clear the bias and take a temporary read lock in one step, so
            // that no writer finds the lock free while the published readers
            // are not yet counted.
            match self.state.compare_exchange_weak(s, add_readers(s & !BIASED, 1), Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(e) => s = e,
            }
        }
        let start = now_ns();
        let me = self.addr();
        for slot in slots() {
            if slot.load(Ordering::SeqCst) == me {
                self.move_into_count(slot);
            }
        }
        let end = now_ns();
        let cost = end.saturating_sub(start).max(MIN_REVOKE_COST);
        shared.inhibit_until.store(end.saturating_add(INHIBIT_FACTOR.saturating_mul(cost)), Ordering::Relaxed);
        // Release the temporary read lock; if it was the last, the queue's
        // waiters are served as after any last reader.
        self.transition(q, READER, 0, Cause::ReaderReleased, None)
    }
}

//! loom models of the engine (docs/SEMANTICS.md §8), one per policy each,
//! in both hand-off modes. Run with
//!
//! ```text
//! LOOM_MAX_PREEMPTIONS=2 RUSTFLAGS="--cfg loom -C debug-assertions" \
//!     CARGO_TARGET_DIR=target/loom cargo test --release --lib -p rwlocker -- loom_
//! ```
//!
//! (some models raise the bound, see [`model`]). The protected value is a loom `UnsafeCell`, so loom also checks that the
//! lock orders every access (a missing happens-before edge is reported as a
//! data race). A lost wakeup shows up as a deadlock: every model thread
//! parked.

use super::waiter::{Kind, Waiter, WAITING};
use super::{RawRwLock, MAX_READERS};
use crate::loom::{Arc, AtomicBool, Ordering, UnsafeCell};
use crate::policy::{Exclusive, PhaseFair, Policy, ReaderPreferring, Strict, WriterPreferring};
use loom::thread;

/// `loom::model` exploring at least `min_preemptions` preemptions, whatever
/// `LOOM_MAX_PREEMPTIONS` says (no bound, when the environment sets none,
/// stays no bound). Cheap models raise the bound where two preemptions are
/// too few to reach the interleaving that matters (see each model).
fn model(min_preemptions: usize, f: impl Fn() + Sync + Send + 'static) {
    model_with_bound(min_preemptions, NEVER, f)
}

/// A starvation bound no model reaches: the default mode barges freely.
pub(super) const NEVER: u64 = u64::MAX / 2;

/// [`model`] with the default mode's starvation bound set to `bound` (the
/// model clock stands at 0, so a bound of 0 puts every queued waiter past
/// it at once: the lock hands off exactly, through the `HANDOFF` state).
fn model_with_bound(min_preemptions: usize, bound: u64, f: impl Fn() + Sync + Send + 'static) {
    model_at(min_preemptions, 0, bound, f)
}

/// [`model`] with the model clock standing at `now` and the starvation
/// bound at `bound`.
pub(super) fn model_at(min_preemptions: usize, now: u64, bound: u64, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = builder.preemption_bound.map(|p| p.max(min_preemptions));
    builder.check(move || {
        crate::loom::set_model_time(now, bound);
        f()
    });
}

/// A raw lock and the value it protects (the reader-bias models add their
/// own methods to it).
pub(super) struct Shared<P: Policy> {
    pub(super) lock: RawRwLock<P>,
    value: UnsafeCell<usize>,
}

// SAFETY: `value` is only accessed with `lock` held in the matching mode
// (loom checks that claim), or after every other thread was joined.
unsafe impl<P: Policy> Sync for Shared<P> {}
// SAFETY: as above; the value is a plain `usize`.
unsafe impl<P: Policy> Send for Shared<P> {}

impl<P: Policy> Shared<P> {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Shared { lock: RawRwLock::new(), value: UnsafeCell::new(0) })
    }

    /// Reads the value; a read (or the write) lock is held.
    pub(super) fn read(&self) -> usize {
        // SAFETY: the caller holds a lock that excludes writers.
        self.value.with(|v| unsafe { *v })
    }

    /// Adds one and returns the new value; the write lock is held.
    pub(super) fn bump(&self) -> usize {
        // SAFETY: the caller holds the write lock.
        self.value.with_mut(|v| unsafe {
            *v += 1;
            *v
        })
    }

    pub(super) fn increment(&self) {
        self.lock.lock_exclusive();
        self.bump();
        // SAFETY: taken just above.
        unsafe { self.lock.unlock_exclusive() };
    }

    fn read_locked(&self) -> usize {
        self.lock.lock_shared();
        let v = self.read();
        // SAFETY: taken just above.
        unsafe { self.lock.unlock_shared() };
        v
    }

    /// The lock is free and nobody is left in its queue.
    fn assert_idle(&self) {
        let s = self.lock.state_snapshot();
        assert!(!self.lock.is_locked(), "{s:?}");
        assert_eq!((s.queued_readers, s.queued_writers), (0, 0), "{s:?}");
    }
}

/// Runs `f` on a new model thread with its own handle on `s`.
///
/// Every lock operation runs on such threads, and the model's main thread
/// only joins them: a waiter's wakeup may arrive after it saw its grant and
/// moved on (harmless with std's park), and loom mis-handles an unpark that
/// reaches a thread blocked in `join` (tokio-rs/loom#249).
pub(super) fn actor<P: Policy, R: Send + 'static>(
    s: &Arc<Shared<P>>,
    f: impl FnOnce(&Arc<Shared<P>>) -> R + Send + 'static,
) -> thread::JoinHandle<R> {
    let s = s.clone();
    thread::spawn(move || f(&s))
}

/// Two writers increment a counter: mutual exclusion, no lost wakeup.
fn two_writers<P: Policy>() {
    model(3, || {
        let s = Shared::<P>::new();
        let a = actor(&s, |s| s.increment());
        let b = actor(&s, |s| s.increment());
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(s.read(), 2);
        s.assert_idle();
    });
}

/// Two writers queue behind a held lock; its release grants the first and
/// wakes the second ahead of its grant (when it is parked by then): that
/// early wake-up must neither let it in early nor lose its real grant.
fn release_with_two_queued_writers<P: Policy>() {
    model(2, || {
        let s = Shared::<P>::new();
        // Held before anyone arrives (the main thread never waits, see `actor`).
        s.lock.lock_exclusive();
        let a = actor(&s, |s| s.increment());
        let b = actor(&s, |s| s.increment());
        // SAFETY: the write lock taken above.
        unsafe { s.lock.unlock_exclusive() };
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(s.read(), 2);
        s.assert_idle();
    });
}

/// One writer and two readers: readers see 0 or 1, never a torn or
/// unordered value; the final value is 1.
fn writer_and_two_readers<P: Policy>() {
    model(2, || {
        let s = Shared::<P>::new();
        let w = actor(&s, |s| s.increment());
        let r1 = actor(&s, |s| s.read_locked());
        let r2 = actor(&s, |s| s.read_locked());
        for r in [r1, r2] {
            let seen = r.join().unwrap();
            assert!(seen <= 1, "a reader saw {seen}");
        }
        w.join().unwrap();
        assert_eq!(s.read(), 1);
        s.assert_idle();
    });
}

/// A downgrade while another thread waits to write: no writer gets in
/// between, so the downgraded read sees the value it wrote; both writes
/// land.
fn downgrade_with_waiting_writer<P: Policy>() {
    model(3, || {
        let s = Shared::<P>::new();
        let other = actor(&s, |s| s.increment());
        let downgrader = actor(&s, |s| {
            s.lock.lock_exclusive();
            let wrote = s.bump();
            // SAFETY: the write lock is held; afterwards a read lock is.
            unsafe { s.lock.downgrade() };
            assert_eq!(s.read(), wrote, "a writer got in between the downgrade");
            // SAFETY: the read lock the downgrade left.
            unsafe { s.lock.unlock_shared() };
        });
        downgrader.join().unwrap();
        other.join().unwrap();
        assert_eq!(s.read(), 2);
        s.assert_idle();
    });
}

/// A writer that times out races the release that would grant it the lock,
/// with a reader queued behind it. The timeout is modelled explicitly
/// (loom has no timed park): the writer arrives and, if queued, gives up
/// with `abandon`; if that finds it already granted, it releases the grant.
/// Everyone must finish (a reader left parked is a deadlock) and the lock
/// must end free.
///
/// Explores at least three preemptions: with two, loom misses a wakeup lost
/// by a leaving waiter (checked by breaking `abandon` on purpose), which
/// needs the writer preempted after queueing, the reader queued behind it,
/// and the writer leaving before the release.
fn timed_out_writer_races_release<P: Policy>() {
    model(3, || {
        let s = Shared::<P>::new();
        // The first reader holds the lock before anyone else arrives (the
        // main thread never waits for the lock, so it may join; see `actor`).
        s.lock.lock_shared();
        let writer = actor(&s, |s| {
            let w = Waiter::thread(Kind::Write, WAITING);
            let held = s.lock.arrive(&w) || {
                // Granted before giving up: do the wake-ups handed to it,
                // as every granted thread must (see `take_grant`).
                let granted = s.lock.abandon(&w);
                if granted {
                    w.help_wake();
                }
                granted
            };
            if held {
                s.bump();
                // SAFETY: granted (at once or before giving up).
                unsafe { s.lock.unlock_exclusive() };
            }
        });
        let reader = actor(&s, |s| s.read_locked());
        // SAFETY: the read lock taken above.
        unsafe { s.lock.unlock_shared() };
        writer.join().unwrap();
        let seen = reader.join().unwrap();
        assert!(seen <= 1);
        assert!(s.read() <= 1);
        s.assert_idle();
    });
}

/// One read more than `MAX_READERS` (3 under loom) panics with a clear
/// message, and the lock stays usable.
fn reader_overflow<P: Policy>() {
    model(0, || {
        let s = Shared::<P>::new();
        for _ in 0..MAX_READERS {
            assert!(s.lock.try_lock_shared());
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.lock.lock_shared()));
        let err = r.expect_err("one reader too many must panic");
        let msg = err.downcast_ref::<String>().map(String::as_str).unwrap_or("");
        assert!(msg.contains("reader count overflow"), "{msg:?}");
        for _ in 0..MAX_READERS {
            // SAFETY: the reads taken above.
            unsafe { s.lock.unlock_shared() };
        }
        s.increment();
        s.assert_idle();
    });
}

/// Default mode: a writer queued behind a held lock is woken (not granted)
/// by the release, and a second writer arriving meanwhile may take the free
/// lock first; the woken writer then waits again in its place and gets the
/// lock at the next release. No lost wakeup, exclusion, nothing left queued.
fn arrival_barges_against_wakeup<P: Policy>() {
    model(2, || {
        let s = Shared::<P>::new();
        s.lock.lock_exclusive();
        let queued = actor(&s, |s| s.increment());
        let barger = actor(&s, |s| s.increment());
        // SAFETY: the write lock taken above.
        unsafe { s.lock.unlock_exclusive() };
        queued.join().unwrap();
        barger.join().unwrap();
        assert_eq!(s.read(), 2);
        s.assert_idle();
    });
}

/// Default mode: a release racing a woken waiter's un-wake. A writer is
/// queued behind the lock; its release wakes it (`WAKING`), and the
/// releasing thread takes the free lock again before the woken writer's
/// attempt (as a writer, or as a reader where the class rule lets a reader
/// past a queued writer), then releases once more, without the queue lock
/// while `WAKING` is set. The woken writer's attempt, finding the lock
/// held, waits again and clears `WAKING`: whichever of the two
/// compare-and-swaps comes second must see the first, or the woken writer
/// is left parked behind a free lock (a deadlock here).
fn release_races_unwake<P: Policy>(read_again: bool) {
    model(2, move || {
        let s = Shared::<P>::new();
        // Held before anyone arrives (the main thread never waits, see `actor`).
        s.lock.lock_exclusive();
        let queued = actor(&s, |s| s.increment());
        let holder = actor(&s, move |s| {
            // SAFETY: the write lock the main thread took (a raw lock has no
            // owning thread); nobody else releases it.
            unsafe { s.lock.unlock_exclusive() };
            if read_again {
                s.read_locked() <= 1
            } else {
                s.increment();
                true
            }
        });
        queued.join().unwrap();
        assert!(holder.join().unwrap());
        assert_eq!(s.read(), if read_again { 1 } else { 2 });
        s.assert_idle();
    });
}

/// Default mode past the bound: every queued waiter is over it at once
/// (bound 0), so releases hand off exactly (`HANDOFF`) while arrivals keep
/// coming. Writers and readers all finish, values stay ordered.
fn handoff_past_the_bound<P: Policy>() {
    model_with_bound(2, 0, || {
        let s = Shared::<P>::new();
        s.lock.lock_shared();
        let w = actor(&s, |s| s.increment());
        let r = actor(&s, |s| s.read_locked());
        // SAFETY: the read lock taken above.
        unsafe { s.lock.unlock_shared() };
        w.join().unwrap();
        assert!(r.join().unwrap() <= 1);
        assert_eq!(s.read(), 1);
        s.assert_idle();
    });
}

/// Default mode: the bound passes while a wake-up is on its way. A writer
/// queues behind the held lock (deadline 1); the release wakes it; the
/// releasing thread takes the lock again (barging, or behind the woken
/// writer if that one was first), the clock reaches the woken writer's
/// deadline, a third writer arrives, and the lock is released once more,
/// without the age check while the woken writer is on its way. The third
/// writer must not get in ahead of the woken one: it checks the published
/// deadline itself, and the woken writer's attempt hands off exactly.
fn bound_passes_while_waking<P: Policy>() {
    model_with_bound(2, 1, || {
        let s = Shared::<P>::new();
        let queued = Arc::new(AtomicBool::new(false));
        // Held before anyone arrives (the main thread never waits, see `actor`).
        s.lock.lock_exclusive();
        let first = actor(&s, {
            let queued = queued.clone();
            move |s| {
                let w = Waiter::thread(Kind::Write, WAITING);
                assert!(!s.lock.arrive(&w), "admitted past the held lock");
                queued.store(true, Ordering::Release);
                assert!(s.lock.wait_granted(&w, None));
                let v = s.bump();
                // SAFETY: granted just above.
                unsafe { s.lock.unlock_exclusive() };
                v
            }
        });
        let holder = {
            let s = s.clone();
            thread::spawn(move || {
                while !queued.load(Ordering::Acquire) {
                    thread::yield_now();
                }
                // SAFETY: the write lock the main thread took (a raw lock has
                // no owning thread); nobody else releases it.
                unsafe { s.lock.unlock_exclusive() };
                s.lock.lock_exclusive();
                s.bump();
                // The first writer's deadline has come.
                crate::loom::set_model_time(1, 1);
                let late = actor(&s, |s| {
                    s.lock.lock_exclusive();
                    let v = s.bump();
                    // SAFETY: taken just above.
                    unsafe { s.lock.unlock_exclusive() };
                    v
                });
                // SAFETY: taken just above.
                unsafe { s.lock.unlock_exclusive() };
                late.join().unwrap()
            })
        };
        let first = first.join().unwrap();
        let late = holder.join().unwrap();
        assert!(first < late, "an arrival past the bound got in first ({late} before {first})");
        assert_eq!(s.read(), 3);
        s.assert_idle();
    });
}

fn release_races_unwake_writing<P: Policy>() {
    release_races_unwake::<P>(false);
}

fn release_races_unwake_reading<P: Policy>() {
    release_races_unwake::<P>(true);
}

macro_rules! loom_per_policy {
    ($($model:ident => $($name:ident: $policy:ty),*;)*) => {$($(
        #[test]
        fn $name() {
            $model::<$policy>();
        }
    )*)*};
}

loom_per_policy! {
    two_writers =>
        loom_two_writers_reader_preferring: ReaderPreferring,
        loom_two_writers_writer_preferring: WriterPreferring,
        loom_two_writers_phase_fair: PhaseFair,
        loom_two_writers_exclusive: Exclusive;
    release_with_two_queued_writers =>
        loom_release_with_two_queued_writers_writer_preferring: WriterPreferring,
        loom_release_with_two_queued_writers_exclusive: Exclusive;
    writer_and_two_readers =>
        loom_writer_and_two_readers_reader_preferring: ReaderPreferring,
        loom_writer_and_two_readers_writer_preferring: WriterPreferring,
        loom_writer_and_two_readers_phase_fair: PhaseFair,
        loom_writer_and_two_readers_exclusive: Exclusive;
    downgrade_with_waiting_writer =>
        loom_downgrade_with_waiting_writer_reader_preferring: ReaderPreferring,
        loom_downgrade_with_waiting_writer_writer_preferring: WriterPreferring,
        loom_downgrade_with_waiting_writer_phase_fair: PhaseFair,
        loom_downgrade_with_waiting_writer_exclusive: Exclusive;
    timed_out_writer_races_release =>
        loom_timed_out_writer_races_release_reader_preferring: ReaderPreferring,
        loom_timed_out_writer_races_release_writer_preferring: WriterPreferring,
        loom_timed_out_writer_races_release_phase_fair: PhaseFair,
        loom_timed_out_writer_races_release_exclusive: Exclusive;
    reader_overflow =>
        loom_reader_overflow_reader_preferring: ReaderPreferring,
        loom_reader_overflow_writer_preferring: WriterPreferring,
        loom_reader_overflow_phase_fair: PhaseFair;
    // The exact hand-off mode.
    two_writers =>
        loom_two_writers_strict_phase_fair: Strict<PhaseFair>,
        loom_two_writers_strict_exclusive: Strict<Exclusive>;
    release_with_two_queued_writers =>
        loom_release_with_two_queued_writers_strict_writer_preferring: Strict<WriterPreferring>,
        loom_release_with_two_queued_writers_strict_exclusive: Strict<Exclusive>;
    writer_and_two_readers =>
        loom_writer_and_two_readers_strict_reader_preferring: Strict<ReaderPreferring>,
        loom_writer_and_two_readers_strict_writer_preferring: Strict<WriterPreferring>,
        loom_writer_and_two_readers_strict_phase_fair: Strict<PhaseFair>;
    downgrade_with_waiting_writer =>
        loom_downgrade_with_waiting_writer_strict_reader_preferring: Strict<ReaderPreferring>,
        loom_downgrade_with_waiting_writer_strict_phase_fair: Strict<PhaseFair>;
    timed_out_writer_races_release =>
        loom_timed_out_writer_races_release_strict_writer_preferring: Strict<WriterPreferring>,
        loom_timed_out_writer_races_release_strict_phase_fair: Strict<PhaseFair>;
    // The default mode's own interleavings.
    arrival_barges_against_wakeup =>
        loom_arrival_barges_against_wakeup_phase_fair: PhaseFair,
        loom_arrival_barges_against_wakeup_exclusive: Exclusive;
    release_races_unwake_writing =>
        loom_release_races_unwake_writing_phase_fair: PhaseFair,
        loom_release_races_unwake_writing_exclusive: Exclusive;
    release_races_unwake_reading =>
        loom_release_races_unwake_reading_reader_preferring: ReaderPreferring;
    bound_passes_while_waking =>
        loom_bound_passes_while_waking_phase_fair: PhaseFair,
        loom_bound_passes_while_waking_exclusive: Exclusive;
    handoff_past_the_bound =>
        loom_handoff_past_the_bound_writer_preferring: WriterPreferring,
        loom_handoff_past_the_bound_phase_fair: PhaseFair,
        loom_handoff_past_the_bound_reader_preferring: ReaderPreferring;
}

/// The model clock and bound are seen by every model thread (they are
/// thread-locals of the OS thread loom runs the model on), so the models
/// above really run with the bound they set.
#[test]
fn loom_model_time_reaches_model_threads() {
    model_with_bound(0, 0, || {
        let seen = thread::spawn(|| (crate::loom::now_ns(), crate::loom::model_bound_ns())).join().unwrap();
        assert_eq!(seen, (0, 0));
    });
}

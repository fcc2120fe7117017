//! loom models of reader bias (docs/SEMANTICS.md §2b): biased readers that
//! publish themselves in the visible-readers table, racing writers that
//! revoke the bias. Run with the other models:
//!
//! ```text
//! LOOM_MAX_PREEMPTIONS=2 RUSTFLAGS="--cfg loom -C debug-assertions" \
//!     CARGO_TARGET_DIR=target/loom cargo test --release --lib -p rwlocker -- loom_bias
//! ```
//!
//! The protected value is a loom `UnsafeCell`: a writer that gets in while
//! a published reader it did not see still reads is reported as a data race,
//! and so is a reader whose release does not order its read before the next
//! write. A writer left waiting for a release that never reaches the queue
//! shows up as a deadlock. Each model also counts, across its executions,
//! how often the reader really took the biased path, and fails if it never
//! did (a model that never publishes proves nothing about publishing).
//!
//! What the models cannot see: loom treats a `SeqCst` load as `Acquire`,
//! so under loom the reader's look at the state word after publishing is a
//! read-modify-write (see `state_after_publish`). That keeps the models
//! free of false alarms, and a weaker ordering on that look still fails
//! them, but a weaker ordering on the publishing compare-and-swap itself
//! does not (the read-modify-write after it carries the slot's write to the
//! revoker): that one rests on the argument in the `bias` module alone.

use super::loom_tests::{actor, model_at, Shared, NEVER};
use super::waiter::{Kind, Waiter, WAITING};
use super::{readers, BIASED};
use crate::engine::bias::ReadToken;
use crate::loom::{set_model_time, Arc, Ordering};
use crate::policy::{PhaseFair, Policy, ReadBiased, ReaderPreferring, Strict, WriterPreferring};
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};

/// `loom::model` exploring at least `min_preemptions` preemptions, with
/// the model clock standing at `now` (no model reaches the starvation
/// bound: the default mode barges freely).
fn model(min_preemptions: usize, now: u64, f: impl Fn() + Sync + Send + 'static) {
    model_at(min_preemptions, now, NEVER, f)
}

/// [`model`] exploring at most `max_preemptions` preemptions, for a model
/// too large to explore with the suite's bound in reasonable time.
fn model_capped(max_preemptions: usize, now: u64, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(max_preemptions, |p| p.min(max_preemptions)));
    builder.check(move || {
        set_model_time(now, NEVER);
        f()
    });
}

/// How the reads of one model's executions went: taken published (the
/// biased path), or counted.
struct Paths {
    published: StdAtomicUsize,
    counted: StdAtomicUsize,
}

impl Paths {
    /// One per model (a `static` in a generic function would be shared by
    /// every policy's test, and those run in parallel).
    fn new() -> &'static Self {
        Box::leak(Box::new(Paths { published: StdAtomicUsize::new(0), counted: StdAtomicUsize::new(0) }))
    }

    fn record<T: ReadToken>(&self, token: T) {
        let n = if token.slot().is_some() { &self.published } else { &self.counted };
        n.fetch_add(1, StdOrdering::Relaxed);
    }

    /// After the model: the biased path was explored (and, if `both`, the
    /// counted one too).
    fn assert_explored(&self, both: bool) {
        let (p, c) = (self.published.load(StdOrdering::Relaxed), self.counted.load(StdOrdering::Relaxed));
        eprintln!("reads: {p} published, {c} counted");
        assert!(p > 0, "the model never took the biased path ({c} counted reads)");
        assert!(!both || c > 0, "the model never took the counted path ({p} published reads)");
    }
}

/// What the models need of the shared lock beyond the engine models'.
impl<P: Policy> Shared<P> {
    /// A new lock with the bias on: a counted read (the bias is off at
    /// first) turns it on, and its release leaves it on.
    fn biased() -> Arc<Self> {
        let s = Self::new();
        let token = s.lock.lock_read();
        assert!(token.slot().is_none(), "the first read of a lock is counted");
        // SAFETY: the read lock taken just above.
        unsafe { s.lock.unlock_read(token) };
        assert!(s.biased_now(), "a counted read did not turn the bias on");
        s
    }

    fn state(&self) -> u32 {
        self.lock.state.load(Ordering::Relaxed)
    }

    fn biased_now(&self) -> bool {
        self.state() & BIASED != 0
    }

    /// A read through the biased path if the bias is on; returns what it saw.
    fn read_biased(&self, paths: &Paths) -> usize {
        let token = self.lock.lock_read();
        paths.record(token);
        let v = self.read();
        // SAFETY: the read lock taken just above.
        unsafe { self.lock.unlock_read(token) };
        v
    }

    /// Nobody holds the lock, nobody is queued or published, and the bias
    /// is off (every model revokes it, and the model clock never passes
    /// the inhibit window that follows).
    fn assert_idle_revoked(&self) {
        let snap = self.lock.state_snapshot();
        assert!(!self.lock.is_locked(), "{snap:?}");
        assert_eq!((snap.queued_readers, snap.queued_writers), (0, 0), "{snap:?}");
        assert_eq!(self.lock.published_readers(), 0, "a published reader left behind");
        assert_eq!(self.state(), 0, "state word not empty after everyone left: {:#x}", self.state());
    }
}

/// Publish versus revoke: a reader of a biased lock races a writer, whose
/// `lock_exclusive` revokes the bias (`try_lock_exclusive` sees `BIASED`).
/// A reader that publishes while the writer revokes must be found by the
/// scan (and counted, so the writer waits for it) or must see the bias
/// gone and back off. Either way the writer never overlaps the read
/// (loom's data-race check), and nothing is left published or counted.
fn publish_vs_revoke<P: Policy>() {
    biased_reader_vs_writer::<P>(|s| s.increment());
}

/// The shape of several models: one biased reader races one writer that
/// writes once through `write`, a path that must revoke the bias first.
/// The reader sees the value before or after the write, never during it
/// (loom's data-race check), the value ends at 1, and the lock ends idle
/// with nothing left published or counted and the bias off.
fn biased_reader_vs_writer<P: Policy>(write: fn(&Shared<P>)) {
    let paths = Paths::new();
    model(2, 0, move || {
        let s = Shared::<P>::biased();
        let r = actor(&s, move |s| s.read_biased(paths));
        let w = actor(&s, move |s| write(s));
        assert!(r.join().unwrap() <= 1);
        w.join().unwrap();
        assert_eq!(s.read(), 1);
        s.assert_idle_revoked();
    });
    paths.assert_explored(true);
}

/// Two biased readers and a writer: the scan must find both (each in its
/// own slot), whichever of them it reaches before or after their publish.
fn two_readers_vs_revoke<P: Policy>() {
    let paths = Paths::new();
    model_capped(1, 0, move || {
        let s = Shared::<P>::biased();
        let r1 = actor(&s, move |s| s.read_biased(paths));
        let r2 = actor(&s, move |s| s.read_biased(paths));
        let w = actor(&s, move |s| s.increment());
        assert!(r1.join().unwrap() <= 1);
        assert!(r2.join().unwrap() <= 1);
        w.join().unwrap();
        assert_eq!(s.read(), 1);
        s.assert_idle_revoked();
    });
    paths.assert_explored(true);
}

/// Two writers and a biased reader: while one writer revokes, the other
/// tries the lock (its fast path, then the queue). The revocation's
/// temporary read lock keeps the lock from looking free before the
/// published reader is counted in; without it the second writer could
/// enter beside the reader. Explored with one preemption (four threads).
fn two_writers_vs_biased_reader<P: Policy>() {
    let paths = Paths::new();
    model_capped(1, 0, move || {
        let s = Shared::<P>::biased();
        let r = actor(&s, move |s| s.read_biased(paths));
        let w1 = actor(&s, move |s| s.increment());
        let w2 = actor(&s, move |s| s.increment());
        assert!(r.join().unwrap() <= 2);
        w1.join().unwrap();
        w2.join().unwrap();
        assert_eq!(s.read(), 2);
        s.assert_idle_revoked();
    });
    paths.assert_explored(true);
}

/// A release on another thread (an async read guard moved between
/// threads): a read taken on one model thread, its token sent to a second
/// thread that releases it, racing a writer. The release must remove the
/// entry wherever the revocation left it (the slot, or the count) and
/// order the read before the write.
fn release_on_another_thread<P: Policy>() {
    let paths = Paths::new();
    model(2, 0, move || {
        let s = Shared::<P>::biased();
        let reader = actor(&s, move |s| {
            // (`read_with`, the path of the async read and of the blocking
            // timed reads: here with an untimed counted acquire.)
            let token = s
                .lock
                .read_with(|raw| {
                    raw.lock_shared();
                    true
                })
                .unwrap();
            paths.record(token);
            let seen = s.read();
            let releaser = actor(s, move |s| {
                // SAFETY: the read lock taken by the spawning thread, which
                // hands it over to this one.
                unsafe { s.lock.unlock_read(token) };
            });
            (seen, releaser)
        });
        let w = actor(&s, move |s| s.increment());
        let (seen, releaser) = reader.join().unwrap();
        assert!(seen <= 1);
        releaser.join().unwrap();
        w.join().unwrap();
        assert_eq!(s.read(), 1);
        s.assert_idle_revoked();
    });
    paths.assert_explored(true);
}

/// The inhibit window. A revocation at model time 100 (its cost counts as
/// 1 ns, the model clock standing still) keeps the bias off until
/// 100 + 9 × 1 = 109: a counted read during the race and every read
/// before 109 stay counted and do not turn the bias back on; the first
/// counted read at 109 does, and the read after it is published again.
fn inhibit_window<P: Policy>() {
    let paths = Paths::new();
    model(2, 100, move || {
        let s = Shared::<P>::biased();
        let r = actor(&s, move |s| s.read_biased(paths));
        let w = actor(&s, move |s| s.increment());
        r.join().unwrap();
        w.join().unwrap();
        // Revoked, and not re-enabled by a counted read during the race.
        s.assert_idle_revoked();
        // SAFETY: the writer revoked, so `shared` is allocated; it lives
        // as long as the lock.
        let until = unsafe { (*s.lock.shared.load(Ordering::Acquire)).inhibit_until.load(Ordering::Relaxed) };
        assert_eq!(until, 109, "inhibit window: revocation end + 9 × cost");
        // The reads below run on the main thread: nobody else is left, so
        // they never wait.
        for now in [100, 101, 108] {
            set_model_time(now, NEVER);
            let token = s.lock.lock_read();
            assert!(token.slot().is_none(), "a published read at {now}, inside the inhibit window");
            assert_eq!(s.lock.published_readers(), 0);
            assert_eq!(readers(s.state()), 1);
            // SAFETY: the read lock taken above.
            unsafe { s.lock.unlock_read(token) };
            assert!(!s.biased_now(), "a counted read at {now} re-enabled the bias before 109");
        }
        set_model_time(109, NEVER);
        let token = s.lock.lock_read();
        assert!(token.slot().is_none(), "the bias came back before the read that turns it on");
        // SAFETY: the read lock taken above.
        unsafe { s.lock.unlock_read(token) };
        assert!(s.biased_now(), "a counted read at 109 did not re-enable the bias");
        let token = s.lock.lock_read();
        assert!(token.slot().is_some(), "the read after the window is not published");
        assert_eq!((s.lock.published_readers(), readers(s.state())), (1, 0));
        assert!(s.lock.is_locked());
        // SAFETY: the read lock taken above.
        unsafe { s.lock.unlock_read(token) };
        assert_eq!(s.lock.published_readers(), 0);
        assert!(!s.lock.is_locked());
    });
    paths.assert_explored(false);
}

/// A counted reader that arrives while a revocation is still scanning the
/// table must not turn the bias back on: the inhibit window covers the
/// revocation itself, not only the time after it. (Otherwise the revoking
/// writer's attempt finds the bias on again and fails, and the writer must
/// revoke a second time.) The writer makes one attempt (`try_lock_exclusive`,
/// which revokes); the model clock stands inside the window throughout.
fn no_re_enable_during_revocation<P: Policy>() {
    let paths = Paths::new();
    model(2, 100, move || {
        let s = Shared::<P>::biased();
        let r = actor(&s, move |s| s.read_biased(paths));
        let w = actor(&s, move |s| {
            if s.lock.try_lock_exclusive() {
                s.bump();
                // SAFETY: taken just above.
                unsafe { s.lock.unlock_exclusive() };
            }
        });
        r.join().unwrap();
        w.join().unwrap();
        assert!(!s.biased_now(), "the bias came back during its revocation: state {:#x}", s.state());
        assert!(!s.lock.is_locked());
        assert_eq!(s.lock.published_readers(), 0);
    });
    paths.assert_explored(true);
}

/// A counted reader turning the bias on races a writer that queues (the
/// clock is past any window: the lock was never revoked). `BIASED` must
/// never be set while the writer is queued: it would wait for a counted
/// release that no published reader makes (a deadlock), and readers would
/// keep publishing past it.
fn enable_vs_queued_writer<P: Policy>() {
    let paths = Paths::new();
    model(2, 0, move || {
        let s = Shared::<P>::new();
        let r = actor(&s, move |s| (s.read_biased(paths), s.read_biased(paths)));
        let w = actor(&s, move |s| s.increment());
        let (a, b) = r.join().unwrap();
        assert!(a <= b && b <= 1, "reads went back in time: {a}, then {b}");
        w.join().unwrap();
        assert_eq!(s.read(), 1);
        let snap = s.lock.state_snapshot();
        assert!(!s.lock.is_locked(), "{snap:?}");
        assert_eq!((snap.queued_readers, snap.queued_writers), (0, 0), "{snap:?}");
        assert_eq!(s.lock.published_readers(), 0);
    });
    paths.assert_explored(true);
}

/// A writer that arrives through the queue (`arrive`, as a blocking writer
/// does after its attempts, and an async one when it polls) finds the bias
/// on: `arrive_locked` must revoke before it queues, or the published
/// reader's release (which empties its slot and never looks at the queue)
/// would leave the writer queued forever.
fn queued_writer_vs_biased_reader<P: Policy>() {
    biased_reader_vs_writer::<P>(|s| {
        let waiter = Waiter::thread(Kind::Write, WAITING);
        if !s.lock.arrive(&waiter) {
            assert!(s.lock.wait_granted(&waiter, None));
        }
        s.bump();
        // SAFETY: admitted or granted just above.
        unsafe { s.lock.unlock_exclusive() };
    });
}

/// An async writer (`RawAcquire::write`, polled by `block_on`) racing a
/// biased reader: its first poll revokes (`try_lock_exclusive`), then it
/// queues behind the counted-in reader and is woken by its release.
fn async_writer_vs_biased_reader<P: Policy>() {
    biased_reader_vs_writer::<P>(|s| {
        let mut acquire = crate::RawAcquire::write(&s.lock);
        loom::future::block_on(core::future::poll_fn(|cx| acquire.poll(cx)));
        s.bump();
        // SAFETY: the acquisition completed: the write lock is held.
        unsafe { s.lock.unlock_exclusive() };
    });
}

/// An upgrade from a published read: the reader counts itself in
/// (`count_in`) and tries to upgrade, which revokes the bias and so finds
/// any other published reader. It must succeed only when it is the only
/// reader (loom's data-race check: the upgraded write against the other
/// reader's read).
fn upgrade_from_published_read<P: Policy>() {
    let paths = Paths::new();
    model(2, 0, move || {
        let s = Shared::<P>::biased();
        let up = actor(&s, move |s| {
            let token = s.lock.lock_read();
            paths.record(token);
            let seen = s.read();
            // SAFETY: the read lock `token` stands for is held.
            unsafe { s.lock.count_in(token) };
            // SAFETY: a read lock is held (counted now).
            if unsafe { s.lock.try_upgrade() } {
                assert_eq!(s.read(), seen, "a writer got in during the upgrade");
                s.bump();
                // SAFETY: the upgrade left the write lock held.
                unsafe { s.lock.unlock_exclusive() };
                true
            } else {
                // SAFETY: the counted read lock is still held.
                unsafe { s.lock.unlock_shared() };
                false
            }
        });
        let r = actor(&s, move |s| s.read_biased(paths));
        let upgraded = up.join().unwrap();
        assert!(r.join().unwrap() <= 1);
        assert_eq!(s.read(), upgraded as usize);
        let snap = s.lock.state_snapshot();
        assert!(!s.lock.is_locked(), "{snap:?}");
        assert_eq!(s.lock.published_readers(), 0);
        assert_eq!(readers(s.state()), 0);
    });
    paths.assert_explored(true);
}

macro_rules! loom_bias {
    ($($model:ident => $($name:ident: $policy:ty),*;)*) => {$($(
        #[test]
        fn $name() {
            $model::<$policy>();
        }
    )*)*};
}

loom_bias! {
    publish_vs_revoke =>
        loom_bias_publish_vs_revoke_phase_fair: ReadBiased<PhaseFair>,
        loom_bias_publish_vs_revoke_reader_preferring: ReadBiased<ReaderPreferring>,
        loom_bias_publish_vs_revoke_writer_preferring: ReadBiased<WriterPreferring>,
        loom_bias_publish_vs_revoke_strict_phase_fair: ReadBiased<Strict<PhaseFair>>,
        loom_bias_publish_vs_revoke_strict_reader_preferring: ReadBiased<Strict<ReaderPreferring>>;
    two_readers_vs_revoke =>
        loom_bias_two_readers_vs_revoke_phase_fair: ReadBiased<PhaseFair>,
        loom_bias_two_readers_vs_revoke_strict_reader_preferring: ReadBiased<Strict<ReaderPreferring>>;
    two_writers_vs_biased_reader =>
        loom_bias_two_writers_vs_biased_reader_phase_fair: ReadBiased<PhaseFair>,
        loom_bias_two_writers_vs_biased_reader_strict_writer_preferring: ReadBiased<Strict<WriterPreferring>>;
    release_on_another_thread =>
        loom_bias_release_on_another_thread_phase_fair: ReadBiased<PhaseFair>,
        loom_bias_release_on_another_thread_strict_reader_preferring: ReadBiased<Strict<ReaderPreferring>>;
    inhibit_window =>
        loom_bias_inhibit_window_phase_fair: ReadBiased<PhaseFair>,
        loom_bias_inhibit_window_strict_reader_preferring: ReadBiased<Strict<ReaderPreferring>>;
    no_re_enable_during_revocation =>
        loom_bias_no_re_enable_during_revocation_phase_fair: ReadBiased<PhaseFair>,
        loom_bias_no_re_enable_during_revocation_strict_reader_preferring: ReadBiased<Strict<ReaderPreferring>>;
    enable_vs_queued_writer =>
        loom_bias_enable_vs_queued_writer_phase_fair: ReadBiased<PhaseFair>,
        loom_bias_enable_vs_queued_writer_strict_writer_preferring: ReadBiased<Strict<WriterPreferring>>;
    queued_writer_vs_biased_reader =>
        loom_bias_queued_writer_vs_biased_reader_phase_fair: ReadBiased<PhaseFair>,
        loom_bias_queued_writer_vs_biased_reader_strict_reader_preferring: ReadBiased<Strict<ReaderPreferring>>;
    async_writer_vs_biased_reader =>
        loom_bias_async_writer_vs_biased_reader_phase_fair: ReadBiased<PhaseFair>;
    upgrade_from_published_read =>
        loom_bias_upgrade_from_published_read_phase_fair: ReadBiased<PhaseFair>,
        loom_bias_upgrade_from_published_read_strict_reader_preferring: ReadBiased<Strict<ReaderPreferring>>;
}

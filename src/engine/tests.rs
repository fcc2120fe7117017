use super::*;
use crate::policy::{Exclusive, ReaderPreferring, Strict, WriterPreferring};

#[test]
fn sizes() {
    assert!(core::mem::size_of::<RawRwLock>() <= 16);
}

#[test]
fn plan_table() {
    use Cause::*;
    use Grant::*;
    use PolicyKind::*;
    let free = 0;
    let read = READER;
    // writer releases, both kinds waiting
    assert_eq!(plan(ReaderPreferring, free, 2, 1, WriterReleased), Readers);
    assert_eq!(plan(WriterPreferring, free, 2, 1, WriterReleased), FirstWriter);
    assert_eq!(plan(PhaseFair, free, 2, 1, WriterReleased), Readers);
    assert_eq!(plan(Exclusive, free, 2, 1, WriterReleased), Front);
    // last reader releases, writers waiting
    // (readers queue under ReaderPreferring only while a writer holds)
    for k in [ReaderPreferring, WriterPreferring, PhaseFair] {
        assert_eq!(plan(k, free, 0, 1, ReaderReleased), FirstWriter, "{k:?}");
    }
    for k in [WriterPreferring, PhaseFair] {
        assert_eq!(plan(k, free, 1, 1, ReaderReleased), FirstWriter, "{k:?}");
    }
    // readers holding, a writer waiting: readers behind it stay queued
    assert_eq!(plan(WriterPreferring, read, 1, 1, WaiterLeft), Nobody);
    assert_eq!(plan(PhaseFair, read, 1, 1, WaiterLeft), Nobody);
    // ...until the writer leaves
    assert_eq!(plan(WriterPreferring, read, 1, 0, WaiterLeft), Readers);
    assert_eq!(plan(PhaseFair, read, 1, 0, WaiterLeft), Readers);
    // downgrade
    assert_eq!(plan(ReaderPreferring, read, 1, 1, Downgraded), Readers);
    assert_eq!(plan(PhaseFair, read, 1, 1, Downgraded), Readers);
    assert_eq!(plan(WriterPreferring, read, 1, 1, Downgraded), Nobody);
    assert_eq!(plan(WriterPreferring, read, 1, 0, Downgraded), Readers);
    // a writer holds: nobody
    for k in [ReaderPreferring, WriterPreferring, PhaseFair, Exclusive] {
        assert_eq!(plan(k, WRITER, 3, 3, WaiterLeft), Nobody);
    }
}

#[test]
fn fast_paths() {
    let l = RawRwLock::<PhaseFair>::new();
    assert!(l.try_lock_shared());
    assert!(l.try_lock_shared());
    assert!(!l.try_lock_exclusive());
    unsafe { l.unlock_shared() };
    unsafe { l.unlock_shared() };
    assert!(l.try_lock_exclusive());
    assert!(!l.try_lock_shared());
    unsafe { l.downgrade() };
    assert!(l.try_lock_shared());
    unsafe { l.unlock_shared() };
    unsafe { l.unlock_shared() };
    assert!(!l.is_locked());
}

#[test]
fn exclusive_read_is_exclusive() {
    let l = RawRwLock::<Exclusive>::new();
    assert!(l.try_lock_shared());
    assert!(l.is_locked_exclusive());
    assert!(!l.try_lock_shared());
    unsafe { l.downgrade() };
    assert!(l.is_locked_exclusive());
    unsafe { l.unlock_shared() };
    assert!(!l.is_locked());
}

#[test]
fn reader_overflow_panics_and_leaves_lock_usable() {
    fn check<P: Policy>() {
        let l = RawRwLock::<P>::new();
        for _ in 0..MAX_READERS {
            assert!(l.try_lock_shared());
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| l.lock_shared()));
        let msg = *r.unwrap_err().downcast::<String>().unwrap();
        assert!(msg.contains("reader count overflow"), "{msg}");
        for _ in 0..MAX_READERS {
            unsafe { l.unlock_shared() };
        }
        assert!(!l.is_locked());
        assert!(l.try_lock_exclusive());
    }
    check::<PhaseFair>();
    check::<ReaderPreferring>();
    check::<WriterPreferring>();
}

/// Many threads (more than this machine's cores) hammer one lock, so that
/// waiters queue several deep and spin for their grants (unit tests let 8
/// waiters spin, see `spinners`), some of them with deadlines: every
/// acquisition is exclusive, every increment is counted, nothing is left
/// queued, and no waiter is lost (the test would hang).
#[test]
fn deep_queue_spinners_hand_off_exactly() {
    use std::sync::atomic::AtomicU64;
    fn run<P: Policy>() {
        const THREADS: u64 = 6;
        const OPS: u64 = 2000;
        let lock = RawRwLock::<P>::new();
        let inside = AtomicU32::new(0);
        let (count, timed_out) = (AtomicU64::new(0), AtomicU64::new(0));
        let start = std::sync::Barrier::new(THREADS as usize);
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (lock, inside, count, timed_out, start) = (&lock, &inside, &count, &timed_out, &start);
                s.spawn(move || {
                    start.wait();
                    for i in 0..OPS {
                        let held = if (t + i) % 3 == 0 {
                            lock.try_lock_exclusive_for(Duration::from_micros(i % 50))
                        } else {
                            lock.lock_exclusive();
                            true
                        };
                        if !held {
                            timed_out.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        assert_eq!(inside.fetch_add(1, Ordering::Relaxed), 0, "two holders at once");
                        count.fetch_add(1, Ordering::Relaxed);
                        // A short critical section, so that the queue grows.
                        for _ in 0..64 {
                            core::hint::spin_loop();
                        }
                        inside.fetch_sub(1, Ordering::Relaxed);
                        // SAFETY: held exclusively just above.
                        unsafe { lock.unlock_exclusive() };
                    }
                });
            }
        });
        let done = count.load(Ordering::Relaxed) + timed_out.load(Ordering::Relaxed);
        assert_eq!(done, THREADS * OPS);
        let snap = lock.state_snapshot();
        assert_eq!((snap.readers, snap.writer, snap.queued_readers, snap.queued_writers), (0, false, 0, 0));
        assert!(lock.try_lock_exclusive(), "lock not free at the end");
    }
    run::<Strict<Exclusive>>();
    run::<Strict<PhaseFair>>();
    run::<Strict<WriterPreferring>>();
    run::<Exclusive>();
    run::<PhaseFair>();
    run::<WriterPreferring>();
}

/// A release grants the front waiter and wakes the next parked waiters
/// (at most `PREWAKE_PER_GRANT`) ahead of their grants, once each: the wake
/// list of the transition names exactly them, and a waiter already woken
/// is not woken again.
#[test]
fn release_wakes_parked_waiters_near_the_front() {
    use std::sync::atomic::AtomicBool;
    use std::time::Instant;
    const WAITERS: usize = 4;
    let lock = RawRwLock::<Strict<Exclusive>>::new();
    lock.lock_exclusive();
    let gate = AtomicBool::new(false);
    // (Checked after the scope: a failed check inside it would leave the
    // waiters blocked and the test hanging instead of failing.)
    let (queued, woken, woken_again) = std::thread::scope(|s| {
        for _ in 0..WAITERS {
            let (lock, gate) = (&lock, &gate);
            s.spawn(move || {
                lock.lock_exclusive();
                while !gate.load(Ordering::Acquire) {
                    std::thread::yield_now();
                }
                // SAFETY: taken just above.
                unsafe { lock.unlock_exclusive() };
            });
        }
        // Wait until all are queued and parked (their spins are bounded).
        let deadline = Instant::now() + Duration::from_secs(20);
        let queued: Option<Vec<Arc<Waiter>>> = loop {
            let parked = lock.with_queue(|q| {
                (q.len() == WAITERS && q.front(WAITERS).all(|w| !w.is_awake()))
                    .then(|| q.front(WAITERS).cloned().collect())
            });
            if parked.is_some() || Instant::now() >= deadline {
                break parked;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        // The release, done by hand to see whom it wakes.
        let wake = lock.with_queue(|q| lock.transition(q, WRITER, 0, Cause::WriterReleased, None));
        let woken: Vec<(Arc<Waiter>, bool, bool)> =
            wake.iter().map(|w| (w.clone(), w.is_granted(), w.is_awake())).collect();
        // Nothing new to wake while the new holder keeps the lock, but the
        // waiter beyond the budget.
        let mut again = WakeList::new();
        lock.with_queue(|q| RawRwLock::<Strict<Exclusive>>::prewake(q, &mut again));
        waiter::wake_all(wake);
        waiter::wake_all(again.clone());
        gate.store(true, Ordering::Release);
        (queued, woken, again)
    });
    let queued = queued.expect("the waiters did not queue and park");
    assert_eq!(woken.len(), 1 + PREWAKE_PER_GRANT, "one grant and the early wake-ups");
    for (i, (w, granted, awake)) in woken.iter().enumerate() {
        assert!(Arc::ptr_eq(w, &queued[i]), "wake-up {i} is not the waiter at position {i}");
        assert_eq!(*granted, i == 0, "only the front waiter is granted");
        assert!(i == 0 || *awake, "an early wake-up is not marked awake");
    }
    assert_eq!(woken_again.len(), 1);
    assert!(Arc::ptr_eq(&woken_again[0], &queued[WAITERS - 1]), "a waiter was woken twice");
    assert!(!lock.is_locked());
    assert_eq!(lock.state_snapshot().queued_writers, 0);
}

/// `plan` against the policy table (docs/SEMANTICS.md §2) restated here row
/// by row, for every policy × lock state × queue shape × cause.
#[test]
fn plan_matches_the_policy_table_exhaustively() {
    use Cause::*;
    use Grant::*;
    use PolicyKind::*;
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Held {
        Free,
        Readers,
        Writer,
    }
    /// The table, written from its rows rather than from `plan`'s code.
    fn table(kind: PolicyKind, held: Held, r: usize, w: usize, cause: Cause) -> Grant {
        match (held, r > 0, w > 0) {
            // Nothing to admit, or a writer holds: nobody.
            (_, false, false) | (Held::Writer, _, _) => Nobody,
            // Readers hold: only readers may join, and only per policy.
            (Held::Readers, false, _) => Nobody,
            (Held::Readers, true, writers_wait) => match kind {
                Exclusive => Nobody,
                ReaderPreferring => Readers,
                WriterPreferring if writers_wait => Nobody,
                // A downgrading writer's phase takes the readers waiting.
                PhaseFair if writers_wait && cause != Downgraded => Nobody,
                _ => Readers,
            },
            // The lock is free.
            (Held::Free, readers_wait, writers_wait) => match kind {
                Exclusive => Front,
                ReaderPreferring if readers_wait => Readers,
                WriterPreferring if writers_wait => FirstWriter,
                PhaseFair if readers_wait && (cause == WriterReleased || !writers_wait) => Readers,
                _ if writers_wait => FirstWriter,
                _ => Readers,
            },
        }
    }
    let mut cases = 0;
    for kind in [ReaderPreferring, WriterPreferring, PhaseFair, Exclusive] {
        for (held, s) in [(Held::Free, 0), (Held::Readers, READER), (Held::Readers, 3 * READER), (Held::Writer, WRITER)]
        {
            for s in [s, s | QUEUED] {
                for r in 0..3 {
                    for w in 0..3 {
                        for cause in [ReaderReleased, WriterReleased, Downgraded, WaiterLeft] {
                            assert_eq!(
                                plan(kind, s, r, w, cause),
                                table(kind, held, r, w, cause),
                                "{kind:?}, {held:?} (state {s:#x}), {r} readers and {w} writers queued, {cause:?}"
                            );
                            cases += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(cases, 4 * 4 * 2 * 9 * 4);
}

/// `admits` (every arrival's rule) against the class rule restated: per
/// policy × who × lock state × queue view × exact or barging.
#[test]
fn arrival_rule_exhaustively() {
    use PolicyKind::*;
    for kind in [ReaderPreferring, WriterPreferring, PhaseFair, Exclusive] {
        for who in [Kind::Read, Kind::Write] {
            for s in [0, READER, 2 * READER, WRITER] {
                for (empty, writers) in [(true, false), (false, false), (false, true)] {
                    for exact in [false, true] {
                        let free = s == 0;
                        let writer_holds = s & WRITER != 0;
                        let expected = if kind == Exclusive || who == Kind::Write {
                            // A writer enters only a free lock; under exact
                            // hand-off only with nobody queued.
                            free && (empty || !exact)
                        } else if kind == ReaderPreferring {
                            !writer_holds
                        } else {
                            !writer_holds && !writers
                        };
                        let q = QueueView { empty, writers };
                        assert_eq!(
                            admits(kind, who, s, q, exact),
                            expected,
                            "{kind:?} {who:?} state {s:#x} {q:?} exact {exact}"
                        );
                    }
                }
            }
        }
    }
}

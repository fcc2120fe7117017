//! The default hand-off mode, bounded barging (docs/SEMANTICS.md §2a),
//! against `Strict<P>`.
//!
//! * Deterministic polls: a release *wakes* a queued waiter without handing
//!   it the lock, an arrival may take the free lock first (in the default
//!   mode only), and the woken waiter then keeps its place and gets in at
//!   the next release.
//! * A woken waiter that gives up passes its wake-up on.
//! * Past the starvation bound the release hands the lock over directly and
//!   `try_*` fail, exactly as under `Strict<P>`.
//! * Threads ≫ cores and tasks on a small runtime: exclusion, exact counts,
//!   nothing left queued, with a watchdog.
//! * A queued thread gets in within a generous multiple of the bound while
//!   another thread hammers the lock (the exact figure is in the benchmark
//!   report).

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use common::{within, Polled, Rng, Watchdog};
use rwlocker::engine::STARVATION_BOUND;
use rwlocker::{AsyncRwLock, Exclusive, PhaseFair, Policy, ReaderPreferring, RwLock, Strict, WriterPreferring};

/// A queued writer is woken by the release, not granted: the free lock goes
/// to whoever comes first. Under `Strict<P>` the release grants it and
/// `try_write` fails.
fn release_wakes_instead_of_granting<P: Policy>(strict: bool) {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let holder = lock.try_write().unwrap();
    let mut queued = Polled::new(Box::pin(lock.write()));
    assert!(queued.poll().is_pending());
    drop(holder);
    assert!(queued.is_woken(), "the release must wake the queued writer");
    if strict {
        assert!(lock.is_locked_exclusive(), "Strict<P>: the release hands the lock over");
        assert!(lock.try_write().is_none(), "Strict<P>: try_write never overtakes");
        let Poll::Ready(mut g) = queued.poll() else { panic!("granted writer not ready") };
        *g += 1;
    } else {
        assert!(!lock.is_locked(), "default mode: the release frees the lock");
        // An arrival takes the free lock ahead of the woken writer…
        let mut barger = lock.try_write().expect("default mode: an arrival may take a free lock");
        *barger += 1;
        // …which then finds it taken and keeps its place,
        assert!(queued.poll().is_pending());
        assert_eq!(lock.raw().state_snapshot().queued_writers, 1, "the woken writer keeps its place");
        // and is woken again by the next release.
        drop(barger);
        assert!(queued.is_woken());
        let Poll::Ready(mut g) = queued.poll() else { panic!("woken writer not admitted on a free lock") };
        *g += 1;
    }
    assert_eq!(lock.raw().state_snapshot().queued_writers, 0);
}

#[test]
fn release_wakes_instead_of_granting_default_mode() {
    release_wakes_instead_of_granting::<PhaseFair>(false);
    release_wakes_instead_of_granting::<WriterPreferring>(false);
    release_wakes_instead_of_granting::<ReaderPreferring>(false);
    release_wakes_instead_of_granting::<Exclusive>(false);
}

#[test]
fn release_grants_under_strict() {
    release_wakes_instead_of_granting::<Strict<PhaseFair>>(true);
    release_wakes_instead_of_granting::<Strict<WriterPreferring>>(true);
    release_wakes_instead_of_granting::<Strict<ReaderPreferring>>(true);
    release_wakes_instead_of_granting::<Strict<Exclusive>>(true);
}

/// A woken writer that is cancelled before it runs passes its wake-up on to
/// the next waiter: nobody is left queued on a free lock.
fn woken_then_cancelled_passes_it_on<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let holder = lock.try_write().unwrap();
    let mut first = Polled::new(Box::pin(lock.write()));
    let mut second = Polled::new(Box::pin(lock.write()));
    assert!(first.poll().is_pending());
    assert!(second.poll().is_pending());
    drop(holder);
    assert!(first.is_woken());
    assert!(!second.is_woken(), "one wake-up per release (no herd)");
    drop(first); // woken, not granted, gives up
    assert!(second.is_woken(), "the cancelled waiter's wake-up must pass on");
    assert!(matches!(second.poll(), Poll::Ready(_)));
}

#[test]
fn woken_then_cancelled_passes_it_on_every_policy() {
    woken_then_cancelled_passes_it_on::<PhaseFair>();
    woken_then_cancelled_passes_it_on::<WriterPreferring>();
    woken_then_cancelled_passes_it_on::<ReaderPreferring>();
    woken_then_cancelled_passes_it_on::<Exclusive>();
}

/// A woken thread that times out passes its wake-up on too (threads, with
/// real parking): a second thread queued behind it still gets the lock.
#[test]
fn woken_thread_timing_out_passes_it_on() {
    within("woken_thread_timing_out_passes_it_on", Duration::from_secs(20), || {
        for _ in 0..20 {
            let lock = Arc::new(RwLock::<u32, Exclusive>::new(0));
            let g = lock.write();
            let timed = {
                let lock = lock.clone();
                thread::spawn(move || lock.try_write_for(Duration::from_millis(2)).map(|mut g| *g += 1).is_some())
            };
            while lock.raw().state_snapshot().queued_writers < 1 && !timed.is_finished() {
                thread::yield_now();
            }
            let patient = {
                let lock = lock.clone();
                thread::spawn(move || *lock.write() += 1)
            };
            while lock.raw().state_snapshot().queued_writers < 2 && !timed.is_finished() {
                thread::yield_now();
            }
            // Release about when the timed writer gives up.
            thread::sleep(Duration::from_millis(2));
            drop(g);
            let got = timed.join().unwrap();
            patient.join().unwrap();
            assert_eq!(*lock.read(), 1 + u32::from(got));
            assert!(!lock.is_locked());
        }
    });
}

/// Past the bound the default mode behaves as `Strict<P>`: the release
/// hands the lock directly to the waiter that waited too long, and `try_*`
/// fail meanwhile.
fn past_the_bound_hands_off<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let holder = lock.try_write().unwrap();
    let mut queued = Polled::new(Box::pin(lock.write()));
    assert!(queued.poll().is_pending());
    thread::sleep(STARVATION_BOUND * 3);
    // Even before the release, an arrival must not jump the aged waiter.
    drop(holder);
    assert!(queued.is_woken());
    assert!(lock.is_locked_exclusive(), "past the bound, the release hands the lock over");
    assert!(lock.try_write().is_none(), "past the bound, try_write must not overtake");
    assert!(lock.try_read().is_none());
    let Poll::Ready(g) = queued.poll() else { panic!("granted writer not ready") };
    drop(g);
    // Once it is in (and nobody else is old), barging resumes.
    assert!(lock.try_write().is_some());
}

#[test]
fn past_the_bound_hands_off_every_policy() {
    past_the_bound_hands_off::<PhaseFair>();
    past_the_bound_hands_off::<WriterPreferring>();
    past_the_bound_hands_off::<ReaderPreferring>();
    past_the_bound_hands_off::<Exclusive>();
}

/// The class rule holds in the default mode too: under `PhaseFair` and
/// `WriterPreferring` no reader enters while a writer waits.
fn class_rule_holds<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let reader = lock.try_read().unwrap();
    let mut writer = Polled::new(Box::pin(lock.write()));
    assert!(writer.poll().is_pending());
    assert!(lock.try_read().is_none(), "a reader entered while a writer waits");
    let mut late = Polled::new(Box::pin(lock.read()));
    assert!(late.poll().is_pending());
    drop(reader);
    let Poll::Ready(w) = writer.poll() else { panic!("writer not admitted after the readers left") };
    drop(w);
    assert!(matches!(late.poll(), Poll::Ready(_)));
}

#[test]
fn class_rule_holds_writer_preferring_and_phase_fair() {
    class_rule_holds::<PhaseFair>();
    class_rule_holds::<WriterPreferring>();
}

/// Many more threads than cores hammer one lock with reads and writes in
/// the default mode: every write is counted, readers never see a writer
/// inside, nothing is left queued, and the watchdog sees steady progress.
fn oversubscribed_threads<P: Policy>(name: &str)
where
    P::Shared<u64>: Sync,
{
    let cores = thread::available_parallelism().map_or(2, |n| n.get());
    let threads = (cores * 8).max(16);
    let lock = Arc::new(RwLock::<u64, P>::new(0));
    let inside = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_millis(400);
    let watchdog = {
        let lock = lock.clone();
        Watchdog::start(name, progress.clone(), move || format!("{:?}", lock.raw()))
    };
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (lock, inside, progress) = (lock.clone(), inside.clone(), progress.clone());
            thread::spawn(move || {
                let mut rng = Rng::new(t as u64 + 7);
                let mut writes = 0u64;
                while Instant::now() < deadline {
                    match rng.below(10) {
                        0..=3 => {
                            let mut g = lock.write();
                            assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two writers inside");
                            *g += 1;
                            inside.fetch_sub(1, Ordering::SeqCst);
                            writes += 1;
                        }
                        4 => {
                            if let Some(mut g) = lock.try_write_for(Duration::from_micros(rng.below(300))) {
                                *g += 1;
                                writes += 1;
                            }
                        }
                        _ => {
                            let g = lock.read();
                            if P::KIND != rwlocker::PolicyKind::Exclusive {
                                assert_eq!(inside.load(Ordering::SeqCst), 0, "a reader beside a writer");
                            }
                            std::hint::black_box(*g);
                        }
                    }
                    progress.fetch_add(1, Ordering::Relaxed);
                }
                writes
            })
        })
        .collect();
    let writes: u64 = watchdog.join(workers).into_iter().sum();
    assert_eq!(*lock.read(), writes, "lost or doubled writes");
    let snap = lock.raw().state_snapshot();
    assert_eq!((snap.readers, snap.writer, snap.queued_readers, snap.queued_writers), (0, false, 0, 0), "{snap:?}");
}

#[test]
fn oversubscribed_threads_phase_fair() {
    oversubscribed_threads::<PhaseFair>("barging-pf");
}

#[test]
fn oversubscribed_threads_writer_preferring() {
    oversubscribed_threads::<WriterPreferring>("barging-wp");
}

#[test]
fn oversubscribed_threads_reader_preferring() {
    oversubscribed_threads::<ReaderPreferring>("barging-rp");
}

#[test]
fn oversubscribed_threads_mutex() {
    oversubscribed_threads::<Exclusive>("barging-mutex");
}

/// 64 tasks write one lock on a 2-worker runtime, some of them cancelled
/// by timeouts: exact count, nothing left queued.
fn many_tasks<P: Policy>()
where
    P::Shared<u64>: Sync,
{
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap();
    let lock = Arc::new(AsyncRwLock::<u64, P>::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let writes: u64 = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_millis(300);
        let tasks: Vec<_> = (0..64u64)
            .map(|t| {
                let lock = lock.clone();
                tokio::spawn(async move {
                    let mut writes = 0u64;
                    let mut i = 0u64;
                    while Instant::now() < deadline {
                        i += 1;
                        if (t + i) % 7 == 0 {
                            if let Ok(mut g) = tokio::time::timeout(Duration::from_micros(50), lock.write()).await {
                                *g += 1;
                                writes += 1;
                            }
                        } else {
                            *lock.write().await += 1;
                            writes += 1;
                        }
                        if i % 16 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                    writes
                })
            })
            .collect();
        let mut sum = 0;
        for t in tasks {
            sum += t.await.unwrap();
        }
        sum
    });
    done.store(true, Ordering::SeqCst);
    assert_eq!(*lock.try_read().unwrap(), writes);
    let snap = lock.raw().state_snapshot();
    assert_eq!((snap.queued_readers, snap.queued_writers), (0, 0));
}

#[test]
fn many_tasks_on_two_workers() {
    within("many_tasks_on_two_workers", Duration::from_secs(30), || {
        many_tasks::<PhaseFair>();
        many_tasks::<Exclusive>();
        many_tasks::<WriterPreferring>();
    });
}

/// The bound, loosely: one thread hammers the lock (release and take it
/// again at once), and a queued thread must still get in within a generous
/// multiple of the bound. (Without the bound the hammering thread could keep
/// the lock for as long as it runs.)
#[test]
fn queued_thread_gets_in_while_another_hammers() {
    within("queued_thread_gets_in_while_another_hammers", Duration::from_secs(30), || {
        let lock = Arc::new(RwLock::<u64, Exclusive>::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let hammer = {
            let (lock, stop) = (lock.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut g = lock.write();
                    for _ in 0..50 {
                        std::hint::spin_loop();
                    }
                    *g += 1;
                }
            })
        };
        while *lock.read() < 1000 {
            thread::yield_now();
        }
        let mut worst = Duration::ZERO;
        for _ in 0..20 {
            let start = Instant::now();
            *lock.write() += 1;
            worst = worst.max(start.elapsed());
        }
        stop.store(true, Ordering::Relaxed);
        hammer.join().unwrap();
        // Measured exactly in the benchmark report; here only far beyond
        // the bound would mean it is not enforced.
        assert!(worst < Duration::from_millis(250), "a queued thread waited {worst:?} (bound {STARVATION_BOUND:?})");
    });
}

//! Fairness under a flood (docs/SEMANTICS.md §2 "PhaseFair bound").
//!
//! Two kinds of assertion, both chosen so that a loaded 2-core machine
//! cannot make them flaky:
//!
//! * **Structural** (exact, independent of timing): the policy's admission
//!   rule observed through the engine's state. Under a reader flood, a
//!   reader that *saw a writer queued* before it asked must not get in
//!   before that writer has (`WriterPreferring`, `PhaseFair`). Under a writer
//!   flood, when a writer *sees readers queued* as it leaves, those readers
//!   must get in before the next writer does (`PhaseFair`, and
//!   `ReaderPreferring`, whose releasing writer admits every waiting reader).
//! * **Generous rates**: under the reader flood a `WriterPreferring` or
//!   `PhaseFair` writer completes at least 50 writes in one second (it asks
//!   about every millisecond; a fair lock lets it in within microseconds);
//!   under the writer flood (write sections of about 1 ms) a `PhaseFair`
//!   reader's longest wait stays under 200 ms (it is about one write
//!   section) and it gets in many times.
//!
//! `ReaderPreferring` can starve writers, as its docs say: under the reader
//! flood only reader progress is asserted, and the writes it let through
//! are printed, not checked. `WriterPreferring` can starve readers: under
//! the writer flood its reader is only required to get in once the flood
//! ends.
//!
//! The tests run one at a time (a shared mutex): they measure.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex as StdMutex};
use std::thread;
use std::time::{Duration, Instant};

use rwlocker::{Policy, PolicyKind, RwLock};

// Exact-order tests: they run against the strict hand-off mode
// (`Strict<P>`, docs/SEMANTICS.md §2a), whose order is the policy table.
type PhaseFair = rwlocker::Strict<rwlocker::PhaseFair>;
type ReaderPreferring = rwlocker::Strict<rwlocker::ReaderPreferring>;
type WriterPreferring = rwlocker::Strict<rwlocker::WriterPreferring>;

const FLOOD: Duration = Duration::from_secs(1);

/// Serialises the tests of this file: each measures a flood.
static SERIAL: StdMutex<()> = StdMutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn busy(n: u64) {
    for i in 0..n {
        std::hint::black_box(i);
    }
}

struct Counters {
    /// Writers that have entered their critical section.
    writes_entered: AtomicU64,
    /// Readers that have entered their critical section.
    reads_entered: AtomicU64,
    /// How often a structural check had something to check.
    checks: AtomicU64,
    stop: AtomicBool,
}

impl Counters {
    fn new() -> Arc<Self> {
        Arc::new(Counters {
            writes_entered: AtomicU64::new(0),
            reads_entered: AtomicU64::new(0),
            checks: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        })
    }
}

struct ReaderFlood {
    writes: u64,
    reads: u64,
    max_writer_wait: Duration,
}

/// Two reader threads hold overlapping short read sections back to back;
/// one writer asks for the lock about every millisecond.
fn reader_flood<P: Policy>() -> ReaderFlood
where
    RwLock<(), P>: Sync,
{
    let lock = Arc::new(RwLock::<(), P>::new(()));
    let c = Counters::new();
    let start = Instant::now();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (lock, c) = (lock.clone(), c.clone());
            thread::spawn(move || {
                let mut reads = 0u64;
                while !c.stop.load(SeqCst) {
                    // Structural check: a writer queued before this reader
                    // arrived must enter first (WriterPreferring, PhaseFair).
                    let w0 = c.writes_entered.load(SeqCst);
                    let writer_waiting = lock.raw().state_snapshot().queued_writers > 0;
                    let g = lock.read();
                    c.reads_entered.fetch_add(1, SeqCst);
                    if writer_waiting && P::KIND != PolicyKind::ReaderPreferring {
                        c.checks.fetch_add(1, SeqCst);
                        assert!(
                            c.writes_entered.load(SeqCst) > w0,
                            "{:?}: a reader overtook a writer that was already queued",
                            P::KIND
                        );
                    }
                    busy(2_000);
                    drop(g);
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let writer = {
        let (lock, c) = (lock.clone(), c.clone());
        thread::spawn(move || {
            let mut writes = 0u64;
            let mut max_wait = Duration::ZERO;
            while start.elapsed() < FLOOD {
                let t = Instant::now();
                let g = lock.write();
                max_wait = max_wait.max(t.elapsed());
                c.writes_entered.fetch_add(1, SeqCst);
                busy(200);
                drop(g);
                writes += 1;
                thread::sleep(Duration::from_millis(1));
            }
            (writes, max_wait)
        })
    };
    // The writer stops asking once the flood time is over (under
    // ReaderPreferring its last request may wait for the readers to stop).
    while start.elapsed() < FLOOD {
        thread::sleep(Duration::from_millis(10));
    }
    c.stop.store(true, SeqCst);
    let reads = readers.into_iter().map(|h| h.join().unwrap()).sum();
    let (writes, max_writer_wait) = writer.join().unwrap();
    assert!(!lock.is_locked());
    eprintln!(
        "{:?} reader flood: {writes} writes (max writer wait {max_writer_wait:?}), {reads} reads, {} ordering checks",
        P::KIND,
        c.checks.load(SeqCst)
    );
    ReaderFlood { writes, reads, max_writer_wait }
}

#[test]
fn writer_preferring_writer_gets_in_under_reader_flood() {
    let _s = serial();
    let r = reader_flood::<WriterPreferring>();
    assert!(r.writes >= 50, "only {} writes in {FLOOD:?} under a reader flood", r.writes);
    assert!(r.reads > 0);
}

#[test]
fn phase_fair_writer_gets_in_under_reader_flood() {
    let _s = serial();
    let r = reader_flood::<PhaseFair>();
    assert!(r.writes >= 50, "only {} writes in {FLOOD:?} under a reader flood", r.writes);
    assert!(r.reads > 0);
}

/// `ReaderPreferring` lets readers in whenever no writer holds the lock, so
/// overlapping readers can starve a writer for as long as they keep coming
/// (documented on the policy). Only reader progress is asserted; the writes
/// that got through are printed for the record.
#[test]
fn reader_preferring_readers_progress_under_reader_flood() {
    let _s = serial();
    let r = reader_flood::<ReaderPreferring>();
    assert!(r.reads >= 100, "readers made almost no progress: {}", r.reads);
    let _ = r.max_writer_wait;
}

struct WriterFlood {
    reads: u64,
    max_reader_wait: Duration,
    writes: u64,
}

/// Two writer threads hold the write lock for about 1 ms each, back to
/// back; one reader asks for the lock about every millisecond.
fn writer_flood<P: Policy>() -> WriterFlood
where
    RwLock<(), P>: Sync,
{
    let lock = Arc::new(RwLock::<(), P>::new(()));
    let c = Counters::new();
    // Set by a writer leaving with readers queued: the reads count it saw.
    let pending_reads: Arc<StdMutex<Option<u64>>> = Arc::new(StdMutex::new(None));
    let start = Instant::now();
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (lock, c, pending_reads) = (lock.clone(), c.clone(), pending_reads.clone());
            thread::spawn(move || {
                let mut writes = 0u64;
                while start.elapsed() < FLOOD {
                    let g = lock.write();
                    c.writes_entered.fetch_add(1, SeqCst);
                    // Structural check: readers that were queued when the
                    // previous writer left have entered before this writer.
                    if let Some(seen) = pending_reads.lock().unwrap().take() {
                        if P::KIND != PolicyKind::WriterPreferring {
                            c.checks.fetch_add(1, SeqCst);
                            assert!(
                                c.reads_entered.load(SeqCst) > seen,
                                "{:?}: a writer overtook readers queued behind the previous writer",
                                P::KIND
                            );
                        }
                    }
                    thread::sleep(Duration::from_millis(1));
                    if lock.raw().state_snapshot().queued_readers > 0 {
                        *pending_reads.lock().unwrap() = Some(c.reads_entered.load(SeqCst));
                    }
                    drop(g);
                    writes += 1;
                }
                writes
            })
        })
        .collect();
    let reader = {
        let (lock, c) = (lock.clone(), c.clone());
        thread::spawn(move || {
            let mut reads = 0u64;
            let mut max_wait = Duration::ZERO;
            while start.elapsed() < FLOOD {
                let t = Instant::now();
                let g = lock.read();
                max_wait = max_wait.max(t.elapsed());
                c.reads_entered.fetch_add(1, SeqCst);
                busy(200);
                drop(g);
                reads += 1;
                thread::sleep(Duration::from_millis(1));
            }
            (reads, max_wait)
        })
    };
    let writes = writers.into_iter().map(|h| h.join().unwrap()).sum();
    let (reads, max_reader_wait) = reader.join().unwrap();
    assert!(!lock.is_locked());
    eprintln!(
        "{:?} writer flood: {reads} reads (max reader wait {max_reader_wait:?}), {writes} writes, {} ordering checks",
        P::KIND,
        c.checks.load(SeqCst)
    );
    WriterFlood { reads, max_reader_wait, writes }
}

/// docs/SEMANTICS.md §2: a `PhaseFair` reader waits for at most one writer's critical
/// section (here ~1 ms). The bound asserted is 200 ms — generous enough for
/// a loaded machine, far below what starvation looks like (the whole flood).
#[test]
fn phase_fair_reader_waits_about_one_write_section_under_writer_flood() {
    let _s = serial();
    let r = writer_flood::<PhaseFair>();
    assert!(r.reads >= 20, "only {} reads in {FLOOD:?} under a writer flood", r.reads);
    assert!(r.max_reader_wait < Duration::from_millis(200), "a reader waited {:?}", r.max_reader_wait);
    assert!(r.writes > 0);
}

/// `ReaderPreferring`: a releasing writer admits every waiting reader, so
/// readers progress under a writer flood too.
#[test]
fn reader_preferring_reader_progresses_under_writer_flood() {
    let _s = serial();
    let r = writer_flood::<ReaderPreferring>();
    assert!(r.reads >= 20, "only {} reads in {FLOOD:?} under a writer flood", r.reads);
}

/// `WriterPreferring` can starve readers while writers keep coming
/// (documented on the policy): the reader is only required to get in once
/// the flood is over; its wait is printed, not checked.
#[test]
fn writer_preferring_reader_gets_in_after_writer_flood() {
    let _s = serial();
    let r = writer_flood::<WriterPreferring>();
    assert!(r.reads >= 1);
    assert!(r.writes > 0);
}

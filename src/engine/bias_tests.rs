//! Unit and stress tests of reader bias at the engine level: biased reads
//! (`lock_read` / `unlock_read`), revocation by writers, the inhibit window,
//! reader overflow, leaked read locks. (The interleavings are the loom
//! models' job, in `bias_loom_tests`.)

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::mpsc;
use std::time::Instant;

use super::bias::{self, ReadToken};
use super::*;
use crate::policy::{ReadBiased, ReaderPreferring, Strict, WriterPreferring};

type Biased = RawRwLock<ReadBiased<PhaseFair>>;

/// How long a test waits for something another thread does before it
/// fails (generous: the machine may be busy with other builds).
const PATIENCE: Duration = Duration::from_secs(20);

fn state<P: Policy>(l: &RawRwLock<P>) -> u32 {
    l.state.load(Ordering::SeqCst)
}

fn biased<P: Policy>(l: &RawRwLock<P>) -> bool {
    state(l) & BIASED != 0
}

/// Sets the end of the inhibit window by hand (as if the last revocation
/// had cost that much), allocating the lock's heap part if needed.
fn set_inhibit_until<P: Policy>(l: &RawRwLock<P>, until: u64) {
    l.with_queue(|_| ());
    // SAFETY: `with_queue` allocated `shared`; it lives as long as the lock.
    unsafe { (*l.shared.load(Ordering::Acquire)).inhibit_until.store(until, Ordering::SeqCst) };
}

fn inhibit_until<P: Policy>(l: &RawRwLock<P>) -> u64 {
    let shared = l.shared.load(Ordering::Acquire);
    assert!(!shared.is_null(), "no revocation happened");
    // SAFETY: allocated, and lives as long as the lock.
    unsafe { (*shared).inhibit_until.load(Ordering::SeqCst) }
}

/// Counted reads until one turns the bias on (one counted read in
/// `ENABLE_EVERY` per thread tries).
fn enable_bias<P: Policy>(l: &RawRwLock<P>) {
    for _ in 0..1000 {
        let token = l.lock_read();
        // SAFETY: the read lock taken just above.
        unsafe { l.unlock_read(token) };
        if biased(l) {
            return;
        }
    }
    panic!("counted reads did not turn the bias on: state {:#x}", state(l));
}

/// A read through the biased path. (Its slot may be taken for a moment by
/// another test's reader whose thread and lock hash to the same slot: then
/// the read is counted, and is retried.)
fn published_read<P: Policy>(l: &RawRwLock<P>) -> P::ReadToken {
    let deadline = Instant::now() + PATIENCE;
    loop {
        enable_bias(l);
        if let Some(token) = l.try_read_biased() {
            if token.slot().is_some() {
                return token;
            }
            // SAFETY: the (counted) read lock just taken.
            unsafe { l.unlock_read(token) };
        }
        assert!(Instant::now() < deadline, "no published read: state {:#x}", state(l));
        std::thread::yield_now();
    }
}

#[test]
fn published_read_is_not_counted_but_holds_the_lock() {
    let l = Biased::new();
    assert!(l.try_read_biased().is_none(), "the bias is off on a new lock");
    let token = published_read(&l);
    let index = token.slot().unwrap();
    assert_eq!(bias::slot(index).load(Ordering::SeqCst), l.addr());
    assert_eq!(readers(state(&l)), 0, "a published read is in the count");
    assert_eq!(l.published_readers(), 1);
    assert!(l.is_locked());
    assert!(!l.is_locked_exclusive());
    // A second read on the same thread and lock finds its slot taken: it
    // is counted, and the bias stays on.
    let second = l.lock_read();
    assert!(second.slot().is_none());
    assert_eq!((readers(state(&l)), l.published_readers()), (1, 1));
    // SAFETY: the read locks taken above.
    unsafe {
        l.unlock_read(second);
        l.unlock_read(token);
    }
    assert_eq!(l.published_readers(), 0);
    assert!(biased(&l));
    assert!(!l.is_locked());
    assert_eq!(state(&l), BIASED);
}

#[test]
fn writer_revokes_and_waits_for_a_published_reader() {
    fn check<P: Policy>() {
        let l = RawRwLock::<P>::new();
        let token = published_read(&l);
        let before = now_ns();
        assert!(!l.try_lock_exclusive(), "a writer got in beside a published reader");
        let after = now_ns();
        // Revoked: the reader moved into the count, its slot empty.
        assert!(!biased(&l));
        assert_eq!((readers(state(&l)), l.published_readers()), (1, 0));
        assert!(l.is_locked());
        assert!(!l.try_lock_exclusive());
        // The window: end + 9 × cost, where start ≥ before, end ≤ after and
        // the cost is at least `MIN_REVOKE_COST` and otherwise at most
        // `after - before`.
        let until = inhibit_until(&l);
        assert!(
            until >= before + bias::INHIBIT_FACTOR * bias::MIN_REVOKE_COST,
            "window ends at {until}, revocation began after {before}"
        );
        assert!(
            until <= after + bias::INHIBIT_FACTOR * (after - before).max(bias::MIN_REVOKE_COST),
            "window ends at {until}, past {after} + 9 × {}",
            after - before
        );
        // The stale token releases the counted read lock.
        // SAFETY: the read lock taken above.
        unsafe { l.unlock_read(token) };
        assert_eq!(state(&l), 0);
        assert!(!l.is_locked());
        assert!(l.try_lock_exclusive());
        // SAFETY: taken just above.
        unsafe { l.unlock_exclusive() };
        assert_eq!(state(&l), 0);
    }
    check::<ReadBiased<PhaseFair>>();
    check::<ReadBiased<ReaderPreferring>>();
    check::<ReadBiased<Strict<WriterPreferring>>>();
}

#[test]
fn writer_on_a_biased_lock_without_readers_gets_in() {
    let l = Biased::new();
    enable_bias(&l);
    assert!(l.try_lock_exclusive());
    assert_eq!(state(&l), WRITER, "the bias is still on under a writer");
    // Readers wait for the writer, and their counted reads do not turn the
    // bias on while it holds.
    assert!(l.try_read_biased().is_none());
    assert!(!l.try_lock_shared());
    // SAFETY: taken above.
    unsafe { l.unlock_exclusive() };
    assert_eq!(state(&l), 0);
}

#[test]
fn inhibit_window_keeps_the_bias_off() {
    let l = Biased::new();
    let token = published_read(&l);
    assert!(!l.try_lock_exclusive());
    // SAFETY: the read lock taken above.
    unsafe { l.unlock_read(token) };
    // As if the revocation had cost forever: counted reads (more than one
    // in `ENABLE_EVERY` of them tries) never turn the bias back on.
    set_inhibit_until(&l, u64::MAX);
    for _ in 0..200 {
        let token = l.lock_read();
        assert!(token.slot().is_none(), "a published read inside the window");
        assert_eq!(l.published_readers(), 0);
        // SAFETY: taken just above.
        unsafe { l.unlock_read(token) };
        assert!(!biased(&l), "the bias came back inside the window");
    }
    // Once the window has passed, it comes back.
    set_inhibit_until(&l, now_ns());
    enable_bias(&l);
    let token = published_read(&l);
    // SAFETY: taken just above.
    unsafe { l.unlock_read(token) };
}

#[test]
fn reader_overflow_panics_on_a_biased_lock() {
    let l = Biased::new();
    let published = published_read(&l);
    assert!(!l.try_lock_exclusive());
    // SAFETY: the read lock taken above (counted in by the revocation).
    unsafe { l.unlock_read(published) };
    set_inhibit_until(&l, u64::MAX);
    let tokens: Vec<_> = (0..MAX_READERS).map(|_| l.lock_read()).collect();
    assert!(tokens.iter().all(|t| t.slot().is_none()));
    assert_eq!(readers(state(&l)), MAX_READERS);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| l.lock_read()));
    let msg = *r.expect_err("one reader too many must panic").downcast::<String>().unwrap();
    assert!(msg.contains("reader count overflow"), "{msg}");
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| l.read_with(|raw| raw.try_lock_shared())));
    assert!(r.is_err(), "one reader too many must panic (read_with)");
    for t in tokens {
        // SAFETY: the read locks taken above.
        unsafe { l.unlock_read(t) };
    }
    assert!(!l.is_locked());
    assert!(l.try_lock_exclusive());
    // SAFETY: taken just above.
    unsafe { l.unlock_exclusive() };
}

#[test]
fn upgrade_from_a_published_read() {
    let l = Biased::new();
    let token = published_read(&l);
    // SAFETY: the read lock `token` stands for is held.
    unsafe { l.count_in(token) };
    assert_eq!((readers(state(&l)), l.published_readers()), (1, 0));
    assert!(biased(&l), "counting in does not revoke");
    // SAFETY: a read lock is held (counted now).
    assert!(unsafe { l.try_upgrade() });
    assert_eq!(state(&l), WRITER);
    // SAFETY: the upgrade left the write lock held.
    unsafe { l.unlock_exclusive() };

    // Another published reader stops the upgrade: the upgrade revokes and
    // finds it.
    let l = std::sync::Arc::new(Biased::new());
    let mine = published_read(&*l);
    let (to_main, from_other) = mpsc::channel();
    let (to_other, from_main) = mpsc::channel::<()>();
    let other = {
        let l = l.clone();
        std::thread::spawn(move || {
            let token = published_read(&l);
            to_main.send(()).unwrap();
            from_main.recv_timeout(PATIENCE).expect("the main thread did not answer");
            // SAFETY: the read lock taken above.
            unsafe { l.unlock_read(token) };
        })
    };
    from_other.recv_timeout(PATIENCE).expect("the other reader did not publish");
    assert_eq!(l.published_readers(), 2);
    // SAFETY: the read lock `mine` stands for is held.
    unsafe { l.count_in(mine) };
    // SAFETY: a read lock is held.
    assert!(!unsafe { l.try_upgrade() }, "an upgrade beside a published reader");
    assert_eq!((readers(state(&l)), l.published_readers()), (2, 0));
    to_other.send(()).unwrap();
    other.join().unwrap();
    // SAFETY: the caller's read lock, still held after the failed upgrade.
    assert!(unsafe { l.try_upgrade() });
    // SAFETY: upgraded just above.
    unsafe { l.unlock_exclusive() };
    assert_eq!(state(&l), 0);
}

/// A blocking writer revokes, queues behind the published reader it
/// counted in, and gets the lock when that reader releases through its
/// (now stale) token.
#[test]
fn queued_writer_gets_in_after_a_published_reader_releases() {
    let l = std::sync::Arc::new(Biased::new());
    let token = published_read(&l);
    let (done_tx, done) = mpsc::channel();
    let writer = {
        let l = l.clone();
        std::thread::spawn(move || {
            l.lock_exclusive();
            // SAFETY: taken just above.
            unsafe { l.unlock_exclusive() };
            done_tx.send(()).unwrap();
        })
    };
    let deadline = Instant::now() + PATIENCE;
    while l.state_snapshot().queued_writers == 0 {
        assert!(Instant::now() < deadline, "the writer did not queue: state {:#x}", state(&*l));
        std::thread::yield_now();
    }
    assert!(!biased(&l));
    assert_eq!((readers(state(&*l)), l.published_readers()), (1, 0));
    // SAFETY: the read lock taken above.
    unsafe { l.unlock_read(token) };
    done.recv_timeout(PATIENCE).expect("the writer never got the lock");
    writer.join().unwrap();
    assert_eq!(state(&*l), 0);
}

/// A read lock leaked while published leaves its entry in the table; the
/// lock's `Drop` clears it, so that a lock allocated at the same address
/// later does not look read-locked (and its writers do not count in a
/// reader that does not exist).
#[test]
fn drop_clears_leaked_published_reads() {
    let l = Box::new(Biased::new());
    let addr = l.addr();
    let token = published_read(&*l);
    let index = token.slot().unwrap();
    // (The guard is leaked: `token` is never released.)
    assert_eq!(bias::slot(index).load(Ordering::SeqCst), addr);
    drop(l);
    assert_ne!(bias::slot(index).load(Ordering::SeqCst), addr, "a dropped lock left its reader in the table");
    assert!(bias::slots().all(|s| s.load(Ordering::SeqCst) != addr));
}

/// Many more threads than cores on one read-biased lock: biased reads (some
/// released on another thread), timed reads, writes, timed writes and
/// upgrades from published reads, for a bounded time. Inside every critical
/// section the thread checks exclusion with an atomic census (no writer
/// beside anyone) and that a writer's two-part value is never seen torn. A
/// watchdog fails the test if no operation completes for a long while, and
/// at the end the lock is free and nothing is left published.
#[test]
fn stress_biased_reads_writes_and_upgrades() {
    stress::<ReadBiased<PhaseFair>>(Duration::from_millis(1000));
    stress::<ReadBiased<Strict<WriterPreferring>>>(Duration::from_millis(600));
    stress::<ReadBiased<ReaderPreferring>>(Duration::from_millis(600));
}

/// A writer inside adds this to the census; each reader adds one.
const CENSUS_WRITER: usize = 1 << 20;

struct Arena<P: Policy> {
    lock: RawRwLock<P>,
    census: AtomicUsize,
    /// A value the writers write in two halves, both the same.
    halves: (AtomicU64, AtomicU64),
    ops: AtomicU64,
    /// Reads that took the biased path.
    published: AtomicU64,
    stop: AtomicBool,
}

impl<P: Policy> Arena<P> {
    fn enter_read(&self) {
        let before = self.census.fetch_add(1, Ordering::SeqCst);
        assert!(before < CENSUS_WRITER, "a reader entered beside a writer ({before:#x})");
        let (a, b) = (self.halves.0.load(Ordering::Relaxed), self.halves.1.load(Ordering::Relaxed));
        assert_eq!(a, b, "a reader saw a half-written value");
    }

    fn leave_read(&self) {
        let (a, b) = (self.halves.0.load(Ordering::Relaxed), self.halves.1.load(Ordering::Relaxed));
        assert_eq!(a, b, "a value changed under a reader");
        let before = self.census.fetch_sub(1, Ordering::SeqCst);
        assert!((1..CENSUS_WRITER).contains(&before), "census {before:#x} at a reader's exit");
    }

    /// The write critical section; `prev` is what the census held for the
    /// caller before (0, or 1 for an upgrading reader).
    fn write(&self, prev: usize) {
        let before = self.census.fetch_add(CENSUS_WRITER - prev, Ordering::SeqCst);
        assert_eq!(before, prev, "a writer entered beside someone ({before:#x})");
        let v = self.halves.0.load(Ordering::Relaxed) + 1;
        self.halves.0.store(v, Ordering::Relaxed);
        std::hint::spin_loop();
        self.halves.1.store(v, Ordering::Relaxed);
        let before = self.census.fetch_sub(CENSUS_WRITER, Ordering::SeqCst);
        assert_eq!(before, CENSUS_WRITER, "someone entered beside a writer");
    }
}

fn stress<P: Policy>(work: Duration) {
    use std::sync::Arc;
    const WORKERS: u64 = 14;
    const RELEASERS: usize = 2;
    let arena = Arc::new(Arena::<P> {
        lock: RawRwLock::new(),
        census: AtomicUsize::new(0),
        halves: (AtomicU64::new(0), AtomicU64::new(0)),
        ops: AtomicU64::new(0),
        published: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    // Releasers: threads that never take the lock, only release read locks
    // taken by workers (as an async read guard dropped on another thread).
    // A worker could not do it: it may be blocked on the lock itself.
    let mut senders = Vec::new();
    let mut threads = Vec::new();
    for _ in 0..RELEASERS {
        let (tx, rx) = mpsc::channel::<P::ReadToken>();
        senders.push(tx);
        let arena = arena.clone();
        threads.push(std::thread::spawn(move || {
            while let Ok(token) = rx.recv() {
                arena.leave_read();
                // SAFETY: a worker took this read lock and handed it over.
                unsafe { arena.lock.unlock_read(token) };
                arena.ops.fetch_add(1, Ordering::Relaxed);
            }
            0
        }));
    }
    for t in 0..WORKERS {
        let arena = arena.clone();
        let release_elsewhere = senders[t as usize % RELEASERS].clone();
        threads.push(std::thread::spawn(move || {
            let mut x = 0x9E37_79B9_7F4A_7C15_u64 ^ (t + 1);
            let mut my_writes = 0u64;
            while !arena.stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let l = &arena.lock;
                match x % 100 {
                    // Biased reads, released here.
                    0..=59 => {
                        let token = l.lock_read();
                        arena.published.fetch_add(token.slot().is_some() as u64, Ordering::Relaxed);
                        arena.enter_read();
                        for _ in 0..(x >> 32) % 32 {
                            std::hint::spin_loop();
                        }
                        arena.leave_read();
                        // SAFETY: taken just above.
                        unsafe { l.unlock_read(token) };
                    }
                    // Released on another thread.
                    60..=74 => {
                        let token = l.lock_read();
                        arena.published.fetch_add(token.slot().is_some() as u64, Ordering::Relaxed);
                        arena.enter_read();
                        release_elsewhere.send(token).unwrap();
                    }
                    // Timed reads (a counted acquire that may give up).
                    75..=79 => {
                        if let Some(token) = l.read_with(|raw| raw.try_lock_shared_for(Duration::from_micros(50))) {
                            arena.enter_read();
                            arena.leave_read();
                            // SAFETY: taken just above.
                            unsafe { l.unlock_read(token) };
                        }
                    }
                    // Upgrades from a (maybe published) read.
                    80..=86 => {
                        let token = l.lock_read();
                        arena.published.fetch_add(token.slot().is_some() as u64, Ordering::Relaxed);
                        arena.enter_read();
                        // SAFETY: the read lock `token` stands for is held.
                        unsafe { l.count_in(token) };
                        // SAFETY: a read lock is held (counted now).
                        if unsafe { l.try_upgrade() } {
                            // (Turns this thread's reader entry in the census
                            // into a writer's, then removes it.)
                            arena.write(1);
                            my_writes += 1;
                            // SAFETY: the upgrade left the write lock held.
                            unsafe { l.unlock_exclusive() };
                        } else {
                            arena.leave_read();
                            // SAFETY: the counted read lock, still held.
                            unsafe { l.unlock_shared() };
                        }
                    }
                    // Writes.
                    87..=94 => {
                        l.lock_exclusive();
                        arena.write(0);
                        my_writes += 1;
                        // SAFETY: taken just above.
                        unsafe { l.unlock_exclusive() };
                    }
                    // Timed writes.
                    _ => {
                        if l.try_lock_exclusive_for(Duration::from_micros((x >> 40) % 200)) {
                            arena.write(0);
                            my_writes += 1;
                            // SAFETY: taken just above.
                            unsafe { l.unlock_exclusive() };
                        }
                    }
                }
                arena.ops.fetch_add(1, Ordering::Relaxed);
            }
            my_writes
        }));
    }
    drop(senders);
    // Run for `work`, watching for a stall: no operation completing for
    // `PATIENCE` fails the test, with the lock's state.
    let start = Instant::now();
    let (mut seen, mut moved) = (0, Instant::now());
    let stalled = |what: &str| {
        format!(
            "{what}: {:?}, state {:#x}, {} published, census {:#x}",
            arena.lock.state_snapshot(),
            state(&arena.lock),
            arena.lock.published_readers(),
            arena.census.load(Ordering::SeqCst)
        )
    };
    while start.elapsed() < work {
        std::thread::sleep(Duration::from_millis(10));
        let ops = arena.ops.load(Ordering::Relaxed);
        if ops != seen {
            (seen, moved) = (ops, Instant::now());
        } else if moved.elapsed() > PATIENCE {
            panic!("{}", stalled("stalled"));
        }
    }
    arena.stop.store(true, Ordering::Relaxed);
    let deadline = Instant::now() + PATIENCE;
    while !threads.iter().all(|t| t.is_finished()) {
        if Instant::now() > deadline {
            panic!("{}", stalled("threads did not finish"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let writes: u64 = threads.into_iter().map(|t| t.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).sum();
    let (ops, published) = (arena.ops.load(Ordering::Relaxed), arena.published.load(Ordering::Relaxed));
    eprintln!("{}: {ops} operations, {published} published reads", core::any::type_name::<P>());
    // (Hundreds to thousands per run: the bias comes back between writes.)
    assert!(published > 0, "no read took the biased path in {ops} operations");
    assert_eq!(arena.census.load(Ordering::SeqCst), 0);
    assert_eq!(arena.lock.published_readers(), 0, "a read lock left published");
    let s = state(&arena.lock);
    assert_eq!(s & !BIASED, 0, "lock not free at the end: {s:#x}");
    assert_eq!(arena.halves.0.load(Ordering::SeqCst), writes, "a write was lost");
    assert!(arena.lock.try_lock_exclusive(), "lock not free at the end");
    // SAFETY: taken just above.
    unsafe { arena.lock.unlock_exclusive() };
}

//! Real-thread and real-task stress (docs/SEMANTICS.md §8).
//!
//! Many threads (or tokio tasks on a multi-thread runtime) do random
//! operations for a bounded time: blocking, `try_*` and timed acquires,
//! downgrades, condition-variable waits (timed and untimed) and notifies,
//! and — for tasks — `timeout` and `select!` churn that cancels acquires and
//! condvar waits at every await point. Inside every critical section the
//! thread checks exclusion with atomics (no reader inside while a writer is,
//! never two writers; under `Exclusive` never two holders); a downgrade
//! checks that nobody wrote in between. At the end, the counter equals the
//! number of writes, the lock is free (`try_write` succeeds, the engine
//! state is all zero) and no condvar waiter is left.
//!
//! A watchdog thread (tests/common) watches a progress counter; if it stands
//! still for 2 s, the test fails and prints the lock's state. Each test is
//! bounded by time (well under a second of work), not by iterations.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Rng, Watchdog};
use rwlocker::engine::StateSnapshot;
use rwlocker::{
    AsyncRwCondvar, AsyncRwLock, AsyncRwLockReadGuard, AsyncRwLockWriteGuard, Exclusive, PhaseFair, Policy, PolicyKind,
    ReadBiased, ReaderPreferring, RwCondvar, RwLock, RwLockWriteGuard, WriterPreferring,
};

const THREADS: u64 = 8;
const WORK: Duration = Duration::from_millis(800);
const ASYNC_WORK: Duration = Duration::from_millis(600);

const IDLE: StateSnapshot = StateSnapshot { readers: 0, writer: false, queued_readers: 0, queued_writers: 0 };

/// Who is inside the critical section right now, checked on every entry.
#[derive(Default)]
struct Inside {
    readers: AtomicUsize,
    writer: AtomicBool,
}

impl Inside {
    /// Runs a read critical section: no writer may be inside (and, under
    /// `Exclusive`, nobody at all).
    fn read<P: Policy>(&self, spin: u64) {
        let before = self.readers.fetch_add(1, SeqCst);
        assert!(!self.writer.load(SeqCst), "a reader entered while a writer was inside");
        if P::KIND == PolicyKind::Exclusive {
            assert_eq!(before, 0, "two holders inside an Exclusive lock");
        }
        busy(spin);
        assert!(!self.writer.load(SeqCst), "a writer entered while a reader was inside");
        self.readers.fetch_sub(1, SeqCst);
    }

    /// Runs a write critical section around `f`: alone.
    fn write<R>(&self, spin: u64, f: impl FnOnce() -> R) -> R {
        assert!(!self.writer.swap(true, SeqCst), "two writers inside");
        assert_eq!(self.readers.load(SeqCst), 0, "a writer entered while readers were inside");
        let r = f();
        busy(spin);
        assert_eq!(self.readers.load(SeqCst), 0, "a reader entered while a writer was inside");
        self.writer.store(false, SeqCst);
        r
    }
}

fn busy(n: u64) {
    for i in 0..n {
        std::hint::black_box(i);
    }
}

// ---------------------------------------------------------------------------
// Blocking RwLock + RwCondvar
// ---------------------------------------------------------------------------

struct Shared<P: Policy> {
    lock: RwLock<u64, P>,
    cv: RwCondvar,
    inside: Inside,
    progress: Arc<AtomicU64>,
}

fn write_cs<P: Policy>(sh: &Shared<P>, g: &mut RwLockWriteGuard<'_, u64, P>, rng: &mut Rng) -> u64 {
    sh.inside.write(rng.below(50), || {
        **g += 1;
        **g
    })
}

/// One thread's random operations until `deadline`; returns its writes.
fn blocking_worker<P: Policy>(sh: &Shared<P>, seed: u64, deadline: Instant) -> u64 {
    let mut rng = Rng::new(seed);
    let mut writes = 0;
    let short = |rng: &mut Rng| Duration::from_micros(rng.below(300));
    while Instant::now() < deadline {
        match rng.below(100) {
            0..=34 => {
                let _g = sh.lock.read();
                sh.inside.read::<P>(rng.below(50));
            }
            35..=49 => {
                let mut g = sh.lock.write();
                write_cs(sh, &mut g, &mut rng);
                writes += 1;
                if rng.below(2) == 0 {
                    sh.cv.notify_one();
                }
            }
            50..=56 => {
                if let Some(_g) = sh.lock.try_read() {
                    sh.inside.read::<P>(rng.below(20));
                }
            }
            57..=61 => {
                if let Some(mut g) = sh.lock.try_write() {
                    write_cs(sh, &mut g, &mut rng);
                    writes += 1;
                }
            }
            62..=68 => {
                if let Some(_g) = sh.lock.try_read_for(short(&mut rng)) {
                    sh.inside.read::<P>(rng.below(20));
                }
            }
            69..=74 => {
                if let Some(mut g) = sh.lock.try_write_for(short(&mut rng)) {
                    write_cs(sh, &mut g, &mut rng);
                    writes += 1;
                }
            }
            75..=81 => {
                // Downgrade is atomic: nobody writes between the write and
                // the read that follows it.
                let mut g = sh.lock.write();
                let mine = write_cs(sh, &mut g, &mut rng);
                writes += 1;
                let r = RwLockWriteGuard::downgrade(g);
                sh.inside.read::<P>(rng.below(20));
                assert_eq!(*r, mine, "a writer got in during a downgrade");
            }
            82..=87 => {
                // Wait with a read guard for the next write (or time out);
                // the read lock is held again on return.
                let mut g = sh.lock.read();
                let seen = *g;
                sh.cv.wait_while_for(&mut g, |v| *v == seen, short(&mut rng));
                sh.inside.read::<P>(rng.below(20));
            }
            88..=92 => {
                // The same with a write guard: the write lock comes back.
                let mut g = sh.lock.write();
                let seen = *g;
                let r = sh.cv.wait_while_for(&mut g, |v| *v == seen, short(&mut rng));
                assert_eq!(r.timed_out(), *g == seen, "timed_out() must say whether the condition still held");
                write_cs(sh, &mut g, &mut rng);
                writes += 1;
            }
            93..=95 => {
                sh.cv.notify_all();
            }
            _ => {
                let n = rng.below(4) as usize;
                assert!(sh.cv.notify(n) <= n);
            }
        }
        sh.progress.fetch_add(1, SeqCst);
    }
    writes
}

fn stress_blocking<P: Policy>(name: &str)
where
    RwLock<u64, P>: Sync,
{
    let sh = Arc::new(Shared::<P> {
        lock: RwLock::new(0),
        cv: RwCondvar::new(),
        inside: Inside::default(),
        progress: Arc::new(AtomicU64::new(0)),
    });
    let wd = {
        let sh = sh.clone();
        Watchdog::start(name, sh.progress.clone(), move || format!("{:?}, {:?}", sh.lock.raw(), sh.cv))
    };
    let deadline = Instant::now() + WORK;
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let sh = sh.clone();
            thread::spawn(move || blocking_worker(&sh, t + 1, deadline))
        })
        .collect();
    let writes: u64 = wd.join(workers).into_iter().sum();
    eprintln!("{name}: {} operations, {writes} writes", sh.progress.load(SeqCst));
    assert!(sh.progress.load(SeqCst) > THREADS, "{name}: the threads did (almost) nothing");
    assert_eq!(*sh.lock.read(), writes, "{name}: final count");
    assert_eq!(sh.lock.raw().state_snapshot(), IDLE, "{name}: lock not idle at the end");
    assert!(sh.lock.try_write().is_some(), "{name}: lock not free at the end");
    assert_eq!(sh.cv.notify_all(), 0, "{name}: a condvar waiter was left behind");
}

#[test]
fn stress_blocking_reader_preferring() {
    stress_blocking::<ReaderPreferring>("blocking ReaderPreferring");
}

#[test]
fn stress_blocking_writer_preferring() {
    stress_blocking::<WriterPreferring>("blocking WriterPreferring");
}

#[test]
fn stress_blocking_phase_fair() {
    stress_blocking::<PhaseFair>("blocking PhaseFair");
}

#[test]
fn stress_blocking_exclusive() {
    stress_blocking::<Exclusive>("blocking Exclusive");
}

#[test]
fn stress_blocking_phase_fair_biased() {
    stress_blocking::<ReadBiased<PhaseFair>>("blocking ReadBiased<PhaseFair>");
}

#[test]
fn stress_blocking_writer_preferring_biased() {
    stress_blocking::<ReadBiased<WriterPreferring>>("blocking ReadBiased<WriterPreferring>");
}

// ---------------------------------------------------------------------------
// Condvar: untimed waits, where a single lost wakeup is a permanent stall
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Ring {
    /// Whose turn it is (an index into the ring).
    turn: u64,
    /// Turns taken so far.
    passes: u64,
    /// Tokens produced and not consumed yet.
    tokens: u64,
    /// The ring has stopped.
    done: bool,
    /// The producer has stopped: consumers drain and leave.
    produced_all: bool,
}

/// A ring of writers passes a turn around with untimed `wait_while` and
/// `notify_all` / `notify(n)`: each pass is needed by exactly one thread, so
/// a lost wakeup stops the ring and the watchdog fires. Readers wait
/// (untimed, with read guards) for the pass count to move; producers and
/// consumers hand tokens over with `notify_one` and untimed waits on write
/// guards. Every count must balance at the end.
fn stress_condvar_ring<P: Policy>(name: &str)
where
    RwLock<Ring, P>: Sync,
{
    const RING: u64 = 3;
    const OBSERVERS: u64 = 2;
    let lock = Arc::new(RwLock::<Ring, P>::new(Ring::default()));
    let cv = Arc::new(RwCondvar::new());
    let progress = Arc::new(AtomicU64::new(0));
    let consumed = Arc::new(AtomicU64::new(0));
    let wd = {
        let (lock, cv) = (lock.clone(), cv.clone());
        Watchdog::start(name, progress.clone(), move || {
            let st = lock.try_read().map(|g| format!("turn {} passes {} tokens {}", g.turn, g.passes, g.tokens));
            format!("{:?}, {:?}, ring: {}", lock.raw(), cv, st.unwrap_or_else(|| "<locked>".into()))
        })
    };
    let deadline = Instant::now() + WORK;
    let mut workers = Vec::new();
    for me in 0..RING {
        let (lock, cv, progress) = (lock.clone(), cv.clone(), progress.clone());
        workers.push(thread::spawn(move || {
            let mut rng = Rng::new(me + 100);
            loop {
                let mut g = lock.write();
                cv.wait_while(&mut g, |r| r.turn != me && !r.done);
                if g.done {
                    return 0;
                }
                g.turn = (me + 1) % RING;
                g.passes += 1;
                if Instant::now() >= deadline {
                    g.done = true;
                }
                // Every waiter must hear it: the next in the ring is one of them.
                match rng.below(3) {
                    0 => {
                        cv.notify_all();
                    }
                    1 => {
                        cv.notify(usize::MAX);
                    }
                    _ => {
                        cv.notify((RING + OBSERVERS + 4) as usize);
                    }
                }
                drop(g);
                progress.fetch_add(1, SeqCst);
            }
        }));
    }
    for o in 0..OBSERVERS {
        let (lock, cv, progress) = (lock.clone(), cv.clone(), progress.clone());
        workers.push(thread::spawn(move || loop {
            let mut g = lock.read();
            let seen = g.passes;
            cv.wait_while(&mut g, |r| r.passes == seen && !r.done);
            assert!(g.passes > seen || g.done, "observer {o}: wait_while returned with its condition true");
            if g.done {
                return 0;
            }
            drop(g);
            progress.fetch_add(1, SeqCst);
        }));
    }
    // Producer / consumer with notify_one: consumers drain every token.
    {
        let (lock, cv, progress) = (lock.clone(), cv.clone(), progress.clone());
        workers.push(thread::spawn(move || {
            let mut produced = 0;
            while Instant::now() < deadline {
                let mut g = lock.write();
                g.tokens += 1;
                produced += 1;
                drop(g);
                cv.notify_one();
                progress.fetch_add(1, SeqCst);
            }
            lock.write().produced_all = true;
            cv.notify_all();
            produced
        }));
    }
    for c in 0..2 {
        let (lock, cv, progress, consumed) = (lock.clone(), cv.clone(), progress.clone(), consumed.clone());
        workers.push(thread::spawn(move || {
            let mut rng = Rng::new(c + 7);
            loop {
                let mut g = lock.write();
                let empty = |r: &Ring| r.tokens == 0 && !r.produced_all;
                if rng.below(2) == 0 {
                    cv.wait_while(&mut g, empty);
                } else {
                    // A timed wait racing the notifications.
                    cv.wait_while_for(&mut g, empty, Duration::from_micros(rng.below(500)));
                }
                if g.tokens > 0 {
                    g.tokens -= 1;
                    consumed.fetch_add(1, SeqCst);
                } else if g.produced_all {
                    return 0;
                }
                drop(g);
                progress.fetch_add(1, SeqCst);
            }
        }));
    }
    // Ring threads and observers return 0, the producer its count.
    let produced: u64 = wd.join(workers).into_iter().sum();
    let g = lock.read();
    eprintln!("{name}: {} operations, {} ring passes, {produced} tokens", progress.load(SeqCst), g.passes);
    assert!(g.done);
    assert!(g.passes >= RING, "{name}: the ring barely moved ({} passes)", g.passes);
    assert_eq!(g.tokens, 0, "{name}: consumers left tokens");
    assert_eq!(consumed.load(SeqCst), produced, "{name}: tokens lost or duplicated");
    drop(g);
    assert_eq!(lock.raw().state_snapshot(), IDLE);
    assert_eq!(cv.notify_all(), 0, "{name}: a condvar waiter was left behind");
}

#[test]
fn stress_condvar_phase_fair() {
    stress_condvar_ring::<PhaseFair>("condvar PhaseFair");
}

#[test]
fn stress_condvar_writer_preferring() {
    stress_condvar_ring::<WriterPreferring>("condvar WriterPreferring");
}

#[test]
fn stress_condvar_reader_preferring() {
    stress_condvar_ring::<ReaderPreferring>("condvar ReaderPreferring");
}

#[test]
fn stress_condvar_mutex() {
    stress_condvar_ring::<Exclusive>("condvar Mutex");
}

#[test]
fn stress_condvar_reader_preferring_biased() {
    stress_condvar_ring::<ReadBiased<ReaderPreferring>>("condvar ReadBiased<ReaderPreferring>");
}

// ---------------------------------------------------------------------------
// Async: tokio multi-thread runtime, timeout and select! churn
// ---------------------------------------------------------------------------

struct AShared<P: Policy> {
    lock: AsyncRwLock<u64, P>,
    cv: AsyncRwCondvar,
    inside: Inside,
    progress: Arc<AtomicU64>,
    writes: AtomicU64,
}

impl<P: Policy> AShared<P> {
    fn wrote(&self, g: &mut AsyncRwLockWriteGuard<'_, u64, P>, spin: u64) -> u64 {
        let v = self.inside.write(spin, || {
            **g += 1;
            **g
        });
        self.writes.fetch_add(1, SeqCst);
        v
    }
}

async fn async_worker<P: Policy>(sh: Arc<AShared<P>>, seed: u64, deadline: Instant)
where
    AsyncRwLock<u64, P>: Sync,
    for<'a> AsyncRwLockReadGuard<'a, u64, P>: Send,
    for<'a> AsyncRwLockWriteGuard<'a, u64, P>: Send,
{
    use tokio::time::{sleep, timeout};
    let mut rng = Rng::new(seed);
    let short = |rng: &mut Rng| Duration::from_micros(rng.below(1500));
    while Instant::now() < deadline {
        match rng.below(100) {
            0..=24 => {
                if let Ok(g) = timeout(short(&mut rng), sh.lock.read()).await {
                    sh.inside.read::<P>(rng.below(30));
                    if rng.below(4) == 0 {
                        // Hold the lock across an await.
                        tokio::task::yield_now().await;
                        sh.inside.read::<P>(0);
                    }
                    drop(g);
                }
            }
            25..=44 => {
                if let Ok(mut g) = timeout(short(&mut rng), sh.lock.write()).await {
                    sh.wrote(&mut g, rng.below(30));
                    if rng.below(4) == 0 {
                        tokio::task::yield_now().await;
                    }
                    drop(g);
                    if rng.below(2) == 0 {
                        sh.cv.notify_one();
                    }
                }
            }
            45..=54 => {
                // Two acquires from one task: the loser is dropped, possibly
                // after it was granted (tokio#6450's shape).
                tokio::select! {
                    mut g = sh.lock.write() => { sh.wrote(&mut g, rng.below(20)); }
                    _g = sh.lock.read() => { sh.inside.read::<P>(rng.below(20)); }
                }
            }
            55..=61 => {
                tokio::select! {
                    mut g = sh.lock.write() => { sh.wrote(&mut g, rng.below(20)); }
                    _ = sleep(short(&mut rng)) => {}
                }
            }
            62..=68 => {
                let mut g = sh.lock.write().await;
                let mine = sh.wrote(&mut g, rng.below(20));
                let r = AsyncRwLockWriteGuard::downgrade(g);
                sh.inside.read::<P>(rng.below(20));
                assert_eq!(*r, mine, "a writer got in during a downgrade");
            }
            69..=76 => {
                // A read-guard condvar wait cut short by a timeout at any
                // phase (waiting, notified, re-acquiring).
                let g = sh.lock.read().await;
                if let Ok(g) = timeout(short(&mut rng), sh.cv.wait(g)).await {
                    sh.inside.read::<P>(rng.below(20));
                    drop(g);
                }
            }
            77..=82 => {
                let g = sh.lock.write().await;
                let seen = *g;
                if let Ok(mut g) = timeout(short(&mut rng), sh.cv.wait_while(g, |v| *v == seen)).await {
                    assert_ne!(*g, seen, "wait_while returned with the condition still true");
                    sh.wrote(&mut g, rng.below(20));
                }
            }
            83..=86 => {
                if let Some(_g) = sh.lock.try_read() {
                    sh.inside.read::<P>(rng.below(20));
                }
            }
            87..=89 => {
                if let Some(mut g) = sh.lock.try_write() {
                    sh.wrote(&mut g, rng.below(20));
                }
            }
            90..=94 => {
                sh.cv.notify_all();
            }
            _ => {
                let n = rng.below(3) as usize;
                assert!(sh.cv.notify(n) <= n);
            }
        }
        sh.progress.fetch_add(1, SeqCst);
    }
}

fn stress_async<P: Policy>(name: &str)
where
    AsyncRwLock<u64, P>: Sync,
    for<'a> AsyncRwLockReadGuard<'a, u64, P>: Send,
    for<'a> AsyncRwLockWriteGuard<'a, u64, P>: Send,
{
    let sh = Arc::new(AShared::<P> {
        lock: AsyncRwLock::new(0),
        cv: AsyncRwCondvar::new(),
        inside: Inside::default(),
        progress: Arc::new(AtomicU64::new(0)),
        writes: AtomicU64::new(0),
    });
    let wd = {
        let sh = sh.clone();
        Watchdog::start(name, sh.progress.clone(), move || format!("{:?}, {:?}", sh.lock.raw(), sh.cv))
    };
    let deadline = Instant::now() + ASYNC_WORK;
    let runtime = {
        let sh = sh.clone();
        thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap();
            rt.block_on(async move {
                let tasks: Vec<_> =
                    (0..THREADS).map(|t| tokio::spawn(async_worker(sh.clone(), t + 1, deadline))).collect();
                for t in tasks {
                    t.await.unwrap();
                }
            });
        })
    };
    // A plain thread shares the same lock through the blocking entries.
    let blocking = {
        let sh = sh.clone();
        thread::spawn(move || {
            let mut rng = Rng::new(99);
            while Instant::now() < deadline {
                if rng.below(3) == 0 {
                    let mut g = sh.lock.write_blocking();
                    sh.wrote(&mut g, rng.below(30));
                } else {
                    let _g = sh.lock.read_blocking();
                    sh.inside.read::<P>(rng.below(30));
                }
                sh.progress.fetch_add(1, SeqCst);
            }
        })
    };
    wd.join(vec![runtime, blocking]);
    eprintln!("{name}: {} operations, {} writes", sh.progress.load(SeqCst), sh.writes.load(SeqCst));
    // Quiescence: every task ended; nothing is held, queued or registered.
    assert_eq!(sh.lock.raw().state_snapshot(), IDLE, "{name}: lock not idle at the end");
    assert!(sh.lock.try_write().is_some(), "{name}: lock not free at the end (a leaked grant)");
    assert_eq!(*sh.lock.try_read().unwrap(), sh.writes.load(SeqCst), "{name}: final count");
    assert_eq!(sh.cv.notify_all(), 0, "{name}: a condvar waiter outlived its future");
}

#[test]
fn stress_async_reader_preferring() {
    stress_async::<ReaderPreferring>("async ReaderPreferring");
}

#[test]
fn stress_async_writer_preferring() {
    stress_async::<WriterPreferring>("async WriterPreferring");
}

#[test]
fn stress_async_phase_fair() {
    stress_async::<PhaseFair>("async PhaseFair");
}

#[test]
fn stress_async_exclusive() {
    stress_async::<Exclusive>("async Exclusive");
}

#[test]
fn stress_async_phase_fair_biased() {
    stress_async::<ReadBiased<PhaseFair>>("async ReadBiased<PhaseFair>");
}

/// The watchdog does fail a stalled test, and reports the lock's state.
#[test]
fn watchdog_reports_a_stall() {
    let lock = Arc::new(RwLock::<u32>::new(0));
    let progress = Arc::new(AtomicU64::new(0));
    let wd = {
        let lock = lock.clone();
        Watchdog::with_limit("self-test", progress, Duration::from_millis(300), move || format!("{:?}", lock.raw()))
    };
    let held = lock.write();
    let stuck = {
        let lock = lock.clone();
        thread::spawn(move || drop(lock.write()))
    };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wd.join(vec![stuck])));
    let msg = *r.expect_err("the watchdog let a stall pass").downcast::<String>().unwrap();
    assert!(msg.contains("no progress") && msg.contains("writer: true"), "{msg}");
    drop(held);
}

//! docs/SEMANTICS.md §2 on real threads: every row and common rule of the policy table,
//! for each policy. Threads record the order in which they are admitted;
//! the main thread waits (via the engine's state snapshot) until each one is
//! really queued before the next step, so every outcome is deterministic.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex as StdMutex};
use std::thread::{self, Scope};
use std::time::{Duration, Instant};

use rwlocker::engine::StateSnapshot;
use rwlocker::{Policy, PolicyKind, RwLock, RwLockWriteGuard};

// Exact-order tests: they run against the strict hand-off mode
// (`Strict<P>`, docs/SEMANTICS.md §2a), whose order is the policy table.
type PhaseFair = rwlocker::Strict<rwlocker::PhaseFair>;
type ReaderPreferring = rwlocker::Strict<rwlocker::ReaderPreferring>;
type WriterPreferring = rwlocker::Strict<rwlocker::WriterPreferring>;
type Exclusive = rwlocker::Strict<rwlocker::Exclusive>;

const PATIENCE: Duration = Duration::from_secs(10);

/// A one-shot signal an actor waits on before releasing its lock.
#[derive(Default)]
struct Gate {
    open: StdMutex<bool>,
    cv: Condvar,
}

impl Gate {
    fn open(&self) {
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cv.notify_all();
    }

    fn wait(&self) {
        let start = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        while !*open {
            let left = PATIENCE.checked_sub(start.elapsed()).expect("gate never opened");
            open = self.cv.wait_timeout(open, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Read,
    Write,
}

/// The test bench: a lock, threads ("actors") that acquire it, record their
/// admission and hold it until released, and helpers to wait for states.
struct Bench<'scope, 'env, P: Policy> {
    scope: &'scope Scope<'scope, 'env>,
    lock: &'env RwLock<(), P>,
    log: &'env StdMutex<Vec<&'static str>>,
    gates: RefCell<Vec<Arc<Gate>>>,
}

impl<P: Policy> Drop for Bench<'_, '_, P> {
    fn drop(&mut self) {
        // On a failed assertion, let every actor finish so the scope can end.
        for g in self.gates.borrow().iter() {
            g.open();
        }
    }
}

/// Runs `f` with a bench over a fresh lock; all actors are joined at the end.
fn bench<P: Policy>(f: impl for<'s, 'e> FnOnce(&Bench<'s, 'e, P>))
where
    P::Shared<()>: Sync,
{
    let lock = RwLock::<(), P>::new(());
    let log = StdMutex::new(Vec::new());
    thread::scope(|scope| {
        let b = Bench { scope, lock: &lock, log: &log, gates: RefCell::new(Vec::new()) };
        f(&b);
    });
    assert!(!lock.is_locked(), "the lock is free once everyone is done");
}

impl<'scope, 'env, P: Policy> Bench<'scope, 'env, P>
where
    P::Shared<()>: Sync,
{
    fn snap(&self) -> StateSnapshot {
        self.lock.raw().state_snapshot()
    }

    /// Spins (yielding) until `cond` holds; panics after 10 s with the state.
    fn wait_state(&self, what: &str, cond: impl Fn(&StateSnapshot) -> bool) {
        let start = Instant::now();
        loop {
            let s = self.snap();
            if cond(&s) {
                return;
            }
            if start.elapsed() > PATIENCE {
                panic!("timed out waiting for {what}: {s:?}, log {:?}", self.log());
            }
            thread::yield_now();
        }
    }

    fn log(&self) -> Vec<&'static str> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until `n` admissions are logged.
    fn wait_log(&self, n: usize) {
        let start = Instant::now();
        while self.log().len() < n {
            if start.elapsed() > PATIENCE {
                panic!("timed out waiting for {n} admissions: log {:?}, {:?}", self.log(), self.snap());
            }
            thread::yield_now();
        }
    }

    /// Starts an actor; returns the gate that releases its lock.
    fn spawn(&self, mode: Mode, name: &'static str) -> Arc<Gate> {
        let gate = Arc::new(Gate::default());
        self.gates.borrow_mut().push(gate.clone());
        let (lock, log, g) = (self.lock, self.log, gate.clone());
        self.scope.spawn(move || match mode {
            Mode::Read => {
                let guard = lock.read();
                log.lock().unwrap().push(name);
                g.wait();
                drop(guard);
            }
            Mode::Write => {
                let guard = lock.write();
                log.lock().unwrap().push(name);
                g.wait();
                drop(guard);
            }
        });
        gate
    }

    /// Starts an actor and waits until it is queued.
    fn queued(&self, mode: Mode, name: &'static str) -> Arc<Gate> {
        let before = self.snap();
        let gate = self.spawn(mode, name);
        match mode {
            Mode::Read => self.wait_state(name, |s| s.queued_readers == before.queued_readers + 1),
            Mode::Write => self.wait_state(name, |s| s.queued_writers == before.queued_writers + 1),
        }
        gate
    }

    /// Starts an actor and waits until it is admitted.
    fn admitted(&self, mode: Mode, name: &'static str) -> Arc<Gate> {
        let n = self.log().len();
        let gate = self.spawn(mode, name);
        self.wait_log(n + 1);
        assert_eq!(self.log().last(), Some(&name));
        gate
    }

    /// Waits until the log holds `phases` (each phase a set admitted
    /// together, in any order within it) and checks it.
    fn expect_log(&self, phases: &[&[&'static str]]) {
        let n = phases.iter().map(|p| p.len()).sum();
        self.wait_log(n);
        let log = self.log();
        assert_eq!(log.len(), n, "log {log:?}, expected {phases:?}");
        let mut at = 0;
        for phase in phases {
            let mut got = log[at..at + phase.len()].to_vec();
            let mut want = phase.to_vec();
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want, "log {log:?}, expected {phases:?}");
            at += phase.len();
        }
    }

    fn assert_state(&self, readers: u32, writer: bool, queued_readers: usize, queued_writers: usize) {
        let want = StateSnapshot { readers, writer, queued_readers, queued_writers };
        assert_eq!(self.snap(), want, "log {:?}", self.log());
    }
}

use Mode::{Read, Write};

macro_rules! per_policy {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use super::*;
            #[test]
            fn reader_preferring() { super::$scenario::<ReaderPreferring>() }
            #[test]
            fn writer_preferring() { super::$scenario::<WriterPreferring>() }
            #[test]
            fn phase_fair() { super::$scenario::<PhaseFair>() }
            #[test]
            fn exclusive() { super::$scenario::<Exclusive>() }
        }
    )*};
}

per_policy!(
    reader_arrives_while_writer_holds,
    reader_arrives_while_readers_hold,
    reader_arrives_while_writer_waits,
    writer_releases_with_both_kinds_waiting,
    last_reader_releases_with_writers_waiting,
    writers_are_served_fifo,
    try_write_never_jumps_the_queue,
    try_read_respects_waiting_writers,
    timed_out_writer_releases_readers_behind_it,
    downgrade_admits_readers_per_policy,
    downgrade_without_waiting_writer,
);

/// Every policy: a writer holds, so an arriving reader waits.
fn reader_arrives_while_writer_holds<P: Policy>()
where
    P::Shared<()>: Sync,
{
    bench::<P>(|b| {
        let w = b.lock.write();
        b.queued(Read, "R1");
        assert!(b.lock.try_read().is_none());
        b.assert_state(0, true, 1, 0);
        drop(w);
        b.expect_log(&[&["R1"]]);
    });
}

/// Readers hold, nobody waits: a reader is admitted, except under Exclusive.
fn reader_arrives_while_readers_hold<P: Policy>()
where
    P::Shared<()>: Sync,
{
    bench::<P>(|b| {
        let r0 = b.lock.read();
        if P::KIND == PolicyKind::Exclusive {
            assert!(b.lock.is_locked_exclusive());
            b.queued(Read, "R1");
            assert!(b.lock.try_read().is_none());
            drop(r0);
            b.expect_log(&[&["R1"]]);
            assert!(b.lock.is_locked_exclusive());
        } else {
            let g1 = b.admitted(Read, "R1");
            b.assert_state(2, false, 0, 0);
            let r2 = b.lock.try_read().expect("readers share");
            b.assert_state(3, false, 0, 0);
            drop((r0, r2));
            g1.open();
        }
    });
}

/// Readers hold and a writer waits: a reader is admitted only under
/// ReaderPreferring; elsewhere it waits for the writer.
fn reader_arrives_while_writer_waits<P: Policy>()
where
    P::Shared<()>: Sync,
{
    bench::<P>(|b| {
        let r0 = b.lock.read();
        let w1 = b.queued(Write, "W1");
        if P::KIND == PolicyKind::ReaderPreferring {
            let r2 = b.admitted(Read, "R2");
            b.assert_state(2, false, 0, 1);
            drop(r0);
            // R2 still reads: the writer keeps waiting
            b.assert_state(1, false, 0, 1);
            r2.open();
            b.expect_log(&[&["R2"], &["W1"]]);
            w1.open();
        } else {
            let r2 = b.queued(Read, "R2");
            let readers = if P::KIND == PolicyKind::Exclusive { 0 } else { 1 };
            b.assert_state(readers, P::KIND == PolicyKind::Exclusive, 1, 1);
            drop(r0);
            // handed to the writer, the reader still waits
            b.assert_state(0, true, 1, 0);
            w1.open();
            b.expect_log(&[&["W1"], &["R2"]]);
            r2.open();
        }
    });
}

/// A writer releases while readers and writers wait (queue: R1 W2 R3 W4).
fn writer_releases_with_both_kinds_waiting<P: Policy>()
where
    P::Shared<()>: Sync,
{
    bench::<P>(|b| {
        let w0 = b.lock.write();
        let r1 = b.queued(Read, "R1");
        let w2 = b.queued(Write, "W2");
        let r3 = b.queued(Read, "R3");
        let w4 = b.queued(Write, "W4");
        b.assert_state(0, true, 2, 2);
        drop(w0);
        match P::KIND {
            PolicyKind::ReaderPreferring => {
                // every waiting reader, together
                b.assert_state(2, false, 0, 2);
                b.expect_log(&[&["R1", "R3"]]);
                // a late reader still gets in: waiting writers are ignored
                let r5 = b.admitted(Read, "R5");
                b.assert_state(3, false, 0, 2);
                r1.open();
                r3.open();
                b.wait_state("R1, R3 gone", |s| s.readers == 1);
                b.assert_state(1, false, 0, 2);
                r5.open();
                b.expect_log(&[&["R1", "R3"], &["R5"], &["W2"]]);
                w2.open();
                b.expect_log(&[&["R1", "R3"], &["R5"], &["W2"], &["W4"]]);
                w4.open();
            }
            PolicyKind::WriterPreferring => {
                // the oldest writer; readers wait until no writer waits
                b.assert_state(0, true, 2, 1);
                w2.open();
                b.expect_log(&[&["W2"], &["W4"]]);
                b.assert_state(0, true, 2, 0);
                w4.open();
                b.expect_log(&[&["W2"], &["W4"], &["R1", "R3"]]);
                r1.open();
                r3.open();
            }
            PolicyKind::PhaseFair => {
                // a read phase: all readers waiting at that moment
                b.assert_state(2, false, 0, 2);
                b.expect_log(&[&["R1", "R3"]]);
                // a late reader waits for the next writer
                let r5 = b.queued(Read, "R5");
                b.assert_state(2, false, 1, 2);
                r1.open();
                b.wait_state("R1 gone", |s| s.readers == 1);
                b.assert_state(1, false, 1, 2);
                r3.open();
                b.expect_log(&[&["R1", "R3"], &["W2"]]);
                b.assert_state(0, true, 1, 1);
                // the writer's release opens a read phase for R5 before W4
                w2.open();
                b.expect_log(&[&["R1", "R3"], &["W2"], &["R5"]]);
                b.assert_state(1, false, 0, 1);
                r5.open();
                b.expect_log(&[&["R1", "R3"], &["W2"], &["R5"], &["W4"]]);
                w4.open();
            }
            PolicyKind::Exclusive => {
                // the oldest waiter of either kind, one at a time
                b.assert_state(0, true, 1, 2);
                b.expect_log(&[&["R1"]]);
                r1.open();
                b.expect_log(&[&["R1"], &["W2"]]);
                w2.open();
                b.expect_log(&[&["R1"], &["W2"], &["R3"]]);
                assert!(b.lock.is_locked_exclusive());
                r3.open();
                b.expect_log(&[&["R1"], &["W2"], &["R3"], &["W4"]]);
                w4.open();
            }
        }
    });
}

/// The last reader releases while writers (and, where they queue, readers)
/// wait: the oldest writer goes.
fn last_reader_releases_with_writers_waiting<P: Policy>()
where
    P::Shared<()>: Sync,
{
    if P::KIND == PolicyKind::Exclusive {
        return; // no shared holders under Exclusive (row "—" of the table)
    }
    bench::<P>(|b| {
        let r0 = b.lock.read();
        let r1 = b.admitted(Read, "R1");
        let w2 = b.queued(Write, "W2");
        let w3 = b.queued(Write, "W3");
        // under WP/PF a reader arriving now queues behind the writers
        let r4 = if P::KIND == PolicyKind::ReaderPreferring { None } else { Some(b.queued(Read, "R4")) };
        let qr = r4.is_some() as usize;
        r1.open();
        b.wait_state("R1 gone", |s| s.readers == 1);
        b.assert_state(1, false, qr, 2);
        drop(r0);
        b.assert_state(0, true, qr, 1);
        b.expect_log(&[&["R1"], &["W2"]]);
        w2.open();
        match P::KIND {
            // PhaseFair: a writer's release opens a read phase before W3
            PolicyKind::PhaseFair => {
                b.expect_log(&[&["R1"], &["W2"], &["R4"]]);
                b.assert_state(1, false, 0, 1);
                r4.unwrap().open();
                b.expect_log(&[&["R1"], &["W2"], &["R4"], &["W3"]]);
            }
            PolicyKind::WriterPreferring => {
                b.expect_log(&[&["R1"], &["W2"], &["W3"]]);
                b.assert_state(0, true, 1, 0);
                let r4 = r4.unwrap();
                w3.open();
                b.expect_log(&[&["R1"], &["W2"], &["W3"], &["R4"]]);
                r4.open();
            }
            _ => b.expect_log(&[&["R1"], &["W2"], &["W3"]]),
        }
        w3.open();
    });
}

/// Writers are admitted in arrival order, under every policy.
fn writers_are_served_fifo<P: Policy>()
where
    P::Shared<()>: Sync,
{
    bench::<P>(|b| {
        let w0 = b.lock.write();
        let names = ["W1", "W2", "W3", "W4", "W5"];
        let gates: Vec<_> = names.iter().map(|n| b.queued(Write, n)).collect();
        drop(w0);
        for (i, g) in gates.iter().enumerate() {
            b.wait_log(i + 1);
            b.assert_state(0, true, 0, names.len() - i - 1);
            g.open();
        }
        b.wait_log(names.len());
        assert_eq!(b.log(), names);
    });
}

/// `try_write` fails while any writer is queued, including just after a
/// release that handed the lock to a waiter (which may not have run yet).
fn try_write_never_jumps_the_queue<P: Policy>()
where
    P::Shared<()>: Sync,
{
    bench::<P>(|b| {
        let w0 = b.lock.write();
        let w1 = b.queued(Write, "W1");
        assert!(b.lock.try_write().is_none());
        drop(w0);
        // handed over in the release itself
        assert!(b.lock.try_write().is_none());
        assert!(b.lock.try_read().is_none());
        b.assert_state(0, true, 0, 0);
        w1.open();
        b.expect_log(&[&["W1"]]);

        let r0 = b.lock.read();
        let w2 = b.queued(Write, "W2");
        assert!(b.lock.try_write().is_none());
        drop(r0);
        assert!(b.lock.try_write().is_none());
        b.assert_state(0, true, 0, 0);
        w2.open();
        b.expect_log(&[&["W1"], &["W2"]]);

        // a reader handed the lock by a writer's release
        let w0 = b.lock.write();
        let r3 = b.queued(Read, "R3");
        drop(w0);
        assert!(b.lock.try_write().is_none());
        r3.open();
    });
    // once everyone is gone it succeeds
    let lock = RwLock::<(), P>::new(());
    assert!(lock.try_write().is_some());
}

/// `try_read` with readers holding and a writer waiting: succeeds only
/// under ReaderPreferring (a blocking read would be admitted at once).
fn try_read_respects_waiting_writers<P: Policy>()
where
    P::Shared<()>: Sync,
{
    bench::<P>(|b| {
        let r0 = b.lock.read();
        if P::KIND != PolicyKind::Exclusive {
            let r = b.lock.try_read();
            assert!(r.is_some(), "nobody waits: readers share");
        }
        let w1 = b.queued(Write, "W1");
        let got = b.lock.try_read();
        assert_eq!(got.is_some(), P::KIND == PolicyKind::ReaderPreferring);
        drop(got);
        let snap = b.snap();
        assert_eq!((snap.queued_readers, snap.queued_writers), (0, 1), "a try_read leaves no trace");
        drop(r0);
        w1.open();
        b.expect_log(&[&["W1"]]);
    });
}

/// A writer that times out leaves no trace: readers queued behind it (and
/// held back only by it) are admitted at once, while the first reader
/// still holds the lock.
fn timed_out_writer_releases_readers_behind_it<P: Policy>()
where
    P::Shared<()>: Sync,
{
    // The writer's timeout must outlast queueing the reader behind it; if
    // this machine was too slow for that, retry with a longer timeout.
    let mut timeout = Duration::from_millis(50);
    for _ in 0..8 {
        if timed_out_writer_attempt::<P>(timeout) {
            return;
        }
        timeout *= 2;
    }
    panic!("could not queue a reader behind the timed writer in time");
}

fn timed_out_writer_attempt<P: Policy>(timeout: Duration) -> bool
where
    P::Shared<()>: Sync,
{
    let lock = RwLock::<(), P>::new(());
    let writer_done = AtomicBool::new(false);
    let ok = thread::scope(|s| {
        let r0 = lock.read();
        s.spawn(|| {
            let start = Instant::now();
            let got = lock.try_write_for(timeout);
            assert!(got.is_none(), "the reader still holds the lock");
            assert!(start.elapsed() >= timeout, "gave up early");
            writer_done.store(true, Ordering::SeqCst);
        });
        wait_until(&lock, "W1 queued", |s| s.queued_writers == 1);
        let reader_in = AtomicBool::new(false);
        let release = Gate::default();
        thread::scope(|s2| {
            s2.spawn(|| {
                let g = lock.read();
                reader_in.store(true, Ordering::SeqCst);
                release.wait();
                drop(g);
            });
            if P::KIND == PolicyKind::ReaderPreferring {
                // admitted at once, waiting writer or not
                while !reader_in.load(Ordering::SeqCst) {
                    thread::yield_now();
                }
            } else {
                // Queued behind the writer, unless the writer already left.
                let start = Instant::now();
                loop {
                    let st = lock.raw().state_snapshot();
                    if st.queued_readers == 1 && st.queued_writers == 1 {
                        break;
                    }
                    if writer_done.load(Ordering::SeqCst) {
                        release.open();
                        drop(r0);
                        return false;
                    }
                    assert!(start.elapsed() < PATIENCE, "{st:?}");
                    thread::yield_now();
                }
            }
            // The writer gives up...
            wait_flag(&writer_done);
            let st = lock.raw().state_snapshot();
            assert_eq!(st.queued_writers, 0, "the timed-out writer left no trace: {st:?}");
            if P::KIND == PolicyKind::Exclusive {
                // ...and the reader, exclusive, waits for r0 alone.
                assert_eq!(st, StateSnapshot { readers: 0, writer: true, queued_readers: 1, queued_writers: 0 });
                assert!(!reader_in.load(Ordering::SeqCst));
                drop(r0);
                wait_flag(&reader_in);
            } else {
                // ...and the reader behind it is admitted at once, beside r0.
                wait_flag(&reader_in);
                let st = lock.raw().state_snapshot();
                assert_eq!(st, StateSnapshot { readers: 2, writer: false, queued_readers: 0, queued_writers: 0 });
                drop(r0);
            }
            release.open();
            true
        })
    });
    assert!(!lock.is_locked());
    ok
}

fn wait_flag(flag: &AtomicBool) {
    let start = Instant::now();
    while !flag.load(Ordering::SeqCst) {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for a flag");
        thread::yield_now();
    }
}

fn wait_until<P: Policy>(lock: &RwLock<(), P>, what: &str, cond: impl Fn(&StateSnapshot) -> bool) {
    let start = Instant::now();
    loop {
        let s = lock.raw().state_snapshot();
        if cond(&s) {
            return;
        }
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}: {s:?}");
        thread::yield_now();
    }
}

/// Downgrade with a reader and a writer waiting (queue: R1 W2): the reader
/// joins under ReaderPreferring and PhaseFair, stays blocked under
/// WriterPreferring; under Exclusive the lock stays exclusive. No writer
/// gets in between in any case.
fn downgrade_admits_readers_per_policy<P: Policy>()
where
    P::Shared<()>: Sync,
{
    bench::<P>(|b| {
        let w0 = b.lock.write();
        let r1 = b.queued(Read, "R1");
        let w2 = b.queued(Write, "W2");
        let g = RwLockWriteGuard::downgrade(w0);
        match P::KIND {
            PolicyKind::ReaderPreferring | PolicyKind::PhaseFair => {
                b.assert_state(2, false, 0, 1);
                b.expect_log(&[&["R1"]]);
                drop(g);
                r1.open();
                b.expect_log(&[&["R1"], &["W2"]]);
            }
            PolicyKind::WriterPreferring => {
                b.assert_state(1, false, 1, 1);
                assert!(b.lock.try_read().is_none());
                drop(g);
                b.assert_state(0, true, 1, 0);
                w2.open();
                b.expect_log(&[&["W2"], &["R1"]]);
                r1.open();
            }
            PolicyKind::Exclusive => {
                assert!(b.lock.is_locked_exclusive());
                b.assert_state(0, true, 1, 1);
                drop(g);
                b.expect_log(&[&["R1"]]);
                assert!(b.lock.is_locked_exclusive());
                r1.open();
                b.expect_log(&[&["R1"], &["W2"]]);
            }
        }
        w2.open();
        r1.open();
    });
}

/// Downgrade with only readers waiting: they join (WriterPreferring too,
/// since no writer waits), except under Exclusive.
fn downgrade_without_waiting_writer<P: Policy>()
where
    P::Shared<()>: Sync,
{
    bench::<P>(|b| {
        let w0 = b.lock.write();
        let r1 = b.queued(Read, "R1");
        let r2 = b.queued(Read, "R2");
        let g = RwLockWriteGuard::downgrade(w0);
        if P::KIND == PolicyKind::Exclusive {
            b.assert_state(0, true, 2, 0);
            drop(g);
            b.expect_log(&[&["R1"]]);
            r1.open();
            b.expect_log(&[&["R1"], &["R2"]]);
        } else {
            b.assert_state(3, false, 0, 0);
            b.expect_log(&[&["R1", "R2"]]);
            drop(g);
            r1.open();
        }
        r2.open();
    });
}

//! Deterministic poll tests of the async front (docs/SEMANTICS.md §2 and §4).
//!
//! Every future is polled by hand with its own counting waker, so each step
//! checks exactly who is `Pending`, who is `Ready` and who was woken. Every
//! scenario is a generic function instantiated once per policy; the
//! expectations branch on `P::KIND` where the policies differ.

use std::cell::Cell;
use std::future::Future;
use std::mem::size_of;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Wake, Waker};
use std::thread;
use std::time::Duration;

use rwlocker::engine::StateSnapshot;
use rwlocker::{
    AsyncRwLock, AsyncRwLockReadFuture, AsyncRwLockReadGuard, AsyncRwLockWriteFuture, AsyncRwLockWriteGuard,
    OwnedAsyncRwLockReadFuture, OwnedAsyncRwLockReadGuard, OwnedAsyncRwLockWriteFuture, OwnedAsyncRwLockWriteGuard,
    Policy, PolicyKind, RawAcquire,
};

// Exact-order tests: they run against the strict hand-off mode
// (`Strict<P>`, docs/SEMANTICS.md §2a), whose order is the policy table.
type PhaseFair = rwlocker::Strict<rwlocker::PhaseFair>;
type ReaderPreferring = rwlocker::Strict<rwlocker::ReaderPreferring>;
type WriterPreferring = rwlocker::Strict<rwlocker::WriterPreferring>;
type Exclusive = rwlocker::Strict<rwlocker::Exclusive>;
type AsyncMutex<T> = rwlocker::AsyncRwLock<T, Exclusive>;

use PolicyKind::{Exclusive as EX, PhaseFair as PF, ReaderPreferring as RP, WriterPreferring as WP};

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// Counts the wake-ups of one task.
#[derive(Default)]
struct Probe {
    wakes: AtomicUsize,
}

impl Wake for Probe {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
    }
}

/// A future polled by hand, with a counting waker of its own.
struct Task<F: Future> {
    fut: Pin<Box<F>>,
    probe: Arc<Probe>,
    /// Wake-ups seen at the last poll.
    seen: usize,
}

impl<F: Future> Task<F> {
    fn new(fut: F) -> Self {
        Task { fut: Box::pin(fut), probe: Arc::default(), seen: 0 }
    }

    fn poll(&mut self) -> Poll<F::Output> {
        self.seen = self.probe.wakes.load(SeqCst);
        let waker = Waker::from(self.probe.clone());
        self.fut.as_mut().poll(&mut Context::from_waker(&waker))
    }

    /// Woken since the last poll.
    fn woken(&self) -> bool {
        self.probe.wakes.load(SeqCst) > self.seen
    }

    #[track_caller]
    fn pending(&mut self) {
        assert!(self.poll().is_pending(), "expected Pending");
    }

    #[track_caller]
    fn ready(&mut self) -> F::Output {
        match self.poll() {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("expected Ready"),
        }
    }

    /// Was granted: woken, and `Ready` on the next poll.
    #[track_caller]
    fn granted(&mut self) -> F::Output {
        assert!(self.woken(), "a granted waiter must be woken");
        self.ready()
    }

    /// Still waiting: not woken, and `Pending` again.
    #[track_caller]
    fn waiting(&mut self) {
        assert!(!self.woken(), "a waiter that was not granted must not be woken");
        self.pending();
    }

    /// Drops the future (cancellation) and checks that the lock kept no
    /// clone of its waker: a dropped future leaves no trace.
    #[track_caller]
    fn cancel(self) {
        let Task { fut, probe, .. } = self;
        drop(fut);
        assert_eq!(Arc::strong_count(&probe), 1, "the dropped future left its waker in the lock");
    }
}

/// `first` is granted while `second` still waits; once `first` releases,
/// `second` is granted (and releases in turn).
#[track_caller]
fn in_order<A: Future, B: Future>(first: &mut Task<A>, second: &mut Task<B>) {
    let g = first.granted();
    second.waiting();
    drop(g);
    drop(second.granted());
}

fn st(readers: u32, writer: bool, queued_readers: usize, queued_writers: usize) -> StateSnapshot {
    StateSnapshot { readers, writer, queued_readers, queued_writers }
}

/// The expected snapshot with `readers` read holders: under `Exclusive` a
/// read is exclusive, so it shows as the writer bit.
fn held<P: Policy>(readers: u32, writer: bool, queued_readers: usize, queued_writers: usize) -> StateSnapshot {
    if P::KIND == EX && readers > 0 {
        assert!(readers == 1 && !writer, "test bug: Exclusive holds one party at a time");
        st(0, true, queued_readers, queued_writers)
    } else {
        st(readers, writer, queued_readers, queued_writers)
    }
}

#[track_caller]
fn check<T: ?Sized, P: Policy>(lock: &AsyncRwLock<T, P>, expected: StateSnapshot) {
    assert_eq!(lock.raw().state_snapshot(), expected, "{:?}", P::KIND);
}

/// Nobody holds or waits, and `try_write` succeeds (no permit was lost).
#[track_caller]
fn assert_free<T: ?Sized, P: Policy>(lock: &AsyncRwLock<T, P>) {
    check(lock, st(0, false, 0, 0));
    assert!(!lock.is_locked());
    drop(lock.try_write().expect("the lock must end free"));
    assert!(!lock.is_locked());
}

/// Runs `f` on a thread; fails if it does not finish (a deadlock).
fn no_deadlock(f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let t = thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(e) = t.join() {
                std::panic::resume_unwind(e)
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("deadlock: the scenario did not finish"),
    }
}

macro_rules! per_policy {
    ($($name:ident),* $(,)?) => {
        mod reader_preferring {
            $(#[test] fn $name() { super::$name::<crate::ReaderPreferring>() })*
        }
        mod writer_preferring {
            $(#[test] fn $name() { super::$name::<crate::WriterPreferring>() })*
        }
        mod phase_fair {
            $(#[test] fn $name() { super::$name::<crate::PhaseFair>() })*
        }
        mod exclusive {
            $(#[test] fn $name() { super::$name::<crate::Exclusive>() })*
        }
    };
}

per_policy!(
    reader_arrives_while_writer_holds,
    reader_arrives_while_writer_waits,
    writer_release_with_both_kinds_waiting,
    last_reader_release_admits_oldest_writer,
    writers_are_fifo_in_first_poll_order,
    try_calls_never_jump_the_queue,
    unpolled_future_is_not_queued,
    downgrade_admits_readers_per_policy,
    downgrade_without_waiting_writer,
    owned_downgrade_admits_readers_per_policy,
    drop_before_grant_leaves_no_trace,
    drop_queued_reader_before_grant,
    drop_after_grant_passes_it_on,
    drop_granted_writer_starts_read_phase,
    drop_queued_writer_admits_readers_behind_it,
    drop_queued_writer_while_writer_holds,
    polled_once_then_dropped,
    owned_futures_cancel,
    waker_wake_calls_try_locks,
    waker_wake_polls_inline_and_releases,
    waker_drop_on_cancel_releases_guard,
    waker_drop_on_replace_releases_guard,
    newest_waker_is_woken,
);

// ---------------------------------------------------------------------------
// docs/SEMANTICS.md §2, row by row
// ---------------------------------------------------------------------------

/// Column "reader arrives", a writer holds: every policy queues the reader.
fn reader_arrives_while_writer_holds<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let mut w = lock.try_write().unwrap();
    *w = 7;
    let mut r = Task::new(lock.read());
    r.pending();
    assert!(lock.try_read().is_none());
    check(&lock, st(0, true, 1, 0));
    drop(w);
    let g = r.granted();
    assert_eq!(*g, 7);
    check(&lock, held::<P>(1, false, 0, 0));
    drop(g);
    assert_free(&lock);
}

/// Column "reader arrives", a reader holds and a writer waits: only
/// `ReaderPreferring` lets the new reader in.
fn reader_arrives_while_writer_waits<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let r1 = lock.try_read().unwrap();
    let mut w = Task::new(lock.write());
    w.pending();
    let mut r2 = Task::new(lock.read());
    if P::KIND == RP {
        let g2 = r2.ready();
        check(&lock, st(2, false, 0, 1));
        drop(lock.try_read().expect("ReaderPreferring ignores waiting writers"));
        drop(r1);
        w.waiting();
        drop(g2);
        let mut wg = w.granted();
        *wg += 1;
        drop(wg);
    } else {
        r2.pending();
        assert!(lock.try_read().is_none());
        check(&lock, held::<P>(1, false, 1, 1));
        drop(r1);
        let mut wg = w.granted();
        r2.waiting();
        check(&lock, st(0, true, 1, 0));
        *wg += 1;
        drop(wg);
        let g2 = r2.granted();
        assert_eq!(*g2, 1);
        drop(g2);
    }
    assert_free(&lock);
}

/// Column "writer releases, both kinds waiting", plus what follows it.
fn writer_release_with_both_kinds_waiting<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let w0 = lock.try_write().unwrap();
    let mut r1 = Task::new(lock.read());
    let mut w1 = Task::new(lock.write());
    let mut r2 = Task::new(lock.read());
    let mut w2 = Task::new(lock.write());
    let mut r3 = Task::new(lock.read());
    r1.pending();
    w1.pending();
    r2.pending();
    w2.pending();
    r3.pending();
    check(&lock, st(0, true, 3, 2));
    drop(w0);
    match P::KIND {
        RP => {
            // All waiting readers; writers keep waiting.
            check(&lock, st(3, false, 0, 2));
            let gs = [r1.granted(), r2.granted(), r3.granted()];
            w1.waiting();
            w2.waiting();
            // Late readers get in too (waiting writers are ignored).
            let late = lock.try_read().expect("ReaderPreferring: no writer holds");
            let mut r4 = Task::new(lock.read());
            let g4 = r4.ready();
            drop(gs);
            drop(late);
            w1.waiting();
            drop(g4);
            // The last reader admits the oldest writer only.
            in_order(&mut w1, &mut w2);
        }
        WP => {
            // The oldest writer; readers wait while any writer waits.
            check(&lock, st(0, true, 3, 1));
            let g = w1.granted();
            r1.waiting();
            r2.waiting();
            r3.waiting();
            w2.waiting();
            let mut r4 = Task::new(lock.read());
            r4.pending();
            drop(g);
            check(&lock, st(0, true, 4, 0));
            let g = w2.granted();
            r1.waiting();
            r4.waiting();
            drop(g);
            check(&lock, st(4, false, 0, 0));
            drop([r1.granted(), r2.granted(), r3.granted(), r4.granted()]);
        }
        PF => {
            // A read phase for every reader waiting now; the writer follows.
            check(&lock, st(3, false, 0, 2));
            let [g1, g2, g3] = [r1.granted(), r2.granted(), r3.granted()];
            w1.waiting();
            w2.waiting();
            // A late reader does not join the running phase.
            assert!(lock.try_read().is_none());
            let mut r4 = Task::new(lock.read());
            r4.pending();
            check(&lock, st(3, false, 1, 2));
            drop(g1);
            drop(g2);
            w1.waiting();
            drop(g3);
            let g = w1.granted();
            r4.waiting();
            w2.waiting();
            // W1 releases with R4 and W2 waiting: R4's phase, then W2.
            drop(g);
            check(&lock, st(1, false, 0, 1));
            let g4 = r4.granted();
            w2.waiting();
            drop(g4);
            drop(w2.granted());
        }
        EX => {
            // Strict FIFO over both kinds, one at a time.
            check(&lock, st(0, true, 2, 2));
            let g = r1.granted();
            w1.waiting();
            r2.waiting();
            drop(g);
            let g = w1.granted();
            r2.waiting();
            w2.waiting();
            drop(g);
            let g = r2.granted();
            w2.waiting();
            r3.waiting();
            drop(g);
            in_order(&mut w2, &mut r3);
        }
    }
    assert_free(&lock);
}

/// Column "last reader releases, writers waiting": the oldest writer.
fn last_reader_release_admits_oldest_writer<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let r1 = lock.try_read().unwrap();
    let r2 = if P::KIND == EX { None } else { Some(lock.try_read().unwrap()) };
    let mut w1 = Task::new(lock.write());
    let mut w2 = Task::new(lock.write());
    w1.pending();
    w2.pending();
    // A reader queued behind the writers (all but ReaderPreferring queue it).
    let mut r3 = Task::new(lock.read());
    let g3 = if P::KIND == RP { Some(r3.ready()) } else { None };
    if P::KIND != RP {
        r3.pending();
    }
    drop(r1);
    if P::KIND != EX {
        w1.waiting();
        w2.waiting();
        drop(r2);
    }
    if P::KIND == RP {
        w1.waiting();
        drop(g3);
    }
    let g = w1.granted();
    w2.waiting();
    if P::KIND != RP {
        r3.waiting();
    }
    drop(g);
    match P::KIND {
        // Writer releases with both waiting: WP the writer, EX the oldest
        // (W2), PF the reader.
        WP | EX => {
            in_order(&mut w2, &mut r3);
        }
        PF => {
            in_order(&mut r3, &mut w2);
        }
        RP => drop(w2.granted()),
    }
    assert_free(&lock);
}

/// Writers are served in arrival order, and arrival is the first `Pending`
/// poll (futures polled in another order than created; async-lock#91).
fn writers_are_fifo_in_first_poll_order<P: Policy>() {
    let lock = AsyncRwLock::<Vec<u32>, P>::new(Vec::new());
    let w0 = lock.try_write().unwrap();
    let mut ws: Vec<_> = (0..4).map(|_| Task::new(lock.write())).collect();
    // Arrival order: 2, 0, 3, 1.
    for &i in &[2, 0, 3, 1] {
        ws[i].pending();
    }
    check(&lock, st(0, true, 0, 4));
    drop(w0);
    for (step, &i) in [2, 0, 3, 1].iter().enumerate() {
        let mut g = ws[i].granted();
        g.push(i as u32);
        for (j, w) in ws.iter_mut().enumerate() {
            if j != i && ![2, 0, 3, 1][..step].contains(&j) {
                w.waiting();
            }
        }
        drop(g);
    }
    assert_eq!(*lock.try_read().unwrap(), vec![2, 0, 3, 1]);
    assert_free(&lock);
}

/// `try_read` / `try_write` succeed exactly when an acquire would be
/// admitted at once, and never overtake a waiter served first.
fn try_calls_never_jump_the_queue<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    // A writer holds, a writer waits.
    let w0 = lock.try_write().unwrap();
    let mut w1 = Task::new(lock.write());
    w1.pending();
    assert!(lock.try_write().is_none());
    assert!(lock.try_read().is_none());
    // Released and handed to W1, which has not run yet: still not free.
    drop(w0);
    assert!(lock.is_locked_exclusive());
    assert!(lock.try_write().is_none());
    assert!(lock.try_read().is_none());
    drop(w1.granted());
    assert_free(&lock);

    // Readers hold, a writer waits.
    let r0 = lock.try_read().unwrap();
    let mut w2 = Task::new(lock.write());
    w2.pending();
    assert!(lock.try_write().is_none());
    assert_eq!(lock.try_read().is_some(), P::KIND == RP, "try_read while a writer waits behind a reader");
    drop(r0);
    // Handed to W2.
    assert!(lock.try_write().is_none());
    assert!(lock.try_read().is_none());
    drop(w2.granted());

    // A read hand-off: the lock is held by the granted reader.
    let w3 = lock.try_write().unwrap();
    let mut r1 = Task::new(lock.read());
    r1.pending();
    drop(w3);
    assert!(lock.try_write().is_none());
    // Nobody waits any more: readers may join unless reads are exclusive.
    assert_eq!(lock.try_read().is_some(), P::KIND != EX);
    drop(r1.granted());
    assert_free(&lock);
}

/// A future that was created but never polled is not in the queue.
fn unpolled_future_is_not_queued<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let w0 = lock.try_write().unwrap();
    let mut early_w = Task::new(lock.write());
    let mut early_r = Task::new(lock.read());
    let mut w1 = Task::new(lock.write());
    w1.pending();
    check(&lock, st(0, true, 0, 1));
    // No reader is waiting: the release goes to W1 (no read phase either).
    drop(w0);
    assert!(!early_w.woken() && !early_r.woken());
    let g1 = w1.granted();
    // Now they arrive, behind W1.
    early_w.pending();
    early_r.pending();
    check(&lock, st(0, true, 1, 1));
    drop(g1);
    if matches!(P::KIND, RP | PF) {
        // A writer's release with both kinds waiting: the reader first.
        in_order(&mut early_r, &mut early_w);
    } else {
        // WP: the writer first; EX: FIFO, and the writer arrived first.
        in_order(&mut early_w, &mut early_r);
    }
    // Created and dropped unpolled: no effect at all.
    let w2 = lock.try_write().unwrap();
    Task::new(lock.write()).cancel();
    Task::new(lock.read()).cancel();
    check(&lock, st(0, true, 0, 0));
    drop(w2);
    assert_free(&lock);
}

/// Downgrade: readers waiting behind the writer join under RP and PF; under
/// WP they stay out while a writer waits; under Exclusive it stays exclusive.
fn downgrade_admits_readers_per_policy<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let mut w = Task::new(lock.write());
    let mut g = w.ready();
    *g = 5;
    let mut r1 = Task::new(lock.read());
    let mut w2 = Task::new(lock.write());
    let mut r2 = Task::new(lock.read());
    r1.pending();
    w2.pending();
    r2.pending();
    let d = AsyncRwLockWriteGuard::downgrade(g);
    assert_eq!(*d, 5);
    match P::KIND {
        RP | PF => {
            check(&lock, st(3, false, 0, 1));
            let (g1, g2) = (r1.granted(), r2.granted());
            assert_eq!((*g1, *g2), (5, 5));
            w2.waiting();
            let mut r3 = Task::new(lock.read());
            // A late reader: RP lets it in, PF queues it behind W2.
            let g3 = if P::KIND == RP { Some(r3.ready()) } else { None };
            if P::KIND == PF {
                r3.pending();
            }
            drop((d, g1, g2, g3));
            let g = w2.granted();
            drop(g);
            if P::KIND == PF {
                drop(r3.granted());
            }
        }
        WP => {
            check(&lock, st(1, false, 2, 1));
            r1.waiting();
            r2.waiting();
            assert!(!lock.is_locked_exclusive());
            drop(d);
            let g = w2.granted();
            r1.waiting();
            drop(g);
            drop((r1.granted(), r2.granted()));
        }
        EX => {
            assert!(lock.is_locked_exclusive());
            check(&lock, st(0, true, 2, 1));
            r1.waiting();
            drop(d);
            let g = r1.granted();
            w2.waiting();
            drop(g);
            in_order(&mut w2, &mut r2);
        }
    }
    assert_free(&lock);
}

/// Downgrade with only readers waiting: every shared policy admits them.
fn downgrade_without_waiting_writer<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let g = lock.try_write().unwrap();
    let mut r1 = Task::new(lock.read());
    let mut r2 = Task::new(lock.read());
    r1.pending();
    r2.pending();
    let d = AsyncRwLockWriteGuard::downgrade(g);
    if P::KIND == EX {
        check(&lock, st(0, true, 2, 0));
        r1.waiting();
        drop(d);
        let g1 = r1.granted();
        r2.waiting();
        drop(g1);
        drop(r2.granted());
    } else {
        check(&lock, st(3, false, 0, 0));
        drop((r1.granted(), r2.granted(), d));
    }
    assert_free(&lock);
}

/// The owned guards downgrade under the same rules.
fn owned_downgrade_admits_readers_per_policy<P: Policy>() {
    let lock = Arc::new(AsyncRwLock::<u32, P>::new(0));
    let mut w = Task::new(lock.clone().write_owned());
    let mut g = w.ready();
    *g = 9;
    let mut r1 = Task::new(lock.clone().read_owned());
    let mut w2 = Task::new(lock.clone().write_owned());
    r1.pending();
    w2.pending();
    let d: OwnedAsyncRwLockReadGuard<u32, P> = OwnedAsyncRwLockWriteGuard::downgrade(g);
    assert_eq!(*d, 9);
    let admitted = matches!(P::KIND, RP | PF);
    if admitted {
        check(&lock, st(2, false, 0, 1));
        let g1 = r1.granted();
        assert_eq!(*g1, 9);
        w2.waiting();
        drop(d);
        w2.waiting();
        drop(g1);
        drop(w2.granted());
    } else {
        check(&lock, held::<P>(1, false, 1, 1));
        assert_eq!(lock.is_locked_exclusive(), P::KIND == EX);
        r1.waiting();
        drop(d);
        // WP: the waiting writer; EX: FIFO, and R1 came first.
        if P::KIND == WP {
            in_order(&mut w2, &mut r1);
        } else {
            in_order(&mut r1, &mut w2);
        }
    }
    assert_eq!(Arc::strong_count(&lock), 1, "owned guards and futures give their Arc back");
    assert_free(&lock);
}

// ---------------------------------------------------------------------------
// docs/SEMANTICS.md §4: cancellation
// ---------------------------------------------------------------------------

/// A queued writer dropped before its grant leaves no trace: the next
/// waiters are served as if it had never come.
fn drop_before_grant_leaves_no_trace<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let w0 = lock.try_write().unwrap();
    let mut w1 = Task::new(lock.write());
    let mut r1 = Task::new(lock.read());
    let mut w2 = Task::new(lock.write());
    w1.pending();
    r1.pending();
    w2.pending();
    check(&lock, st(0, true, 1, 2));
    w1.cancel();
    check(&lock, st(0, true, 1, 1));
    r1.waiting();
    w2.waiting();
    drop(w0);
    match P::KIND {
        // The writer: WP. The reader: RP and PF (read phase) and EX (FIFO).
        WP => {
            in_order(&mut w2, &mut r1);
        }
        _ => {
            in_order(&mut r1, &mut w2);
        }
    }
    assert_free(&lock);
}

/// A queued reader dropped before its grant: the release goes to the
/// writer (under PF no empty read phase is opened).
fn drop_queued_reader_before_grant<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let w0 = lock.try_write().unwrap();
    let mut r1 = Task::new(lock.read());
    let mut w1 = Task::new(lock.write());
    r1.pending();
    w1.pending();
    r1.cancel();
    check(&lock, st(0, true, 0, 1));
    w1.waiting();
    drop(w0);
    check(&lock, st(0, true, 0, 0));
    drop(w1.granted());
    assert_free(&lock);
}

/// A waiter granted the lock and dropped before its next poll passes the
/// grant on, exactly as if it had run and released.
fn drop_after_grant_passes_it_on<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    // Writers only: W1 is granted, dropped; W2 gets the lock.
    let w0 = lock.try_write().unwrap();
    let mut w1 = Task::new(lock.write());
    let mut w2 = Task::new(lock.write());
    w1.pending();
    w2.pending();
    drop(w0);
    assert!(w1.woken());
    w2.waiting();
    w1.cancel();
    let g = w2.granted();
    check(&lock, st(0, true, 0, 0));
    drop(g);
    assert_free(&lock);

    // Both kinds: whoever is granted first is dropped; the other one goes.
    let w0 = lock.try_write().unwrap();
    let mut r = Task::new(lock.read());
    let mut w = Task::new(lock.write());
    r.pending();
    w.pending();
    drop(w0);
    if P::KIND == WP {
        assert!(w.woken());
        r.waiting();
        w.cancel();
        drop(r.granted());
    } else {
        assert!(r.woken());
        w.waiting();
        r.cancel();
        drop(w.granted());
    }
    assert_free(&lock);
}

/// A granted writer that is dropped releases as a writer: under PF the
/// readers waiting get a read phase ahead of the next writer.
fn drop_granted_writer_starts_read_phase<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let r0 = lock.try_read().unwrap();
    let mut w1 = Task::new(lock.write());
    let mut r1 = Task::new(lock.read());
    let mut w2 = Task::new(lock.write());
    w1.pending();
    let g1 = if P::KIND == RP { Some(r1.ready()) } else { None };
    if P::KIND != RP {
        r1.pending();
    }
    w2.pending();
    drop(r0);
    if P::KIND == RP {
        w1.waiting();
        drop(g1);
    }
    // W1 is granted; it is dropped before it runs.
    assert!(w1.woken());
    w2.waiting();
    w1.cancel();
    match P::KIND {
        PF => {
            check(&lock, st(1, false, 0, 1));
            in_order(&mut r1, &mut w2);
        }
        WP => {
            check(&lock, st(0, true, 1, 0));
            in_order(&mut w2, &mut r1);
        }
        EX => {
            // FIFO: R1 arrived before W2.
            in_order(&mut r1, &mut w2);
        }
        RP => drop(w2.granted()),
    }
    assert_free(&lock);
}

/// Readers queued behind a dropped writer are admitted at once when the
/// policy allows it (readers hold and no other writer waits).
fn drop_queued_writer_admits_readers_behind_it<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let r0 = lock.try_read().unwrap();
    let mut w1 = Task::new(lock.write());
    let mut r1 = Task::new(lock.read());
    let mut r2 = Task::new(lock.read());
    w1.pending();
    match P::KIND {
        RP => {
            // Never held back in the first place.
            let gs = (r1.ready(), r2.ready());
            w1.cancel();
            check(&lock, st(3, false, 0, 0));
            drop((r0, gs));
        }
        WP | PF => {
            r1.pending();
            r2.pending();
            check(&lock, st(1, false, 2, 1));
            w1.cancel();
            check(&lock, st(3, false, 0, 0));
            drop((r0, r1.granted(), r2.granted()));
        }
        EX => {
            r1.pending();
            r2.pending();
            w1.cancel();
            // Still exclusive: the next in line waits for R0.
            r1.waiting();
            r2.waiting();
            check(&lock, st(0, true, 2, 0));
            drop(r0);
            in_order(&mut r1, &mut r2);
        }
    }
    assert_free(&lock);

    // With a second writer behind the readers, they stay (WP, PF).
    if matches!(P::KIND, WP | PF) {
        let r0 = lock.try_read().unwrap();
        let mut w1 = Task::new(lock.write());
        let mut r1 = Task::new(lock.read());
        let mut w2 = Task::new(lock.write());
        w1.pending();
        r1.pending();
        w2.pending();
        w1.cancel();
        r1.waiting();
        w2.waiting();
        check(&lock, st(1, false, 1, 1));
        drop(r0);
        in_order(&mut w2, &mut r1);
        assert_free(&lock);
    }
}

/// A dropped writer while a writer holds: the readers behind it cannot
/// enter yet; the holder's release serves them.
fn drop_queued_writer_while_writer_holds<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let w0 = lock.try_write().unwrap();
    let mut w1 = Task::new(lock.write());
    let mut r1 = Task::new(lock.read());
    w1.pending();
    r1.pending();
    w1.cancel();
    r1.waiting();
    check(&lock, st(0, true, 1, 0));
    drop(w0);
    drop(r1.granted());
    assert_free(&lock);
}

/// Each kind of future polled once (queued) and dropped: no trace, and the
/// holder's release then frees the lock.
fn polled_once_then_dropped<P: Policy>() {
    let lock = Arc::new(AsyncRwLock::<u32, P>::new(0));
    let w0 = lock.try_write().unwrap();
    let mut a = Task::new(lock.read());
    let mut b = Task::new(lock.write());
    let mut c = Task::new(lock.clone().read_owned());
    let mut d = Task::new(lock.clone().write_owned());
    a.pending();
    b.pending();
    c.pending();
    d.pending();
    check(&lock, st(0, true, 2, 2));
    d.cancel();
    a.cancel();
    c.cancel();
    b.cancel();
    check(&lock, st(0, true, 0, 0));
    drop(w0);
    assert_eq!(Arc::strong_count(&lock), 1);
    assert_free(&lock);

    // The same through `RawAcquire` (cancel, then drop).
    let w0 = lock.try_write().unwrap();
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut acq = RawAcquire::read(lock.raw());
    assert!(acq.poll(&mut cx).is_pending());
    assert!(acq.is_queued());
    acq.cancel();
    assert!(!acq.is_queued());
    check(&lock, st(0, true, 0, 0));
    drop(w0);
    assert_free(&lock);
}

/// Owned futures: dropped before and after the grant.
fn owned_futures_cancel<P: Policy>() {
    let lock = Arc::new(AsyncRwLock::<u32, P>::new(0));
    let w0 = lock.try_write().unwrap();
    let mut w1 = Task::new(lock.clone().write_owned());
    let mut r1 = Task::new(lock.clone().read_owned());
    let mut w2 = Task::new(lock.clone().write_owned());
    w1.pending();
    r1.pending();
    w2.pending();
    w1.cancel();
    check(&lock, st(0, true, 1, 1));
    drop(w0);
    // W2 (WP) or R1 (the others) is granted, and dropped unpolled.
    if P::KIND == WP {
        assert!(w2.woken());
        r1.waiting();
        w2.cancel();
        drop(r1.granted());
    } else {
        assert!(r1.woken());
        w2.waiting();
        r1.cancel();
        drop(w2.granted());
    }
    assert_eq!(Arc::strong_count(&lock), 1, "owned futures give their Arc back");
    assert_free(&lock);
}

// ---------------------------------------------------------------------------
// docs/SEMANTICS.md §4: wakers are never called or dropped under an internal lock
// ---------------------------------------------------------------------------

/// A waker that tries the lock from inside `wake` (and drops what it got).
struct TryOnWake<P: Policy>
where
    AsyncRwLock<u32, P>: Send + Sync,
{
    lock: Arc<AsyncRwLock<u32, P>>,
    seen: Mutex<Vec<(bool, bool)>>,
}

impl<P: Policy> Wake for TryOnWake<P>
where
    AsyncRwLock<u32, P>: Send + Sync,
{
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let w = self.lock.try_write().is_some();
        let r = self.lock.try_read().is_some();
        self.seen.lock().unwrap().push((w, r));
    }
}

impl<F: Future> Task<F> {
    /// Polls with a waker other than the task's own.
    fn poll_with(&mut self, waker: &Waker) -> Poll<F::Output> {
        self.fut.as_mut().poll(&mut Context::from_waker(waker))
    }
}

/// `wake()` calling `try_write` / `try_read` (and releasing what it gets)
/// on the lock that is waking it: on a grant and on a cancellation.
fn waker_wake_calls_try_locks<P: Policy>()
where
    AsyncRwLock<u32, P>: Send + Sync,
    OwnedAsyncRwLockWriteGuard<u32, P>: Send,
{
    no_deadlock(|| {
        let lock = Arc::new(AsyncRwLock::<u32, P>::new(0));
        let hook = Arc::new(TryOnWake { lock: lock.clone(), seen: Mutex::new(Vec::new()) });
        let hook_waker = Waker::from(hook.clone());
        let w0 = lock.try_write().unwrap();
        let mut w1 = Task::new(lock.write());
        assert!(w1.poll_with(&hook_waker).is_pending());
        let mut r1 = Task::new(lock.read());
        r1.pending();
        drop(w0);
        // W1 (or, under RP and PF, R1) was granted and woken. Either way
        // the lock is held by the granted party: both tries fail, except
        // a read under RP/PF, where readers now hold.
        if P::KIND == WP || P::KIND == EX {
            assert_eq!(*hook.seen.lock().unwrap(), vec![(false, false)]);
            let g = match w1.poll_with(&hook_waker) {
                Poll::Ready(g) => g,
                Poll::Pending => panic!("granted writer must be ready"),
            };
            r1.waiting();
            drop(g);
            drop(r1.granted());
        } else {
            assert!(hook.seen.lock().unwrap().is_empty());
            let g = r1.granted();
            drop(g);
            // The last reader hands over to W1: the hook runs now.
            assert_eq!(*hook.seen.lock().unwrap(), vec![(false, false)]);
            assert!(w1.poll_with(&hook_waker).is_ready());
        }
        assert_free(&lock);

        // A reader admitted because a writer left (WP, PF).
        if matches!(P::KIND, WP | PF) {
            hook.seen.lock().unwrap().clear();
            let r0 = lock.try_read().unwrap();
            let mut w1 = Task::new(lock.write());
            w1.pending();
            let mut r1 = Task::new(lock.read());
            assert!(r1.poll_with(&hook_waker).is_pending());
            w1.cancel();
            // Woken outside the engine's lock: a read joins, a write cannot.
            assert_eq!(*hook.seen.lock().unwrap(), vec![(false, true)]);
            assert!(r1.poll_with(&hook_waker).is_ready());
            drop(r0);
            assert_free(&lock);
        }
    });
}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An "executor" that polls its task inline, from inside `wake`.
struct Inline {
    fut: Mutex<Option<BoxFuture>>,
    reentered: AtomicBool,
}

impl Inline {
    fn spawn(fut: impl Future<Output = ()> + Send + 'static) -> Arc<Inline> {
        let task = Arc::new(Inline { fut: Mutex::new(Some(Box::pin(fut))), reentered: AtomicBool::new(false) });
        task.run();
        task
    }

    fn run(self: &Arc<Self>) {
        let Ok(mut slot) = self.fut.try_lock() else {
            self.reentered.store(true, SeqCst);
            return;
        };
        if let Some(f) = slot.as_mut() {
            let waker = Waker::from(self.clone());
            if f.as_mut().poll(&mut Context::from_waker(&waker)).is_ready() {
                *slot = None;
            }
        }
    }

    fn done(&self) -> bool {
        assert!(!self.reentered.load(SeqCst), "woken while being polled");
        self.fut.lock().unwrap().is_none()
    }
}

impl Wake for Inline {
    fn wake(self: Arc<Self>) {
        self.run()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.run()
    }
}

/// Wakers that poll their task inline: each woken task takes its guard
/// and drops it inside `wake`, releasing the lock to the next one. The whole
/// queue drains, nested, inside the first release, in policy order.
fn waker_wake_polls_inline_and_releases<P: Policy>()
where
    AsyncRwLock<u32, P>: Send + Sync,
    OwnedAsyncRwLockWriteGuard<u32, P>: Send,
{
    no_deadlock(|| {
        let lock = Arc::new(AsyncRwLock::<u32, P>::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        let w0 = lock.try_write().unwrap();
        let tasks: Vec<_> = ["R1", "W1", "R2", "W2", "R3"]
            .into_iter()
            .map(|name| {
                let (lock, log) = (lock.clone(), log.clone());
                Inline::spawn(async move {
                    if name.starts_with('W') {
                        let mut g = lock.write_owned().await;
                        *g += 1;
                        log.lock().unwrap().push(name);
                    } else {
                        let g = lock.read_owned().await;
                        log.lock().unwrap().push(name);
                        drop(g);
                    }
                })
            })
            .collect();
        check(&lock, st(0, true, 3, 2));
        drop(w0);
        assert!(tasks.iter().all(|t| t.done()));
        let expected = match P::KIND {
            RP | PF => ["R1", "R2", "R3", "W1", "W2"],
            WP => ["W1", "W2", "R1", "R2", "R3"],
            EX => ["R1", "W1", "R2", "W2", "R3"],
        };
        assert_eq!(*log.lock().unwrap(), expected);
        assert_eq!(*lock.try_read().unwrap(), 2);
        drop(tasks);
        assert_eq!(Arc::strong_count(&lock), 1);
        assert_free(&lock);
    });
}

/// A waker that owns a guard of the lock and releases it when dropped.
struct ReleaseOnDrop {
    guard: Mutex<Option<Box<dyn Send>>>,
    dropped: Arc<AtomicBool>,
}

impl Wake for ReleaseOnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        drop(self.guard.get_mut().unwrap().take());
        self.dropped.store(true, SeqCst);
    }
}

fn release_on_drop(guard: impl Send + 'static) -> (Waker, Arc<AtomicBool>) {
    let dropped = Arc::new(AtomicBool::new(false));
    let w = ReleaseOnDrop { guard: Mutex::new(Some(Box::new(guard))), dropped: dropped.clone() };
    (Waker::from(Arc::new(w)), dropped)
}

/// Cancelling a queued future drops its waker; that drop releases the
/// holder's guard, which hands the lock to the next waiter.
fn waker_drop_on_cancel_releases_guard<P: Policy>()
where
    AsyncRwLock<u32, P>: Send + Sync,
    OwnedAsyncRwLockWriteGuard<u32, P>: Send,
{
    no_deadlock(|| {
        let lock = Arc::new(AsyncRwLock::<u32, P>::new(0));
        let g0 = Task::new(lock.clone().write_owned()).ready();
        let (waker, dropped) = release_on_drop(g0);
        let mut w1 = Task::new(lock.write());
        assert!(w1.poll_with(&waker).is_pending());
        drop(waker); // the lock's queue holds the only clone now
        let mut w2 = Task::new(lock.write());
        w2.pending();
        assert!(!dropped.load(SeqCst));
        drop(w1);
        assert!(dropped.load(SeqCst), "the waker of a cancelled future must be dropped");
        drop(w2.granted());
        assert_free(&lock);
    });
}

/// A poll with a new waker drops the old one; that drop releases the
/// holder's guard and so grants this very future, which is then `Ready`.
fn waker_drop_on_replace_releases_guard<P: Policy>()
where
    AsyncRwLock<u32, P>: Send + Sync,
    OwnedAsyncRwLockWriteGuard<u32, P>: Send,
{
    no_deadlock(|| {
        let lock = Arc::new(AsyncRwLock::<u32, P>::new(0));
        let g0 = Task::new(lock.clone().write_owned()).ready();
        let (waker, dropped) = release_on_drop(g0);
        let mut r1 = Task::new(lock.read());
        assert!(r1.poll_with(&waker).is_pending());
        drop(waker);
        let g = r1.ready();
        assert!(dropped.load(SeqCst));
        check(&lock, held::<P>(1, false, 0, 0));
        drop(g);
        assert_free(&lock);
    });
}

/// The waker of the latest poll is the one woken; the old one is released.
fn newest_waker_is_woken<P: Policy>() {
    let lock = AsyncRwLock::<u32, P>::new(0);
    let w0 = lock.try_write().unwrap();
    let old = Arc::new(Probe::default());
    let mut w1 = Task::new(lock.write());
    assert!(w1.poll_with(&Waker::from(old.clone())).is_pending());
    assert_eq!(Arc::strong_count(&old), 2, "the queue keeps the waker");
    w1.pending();
    assert_eq!(Arc::strong_count(&old), 1, "a replaced waker is released");
    drop(w0);
    assert_eq!(old.wakes.load(SeqCst), 0);
    drop(w1.granted());
    assert_free(&lock);
}

/// A waker whose `clone` releases a guard of the lock (a `Waker` vtable
/// call, like `wake` and `drop`).
struct CloneHook {
    guard: Mutex<Option<Box<dyn Send>>>,
    wakes: AtomicUsize,
}

static CLONE_HOOK_VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_hook_clone, clone_hook_wake, clone_hook_wake_by_ref, clone_hook_drop);

unsafe fn clone_hook_clone(p: *const ()) -> RawWaker {
    // SAFETY: `p` comes from `Arc::into_raw` of a `CloneHook` whose reference
    // (the waker being cloned) is alive for this call.
    let hook = unsafe { &*(p as *const CloneHook) };
    let guard = hook.guard.lock().unwrap().take();
    drop(guard);
    // SAFETY: as above; the new reference is owned by the returned waker.
    unsafe { Arc::increment_strong_count(p as *const CloneHook) };
    RawWaker::new(p, &CLONE_HOOK_VTABLE)
}

unsafe fn clone_hook_wake(p: *const ()) {
    // SAFETY: the waker owns one reference; wake-by-ref, then give it up.
    unsafe {
        clone_hook_wake_by_ref(p);
        clone_hook_drop(p);
    }
}

unsafe fn clone_hook_wake_by_ref(p: *const ()) {
    // SAFETY: `p` points to a live `CloneHook` (the waker holds a reference).
    let hook = unsafe { &*(p as *const CloneHook) };
    hook.wakes.fetch_add(1, SeqCst);
}

unsafe fn clone_hook_drop(p: *const ()) {
    // SAFETY: the waker being dropped owns this reference.
    drop(unsafe { Arc::from_raw(p as *const CloneHook) });
}

/// Re-registering a new waker clones it; a `clone` that releases the lock
/// (which grants this very future and wakes it) must not deadlock.
#[test]
fn waker_clone_on_register_releases_guard() {
    no_deadlock(|| {
        let lock = Arc::new(AsyncRwLock::<u32, PhaseFair>::new(0));
        let g0 = Task::new(lock.clone().write_owned()).ready();
        let mut w1 = Task::new(lock.write());
        w1.pending();
        let hook = Arc::new(CloneHook { guard: Mutex::new(Some(Box::new(g0))), wakes: AtomicUsize::new(0) });
        // SAFETY: the vtable's functions follow the `RawWaker` contract for
        // a pointer obtained from `Arc::into_raw::<CloneHook>`.
        let waker =
            unsafe { Waker::from_raw(RawWaker::new(Arc::into_raw(hook.clone()) as *const (), &CLONE_HOOK_VTABLE)) };
        assert!(w1.poll_with(&waker).is_ready(), "the clone released the lock to this future");
        drop(waker);
        assert_free(&lock);
    });
}

// ---------------------------------------------------------------------------
// Sizes, Send and Sync
// ---------------------------------------------------------------------------

#[test]
fn sizes() {
    assert!(size_of::<AsyncRwLock<()>>() <= 48, "{}", size_of::<AsyncRwLock<()>>());
    let futures = [
        size_of::<AsyncRwLockReadFuture<'static, u64>>(),
        size_of::<AsyncRwLockWriteFuture<'static, u64>>(),
        size_of::<OwnedAsyncRwLockReadFuture<u64>>(),
        size_of::<OwnedAsyncRwLockWriteFuture<u64>>(),
        size_of::<AsyncRwLockReadFuture<'static, u64, Exclusive>>(),
        size_of::<OwnedAsyncRwLockWriteFuture<u64, ReaderPreferring>>(),
        size_of::<RawAcquire<'static>>(),
    ];
    for s in futures {
        assert!(s <= 96, "acquire future of {s} bytes");
    }
}

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}
fn assert_send_future<F: Future + Send>(_: &F) {}

macro_rules! send_checks {
    ($T:ty, $($P:ty),*) => {$(
        assert_send::<AsyncRwLock<$T, $P>>();
        assert_sync::<AsyncRwLock<$T, $P>>();
        assert_send::<AsyncRwLockReadFuture<'static, $T, $P>>();
        assert_send::<AsyncRwLockWriteFuture<'static, $T, $P>>();
        assert_send::<OwnedAsyncRwLockReadFuture<$T, $P>>();
        assert_send::<OwnedAsyncRwLockWriteFuture<$T, $P>>();
        assert_send::<AsyncRwLockReadGuard<'static, $T, $P>>();
        assert_send::<AsyncRwLockWriteGuard<'static, $T, $P>>();
        assert_send::<OwnedAsyncRwLockReadGuard<$T, $P>>();
        assert_send::<OwnedAsyncRwLockWriteGuard<$T, $P>>();
    )*};
}

#[test]
fn futures_and_guards_are_send() {
    // T: Send + Sync: every policy.
    send_checks!(Vec<u8>, ReaderPreferring, WriterPreferring, PhaseFair, Exclusive);
    // T: Send only: the mutex (every acquisition exclusive).
    send_checks!(Cell<u32>, Exclusive);
    assert_sync::<AsyncMutex<Cell<u32>>>();
    // A task holding a guard across an await is Send (works under spawn).
    static LOCK: AsyncRwLock<u32> = AsyncRwLock::new(0);
    static MUTEX: AsyncMutex<Cell<u32>> = AsyncMutex::new(Cell::new(0));
    let task = async {
        let g = LOCK.write().await;
        std::future::ready(()).await;
        drop(g);
        let m = MUTEX.lock().await;
        std::future::ready(()).await;
        m.set(1);
    };
    assert_send_future(&task);
    futures::executor::block_on(task);
    assert_eq!(MUTEX.try_write().unwrap().get(), 1);
}

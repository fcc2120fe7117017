//! Model-based property tests (docs/SEMANTICS.md §8).
//!
//! A sequential reference model of each policy — a FIFO queue of waiters plus
//! the set of holders, written from the policy table of docs/SEMANTICS.md §2 and the
//! cancellation rules of §4, not from the engine — is driven in lock-step
//! with a real `AsyncRwLock<_, P>` and an `AsyncRwCondvar`. Futures are
//! created, polled and dropped by index on one thread with counting wakers,
//! so every step is deterministic and every wake decision is observable.
//!
//! After every step the test checks:
//! * exclusion on the real side (at most one writer, never with readers;
//!   under `Exclusive` at most one holder);
//! * the engine's state (`raw().state_snapshot()`, `is_locked*`) equals the
//!   model's: holders, granted-but-not-yet-polled waiters, queued readers
//!   and writers;
//! * readiness: a polled future is `Ready` exactly when the model says so;
//! * no lost wakeup and no futile wakeup: a future has been woken since its
//!   last poll exactly when the model says it may now proceed (granted the
//!   lock, or notified by the condvar);
//! * the model's own policy rules: writers are admitted in arrival order (all
//!   waiters under `Exclusive`); a `PhaseFair` reader waits through at most
//!   one writer, a `ReaderPreferring` reader through none; a `PhaseFair`
//!   writer waits through at most one read phase per writer ahead of it plus
//!   one, a `WriterPreferring` writer through none;
//! * the data a reader sees is the last value a writer wrote.
//!
//! At the end everything is dropped and the lock must be free (`try_write`
//! succeeds: no leaked grant) with no condvar waiter left.
//!
//! Timed acquires (`try_lock_*_until` on the raw lock, the engine entry
//! under `RwLock::try_write_for`) run with a zero or very short timeout: they
//! return at once when the model admits them, and otherwise return `false`
//! leaving no trace (the state check after the step proves it).
//!
//! The async condvar re-acquires the lock when a notified wait is next
//! polled, as an arrival at that moment (see `AsyncRwCondvar`'s docs); the
//! model does the same.

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::WakeCounter;
use proptest::prelude::*;
use proptest::test_runner::Config;
use rwlocker::engine::StateSnapshot;
use rwlocker::{
    AsyncRwCondvar, AsyncRwCondvarWait, AsyncRwLock, AsyncRwLockReadFuture, AsyncRwLockReadGuard,
    AsyncRwLockWriteFuture, AsyncRwLockWriteGuard, Policy, PolicyKind,
};

// Exact-order tests: they run against the strict hand-off mode
// (`Strict<P>`, docs/SEMANTICS.md §2a), whose order is the policy table.
type PhaseFair = rwlocker::Strict<rwlocker::PhaseFair>;
type ReaderPreferring = rwlocker::Strict<rwlocker::ReaderPreferring>;
type WriterPreferring = rwlocker::Strict<rwlocker::WriterPreferring>;
type Exclusive = rwlocker::Strict<rwlocker::Exclusive>;

// ---------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------

/// One step of a test case. Indices pick among the live things of the kind
/// the operation needs (modulo their number); with none, the step is a no-op.
#[derive(Clone, Debug)]
enum Op {
    /// Create a read future (not polled: not queued yet).
    SpawnRead,
    /// Create a write future.
    SpawnWrite,
    /// Poll one future (lock acquire or condvar wait).
    Poll(usize),
    /// Poll every live future, oldest first.
    PollAll,
    /// Drop a lock future: cancellation, before or after it was granted.
    DropFuture(usize),
    /// Drop a guard.
    DropGuard(usize),
    /// Downgrade a write guard.
    Downgrade(usize),
    TryRead,
    TryWrite,
    /// `try_lock_shared_until`; `true`: a 200 µs timeout, `false`: zero.
    TimedRead(bool),
    /// `try_lock_exclusive_until`.
    TimedWrite(bool),
    /// Start a condvar wait with a guard (not polled yet: still holds it).
    Wait(usize),
    NotifyOne,
    Notify(usize),
    NotifyAll,
    /// Drop a condvar wait in whatever phase it is.
    DropWait(usize),
}

fn op_strategy(cv_weight: u32) -> impl Strategy<Value = Op> {
    let i = 0usize..8;
    prop_oneof![
        4 => Just(Op::SpawnRead),
        4 => Just(Op::SpawnWrite),
        6 => i.clone().prop_map(Op::Poll),
        2 => Just(Op::PollAll),
        2 => i.clone().prop_map(Op::DropFuture),
        5 => i.clone().prop_map(Op::DropGuard),
        2 => i.clone().prop_map(Op::Downgrade),
        1 => Just(Op::TryRead),
        1 => Just(Op::TryWrite),
        1 => prop::bool::weighted(0.2).prop_map(Op::TimedRead),
        1 => prop::bool::weighted(0.2).prop_map(Op::TimedWrite),
        2 * cv_weight => i.clone().prop_map(Op::Wait),
        cv_weight => Just(Op::NotifyOne),
        cv_weight => (0usize..4).prop_map(Op::Notify),
        cv_weight => Just(Op::NotifyAll),
        cv_weight => i.prop_map(Op::DropWait),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Read,
    Write,
}

type Id = usize;

thread_local! {
    /// How often each interesting situation was reached on this thread (see
    /// `generator_reaches_interesting_states`).
    static COVERAGE: std::cell::RefCell<BTreeMap<&'static str, u64>> = const { std::cell::RefCell::new(BTreeMap::new()) };
}

fn cover(what: &'static str) {
    COVERAGE.with(|c| *c.borrow_mut().entry(what).or_default() += 1);
}

// ---------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MState {
    /// A lock future created but never polled: not in the queue.
    Idle,
    /// Waiting in the lock's queue.
    Queued,
    /// Handed the lock while waiting; not polled since (it holds the lock).
    Granted,
    /// Holds the lock: a guard, a raw timed acquisition, or a condvar wait
    /// not polled yet (it still owns its guard).
    Held,
    /// Registered on the condvar, not notified.
    CvWaiting,
    /// Notified; it arrives at the lock when next polled.
    CvNotified,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    LockFuture,
    Guard,
    CvWait,
}

#[derive(Clone, Debug)]
struct MEnt {
    role: Role,
    mode: Mode,
    st: MState,
    /// Arrival order (for FIFO checks); set at each arrival.
    seq: u64,
    /// While queued: writers admitted since this (reader) arrived.
    writer_grants: u32,
    /// While queued: read phases opened since this (writer) arrived.
    read_phases: u32,
    /// Writers queued ahead of this writer when it arrived.
    writers_ahead: u32,
}

/// Why readers are admitted from the queue (a downgrade does not open a new
/// read phase: it extends the downgrader's).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadGrant {
    Phase,
    Downgrade,
}

struct Model {
    kind: PolicyKind,
    ents: BTreeMap<Id, MEnt>,
    /// The lock's FIFO of waiters.
    queue: VecDeque<Id>,
    /// The condvar's FIFO of registered waiters.
    cv: VecDeque<Id>,
    next_seq: u64,
    /// Arrival number of the last exclusive admission (FIFO check).
    last_exclusive_seq: Option<u64>,
    /// The protected value (each write guard adds one).
    value: u64,
}

impl Model {
    fn new(kind: PolicyKind) -> Self {
        Model {
            kind,
            ents: BTreeMap::new(),
            queue: VecDeque::new(),
            cv: VecDeque::new(),
            next_seq: 0,
            last_exclusive_seq: None,
            value: 0,
        }
    }

    fn add(&mut self, id: Id, role: Role, mode: Mode, st: MState) {
        let e = MEnt { role, mode, st, seq: 0, writer_grants: 0, read_phases: 0, writers_ahead: 0 };
        assert!(self.ents.insert(id, e).is_none());
    }

    fn ent(&self, id: Id) -> &MEnt {
        &self.ents[&id]
    }

    fn ent_mut(&mut self, id: Id) -> &mut MEnt {
        self.ents.get_mut(&id).unwrap()
    }

    /// Whether a holder in `mode` holds the lock exclusively.
    fn exclusive(&self, mode: Mode) -> bool {
        self.kind == PolicyKind::Exclusive || mode == Mode::Write
    }

    /// (shared holders, exclusive holders), counting granted waiters.
    fn holders(&self) -> (u32, u32) {
        let mut r = (0, 0);
        for e in self.ents.values() {
            if matches!(e.st, MState::Held | MState::Granted) {
                if self.exclusive(e.mode) {
                    r.1 += 1;
                } else {
                    r.0 += 1;
                }
            }
        }
        r
    }

    fn queued(&self, mode: Mode) -> usize {
        self.queue.iter().filter(|id| self.ent(**id).mode == mode).count()
    }

    /// docs/SEMANTICS.md §2, "reader arrives" and the common rules: would an arrival in
    /// `mode` be admitted at once (and would a `try_*` succeed)?
    fn admissible(&self, mode: Mode) -> bool {
        let (shared, excl) = self.holders();
        if self.exclusive(mode) {
            // Nobody holds, and nobody waits to be served first.
            return shared == 0 && excl == 0 && self.queue.is_empty();
        }
        match self.kind {
            // Only a holding writer keeps a reader out.
            PolicyKind::ReaderPreferring => excl == 0,
            // A holding or waiting writer keeps a reader out.
            PolicyKind::WriterPreferring | PolicyKind::PhaseFair => excl == 0 && self.queued(Mode::Write) == 0,
            PolicyKind::Exclusive => unreachable!(),
        }
    }

    /// Records an admission and checks the ordering rules.
    fn admitted(&mut self, id: Id, from_queue: bool) {
        let kind = self.kind;
        let e = self.ent(id).clone();
        if self.exclusive(e.mode) {
            // Writers (every waiter under Exclusive) are admitted in arrival order.
            if let Some(last) = self.last_exclusive_seq {
                assert!(e.seq > last, "model: exclusive admission out of arrival order");
            }
            self.last_exclusive_seq = Some(e.seq);
        }
        if !from_queue {
            return;
        }
        match (kind, e.mode) {
            (PolicyKind::ReaderPreferring, Mode::Read) => {
                assert_eq!(e.writer_grants, 0, "model: ReaderPreferring reader waited through a writer")
            }
            (PolicyKind::PhaseFair, Mode::Read) => {
                assert!(e.writer_grants <= 1, "model: PhaseFair reader waited through {} writers", e.writer_grants)
            }
            (PolicyKind::WriterPreferring, Mode::Write) => {
                assert_eq!(e.read_phases, 0, "model: WriterPreferring writer waited through a read phase")
            }
            (PolicyKind::PhaseFair, Mode::Write) => assert!(
                e.read_phases <= e.writers_ahead + 1,
                "model: PhaseFair writer waited through {} read phases with {} writers ahead",
                e.read_phases,
                e.writers_ahead
            ),
            _ => {}
        }
    }

    /// A new arrival (first poll of an acquire, or a notified condvar wait
    /// re-acquiring): admitted at once (`true`, now `Held`) or queued.
    fn arrive(&mut self, id: Id) -> bool {
        let mode = self.ent(id).mode;
        let seq = self.next_seq;
        self.next_seq += 1;
        let admit = self.admissible(mode);
        let writers_ahead = self.queued(Mode::Write) as u32;
        let e = self.ent_mut(id);
        e.seq = seq;
        e.writer_grants = 0;
        e.read_phases = 0;
        e.writers_ahead = writers_ahead;
        if admit {
            e.st = MState::Held;
            self.admitted(id, false);
        } else {
            e.st = MState::Queued;
            self.queue.push_back(id);
        }
        admit
    }

    /// A `try_*` or timed acquisition that succeeds at once creates a holder.
    fn take_now(&mut self, id: Id, mode: Mode) -> bool {
        if !self.admissible(mode) {
            return false;
        }
        self.add(id, Role::Guard, mode, MState::Idle);
        assert!(self.arrive(id));
        true
    }

    fn grant_from_queue(&mut self, id: Id) {
        self.queue.retain(|q| *q != id);
        self.ent_mut(id).st = MState::Granted;
        cover(if self.ent(id).mode == Mode::Read { "reader granted from queue" } else { "writer granted from queue" });
        self.admitted(id, true);
    }

    /// The oldest waiter of any kind (Exclusive).
    fn grant_front(&mut self) {
        let id = *self.queue.front().unwrap();
        self.grant_from_queue(id);
    }

    fn grant_first_writer(&mut self) {
        let id = *self.queue.iter().find(|id| self.ent(**id).mode == Mode::Write).unwrap();
        let readers: Vec<Id> = self.queue.iter().copied().filter(|q| self.ent(*q).mode == Mode::Read).collect();
        for r in readers {
            self.ent_mut(r).writer_grants += 1;
        }
        self.grant_from_queue(id);
    }

    /// Every queued reader, together.
    fn grant_readers(&mut self, why: ReadGrant) {
        let readers: Vec<Id> = self.queue.iter().copied().filter(|q| self.ent(*q).mode == Mode::Read).collect();
        if readers.is_empty() {
            return;
        }
        if readers.len() > 1 {
            cover("several readers granted together");
        }
        for r in readers {
            self.grant_from_queue(r);
        }
        if why == ReadGrant::Downgrade {
            cover("downgrade admitted queued readers");
        } else if self.queued(Mode::Write) > 0 {
            cover("read phase with writers still queued");
        }
        if why == ReadGrant::Phase {
            let writers: Vec<Id> = self.queue.clone().into();
            for w in writers {
                self.ent_mut(w).read_phases += 1;
            }
        }
    }

    /// docs/SEMANTICS.md §2, "writer releases": the lock is free now; hand it over.
    fn after_exclusive_release(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        let (r, w) = (self.queued(Mode::Read) > 0, self.queued(Mode::Write) > 0);
        match self.kind {
            PolicyKind::Exclusive => self.grant_front(),
            // All waiting readers; the oldest writer when no reader waits.
            PolicyKind::ReaderPreferring | PolicyKind::PhaseFair if r => self.grant_readers(ReadGrant::Phase),
            PolicyKind::ReaderPreferring | PolicyKind::PhaseFair => self.grant_first_writer(),
            // The oldest writer; readers only when no writer waits.
            PolicyKind::WriterPreferring if w => self.grant_first_writer(),
            PolicyKind::WriterPreferring => self.grant_readers(ReadGrant::Phase),
        }
    }

    /// docs/SEMANTICS.md §2, "last reader releases, writers waiting": the oldest writer.
    fn after_shared_release(&mut self) {
        let (shared, _) = self.holders();
        if shared > 0 || self.queue.is_empty() {
            return;
        }
        assert!(self.queued(Mode::Write) > 0, "model: readers queued behind a free lock with no writer waiting");
        self.grant_first_writer();
    }

    /// Releases the lock held by `id` (guard dropped, granted waiter gone,
    /// condvar wait starting). The caller updates `id`'s state first.
    fn release(&mut self, mode: Mode) {
        if self.exclusive(mode) {
            self.after_exclusive_release();
        } else {
            self.after_shared_release();
        }
    }

    /// docs/SEMANTICS.md §2, downgrade: atomic; waiting readers join under
    /// ReaderPreferring and PhaseFair, and under WriterPreferring only while
    /// no writer waits. Under Exclusive the lock stays exclusive.
    fn downgrade(&mut self, id: Id) {
        assert_eq!(self.ent(id).mode, Mode::Write);
        self.ent_mut(id).mode = Mode::Read;
        match self.kind {
            PolicyKind::Exclusive => {}
            PolicyKind::ReaderPreferring | PolicyKind::PhaseFair => self.grant_readers(ReadGrant::Downgrade),
            PolicyKind::WriterPreferring => {
                if self.queued(Mode::Write) == 0 {
                    self.grant_readers(ReadGrant::Downgrade)
                }
            }
        }
    }

    /// A queued waiter gives up (docs/SEMANTICS.md §2: leaves no trace; whoever it held
    /// back is admitted at once).
    fn leave(&mut self, id: Id) {
        self.queue.retain(|q| *q != id);
        let (shared, excl) = self.holders();
        if excl > 0 {
            return;
        }
        assert!(shared > 0 || self.queue.is_empty(), "model: waiters behind a free lock");
        if self.queued(Mode::Read) > 0 && self.admissible(Mode::Read) {
            cover("departure admitted readers");
            self.grant_readers(ReadGrant::Phase);
        }
    }

    /// Wakes `min(n, waiting)` condvar waiters, oldest first.
    fn notify(&mut self, n: usize) -> usize {
        let count = n.min(self.cv.len());
        if count > 1 {
            cover("several condvar waiters notified");
        }
        for id in self.cv.drain(..count).collect::<Vec<_>>() {
            self.ent_mut(id).st = MState::CvNotified;
        }
        count
    }

    /// Polls `id`: the expected outcome. On `Ready` the entity becomes a
    /// guard (`Held`).
    fn poll(&mut self, id: Id) -> bool {
        let e = self.ent(id).clone();
        let ready = match (e.role, e.st) {
            (Role::CvWait, MState::CvNotified) => {
                cover("notified condvar wait polled");
                self.arrive(id)
            }
            (Role::LockFuture, MState::Idle) => self.arrive(id),
            (_, MState::Queued) | (Role::CvWait, MState::CvWaiting) => false,
            (_, MState::Granted) => true,
            (Role::CvWait, MState::Held) => {
                // Register on the condvar, then release the guard's mode.
                self.ent_mut(id).st = MState::CvWaiting;
                self.cv.push_back(id);
                self.release(e.mode);
                false
            }
            other => panic!("model: polling {other:?}"),
        };
        if ready {
            let e = self.ent_mut(id);
            e.role = Role::Guard;
            e.st = MState::Held;
        }
        ready
    }

    /// Drops `id`, whatever it is.
    fn drop_ent(&mut self, id: Id) {
        let e = self.ents.remove(&id).unwrap();
        // Put it back while the lock is released so `holders()` sees it gone
        // but `ent()` still works for queue bookkeeping.
        let mut gone = e.clone();
        gone.st = MState::Idle;
        self.ents.insert(id, gone);
        match (e.role, e.st) {
            (Role::CvWait, st) => cover(match st {
                MState::Held => "condvar wait dropped unpolled",
                MState::CvWaiting => "condvar wait dropped while waiting",
                MState::CvNotified => "notified condvar wait dropped",
                MState::Queued => "re-queued condvar wait dropped",
                _ => "re-granted condvar wait dropped",
            }),
            (Role::LockFuture, MState::Queued) => cover("queued future dropped"),
            (Role::LockFuture, MState::Granted) => cover("granted future dropped"),
            _ => {}
        }
        match (e.role, e.st) {
            (_, MState::Idle) => {}
            (_, MState::Held) | (_, MState::Granted) => self.release(e.mode),
            (_, MState::Queued) => self.leave(id),
            (Role::CvWait, MState::CvWaiting) => self.cv.retain(|q| *q != id),
            (Role::CvWait, MState::CvNotified) => {}
            other => panic!("model: dropping {other:?}"),
        }
        // A condvar wait that had been notified passes the notification on
        // (docs/SEMANTICS.md §4), after giving up its re-acquisition.
        if e.role == Role::CvWait && matches!(e.st, MState::CvNotified | MState::Queued | MState::Granted) {
            self.notify(1);
        }
        self.ents.remove(&id);
    }

    /// The engine state the model predicts.
    fn snapshot(&self) -> StateSnapshot {
        let (shared, excl) = self.holders();
        StateSnapshot {
            readers: shared,
            writer: excl > 0,
            queued_readers: self.queued(Mode::Read),
            queued_writers: self.queued(Mode::Write),
        }
    }

    /// May `id` proceed if polled now (so it must have been woken)?
    fn may_proceed(&self, id: Id) -> bool {
        matches!(self.ent(id).st, MState::Granted | MState::CvNotified)
    }

    /// The model's own invariants (docs/SEMANTICS.md §2).
    fn check_invariants(&self) {
        let (shared, excl) = self.holders();
        assert!(excl <= 1, "model: two exclusive holders");
        assert!(excl == 0 || shared == 0, "model: a writer with readers");
        assert!(self.queue.is_empty() || shared + excl > 0, "model: waiters behind a free lock");
        let (qr, qw) = (self.queued(Mode::Read), self.queued(Mode::Write));
        match self.kind {
            PolicyKind::ReaderPreferring => assert!(qr == 0 || excl > 0, "model: RP reader queued with no writer in"),
            PolicyKind::WriterPreferring | PolicyKind::PhaseFair => {
                assert!(qr == 0 || excl > 0 || qw > 0, "model: reader queued with no writer holding or waiting")
            }
            PolicyKind::Exclusive => {}
        }
    }
}

// ---------------------------------------------------------------------------
// The real side
// ---------------------------------------------------------------------------

type Lock<P> = AsyncRwLock<u64, P>;

enum Obj<'a, P: Policy> {
    ReadFut(AsyncRwLockReadFuture<'a, u64, P>),
    WriteFut(AsyncRwLockWriteFuture<'a, u64, P>),
    Read(AsyncRwLockReadGuard<'a, u64, P>),
    Write(AsyncRwLockWriteGuard<'a, u64, P>),
    /// Held through the raw lock by a timed acquisition.
    Raw(Mode),
    /// A condvar wait; `bool`: polled at least once (it released its guard).
    CvRead(AsyncRwCondvarWait<'a, AsyncRwLockReadGuard<'a, u64, P>>, bool),
    CvWrite(AsyncRwCondvarWait<'a, AsyncRwLockWriteGuard<'a, u64, P>>, bool),
}

impl<P: Policy> Obj<'_, P> {
    fn is_pollable(&self) -> bool {
        matches!(self, Obj::ReadFut(_) | Obj::WriteFut(_) | Obj::CvRead(..) | Obj::CvWrite(..))
    }
    fn is_lock_future(&self) -> bool {
        matches!(self, Obj::ReadFut(_) | Obj::WriteFut(_))
    }
    fn is_guard(&self) -> bool {
        matches!(self, Obj::Read(_) | Obj::Write(_) | Obj::Raw(_))
    }
    fn is_wait(&self) -> bool {
        matches!(self, Obj::CvRead(..) | Obj::CvWrite(..))
    }
}

struct Ent<'a, P: Policy> {
    id: Id,
    obj: Obj<'a, P>,
    wakes: Arc<WakeCounter>,
    /// Wake count at the last poll.
    seen: usize,
}

struct Harness<'a, P: Policy> {
    lock: &'a Lock<P>,
    cv: &'a AsyncRwCondvar,
    ents: Vec<Ent<'a, P>>,
    model: Model,
    next_id: Id,
    step: usize,
}

impl<'a, P: Policy> Harness<'a, P> {
    fn new(lock: &'a Lock<P>, cv: &'a AsyncRwCondvar) -> Self {
        Harness { lock, cv, ents: Vec::new(), model: Model::new(P::KIND), next_id: 0, step: 0 }
    }

    fn new_id(&mut self) -> Id {
        self.next_id += 1;
        self.next_id
    }

    fn push(&mut self, id: Id, obj: Obj<'a, P>) {
        self.ents.push(Ent { id, obj, wakes: WakeCounter::new(), seen: 0 });
    }

    fn pick(&self, i: usize, f: impl Fn(&Obj<'a, P>) -> bool) -> Option<usize> {
        let cands: Vec<usize> = (0..self.ents.len()).filter(|p| f(&self.ents[*p].obj)).collect();
        (!cands.is_empty()).then(|| cands[i % cands.len()])
    }

    fn pos(&self, id: Id) -> usize {
        self.ents.iter().position(|e| e.id == id).unwrap()
    }

    /// A write guard was obtained: write through it.
    fn wrote(&mut self, g: &mut AsyncRwLockWriteGuard<'a, u64, P>) {
        **g += 1;
        self.model.value += 1;
    }

    fn read_ok(&self, g: &AsyncRwLockReadGuard<'a, u64, P>) {
        assert_eq!(**g, self.model.value, "step {}: a reader sees a stale or torn value", self.step);
    }

    fn poll_pos(&mut self, pos: usize) {
        let id = self.ents[pos].id;
        let expect = self.model.poll(id);
        let ent = &mut self.ents[pos];
        let waker = ent.wakes.waker();
        let mut cx = Context::from_waker(&waker);
        let step = self.step;
        // `Some(obj)`: ready, becomes this guard.
        let ready: Option<Obj<'a, P>> = match &mut ent.obj {
            Obj::ReadFut(f) => match Pin::new(f).poll(&mut cx) {
                Poll::Ready(g) => Some(Obj::Read(g)),
                Poll::Pending => None,
            },
            Obj::WriteFut(f) => match Pin::new(f).poll(&mut cx) {
                Poll::Ready(g) => Some(Obj::Write(g)),
                Poll::Pending => None,
            },
            Obj::CvRead(f, polled) => {
                *polled = true;
                match Pin::new(f).poll(&mut cx) {
                    Poll::Ready(g) => Some(Obj::Read(g)),
                    Poll::Pending => None,
                }
            }
            Obj::CvWrite(f, polled) => {
                *polled = true;
                match Pin::new(f).poll(&mut cx) {
                    Poll::Ready(g) => Some(Obj::Write(g)),
                    Poll::Pending => None,
                }
            }
            _ => unreachable!(),
        };
        ent.seen = ent.wakes.count();
        assert_eq!(
            ready.is_some(),
            expect,
            "step {step}: future #{id} polled {} but the model says {}",
            if ready.is_some() { "Ready" } else { "Pending" },
            if expect { "Ready" } else { "Pending" },
        );
        if let Some(mut obj) = ready {
            match &mut obj {
                Obj::Write(g) => self.wrote(g),
                Obj::Read(g) => self.read_ok(g),
                _ => unreachable!(),
            }
            self.ents[pos].obj = obj;
        }
    }

    /// Drops the entity at `pos` on both sides.
    fn drop_pos(&mut self, pos: usize) {
        let ent = self.ents.remove(pos);
        self.model.drop_ent(ent.id);
        match ent.obj {
            Obj::Raw(mode) => {
                // SAFETY: a successful timed acquisition in `mode` took this
                // lock, and this entity releases it exactly once.
                unsafe {
                    match mode {
                        Mode::Read => self.lock.raw().unlock_shared(),
                        Mode::Write => self.lock.raw().unlock_exclusive(),
                    }
                }
            }
            obj => drop(obj),
        }
    }

    fn timed(&mut self, mode: Mode, short: bool) {
        let deadline = Instant::now() + if short { Duration::from_micros(200) } else { Duration::ZERO };
        let raw = self.lock.raw();
        let got = match mode {
            Mode::Read => raw.try_lock_shared_until(deadline),
            Mode::Write => raw.try_lock_exclusive_until(deadline),
        };
        let id = self.new_id();
        let expect = self.model.take_now(id, mode);
        if !expect {
            cover(if short { "short timed acquire expired" } else { "zero timed acquire expired" });
        }
        assert_eq!(got, expect, "step {}: timed {mode:?} acquire returned {got}, model says {expect}", self.step);
        if got {
            self.push(id, Obj::Raw(mode));
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::SpawnRead => {
                let id = self.new_id();
                self.model.add(id, Role::LockFuture, Mode::Read, MState::Idle);
                self.push(id, Obj::ReadFut(self.lock.read()));
            }
            Op::SpawnWrite => {
                let id = self.new_id();
                self.model.add(id, Role::LockFuture, Mode::Write, MState::Idle);
                self.push(id, Obj::WriteFut(self.lock.write()));
            }
            Op::Poll(i) => {
                if let Some(p) = self.pick(i, Obj::is_pollable) {
                    self.poll_pos(p);
                }
            }
            Op::PollAll => {
                let ids: Vec<Id> = self.ents.iter().filter(|e| e.obj.is_pollable()).map(|e| e.id).collect();
                for id in ids {
                    let p = self.pos(id);
                    self.poll_pos(p);
                    self.check();
                }
            }
            Op::DropFuture(i) => {
                if let Some(p) = self.pick(i, Obj::is_lock_future) {
                    self.drop_pos(p);
                }
            }
            Op::DropGuard(i) => {
                if let Some(p) = self.pick(i, Obj::is_guard) {
                    self.drop_pos(p);
                }
            }
            Op::Downgrade(i) => {
                if let Some(p) = self.pick(i, |o| matches!(o, Obj::Write(_))) {
                    let id = self.ents[p].id;
                    let Obj::Write(g) = std::mem::replace(&mut self.ents[p].obj, Obj::Raw(Mode::Read)) else {
                        unreachable!()
                    };
                    let r = AsyncRwLockWriteGuard::downgrade(g);
                    self.model.downgrade(id);
                    self.read_ok(&r);
                    self.ents[p].obj = Obj::Read(r);
                }
            }
            Op::TryRead => {
                let got = self.lock.try_read();
                let id = self.new_id();
                let expect = self.model.take_now(id, Mode::Read);
                assert_eq!(got.is_some(), expect, "step {}: try_read disagrees with the model", self.step);
                if let Some(g) = got {
                    self.read_ok(&g);
                    self.push(id, Obj::Read(g));
                }
            }
            Op::TryWrite => {
                let got = self.lock.try_write();
                let id = self.new_id();
                let expect = self.model.take_now(id, Mode::Write);
                assert_eq!(got.is_some(), expect, "step {}: try_write disagrees with the model", self.step);
                if let Some(mut g) = got {
                    self.wrote(&mut g);
                    self.push(id, Obj::Write(g));
                }
            }
            Op::TimedRead(short) => self.timed(Mode::Read, short),
            Op::TimedWrite(short) => self.timed(Mode::Write, short),
            Op::Wait(i) => {
                if let Some(p) = self.pick(i, |o| matches!(o, Obj::Read(_) | Obj::Write(_))) {
                    let id = self.ents[p].id;
                    let obj = match std::mem::replace(&mut self.ents[p].obj, Obj::Raw(Mode::Read)) {
                        Obj::Read(g) => Obj::CvRead(self.cv.wait(g), false),
                        Obj::Write(g) => Obj::CvWrite(self.cv.wait(g), false),
                        _ => unreachable!(),
                    };
                    self.ents[p].obj = obj;
                    self.model.ent_mut(id).role = Role::CvWait;
                }
            }
            Op::NotifyOne => {
                let got = self.cv.notify_one();
                let expect = self.model.notify(1) == 1;
                assert_eq!(got, expect, "step {}: notify_one", self.step);
            }
            Op::Notify(n) => {
                let got = self.cv.notify(n);
                let expect = self.model.notify(n);
                assert_eq!(got, expect, "step {}: notify({n})", self.step);
            }
            Op::NotifyAll => {
                let got = self.cv.notify_all();
                let expect = self.model.notify(usize::MAX);
                assert_eq!(got, expect, "step {}: notify_all", self.step);
            }
            Op::DropWait(i) => {
                if let Some(p) = self.pick(i, Obj::is_wait) {
                    self.drop_pos(p);
                }
            }
        }
    }

    /// The properties that must hold between any two steps.
    fn check(&self) {
        let step = self.step;
        self.model.check_invariants();

        // Exclusion, from the real guards alone.
        let (mut reads, mut writes) = (0u32, 0u32);
        for e in &self.ents {
            match &e.obj {
                Obj::Read(g) => {
                    reads += 1;
                    self.read_ok(g);
                }
                Obj::Raw(Mode::Read) | Obj::CvRead(_, false) => reads += 1,
                Obj::Write(_) | Obj::Raw(Mode::Write) | Obj::CvWrite(_, false) => writes += 1,
                _ => {}
            }
        }
        if P::KIND == PolicyKind::Exclusive {
            assert!(reads + writes <= 1, "step {step}: {reads} readers and {writes} writers inside an Exclusive lock");
        } else {
            assert!(writes <= 1, "step {step}: {writes} writers inside");
            assert!(writes == 0 || reads == 0, "step {step}: a writer and {reads} readers inside");
        }

        // The engine's state is the model's.
        let snap = self.lock.raw().state_snapshot();
        let want = self.model.snapshot();
        let want = if P::KIND == PolicyKind::Exclusive {
            // Every holder is exclusive: the engine counts no readers.
            StateSnapshot { readers: 0, writer: want.readers + u32::from(want.writer) > 0, ..want }
        } else {
            want
        };
        assert_eq!(snap, want, "step {step}: engine state differs from the model");
        if snap.queued_readers > 0 && snap.queued_writers > 0 {
            cover("readers and writers queued together");
        }
        if snap.queued_writers > 1 {
            cover("several writers queued");
        }
        assert_eq!(self.lock.is_locked(), want.writer || want.readers > 0, "step {step}: is_locked");
        assert_eq!(self.lock.is_locked_exclusive(), want.writer, "step {step}: is_locked_exclusive");

        // Wakeups: woken since the last poll exactly when it may proceed.
        for e in &self.ents {
            if !e.obj.is_pollable() {
                continue;
            }
            let woken = e.wakes.count() > e.seen;
            let may = self.model.may_proceed(e.id);
            if may {
                cover("woken future checked");
            }
            assert!(!may || woken, "step {step}: lost wakeup: #{} may proceed but was not woken", e.id);
            assert!(may || !woken, "step {step}: futile wakeup: #{} was woken but cannot proceed", e.id);
        }
    }

    fn run(mut self, ops: &[Op], drop_newest_first: bool) {
        for op in ops {
            self.step += 1;
            self.apply(op);
            self.check();
        }
        // Tear down, checking after every drop.
        while !self.ents.is_empty() {
            self.step += 1;
            let p = if drop_newest_first { self.ents.len() - 1 } else { 0 };
            self.drop_pos(p);
            self.check();
        }
        // No leaked grant, no leftover waiter.
        assert_eq!(
            self.lock.raw().state_snapshot(),
            StateSnapshot { readers: 0, writer: false, queued_readers: 0, queued_writers: 0 }
        );
        assert!(self.lock.try_write().is_some(), "the lock is not free after everything was dropped");
        assert_eq!(self.cv.notify_all(), 0, "a condvar waiter outlived its future");
    }
}

fn run_case<P: Policy>(ops: &[Op], drop_newest_first: bool) {
    let lock = Lock::<P>::new(0);
    let cv = AsyncRwCondvar::new();
    Harness::new(&lock, &cv).run(ops, drop_newest_first);
}

/// 1000 cases per property, or `PROPTEST_CASES` for a deeper run.
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1000);
    Config {
        cases,
        // Print the minimal failing case; write no regression files.
        failure_persistence: None,
        ..Config::default()
    }
}

fn ops(cv_weight: u32) -> impl Strategy<Value = (Vec<Op>, bool)> {
    (prop::collection::vec(op_strategy(cv_weight), 1..64), any::<bool>())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn model_reader_preferring((ops, rev) in ops(1)) {
        run_case::<ReaderPreferring>(&ops, rev);
    }

    #[test]
    fn model_writer_preferring((ops, rev) in ops(1)) {
        run_case::<WriterPreferring>(&ops, rev);
    }

    #[test]
    fn model_phase_fair((ops, rev) in ops(1)) {
        run_case::<PhaseFair>(&ops, rev);
    }

    #[test]
    fn model_exclusive((ops, rev) in ops(1)) {
        run_case::<Exclusive>(&ops, rev);
    }

    /// Condvar-heavy sequences (waits, notifies and dropped waits dominate),
    /// on the default policy and on the one whose readers queue the most.
    #[test]
    fn model_condvar_phase_fair((ops, rev) in ops(4)) {
        run_case::<PhaseFair>(&ops, rev);
    }

    #[test]
    fn model_condvar_writer_preferring((ops, rev) in ops(4)) {
        run_case::<WriterPreferring>(&ops, rev);
    }

    #[test]
    fn model_reader_preferring_biased((ops, rev) in ops(1)) {
        run_case::<rwlocker::ReadBiased<ReaderPreferring>>(&ops, rev);
    }

    #[test]
    fn model_writer_preferring_biased((ops, rev) in ops(1)) {
        run_case::<rwlocker::ReadBiased<WriterPreferring>>(&ops, rev);
    }

    #[test]
    fn model_phase_fair_biased((ops, rev) in ops(1)) {
        run_case::<rwlocker::ReadBiased<PhaseFair>>(&ops, rev);
    }

    #[test]
    fn model_condvar_phase_fair_biased((ops, rev) in ops(4)) {
        run_case::<rwlocker::ReadBiased<PhaseFair>>(&ops, rev);
    }
}

/// The harness itself catches what it claims to: a model that disagreed
/// with the lock (here: a hand-made wrong expectation) fails the check.
#[test]
fn harness_detects_a_disagreement() {
    let lock = Lock::<PhaseFair>::new(0);
    let cv = AsyncRwCondvar::new();
    let mut h = Harness::new(&lock, &cv);
    h.apply(&Op::SpawnWrite);
    h.apply(&Op::Poll(0));
    h.check();
    // Pretend the model forgot the writer: the snapshot check must fail.
    let id = h.ents[0].id;
    h.model.ents.get_mut(&id).unwrap().st = MState::Idle;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.check()));
    assert!(r.is_err(), "a wrong model went unnoticed");
    h.model.ents.get_mut(&id).unwrap().st = MState::Held;
    h.run(&[], true);
}

/// The generator is worth its cases: a fixed-seed run of every policy
/// reaches each situation the properties are about (grants, cancellations
/// before and after a grant, departures that admit readers, read phases,
/// downgrades with waiters, notified and re-queued condvar waits dropped,
/// timed acquires expiring, lost-wakeup checks with something to check).
#[test]
fn generator_reaches_interesting_states() {
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
    COVERAGE.with(|c| c.borrow_mut().clear());
    let cases = std::cell::Cell::new(0);
    for (weight, seed) in [(1u32, 1u8), (4, 2)] {
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]);
        let mut runner =
            TestRunner::new_with_rng(Config { cases: 200, failure_persistence: None, ..Config::default() }, rng);
        runner
            .run(&ops(weight), |(ops, rev)| {
                run_case::<ReaderPreferring>(&ops, rev);
                run_case::<WriterPreferring>(&ops, rev);
                run_case::<PhaseFair>(&ops, rev);
                run_case::<Exclusive>(&ops, rev);
                cases.set(cases.get() + 1);
                Ok(())
            })
            .unwrap();
    }
    assert_eq!(cases.get(), 400);
    let seen = COVERAGE.with(|c| c.borrow().clone());
    for what in [
        "reader granted from queue",
        "writer granted from queue",
        "several readers granted together",
        "downgrade admitted queued readers",
        "read phase with writers still queued",
        "departure admitted readers",
        "queued future dropped",
        "granted future dropped",
        "condvar wait dropped unpolled",
        "condvar wait dropped while waiting",
        "notified condvar wait dropped",
        "re-queued condvar wait dropped",
        "re-granted condvar wait dropped",
        "notified condvar wait polled",
        "several condvar waiters notified",
        "zero timed acquire expired",
        "short timed acquire expired",
        "woken future checked",
        "readers and writers queued together",
        "several writers queued",
    ] {
        assert!(seen.get(what).copied().unwrap_or(0) > 0, "never reached: {what}; reached: {seen:#?}");
    }
    eprintln!("coverage: {seen:#?}");
}

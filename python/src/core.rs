//! The lock state behind every Python lock object: the Rust engine plus the
//! bookkeeping that the API of rwlocker 3.2 needs on top of it (the counts
//! that `locked()` reports and that `release()` checks, the reentrant
//! writer, the downgrade marker, the waiter counts).
//!
//! # Atomicity
//!
//! The module declares that it uses the GIL (`gil_used = true`), so every
//! method here runs with the GIL held. The bookkeeping fields are atomics
//! (for `Sync`) read and written with relaxed ordering; a compound update is
//! atomic because nothing in between can release the GIL. The one place
//! that can run Python code (and so switch threads) is the engine's wake of
//! an asyncio waiter inside an unlock or a downgrade: every bookkeeping
//! update therefore happens *before* the engine call that may wake, and
//! every grant is recorded right after the engine call that takes the lock.
//!
//! Invariants (between two GIL-holding calls):
//! * `readers` (the Python-visible read count) never exceeds the read holds
//!   the engine grants: increments follow an engine grant, decrements
//!   precede the engine release. With `pinned > 0`, `pinned` of those
//!   readers share one engine read hold (a reentrant writer's own reads,
//!   kept through its final write release or its downgrade).
//! * `writer` / `owner != 0` is set only while the engine's write lock is
//!   held, and cleared before it is released.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyOverflowError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBool;
use rwlocker::engine::StateSnapshot;
use rwlocker::{Exclusive, PhaseFair, RawAcquire, RawRwLock, ReaderPreferring, WriterPreferring};

use crate::util::{is_main_thread, thread_waker};

/// The admission policy of a lock, as chosen by its Python class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PolicyName {
    /// `RWLockFair`: phase-fair.
    Fair,
    /// `RWLockWrite`: writer-preferring.
    Write,
    /// `RWLockRead`: reader-preferring.
    Read,
    /// `Lock`: every acquisition exclusive, FIFO.
    Exclusive,
}

impl PolicyName {
    /// Parses the `_rwlocker_policy` class attribute.
    pub(crate) fn parse(s: &str) -> PyResult<Self> {
        Ok(match s {
            "fair" => PolicyName::Fair,
            "write" => PolicyName::Write,
            "read" => PolicyName::Read,
            "exclusive" => PolicyName::Exclusive,
            _ => return Err(PyValueError::new_err(format!("unknown rwlocker policy {s:?}"))),
        })
    }
}

/// The engine with its policy, behind one enum so that pyclasses (which
/// cannot be generic) can hold any of them. Each lock is in an `Arc` so
/// that a queued acquisition ([`RawAcquire<'static>`]) can keep it.
pub(crate) enum Engine {
    Fair(Arc<RawRwLock<PhaseFair>>),
    Write(Arc<RawRwLock<WriterPreferring>>),
    Read(Arc<RawRwLock<ReaderPreferring>>),
    Exclusive(Arc<RawRwLock<Exclusive>>),
}

macro_rules! dispatch {
    ($engine:expr, $raw:ident => $body:expr) => {
        match $engine {
            Engine::Fair($raw) => $body,
            Engine::Write($raw) => $body,
            Engine::Read($raw) => $body,
            Engine::Exclusive($raw) => $body,
        }
    };
}

impl Engine {
    fn new(policy: PolicyName) -> Self {
        match policy {
            PolicyName::Fair => Engine::Fair(Arc::new(RawRwLock::new())),
            PolicyName::Write => Engine::Write(Arc::new(RawRwLock::new())),
            PolicyName::Read => Engine::Read(Arc::new(RawRwLock::new())),
            PolicyName::Exclusive => Engine::Exclusive(Arc::new(RawRwLock::new())),
        }
    }

    #[inline]
    fn try_lock(&self, kind: Kind) -> bool {
        match kind {
            Kind::Read => dispatch!(self, r => r.try_lock_shared()),
            Kind::Write => dispatch!(self, r => r.try_lock_exclusive()),
        }
    }

    /// # Safety
    /// The caller holds the lock in `kind` mode and gives it up.
    #[inline]
    pub(crate) unsafe fn unlock(&self, kind: Kind) {
        // SAFETY: forwarded from the caller's obligation.
        unsafe {
            match kind {
                Kind::Read => dispatch!(self, r => r.unlock_shared()),
                Kind::Write => dispatch!(self, r => r.unlock_exclusive()),
            }
        }
    }

    /// # Safety
    /// The caller holds the write lock; afterwards it holds a read lock.
    #[inline]
    unsafe fn downgrade(&self) {
        // SAFETY: forwarded from the caller's obligation.
        unsafe { dispatch!(self, r => r.downgrade()) }
    }

    /// A new acquisition of this lock in `kind` mode (not queued until
    /// polled; dropping it leaves the queue).
    pub(crate) fn acquire(&self, kind: Kind) -> RawAcquire<'static> {
        match kind {
            Kind::Read => dispatch!(self, r => RawAcquire::read_owned(r.clone())),
            Kind::Write => dispatch!(self, r => RawAcquire::write_owned(r.clone())),
        }
    }

    pub(crate) fn snapshot(&self) -> StateSnapshot {
        dispatch!(self, r => r.state_snapshot())
    }
}

/// Which side of the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Read = 0,
    Write = 1,
}

pub(crate) const UNACQUIRED_READ: &str = "Unacquired read lock";
pub(crate) const UNACQUIRED_WRITE: &str = "Unacquired write lock";
pub(crate) const PERMISSION_DENIED: &str = "Permission denied";
pub(crate) const CANNOT_DOWNGRADE: &str = "Cannot downgrade unlocked lock";
pub(crate) const NESTED_DOWNGRADE: &str = "Cannot downgrade a nested write lock. Release inner locks first.";

fn runtime(msg: &'static str) -> PyErr {
    PyRuntimeError::new_err(msg)
}

/// How long a blocked main thread sleeps between two checks for signals
/// (Ctrl-C): the bound on how late a `KeyboardInterrupt` is raised.
const SIGNAL_SLICE: Duration = Duration::from_millis(20);

/// One lock: engine plus bookkeeping. Shared (by `Arc`) between the lock
/// object and its proxies.
pub(crate) struct Core {
    pub(crate) engine: Engine,
    pub(crate) reentrant: bool,
    /// The RuntimeError text for releasing an unheld write side.
    unheld_write: &'static str,
    readers: AtomicUsize,
    pinned: AtomicUsize,
    writer: AtomicBool,
    owner: AtomicUsize,
    depth: AtomicUsize,
    /// Identity of the thread/task whose downgraded read lock a
    /// `write.release()` routes to the read side; 0 when none.
    marker: AtomicUsize,
    /// Read holds of the marker's thread/task (the downgraded one included).
    marker_reads: AtomicUsize,
    waiting: [AtomicUsize; 2],
}

/// Who is calling (a thread or an asyncio task), computed only when needed.
pub(crate) type Me<'a> = &'a dyn Fn() -> usize;

impl Core {
    pub(crate) fn new(policy: PolicyName, reentrant: bool) -> Self {
        Core::with_message(policy, reentrant, UNACQUIRED_WRITE)
    }

    pub(crate) fn with_message(policy: PolicyName, reentrant: bool, unheld_write: &'static str) -> Self {
        Core {
            engine: Engine::new(policy),
            reentrant,
            unheld_write,
            readers: AtomicUsize::new(0),
            pinned: AtomicUsize::new(0),
            writer: AtomicBool::new(false),
            owner: AtomicUsize::new(0),
            depth: AtomicUsize::new(0),
            marker: AtomicUsize::new(0),
            marker_reads: AtomicUsize::new(0),
            waiting: [AtomicUsize::new(0), AtomicUsize::new(0)],
        }
    }

    /// Whether a caller must know its identity before `granted(Write)`.
    #[inline]
    pub(crate) fn needs_identity(&self, kind: Kind) -> bool {
        self.reentrant && kind == Kind::Write
    }

    /// Takes the lock at once if the policy admits the caller now (a
    /// reentrant owner always). `me` is the caller's identity when
    /// `needs_identity(kind)`, else 0; `who` computes it otherwise.
    #[inline]
    pub(crate) fn try_acquire(&self, kind: Kind, me: usize, who: Me<'_>) -> PyResult<bool> {
        if self.reentrant {
            let owner = self.owner.load(Relaxed);
            if owner != 0 {
                let me = if me != 0 { me } else { who() };
                if owner != me {
                    return Ok(false);
                }
                match kind {
                    Kind::Write => {
                        self.depth.fetch_add(1, Relaxed);
                    }
                    Kind::Read => self.granted(Kind::Read, me, who),
                }
                return Ok(true);
            }
        }
        if self.engine.try_lock(kind) {
            self.granted(kind, me, who);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Records a grant the engine just made (fast path or slow path).
    #[inline]
    pub(crate) fn granted(&self, kind: Kind, me: usize, who: Me<'_>) {
        match kind {
            Kind::Read => {
                self.readers.fetch_add(1, Relaxed);
                let marker = self.marker.load(Relaxed);
                if marker != 0 && marker == who() {
                    // A read of the thread/task that downgraded: its write
                    // release stays routed until all of them are released.
                    self.marker_reads.fetch_add(1, Relaxed);
                }
            }
            Kind::Write => {
                // A new write lock means every earlier downgraded read is
                // gone: a stale marker cannot survive it.
                self.marker.store(0, Relaxed);
                self.marker_reads.store(0, Relaxed);
                if self.reentrant {
                    self.owner.store(me, Relaxed);
                    self.depth.store(1, Relaxed);
                } else {
                    self.writer.store(true, Relaxed);
                }
            }
        }
    }

    /// `proxy.release()` of the given side.
    pub(crate) fn release(&self, kind: Kind, who: Me<'_>) -> PyResult<()> {
        let marker = self.marker.load(Relaxed);
        if marker != 0 && marker == who() {
            // The caller downgraded: its write release is a read release.
            // Each read release of its own counts down its reads; the
            // last one ends the downgrade (no stale routing afterwards).
            let left = self.marker_reads.load(Relaxed).saturating_sub(1);
            self.marker_reads.store(left, Relaxed);
            if left == 0 {
                self.marker.store(0, Relaxed);
            }
            return self.release_read();
        }
        match kind {
            Kind::Read => self.release_read(),
            Kind::Write => self.release_write(who),
        }
    }

    fn release_read(&self) -> PyResult<()> {
        let r = self.readers.load(Relaxed);
        if r == 0 {
            return Err(runtime(UNACQUIRED_READ));
        }
        self.readers.store(r - 1, Relaxed);
        if self.reentrant && self.owner.load(Relaxed) != 0 {
            // The write owner's own read: no engine hold behind it.
            return Ok(());
        }
        let p = self.pinned.load(Relaxed);
        if p > 0 {
            self.pinned.store(p - 1, Relaxed);
            if p > 1 {
                return Ok(());
            }
        }
        // SAFETY: `readers` counted a read hold the engine granted (see
        // the module invariants), and it is uncounted above.
        unsafe { self.engine.unlock(Kind::Read) };
        Ok(())
    }

    fn release_write(&self, who: Me<'_>) -> PyResult<()> {
        if self.reentrant {
            let owner = self.owner.load(Relaxed);
            if owner == 0 || owner != who() {
                return Err(runtime(PERMISSION_DENIED));
            }
            let d = self.depth.load(Relaxed) - 1;
            self.depth.store(d, Relaxed);
            if d > 0 {
                return Ok(());
            }
            self.owner.store(0, Relaxed);
            let r = self.readers.load(Relaxed);
            if r > 0 {
                // The owner still holds reads: the lock stays read-held,
                // all of them on the one read hold the downgrade leaves.
                self.pinned.store(r, Relaxed);
                // SAFETY: the owner held the engine's write lock.
                unsafe { self.engine.downgrade() };
            } else {
                // SAFETY: the owner held the engine's write lock.
                unsafe { self.engine.unlock(Kind::Write) };
            }
            Ok(())
        } else {
            if !self.writer.load(Relaxed) {
                return Err(runtime(self.unheld_write));
            }
            self.writer.store(false, Relaxed);
            // SAFETY: `writer` was set, so the engine's write lock is held.
            unsafe { self.engine.unlock(Kind::Write) };
            Ok(())
        }
    }

    /// `write.downgrade()`.
    pub(crate) fn downgrade(&self, who: Me<'_>) -> PyResult<()> {
        let me;
        if self.reentrant {
            let owner = self.owner.load(Relaxed);
            me = who();
            if owner == 0 || owner != me {
                return Err(runtime(PERMISSION_DENIED));
            }
            if self.depth.load(Relaxed) > 1 {
                return Err(runtime(NESTED_DOWNGRADE));
            }
            self.owner.store(0, Relaxed);
            self.depth.store(0, Relaxed);
            let r = self.readers.load(Relaxed);
            if r > 0 {
                self.pinned.store(r + 1, Relaxed);
            }
            // The owner's reads taken while writing are its own too.
            self.marker_reads.store(r + 1, Relaxed);
        } else {
            if !self.writer.load(Relaxed) {
                return Err(runtime(CANNOT_DOWNGRADE));
            }
            me = who();
            self.writer.store(false, Relaxed);
            self.marker_reads.store(1, Relaxed);
        }
        self.readers.fetch_add(1, Relaxed);
        self.marker.store(me, Relaxed);
        // SAFETY: the write lock was held (checked above).
        unsafe { self.engine.downgrade() };
        Ok(())
    }

    /// `read.locked()`: some reader holds the lock.
    pub(crate) fn read_locked(&self) -> bool {
        self.readers.load(Relaxed) > 0
    }

    /// `write.locked()`: some writer holds the lock.
    pub(crate) fn write_locked(&self) -> bool {
        self.writer.load(Relaxed) || self.owner.load(Relaxed) != 0
    }

    /// Whether some thread/task's write release is routed to its
    /// downgraded read lock (so `marked` needs the caller's identity).
    pub(crate) fn any_marker(&self) -> bool {
        self.marker.load(Relaxed) != 0
    }

    /// Whether `me` downgraded and still holds that read lock (its write
    /// release is routed to the read side).
    pub(crate) fn marked(&self, me: usize) -> bool {
        self.marker.load(Relaxed) == me
    }

    /// After a condition wait re-took the read lock of a caller that had
    /// downgraded, keeps routing its write release (the wait released and
    /// re-took the same read; the `with lock.write:` block still ends with
    /// a write release).
    ///
    /// Only where the wait's release ended the routing (its last read):
    /// while the marker is still the caller's, `granted` has counted the
    /// re-taken read already, and counting it again would leave the
    /// routing alive after the caller's last release.
    pub(crate) fn restore_marker(&self, me: usize) {
        if self.marker.load(Relaxed) == 0 {
            self.marker.store(me, Relaxed);
            self.marker_reads.store(1, Relaxed);
        }
    }

    /// Whether `me` holds the reentrant write lock more than once.
    pub(crate) fn nested_owner(&self, me: usize) -> bool {
        self.reentrant && self.owner.load(Relaxed) == me && self.depth.load(Relaxed) > 1
    }

    /// Whether `me` owns the reentrant write lock and holds read locks
    /// inside it: a wait that gives up the write side would leave the
    /// lock read-held by those reads, and could never take it back.
    pub(crate) fn owner_with_reads(&self, me: usize) -> bool {
        self.reentrant && self.owner.load(Relaxed) == me && self.readers.load(Relaxed) > 0
    }

    /// `proxy.those_waiting`.
    pub(crate) fn waiting(&self, kind: Kind) -> usize {
        self.waiting[kind as usize].load(Relaxed)
    }

    pub(crate) fn add_waiting(&self, kind: Kind, delta: isize) {
        if delta > 0 {
            self.waiting[kind as usize].fetch_add(delta as usize, Relaxed);
        } else {
            self.waiting[kind as usize].fetch_sub((-delta) as usize, Relaxed);
        }
    }

    /// A thread's acquire after the fast path failed: queues in the engine,
    /// parks with the GIL released, checks for signals between parks on
    /// the main thread. Returns whether the lock was taken (false only at
    /// `deadline`); on a signal's exception, leaves the queue and raises.
    pub(crate) fn acquire_blocking(
        &self,
        py: Python<'_>,
        kind: Kind,
        me: usize,
        deadline: Option<Instant>,
        who: Me<'_>,
    ) -> PyResult<bool> {
        self.add_waiting(kind, 1);
        let result = block_on_engine(py, &self.engine, kind, deadline);
        self.add_waiting(kind, -1);
        if let Ok(true) = result {
            self.granted(kind, me, who);
        }
        result
    }
}

/// What one stretch of parking without the GIL ended with.
enum Parked {
    Granted,
    Deadline,
    Slice,
}

/// What a blocked thread does with a signal handler's exception.
pub(crate) enum Signals<'a> {
    /// Leave the queue and raise it.
    Raise,
    /// Keep waiting; keep the first exception for the caller to raise
    /// once the lock is held (a condition wait re-acquiring its lock). A
    /// second exception before then gives up: the first is raised at once,
    /// without the lock (the way out of a re-acquire that cannot finish).
    Defer(&'a mut Option<PyErr>),
}

/// Waits in the engine's queue for `kind` until granted or `deadline`.
pub(crate) fn block_on_engine(
    py: Python<'_>,
    engine: &Engine,
    kind: Kind,
    deadline: Option<Instant>,
) -> PyResult<bool> {
    let mut acq = engine.acquire(kind);
    drive(py, &mut acq, deadline, Signals::Raise)
}

/// Polls `acq` (fresh, or already queued with this thread's waker) until it
/// is granted (true) or `deadline` passes (false, after leaving the queue),
/// parking with the GIL released. On the main thread, signal handlers run
/// every [`SIGNAL_SLICE`]; their exceptions are handled per `signals`.
pub(crate) fn drive(
    py: Python<'_>,
    acq: &mut RawAcquire<'static>,
    deadline: Option<Instant>,
    mut signals: Signals<'_>,
) -> PyResult<bool> {
    let waker: Waker = thread_waker();
    if acq.poll(&mut Context::from_waker(&waker)).is_ready() {
        return Ok(true);
    }
    // Only the main thread runs signal handlers: other threads sleep until
    // granted or the deadline.
    let slice = if is_main_thread(py) { Some(SIGNAL_SLICE) } else { None };
    loop {
        let acq_ref = &mut *acq;
        let waker_ref = &waker;
        let parked = py.detach(move || {
            let mut cx = Context::from_waker(waker_ref);
            park_until(deadline, slice, || acq_ref.poll(&mut cx).is_ready())
        });
        match parked {
            Parked::Granted => return Ok(true),
            Parked::Deadline => {
                // A timed acquire that finds itself granted at its deadline
                // keeps the lock (docs/SEMANTICS.md §2).
                return Ok(acq.abandon());
            }
            Parked::Slice => {
                if let Err(e) = py.check_signals() {
                    match &mut signals {
                        Signals::Raise => {
                            acq.cancel();
                            return Err(e);
                        }
                        Signals::Defer(slot) => match slot.take() {
                            None => **slot = Some(e),
                            Some(first) => {
                                acq.cancel();
                                return Err(first);
                            }
                        },
                    }
                }
            }
        }
    }
}

/// Parks the calling thread (GIL released) until `done()` holds, the
/// deadline passes, or a signal slice ends.
fn park_until(deadline: Option<Instant>, slice: Option<Duration>, mut done: impl FnMut() -> bool) -> Parked {
    let slice_end = slice.map(|s| Instant::now() + s);
    loop {
        let until = match (deadline, slice_end) {
            (Some(d), Some(s)) => Some(d.min(s)),
            (d, s) => d.or(s),
        };
        match until {
            None => std::thread::park(),
            Some(u) => {
                let now = Instant::now();
                if u > now {
                    std::thread::park_timeout(u - now);
                }
            }
        }
        if done() {
            return Parked::Granted;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Parked::Deadline;
        }
        if slice_end.is_some_and(|s| now >= s) {
            return Parked::Slice;
        }
    }
}

/// Outcome of [`park_while`].
pub(crate) enum Woken {
    /// `done()` became true.
    Done,
    /// The deadline passed first.
    Deadline,
    /// A signal handler raised.
    Signal(PyErr),
}

/// Waits (GIL released, parking) until `done()`, the deadline, or a
/// signal's exception on the main thread.
pub(crate) fn park_while(py: Python<'_>, deadline: Option<Instant>, done: &mut (dyn FnMut() -> bool + Send)) -> Woken {
    if done() {
        return Woken::Done;
    }
    let slice = if is_main_thread(py) { Some(SIGNAL_SLICE) } else { None };
    loop {
        let done_ref = &mut *done;
        match py.detach(move || park_until(deadline, slice, done_ref)) {
            Parked::Granted => return Woken::Done,
            Parked::Deadline => return Woken::Deadline,
            Parked::Slice => {
                if let Err(e) = py.check_signals() {
                    return Woken::Signal(e);
                }
            }
        }
    }
}

/// How a thread acquire waits, from `acquire(blocking, timeout)`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    Try,
    Forever,
    Until(Instant),
}

/// The largest timeout `threading` accepts.
const TIMEOUT_MAX: f64 = 9_223_372_036.0;

/// Parses `blocking` and `timeout` with the rules of `threading.Lock.acquire`
/// (docs/SEMANTICS.md §9: `ValueError` where `threading.Lock` raises it).
pub(crate) fn parse_wait(blocking: Option<&Bound<'_, PyAny>>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<Wait> {
    let blocking = match blocking {
        None => true,
        Some(b) => truthy_int(b)?,
    };
    let timeout = match timeout {
        None => -1.0,
        Some(t) => t.extract::<f64>()?,
    };
    if timeout.is_nan() {
        return Err(PyValueError::new_err("Invalid value NaN (not a number)"));
    }
    if !blocking {
        if timeout != -1.0 {
            return Err(PyValueError::new_err("can't specify a timeout for a non-blocking call"));
        }
        return Ok(Wait::Try);
    }
    if timeout == -1.0 {
        return Ok(Wait::Forever);
    }
    if timeout < 0.0 {
        return Err(PyValueError::new_err("timeout value must be positive"));
    }
    if timeout > TIMEOUT_MAX {
        return Err(PyOverflowError::new_err("timeout value is too large"));
    }
    if timeout == 0.0 {
        return Ok(Wait::Try);
    }
    Ok(match Instant::now().checked_add(Duration::from_secs_f64(timeout)) {
        Some(d) => Wait::Until(d),
        None => Wait::Forever,
    })
}

/// `blocking` as `threading` reads it: a bool or an integer.
pub(crate) fn truthy_int(b: &Bound<'_, PyAny>) -> PyResult<bool> {
    if let Ok(b) = b.cast::<PyBool>() {
        return Ok(b.is_true());
    }
    match b.extract::<i64>() {
        Ok(i) => Ok(i != 0),
        Err(_) => {
            Err(PyTypeError::new_err(format!("'{}' object cannot be interpreted as an integer", b.get_type().name()?)))
        }
    }
}

/// A timeout of a condition wait: `None` forever, `<= 0` a poll.
pub(crate) fn parse_cond_timeout(timeout: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Instant>> {
    let t = match timeout {
        None => return Ok(None),
        Some(t) if t.is_none() => return Ok(None),
        Some(t) => t.extract::<f64>()?,
    };
    if t.is_nan() {
        return Err(PyValueError::new_err("Invalid value NaN (not a number)"));
    }
    let now = Instant::now();
    if t <= 0.0 {
        return Ok(Some(now));
    }
    if t > TIMEOUT_MAX {
        return Err(PyOverflowError::new_err("timeout value is too large"));
    }
    Ok(now.checked_add(Duration::from_secs_f64(t)))
}

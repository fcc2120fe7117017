//! Condition variables: `RWCondition` / `AsyncRWCondition` proxies.
//!
//! Built on the crate's [`AsyncRwCondvar`] through its hand-driven wait
//! ([`RawCondvarWait`]: `register_raw_owned`, `poll`, `cancel`): one FIFO of waiters per
//! condition, shared by its read and write proxies (as in rwlocker 3.2, a
//! notify from either side wakes the oldest waiters, whatever mode they
//! wait in). Thread waiters use a waker that unparks the thread; asyncio
//! waiters one that resolves a future of their loop.
//!
//! * A waiter registers **before** it releases the lock, so a notify issued
//!   in between finds it (no lost wakeup).
//! * `notify(n)` wakes exactly `min(n, waiting)` waiters, oldest first; a
//!   woken waiter re-acquires its mode as an arrival when it runs.
//! * A waiter that gives up (timeout, signal, task cancellation) after it
//!   was notified passes the notification on to the next waiter, so
//!   `notify(n)` always reaches `n` live waiters. (A thread whose timeout
//!   races a notification keeps the notification and returns True.)
//! * `wait` always returns (or raises) holding the same mode again; an
//!   asyncio wait that is cancelled re-acquires first, then re-raises.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use rwlocker::{AsyncRwCondvar, RawAcquire, RawCondvarWait};

use crate::aio::{
    poll_task, running_loop, AcquireOp, AsyncMutex, AsyncRWLockReaderProxy, AsyncRWLockWriterProxy, AsyncWake, Stepping,
};
use crate::core::{drive, park_while, parse_cond_timeout, Core, Kind, Signals, Woken};
use crate::thread::{thread_acquire, Mutex, RWLockReaderProxy, RWLockWriterProxy};
use crate::util::{task_token, thread_token, thread_waker};

const WAIT_UNACQUIRED: &str = "cannot wait on un-acquired lock";
const NOTIFY_UNACQUIRED: &str = "cannot notify on un-acquired lock";
const WAIT_NESTED: &str = "Cannot wait on a nested write lock. Release inner locks first.";
const WAIT_WITH_READS: &str =
    "Cannot wait on a write lock while holding read locks inside it. Release inner locks first.";

/// The condition variable of one condition (both proxies).
#[derive(Default)]
pub(crate) struct CondCore {
    cv: Arc<AsyncRwCondvar>,
    /// Waits registered and not yet returned from their sleep (for tests
    /// and diagnostics: `len(cond._state)`).
    sleeping: AtomicUsize,
    /// The identity of the one lock this condition waits with (0 until a
    /// proxy binds it).
    lock: AtomicUsize,
}

impl CondCore {
    /// Binds the condition to the lock `lock_id` (a condition variable
    /// serves one lock); a second lock is refused.
    fn bind(&self, lock_id: usize) -> PyResult<()> {
        match self.lock.compare_exchange(0, lock_id, Relaxed, Relaxed) {
            Ok(_) => Ok(()),
            Err(bound) if bound == lock_id => Ok(()),
            Err(_) => Err(PyRuntimeError::new_err("this condition state already belongs to another lock")),
        }
    }

    /// Registers a wait for the lock `lock_id` with `waker`.
    fn register(&self, lock_id: usize, waker: &std::task::Waker) -> RawCondvarWait<'static> {
        let wait = self.cv.clone().register_raw_owned(lock_id, waker);
        self.sleeping.fetch_add(1, Relaxed);
        wait
    }

    /// Polls a wait; `Ready` once notified (and then it is no longer
    /// counted as sleeping).
    fn poll(&self, wait: &mut RawCondvarWait<'static>, cx: &mut Context<'_>) -> Poll<()> {
        let p = wait.poll(cx);
        if p.is_ready() {
            self.sleeping.fetch_sub(1, Relaxed);
        }
        p
    }

    /// Gives a wait up; returns whether it had been notified.
    fn cancel(&self, wait: &mut RawCondvarWait<'static>) -> bool {
        let notified = wait.cancel();
        self.sleeping.fetch_sub(1, Relaxed);
        notified
    }

    /// Wakes `min(n, waiting)` waiters, oldest first; returns how many.
    pub(crate) fn notify(&self, n: usize) -> usize {
        self.cv.notify(n)
    }

    fn len(&self) -> usize {
        self.sleeping.load(Relaxed)
    }
}

/// The condition's FIFO, shared by the two proxies of one condition.
#[pyclass(frozen, module = "rwlocker._rwlocker", name = "CondState")]
pub struct CondState {
    pub(crate) core: Arc<CondCore>,
}

#[pymethods]
impl CondState {
    #[new]
    fn new() -> Self {
        CondState { core: Arc::new(CondCore::default()) }
    }

    /// How many waiters are registered (for tests and diagnostics).
    fn __len__(&self) -> usize {
        self.core.len()
    }
}

/// The lock side a condition proxy is bound to.
enum Side {
    /// A proxy of a lock of this package (or its `Mutex`): handled natively.
    Native(Arc<Core>, Kind),
    /// Another lock object (e.g. `Lock(threading.RLock())`): called.
    Foreign,
}

impl Side {
    fn of_thread(proxy: &Bound<'_, PyAny>) -> Side {
        if let Ok(p) = proxy.cast::<RWLockReaderProxy>() {
            Side::Native(p.get().core.clone(), Kind::Read)
        } else if let Ok(p) = proxy.cast::<RWLockWriterProxy>() {
            Side::Native(p.get().core.clone(), Kind::Write)
        } else if let Ok(m) = proxy.cast::<Mutex>() {
            Side::Native(m.get().core.clone(), Kind::Write)
        } else {
            Side::Foreign
        }
    }

    fn of_async(proxy: &Bound<'_, PyAny>) -> PyResult<(Arc<Core>, Kind)> {
        if let Ok(p) = proxy.cast::<AsyncRWLockReaderProxy>() {
            Ok((p.get().core.clone(), Kind::Read))
        } else if let Ok(p) = proxy.cast::<AsyncRWLockWriterProxy>() {
            Ok((p.get().core.clone(), Kind::Write))
        } else if let Ok(m) = proxy.cast::<AsyncMutex>() {
            Ok((m.get().core.clone(), Kind::Write))
        } else {
            Err(PyTypeError::new_err("AsyncRWCondition needs a lock of rwlocker.async_rwlock (an AsyncRWLockBase)"))
        }
    }
}

/// The write-side waits a reentrant write owner cannot make: on a write
/// lock it holds more than once, or with read locks of its own inside it
/// (the lock would stay read-held by them, and the wait could never take
/// it back). Its read-side waits leave the write lock alone and work.
fn check_wait_nesting(core: &Core, kind: Kind, me: usize) -> PyResult<()> {
    if kind == Kind::Read {
        return Ok(());
    }
    if core.nested_owner(me) {
        return Err(PyRuntimeError::new_err(WAIT_NESTED));
    }
    if core.owner_with_reads(me) {
        return Err(PyRuntimeError::new_err(WAIT_WITH_READS));
    }
    Ok(())
}

/// Whether the mode is held by anyone (the ownership rule of 3.2).
fn held(core: &Core, kind: Kind) -> bool {
    match kind {
        Kind::Read => core.read_locked(),
        Kind::Write => core.write_locked(),
    }
}

/// How many waiters `notify(n)` wakes, counted as `threading.Condition`
/// and rwlocker 3.2 count (wake one while `n > 0`, then `n -= 1`): an
/// integer as itself (any size; none if negative), another real number
/// rounded up (`1.5` wakes two, NaN none, infinity all).
fn parse_n(n: Option<&Bound<'_, PyAny>>) -> PyResult<usize> {
    let Some(n) = n else { return Ok(1) };
    if let Ok(i) = n.extract::<i128>() {
        return Ok(i.clamp(0, usize::MAX as i128) as usize);
    }
    if n.is_instance_of::<pyo3::types::PyInt>() {
        // An integer beyond i128: every waiter, or none.
        return Ok(if n.gt(0)? { usize::MAX } else { 0 });
    }
    match n.extract::<f64>() {
        Ok(f) if f.is_nan() || f <= 0.0 => Ok(0),
        Ok(f) if f >= usize::MAX as f64 => Ok(usize::MAX),
        Ok(f) => Ok(f.ceil() as usize),
        Err(_) => {
            Err(PyTypeError::new_err(format!("notify() takes a number of waiters, not '{}'", n.get_type().name()?)))
        }
    }
}

// ---------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------

/// The base of `cond.read` / `cond.write`.
#[pyclass(subclass, frozen, module = "rwlocker.thread_rwlock", name = "RWConditionProxy")]
pub struct RWConditionProxy;

#[pymethods]
impl RWConditionProxy {
    #[new]
    #[pyo3(signature = (*_args))]
    fn new(_args: &Bound<'_, pyo3::types::PyTuple>) -> Self {
        RWConditionProxy
    }
}

/// The thread half of a condition proxy.
pub(crate) struct ThreadCond {
    cond: Arc<CondCore>,
    side: Side,
    proxy: Py<PyAny>,
    /// The identity of the lock, for the condvar's one-lock rule.
    lock_id: usize,
}

/// The identity of a native lock (both proxies of a lock share it).
fn core_id(core: &Arc<Core>) -> usize {
    Arc::as_ptr(core) as usize
}

impl ThreadCond {
    fn new(state: &Bound<'_, CondState>, lock_proxy: Bound<'_, PyAny>) -> PyResult<Self> {
        let side = Side::of_thread(&lock_proxy);
        let lock_id = match &side {
            Side::Native(core, _) => core_id(core),
            Side::Foreign => lock_proxy.as_ptr() as usize,
        };
        let cond = state.get().core.clone();
        cond.bind(lock_id)?;
        Ok(ThreadCond { cond, side, proxy: lock_proxy.unbind(), lock_id })
    }

    fn held(&self, py: Python<'_>) -> PyResult<bool> {
        match &self.side {
            Side::Native(core, kind) => Ok(held(core, *kind)),
            Side::Foreign => self.proxy.call_method0(py, "locked")?.is_truthy(py),
        }
    }

    fn acquire(
        &self,
        py: Python<'_>,
        blocking: Option<&Bound<'_, PyAny>>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        match &self.side {
            Side::Native(core, kind) => {
                let got = thread_acquire(py, core, *kind, blocking, timeout)?;
                Ok(pybool(py, got))
            }
            Side::Foreign => {
                let p = self.proxy.bind(py);
                Ok(match (blocking, timeout) {
                    (None, None) => p.call_method0("acquire")?,
                    (Some(b), None) => p.call_method1("acquire", (b,))?,
                    (b, Some(t)) => {
                        p.call_method1("acquire", (b.map_or_else(|| pybool(py, true), |b| b.clone().unbind()), t))?
                    }
                }
                .unbind())
            }
        }
    }

    fn release(&self, py: Python<'_>) -> PyResult<()> {
        match &self.side {
            Side::Native(core, kind) => core.release(*kind, &thread_token),
            Side::Foreign => self.proxy.call_method0(py, "release").map(drop),
        }
    }

    fn locked(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.side {
            Side::Native(core, kind) => Ok(pybool(py, held(core, *kind))),
            Side::Foreign => self.proxy.call_method0(py, "locked"),
        }
    }

    fn wait(&self, py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        let deadline = parse_cond_timeout(timeout)?;
        self.wait_until(py, deadline)
    }

    fn wait_until(&self, py: Python<'_>, deadline: Option<Instant>) -> PyResult<bool> {
        if !self.held(py)? {
            return Err(PyRuntimeError::new_err(WAIT_UNACQUIRED));
        }
        let me = thread_token();
        if let Side::Native(core, kind) = &self.side {
            check_wait_nesting(core, *kind, me)?;
        }
        let marked = matches!(&self.side, Side::Native(core, Kind::Read) if core.marked(me));
        let waker = thread_waker();
        // Register first, then release: a notify in between finds us.
        let mut wait = self.cond.register(self.lock_id, &waker);
        if let Err(e) = self.release(py) {
            if self.cond.cancel(&mut wait) {
                self.cond.notify(1);
            }
            return Err(e);
        }

        let mut pending: Option<PyErr> = None;
        let mut pass_on = false;
        let cond = &*self.cond;
        let woken = {
            let wait_ref = &mut wait;
            let waker_ref = &waker;
            park_while(py, deadline, &mut || cond.poll(wait_ref, &mut Context::from_waker(waker_ref)).is_ready())
        };
        let notified = match woken {
            Woken::Done => true,
            // A notification that raced the deadline is kept.
            Woken::Deadline => cond.cancel(&mut wait),
            Woken::Signal(e) => {
                pending = Some(e);
                // Notified but interrupted: the notification goes on.
                pass_on = cond.cancel(&mut wait);
                pass_on
            }
        };

        // Take the lock back in the same mode, whatever happened.
        match &self.side {
            Side::Native(core, kind) => {
                // As an arrival first: the fast path, and the reentrant
                // owner's shortcut (a read of the write owner is not the
                // engine's to grant: it holds the write lock itself).
                if !core.try_acquire(*kind, me, &thread_token)? {
                    let mut acq = core.engine.acquire(*kind);
                    drive(py, &mut acq, None, Signals::Defer(&mut pending))?;
                    core.granted(*kind, me, &thread_token);
                }
                if marked {
                    core.restore_marker(me);
                }
            }
            Side::Foreign => {
                let r = self.proxy.call_method0(py, "acquire");
                if let Err(e) = r {
                    pending.get_or_insert(e);
                }
            }
        }
        if pass_on {
            cond.notify(1);
        }
        match pending {
            Some(e) => Err(e),
            None => Ok(notified),
        }
    }

    fn wait_for(
        &self,
        py: Python<'_>,
        predicate: &Bound<'_, PyAny>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let waittime: Option<f64> = match timeout {
            Some(t) if !t.is_none() => Some(t.extract()?),
            _ => None,
        };
        let mut end: Option<Instant> = None;
        let mut result = predicate.call0()?;
        while !result.is_truthy()? {
            let deadline = match waittime {
                None => None,
                Some(_) => match end {
                    None => {
                        // The rules of `wait` (3.2's wait_for passes the
                        // timeout on to it): NaN and a timeout beyond
                        // `threading.TIMEOUT_MAX` raise.
                        let d = parse_cond_timeout(timeout)?;
                        end = Some(d.unwrap_or_else(Instant::now));
                        d
                    }
                    Some(e) => {
                        if Instant::now() >= e {
                            break;
                        }
                        Some(e)
                    }
                },
            };
            self.wait_until(py, deadline)?;
            result = predicate.call0()?;
        }
        Ok(result.unbind())
    }

    fn notify(&self, py: Python<'_>, n: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let n = parse_n(n)?;
        if !self.held(py)? {
            return Err(PyRuntimeError::new_err(NOTIFY_UNACQUIRED));
        }
        self.cond.notify(n);
        Ok(())
    }

    fn notify_all(&self, py: Python<'_>) -> PyResult<()> {
        if !self.held(py)? {
            return Err(PyRuntimeError::new_err(NOTIFY_UNACQUIRED));
        }
        self.cond.notify(usize::MAX);
        Ok(())
    }
}

fn pybool(py: Python<'_>, b: bool) -> Py<PyAny> {
    pyo3::types::PyBool::new(py, b).to_owned().into_any().unbind()
}

macro_rules! thread_cond_proxy {
    ($name:ident, $pyname:literal, { $($extra:tt)* }) => {
        #[doc = concat!("`cond.", $pyname, "`")]
        #[pyclass(extends = RWConditionProxy, frozen, module = "rwlocker.thread_rwlock", name = $pyname)]
        pub struct $name {
            inner: ThreadCond,
        }

        #[pymethods]
        impl $name {
            /// Binds a condition's FIFO to a lock proxy (`lock.read` or
            /// `lock.write`); `RWCondition` does this.
            #[new]
            fn new(state: &Bound<'_, CondState>, lock_proxy: Bound<'_, PyAny>) -> PyResult<PyClassInitializer<Self>> {
                Ok(PyClassInitializer::from(RWConditionProxy).add_subclass($name { inner: ThreadCond::new(state, lock_proxy)? }))
            }

            /// The lock proxy this condition proxy acquires and releases.
            #[getter]
            fn _lock_proxy(&self, py: Python<'_>) -> Py<PyAny> {
                self.inner.proxy.clone_ref(py)
            }

            #[pyo3(signature = (blocking = None, timeout = None))]
            fn acquire(
                &self,
                py: Python<'_>,
                blocking: Option<&Bound<'_, PyAny>>,
                timeout: Option<&Bound<'_, PyAny>>,
            ) -> PyResult<Py<PyAny>> {
                self.inner.acquire(py, blocking, timeout)
            }

            fn release(&self, py: Python<'_>) -> PyResult<()> {
                self.inner.release(py)
            }

            fn locked(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                self.inner.locked(py)
            }

            fn __enter__(&self, py: Python<'_>) -> PyResult<bool> {
                self.inner.acquire(py, None, None)?;
                Ok(true)
            }

            fn __exit__(
                &self,
                py: Python<'_>,
                _t: &Bound<'_, PyAny>,
                _e: &Bound<'_, PyAny>,
                _tb: &Bound<'_, PyAny>,
            ) -> PyResult<bool> {
                self.inner.release(py)?;
                Ok(false)
            }

            /// Releases this mode, waits for a notification (or `timeout`
            /// seconds; `<= 0` polls), re-acquires the same mode. Returns
            /// False on timeout.
            #[pyo3(signature = (timeout = None))]
            fn wait(&self, py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
                self.inner.wait(py, timeout)
            }

            /// Waits until `predicate()` is true; returns its last value.
            #[pyo3(signature = (predicate, timeout = None))]
            fn wait_for(
                &self,
                py: Python<'_>,
                predicate: &Bound<'_, PyAny>,
                timeout: Option<&Bound<'_, PyAny>>,
            ) -> PyResult<Py<PyAny>> {
                self.inner.wait_for(py, predicate, timeout)
            }

            /// Wakes the `n` oldest waiters (fewer if fewer wait).
            #[pyo3(signature = (n = None))]
            fn notify(&self, py: Python<'_>, n: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
                self.inner.notify(py, n)
            }

            /// Wakes every waiter.
            fn notify_all(&self, py: Python<'_>) -> PyResult<()> {
                self.inner.notify_all(py)
            }

            $($extra)*
        }
    };
}

thread_cond_proxy!(RWConditionReaderProxy, "RWConditionReaderProxy", {});
thread_cond_proxy!(RWConditionWriterProxy, "RWConditionWriterProxy", {
    /// `lock.write.downgrade()`.
    fn downgrade(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.proxy.call_method0(py, "downgrade").map(drop)
    }
});

// ---------------------------------------------------------------------------
// asyncio
// ---------------------------------------------------------------------------

/// The base of the asyncio condition proxies.
#[pyclass(subclass, frozen, module = "rwlocker.async_rwlock", name = "AsyncRWConditionProxy")]
pub struct AsyncRWConditionProxy;

#[pymethods]
impl AsyncRWConditionProxy {
    #[new]
    #[pyo3(signature = (*_args))]
    fn new(_args: &Bound<'_, pyo3::types::PyTuple>) -> Self {
        AsyncRWConditionProxy
    }
}

/// What an asyncio wait step produced.
enum Step {
    Yield(Py<PyAny>),
    Return(bool),
}

enum WState {
    Start,
    Waiting(RawCondvarWait<'static>),
    /// Taking the lock back; `exc` is re-raised once it is held.
    Reacquire {
        acq: RawAcquire<'static>,
        exc: Option<PyErr>,
        result: bool,
    },
    Done,
}

/// The state machine of one asyncio `wait()`.
struct WaitMachine {
    cond: Arc<CondCore>,
    core: Arc<Core>,
    kind: Kind,
    /// The waiting task's identity, computed only when needed (reentrant
    /// locks, downgrade markers).
    me: Option<usize>,
    /// The waiter had downgraded (its write release routes to read).
    marked: bool,
    /// The loop the wait started on (its futures are made there).
    loop_: Option<Py<PyAny>>,
    st: WState,
}

impl WaitMachine {
    fn new(cond: &Arc<CondCore>, core: &Arc<Core>, kind: Kind) -> Self {
        WaitMachine {
            cond: cond.clone(),
            core: core.clone(),
            kind,
            me: None,
            marked: false,
            loop_: None,
            st: WState::Start,
        }
    }

    fn me(&mut self, py: Python<'_>) -> usize {
        *self.me.get_or_insert_with(|| task_token(py))
    }

    /// The task's identity where the lock's bookkeeping needs it for
    /// `kind`, 0 (unused) otherwise.
    fn me_if_needed(&mut self, py: Python<'_>) -> usize {
        if self.core.needs_identity(self.kind) {
            self.me(py)
        } else {
            0
        }
    }

    /// The task's identity as `Core` asks for it: only on the paths that
    /// need it, and computed then if not known yet.
    fn who<'py>(&self, py: Python<'py>) -> impl Fn() -> usize + 'py {
        let known = self.me;
        move || known.unwrap_or_else(|| task_token(py))
    }

    fn step(&mut self, py: Python<'_>) -> PyResult<Step> {
        match std::mem::replace(&mut self.st, WState::Done) {
            WState::Start => {
                if !held(&self.core, self.kind) {
                    return Err(PyRuntimeError::new_err(WAIT_UNACQUIRED));
                }
                if self.core.reentrant {
                    let me = self.me(py);
                    check_wait_nesting(&self.core, self.kind, me)?;
                }
                if self.kind == Kind::Read && self.core.any_marker() {
                    let me = self.me(py);
                    self.marked = self.core.marked(me);
                }
                let lp = running_loop(py)?;
                let (waker, fut) = AsyncWake::create_on(&lp)?;
                // Register first, then release: a notify in between finds us.
                let mut wait = self.cond.register(core_id(&self.core), &waker);
                if let Err(e) = self.core.release(self.kind, &self.who(py)) {
                    if self.cond.cancel(&mut wait) {
                        self.cond.notify(1);
                    }
                    return Err(e);
                }
                fut.setattr(intern!(py, "_asyncio_future_blocking"), true)?;
                self.loop_ = Some(lp.unbind());
                self.st = WState::Waiting(wait);
                Ok(Step::Yield(fut.unbind()))
            }
            WState::Waiting(mut wait) => {
                let cond = &*self.cond;
                let lp = self.loop_.as_ref().map(|l| l.bind(py));
                match poll_task(py, lp, true, |cx| cond.poll(&mut wait, cx)) {
                    Ok(None) => self.reacquire(py, None, None, true),
                    Ok(Some(fut)) => {
                        self.st = WState::Waiting(wait);
                        Ok(Step::Yield(fut.unbind()))
                    }
                    Err(e) => {
                        self.st = WState::Waiting(wait);
                        self.throw(py, e)
                    }
                }
            }
            WState::Reacquire { acq, exc, result } => self.reacquire(py, Some(acq), exc, result),
            WState::Done => Err(PyRuntimeError::new_err("cannot reuse already awaited coroutine")),
        }
    }

    /// Takes the lock back: first as an arrival (the lock's fast path),
    /// then by polling the queued acquisition `acq`; finishes (raising
    /// `exc` if any) once the lock is held.
    fn reacquire(
        &mut self,
        py: Python<'_>,
        acq: Option<RawAcquire<'static>>,
        exc: Option<PyErr>,
        result: bool,
    ) -> PyResult<Step> {
        let woken = acq.is_some();
        let mut acq = match acq {
            Some(acq) => acq,
            None => {
                let me = self.me_if_needed(py);
                match self.core.try_acquire(self.kind, me, &self.who(py)) {
                    Ok(true) => return self.reacquired(py, exc, result),
                    Ok(false) => {}
                    Err(e) => return Err(exc.unwrap_or(e)),
                }
                self.core.engine.acquire(self.kind)
            }
        };
        let lp = self.loop_.as_ref().map(|l| l.bind(py));
        match poll_task(py, lp, woken, |cx| acq.poll(cx)) {
            Ok(None) => {
                let me = self.me_if_needed(py);
                self.core.granted(self.kind, me, &self.who(py));
                self.reacquired(py, exc, result)
            }
            Ok(Some(fut)) => {
                self.st = WState::Reacquire { acq, exc, result };
                Ok(Step::Yield(fut.unbind()))
            }
            Err(e) => {
                // No loop to wait on: give the lock up rather than hang.
                acq.cancel();
                Err(exc.unwrap_or(e))
            }
        }
    }

    /// The lock is held again: restores the downgrade routing, finishes.
    fn reacquired(&mut self, py: Python<'_>, exc: Option<PyErr>, result: bool) -> PyResult<Step> {
        if self.marked {
            let me = self.me(py);
            self.core.restore_marker(me);
        }
        match exc {
            Some(e) => Err(e),
            None => Ok(Step::Return(result)),
        }
    }

    /// An exception thrown in (cancellation): take the lock back first
    /// (passing on a notification already received), then raise it.
    fn throw(&mut self, py: Python<'_>, exc: PyErr) -> PyResult<Step> {
        match std::mem::replace(&mut self.st, WState::Done) {
            WState::Start | WState::Done => Err(exc),
            WState::Waiting(mut wait) => {
                if self.cond.cancel(&mut wait) {
                    self.cond.notify(1);
                }
                self.reacquire(py, None, Some(exc), false)
            }
            WState::Reacquire { acq, result, .. } => self.reacquire(py, Some(acq), Some(exc), result),
        }
    }

    /// Closed or collected mid-wait: leave without the lock, passing on a
    /// notification and a grant already received.
    fn abort(&mut self) {
        match std::mem::replace(&mut self.st, WState::Done) {
            WState::Waiting(mut wait) => {
                if self.cond.cancel(&mut wait) {
                    self.cond.notify(1);
                }
            }
            WState::Reacquire { mut acq, .. } => acq.cancel(),
            WState::Start | WState::Done => {}
        }
    }
}

impl Drop for WaitMachine {
    fn drop(&mut self) {
        self.abort();
    }
}

/// The coroutine of `await cond.read.wait()`.
#[pyclass(weakref, module = "rwlocker.async_rwlock", name = "_WaitOp")]
pub struct WaitOp {
    m: WaitMachine,
}

fn step_result(py: Python<'_>, s: PyResult<Step>) -> PyResult<Py<PyAny>> {
    match s? {
        Step::Yield(f) => Ok(f),
        Step::Return(v) => Err(crate::aio::stop(py, v)),
    }
}

#[pymethods]
impl WaitOp {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __next__(mut slf: PyRefMut<'_, Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let _g = Stepping::enter(slf.as_ptr());
        step_result(py, slf.m.step(py))
    }
    fn send(mut slf: PyRefMut<'_, Self>, py: Python<'_>, _value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let _g = Stepping::enter(slf.as_ptr());
        step_result(py, slf.m.step(py))
    }
    #[pyo3(signature = (typ, val = None, _tb = None))]
    fn throw(
        mut slf: PyRefMut<'_, Self>,
        py: Python<'_>,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _g = Stepping::enter(slf.as_ptr());
        let exc = crate::aio::thrown(typ, val);
        step_result(py, slf.m.throw(py, exc))
    }
    fn close(&mut self) {
        self.m.abort();
    }
}

/// The coroutine of `await cond.read.wait_for(predicate)`.
#[pyclass(weakref, module = "rwlocker.async_rwlock", name = "_WaitForOp")]
pub struct WaitForOp {
    cond: Arc<CondCore>,
    core: Arc<Core>,
    kind: Kind,
    predicate: Py<PyAny>,
    inner: Option<WaitMachine>,
    done: bool,
}

impl WaitForOp {
    /// An exception thrown in: the running wait takes its lock back, then
    /// raises it.
    fn throw_in(&mut self, py: Python<'_>, exc: PyErr) -> PyResult<Py<PyAny>> {
        match self.inner.as_mut() {
            None => {
                self.done = true;
                Err(exc)
            }
            Some(m) => match m.throw(py, exc) {
                Ok(Step::Yield(f)) => Ok(f),
                Ok(Step::Return(_)) => {
                    // Unreachable in practice: a thrown-in wait always
                    // re-raises. Carry on with the predicate loop.
                    self.inner = None;
                    self.step(py)
                }
                Err(e) => {
                    self.inner = None;
                    self.done = true;
                    Err(e)
                }
            },
        }
    }

    fn step(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if self.done {
            return Err(PyRuntimeError::new_err("cannot reuse already awaited coroutine"));
        }
        loop {
            if self.inner.is_none() {
                let v = match self.predicate.call0(py) {
                    Ok(v) => v,
                    Err(e) => {
                        self.done = true;
                        return Err(e);
                    }
                };
                if v.is_truthy(py)? {
                    self.done = true;
                    return Err(crate::aio::stop_with(py, v));
                }
                self.inner = Some(WaitMachine::new(&self.cond, &self.core, self.kind));
            }
            let m = self.inner.as_mut().expect("inner wait");
            match m.step(py) {
                Ok(Step::Yield(f)) => return Ok(f),
                Ok(Step::Return(_)) => self.inner = None,
                Err(e) => {
                    self.inner = None;
                    self.done = true;
                    return Err(e);
                }
            }
        }
    }
}

#[pymethods]
impl WaitForOp {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }
    fn __next__(mut slf: PyRefMut<'_, Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let _g = Stepping::enter(slf.as_ptr());
        slf.step(py)
    }
    fn send(mut slf: PyRefMut<'_, Self>, py: Python<'_>, _value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let _g = Stepping::enter(slf.as_ptr());
        slf.step(py)
    }
    #[pyo3(signature = (typ, val = None, _tb = None))]
    fn throw(
        mut slf: PyRefMut<'_, Self>,
        py: Python<'_>,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _g = Stepping::enter(slf.as_ptr());
        let exc = crate::aio::thrown(typ, val);
        slf.throw_in(py, exc)
    }
    fn close(&mut self) {
        if let Some(mut m) = self.inner.take() {
            m.abort();
        }
        self.done = true;
    }
}

/// The asyncio half of a condition proxy.
pub(crate) struct AsyncCond {
    cond: Arc<CondCore>,
    core: Arc<Core>,
    kind: Kind,
    proxy: Py<PyAny>,
}

impl AsyncCond {
    fn new(state: &Bound<'_, CondState>, lock_proxy: Bound<'_, PyAny>) -> PyResult<Self> {
        let (core, kind) = Side::of_async(&lock_proxy)?;
        let cond = state.get().core.clone();
        cond.bind(core_id(&core))?;
        Ok(AsyncCond { cond, core, kind, proxy: lock_proxy.unbind() })
    }

    fn check_held(&self, msg: &'static str) -> PyResult<()> {
        if held(&self.core, self.kind) {
            Ok(())
        } else {
            Err(PyRuntimeError::new_err(msg))
        }
    }
}

macro_rules! async_cond_proxy {
    ($name:ident, $pyname:literal, { $($extra:tt)* }) => {
        #[doc = concat!("`cond.", $pyname, "` of an asyncio condition")]
        #[pyclass(extends = AsyncRWConditionProxy, frozen, module = "rwlocker.async_rwlock", name = $pyname)]
        pub struct $name {
            inner: AsyncCond,
        }

        #[pymethods]
        impl $name {
            /// Binds a condition's FIFO to an asyncio lock proxy;
            /// `AsyncRWCondition` does this.
            #[new]
            fn new(state: &Bound<'_, CondState>, lock_proxy: Bound<'_, PyAny>) -> PyResult<PyClassInitializer<Self>> {
                Ok(PyClassInitializer::from(AsyncRWConditionProxy).add_subclass($name { inner: AsyncCond::new(state, lock_proxy)? }))
            }

            /// The lock proxy this condition proxy acquires and releases.
            #[getter]
            fn _lock_proxy(&self, py: Python<'_>) -> Py<PyAny> {
                self.inner.proxy.clone_ref(py)
            }

            #[pyo3(signature = (blocking = None))]
            fn acquire(&self, blocking: Option<&Bound<'_, PyAny>>) -> PyResult<AcquireOp> {
                let blocking = match blocking {
                    Some(b) => b.is_truthy()?,
                    None => true,
                };
                Ok(AcquireOp::start(&self.inner.core, self.inner.kind, blocking))
            }

            fn release(&self, py: Python<'_>) -> PyResult<()> {
                self.inner.core.release(self.inner.kind, &|| task_token(py))
            }

            fn locked(&self) -> bool {
                held(&self.inner.core, self.inner.kind)
            }

            fn __aenter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                crate::aio::aenter(py, &self.inner.core, self.inner.kind)
            }

            fn __aexit__(
                &self,
                py: Python<'_>,
                _t: &Bound<'_, PyAny>,
                _e: &Bound<'_, PyAny>,
                _tb: &Bound<'_, PyAny>,
            ) -> PyResult<Py<crate::aio::Ready>> {
                crate::aio::aexit(py, &self.inner.core, self.inner.kind)
            }

            /// `await wait()`: releases this mode, waits for a notification,
            /// re-acquires the same mode; returns True.
            fn wait(&self) -> WaitOp {
                WaitOp { m: WaitMachine::new(&self.inner.cond, &self.inner.core, self.inner.kind) }
            }

            /// `await wait_for(predicate)`: waits until `predicate()` is
            /// true; returns its last value.
            fn wait_for(&self, predicate: Bound<'_, PyAny>) -> WaitForOp {
                WaitForOp {
                    cond: self.inner.cond.clone(),
                    core: self.inner.core.clone(),
                    kind: self.inner.kind,
                    predicate: predicate.unbind(),
                    inner: None,
                    done: false,
                }
            }

            /// Wakes the `n` oldest waiters (fewer if fewer wait).
            #[pyo3(signature = (n = None))]
            fn notify(&self, n: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
                let n = parse_n(n)?;
                self.inner.check_held(NOTIFY_UNACQUIRED)?;
                self.inner.cond.notify(n);
                Ok(())
            }

            /// Wakes every waiter.
            fn notify_all(&self) -> PyResult<()> {
                self.inner.check_held(NOTIFY_UNACQUIRED)?;
                self.inner.cond.notify(usize::MAX);
                Ok(())
            }

            $($extra)*
        }
    };
}

async_cond_proxy!(AsyncRWConditionReaderProxy, "AsyncRWConditionReaderProxy", {});
async_cond_proxy!(AsyncRWConditionWriterProxy, "AsyncRWConditionWriterProxy", {
    /// `lock.write.downgrade()` (synchronous).
    fn downgrade(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.proxy.call_method0(py, "downgrade").map(drop)
    }
});

//! `rwlocker.async_rwlock`: the lock classes for asyncio tasks.
//!
//! An acquire is a native coroutine object ([`AcquireOp`]): its first step
//! tries the engine's fast path and finishes without yielding when the lock
//! is free; otherwise it queues a [`RawAcquire`] whose waker resolves an
//! asyncio future of the running loop, and yields that future. Thrown
//! exceptions (`CancelledError`), `close()` and garbage collection cancel
//! the acquisition: it leaves the queue, and a grant it had already
//! received is passed on (docs/SEMANTICS.md §4).

use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use pyo3::exceptions::{PyBaseException, PyKeyboardInterrupt, PyRuntimeError, PyStopIteration, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use rwlocker::RawAcquire;

use crate::core::{Core, Kind, PolicyName};
use crate::thread::{abstract_error, class_spec, copy_lock, copying, ClassSpec, Route};
use crate::util::{task_token, thread_token};

static RESOLVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Sets the result of `fut` unless it is already done (cancelled, or
/// resolved by an earlier wake).
#[pyfunction]
fn _resolve_future(fut: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = fut.py();
    if !fut.call_method0(intern!(py, "done"))?.is_truthy()? {
        fut.call_method1(intern!(py, "set_result"), (py.None(),))?;
    }
    Ok(())
}

pub(crate) fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let f = wrap_pyfunction!(_resolve_future, m)?;
    m.add_function(f.clone())?;
    let _ = RESOLVE.set(py, f.into_any().unbind());
    let _ = GET_RUNNING_LOOP.set(py, py.import("asyncio")?.getattr("get_running_loop")?.unbind());
    Ok(())
}

pub(crate) fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    match GET_RUNNING_LOOP.get(py) {
        Some(f) => f.bind(py).call0(),
        None => py.import("asyncio")?.call_method0("get_running_loop"),
    }
}

/// A waker that resolves an asyncio future: directly when woken on the
/// loop's thread, through `call_soon_threadsafe` from any other thread.
pub(crate) struct AsyncWake {
    loop_: Py<PyAny>,
    fut: Py<PyAny>,
    thread: usize,
    /// A weak reference to the coroutine (acquire or wait) that made this
    /// waker: closed when the wake finds its loop closed, so that it gives
    /// up what it was handed (a lock grant, a notification) and passes it
    /// on. Weak: a queued waker must not keep a dropped coroutine alive
    /// (dropping it is how it leaves the queue).
    op: Option<Py<PyAny>>,
}

thread_local! {
    /// The native coroutine whose step runs on this thread (null when
    /// none): the owner of the wakers that step makes.
    static STEPPING: std::cell::Cell<*mut pyo3::ffi::PyObject> = const { std::cell::Cell::new(std::ptr::null_mut()) };
}

/// Marks `op` as the coroutine stepping on this thread until dropped (steps
/// nest when one runs Python code that drives another by hand).
pub(crate) struct Stepping(*mut pyo3::ffi::PyObject);

impl Stepping {
    /// `op` is the object of the native coroutine whose method runs now; it
    /// stays alive (borrowed by that call) while the guard lives.
    pub(crate) fn enter(op: *mut pyo3::ffi::PyObject) -> Stepping {
        Stepping(STEPPING.with(|s| s.replace(op)))
    }
}

impl Drop for Stepping {
    fn drop(&mut self) {
        STEPPING.with(|s| s.set(self.0));
    }
}

/// A weak reference to the coroutine stepping on this thread, if any.
fn stepping(py: Python<'_>) -> Option<Py<PyAny>> {
    let p = STEPPING.with(|s| s.get());
    if p.is_null() {
        return None;
    }
    // SAFETY: a non-null pointer was set by `Stepping::enter` from a live
    // object that its running method keeps alive until the guard drops;
    // the GIL is held.
    let op = unsafe { Bound::from_borrowed_ptr(py, p) };
    pyo3::types::PyWeakrefReference::new(&op).ok().map(|r| r.into_any().unbind())
}

impl AsyncWake {
    /// A waker for a new future of the running loop; returns both.
    pub(crate) fn create(py: Python<'_>) -> PyResult<(Waker, Bound<'_, PyAny>)> {
        let lp = running_loop(py)?;
        AsyncWake::create_on(&lp)
    }

    /// A waker for a new future of the loop `lp`; returns both.
    pub(crate) fn create_on<'py>(lp: &Bound<'py, PyAny>) -> PyResult<(Waker, Bound<'py, PyAny>)> {
        let py = lp.py();
        let fut = lp.call_method0(intern!(py, "create_future"))?;
        let wake = AsyncWake {
            loop_: lp.clone().unbind(),
            fut: fut.clone().unbind(),
            thread: thread_token(),
            op: stepping(py),
        };
        Ok((Waker::from(Arc::new(wake)), fut))
    }

    fn fire(&self) {
        Python::attach(|py| {
            let fut = self.fut.bind(py);
            let result = if thread_token() == self.thread {
                _resolve_future(fut)
            } else {
                let resolve = match RESOLVE.get(py) {
                    Some(r) => r.bind(py).clone(),
                    None => return,
                };
                self.loop_.bind(py).call_method1(intern!(py, "call_soon_threadsafe"), (resolve, fut)).map(drop)
            };
            if let Err(e) = result {
                if e.is_instance_of::<PyKeyboardInterrupt>(py) {
                    // Ctrl-C landed inside the wake: deliver it again.
                    // SAFETY: called with the GIL held (inside `attach`).
                    unsafe { pyo3::ffi::PyErr_SetInterrupt() };
                } else if self.loop_.bind(py).call_method0("is_closed").and_then(|c| c.is_truthy()).unwrap_or(false) {
                    // Nobody will ever run this waiter: it gives up now,
                    // passing on what this wake handed it (the lock, a
                    // notification), so the lock stays usable.
                    let op = self.op.as_ref().and_then(|r| r.bind(py).call0().ok()).filter(|o| !o.is_none());
                    if let Some(op) = op {
                        if let Err(e) = op.call_method0(intern!(py, "close")) {
                            e.write_unraisable(py, Some(&op));
                        }
                    }
                } else {
                    e.write_unraisable(py, Some(fut));
                }
            }
        });
    }
}

impl Wake for AsyncWake {
    fn wake(self: Arc<Self>) {
        self.fire();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.fire();
    }
}

/// Polls an operation of a task that awaits it (`poll` registers the
/// waker it is given). Returns `None` once it is ready, or the future to
/// yield: a future of the loop `lp` (the running loop when `None`), marked
/// for `Task` to wait on, that the waker resolves.
///
/// With `woken` (the task was just resumed by the waker of its last
/// future, so the operation is most likely done), it first polls with a
/// no-op waker and makes no future when that is ready; if not, the second
/// poll registers the real waker (a wake in between is seen by that poll).
pub(crate) fn poll_task<'py>(
    py: Python<'py>,
    lp: Option<&Bound<'py, PyAny>>,
    woken: bool,
    mut poll: impl FnMut(&mut Context<'_>) -> Poll<()>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    if woken && poll(&mut Context::from_waker(Waker::noop())).is_ready() {
        return Ok(None);
    }
    let (waker, fut) = match lp {
        Some(lp) => AsyncWake::create_on(lp)?,
        None => AsyncWake::create(py)?,
    };
    if poll(&mut Context::from_waker(&waker)).is_ready() {
        return Ok(None);
    }
    fut.setattr(intern!(py, "_asyncio_future_blocking"), true)?;
    Ok(Some(fut))
}

/// `blocking` of an async acquire: any object, by truth value.
fn truthy(blocking: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
    blocking.map_or(Ok(true), |b| b.is_truthy())
}

/// The `StopIteration` that finishes a native coroutine with `value`.
pub(crate) fn stop_with(_py: Python<'_>, value: Py<PyAny>) -> PyErr {
    PyStopIteration::new_err((value,))
}

static READY_TRUE: PyOnceLock<Py<Ready>> = PyOnceLock::new();
static READY_FALSE: PyOnceLock<Py<Ready>> = PyOnceLock::new();

/// `StopIteration(value)` for a bool result: a new exception each time
/// (one shared between calls would collect a traceback, and with it the
/// frames, every time a coroutine driven by hand lets it pass through a
/// frame). Made at once (a lazy error would be made and normalized on the
/// way out anyway, after an allocation of its own).
pub(crate) fn stop(py: Python<'_>, value: bool) -> PyErr {
    match py.get_type::<PyStopIteration>().call1((value,)) {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

/// An awaitable that finishes at once with a bool, without yielding: what
/// `__aexit__` returns, and `__aenter__` when the lock was free. Shared
/// singletons (it has no state).
#[pyclass(frozen, module = "rwlocker.async_rwlock", name = "_Ready")]
pub struct Ready {
    value: bool,
}

/// The shared `_Ready` for `value`.
pub(crate) fn ready(py: Python<'_>, value: bool) -> PyResult<Py<Ready>> {
    let cell = if value { &READY_TRUE } else { &READY_FALSE };
    cell.get_or_try_init(py, || Py::new(py, Ready { value })).map(|r| r.clone_ref(py))
}

#[pymethods]
impl Ready {
    fn __await__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Err(stop(py, self.value))
    }

    fn send(&self, py: Python<'_>, _value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        Err(stop(py, self.value))
    }

    #[pyo3(signature = (typ, val = None, _tb = None))]
    fn throw(
        &self,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        Err(thrown(typ, val))
    }

    fn close(&self) {}
}

/// `proxy.__aenter__()`: `async with` awaits the result at once, so the
/// fast path runs here, eagerly, and a free lock costs no coroutine.
pub(crate) fn aenter(py: Python<'_>, core: &Arc<Core>, kind: Kind) -> PyResult<Py<PyAny>> {
    let me = if core.needs_identity(kind) { task_token(py) } else { 0 };
    if core.try_acquire(kind, me, &|| task_token(py))? {
        return Ok(ready(py, true)?.into_any());
    }
    Ok(Py::new(py, AcquireOp::start(core, kind, true))?.into_any())
}

/// `proxy.__aexit__(...)`: releases, returns an awaitable of False.
pub(crate) fn aexit(py: Python<'_>, core: &Core, kind: Kind) -> PyResult<Py<Ready>> {
    core.release(kind, &|| task_token(py))?;
    ready(py, false)
}

/// What an [`AcquireOp`] has to do.
enum OpState {
    /// Not started: try, then queue (or give up if not `blocking`).
    Start {
        core: Arc<Core>,
        kind: Kind,
        blocking: bool,
    },
    /// Queued in the engine; the task awaits a future our waker resolves.
    Waiting {
        core: Arc<Core>,
        kind: Kind,
        acq: RawAcquire<'static>,
        me: usize,
    },
    Done,
}

/// The coroutine of an asyncio lock acquire (`await lock.read.acquire()`,
/// `async with lock.write:`); registered as a `collections.abc.Coroutine`
/// so that `asyncio.create_task` accepts it.
#[pyclass(weakref, module = "rwlocker.async_rwlock", name = "_AcquireOp")]
pub struct AcquireOp {
    st: OpState,
}

impl AcquireOp {
    pub(crate) fn start(core: &Arc<Core>, kind: Kind, blocking: bool) -> Self {
        AcquireOp { st: OpState::Start { core: core.clone(), kind, blocking } }
    }

    fn step(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match std::mem::replace(&mut self.st, OpState::Done) {
            OpState::Start { core, kind, blocking } => {
                let me = if core.needs_identity(kind) { task_token(py) } else { 0 };
                if core.try_acquire(kind, me, &|| task_token(py))? {
                    return Err(stop(py, true));
                }
                if !blocking {
                    return Err(stop(py, false));
                }
                core.add_waiting(kind, 1);
                let acq = core.engine.acquire(kind);
                self.wait_step(py, core, kind, acq, me, false)
            }
            OpState::Waiting { core, kind, acq, me } => self.wait_step(py, core, kind, acq, me, true),
            OpState::Done => Err(PyRuntimeError::new_err("cannot reuse already awaited coroutine")),
        }
    }

    /// Polls the queued acquisition (`woken`: the task was resumed by its
    /// future, see [`poll_task`]); yields a future or finishes.
    fn wait_step(
        &mut self,
        py: Python<'_>,
        core: Arc<Core>,
        kind: Kind,
        mut acq: RawAcquire<'static>,
        me: usize,
        woken: bool,
    ) -> PyResult<Py<PyAny>> {
        match poll_task(py, None, woken, |cx| acq.poll(cx)) {
            Ok(None) => {
                core.add_waiting(kind, -1);
                core.granted(kind, me, &|| task_token(py));
                Err(stop(py, true))
            }
            Ok(Some(fut)) => {
                self.st = OpState::Waiting { core, kind, acq, me };
                Ok(fut.unbind())
            }
            Err(e) => {
                acq.cancel();
                core.add_waiting(kind, -1);
                Err(e)
            }
        }
    }

    /// Gives up: leaves the queue, passing on a grant already received.
    fn abort(&mut self) {
        if let OpState::Waiting { core, kind, mut acq, .. } = std::mem::replace(&mut self.st, OpState::Done) {
            acq.cancel();
            core.add_waiting(kind, -1);
        }
    }
}

impl Drop for AcquireOp {
    fn drop(&mut self) {
        self.abort();
    }
}

/// The exception `coro.throw(...)` asks for.
pub(crate) fn thrown(typ: &Bound<'_, PyAny>, val: Option<&Bound<'_, PyAny>>) -> PyErr {
    if typ.is_instance_of::<PyBaseException>() {
        return PyErr::from_value(typ.clone());
    }
    if let Ok(t) = typ.cast::<PyType>() {
        if t.is_subclass_of::<PyBaseException>().unwrap_or(false) {
            let made = match val {
                Some(v) if v.is_instance(t).unwrap_or(false) => Ok(v.clone()),
                Some(v) if !v.is_none() => t.call1((v,)),
                _ => t.call0(),
            };
            return match made {
                Ok(e) => PyErr::from_value(e),
                Err(e) => e,
            };
        }
    }
    PyTypeError::new_err("exceptions must be classes or instances deriving from BaseException")
}

#[pymethods]
impl AcquireOp {
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
        &mut self,
        typ: &Bound<'_, PyAny>,
        val: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.abort();
        self.st = OpState::Done;
        Err(thrown(typ, val))
    }

    fn close(&mut self) {
        self.abort();
        self.st = OpState::Done;
    }
}

/// The base of the asyncio lock proxies.
#[pyclass(subclass, frozen, module = "rwlocker.async_rwlock", name = "AsyncRWLockProxy")]
pub struct AsyncRWLockProxy;

#[pymethods]
impl AsyncRWLockProxy {
    #[new]
    fn new() -> PyResult<Self> {
        Err(PyTypeError::new_err("lock proxies are created by their lock"))
    }
}

macro_rules! async_proxy {
    ($name:ident, $pyname:literal, $kind:expr, { $($extra:tt)* }) => {
        #[doc = concat!("`lock.", $pyname, "` of an asyncio lock")]
        #[pyclass(extends = AsyncRWLockProxy, frozen, module = "rwlocker.async_rwlock", name = $pyname)]
        pub struct $name {
            pub(crate) core: Arc<Core>,
        }

        #[pymethods]
        impl $name {
            /// `await proxy.acquire(blocking=True)`.
            #[pyo3(signature = (blocking = None))]
            fn acquire(&self, blocking: Option<&Bound<'_, PyAny>>) -> PyResult<AcquireOp> {
                Ok(AcquireOp::start(&self.core, $kind, truthy(blocking)?))
            }

            /// Releases this side (synchronous, like `asyncio.Lock.release`).
            fn release(&self, py: Python<'_>) -> PyResult<()> {
                self.core.release($kind, &|| task_token(py))
            }

            /// Whether anyone holds this side.
            fn locked(&self) -> bool {
                match $kind {
                    Kind::Read => self.core.read_locked(),
                    Kind::Write => self.core.write_locked(),
                }
            }

            fn __aenter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                aenter(py, &self.core, $kind)
            }

            fn __aexit__(
                &self,
                py: Python<'_>,
                _exc_type: &Bound<'_, PyAny>,
                _exc: &Bound<'_, PyAny>,
                _tb: &Bound<'_, PyAny>,
            ) -> PyResult<Py<Ready>> {
                aexit(py, &self.core, $kind)
            }

            /// How many tasks wait to acquire this side.
            #[getter]
            fn those_waiting(&self) -> usize {
                self.core.waiting($kind)
            }

            /// The engine's state (for tests).
            fn _state(&self) -> (u32, bool, usize, usize) {
                let s = self.core.engine.snapshot();
                (s.readers, s.writer, s.queued_readers, s.queued_writers)
            }

            $($extra)*
        }
    };
}

async_proxy!(AsyncRWLockReaderProxy, "AsyncRWLockReaderProxy", Kind::Read, {});
async_proxy!(AsyncRWLockWriterProxy, "AsyncRWLockWriterProxy", Kind::Write, {
    /// Turns the held write lock into a read lock, atomically (synchronous).
    fn downgrade(&self, py: Python<'_>) -> PyResult<()> {
        self.core.downgrade(&|| task_token(py))
    }
});

pub(crate) const LOCK_NOT_ACQUIRED: &str = "Lock is not acquired.";

/// A fair (FIFO) asyncio lock with the interface of `asyncio.Lock`, on the
/// engine's exclusive policy; `AsyncLock()` uses it. Usable from several
/// event loops and threads.
#[pyclass(frozen, module = "rwlocker.async_rwlock", name = "AsyncMutex")]
pub struct AsyncMutex {
    pub(crate) core: Arc<Core>,
}

impl AsyncMutex {
    pub(crate) fn create() -> Self {
        AsyncMutex { core: Arc::new(Core::with_message(PolicyName::Exclusive, false, LOCK_NOT_ACQUIRED)) }
    }
}

#[pymethods]
impl AsyncMutex {
    #[new]
    fn new() -> Self {
        AsyncMutex::create()
    }

    #[pyo3(signature = (blocking = None))]
    fn acquire(&self, blocking: Option<&Bound<'_, PyAny>>) -> PyResult<AcquireOp> {
        Ok(AcquireOp::start(&self.core, Kind::Write, truthy(blocking)?))
    }

    fn release(&self, py: Python<'_>) -> PyResult<()> {
        self.core.release(Kind::Write, &|| task_token(py))
    }

    fn locked(&self) -> bool {
        self.core.write_locked()
    }

    /// The engine's state (for tests).
    fn _state(&self) -> (u32, bool, usize, usize) {
        let s = self.core.engine.snapshot();
        (s.readers, s.writer, s.queued_readers, s.queued_writers)
    }

    fn __aenter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        aenter(py, &self.core, Kind::Write)
    }

    fn __aexit__(
        &self,
        py: Python<'_>,
        _t: &Bound<'_, PyAny>,
        _e: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> PyResult<Py<Ready>> {
        aexit(py, &self.core, Kind::Write)
    }
}

/// The base of every asyncio lock: `.read`, `.write`, and the drop-in
/// methods of `asyncio.Lock`, routed to `.write` (`async with lock:` works).
///
/// Instantiated directly (or through `AsyncLock`) it is an adapter whose
/// `read` and `write` are one `AsyncMutex`.
#[pyclass(subclass, frozen, module = "rwlocker.async_rwlock", name = "AsyncRWLockBase")]
pub struct AsyncRWLockBase {
    route: Route,
    #[pyo3(get)]
    read: Py<PyAny>,
    #[pyo3(get)]
    write: Py<PyAny>,
}

impl AsyncRWLockBase {
    fn target(&self) -> &Arc<Core> {
        match &self.route {
            Route::Rw(c) | Route::Mutex(c) => c,
            Route::Foreign => unreachable!("asyncio locks have no foreign route"),
        }
    }
}

#[pymethods]
impl AsyncRWLockBase {
    #[new]
    #[classmethod]
    fn py_new(cls: &Bound<'_, PyType>) -> PyResult<Self> {
        let py = cls.py();
        if let Some(src) = copying::<AsyncRWLockBase>(cls) {
            let src = src.get();
            return Ok(AsyncRWLockBase {
                route: src.route.clone(),
                read: src.read.clone_ref(py),
                write: src.write.clone_ref(py),
            });
        }
        match class_spec(cls)? {
            ClassSpec::Abstract => Err(abstract_error(cls)),
            ClassSpec::Adapter => {
                let m = AsyncMutex::create();
                let core = m.core.clone();
                let obj = Py::new(py, m)?.into_any();
                Ok(AsyncRWLockBase { route: Route::Mutex(core), read: obj.clone_ref(py), write: obj })
            }
            ClassSpec::Rw(policy, reentrant) => {
                let core = Arc::new(Core::new(policy, reentrant));
                let read = Py::new(
                    py,
                    PyClassInitializer::from(AsyncRWLockProxy)
                        .add_subclass(AsyncRWLockReaderProxy { core: core.clone() }),
                )?;
                let write = Py::new(
                    py,
                    PyClassInitializer::from(AsyncRWLockProxy)
                        .add_subclass(AsyncRWLockWriterProxy { core: core.clone() }),
                )?;
                Ok(AsyncRWLockBase { route: Route::Rw(core), read: read.into_any(), write: write.into_any() })
            }
        }
    }

    /// `await write.acquire()`.
    #[pyo3(signature = (blocking = None))]
    fn acquire(&self, blocking: Option<&Bound<'_, PyAny>>) -> PyResult<AcquireOp> {
        Ok(AcquireOp::start(self.target(), Kind::Write, truthy(blocking)?))
    }

    /// `write.release()`.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        self.target().release(Kind::Write, &|| task_token(py))
    }

    /// `write.locked()`.
    fn locked(&self) -> bool {
        self.target().write_locked()
    }

    fn __aenter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        aenter(py, self.target(), Kind::Write)
    }

    fn __aexit__(
        &self,
        py: Python<'_>,
        _t: &Bound<'_, PyAny>,
        _e: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> PyResult<Py<Ready>> {
        aexit(py, self.target(), Kind::Write)
    }

    /// `copy.copy(lock)`: the same lock under a new object (its `.read`
    /// and `.write` are this lock's).
    fn __copy__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        copy_lock(slf.as_any())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let name = slf.get_type().qualname()?;
        let c = slf.get().target();
        Ok(format!(
            "<{name} readers={} writer={} at {:#x}>",
            if c.read_locked() { "held" } else { "free" },
            if c.write_locked() { "held" } else { "free" },
            slf.as_ptr() as usize
        ))
    }
}

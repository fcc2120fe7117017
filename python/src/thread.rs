//! `rwlocker.thread_rwlock`: the lock classes for threads.
//!
//! `RWLockBase` is a native base class: its Python subclasses choose the
//! policy with the class attributes `_rwlocker_policy` ("fair", "write",
//! "read"; `None` marks an abstract class; absent means an adapter over a
//! plain lock) and `_rwlocker_reentrant`. The proxies `.read` / `.write`
//! are native objects, so `with lock.read:` runs no Python code.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyTuple, PyType};

use crate::core::{parse_wait, Core, Kind, PolicyName, Wait};
use crate::util::thread_token;

/// The identity of the calling thread, for `Core`.
fn me_thread() -> usize {
    thread_token()
}

/// `acquire(blocking, timeout)` of a thread proxy.
#[inline]
pub(crate) fn thread_acquire(
    py: Python<'_>,
    core: &Core,
    kind: Kind,
    blocking: Option<&Bound<'_, PyAny>>,
    timeout: Option<&Bound<'_, PyAny>>,
) -> PyResult<bool> {
    let wait = if blocking.is_none() && timeout.is_none() { Wait::Forever } else { parse_wait(blocking, timeout)? };
    let me = if core.needs_identity(kind) { thread_token() } else { 0 };
    if core.try_acquire(kind, me, &me_thread)? {
        return Ok(true);
    }
    match wait {
        Wait::Try => Ok(false),
        Wait::Forever => core.acquire_blocking(py, kind, me, None, &me_thread),
        Wait::Until(d) => core.acquire_blocking(py, kind, me, Some(d), &me_thread),
    }
}

/// The base of the lock proxies (`lock.read`, `lock.write`).
#[pyclass(subclass, frozen, module = "rwlocker.thread_rwlock", name = "RWLockProxy")]
pub struct RWLockProxy;

#[pymethods]
impl RWLockProxy {
    #[new]
    fn new() -> PyResult<Self> {
        Err(PyTypeError::new_err("lock proxies are created by their lock"))
    }
}

macro_rules! thread_proxy {
    ($name:ident, $pyname:literal, $kind:expr, { $($extra:tt)* }) => {
        #[doc = concat!("`lock.", $pyname, "`")]
        #[pyclass(extends = RWLockProxy, frozen, module = "rwlocker.thread_rwlock", name = $pyname)]
        pub struct $name {
            pub(crate) core: Arc<Core>,
        }

        #[pymethods]
        impl $name {
            /// Takes this side of the lock; see `threading.Lock.acquire`.
            #[pyo3(signature = (blocking = None, timeout = None))]
            fn acquire(
                &self,
                py: Python<'_>,
                blocking: Option<&Bound<'_, PyAny>>,
                timeout: Option<&Bound<'_, PyAny>>,
            ) -> PyResult<bool> {
                thread_acquire(py, &self.core, $kind, blocking, timeout)
            }

            /// Releases this side of the lock.
            fn release(&self) -> PyResult<()> {
                self.core.release($kind, &me_thread)
            }

            /// Whether anyone holds this side of the lock.
            fn locked(&self) -> bool {
                match $kind {
                    Kind::Read => self.core.read_locked(),
                    Kind::Write => self.core.write_locked(),
                }
            }

            fn __enter__(&self, py: Python<'_>) -> PyResult<bool> {
                thread_acquire(py, &self.core, $kind, None, None)
            }

            fn __exit__(
                &self,
                _exc_type: &Bound<'_, PyAny>,
                _exc: &Bound<'_, PyAny>,
                _tb: &Bound<'_, PyAny>,
            ) -> PyResult<bool> {
                self.core.release($kind, &me_thread)?;
                Ok(false)
            }

            /// How many callers are blocked acquiring this side.
            #[getter]
            fn those_waiting(&self) -> usize {
                self.core.waiting($kind)
            }

            /// The engine's state (for tests): (readers, writer, queued
            /// readers, queued writers).
            fn _state(&self) -> (u32, bool, usize, usize) {
                let s = self.core.engine.snapshot();
                (s.readers, s.writer, s.queued_readers, s.queued_writers)
            }

            $($extra)*
        }
    };
}

thread_proxy!(RWLockReaderProxy, "RWLockReaderProxy", Kind::Read, {});
thread_proxy!(RWLockWriterProxy, "RWLockWriterProxy", Kind::Write, {
    /// Turns the held write lock into a read lock, atomically.
    fn downgrade(&self) -> PyResult<()> {
        self.core.downgrade(&me_thread)
    }
});

/// A fair (FIFO) mutual-exclusion lock with the interface of
/// `threading.Lock`, on the engine's exclusive policy. `Lock()` uses it.
#[pyclass(frozen, module = "rwlocker.thread_rwlock", name = "Mutex")]
pub struct Mutex {
    pub(crate) core: Arc<Core>,
}

pub(crate) const RELEASE_UNLOCKED: &str = "release unlocked lock";

impl Mutex {
    pub(crate) fn create() -> Self {
        Mutex { core: Arc::new(Core::with_message(PolicyName::Exclusive, false, RELEASE_UNLOCKED)) }
    }
}

#[pymethods]
impl Mutex {
    #[new]
    fn new() -> Self {
        Mutex::create()
    }

    #[pyo3(signature = (blocking = None, timeout = None))]
    fn acquire(
        &self,
        py: Python<'_>,
        blocking: Option<&Bound<'_, PyAny>>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        thread_acquire(py, &self.core, Kind::Write, blocking, timeout)
    }

    fn release(&self) -> PyResult<()> {
        self.core.release(Kind::Write, &me_thread)
    }

    fn locked(&self) -> bool {
        self.core.write_locked()
    }

    /// The engine's state (for tests): (readers, writer, queued readers,
    /// queued writers).
    fn _state(&self) -> (u32, bool, usize, usize) {
        let s = self.core.engine.snapshot();
        (s.readers, s.writer, s.queued_readers, s.queued_writers)
    }

    fn __enter__(&self, py: Python<'_>) -> PyResult<bool> {
        thread_acquire(py, &self.core, Kind::Write, None, None)
    }

    fn __exit__(&self, _t: &Bound<'_, PyAny>, _e: &Bound<'_, PyAny>, _tb: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.core.release(Kind::Write, &me_thread)?;
        Ok(false)
    }
}

/// What the drop-in methods of a lock object route to.
#[derive(Clone)]
pub(crate) enum Route {
    /// A native read-write lock: its write side.
    Rw(Arc<Core>),
    /// An adapter over a native `Mutex`.
    Mutex(Arc<Core>),
    /// An adapter over another lock object: call its methods.
    Foreign,
}

/// The class-level choice of a lock subclass.
pub(crate) enum ClassSpec {
    Adapter,
    Abstract,
    Rw(PolicyName, bool),
}

pub(crate) fn class_spec(cls: &Bound<'_, PyType>) -> PyResult<ClassSpec> {
    match cls.getattr_opt("_rwlocker_policy")? {
        None => Ok(ClassSpec::Adapter),
        Some(p) if p.is_none() => Ok(ClassSpec::Abstract),
        Some(p) => {
            let policy = PolicyName::parse(&p.extract::<String>()?)?;
            let reentrant = match cls.getattr_opt("_rwlocker_reentrant")? {
                Some(r) => r.is_truthy()?,
                None => false,
            };
            Ok(ClassSpec::Rw(policy, reentrant))
        }
    }
}

thread_local! {
    /// The lock object `copy.copy` is copying: the `__new__` it calls for
    /// the same class shares that object's state instead of making a lock.
    static COPYING: std::cell::RefCell<Option<Py<PyAny>>> = const { std::cell::RefCell::new(None) };
}

/// `copy.copy(lock)`: a new object of the same class over the same lock
/// (the same `.read` / `.write`), its instance attributes copied, as a
/// shallow copy of a rwlocker 3.2 lock is. `__new__` is called as
/// `copy.copy` calls it, without `__init__`.
pub(crate) fn copy_lock<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    let cls = obj.get_type();
    COPYING.with(|c| *c.borrow_mut() = Some(obj.clone().unbind()));
    let made = cls.call_method1(pyo3::intern!(py, "__new__"), (&cls,));
    COPYING.with(|c| c.borrow_mut().take());
    let new = made?;
    if let Some(dict) = obj.getattr_opt(pyo3::intern!(py, "__dict__"))? {
        new.getattr(pyo3::intern!(py, "__dict__"))?.call_method1(pyo3::intern!(py, "update"), (dict,))?;
    }
    Ok(new)
}

/// The lock whose state a `__new__` of class `cls` is to share (see
/// [`copy_lock`]).
pub(crate) fn copying<'py, T: pyo3::PyClass + pyo3::PyTypeCheck>(cls: &Bound<'py, PyType>) -> Option<Bound<'py, T>> {
    let py = cls.py();
    let src = COPYING.with(|c| c.borrow().as_ref().map(|o| o.clone_ref(py)))?;
    let src = src.into_bound(py);
    if !src.get_type().is(cls) {
        return None;
    }
    COPYING.with(|c| c.borrow_mut().take());
    src.cast_into::<T>().ok()
}

pub(crate) fn abstract_error(cls: &Bound<'_, PyType>) -> PyErr {
    let name = cls.name().map(|n| n.to_string()).unwrap_or_default();
    PyTypeError::new_err(format!("Can't instantiate abstract class {name}"))
}

/// The base of every thread lock: `.read`, `.write`, and the drop-in
/// methods of `threading.Lock`, routed to `.write`.
///
/// Instantiated directly (or through `Lock`) it is an adapter: `read`,
/// `write` and `_lock` are one plain lock (the given one, or a new `Mutex`).
#[pyclass(subclass, frozen, module = "rwlocker.thread_rwlock", name = "RWLockBase")]
pub struct RWLockBase {
    route: Route,
    #[pyo3(get, name = "_lock")]
    lock: Py<PyAny>,
    #[pyo3(get)]
    read: Py<PyAny>,
    #[pyo3(get)]
    write: Py<PyAny>,
}

#[pymethods]
impl RWLockBase {
    #[new]
    #[classmethod]
    #[pyo3(signature = (lock = None))]
    fn py_new(cls: &Bound<'_, PyType>, lock: Option<Bound<'_, PyAny>>) -> PyResult<Self> {
        let py = cls.py();
        if let Some(src) = copying::<RWLockBase>(cls) {
            let src = src.get();
            return Ok(RWLockBase {
                route: src.route.clone(),
                lock: src.lock.clone_ref(py),
                read: src.read.clone_ref(py),
                write: src.write.clone_ref(py),
            });
        }
        let lock = lock.filter(|l| !l.is_none());
        match class_spec(cls)? {
            ClassSpec::Abstract => Err(abstract_error(cls)),
            ClassSpec::Adapter => {
                let (obj, route) = match lock {
                    Some(l) => match l.cast::<Mutex>() {
                        Ok(m) => {
                            let core = m.get().core.clone();
                            (l.unbind(), Route::Mutex(core))
                        }
                        Err(_) => (l.unbind(), Route::Foreign),
                    },
                    None => {
                        let m = Mutex::create();
                        let core = m.core.clone();
                        (Py::new(py, m)?.into_any(), Route::Mutex(core))
                    }
                };
                Ok(RWLockBase { route, lock: obj.clone_ref(py), read: obj.clone_ref(py), write: obj })
            }
            ClassSpec::Rw(policy, reentrant) => {
                let core = Arc::new(Core::new(policy, reentrant));
                let read = Py::new(
                    py,
                    PyClassInitializer::from(RWLockProxy).add_subclass(RWLockReaderProxy { core: core.clone() }),
                )?;
                let write = Py::new(
                    py,
                    PyClassInitializer::from(RWLockProxy).add_subclass(RWLockWriterProxy { core: core.clone() }),
                )?;
                let lock = match lock {
                    Some(l) => l.unbind(),
                    None => py.None(),
                };
                Ok(RWLockBase { route: Route::Rw(core), lock, read: read.into_any(), write: write.into_any() })
            }
        }
    }

    /// `write.acquire(blocking, timeout)`.
    #[pyo3(signature = (blocking = None, timeout = None))]
    fn acquire(
        &self,
        py: Python<'_>,
        blocking: Option<&Bound<'_, PyAny>>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        match &self.route {
            Route::Rw(core) | Route::Mutex(core) => thread_acquire(py, core, Kind::Write, blocking, timeout),
            Route::Foreign => foreign_acquire(self.write.bind(py), blocking, timeout)?.is_truthy(),
        }
    }

    /// `write.release()`.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        match &self.route {
            Route::Rw(core) | Route::Mutex(core) => core.release(Kind::Write, &me_thread),
            Route::Foreign => self.write.call_method0(py, "release").map(drop),
        }
    }

    /// `write.locked()`.
    fn locked(&self, py: Python<'_>) -> PyResult<bool> {
        match &self.route {
            Route::Rw(core) | Route::Mutex(core) => Ok(core.write_locked()),
            Route::Foreign => self.write.call_method0(py, "locked")?.is_truthy(py),
        }
    }

    fn __enter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.route {
            Route::Rw(core) | Route::Mutex(core) => {
                thread_acquire(py, core, Kind::Write, None, None)?;
                Ok(true.into_pyobject(py)?.to_owned().into_any().unbind())
            }
            Route::Foreign => self.write.call_method0(py, "__enter__"),
        }
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        exc: &Bound<'_, PyAny>,
        tb: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        match &self.route {
            Route::Rw(core) | Route::Mutex(core) => {
                core.release(Kind::Write, &me_thread)?;
                Ok(false.into_pyobject(py)?.to_owned().into_any().unbind())
            }
            Route::Foreign => self.write.call_method1(py, "__exit__", (exc_type, exc, tb)),
        }
    }

    /// `copy.copy(lock)`: the same lock under a new object (its `.read`
    /// and `.write` are this lock's).
    fn __copy__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        copy_lock(slf.as_any())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let name = slf.get_type().qualname()?;
        let this = slf.get();
        Ok(match &this.route {
            Route::Rw(c) => format!(
                "<{name} readers={} writer={} at {:#x}>",
                if c.read_locked() { "held" } else { "free" },
                if c.write_locked() { "held" } else { "free" },
                slf.as_ptr() as usize
            ),
            _ => format!("<{name} adapter at {:#x}>", slf.as_ptr() as usize),
        })
    }
}

/// Calls `obj.acquire(...)` passing only the arguments the caller gave.
fn foreign_acquire<'py>(
    obj: &Bound<'py, PyAny>,
    blocking: Option<&Bound<'py, PyAny>>,
    timeout: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    match (blocking, timeout) {
        (None, None) => obj.call_method0("acquire"),
        (Some(b), None) => obj.call_method1("acquire", (b,)),
        (b, Some(t)) => {
            let b = match b {
                Some(b) => b.clone(),
                None => true.into_pyobject(py)?.to_owned().into_any(),
            };
            obj.call_method1("acquire", PyTuple::new(py, [b, t.clone()])?)
        }
    }
}

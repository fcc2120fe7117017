//! Per-thread helpers: identity token, waker, main-thread test, and the
//! identity of the current asyncio task.

use std::cell::Cell;
use std::sync::Arc;
use std::task::{Wake, Waker};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

thread_local! {
    static TOKEN: u8 = const { 0 };
    static WAKER: Waker = Waker::from(Arc::new(ThreadWake(std::thread::current())));
    static MAIN: Cell<u8> = const { Cell::new(0) };
}

/// A nonzero number that identifies the calling thread while it lives (the
/// address of a thread-local), like `threading.get_ident()`.
#[inline]
pub(crate) fn thread_token() -> usize {
    TOKEN.with(|t| t as *const u8 as usize)
}

/// Unparks a thread blocked in an acquire.
struct ThreadWake(std::thread::Thread);

impl Wake for ThreadWake {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// The waker that unparks the calling thread.
pub(crate) fn thread_waker() -> Waker {
    WAKER.with(|w| w.clone())
}

/// Whether the calling thread is Python's main thread (the one that runs
/// signal handlers). Cached per thread.
pub(crate) fn is_main_thread(py: Python<'_>) -> bool {
    MAIN.with(|m| {
        if m.get() == 0 {
            let main = (|| -> PyResult<bool> {
                let threading = py.import("threading")?;
                let cur = threading.call_method0("current_thread")?;
                let main = threading.call_method0("main_thread")?;
                Ok(cur.is(&main))
            })()
            .unwrap_or(false);
            m.set(if main { 1 } else { 2 });
        }
        m.get() == 1
    })
}

static CURRENT_TASK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The identity of the caller for asyncio locks: the current task (compared
/// by identity, as the Python library does), or the thread when no task
/// runs (a callback, or synchronous code outside any event loop).
pub(crate) fn task_token(py: Python<'_>) -> usize {
    let f = CURRENT_TASK
        .get_or_try_init(py, || -> PyResult<Py<PyAny>> { Ok(py.import("asyncio")?.getattr("current_task")?.unbind()) });
    match f.map(|f| f.call0(py)) {
        Ok(Ok(t)) if !t.is_none(py) => t.as_ptr() as usize,
        // No task (a callback), no running loop, or no asyncio at all:
        // the thread is the caller.
        _ => thread_token(),
    }
}

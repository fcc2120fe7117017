//! Per-thread helpers: identity tokens (threads and asyncio tasks), waker,
//! main-thread test.
//!
//! # Identity tokens
//!
//! The reentrant write owner and the downgrade marker of a lock are
//! recorded as a token of the thread or task that holds them. A token is
//! never reused while anything can still compare against it: a thread's is
//! drawn from a counter the first time it asks (an address would be reused
//! by a later thread), a task's is drawn from the same counter and
//! forgotten by a weak-reference callback when the task is freed, before
//! its address can belong to another task. Threads get odd tokens, tasks
//! even ones, so the two never meet.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyWeakrefReference;

thread_local! {
    static TOKEN: Cell<usize> = const { Cell::new(0) };
    static WAKER: Waker = Waker::from(Arc::new(ThreadWake(std::thread::current())));
}

/// The source of every token (never 0 once shifted and tagged).
static NEXT_TOKEN: AtomicUsize = AtomicUsize::new(1);

/// A token never handed out before; `tag` 1 for threads, 0 for tasks.
fn fresh_token(tag: usize) -> usize {
    (NEXT_TOKEN.fetch_add(1, Relaxed) << 1) | tag
}

/// A nonzero number that identifies the calling thread, never reused by
/// another thread (unlike `threading.get_ident()`).
#[inline]
pub(crate) fn thread_token() -> usize {
    TOKEN.with(|t| match t.get() {
        0 => {
            let v = fresh_token(1);
            t.set(v);
            v
        }
        v => v,
    })
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

static GET_IDENT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static MAIN_THREAD: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Whether the calling thread is Python's main thread (the one that runs
/// signal handlers). Asked afresh each time (only on the way to block):
/// after `os.fork()` the forking thread is the child's main thread.
pub(crate) fn is_main_thread(py: Python<'_>) -> bool {
    (|| -> PyResult<bool> {
        let get_ident = GET_IDENT.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            Ok(py.import("_thread")?.getattr("get_ident")?.unbind())
        })?;
        let main_thread = MAIN_THREAD.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            Ok(py.import("threading")?.getattr("main_thread")?.unbind())
        })?;
        let me = get_ident.call0(py)?;
        let main = main_thread.call0(py)?.getattr(py, "ident")?;
        me.bind(py).eq(main)
    })()
    .unwrap_or(false)
}

static CURRENT_TASK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The tokens of live tasks: task address -> (token, weak reference whose
/// callback forgets the entry), and weak reference address -> task address.
#[derive(Default)]
struct TaskTokens {
    by_task: HashMap<usize, (usize, Py<PyAny>)>,
    by_ref: HashMap<usize, usize>,
}

/// Only touched with the GIL held; never held across a call into Python.
static TASK_TOKENS: Mutex<Option<TaskTokens>> = Mutex::new(None);

fn with_tokens<R>(f: impl FnOnce(&mut TaskTokens) -> R) -> R {
    let mut g = TASK_TOKENS.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(TaskTokens::default))
}

/// The weak-reference callback: the task is being freed, so its token is
/// retired (its address may now be reused by a new task).
#[pyfunction]
fn _forget_task(wref: &Bound<'_, PyAny>) {
    let key = wref.as_ptr() as usize;
    let entry = with_tokens(|t| t.by_ref.remove(&key).and_then(|task| t.by_task.remove(&task)));
    // Dropped outside the map's mutex.
    drop(entry);
}

static FORGET: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The token of the live task `task`.
fn token_of_task(task: &Bound<'_, PyAny>) -> usize {
    let py = task.py();
    let key = task.as_ptr() as usize;
    if let Some(id) = with_tokens(|t| t.by_task.get(&key).map(|e| e.0)) {
        return id;
    }
    let made = FORGET
        .get_or_try_init(py, || -> PyResult<Py<PyAny>> { Ok(wrap_pyfunction!(_forget_task, py)?.into_any().unbind()) })
        .and_then(|cb| PyWeakrefReference::new_with(task, cb.bind(py)));
    match made {
        Ok(wref) => {
            let id = fresh_token(0);
            let rkey = wref.as_ptr() as usize;
            let wref = wref.into_any().unbind();
            // Making the reference may have run Python code (a collection)
            // that gave this task a token already: keep that one.
            let (id, spare) = with_tokens(|t| match t.by_task.get(&key) {
                Some(e) => (e.0, Some(wref)),
                None => {
                    t.by_task.insert(key, (id, wref));
                    t.by_ref.insert(rkey, key);
                    (id, None)
                }
            });
            drop(spare);
            id
        }
        // Not weak-referenceable (asyncio itself keeps its tasks in a
        // WeakSet, so a task always is): fall back to its address, kept
        // even (object addresses are aligned).
        Err(_) => key & !1,
    }
}

/// The identity of the caller for asyncio locks: the current task (as the
/// Python library compares tasks, by identity, but never confused with a
/// later task at the same address), or the thread when no task runs (a
/// callback, or synchronous code outside any event loop).
pub(crate) fn task_token(py: Python<'_>) -> usize {
    let f = CURRENT_TASK
        .get_or_try_init(py, || -> PyResult<Py<PyAny>> { Ok(py.import("asyncio")?.getattr("current_task")?.unbind()) });
    match f.map(|f| f.call0(py)) {
        Ok(Ok(t)) if !t.is_none(py) => token_of_task(t.bind(py)),
        // No task (a callback), no running loop, or no asyncio at all:
        // the thread is the caller.
        _ => thread_token(),
    }
}

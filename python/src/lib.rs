//! The native part of the Python package `rwlocker` (`rwlocker._rwlocker`):
//! the lock and condition classes of the API of rwlocker 3.2, on the
//! engine of the Rust crate `rwlocker`.
//!
//! The pure-Python modules `rwlocker.thread_rwlock` and
//! `rwlocker.async_rwlock` subclass and re-export these classes.

mod aio;
mod cond;
mod core;
mod thread;
mod util;

use pyo3::prelude::*;

/// The module declares that it needs the GIL: the bookkeeping in
/// [`core::Core`] relies on it for atomicity (see that module).
#[pymodule(gil_used = true)]
fn _rwlocker(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<thread::RWLockBase>()?;
    m.add_class::<thread::RWLockProxy>()?;
    m.add_class::<thread::RWLockReaderProxy>()?;
    m.add_class::<thread::RWLockWriterProxy>()?;
    m.add_class::<thread::Mutex>()?;
    m.add_class::<aio::AsyncRWLockBase>()?;
    m.add_class::<aio::AsyncRWLockProxy>()?;
    m.add_class::<aio::AsyncRWLockReaderProxy>()?;
    m.add_class::<aio::AsyncRWLockWriterProxy>()?;
    m.add_class::<aio::AsyncMutex>()?;
    m.add_class::<aio::AcquireOp>()?;
    m.add_class::<aio::Ready>()?;
    m.add_class::<cond::CondState>()?;
    m.add_class::<cond::RWConditionProxy>()?;
    m.add_class::<cond::RWConditionReaderProxy>()?;
    m.add_class::<cond::RWConditionWriterProxy>()?;
    m.add_class::<cond::AsyncRWConditionProxy>()?;
    m.add_class::<cond::AsyncRWConditionReaderProxy>()?;
    m.add_class::<cond::AsyncRWConditionWriterProxy>()?;
    m.add_class::<cond::WaitOp>()?;
    m.add_class::<cond::WaitForOp>()?;
    aio::init(m)?;
    Ok(())
}

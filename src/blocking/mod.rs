//! The blocking (thread) front of the engine.

pub(crate) mod arc;
pub(crate) mod reentrant;
pub(crate) mod rwlock;
mod unlocked;

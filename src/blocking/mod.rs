//! The blocking (thread) front of the engine.

pub(crate) mod rwlock;

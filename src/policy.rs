//! Admission policies: zero-sized types that the engine reads as data.
//!
//! A policy decides who gets the lock when several parties want it. The
//! engine has one implementation of every transition and asks the policy's
//! [`PolicyKind`] at the points where the four rules of docs/SEMANTICS.md §2 differ; the
//! kind is a constant, so each monomorphised lock carries only its own rule.

/// Which admission rule a [`Policy`] selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// See [`ReaderPreferring`].
    ReaderPreferring,
    /// See [`WriterPreferring`].
    WriterPreferring,
    /// See [`PhaseFair`].
    PhaseFair,
    /// See [`Exclusive`].
    Exclusive,
}

mod sealed {
    pub trait Sealed {}
}

use crate::engine::bias::{Counted, Published, ReadToken};

/// An admission policy for [`RwLock`](crate::RwLock) and
/// [`AsyncRwLock`](crate::AsyncRwLock).
///
/// This trait is sealed: the four policies of this crate are the only ones.
pub trait Policy: sealed::Sealed + Send + Sync + Unpin + 'static {
    /// The admission rule this policy selects.
    const KIND: PolicyKind;

    /// Whether every contended release hands the lock directly to the
    /// waiters the policy picks (`true` for [`Strict<P>`]), rather than
    /// waking them and letting arrivals take a free lock within the bound
    /// (`false`, the default mode of the plain policy types).
    const STRICT: bool = false;

    /// Whether reads may take the biased path ([`ReadBiased<P>`]): `true`
    /// for `ReadBiased` of a read-write policy.
    const BIASED: bool = false;

    /// What a read guard carries to release its read lock (nothing, unless
    /// the lock is read-biased). An implementation detail.
    #[doc(hidden)]
    type ReadToken: ReadToken;

    /// What must be `Sync` for a lock of this policy to be shared between
    /// threads: `T` itself when readers share it, `()` (so nothing beyond
    /// `T: Send`) when every acquisition is exclusive.
    ///
    /// Code generic over the policy that shares a lock between threads
    /// states it as a bound:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use rwlocker::{Policy, RwLock};
    ///
    /// fn spawn_reader<T: Send + 'static, P: Policy>(lock: Arc<RwLock<T, P>>)
    /// where
    ///     P::Shared<T>: Sync,
    /// {
    ///     std::thread::spawn(move || drop(lock.read())).join().unwrap();
    /// }
    /// spawn_reader(Arc::new(RwLock::<u8, rwlocker::PhaseFair>::new(1)));
    /// spawn_reader(Arc::new(rwlocker::Mutex::new(std::cell::Cell::new(1))));
    /// ```
    type Shared<T: ?Sized>: ?Sized;
}

macro_rules! policy {
    ($(#[$doc:meta])* $name:ident) => { policy!($(#[$doc])* $name, T); };
    ($(#[$doc:meta])* $name:ident, $shared:ty) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub struct $name;
        impl sealed::Sealed for $name {}
        impl Policy for $name {
            const KIND: PolicyKind = PolicyKind::$name;
            type ReadToken = Counted;
            type Shared<T: ?Sized> = $shared;
        }
    };
}

policy! {
    /// Readers first: a reader is admitted whenever no writer **holds** the
    /// lock, even if writers are waiting.
    ///
    /// When a writer releases, every waiting reader is admitted; when the last
    /// reader releases, the oldest waiting writer is admitted.
    ///
    /// **Writers can starve**: a continuous stream of overlapping readers keeps
    /// a waiting writer out forever. Choose it for read-mostly data whose
    /// writes can wait (caches refreshed in the background).
    ReaderPreferring
}

policy! {
    /// Writers first: a reader is admitted only while no writer holds **or
    /// waits for** the lock; a releasing writer hands the lock to the oldest
    /// waiting writer before any reader.
    ///
    /// **Readers can starve**: a continuous stream of writers keeps readers
    /// out forever. Choose it when writes are rare but must not be delayed.
    WriterPreferring
}

policy! {
    /// Phase-fair (the default): a reader is admitted only while no writer
    /// holds or waits; when a writer releases, **all readers waiting at that
    /// moment are admitted together** (a read phase), and the next writer
    /// follows that phase.
    ///
    /// Nobody starves: a reader waits for at most one writer's critical
    /// section after the current read phase, and a writer waits for at most
    /// the writers queued before it plus one read phase between each.
    PhaseFair
}

/// The plain trait impls of a policy wrapper (a marker type: every value
/// is equal to every other), without the bounds on `P` that derives add.
macro_rules! wrapper_impls {
    ($name:ident) => {
        impl<P> Clone for $name<P> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<P> Copy for $name<P> {}
        impl<P> Default for $name<P> {
            fn default() -> Self {
                $name(core::marker::PhantomData)
            }
        }
        impl<P> PartialEq for $name<P> {
            fn eq(&self, _: &Self) -> bool {
                true
            }
        }
        impl<P> Eq for $name<P> {}
        impl<P> core::hash::Hash for $name<P> {
            fn hash<H: core::hash::Hasher>(&self, _: &mut H) {}
        }
    };
}

/// The exact hand-off mode of policy `P`: `RwLock<T, Strict<PhaseFair>>`,
/// `AsyncRwLock<T, Strict<WriterPreferring>>`, and `RwLock<T, Strict<Exclusive>>`
/// for a strict FIFO mutex.
///
/// Under `Strict<P>` every contended release hands the lock directly to the
/// waiters that `P` picks, in queue order, and `try_read` / `try_write`
/// never overtake a queued waiter. The order of admission is therefore
/// exactly the policy table, at the price of a hand-off (often a wake-up)
/// on every contended acquisition. The plain policy types (`PhaseFair`, …)
/// use *bounded barging* instead: the same class rules, but a free lock
/// may be taken by an arrival ahead of queued waiters until the oldest of
/// them has waited past the starvation bound.
///
/// ```
/// use rwlocker::{PhaseFair, RwLock, Strict};
///
/// let lock: RwLock<u32, Strict<PhaseFair>> = RwLock::new(0);
/// *lock.write() += 1;
/// assert_eq!(*lock.read(), 1);
/// ```
pub struct Strict<P>(core::marker::PhantomData<P>);

wrapper_impls!(Strict);

impl<P: Policy> core::fmt::Debug for Strict<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if P::BIASED {
            write!(f, "Strict<ReadBiased<{:?}>>", P::KIND)
        } else {
            write!(f, "Strict<{:?}>", P::KIND)
        }
    }
}
impl<P: Policy> sealed::Sealed for Strict<P> {}
impl<P: Policy> Policy for Strict<P> {
    const KIND: PolicyKind = P::KIND;
    const STRICT: bool = true;
    const BIASED: bool = P::BIASED;
    type ReadToken = P::ReadToken;
    type Shared<T: ?Sized> = P::Shared<T>;
}

policy! {
    /// Exclusive: every acquisition, read or write, is exclusive, served in
    /// FIFO order. This turns [`RwLock`](crate::RwLock) into a fair mutex
    /// ([`Mutex`](crate::Mutex)); a downgraded guard stays exclusive.
    Exclusive, ()
}

/// Policy `P` with **reader bias**: `RwLock<T, ReadBiased<PhaseFair>>`,
/// `AsyncRwLock<T, ReadBiased<WriterPreferring>>`, also in exact mode as
/// `ReadBiased<Strict<P>>` (or, the same lock, `Strict<ReadBiased<P>>`).
///
/// While no writer is around, a reader of a read-biased lock publishes
/// itself in a slot of a process-wide table instead of counting itself in
/// the lock's state word, so reads on different cores touch different
/// cache lines and scale with the cores. A writer first *revokes* the
/// bias: it scans the table (1024 slots) and moves the readers it finds
/// into the lock's count, then waits for them as for any reader. The bias
/// returns after a pause of nine times the revocation's cost, so that
/// revocations take at most about a tenth of a write-heavy workload's
/// time.
///
/// Choose it for data that is read far more often than written, by many
/// threads at once; writes pay the revocation (microseconds) when they
/// follow a spell of biased reads. The policy `P` still decides who goes
/// first: a waiting writer stops new biased readers exactly as it stops
/// other readers. Under [`Exclusive`] every read is exclusive, so
/// `ReadBiased<Exclusive>` is just `Exclusive`. See docs/SEMANTICS.md §2b.
///
/// ```
/// use rwlocker::{PhaseFair, ReadBiased, RwLock};
///
/// let config: RwLock<String, ReadBiased<PhaseFair>> = RwLock::new("v1".into());
/// assert_eq!(*config.read(), "v1");
/// *config.write() = "v2".into(); // revokes the bias, then writes
/// assert_eq!(*config.read(), "v2");
/// ```
pub struct ReadBiased<P>(core::marker::PhantomData<P>);

wrapper_impls!(ReadBiased);

impl<P: Policy> core::fmt::Debug for ReadBiased<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if P::STRICT {
            write!(f, "ReadBiased<Strict<{:?}>>", P::KIND)
        } else {
            write!(f, "ReadBiased<{:?}>", P::KIND)
        }
    }
}
impl<P: Policy> sealed::Sealed for ReadBiased<P> {}
impl<P: Policy> Policy for ReadBiased<P> {
    const KIND: PolicyKind = P::KIND;
    const STRICT: bool = P::STRICT;
    const BIASED: bool = !matches!(P::KIND, PolicyKind::Exclusive);
    type ReadToken = Published;
    type Shared<T: ?Sized> = P::Shared<T>;
}

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

impl<P> Clone for Strict<P> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P> Copy for Strict<P> {}
impl<P> Default for Strict<P> {
    fn default() -> Self {
        Strict(core::marker::PhantomData)
    }
}
impl<P> PartialEq for Strict<P> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<P> Eq for Strict<P> {}
impl<P> core::hash::Hash for Strict<P> {
    fn hash<H: core::hash::Hasher>(&self, _: &mut H) {}
}
impl<P: Policy> core::fmt::Debug for Strict<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Strict<{:?}>", P::KIND)
    }
}
impl<P: Policy> sealed::Sealed for Strict<P> {}
impl<P: Policy> Policy for Strict<P> {
    const KIND: PolicyKind = P::KIND;
    const STRICT: bool = true;
    type Shared<T: ?Sized> = P::Shared<T>;
}

policy! {
    /// Exclusive: every acquisition, read or write, is exclusive, served in
    /// FIFO order. This turns [`RwLock`](crate::RwLock) into a fair mutex
    /// ([`Mutex`](crate::Mutex)); a downgraded guard stays exclusive.
    Exclusive, ()
}

//! The acquire state machine shared by every async lock future.
//!
//! A future is not queued until its first `Pending` poll; once queued it
//! holds its [`Waiter`]. Dropping it gives up exactly as a timed-out thread
//! does ([`RawRwLock::abandon`]): it leaves the queue, whoever it held back
//! is admitted at once, and a grant it had already received is released as
//! if it had run.

use core::task::{Context, Poll};
use std::sync::Arc as StdArc;

use crate::engine::bias::ReadToken as _;
use crate::engine::waiter::{Kind, Waiter, WAITING};
use crate::engine::RawRwLock;
use crate::loom::Arc;
use crate::policy::Policy;

pub(crate) struct Acquire {
    kind: Kind,
    /// Whether a read may take a read-biased lock's biased path (its guard
    /// then keeps the token the poll returns); false for acquisitions whose
    /// read lock is released as a counted one.
    biased: bool,
    state: State,
}

enum State {
    Idle,
    Queued(Arc<Waiter>),
    Done,
}

impl Acquire {
    /// An acquisition whose read lock (if `kind` is a read) is counted:
    /// released with `unlock_shared`.
    pub(crate) const fn new(kind: Kind) -> Self {
        Acquire { kind, biased: false, state: State::Idle }
    }

    /// An acquisition for a guard that keeps the token [`poll`](Self::poll)
    /// returns: a read may be published on a read-biased lock.
    pub(crate) const fn biased(kind: Kind) -> Self {
        Acquire { kind, biased: true, state: State::Idle }
    }

    /// Polls for the lock; `Ready` means the caller now holds it, and
    /// carries what a read lock's release needs (always the counted token
    /// for writes and for acquisitions made with [`new`](Self::new)).
    pub(crate) fn poll<P: Policy>(&mut self, raw: &RawRwLock<P>, cx: &mut Context<'_>) -> Poll<P::ReadToken> {
        match &self.state {
            State::Idle => {
                if self.biased && self.kind == Kind::Read {
                    if let Some(token) = raw.try_read_biased() {
                        self.state = State::Done;
                        return Poll::Ready(token);
                    }
                }
                let got = match self.kind {
                    Kind::Read => raw.try_lock_shared(),
                    Kind::Write => raw.try_lock_exclusive(),
                };
                if got || raw.spin_task_arrival(self.kind) {
                    self.state = State::Done;
                    return Poll::Ready(P::ReadToken::COUNTED);
                }
                let waiter = Waiter::task(self.kind, WAITING, cx.waker());
                if raw.arrive(&waiter) {
                    self.state = State::Done;
                    return Poll::Ready(P::ReadToken::COUNTED);
                }
                self.state = State::Queued(waiter);
                Poll::Pending
            }
            State::Queued(waiter) => {
                // Register first, then check: a grant racing this poll
                // either is seen below or finds the new waker.
                waiter.register(cx.waker());
                if raw.poll_queued(waiter) {
                    self.state = State::Done;
                    Poll::Ready(P::ReadToken::COUNTED)
                } else {
                    Poll::Pending
                }
            }
            State::Done => panic!("rwlocker: lock future polled after it completed"),
        }
    }

    /// Gives up: called from the owning future's `Drop`.
    pub(crate) fn cancel<P: Policy>(&mut self, raw: &RawRwLock<P>) {
        if self.abandon(raw) {
            // Granted before we gave up: release as if we had run.
            // SAFETY: `abandon` returned true, so this acquisition holds the
            // lock in its own mode, and nothing else will release it.
            unsafe {
                match self.kind {
                    Kind::Read => raw.unlock_shared(),
                    Kind::Write => raw.unlock_exclusive(),
                }
            }
        }
    }

    /// Leaves the queue; true if the lock had been granted first (the
    /// caller then holds it).
    pub(crate) fn abandon<P: Policy>(&mut self, raw: &RawRwLock<P>) -> bool {
        match core::mem::replace(&mut self.state, State::Done) {
            State::Queued(waiter) => raw.abandon(&waiter),
            _ => false,
        }
    }
}

/// The lock a [`RawAcquire`] acquires, with its policy erased: what an
/// acquisition needs from it, object-safe.
trait AcquireOn: Send + Sync {
    fn poll(&self, acquire: &mut Acquire, cx: &mut Context<'_>) -> Poll<()>;
    fn cancel(&self, acquire: &mut Acquire);
    fn abandon(&self, acquire: &mut Acquire) -> bool;
}

impl<P: Policy> AcquireOn for RawRwLock<P> {
    fn poll(&self, acquire: &mut Acquire, cx: &mut Context<'_>) -> Poll<()> {
        acquire.poll(self, cx).map(|_| ())
    }
    fn cancel(&self, acquire: &mut Acquire) {
        acquire.cancel(self)
    }
    fn abandon(&self, acquire: &mut Acquire) -> bool {
        acquire.abandon(self)
    }
}

/// How a [`RawAcquire`] holds its lock.
enum LockRef<'a> {
    Borrowed(&'a dyn AcquireOn),
    Owned(StdArc<dyn AcquireOn>),
}

impl LockRef<'_> {
    fn get(&self) -> &dyn AcquireOn {
        match self {
            LockRef::Borrowed(lock) => *lock,
            LockRef::Owned(lock) => &**lock,
        }
    }
}

/// A lock acquisition in progress, polled by hand: the building block for
/// fronts outside this crate (a foreign-language binding, a custom
/// executor) that cannot hold a borrowing future.
///
/// A `RawAcquire` is made for one lock and acquires only that one: it
/// borrows the lock ([`read`](Self::read), [`write`](Self::write)) or
/// keeps an `Arc` of it ([`read_owned`](Self::read_owned),
/// [`write_owned`](Self::write_owned), which give a `RawAcquire<'static>`
/// whatever the policy, for storing in a struct).
///
/// Poll it with [`poll`](Self::poll) until `Ready` (the lock is then held
/// in the requested mode, to be released with
/// [`RawRwLock::unlock_shared`] / [`RawRwLock::unlock_exclusive`]). To give
/// up, call [`cancel`](Self::cancel), which leaves no trace and releases a
/// grant already received, or simply drop the acquisition, which does the
/// same.
///
/// ```
/// use core::task::{Context, Poll, Waker};
/// use rwlocker::{RawAcquire, RawRwLock};
///
/// let lock = RawRwLock::<rwlocker::PhaseFair>::new();
/// let mut cx = Context::from_waker(Waker::noop());
/// let mut acq = RawAcquire::write(&lock);
/// assert_eq!(acq.poll(&mut cx), Poll::Ready(()));
/// let mut second = RawAcquire::read(&lock);
/// assert_eq!(second.poll(&mut cx), Poll::Pending);
/// second.cancel(); // leaves the queue (dropping it would too)
/// // SAFETY: `acq` was granted the write lock and nothing else releases it.
/// unsafe { lock.unlock_exclusive() };
/// assert!(!lock.is_locked());
/// ```
///
/// An acquisition cannot be pointed at another lock:
///
/// ```compile_fail,E0061
/// use core::task::{Context, Waker};
/// use rwlocker::{RawAcquire, RawRwLock};
///
/// let (a, b) = (RawRwLock::<rwlocker::PhaseFair>::new(), RawRwLock::<rwlocker::PhaseFair>::new());
/// let mut acq = RawAcquire::write(&a);
/// acq.cancel(&b); // no such method: `cancel` takes no lock
/// ```
pub struct RawAcquire<'a> {
    lock: LockRef<'a>,
    acquire: Acquire,
}

impl<'a> RawAcquire<'a> {
    /// An acquisition of a read lock of `lock`.
    pub fn read<P: Policy>(lock: &'a RawRwLock<P>) -> Self {
        RawAcquire { lock: LockRef::Borrowed(lock), acquire: Acquire::new(Kind::Read) }
    }

    /// An acquisition of the write lock of `lock`.
    pub fn write<P: Policy>(lock: &'a RawRwLock<P>) -> Self {
        RawAcquire { lock: LockRef::Borrowed(lock), acquire: Acquire::new(Kind::Write) }
    }

    /// Polls for the lock; `Ready` means the caller holds it. Polling again
    /// after `Ready` panics.
    pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.lock.get().poll(&mut self.acquire, cx)
    }

    /// Gives up; a grant already received is released. Does nothing once
    /// the acquisition has completed or been cancelled.
    pub fn cancel(&mut self) {
        self.lock.get().cancel(&mut self.acquire)
    }

    /// Gives up, keeping a grant that arrived first: returns true if the
    /// lock had been handed to this acquisition (the caller holds it now and
    /// must release it), false if it left the queue without it. This is what
    /// a timed acquire wants at its deadline; [`cancel`](Self::cancel) is
    /// what a cancelled one wants. Does nothing (and returns false) unless
    /// the acquisition is queued.
    ///
    /// ```
    /// use core::task::{Context, Waker};
    /// use rwlocker::{RawAcquire, RawRwLock};
    ///
    /// // (Strict hand-off, so that the release hands the lock over.)
    /// let lock = RawRwLock::<rwlocker::Strict<rwlocker::PhaseFair>>::new();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(lock.try_lock_exclusive());
    /// let mut timed = RawAcquire::write(&lock);
    /// assert!(timed.poll(&mut cx).is_pending());
    /// // SAFETY: the write lock was taken above; this hands it to `timed`.
    /// unsafe { lock.unlock_exclusive() };
    /// assert!(timed.abandon()); // the deadline passed, but it holds the lock
    /// assert!(lock.is_locked_exclusive());
    /// // SAFETY: `abandon` returned true: the lock is ours to release.
    /// unsafe { lock.unlock_exclusive() };
    /// assert!(!lock.is_locked());
    /// ```
    pub fn abandon(&mut self) -> bool {
        self.lock.get().abandon(&mut self.acquire)
    }

    /// Whether the acquisition is queued (polled `Pending`, not yet
    /// finished or cancelled).
    pub fn is_queued(&self) -> bool {
        matches!(self.acquire.state, State::Queued(_))
    }
}

impl RawAcquire<'static> {
    /// An acquisition of a read lock of the lock in `lock`, keeping the
    /// `Arc`: the acquisition has no lifetime and no policy parameter, so a
    /// binding can store it next to others of any policy.
    ///
    /// ```
    /// use core::task::{Context, Waker};
    /// use std::sync::Arc;
    /// use rwlocker::{RawAcquire, RawRwLock, WriterPreferring};
    ///
    /// struct Pending {
    ///     acq: RawAcquire<'static>,
    /// }
    /// let lock = Arc::new(RawRwLock::<WriterPreferring>::new());
    /// assert!(lock.try_lock_exclusive());
    /// let mut p = Pending { acq: RawAcquire::read_owned(lock.clone()) };
    /// assert!(p.acq.poll(&mut Context::from_waker(Waker::noop())).is_pending());
    /// drop(p); // a dropped acquisition leaves the queue
    /// // SAFETY: the write lock was taken above.
    /// unsafe { lock.unlock_exclusive() };
    /// assert!(!lock.is_locked());
    /// ```
    pub fn read_owned<P: Policy>(lock: StdArc<RawRwLock<P>>) -> Self {
        RawAcquire { lock: LockRef::Owned(lock), acquire: Acquire::new(Kind::Read) }
    }

    /// An acquisition of the write lock of the lock in `lock`, keeping the
    /// `Arc` (see [`read_owned`](Self::read_owned)).
    pub fn write_owned<P: Policy>(lock: StdArc<RawRwLock<P>>) -> Self {
        RawAcquire { lock: LockRef::Owned(lock), acquire: Acquire::new(Kind::Write) }
    }
}

impl Drop for RawAcquire<'_> {
    /// Cancels: a queued acquisition leaves the queue, and a grant it had
    /// received is released.
    fn drop(&mut self) {
        self.cancel();
    }
}

impl core::fmt::Debug for RawAcquire<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawAcquire").field("kind", &self.acquire.kind).field("queued", &self.is_queued()).finish()
    }
}

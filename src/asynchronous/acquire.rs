//! The acquire state machine shared by every async lock future.
//!
//! A future is not queued until its first `Pending` poll; once queued it
//! holds its [`Waiter`]. Dropping it gives up exactly as a timed-out thread
//! does ([`RawRwLock::abandon`]): it leaves the queue, whoever it held back
//! is admitted at once, and a grant it had already received is released as
//! if it had run.

use core::task::{Context, Poll};

use crate::engine::waiter::{Kind, Waiter, WAITING};
use crate::engine::RawRwLock;
use crate::loom::Arc;
use crate::policy::Policy;

pub(crate) struct Acquire {
    kind: Kind,
    state: State,
}

enum State {
    Idle,
    Queued(Arc<Waiter>),
    Done,
}

impl Acquire {
    pub(crate) const fn new(kind: Kind) -> Self {
        Acquire { kind, state: State::Idle }
    }

    /// Polls for the lock; `Ready` means the caller now holds it.
    pub(crate) fn poll<P: Policy>(&mut self, raw: &RawRwLock<P>, cx: &mut Context<'_>) -> Poll<()> {
        match &self.state {
            State::Idle => {
                let got = match self.kind {
                    Kind::Read => raw.try_lock_shared(),
                    Kind::Write => raw.try_lock_exclusive(),
                };
                if got {
                    self.state = State::Done;
                    return Poll::Ready(());
                }
                let waiter = Waiter::task(self.kind, WAITING, cx.waker());
                if raw.arrive(&waiter) {
                    self.state = State::Done;
                    return Poll::Ready(());
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
                    Poll::Ready(())
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

/// A lock acquisition in progress, polled by hand: the building block for
/// fronts outside this crate (a foreign-language binding, a custom
/// executor) that cannot hold a borrowing future.
///
/// Poll it with [`RawAcquire::poll`] until `Ready` (the lock is then held
/// in the requested mode, to be released with
/// [`RawRwLock::unlock_shared`] / [`RawRwLock::unlock_exclusive`]); to give
/// up, call [`RawAcquire::cancel`], which leaves no trace and releases a
/// grant already received. Always use one `RawAcquire` with one lock, and
/// cancel it before dropping it unfinished: a dropped, queued acquisition
/// stays queued and blocks the lock for everyone behind it.
///
/// ```
/// use core::task::{Context, Poll, Waker};
/// use rwlocker::{RawAcquire, RawRwLock};
///
/// let lock = RawRwLock::<rwlocker::PhaseFair>::new();
/// let mut cx = Context::from_waker(Waker::noop());
/// let mut acq = RawAcquire::write();
/// assert_eq!(acq.poll(&lock, &mut cx), Poll::Ready(()));
/// let mut second = RawAcquire::read();
/// assert_eq!(second.poll(&lock, &mut cx), Poll::Pending);
/// second.cancel(&lock); // leaves the queue
/// unsafe { lock.unlock_exclusive() };
/// assert!(!lock.is_locked());
/// ```
pub struct RawAcquire(Acquire);

impl RawAcquire {
    /// An acquisition of a read lock.
    pub const fn read() -> Self {
        RawAcquire(Acquire::new(Kind::Read))
    }

    /// An acquisition of the write lock.
    pub const fn write() -> Self {
        RawAcquire(Acquire::new(Kind::Write))
    }

    /// Polls for the lock; `Ready` means the caller holds it. Polling again
    /// after `Ready` panics.
    pub fn poll<P: Policy>(&mut self, raw: &RawRwLock<P>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll(raw, cx)
    }

    /// Gives up; a grant already received is released. Does nothing once
    /// the acquisition has completed or been cancelled.
    pub fn cancel<P: Policy>(&mut self, raw: &RawRwLock<P>) {
        self.0.cancel(raw)
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
    /// let mut timed = RawAcquire::write();
    /// assert!(timed.poll(&lock, &mut cx).is_pending());
    /// unsafe { lock.unlock_exclusive() }; // hands the lock to `timed`
    /// assert!(timed.abandon(&lock)); // the deadline passed, but it holds the lock
    /// assert!(lock.is_locked_exclusive());
    /// unsafe { lock.unlock_exclusive() };
    /// assert!(!lock.is_locked());
    /// ```
    pub fn abandon<P: Policy>(&mut self, raw: &RawRwLock<P>) -> bool {
        self.0.abandon(raw)
    }

    /// Whether the acquisition is queued (polled `Pending`, not yet
    /// finished or cancelled).
    pub fn is_queued(&self) -> bool {
        matches!(self.0.state, State::Queued(_))
    }
}

impl core::fmt::Debug for RawAcquire {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawAcquire").field("kind", &self.0.kind).field("queued", &self.is_queued()).finish()
    }
}

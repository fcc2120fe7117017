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
                if waiter.is_granted() {
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
        if let State::Queued(waiter) = core::mem::replace(&mut self.state, State::Done) {
            if raw.abandon(&waiter) {
                // Granted before we gave up: release as if we had run.
                // SAFETY: `abandon` returned true, so this waiter holds the
                // lock in its own mode, and nothing else will release it.
                unsafe {
                    match self.kind {
                        Kind::Read => raw.unlock_shared(),
                        Kind::Write => raw.unlock_exclusive(),
                    }
                }
            }
        }
    }
}

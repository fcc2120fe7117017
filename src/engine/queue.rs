//! The FIFO of waiters behind a lock, and its counts by kind.
//!
//! Waiters are kept in the order they were queued, which is also the order
//! of their deadlines (each is stamped with the engine clock as it joins),
//! so the front waiter is always the one that passes the starvation bound
//! first.

use std::collections::VecDeque;

use super::waiter::{Kind, Waiter, WakeList, GRANTED, NOTIFIED, WAITING, WOKEN};
use super::{Cause, Grant};
use crate::loom::Arc;

pub(crate) struct Queue {
    waiters: VecDeque<Arc<Waiter>>,
    pub(crate) readers: usize,
    pub(crate) writers: usize,
    /// Queued waiters in state `WOKEN` (default mode): woken by a release,
    /// not yet back. While there are any, releases wake nobody else.
    pub(crate) woken: usize,
    /// Why those waiters were woken: the cause their attempt replays, so
    /// that, say, a phase-fair read phase opened by a writer's release is
    /// still a read phase when its readers run.
    pub(crate) wake_cause: Cause,
}

impl Default for Queue {
    fn default() -> Self {
        Queue { waiters: VecDeque::new(), readers: 0, writers: 0, woken: 0, wake_cause: Cause::WaiterLeft }
    }
}

impl Queue {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.waiters.len()
    }

    /// The `n` oldest waiters.
    pub(crate) fn front(&self, n: usize) -> impl Iterator<Item = &Arc<Waiter>> {
        self.waiters.iter().take(n)
    }

    /// The deadline of the oldest waiter (`u64::MAX` when empty).
    #[inline]
    pub(crate) fn front_deadline(&self) -> u64 {
        self.waiters.front().map_or(u64::MAX, |w| w.deadline())
    }

    pub(crate) fn push(&mut self, w: Arc<Waiter>) {
        match w.kind {
            Kind::Read => self.readers += 1,
            Kind::Write => self.writers += 1,
        }
        self.waiters.push_back(w);
    }

    /// Takes `w`'s counts out; it is leaving the queue.
    fn count_out(&mut self, w: &Waiter) {
        match w.kind {
            Kind::Read => self.readers -= 1,
            Kind::Write => self.writers -= 1,
        }
        if w.state() == WOKEN {
            self.woken -= 1;
        }
    }

    /// Removes `w` if it is queued; true if it was.
    pub(crate) fn remove(&mut self, w: &Arc<Waiter>) -> bool {
        match self.waiters.iter().position(|q| Arc::ptr_eq(q, w)) {
            Some(i) => {
                self.waiters.remove(i);
                self.count_out(w);
                true
            }
            None => false,
        }
    }

    /// A woken waiter is back: it waits again, keeping its place, unless
    /// the attempt it is about to make admits it.
    pub(crate) fn unwake(&mut self, w: &Waiter) {
        debug_assert_eq!(w.state(), WOKEN, "unwake of a waiter that was not woken");
        w.set_state(WAITING);
        self.woken -= 1;
    }

    /// Index of the oldest queued writer.
    fn first_writer(&self) -> Option<usize> {
        if self.writers == 0 {
            None
        } else {
            self.waiters.iter().position(|w| w.kind == Kind::Write)
        }
    }

    /// Whether `grant` would admit `w` (a queued waiter).
    pub(crate) fn grant_includes(&self, grant: Grant, w: &Arc<Waiter>) -> bool {
        match grant {
            Grant::Nobody => false,
            Grant::Readers => w.kind == Kind::Read,
            Grant::FirstWriter => self.first_writer().is_some_and(|i| Arc::ptr_eq(&self.waiters[i], w)),
            Grant::Front => self.waiters.front().is_some_and(|f| Arc::ptr_eq(f, w)),
        }
    }

    /// How many waiters granting `grant` would admit.
    pub(crate) fn admitted_by(&self, grant: Grant) -> usize {
        match grant {
            Grant::Nobody => 0,
            Grant::Readers => self.readers,
            Grant::FirstWriter => usize::from(self.writers > 0),
            Grant::Front => usize::from(!self.is_empty()),
        }
    }

    /// How many of the waiters `grant` would admit are woken.
    pub(crate) fn woken_in(&self, grant: Grant) -> usize {
        let woken = |w: &Arc<Waiter>| w.state() == WOKEN;
        match grant {
            Grant::Nobody => 0,
            Grant::Readers => self.waiters.iter().filter(|w| w.kind == Kind::Read && woken(w)).count(),
            Grant::FirstWriter => self.first_writer().map_or(0, |i| usize::from(woken(&self.waiters[i]))),
            Grant::Front => self.waiters.front().map_or(0, |w| usize::from(woken(w))),
        }
    }

    /// Marks the waiters `grant` would admit as woken, keeping them queued,
    /// and adds them to `wake`. Returns how many.
    pub(crate) fn wake(&mut self, grant: Grant, cause: Cause, wake: &mut WakeList) -> usize {
        let before = wake.len();
        let mut mark = |w: &Arc<Waiter>| {
            // (A condvar waiter re-queued here is `NOTIFIED` until its
            // first wake-up or grant.)
            if matches!(w.state(), WAITING | NOTIFIED) {
                w.set_state(WOKEN);
                wake.push(w.clone());
            }
        };
        match grant {
            Grant::Nobody => {}
            Grant::Readers => self.waiters.iter().filter(|w| w.kind == Kind::Read).for_each(mark),
            Grant::FirstWriter => {
                if let Some(i) = self.first_writer() {
                    mark(&self.waiters[i])
                }
            }
            Grant::Front => {
                if let Some(w) = self.waiters.front() {
                    mark(w)
                }
            }
        }
        let n = wake.len() - before;
        self.woken += n;
        self.wake_cause = cause;
        n
    }

    /// Grants the waiter at `i`, marking it and adding it to `wake`.
    fn grant_at(&mut self, i: usize, wake: &mut WakeList) {
        let w = self.waiters.remove(i).expect("grant of a waiter that is not queued");
        self.count_out(&w);
        w.set_state(GRANTED);
        wake.push(w);
    }

    /// Grants the oldest waiter (any kind), marking it and adding it to `wake`.
    pub(crate) fn grant_front(&mut self, wake: &mut WakeList) {
        self.grant_at(0, wake);
    }

    /// Grants the oldest waiting writer.
    pub(crate) fn grant_first_writer(&mut self, wake: &mut WakeList) {
        let i = self.first_writer().expect("grant_first_writer with no writer queued");
        self.grant_at(i, wake);
    }

    /// Grants every waiting reader, keeping the writers in order.
    pub(crate) fn grant_readers(&mut self, wake: &mut WakeList) {
        let mut woken = 0;
        self.waiters.retain(|w| {
            if w.kind == Kind::Read {
                woken += usize::from(w.state() == WOKEN);
                w.set_state(GRANTED);
                wake.push(w.clone());
                false
            } else {
                true
            }
        });
        self.readers = 0;
        self.woken -= woken;
    }
}

//! The FIFO of waiters behind a lock, and its counts by kind.

use std::collections::VecDeque;

use super::waiter::{Kind, Waiter, WakeList, GRANTED};
use crate::loom::Arc;

#[derive(Default)]
pub(crate) struct Queue {
    waiters: VecDeque<Arc<Waiter>>,
    pub(crate) readers: usize,
    pub(crate) writers: usize,
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

    pub(crate) fn push(&mut self, w: Arc<Waiter>) {
        match w.kind {
            Kind::Read => self.readers += 1,
            Kind::Write => self.writers += 1,
        }
        self.waiters.push_back(w);
    }

    fn count_out(&mut self, kind: Kind) {
        match kind {
            Kind::Read => self.readers -= 1,
            Kind::Write => self.writers -= 1,
        }
    }

    /// Removes `w` if it is queued; true if it was.
    pub(crate) fn remove(&mut self, w: &Arc<Waiter>) -> bool {
        match self.waiters.iter().position(|q| Arc::ptr_eq(q, w)) {
            Some(i) => {
                self.waiters.remove(i);
                self.count_out(w.kind);
                true
            }
            None => false,
        }
    }

    /// Grants the oldest waiter (any kind), marking it and adding it to `wake`.
    pub(crate) fn grant_front(&mut self, wake: &mut WakeList) {
        let w = self.waiters.pop_front().expect("grant_front on an empty queue");
        self.count_out(w.kind);
        w.set_state(GRANTED);
        wake.push(w);
    }

    /// Grants the oldest waiting writer.
    pub(crate) fn grant_first_writer(&mut self, wake: &mut WakeList) {
        let i =
            self.waiters.iter().position(|w| w.kind == Kind::Write).expect("grant_first_writer with no writer queued");
        let w = self.waiters.remove(i).unwrap();
        self.writers -= 1;
        w.set_state(GRANTED);
        wake.push(w);
    }

    /// Grants every waiting reader, keeping the writers in order.
    pub(crate) fn grant_readers(&mut self, wake: &mut WakeList) {
        if self.writers == 0 {
            wake.extend(self.waiters.drain(..).inspect(|w| w.set_state(GRANTED)));
        } else {
            self.waiters.retain(|w| {
                if w.kind == Kind::Read {
                    w.set_state(GRANTED);
                    wake.push(w.clone());
                    false
                } else {
                    true
                }
            });
        }
        self.readers = 0;
    }
}

//! A queued party: a parked thread or a task's waker, shared (by `Arc`)
//! between the queue that holds it and the acquire call that waits on it.

use core::task::Waker;

use crate::loom::{Arc, AtomicBool, AtomicU64, AtomicU8, Mutex, Ordering, Thread};

/// What a waiter asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Read,
    Write,
}

/// Waiting in the lock's queue (or not yet queued).
pub(crate) const WAITING: u8 = 0;
/// The lock was handed to this waiter: it holds it now.
pub(crate) const GRANTED: u8 = 1;
/// Registered on a condition variable, not yet notified.
pub(crate) const CV_WAITING: u8 = 2;
/// Notified by a condition variable; re-acquiring the lock.
pub(crate) const NOTIFIED: u8 = 3;
/// Still queued, and woken by a release (default mode): the lock may be
/// free for it, but it must take it itself, and may find it taken again.
pub(crate) const WOKEN: u8 = 4;

/// How to wake the party behind a waiter.
pub(crate) enum WakeTarget {
    /// A parked thread. Once granted, it also wakes whatever batch of other
    /// granted waiters was delegated to it (see [`wake_all`]).
    Thread(Thread, Mutex<Delegated>),
    /// The latest waker a poll registered. Replaced and taken under the
    /// mutex, but called and dropped only after the mutex is released.
    Task(Mutex<Option<Waker>>),
}

/// Wake-ups handed to a granted thread waiter, to be done when it runs.
pub(crate) enum Delegated {
    /// Not yet running: a waker may leave a batch here.
    Open(Vec<Arc<Waiter>>),
    /// Running: it has taken (or never had) a batch; wakers must do their own.
    Closed,
}

pub(crate) struct Waiter {
    state: AtomicU8,
    /// False while the party is parked (or about to park) without a
    /// wake-up on its way. A lock sets it when it wakes a queued thread
    /// ahead of its grant (see `RawRwLock::prewake`). Only a hint: a stale
    /// value costs one needless or one missed early wake-up, never a lost
    /// grant (a grant always wakes its waiter).
    awake: AtomicBool,
    /// When this waiter passes the starvation bound (engine clock, ns): set
    /// when it is queued, read with the queue lock held.
    deadline: AtomicU64,
    pub(crate) kind: Kind,
    target: WakeTarget,
}

impl Waiter {
    /// A waiter for the calling thread.
    pub(crate) fn thread(kind: Kind, state: u8) -> Arc<Waiter> {
        Arc::new(Waiter {
            state: AtomicU8::new(state),
            awake: AtomicBool::new(true),
            deadline: AtomicU64::new(u64::MAX),
            kind,
            target: WakeTarget::Thread(crate::loom::current(), Mutex::new(Delegated::Open(Vec::new()))),
        })
    }

    /// A waiter for a task, woken through `waker`.
    pub(crate) fn task(kind: Kind, state: u8, waker: &Waker) -> Arc<Waiter> {
        Arc::new(Waiter {
            state: AtomicU8::new(state),
            // Never cleared: a task is woken by its grant alone (an early
            // poll would only return `Pending`).
            awake: AtomicBool::new(true),
            deadline: AtomicU64::new(u64::MAX),
            kind,
            target: WakeTarget::Task(Mutex::new(Some(waker.clone()))),
        })
    }

    #[inline]
    pub(crate) fn state(&self) -> u8 {
        // Acquire: a `GRANTED` read here synchronises with the grant's
        // release store, so the holder sees everything the releaser wrote.
        self.state.load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn is_granted(&self) -> bool {
        self.state() == GRANTED
    }

    /// Sets the state. Only called with the engine's queue lock (or, for
    /// condvar states, the condvar's lock) held.
    #[inline]
    pub(crate) fn set_state(&self, state: u8) {
        self.state.store(state, Ordering::Release);
    }

    /// When this waiter passes the starvation bound. Queue lock held.
    #[inline]
    pub(crate) fn deadline(&self) -> u64 {
        self.deadline.load(Ordering::Relaxed)
    }

    /// Stamps the waiter as it joins a queue. Queue lock held.
    #[inline]
    pub(crate) fn set_deadline(&self, deadline: u64) {
        self.deadline.store(deadline, Ordering::Relaxed);
    }

    /// A thread waiter announces that it is about to park.
    #[inline]
    pub(crate) fn set_asleep(&self) {
        self.awake.store(false, Ordering::Relaxed);
    }

    /// Whether the party was woken ahead of its grant since it last called
    /// [`set_asleep`](Self::set_asleep) (or never parked).
    #[inline]
    pub(crate) fn is_awake(&self) -> bool {
        self.awake.load(Ordering::Relaxed)
    }

    /// Marks a parked thread waiter as woken; true if the caller must now
    /// wake it (it was asleep). Queue lock held.
    #[inline]
    pub(crate) fn claim_prewake(&self) -> bool {
        // Look before writing: the line is the one its owner spins on.
        !self.awake.load(Ordering::Relaxed) && !self.awake.swap(true, Ordering::Relaxed)
    }

    /// Records the waker of the latest poll. Call before checking the state,
    /// so that a grant racing this poll either is seen by the check or finds
    /// the new waker.
    pub(crate) fn register(&self, waker: &Waker) {
        if let WakeTarget::Task(slot) = &self.target {
            if slot.lock().as_ref().is_some_and(|w| w.will_wake(waker)) {
                return;
            }
            // Cloning a waker runs foreign code (which may even release this
            // lock and so grant this very waiter): never under the slot mutex.
            let new = waker.clone();
            let old = slot.lock().replace(new);
            // Dropped here, with no lock held.
            drop(old);
        }
    }

    /// Wakes the party. Never called with an engine or condvar lock held.
    pub(crate) fn wake(&self) {
        match &self.target {
            WakeTarget::Thread(t, _) => t.unpark(),
            WakeTarget::Task(slot) => {
                let waker = slot.lock().take();
                if let Some(w) = waker {
                    w.wake();
                }
            }
        }
    }
}

/// Waiters to wake once the lock that chose them has been released.
pub(crate) type WakeList = smallvec::SmallVec<[Arc<Waiter>; 4]>;

/// Wakes every waiter of `list`; call with no internal lock held.
///
/// A task's waker is foreign code and may panic (in `wake` or in its
/// `drop`). Every waiter of the list is woken all the same; the first panic
/// continues once the last one has been, so the transition that chose them
/// is complete and nobody granted the lock is left asleep. Only thread
/// waiters are delegated to a woken thread: a thread that wakes with its
/// grant never runs a foreign waker, which could otherwise unwind out of its
/// acquire while it holds the lock.
pub(crate) fn wake_all(mut list: WakeList) {
    let mut panic: Option<Box<dyn core::any::Any + Send>> = None;
    let mut wake = |w: &Waiter| {
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.wake())) {
            panic.get_or_insert(payload);
        }
    };
    // Unparking a thread is a system call of a few microseconds, so a large
    // batch (a read phase, a condvar broadcast) is split: the first thread
    // of the batch takes half of the rest and wakes it once it runs, the
    // next takes half of what remains, and so on, each splitting its share
    // the same way; the wake-ups proceed on several cores at once and the
    // last comes after a logarithmic number of steps, not a linear one.
    while list.len() > DELEGATE_ABOVE {
        // Only a granted thread runs its delegated batch at once (a thread
        // woken ahead of its grant keeps waiting; see `RawRwLock::prewake`).
        let Some(i) = list.iter().position(|w| matches!(w.target, WakeTarget::Thread(..)) && w.is_granted()) else {
            break;
        };
        let helper = list.remove(i);
        let half = list.len() / 2;
        let (rest, tasks): (Vec<_>, Vec<_>) =
            list.drain(half..).partition(|w| matches!(w.target, WakeTarget::Thread(..)));
        list.extend(tasks);
        let WakeTarget::Thread(_, slot) = &helper.target else { unreachable!() };
        let undelivered = {
            let mut slot = slot.lock();
            match &mut *slot {
                Delegated::Open(batch) => {
                    batch.extend(rest);
                    None
                }
                // Already running (it saw its grant while spinning): it
                // will not look again, so these stay with us.
                Delegated::Closed => Some(rest),
            }
        };
        wake(&helper);
        if let Some(rest) = undelivered {
            list.extend(rest);
        }
    }
    for w in list {
        wake(&w);
    }
    if let Some(payload) = panic {
        std::panic::resume_unwind(payload);
    }
}

/// Batches larger than this are woken by more than one thread.
#[cfg(not(loom))]
const DELEGATE_ABOVE: usize = 8;
/// Under loom, delegate from two waiters on, so the models explore it.
#[cfg(loom)]
const DELEGATE_ABOVE: usize = 1;

impl Waiter {
    /// For a thread waiter: whether it has been granted the lock. A granted
    /// thread first does the wake-ups delegated to it, so it must call this
    /// (or [`help_wake`](Self::help_wake)) once it sees its grant.
    pub(crate) fn take_grant(&self) -> bool {
        if !self.is_granted() {
            return false;
        }
        self.help_wake();
        true
    }

    /// Closes the delegation slot and wakes the batch left in it, if any.
    pub(crate) fn help_wake(&self) {
        if let WakeTarget::Thread(_, slot) = &self.target {
            let batch = match core::mem::replace(&mut *slot.lock(), Delegated::Closed) {
                Delegated::Open(batch) => batch,
                Delegated::Closed => return,
            };
            wake_all(batch.into_iter().collect());
        }
    }
}

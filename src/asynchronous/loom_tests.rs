//! loom models of the async paths: a cancelled future racing the grant,
//! and tasks and threads contending on one lock.
//!
//! Run with
//! `LOOM_MAX_PREEMPTIONS=2 RUSTFLAGS="--cfg loom -C debug-assertions"
//! CARGO_TARGET_DIR=target/loom cargo test --release --lib -- loom_`.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Waker};

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;

use super::AsyncRwLock;
use crate::engine::StateSnapshot;
use crate::policy::{Exclusive, PhaseFair, Policy, ReaderPreferring, WriterPreferring};

/// Polls `fut` once with a waker that does nothing, then drops it (and the
/// guard, if it was `Ready`). Returns whether it was `Ready`.
fn poll_once_then_drop<F: Future>(fut: F) -> bool {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    fut.as_mut().poll(&mut cx).is_ready()
}

/// Nobody holds or waits, and the write lock can be taken (no permit lost).
fn assert_free<P: Policy>(lock: &AsyncRwLock<usize, P>) {
    assert_eq!(
        lock.raw().state_snapshot(),
        StateSnapshot { readers: 0, writer: false, queued_readers: 0, queued_writers: 0 }
    );
    assert!(lock.try_write().is_some(), "the lock must end free");
}

/// The holder releases on one thread while another thread polls a write
/// future once (queueing it, or taking the lock) and drops it: the drop
/// either leaves the queue or releases the grant it raced with.
#[test]
fn loom_cancel_write_racing_grant() {
    loom::model(|| {
        let lock = Arc::new(AsyncRwLock::<usize, PhaseFair>::new(0));
        assert!(lock.raw().try_lock_exclusive());
        let l = lock.clone();
        let releaser = thread::spawn(move || {
            // SAFETY: the model took the write lock above and releases it once, here.
            unsafe { l.raw().unlock_exclusive() }
        });
        poll_once_then_drop(lock.write());
        releaser.join().unwrap();
        assert_free(&lock);
    });
}

/// As above for a read future.
#[test]
fn loom_cancel_read_racing_grant() {
    loom::model(|| {
        let lock = Arc::new(AsyncRwLock::<usize, PhaseFair>::new(0));
        assert!(lock.raw().try_lock_exclusive());
        let l = lock.clone();
        let releaser = thread::spawn(move || {
            // SAFETY: the model took the write lock above and releases it once, here.
            unsafe { l.raw().unlock_exclusive() }
        });
        poll_once_then_drop(lock.read());
        releaser.join().unwrap();
        assert_free(&lock);
    });
}

/// A cancelled write future racing the grant, with a second task waiting
/// behind it: whatever the interleaving, the waiting task gets the lock (a
/// grant lost to the cancelled future would leave it blocked: loom reports
/// the deadlock).
fn cancel_passes_grant_to_waiting_task<P: Policy>() {
    loom::model(|| {
        let lock = Arc::new(AsyncRwLock::<usize, P>::new(0));
        assert!(lock.raw().try_lock_exclusive());
        let l = lock.clone();
        let waiter = thread::spawn(move || block_on(async move { *l.write().await += 1 }));
        let l = lock.clone();
        let canceller = thread::spawn(move || {
            poll_once_then_drop(l.write());
        });
        // SAFETY: the model took the write lock above and releases it once, here.
        unsafe { lock.raw().unlock_exclusive() };
        canceller.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(*lock.try_read().unwrap(), 1);
        assert_free(&lock);
    });
}

/// A reader holds; a writer future is polled once and dropped while a
/// reader task arrives (queued behind the writer, except under
/// ReaderPreferring). The reader must be admitted whether the writer left
/// the queue or had been granted the lock by the holder's release (then
/// its drop releases as a writer: a read phase under PhaseFair).
fn cancelled_writer_admits_reader_behind_it<P: Policy>() {
    loom::model(|| {
        let lock = Arc::new(AsyncRwLock::<usize, P>::new(0));
        assert!(lock.raw().try_lock_shared());
        let l = lock.clone();
        let reader = thread::spawn(move || block_on(async move { *l.read().await }));
        let l = lock.clone();
        let canceller = thread::spawn(move || {
            poll_once_then_drop(l.write());
        });
        // SAFETY: the model took a read lock above and releases it once, here.
        unsafe { lock.raw().unlock_shared() };
        canceller.join().unwrap();
        assert_eq!(reader.join().unwrap(), 0);
        assert_free(&lock);
    });
}

/// As above, but the main thread keeps its read lock until the reader task
/// is done: the reader must be admitted by the writer's departure alone.
fn cancelled_writer_admits_reader_while_reader_holds<P: Policy>() {
    loom::model(|| {
        let lock = Arc::new(AsyncRwLock::<usize, P>::new(0));
        assert!(lock.raw().try_lock_shared());
        let l = lock.clone();
        let canceller = thread::spawn(move || {
            poll_once_then_drop(l.write());
        });
        let l = lock.clone();
        let reader = thread::spawn(move || block_on(async move { *l.read().await }));
        assert_eq!(reader.join().unwrap(), 0);
        canceller.join().unwrap();
        // SAFETY: the model took a read lock above and releases it once, here.
        unsafe { lock.raw().unlock_shared() };
        assert_free(&lock);
    });
}

/// A queued future polled again with a new waker (here: handed to
/// `block_on`) while the holder releases: the grant either is seen by the
/// re-poll or wakes the new waker.
fn repoll_with_new_waker_racing_grant<P: Policy>() {
    loom::model(|| {
        let lock = Arc::new(AsyncRwLock::<usize, P>::new(0));
        assert!(lock.raw().try_lock_exclusive());
        let l = lock.clone();
        let task = thread::spawn(move || {
            let mut fut = Box::pin(l.write());
            let mut cx = Context::from_waker(Waker::noop());
            match fut.as_mut().poll(&mut cx) {
                core::task::Poll::Ready(mut g) => *g += 1,
                core::task::Poll::Pending => *block_on(fut) += 1,
            }
        });
        // SAFETY: the model took the write lock above and releases it once, here.
        unsafe { lock.raw().unlock_exclusive() };
        task.join().unwrap();
        assert_eq!(*lock.try_read().unwrap(), 1);
        assert_free(&lock);
    });
}

macro_rules! per_policy {
    ($model:ident: $($name:ident => $policy:ty),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $model::<$policy>()
            }
        )*
    };
}

per_policy!(cancel_passes_grant_to_waiting_task:
    loom_cancel_passes_grant_to_waiting_task_reader_preferring => ReaderPreferring,
    loom_cancel_passes_grant_to_waiting_task_writer_preferring => WriterPreferring,
    loom_cancel_passes_grant_to_waiting_task_phase_fair => PhaseFair,
    loom_cancel_passes_grant_to_waiting_task_exclusive => Exclusive,
);

per_policy!(cancelled_writer_admits_reader_behind_it:
    loom_cancelled_writer_admits_reader_behind_it_reader_preferring => ReaderPreferring,
    loom_cancelled_writer_admits_reader_behind_it_writer_preferring => WriterPreferring,
    loom_cancelled_writer_admits_reader_behind_it_phase_fair => PhaseFair,
    loom_cancelled_writer_admits_reader_behind_it_exclusive => Exclusive,
);

// Not Exclusive: there a second reader waits for the first by design.
per_policy!(cancelled_writer_admits_reader_while_reader_holds:
    loom_cancelled_writer_admits_reader_while_reader_holds_reader_preferring => ReaderPreferring,
    loom_cancelled_writer_admits_reader_while_reader_holds_writer_preferring => WriterPreferring,
    loom_cancelled_writer_admits_reader_while_reader_holds_phase_fair => PhaseFair,
);

per_policy!(repoll_with_new_waker_racing_grant:
    loom_repoll_with_new_waker_racing_grant_phase_fair => PhaseFair,
    loom_repoll_with_new_waker_racing_grant_exclusive => Exclusive,
);

/// Two tasks (each on its own thread, under `block_on`) and one thread
/// using `write_blocking` increment one counter.
fn two_tasks_and_a_thread<P: Policy>() {
    loom::model(|| {
        let lock = Arc::new(AsyncRwLock::<usize, P>::new(0));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let l = lock.clone();
                thread::spawn(move || block_on(async move { *l.write().await += 1 }))
            })
            .collect();
        *lock.write_blocking() += 1;
        for t in tasks {
            t.join().unwrap();
        }
        assert_eq!(*lock.try_read().unwrap(), 3);
        assert_free(&lock);
    });
}

per_policy!(two_tasks_and_a_thread:
    loom_two_tasks_and_a_thread_phase_fair => PhaseFair,
    loom_two_tasks_and_a_thread_exclusive => Exclusive,
);

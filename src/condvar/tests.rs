//! Unit tests of the condvar that need the narrow reader limit of test
//! builds (`MAX_READERS`).

use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::engine::MAX_READERS;
use crate::{RwCondvar, RwLock};

/// A timed read wait whose re-acquire finds the reader count full waits for
/// a reader to leave; it once panicked out of `wait` with the guard no
/// longer holding its lock.
#[test]
fn timed_read_wait_relocks_when_the_reader_count_is_full() {
    let pair = Arc::new((RwLock::<u32>::new(7), RwCondvar::new()));
    // Every read slot but one.
    for _ in 0..MAX_READERS - 1 {
        assert!(pair.0.raw().try_lock_shared());
    }
    let (tx, rx) = mpsc::channel();
    let waiter = {
        let pair = pair.clone();
        thread::spawn(move || {
            let (lock, cv) = &*pair;
            let mut guard = lock.read();
            tx.send(()).unwrap();
            let result = cv.wait_for(&mut guard, Duration::from_millis(50));
            // Held again: the count includes this reader.
            let readers = lock.raw().state_snapshot().readers;
            (result.timed_out(), *guard, readers)
        })
    };
    rx.recv().unwrap();
    // Wait until the waiter has released its read, then take that slot.
    let (lock, _) = &*pair;
    let mut spins = 0u64;
    while lock.raw().state_snapshot().readers == MAX_READERS {
        spins += 1;
        assert!(spins < 100_000_000, "the waiter never released its read");
        thread::yield_now();
    }
    assert!(lock.raw().try_lock_shared());
    assert_eq!(lock.raw().state_snapshot().readers, MAX_READERS);
    // Past the waiter's deadline, its re-acquire finds the count full.
    thread::sleep(Duration::from_millis(300));
    assert!(!waiter.is_finished());
    // SAFETY: one of the reads taken above.
    unsafe { lock.raw().unlock_shared() };
    let (timed_out, value, readers) = waiter.join().expect("the wait panicked");
    assert!(timed_out);
    assert_eq!(value, 7);
    assert_eq!(readers, MAX_READERS);
    for _ in 0..MAX_READERS - 1 {
        // SAFETY: the reads taken at the start.
        unsafe { lock.raw().unlock_shared() };
    }
    assert!(!lock.is_locked());
}

//! RwCondvar with ReentrantRwLock guards: depth 1 waits, nested guards panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use rwlocker::{ReentrantRwLock, RwCondvar};

fn panic_message(r: std::thread::Result<()>) -> String {
    let e = r.expect_err("expected a panic");
    e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

#[test]
fn depth_one_write_guard_waits_and_resumes_as_owner() {
    let shared = Arc::new((ReentrantRwLock::<AtomicU32>::new(AtomicU32::new(0)), RwCondvar::new()));
    let s2 = shared.clone();
    let waiter = std::thread::spawn(move || {
        let (lock, cv) = &*s2;
        let mut g = lock.write();
        cv.wait_while(&mut g, |c| c.load(Relaxed) == 0);
        // Back as the owner at depth 1: nesting works again.
        assert!(lock.is_owned_by_current_thread());
        let nested = lock.write();
        nested.fetch_add(1, Relaxed);
        drop(nested);
        g.load(Relaxed)
    });
    let (lock, cv) = &*shared;
    // The waiter released the write lock: this thread can take it.
    loop {
        if let Some(g) = lock.try_write() {
            if format!("{cv:?}").contains("waiters: 1") {
                g.store(1, Relaxed);
                cv.notify_one();
                break;
            }
        }
        std::thread::yield_now();
    }
    assert_eq!(waiter.join().unwrap(), 2);
    assert!(!lock.is_locked());
}

#[test]
fn nested_write_guard_panics_and_leaves_lock_usable() {
    let lock = ReentrantRwLock::<u32>::new(0);
    let cv = RwCondvar::new();
    let outer = lock.write();
    let mut inner = lock.write();
    let msg = panic_message(catch_unwind(AssertUnwindSafe(|| {
        cv.wait_for(&mut inner, Duration::from_millis(1));
    })));
    assert!(msg.contains("nested ReentrantRwLock"), "{msg}");
    assert!(lock.is_owned_by_current_thread());
    drop(inner);
    drop(outer);
    assert!(!lock.is_locked());
    assert!(lock.try_write().is_some());
    assert_eq!(cv.notify_all(), 0, "nothing was registered");
}

#[test]
fn owner_nested_read_panics() {
    let lock = ReentrantRwLock::<u32>::new(0);
    let cv = RwCondvar::new();
    let w = lock.write();
    let mut r = lock.read();
    let msg = panic_message(catch_unwind(AssertUnwindSafe(|| {
        cv.wait_for(&mut r, Duration::from_millis(1));
    })));
    assert!(msg.contains("nested ReentrantRwLock"), "{msg}");
    drop(r);
    drop(w);
    assert!(!lock.is_locked());
}

#[test]
fn plain_read_guard_times_out_holding_read() {
    let lock = ReentrantRwLock::<u32>::new(7);
    let cv = RwCondvar::new();
    let mut r = lock.read();
    let start = std::time::Instant::now();
    assert!(cv.wait_for(&mut r, Duration::from_millis(20)).timed_out());
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(*r, 7);
    assert!(lock.try_write().is_none(), "the read lock is held again");
    drop(r);
    assert!(lock.try_write().is_some());
}

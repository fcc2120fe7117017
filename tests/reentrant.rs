//! `ReentrantRwLock`: nesting by the write owner, other threads blocked until
//! the owner's last guard is gone (in any drop order), downgrade rules.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rwlocker::engine::StateSnapshot;
use rwlocker::{Policy, PolicyKind, ReentrantRwLock, ReentrantRwLockReadGuard, ReentrantRwLockWriteGuard};

// Exact-order tests: they run against the strict hand-off mode
// (`Strict<P>`, docs/SEMANTICS.md §2a), whose order is the policy table.
type PhaseFair = rwlocker::Strict<rwlocker::PhaseFair>;
type ReaderPreferring = rwlocker::Strict<rwlocker::ReaderPreferring>;
type WriterPreferring = rwlocker::Strict<rwlocker::WriterPreferring>;
type Exclusive = rwlocker::Strict<rwlocker::Exclusive>;

/// Spins (yielding) until `cond` holds for the lock's state; panics after 10 s.
fn wait_state<T: ?Sized, P: Policy>(lock: &ReentrantRwLock<T, P>, what: &str, cond: impl Fn(&StateSnapshot) -> bool) {
    let start = Instant::now();
    loop {
        let s = lock.raw().state_snapshot();
        if cond(&s) {
            return;
        }
        if start.elapsed() > Duration::from_secs(10) {
            panic!("timed out waiting for {what}: {s:?}");
        }
        thread::yield_now();
    }
}

macro_rules! per_policy {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use super::*;
            #[test]
            fn reader_preferring() { super::$scenario::<ReaderPreferring>() }
            #[test]
            fn writer_preferring() { super::$scenario::<WriterPreferring>() }
            #[test]
            fn phase_fair() { super::$scenario::<PhaseFair>() }
            #[test]
            fn exclusive() { super::$scenario::<Exclusive>() }
        }
    )*};
}

per_policy!(
    nesting_by_the_owner,
    other_threads_blocked_until_last_guard_in_any_order,
    other_reader_blocked_until_last_guard,
    nested_downgrade_refused_then_allowed,
    downgrade_gives_a_plain_read,
    timed_and_try_calls,
    plain_reads_from_several_threads,
    panic_releases_every_nested_guard,
);

fn nesting_by_the_owner<P: Policy>()
where
    P::Shared<AtomicU32>: Sync,
{
    let lock = ReentrantRwLock::<AtomicU32, P>::new(AtomicU32::new(0));
    assert!(!lock.is_owned_by_current_thread());
    let w1 = lock.write();
    assert!(lock.is_owned_by_current_thread());
    let w2 = lock.write();
    let w3 = lock.lock();
    let r1 = lock.read();
    let r2 = lock.try_read().expect("the owner reads at once");
    let w4 = lock.try_write().expect("the owner writes at once");
    w3.store(7, Ordering::Relaxed);
    for g in [&*w1, &*w2, &*w3, &*w4, &*r1, &*r2] {
        assert_eq!(g.load(Ordering::Relaxed), 7);
    }
    assert!(lock.is_locked_exclusive());
    thread::scope(|s| {
        s.spawn(|| {
            assert!(!lock.is_owned_by_current_thread());
            assert!(lock.try_read().is_none() && lock.try_write().is_none());
        });
    });
    drop((w1, w2, w3, r1, r2, w4));
    assert!(!lock.is_locked());
    assert!(!lock.is_owned_by_current_thread());
    assert_eq!(lock.into_inner().into_inner(), 7);
}

/// Guards of the owner, to be dropped in a chosen order.
enum Nested<'a, P: Policy> {
    W(#[allow(dead_code)] ReentrantRwLockWriteGuard<'a, u32, P>),
    R(#[allow(dead_code)] ReentrantRwLockReadGuard<'a, u32, P>),
}

fn other_threads_blocked_until_last_guard_in_any_order<P: Policy>()
where
    P::Shared<u32>: Sync,
{
    // every order of dropping [write, write, read], the outer write first or not
    let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    for order in orders {
        let lock = ReentrantRwLock::<u32, P>::new(0);
        let done = AtomicBool::new(false);
        thread::scope(|s| {
            let mut guards: Vec<Option<Nested<'_, P>>> =
                vec![Some(Nested::W(lock.write())), Some(Nested::W(lock.write())), Some(Nested::R(lock.read()))];
            s.spawn(|| {
                assert!(lock.try_write().is_none());
                assert!(lock.try_read().is_none());
                let g = lock.write();
                assert!(lock.is_owned_by_current_thread());
                done.store(true, Ordering::SeqCst);
                drop(g);
            });
            wait_state(&lock, "the other writer queued", |s| s.queued_writers == 1);
            for (k, &i) in order.iter().enumerate() {
                guards[i] = None;
                if k < 2 {
                    let s = lock.raw().state_snapshot();
                    assert!(s.writer && s.queued_writers == 1, "order {order:?}, after {} drops: {s:?}", k + 1);
                    assert!(!done.load(Ordering::SeqCst));
                    assert!(lock.is_owned_by_current_thread());
                }
            }
            // The last drop released the lock to the waiting writer.
            assert!(!lock.is_owned_by_current_thread());
        });
        assert!(done.load(Ordering::SeqCst));
        assert!(!lock.is_locked());
    }
}

fn other_reader_blocked_until_last_guard<P: Policy>()
where
    P::Shared<u32>: Sync,
{
    let lock = ReentrantRwLock::<u32, P>::new(0);
    thread::scope(|s| {
        let w = lock.write();
        let r = lock.read();
        s.spawn(|| {
            let g = lock.read();
            assert!(!lock.is_owned_by_current_thread());
            drop(g);
        });
        wait_state(&lock, "the other reader queued", |s| s.queued_readers == 1);
        drop(w);
        // The owner's nested read still holds the write lock.
        let snap = lock.raw().state_snapshot();
        assert!(snap.writer && snap.queued_readers == 1, "{snap:?}");
        drop(r);
    });
    assert!(!lock.is_locked());
}

fn nested_downgrade_refused_then_allowed<P: Policy>()
where
    P::Shared<u32>: Sync,
{
    let lock = ReentrantRwLock::<u32, P>::new(5);
    // refused while a nested write is alive
    let w = lock.write();
    let nested = lock.write();
    let w = ReentrantRwLockWriteGuard::downgrade(w).expect_err("a nested write is alive");
    assert!(lock.is_locked_exclusive() && lock.is_owned_by_current_thread());
    drop(nested);
    // refused while a nested read is alive
    let nested = lock.read();
    let w = ReentrantRwLockWriteGuard::downgrade(w).expect_err("a nested read is alive");
    drop(nested);
    // allowed once the guard is the owner's only one, even if it was nested
    let inner = lock.write();
    drop(w);
    let r = ReentrantRwLockWriteGuard::downgrade(inner).expect("the only guard");
    assert_eq!(*r, 5);
    assert!(!lock.is_owned_by_current_thread());
    assert!(lock.is_locked());
    assert_eq!(lock.is_locked_exclusive(), P::KIND == PolicyKind::Exclusive);
    drop(r);
    assert!(!lock.is_locked());
}

fn downgrade_gives_a_plain_read<P: Policy>()
where
    P::Shared<u32>: Sync,
{
    let lock = ReentrantRwLock::<u32, P>::new(1);
    thread::scope(|s| {
        let w = lock.write();
        s.spawn(|| {
            let g = lock.write();
            assert_eq!(*g, 1);
        });
        wait_state(&lock, "the other writer queued", |s| s.queued_writers == 1);
        let r = ReentrantRwLockWriteGuard::downgrade(w).ok().unwrap();
        // atomic: the waiting writer did not get in
        let snap = lock.raw().state_snapshot();
        assert_eq!(snap.queued_writers, 1, "{snap:?}");
        if P::KIND != PolicyKind::Exclusive {
            assert_eq!((snap.readers, snap.writer), (1, false), "{snap:?}");
            // another thread may read alongside only if no writer waits,
            // except under ReaderPreferring
            let other_reads = thread::scope(|s| s.spawn(|| lock.try_read().is_some()).join().unwrap());
            assert_eq!(other_reads, P::KIND == PolicyKind::ReaderPreferring);
        } else {
            assert!(snap.writer, "{snap:?}");
        }
        drop(r);
    });
    assert!(!lock.is_locked());
}

fn timed_and_try_calls<P: Policy>()
where
    P::Shared<u32>: Sync,
{
    let lock = ReentrantRwLock::<u32, P>::new(0);
    let w = lock.write();
    // the owner never waits
    let w2 = lock.try_write_for(Duration::from_secs(3600)).unwrap();
    let r = lock.try_read_until(Instant::now()).unwrap();
    let w3 = lock.try_write_until(Instant::now()).unwrap();
    let r2 = lock.try_read_for(Duration::ZERO).unwrap();
    thread::scope(|s| {
        s.spawn(|| {
            let d = Duration::from_millis(20);
            let t = Instant::now();
            assert!(lock.try_write_for(d).is_none());
            assert!(t.elapsed() >= d);
            let t = Instant::now();
            assert!(lock.try_read_for(d).is_none());
            assert!(t.elapsed() >= d);
        });
    });
    // the timed-out waiters left no trace
    let snap = lock.raw().state_snapshot();
    assert_eq!((snap.queued_readers, snap.queued_writers), (0, 0));
    drop((w, w2, r, w3, r2));
    assert!(!lock.is_locked());
    thread::scope(|s| {
        s.spawn(|| {
            let g = lock.try_write_for(Duration::from_millis(1)).expect("free");
            assert!(lock.is_owned_by_current_thread());
            drop(g);
        });
    });
}

fn plain_reads_from_several_threads<P: Policy>()
where
    P::Shared<u32>: Sync,
{
    let lock = ReentrantRwLock::<u32, P>::new(3);
    let r = lock.read();
    assert!(!lock.is_owned_by_current_thread(), "a plain read does not own the lock");
    let other = thread::scope(|s| s.spawn(|| lock.try_read().map(|g| *g)).join().unwrap());
    if P::KIND == PolicyKind::Exclusive {
        assert_eq!(other, None);
    } else {
        assert_eq!(other, Some(3));
    }
    drop(r);
}

fn panic_releases_every_nested_guard<P: Policy>()
where
    P::Shared<u32>: Sync,
{
    let lock = ReentrantRwLock::<u32, P>::new(0);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _w = lock.write();
        let _r = lock.read();
        let _w2 = lock.write();
        panic!("boom");
    }));
    assert!(result.is_err());
    assert!(!lock.is_locked());
    assert!(!lock.is_owned_by_current_thread());
    drop(lock.write());
}

#[test]
fn non_reentrant_reads_are_documented_under_reader_preferring() {
    // Under ReaderPreferring a read holder may read again even with a writer
    // waiting (waiting writers are ignored): no deadlock.
    let lock = ReentrantRwLock::<u32, ReaderPreferring>::new(0);
    thread::scope(|s| {
        let r = lock.read();
        s.spawn(|| drop(lock.write()));
        wait_state(&lock, "the writer queued", |s| s.queued_writers == 1);
        let r2 = lock.read();
        assert_eq!(lock.raw().state_snapshot().readers, 2);
        drop((r, r2));
    });
}

#[test]
fn debug_default_get_mut() {
    let mut lock: ReentrantRwLock<Vec<u8>> = ReentrantRwLock::default();
    lock.get_mut().push(1);
    assert_eq!(format!("{lock:?}"), "ReentrantRwLock { data: [1], .. }");
    let w = lock.write();
    assert_eq!(format!("{w:?}"), "[1]");
    // the owner may read to print it
    assert_eq!(format!("{lock:?}"), "ReentrantRwLock { data: [1], .. }");
    let other = thread::scope(|s| s.spawn(|| format!("{lock:?}")).join().unwrap());
    assert_eq!(other, "ReentrantRwLock { data: <locked>, .. }");
    drop(w);
    let from: ReentrantRwLock<u8> = 4.into();
    assert_eq!(*from.read(), 4);
}

#[test]
fn const_new() {
    static LOCK: ReentrantRwLock<u32> = ReentrantRwLock::new(9);
    let g = LOCK.write();
    assert_eq!(*LOCK.read(), 9);
    drop(g);
}

#[test]
fn send_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn sync<T: Sync>() {}
    send_sync::<ReentrantRwLock<u32>>();
    // a mutex-like reentrant lock needs only `T: Send` (like ReentrantMutex)
    send_sync::<ReentrantRwLock<Cell<u32>, Exclusive>>();
    sync::<ReentrantRwLockReadGuard<'static, u32>>();
    sync::<ReentrantRwLockWriteGuard<'static, u32>>();

    // Compiles only if the type is NOT Send: with `Send`, `_` is ambiguous.
    trait AmbiguousIfSend<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfSend<()> for T {}
    impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}
    <ReentrantRwLockReadGuard<'static, u32> as AmbiguousIfSend<_>>::check();
    <ReentrantRwLockWriteGuard<'static, u32> as AmbiguousIfSend<_>>::check();

    // Compiles only if the type is NOT Sync.
    trait AmbiguousIfSync<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfSync<()> for T {}
    impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}
    <ReentrantRwLock<Cell<u32>> as AmbiguousIfSync<_>>::check();
}

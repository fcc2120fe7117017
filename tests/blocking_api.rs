//! The blocking `RwLock` / `Mutex` API of docs/SEMANTICS.md §3: guards, mapping, data
//! access, formatting, timeouts, size, and the Send/Sync contract.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rwlocker::{MappedRwLockReadGuard, MappedRwLockWriteGuard, Policy, RwLock, RwLockReadGuard, RwLockWriteGuard};

// Exact-order tests: they run against the strict hand-off mode
// (`Strict<P>`, docs/SEMANTICS.md §2a), whose order is the policy table.
type PhaseFair = rwlocker::Strict<rwlocker::PhaseFair>;
type ReaderPreferring = rwlocker::Strict<rwlocker::ReaderPreferring>;
type WriterPreferring = rwlocker::Strict<rwlocker::WriterPreferring>;
type Exclusive = rwlocker::Strict<rwlocker::Exclusive>;
type Mutex<T> = rwlocker::RwLock<T, Exclusive>;

fn wait_until<T: ?Sized, P: Policy>(
    lock: &RwLock<T, P>,
    what: &str,
    cond: impl Fn(rwlocker::engine::StateSnapshot) -> bool,
) {
    let start = Instant::now();
    loop {
        let s = lock.raw().state_snapshot();
        if cond(s) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}: {s:?}");
        thread::yield_now();
    }
}

#[derive(Debug, Default, PartialEq)]
struct Point {
    x: i32,
    y: i32,
}

#[test]
fn guards_read_and_write() {
    let lock: RwLock<Point> = RwLock::new(Point { x: 1, y: 2 });
    {
        let mut w = lock.write();
        w.x += 10;
        assert!(lock.is_locked() && lock.is_locked_exclusive());
        assert!(lock.try_read().is_none() && lock.try_write().is_none());
    }
    assert!(!lock.is_locked());
    let r1 = lock.read();
    let r2 = lock.read();
    assert_eq!((r1.x, r2.y), (11, 2));
    assert!(lock.is_locked() && !lock.is_locked_exclusive());
    assert!(lock.try_write().is_none());
    assert!(std::ptr::eq(RwLockReadGuard::rwlock(&r1), &lock));
    drop((r1, r2));
    let mut l = lock.lock();
    l.y = 0;
    assert!(std::ptr::eq(RwLockWriteGuard::rwlock(&l), &lock));
    let r = RwLockWriteGuard::downgrade(l);
    assert_eq!(*r, Point { x: 11, y: 0 });
    assert!(!lock.is_locked_exclusive());
    drop(r);
    assert_eq!(lock.into_inner(), Point { x: 11, y: 0 });
}

#[test]
fn mapped_guards() {
    let lock: RwLock<Point> = RwLock::new(Point { x: 1, y: 2 });
    let mut mx: MappedRwLockWriteGuard<'_, i32> = RwLockWriteGuard::map(lock.write(), |p| &mut p.x);
    *mx = 5;
    assert!(lock.is_locked_exclusive(), "a mapped write guard keeps the write lock");
    assert!(lock.try_read().is_none());
    let mut mx = MappedRwLockWriteGuard::map(mx, |x| x);
    *mx += 1;
    drop(mx);
    assert!(!lock.is_locked());

    let my: MappedRwLockReadGuard<'_, i32> = RwLockReadGuard::map(lock.read(), |p| &p.y);
    assert_eq!(*my, 2);
    assert!(lock.is_locked() && !lock.is_locked_exclusive());
    assert!(lock.try_write().is_none(), "a mapped read guard keeps the read lock");
    let other = lock.read();
    let my = MappedRwLockReadGuard::map(my, |y| y);
    assert_eq!((*my, other.x), (2, 6));
    assert_eq!(format!("{my:?} {my}"), "2 2");
    drop((my, other));
    assert!(!lock.is_locked());
    assert!(lock.try_write().is_some());
}

#[test]
fn get_mut_into_inner_default_from() {
    let mut lock: RwLock<Vec<u8>, WriterPreferring> = RwLock::default();
    assert!(lock.get_mut().is_empty());
    lock.get_mut().push(3);
    assert_eq!(*lock.read(), [3]);
    assert_eq!(lock.into_inner(), [3]);
    let m: Mutex<String> = String::from("x").into();
    m.lock().push('y');
    assert_eq!(m.into_inner(), "xy");
}

#[test]
fn debug_and_display() {
    let lock: RwLock<i32> = RwLock::new(5);
    assert_eq!(format!("{lock:?}"), "RwLock { data: 5, .. }");
    {
        let w = lock.write();
        assert_eq!(format!("{lock:?}"), "RwLock { data: <locked>, .. }");
        assert_eq!(format!("{w:?} {w}"), "5 5");
    }
    let r = lock.read();
    assert_eq!(format!("{lock:?}"), "RwLock { data: 5, .. }", "readable while read-locked");
    assert_eq!(format!("{r:?} {r}"), "5 5");
    drop(r);
    let m = Mutex::new(1);
    let g = m.lock();
    assert_eq!(format!("{m:?}"), "RwLock { data: <locked>, .. }");
    drop(g);
    let raw = format!("{:?}", lock.raw());
    assert!(raw.contains("PhaseFair") && raw.contains("readers: 0"), "{raw}");
}

#[test]
fn const_new_in_a_static() {
    static LOCK: RwLock<u32> = RwLock::new(0);
    static MUTEX: Mutex<u32> = Mutex::new(0);
    *LOCK.write() += 1;
    *MUTEX.lock() += 2;
    assert_eq!((*LOCK.read(), *MUTEX.lock()), (1, 2));
}

#[test]
fn unsized_data() {
    let lock: &RwLock<[i32]> = &RwLock::new([1, 2, 3]);
    assert_eq!(lock.read().len(), 3);
    let boxed: Box<RwLock<dyn Fn() -> i32 + Send + Sync>> = Box::new(RwLock::new(|| 4));
    assert_eq!((boxed.read())(), 4);
}

#[test]
fn mutex_is_exclusive() {
    let m: Mutex<i32> = Mutex::new(0);
    let r = m.read();
    assert!(m.is_locked_exclusive(), "a read of a Mutex is exclusive");
    assert!(m.try_read().is_none() && m.try_write().is_none());
    drop(r);
    let w = m.lock();
    let r = RwLockWriteGuard::downgrade(w);
    assert!(m.is_locked_exclusive(), "a downgraded Mutex guard stays exclusive");
    assert!(m.try_read().is_none());
    drop(r);
    assert!(!m.is_locked());
}

#[test]
fn panic_releases_the_lock_without_poisoning() {
    let lock: RwLock<i32> = RwLock::new(1);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut g = lock.write();
        *g = 2;
        panic!("boom");
    }));
    assert!(r.is_err());
    assert!(!lock.is_locked());
    assert_eq!(*lock.read(), 2);
}

fn timeouts<P: Policy>()
where
    P::Shared<i32>: Sync,
{
    let lock = RwLock::<i32, P>::new(0);
    let d = Duration::from_millis(30);
    // a writer holds: timed reads and writes give up after at least `d`
    let w = lock.write();
    thread::scope(|s| {
        s.spawn(|| {
            let t = Instant::now();
            assert!(lock.try_read_for(d).is_none());
            assert!(t.elapsed() >= d, "gave up early");
            let t = Instant::now();
            assert!(lock.try_write_for(d).is_none());
            assert!(t.elapsed() >= d, "gave up early");
            let deadline = Instant::now() + d;
            assert!(lock.try_write_until(deadline).is_none());
            assert!(Instant::now() >= deadline);
            let deadline = Instant::now() + d;
            assert!(lock.try_read_until(deadline).is_none());
            assert!(Instant::now() >= deadline);
            // a deadline in the past: one attempt only
            assert!(lock.try_read_until(Instant::now() - d).is_none());
        });
    });
    let s = lock.raw().state_snapshot();
    assert_eq!((s.queued_readers, s.queued_writers), (0, 0), "timed-out waiters left no trace");
    drop(w);

    // a free lock: the guard is held when Some
    let g = lock.try_write_for(d).expect("free");
    assert!(lock.is_locked_exclusive());
    drop(g);
    let g = lock.try_read_until(Instant::now()).expect("free");
    assert!(lock.is_locked());
    assert!(lock.try_write().is_none());
    drop(g);
    assert!(lock.try_write_for(Duration::MAX).is_some(), "an unrepresentable deadline waits forever");
    assert!(lock.try_read_for(Duration::MAX).is_some());

    // a timed wait that is granted before its deadline returns the guard
    let w = lock.write();
    let got = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            let g = lock.try_write_for(Duration::from_secs(3600)).expect("granted");
            assert!(lock.is_locked_exclusive());
            got.store(true, Ordering::SeqCst);
            drop(g);
        });
        wait_until(&lock, "the timed writer queued", |s| s.queued_writers == 1);
        drop(w);
    });
    assert!(got.load(Ordering::SeqCst));
    assert!(!lock.is_locked());
}

#[test]
fn timeouts_phase_fair() {
    timeouts::<PhaseFair>();
}
#[test]
fn timeouts_reader_preferring() {
    timeouts::<ReaderPreferring>();
}
#[test]
fn timeouts_writer_preferring() {
    timeouts::<WriterPreferring>();
}
#[test]
fn timeouts_exclusive() {
    timeouts::<Exclusive>();
}

#[test]
fn timed_read_behind_a_waiting_writer() {
    // Under WriterPreferring a reader gives up while a writer waits, even
    // though only readers hold the lock.
    let lock = RwLock::<i32, WriterPreferring>::new(0);
    let r = lock.read();
    thread::scope(|s| {
        s.spawn(|| drop(lock.write()));
        wait_until(&lock, "the writer queued", |s| s.queued_writers == 1);
        let d = Duration::from_millis(20);
        let t = Instant::now();
        let got = thread::scope(|s| s.spawn(|| lock.try_read_for(d).is_some()).join().unwrap());
        assert!(!got && t.elapsed() >= d);
        drop(r);
    });
}

#[test]
fn sizes() {
    assert!(std::mem::size_of::<RwLock<()>>() <= 16, "{}", std::mem::size_of::<RwLock<()>>());
    assert!(std::mem::size_of::<Mutex<()>>() <= 16);
    assert_eq!(std::mem::size_of::<RwLockReadGuard<'_, ()>>(), std::mem::size_of::<usize>());
    assert_eq!(std::mem::size_of::<RwLockWriteGuard<'_, ()>>(), std::mem::size_of::<usize>());
}

#[test]
fn many_threads_count_correctly() {
    fn run<P: Policy>()
    where
        P::Shared<usize>: Sync,
    {
        let lock = RwLock::<usize, P>::new(0);
        let reads = AtomicUsize::new(0);
        thread::scope(|s| {
            for t in 0..4 {
                let (lock, reads) = (&lock, &reads);
                s.spawn(move || {
                    for i in 0..500 {
                        if (i + t) % 3 == 0 {
                            let g = lock.read();
                            assert!(*g <= 4 * 500);
                            reads.fetch_add(1, Ordering::Relaxed);
                        } else {
                            *lock.write() += 1;
                        }
                    }
                });
            }
        });
        assert_eq!(lock.into_inner() + reads.into_inner(), 4 * 500);
    }
    run::<PhaseFair>();
    run::<ReaderPreferring>();
    run::<WriterPreferring>();
    run::<Exclusive>();
}

// Compile-time Send/Sync contract.
fn send<T: ?Sized + Send>() {}
fn sync<T: ?Sized + Sync>() {}

/// `<T as AmbiguousIfSync<_>>::check()` compiles only if `T` is NOT `Sync`.
trait AmbiguousIfSync<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSync<()> for T {}
impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}

/// `<T as AmbiguousIfSend<_>>::check()` compiles only if `T` is NOT `Send`.
trait AmbiguousIfSend<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}

#[test]
fn send_sync_contract() {
    send::<RwLock<i32>>();
    sync::<RwLock<i32>>();
    sync::<RwLock<i32, ReaderPreferring>>();
    sync::<RwLock<i32, WriterPreferring>>();
    // readers share `&T`: `T` must be Sync ...
    send::<RwLock<Cell<i32>>>();
    <RwLock<Cell<i32>> as AmbiguousIfSync<_>>::check();
    <RwLock<Cell<i32>, ReaderPreferring> as AmbiguousIfSync<_>>::check();
    // ... but a Mutex hands the data to one thread at a time
    sync::<Mutex<Cell<i32>>>();
    send::<Mutex<Cell<i32>>>();
    // not even a Mutex may share a `!Send` value
    <Mutex<std::rc::Rc<i32>> as AmbiguousIfSync<_>>::check();
    <RwLock<std::rc::Rc<i32>> as AmbiguousIfSend<_>>::check();

    send::<RwLockReadGuard<'static, i32>>();
    sync::<RwLockReadGuard<'static, i32>>();
    send::<RwLockWriteGuard<'static, i32>>();
    sync::<RwLockWriteGuard<'static, i32>>();
    send::<MappedRwLockReadGuard<'static, i32>>();
    send::<MappedRwLockWriteGuard<'static, i32>>();
    // a guard that can hand out `&Cell` must not move or be shared
    <RwLockReadGuard<'static, Cell<i32>> as AmbiguousIfSend<_>>::check();
    <RwLockWriteGuard<'static, Cell<i32>, Exclusive> as AmbiguousIfSync<_>>::check();
}

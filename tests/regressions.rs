//! Regression tests named after real bugs in other locks (public issue
//! reports of tokio, parking_lot, .NET and others). Each test
//! recreates the situation of the report against rwlocker and says in a
//! comment what went wrong there. Deterministic: threads are sequenced by
//! waiting on the engine's state (`raw().state_snapshot()`), futures are
//! polled by hand with counting wakers; a deadlock becomes a failure through
//! `common::within` or the watchdog instead of a hang.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use common::{within, Polled, Watchdog};
use rwlocker::engine::StateSnapshot;
use rwlocker::{
    AsyncRwCondvar, AsyncRwLock, AsyncRwLockWriteGuard, OwnedAsyncRwLockWriteGuard, Policy, PolicyKind, RwCondvar,
    RwLock, RwLockWriteGuard,
};

// Exact-order tests: they run against the strict hand-off mode
// (`Strict<P>`, docs/SEMANTICS.md §2a), whose order is the policy table.
type PhaseFair = rwlocker::Strict<rwlocker::PhaseFair>;
type ReaderPreferring = rwlocker::Strict<rwlocker::ReaderPreferring>;
type WriterPreferring = rwlocker::Strict<rwlocker::WriterPreferring>;
type Exclusive = rwlocker::Strict<rwlocker::Exclusive>;

const PATIENCE: Duration = Duration::from_secs(10);
const IDLE: StateSnapshot = StateSnapshot { readers: 0, writer: false, queued_readers: 0, queued_writers: 0 };

/// Waits (yielding) until `cond` holds; fails after [`PATIENCE`].
fn spin_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting until {what}");
        thread::yield_now();
    }
}

fn snap<T: ?Sized, P: Policy>(lock: &RwLock<T, P>) -> StateSnapshot {
    lock.raw().state_snapshot()
}

fn asnap<T: ?Sized, P: Policy>(lock: &AsyncRwLock<T, P>) -> StateSnapshot {
    lock.raw().state_snapshot()
}

/// Runs `$body` once per listed policy, with `P` bound to it.
macro_rules! for_policies {
    ([$($p:ty),*], $f:ident) => {
        $( $f::<$p>(); )*
    };
}

// ---------------------------------------------------------------------------
// Timeouts and cancellation
// ---------------------------------------------------------------------------

/// dotnet/corefx#3364 (ReaderWriterLockSlim), glibc `tst-rwlock15`,
/// llvm-project PR #201937: a writer that timed out while readers were
/// queued behind it did not wake them; they stayed blocked although the
/// lock was only held by readers. Here R0 holds a read lock, W1 waits with a
/// timeout, R2 queues behind W1 (WriterPreferring and PhaseFair keep readers
/// out while a writer waits); when W1 gives up, R2 must enter at once —
/// R0 still holds the lock, so only W1's departure can let R2 in.
#[test]
fn corefx_3364_writer_timeout_releases_readers() {
    fn check<P: Policy>()
    where
        RwLock<(), P>: Sync,
    {
        let lock = RwLock::<(), P>::new(());
        let mut timeout = Duration::from_millis(50);
        for _attempt in 0..8 {
            let r0 = lock.read();
            let entered = AtomicBool::new(false);
            let mut reached = false;
            thread::scope(|s| {
                let w1 = s.spawn(|| lock.try_write_for(timeout).is_some());
                spin_until("W1 is queued", || snap(&lock).queued_writers == 1 || w1.is_finished());
                let r2 = s.spawn(|| {
                    let _g = lock.read();
                    entered.store(true, SeqCst);
                });
                // R2 either queues behind W1 (the scenario), or enters at
                // once because W1 already gave up (try again, longer).
                spin_until("R2 is queued or in", || snap(&lock).queued_readers == 1 || entered.load(SeqCst));
                reached = !entered.load(SeqCst);
                assert!(!w1.join().unwrap(), "W1 got the lock while R0 held it");
                // W1 has returned: R2 must get in while R0 still holds.
                spin_until("R2 enters after W1 timed out (R0 still holding)", || entered.load(SeqCst));
                r2.join().unwrap();
            });
            drop(r0);
            assert_eq!(snap(&lock), IDLE);
            if reached {
                return;
            }
            timeout *= 2;
        }
        panic!("{:?}: could not queue R2 behind the timed writer", P::KIND);
    }
    for_policies!([WriterPreferring, PhaseFair], check);
}

/// The async form of the same bug: StephenCleary/AsyncEx#134,
/// microsoft/vs-threading PR #259, meziantou/Meziantou.Framework PR #3028,
/// sgl-project/sglang PR #39984 — a cancelled writer left the readers
/// queued behind it blocked. Dropping the write future is the timeout.
#[test]
fn asyncex_134_cancelled_writer_releases_readers() {
    fn check<P: Policy>() {
        let lock = AsyncRwLock::<(), P>::new(());
        let r0 = lock.try_read().unwrap();
        let mut w1 = Polled::new(lock.write());
        assert!(w1.poll().is_pending());
        let mut r2 = Polled::new(lock.read());
        assert!(r2.poll().is_pending(), "{:?}: R2 must queue behind the waiting writer", P::KIND);
        drop(w1);
        assert!(r2.is_woken(), "{:?}: the cancelled writer did not wake the reader behind it", P::KIND);
        let g2 = match r2.poll() {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("{:?}: reader still blocked after the writer was cancelled", P::KIND),
        };
        assert_eq!(asnap(&lock).readers, 2);
        drop((r0, g2));
        assert_eq!(asnap(&lock), IDLE);
    }
    for_policies!([WriterPreferring, PhaseFair], check);
}

/// tokio-rs/tokio#1898 (PR #1902), tokio PR #1699: a `lock()` future that
/// had been handed the lock (woken, not yet polled) and was then aborted
/// kept the lock forever. Here the granted future is dropped unpolled: the
/// grant must be released, or passed to the next waiter.
#[test]
fn tokio_1898_aborted_lock_releases() {
    fn check<P: Policy>() {
        let lock = AsyncRwLock::<u32, P>::new(0);
        // Granted, then dropped: the lock is free again.
        let h = lock.try_write().unwrap();
        let mut f = Polled::new(lock.write());
        assert!(f.poll().is_pending());
        drop(h);
        assert!(f.is_woken(), "{:?}: the waiter was not handed the lock", P::KIND);
        drop(f);
        assert_eq!(asnap(&lock), IDLE, "{:?}: an aborted, granted lock() kept the lock", P::KIND);
        assert!(lock.try_write().is_some());

        // Granted, then dropped with another waiter behind: it goes on.
        let h = lock.try_write().unwrap();
        let mut f = Polled::new(lock.write());
        let mut g = Polled::new(lock.write());
        assert!(f.poll().is_pending());
        assert!(g.poll().is_pending());
        drop(h);
        assert!(f.is_woken() && !g.is_woken());
        drop(f);
        assert!(g.is_woken(), "{:?}: the dropped grant was not passed on", P::KIND);
        assert!(g.poll().is_ready());
        assert_eq!(asnap(&lock), IDLE);
    }
    for_policies!([ReaderPreferring, WriterPreferring, PhaseFair, Exclusive], check);

    // The same through a real runtime: a task waiting in `write().await` is
    // handed the lock and aborted before it runs again.
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let lock = Arc::new(AsyncRwLock::<u32>::new(0));
        let guard = lock.write().await;
        let task = {
            let lock = lock.clone();
            tokio::spawn(async move {
                let mut g = lock.write().await;
                *g += 1;
                std::future::pending::<()>().await;
            })
        };
        while asnap(&lock).queued_writers == 0 {
            tokio::task::yield_now().await;
        }
        drop(guard); // hands the lock to the task...
        task.abort(); // ...which is aborted before it runs
        assert!(task.await.unwrap_err().is_cancelled());
        assert_eq!(asnap(&lock), IDLE, "an aborted task kept the lock");
        assert_eq!(*lock.try_write().expect("lock still held after abort"), 0);
    });
}

/// parking_lot#465 / PR #466 (and risingwave PR #23902): `try_write_for`
/// timing out corrupted the lock state (`0xffff…`), and production
/// services locked up. Every timed acquire that gives up must leave the
/// state exactly as it found it, whoever holds and waits.
#[test]
fn parking_lot_465_try_write_for_state() {
    fn check<P: Policy>()
    where
        RwLock<u32, P>: Sync,
    {
        let lock = RwLock::<u32, P>::new(0);
        let timeouts = [Duration::ZERO, Duration::from_micros(50), Duration::from_millis(1)];
        let give_up = |lock: &RwLock<u32, P>, can_read: bool| {
            let before = snap(lock);
            for t in timeouts {
                assert!(lock.try_write_for(t).is_none());
                assert_eq!(snap(lock), before, "{:?}: try_write_for({t:?}) changed the state", P::KIND);
                if !can_read {
                    assert!(lock.try_read_for(t).is_none());
                    assert_eq!(snap(lock), before, "{:?}: try_read_for({t:?}) changed the state", P::KIND);
                }
            }
        };
        // Held by a reader; by a writer.
        let r = lock.read();
        give_up(&lock, P::KIND != PolicyKind::Exclusive);
        drop(r);
        let w = lock.write();
        give_up(&lock, false);
        // Held by a writer with a writer and a reader queued.
        thread::scope(|s| {
            let w2 = s.spawn(|| *lock.write() += 1);
            spin_until("W2 queued", || snap(&lock).queued_writers == 1);
            let r3 = s.spawn(|| *lock.read());
            spin_until("R3 queued", || snap(&lock).queued_readers == 1);
            give_up(&lock, false);
            drop(w);
            w2.join().unwrap();
            r3.join().unwrap();
        });
        assert_eq!(snap(&lock), IDLE);
        assert_eq!(*lock.try_write().unwrap(), 1);
    }
    for_policies!([ReaderPreferring, WriterPreferring, PhaseFair, Exclusive], check);
}

/// rustfs/rustfs#2795 (a waiting counter not decremented on cancel blocked
/// the fast path for good) and asomers/futures-locks#24 (panic when a
/// waiter was dropped before being granted): cancelled waiters must leave
/// no queued flag behind, so uncontended acquires stay on the fast path.
#[test]
fn rustfs_2795_cancelled_waiters_leave_no_queued_flag() {
    fn check<P: Policy>() {
        let lock = AsyncRwLock::<(), P>::new(());
        let h = lock.try_write().unwrap();
        let mut futs: Vec<Polled<_>> = Vec::new();
        let mut reads: Vec<Polled<_>> = Vec::new();
        for _ in 0..3 {
            futs.push(Polled::new(lock.write()));
            reads.push(Polled::new(lock.read()));
        }
        futs.iter_mut().for_each(|f| assert!(f.poll().is_pending()));
        reads.iter_mut().for_each(|f| assert!(f.poll().is_pending()));
        drop(futs);
        drop(reads);
        assert_eq!(
            asnap(&lock),
            StateSnapshot { writer: true, ..IDLE },
            "{:?}: cancelled waiters left a trace",
            P::KIND
        );
        drop(h);
        assert_eq!(asnap(&lock), IDLE);
        assert!(!lock.is_locked());
        drop(lock.try_read().expect("fast path read"));
        drop(lock.try_write().expect("fast path write"));
    }
    for_policies!([ReaderPreferring, WriterPreferring, PhaseFair, Exclusive], check);
}

/// tokio-rs/tokio#6450: two acquires from one task under `select!` (a
/// read and a write on the same lock) deadlocked. Whichever is handed the
/// lock wins and the other is dropped; or the whole `select!` is dropped
/// (an outer timeout) after one of them was granted. Nothing may stay held
/// or queued.
#[test]
fn tokio_6450_two_waiters_one_task_select() {
    fn check<P: Policy>() {
        let lock = AsyncRwLock::<(), P>::new(());
        for outer_cancel in [false, true] {
            let h = lock.try_write().unwrap();
            let mut r = Polled::new(lock.read());
            let mut w = Polled::new(lock.write());
            assert!(r.poll().is_pending());
            assert!(w.poll().is_pending());
            drop(h);
            let (r_won, w_won) = (r.is_woken(), w.is_woken());
            assert!(r_won != w_won, "{:?}: exactly one of a read and a write can be handed the lock", P::KIND);
            if outer_cancel {
                drop((r, w)); // the granted one releases, the other leaves
            } else if r_won {
                let g = r.poll();
                assert!(g.is_ready());
                drop(w);
                drop(g);
            } else {
                let g = w.poll();
                assert!(g.is_ready());
                drop(r);
                drop(g);
            }
            assert_eq!(asnap(&lock), IDLE, "{:?}: a select! branch kept the lock", P::KIND);
        }
    }
    for_policies!([ReaderPreferring, WriterPreferring, PhaseFair, Exclusive], check);
}

/// smol-rs/async-lock#91: write futures polled in a different order than
/// they were created hung. A future joins the queue at its first poll
/// (docs/SEMANTICS.md §4), so first-poll order is the service order, whatever the
/// creation order — and every one of them gets in.
#[test]
fn async_lock_91_write_futures_polled_out_of_order() {
    fn check<P: Policy>() {
        let lock = AsyncRwLock::<Vec<u8>, P>::new(Vec::new());
        let h = lock.try_write().unwrap();
        let mut f1 = Polled::new(lock.write());
        let mut f2 = Polled::new(lock.write());
        let mut f3 = Polled::new(lock.write());
        assert!(f3.poll().is_pending());
        assert!(f1.poll().is_pending());
        assert!(f2.poll().is_pending());
        drop(h);
        for (name, f) in [("f3", &mut f3), ("f1", &mut f1), ("f2", &mut f2)] {
            assert!(f.is_woken(), "{:?}: {name} was not handed the lock in first-poll order", P::KIND);
            match f.poll() {
                Poll::Ready(mut g) => g.push(name.as_bytes()[1]),
                Poll::Pending => panic!("{:?}: {name} hangs", P::KIND),
            }
        }
        assert_eq!(*lock.try_read().unwrap(), b"312");

        // A future created early but polled late does not hold anyone up.
        let mut early = Polled::new(lock.write());
        let late = Polled::new(lock.write()).poll();
        let Poll::Ready(late) = late else { panic!("{:?}: an unpolled future blocked a new one", P::KIND) };
        assert!(early.poll().is_pending());
        drop(late);
        assert!(early.is_woken() && early.poll().is_ready());
        assert_eq!(asnap(&lock), IDLE);
    }
    for_policies!([ReaderPreferring, WriterPreferring, PhaseFair, Exclusive], check);
}

/// pflock 0.2.0 (measured): W0 holds, W1 queues, a failed
/// `try_write` from a third party broke the ticket invariant and W1 spun
/// forever after W0 unlocked. docs/SEMANTICS.md §2: `try_write` fails while a writer is
/// queued, and changes nothing.
#[test]
fn try_write_while_writer_queued_keeps_queue() {
    fn check<P: Policy>()
    where
        RwLock<u32, P>: Sync,
    {
        // Threads.
        let lock = RwLock::<u32, P>::new(0);
        let w0 = lock.write();
        thread::scope(|s| {
            let w1 = s.spawn(|| *lock.write() += 1);
            spin_until("W1 queued", || snap(&lock).queued_writers == 1);
            for _ in 0..10 {
                assert!(lock.try_write().is_none());
                assert!(lock.try_read().is_none());
            }
            assert_eq!(snap(&lock).queued_writers, 1, "{:?}: try_write disturbed the queue", P::KIND);
            drop(w0);
            w1.join().unwrap();
        });
        assert_eq!(*lock.try_write().unwrap(), 1);

        // Futures: the queued writer, not the try_write caller, is next.
        let lock = AsyncRwLock::<u32, P>::new(0);
        let w0 = lock.try_write().unwrap();
        let mut w1 = Polled::new(lock.write());
        assert!(w1.poll().is_pending());
        assert!(lock.try_write().is_none());
        drop(w0);
        assert!(lock.try_write().is_none(), "{:?}: try_write took a lock being handed to a waiter", P::KIND);
        assert!(w1.is_woken() && w1.poll().is_ready());
        assert_eq!(asnap(&lock), IDLE);
    }
    for_policies!([ReaderPreferring, WriterPreferring, PhaseFair, Exclusive], check);
}

// ---------------------------------------------------------------------------
// Downgrade
// ---------------------------------------------------------------------------

/// tokio-rs/tokio#2941 (PR #2957): `downgrade` released MAX_READS − 1
/// permits and then the write guard's Drop released MAX_READS more (a
/// missing `mem::forget`), so the lock admitted too many. After a
/// downgrade the lock holds exactly one read lock; dropping it frees the
/// lock exactly — for blocking, borrowed async and owned async guards.
#[test]
fn tokio_2941_downgrade_permit_count() {
    fn check<P: Policy>() {
        let one_reader = if P::KIND == PolicyKind::Exclusive {
            StateSnapshot { writer: true, ..IDLE }
        } else {
            StateSnapshot { readers: 1, ..IDLE }
        };
        let lock = RwLock::<u32, P>::new(0);
        let alock = Arc::new(AsyncRwLock::<u32, P>::new(0));
        for _ in 0..1000 {
            let r = RwLockWriteGuard::downgrade(lock.write());
            assert_eq!(snap(&lock), one_reader, "{:?}: blocking downgrade", P::KIND);
            assert!(lock.try_write().is_none());
            drop(r);
            assert_eq!(snap(&lock), IDLE);

            let r = AsyncRwLockWriteGuard::downgrade(alock.try_write().unwrap());
            assert_eq!(asnap(&alock), one_reader, "{:?}: async downgrade", P::KIND);
            assert!(alock.try_write().is_none());
            drop(r);
            assert_eq!(asnap(&alock), IDLE);

            let w = futures::executor::block_on(alock.clone().write_owned());
            let r = OwnedAsyncRwLockWriteGuard::downgrade(w);
            assert_eq!(asnap(&alock), one_reader, "{:?}: owned downgrade", P::KIND);
            drop(r);
            assert_eq!(asnap(&alock), IDLE);
        }
        if P::KIND != PolicyKind::Exclusive {
            // Readers join the downgraded holder; the count stays exact.
            let r = RwLockWriteGuard::downgrade(lock.write());
            let more: Vec<_> = (0..3).map(|_| lock.try_read().unwrap()).collect();
            assert_eq!(snap(&lock).readers, 4);
            drop(more);
            drop(r);
        }
        assert_eq!(snap(&lock), IDLE);
        assert!(lock.try_write().is_some());
    }
    for_policies!([ReaderPreferring, WriterPreferring, PhaseFair, Exclusive], check);
}

/// rust-lang/rust PR #128219 (`test_downgrade_observe`, which found races
/// in std's new `downgrade`) and parking_lot's `test_rwlock_downgrade`:
/// many threads write, downgrade and read back their own value — no writer
/// may slip in between — and the final count is exact.
#[test]
fn std_128219_downgrade_observe() {
    fn check<P: Policy>()
    where
        RwLock<u64, P>: Sync,
    {
        let lock = Arc::new(RwLock::<u64, P>::new(0));
        let progress = Arc::new(AtomicU64::new(0));
        let wd = {
            let lock = lock.clone();
            Watchdog::start("downgrade_observe", progress.clone(), move || format!("{:?}", lock.raw()))
        };
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (lock, progress) = (lock.clone(), progress.clone());
                thread::spawn(move || {
                    for _ in 0..100 {
                        let mut w = lock.write();
                        *w += 1;
                        let mine = *w;
                        let r = RwLockWriteGuard::downgrade(w);
                        thread::yield_now();
                        assert_eq!(*r, mine, "{:?}: a writer got in during a downgrade", P::KIND);
                        drop(r);
                        progress.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        wd.join(workers);
        assert_eq!(*lock.read(), 800);
        assert_eq!(snap(&lock), IDLE);
    }
    for_policies!([ReaderPreferring, WriterPreferring, PhaseFair, Exclusive], check);
}

// ---------------------------------------------------------------------------
// Condition variables
// ---------------------------------------------------------------------------

/// tokio-rs/tokio#4618 (also #4668, oxidizer#733, and the Python library's
/// `Condition`): a `Notified` future that had been notified and was then
/// dropped swallowed the notification, so `notify_one` reached nobody.
/// docs/SEMANTICS.md §4: a dropped, already notified wait passes the notification to
/// the next waiter — whether it was dropped before re-polling, while queued
/// for the lock again, or after being granted the lock again (the grant is
/// released too).
#[test]
fn tokio_4618_notified_then_cancelled_condvar_waiter_passes_on() {
    fn check<P: Policy>() {
        let lock = AsyncRwLock::<u32, P>::new(0);
        let cv = AsyncRwCondvar::new();

        // Phase 1: dropped after the notification, before re-polling.
        let mut a = Polled::new(cv.wait(lock.try_read().unwrap()));
        assert!(a.poll().is_pending());
        let mut b = Polled::new(cv.wait(lock.try_read().unwrap()));
        assert!(b.poll().is_pending());
        assert!(cv.notify_one());
        assert!(a.is_woken() && !b.is_woken());
        drop(a);
        assert!(b.is_woken(), "{:?}: a dropped notified waiter swallowed the notification", P::KIND);
        assert!(b.poll().is_ready());
        drop(b);
        assert_eq!(asnap(&lock), IDLE);

        // Phase 2: dropped while queued for the lock again.
        let mut a = Polled::new(cv.wait(lock.try_write().unwrap()));
        assert!(a.poll().is_pending());
        let mut b = Polled::new(cv.wait(lock.try_write().unwrap()));
        assert!(b.poll().is_pending());
        let holder = lock.try_write().unwrap();
        assert!(cv.notify_one());
        assert!(a.poll().is_pending(), "the lock is held: A queues for it");
        assert_eq!(asnap(&lock).queued_writers, 1);
        drop(a);
        assert_eq!(asnap(&lock).queued_writers, 0, "the dropped waiter left the lock's queue");
        assert!(b.is_woken(), "{:?}: a re-queued, dropped waiter swallowed the notification", P::KIND);
        drop(holder);
        assert!(b.poll().is_ready());
        drop(b);

        // Phase 3: dropped after being granted the lock again.
        let mut a = Polled::new(cv.wait(lock.try_write().unwrap()));
        assert!(a.poll().is_pending());
        let mut b = Polled::new(cv.wait(lock.try_write().unwrap()));
        assert!(b.poll().is_pending());
        let holder = lock.try_write().unwrap();
        assert!(cv.notify_one());
        assert!(a.poll().is_pending());
        drop(holder); // hands the lock to A
        assert!(a.is_woken());
        drop(a); // releases that grant and passes the notification on
        assert!(b.is_woken(), "{:?}: a granted, dropped waiter swallowed the notification", P::KIND);
        assert!(b.poll().is_ready(), "{:?}: the dropped waiter's grant was not released", P::KIND);
        drop(b);
        assert_eq!(asnap(&lock), IDLE);

        // notify(2) with three waiters, the first dropped: two live ones proceed.
        let mut ws = Vec::new();
        for _ in 0..3 {
            let mut w = Polled::new(cv.wait(lock.try_read().unwrap()));
            assert!(w.poll().is_pending());
            ws.push(w);
        }
        assert_eq!(cv.notify(2), 2);
        let first = ws.remove(0);
        drop(first);
        assert!(ws.iter().all(|w| w.is_woken()), "{:?}: notify(2) reached fewer than 2 live waiters", P::KIND);
        for w in &mut ws {
            assert!(w.poll().is_ready()); // the guard is dropped at once
        }
        drop(ws);
        assert_eq!(asnap(&lock), IDLE);
        assert_eq!(cv.notify_all(), 0);
    }
    for_policies!([ReaderPreferring, WriterPreferring, PhaseFair, Exclusive], check);
}

/// tokio-rs/tokio#5396 / PR #5458: `notify_waiters` woke waiters in batches
/// of 32 and released its lock in between, so futures created during the
/// call were woken spuriously and results were inconsistent. docs/SEMANTICS.md §3:
/// `notify_all` wakes every waiter registered before the call — all of them
/// (far more than 32) and nobody registered after.
#[test]
fn tokio_5396_notify_all_wakes_only_registered_waiters() {
    let lock = AsyncRwLock::<u32>::new(0);
    let cv = AsyncRwCondvar::new();
    let mut ws: Vec<_> = (0..100).map(|_| Polled::new(cv.wait(lock.try_read().unwrap()))).collect();
    ws.iter_mut().for_each(|w| assert!(w.poll().is_pending()));
    assert_eq!(cv.notify_all(), 100);
    let mut late = Polled::new(cv.wait(lock.try_read().unwrap()));
    assert!(late.poll().is_pending());
    assert!(ws.iter().all(|w| w.is_woken()), "notify_all missed some of 100 waiters");
    assert!(!late.is_woken(), "a waiter registered after notify_all was woken");
    assert!(late.poll().is_pending(), "a waiter registered after notify_all returned");
    let guards: Vec<_> = ws.iter_mut().map(|w| w.poll()).collect();
    assert!(guards.iter().all(|g| g.is_ready()));
    assert_eq!(asnap(&lock).readers, 100);
    drop(guards);
    assert!(cv.notify_one());
    assert!(late.is_woken() && late.poll().is_ready());
}

/// mea and asyncband#70/#71: an async condvar released
/// the lock before registering the waiter, so a notify sent in between was
/// lost. The waiter must be registered by the time anyone can take the
/// lock it released — checked for the async and the blocking condvar.
#[test]
fn asyncband_70_condvar_registers_before_release() {
    // Async: once the wait has released the lock, a notify finds it.
    let lock = AsyncRwLock::<bool>::new(false);
    let cv = AsyncRwCondvar::new();
    let mut w = Polled::new(Box::pin(cv.wait_while(lock.try_write().unwrap(), |ready| !*ready)));
    assert!(w.poll().is_pending());
    *lock.try_write().expect("the wait released the lock") = true;
    assert!(cv.notify_one(), "the waiter was not registered when the lock was released");
    assert!(w.is_woken());
    assert!(matches!(w.poll(), Poll::Ready(g) if *g));

    // Blocking: the moment the main thread gets the lock the waiter
    // released, `notify_one` must find the waiter.
    within("blocking register-before-release", PATIENCE, || {
        let lock = Arc::new(RwLock::<bool>::new(false));
        let cv = Arc::new(RwCondvar::new());
        for _ in 0..100 {
            *lock.write() = false;
            let started = Arc::new(AtomicBool::new(false));
            let t = {
                let (lock, cv, started) = (lock.clone(), cv.clone(), started.clone());
                thread::spawn(move || {
                    let mut g = lock.write();
                    started.store(true, SeqCst);
                    cv.wait_while(&mut g, |ready| !*ready);
                })
            };
            spin_until("the waiter holds the lock", || started.load(SeqCst));
            let mut g = lock.write(); // only possible once the waiter released it
            *g = true;
            assert!(cv.notify_one(), "lock released before the waiter registered");
            drop(g);
            t.join().unwrap();
        }
    });
}

// ---------------------------------------------------------------------------
// Wakers
// ---------------------------------------------------------------------------

/// A waker that calls back into the lock and the condvar when woken and
/// when dropped — what a real waker may do (tokio-rs/tokio#5429: a waker
/// dropped while tokio held an internal lock deadlocked when its Drop used
/// the same primitive). Each waker is its own `Arc`, so the engine's clone
/// is the last and its drop runs the callback.
struct ReentrantWaker {
    lock: Arc<AsyncRwLock<u32>>,
    cv: Arc<AsyncRwCondvar>,
    calls: Arc<AtomicUsize>,
}

impl ReentrantWaker {
    fn waker(lock: &Arc<AsyncRwLock<u32>>, cv: &Arc<AsyncRwCondvar>, calls: &Arc<AtomicUsize>) -> Waker {
        Waker::from(Arc::new(ReentrantWaker { lock: lock.clone(), cv: cv.clone(), calls: calls.clone() }))
    }

    fn poke(&self) {
        // Each of these takes an internal lock of the lock or the condvar.
        let _ = self.lock.raw().state_snapshot();
        drop(self.lock.try_read());
        drop(self.lock.try_write());
        let _ = format!("{:?}", self.cv);
        self.cv.notify(0);
        self.calls.fetch_add(1, SeqCst);
    }
}

impl Wake for ReentrantWaker {
    fn wake(self: Arc<Self>) {
        self.poke();
    }
}

impl Drop for ReentrantWaker {
    fn drop(&mut self) {
        self.poke();
    }
}

/// tokio-rs/tokio#5429: wakers are never woken or dropped while an internal
/// lock is held (docs/SEMANTICS.md §4). Every path that replaces, wakes or drops a
/// waker runs here with wakers that re-enter the lock and the condvar; a
/// violation deadlocks, which `within` turns into a failure.
#[test]
fn tokio_5429_waker_drop_reentrancy() {
    within("re-entrant wakers", PATIENCE, || {
        use std::future::Future;
        use std::pin::Pin;
        use std::task::Context;

        let lock = Arc::new(AsyncRwLock::<u32>::new(0));
        let cv = Arc::new(AsyncRwCondvar::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let poll = |f: &mut (dyn Future<Output = ()> + Unpin)| {
            let w = ReentrantWaker::waker(&lock, &cv, &calls);
            Pin::new(f).poll(&mut Context::from_waker(&w)).is_ready()
        };

        // Grant (wake) and re-poll with a new waker (replace + drop).
        let h = lock.try_write().unwrap();
        let mut f = Box::pin(async { drop(lock.write().await) });
        assert!(!poll(&mut f));
        assert!(!poll(&mut f)); // replaces the waker: the old one is dropped
        drop(h); // grants: wakes the latest waker
        assert!(poll(&mut f));

        // Cancellation of a queued waiter drops its waker.
        let h = lock.try_write().unwrap();
        let mut f = Box::pin(async { drop(lock.read().await) });
        assert!(!poll(&mut f));
        drop(f);
        drop(h);

        // Cancellation of a granted waiter (release inside the drop).
        let h = lock.try_write().unwrap();
        let mut f = Box::pin(async { drop(lock.write().await) });
        assert!(!poll(&mut f));
        drop(h);
        drop(f);
        assert_eq!(asnap(&lock), IDLE);

        // Condvar: register, notify (wake), re-queue on the lock, cancel.
        let g = lock.try_write().unwrap();
        let mut a = Box::pin(async { drop(cv.wait(g).await) });
        assert!(!poll(&mut a));
        let g = lock.try_read().unwrap();
        let mut b = Box::pin(async { drop(cv.wait(g).await) });
        assert!(!poll(&mut b));
        assert!(!poll(&mut b)); // replaced while registered on the condvar
        let h = lock.try_write().unwrap();
        assert_eq!(cv.notify_all(), 2);
        assert!(!poll(&mut a)); // queued on the lock behind `h`
        drop(a); // cancels the re-acquire, passes a notification on
        drop(h);
        assert!(poll(&mut b));
        drop(b); // a wait dropped while registered:
        let g = lock.try_read().unwrap();
        let mut c = Box::pin(async { drop(cv.wait(g).await) });
        assert!(!poll(&mut c));
        drop(c);

        assert_eq!(asnap(&lock), IDLE);
        assert_eq!(cv.notify_all(), 0);
        assert!(calls.load(SeqCst) >= 10, "the re-entrant wakers were hardly used");
    });
}

// ---------------------------------------------------------------------------
// Counts, recursion, lost wakeups
// ---------------------------------------------------------------------------

/// zesterer/spin-rs#123 (fixed in #124): `forget(lock.read())` in a loop
/// wrapped the reader count, and a writer then got `&mut` next to live
/// `&`. docs/SEMANTICS.md §2: the count panics with a clear message, never wraps.
///
/// The real limit (about 2^30 readers) takes ~10 s to reach, so this test
/// checks exact counting far past 16-bit widths, and the overflow panic
/// itself is proven by the engine's unit test
/// (`reader_overflow_panics_and_leaves_lock_usable`, where the limit is 1000
/// under `cfg(test)`) and by the loom build (limit 3). The full-width run
/// is `spin_rs_123_reader_overflow_full_width`, ignored by default.
#[test]
fn spin_rs_123_reader_overflow() {
    fn check<P: Policy>() {
        const N: u32 = 70_000; // past u16::MAX
        let lock = RwLock::<u32, P>::new(7);
        for _ in 0..N {
            std::mem::forget(lock.try_read().expect("read while only readers hold"));
        }
        assert_eq!(snap(&lock).readers, N, "{:?}: the reader count is not exact", P::KIND);
        assert!(lock.try_write().is_none(), "{:?}: a writer got in next to forgotten readers", P::KIND);
        assert!(lock.try_write_for(Duration::from_micros(100)).is_none());
        assert_eq!(*lock.read(), 7);
        for _ in 0..N {
            // SAFETY: each of the N read locks forgotten above is released once.
            unsafe { lock.raw().unlock_shared() };
        }
        assert_eq!(snap(&lock), IDLE);
        assert!(lock.try_write().is_some());
    }
    for_policies!([ReaderPreferring, WriterPreferring, PhaseFair], check);
}

/// The real width: forget read guards until the count overflows (about
/// 2^30); it must panic with a clear message, not wrap, and the lock must
/// keep working. ~12 s in release; run with `--ignored`.
#[test]
#[ignore = "slow (about 2^30 acquisitions, ~12 s in release): run with --ignored"]
fn spin_rs_123_reader_overflow_full_width() {
    let lock = RwLock::<u32>::new(0);
    let mut n: u64 = 0;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loop {
        assert!(lock.raw().try_lock_shared());
        n += 1;
    }));
    let msg = match r.unwrap_err().downcast::<String>() {
        Ok(m) => *m,
        Err(p) => p.downcast::<&str>().map(|s| s.to_string()).unwrap_or_default(),
    };
    assert!(msg.contains("reader count overflow"), "unclear overflow message: {msg}");
    assert!(n >= 1 << 29, "overflowed after only {n} readers");
    assert_eq!(u64::from(snap(&lock).readers), n, "the count changed when it overflowed");
    assert!(lock.try_write().is_none());
    for _ in 0..n {
        // SAFETY: each of the `n` read locks taken above is released once.
        unsafe { lock.raw().unlock_shared() };
    }
    assert!(lock.try_write().is_some());
}

/// parking_lot#212 (also #169, tokio PR #3389): a thread that holds a read
/// lock and reads again deadlocks behind a waiting writer under writer
/// preference. rwlocker documents it (docs/SEMANTICS.md §3): `PhaseFair` and
/// `WriterPreferring` keep the second read out while the writer waits (a
/// blocking read would deadlock; `try_read` says no), `ReaderPreferring`
/// lets it in. The writer gets in once the first read is dropped.
#[test]
fn parking_lot_212_recursive_read_behind_queued_writer() {
    fn check<P: Policy>()
    where
        RwLock<u32, P>: Sync,
    {
        let lock = RwLock::<u32, P>::new(0);
        let r1 = lock.read();
        thread::scope(|s| {
            let w = s.spawn(|| *lock.write() += 1);
            spin_until("writer queued", || snap(&lock).queued_writers == 1);
            let again = lock.try_read();
            let expect = P::KIND == PolicyKind::ReaderPreferring;
            assert_eq!(again.is_some(), expect, "{:?}: recursive read behind a waiting writer", P::KIND);
            drop(again);
            drop(r1);
            w.join().unwrap();
        });
        assert_eq!(*lock.read(), 1);
    }
    for_policies!([ReaderPreferring, WriterPreferring, PhaseFair], check);
}

/// Folly SharedMutex "potential lost wakeup with exactly 3 or 4 contending
/// writers" (2015), parking_lot#29 (lockup with fair unlocks, found on a
/// 2-core machine), glibc `tst-rwlock-pwn`: exactly 3 and 4 writers (and a
/// reader) hammer the lock; a lost wakeup stalls them and the watchdog
/// fails the test with the lock's state.
#[test]
fn folly_3_4_writers_lost_wakeup() {
    fn check<P: Policy>()
    where
        RwLock<u64, P>: Sync,
    {
        for writers in [3u64, 4] {
            let lock = Arc::new(RwLock::<u64, P>::new(0));
            let progress = Arc::new(AtomicU64::new(0));
            let wd = {
                let lock = lock.clone();
                Watchdog::start("folly writers", progress.clone(), move || format!("{:?}", lock.raw()))
            };
            let deadline = Instant::now() + Duration::from_millis(250);
            let mut workers: Vec<_> = (0..writers)
                .map(|_| {
                    let (lock, progress) = (lock.clone(), progress.clone());
                    thread::spawn(move || {
                        let mut n = 0;
                        while Instant::now() < deadline {
                            *lock.write() += 1;
                            n += 1;
                            progress.fetch_add(1, SeqCst);
                        }
                        n
                    })
                })
                .collect();
            workers.push({
                let (lock, progress) = (lock.clone(), progress.clone());
                thread::spawn(move || {
                    while Instant::now() < deadline {
                        drop(lock.read());
                        progress.fetch_add(1, SeqCst);
                    }
                    0
                })
            });
            let total: u64 = wd.join(workers).into_iter().sum();
            assert_eq!(*lock.read(), total, "{:?} with {writers} writers: lost updates", P::KIND);
            assert_eq!(snap(&lock), IDLE);
        }
    }
    for_policies!([ReaderPreferring, WriterPreferring, PhaseFair, Exclusive], check);
}

// ---------------------------------------------------------------------------
// Thread-local destructors
// ---------------------------------------------------------------------------

/// parking_lot `tests/issue_203.rs`: a lock used inside a thread-local
/// destructor broke because the lock's own per-thread parking data was
/// already gone. Here a thread-local's destructor takes a contended write
/// lock (the slow path, which parks the thread), after which the lock must
/// still work normally.
#[test]
fn parking_lot_203_lock_in_tls_destructor() {
    struct OnExit(Arc<RwLock<u32>>);
    impl Drop for OnExit {
        fn drop(&mut self) {
            *self.0.write() += 1;
        }
    }
    thread_local! {
        static ON_EXIT: std::cell::RefCell<Option<OnExit>> = const { std::cell::RefCell::new(None) };
    }
    within("lock in a TLS destructor", PATIENCE, || {
        let lock = Arc::new(RwLock::<u32>::new(0));
        let held = lock.read();
        let t = {
            let lock = lock.clone();
            thread::spawn(move || ON_EXIT.with(|e| *e.borrow_mut() = Some(OnExit(lock))))
        };
        // The destructor runs as the thread exits and must queue (we hold a read).
        spin_until("the TLS destructor queues", || snap(&lock).queued_writers == 1);
        drop(held);
        t.join().unwrap();
        assert_eq!(*lock.read(), 1);
        assert_eq!(snap(&lock), IDLE);
    });
}

//! One lock shared by OS threads (`read_blocking` / `write_blocking`) and
//! async tasks (`.await` on a multi-thread tokio runtime), per policy.
//!
//! Every critical section checks exclusion (no reader inside while a writer
//! is, one writer at a time, one party at a time under `Exclusive`); the
//! final count is exact and the lock ends free.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use rwlocker::engine::StateSnapshot;
use rwlocker::{AsyncRwLock, Policy, PolicyKind};

// Exact-order tests: they run against the strict hand-off mode
// (`Strict<P>`, docs/SEMANTICS.md §2a), whose order is the policy table.
type PhaseFair = rwlocker::Strict<rwlocker::PhaseFair>;
type ReaderPreferring = rwlocker::Strict<rwlocker::ReaderPreferring>;
type WriterPreferring = rwlocker::Strict<rwlocker::WriterPreferring>;
type Exclusive = rwlocker::Strict<rwlocker::Exclusive>;

const THREADS: usize = 2;
const TASKS: usize = 4;
const OPS: usize = 3000;

/// Who is inside the critical section right now.
#[derive(Default)]
struct Inside {
    readers: AtomicUsize,
    writers: AtomicUsize,
}

struct Shared<P: Policy> {
    lock: AsyncRwLock<u64, P>,
    inside: Inside,
}

impl<P: Policy> Shared<P> {
    fn enter_write(&self) {
        assert_eq!(self.inside.writers.fetch_add(1, SeqCst), 0, "two writers inside");
        assert_eq!(self.inside.readers.load(SeqCst), 0, "a reader inside with a writer");
    }
    fn leave_write(&self) {
        self.inside.writers.fetch_sub(1, SeqCst);
    }
    fn enter_read(&self) {
        let before = self.inside.readers.fetch_add(1, SeqCst);
        assert_eq!(self.inside.writers.load(SeqCst), 0, "a writer inside with a reader");
        if P::KIND == PolicyKind::Exclusive {
            assert_eq!(before, 0, "Exclusive: two readers inside");
        }
    }
    fn leave_read(&self) {
        self.inside.readers.fetch_sub(1, SeqCst);
    }
}

/// A cheap deterministic sequence (xorshift) to mix reads and writes.
fn next(x: &mut u32) -> u32 {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    *x
}

/// Writes are one op in three; returns how many writes `seed` gives.
fn plan(seed: u32) -> Vec<bool> {
    let mut x = seed | 1;
    (0..OPS).map(|_| next(&mut x) % 3 == 0).collect()
}

fn mixed<P: Policy>()
where
    P::Shared<u64>: Sync,
{
    let shared = Arc::new(Shared::<P> { lock: AsyncRwLock::new(0), inside: Inside::default() });
    let expected: usize = (0..THREADS + TASKS).map(|i| plan(i as u32 + 1).iter().filter(|&&w| w).count()).sum();

    let (done_tx, done_rx) = mpsc::channel();
    let s = shared.clone();
    let worker = thread::spawn(move || {
        let threads: Vec<_> = (0..THREADS)
            .map(|i| {
                let s = s.clone();
                thread::spawn(move || {
                    for (n, write) in plan(i as u32 + 1).into_iter().enumerate() {
                        if write {
                            let mut g = s.lock.write_blocking();
                            s.enter_write();
                            *g += 1;
                            if n % 16 == 0 {
                                thread::yield_now();
                            }
                            s.leave_write();
                        } else {
                            let g = s.lock.read_blocking();
                            s.enter_read();
                            assert!(*g <= expected as u64);
                            s.leave_read();
                        }
                    }
                })
            })
            .collect();

        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
        rt.block_on(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|i| {
                    let s = s.clone();
                    tokio::spawn(async move {
                        for (n, write) in plan((THREADS + i) as u32 + 1).into_iter().enumerate() {
                            if write {
                                let mut g = s.lock.write().await;
                                s.enter_write();
                                *g += 1;
                                // Sometimes stay inside across an await.
                                if n % 8 == 0 {
                                    tokio::task::yield_now().await;
                                }
                                s.leave_write();
                                drop(g);
                            } else {
                                let g = s.lock.read().await;
                                s.enter_read();
                                if n % 8 == 1 {
                                    tokio::task::yield_now().await;
                                }
                                assert!(*g <= expected as u64);
                                s.leave_read();
                            }
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        for t in threads {
            t.join().unwrap();
        }
        let _ = done_tx.send(());
    });

    // A watchdog against a stall (a lost wake-up), not a timing check.
    match done_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(e) = worker.join() {
                std::panic::resume_unwind(e)
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("stalled: {:?}", shared.lock.raw().state_snapshot())
        }
    }

    assert_eq!(*shared.lock.read_blocking(), expected as u64);
    assert_eq!(
        shared.lock.raw().state_snapshot(),
        StateSnapshot { readers: 0, writer: false, queued_readers: 0, queued_writers: 0 }
    );
    assert!(!shared.lock.is_locked());
    drop(shared.lock.try_write().expect("the lock must end free"));
}

#[test]
fn reader_preferring() {
    mixed::<crate::ReaderPreferring>();
}

#[test]
fn writer_preferring() {
    mixed::<crate::WriterPreferring>();
}

#[test]
fn phase_fair() {
    mixed::<crate::PhaseFair>();
}

#[test]
fn exclusive() {
    mixed::<crate::Exclusive>();
}

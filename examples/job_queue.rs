//! A job queue whose producer wakes exactly as many workers as it added
//! jobs, with `RwCondvar::notify(n)`; the workers exit cleanly when the
//! queue is closed and drained.
//!
//! * Workers pop under the **write** lock (popping mutates; the Python
//!   example popped under a shared read lock and had to admit a race).
//! * `notify(n)` wakes exactly `min(n, waiting)` waiters, oldest first, and
//!   says how many. Notified workers are moved onto the lock's queue in that
//!   order and handed the write lock one at a time, so each one woken for a
//!   job finds a job: no thundering herd, no futile wakeup. The example
//!   counts wakeups and checks that.
//! * A second condvar on the same lock lets the producer wait until every
//!   worker is idle before each batch, which makes the printout
//!   deterministic ("notify(3) woke 3 of 4 idle workers").
//! * Closing: `closed = true` and `notify_all`; every worker drains and
//!   returns (the Python example had more consume calls than jobs and never
//!   exited).
//! * The lock is `Strict<PhaseFair>`: the exact hand-off order is what makes
//!   "each woken worker finds a job" and "all idle" hold. With the default
//!   mode (bounded barging) a worker coming back from a job, or the
//!   producer, may take the free lock ahead of a notified worker, as with
//!   std's `Mutex` and `Condvar`: still correct, but a notified worker can
//!   then find its job already taken.
//!
//! Run with `cargo run --release --example job_queue`.

use std::collections::VecDeque;
use std::thread;

use rwlocker::{PhaseFair, RwCondvar, RwLock, Strict};

const WORKERS: usize = 4;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<u64>,
    closed: bool,
    /// Workers waiting on `work_ready`.
    idle: usize,
    /// Wakeups of workers while the queue was open (each should find a job).
    wakeups: usize,
    /// Wakeups that found no job.
    futile: usize,
}

struct Shared {
    queue: RwLock<Queue, Strict<PhaseFair>>,
    work_ready: RwCondvar,
    all_idle: RwCondvar,
}

/// A worker: returns the sum of the jobs it processed and how many.
fn worker(shared: &Shared) -> (u64, usize) {
    let (mut sum, mut done) = (0, 0);
    let mut q = shared.queue.write();
    loop {
        if let Some(job) = q.jobs.pop_front() {
            drop(q);
            sum += job * job; // the "processing", outside the lock
            done += 1;
            q = shared.queue.write();
            continue;
        }
        if q.closed {
            return (sum, done);
        }
        q.idle += 1;
        if q.idle == WORKERS {
            shared.all_idle.notify_all();
        }
        shared.work_ready.wait(&mut q); // releases the write lock while asleep
        q.idle -= 1;
        if !q.closed {
            q.wakeups += 1;
            if q.jobs.is_empty() {
                q.futile += 1;
            }
        }
    }
}

fn main() {
    let shared =
        Shared { queue: RwLock::new(Queue::default()), work_ready: RwCondvar::new(), all_idle: RwCondvar::new() };
    let batches: [usize; 6] = [3, 1, 4, 2, 4, 1];
    let mut next_job = 1u64;
    let mut expected_sum = 0u64;

    let results = thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS).map(|_| s.spawn(|| worker(&shared))).collect();

        for &n in &batches {
            let mut q = shared.queue.write();
            shared.all_idle.wait_while(&mut q, |q| q.idle < WORKERS);
            for _ in 0..n {
                q.jobs.push_back(next_job);
                expected_sum += next_job * next_job;
                next_job += 1;
            }
            let woken = shared.work_ready.notify(n);
            println!("added {n} job(s): notify({n}) woke {woken} of {WORKERS} idle workers");
            assert_eq!(woken, n, "notify(n) wakes exactly n when at least n wait");
        }

        // Close: wait for the last batch to be taken, then release everyone.
        let mut q = shared.queue.write();
        shared.all_idle.wait_while(&mut q, |q| q.idle < WORKERS);
        assert!(q.jobs.is_empty());
        q.closed = true;
        let woken = shared.work_ready.notify_all();
        println!("closed the queue: notify_all woke {woken} workers to exit");
        assert_eq!(woken, WORKERS);
        drop(q);

        handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
    });

    let jobs: usize = batches.iter().sum();
    let processed: usize = results.iter().map(|r| r.1).sum();
    let sum: u64 = results.iter().map(|r| r.0).sum();
    let q = shared.queue.into_inner();
    println!(
        "workers processed {:?} jobs each; {} wakeups, {} futile",
        results.iter().map(|r| r.1).collect::<Vec<_>>(),
        q.wakeups,
        q.futile
    );
    assert_eq!(processed, jobs, "every job processed once");
    assert_eq!(sum, expected_sum);
    assert_eq!(q.wakeups, jobs, "one wakeup per job");
    assert_eq!(q.futile, 0, "no worker was woken for nothing");
    println!("OK: {jobs} jobs, {} wakeups, 0 futile; all {WORKERS} workers exited", q.wakeups);
}

//! Helpers shared by the verification tests: a counting waker for
//! deterministic polling, and a watchdog that fails a stress test when its
//! progress counter stalls.
//!
//! Each test file includes this module with `mod common;` and uses only part
//! of it.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Counting waker
// ---------------------------------------------------------------------------

/// A waker that counts how often it was woken.
#[derive(Default)]
pub struct WakeCounter {
    count: AtomicUsize,
}

impl WakeCounter {
    /// A new counter, shared.
    pub fn new() -> Arc<Self> {
        Arc::new(WakeCounter::default())
    }

    /// How many times a waker of this counter was woken.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// A waker that increments this counter.
    pub fn waker(self: &Arc<Self>) -> Waker {
        Waker::from(self.clone())
    }
}

impl Wake for WakeCounter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future polled by hand with its own counting waker, so that a test can
/// ask "was it woken since its last poll?".
pub struct Polled<F> {
    pub fut: F,
    pub wakes: Arc<WakeCounter>,
    seen: usize,
}

impl<F: Future + Unpin> Polled<F> {
    /// Wraps `fut` (not polled yet).
    pub fn new(fut: F) -> Self {
        Polled { fut, wakes: WakeCounter::new(), seen: 0 }
    }

    /// Polls once with this future's counting waker.
    pub fn poll(&mut self) -> Poll<F::Output> {
        let waker = self.wakes.waker();
        let mut cx = Context::from_waker(&waker);
        let r = Pin::new(&mut self.fut).poll(&mut cx);
        self.seen = self.wakes.count();
        r
    }

    /// Whether the waker was called since the last poll.
    pub fn is_woken(&self) -> bool {
        self.wakes.count() > self.seen
    }
}

// ---------------------------------------------------------------------------
// Watchdog
// ---------------------------------------------------------------------------

/// How long a progress counter may stand still before the watchdog fails the
/// test. Override with `RWLOCKER_WATCHDOG_SECS` on a very slow machine.
pub fn stall_limit() -> Duration {
    std::env::var("RWLOCKER_WATCHDOG_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(2))
}

/// A thread that watches a progress counter. When the counter stands still
/// for [`stall_limit`] while the watched work is still running, it prints
/// the lock state (from `dump`) and records the stall; the test thread sees
/// it in [`Watchdog::join`] and fails with that state. If the test thread
/// itself is stuck and does not pick the stall up within 20 s, the watchdog
/// aborts the process, so a hang can never pass silently.
pub struct Watchdog {
    stop: Arc<AtomicBool>,
    stalled: Arc<Mutex<Option<String>>>,
    acknowledged: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching `progress`; `dump` describes the lock's state.
    pub fn start(name: &str, progress: Arc<AtomicU64>, dump: impl Fn() -> String + Send + Sync + 'static) -> Watchdog {
        Watchdog::with_limit(name, progress, stall_limit(), dump)
    }

    /// [`start`](Self::start) with an explicit stall limit.
    pub fn with_limit(
        name: &str,
        progress: Arc<AtomicU64>,
        limit: Duration,
        dump: impl Fn() -> String + Send + Sync + 'static,
    ) -> Watchdog {
        let dump: Arc<dyn Fn() -> String + Send + Sync> = Arc::new(dump);
        let stop = Arc::new(AtomicBool::new(false));
        let stalled = Arc::new(Mutex::new(None::<String>));
        let acknowledged = Arc::new(AtomicBool::new(false));
        let handle = {
            let (stop, stalled, acknowledged) = (stop.clone(), stalled.clone(), acknowledged.clone());
            let name = name.to_owned();
            thread::Builder::new()
                .name(format!("watchdog-{name}"))
                .spawn(move || {
                    let tick = Duration::from_millis(20);
                    let mut last = progress.load(Ordering::SeqCst);
                    let mut since = Instant::now();
                    while !stop.load(Ordering::SeqCst) {
                        thread::park_timeout(tick);
                        let now = progress.load(Ordering::SeqCst);
                        if now != last {
                            last = now;
                            since = Instant::now();
                            continue;
                        }
                        if since.elapsed() < limit {
                            continue;
                        }
                        let msg = format!(
                            "watchdog `{name}`: no progress for {:?} (counter stuck at {now}); lock state: {}",
                            since.elapsed(),
                            safe_dump(&dump)
                        );
                        eprintln!("{msg}");
                        *stalled.lock().unwrap_or_else(|e| e.into_inner()) = Some(msg);
                        // Give the test thread time to fail cleanly; abort if
                        // it is stuck too.
                        let deadline = Instant::now() + Duration::from_secs(20);
                        while !acknowledged.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst) {
                            if Instant::now() > deadline {
                                eprintln!("watchdog `{name}`: test thread stuck as well; aborting");
                                std::process::abort();
                            }
                            thread::park_timeout(tick);
                        }
                        return;
                    }
                })
                .expect("spawn watchdog")
        };
        Watchdog { stop, stalled, acknowledged, handle: Some(handle) }
    }

    /// The stall report, if the watchdog fired.
    pub fn stall(&self) -> Option<String> {
        self.stalled.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits for `workers` to finish while watching for a stall; panics with
    /// the watchdog's report (the lock state) if the counter stalls, and
    /// re-raises a worker's panic. Stuck workers are left behind (detached)
    /// so that the failure is reported instead of hanging the test.
    pub fn join<T>(mut self, workers: Vec<JoinHandle<T>>) -> Vec<T> {
        loop {
            if let Some(report) = self.stall() {
                self.acknowledged.store(true, Ordering::SeqCst);
                panic!("{report}");
            }
            if workers.iter().all(|h| h.is_finished()) {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        self.stop_thread();
        workers
            .into_iter()
            .map(|h| match h.join() {
                Ok(v) => v,
                Err(e) => std::panic::resume_unwind(e),
            })
            .collect()
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.acknowledged.store(true, Ordering::SeqCst);
        self.stop_thread();
    }
}

/// Calls `dump` on a helper thread: describing the lock takes its queue
/// lock, which a deadlocked lock may never release.
fn safe_dump(dump: &Arc<dyn Fn() -> String + Send + Sync>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let dump = dump.clone();
    thread::spawn(move || {
        let _ = tx.send(dump());
    });
    rx.recv_timeout(Duration::from_secs(2))
        .unwrap_or_else(|_| "<unavailable: describing the lock blocked (its internal queue lock is held)>".into())
}

/// Runs `f` on a helper thread and fails (instead of hanging) if it does not
/// finish within `limit`: for tests whose failure mode is a deadlock.
pub fn within<T: Send + 'static>(what: &str, limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = thread::spawn(move || {
        let r = f();
        let _ = tx.send(());
        r
    });
    match rx.recv_timeout(limit) {
        Ok(()) => handle.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e),
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: did not finish within {limit:?} (deadlock?)")
        }
    }
}

/// A small, fast, seedable random generator (xorshift64*), so that stress
/// threads need no extra dependency and each thread's choices are cheap.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

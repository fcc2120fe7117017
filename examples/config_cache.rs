//! A config cache whose async readers `wait_while` a refresh is in progress
//! (`AsyncRwCondvar` with read guards).
//!
//! The refresher marks the config as refreshing under a short write lock,
//! fetches the new config **without** holding the lock, then publishes it
//! and notifies. Readers that find `refreshing == true` wait on the condvar
//! holding a *read* guard, and wake holding a read guard again.
//!
//! (The Python library's example held the write lock for the whole
//! refresh, so no reader could ever observe `refreshing == true` and the
//! condition was decorative. Here every reader started during the refresh
//! really waits, and the example counts them.)
//!
//! Also shown: a reader with a deadline (`tokio::time::timeout`) gives up
//! while waiting; the notification still reaches every other reader.
//!
//! Run with `cargo run --release --example config_cache`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rwlocker::{AsyncRwCondvar, AsyncRwLock, ReaderPreferring};

#[derive(Debug)]
struct Config {
    version: u32,
    endpoint: String,
    refreshing: bool,
}

struct ConfigCache {
    config: AsyncRwLock<Config, ReaderPreferring>,
    refreshed: AsyncRwCondvar,
    /// Readers whose condition found a refresh in progress (counted under
    /// the read lock, just before they register as waiters).
    waited: AtomicUsize,
}

impl ConfigCache {
    /// The current endpoint and version, waiting out a refresh in progress.
    async fn endpoint(&self) -> (u32, String) {
        let guard = self.config.read().await;
        let mut counted = false;
        let guard = self
            .refreshed
            .wait_while(guard, |c| {
                if c.refreshing && !counted {
                    counted = true;
                    self.waited.fetch_add(1, Ordering::Relaxed);
                }
                c.refreshing
            })
            .await;
        // A read guard again: the new config is readable alongside other readers.
        (guard.version, guard.endpoint.clone())
    }

    /// Starts a refresh: readers from now on wait.
    async fn begin_refresh(&self) {
        self.config.write().await.refreshing = true;
    }

    /// Publishes the new config and wakes every waiting reader.
    async fn finish_refresh(&self, endpoint: &str) -> usize {
        let mut c = self.config.write().await;
        c.version += 1;
        c.endpoint = endpoint.to_owned();
        c.refreshing = false;
        drop(c);
        self.refreshed.notify_all()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    const READERS: usize = 20;
    let cache = Arc::new(ConfigCache {
        config: AsyncRwLock::new(Config { version: 1, endpoint: "https://v1.example".into(), refreshing: false }),
        refreshed: AsyncRwCondvar::new(),
        waited: AtomicUsize::new(0),
    });

    // Before the refresh: no waiting.
    assert_eq!(cache.endpoint().await, (1, "https://v1.example".to_owned()));
    assert_eq!(cache.waited.load(Ordering::Relaxed), 0);

    cache.begin_refresh().await;
    println!("refresh started");

    // An impatient reader: gives up after 20 ms (nothing can clear
    // `refreshing` before this returns). Dropping its wait deregisters it.
    let impatient = tokio::time::timeout(Duration::from_millis(20), cache.endpoint()).await;
    assert!(impatient.is_err());
    println!("an impatient reader gave up after 20 ms; its dropped wait left no trace");

    println!("{READERS} readers arrive while the new config is being fetched");
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.endpoint().await })
        })
        .collect();

    // The "fetch" runs with no lock held, so readers can look, see the
    // refresh, and wait. For a deterministic printout, finish only once all of
    // them are waiting (a state check, not a guess at timing).
    while cache.waited.load(Ordering::Relaxed) < READERS + 1 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let woken = cache.finish_refresh("https://v2.example").await;
    println!("refresh finished: notify_all woke {woken} waiting readers");
    // Each counted reader registered before releasing its read lock, and the
    // refresher needed the write lock: so all of them were registered.
    assert_eq!(woken, READERS);

    for r in readers {
        assert_eq!(r.await.unwrap(), (2, "https://v2.example".to_owned()));
    }
    assert!(!cache.config.is_locked());
    println!("all {READERS} readers waited out the refresh and got version 2");
    println!("OK: {woken} readers waited while refreshing and all saw the new config");
}

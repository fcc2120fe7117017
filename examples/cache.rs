//! An in-memory cache read by many threads: `RwLock<_, ReaderPreferring>`.
//!
//! Reads vastly outnumber writes and a write (a cache fill) can wait, so the
//! reader-preferring policy fits: a reader is admitted whenever no writer
//! *holds* the lock, even while a writer waits. The price is stated plainly
//! in the docs and shown below: a writer can be kept out for as long as
//! readers overlap. Under `PhaseFair` (the default) that late reader would
//! have queued behind the writer instead.
//!
//! Run with `cargo run --release --example cache`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use rwlocker::{ReaderPreferring, RwLock};

/// The cache: keys to values, behind a reader-preferring lock.
struct Cache {
    map: RwLock<HashMap<String, u64>, ReaderPreferring>,
    hits: AtomicUsize,
    misses: AtomicUsize,
}

impl Cache {
    fn new() -> Self {
        Cache { map: RwLock::new(HashMap::new()), hits: AtomicUsize::new(0), misses: AtomicUsize::new(0) }
    }

    /// A lookup under the read lock: any number of threads at once.
    fn get(&self, key: &str) -> Option<u64> {
        let value = self.map.read().get(key).copied();
        let counter = if value.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        value
    }

    /// A fill under the write lock.
    fn set(&self, key: &str, value: u64) {
        self.map.write().insert(key.to_owned(), value);
    }
}

/// Waits (without sleeping blindly) until `n` writers are queued on the lock.
fn wait_for_queued_writers<T>(lock: &RwLock<T, ReaderPreferring>, n: usize) {
    while lock.raw().state_snapshot().queued_writers < n {
        thread::yield_now();
    }
}

fn main() {
    const READERS: usize = 8;
    const GETS_PER_READER: usize = 20_000;
    const KEYS: u64 = 64;

    let cache = Cache::new();
    for k in 0..KEYS / 2 {
        cache.set(&format!("user:{k}"), k * 10);
    }

    // 1. The policy in one picture: a writer waits, a new reader still gets in.
    {
        let held = cache.map.read();
        thread::scope(|s| {
            let writer = s.spawn(|| cache.set("user:late", 1));
            wait_for_queued_writers(&cache.map, 1);
            let snapshot = cache.map.raw().state_snapshot();
            println!(
                "a writer is queued ({} waiting) while {} reader holds the lock",
                snapshot.queued_writers, snapshot.readers
            );
            let late_reader = cache.map.try_read();
            assert!(late_reader.is_some(), "ReaderPreferring admits readers past a waiting writer");
            println!("a late reader was admitted past the waiting writer (ReaderPreferring)");
            drop(late_reader);
            drop(held);
            writer.join().unwrap();
        });
        assert_eq!(cache.get("user:late"), Some(1));
        println!("once the readers left, the writer got in");
    }

    // 2. The workload: many readers, one writer filling the misses.
    let filled = AtomicUsize::new(0);
    thread::scope(|s| {
        for r in 0..READERS {
            let cache = &cache;
            s.spawn(move || {
                for i in 0..GETS_PER_READER {
                    let key = format!("user:{}", (i as u64 * 7 + r as u64) % KEYS);
                    if let Some(v) = cache.get(&key) {
                        // Values are always written as key * 10: never torn, never stale garbage.
                        let k: u64 = key["user:".len()..].parse().unwrap();
                        assert_eq!(v, k * 10, "inconsistent cache entry");
                    }
                }
            });
        }
        s.spawn(|| {
            for k in KEYS / 2..KEYS {
                cache.set(&format!("user:{k}"), k * 10);
                filled.fetch_add(1, Ordering::Relaxed);
            }
        });
    });

    let hits = cache.hits.load(Ordering::Relaxed);
    let misses = cache.misses.load(Ordering::Relaxed);
    let total_gets = READERS * GETS_PER_READER;
    println!(
        "{READERS} reader threads: {total_gets} gets ({hits} hits, {misses} misses); writer filled {} keys",
        filled.load(Ordering::Relaxed)
    );
    // `+ 1`: the lookup of "user:late" in part 1.
    assert_eq!(hits + misses, total_gets + 1);
    assert_eq!(cache.map.read().len() as u64, KEYS + 1);
    assert!(!cache.map.is_locked());
    println!("OK: cache served {total_gets} concurrent reads and {} writes", KEYS + 1);
}

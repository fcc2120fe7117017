//! A token refresh with double-checked locking on
//! `AsyncRwLock<_, WriterPreferring>`: many tasks need a token, exactly one
//! of them refreshes it.
//!
//! * Fast path: a read lock; if the token is valid, use it.
//! * Slow path: drop the read lock, take the write lock, and **check again**:
//!   another task may have refreshed while this one waited.
//! * `WriterPreferring`: once a task wants to refresh, new readers wait for
//!   it instead of reading the stale token.
//! * Invalidation happens under the write lock (the Python example flipped
//!   its flag without any lock).
//! * A caller with a deadline uses `tokio::time::timeout`; a timed-out
//!   acquire leaves no trace in the lock.
//!
//! Run with `cargo run --release --example token_refresh`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rwlocker::{AsyncRwLock, WriterPreferring};

#[derive(Debug, Default)]
struct TokenState {
    token: Option<String>,
    generation: u32,
}

struct Auth {
    state: AsyncRwLock<TokenState, WriterPreferring>,
    refreshes: AtomicUsize,
}

impl Auth {
    async fn token(&self) -> String {
        // Fast path: shared.
        if let Some(t) = &self.state.read().await.token {
            return t.clone();
        }
        // Slow path: exclusive, double-checked.
        let mut state = self.state.write().await;
        if let Some(t) = &state.token {
            return t.clone(); // someone else refreshed while we waited
        }
        // The "HTTP call". Holding the write lock across it is deliberate: the
        // other tasks must wait for this token rather than fetch their own.
        tokio::time::sleep(Duration::from_millis(30)).await;
        state.generation += 1;
        let token = format!("token-{}", state.generation);
        state.token = Some(token.clone());
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        token
    }

    async fn invalidate(&self) {
        self.state.write().await.token = None;
    }
}

async fn round(auth: &Arc<Auth>, tasks: usize) -> Vec<String> {
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let auth = auth.clone();
            // The lock's futures and guards are Send: they run under tokio::spawn.
            tokio::spawn(async move { auth.token().await })
        })
        .collect();
    let mut tokens = Vec::with_capacity(tasks);
    for h in handles {
        tokens.push(h.await.unwrap());
    }
    tokens
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    const TASKS: usize = 50;
    let auth = Arc::new(Auth { state: AsyncRwLock::new(TokenState::default()), refreshes: AtomicUsize::new(0) });

    let tokens = round(&auth, TASKS).await;
    assert!(tokens.iter().all(|t| t == "token-1"));
    assert_eq!(auth.refreshes.load(Ordering::Relaxed), 1);
    println!("{TASKS} tasks asked for a token: 1 refresh, all got token-1");

    auth.invalidate().await;
    let tokens = round(&auth, TASKS).await;
    assert!(tokens.iter().all(|t| t == "token-2"));
    assert_eq!(auth.refreshes.load(Ordering::Relaxed), 2);
    println!("after invalidation, {TASKS} more tasks: 1 more refresh, all got token-2");

    // A caller with a deadline, while a refresh holds the write lock.
    let refresh_in_progress = auth.state.write().await;
    let impatient = tokio::time::timeout(Duration::from_millis(20), auth.state.read()).await;
    assert!(impatient.is_err(), "the write lock is held: the read must time out");
    assert_eq!(auth.state.raw().state_snapshot().queued_readers, 0, "the timed-out reader left the queue");
    drop(refresh_in_progress);
    assert_eq!(auth.token().await, "token-2");
    println!("a reader with a 20 ms deadline gave up during a refresh and left no trace");

    println!("OK: {} refreshes for {} token requests", auth.refreshes.load(Ordering::Relaxed), 2 * TASKS + 1);
}

//! The async front on real executors: tokio current-thread, tokio
//! multi-thread (2 workers), `futures::executor::LocalPool`, and
//! `futures::executor::block_on` on one OS thread per task.
//!
//! A representative scenario of each docs/SEMANTICS.md §2 / §4 rule, per policy and per
//! executor. Tasks are spawned one at a time and the test waits (yielding)
//! until the lock's queue shows each one before going on, so arrival order
//! is exact; no sleep is used for synchronisation.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use futures::executor::{LocalPool, LocalSpawner};
use futures::task::LocalSpawnExt;
use futures::{pin_mut, select_biased, FutureExt};
use rwlocker::engine::StateSnapshot;
use rwlocker::{AsyncRwLock, OwnedAsyncRwLockWriteGuard, Policy, PolicyKind};

use PolicyKind::{Exclusive as EX, PhaseFair as PF, ReaderPreferring as RP, WriterPreferring as WP};

// Exact-order tests: they run against the strict hand-off mode
// (`Strict<P>`, docs/SEMANTICS.md §2a), whose order is the policy table.
type PhaseFair = rwlocker::Strict<rwlocker::PhaseFair>;
type ReaderPreferring = rwlocker::Strict<rwlocker::ReaderPreferring>;
type WriterPreferring = rwlocker::Strict<rwlocker::WriterPreferring>;
type Exclusive = rwlocker::Strict<rwlocker::Exclusive>;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
type Lock<P> = Arc<AsyncRwLock<u32, P>>;

// ---------------------------------------------------------------------------
// Executors
// ---------------------------------------------------------------------------

/// Spawns tasks; the returned future resolves to the task's output.
trait Exec: Clone + 'static {
    /// Tasks run one at a time on the test's thread: a task woken by a
    /// release cannot run before the releaser's next `.await`.
    fn single_threaded(&self) -> bool;
    fn spawn<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> BoxFuture<T>;
}

#[derive(Clone)]
struct Tokio {
    handle: tokio::runtime::Handle,
    single: bool,
}

impl Exec for Tokio {
    fn single_threaded(&self) -> bool {
        self.single
    }
    fn spawn<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> BoxFuture<T> {
        let h = self.handle.spawn(f);
        Box::pin(async move { h.await.expect("task failed") })
    }
}

#[derive(Clone)]
struct Local(LocalSpawner);

impl Exec for Local {
    fn single_threaded(&self) -> bool {
        true
    }
    fn spawn<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> BoxFuture<T> {
        Box::pin(self.0.spawn_local_with_handle(f).expect("spawn"))
    }
}

/// One OS thread per task, each driving its task with `block_on`.
#[derive(Clone)]
struct Threads;

impl Exec for Threads {
    fn single_threaded(&self) -> bool {
        false
    }
    fn spawn<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> BoxFuture<T> {
        let (tx, rx) = oneshot::channel();
        thread::spawn(move || {
            let _ = tx.send(futures::executor::block_on(f));
        });
        Box::pin(async move { rx.await.expect("task panicked") })
    }
}

fn run_tokio_current_thread<F: Future<Output = ()>>(scenario: impl FnOnce(Tokio) -> F) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let ex = Tokio { handle: rt.handle().clone(), single: true };
    rt.block_on(scenario(ex));
}

fn run_tokio_multi_thread<F: Future<Output = ()>>(scenario: impl FnOnce(Tokio) -> F) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap();
    let ex = Tokio { handle: rt.handle().clone(), single: false };
    rt.block_on(scenario(ex));
}

fn run_local_pool<F: Future<Output = ()>>(scenario: impl FnOnce(Local) -> F) {
    let mut pool = LocalPool::new();
    let ex = Local(pool.spawner());
    pool.run_until(scenario(ex));
}

fn run_threads<F: Future<Output = ()>>(scenario: impl FnOnce(Threads) -> F) {
    futures::executor::block_on(scenario(Threads));
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Returns `Pending` once, waking itself: lets every other task run
/// (runtime-agnostic `yield_now`).
#[derive(Default)]
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn yield_now() -> YieldNow {
    YieldNow::default()
}

/// Waits, yielding, until the lock's state satisfies `cond`. A watchdog,
/// not a timing assertion: it fails only if the state never comes.
async fn until<P: Policy>(lock: &AsyncRwLock<u32, P>, what: &str, cond: impl Fn(StateSnapshot) -> bool) {
    let start = Instant::now();
    loop {
        let s = lock.raw().state_snapshot();
        if cond(s) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "stalled waiting for {what}: {s:?}");
        thread::yield_now();
        yield_now().await;
    }
}

async fn until_queued<P: Policy>(lock: &AsyncRwLock<u32, P>, readers: usize, writers: usize) {
    until(lock, "queued waiters", |s| s.queued_readers == readers && s.queued_writers == writers).await
}

/// Who got the lock, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<&'static str>>>);

impl Log {
    fn push(&self, name: &'static str) {
        self.0.lock().unwrap().push(name);
    }
    fn get(&self) -> Vec<&'static str> {
        self.0.lock().unwrap().clone()
    }
    async fn until_has(&self, name: &'static str) {
        let start = Instant::now();
        while !self.get().contains(&name) {
            assert!(start.elapsed() < Duration::from_secs(30), "stalled waiting for {name} in {:?}", self.get());
            thread::yield_now();
            yield_now().await;
        }
    }
}

/// A writer task (borrowed future): logs, keeps the lock across an await.
async fn writer<P: Policy>(lock: Lock<P>, log: Log, name: &'static str)
where
    P::Shared<u32>: Sync,
{
    let mut g = lock.write().await;
    *g += 1;
    log.push(name);
    yield_now().await;
    drop(g);
}

/// A reader task (owned future): logs, keeps the lock across an await.
async fn reader<P: Policy>(lock: Lock<P>, log: Log, name: &'static str)
where
    P::Shared<u32>: Sync,
{
    let g = lock.read_owned().await;
    log.push(name);
    yield_now().await;
    drop(g);
}

/// A writer that gives up when `cancel` fires first (checked first at each
/// poll). Returns whether it got the lock.
async fn cancellable_writer<P: Policy>(
    lock: Lock<P>,
    log: Log,
    name: &'static str,
    cancel: oneshot::Receiver<()>,
) -> bool
where
    P::Shared<u32>: Sync,
{
    let fut = lock.write().fuse();
    pin_mut!(fut);
    let mut cancel = cancel;
    select_biased! {
        _ = cancel => false,
        mut g = fut => {
            *g += 1;
            log.push(name);
            true
        }
    }
}

/// Groups readers admitted together (consecutive in the log) into one
/// sorted phase; each writer is its own phase.
fn phases(log: &[&'static str]) -> Vec<Vec<&'static str>> {
    let mut out: Vec<Vec<&'static str>> = Vec::new();
    for &name in log {
        match out.last_mut() {
            Some(last) if name.starts_with('R') && last[0].starts_with('R') => last.push(name),
            _ => out.push(vec![name]),
        }
    }
    for p in &mut out {
        p.sort();
    }
    out
}

#[track_caller]
fn assert_free<P: Policy>(lock: &AsyncRwLock<u32, P>) {
    assert_eq!(
        lock.raw().state_snapshot(),
        StateSnapshot { readers: 0, writer: false, queued_readers: 0, queued_writers: 0 }
    );
    drop(lock.try_write().expect("the lock must end free"));
}

// ---------------------------------------------------------------------------
// Scenarios on every executor
// ---------------------------------------------------------------------------

/// A writer releases with R1, W1, R2, W2 waiting (in that order).
async fn order_per_policy<P: Policy, E: Exec>(ex: E)
where
    P::Shared<u32>: Sync,
{
    let lock: Lock<P> = Arc::default();
    let log = Log::default();
    let g0 = lock.clone().write_owned().await;
    let mut joins = Vec::new();
    let (mut qr, mut qw) = (0, 0);
    for name in ["R1", "W1", "R2", "W2"] {
        if name.starts_with('R') {
            joins.push(ex.spawn(reader(lock.clone(), log.clone(), name)));
            qr += 1;
        } else {
            joins.push(ex.spawn(writer(lock.clone(), log.clone(), name)));
            qw += 1;
        }
        until_queued(&lock, qr, qw).await;
    }
    drop(g0);
    for j in joins {
        j.await;
    }
    let expected: Vec<Vec<&str>> = match P::KIND {
        RP | PF => vec![vec!["R1", "R2"], vec!["W1"], vec!["W2"]],
        WP => vec![vec!["W1"], vec!["W2"], vec!["R1", "R2"]],
        EX => vec![vec!["R1"], vec!["W1"], vec!["R2"], vec!["W2"]],
    };
    assert_eq!(phases(&log.get()), expected, "{:?}: {:?}", P::KIND, log.get());
    assert_eq!(*lock.read().await, 2);
    assert_free(&lock);
}

/// Downgrade with a reader and a writer queued.
async fn downgrade_per_policy<P: Policy, E: Exec>(ex: E)
where
    P::Shared<u32>: Sync,
{
    let lock: Lock<P> = Arc::default();
    let log = Log::default();
    let mut g0 = lock.clone().write_owned().await;
    *g0 = 10;
    let r1 = ex.spawn(reader(lock.clone(), log.clone(), "R1"));
    until_queued(&lock, 1, 0).await;
    let w1 = ex.spawn(writer(lock.clone(), log.clone(), "W1"));
    until_queued(&lock, 1, 1).await;
    let d = OwnedAsyncRwLockWriteGuard::downgrade(g0);
    let snap = lock.raw().state_snapshot();
    match P::KIND {
        RP | PF => {
            // R1 was granted with the downgrade (it may have run and
            // released already on a multi-threaded executor).
            assert_eq!((snap.writer, snap.queued_readers, snap.queued_writers), (false, 0, 1));
            assert!(snap.readers >= 1);
            log.until_has("R1").await;
            until(&lock, "R1 released", |s| s.readers == 1).await;
            // The writer still waits for the downgraded holder.
            assert_eq!(log.get(), ["R1"]);
            assert_eq!(lock.raw().state_snapshot().queued_writers, 1);
        }
        WP => assert_eq!((snap.readers, snap.writer, snap.queued_readers, snap.queued_writers), (1, false, 1, 1)),
        EX => assert_eq!((snap.readers, snap.writer, snap.queued_readers, snap.queued_writers), (0, true, 1, 1)),
    }
    assert_eq!(*d, 10);
    drop(d);
    r1.await;
    w1.await;
    let expected = if P::KIND == WP { ["W1", "R1"] } else { ["R1", "W1"] };
    assert_eq!(log.get(), expected);
    assert_free(&lock);
}

/// A queued writer gives up while a reader holds: the reader queued behind
/// it is admitted at once where the policy allows (WP, PF).
async fn cancel_queued_writer_admits_readers<P: Policy, E: Exec>(ex: E)
where
    P::Shared<u32>: Sync,
{
    let lock: Lock<P> = Arc::default();
    let log = Log::default();
    let r0 = lock.clone().read_owned().await;
    let (tx, rx) = oneshot::channel();
    let w1 = ex.spawn(cancellable_writer(lock.clone(), log.clone(), "W1", rx));
    until_queued(&lock, 0, 1).await;
    let r1 = ex.spawn(reader(lock.clone(), log.clone(), "R1"));
    if P::KIND == RP {
        log.until_has("R1").await;
    } else {
        until_queued(&lock, 1, 1).await;
    }
    tx.send(()).unwrap();
    assert!(!w1.await, "W1 cannot have got the lock: R0 holds it");
    match P::KIND {
        RP | WP | PF => log.until_has("R1").await, // while R0 still holds
        EX => {
            until_queued(&lock, 1, 0).await;
            assert!(lock.is_locked_exclusive());
            assert!(log.get().is_empty());
        }
    }
    drop(r0);
    r1.await;
    assert_eq!(log.get(), ["R1"]);
    assert_free(&lock);
}

/// A writer is granted the lock and gives up before it runs: the grant
/// passes on to the next writer.
async fn cancel_granted_writer_passes_grant<P: Policy, E: Exec>(ex: E)
where
    P::Shared<u32>: Sync,
{
    let lock: Lock<P> = Arc::default();
    let log = Log::default();
    let w0 = lock.clone().write_owned().await;
    let (tx, rx) = oneshot::channel();
    let w1 = ex.spawn(cancellable_writer(lock.clone(), log.clone(), "W1", rx));
    until_queued(&lock, 0, 1).await;
    let w2 = ex.spawn(writer(lock.clone(), log.clone(), "W2"));
    until_queued(&lock, 0, 2).await;
    drop(w0); // grants W1...
    let _ = tx.send(()); // ...which gives up (on one thread, before it could run)
    let got = w1.await;
    w2.await;
    if ex.single_threaded() {
        assert!(!got, "W1 must see the cancellation first");
    }
    let expected: &[&str] = if got { &["W1", "W2"] } else { &["W2"] };
    assert_eq!(log.get(), expected);
    assert_eq!(*lock.read().await, 1 + got as u32);
    assert_free(&lock);
}

/// R0 holds; W1 (cancellable), R1, W2 arrive. R0 releases, W1 is granted
/// and gives up: it releases as a writer, so PF opens a read phase for R1
/// before W2, WP serves W2 first.
async fn cancel_granted_writer_read_phase<P: Policy, E: Exec>(ex: E)
where
    P::Shared<u32>: Sync,
{
    let lock: Lock<P> = Arc::default();
    let log = Log::default();
    let r0 = lock.clone().read_owned().await;
    let (tx, rx) = oneshot::channel();
    let w1 = ex.spawn(cancellable_writer(lock.clone(), log.clone(), "W1", rx));
    until_queued(&lock, 0, 1).await;
    let r1 = ex.spawn(reader(lock.clone(), log.clone(), "R1"));
    if P::KIND == RP {
        log.until_has("R1").await;
        until(&lock, "R1 released", |s| s.readers == 1).await;
    } else {
        until_queued(&lock, 1, 1).await;
    }
    let w2 = ex.spawn(writer(lock.clone(), log.clone(), "W2"));
    until_queued(&lock, if P::KIND == RP { 0 } else { 1 }, 2).await;
    drop(r0);
    let _ = tx.send(()); // W1 may have run already on a multi-threaded executor
    let got = w1.await;
    r1.await;
    w2.await;
    if ex.single_threaded() {
        assert!(!got);
    }
    // Whether W1 ran or gave up, its release serves the same parties next.
    let order: Vec<_> = log.get().into_iter().filter(|&n| n != "W1").collect();
    let expected = if P::KIND == WP { ["W2", "R1"] } else { ["R1", "W2"] };
    assert_eq!(order, expected, "{:?}", P::KIND);
    assert_free(&lock);
}

/// Many tasks, mixed kinds, each cancelled at a different point (never
/// polled, queued, or granted); the lock ends free and every completed
/// write is counted.
async fn cancel_storm<P: Policy, E: Exec>(ex: E)
where
    P::Shared<u32>: Sync,
{
    let lock: Lock<P> = Arc::default();
    let log = Log::default();
    let w0 = lock.clone().write_owned().await;
    let mut cancels = Vec::new();
    let mut joins = Vec::new();
    let (mut qr, mut qw) = (0, 0);
    for i in 0..8 {
        let (tx, rx) = oneshot::channel();
        cancels.push(tx);
        joins.push(ex.spawn(cancellable_writer(lock.clone(), log.clone(), "W", rx)));
        qw += 1;
        until_queued(&lock, qr, qw).await;
        if i % 2 == 1 {
            joins.push(ex.spawn(reader(lock.clone(), log.clone(), "R")).map(|()| false).boxed());
            qr += 1;
            until_queued(&lock, qr, qw).await;
        }
    }
    // Cancel the odd writers while queued, release, then cancel the rest
    // (some granted, some still queued).
    let mut rest = Vec::new();
    for (i, tx) in cancels.into_iter().enumerate() {
        if i % 2 == 1 {
            tx.send(()).unwrap();
        } else {
            rest.push(tx);
        }
    }
    drop(w0);
    for tx in rest {
        let _ = tx.send(());
    }
    let mut writes = 0;
    for j in joins {
        writes += j.await as u32;
    }
    assert_eq!(*lock.read().await, writes);
    assert_eq!(log.get().iter().filter(|&&n| n == "R").count(), 4);
    assert_free(&lock);
}

macro_rules! per_policy {
    ($runner:ident: $($name:ident),* $(,)?) => {
        mod reader_preferring {
            $(#[test] fn $name() { crate::$runner(crate::$name::<crate::ReaderPreferring, _>) })*
        }
        mod writer_preferring {
            $(#[test] fn $name() { crate::$runner(crate::$name::<crate::WriterPreferring, _>) })*
        }
        mod phase_fair {
            $(#[test] fn $name() { crate::$runner(crate::$name::<crate::PhaseFair, _>) })*
        }
        mod exclusive {
            $(#[test] fn $name() { crate::$runner(crate::$name::<crate::Exclusive, _>) })*
        }
    };
}

macro_rules! on_every_executor {
    ($($name:ident),* $(,)?) => {
        mod tokio_current_thread {
            per_policy!(run_tokio_current_thread: $($name),*);
        }
        mod tokio_multi_thread {
            per_policy!(run_tokio_multi_thread: $($name),*);
        }
        mod futures_local_pool {
            per_policy!(run_local_pool: $($name),*);
        }
        mod futures_block_on_threads {
            per_policy!(run_threads: $($name),*);
        }
    };
}

on_every_executor!(
    order_per_policy,
    downgrade_per_policy,
    cancel_queued_writer_admits_readers,
    cancel_granted_writer_passes_grant,
    cancel_granted_writer_read_phase,
    cancel_storm,
);

// ---------------------------------------------------------------------------
// tokio: timeouts, select!, aborted JoinHandles
// ---------------------------------------------------------------------------

/// `tokio::time::timeout` on a queued writer behind a reader: the reader
/// queued behind the writer gets in when it times out (corefx#3364).
async fn tokio_timeout_admits_readers<P: Policy, E: Exec>(ex: E)
where
    P::Shared<u32>: Sync,
{
    let lock: Lock<P> = Arc::default();
    let log = Log::default();
    let r0 = lock.clone().read_owned().await;
    let l = lock.clone();
    let w1 = ex.spawn(async move { tokio::time::timeout(Duration::from_millis(20), l.write_owned()).await.is_err() });
    until_queued(&lock, 0, 1).await;
    let r1 = ex.spawn(reader(lock.clone(), log.clone(), "R1"));
    if P::KIND != RP {
        until_queued(&lock, 1, 1).await;
    }
    assert!(w1.await, "the write cannot succeed while R0 holds");
    if P::KIND == EX {
        until_queued(&lock, 1, 0).await;
        assert!(log.get().is_empty());
    } else {
        log.until_has("R1").await;
    }
    drop(r0);
    r1.await;
    assert_free(&lock);
}

/// `tokio::select!` drops a write future that was granted but not yet
/// polled: the next writer gets the lock.
async fn tokio_select_drops_granted<P: Policy, E: Exec>(ex: E)
where
    P::Shared<u32>: Sync,
{
    let lock: Lock<P> = Arc::default();
    let log = Log::default();
    let w0 = lock.clone().write_owned().await;
    let stop = Arc::new(tokio::sync::Notify::new());
    let (l, s) = (lock.clone(), stop.clone());
    let w1 = ex.spawn(async move {
        tokio::select! {
            biased;
            _ = s.notified() => false,
            _g = l.write() => true,
        }
    });
    until_queued(&lock, 0, 1).await;
    let w2 = ex.spawn(writer(lock.clone(), log.clone(), "W2"));
    until_queued(&lock, 0, 2).await;
    drop(w0);
    stop.notify_one();
    let got = w1.await;
    w2.await;
    if ex.single_threaded() {
        assert!(!got);
    }
    assert_eq!(log.get(), ["W2"]);
    assert_free(&lock);
}

/// Aborting the task of a queued acquire leaves no trace; aborting one
/// that was just granted passes the grant on.
async fn tokio_abort_join_handle<P: Policy, E: Exec>(ex: E)
where
    P::Shared<u32>: Sync,
{
    let lock: Lock<P> = Arc::default();
    let log = Log::default();
    // Queued, then aborted.
    let w0 = lock.clone().write_owned().await;
    let h = tokio::spawn(writer(lock.clone(), log.clone(), "W1"));
    until_queued(&lock, 0, 1).await;
    h.abort();
    assert!(h.await.unwrap_err().is_cancelled());
    until_queued(&lock, 0, 0).await;
    drop(w0);
    assert_free(&lock);

    // Granted, then aborted before it runs (on the current-thread runtime).
    let w0 = lock.clone().write_owned().await;
    let h1 = tokio::spawn(writer(lock.clone(), log.clone(), "W1"));
    until_queued(&lock, 0, 1).await;
    let r1 = tokio::spawn(reader(lock.clone(), log.clone(), "R1"));
    until_queued(&lock, 1, 1).await;
    drop(w0);
    h1.abort();
    let aborted = match h1.await {
        Ok(()) => false,
        Err(e) => e.is_cancelled(),
    };
    r1.await.unwrap();
    if ex.single_threaded() {
        // W1 never ran: granted (WP, EX) or still queued (RP, PF) when
        // aborted; either way R1 is served and W1 leaves no trace.
        assert!(aborted);
        assert_eq!(log.get(), ["R1"]);
    } else {
        assert!(log.get().contains(&"R1"));
    }
    assert_free(&lock);
}

mod tokio_only {
    mod tokio_current_thread {
        per_policy!(run_tokio_current_thread: tokio_timeout_admits_readers, tokio_select_drops_granted, tokio_abort_join_handle);
    }
    mod tokio_multi_thread {
        per_policy!(run_tokio_multi_thread: tokio_timeout_admits_readers, tokio_select_drops_granted, tokio_abort_join_handle);
    }
}

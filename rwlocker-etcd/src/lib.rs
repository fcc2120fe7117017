//! A read-write lock shared by processes and hosts, on an etcd v3 cluster,
//! with rwlocker's admission policies, guards and cancellation rules, plus a
//! **fencing token** on every guard.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rwlocker_etcd::Error> {
//! use std::time::Duration;
//! use rwlocker_etcd::{EtcdRwLock, Options, PhaseFair};
//!
//! let lock = EtcdRwLock::<PhaseFair>::connect(
//!     &["http://127.0.0.1:2379"],
//!     "reports",
//!     Options::new().lease_ttl(Duration::from_secs(10)),
//! )
//! .await?;
//! let guard = lock.write().await?;
//! // Send the token with every write to the protected resource, which keeps
//! // the highest token it has seen and refuses anything lower.
//! let token: i64 = guard.fencing_token();
//! # let _ = token;
//! guard.release().await?;
//! # Ok(()) }
//! ```
//!
//! # How it works
//!
//! Every acquire puts one key under `{prefix}{name}/`, attached to the
//! handle's lease. The keys ordered by create revision form the queue. The
//! policy decides which keys ahead (and which holding keys) an acquirer must
//! wait for; it watches exactly one of them, so a release wakes the clients
//! that it blocked, not every client. An acquirer that may go marks its key as
//! holding with a transaction that re-checks, inside etcd, that no writer
//! holds (for a reader) or that nobody holds (for a writer), so exclusion never
//! rests on a client's view of the queue. The exact rule of each policy and
//! where it differs from the in-process lock are in `docs/DISTRIBUTED.md`.
//!
//! # What it guarantees, and what it cannot
//!
//! * While the lease lives, a writer key is the only holding key, and no
//!   writer key holds beside reader keys. etcd checks this atomically.
//! * A lease is a **timed promise**. A holder that stops (a pause, a full
//!   garbage collection, a network partition) for longer than the TTL loses
//!   its keys, and another client is admitted, while the stale holder may
//!   still believe it holds. [`EtcdWriteGuard::is_lost`] tells it as soon as
//!   its own clock shows the lease may have ended, but only the **resource**
//!   can refuse a stale write: send [`fencing_token`](EtcdWriteGuard::fencing_token)
//!   along and have the resource reject tokens below the highest it has seen.
//! * Tokens increase with admission order of writers: a writer admitted after
//!   another writer released has a larger token.
//!
//! # Cancellation
//!
//! Dropping an acquire future removes its key (the delete is spawned on the
//! runtime), so the clients behind it move up at once. Dropping a guard
//! releases it the same way; [`EtcdWriteGuard::release`] does it and reports
//! the outcome. Where no runtime is left to run the delete, the key goes when
//! the lease ends.

#![warn(missing_docs)]

mod queue;

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, PutOptions, SortOrder, SortTarget, Txn, TxnOp,
    TxnOpResponse, WatchOptions,
};
use tokio::sync::watch;

pub use etcd_client;
pub use rwlocker::{Exclusive, PhaseFair, Policy, PolicyKind, ReaderPreferring, WriterPreferring};

use queue::{Decision, Entry, Mode};

/// Errors of the distributed lock.
#[derive(Debug)]
pub enum Error {
    /// An etcd request failed (connection, timeout, no leader, ...).
    Etcd(etcd_client::Error),
    /// The handle's lease ended (keep-alive failed past the TTL, or the
    /// cluster expired or revoked it). The handle can take no more locks;
    /// connect a new one.
    LeaseLost,
    /// The lock's keys hold something this crate did not write.
    Corrupt(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Etcd(e) => write!(f, "etcd request failed: {e}"),
            Error::LeaseLost => f.write_str("the lock handle's etcd lease ended"),
            Error::Corrupt(what) => write!(f, "unexpected data under the lock's prefix: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Etcd(e) => Some(e),
            _ => None,
        }
    }
}

impl From<etcd_client::Error> for Error {
    fn from(e: etcd_client::Error) -> Self {
        Error::Etcd(e)
    }
}

/// Options for [`EtcdRwLock::connect`].
#[derive(Clone, Debug)]
pub struct Options {
    lease_ttl: Duration,
    key_prefix: String,
    connect: Option<ConnectOptions>,
}

impl Default for Options {
    fn default() -> Self {
        Options { lease_ttl: Duration::from_secs(10), key_prefix: "rwlocker/".into(), connect: None }
    }
}

impl Options {
    /// The defaults: a 10 s lease, keys under `rwlocker/`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The lease's time to live. A client that stops (crash, pause, lost
    /// network) for longer loses every key it has, held or waiting.
    ///
    /// # Panics
    ///
    /// If `ttl` is under one second: etcd counts leases in whole seconds.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        assert!(ttl >= Duration::from_secs(1), "rwlocker-etcd: the lease TTL must be at least 1 s, got {ttl:?}");
        self.lease_ttl = ttl;
        self
    }

    /// The prefix put before the lock's name. Every client of one lock must
    /// use the same prefix, name and policy.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// The connection options passed to `etcd_client::Client::connect`.
    pub fn connect_options(mut self, options: ConnectOptions) -> Self {
        self.connect = Some(options);
        self
    }
}

/// The lease shared by one handle's keys, and what its keep-alive task knows.
struct Lease {
    id: i64,
    ttl: Duration,
    /// Origin of `deadline_ns`.
    origin: Instant,
    /// Nanoseconds after `origin` past which the lease may have ended: the
    /// send time of the last acknowledged keep-alive plus the TTL.
    deadline_ns: AtomicU64,
    /// Set once the lease is known or presumed gone; never cleared.
    lost: AtomicBool,
    lost_tx: watch::Sender<bool>,
}

impl Lease {
    fn is_lost(&self) -> bool {
        if self.lost.load(Ordering::Acquire) {
            return true;
        }
        let now = self.origin.elapsed().as_nanos() as u64;
        if now >= self.deadline_ns.load(Ordering::Acquire) {
            self.mark_lost();
            return true;
        }
        false
    }

    fn mark_lost(&self) {
        self.lost.store(true, Ordering::Release);
        self.lost_tx.send_replace(true);
    }

    async fn until_lost(&self) {
        let mut rx = self.lost_tx.subscribe();
        loop {
            if self.is_lost() {
                return;
            }
            let deadline = self.origin + Duration::from_nanos(self.deadline_ns.load(Ordering::Acquire));
            tokio::select! {
                _ = rx.changed() => {}
                _ = tokio::time::sleep_until(deadline.into()) => {}
            }
        }
    }
}

struct Inner {
    client: Client,
    /// `{prefix}{name}/`
    base: String,
    lease: Arc<Lease>,
    next: AtomicU64,
    keepalive: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.keepalive.abort();
        if self.lease.is_lost() {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let mut client = self.client.clone();
            let id = self.lease.id;
            rt.spawn(async move {
                let _ = client.lease_revoke(id).await;
            });
        }
    }
}

/// A read-write lock named `name`, shared by every client of an etcd
/// cluster that connects to it with the same prefix and policy `P`.
///
/// One handle holds one etcd connection and one lease; every key it puts
/// lives on that lease. Clone the handle to share it between tasks.
pub struct EtcdRwLock<P: Policy = PhaseFair> {
    inner: Arc<Inner>,
    _policy: PhantomData<fn() -> P>,
}

impl<P: Policy> Clone for EtcdRwLock<P> {
    fn clone(&self) -> Self {
        EtcdRwLock { inner: self.inner.clone(), _policy: PhantomData }
    }
}

impl<P: Policy> fmt::Debug for EtcdRwLock<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdRwLock")
            .field("policy", &P::KIND)
            .field("keys", &self.inner.base)
            .field("lease", &self.inner.lease.id)
            .finish()
    }
}

/// How long an acquire may wait.
#[derive(Clone, Copy)]
enum Wait {
    Forever,
    Never,
    Until(tokio::time::Instant),
}

impl<P: Policy> EtcdRwLock<P> {
    /// Connects to the cluster at `endpoints`, grants the handle's lease and
    /// starts keeping it alive.
    ///
    /// # Panics
    ///
    /// If `name` is empty or contains `/`.
    pub async fn connect<E: AsRef<str>>(endpoints: &[E], name: &str, options: Options) -> Result<Self, Error> {
        assert!(
            !name.is_empty() && !name.contains('/'),
            "rwlocker-etcd: a lock name must be non-empty and contain no '/', got {name:?}"
        );
        let client = Client::connect(endpoints, options.connect.clone()).await?;
        let ttl_s = options.lease_ttl.as_secs().max(1) as i64;
        let ttl = Duration::from_secs(ttl_s as u64);
        let origin = Instant::now();
        // When the granted attempt was sent: the lease lives at least a TTL from then.
        let sent = std::sync::Mutex::new(Duration::ZERO);
        // A member may be down: try the others for a while.
        let granted = retry_for(
            ttl.max(Duration::from_secs(5)),
            || false,
            || {
                *sent.lock().unwrap() = origin.elapsed();
                let mut c = client.clone();
                async move { c.lease_grant(ttl_s, None).await }
            },
        )
        .await?;
        let sent = sent.into_inner().unwrap();
        let (lost_tx, _) = watch::channel(false);
        let lease = Arc::new(Lease {
            id: granted.id(),
            ttl,
            origin,
            deadline_ns: AtomicU64::new((sent + ttl).as_nanos() as u64),
            lost: AtomicBool::new(false),
            lost_tx,
        });
        let keepalive = tokio::spawn(keep_alive(client.clone(), lease.clone()));
        Ok(EtcdRwLock {
            inner: Arc::new(Inner {
                client,
                base: format!("{}{}/", options.key_prefix, name),
                lease,
                next: AtomicU64::new(0),
                keepalive,
            }),
            _policy: PhantomData,
        })
    }

    /// The etcd client of this handle, for the caller's own requests (for
    /// instance a fenced write to a resource kept in etcd).
    pub fn client(&self) -> Client {
        self.inner.client.clone()
    }

    /// The id of the handle's lease.
    pub fn lease_id(&self) -> i64 {
        self.inner.lease.id
    }

    /// Whether the handle's lease is known or presumed gone. Once it is,
    /// every guard of this handle is lost and every acquire fails.
    pub fn is_lease_lost(&self) -> bool {
        self.inner.lease.is_lost()
    }

    /// Waits for shared access.
    pub async fn read(&self) -> Result<EtcdReadGuard, Error> {
        Ok(EtcdReadGuard(self.acquire(Mode::Read, Wait::Forever).await?.expect("no deadline")))
    }

    /// Waits for exclusive access.
    pub async fn write(&self) -> Result<EtcdWriteGuard, Error> {
        Ok(EtcdWriteGuard(self.acquire(Mode::Write, Wait::Forever).await?.expect("no deadline")))
    }

    /// Shared access if the policy admits this reader at once, else `None`.
    /// The attempt queues a key for one round trip and removes it on failure.
    pub async fn try_read(&self) -> Result<Option<EtcdReadGuard>, Error> {
        Ok(self.acquire(Mode::Read, Wait::Never).await?.map(EtcdReadGuard))
    }

    /// Exclusive access if the policy admits this writer at once, else `None`.
    pub async fn try_write(&self) -> Result<Option<EtcdWriteGuard>, Error> {
        Ok(self.acquire(Mode::Write, Wait::Never).await?.map(EtcdWriteGuard))
    }

    /// Waits for shared access for at most `timeout`; `None` if it ran out
    /// (the key is removed).
    pub async fn try_read_for(&self, timeout: Duration) -> Result<Option<EtcdReadGuard>, Error> {
        let until = tokio::time::Instant::now() + timeout;
        Ok(self.acquire(Mode::Read, Wait::Until(until)).await?.map(EtcdReadGuard))
    }

    /// Waits for exclusive access for at most `timeout`; `None` if it ran
    /// out (the key is removed).
    pub async fn try_write_for(&self, timeout: Duration) -> Result<Option<EtcdWriteGuard>, Error> {
        let until = tokio::time::Instant::now() + timeout;
        Ok(self.acquire(Mode::Write, Wait::Until(until)).await?.map(EtcdWriteGuard))
    }

    /// Revokes the handle's lease, removing every key it has. Guards still
    /// alive become lost.
    pub async fn close(self) -> Result<(), Error> {
        let mut client = self.inner.client.clone();
        self.inner.lease.mark_lost();
        client.lease_revoke(self.inner.lease.id).await?;
        Ok(())
    }

    async fn acquire(&self, mode: Mode, wait: Wait) -> Result<Option<Held>, Error> {
        let inner = &self.inner;
        let lease = &*inner.lease;
        if lease.is_lost() {
            return Err(Error::LeaseLost);
        }
        let mode = if P::KIND == PolicyKind::Exclusive { Mode::Write } else { mode };
        let tag = match mode {
            Mode::Read => 'r',
            Mode::Write => 'w',
        };
        let n = inner.next.fetch_add(1, Ordering::Relaxed);
        let key = format!("{}{}/{:016x}-{:08}", inner.base, tag, lease.id as u64, n);
        let client = inner.client.clone();
        // From here on, an early return or a dropped future removes the key.
        let mut pending = Pending { client: Some(client.clone()), key: key.clone(), lease: inner.lease.clone() };

        // A PhaseFair reader records the writer whose phase it follows.
        let mut value = String::new();
        if P::KIND == PolicyKind::PhaseFair && mode == Mode::Read {
            let opts = GetOptions::new()
                .with_prefix()
                .with_sort(SortTarget::Create, SortOrder::Ascend)
                .with_limit(1)
                .with_keys_only();
            let writers = format!("{}w/", inner.base);
            let oldest = retry(lease, || {
                let (mut c, k, o) = (client.clone(), writers.clone(), opts.clone());
                async move { c.get(k, Some(o)).await }
            })
            .await?;
            value = oldest.kvs().first().map_or(0, |kv| kv.create_revision()).to_string();
        }

        // Queue the key and read the queue, in one transaction. It only puts
        // a key that does not exist yet, so a retry after a lost answer does
        // not touch the key queued by the first attempt.
        let queue_txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([
                TxnOp::put(key.clone(), value.clone(), Some(PutOptions::new().with_lease(lease.id))),
                TxnOp::get(inner.base.clone(), Some(queue_options())),
            ])
            .or_else([TxnOp::get(inner.base.clone(), Some(queue_options()))]);
        let queued = retry(lease, || {
            let (mut c, t) = (client.clone(), queue_txn.clone());
            async move { c.txn(t).await }
        })
        .await?;
        let mut at = queued.header().map(|h| h.revision()).unwrap_or(0);
        let mut snapshot = range_of(&queued, if queued.succeeded() { 1 } else { 0 })?;
        let me = snapshot
            .iter()
            .find(|kv| kv.key() == key.as_bytes())
            .map(|kv| kv.create_revision())
            .ok_or(Error::LeaseLost)?;

        let safety = mark_txn_safety(&inner.base, mode);
        // Marks the key holding if etcd confirms that nobody conflicting holds.
        // A retry after a lost answer fails its compare and reads the key as
        // holding, which the loop below takes as success.
        let mark_txn = Txn::new()
            .when([Compare::version(key.clone(), CompareOp::Equal, 1), safety])
            .and_then([TxnOp::put(key.clone(), value.clone(), Some(PutOptions::new().with_lease(lease.id)))])
            .or_else([TxnOp::get(inner.base.clone(), Some(queue_options()))]);
        // After a wake-up, one transaction both tries and, failing that, reads
        // the queue: it marks the key only if etcd confirms this policy's rule
        // as well (for a PhaseFair writer a stricter one: no reader key at all).
        let phase_key = match value.parse::<i64>() {
            Ok(phase_of) if phase_of != 0 => Some(key_of(&snapshot, phase_of)).filter(|k| !k.is_empty()),
            _ => None,
        };
        let mut rule = vec![Compare::version(key.clone(), CompareOp::Equal, 1), mark_txn_safety(&inner.base, mode)];
        rule.extend(policy_compares(P::KIND, mode, &inner.base, me, phase_key));
        let wake_txn = Txn::new()
            .when(rule)
            .and_then([TxnOp::put(key.clone(), value.clone(), Some(PutOptions::new().with_lease(lease.id)))])
            .or_else([TxnOp::get(inner.base.clone(), Some(queue_options()))]);
        let mut tried_mark = false;
        loop {
            let entries = parse(&inner.base, &snapshot)?;
            if entries.iter().any(|e| e.rev == me && e.held) {
                pending.client = None;
                return Ok(Some(Held::new(inner.clone(), key, me)));
            }
            if tried_mark && matches!(wait, Wait::Never) {
                pending.remove().await;
                return Ok(None);
            }
            match queue::decide(P::KIND, &entries, me) {
                Decision::Gone => return Err(Error::LeaseLost),
                Decision::Ready => {
                    tried_mark = true;
                    let marked = retry(lease, || {
                        let (mut c, t) = (client.clone(), mark_txn.clone());
                        async move { c.txn(t).await }
                    })
                    .await?;
                    if marked.succeeded() {
                        pending.client = None;
                        return Ok(Some(Held::new(inner.clone(), key, me)));
                    }
                    at = marked.header().map(|h| h.revision()).unwrap_or(at);
                    snapshot = range_of(&marked, 0)?;
                }
                Decision::WaitFor(blocker) => {
                    let until = match wait {
                        Wait::Never => {
                            pending.remove().await;
                            return Ok(None);
                        }
                        Wait::Forever => None,
                        Wait::Until(t) => Some(t),
                    };
                    let blocker_key = key_of(&snapshot, blocker);
                    let changed = wait_for_change(client.clone(), blocker_key, at + 1, lease);
                    let outcome = match until {
                        None => Some(changed.await),
                        Some(t) => tokio::time::timeout_at(t, changed).await.ok(),
                    };
                    match outcome {
                        None => {
                            pending.remove().await;
                            return Ok(None);
                        }
                        Some(Err(e)) => return Err(e),
                        Some(Ok(())) => {}
                    }
                    let woken = retry(lease, || {
                        let (mut c, t) = (client.clone(), wake_txn.clone());
                        async move { c.txn(t).await }
                    })
                    .await?;
                    if woken.succeeded() {
                        pending.client = None;
                        return Ok(Some(Held::new(inner.clone(), key, me)));
                    }
                    at = woken.header().map(|h| h.revision()).unwrap_or(at);
                    snapshot = range_of(&woken, 0)?;
                }
            }
        }
    }
}

/// The compare that makes marking a key holding safe: for a writer, no key
/// under `base` holds; for a reader, no writer key holds.
fn mark_txn_safety(base: &str, mode: Mode) -> Compare {
    match mode {
        Mode::Write => Compare::version(base, CompareOp::Less, 2).with_prefix(),
        Mode::Read => Compare::version(format!("{base}w/"), CompareOp::Less, 2).with_prefix(),
    }
}

/// Compares that hold only if `policy`'s rule admits the key with create
/// revision `me` (beyond the safety compare). They state the rules of
/// `queue::decide` as etcd compares, exactly, except for a `PhaseFair`
/// writer, for which they ask more (no reader key at all). A range compare
/// on an empty range compares a key that does not exist (create revision 0).
fn policy_compares(policy: PolicyKind, mode: Mode, base: &str, me: i64, phase_key: Option<Vec<u8>>) -> Vec<Compare> {
    let writers = format!("{base}w/");
    let readers = format!("{base}r/");
    // Every key of the range (this key among them) queued no earlier than `me`.
    let none_ahead = |range: &str| Compare::create_revision(range, CompareOp::Greater, me - 1).with_prefix();
    let no_key = |range: &str| Compare::create_revision(range, CompareOp::Equal, 0).with_prefix();
    if mode == Mode::Write || policy == PolicyKind::Exclusive {
        return match policy {
            PolicyKind::Exclusive => vec![none_ahead(base)],
            PolicyKind::WriterPreferring => vec![none_ahead(&writers)],
            PolicyKind::ReaderPreferring | PolicyKind::PhaseFair => vec![none_ahead(base), no_key(&readers)],
        };
    }
    match policy {
        PolicyKind::ReaderPreferring => vec![],
        PolicyKind::WriterPreferring => vec![no_key(&writers)],
        PolicyKind::PhaseFair => {
            phase_key.map(|k| Compare::create_revision(k, CompareOp::Equal, 0)).into_iter().collect()
        }
        PolicyKind::Exclusive => unreachable!("handled above"),
    }
}

/// Whether a failed request may succeed if sent again: the cluster is
/// electing a leader, a member is unreachable, or the request timed out.
fn transient(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::GRpcStatus(s) => {
            matches!(s.code(), tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown)
        }
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
        _ => false,
    }
}

/// Runs `op` until it succeeds, fails for good, the lease is lost, or it has
/// failed transiently for twice the lease's TTL (at least 10 s). Every
/// request that goes through here is idempotent.
async fn retry<T, F, Fut>(lease: &Lease, op: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, etcd_client::Error>>,
{
    retry_for((lease.ttl * 2).max(Duration::from_secs(10)), || lease.is_lost(), op).await
}

/// Runs `op` again after transient failures, for at most `limit`, unless
/// `lost()` says the lease has ended.
async fn retry_for<T, F, Fut>(limit: Duration, lost: impl Fn() -> bool, mut op: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, etcd_client::Error>>,
{
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if transient(&e) && start.elapsed() < limit => {
                if lost() {
                    return Err(Error::LeaseLost);
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn queue_options() -> GetOptions {
    GetOptions::new().with_prefix().with_sort(SortTarget::Create, SortOrder::Ascend)
}

/// The key-values of the range response at `index` of a transaction.
fn range_of(resp: &etcd_client::TxnResponse, index: usize) -> Result<Vec<etcd_client::KeyValue>, Error> {
    match resp.op_responses().into_iter().nth(index) {
        Some(TxnOpResponse::Get(get)) => Ok(get.kvs().to_vec()),
        _ => Err(Error::Corrupt("a transaction answered without its range".into())),
    }
}

fn key_of(snapshot: &[etcd_client::KeyValue], rev: i64) -> Vec<u8> {
    snapshot.iter().find(|kv| kv.create_revision() == rev).map(|kv| kv.key().to_vec()).unwrap_or_default()
}

/// Reads the queue from the keys under `base`.
fn parse(base: &str, kvs: &[etcd_client::KeyValue]) -> Result<Vec<Entry>, Error> {
    kvs.iter()
        .map(|kv| {
            let key = kv.key();
            let rest = key.get(base.len()..).unwrap_or_default();
            let mode = match rest.first() {
                Some(b'r') => Mode::Read,
                Some(b'w') => Mode::Write,
                _ => return Err(Error::Corrupt(String::from_utf8_lossy(key).into_owned())),
            };
            let phase_of = match (mode, kv.value()) {
                (Mode::Read, v) if !v.is_empty() => std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| Error::Corrupt(String::from_utf8_lossy(key).into_owned()))?,
                _ => 0,
            };
            Ok(Entry { rev: kv.create_revision(), mode, held: kv.version() >= 2, phase_of })
        })
        .collect()
}

/// Waits until `key` changes (put or delete) at or after revision `from`,
/// or fails if the lease ends first.
async fn wait_for_change(mut client: Client, key: Vec<u8>, from: i64, lease: &Lease) -> Result<(), Error> {
    let watched = async {
        let (mut watcher, mut stream) = client.watch(key, Some(WatchOptions::new().with_start_revision(from))).await?;
        loop {
            match stream.message().await? {
                // A cancelled watch (for instance after a compaction) or a
                // closed stream: look at the queue again.
                None => return Ok(()),
                Some(resp) if resp.canceled() => return Ok(()),
                Some(resp) => {
                    if resp.events().iter().any(|e| matches!(e.event_type(), EventType::Put | EventType::Delete)) {
                        let _ = watcher.cancel().await;
                        return Ok::<(), etcd_client::Error>(());
                    }
                }
            }
        }
    };
    tokio::select! {
        r = watched => match r {
            // The caller reads the queue again, which retries, or fails for good.
            Err(e) if transient(&e) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(())
            }
            r => r.map_err(Error::from),
        },
        _ = lease.until_lost() => Err(Error::LeaseLost),
    }
}

/// A queued key that is removed unless it becomes a guard.
struct Pending {
    client: Option<Client>,
    key: String,
    lease: Arc<Lease>,
}

impl Pending {
    async fn remove(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = delete(client, self.key.clone(), &self.lease).await;
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            spawn_delete(client, std::mem::take(&mut self.key), self.lease.clone());
        }
    }
}

async fn delete(client: Client, key: String, lease: &Lease) -> Result<(), Error> {
    retry(lease, || {
        let (mut c, k) = (client.clone(), key.clone());
        async move { c.delete(k, None).await }
    })
    .await
    .map(drop)
}

fn spawn_delete(client: Client, key: String, lease: Arc<Lease>) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            let _ = delete(client, key, &lease).await;
        });
    }
}

/// What a guard holds: its key, on its handle's lease.
struct Held {
    inner: Arc<Inner>,
    key: String,
    token: i64,
    released: bool,
}

impl Held {
    fn new(inner: Arc<Inner>, key: String, token: i64) -> Self {
        Held { inner, key, token, released: false }
    }

    async fn release(mut self) -> Result<(), Error> {
        self.released = true;
        delete(self.inner.client.clone(), self.key.clone(), &self.inner.lease).await
    }

    async fn still_held(&self) -> Result<bool, Error> {
        let got = retry(&self.inner.lease, || {
            let (mut c, k) = (self.inner.client.clone(), self.key.clone());
            async move { c.get(k, None).await }
        })
        .await?;
        Ok(got.kvs().first().is_some_and(|kv| kv.create_revision() == self.token && kv.version() >= 2))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.released {
            spawn_delete(self.inner.client.clone(), std::mem::take(&mut self.key), self.inner.lease.clone());
        }
    }
}

macro_rules! guard {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[must_use = "the lock is released when the guard is dropped"]
        pub struct $name(Held);

        impl $name {
            /// The fencing token: the create revision of this guard's key.
            /// It is unique in the cluster and a writer admitted after another
            /// writer released has a larger one. Have the protected resource
            /// refuse a write whose token is below the highest it has seen.
            pub fn fencing_token(&self) -> i64 {
                self.0.token
            }

            /// The etcd key that holds the lock for this guard.
            pub fn key(&self) -> &str {
                &self.0.key
            }

            /// Whether the lease under this guard is known or presumed gone
            /// (keep-alive failed for longer than the TTL, or the cluster
            /// said the lease no longer exists). Once `true`, other clients
            /// may hold the lock.
            pub fn is_lost(&self) -> bool {
                self.0.inner.lease.is_lost()
            }

            /// Completes when [`is_lost`](Self::is_lost) becomes `true`.
            pub fn lost(&self) -> impl Future<Output = ()> + Send + '_ {
                self.0.inner.lease.until_lost()
            }

            /// Asks the cluster whether this guard's key still holds the lock
            /// (one round trip).
            pub async fn check(&self) -> Result<bool, Error> {
                self.0.still_held().await
            }

            /// Releases the lock now and reports whether etcd accepted it.
            /// Dropping the guard releases too, in a spawned task.
            pub async fn release(self) -> Result<(), Error> {
                self.0.release().await
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("key", &self.0.key)
                    .field("fencing_token", &self.0.token)
                    .finish()
            }
        }
    };
}

guard!(
    /// Shared access to an [`EtcdRwLock`].
    EtcdReadGuard
);
guard!(
    /// Exclusive access to an [`EtcdRwLock`].
    EtcdWriteGuard
);

/// Keeps the lease alive every third of its TTL; marks it lost when the
/// cluster says it is gone or no keep-alive has been acknowledged for a TTL.
async fn keep_alive(mut client: Client, lease: Arc<Lease>) {
    let period = lease.ttl / 3;
    let mut stream_pair = None;
    loop {
        if lease.is_lost() {
            return;
        }
        let sent = lease.origin.elapsed();
        let attempt = async {
            if stream_pair.is_none() {
                stream_pair = Some(client.lease_keep_alive(lease.id).await?);
            }
            let (keeper, stream) = stream_pair.as_mut().expect("just set");
            keeper.keep_alive().await?;
            stream.message().await
        };
        match tokio::time::timeout(period.max(Duration::from_millis(200)), attempt).await {
            Ok(Ok(Some(resp))) if resp.ttl() > 0 => {
                let deadline = (sent + lease.ttl).as_nanos() as u64;
                lease.deadline_ns.fetch_max(deadline, Ordering::AcqRel);
            }
            Ok(Ok(Some(_))) => {
                // TTL 0: the cluster no longer knows the lease.
                lease.mark_lost();
                return;
            }
            _ => stream_pair = None,
        }
        if lease.is_lost() {
            return;
        }
        tokio::time::sleep(period).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "the lease TTL must be at least 1 s")]
    fn a_lease_under_a_second_is_refused() {
        let _ = Options::new().lease_ttl(Duration::from_millis(500));
    }

    #[tokio::test]
    #[should_panic(expected = "a lock name must be non-empty and contain no '/'")]
    async fn a_name_with_a_slash_is_refused() {
        let _ = EtcdRwLock::<PhaseFair>::connect(&["http://127.0.0.1:1"], "a/b", Options::new()).await;
    }
}

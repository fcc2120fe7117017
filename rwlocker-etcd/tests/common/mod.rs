//! Helpers for the tests against a real etcd cluster (started by
//! `scripts/test-etcd.sh`, which sets `RWLOCKER_ETCD_ENDPOINTS`).
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use rwlocker_etcd::etcd_client::{Client, Compare, CompareOp, GetOptions, Txn, TxnOp};
use rwlocker_etcd::{EtcdRwLock, Options, Policy};

/// The cluster's client URLs, or `None` (the caller skips) when no cluster
/// was started for this run.
pub fn endpoints() -> Option<Vec<String>> {
    match std::env::var("RWLOCKER_ETCD_ENDPOINTS") {
        Ok(s) if !s.is_empty() => Some(s.split(',').map(str::to_owned).collect()),
        _ => {
            eprintln!("skipped: no etcd cluster (run scripts/test-etcd.sh)");
            None
        }
    }
}

/// Returns from the test early when no cluster runs.
#[macro_export]
macro_rules! cluster_or_skip {
    () => {
        match common::endpoints() {
            Some(e) => e,
            None => return,
        }
    };
}

/// A lock name no other test or run uses.
pub fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

/// A prefix for this test binary's keys.
pub const PREFIX: &str = "rwlocker-test/";

/// Connects one client (one connection, one lease) to lock `name`.
pub async fn client<P: Policy>(endpoints: &[String], name: &str, ttl_s: u64) -> EtcdRwLock<P> {
    within(
        Duration::from_secs(20),
        EtcdRwLock::<P>::connect(
            endpoints,
            name,
            Options::new().key_prefix(PREFIX).lease_ttl(Duration::from_secs(ttl_s)),
        ),
    )
    .await
    .expect("connect")
}

/// Runs `f`, panicking if it takes longer than `limit`.
pub async fn within<F: Future>(limit: Duration, f: F) -> F::Output {
    match tokio::time::timeout(limit, f).await {
        Ok(v) => v,
        Err(_) => panic!("did not finish within {limit:?}"),
    }
}

/// Waits (bounded) until `n` keys are queued under lock `name`.
pub async fn wait_queued(client: &mut Client, name: &str, n: usize) {
    let prefix = format!("{PREFIX}{name}/");
    within(Duration::from_secs(20), async {
        loop {
            let got =
                client.get(prefix.clone(), Some(GetOptions::new().with_prefix().with_count_only())).await.unwrap();
            if got.count() as usize >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

/// A token as a fixed-width string, so that etcd's byte-wise value compare
/// orders tokens numerically.
pub fn token_text(token: i64) -> String {
    format!("{token:020}")
}

/// Runs the etcd request `op` again while it fails with `Unavailable` (a
/// member is down or a leader is being elected), for at most 20 s.
pub async fn retrying<T, F, Fut>(mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, rwlocker_etcd::etcd_client::Error>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match op().await {
            Ok(v) => return v,
            Err(rwlocker_etcd::etcd_client::Error::GRpcStatus(s))
                if s.code() == tonic::Code::Unavailable && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("etcd request failed: {e}"),
        }
    }
}

/// Sets the fenced resource `key` to token 0.
pub async fn reset_fence(client: &mut Client, key: &str) {
    retrying(|| {
        let mut c = client.clone();
        async move { c.put(key, token_text(0), None).await }
    })
    .await;
}

/// The resource's side of fencing: stores `token` in `key` only if no larger
/// token was stored before. Returns whether the write was accepted.
pub async fn fenced_write(client: &mut Client, key: &str, token: i64) -> bool {
    let t = token_text(token);
    // etcd compares have no "less or equal": refuse when the stored token is greater.
    let txn = Txn::new().when([Compare::value(key, CompareOp::Greater, t.clone())]).or_else([TxnOp::put(key, t, None)]);
    let resp = retrying(|| {
        let (mut c, t) = (client.clone(), txn.clone());
        async move { c.txn(t).await }
    })
    .await;
    !resp.succeeded()
}

/// The token stored in the fenced resource `key`.
pub async fn fence_value(client: &mut Client, key: &str) -> i64 {
    let got = retrying(|| {
        let mut c = client.clone();
        async move { c.get(key, None).await }
    })
    .await;
    got.kvs()[0].value_str().unwrap().parse().unwrap()
}

/// Sets `key` to `value`.
pub async fn put(client: &mut Client, key: &str, value: &str) {
    retrying(|| {
        let mut c = client.clone();
        async move { c.put(key, value, None).await }
    })
    .await;
}

/// Deletes `key`.
pub async fn delete(client: &mut Client, key: &str) {
    retrying(|| {
        let mut c = client.clone();
        async move { c.delete(key, None).await }
    })
    .await;
}

/// Whether `key` exists.
pub async fn exists(client: &mut Client, key: &str) -> bool {
    let got = retrying(|| {
        let mut c = client.clone();
        async move { c.get(key, None).await }
    })
    .await;
    !got.kvs().is_empty()
}

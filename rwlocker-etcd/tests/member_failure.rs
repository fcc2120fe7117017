//! One etcd member (the leader) is killed with SIGKILL while clients hold
//! and wait: the lock keeps working on the two members left.
//!
//! Runs only where `RWLOCKER_ETCD_KILL_MEMBER=1` (scripts/test-etcd.sh runs
//! it last, alone, since the cluster stays one member short afterwards).

mod common;

use std::time::Duration;

use rwlocker_etcd::etcd_client::Client;
use rwlocker_etcd::PhaseFair;

const T: Duration = Duration::from_secs(30);

/// The index of the member that leads the cluster now.
async fn leader(endpoints: &[String]) -> usize {
    for (i, e) in endpoints.iter().enumerate() {
        let mut c = common::within(T, Client::connect([e], None)).await.unwrap();
        let s = common::within(T, c.status()).await.unwrap();
        if s.leader() == s.header().unwrap().member_id() {
            return i;
        }
    }
    panic!("no member says it leads");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_lock_survives_the_loss_of_the_leader() {
    let e = cluster_or_skip!();
    if std::env::var("RWLOCKER_ETCD_KILL_MEMBER").as_deref() != Ok("1") {
        eprintln!("skipped: set RWLOCKER_ETCD_KILL_MEMBER=1 to let this test kill a member");
        return;
    }
    let pids: Vec<u32> = std::env::var("RWLOCKER_ETCD_PIDS")
        .expect("RWLOCKER_ETCD_PIDS")
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), e.len());
    let name = common::unique("member");
    let fence = format!("{}{name}-fence", common::PREFIX);
    let holder = common::client::<PhaseFair>(&e, &name, 10).await;
    let waiter = common::client::<PhaseFair>(&e, &name, 10).await;
    common::reset_fence(&mut holder.client(), &fence).await;

    let g = common::within(T, holder.write()).await.unwrap();
    let queued = tokio::spawn(async move {
        let r = waiter.read().await.unwrap();
        let t = r.fencing_token();
        r.release().await.unwrap();
        t
    });
    common::wait_queued(&mut holder.client(), &name, 2).await;

    let victim = leader(&e).await;
    let ok = std::process::Command::new("kill").args(["-KILL", &pids[victim].to_string()]).status().unwrap();
    assert!(ok.success());
    eprintln!("killed member {} (the leader)", victim + 1);

    // The holder still holds, and the waiting reader does not get in while it does.
    assert!(common::within(T, g.check()).await.unwrap(), "the holder's key survived the leader's death");
    assert!(!queued.is_finished());
    let t1 = g.fencing_token();
    common::within(T, g.release()).await.unwrap();
    let tr = common::within(T, queued).await.unwrap();
    assert!(tr > t1);

    // New clients (all three endpoints, one of them dead) acquire and release,
    // fenced, several times.
    let mut tasks = vec![];
    for _ in 0..3 {
        let lock = common::client::<PhaseFair>(&e, &name, 10).await;
        let fence = fence.clone();
        tasks.push(tokio::spawn(async move {
            let mut kv = lock.client();
            for _ in 0..3 {
                let g = lock.write().await.unwrap();
                assert!(common::fenced_write(&mut kv, &fence, g.fencing_token()).await);
                assert!(common::fenced_write(&mut kv, &fence, g.fencing_token()).await);
                g.release().await.unwrap();
            }
        }));
    }
    for t in tasks {
        common::within(T, t).await.unwrap();
    }
}

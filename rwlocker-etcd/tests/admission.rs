//! Admission order of each policy, with one client (one connection, one
//! lease) per party, against a real cluster.

mod common;

use std::time::Duration;

use rwlocker_etcd::{Exclusive, PhaseFair, Policy, PolicyKind, ReaderPreferring, WriterPreferring};
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(30);

/// Readers hold, a writer queues, then a new reader tries: only
/// ReaderPreferring lets it in. A writer never gets in beside readers.
async fn new_reader_behind_waiting_writer<P: Policy>(endpoints: &[String]) {
    let name = common::unique(&format!("barging-{:?}", P::KIND));
    let a = common::client::<P>(endpoints, &name, 5).await;
    let b = common::client::<P>(endpoints, &name, 5).await;
    let c = common::client::<P>(endpoints, &name, 5).await;
    let held = common::within(T, a.read()).await.unwrap();
    assert!(common::within(T, c.try_write()).await.unwrap().is_none(), "{:?}: a writer beside a reader", P::KIND);

    let writer = tokio::spawn(async move { b.write().await.map(|g| g.fencing_token()) });
    common::wait_queued(&mut a.client(), &name, 2).await;
    let barged = common::within(T, c.try_read()).await.unwrap();
    match P::KIND {
        PolicyKind::ReaderPreferring => assert!(barged.is_some(), "ReaderPreferring ignores waiting writers"),
        k => assert!(barged.is_none(), "{k:?}: a reader got in past a waiting writer"),
    }
    drop(barged);
    common::within(T, held.release()).await.unwrap();
    let token = common::within(T, writer).await.unwrap().unwrap();
    assert!(token > 0);
}

/// Writer 1 holds; reader R queues; writer 2 queues behind R; writer 1
/// releases. Returns the order in which the three were admitted.
async fn order_after_writer<P: Policy>(endpoints: &[String]) -> Vec<&'static str> {
    let name = common::unique(&format!("order-{:?}", P::KIND));
    let w1 = common::client::<P>(endpoints, &name, 5).await;
    let r = common::client::<P>(endpoints, &name, 5).await;
    let w2 = common::client::<P>(endpoints, &name, 5).await;
    let mut probe = w1.client();
    let (tx, mut rx) = mpsc::unbounded_channel();

    let g1 = common::within(T, w1.write()).await.unwrap();
    let tx_r = tx.clone();
    let reader = tokio::spawn(async move {
        let g = r.read().await.unwrap();
        tx_r.send("R").unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        g.release().await.unwrap();
    });
    common::wait_queued(&mut probe, &name, 2).await;
    let tx_w = tx.clone();
    let writer = tokio::spawn(async move {
        let g = w2.write().await.unwrap();
        tx_w.send("W2").unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        g.release().await.unwrap();
    });
    common::wait_queued(&mut probe, &name, 3).await;
    assert!(rx.try_recv().is_err(), "{:?}: admitted while a writer holds", P::KIND);
    common::within(T, g1.release()).await.unwrap();
    common::within(T, reader).await.unwrap();
    common::within(T, writer).await.unwrap();
    drop(tx);
    let mut order = vec![];
    while let Some(who) = rx.recv().await {
        order.push(who);
    }
    order
}

/// Writer 1 holds; writer 2 queues; reader R queues behind writer 2; writer
/// 1 releases. Returns the order in which writer 2 and R were admitted.
async fn order_reader_behind_writer<P: Policy>(endpoints: &[String]) -> Vec<&'static str> {
    let name = common::unique(&format!("order2-{:?}", P::KIND));
    let w1 = common::client::<P>(endpoints, &name, 5).await;
    let w2 = common::client::<P>(endpoints, &name, 5).await;
    let r = common::client::<P>(endpoints, &name, 5).await;
    let mut probe = w1.client();
    let (tx, mut rx) = mpsc::unbounded_channel();

    let g1 = common::within(T, w1.write()).await.unwrap();
    let tx_w = tx.clone();
    let writer = tokio::spawn(async move {
        let g = w2.write().await.unwrap();
        tx_w.send("W2").unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        g.release().await.unwrap();
    });
    common::wait_queued(&mut probe, &name, 2).await;
    let tx_r = tx.clone();
    let reader = tokio::spawn(async move {
        let g = r.read().await.unwrap();
        tx_r.send("R").unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        g.release().await.unwrap();
    });
    common::wait_queued(&mut probe, &name, 3).await;
    common::within(T, g1.release()).await.unwrap();
    common::within(T, reader).await.unwrap();
    common::within(T, writer).await.unwrap();
    drop(tx);
    let mut order = vec![];
    while let Some(who) = rx.recv().await {
        order.push(who);
    }
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_releasing_writer_hands_over_per_policy() {
    let e = cluster_or_skip!();
    let (rp, wp, pf, ex) = tokio::join!(
        order_reader_behind_writer::<ReaderPreferring>(&e),
        order_reader_behind_writer::<WriterPreferring>(&e),
        order_reader_behind_writer::<PhaseFair>(&e),
        order_reader_behind_writer::<Exclusive>(&e),
    );
    // The writer queued first.
    assert_eq!(rp, ["R", "W2"], "ReaderPreferring: the waiting readers go first");
    assert_eq!(wp, ["W2", "R"], "WriterPreferring");
    assert_eq!(pf, ["R", "W2"], "PhaseFair: the reader waited for writer 1 only");
    assert_eq!(ex, ["W2", "R"], "Exclusive: FIFO");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_reader_preferring_lets_a_reader_pass_a_waiting_writer() {
    let e = cluster_or_skip!();
    tokio::join!(
        new_reader_behind_waiting_writer::<ReaderPreferring>(&e),
        new_reader_behind_waiting_writer::<WriterPreferring>(&e),
        new_reader_behind_waiting_writer::<PhaseFair>(&e),
        new_reader_behind_waiting_writer::<Exclusive>(&e),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn who_follows_a_releasing_writer() {
    let e = cluster_or_skip!();
    let (rp, wp, pf, ex) = tokio::join!(
        order_after_writer::<ReaderPreferring>(&e),
        order_after_writer::<WriterPreferring>(&e),
        order_after_writer::<PhaseFair>(&e),
        order_after_writer::<Exclusive>(&e),
    );
    // The reader queued first; only WriterPreferring puts the writer first.
    assert_eq!(rp, ["R", "W2"], "ReaderPreferring");
    assert_eq!(wp, ["W2", "R"], "WriterPreferring: waiting writers go before waiting readers");
    assert_eq!(pf, ["R", "W2"], "PhaseFair: the readers waiting for writer 1 go next");
    assert_eq!(ex, ["R", "W2"], "Exclusive: FIFO");
}

/// PhaseFair: a reader that queued while writer 2 waited behind a read phase
/// waits for writer 2 (at most one writer), while readers sharing the current
/// phase overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn phase_fair_readers_share_and_wait_for_one_writer() {
    let e = cluster_or_skip!();
    let name = common::unique("phases");
    let r1 = common::client::<PhaseFair>(&e, &name, 5).await;
    let r2 = common::client::<PhaseFair>(&e, &name, 5).await;
    let w = common::client::<PhaseFair>(&e, &name, 5).await;
    let r3 = common::client::<PhaseFair>(&e, &name, 5).await;
    let g1 = common::within(T, r1.read()).await.unwrap();
    let g2 = common::within(T, r2.try_read()).await.unwrap().expect("readers share");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let tx_w = tx.clone();
    let writer = tokio::spawn(async move {
        let g = w.write().await.unwrap();
        tx_w.send("W").unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        g.release().await.unwrap();
    });
    common::wait_queued(&mut r1.client(), &name, 3).await;
    assert!(common::within(T, r3.try_read()).await.unwrap().is_none(), "the new reader waits for the writer");
    let late = tokio::spawn(async move {
        let g = r3.read().await.unwrap();
        tx.send("R3").unwrap();
        g.release().await.unwrap();
    });
    common::wait_queued(&mut r1.client(), &name, 4).await;
    drop(g1);
    common::within(T, g2.release()).await.unwrap();
    common::within(T, writer).await.unwrap();
    common::within(T, late).await.unwrap();
    let order = [rx.recv().await.unwrap(), rx.recv().await.unwrap()];
    assert_eq!(order, ["W", "R3"], "the late reader waits for the writer it queued behind");
}

/// A timed-out or dropped acquire leaves no key behind, and the writer it
/// held back is admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelled_acquires_remove_their_keys() {
    let e = cluster_or_skip!();
    let name = common::unique("cancel");
    let a = common::client::<PhaseFair>(&e, &name, 5).await;
    let b = common::client::<PhaseFair>(&e, &name, 5).await;
    let c = common::client::<PhaseFair>(&e, &name, 5).await;
    let mut probe = a.client();
    let held = common::within(T, a.read()).await.unwrap();
    // A writer times out: its key goes, so readers are no longer held back.
    assert!(common::within(T, b.try_write_for(Duration::from_millis(300))).await.unwrap().is_none());
    let r = common::within(T, c.try_read()).await.unwrap().expect("the timed-out writer left no key");
    drop(r);
    // A dropped acquire future, likewise.
    let dropped = tokio::spawn(async move { b.write().await.map(|g| g.fencing_token()) });
    common::wait_queued(&mut probe, &name, 2).await;
    dropped.abort();
    let _ = dropped.await;
    let _r = common::within(T, async {
        loop {
            if let Some(g) = c.try_read().await.unwrap() {
                break g;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    drop(held);
}

/// WriterPreferring: a queued writer that is slow to take its turn still
/// keeps readers out. The writer here is a bare key that never marks itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writer_preferring_readers_wait_for_a_slow_queued_writer() {
    let e = cluster_or_skip!();
    let name = common::unique("slow-writer");
    let a = common::client::<WriterPreferring>(&e, &name, 5).await;
    let r = common::client::<WriterPreferring>(&e, &name, 5).await;
    let mut kv = a.client();
    let g = common::within(T, a.write()).await.unwrap();
    let reader = tokio::spawn(async move { r.read().await.unwrap().fencing_token() });
    common::wait_queued(&mut kv, &name, 2).await;
    let slow = format!("{}{name}/w/slow", common::PREFIX);
    let opts = rwlocker_etcd::etcd_client::PutOptions::new().with_lease(a.lease_id());
    kv.put(slow.clone(), "", Some(opts)).await.unwrap();
    common::within(T, g.release()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!reader.is_finished(), "a reader got in while a writer was queued");
    kv.delete(slow, None).await.unwrap();
    common::within(T, reader).await.unwrap();
}

//! Exclusion under many concurrent clients, checked at the resource through
//! the fencing tokens: every writer stores its token in a fenced key when it
//! is admitted and again before it releases, and each store only succeeds
//! when no larger token was stored before. A second writer admitted while
//! the first holds would store a larger token in between, and the first
//! writer's second store would be refused. A reader checks that the stored
//! token does not change while it holds.

mod common;

use std::time::Duration;

use rwlocker_etcd::{Exclusive, PhaseFair, Policy, ReaderPreferring, WriterPreferring};

const WRITERS: usize = 5;
const READERS: usize = 4;
const ROUNDS: usize = 4;

async fn run<P: Policy>(endpoints: &[String]) {
    let name = common::unique(&format!("excl-{:?}", P::KIND));
    let fence = format!("{}{name}-fence", common::PREFIX);
    let setup = common::client::<P>(endpoints, &name, 5).await;
    common::reset_fence(&mut setup.client(), &fence).await;

    let mut tasks = vec![];
    for i in 0..WRITERS + READERS {
        let lock = common::client::<P>(endpoints, &name, 5).await;
        let fence = fence.clone();
        tasks.push(tokio::spawn(async move {
            let mut kv = lock.client();
            let mut last = 0;
            for _ in 0..ROUNDS {
                if i < WRITERS {
                    let g = lock.write().await.unwrap();
                    let t = g.fencing_token();
                    assert!(t > last, "tokens of one client increase");
                    last = t;
                    assert!(
                        common::fenced_write(&mut kv, &fence, t).await,
                        "{:?}: a later writer stored first",
                        P::KIND
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    assert!(common::fenced_write(&mut kv, &fence, t).await, "{:?}: two writers held at once", P::KIND);
                    g.release().await.unwrap();
                } else {
                    let g = lock.read().await.unwrap();
                    let before = common::fence_value(&mut kv, &fence).await;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    let after = common::fence_value(&mut kv, &fence).await;
                    assert_eq!(before, after, "{:?}: a writer stored while a reader held", P::KIND);
                    g.release().await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        common::within(Duration::from_secs(60), t).await.unwrap();
    }
    // Every writer stored its last token, so the fence moved.
    assert!(common::fence_value(&mut setup.client(), &fence).await > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_clients_never_overlap_a_writer() {
    let e = cluster_or_skip!();
    tokio::join!(run::<PhaseFair>(&e), run::<WriterPreferring>(&e), run::<ReaderPreferring>(&e), run::<Exclusive>(&e));
}

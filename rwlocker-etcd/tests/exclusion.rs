//! Exclusion under many concurrent clients, checked at the resource through
//! the fencing tokens: every writer stores its token in a fenced key when it
//! is admitted and again before it releases, and each store only succeeds
//! when no larger token was stored before. A second writer admitted while
//! the first holds would store a larger token in between, and the first
//! writer's second store would be refused. While it holds, a writer also
//! keeps a "writing" key; a reader checks that this key is absent and that
//! the stored token does not change while it holds.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rwlocker_etcd::{Exclusive, PhaseFair, Policy, ReaderPreferring, WriterPreferring};

const WRITERS: usize = 5;
const READERS: usize = 4;
const ROUNDS: usize = 4;
const READER_ROUNDS: usize = 60;

async fn run<P: Policy>(endpoints: &[String]) {
    let name = common::unique(&format!("excl-{:?}", P::KIND));
    let fence = format!("{}{name}-fence", common::PREFIX);
    let setup = common::client::<P>(endpoints, &name, 5).await;
    common::reset_fence(&mut setup.client(), &fence).await;

    let writers_done = Arc::new(AtomicUsize::new(0));
    let mut tasks = vec![];
    for i in 0..WRITERS + READERS {
        let writers_done = writers_done.clone();
        let lock = common::client::<P>(endpoints, &name, 5).await;
        let fence = fence.clone();
        let busy = format!("{fence}-writing");
        tasks.push(tokio::spawn(async move {
            let mut kv = lock.client();
            let mut last = 0;
            // Writers take ROUNDS turns; readers keep coming (up to
            // READER_ROUNDS turns) until every writer is done, so that reads
            // and writes interleave throughout.
            for round in 0.. {
                let writer = i < WRITERS;
                if (writer && round == ROUNDS)
                    || (!writer && (round == READER_ROUNDS || writers_done.load(Ordering::SeqCst) == WRITERS))
                {
                    break;
                }
                if writer {
                    let g = lock.write().await.unwrap();
                    let t = g.fencing_token();
                    assert!(t > last, "tokens of one client increase");
                    last = t;
                    assert!(
                        common::fenced_write(&mut kv, &fence, t).await,
                        "{:?}: a later writer stored first",
                        P::KIND
                    );
                    common::put(&mut kv, &busy, &t.to_string()).await;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    common::delete(&mut kv, &busy).await;
                    assert!(common::fenced_write(&mut kv, &fence, t).await, "{:?}: two writers held at once", P::KIND);
                    g.release().await.unwrap();
                } else {
                    let g = lock.read().await.unwrap();
                    let before = common::fence_value(&mut kv, &fence).await;
                    assert!(!common::exists(&mut kv, &busy).await, "{:?}: a writer held beside a reader", P::KIND);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    assert!(!common::exists(&mut kv, &busy).await, "{:?}: a writer held beside a reader", P::KIND);
                    let after = common::fence_value(&mut kv, &fence).await;
                    assert_eq!(before, after, "{:?}: a writer stored while a reader held", P::KIND);
                    g.release().await.unwrap();
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
            }
            if i < WRITERS {
                writers_done.fetch_add(1, Ordering::SeqCst);
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

//! Faults of a holder process: killed with SIGKILL, or paused with SIGSTOP
//! past its lease TTL. The holder is this test binary run again in the
//! `holder` role (see `holder_role`), so it is a separate process with its
//! own connection and lease.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rwlocker_etcd::PhaseFair;

const ROLE: &str = "RWLOCKER_ETCD_TEST_ROLE";
const TTL_S: u64 = 2;

/// The holder process: takes the write lock on the lock named in
/// `RWLOCKER_ETCD_TEST_LOCK` with a 2 s lease, stores its token in the fenced
/// key, prints `TOKEN n`, then waits (at most 60 s) until its guard is lost;
/// then prints `LOST`, what `check` says, and whether a second fenced store
/// with its token was accepted.
#[tokio::test]
async fn holder_role() {
    if std::env::var(ROLE).as_deref() != Ok("holder") {
        return; // only a role for the tests below
    }
    let e = common::endpoints().unwrap();
    let name = std::env::var("RWLOCKER_ETCD_TEST_LOCK").unwrap();
    let fence = format!("{}{name}-fence", common::PREFIX);
    let lock = common::client::<PhaseFair>(&e, &name, TTL_S).await;
    let mut kv = lock.client();
    let g = lock.write().await.unwrap();
    assert!(common::fenced_write(&mut kv, &fence, g.fencing_token()).await);
    println!("TOKEN {}", g.fencing_token());
    if tokio::time::timeout(Duration::from_secs(60), g.lost()).await.is_err() {
        println!("STILL HELD");
        return;
    }
    println!("LOST");
    println!("CHECK {}", g.check().await.unwrap());
    let accepted = common::fenced_write(&mut kv, &fence, g.fencing_token()).await;
    println!("FENCED {}", if accepted { "ACCEPTED" } else { "REJECTED" });
    assert!(lock.try_write().await.is_err(), "a handle with a lost lease takes no lock");
}

struct Holder {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Holder {
    fn spawn(endpoints: &[String], name: &str) -> Holder {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "holder_role", "--nocapture", "--test-threads=1"])
            .env(ROLE, "holder")
            .env("RWLOCKER_ETCD_ENDPOINTS", endpoints.join(","))
            .env("RWLOCKER_ETCD_TEST_LOCK", name)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Holder { child, lines }
    }

    /// The next line of the holder that starts with `prefix`, within 30 s.
    fn expect(&self, prefix: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                // The test harness may print its own text before ours on a line.
                Ok(line) if line.contains(prefix) => {
                    let at = line.find(prefix).unwrap() + prefix.len();
                    return line[at..].trim().to_owned();
                }
                Ok(_) => {}
                Err(e) => panic!("the holder printed no {prefix:?} line: {e}"),
            }
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill {sig} failed");
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.child.id().to_string()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_holder_lets_others_in_after_its_ttl() {
    let e = cluster_or_skip!();
    let name = common::unique("sigkill");
    let other = common::client::<PhaseFair>(&e, &name, 5).await;
    common::reset_fence(&mut other.client(), &format!("{}{name}-fence", common::PREFIX)).await;
    let holder = Holder::spawn(&e, &name);
    let stale: i64 = tokio::task::block_in_place(|| holder.expect("TOKEN ")).parse().unwrap();
    assert!(other.try_write().await.unwrap().is_none(), "the holder holds");
    holder.signal("-KILL");
    // Its lease ends within the TTL; allow ample time for the cluster.
    let g = common::within(Duration::from_secs(30), other.write()).await.unwrap();
    assert!(g.fencing_token() > stale);
    g.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_holder_learns_it_lost_and_its_fenced_write_is_refused() {
    let e = cluster_or_skip!();
    let name = common::unique("sigstop");
    let fence = format!("{}{name}-fence", common::PREFIX);
    let other = common::client::<PhaseFair>(&e, &name, 5).await;
    let mut kv = other.client();
    common::reset_fence(&mut kv, &fence).await;
    let holder = Holder::spawn(&e, &name);
    let stale: i64 = tokio::task::block_in_place(|| holder.expect("TOKEN ")).parse().unwrap();
    holder.signal("-STOP");
    // The paused holder's lease expires; the other client gets in and stores
    // its larger token at the resource.
    let g = common::within(Duration::from_secs(30), other.write()).await.unwrap();
    assert!(g.fencing_token() > stale);
    assert!(common::fenced_write(&mut kv, &fence, g.fencing_token()).await);
    holder.signal("-CONT");
    let lines =
        tokio::task::block_in_place(|| [holder.expect("LOST"), holder.expect("CHECK "), holder.expect("FENCED ")]);
    assert_eq!(lines[1], "false", "the stale holder's key is gone");
    assert_eq!(lines[2], "REJECTED", "the stale holder's fenced write is refused");
    assert_eq!(common::fence_value(&mut kv, &fence).await, g.fencing_token());
    g.release().await.unwrap();
}

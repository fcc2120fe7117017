//! Benchmark of the distributed lock against etcd's own lock API (a mutex)
//! on the same cluster. Prints one report section in Markdown.
//!
//! ```text
//! RWLOCKER_ETCD_ENDPOINTS=http://127.0.0.1:2379 cargo run --release -p rwlocker-etcd --example etcd_bench [-- --quick]
//! ```
//!
//! `scripts/bench-etcd.sh` starts a local 3-member cluster and runs this.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rwlocker_etcd::etcd_client::{Client, LockOptions};
use rwlocker_etcd::{EtcdRwLock, Options, PhaseFair};

const PREFIX: &str = "rwlocker-bench/";

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn summary(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

async fn connect(endpoints: &[String], name: &str) -> EtcdRwLock<PhaseFair> {
    EtcdRwLock::connect(endpoints, name, Options::new().key_prefix(PREFIX)).await.expect("connect")
}

/// etcd's lock API: one client with its own lease, lock then unlock.
struct EtcdMutex {
    client: Client,
    lease: i64,
    name: String,
}

impl EtcdMutex {
    async fn connect(endpoints: &[String], name: &str) -> Self {
        let mut client = Client::connect(endpoints, None).await.expect("connect");
        let lease = client.lease_grant(10, None).await.expect("lease").id();
        let (mut keeper, mut stream) = client.lease_keep_alive(lease).await.expect("keep-alive");
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(3)).await;
                if keeper.keep_alive().await.is_err() || stream.message().await.is_err() {
                    return;
                }
            }
        });
        EtcdMutex { client, lease, name: format!("{PREFIX}{name}") }
    }

    async fn cycle(&mut self, hold: Duration) {
        let got = self.client.lock(self.name.clone(), Some(LockOptions::new().with_lease(self.lease))).await;
        let key = got.expect("lock").key().to_vec();
        if !hold.is_zero() {
            tokio::time::sleep(hold).await;
        }
        self.client.unlock(key).await.expect("unlock");
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Read,
    Write,
    EtcdLock,
}

async fn latency(endpoints: &[String], op: Op, n: usize) -> (f64, f64) {
    let name = format!("lat-{}", std::process::id());
    let lock = connect(endpoints, &name).await;
    let mut mutex = EtcdMutex::connect(endpoints, &name).await;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 10 {
        let t = Instant::now();
        match op {
            Op::Read => lock.read().await.unwrap().release().await.unwrap(),
            Op::Write => lock.write().await.unwrap().release().await.unwrap(),
            Op::EtcdLock => mutex.cycle(Duration::ZERO).await,
        }
        if i >= 10 {
            samples.push(t.elapsed());
        }
    }
    summary(samples)
}

/// `clients` clients, each in a loop for `run`: acquire, hold for `hold`,
/// release. `write_every`: every n-th acquisition of a client is a write (0:
/// never). Returns acquisitions per second.
async fn throughput(
    endpoints: &[String],
    clients: usize,
    op: Op,
    write_every: u64,
    hold: Duration,
    run: Duration,
) -> f64 {
    let name = format!("tput-{}-{}", std::process::id(), Instant::now().elapsed().as_nanos());
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = vec![];
    for c in 0..clients {
        let (done, stop, endpoints, name) = (done.clone(), stop.clone(), endpoints.to_vec(), name.clone());
        let start_lock = if op == Op::EtcdLock { None } else { Some(connect(&endpoints, &name).await) };
        let mut mutex = if op == Op::EtcdLock { Some(EtcdMutex::connect(&endpoints, &name).await) } else { None };
        tasks.push(tokio::spawn(async move {
            let mut i = c as u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                match (&start_lock, &mut mutex) {
                    (Some(lock), _) => {
                        if write_every != 0 && i % write_every == 0 {
                            let g = lock.write().await.unwrap();
                            tokio::time::sleep(hold).await;
                            g.release().await.unwrap();
                        } else {
                            let g = lock.read().await.unwrap();
                            tokio::time::sleep(hold).await;
                            g.release().await.unwrap();
                        }
                    }
                    (None, Some(m)) => m.cycle(hold).await,
                    _ => unreachable!(),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let t = Instant::now();
    tokio::time::sleep(run).await;
    stop.store(true, Ordering::Relaxed);
    let n = done.load(Ordering::Relaxed);
    let secs = t.elapsed().as_secs_f64();
    for task in tasks {
        task.await.unwrap();
    }
    n as f64 / secs
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let endpoints: Vec<String> = std::env::var("RWLOCKER_ETCD_ENDPOINTS")
        .expect("set RWLOCKER_ETCD_ENDPOINTS (scripts/bench-etcd.sh does)")
        .split(',')
        .map(str::to_owned)
        .collect();
    let (n, run) = if quick { (100, Duration::from_secs(2)) } else { (400, Duration::from_secs(5)) };
    let clients = 8;
    let hold = Duration::from_millis(5);

    println!("## Distributed lock on etcd (rwlocker-etcd)\n");
    println!(
        "Local {}-member etcd cluster on loopback, one client per connection and lease, policy PhaseFair.\n",
        endpoints.len()
    );
    println!("Acquire + release, one client, uncontended ({n} cycles):\n");
    println!("| operation | p50 ms | p99 ms |");
    println!("|---|---:|---:|");
    for (label, op) in
        [("rwlocker-etcd write", Op::Write), ("rwlocker-etcd read", Op::Read), ("etcd lock API (mutex)", Op::EtcdLock)]
    {
        let (p50, p99) = latency(&endpoints, op, n).await;
        println!("| {label} | {p50:.2} | {p99:.2} |");
    }
    println!(
        "\nThroughput, {clients} clients, each holding for {} ms per acquisition, {} s per row:\n",
        hold.as_millis(),
        run.as_secs()
    );
    println!("| workload | acquisitions/s |");
    println!("|---|---:|");
    for (label, op, every) in [
        ("rwlocker-etcd, reads only (readers share)", Op::Read, 0),
        ("rwlocker-etcd, 1 write in 10", Op::Read, 10),
        ("rwlocker-etcd, writes only", Op::Write, 1),
        ("etcd lock API (mutex)", Op::EtcdLock, 0),
    ] {
        let tput = throughput(&endpoints, clients, op, every, hold, run).await;
        println!("| {label} | {tput:.0} |");
    }
}

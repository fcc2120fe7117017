//! B10: condition-variable broadcast wake-up (docs/BENCHMARKS.md).
//!
//! N waiter threads each take the lock, announce themselves (a counter
//! incremented under the lock), and wait on the condition variable until
//! an epoch changes. Once all N have announced, the notifier sleeps briefly
//! (so the last one is asleep, not still on its way), takes the write lock
//! (it can only get it once the last waiter has released it inside `wait`,
//! so all N are registered), bumps the epoch, stamps `t0` and calls
//! `notify_all` under the lock. Each waiter stamps the time as soon as it
//! holds the lock again. *Last-wake* = latest stamp − `t0` (when the whole
//! batch is back inside), *first-wake* = earliest stamp − `t0`; p50/p90
//! over the rounds of a trial. *Futile wake-ups* count the condition checks
//! beyond the two a waiter needs (a waiter that woke and had to wait again).
//!
//! Case (a): the waiters hold **read** guards (rwlocker's `RwCondvar` with an
//! `RwLock` read guard: woken readers may re-enter together); case (b):
//! **write** guards (woken writers get the lock one at a time). std and
//! parking_lot have no condition variable for a reader-writer lock, so
//! their waiters hold their `Mutex` in both cases: they are the baselines.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use super::Scenario;
use crate::contenders::{Baseline, CondvarContender, LockKind};
use crate::harness::{
    self, assert_total, percentile, violation, Checker, Column, CondvarBench, Ctx, Mode, Phase, Sample, ScenarioReport,
};

pub struct CondvarBroadcast;

/// How long the notifier waits after the last waiter announced itself.
const SETTLE: Duration = Duration::from_micros(300);

struct Case {
    waiters: usize,
    rounds: usize,
    /// Waiters hold write guards (case b) instead of read guards (case a).
    write: bool,
}

impl Case {
    fn label(&self) -> String {
        let (tag, mode) = if self.write { ("b", "write") } else { ("a", "read") };
        format!("({tag}) {} {mode}-guard waiters", self.waiters)
    }
}

impl CondvarBench for Case {
    fn run<C: CondvarContender>(&self, phase: Phase) -> Sample {
        let rounds = if phase == Phase::Warmup { 2 } else { self.rounds };
        let n = self.waiters;
        let cv = C::new(0);
        let check = Checker::new(if self.write { LockKind::Mutex } else { C::INFO.kind });
        let announced = AtomicUsize::new(0);
        let barrier = Barrier::new(n + 1);
        let (t0s, stamps, futile) = thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let (cv, check, announced, barrier) = (&cv, &check, &announced, &barrier);
                    let write = self.write;
                    thread::Builder::new()
                        .stack_size(128 * 1024)
                        .spawn_scoped(s, move || {
                            let mut stamps = Vec::with_capacity(rounds);
                            let mut futile = 0u64;
                            for k in 0..rounds as u64 {
                                barrier.wait();
                                let mut checks = 0u64;
                                let announce = |_: &u64| {
                                    announced.fetch_add(1, SeqCst);
                                };
                                let waiting = |v: &u64| {
                                    checks += 1;
                                    *v <= k
                                };
                                let seen = |v: &u64| {
                                    let t = Instant::now();
                                    if *v != k + 1 {
                                        violation("a woken waiter does not see the epoch its notifier set");
                                    }
                                    t
                                };
                                let t = if write {
                                    cv.write_wait_while(|v| announce(v), waiting, |v| check.write(|| seen(v)))
                                } else {
                                    cv.read_wait_while(announce, waiting, |v| check.read(|| seen(v)))
                                };
                                stamps.push(t);
                                futile += checks.saturating_sub(2);
                            }
                            (stamps, futile)
                        })
                        .expect("spawn a condvar waiter")
                })
                .collect();
            let mut t0s = Vec::with_capacity(rounds);
            for k in 0..rounds {
                barrier.wait();
                while announced.load(SeqCst) < n * (k + 1) {
                    thread::sleep(Duration::from_micros(20));
                }
                thread::sleep(SETTLE);
                cv.write(|v| {
                    check.write(|| *v += 1);
                    t0s.push(Instant::now());
                    cv.notify_all();
                });
            }
            let mut stamps = Vec::with_capacity(n);
            let mut futile = 0;
            for h in handles {
                let (s, f) = harness::join(h);
                stamps.push(s);
                futile += f;
            }
            (t0s, stamps, futile)
        });
        assert_total("epochs", cv.into_inner(), rounds as u64);
        let mut last = Vec::with_capacity(rounds);
        let mut first = Vec::with_capacity(rounds);
        for (k, &t0) in t0s.iter().enumerate() {
            let at = |w: &Vec<Instant>| w[k].checked_duration_since(t0).map(|d| d.as_nanos() as u64);
            let Some(lats) = stamps.iter().map(at).collect::<Option<Vec<u64>>>() else {
                violation("a waiter returned from wait before the notification")
            };
            last.push(*lats.iter().max().unwrap());
            first.push(*lats.iter().min().unwrap());
        }
        last.sort_unstable();
        first.sort_unstable();
        Sample::of("last_p50_us", percentile(&last, 50.0) / 1e3)
            .with("last_p90_us", percentile(&last, 90.0) / 1e3)
            .with("first_p50_us", percentile(&first, 50.0) / 1e3)
            .with("futile_per_notify", futile as f64 / rounds as f64)
    }
}

impl Scenario for CondvarBroadcast {
    fn id(&self) -> &'static str {
        "B10"
    }
    fn title(&self) -> &'static str {
        "condvar broadcast wake-up"
    }
    fn about(&self) -> &'static str {
        "N waiters on one condition variable, a writer bumps an epoch and calls notify_all under the lock: time \
         until the last (and the first) waiter holds the lock again. (a) read-guard waiters, (b) write-guard \
         waiters; std and parking_lot wait with their Mutex in both cases."
    }

    fn run(&self, ctx: &mut Ctx, report: &mut ScenarioReport) {
        report.primary = Some("last_p50_us");
        report.baselines = vec![Baseline::STD_CONDVAR, Baseline::PL_CONDVAR, Baseline::PL013_CONDVAR];
        report.columns = vec![
            Column::metric("last_p50_us", "last-wake p50 µs", 1),
            Column::plain("last_p90_us", "last p90 µs", 1),
            Column::plain("first_p50_us", "first-wake p50 µs", 1),
            Column::plain("futile_per_notify", "futile/notify", 2),
        ];
        let sizes: &[usize] = match ctx.cfg.mode {
            Mode::Smoke => &[8],
            Mode::Quick => &[64],
            Mode::Full => &[8, 64],
        };
        let rounds = ctx.cfg.pick(3, 20, 50);
        for &waiters in sizes {
            for write in [false, true] {
                let case = Case { waiters, rounds, write };
                let label = case.label();
                let rows = ctx.run_condvar_case_with(label.clone(), &case, ctx.cfg.plan);
                report.rows.extend(rows);
                if waiters == *sizes.last().unwrap() {
                    report.headline_log(
                        &label,
                        "last_p50_us",
                        format!("B10 condvar broadcast {label}: last-wake p50"),
                        "µs, log scale (lower is better)",
                    );
                }
            }
        }
        report.notes.push(format!(
            "{rounds} notify_all rounds per trial (p50/p90 over the rounds, then the median over trials); the \
             notifier waits {} µs after the last waiter announced itself; targets: (a) last-wake <= 0.25x std's \
             and parking_lot's, (b) <= 1.1x parking_lot's",
            SETTLE.as_micros()
        ));
    }
}

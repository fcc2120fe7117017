//! The engine's clock: nanoseconds since its first use in this process.
//!
//! The default mode checks the starvation bound on contended paths: every
//! arrival that finds a free lock with waiters queued compares the oldest
//! waiter's deadline with the clock before it barges (docs/SEMANTICS.md
//! §2a). When tasks hammer a lock, that is most acquisitions, and the OS
//! clock (`clock_gettime` through the vDSO, 30–60 ns) became a quarter of
//! their cost. So on x86-64 with an invariant time-stamp counter the clock
//! reads the counter instead (about 10 ns), scaled to nanoseconds:
//!
//! * Until [`CALIBRATE_AFTER`] has passed since the first reading, readings
//!   come from [`Instant`], and the first one also notes the counter.
//! * The first reading after that divides the nanoseconds passed by the
//!   ticks passed (a window of at least 20 ms, so the rate is exact to a few
//!   parts per million) and fixes a base point; from then on a reading is the
//!   base point plus the ticks since, scaled. The switch is seamless: the
//!   base point is an `Instant` reading.
//!
//! Only differences of a few milliseconds matter to the engine (a waiter's
//! age, a bias inhibit window), so a rate error of parts per million is
//! irrelevant. An invariant counter runs at a constant rate in every power
//! state and is synchronised across cores by the hardware; a reading on
//! another core may still be a few tens of nanoseconds behind one taken
//! just before, so users subtract with `saturating_sub`. Elsewhere (other
//! architectures, a counter the CPU does not declare invariant) the clock is
//! [`Instant`].

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long the clock reads [`Instant`] before it calibrates the counter.
const CALIBRATE_AFTER: Duration = Duration::from_millis(20);

/// Where the clock starts: an `Instant` and, where the counter is usable,
/// the counter at the same moment.
struct Epoch {
    at: Instant,
    ticks: Option<u64>,
}

/// The counter's scale, fixed once: `ns = base_ns + (ticks - base_ticks) *
/// ns_per_tick_q32 >> 32`.
struct Scale {
    base_ticks: u64,
    base_ns: u64,
    ns_per_tick_q32: u64,
}

static EPOCH: OnceLock<Epoch> = OnceLock::new();
static SCALE: OnceLock<Scale> = OnceLock::new();

/// Nanoseconds since the clock's first reading in this process (monotonic
/// on one thread; a `u64` of nanoseconds lasts 584 years).
#[inline]
pub(crate) fn now_ns() -> u64 {
    if let Some(scale) = SCALE.get() {
        // (The scale is fixed only where the counter is usable.)
        let since = counter::ticks().saturating_sub(scale.base_ticks);
        return scale.base_ns + ((u128::from(since) * u128::from(scale.ns_per_tick_q32)) >> 32) as u64;
    }
    now_ns_uncalibrated()
}

/// A reading before the counter is calibrated (or where it is not used);
/// calibrates it once the window has passed.
#[cold]
fn now_ns_uncalibrated() -> u64 {
    let epoch = EPOCH.get_or_init(|| Epoch { at: Instant::now(), ticks: counter::read() });
    let ticks = counter::read();
    let ns = epoch.at.elapsed().as_nanos() as u64;
    if let (Some(t0), Some(t)) = (epoch.ticks, ticks) {
        if ns >= CALIBRATE_AFTER.as_nanos() as u64 && t > t0 {
            let ns_per_tick_q32 = ((u128::from(ns) << 32) / u128::from(t - t0)) as u64;
            // Racing calibrations compute nearly the same scale; the first
            // one stays.
            let _ = SCALE.set(Scale { base_ticks: t, base_ns: ns, ns_per_tick_q32 });
        }
    }
    ns
}

#[cfg(target_arch = "x86_64")]
mod counter {
    use std::sync::atomic::{AtomicU8, Ordering};

    /// 0: not checked yet, 1: invariant counter, 2: not usable.
    static USABLE: AtomicU8 = AtomicU8::new(0);

    /// The time-stamp counter, if the CPU declares it invariant (constant
    /// rate, never stopped: CPUID leaf `0x8000_0007`, EDX bit 8).
    pub(super) fn read() -> Option<u64> {
        match USABLE.load(Ordering::Relaxed) {
            1 => Some(ticks()),
            0 if check() => Some(ticks()),
            _ => None,
        }
    }

    /// The time-stamp counter, unchecked (for readings after [`read`] has
    /// said it is usable).
    #[inline]
    pub(super) fn ticks() -> u64 {
        // SAFETY: `rdtsc` exists on every x86-64 CPU and only reads the
        // counter.
        unsafe { core::arch::x86_64::_rdtsc() }
    }

    #[cold]
    fn check() -> bool {
        // SAFETY: `cpuid` exists on every x86-64 CPU and only reports; the
        // extended leaf is queried only if the CPU reports that it has it.
        // (`__cpuid` is a safe function from Rust 1.89 on; the block keeps
        // the minimum supported version building.)
        #[allow(unused_unsafe)]
        let invariant = unsafe {
            use core::arch::x86_64::__cpuid;
            __cpuid(0x8000_0000).eax >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0
        };
        USABLE.store(if invariant { 1 } else { 2 }, Ordering::Relaxed);
        invariant
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod counter {
    /// No counter: the clock stays on `Instant`.
    pub(super) fn read() -> Option<u64> {
        None
    }

    /// Never called: without a counter the scale is never fixed.
    pub(super) fn ticks() -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clock keeps pace with `Instant` across the calibration switch
    /// (a wrong scale, say ticks taken for nanoseconds, is off by the
    /// counter's rate, a factor of 2 or more).
    #[test]
    fn keeps_pace_with_instant() {
        let start = Instant::now();
        let c0 = now_ns();
        while start.elapsed() < CALIBRATE_AFTER * 3 {
            std::thread::sleep(Duration::from_millis(1));
            let _ = now_ns();
        }
        let c1 = now_ns();
        let real = start.elapsed().as_nanos() as u64;
        let measured = c1 - c0;
        assert!(
            measured.abs_diff(real) < real / 50 + 200_000,
            "clock measured {measured} ns over {real} ns of Instant"
        );
        // And over a short interval after calibration.
        let start = Instant::now();
        let c0 = now_ns();
        std::thread::sleep(Duration::from_millis(5));
        let measured = now_ns() - c0;
        let real = start.elapsed().as_nanos() as u64;
        assert!(measured.abs_diff(real) < real / 20 + 100_000, "clock measured {measured} ns over {real} ns");
    }

    /// Readings on one thread never go backwards.
    #[test]
    fn monotonic_on_one_thread() {
        let mut last = now_ns();
        for _ in 0..100_000 {
            let t = now_ns();
            assert!(t >= last, "{t} after {last}");
            last = t;
        }
    }
}

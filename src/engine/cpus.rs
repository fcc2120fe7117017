//! How many cores the threads of this process can run on: the number that
//! sizes how many queued waiters spin (see `spinners`).

use std::sync::atomic::{AtomicUsize, Ordering};

/// The cores this process's threads may run on, computed on first use.
///
/// `std::thread::available_parallelism` counts the CPUs in the *calling
/// thread's* affinity mask (capped by any cgroup quota). Cached from a
/// thread pinned to one CPU (a pinned worker is often the first to meet
/// contention), it would make every lock in the process behave as on one
/// core for good, and a many-core machine would queue waiters into a
/// convoy. So, on Linux, when the caller's mask is narrower than the
/// process's (its main thread's), the process's mask is counted instead;
/// a cgroup quota, which only an unpinned caller can see through
/// `available_parallelism`, is then not taken into account.
#[cfg_attr(test, allow(dead_code))]
pub(crate) fn cpus() -> usize {
    static CPUS: AtomicUsize = AtomicUsize::new(0);
    let n = CPUS.load(Ordering::Relaxed);
    if n != 0 {
        return n;
    }
    let n = count();
    CPUS.store(n, Ordering::Relaxed);
    n
}

/// Computes what [`cpus`] caches.
fn count() -> usize {
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `getpid` has no preconditions and cannot fail.
        let process = unsafe { libc::getpid() };
        if let (Some(mine), Some(all)) = (affinity_count(0), affinity_count(process)) {
            if mine < all {
                return all;
            }
        }
    }
    available
}

/// The number of CPUs in the affinity mask of thread `tid` (0: the caller),
/// or `None` if the kernel's mask does not fit a `cpu_set_t`.
#[cfg(target_os = "linux")]
fn affinity_count(tid: libc::pid_t) -> Option<usize> {
    // SAFETY: `cpu_set_t` is plain old data for which all-zeroes is a valid
    // (empty) set; `sched_getaffinity` writes at most the size passed, which
    // is the set's real size; `CPU_COUNT` only reads the set.
    unsafe {
        let mut set: libc::cpu_set_t = core::mem::zeroed();
        if libc::sched_getaffinity(tid, core::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return None;
        }
        usize::try_from(libc::CPU_COUNT(&set)).ok()
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Pins the calling thread to CPU 0; false where that is not allowed.
    fn pin_to_cpu0() -> bool {
        // SAFETY: as in `affinity_count`; the set holds CPU 0 only, and the
        // size passed is the set's real size.
        unsafe {
            let mut set: libc::cpu_set_t = core::mem::zeroed();
            libc::CPU_SET(0, &mut set);
            libc::sched_setaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &set) == 0
        }
    }

    /// A thread pinned to one CPU counts the process's cores, not its own.
    #[test]
    fn pinned_caller_counts_the_process_cores() {
        let unpinned = count();
        let pinned = std::thread::spawn(|| {
            // (Where pinning is not allowed there is nothing to compare.)
            pin_to_cpu0().then(|| {
                assert_eq!(affinity_count(0), Some(1), "the thread is pinned to one CPU");
                count()
            })
        })
        .join()
        .unwrap();
        if let Some(pinned) = pinned {
            assert_eq!(pinned, unpinned, "a pinned caller saw {pinned} cores, the process has {unpinned}");
        }
    }
}

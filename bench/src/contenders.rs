//! The locks that compete in the report, behind one small trait.
//!
//! Every scenario is written once against [`Contender`] and monomorphised
//! for each lock, so a contender pays no dynamic dispatch inside a timed
//! loop. Adding a lock is one `impl Contender` plus one line in
//! [`visit_all`].
//!
//! The protected value is always a `u64` counter: scenarios increment it
//! under the write lock and check the final value (see
//! [`crate::harness::Checker`] for the in-critical-section check).
//!
//! The async locks (B2 async, B6, B13) implement [`AsyncContender`] in
//! [`asynchronous`]; the condition variables (B10, B11) implement
//! [`CondvarContender`] and [`AsyncCondvarContender`] in [`condvars`].
//! Each list has its own visitor, and the harness a `run_*_case` entry per
//! list; the four lists share [`ContenderInfo`], [`Family`] and
//! [`Baseline`].

/// Defines `$name() -> Vec<ContenderInfo>`: every contender of one family
/// (its visitor trait, contender trait and `visit_all` function), in
/// registry order.
macro_rules! infos_fn {
    ($(#[$m:meta])* $name:ident, $Visit:ident, $Contender:ident, $visit_all:ident) => {
        $(#[$m])*
        pub fn $name() -> Vec<ContenderInfo> {
            struct Collect(Vec<ContenderInfo>);
            impl $Visit for Collect {
                fn visit<C: $Contender>(&mut self) {
                    self.0.push(C::INFO);
                }
            }
            let mut c = Collect(Vec::new());
            $visit_all(&mut c);
            c.0
        }
    };
}

mod asynchronous;
mod condvars;

use std::sync::TryLockError;

pub use asynchronous::{all_async_infos, visit_all_async, AsyncContender, AsyncVisit};
pub use condvars::{
    all_async_condvar_infos, all_condvar_infos, visit_all_async_condvars, visit_all_condvars, AsyncCondvarContender,
    AsyncCondvarVisit, CondvarContender, CondvarVisit,
};

use rwlocker::{Exclusive, PhaseFair, ReadBiased, ReaderPreferring, Strict, WriterPreferring};
use serde::Serialize;

/// Who made the lock: rwlocker, or one of the baselines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// This crate.
    Rwlocker,
    /// The standard library.
    Std,
    /// The `parking_lot` crate, release 0.12.
    ParkingLot,
    /// The `parking_lot` crate, release 0.13 (it dropped 0.12's bound on
    /// how long arrivals may barge ahead of a queued waiter).
    #[serde(rename = "parking_lot_013")]
    ParkingLot013,
    /// The `tokio` crate (`tokio::sync`).
    Tokio,
    /// The `async-lock` crate.
    AsyncLock,
}

/// Whether readers share the lock, or every acquisition is exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    /// A reader-writer lock: readers share it.
    RwLock,
    /// A mutex: `read` is an exclusive lock too.
    Mutex,
}

/// What the report says about a contender.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ContenderInfo {
    /// Stable identifier (command line, JSON): `rwlocker-pf`, `std-rwlock`, …
    pub id: &'static str,
    /// Display name in tables and charts.
    pub name: &'static str,
    /// Who made it.
    pub family: Family,
    /// Reader-writer lock or mutex.
    pub kind: LockKind,
    /// Whether this is rwlocker's exact hand-off mode (`Strict<P>`). Such
    /// contenders run only in the scenarios whose bench opts in with
    /// `both_modes` (the contention-sensitive ones); elsewhere the two
    /// modes would measure the same uncontended code.
    pub strict: bool,
    /// Whether this is one of rwlocker's reader-biased locks
    /// (`ReadBiased<P>`). Such contenders run only in the scenarios whose
    /// bench opts in with `biased` (read scaling, the mixes, the writer's
    /// wait, the revocation cost).
    pub biased: bool,
}

/// Sizes of a lock and its guards, in bytes (scenario B14).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Sizes {
    /// `size_of` the lock protecting `()`.
    pub lock_unit: usize,
    /// `size_of` the lock protecting a `u64`.
    pub lock_u64: usize,
    /// `size_of` a read guard (the lock guard for a mutex).
    pub read_guard: usize,
    /// `size_of` a write guard (the lock guard for a mutex).
    pub write_guard: usize,
}

/// A lock protecting a `u64`, as every scenario uses it.
///
/// Access goes through closures so that the guard types stay private to
/// each impl; everything is `#[inline]` and monomorphised, so the timed
/// loops see the lock's own fast path. For a [`LockKind::Mutex`], `read`
/// and `try_read` take the lock exclusively.
pub trait Contender: Send + Sync + Sized + 'static {
    /// Name, family and kind.
    const INFO: ContenderInfo;

    /// A new, unlocked lock holding `value`.
    fn new(value: u64) -> Self;
    /// Runs `f` under a read lock (blocking).
    fn read<R>(&self, f: impl FnOnce(&u64) -> R) -> R;
    /// Runs `f` under the write lock (blocking).
    fn write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R;
    /// Runs `f` under a read lock if one is available at once.
    fn try_read<R>(&self, f: impl FnOnce(&u64) -> R) -> Option<R>;
    /// Runs `f` under the write lock if it is available at once.
    fn try_write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> Option<R>;
    /// Takes the write lock, runs `w`, downgrades atomically to a read lock
    /// and runs `r`. `None` when the lock has no downgrade.
    fn write_downgrade<R>(&self, w: impl FnOnce(&mut u64), r: impl FnOnce(&u64) -> R) -> Option<R>;
    /// The value, consuming the lock.
    fn into_inner(self) -> u64;
    /// Sizes of the lock and its guards.
    fn sizes() -> Sizes;
    /// Whether the lock's reader bias is on now (its reads go by the
    /// biased path, and a write must revoke it first): `None` for a lock
    /// without reader bias.
    fn bias_on(&self) -> Option<bool> {
        None
    }
}

/// Something to do once per contender type (the registry is a visitor so
/// that scenarios stay generic and monomorphised).
pub trait Visit {
    /// Called once for each contender, in the order of [`visit_all`].
    fn visit<C: Contender>(&mut self);
}

/// Visits every contender. The one list to extend when adding a lock.
pub fn visit_all(v: &mut impl Visit) {
    v.visit::<rwlocker::RwLock<u64, ReaderPreferring>>();
    v.visit::<rwlocker::RwLock<u64, WriterPreferring>>();
    v.visit::<rwlocker::RwLock<u64, PhaseFair>>();
    v.visit::<rwlocker::Mutex<u64>>();
    v.visit::<rwlocker::RwLock<u64, Strict<ReaderPreferring>>>();
    v.visit::<rwlocker::RwLock<u64, Strict<WriterPreferring>>>();
    v.visit::<rwlocker::RwLock<u64, Strict<PhaseFair>>>();
    v.visit::<rwlocker::RwLock<u64, Strict<Exclusive>>>();
    v.visit::<rwlocker::RwLock<u64, ReadBiased<ReaderPreferring>>>();
    v.visit::<rwlocker::RwLock<u64, ReadBiased<WriterPreferring>>>();
    v.visit::<rwlocker::RwLock<u64, ReadBiased<PhaseFair>>>();
    v.visit::<std::sync::RwLock<u64>>();
    v.visit::<std::sync::Mutex<u64>>();
    v.visit::<parking_lot::RwLock<u64>>();
    v.visit::<parking_lot::Mutex<u64>>();
    v.visit::<parking_lot_013::RwLock<u64>>();
    v.visit::<parking_lot_013::Mutex<u64>>();
}

infos_fn!(
    /// Every contender's description, in registry order.
    all_infos, Visit, Contender, visit_all
);

/// A baseline a scenario's ratios compare with: its label (a table column
/// `vs <label>`, a key of [`Row::ratios`](crate::harness::Row)) and the
/// contender a reader-writer lock and a mutex are each compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Baseline {
    /// Column label and JSON key.
    pub label: &'static str,
    /// The id a [`LockKind::RwLock`] contender is compared with.
    pub rwlock: &'static str,
    /// The id a [`LockKind::Mutex`] contender is compared with.
    pub mutex: &'static str,
}

impl Baseline {
    /// std's lock of the same kind.
    pub const STD: Baseline = Baseline { label: "std", rwlock: "std-rwlock", mutex: "std-mutex" };
    /// parking_lot 0.12's lock of the same kind.
    pub const PARKING_LOT: Baseline = Baseline { label: "parking_lot", rwlock: "pl-rwlock", mutex: "pl-mutex" };
    /// parking_lot 0.13's lock of the same kind.
    pub const PARKING_LOT_013: Baseline =
        Baseline { label: "parking_lot 0.13", rwlock: "pl013-rwlock", mutex: "pl013-mutex" };
    /// tokio's lock of the same kind.
    pub const TOKIO: Baseline = Baseline { label: "tokio", rwlock: "tokio-rwlock", mutex: "tokio-mutex" };
    /// async-lock's lock of the same kind.
    pub const ASYNC_LOCK: Baseline = Baseline { label: "async-lock", rwlock: "al-rwlock", mutex: "al-mutex" };
    /// std `Condvar` + `Mutex`, for every contender (std has no condvar for
    /// an `RwLock`).
    pub const STD_CONDVAR: Baseline = Baseline { label: "std", rwlock: "std-condvar", mutex: "std-condvar" };
    /// parking_lot 0.12 `Condvar` + `Mutex`, for every contender.
    pub const PL_CONDVAR: Baseline = Baseline { label: "parking_lot", rwlock: "pl-condvar", mutex: "pl-condvar" };
    /// parking_lot 0.13 `Condvar` + `Mutex`, for every contender.
    pub const PL013_CONDVAR: Baseline =
        Baseline { label: "parking_lot 0.13", rwlock: "pl013-condvar", mutex: "pl013-condvar" };
    /// tokio `Mutex` + `Notify` (the exclusive async condition), for every
    /// contender.
    pub const TOKIO_MUTEX_NOTIFY: Baseline =
        Baseline { label: "tokio Mutex", rwlock: "tokio-mutex-notify", mutex: "tokio-mutex-notify" };

    /// The id a contender of `kind` is compared with.
    pub fn id_for(self, kind: LockKind) -> &'static str {
        match kind {
            LockKind::RwLock => self.rwlock,
            LockKind::Mutex => self.mutex,
        }
    }
}

// ---------------------------------------------------------------------------
// rwlocker
// ---------------------------------------------------------------------------

macro_rules! rwlocker_contender {
    ($ty:ty, $id:literal, $name:literal, $kind:ident) => {
        impl Contender for $ty {
            const INFO: ContenderInfo = ContenderInfo {
                id: $id,
                name: $name,
                family: Family::Rwlocker,
                kind: LockKind::$kind,
                strict: <<$ty as UnitOf>::P as rwlocker::Policy>::STRICT,
                biased: <<$ty as UnitOf>::P as rwlocker::Policy>::BIASED,
            };

            #[inline]
            fn new(value: u64) -> Self {
                <$ty>::new(value)
            }
            #[inline]
            fn read<R>(&self, f: impl FnOnce(&u64) -> R) -> R {
                f(&self.read())
            }
            #[inline]
            fn write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
                f(&mut self.write())
            }
            #[inline]
            fn try_read<R>(&self, f: impl FnOnce(&u64) -> R) -> Option<R> {
                self.try_read().map(|g| f(&g))
            }
            #[inline]
            fn try_write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> Option<R> {
                self.try_write().map(|mut g| f(&mut g))
            }
            #[inline]
            fn write_downgrade<R>(&self, w: impl FnOnce(&mut u64), r: impl FnOnce(&u64) -> R) -> Option<R> {
                if LockKind::$kind == LockKind::Mutex {
                    return None;
                }
                let mut g = self.write();
                w(&mut g);
                let g = rwlocker::RwLockWriteGuard::downgrade(g);
                Some(r(&g))
            }
            fn into_inner(self) -> u64 {
                <$ty>::into_inner(self)
            }
            fn sizes() -> Sizes {
                type Unit = <$ty as UnitOf>::Unit;
                Sizes {
                    lock_unit: size_of::<Unit>(),
                    lock_u64: size_of::<$ty>(),
                    read_guard: size_of::<rwlocker::RwLockReadGuard<'static, (), <$ty as UnitOf>::P>>(),
                    write_guard: size_of::<rwlocker::RwLockWriteGuard<'static, (), <$ty as UnitOf>::P>>(),
                }
            }
            #[inline]
            fn bias_on(&self) -> Option<bool> {
                <<$ty as UnitOf>::P as rwlocker::Policy>::BIASED.then(|| self.raw().is_biased())
            }
        }
    };
}

/// Maps a lock of `u64` to the same lock of `()` (for [`Sizes`]).
trait UnitOf {
    type Unit;
    type P: rwlocker::Policy;
}
impl<P: rwlocker::Policy> UnitOf for rwlocker::RwLock<u64, P> {
    type Unit = rwlocker::RwLock<(), P>;
    type P = P;
}

rwlocker_contender!(rwlocker::RwLock<u64, ReaderPreferring>, "rwlocker-rp", "rwlocker ReaderPref", RwLock);
rwlocker_contender!(rwlocker::RwLock<u64, WriterPreferring>, "rwlocker-wp", "rwlocker WriterPref", RwLock);
rwlocker_contender!(rwlocker::RwLock<u64, PhaseFair>, "rwlocker-pf", "rwlocker PhaseFair", RwLock);
rwlocker_contender!(rwlocker::Mutex<u64>, "rwlocker-mutex", "rwlocker Mutex", Mutex);
rwlocker_contender!(
    rwlocker::RwLock<u64, Strict<ReaderPreferring>>,
    "rwlocker-strict-rp",
    "rwlocker Strict<ReaderPref>",
    RwLock
);
rwlocker_contender!(
    rwlocker::RwLock<u64, Strict<WriterPreferring>>,
    "rwlocker-strict-wp",
    "rwlocker Strict<WriterPref>",
    RwLock
);
rwlocker_contender!(rwlocker::RwLock<u64, Strict<PhaseFair>>, "rwlocker-strict-pf", "rwlocker Strict<PhaseFair>", RwLock);
rwlocker_contender!(rwlocker::RwLock<u64, Strict<Exclusive>>, "rwlocker-strict-mutex", "rwlocker Strict<Exclusive>", Mutex);
rwlocker_contender!(
    rwlocker::RwLock<u64, ReadBiased<ReaderPreferring>>,
    "rwlocker-biased-rp",
    "rwlocker ReadBiased<ReaderPref>",
    RwLock
);
rwlocker_contender!(
    rwlocker::RwLock<u64, ReadBiased<WriterPreferring>>,
    "rwlocker-biased-wp",
    "rwlocker ReadBiased<WriterPref>",
    RwLock
);
rwlocker_contender!(
    rwlocker::RwLock<u64, ReadBiased<PhaseFair>>,
    "rwlocker-biased-pf",
    "rwlocker ReadBiased<PhaseFair>",
    RwLock
);

// ---------------------------------------------------------------------------
// std
// ---------------------------------------------------------------------------

/// `Some(guard)` on success, `None` when the lock is busy; poisoning is a
/// bug in the benchmark (a panic inside a critical section) and panics.
fn std_try<G>(r: Result<G, TryLockError<G>>) -> Option<G> {
    match r {
        Ok(g) => Some(g),
        Err(TryLockError::WouldBlock) => None,
        Err(TryLockError::Poisoned(_)) => panic!("std lock poisoned by an earlier panic"),
    }
}

impl Contender for std::sync::RwLock<u64> {
    const INFO: ContenderInfo = ContenderInfo {
        id: "std-rwlock",
        name: "std RwLock",
        family: Family::Std,
        kind: LockKind::RwLock,
        strict: false,
        biased: false,
    };

    #[inline]
    fn new(value: u64) -> Self {
        std::sync::RwLock::new(value)
    }
    #[inline]
    fn read<R>(&self, f: impl FnOnce(&u64) -> R) -> R {
        f(&self.read().unwrap())
    }
    #[inline]
    fn write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
        f(&mut self.write().unwrap())
    }
    #[inline]
    fn try_read<R>(&self, f: impl FnOnce(&u64) -> R) -> Option<R> {
        std_try(self.try_read()).map(|g| f(&g))
    }
    #[inline]
    fn try_write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> Option<R> {
        std_try(self.try_write()).map(|mut g| f(&mut g))
    }
    #[inline]
    fn write_downgrade<R>(&self, w: impl FnOnce(&mut u64), r: impl FnOnce(&u64) -> R) -> Option<R> {
        let mut g = self.write().unwrap();
        w(&mut g);
        let g = std::sync::RwLockWriteGuard::downgrade(g);
        Some(r(&g))
    }
    fn into_inner(self) -> u64 {
        std::sync::RwLock::into_inner(self).unwrap()
    }
    fn sizes() -> Sizes {
        Sizes {
            lock_unit: size_of::<std::sync::RwLock<()>>(),
            lock_u64: size_of::<Self>(),
            read_guard: size_of::<std::sync::RwLockReadGuard<'static, ()>>(),
            write_guard: size_of::<std::sync::RwLockWriteGuard<'static, ()>>(),
        }
    }
}

impl Contender for std::sync::Mutex<u64> {
    const INFO: ContenderInfo = ContenderInfo {
        id: "std-mutex",
        name: "std Mutex",
        family: Family::Std,
        kind: LockKind::Mutex,
        strict: false,
        biased: false,
    };

    #[inline]
    fn new(value: u64) -> Self {
        std::sync::Mutex::new(value)
    }
    #[inline]
    fn read<R>(&self, f: impl FnOnce(&u64) -> R) -> R {
        f(&self.lock().unwrap())
    }
    #[inline]
    fn write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
        f(&mut self.lock().unwrap())
    }
    #[inline]
    fn try_read<R>(&self, f: impl FnOnce(&u64) -> R) -> Option<R> {
        std_try(self.try_lock()).map(|g| f(&g))
    }
    #[inline]
    fn try_write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> Option<R> {
        std_try(self.try_lock()).map(|mut g| f(&mut g))
    }
    fn write_downgrade<R>(&self, _: impl FnOnce(&mut u64), _: impl FnOnce(&u64) -> R) -> Option<R> {
        None
    }
    fn into_inner(self) -> u64 {
        std::sync::Mutex::into_inner(self).unwrap()
    }
    fn sizes() -> Sizes {
        let guard = size_of::<std::sync::MutexGuard<'static, ()>>();
        Sizes {
            lock_unit: size_of::<std::sync::Mutex<()>>(),
            lock_u64: size_of::<Self>(),
            read_guard: guard,
            write_guard: guard,
        }
    }
}

// ---------------------------------------------------------------------------
// parking_lot
// ---------------------------------------------------------------------------

/// Implements [`Contender`] for one parking_lot release's `RwLock` and
/// `Mutex` (`$pl` is the crate, under the name the bench depends on it by).
macro_rules! parking_lot_contenders {
    ($pl:ident, $family:ident, $rw_id:literal, $rw_name:literal, $mutex_id:literal, $mutex_name:literal) => {
        impl Contender for $pl::RwLock<u64> {
            const INFO: ContenderInfo = ContenderInfo {
                id: $rw_id,
                name: $rw_name,
                family: Family::$family,
                kind: LockKind::RwLock,
                strict: false,
                biased: false,
            };

            #[inline]
            fn new(value: u64) -> Self {
                $pl::RwLock::new(value)
            }
            #[inline]
            fn read<R>(&self, f: impl FnOnce(&u64) -> R) -> R {
                f(&self.read())
            }
            #[inline]
            fn write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
                f(&mut self.write())
            }
            #[inline]
            fn try_read<R>(&self, f: impl FnOnce(&u64) -> R) -> Option<R> {
                self.try_read().map(|g| f(&g))
            }
            #[inline]
            fn try_write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> Option<R> {
                self.try_write().map(|mut g| f(&mut g))
            }
            #[inline]
            fn write_downgrade<R>(&self, w: impl FnOnce(&mut u64), r: impl FnOnce(&u64) -> R) -> Option<R> {
                let mut g = self.write();
                w(&mut g);
                let g = $pl::RwLockWriteGuard::downgrade(g);
                Some(r(&g))
            }
            fn into_inner(self) -> u64 {
                $pl::RwLock::into_inner(self)
            }
            fn sizes() -> Sizes {
                Sizes {
                    lock_unit: size_of::<$pl::RwLock<()>>(),
                    lock_u64: size_of::<Self>(),
                    read_guard: size_of::<$pl::RwLockReadGuard<'static, ()>>(),
                    write_guard: size_of::<$pl::RwLockWriteGuard<'static, ()>>(),
                }
            }
        }

        impl Contender for $pl::Mutex<u64> {
            const INFO: ContenderInfo = ContenderInfo {
                id: $mutex_id,
                name: $mutex_name,
                family: Family::$family,
                kind: LockKind::Mutex,
                strict: false,
                biased: false,
            };

            #[inline]
            fn new(value: u64) -> Self {
                $pl::Mutex::new(value)
            }
            #[inline]
            fn read<R>(&self, f: impl FnOnce(&u64) -> R) -> R {
                f(&self.lock())
            }
            #[inline]
            fn write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
                f(&mut self.lock())
            }
            #[inline]
            fn try_read<R>(&self, f: impl FnOnce(&u64) -> R) -> Option<R> {
                self.try_lock().map(|g| f(&g))
            }
            #[inline]
            fn try_write<R>(&self, f: impl FnOnce(&mut u64) -> R) -> Option<R> {
                self.try_lock().map(|mut g| f(&mut g))
            }
            fn write_downgrade<R>(&self, _: impl FnOnce(&mut u64), _: impl FnOnce(&u64) -> R) -> Option<R> {
                None
            }
            fn into_inner(self) -> u64 {
                $pl::Mutex::into_inner(self)
            }
            fn sizes() -> Sizes {
                let guard = size_of::<$pl::MutexGuard<'static, ()>>();
                Sizes {
                    lock_unit: size_of::<$pl::Mutex<()>>(),
                    lock_u64: size_of::<Self>(),
                    read_guard: guard,
                    write_guard: guard,
                }
            }
        }
    };
}

parking_lot_contenders!(
    parking_lot,
    ParkingLot,
    "pl-rwlock",
    "parking_lot 0.12 RwLock",
    "pl-mutex",
    "parking_lot 0.12 Mutex"
);
parking_lot_contenders!(
    parking_lot_013,
    ParkingLot013,
    "pl013-rwlock",
    "parking_lot 0.13 RwLock",
    "pl013-mutex",
    "parking_lot 0.13 Mutex"
);

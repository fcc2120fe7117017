use super::*;
use crate::policy::{Exclusive, ReaderPreferring, WriterPreferring};

#[test]
fn sizes() {
    assert!(core::mem::size_of::<RawRwLock>() <= 16);
}

#[test]
fn plan_table() {
    use Cause::*;
    use Grant::*;
    use PolicyKind::*;
    let free = 0;
    let read = READER;
    // writer releases, both kinds waiting
    assert_eq!(plan(ReaderPreferring, free, 2, 1, WriterReleased), Readers);
    assert_eq!(plan(WriterPreferring, free, 2, 1, WriterReleased), FirstWriter);
    assert_eq!(plan(PhaseFair, free, 2, 1, WriterReleased), Readers);
    assert_eq!(plan(Exclusive, free, 2, 1, WriterReleased), Front);
    // last reader releases, writers waiting
    // (readers queue under ReaderPreferring only while a writer holds)
    for k in [ReaderPreferring, WriterPreferring, PhaseFair] {
        assert_eq!(plan(k, free, 0, 1, ReaderReleased), FirstWriter, "{k:?}");
    }
    for k in [WriterPreferring, PhaseFair] {
        assert_eq!(plan(k, free, 1, 1, ReaderReleased), FirstWriter, "{k:?}");
    }
    // readers holding, a writer waiting: readers behind it stay queued
    assert_eq!(plan(WriterPreferring, read, 1, 1, WaiterLeft), Nobody);
    assert_eq!(plan(PhaseFair, read, 1, 1, WaiterLeft), Nobody);
    // ...until the writer leaves
    assert_eq!(plan(WriterPreferring, read, 1, 0, WaiterLeft), Readers);
    assert_eq!(plan(PhaseFair, read, 1, 0, WaiterLeft), Readers);
    // downgrade
    assert_eq!(plan(ReaderPreferring, read, 1, 1, Downgraded), Readers);
    assert_eq!(plan(PhaseFair, read, 1, 1, Downgraded), Readers);
    assert_eq!(plan(WriterPreferring, read, 1, 1, Downgraded), Nobody);
    assert_eq!(plan(WriterPreferring, read, 1, 0, Downgraded), Readers);
    // a writer holds: nobody
    for k in [ReaderPreferring, WriterPreferring, PhaseFair, Exclusive] {
        assert_eq!(plan(k, WRITER, 3, 3, WaiterLeft), Nobody);
    }
}

#[test]
fn fast_paths() {
    let l = RawRwLock::<PhaseFair>::new();
    assert!(l.try_lock_shared());
    assert!(l.try_lock_shared());
    assert!(!l.try_lock_exclusive());
    unsafe { l.unlock_shared() };
    unsafe { l.unlock_shared() };
    assert!(l.try_lock_exclusive());
    assert!(!l.try_lock_shared());
    unsafe { l.downgrade() };
    assert!(l.try_lock_shared());
    unsafe { l.unlock_shared() };
    unsafe { l.unlock_shared() };
    assert!(!l.is_locked());
}

#[test]
fn exclusive_read_is_exclusive() {
    let l = RawRwLock::<Exclusive>::new();
    assert!(l.try_lock_shared());
    assert!(l.is_locked_exclusive());
    assert!(!l.try_lock_shared());
    unsafe { l.downgrade() };
    assert!(l.is_locked_exclusive());
    unsafe { l.unlock_shared() };
    assert!(!l.is_locked());
}

#[test]
fn reader_overflow_panics_and_leaves_lock_usable() {
    fn check<P: Policy>() {
        let l = RawRwLock::<P>::new();
        for _ in 0..MAX_READERS {
            assert!(l.try_lock_shared());
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| l.lock_shared()));
        let msg = *r.unwrap_err().downcast::<String>().unwrap();
        assert!(msg.contains("reader count overflow"), "{msg}");
        for _ in 0..MAX_READERS {
            unsafe { l.unlock_shared() };
        }
        assert!(!l.is_locked());
        assert!(l.try_lock_exclusive());
    }
    check::<PhaseFair>();
    check::<ReaderPreferring>();
    check::<WriterPreferring>();
}

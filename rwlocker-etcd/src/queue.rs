//! The admission rules, as a pure function of one snapshot of the queue.
//!
//! Every acquirer puts one key under the lock's prefix; the keys ordered by
//! create revision are the queue. This module decides, for one acquirer and
//! one consistent snapshot of the queue, whether it may try to take the lock
//! now or which single key it must wait for. Safety (no writer beside anyone
//! else) does not rest on this decision: the transaction that marks a key as
//! holding re-checks it inside etcd. See `docs/DISTRIBUTED.md`.

use rwlocker::PolicyKind;

/// Whether an entry of the queue wants shared or exclusive access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Shared: a reader.
    Read,
    /// Exclusive: a writer (every acquirer under `Exclusive`).
    Write,
}

/// One key of the queue, as the snapshot shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The key's create revision: its place in the queue and its fencing token.
    pub(crate) rev: i64,
    /// What the key asks for.
    pub(crate) mode: Mode,
    /// Whether the key has been admitted (it holds the lock).
    pub(crate) held: bool,
    /// For a `PhaseFair` reader: the create revision of the oldest writer key
    /// present just before the reader queued (0 when there was none). The
    /// reader waits for that writer only: its read phase comes right after it.
    pub(crate) phase_of: i64,
}

/// What an acquirer does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Try the admission transaction now.
    Ready,
    /// Wait until the key with this create revision changes or goes, then
    /// look again.
    WaitFor(i64),
    /// The acquirer's own key is not in the queue (its lease ended).
    Gone,
}

/// Decides for the entry with create revision `me`, under `policy`, given
/// the whole queue `queue` (any order).
pub(crate) fn decide(policy: PolicyKind, queue: &[Entry], me: i64) -> Decision {
    let Some(mine) = queue.iter().find(|e| e.rev == me) else {
        return Decision::Gone;
    };
    let others = || queue.iter().filter(move |e| e.rev != me);
    let nearest_ahead =
        |respects: &dyn Fn(&Entry) -> bool| others().filter(|e| e.rev < me && respects(e)).map(|e| e.rev).max();
    let held_writer = || others().filter(|e| e.held && e.mode == Mode::Write).map(|e| e.rev).min();
    let exclusive = mine.mode == Mode::Write || policy == PolicyKind::Exclusive;
    if exclusive {
        // Writers are served in arrival order under every policy. Under
        // WriterPreferring a waiting reader ahead does not hold a writer
        // back (waiting writers go before waiting readers); every other
        // policy respects every key ahead.
        let respected = |e: &Entry| policy != PolicyKind::WriterPreferring || e.mode == Mode::Write || e.held;
        if let Some(rev) = nearest_ahead(&respected) {
            return Decision::WaitFor(rev);
        }
        // Keys behind this writer that hold must leave first. Under
        // ReaderPreferring so must every reader, holding or not: a reader
        // waits only while a writer holds, so it is admitted before the next
        // writer (a releasing writer hands over to the waiting readers).
        let before_me = |e: &Entry| e.held || (policy == PolicyKind::ReaderPreferring && e.mode == Mode::Read);
        if let Some(rev) = others().filter(|e| before_me(e)).map(|e| e.rev).min() {
            return Decision::WaitFor(rev);
        }
        // PhaseFair: readers behind this writer whose read phase comes
        // before it (they waited for an older writer, or for none) go first.
        if policy == PolicyKind::PhaseFair {
            if let Some(rev) =
                others().filter(|e| e.rev > me && e.mode == Mode::Read && e.phase_of < me).map(|e| e.rev).min()
            {
                return Decision::WaitFor(rev);
            }
        }
        return Decision::Ready;
    }
    match policy {
        PolicyKind::ReaderPreferring => match held_writer() {
            Some(rev) => Decision::WaitFor(rev),
            None => Decision::Ready,
        },
        PolicyKind::WriterPreferring => {
            // Any writer, holding or waiting, ahead or behind, goes first.
            // Watch the newest: the one expected to leave last.
            match others().filter(|e| e.mode == Mode::Write).map(|e| e.rev).max() {
                Some(rev) => Decision::WaitFor(rev),
                None => Decision::Ready,
            }
        }
        PolicyKind::PhaseFair => {
            if mine.phase_of != 0 && others().any(|e| e.rev == mine.phase_of) {
                return Decision::WaitFor(mine.phase_of);
            }
            match held_writer() {
                Some(rev) => Decision::WaitFor(rev),
                None => Decision::Ready,
            }
        }
        PolicyKind::Exclusive => unreachable!("handled above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rwlocker::PolicyKind::*;

    fn w(rev: i64, held: bool) -> Entry {
        Entry { rev, mode: Mode::Write, held, phase_of: 0 }
    }
    fn r(rev: i64, held: bool, phase_of: i64) -> Entry {
        Entry { rev, mode: Mode::Read, held, phase_of }
    }

    #[test]
    fn alone_is_ready_under_every_policy() {
        for p in [ReaderPreferring, WriterPreferring, PhaseFair, Exclusive] {
            assert_eq!(decide(p, &[w(5, false)], 5), Decision::Ready);
            assert_eq!(decide(p, &[r(5, false, 0)], 5), Decision::Ready);
            assert_eq!(decide(p, &[w(4, false)], 5), Decision::Gone);
        }
    }

    #[test]
    fn writers_wait_for_the_nearest_key_ahead() {
        let q = [r(1, true, 0), w(2, false), r(3, false, 2), w(4, false)];
        for p in [ReaderPreferring, PhaseFair, Exclusive] {
            assert_eq!(decide(p, &q, 4), Decision::WaitFor(3), "{p:?}");
            assert_eq!(decide(p, &q, 2), Decision::WaitFor(1), "{p:?}");
        }
        // WriterPreferring skips the waiting reader 3, not the holding reader 1.
        assert_eq!(decide(WriterPreferring, &q, 4), Decision::WaitFor(2));
        assert_eq!(decide(WriterPreferring, &q, 2), Decision::WaitFor(1));
    }

    #[test]
    fn a_writer_waits_for_holding_readers_behind_it() {
        let q = [w(2, false), r(3, true, 0)];
        for p in [ReaderPreferring, WriterPreferring, PhaseFair] {
            assert_eq!(decide(p, &q, 2), Decision::WaitFor(3), "{p:?}");
        }
    }

    #[test]
    fn readers_under_each_policy() {
        // A writer holds: every reader waits for it.
        let q = [w(1, true), r(2, false, 1)];
        for p in [ReaderPreferring, WriterPreferring, PhaseFair] {
            assert_eq!(decide(p, &q, 2), Decision::WaitFor(1), "{p:?}");
        }
        // Readers hold and a writer waits: only ReaderPreferring lets a new reader in.
        let q = [r(1, true, 0), w(2, false), r(3, false, 2)];
        assert_eq!(decide(ReaderPreferring, &q, 3), Decision::Ready);
        assert_eq!(decide(WriterPreferring, &q, 3), Decision::WaitFor(2));
        assert_eq!(decide(PhaseFair, &q, 3), Decision::WaitFor(2));
        // Under Exclusive a reader is a writer.
        assert_eq!(decide(Exclusive, &[r(1, true, 0), r(2, false, 0)], 2), Decision::WaitFor(1));
    }

    #[test]
    fn phase_fair_reader_waits_for_one_writer_only() {
        // Writer 1 has gone; writer 2 queued before reader 3, but reader 3 was
        // waiting for writer 1 (its phase): it enters, and writer 2 waits for it.
        let q = [w(2, false), r(3, false, 1)];
        assert_eq!(decide(PhaseFair, &q, 3), Decision::Ready);
        assert_eq!(decide(PhaseFair, &q, 2), Decision::WaitFor(3));
        // A reader that queued while writer 2 was the oldest waits for it.
        let q = [w(2, false), r(3, false, 1), r(4, false, 2)];
        assert_eq!(decide(PhaseFair, &q, 4), Decision::WaitFor(2));
        // WriterPreferring: writer 2 goes before the waiting reader 3.
        let q = [w(2, false), r(3, false, 0)];
        assert_eq!(decide(WriterPreferring, &q, 2), Decision::Ready);
        assert_eq!(decide(WriterPreferring, &q, 3), Decision::WaitFor(2));
    }

    #[test]
    fn reader_preferring_writer_waits_for_waiting_readers_behind_it() {
        // Writer 1 has released; reader 3 (waiting for writer 1) goes before writer 2.
        let q = [w(2, false), r(3, false, 0)];
        assert_eq!(decide(ReaderPreferring, &q, 2), Decision::WaitFor(3));
        assert_eq!(decide(ReaderPreferring, &q, 3), Decision::Ready);
        assert_eq!(decide(WriterPreferring, &q, 2), Decision::Ready);
    }

    #[test]
    fn writer_preferring_reader_waits_for_writers_behind_it() {
        let q = [r(1, false, 0), w(2, false), w(3, false)];
        assert_eq!(decide(WriterPreferring, &q, 1), Decision::WaitFor(3));
        assert_eq!(decide(ReaderPreferring, &q, 1), Decision::Ready);
    }
}

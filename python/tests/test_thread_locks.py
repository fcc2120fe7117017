"""Thread locks: semantics of each policy, downgrade, reentrancy, timeouts,
signals. State is observed through the engine (``proxy._state()``), never
through sleeps."""

import os
import signal
import threading
import time

import pytest
from conftest import STALL, Worker, state, wait_queued, wait_until

from rwlocker import thread_rwlock as T

ALL = [
    T.RWLockWrite, T.RWLockWriteReentrantWriter, T.RWLockRead,
    T.RWLockReadReentrantWriter, T.RWLockFair, T.RWLockFairReentrantWriter,
]  # fmt: skip


@pytest.mark.parametrize("cls", ALL)
def test_readers_share_writers_exclude(cls):
    lock = cls()
    assert lock.read.acquire()
    assert lock.read.acquire(blocking=False)
    assert lock.read.locked() and not lock.write.locked()
    assert state(lock.read)["readers"] == 2
    assert lock.write.acquire(blocking=False) is False
    assert lock.write.acquire(timeout=0.01) is False  # timed out
    lock.read.release()
    lock.read.release()
    assert not lock.read.locked()
    assert lock.write.acquire(blocking=False)
    assert lock.write.locked() and lock.locked()
    if "Reentrant" not in cls.__name__:
        assert lock.read.acquire(blocking=False) is False
        assert lock.write.acquire(blocking=False) is False
    lock.write.release()
    assert state(lock.write) == {"readers": 0, "writer": False, "qr": 0, "qw": 0}


@pytest.mark.parametrize("cls", ALL)
def test_drop_in_methods_route_to_write(cls):
    lock = cls()
    assert lock.acquire() is True
    assert lock.write.locked() and lock.locked()
    assert lock.read.acquire(blocking=False) is (cls.__name__.endswith("ReentrantWriter"))
    if lock.read.locked():
        lock.read.release()
    lock.release()
    assert not lock.locked()
    with lock:
        assert lock.write.locked()
    assert lock.acquire(True, 0.5) is True
    lock.release()
    assert lock.acquire(False) is True
    lock.release()


def test_blocking_acquire_waits_and_is_woken():
    lock = T.RWLockFair()
    lock.write.acquire()
    w = Worker(lock.read.acquire)
    wait_queued(lock.read, qr=1)
    assert lock.read.those_waiting == 1
    lock.write.release()
    assert w.join() is True
    assert lock.read.those_waiting == 0
    assert state(lock.read)["readers"] == 1
    lock.read.release()


def test_timeout_then_success_and_deadline():
    lock = T.RWLockWrite()
    lock.read.acquire()
    t0 = time.monotonic()
    assert lock.write.acquire(timeout=0.05) is False
    assert time.monotonic() - t0 >= 0.05
    assert state(lock.write) == {"readers": 1, "writer": False, "qr": 0, "qw": 0}
    assert lock.write.those_waiting == 0
    w = Worker(lock.write.acquire, True, 30)
    wait_queued(lock.write, qw=1)
    lock.read.release()
    assert w.join() is True
    lock.write.release()


def test_timed_out_writer_admits_readers_behind_it():
    # Writer-preferring: a waiting writer holds readers back; when it times
    # out, the readers behind it are admitted at once (docs/SEMANTICS.md §2).
    lock = T.RWLockWrite()
    lock.read.acquire()
    writer = Worker(lock.write.acquire, True, 0.2)
    wait_queued(lock.write, qw=1)
    assert lock.read.acquire(blocking=False) is False  # held back by the writer
    reader = Worker(lock.read.acquire)
    wait_queued(lock.read, qr=1)
    assert writer.join() is False
    assert reader.join() is True
    assert state(lock.read)["readers"] == 2
    lock.read.release()
    lock.read.release()


def _queue_order(lock, holder_kind, arrivals):
    """Holds ``holder_kind``, queues ``arrivals`` (in order), releases, and
    returns the order in which they got the lock. Each arrival releases at
    once unless several readers are admitted together."""
    order = []
    mu = threading.Lock()
    (lock.write if holder_kind == "w" else lock.read).acquire()
    workers = []
    qr = qw = 0

    def take(name, kind):
        proxy = lock.write if kind == "w" else lock.read
        proxy.acquire()
        with mu:
            order.append(name)
        proxy.release()

    for name in arrivals:
        kind = name[0].lower()
        workers.append(Worker(take, name, kind))
        if kind == "w":
            qw += 1
        else:
            qr += 1
        wait_queued(lock.read, qr=qr, qw=qw)
    (lock.write if holder_kind == "w" else lock.read).release()
    for w in workers:
        w.join()
    return order


def test_writer_preferring_order():
    order = _queue_order(T.RWLockWrite(), "w", ["W2", "R1", "R2", "W3"])
    assert order[:2] == ["W2", "W3"]
    assert sorted(order[2:]) == ["R1", "R2"]


def test_reader_preferring_order():
    order = _queue_order(T.RWLockRead(), "w", ["W2", "R1", "R2", "W3"])
    assert sorted(order[:2]) == ["R1", "R2"]
    assert order[2:] == ["W2", "W3"]


def test_fair_order_read_phase_then_writers():
    order = _queue_order(T.RWLockFair(), "w", ["W2", "R1", "R2", "W3"])
    # the writer's release opens a read phase for every waiting reader,
    # then writers in arrival order
    assert sorted(order[:2]) == ["R1", "R2"]
    assert order[2:] == ["W2", "W3"]


def test_reader_arriving_while_writer_waits():
    # reader holds, writer queued, a new reader arrives
    for cls, admitted in ((T.RWLockRead, True), (T.RWLockWrite, False), (T.RWLockFair, False)):
        lock = cls()
        lock.read.acquire()
        writer = Worker(lock.write.acquire)
        wait_queued(lock.write, qw=1)
        assert lock.read.acquire(blocking=False) is admitted, cls.__name__
        if admitted:
            lock.read.release()
        lock.read.release()
        writer.join()
        lock.write.release()


def test_fair_no_late_reader_barging():
    # Phase-fair: readers admitted by a writer's release form a phase;
    # a reader arriving while the next writer waits queues behind it.
    lock = T.RWLockFair()
    lock.write.acquire()
    r1 = Worker(lock.read.acquire)
    wait_queued(lock.read, qr=1)
    w2 = Worker(lock.write.acquire)
    wait_queued(lock.read, qr=1, qw=1)
    lock.write.release()
    r1.join()
    assert state(lock.read) == {"readers": 1, "writer": False, "qr": 0, "qw": 1}
    assert lock.read.acquire(blocking=False) is False  # no barging
    r3 = Worker(lock.read.acquire)
    wait_queued(lock.read, qr=1, qw=1)
    lock.read.release()  # phase over: W2 goes
    w2.join()
    assert lock.write.locked()
    lock.write.release()  # then R3's phase
    r3.join()
    assert state(lock.read)["readers"] == 1
    lock.read.release()


def test_writers_fifo_among_themselves():
    order = _queue_order(T.RWLockFair(), "r", ["W1", "W2", "W3", "W4"])
    assert order == ["W1", "W2", "W3", "W4"]


@pytest.mark.parametrize("cls", ALL)
def test_downgrade_then_write_release_routes_to_read(cls):
    lock = cls()
    with lock.write:
        lock.write.downgrade()
        assert lock.read.locked() and not lock.write.locked()
        assert lock.read.acquire(blocking=False)  # shared now
        lock.read.release()
    assert not lock.read.locked() and not lock.write.locked()
    assert state(lock.read) == {"readers": 0, "writer": False, "qr": 0, "qw": 0}


@pytest.mark.parametrize("cls", ALL)
def test_manual_read_release_after_downgrade_leaves_no_stale_state(cls):
    lock = cls()
    lock.write.acquire()
    lock.write.downgrade()
    lock.read.release()
    # 3.2 left a stale marker here and misrouted the next write release
    lock.write.acquire()
    lock.write.release()
    assert not lock.write.locked() and not lock.read.locked()
    with lock.write:
        pass
    assert state(lock.read) == {"readers": 0, "writer": False, "qr": 0, "qw": 0}


def test_downgrade_admits_waiting_readers_per_policy():
    for cls, admitted in ((T.RWLockFair, True), (T.RWLockRead, True), (T.RWLockWrite, False)):
        lock = cls()
        lock.write.acquire()
        reader = Worker(lock.read.acquire)
        wait_queued(lock.read, qr=1)
        writer = Worker(lock.write.acquire)
        wait_queued(lock.read, qr=1, qw=1)
        lock.write.downgrade()
        if admitted:
            reader.join()
            assert state(lock.read)["readers"] == 2
            Worker(lock.read.release).join()  # the reader's own release
        else:
            assert state(lock.read) == {"readers": 1, "writer": False, "qr": 1, "qw": 1}
        lock.write.release()  # routed: releases the downgraded read
        writer.join()
        assert lock.write.locked()
        lock.write.release()
        if not admitted:
            reader.join()
            Worker(lock.read.release).join()
        assert state(lock.read) == {"readers": 0, "writer": False, "qr": 0, "qw": 0}


def test_downgrade_is_atomic_no_writer_between():
    lock = T.RWLockFair()
    lock.write.acquire()
    writer = Worker(lock.write.acquire)
    wait_queued(lock.write, qw=1)
    lock.write.downgrade()
    assert state(lock.write)["writer"] is False
    assert state(lock.write)["readers"] == 1
    assert not writer.done
    lock.read.release()
    writer.join()
    lock.write.release()


def test_foreign_thread_release_is_allowed_non_reentrant():
    lock = T.RWLockFair()
    lock.write.acquire()
    Worker(lock.write.release).join()  # 3.2 has no write ownership
    assert not lock.write.locked()
    lock.read.acquire()
    Worker(lock.read.release).join()
    assert not lock.read.locked()


@pytest.mark.parametrize(
    "cls", [T.RWLockWriteReentrantWriter, T.RWLockReadReentrantWriter, T.RWLockFairReentrantWriter]
)
def test_reentrant_writer(cls):
    lock = cls()
    assert lock.write.acquire()
    assert lock.write.acquire(blocking=False)
    with lock.write:
        assert lock.read.acquire()  # the owner may read too
        assert lock.read.locked()
    # other threads are excluded
    assert Worker(lock.write.acquire, False).join() is False
    assert Worker(lock.read.acquire, False).join() is False
    with pytest.raises(RuntimeError, match="^Permission denied$"):
        Worker(lock.write.release).join()
    lock.write.release()
    assert lock.write.locked()
    lock.write.release()
    # the write lock is gone; the owner's read remains (implicit downgrade)
    assert not lock.write.locked() and lock.read.locked()
    assert Worker(lock.read.acquire, False).join() is True
    assert Worker(lock.write.acquire, False).join() is False
    lock.read.release()
    lock.read.release()
    assert state(lock.read) == {"readers": 0, "writer": False, "qr": 0, "qw": 0}
    assert Worker(lock.write.acquire, False).join() is True  # lock fully free


def test_reentrant_downgrade_with_owner_reads():
    lock = T.RWLockFairReentrantWriter()
    lock.write.acquire()
    lock.read.acquire()
    lock.write.downgrade()
    assert state(lock.read)["readers"] == 1  # one engine hold carries both
    assert lock.read.locked() and not lock.write.locked()
    lock.read.release()
    assert lock.read.locked()
    lock.write.release()  # routed to the downgraded read
    assert not lock.read.locked()
    assert state(lock.read) == {"readers": 0, "writer": False, "qr": 0, "qw": 0}


def test_reentrant_owner_is_the_thread_not_the_call():
    lock = T.RWLockWriteReentrantWriter()
    lock.write.acquire()
    got = threading.Event()
    go = threading.Event()

    def other():
        lock.write.acquire()
        got.set()
        go.wait(STALL)
        lock.write.release()

    waiter = Worker(other)
    wait_queued(lock.write, qw=1)
    lock.write.acquire()
    lock.write.release()
    assert not got.is_set()
    lock.write.release()
    got.wait(STALL)
    with pytest.raises(RuntimeError, match="^Permission denied$"):
        lock.write.release()  # the other thread owns it now
    go.set()
    waiter.join()
    assert state(lock.write) == {"readers": 0, "writer": False, "qr": 0, "qw": 0}


def test_many_threads_mutual_exclusion():
    lock = T.RWLockFair()
    counter = {"n": 0, "readers": 0, "bad": 0}

    def writer():
        for _ in range(200):
            with lock.write:
                if counter["readers"]:
                    counter["bad"] += 1
                counter["n"] += 1

    def reader():
        for _ in range(200):
            with lock.read:
                counter["readers"] += 1
                counter["readers"] -= 1

    ws = [Worker(writer) for _ in range(4)] + [Worker(reader) for _ in range(4)]
    for w in ws:
        w.join()
    assert counter["n"] == 800 and counter["bad"] == 0
    assert state(lock.read) == {"readers": 0, "writer": False, "qr": 0, "qw": 0}


def test_mutex_adapter_is_fifo_and_times_out():
    lock = T.Lock()
    lock.acquire()
    assert lock.acquire(timeout=0.01) is False
    w = Worker(lock.acquire)
    wait_queued(lock.write, qw=1)
    lock.release()
    w.join()
    assert lock.locked()
    lock.release()


@pytest.mark.parametrize("side", ["read", "write"])
def test_sigint_interrupts_blocked_acquire(side, default_sigint):
    lock = T.RWLockWrite()
    lock.write.acquire()
    proxy = getattr(lock, side)
    main = threading.main_thread().ident
    fired = threading.Event()

    def fire():
        wait_queued(lock.read, qr=1 if side == "read" else 0, qw=1 if side == "write" else 0)
        fired.set()
        signal.pthread_kill(main, signal.SIGINT)

    t = threading.Thread(target=fire, daemon=True)
    t.start()
    # An untimed acquire: if the signal never comes, the watchdog releases
    # the lock after STALL seconds and the test fails instead of hanging.
    watchdog = threading.Timer(STALL, lock.write.release)
    watchdog.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            proxy.acquire()
    finally:
        watchdog.cancel()
    t.join()
    assert fired.is_set()
    # no waiter left behind, the lock is intact and works
    assert state(lock.read) == {"readers": 0, "writer": True, "qr": 0, "qw": 0}
    assert proxy.those_waiting == 0
    lock.write.release()
    assert proxy.acquire(timeout=5) is True
    proxy.release()
    # a later writer is not starved by a ghost waiter
    lock.read.acquire()
    w = Worker(lock.write.acquire, True, 5)
    wait_queued(lock.write, qw=1)
    lock.read.release()
    assert w.join() is True
    lock.write.release()


def test_sigint_via_os_kill_during_timed_acquire(default_sigint):
    lock = T.RWLockFair()
    lock.read.acquire()

    def fire():
        wait_queued(lock.write, qw=1)
        os.kill(os.getpid(), signal.SIGINT)

    t = threading.Thread(target=fire, daemon=True)
    t.start()
    with pytest.raises(KeyboardInterrupt):
        lock.write.acquire(timeout=30)
    t.join()
    assert state(lock.write) == {"readers": 1, "writer": False, "qr": 0, "qw": 0}
    assert lock.read.acquire(blocking=False)  # no writer waits any more
    lock.read.release()
    lock.read.release()

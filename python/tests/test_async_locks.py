"""asyncio locks: fast path, policies, cancellation, reentrancy per task,
downgrade, threads sharing an asyncio lock."""

import asyncio
import threading

import pytest
from conftest import Worker, async_wait_queued, async_wait_until, state

from rwlocker import async_rwlock as A

ALL = [
    A.AsyncRWLockWrite, A.AsyncRWLockWriteReentrantWriter, A.AsyncRWLockRead,
    A.AsyncRWLockReadReentrantWriter, A.AsyncRWLockFair, A.AsyncRWLockFairReentrantWriter,
]  # fmt: skip

FREE = {"readers": 0, "writer": False, "qr": 0, "qw": 0}


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize("cls", ALL)
def test_basic_async_semantics(cls):
    async def main():
        lock = cls()
        assert await lock.read.acquire() is True
        assert await lock.read.acquire() is True
        assert lock.read.locked() and not lock.write.locked()
        assert await lock.write.acquire(blocking=False) is False
        lock.read.release()
        lock.read.release()
        async with lock.write as entered:
            assert entered is True
            assert lock.write.locked()
        async with lock:  # fixed in this package: 3.2 lacked __aexit__
            assert lock.locked()
        assert await lock.acquire() is True
        lock.release()
        assert state(lock.read) == FREE

    run(main())


def test_fast_path_does_not_yield():
    async def main():
        lock = A.AsyncRWLockFair()
        order = []

        async def other():
            order.append("other")

        t = asyncio.get_running_loop().create_task(other())
        await lock.write.acquire()  # free: finishes without yielding
        order.append("acquired")
        lock.write.release()
        await t
        return order

    assert run(main()) == ["acquired", "other"]


def test_async_with_on_every_lock_object():
    async def main():
        for lock in (A.AsyncRWLockFair(), A.AsyncRWLockWriteReentrantWriter(), A.AsyncLock(), A.AsyncRWLockBase()):
            async with lock:
                assert lock.locked()
            assert not lock.locked()
            with pytest.raises(ValueError):
                async with lock:
                    raise ValueError
            assert not lock.locked()

    run(main())


def _order(cls, holder, arrivals):
    async def main():
        lock = cls()
        order = []
        await (lock.write if holder == "w" else lock.read).acquire()

        async def take(name):
            proxy = lock.write if name[0] == "W" else lock.read
            await proxy.acquire()
            order.append(name)
            await asyncio.sleep(0)
            proxy.release()

        tasks = []
        qr = qw = 0
        exclusive = isinstance(lock, A.AsyncLock)
        for name in arrivals:
            tasks.append(asyncio.create_task(take(name)))
            if name[0] == "W" or exclusive:
                qw += 1
            else:
                qr += 1
            await async_wait_queued(lock.read, qr=qr, qw=qw)
        (lock.write if holder == "w" else lock.read).release()
        await asyncio.gather(*tasks)
        assert state(lock.read) == FREE
        return order

    return run(main())


def test_async_policy_orders():
    assert _order(A.AsyncRWLockWrite, "w", ["W2", "R1", "R2", "W3"]) == ["W2", "W3", "R1", "R2"]
    assert _order(A.AsyncRWLockRead, "w", ["W2", "R1", "R2", "W3"]) == ["R1", "R2", "W2", "W3"]
    assert _order(A.AsyncRWLockFair, "w", ["W2", "R1", "R2", "W3"]) == ["R1", "R2", "W2", "W3"]
    assert _order(A.AsyncLock, "w", ["W2", "R1", "R2", "W3"]) == ["W2", "R1", "R2", "W3"]


def test_try_after_release_may_barge_but_the_woken_waiter_keeps_its_place():
    # Bounded barging (docs/SEMANTICS.md §2a): the release wakes W2 without
    # handing it the lock, so a fresh try-acquire may get in first; W2 keeps
    # its place and gets the lock at the next release.
    async def main():
        lock = A.AsyncRWLockFair()
        await lock.write.acquire()
        t = asyncio.create_task(lock.write.acquire())
        await async_wait_queued(lock.write, qw=1)
        lock.write.release()
        assert await lock.write.acquire(blocking=False) is True  # barged
        assert state(lock.write)["qw"] == 1  # W2 still queued
        lock.write.release()
        assert await asyncio.wait_for(t, 5) is True
        lock.write.release()
        assert state(lock.write) == FREE

    run(main())


def test_cancel_queued_acquire_leaves_no_trace():
    async def main():
        lock = A.AsyncRWLockFair()
        await lock.write.acquire()
        t = asyncio.create_task(lock.read.acquire())
        await async_wait_queued(lock.read, qr=1)
        assert lock.read.those_waiting == 1
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        assert state(lock.read) == {"readers": 0, "writer": True, "qr": 0, "qw": 0}
        assert lock.read.those_waiting == 0
        lock.write.release()
        assert await asyncio.wait_for(lock.read.acquire(), 5) is True
        lock.read.release()

    run(main())


def test_cancel_after_wakeup_passes_it_on():
    async def main():
        lock = A.AsyncRWLockFair()
        await lock.write.acquire()
        t = asyncio.create_task(lock.write.acquire())
        await async_wait_queued(lock.write, qw=1)
        t2 = asyncio.create_task(lock.write.acquire())
        await async_wait_queued(lock.write, qw=2)
        lock.write.release()  # wakes t (not yet resumed); the lock is free
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        assert await asyncio.wait_for(t2, 5) is True  # the wake-up went on to the next writer
        lock.write.release()
        assert state(lock.write) == FREE

    run(main())


def test_cancel_waiting_writer_admits_readers_behind_it():
    async def main():
        lock = A.AsyncRWLockFair()
        await lock.read.acquire()
        w = asyncio.create_task(lock.write.acquire())
        await async_wait_queued(lock.write, qw=1)
        r = asyncio.create_task(lock.read.acquire())
        await async_wait_queued(lock.read, qr=1, qw=1)
        w.cancel()
        with pytest.raises(asyncio.CancelledError):
            await w
        assert state(lock.read) == {"readers": 2, "writer": False, "qr": 0, "qw": 0}
        assert await r is True
        lock.read.release()
        lock.read.release()

    run(main())


def test_wait_for_timeout_on_acquire():
    async def main():
        lock = A.AsyncRWLockWrite()
        await lock.read.acquire()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(lock.write.acquire(), 0.02)
        assert state(lock.write) == {"readers": 1, "writer": False, "qr": 0, "qw": 0}
        assert await lock.read.acquire(blocking=False) is True  # no ghost writer
        lock.read.release()
        lock.read.release()

    run(main())


def test_dropped_acquire_coroutine_leaves_queue():
    async def main():
        lock = A.AsyncRWLockFair()
        await lock.write.acquire()
        op = lock.write.acquire()
        fut = op.send(None)  # queued, yields a future
        assert isinstance(fut, asyncio.Future)
        assert state(lock.write)["qw"] == 1
        op.close()
        assert state(lock.write)["qw"] == 0
        op2 = lock.read.acquire()
        op2.send(None)
        assert state(lock.read)["qr"] == 1
        del op2  # garbage: cancelled too
        assert state(lock.read)["qr"] == 0
        lock.write.release()

    run(main())


@pytest.mark.parametrize(
    "cls", [A.AsyncRWLockWriteReentrantWriter, A.AsyncRWLockReadReentrantWriter, A.AsyncRWLockFairReentrantWriter]
)
def test_reentrancy_is_per_task(cls):
    async def main():
        lock = cls()
        await lock.write.acquire()
        assert await lock.write.acquire(blocking=False) is True
        async with lock.write:
            assert await lock.read.acquire() is True
            lock.read.release()

        async def other():
            return await lock.write.acquire(blocking=False)

        assert await asyncio.create_task(other()) is False

        async def other_release():
            lock.write.release()

        with pytest.raises(RuntimeError, match="^Permission denied$"):
            await asyncio.create_task(other_release())
        lock.write.release()
        lock.write.release()
        assert state(lock.write) == FREE

    run(main())


@pytest.mark.parametrize("cls", ALL)
def test_async_downgrade(cls):
    async def main():
        lock = cls()
        async with lock.write:
            lock.write.downgrade()
            assert lock.read.locked() and not lock.write.locked()
        assert state(lock.read) == FREE
        await lock.write.acquire()
        lock.write.downgrade()
        lock.read.release()  # manual release: no stale marker
        await lock.write.acquire()
        lock.write.release()
        assert state(lock.read) == FREE

    run(main())


def test_downgrade_marker_is_per_task():
    async def main():
        lock = A.AsyncRWLockFair()
        await lock.write.acquire()
        lock.write.downgrade()

        async def other():
            with pytest.raises(RuntimeError, match="^Unacquired write lock$"):
                lock.write.release()  # not the downgrading task: no routing

        await asyncio.create_task(other())
        lock.write.release()
        assert state(lock.read) == FREE

    run(main())


def test_threads_share_an_asyncio_lock():
    # The engine is thread-safe: a thread holding the lock wakes a task.
    lock = A.AsyncRWLockFair()
    holding = threading.Event()
    release = threading.Event()

    def thread_holder():
        async def hold():
            await lock.write.acquire()

        asyncio.run(hold())
        holding.set()
        release.wait(10)
        lock.write.release()

    w = Worker(thread_holder)
    holding.wait(10)

    async def main():
        t = asyncio.create_task(lock.read.acquire())
        await async_wait_queued(lock.read, qr=1)
        release.set()
        assert await asyncio.wait_for(t, 10) is True
        lock.read.release()

    run(main())
    w.join()


def test_many_tasks_mutual_exclusion():
    async def main():
        lock = A.AsyncRWLockFair()
        data = {"n": 0, "readers": 0, "bad": 0}

        async def writer():
            for _ in range(50):
                async with lock.write:
                    if data["readers"]:
                        data["bad"] += 1
                    await asyncio.sleep(0)
                    data["n"] += 1

        async def reader():
            for _ in range(50):
                async with lock.read:
                    data["readers"] += 1
                    await asyncio.sleep(0)
                    data["readers"] -= 1

        await asyncio.gather(*[writer() for _ in range(5)], *[reader() for _ in range(5)])
        assert data["n"] == 250 and data["bad"] == 0
        assert state(lock.read) == FREE

    run(main())


def test_acquire_outside_loop_errors_cleanly():
    lock = A.AsyncRWLockFair()
    # the fast path needs no loop
    op = lock.write.acquire()
    with pytest.raises(StopIteration):
        op.send(None)
    assert lock.write.locked()
    # queuing needs a running loop: error, nothing left queued
    op = lock.read.acquire()
    with pytest.raises(RuntimeError):
        op.send(None)
    assert state(lock.read) == {"readers": 0, "writer": True, "qr": 0, "qw": 0}
    lock.write.release()


def test_async_wait_until_helper_is_used():
    # keeps the helper import honest (used by other async tests)
    async def main():
        await async_wait_until(lambda: True)

    run(main())

"""RWCondition / AsyncRWCondition: notify(n) exact, FIFO, no lost wakeup,
timeouts with the lock held again, cancellation, signals, downgrade."""

import asyncio
import signal
import threading

import pytest
from conftest import STALL, Worker, async_wait_queued, async_wait_until, state, wait_queued, wait_until

from rwlocker import async_rwlock as A
from rwlocker import thread_rwlock as T

FREE = {"readers": 0, "writer": False, "qr": 0, "qw": 0}


def waiters(cond):
    return len(cond._state)


# --------------------------------------------------------------------- threads


@pytest.mark.parametrize("lock_cls", [T.RWLockWrite, T.RWLockRead, T.RWLockFair, T.RWLockFairReentrantWriter])
def test_wait_notify_both_sides(lock_cls):
    cond = T.RWCondition(lock_cls())
    box = {"ready": False}

    def reader():
        with cond.read:
            return cond.read.wait_for(lambda: box["ready"])

    def writer():
        with cond.write:
            return cond.write.wait_for(lambda: box["ready"] and "w")

    ws = [Worker(reader), Worker(writer)]
    wait_until(lambda: waiters(cond) == 2, "two waiters")
    with cond.write:
        box["ready"] = True
        cond.write.notify_all()
    assert ws[0].join() is True
    assert ws[1].join() == "w"
    assert state(cond.read._lock_proxy) == FREE


def test_notify_n_is_exact():
    cond = T.RWCondition(T.RWLockFair())
    woke = []
    mu = threading.Lock()

    def waiter(i):
        with cond.read:
            assert cond.read.wait() is True
            with mu:
                woke.append(i)

    ws = [Worker(waiter, i) for i in range(5)]
    wait_until(lambda: waiters(cond) == 5, "five waiters")
    with cond.write:
        cond.write.notify(2)
    wait_until(lambda: len(woke) == 2, "two woken")
    assert waiters(cond) == 3
    with cond.read:
        cond.read.notify(0)  # no-op
        cond.read.notify(-3)  # no-op
        assert waiters(cond) == 3
        cond.read.notify(10)  # more than wait: all three
    for w in ws:
        w.join()
    assert sorted(woke) == [0, 1, 2, 3, 4]


def test_fifo_wake_order():
    cond = T.RWCondition(T.RWLockWrite())
    order = []

    def waiter(i):
        with cond.write:
            cond.write.wait()
            order.append(i)

    ws = []
    for i in range(4):
        ws.append(Worker(waiter, i))
        wait_until(lambda i=i: waiters(cond) == i + 1, "registration")
    for i in range(4):
        with cond.write:
            cond.write.notify()
        wait_until(lambda i=i: len(order) == i + 1, "one wake")
    for w in ws:
        w.join()
    assert order == [0, 1, 2, 3]


def test_notify_from_one_side_wakes_oldest_of_any_mode():
    cond = T.RWCondition(T.RWLockFair())
    got = []

    def w_reader():
        with cond.read:
            cond.read.wait()
            got.append("r")

    def w_writer():
        with cond.write:
            cond.write.wait()
            got.append("w")

    a = Worker(w_writer)
    wait_until(lambda: waiters(cond) == 1)
    b = Worker(w_reader)
    wait_until(lambda: waiters(cond) == 2)
    with cond.read:
        cond.read.notify()  # the oldest is the writer waiter
    a.join()
    assert got == ["w"]
    with cond.read:
        cond.read.notify()
    b.join()
    assert got == ["w", "r"]


def test_wait_timeout_returns_false_with_lock_held():
    lock = T.RWLockFair()
    cond = T.RWCondition(lock)
    with cond.write:
        assert cond.write.wait(0.02) is False
        assert lock.write.locked()
        assert cond.write.wait(0) is False  # <= 0 polls
        assert cond.write.wait(-1) is False
        assert cond.write.wait_for(lambda: 0, 0.01) == 0
    with cond.read:
        assert cond.read.wait(0.01) is False
        assert lock.read.locked()
    assert waiters(cond) == 0
    assert state(lock.read) == FREE


def test_notified_readers_reenter_together():
    lock = T.RWLockFair()
    cond = T.RWCondition(lock)
    barrier = threading.Barrier(3, timeout=STALL)

    def reader():
        with cond.read:
            cond.read.wait()
            barrier.wait()  # passes only with all three inside at once

    ws = [Worker(reader) for _ in range(3)]
    wait_until(lambda: waiters(cond) == 3)
    with cond.write:
        cond.write.notify_all()
        # woken, they queue on the lock behind this writer
        wait_queued(lock.read, qr=3)
        assert waiters(cond) == 0
    for w in ws:
        w.join()


def test_condition_downgrade():
    lock = T.RWLockWriteReentrantWriter()
    cond = T.RWCondition(lock)
    with cond.write:
        cond.write.downgrade()
        with pytest.raises(RuntimeError, match="^cannot notify on un-acquired lock$"):
            cond.write.notify()
        cond.read.notify()
    assert state(lock.read) == FREE
    with pytest.raises(RuntimeError, match="^Permission denied$"):
        cond.write.downgrade()


def test_wait_after_downgrade_keeps_write_release_routed():
    lock = T.RWLockFair()
    cond = T.RWCondition(lock)
    with cond.write:
        cond.write.downgrade()
        assert cond.read.wait(0.01) is False
        assert lock.read.locked()
    assert state(lock.read) == FREE


def test_nested_reentrant_wait_is_refused():
    cond = T.RWCondition(T.RWLockFairReentrantWriter())
    with cond.write:
        with cond.write:
            with pytest.raises(RuntimeError, match="nested write lock"):
                cond.write.wait(0.01)
        assert cond.write.wait(0.01) is False  # depth 1 is fine
    assert waiters(cond) == 0


def test_condition_drop_in_methods():
    cond = T.RWCondition()
    assert cond.acquire() is True
    assert cond.locked()
    assert cond.wait(0.01) is False
    assert cond.wait_for(lambda: "x") == "x"
    cond.notify()
    cond.notify_all()
    cond.release()
    with cond:
        assert cond.write.locked()


def test_rwcondition_over_adapters():
    for lock in (T.Lock(), T.Lock(threading.Lock())):
        cond = T.RWCondition(lock)
        box = {"go": False}

        def waiter():
            with cond.read:
                return cond.read.wait_for(lambda: box["go"], STALL)

        w = Worker(waiter)
        wait_until(lambda: waiters(cond) == 1)
        with cond.write:
            box["go"] = True
            cond.write.notify()
        assert w.join() is True


def test_lost_wakeup_stress():
    # producer/consumer on notify(1): every item is consumed
    cond = T.RWCondition(T.RWLockFair())
    items = []
    consumed = []

    def consumer():
        for _ in range(50):
            with cond.write:
                cond.write.wait_for(lambda: items)
                consumed.append(items.pop())

    cs = [Worker(consumer) for _ in range(3)]
    for i in range(150):
        with cond.write:
            items.append(i)
            cond.write.notify(1)
    for c in cs:
        c.join()
    assert sorted(consumed) == list(range(150))


def test_sigint_during_condition_wait(default_sigint):
    lock = T.RWLockFair()
    cond = T.RWCondition(lock)
    main = threading.main_thread().ident

    def fire():
        wait_until(lambda: waiters(cond) == 1)
        signal.pthread_kill(main, signal.SIGINT)

    t = threading.Thread(target=fire, daemon=True)
    t.start()
    with pytest.raises(KeyboardInterrupt):
        with cond.read:
            cond.read.wait(timeout=STALL)
            pytest.fail("not interrupted")  # pragma: no cover
    t.join()
    assert waiters(cond) == 0
    assert state(lock.read) == FREE  # the with-block released its re-held lock


# --------------------------------------------------------------------- asyncio


def run(coro):
    return asyncio.run(coro)


def test_async_wait_notify_and_wait_for():
    async def main():
        cond = A.AsyncRWCondition(A.AsyncRWLockFair())
        box = {"v": 0}

        async def reader():
            async with cond.read:
                return await cond.read.wait_for(lambda: box["v"])

        async def writer():
            async with cond.write:
                assert await cond.write.wait() is True
                return "w"

        tr = asyncio.create_task(reader())
        tw = asyncio.create_task(writer())
        await async_wait_until(lambda: waiters(cond) == 2)
        async with cond.write:
            box["v"] = 7
            cond.write.notify_all()
        assert await tr == 7
        assert await tw == "w"
        assert state(cond.read._lock_proxy) == FREE

    run(main())


def test_async_notify_n_exact_and_fifo():
    async def main():
        cond = A.AsyncRWCondition()
        order = []

        async def waiter(i):
            async with cond.read:
                await cond.read.wait()
                order.append(i)

        tasks = []
        for i in range(5):
            tasks.append(asyncio.create_task(waiter(i)))
            await async_wait_until(lambda i=i: waiters(cond) == i + 1)
        async with cond.write:
            cond.write.notify(2)
        await async_wait_until(lambda: len(order) == 2)
        for _ in range(10):
            await asyncio.sleep(0)
        assert order == [0, 1] and waiters(cond) == 3
        async with cond.read:
            cond.read.notify(3)
        await asyncio.gather(*tasks)
        assert order == [0, 1, 2, 3, 4]

    run(main())


def test_async_cancel_waiting_reacquires_then_raises():
    async def main():
        lock = A.AsyncRWLockFair()
        cond = A.AsyncRWCondition(lock)
        inside = {}

        async def waiter():
            async with cond.write:
                try:
                    await cond.write.wait()
                except asyncio.CancelledError:
                    inside["held"] = lock.write.locked()
                    raise

        t = asyncio.create_task(waiter())
        await async_wait_until(lambda: waiters(cond) == 1)
        await lock.read.acquire()  # someone else holds the lock meanwhile
        t.cancel()
        for _ in range(5):
            await asyncio.sleep(0)
        assert not t.done()  # waiting to re-acquire
        lock.read.release()
        with pytest.raises(asyncio.CancelledError):
            await t
        assert inside["held"] is True
        assert waiters(cond) == 0
        assert state(lock.read) == FREE

    run(main())


def test_async_cancelled_notified_waiter_passes_notification_on():
    async def main():
        cond = A.AsyncRWCondition(A.AsyncRWLockFair())
        woke = []

        async def waiter(name):
            async with cond.write:
                await cond.write.wait()
                woke.append(name)

        a = asyncio.create_task(waiter("a"))
        await async_wait_until(lambda: waiters(cond) == 1)
        b = asyncio.create_task(waiter("b"))
        await async_wait_until(lambda: waiters(cond) == 2)
        async with cond.write:
            cond.write.notify(1)  # a is notified...
            a.cancel()  # ...and cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await a
        await asyncio.wait_for(b, STALL)  # b got a's notification
        assert woke == ["b"]
        assert waiters(cond) == 0

    run(main())


def test_async_wait_for_with_timeout_keeps_lock():
    async def main():
        lock = A.AsyncRWLockWrite()
        cond = A.AsyncRWCondition(lock)
        async with cond.read:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(cond.read.wait_for(lambda: False), 0.02)
            assert lock.read.locked()
        assert state(lock.read) == FREE
        assert waiters(cond) == 0

    run(main())


def test_async_condition_downgrade_and_drop_ins():
    async def main():
        lock = A.AsyncRWLockFairReentrantWriter()
        cond = A.AsyncRWCondition(lock)
        async with cond:
            assert cond.locked()
            cond.notify()
            cond.notify_all()
        async with cond.write:
            cond.write.downgrade()
            with pytest.raises(RuntimeError, match="^cannot notify on un-acquired lock$"):
                cond.write.notify()
            cond.read.notify()
        assert state(lock.read) == FREE
        assert await cond.acquire() is True
        cond.release()

    run(main())


def test_async_readers_reenter_together():
    async def main():
        lock = A.AsyncRWLockFair()
        cond = A.AsyncRWCondition(lock)
        inside = []

        async def reader():
            async with cond.read:
                await cond.read.wait()
                inside.append(lock.read._state()[0])
                await asyncio.sleep(0)

        ts = [asyncio.create_task(reader()) for _ in range(3)]
        await async_wait_until(lambda: waiters(cond) == 3)
        async with cond.write:
            cond.write.notify_all()
            await async_wait_queued(lock.read, qr=3)
        await asyncio.gather(*ts)
        assert inside[0] == 3  # all three held the read lock together

    run(main())


def test_async_closed_wait_passes_notification():
    async def main():
        cond = A.AsyncRWCondition()
        await cond.write.acquire()
        op = cond.write.wait()
        op.send(None)  # registered, lock released
        assert waiters(cond) == 1
        got = []

        async def other():
            async with cond.write:
                await cond.write.wait()
                got.append(1)

        t = asyncio.create_task(other())
        await async_wait_until(lambda: waiters(cond) == 2)
        async with cond.write:
            cond.write.notify(1)  # goes to op, which is then dropped
        op.close()
        await asyncio.wait_for(t, STALL)
        assert got == [1]

    run(main())



def test_async_wait_after_downgrade_keeps_write_release_routed():
    async def main():
        lock = A.AsyncRWLockFair()
        cond = A.AsyncRWCondition(lock)

        async def notifier():
            async with cond.read:
                cond.read.notify()

        async with cond.write:
            cond.write.downgrade()
            t = asyncio.create_task(notifier())
            assert await cond.read.wait() is True
            assert lock.read.locked() and not lock.write.locked()
            await t
        # the block's write release went to the downgraded read
        assert state(lock.read) == FREE

    run(main())


@pytest.mark.parametrize("contended", [False, True])
def test_async_reentrant_writer_wait_takes_ownership_back(contended):
    async def main():
        lock = A.AsyncRWLockWriteReentrantWriter()
        cond = A.AsyncRWCondition(lock)
        box = {"go": False}

        async def waiter():
            async with cond.write:
                await cond.write.wait_for(lambda: box["go"])
                async with cond.write:  # still the owner: nests
                    assert lock.write.locked()
                return "done"

        t = asyncio.create_task(waiter())
        await async_wait_until(lambda: waiters(cond) == 1)
        async with cond.write:
            box["go"] = True
            cond.write.notify()
            if contended:  # the woken waiter queues for the write lock
                await async_wait_queued(lock.write, qw=1)
        assert await asyncio.wait_for(t, STALL) == "done"
        assert state(lock.write) == FREE
        with pytest.raises(RuntimeError, match="^Permission denied$"):
            lock.write.release()

    run(main())

# ------------------------------------------------------- stdlib conditions


def test_stdlib_condition_over_rwlocker_locks():
    # the lock objects are drop-in threading.Lock: threading.Condition works
    for lock in (T.RWLockFair(), T.RWLockWrite(), T.Lock()):
        cond = threading.Condition(lock)
        box = {"go": False}

        def waiter():
            with cond:
                return cond.wait_for(lambda: box["go"], STALL)

        w = Worker(waiter)
        wait_until(lambda: len(cond._waiters) == 1)
        with cond:
            box["go"] = True
            cond.notify_all()
        assert w.join() is True
        assert not lock.locked()


def test_condition_adapters_with_waiters():
    cond = T.Condition()
    box = {"go": False}

    def waiter():
        with cond.read:
            return cond.read.wait_for(lambda: box["go"], STALL)

    w = Worker(waiter)
    wait_until(lambda: len(cond.write._waiters) == 1)
    with cond:
        box["go"] = True
        cond.notify()
    assert w.join() is True

    async def main():
        acond = A.AsyncCondition()
        abox = {"go": False}

        async def awaiter():
            async with acond.read:
                return await acond.read.wait_for(lambda: abox["go"])

        t = asyncio.create_task(awaiter())
        await async_wait_until(lambda: len(acond.write._waiters) == 1)
        async with acond:
            abox["go"] = True
            acond.notify()
        assert await t is True
        # asyncio.Condition over an asyncio rwlocker lock (drop-in)
        c2 = asyncio.Condition(A.AsyncRWLockFair())
        t2 = asyncio.create_task(c2.acquire())
        assert await t2 is True
        c2.release()

    run(main())


def test_async_condition_drop_in_wait_and_wait_for():
    async def main():
        lock = A.AsyncRWLockFair()
        cond = A.AsyncRWCondition(lock)
        async with cond:
            assert await cond.wait_for(lambda: "now") == "now"
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(cond.wait(), 0.01)
            assert lock.write.locked()  # re-held after the cancellation
        assert state(lock.write) == FREE
        assert waiters(cond) == 0

        async def waker():
            async with cond.read:
                cond.read.notify()

        async with cond:
            t = asyncio.create_task(waker())
            assert await cond.wait() is True
        await t

    run(main())


def test_second_sigint_escapes_a_reacquire_that_cannot_finish(default_sigint):
    # The first Ctrl-C during a wait's re-acquire is kept until the lock is
    # held again; a second one gives up and raises without the lock (a
    # re-acquire that never finishes could not be interrupted at all).
    lock = T.RWLockWriteReentrantWriter()  # a stray release is refused
    cond = T.RWCondition(lock)
    main = threading.main_thread().ident
    stop = threading.Event()
    seen = []

    def on_sigint(signum, frame):
        seen.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)  # the fixture restores the old one

    def hog():
        wait_until(lambda: waiters(cond) == 1)
        with lock.write:  # taken while main waits; held until main gives up
            wait_queued(lock.read, qw=1)  # main's timed-out wait re-acquires
            signal.pthread_kill(main, signal.SIGINT)
            wait_until(lambda: len(seen) == 1)  # kept; main still waits
            assert state(lock.read)["qw"] == 1
            signal.pthread_kill(main, signal.SIGINT)
            stop.wait(STALL)

    t = threading.Thread(target=hog, daemon=True)
    t.start()
    cond.write.acquire()
    try:
        with pytest.raises(KeyboardInterrupt):
            cond.write.wait(0.05)
    finally:
        assert state(lock.read) == {"readers": 0, "writer": True, "qr": 0, "qw": 0}
        with pytest.raises(RuntimeError, match="Permission denied"):
            cond.write.release()  # main does not hold it: the hog does
        stop.set()
        t.join(STALL)
    assert state(lock.read) == FREE

"""Regressions against rwlocker 3.2: each case here once behaved worse than
3.2 did. A case that could hang runs in a subprocess with a timeout."""

import asyncio
import copy
import gc
import os
import subprocess
import sys
import textwrap
import threading
import tracemalloc

import pytest
from conftest import STALL, state, wait_queued, wait_until

from rwlocker import async_rwlock as A
from rwlocker import thread_rwlock as T

FREE = {"readers": 0, "writer": False, "qr": 0, "qw": 0}
REENTRANT = [T.RWLockFairReentrantWriter, T.RWLockWriteReentrantWriter, T.RWLockReadReentrantWriter]


def run_script(code, timeout=STALL * 3):
    """Runs ``code`` in a fresh interpreter; fails the test if it hangs or
    exits non-zero. Returns its stdout."""
    try:
        p = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"hung (killed after {timeout} s): {e.stdout!r} {e.stderr!r}")
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


# ------------------------------------------ 1. a reentrant owner's read wait


@pytest.mark.parametrize("lock_cls", REENTRANT)
def test_owner_read_wait_times_out_inside_its_write_lock(lock_cls):
    out = run_script(
        f"""
        import rwlocker.thread_rwlock as T
        lk = T.{lock_cls.__name__}()
        cond = T.RWCondition(lk)
        with lk.write:
            with lk.read:
                print(cond.read.wait(timeout=0.2))
                print(cond.read.wait_for(lambda: False, timeout=0.2))
            assert lk.write.locked() and not lk.read.locked()
        assert lk.read._state() == (0, False, 0, 0)
        print("done")
        """
    )
    assert out.split() == ["False", "False", "done"]


@pytest.mark.parametrize("lock_cls", REENTRANT)
def test_owner_write_wait_with_own_reads_is_refused(lock_cls):
    # Giving up the write side would leave the lock read-held by the
    # owner's own reads: the wait could never take it back.
    lk = lock_cls()
    cond = T.RWCondition(lk)
    with lk.write:
        with lk.read:
            with pytest.raises(RuntimeError, match="holding read locks"):
                cond.write.wait(timeout=0.01)
        assert cond.write.wait(timeout=0.01) is False  # without the read it works
    assert state(lk.read) == FREE


@pytest.mark.parametrize("lock_cls", REENTRANT)
def test_nested_owner_read_wait_works(lock_cls):
    # Found by the state machine of test_property.py: a read-side wait of
    # an owner holding its write lock twice was refused as "nested", though
    # it leaves the write lock alone.
    lk = lock_cls()
    cond = T.RWCondition(lk)
    with lk.write, lk.write, lk.read:
        assert cond.read.wait(0) is False
        assert cond.read.wait_for(lambda: False, 0.01) is False
    assert state(lk.read) == FREE


def test_async_owner_read_wait_inside_its_write_lock():
    async def main():
        lk = A.AsyncRWLockFairReentrantWriter()
        cond = A.AsyncRWCondition(lk)

        async def notifier():
            while len(cond._state) == 0:
                await asyncio.sleep(0)
            cond.write.notify()  # the owner's write lock is held

        async with lk.write:
            async with lk.read:
                t = asyncio.create_task(notifier())
                assert await cond.read.wait() is True  # re-takes its own read
                await t
            with pytest.raises(RuntimeError, match="holding read locks"):
                async with lk.read:
                    await cond.write.wait()
        assert state(lk.read) == FREE

    asyncio.run(asyncio.wait_for(main(), STALL))


# ------------------------------------- 2. no shared StopIteration (a leak)


def test_hand_driven_acquires_keep_nothing_alive():
    lk = A.AsyncRWLockFair()

    def drive():
        coro = lk.read.acquire()
        try:
            coro.send(None)
        except StopIteration as e:
            assert e.value is True
        ready = lk.read.__aexit__(None, None, None)  # releases
        try:
            ready.send(None)
        except StopIteration as e:
            assert e.value is False

    for _ in range(100):
        drive()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            drive()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # A shared exception kept every traceback: ~650 kB here.
    assert grown < 20_000


def test_completed_acquires_raise_distinct_stop_iterations():
    lk = A.AsyncRWLockWrite()
    seen = []
    for _ in range(2):
        try:
            lk.write.acquire().send(None)
        except StopIteration as e:
            seen.append(e)
        lk.write.release()
    assert seen[0] is not seen[1]


# --------------------------------- 3. reentrancy keyed on a live identity


def test_finished_task_ownership_does_not_pass_to_later_tasks():
    lk = A.AsyncRWLockFairReentrantWriter()

    async def holder():
        await lk.write.acquire()  # ends holding the write lock

    async def later():
        got = await lk.write.acquire(blocking=False)
        if got:
            lk.write.release()
        return got

    async def main():
        await asyncio.create_task(holder())
        gc.collect()
        return [await asyncio.create_task(later()) for _ in range(300)]

    assert not any(asyncio.run(main()))
    assert lk.write.locked()


def test_finished_thread_ownership_does_not_pass_to_later_threads():
    lk = T.RWLockWriteReentrantWriter()
    t = threading.Thread(target=lk.write.acquire)
    t.start()
    t.join()
    got = []

    def later():
        r = lk.write.acquire(blocking=False)
        if r:
            lk.write.release()
        got.append(r)

    for _ in range(50):
        t = threading.Thread(target=later)
        t.start()
        t.join()
    assert got == [False] * 50


# ------------------------------ 4. a waiter whose loop was closed is skipped


def dead_loop_task(coro_fn):
    """Starts ``coro_fn()`` on a new loop, lets it block, closes the loop
    (the task stays alive and pending). Returns the task."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro_fn())
    loop.run_until_complete(asyncio.sleep(0.01))
    loop.close()
    return task


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("side", ["read", "write"])
def test_release_skips_a_waiter_of_a_closed_loop(side):
    lk = A.AsyncRWLockFair()
    with pytest.raises(StopIteration):
        lk.write.acquire().send(None)  # free: taken at once
    task = dead_loop_task(lambda: getattr(lk, side).acquire())
    assert state(lk.read)["qr" if side == "read" else "qw"] == 1
    lk.write.release()  # would hand the lock to the dead task
    assert not lk.write.locked() and not lk.read.locked()
    assert state(lk.read) == FREE

    async def fresh():
        return await asyncio.wait_for(lk.write.acquire(), STALL)

    assert asyncio.run(fresh()) is True
    lk.write.release()
    del task


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_notify_skips_a_waiter_of_a_closed_loop():
    lk = A.AsyncRWLockFair()
    cond = A.AsyncRWCondition(lk)

    async def dead_waiter():
        async with cond.write:
            await cond.write.wait()

    task = dead_loop_task(dead_waiter)
    assert len(cond._state) == 1
    woken = []

    async def main():
        async def live():
            async with cond.write:
                await cond.write.wait()
                woken.append(1)

        t = asyncio.create_task(live())
        while len(cond._state) < 2:
            await asyncio.sleep(0)
        async with cond.write:
            cond.write.notify(1)  # the oldest waiter is the dead one
        await asyncio.wait_for(t, STALL)

    asyncio.run(main())
    assert woken == [1]
    assert len(cond._state) == 0 and state(lk.read) == FREE
    del task


# --------------------------------------- 5. downgrade routing after a wait


def test_no_stale_downgrade_routing_after_a_condition_wait():
    lk = T.RWLockFair()
    cond = T.RWCondition(lk)
    lk.write.acquire()
    lk.write.downgrade()
    lk.read.acquire()
    assert cond.read.wait(0.01) is False
    lk.read.release()
    lk.write.release()  # routed: the downgraded read
    assert state(lk.read) == FREE
    other = threading.Thread(target=lk.read.acquire)
    other.start()
    other.join()
    with pytest.raises(RuntimeError, match="Unacquired write lock"):
        lk.write.release()  # stray: must not release the other thread's read
    assert state(lk.read)["readers"] == 1
    lk.read.release()


def test_async_no_stale_downgrade_routing_after_a_condition_wait():
    async def main():
        lk = A.AsyncRWLockFair()
        cond = A.AsyncRWCondition(lk)
        await lk.write.acquire()
        lk.write.downgrade()
        await lk.read.acquire()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(cond.read.wait(), 0.01)
        lk.read.release()
        lk.write.release()
        assert state(lk.read) == FREE

        async def reader():
            await lk.read.acquire()

        await asyncio.create_task(reader())
        with pytest.raises(RuntimeError, match="Unacquired write lock"):
            lk.write.release()
        assert state(lk.read)["readers"] == 1
        lk.read.release()

    asyncio.run(asyncio.wait_for(main(), STALL))


# ------------------------------------------------------------ the smaller


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_ctrl_c_in_a_child_forked_from_a_thread_that_blocked():
    run_script(
        """
        import os, signal, sys, threading, time
        import rwlocker.thread_rwlock as T
        lk = T.RWLockFair()
        lk.write.acquire()
        result = {}

        def forker():
            # This thread blocks once (not the main thread here) ...
            assert lk.write.acquire(timeout=0.01) is False
            pid = os.fork()
            if pid == 0:
                # ... and is the main thread of the child: Ctrl-C reaches it.
                signal.signal(signal.SIGINT, signal.default_int_handler)
                threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
                try:
                    lk.read.acquire(timeout=5)
                except KeyboardInterrupt:
                    os._exit(0)
                os._exit(1)
            end = time.monotonic() + 20
            while time.monotonic() < end:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    result["status"] = os.waitstatus_to_exitcode(status)
                    return
                time.sleep(0.01)
            os.kill(pid, signal.SIGKILL)
            result["status"] = "hung"

        t = threading.Thread(target=forker)
        t.start()
        t.join()
        assert result["status"] == 0, result
        """
    )


@pytest.mark.parametrize(
    "n, woken",
    [(2**63, 3), (2**200, 3), (1.5, 2), (0.5, 1), (True, 1), (-1, 0), (-(2**70), 0), (float("nan"), 0), (float("inf"), 3)],
)
def test_notify_counts_as_threading_condition(n, woken):
    cond = T.RWCondition(T.RWLockFair())
    lk = cond._lock
    got = []

    def waiter():
        with cond.read:
            got.append(cond.read.wait(timeout=STALL))

    ws = [threading.Thread(target=waiter) for _ in range(3)]
    for w in ws:
        w.start()
    wait_until(lambda: len(cond._state) == 3, "3 waiters")
    with cond.write:
        cond.write.notify(n)
        # The woken ones queue for their read lock behind this write lock;
        # the others still sleep.
        wait_queued(lk.read, qr=woken)
        assert len(cond._state) == 3 - woken
    with cond.write:
        cond.write.notify_all()
    for w in ws:
        w.join(STALL)
    assert got == [True] * 3
    assert state(lk.read) == FREE


def test_async_notify_counts_as_asyncio_condition():
    async def main():
        cond = A.AsyncRWCondition(A.AsyncRWLockFair())
        async with cond.write:
            cond.write.notify(2**64)
            cond.write.notify(1.5)
            cond.write.notify_all()
            with pytest.raises(TypeError, match="number of waiters"):
                cond.write.notify("2")

    asyncio.run(main())


def test_notify_rejects_what_is_not_a_number():
    cond = T.RWCondition(T.RWLockFair())
    with cond.write:
        with pytest.raises(TypeError, match="number of waiters"):
            cond.write.notify("1")


def test_wait_and_wait_for_agree_on_huge_timeouts():
    cond = T.RWCondition(T.RWLockFair())
    with cond.write:
        with pytest.raises(OverflowError):
            cond.write.wait(1e300)
        with pytest.raises(OverflowError):
            cond.write.wait_for(lambda: False, 1e300)
        with pytest.raises(ValueError):
            cond.write.wait_for(lambda: False, float("nan"))
        assert cond.write.wait_for(lambda: 7, 1e300) == 7  # no wait, no check (as 3.2)
        assert cond.write.locked()
    assert state(cond._lock.read) == FREE


@pytest.mark.parametrize(
    "make",
    [T.RWLockFair, T.RWLockWriteReentrantWriter, T.Lock, A.AsyncRWLockFair, A.AsyncRWLockReadReentrantWriter, A.AsyncLock],
)
def test_copy_is_the_same_lock_under_a_new_object(make):
    lk = make()
    c = copy.copy(lk)
    assert c is not lk and type(c) is type(lk)
    assert c.read is lk.read and c.write is lk.write
    if isinstance(lk, T.RWLockBase):
        assert c.acquire(blocking=False)
        assert lk.locked()
        lk.release()
        assert not c.locked()
    with pytest.raises(TypeError):
        copy.deepcopy(lk)


def test_copy_keeps_subclass_attributes():
    class Mine(T.RWLockFair):
        pass

    lk = Mine()
    lk.tag = "x"
    c = copy.copy(lk)
    assert type(c) is Mine and c.tag == "x" and c.write is lk.write


def test_condition_state_bound_to_one_lock():
    st = T._CondState()
    a, b = T.RWLockFair(), T.RWLockFair()
    T.RWConditionReaderProxy(st, a.read)
    T.RWConditionWriterProxy(st, a.write)  # the same lock: fine
    with pytest.raises(RuntimeError, match="another lock"):
        T.RWConditionReaderProxy(st, b.read)
    ast = A._CondState()
    c, d = A.AsyncRWLockFair(), A.AsyncRWLockFair()
    A.AsyncRWConditionReaderProxy(ast, c.read)
    with pytest.raises(RuntimeError, match="another lock"):
        A.AsyncRWConditionWriterProxy(ast, d.write)


# ------------------------------ SIGINT tests when SIGINT is inherited ignored


def test_sigint_tests_pass_when_sigint_is_ignored():
    # A shell starts a background job with SIGINT ignored; the SIGINT tests
    # install Python's handler for their duration instead of hanging.
    here = os.path.dirname(os.path.abspath(__file__))
    tests = [
        os.path.join(here, "test_thread_locks.py") + "::test_sigint_interrupts_blocked_acquire",
        os.path.join(here, "test_thread_locks.py") + "::test_sigint_via_os_kill_during_timed_acquire",
        os.path.join(here, "test_conditions.py") + "::test_sigint_during_condition_wait",
    ]
    out = run_script(
        f"""
        import signal, sys
        import pytest
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *{tests!r}]))
        """,
        timeout=120,
    )
    assert "4 passed" in out

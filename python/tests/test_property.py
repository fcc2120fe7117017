"""Property-based tests: Hypothesis state machines (one for threads, one for
asyncio) drive random sequences of acquire, release, downgrade, reentrant
nesting, condition wait/notify, timeouts, cancellation and misuse against a
small model of who holds what, and check after every step that the lock
agrees with the model and is usable. Plus a time-bounded fuzz of misuse
calls.

The example count is bounded for CI; ``RWLOCKER_HYPOTHESIS_EXAMPLES`` asks
for more (e.g. 2000), ``RWLOCKER_FUZZ_SECONDS`` for a longer fuzz.
"""

import asyncio
import os
import queue
import random
import sys
import threading
import time

import pytest

hypothesis = pytest.importorskip("hypothesis")
from conftest import STALL, state  # noqa: E402
from hypothesis import HealthCheck, event, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule  # noqa: E402

from rwlocker import async_rwlock as A  # noqa: E402
from rwlocker import thread_rwlock as T  # noqa: E402

EXAMPLES = int(os.environ.get("RWLOCKER_HYPOTHESIS_EXAMPLES", "40"))
FUZZ_SECONDS = float(os.environ.get("RWLOCKER_FUZZ_SECONDS", "2"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize="RWLOCKER_HYPOTHESIS_EXAMPLES" not in os.environ,
)

ACTORS = 2
THREAD_LOCKS = [
    T.RWLockFair,
    T.RWLockWrite,
    T.RWLockRead,
    T.RWLockFairReentrantWriter,
    T.RWLockWriteReentrantWriter,
    T.RWLockReadReentrantWriter,
]
ASYNC_LOCKS = [
    A.AsyncRWLockFair,
    A.AsyncRWLockWrite,
    A.AsyncRWLockRead,
    A.AsyncRWLockFairReentrantWriter,
    A.AsyncRWLockWriteReentrantWriter,
    A.AsyncRWLockReadReentrantWriter,
]


class Model:
    """Who holds what, by the rules of python/README.md: reads per actor,
    the write holder and its depth, the actor whose write release is
    routed to its downgraded read."""

    def __init__(self, reentrant):
        self.reentrant = reentrant
        self.reads = [0] * ACTORS
        self.writer = None
        self.depth = 0
        self.marker = None

    @property
    def total_reads(self):
        return sum(self.reads)

    def can_read(self, a):
        return self.writer is None or (self.reentrant and self.writer == a)

    def can_write(self, a):
        if self.reentrant and self.writer == a:
            return True
        return self.writer is None and self.total_reads == 0

    def read(self, a):
        self.reads[a] += 1

    def write(self, a):
        if self.reentrant and self.writer == a:
            self.depth += 1
        else:
            self.writer, self.depth, self.marker = a, 1, None

    def release_read(self, a):
        self.reads[a] -= 1
        if self.marker == a and self.reads[a] == 0:
            self.marker = None

    def release_write(self, a):
        if self.marker == a:
            self.release_read(a)
            return
        self.depth -= 1
        if self.depth == 0:
            self.writer = None

    def downgrade(self, a):
        self.writer, self.depth = None, 0
        self.reads[a] += 1
        self.marker = a

    def write_release_error(self, a):
        """The RuntimeError text of a.release() on the write side, or None."""
        if self.marker == a:
            return None
        if self.reentrant:
            return None if self.writer == a else "Permission denied"
        return None if self.writer is not None else "Unacquired write lock"

    def check(self, lock):
        held_w = self.writer is not None
        assert lock.write.locked() == held_w
        assert lock.read.locked() == (self.total_reads > 0)
        s = state(lock.read)
        assert s["writer"] == held_w
        assert (s["readers"] > 0) == (self.total_reads > 0 and not held_w)
        assert s["qr"] == s["qw"] == 0
        assert lock.read.those_waiting == lock.write.those_waiting == 0


# ---------------------------------------------------------------- threads


class Actor:
    """A thread that runs the calls given to it (an identity for the lock)."""

    def __init__(self):
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while True:
            item = self.q.get()
            if item is None:
                return
            fn, box, done = item
            try:
                box.append(("ok", fn()))
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                box.append(("err", e))
            done.set()

    def call(self, fn):
        box, done = [], threading.Event()
        self.q.put((fn, box, done))
        assert done.wait(STALL), "actor call stalled"
        kind, v = box[0]
        if kind == "err":
            raise v
        return v

    def stop(self):
        self.q.put(None)
        self.t.join(STALL)


actor = st.integers(0, ACTORS - 1)


class ThreadLockMachine(RuleBasedStateMachine):
    @initialize(cls=st.sampled_from(THREAD_LOCKS))
    def setup(self, cls):
        self.lock = cls()
        self.cond = T.RWCondition(self.lock)
        self.m = Model(reentrant="Reentrant" in cls.__name__)
        self.actors = [Actor() for _ in range(ACTORS)]

    def teardown(self):
        for a in getattr(self, "actors", []):
            a.stop()

    def on(self, a, fn):
        return self.actors[a].call(fn)

    @rule(a=actor, timed=st.booleans())
    def acquire_read(self, a, timed):
        expect = self.m.can_read(a)
        if timed:
            got = self.on(a, lambda: self.lock.read.acquire(timeout=0.001))
        else:
            got = self.on(a, lambda: self.lock.read.acquire(blocking=False))
        assert got == expect
        if got:
            self.m.read(a)

    @rule(a=actor, timed=st.booleans())
    def acquire_write(self, a, timed):
        expect = self.m.can_write(a)
        if timed:
            got = self.on(a, lambda: self.lock.write.acquire(True, 0.001))
        else:
            got = self.on(a, lambda: self.lock.write.acquire(False))
        assert got == expect
        if got:
            self.m.write(a)

    @precondition(lambda self: any(self.m.reads))
    @rule(data=st.data())
    def release_read(self, data):
        a = data.draw(st.sampled_from([i for i in range(ACTORS) if self.m.reads[i]]))
        self.on(a, self.lock.read.release)
        self.m.release_read(a)

    @rule(a=actor)
    def release_write(self, a):
        err = self.m.write_release_error(a)
        if err is None and self.m.writer is None and self.m.marker != a:
            return  # nothing of a's to release
        if err is None:
            event("write release" + (" routed to the downgraded read" if self.m.marker == a else ""))
            self.on(a, self.lock.write.release)
            self.m.release_write(a)
        else:
            event("stray write release refused")
            with pytest.raises(RuntimeError, match=err):
                self.on(a, self.lock.write.release)

    @rule(a=actor)
    def downgrade(self, a):
        m = self.m
        if m.writer != a:
            if m.writer is None or m.reentrant:
                with pytest.raises(RuntimeError):
                    self.on(a, self.lock.write.downgrade)
            return
        if m.reentrant and m.depth > 1:
            with pytest.raises(RuntimeError, match="nested"):
                self.on(a, self.lock.write.downgrade)
            return
        self.on(a, self.lock.write.downgrade)
        m.downgrade(a)
        event("downgrade")

    @rule(a=actor, side=st.sampled_from(["read", "write"]))
    def wait_poll(self, a, side):
        """A wait that times out at once: releases and re-takes the side."""
        m = self.m
        proxy = getattr(self.cond, side)
        holds = m.reads[a] > 0 if side == "read" else m.writer == a
        if not holds:
            anyone = m.total_reads > 0 if side == "read" else m.writer is not None
            if not anyone:
                with pytest.raises(RuntimeError, match="un-acquired"):
                    self.on(a, lambda: proxy.wait(0))
            return
        if side == "write" and m.reentrant and (m.depth > 1 or m.reads[a] > 0):
            with pytest.raises(RuntimeError, match="Cannot wait"):
                self.on(a, lambda: proxy.wait(0))
            return
        if side == "read" and m.writer is not None and m.writer != a:
            return  # (cannot happen: nobody reads beside another's write)
        assert self.on(a, lambda: proxy.wait(0)) is False
        event(f"wait on {side}" + (" after downgrade" if m.marker == a else ""))

    @precondition(lambda self: self.m.writer is None and self.m.total_reads == 0)
    @rule(a=actor, extra=st.integers(0, 2), waits=st.integers(1, 2))
    def downgraded_reader_waits(self, a, extra, waits):
        """A common shape as one step: write, downgrade, more reads, then
        read-side waits (the routing of a's write release must survive them
        exactly, neither lost nor left behind)."""
        assert self.on(a, lambda: self.lock.write.acquire(blocking=False))
        self.m.write(a)
        self.on(a, self.lock.write.downgrade)
        self.m.downgrade(a)
        for _ in range(extra):
            assert self.on(a, lambda: self.lock.read.acquire(blocking=False))
            self.m.read(a)
        for _ in range(waits):
            assert self.on(a, lambda: self.cond.read.wait(0)) is False
        event("wait on read after downgrade")

    @precondition(lambda self: self.m.reentrant and self.m.writer is None and self.m.total_reads == 0)
    @rule(a=actor, depth=st.integers(1, 2), reads=st.integers(1, 2))
    def owner_waits_inside_its_write_lock(self, a, depth, reads):
        """Another common shape as one step: the reentrant owner nests write
        and read holds, then waits on the read side (which leaves its write
        lock alone) and is refused on the write side."""
        for _ in range(depth):
            assert self.on(a, lambda: self.lock.write.acquire(blocking=False))
            self.m.write(a)
        for _ in range(reads):
            assert self.on(a, lambda: self.lock.read.acquire(blocking=False))
            self.m.read(a)
        assert self.on(a, lambda: self.cond.read.wait(0.001)) is False
        with pytest.raises(RuntimeError, match="Cannot wait"):
            self.on(a, lambda: self.cond.write.wait(0))
        event("owner waits inside its write lock")

    @rule(a=actor, side=st.sampled_from(["read", "write"]), n=st.one_of(st.integers(-3, 2**70), st.floats(allow_nan=True)))
    def notify(self, a, side, n):
        m = self.m
        anyone = m.total_reads > 0 if side == "read" else m.writer is not None
        proxy = getattr(self.cond, side)
        if anyone:
            self.on(a, lambda: proxy.notify(n))
        else:
            with pytest.raises(RuntimeError, match="un-acquired"):
                self.on(a, lambda: proxy.notify(n))

    @rule(a=actor, b=actor)
    def wait_notified(self, a, b):
        """a waits on the write side, b takes the lock, notifies, releases:
        a's wait returns True holding the write lock again."""
        m = self.m
        if not (m.writer == a and m.depth == 1 and m.total_reads == 0 and a != b and m.marker is None):
            return
        box = []
        waiter = threading.Thread(target=lambda: self.actors[a].call(lambda: box.append(self.cond.write.wait(STALL))))
        waiter.start()
        deadline = time.monotonic() + STALL
        while len(self.cond._state) != 1:
            assert time.monotonic() < deadline, "waiter did not register"
            time.sleep(0.0005)

        def notify():
            with self.cond.write:
                self.cond.write.notify()

        self.on(b, notify)
        waiter.join(STALL)
        assert box == [True]

    @invariant()
    def agrees_with_model(self):
        if hasattr(self, "m"):
            self.m.check(self.lock)
            assert len(self.cond._state) == 0


TestThreadLock = ThreadLockMachine.TestCase
TestThreadLock.settings = SETTINGS


# ---------------------------------------------------------------- asyncio


class AsyncLockMachine(RuleBasedStateMachine):
    """Actors are tasks of one event loop (identity: the task)."""

    @initialize(cls=st.sampled_from(ASYNC_LOCKS))
    def setup(self, cls):
        self.loop = asyncio.new_event_loop()
        self.lock = cls()
        self.cond = A.AsyncRWCondition(self.lock)
        self.m = Model(reentrant="Reentrant" in cls.__name__)
        self.queues = []
        self.tasks = []

        async def start():
            for _ in range(ACTORS):
                q = asyncio.Queue()
                self.queues.append(q)
                self.tasks.append(asyncio.ensure_future(self._actor(q)))

        self.loop.run_until_complete(start())

    @staticmethod
    async def _actor(q):
        while True:
            fn, fut = await q.get()
            try:
                fut.set_result(await fn())
            except Exception as e:  # noqa: BLE001 - handed to the caller
                fut.set_exception(e)

    def teardown(self):
        if hasattr(self, "loop"):
            for t in self.tasks:
                t.cancel()
            self.loop.run_until_complete(asyncio.gather(*self.tasks, return_exceptions=True))
            self.loop.close()

    def on(self, a, afn):
        async def go():
            fut = self.loop.create_future()
            await self.queues[a].put((afn, fut))
            return await asyncio.wait_for(fut, STALL)

        return self.loop.run_until_complete(go())

    @rule(a=actor)
    def acquire_read(self, a):
        expect = self.m.can_read(a)

        async def go():
            return await self.lock.read.acquire(blocking=False)

        assert self.on(a, go) == expect
        if expect:
            self.m.read(a)

    @rule(a=actor)
    def acquire_write(self, a):
        expect = self.m.can_write(a)

        async def go():
            return await self.lock.write.acquire(blocking=False)

        assert self.on(a, go) == expect
        if expect:
            self.m.write(a)

    @rule(a=actor, side=st.sampled_from(["read", "write"]))
    def cancelled_acquire(self, a, side):
        """A blocking acquire that would wait is cancelled: no trace."""
        expect = self.m.can_read(a) if side == "read" else self.m.can_write(a)
        if expect:
            return
        proxy = getattr(self.lock, side)

        async def go():
            t = asyncio.ensure_future(proxy.acquire())
            await asyncio.sleep(0)
            assert proxy.those_waiting == 1
            t.cancel()
            try:
                await t
            except asyncio.CancelledError:
                return "cancelled"
            return "acquired"

        assert self.on(a, go) == "cancelled"

    @precondition(lambda self: any(self.m.reads))
    @rule(data=st.data())
    def release_read(self, data):
        a = data.draw(st.sampled_from([i for i in range(ACTORS) if self.m.reads[i]]))

        async def go():
            self.lock.read.release()

        self.on(a, go)
        self.m.release_read(a)

    @rule(a=actor)
    def release_write(self, a):
        err = self.m.write_release_error(a)
        if err is None and self.m.writer is None and self.m.marker != a:
            return

        async def go():
            self.lock.write.release()

        if err is None:
            self.on(a, go)
            self.m.release_write(a)
        else:
            with pytest.raises(RuntimeError, match=err):
                self.on(a, go)

    @rule(a=actor)
    def downgrade(self, a):
        m = self.m
        if m.writer != a or (m.reentrant and m.depth > 1):
            return

        async def go():
            self.lock.write.downgrade()

        self.on(a, go)
        m.downgrade(a)

    @precondition(lambda self: hasattr(asyncio, "timeout"))
    @rule(a=actor, side=st.sampled_from(["read", "write"]))
    def wait_times_out(self, a, side):
        """A wait cut short by a timeout re-takes its side, then raises."""
        m = self.m
        holds = m.reads[a] > 0 if side == "read" else m.writer == a
        if not holds or (side == "write" and m.reentrant and (m.depth > 1 or m.reads[a] > 0)):
            return
        proxy = getattr(self.cond, side)

        async def go():
            try:
                async with asyncio.timeout(0.001):
                    await proxy.wait()
            except TimeoutError:
                return "timeout"
            return "woken"

        assert self.on(a, go) == "timeout"

    @invariant()
    def agrees_with_model(self):
        if hasattr(self, "m"):
            self.m.check(self.lock)
            assert len(self.cond._state) == 0


TestAsyncLock = AsyncLockMachine.TestCase
TestAsyncLock.settings = SETTINGS


# ------------------------------------------------------------ misuse fuzz

JUNK = [None, True, False, 0, 1, -1, -2, 0.0, -0.5, 1e-9, 1e300, -1e300, float("nan"), float("inf"), float("-inf"),
        2**63, -(2**63), 2**200, "1", b"1", [], {}, object(), 1j]


def bounded(t):
    """``t`` unless it could wait longer than 10 ms."""
    if t is None or t is True:
        return 0.01
    if isinstance(t, (int, float)) and (t == -1 or t > 0.01):
        return 0.01
    return t


def fuzz_calls(lock, cond, rnd):
    """One random misuse call on a thread lock; returns its description."""
    target = rnd.choice([lock.read, lock.write, lock, cond.read, cond.write])
    name = rnd.choice(["acquire", "release", "locked", "downgrade", "wait", "wait_for", "notify", "notify_all"])
    fn = getattr(target, name, None)
    if fn is None:
        return None
    args = [rnd.choice(JUNK) for _ in range(rnd.randint(0, 3))]
    # Misuse, not a wait: every call that may block gets a short timeout.
    if name == "acquire":
        args = (args + [True])[:1] + [bounded(args[1] if len(args) > 1 else None)] + args[2:]
    elif name == "wait":
        args = [bounded(args[0] if args else None)] + args[1:]
    elif name == "wait_for":
        pred = rnd.choice([lambda: True, lambda: False, lambda: 1 / 0, args[0] if args else None])
        args = [pred, bounded(args[1] if len(args) > 1 else None)] + args[2:]
    return fn, args


def test_misuse_fuzz_threads():
    rnd = random.Random(1234)
    end = time.monotonic() + FUZZ_SECONDS
    calls = 0
    while time.monotonic() < end:
        lock = rnd.choice(THREAD_LOCKS)()
        cond = T.RWCondition(lock)
        for _ in range(20):
            c = fuzz_calls(lock, cond, rnd)
            if c is None:
                continue
            fn, args = c
            calls += 1
            try:
                fn(*args)
            except (TypeError, ValueError, OverflowError, RuntimeError, ZeroDivisionError):
                pass
            # anything else (a PanicException, a SystemError) fails the test
        # release whatever the calls left held, then the lock must work
        for _ in range(100):
            try:
                lock.write.release()
            except RuntimeError:
                break
        for _ in range(100):
            try:
                lock.read.release()
            except RuntimeError:
                break
        s = state(lock.read)
        assert s == {"readers": 0, "writer": False, "qr": 0, "qw": 0}, (type(lock).__name__, s)
        assert lock.write.acquire(timeout=STALL)
        lock.write.release()
        assert lock.read.acquire(timeout=STALL)
        lock.read.release()
    assert calls > 50


def test_misuse_fuzz_wrong_threads_and_tasks():
    """Releases, downgrades and notifies from threads and tasks that hold
    nothing: each works (3.2 does not track ownership of plain locks) or
    raises RuntimeError, and the lock ends usable."""
    rnd = random.Random(99)
    end = time.monotonic() + FUZZ_SECONDS
    while time.monotonic() < end:
        cls = rnd.choice(ASYNC_LOCKS)
        lock = cls()
        cond = A.AsyncRWCondition(lock)

        async def owner():
            await lock.write.acquire()

        async def intruder():
            for name in rnd.sample(["release", "downgrade", "notify"], 3):
                try:
                    if name == "notify":
                        cond.write.notify(rnd.choice([1, 2**80, 1.5]))
                    else:
                        getattr(lock.write, name)()
                except RuntimeError:
                    pass

        async def main():
            await asyncio.create_task(owner())
            await asyncio.create_task(intruder())
            lock.write.release() if lock.write.locked() and "Reentrant" not in cls.__name__ else None

        asyncio.run(main())
        # a thread that holds nothing
        t = threading.Thread(target=lambda: [_try(lock.read.release), _try(lock.write.release)])
        t.start()
        t.join(STALL)
        if "Reentrant" in cls.__name__:
            continue  # the dead owner task keeps its write lock, as in 3.2
        while True:
            if not _try(lock.read.release):
                break
        assert not lock.write.locked()

        async def again():
            assert await asyncio.wait_for(lock.write.acquire(), STALL)
            lock.write.release()

        asyncio.run(again())


def _try(fn):
    try:
        fn()
        return True
    except RuntimeError:
        return False


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))

"""The public surface of rwlocker 3.2: names, classes, constructors, messages."""

import asyncio
import collections.abc
import inspect
import pathlib
import sys
import threading

import pytest

import rwlocker
from rwlocker import async_rwlock, thread_rwlock

THREAD_NAMES = [
    "Lockable", "LockDowngradable", "RWLockBase", "RWLockWithProxyBase", "RWLockProxy",
    "RWLockReaderProxy", "RWLockWriterProxy", "RWLockWrite", "RWLockWriteReentrantWriter",
    "RWLockRead", "RWLockReadReentrantWriter", "RWLockFair", "RWLockFairReentrantWriter",
    "ConditionLockable", "ConditionDowngradable", "RWConditionBase", "RWConditionWithProxyBase",
    "RWConditionProxy", "RWConditionReaderProxy", "RWConditionWriterProxy", "RWCondition",
    "Lock", "Condition",
]  # fmt: skip

RW_CLASSES = [
    "RWLockWrite", "RWLockWriteReentrantWriter", "RWLockRead",
    "RWLockReadReentrantWriter", "RWLockFair", "RWLockFairReentrantWriter",
]  # fmt: skip


def test_all_names_and_version():
    assert thread_rwlock.__all__ == THREAD_NAMES
    assert async_rwlock.__all__ == ["Async" + n for n in THREAD_NAMES]
    assert len(rwlocker.__all__) == 46
    for name in rwlocker.__all__:
        assert getattr(rwlocker, name) is not None, name
    assert rwlocker.__version__ == thread_rwlock.__version__ == async_rwlock.__version__ == "3.2"


def test_distribution_version_is_its_own():
    # The distribution has the version of python/Cargo.toml, not 3.2.0:
    # `rwlocker==3.2.0` (the upstream library) and this package differ.
    import importlib.metadata
    import re

    cargo = pathlib.Path(__file__).resolve().parents[1] / "Cargo.toml"
    want = re.search(r'^version = "([^"]+)"', cargo.read_text(), re.M).group(1)
    assert importlib.metadata.version("rwlocker") == want != "3.2.0"


@pytest.mark.skipif(sys.platform == "win32", reason="file name of the extension differs")
def test_one_abi3_extension():
    assert rwlocker._rwlocker.__file__.endswith(".abi3.so")


def test_stubs_and_py_typed_ship():
    pkg = pathlib.Path(rwlocker.__file__).parent
    for f in ["py.typed", "thread_rwlock.pyi", "async_rwlock.pyi", "__init__.pyi", "_rwlocker.pyi"]:
        assert (pkg / f).exists(), f


@pytest.mark.parametrize("name", RW_CLASSES)
def test_thread_class_shapes(name):
    cls = getattr(thread_rwlock, name)
    assert issubclass(cls, thread_rwlock.RWLockWithProxyBase)
    assert issubclass(cls, thread_rwlock.RWLockBase)
    lock = cls()
    assert isinstance(lock.read, thread_rwlock.RWLockReaderProxy)
    assert isinstance(lock.write, thread_rwlock.RWLockWriterProxy)
    assert isinstance(lock.read, thread_rwlock.RWLockProxy)
    assert lock._lock is None
    inner = threading.Lock()
    assert cls(inner)._lock is inner
    assert cls(lock=inner)._lock is inner
    assert not hasattr(lock, "__dict__")
    assert lock.read.those_waiting == 0 and lock.write.those_waiting == 0
    if "Reentrant" in name:
        assert issubclass(cls, getattr(thread_rwlock, name.replace("ReentrantWriter", "")))


@pytest.mark.parametrize("name", RW_CLASSES)
def test_async_class_shapes(name):
    cls = getattr(async_rwlock, "Async" + name)
    assert issubclass(cls, async_rwlock.AsyncRWLockWithProxyBase)
    lock = cls()
    assert isinstance(lock.read, async_rwlock.AsyncRWLockReaderProxy)
    assert isinstance(lock.write, async_rwlock.AsyncRWLockWriterProxy)
    assert isinstance(lock.write, async_rwlock.AsyncRWLockProxy)
    with pytest.raises(TypeError):
        cls(threading.Lock())  # the async constructors take no argument


def test_abstract_bases_refuse_instantiation():
    with pytest.raises(TypeError):
        thread_rwlock.RWLockWithProxyBase()
    with pytest.raises(TypeError):
        async_rwlock.AsyncRWLockWithProxyBase()
    with pytest.raises(TypeError):
        thread_rwlock.RWConditionWithProxyBase()
    with pytest.raises(TypeError):
        async_rwlock.AsyncRWConditionWithProxyBase()
    with pytest.raises(TypeError):
        thread_rwlock.RWLockReaderProxy()


def test_lock_adapter_shapes():
    for lock in (thread_rwlock.Lock(), thread_rwlock.RWLockBase()):
        assert lock.read is lock.write is lock._lock
        assert lock.acquire() is True
        assert lock.locked() and lock.read.locked()
        assert lock.acquire(blocking=False) is False  # exclusive, not reentrant
        lock.release()
        assert not lock.locked()
        with pytest.raises(RuntimeError, match="release unlocked lock"):
            lock.release()
        with lock as entered:
            assert entered is True
    given = threading.RLock()
    lock = thread_rwlock.Lock(given)
    assert lock.read is lock.write is lock._lock is given
    assert lock.acquire() and lock.acquire()  # RLock semantics kept
    lock.release()
    lock.release()
    with lock:
        pass


def test_async_lock_adapter_shapes():
    lock = async_rwlock.AsyncLock()
    assert lock.read is lock.write

    async def main():
        assert await lock.acquire() is True
        assert lock.locked()
        lock.release()
        async with lock:
            assert lock.write.locked()
        with pytest.raises(RuntimeError, match="Lock is not acquired."):
            lock.release()

    asyncio.run(main())


def test_condition_adapter_shapes():
    cond = thread_rwlock.Condition()
    assert cond.read is cond.write
    assert isinstance(cond.write, threading.Condition)
    assert isinstance(cond._lock, thread_rwlock.Lock)
    with cond:
        assert cond.wait(0) is False
        assert cond.wait_for(lambda: 42, 0) == 42
        cond.notify()
        cond.notify_all()
    msg = "Standard 'Condition' adapters cannot be used with proxy-based RWLocks. Use 'RWCondition' instead."
    with pytest.raises(TypeError) as e:
        thread_rwlock.Condition(thread_rwlock.RWLockFair())
    assert str(e.value) == msg
    amsg = "Standard 'AsyncCondition' adapters cannot be used with proxy-based RWLocks. Use 'AsyncRWCondition' instead."
    with pytest.raises(TypeError) as e:
        async_rwlock.AsyncCondition(async_rwlock.AsyncRWLockFair())
    assert str(e.value) == amsg

    async def main():
        acond = async_rwlock.AsyncCondition()
        assert acond.read is acond.write
        async with acond:
            acond.notify_all()
        return True

    assert asyncio.run(main())


def test_rwcondition_shapes():
    cond = thread_rwlock.RWCondition()
    assert isinstance(cond._lock, thread_rwlock.RWLockWrite)
    assert isinstance(cond.read, thread_rwlock.RWConditionReaderProxy)
    assert isinstance(cond.write, thread_rwlock.RWConditionWriterProxy)
    assert isinstance(cond.read, thread_rwlock.RWConditionProxy)
    assert cond.read._lock_proxy is cond._lock.read
    assert cond.write._lock_proxy is cond._lock.write
    fair = thread_rwlock.RWLockFair()
    c2 = thread_rwlock.RWCondition(fair)
    assert c2._lock is fair
    c3 = thread_rwlock.RWCondition(thread_rwlock.Lock())
    with c3.write:
        assert c3.read.locked()
        c3.write.notify()
    with pytest.raises(TypeError):
        thread_rwlock.RWCondition(threading.Lock())
    acond = async_rwlock.AsyncRWCondition()
    assert isinstance(acond._lock, async_rwlock.AsyncRWLockWrite)
    assert acond.write._lock_proxy is acond._lock.write
    assert isinstance(acond.read, async_rwlock.AsyncRWConditionReaderProxy)
    with pytest.raises(TypeError):
        async_rwlock.AsyncRWCondition(thread_rwlock.RWLockFair())


def test_enter_returns_true_exit_returns_false():
    lock = thread_rwlock.RWLockFair()
    assert lock.read.__enter__() is True
    assert lock.read.__exit__(None, None, None) is False
    assert lock.__enter__() is True
    assert lock.__exit__(None, None, None) is False
    assert lock.write.__enter__() is True
    assert lock.write.__exit__(None, None, None) is False


def test_exceptions_propagate_through_with():
    lock = thread_rwlock.RWLockFair()
    with pytest.raises(ZeroDivisionError):
        with lock.write:
            1 / 0
    assert not lock.write.locked()
    with pytest.raises(KeyError):
        with lock.read:
            raise KeyError
    assert not lock.read.locked()


def test_acquire_arguments_follow_threading_lock():
    lock = thread_rwlock.RWLockFair()
    with pytest.raises(ValueError, match="can't specify a timeout for a non-blocking call"):
        lock.read.acquire(False, 1)
    with pytest.raises(ValueError, match="timeout value must be positive"):
        lock.write.acquire(timeout=-2)
    with pytest.raises(ValueError):
        lock.write.acquire(timeout=float("nan"))
    with pytest.raises(OverflowError):
        lock.write.acquire(timeout=1e300)
    with pytest.raises(TypeError):
        lock.write.acquire(timeout="1")
    with pytest.raises(TypeError):
        lock.write.acquire("yes")
    with pytest.raises(TypeError):
        lock.write.acquire(True, 1, 2)
    # None of these errors took or corrupted anything.
    assert not lock.read.locked() and not lock.write.locked()
    assert lock.write.acquire(1, 0.5) is True  # int blocking, like threading
    assert lock.read.acquire(0) is False
    assert lock.read.acquire(timeout=0) is False
    lock.release()
    assert lock.read.acquire(True, -1) is True
    lock.read.release()
    assert lock.read.acquire(timeout=None) is True  # None: wait forever
    lock.read.release()
    with pytest.raises(TypeError):
        lock.write.acquire(bogus=1)


def test_release_errors_exact_messages():
    for cls in (thread_rwlock.RWLockWrite, thread_rwlock.RWLockRead, thread_rwlock.RWLockFair):
        lock = cls()
        with pytest.raises(RuntimeError) as e:
            lock.write.release()
        assert str(e.value) == "Unacquired write lock"
        with pytest.raises(RuntimeError) as e:
            lock.release()
        assert str(e.value) == "Unacquired write lock"
        with pytest.raises(RuntimeError) as e:
            lock.read.release()
        assert str(e.value) == "Unacquired read lock"
        with pytest.raises(RuntimeError) as e:
            lock.write.downgrade()
        assert str(e.value) == "Cannot downgrade unlocked lock"
        # the lock still works
        with lock.write:
            pass
        with lock.read:
            pass
    for cls in (
        thread_rwlock.RWLockWriteReentrantWriter,
        thread_rwlock.RWLockReadReentrantWriter,
        thread_rwlock.RWLockFairReentrantWriter,
    ):
        lock = cls()
        with pytest.raises(RuntimeError, match="^Permission denied$"):
            lock.write.release()
        with pytest.raises(RuntimeError, match="^Permission denied$"):
            lock.write.downgrade()
        with pytest.raises(RuntimeError, match="^Unacquired read lock$"):
            lock.read.release()
        lock.write.acquire()
        lock.write.acquire()
        with pytest.raises(RuntimeError) as e:
            lock.write.downgrade()
        assert str(e.value) == "Cannot downgrade a nested write lock. Release inner locks first."
        lock.write.release()
        lock.write.downgrade()
        with pytest.raises(RuntimeError, match="^Permission denied$"):
            lock.write.downgrade()
        lock.write.release()  # routed to the read side
        assert not lock.read.locked() and not lock.write.locked()


def test_async_release_errors_exact_messages():
    async def main():
        for cls in (async_rwlock.AsyncRWLockWrite, async_rwlock.AsyncRWLockRead, async_rwlock.AsyncRWLockFair):
            lock = cls()
            with pytest.raises(RuntimeError, match="^Unacquired write lock$"):
                lock.write.release()
            with pytest.raises(RuntimeError, match="^Unacquired write lock$"):
                lock.release()
            with pytest.raises(RuntimeError, match="^Unacquired read lock$"):
                lock.read.release()
            with pytest.raises(RuntimeError, match="^Cannot downgrade unlocked lock$"):
                lock.write.downgrade()
        lock = async_rwlock.AsyncRWLockFairReentrantWriter()
        with pytest.raises(RuntimeError, match="^Permission denied$"):
            lock.write.release()
        await lock.write.acquire()
        await lock.write.acquire()
        with pytest.raises(RuntimeError, match="^Cannot downgrade a nested write lock. Release inner locks first.$"):
            lock.write.downgrade()
        lock.write.release()
        lock.write.release()
        with pytest.raises(TypeError):
            await lock.write.acquire(timeout=1)  # no timeout= in the async API

    asyncio.run(main())


def test_condition_errors_exact_messages():
    cond = thread_rwlock.RWCondition(thread_rwlock.RWLockFair())
    for proxy in (cond.read, cond.write):
        with pytest.raises(RuntimeError, match="^cannot wait on un-acquired lock$"):
            proxy.wait(0)
        with pytest.raises(RuntimeError, match="^cannot notify on un-acquired lock$"):
            proxy.notify()
        with pytest.raises(RuntimeError, match="^cannot notify on un-acquired lock$"):
            proxy.notify_all()
    with pytest.raises(RuntimeError, match="^cannot wait on un-acquired lock$"):
        cond.wait()
    with cond.write:
        with pytest.raises(TypeError):
            cond.write.notify("1")

    async def main():
        acond = async_rwlock.AsyncRWCondition()
        with pytest.raises(RuntimeError, match="^cannot wait on un-acquired lock$"):
            await acond.read.wait()
        with pytest.raises(RuntimeError, match="^cannot notify on un-acquired lock$"):
            acond.write.notify()
        with pytest.raises(RuntimeError, match="^cannot notify on un-acquired lock$"):
            acond.notify_all()
        async with acond.read:
            acond.read.notify(3)

    asyncio.run(main())


def test_async_ops_are_coroutines():
    lock = async_rwlock.AsyncRWLockFair()
    op = lock.read.acquire()
    assert isinstance(op, collections.abc.Coroutine)
    assert asyncio.iscoroutine(op)
    op.close()  # never started: nothing taken
    assert not lock.read.locked()
    cond = async_rwlock.AsyncRWCondition()
    for c in (cond.read.wait(), cond.write.wait_for(lambda: True)):
        assert asyncio.iscoroutine(c)
        c.close()
    assert not inspect.iscoroutinefunction(lock.read.release)

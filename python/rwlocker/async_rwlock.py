"""Read-write locks and condition variables for asyncio tasks.

The API of ``rwlocker.async_rwlock`` 3.2, on the Rust engine of rwlocker:
the same policies as ``rwlocker.thread_rwlock``; ``acquire()`` is awaited
(and finishes without yielding to the loop when the lock is free),
``release()``, ``locked()`` and ``downgrade()`` are synchronous;
``async with lock:`` takes the write lock. A cancelled acquire leaves no
trace in the queue and passes on a grant it had already received; a
cancelled condition wait re-acquires its lock, passes on a notification it
had already received, then re-raises. Reentrancy of the
``...ReentrantWriter`` variants is per ``asyncio.current_task()``.
"""

import asyncio
import collections.abc
from typing import Any, Awaitable, Callable, Optional, Protocol

from ._rwlocker import AsyncMutex as _AsyncMutex
from ._rwlocker import CondState as _CondState
from ._rwlocker import (
    AsyncRWConditionProxy,
    AsyncRWConditionReaderProxy,
    AsyncRWConditionWriterProxy,
    AsyncRWLockBase,
    AsyncRWLockProxy,
    AsyncRWLockReaderProxy,
    AsyncRWLockWriterProxy,
)
from ._rwlocker import _AcquireOp, _WaitForOp, _WaitOp

__all__ = [
    "AsyncLockable",
    "AsyncLockDowngradable",
    "AsyncRWLockBase",
    "AsyncRWLockWithProxyBase",
    "AsyncRWLockProxy",
    "AsyncRWLockReaderProxy",
    "AsyncRWLockWriterProxy",
    "AsyncRWLockWrite",
    "AsyncRWLockWriteReentrantWriter",
    "AsyncRWLockRead",
    "AsyncRWLockReadReentrantWriter",
    "AsyncRWLockFair",
    "AsyncRWLockFairReentrantWriter",
    "AsyncConditionLockable",
    "AsyncConditionDowngradable",
    "AsyncRWConditionBase",
    "AsyncRWConditionWithProxyBase",
    "AsyncRWConditionProxy",
    "AsyncRWConditionReaderProxy",
    "AsyncRWConditionWriterProxy",
    "AsyncRWCondition",
    "AsyncLock",
    "AsyncCondition",
]

__version__ = "3.2"

# The native acquire and wait operations are coroutines: asyncio.create_task,
# ensure_future and gather accept them.
for _op in (_AcquireOp, _WaitOp, _WaitForOp):
    collections.abc.Coroutine.register(_op)
del _op


class AsyncLockable(Protocol):
    """Anything with the interface of ``asyncio.Lock``."""

    def acquire(self) -> Awaitable[bool]: ...
    def release(self) -> None: ...
    def locked(self) -> bool: ...
    def __aenter__(self) -> Awaitable[Any]: ...
    def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> Awaitable[Optional[bool]]: ...


class AsyncLockDowngradable(AsyncLockable, Protocol):
    """An asyncio lock whose write side can be downgraded (synchronously)."""

    def downgrade(self) -> None: ...


class AsyncRWLockWithProxyBase(AsyncRWLockBase):
    """Abstract base of the asyncio read-write locks with proxies."""

    __slots__ = ()
    _rwlocker_policy: Optional[str] = None

    def __init__(self) -> None:
        pass


class AsyncRWLockWrite(AsyncRWLockWithProxyBase):
    """Writer-preferring (readers can starve)."""

    __slots__ = ()
    _rwlocker_policy = "write"


class AsyncRWLockWriteReentrantWriter(AsyncRWLockWrite):
    """``AsyncRWLockWrite`` whose write-lock owner (a task) may take the
    write lock and read locks again."""

    __slots__ = ()
    _rwlocker_reentrant = True


class AsyncRWLockRead(AsyncRWLockWithProxyBase):
    """Reader-preferring (writers can starve)."""

    __slots__ = ()
    _rwlocker_policy = "read"


class AsyncRWLockReadReentrantWriter(AsyncRWLockRead):
    """``AsyncRWLockRead`` with a reentrant write-lock owner (a task)."""

    __slots__ = ()
    _rwlocker_reentrant = True


class AsyncRWLockFair(AsyncRWLockWithProxyBase):
    """Phase-fair: nobody starves (see ``rwlocker.thread_rwlock.RWLockFair``)."""

    __slots__ = ()
    _rwlocker_policy = "fair"


class AsyncRWLockFairReentrantWriter(AsyncRWLockFair):
    """``AsyncRWLockFair`` with a reentrant write-lock owner (a task)."""

    __slots__ = ()
    _rwlocker_reentrant = True


class AsyncLock(AsyncRWLockBase):
    """Adapter: ``read`` and ``write`` are one fair (FIFO) asyncio mutex with
    the interface of ``asyncio.Lock``."""

    __slots__ = ()

    def __init__(self) -> None:
        pass


class AsyncConditionLockable(AsyncLockable, Protocol):
    """Anything with the interface of ``asyncio.Condition``."""

    def wait(self) -> Awaitable[bool]: ...
    def wait_for(self, predicate: Callable[[], Any]) -> Awaitable[Any]: ...
    def notify(self, n: int = 1) -> None: ...
    def notify_all(self) -> None: ...


class AsyncConditionDowngradable(AsyncConditionLockable, Protocol):
    """An asyncio condition whose write side can be downgraded."""

    def downgrade(self) -> None: ...


class AsyncRWConditionBase:
    """Base of the asyncio conditions with ``.read`` / ``.write``; the
    drop-in methods of ``asyncio.Condition`` route to ``.write``.

    Instantiated directly (or through ``AsyncCondition``) it is an adapter:
    ``read`` and ``write`` are one ``asyncio.Condition(lock)``, ``lock``
    defaulting to a new ``AsyncLock()``.
    """

    __slots__ = ("_lock", "read", "write")

    def __init__(self, lock: Optional[Any] = None) -> None:
        if lock is None:
            lock = AsyncLock()
        self._lock = lock
        self.write = self.read = asyncio.Condition(lock)

    def acquire(self) -> Awaitable[bool]:
        return self.write.acquire()

    def release(self) -> None:
        self.write.release()

    def locked(self) -> bool:
        return self.write.locked()

    def wait(self) -> Awaitable[bool]:
        return self.write.wait()

    def wait_for(self, predicate: Callable[[], Any]) -> Awaitable[Any]:
        return self.write.wait_for(predicate)

    def notify(self, n: int = 1) -> None:
        self.write.notify(n)

    def notify_all(self) -> None:
        self.write.notify_all()

    def __aenter__(self) -> Awaitable[Any]:
        return self.write.__aenter__()

    def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> Awaitable[Optional[bool]]:
        return self.write.__aexit__(exc_type, exc_val, exc_tb)


class AsyncRWConditionWithProxyBase(AsyncRWConditionBase):
    """Abstract base of the proxy-based asyncio conditions."""

    __slots__ = ()

    def __init__(self, lock: Optional[AsyncRWLockBase] = None) -> None:
        raise TypeError(f"Can't instantiate abstract class {type(self).__name__}")


class AsyncRWCondition(AsyncRWConditionWithProxyBase):
    """A condition variable over an ``AsyncRWLockBase`` (default
    ``AsyncRWLockWrite()``): ``await cond.read.wait()`` waits holding a read
    lock, ``await cond.write.wait()`` a write lock. One FIFO for both sides;
    ``notify(n)`` wakes exactly the ``n`` oldest live waiters."""

    __slots__ = ("_state",)

    def __init__(self, lock: Optional[AsyncRWLockBase] = None) -> None:
        if lock is None:
            lock = AsyncRWLockWrite()
        if not isinstance(lock, AsyncRWLockBase):
            raise TypeError("AsyncRWCondition needs a lock of rwlocker.async_rwlock (an AsyncRWLockBase)")
        self._lock = lock
        self._state = _CondState()
        self.read = AsyncRWConditionReaderProxy(self._state, lock.read)
        self.write = AsyncRWConditionWriterProxy(self._state, lock.write)


class AsyncCondition(AsyncRWConditionBase):
    """Adapter for ``asyncio.Condition``: ``read`` and ``write`` are one
    ``asyncio.Condition(lock)``."""

    __slots__ = ()

    def __init__(self, lock: Optional[Any] = None) -> None:
        if isinstance(lock, AsyncRWLockWithProxyBase):
            raise TypeError(
                "Standard 'AsyncCondition' adapters cannot be used with proxy-based RWLocks. "
                "Use 'AsyncRWCondition' instead."
            )
        super().__init__(lock)


# The native fair asyncio mutex that AsyncLock() uses (not part of the 3.2 API).
AsyncMutex = _AsyncMutex

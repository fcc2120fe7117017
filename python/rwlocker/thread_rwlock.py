"""Read-write locks and condition variables for threads.

The API of ``rwlocker.thread_rwlock`` 3.2, on the Rust engine of rwlocker:

* ``RWLockFair`` is phase-fair (a writer's release admits every reader
  waiting at that moment; readers that arrive while a writer waits queue
  behind it), ``RWLockWrite`` writer-preferring, ``RWLockRead``
  reader-preferring; the ``...ReentrantWriter`` variants let the thread that
  holds the write lock take it (and read locks) again.
* ``lock.read`` / ``lock.write`` are proxies with the interface of
  ``threading.Lock``; the lock object itself is a drop-in ``threading.Lock``
  routed to ``.write``.
* Blocked acquires release the GIL; Ctrl-C interrupts them (raising
  ``KeyboardInterrupt`` and leaving nothing behind in the queue).
* ``RWCondition`` is a condition variable for both sides: ``cond.read.wait()``
  releases a read lock, sleeps, and re-acquires a read lock.
"""

import threading
from typing import Any, Callable, Optional, Protocol

from ._rwlocker import CondState as _CondState
from ._rwlocker import Mutex as _Mutex
from ._rwlocker import (
    RWConditionProxy,
    RWConditionReaderProxy,
    RWConditionWriterProxy,
    RWLockBase,
    RWLockProxy,
    RWLockReaderProxy,
    RWLockWriterProxy,
)

__all__ = [
    "Lockable",
    "LockDowngradable",
    "RWLockBase",
    "RWLockWithProxyBase",
    "RWLockProxy",
    "RWLockReaderProxy",
    "RWLockWriterProxy",
    "RWLockWrite",
    "RWLockWriteReentrantWriter",
    "RWLockRead",
    "RWLockReadReentrantWriter",
    "RWLockFair",
    "RWLockFairReentrantWriter",
    "ConditionLockable",
    "ConditionDowngradable",
    "RWConditionBase",
    "RWConditionWithProxyBase",
    "RWConditionProxy",
    "RWConditionReaderProxy",
    "RWConditionWriterProxy",
    "RWCondition",
    "Lock",
    "Condition",
]

__version__ = "3.2"


class Lockable(Protocol):
    """Anything with the interface of ``threading.Lock``."""

    def acquire(self, blocking: bool = True, timeout: float = -1.0) -> bool: ...
    def release(self) -> None: ...
    def locked(self) -> bool: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> Optional[bool]: ...


class LockDowngradable(Lockable, Protocol):
    """A lock whose write side can be downgraded to a read lock."""

    def downgrade(self) -> None: ...


class RWLockWithProxyBase(RWLockBase):
    """Abstract base of the read-write locks with ``.read`` / ``.write`` proxies.

    ``lock`` (the internal mutex of rwlocker 3.2) is accepted and kept as
    ``_lock``; the Rust engine needs none.
    """

    __slots__ = ()
    _rwlocker_policy: Optional[str] = None

    def __init__(self, lock: Optional[Lockable] = None) -> None:
        pass


class RWLockWrite(RWLockWithProxyBase):
    """Writer-preferring: a reader is admitted only while no writer holds or
    waits; a releasing writer hands over to the next writer first.
    Readers can starve under a continuous stream of writers."""

    __slots__ = ()
    _rwlocker_policy = "write"


class RWLockWriteReentrantWriter(RWLockWrite):
    """``RWLockWrite`` whose write-lock owner (a thread) may take the write
    lock and read locks again; it is released when every hold is."""

    __slots__ = ()
    _rwlocker_reentrant = True


class RWLockRead(RWLockWithProxyBase):
    """Reader-preferring: a reader is admitted whenever no writer holds the
    lock, even while writers wait. Writers can starve."""

    __slots__ = ()
    _rwlocker_policy = "read"


class RWLockReadReentrantWriter(RWLockRead):
    """``RWLockRead`` with a reentrant write-lock owner."""

    __slots__ = ()
    _rwlocker_reentrant = True


class RWLockFair(RWLockWithProxyBase):
    """Phase-fair: while a writer waits, arriving readers queue behind it;
    a writer's release admits every reader waiting at that moment together
    (a read phase), then the next writer. Nobody starves."""

    __slots__ = ()
    _rwlocker_policy = "fair"


class RWLockFairReentrantWriter(RWLockFair):
    """``RWLockFair`` with a reentrant write-lock owner."""

    __slots__ = ()
    _rwlocker_reentrant = True


class Lock(RWLockBase):
    """Adapter that gives a plain lock the ``.read`` / ``.write`` shape:
    ``read``, ``write`` and ``_lock`` are the same lock object (so reads are
    exclusive too). By default a fair (FIFO) native mutex with the interface
    of ``threading.Lock``; any lock-like object may be passed instead."""

    __slots__ = ()

    def __init__(self, lock: Optional[Lockable] = None) -> None:
        pass


class ConditionLockable(Lockable, Protocol):
    """Anything with the interface of ``threading.Condition``."""

    def wait(self, timeout: Optional[float] = None) -> bool: ...
    def wait_for(self, predicate: Callable[[], Any], timeout: Optional[float] = None) -> Any: ...
    def notify(self, n: int = 1) -> None: ...
    def notify_all(self) -> None: ...


class ConditionDowngradable(ConditionLockable, Protocol):
    """A condition whose write side can be downgraded."""

    def downgrade(self) -> None: ...


class RWConditionBase:
    """Base of the conditions with ``.read`` / ``.write``; the drop-in
    methods of ``threading.Condition`` route to ``.write``.

    Instantiated directly (or through ``Condition``) it is an adapter:
    ``read`` and ``write`` are one ``threading.Condition(lock)``, ``lock``
    defaulting to a new ``Lock()``.
    """

    __slots__ = ("_lock", "read", "write")

    def __init__(self, lock: Optional[Any] = None) -> None:
        if lock is None:
            lock = Lock()
        self._lock = lock
        self.write = self.read = threading.Condition(lock)

    def acquire(self, blocking: bool = True, timeout: float = -1.0) -> bool:
        return self.write.acquire(blocking, timeout)

    def release(self) -> None:
        self.write.release()

    def locked(self) -> bool:
        return self.write.locked()

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self.write.wait(timeout)

    def wait_for(self, predicate: Callable[[], Any], timeout: Optional[float] = None) -> Any:
        return self.write.wait_for(predicate, timeout)

    def notify(self, n: int = 1) -> None:
        self.write.notify(n)

    def notify_all(self) -> None:
        self.write.notify_all()

    def __enter__(self) -> Any:
        return self.write.__enter__()

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> Optional[bool]:
        return self.write.__exit__(exc_type, exc_val, exc_tb)


class RWConditionWithProxyBase(RWConditionBase):
    """Abstract base of the proxy-based conditions."""

    __slots__ = ()

    def __init__(self, lock: Optional[RWLockBase] = None) -> None:
        raise TypeError(f"Can't instantiate abstract class {type(self).__name__}")


class RWCondition(RWConditionWithProxyBase):
    """A condition variable over an ``RWLockBase`` (default ``RWLockWrite()``;
    a ``Lock()`` adapter works too): ``cond.read.wait()`` waits holding a
    read lock, ``cond.write.wait()`` a write lock.

    Waiters of both sides share one FIFO: ``notify(n)`` wakes exactly the
    ``n`` oldest; a woken waiter re-acquires its mode as an arrival. A
    waiter interrupted after it was notified passes the notification on.
    ``wait(timeout)`` returns False on timeout, with the lock held again.
    """

    __slots__ = ("_state",)

    def __init__(self, lock: Optional[RWLockBase] = None) -> None:
        if lock is None:
            lock = RWLockWrite()
        if not isinstance(lock, RWLockBase):
            raise TypeError("RWCondition needs a lock of rwlocker.thread_rwlock (an RWLockBase)")
        self._lock = lock
        self._state = _CondState()
        self.read = RWConditionReaderProxy(self._state, lock.read)
        self.write = RWConditionWriterProxy(self._state, lock.write)


class Condition(RWConditionBase):
    """Adapter for ``threading.Condition``: ``read`` and ``write`` are one
    ``threading.Condition(lock)``."""

    __slots__ = ()

    def __init__(self, lock: Optional[Any] = None) -> None:
        if isinstance(lock, RWLockWithProxyBase):
            raise TypeError(
                "Standard 'Condition' adapters cannot be used with proxy-based RWLocks. Use 'RWCondition' instead."
            )
        super().__init__(lock)


# The native fair mutex that Lock() uses by default (not part of the 3.2 API).
Mutex = _Mutex

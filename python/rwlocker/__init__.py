"""Read-write locks and condition variables for ``threading`` and ``asyncio``.

The API of the Python library rwlocker 3.2 (``rwlocker.thread_rwlock``,
``rwlocker.async_rwlock``) on the engine of the Rust crate rwlocker:

* three admission policies: ``RWLockFair`` (phase-fair, nobody starves),
  ``RWLockWrite`` (writer-preferring), ``RWLockRead`` (reader-preferring),
  each with a ``...ReentrantWriter`` variant, and ``Async...`` twins;
* ``lock.read`` / ``lock.write`` proxies with the interface of
  ``threading.Lock`` / ``asyncio.Lock``, ``lock.write.downgrade()``, and the
  lock object itself as a drop-in exclusive lock (``with lock:``);
* ``RWCondition`` / ``AsyncRWCondition``: one condition variable for read and
  write waiters, ``notify(n)`` exact and FIFO;
* adapters ``Lock``, ``Condition``, ``AsyncLock``, ``AsyncCondition``.

>>> lock = RWLockFair()
>>> with lock.read:
...     pass
>>> with lock.write:
...     lock.write.downgrade()  # now a read lock; the exit releases it
"""

from .async_rwlock import *  # noqa: F401,F403
from .async_rwlock import __all__ as _async_all
from .thread_rwlock import *  # noqa: F401,F403
from .thread_rwlock import __all__ as _thread_all

__all__ = list(_thread_all) + list(_async_all)
__version__ = "3.2"

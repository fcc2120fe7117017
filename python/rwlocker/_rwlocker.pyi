# The native module; the public API is in rwlocker.thread_rwlock and
# rwlocker.async_rwlock, which re-export these classes.
from typing import Any

from .async_rwlock import (
    AsyncMutex as AsyncMutex,
    AsyncRWConditionProxy as AsyncRWConditionProxy,
    AsyncRWConditionReaderProxy as AsyncRWConditionReaderProxy,
    AsyncRWConditionWriterProxy as AsyncRWConditionWriterProxy,
    AsyncRWLockBase as AsyncRWLockBase,
    AsyncRWLockProxy as AsyncRWLockProxy,
    AsyncRWLockReaderProxy as AsyncRWLockReaderProxy,
    AsyncRWLockWriterProxy as AsyncRWLockWriterProxy,
)
from .thread_rwlock import (
    Mutex as Mutex,
    RWConditionProxy as RWConditionProxy,
    RWConditionReaderProxy as RWConditionReaderProxy,
    RWConditionWriterProxy as RWConditionWriterProxy,
    RWLockBase as RWLockBase,
    RWLockProxy as RWLockProxy,
    RWLockReaderProxy as RWLockReaderProxy,
    RWLockWriterProxy as RWLockWriterProxy,
)

class CondState:
    def __init__(self) -> None: ...
    def __len__(self) -> int: ...

class _AcquireOp:
    def __await__(self) -> Any: ...
    def send(self, value: Any) -> Any: ...
    def throw(self, typ: Any, val: Any = ..., tb: Any = ...) -> Any: ...
    def close(self) -> None: ...

class _WaitOp(_AcquireOp): ...
class _WaitForOp(_AcquireOp): ...

def _resolve_future(fut: Any) -> None: ...

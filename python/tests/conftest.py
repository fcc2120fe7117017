"""Helpers for the rwlocker tests: state waits instead of sleeps."""

import asyncio
import threading
import time

import pytest

# Upper bound for waiting on a state change that must happen; a test that
# reaches it fails (it never sleeps this long when things work).
STALL = 10.0


def wait_until(predicate, what="condition"):
    """Polls ``predicate`` until it is true; fails the test on a stall."""
    end = time.monotonic() + STALL
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"stalled waiting for {what}")
        time.sleep(0.0005)


def state(proxy):
    """The engine state as a dict: readers, writer, queued readers/writers."""
    r, w, qr, qw = proxy._state()
    return {"readers": r, "writer": w, "qr": qr, "qw": qw}


def wait_queued(proxy, qr=None, qw=None):
    """Waits until the engine queue holds exactly these many waiters."""

    def ok():
        s = state(proxy)
        return (qr is None or s["qr"] == qr) and (qw is None or s["qw"] == qw)

    wait_until(ok, f"queue qr={qr} qw={qw} (now {state(proxy)})")


async def async_wait_until(predicate, what="condition"):
    end = time.monotonic() + STALL
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"stalled waiting for {what}")
        await asyncio.sleep(0)


async def async_wait_queued(proxy, qr=None, qw=None):
    def ok():
        s = state(proxy)
        return (qr is None or s["qr"] == qr) and (qw is None or s["qw"] == qw)

    await async_wait_until(ok, f"queue qr={qr} qw={qw}")


class Worker:
    """A thread running ``fn``; ``join()`` re-raises its exception."""

    def __init__(self, fn, *args):
        self.result = None
        self.error = None

        def run():
            try:
                self.result = fn(*args)
            except BaseException as e:  # noqa: BLE001 - re-raised in join
                self.error = e

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self):
        self.thread.join(STALL)
        assert not self.thread.is_alive(), "worker thread stalled"
        if self.error is not None:
            raise self.error
        return self.result

    @property
    def done(self):
        return not self.thread.is_alive()

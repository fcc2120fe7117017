"""Helpers for the rwlocker tests: state waits instead of sleeps."""

import asyncio
import os
import threading
import time

import pytest

# Upper bound for waiting on a state change that must happen; a test that
# reaches it fails (it never sleeps this long when things work).
STALL = 10.0

# Upper bound for one whole test: past it, the test fails instead of hanging
# the suite (see `deadline`).
TEST_DEADLINE = float(os.environ.get("RWLOCKER_TEST_DEADLINE", "60"))


class DeadlineExceeded(Exception):
    """Raised in the main thread when a test runs past ``TEST_DEADLINE``."""


@pytest.fixture(autouse=True)
def deadline():
    """Gives every test a deadline: SIGALRM raises ``DeadlineExceeded`` in
    the main thread, which interrupts a blocked acquire, condition wait,
    ``Thread.join`` or event loop there (they all check for signals)."""
    import signal

    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        raise DeadlineExceeded(f"test ran past its {TEST_DEADLINE} s deadline")

    old = signal.signal(signal.SIGALRM, expired)
    # Then again every 5 s: a test stuck again in its cleanup (an event
    # loop cancelling a task that cannot finish) is interrupted there too.
    signal.setitimer(signal.ITIMER_REAL, TEST_DEADLINE, 5.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


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


@pytest.fixture
def default_sigint():
    """Python's own SIGINT handler (``KeyboardInterrupt``) for the test's
    duration: a process started with SIGINT ignored (a shell's background
    job) would otherwise never see the signal the test sends. Skips where
    the handler cannot be set (not the main thread)."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set from the main thread")
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)

#!/usr/bin/env python3
"""The Python section of the rwlocker benchmark report.

Compares the package ``rwlocker`` (this repository, Rust engine) with the
Python library ``rwlocker`` 3.2 from PyPI, ``readerwriterlock``,
``aiorwlock`` and the ``threading`` / ``asyncio`` primitives, in one
process, interleaved, several trials, median reported:

* uncontended acquire + release cost (ns per pair);
* the library's own IO-bound lock scenario (each op sleeps 1 ms inside the
  lock, 10 iterations per worker): read-heavy 100R/2W, balanced 50R/50W,
  write-heavy 2R/100W, for threads and for asyncio tasks, with the
  efficiency against the bound of an ideal read-write lock;
* the library's condition scenario (writers bump an epoch and notify_all,
  readers wait_for the next epoch under the read lock).

Every run checks correctness (no reader inside while a writer is, every
write counted), so a broken lock cannot look fast.

    report.py [--full] [--json bench-report/python.json] [--rwlocker32 DIR]

``--rwlocker32 DIR`` is a folder holding the 3.2 package (``pip install
--target DIR rwlocker==3.2``); it is imported under the name ``rwlocker32``
next to this package. scripts/bench-python.sh sets everything up.
"""

import argparse
import asyncio
import gc
import importlib.util
import json
import os
import platform
import statistics
import sys
import threading
import time

import rwlocker

try:
    import readerwriterlock.rwlock as rwl
except ImportError:  # pragma: no cover - optional baseline
    rwl = None
try:
    import aiorwlock
except ImportError:  # pragma: no cover - optional baseline
    aiorwlock = None

OP_DELAY = 0.001
ITERATIONS = 10
WORKLOADS = [("read-heavy", 100, 2), ("balanced", 50, 50), ("write-heavy", 2, 100)]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def load_rwlocker32(path):
    """Imports the 3.2 package found in ``path`` as ``rwlocker32``."""
    if not path:
        return None
    init = os.path.join(path, "rwlocker", "__init__.py")
    if not os.path.exists(init):
        log(f"warning: no rwlocker 3.2 in {path}; skipping it")
        return None
    spec = importlib.util.spec_from_file_location(
        "rwlocker32", init, submodule_search_locations=[os.path.join(path, "rwlocker")]
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules["rwlocker32"] = mod
    spec.loader.exec_module(mod)
    assert mod.__version__ == "3.2", mod.__version__
    assert not hasattr(mod, "_rwlocker"), "rwlocker32 must be the pure-Python library"
    return mod


# --------------------------------------------------------------------------
# Targets: (name, family, make) where make() returns a factory of per-worker
# (read_cm, write_cm) pairs.
# --------------------------------------------------------------------------


def same(lock):
    return lambda: (lock, lock)


def proxies(lock):
    return lambda: (lock.read, lock.write)


def gen(lock):
    return lambda: (lock.gen_rlock(), lock.gen_wlock())


def thread_targets(old, full):
    t = [
        ("threading.Lock", "baseline", lambda: same(threading.Lock())),
        ("rwlocker RWLockFair", "rwlocker", lambda: proxies(rwlocker.RWLockFair())),
        ("rwlocker RWLockWrite", "rwlocker", lambda: proxies(rwlocker.RWLockWrite())),
        ("rwlocker RWLockRead", "rwlocker", lambda: proxies(rwlocker.RWLockRead())),
    ]
    if full:
        t += [
            ("threading.RLock", "baseline", lambda: same(threading.RLock())),
            ("rwlocker RWLockFairReentrantWriter", "rwlocker", lambda: proxies(rwlocker.RWLockFairReentrantWriter())),
            ("rwlocker Lock", "rwlocker", lambda: same(rwlocker.Lock())),
        ]
    if old:
        t += [
            ("rwlocker 3.2 RWLockFair", "rwlocker 3.2", lambda: proxies(old.RWLockFair())),
            ("rwlocker 3.2 RWLockWrite", "rwlocker 3.2", lambda: proxies(old.RWLockWrite())),
            ("rwlocker 3.2 RWLockRead", "rwlocker 3.2", lambda: proxies(old.RWLockRead())),
        ]
    if rwl:
        t.append(("readerwriterlock RWLockFair", "readerwriterlock", lambda: gen(rwl.RWLockFair())))
        if full:
            t += [
                ("readerwriterlock RWLockWrite", "readerwriterlock", lambda: gen(rwl.RWLockWrite())),
                ("readerwriterlock RWLockRead", "readerwriterlock", lambda: gen(rwl.RWLockRead())),
            ]
    return t


def async_targets(old, full):
    t = [
        ("asyncio.Lock", "baseline", lambda: same(asyncio.Lock())),
        ("rwlocker AsyncRWLockFair", "rwlocker", lambda: proxies(rwlocker.AsyncRWLockFair())),
        ("rwlocker AsyncRWLockWrite", "rwlocker", lambda: proxies(rwlocker.AsyncRWLockWrite())),
        ("rwlocker AsyncRWLockRead", "rwlocker", lambda: proxies(rwlocker.AsyncRWLockRead())),
    ]
    if full:
        t.append(
            (
                "rwlocker AsyncRWLockFairReentrantWriter",
                "rwlocker",
                lambda: proxies(rwlocker.AsyncRWLockFairReentrantWriter()),
            )
        )
    if old:
        t += [
            ("rwlocker 3.2 AsyncRWLockFair", "rwlocker 3.2", lambda: proxies(old.AsyncRWLockFair())),
            ("rwlocker 3.2 AsyncRWLockWrite", "rwlocker 3.2", lambda: proxies(old.AsyncRWLockWrite())),
            ("rwlocker 3.2 AsyncRWLockRead", "rwlocker 3.2", lambda: proxies(old.AsyncRWLockRead())),
        ]
    if aiorwlock:
        t.append(("aiorwlock RWLock", "aiorwlock", lambda: (lambda lk: lambda: (lk.reader, lk.writer))(aiorwlock.RWLock())))
    return t


# --------------------------------------------------------------------------
# Uncontended cost
# --------------------------------------------------------------------------


def time_loop(fn, n):
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn(n)
        return (time.perf_counter() - t0) / n * 1e9
    finally:
        gc.enable()


def with_loop(cm):
    def run(n):
        for _ in range(n):
            with cm:
                pass

    return run


def acq_rel_loop(lock):
    acquire, release = lock.acquire, lock.release

    def run(n):
        for _ in range(n):
            acquire()
            release()

    return run


def async_with_loop(make_cm):
    """``make_cm`` builds the context manager inside the loop (some asyncio
    locks bind to the loop that first uses them)."""

    def run(n):
        async def body():
            cm = make_cm()
            for _ in range(n):
                async with cm:
                    pass

        asyncio.run(body())

    return run


def uncontended_cases(old):
    lk = threading.Lock()
    rl = threading.RLock()
    f = rwlocker.RWLockFair()
    fr = rwlocker.RWLockFairReentrantWriter()
    cases = [
        ("threads", "threading.Lock  with", with_loop(lk)),
        ("threads", "threading.Lock  acquire/release", acq_rel_loop(lk)),
        ("threads", "threading.RLock  with", with_loop(rl)),
        ("threads", "rwlocker RWLockFair  with .read", with_loop(f.read)),
        ("threads", "rwlocker RWLockFair  with .write", with_loop(f.write)),
        ("threads", "rwlocker RWLockFair  .read.acquire/release", acq_rel_loop(f.read)),
        ("threads", "rwlocker RWLockFair  with lock (drop-in)", with_loop(f)),
        ("threads", "rwlocker RWLockFairReentrantWriter  with .write", with_loop(fr.write)),
        ("threads", "rwlocker Lock  with", with_loop(rwlocker.Lock().write)),
    ]
    if old:
        o = old.RWLockFair()
        cases += [
            ("threads", "rwlocker 3.2 RWLockFair  with .read", with_loop(o.read)),
            ("threads", "rwlocker 3.2 RWLockFair  with .write", with_loop(o.write)),
            ("threads", "rwlocker 3.2 RWLockFair  .read.acquire/release", acq_rel_loop(o.read)),
        ]
    if rwl:
        g = rwl.RWLockFair()
        cases += [
            ("threads", "readerwriterlock RWLockFair  with rlock", with_loop(g.gen_rlock())),
            ("threads", "readerwriterlock RWLockFair  with wlock", with_loop(g.gen_wlock())),
        ]
    cases += [
        ("asyncio", "asyncio.Lock  async with", async_with_loop(asyncio.Lock)),
        ("asyncio", "rwlocker AsyncRWLockFair  async with .read", async_with_loop(lambda: rwlocker.AsyncRWLockFair().read)),
        ("asyncio", "rwlocker AsyncRWLockFair  async with .write", async_with_loop(lambda: rwlocker.AsyncRWLockFair().write)),
        ("asyncio", "rwlocker AsyncRWLockFair  async with lock (drop-in)", async_with_loop(rwlocker.AsyncRWLockFair)),
    ]
    if old:
        cases += [
            ("asyncio", "rwlocker 3.2 AsyncRWLockFair  async with .read", async_with_loop(lambda: old.AsyncRWLockFair().read)),
            ("asyncio", "rwlocker 3.2 AsyncRWLockFair  async with .write", async_with_loop(lambda: old.AsyncRWLockFair().write)),
        ]
    if aiorwlock:
        cases += [
            ("asyncio", "aiorwlock RWLock  async with .reader", async_with_loop(lambda: aiorwlock.RWLock().reader)),
            ("asyncio", "aiorwlock RWLock  async with .writer", async_with_loop(lambda: aiorwlock.RWLock().writer)),
        ]
    return cases


def bench_uncontended(old, trials, n):
    cases = uncontended_cases(old)
    samples = {name: [] for _, name, _ in cases}
    for t in range(trials):
        log(f"  uncontended: trial {t + 1}/{trials}")
        rot = cases[t % len(cases):] + cases[: t % len(cases)]
        for _, name, fn in rot:
            fn(1000)  # warm up
            samples[name].append(time_loop(fn, n))
    rows = []
    for world, name, _ in cases:
        rows.append({"world": world, "case": name, "ns_per_pair": statistics.median(samples[name]), "samples": samples[name]})
    return rows


# --------------------------------------------------------------------------
# IO-bound lock scenario
# --------------------------------------------------------------------------


class Check:
    """Shared-state checker: counts violations of reader/writer exclusion."""

    def __init__(self):
        self.mu = threading.Lock()
        self.readers = 0
        self.writers = 0
        self.violations = 0
        self.writes = 0
        self.reads = 0


def time_threads(reader, writer, readers, writers, start):
    """Starts `readers` + `writers` threads, releases them together through
    the event `start`, and returns the seconds until all have finished
    (with the garbage collector off while they run)."""
    threads = [threading.Thread(target=reader) for _ in range(readers)]
    threads += [threading.Thread(target=writer) for _ in range(writers)]
    for th in threads:
        th.start()
    gc.disable()
    try:
        t0 = time.perf_counter()
        start.set()
        for th in threads:
            th.join()
        return time.perf_counter() - t0
    finally:
        gc.enable()


async def time_tasks(reader, writer, readers, writers, start):
    """The asyncio twin of `time_threads`: the tasks wait on `start` first."""
    tasks = [asyncio.ensure_future(reader()) for _ in range(readers)]
    tasks += [asyncio.ensure_future(writer()) for _ in range(writers)]
    await asyncio.sleep(0)
    t0 = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    return time.perf_counter() - t0


def run_without_gc(main):
    """Runs the coroutine function `main` on a new event loop, with the
    garbage collector off."""
    gc.disable()
    try:
        return asyncio.run(main())
    finally:
        gc.enable()


def run_threads(make, readers, writers, iterations, delay):
    pair_for = make()
    check = Check()
    start = threading.Event()

    def reader():
        rcm, _ = pair_for()
        start.wait()
        for _ in range(iterations):
            with rcm:
                with check.mu:
                    check.readers += 1
                    if check.writers:
                        check.violations += 1
                time.sleep(delay)
                with check.mu:
                    check.readers -= 1
                    check.reads += 1

    def writer():
        _, wcm = pair_for()
        start.wait()
        for _ in range(iterations):
            with wcm:
                with check.mu:
                    check.writers += 1
                    if check.writers > 1 or check.readers:
                        check.violations += 1
                time.sleep(delay)
                with check.mu:
                    check.writers -= 1
                    check.writes += 1

    elapsed = time_threads(reader, writer, readers, writers, start)
    ok = check.violations == 0 and check.writes == writers * iterations and check.reads == readers * iterations
    return elapsed, ok


def run_tasks(make, readers, writers, iterations, delay):
    async def main():
        pair_for = make()
        check = Check()
        start = asyncio.Event()

        async def reader():
            rcm, _ = pair_for()
            await start.wait()
            for _ in range(iterations):
                async with rcm:
                    check.readers += 1
                    if check.writers:
                        check.violations += 1
                    await asyncio.sleep(delay)
                    check.readers -= 1
                    check.reads += 1

        async def writer():
            _, wcm = pair_for()
            await start.wait()
            for _ in range(iterations):
                async with wcm:
                    check.writers += 1
                    if check.writers > 1 or check.readers:
                        check.violations += 1
                    await asyncio.sleep(delay)
                    check.writers -= 1
                    check.writes += 1

        elapsed = await time_tasks(reader, writer, readers, writers, start)
        ok = check.violations == 0 and check.writes == writers * iterations and check.reads == readers * iterations
        return elapsed, ok

    return run_without_gc(main)


def measured_sleep(delay, asynchronous):
    """The real duration of one op's sleep (the scenario's unit)."""
    if asynchronous:

        async def m():
            t0 = time.perf_counter()
            for _ in range(50):
                await asyncio.sleep(delay)
            return (time.perf_counter() - t0) / 50

        return asyncio.run(m())
    t0 = time.perf_counter()
    for _ in range(50):
        time.sleep(delay)
    return (time.perf_counter() - t0) / 50


def run_trials(label, targets, runner, workload, iterations, delay):
    """Runs every target `trials` times, each trial starting with the next
    target in turn; returns each target's elapsed samples and whether all
    of its runs were correct."""
    wname, readers, writers, trials = workload
    samples = {name: [] for name, _, _ in targets}
    oks = {name: True for name, _, _ in targets}
    for t in range(trials):
        log(f"  {label}, {wname} ({readers}R/{writers}W): trial {t + 1}/{trials}")
        rot = targets[t % len(targets):] + targets[: t % len(targets)]
        for name, _, make in rot:
            elapsed, ok = runner(make, readers, writers, iterations, delay)
            samples[name].append(elapsed)
            oks[name] = oks[name] and ok
    return samples, oks


def bench_locks(world, targets, runner, workloads, iterations, delay):
    op = measured_sleep(delay, world == "asyncio")
    rows = []
    for wname, readers, writers, trials in workloads:
        samples, oks = run_trials(f"{world} locks", targets, runner, (wname, readers, writers, trials), iterations, delay)
        # ideal read-write lock: writers one at a time, readers all together
        ideal = (writers + (1 if readers else 0)) * iterations * op
        baseline = statistics.median(samples[targets[0][0]])
        for name, family, _ in targets:
            med = statistics.median(samples[name])
            rows.append(
                {
                    "world": world,
                    "workload": wname,
                    "readers": readers,
                    "writers": writers,
                    "target": name,
                    "family": family,
                    "elapsed_s": med,
                    "samples": samples[name],
                    "ops_per_s": (readers + writers) * iterations / med,
                    "speedup_vs_baseline": baseline / med,
                    "bound": (readers + writers) / (writers + 1),
                    "efficiency": min(1.0, ideal / med),
                    "correct": oks[name],
                }
            )
    return rows


# --------------------------------------------------------------------------
# Condition scenario
# --------------------------------------------------------------------------


def cond_thread_targets(old, full):
    t = [
        ("threading.Condition", "baseline", lambda: (lambda c: (c, c))(threading.Condition(threading.Lock()))),
        ("rwlocker RWCondition(RWLockWrite)", "rwlocker", lambda: (lambda c: (c.read, c.write))(rwlocker.RWCondition(rwlocker.RWLockWrite()))),
        ("rwlocker RWCondition(RWLockFair)", "rwlocker", lambda: (lambda c: (c.read, c.write))(rwlocker.RWCondition(rwlocker.RWLockFair()))),
        ("rwlocker RWCondition(RWLockRead)", "rwlocker", lambda: (lambda c: (c.read, c.write))(rwlocker.RWCondition(rwlocker.RWLockRead()))),
    ]
    if old:
        t += [
            ("rwlocker 3.2 RWCondition(RWLockWrite)", "rwlocker 3.2", lambda: (lambda c: (c.read, c.write))(old.RWCondition(old.RWLockWrite()))),
            ("rwlocker 3.2 RWCondition(RWLockFair)", "rwlocker 3.2", lambda: (lambda c: (c.read, c.write))(old.RWCondition(old.RWLockFair()))),
            ("rwlocker 3.2 RWCondition(RWLockRead)", "rwlocker 3.2", lambda: (lambda c: (c.read, c.write))(old.RWCondition(old.RWLockRead()))),
        ]
    return t


def cond_async_targets(old, full):
    t = [
        ("asyncio.Condition", "baseline", lambda: (lambda c: (c, c))(asyncio.Condition())),
        ("rwlocker AsyncRWCondition(Write)", "rwlocker", lambda: (lambda c: (c.read, c.write))(rwlocker.AsyncRWCondition(rwlocker.AsyncRWLockWrite()))),
        ("rwlocker AsyncRWCondition(Fair)", "rwlocker", lambda: (lambda c: (c.read, c.write))(rwlocker.AsyncRWCondition(rwlocker.AsyncRWLockFair()))),
        ("rwlocker AsyncRWCondition(Read)", "rwlocker", lambda: (lambda c: (c.read, c.write))(rwlocker.AsyncRWCondition(rwlocker.AsyncRWLockRead()))),
    ]
    if old:
        t += [
            ("rwlocker 3.2 AsyncRWCondition(Write)", "rwlocker 3.2", lambda: (lambda c: (c.read, c.write))(old.AsyncRWCondition(old.AsyncRWLockWrite()))),
            ("rwlocker 3.2 AsyncRWCondition(Fair)", "rwlocker 3.2", lambda: (lambda c: (c.read, c.write))(old.AsyncRWCondition(old.AsyncRWLockFair()))),
            ("rwlocker 3.2 AsyncRWCondition(Read)", "rwlocker 3.2", lambda: (lambda c: (c.read, c.write))(old.AsyncRWCondition(old.AsyncRWLockRead()))),
        ]
    return t


def run_cond_threads(make, readers, writers, iterations, delay):
    rc, wc = make()
    target = writers * iterations
    box = {"epoch": 0, "reads": 0, "violations": 0, "writing": 0}
    mu = threading.Lock()
    start = threading.Event()

    def reader():
        start.wait()
        expected = 1
        while expected <= target:
            with rc:
                rc.wait_for(lambda: box["epoch"] >= expected)
                expected = box["epoch"] + 1
                with mu:
                    if box["writing"]:
                        box["violations"] += 1
                    box["reads"] += 1
                time.sleep(delay)

    def writer():
        start.wait()
        for _ in range(iterations):
            with wc:
                with mu:
                    box["writing"] += 1
                    if box["writing"] > 1:
                        box["violations"] += 1
                time.sleep(delay)
                with mu:
                    box["writing"] -= 1
                box["epoch"] += 1
                wc.notify_all()

    elapsed = time_threads(reader, writer, readers, writers, start)
    return elapsed, box["epoch"] == target and box["violations"] == 0 and box["reads"] >= readers


def run_cond_tasks(make, readers, writers, iterations, delay):
    async def main():
        rc, wc = make()
        target = writers * iterations
        box = {"epoch": 0, "reads": 0, "violations": 0, "writing": 0}
        start = asyncio.Event()

        async def reader():
            await start.wait()
            expected = 1
            while expected <= target:
                async with rc:
                    await rc.wait_for(lambda: box["epoch"] >= expected)
                    expected = box["epoch"] + 1
                    if box["writing"]:
                        box["violations"] += 1
                    box["reads"] += 1
                    await asyncio.sleep(delay)

        async def writer():
            await start.wait()
            for _ in range(iterations):
                async with wc:
                    box["writing"] += 1
                    if box["writing"] > 1:
                        box["violations"] += 1
                    await asyncio.sleep(delay)
                    box["writing"] -= 1
                    box["epoch"] += 1
                    wc.notify_all()

        elapsed = await time_tasks(reader, writer, readers, writers, start)
        return elapsed, box["epoch"] == target and box["violations"] == 0 and box["reads"] >= readers

    return run_without_gc(main)


def bench_conditions(world, targets, runner, workloads, iterations, delay):
    rows = []
    for wname, readers, writers, trials in workloads:
        samples, oks = run_trials(f"{world} conditions", targets, runner, (wname, readers, writers, trials), iterations, delay)
        baseline = statistics.median(samples[targets[0][0]])
        for name, family, _ in targets:
            med = statistics.median(samples[name])
            rows.append(
                {
                    "world": world,
                    "workload": wname,
                    "readers": readers,
                    "writers": writers,
                    "target": name,
                    "family": family,
                    "elapsed_s": med,
                    "samples": samples[name],
                    "speedup_vs_baseline": baseline / med,
                    "correct": oks[name],
                }
            )
    return rows


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(str(h).ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join(str(c).rjust(w) if isinstance(c, str) and c[:1].isdigit() else str(c).ljust(w) for c, w in zip(r, widths)))
    return "\n".join(out)


def print_report(report):
    print(f"\n== rwlocker (Python) benchmark report: {report['meta']['mode']} ==")
    m = report["meta"]
    print(f"CPython {m['python']} on {m['machine']}, {m['cpus']} CPUs; rwlocker 3.2 baseline: {m['rwlocker32']}")

    unc = report["uncontended"]
    if not unc:
        return print_scenarios(report)
    base = {r["world"]: r["ns_per_pair"] for r in unc if r["case"].startswith(("threading.Lock  with", "asyncio.Lock"))}
    old = {}
    for r in unc:
        if r["case"].startswith("rwlocker 3.2"):
            old[r["case"].replace("rwlocker 3.2 ", "rwlocker ")] = r["ns_per_pair"]
    rows = []
    for r in unc:
        vs_old = old.get(r["case"])
        rows.append(
            [
                r["world"],
                r["case"],
                f"{r['ns_per_pair']:.0f}",
                f"{r['ns_per_pair'] / base[r['world']]:.2f}x",
                f"{vs_old / r['ns_per_pair']:.1f}x faster" if vs_old else "",
            ]
        )
    print("\n-- Uncontended acquire + release (median ns per pair; lower is better) --")
    print(table(["world", "case", "ns", "vs threading/asyncio.Lock", "vs rwlocker 3.2"], rows))
    print_scenarios(report)


def print_scenarios(report):
    for key, title in (("locks", "IO-bound lock scenario (1 ms sleep per op, 10 iterations)"), ("conditions", "Condition scenario (epoch + notify_all)")):
        if not report[key]:
            continue
        print(f"\n-- {title}: median elapsed; speedup vs the stdlib baseline --")
        rows = []
        for r in report[key]:
            row = [r["world"], r["workload"], r["target"], f"{r['elapsed_s'] * 1000:.1f} ms", f"{r['speedup_vs_baseline']:.2f}x"]
            if key == "locks":
                row += [f"{r['bound']:.1f}x", f"{r['efficiency'] * 100:.0f}%"]
            row.append("ok" if r["correct"] else "WRONG")
            rows.append(row)
        headers = ["world", "workload", "target", "elapsed", "speedup"]
        if key == "locks":
            headers += ["bound", "efficiency"]
        headers.append("check")
        print(table(headers, rows))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="every target, 5 trials of every workload")
    ap.add_argument("--json", default="bench-report/python.json", help="where to write the JSON results")
    ap.add_argument("--rwlocker32", default=os.environ.get("RWLOCKER32_DIR"), help="folder with rwlocker 3.2 (pip --target)")
    ap.add_argument("--trials", type=int, default=None, help="trials per workload (default 3 quick for read-heavy, 5 full)")
    ap.add_argument(
        "--only",
        default="uncontended,locks,conditions",
        help="comma-separated sections to run (uncontended, locks, conditions)",
    )
    args = ap.parse_args()

    old = load_rwlocker32(args.rwlocker32)
    full = args.full
    t_heavy = args.trials or (5 if full else 3)
    t_other = args.trials or (5 if full else 1)
    workloads = [(n, r, w, t_heavy if n == "read-heavy" else t_other) for n, r, w in WORKLOADS]
    # quick: the read-heavy condition scenario only (balanced Fair/Read
    # conditions alone take ~15 s per world)
    cond_workloads = workloads if full else [workloads[0]]
    t0 = time.perf_counter()

    only = set(args.only.split(","))
    uncontended, locks, conds = [], [], []
    if "uncontended" in only:
        log("uncontended acquire + release")
        uncontended = bench_uncontended(old, 5 if full else 3, 200_000 if full else 100_000)
    if "locks" in only:
        log("IO-bound lock scenario")
        locks = bench_locks("threads", thread_targets(old, full), run_threads, workloads, ITERATIONS, OP_DELAY)
        locks += bench_locks("asyncio", async_targets(old, full), run_tasks, workloads, ITERATIONS, OP_DELAY)
    if "conditions" in only:
        log("condition scenario")
        conds = bench_conditions(
            "threads", cond_thread_targets(old, full), run_cond_threads, cond_workloads, ITERATIONS, OP_DELAY
        )
        conds += bench_conditions(
            "asyncio", cond_async_targets(old, full), run_cond_tasks, cond_workloads, ITERATIONS, OP_DELAY
        )

    report = {
        "meta": {
            "mode": "full" if full else "quick",
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "rwlocker": rwlocker.__file__,
            "rwlocker32": getattr(old, "__file__", None),
            "readerwriterlock": rwl is not None,
            "aiorwlock": aiorwlock is not None,
            "op_delay_s": OP_DELAY,
            "iterations": ITERATIONS,
            "seconds": round(time.perf_counter() - t0, 1),
        },
        "uncontended": uncontended,
        "locks": locks,
        "conditions": conds,
    }
    print_report(report)
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"\nJSON written to {args.json} ({report['meta']['seconds']} s)")
    bad = [r["target"] for r in locks + conds if not r["correct"]]
    if bad:
        print(f"error: correctness check failed for {sorted(set(bad))}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

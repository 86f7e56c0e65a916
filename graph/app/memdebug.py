"""Memory diagnostics for soak runs, off unless LENSGRAPH_MEMORY_DEBUG=SECONDS is set.

Every SECONDS one WARNING block (logger lensgraph.memdebug, every line tagged
"memdebug") reports where the process's memory is: resident set, Python's
traced allocations, SQLite's own allocator, glibc's heap (in use / free), and
the allocation sites and object types that grew most since the first report.
tracemalloc makes every allocation slower (the server runs at about half its
speed) and the object census walks every object, so this finds growth; it does
not measure performance. LENSGRAPH_MEMORY_DEBUG_FRAMES (1) sets how many frames
each allocation keeps (more shows callers, costs more; 0 leaves tracemalloc off,
for the native figures and the census at full speed), LENSGRAPH_MEMORY_DEBUG_TOP
(12) how many sites and types are listed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

log = logging.getLogger("lensgraph.memdebug")

ENV = "LENSGRAPH_MEMORY_DEBUG"
IGNORED = (tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>"))


def interval() -> float | None:
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return None
    seconds = float(raw)
    if seconds <= 0:
        raise ValueError(f"{ENV} must be a positive number of seconds, got {raw!r}")
    return seconds


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def _native_probe() -> Callable[[], str]:
    """SQLite's and glibc's own accounts, where the libraries can be reached (Linux, glibc); '' otherwise."""
    parts: list[Callable[[], str]] = []
    try:
        import _sqlite3

        used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
        used.restype = ctypes.c_int64
        parts.append(lambda: f"sqlite {used() / 2**20:.1f} MB")
    except (ImportError, OSError, AttributeError):
        pass
    try:
        libc = ctypes.CDLL("libc.so.6")

        class MallInfo2(ctypes.Structure):
            _fields_ = [(n, ctypes.c_size_t) for n in (
                "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                "keepcost",
            )]

        libc.mallinfo2.restype = MallInfo2

        def malloc() -> str:
            m = libc.mallinfo2()
            return (f"malloc heap {m.arena / 2**20:.1f} MB (in use {m.uordblks / 2**20:.1f}, "
                    f"free {m.fordblks / 2**20:.1f}), mmapped {m.hblkhd / 2**20:.1f} MB")

        parts.append(malloc)
    except (OSError, AttributeError):
        pass
    return lambda: ", ".join(p() for p in parts)


def _census() -> Counter[str]:
    return Counter(type(o).__qualname__ for o in gc.get_objects())


async def _report(every: float, frames: int, top: int) -> None:
    native = _native_probe()
    if frames > 0:
        tracemalloc.start(frames)
    key = "traceback" if frames > 1 else "lineno"
    baseline: tracemalloc.Snapshot | None = None
    base_types: Counter[str] = Counter()
    tick = 0
    while True:
        await asyncio.sleep(every)
        tick += 1
        snapshot = tracemalloc.take_snapshot().filter_traces(IGNORED) if frames > 0 else None
        types = _census()
        current, peak = tracemalloc.get_traced_memory()
        traced = f"python traced {current / 2**20:.1f} MB (peak {peak / 2**20:.1f}), " if frames > 0 else ""
        objects = sum(types.values())
        lines = [f"memdebug #{tick}: rss {rss_kb() / 1024:.1f} MB, {traced}{objects} gc objects, {native()}"]
        if tick == 1:
            baseline, base_types = snapshot, types  # the first report is the baseline: start-up is done by then
        else:
            for stat in snapshot.compare_to(baseline, key)[:top] if snapshot and baseline else ():
                where = " <- ".join(f"{f.filename.rsplit('site-packages/', 1)[-1]}:{f.lineno}" for f in stat.traceback)
                lines.append(f"memdebug   {stat.size_diff / 1024:+10.1f} kB {stat.count_diff:+8d} blocks  {where}")
            grown = sorted(((types[t] - base_types[t], t) for t in types), reverse=True)[:top]
            lines.append("memdebug   types: " + ", ".join(f"{t} {n:+d}" for n, t in grown if n > 0))
        log.warning("\n".join(lines))


def install(app: web.Application) -> None:
    """Report every LENSGRAPH_MEMORY_DEBUG seconds while the application runs; nothing when it is unset."""
    every = interval()
    if every is None:
        return
    frames = int(os.environ.get(ENV + "_FRAMES", "1"))
    top = int(os.environ.get(ENV + "_TOP", "12"))

    async def reporting(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_report(every, frames, top), name="lensgraph-memdebug")
        log.warning("memdebug: reporting every %.0f s (tracemalloc frames: %d)", every, frames)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        tracemalloc.stop()

    app.cleanup_ctx.append(reporting)

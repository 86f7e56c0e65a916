"""Cap glibc's malloc arenas in a server process: what MALLOC_ARENA_MAX=2 does, set from inside.

glibc gives a thread that meets contention in malloc an arena of its own, up to eight per core, and freed
memory stays in the arena that held it. The server's threads (SQLite's writer, checkpointer and readers, the
default executor) each fill one: after 20,000 SDK events at batches of 100 the server held 127-131 MiB with
glibc's default and 116 MiB with two arenas, at the same throughput (bench/README.md, "Memory"). An
operator's own MALLOC_ARENA_MAX (read by glibc at start) is left as it is; elsewhere (musl, macOS) nothing
is done.
"""

from __future__ import annotations

import ctypes
import os
import sys

ARENAS = 2
M_ARENA_MAX = -8  # glibc's malloc.h


def cap_arenas(limit: int = ARENAS) -> bool:
    """Before the process starts its threads: at most `limit` arenas from now on. True if glibc took it."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt(M_ARENA_MAX, limit) == 1

"""The server caps glibc's malloc arenas (graph/app/malloc_arenas.py): checked in a child process whose eight
threads allocate at once, counting the arenas glibc's malloc_stats reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import ctypes, sys, threading
from graph.app.malloc_arenas import cap_arenas
print("capped" if cap_arenas() else "left", flush=True)
barrier = threading.Barrier(8)
kept = []
def work():
    barrier.wait()
    for _ in range(2000):
        kept.append([bytearray(4096) for _ in range(20)][0])
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def _arenas(env_extra: dict[str, str]) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env_extra
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip(), sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def test_the_cap_holds_eight_allocating_threads_to_two_arenas() -> None:
    said, arenas = _arenas({})
    assert said == "capped"
    assert 1 <= arenas <= 2


def test_an_operators_malloc_arena_max_is_left_as_set() -> None:
    said, arenas = _arenas({"MALLOC_ARENA_MAX": "3"})
    assert said == "left"
    assert 1 <= arenas <= 3

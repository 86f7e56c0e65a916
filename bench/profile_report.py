"""Summarize a server profile: py-spy raw (collapsed) stacks, or a cProfile stats file.

    .venv/bin/python bench/profile_report.py /tmp/server.pyspy.typed      # py-spy --format raw
    .venv/bin/python bench/profile_report.py /tmp/server.prof             # python -m cProfile -o

py-spy: samples per thread, then the top functions by self ("tottime") and by
inclusive ("cumulative") share of all samples, and a coarse breakdown by area
(aiohttp, JSON, pydantic, hashing, the SQLite thread, ...).
cProfile: pstats sorted by cumulative and by tottime (main thread only: cProfile
does not see aiosqlite's worker thread).
"""

from __future__ import annotations

import argparse
import pstats
import re
import sys
from collections import Counter
from pathlib import Path

# Stages of the server, each a set of patterns matched against any frame of a sample's stack.
# A sample counts for the first stage, in this order, that its stack passes through.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("SQLite (aiosqlite worker threads, mostly C)", ("_connection_worker_thread",)),
    ("hash chain (canonical JSON + sha256)", ("event_hash (", "canonical (")),
    ("planner (session copies, counters)", ("BatchPlanner",)),
    ("row building (search_text, orjson.dumps)", ("_event_row (", "_session_row (")),
    ("rows -> models (_event/_session)", ("_event (storage", "_session (storage", "_agent (storage")),
    ("request validation (pydantic)", ("validate_events (", "translate (graph", "WireEvent")),
    ("to_event (Event model, ULID)", ("to_event (",)),
    ("request JSON decode", ("read_json (",)),
    ("response JSON encode", ("json_response (", "encode_json (")),
    ("GraphQL execution (strawberry, graphql-core)", ("strawberry/", "graphql/")),
    ("store calls, other (commit_batch etc.)", ("storage/",)),
    ("aiohttp (HTTP parsing, routing, writing)", ("aiohttp/",)),
    ("asyncio event loop", ("asyncio/", "selectors.py")),
]
# Cross-cuts by the leaf (innermost) frame, whatever the stage.
LEAVES: list[tuple[str, tuple[str, ...]]] = [
    ("pydantic (validation, __init__, __setattr__, copies)", ("pydantic/", "pydantic_core")),
    ("copy.deepcopy", ("copy.py",)),
    ("ULID generation", ("ulid/",)),
    ("search_text walk", ("storage/search.py",)),
    ("datetime/time helpers", ("storage/timeutil.py",)),
]


def frame_key(frame: str) -> str:
    # py-spy frames look like "function (path/to/file.py:123)"; drop the line so a function is one key
    frame = re.sub(r":\d+\)$", ")", frame)
    return re.sub(r"\((?:/[^()]*/(?:site-packages|lib/python3\.\d+)/|/work/main/)", "(", frame)


def pyspy(path: Path, top: int) -> None:
    threads: Counter[str] = Counter()
    self_count: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        frames = stack.split(";")
        thread = frames[0] if frames[0].startswith(("thread", "process")) else "?"
        if frames[0].startswith("process"):
            frames = frames[1:]
            thread = frames[0] if frames and frames[0].startswith("thread") else thread
        if frames and frames[0].startswith("thread"):
            frames = frames[1:]
        if not frames:
            continue
        total += count
        threads[thread] += count
        keys = [frame_key(f) for f in frames]
        self_count[keys[-1]] += count
        for k in set(keys):
            incl[k] += count
        for name, patterns in STAGES:
            if any(p in f for f in frames for p in patterns):
                areas[name] += count
                break
        else:
            areas["other"] += count
        for name, patterns in LEAVES:
            if any(p in frames[-1] for p in patterns):
                leaves[name] += count
    if not total:
        print("no samples")
        return
    print(f"{total} samples (non-idle, all threads)\n")
    print("samples by thread:")
    for t, c in threads.most_common(8):
        print(f"  {100 * c / total:5.1f}%  {t}")
    print(f"\ntop {top} by self time (tottime):")
    for k, c in self_count.most_common(top):
        print(f"  {100 * c / total:5.1f}%  {k}")
    print(f"\ntop {top} by inclusive time (cumulative):")
    for k, c in incl.most_common(top):
        print(f"  {100 * c / total:5.1f}%  {k}")
    print("\nby stage (a sample counts for the first stage, in this order, its stack passes through):")
    for name, _ in [*STAGES, ("other", ())]:
        if areas[name]:
            print(f"  {100 * areas[name] / total:5.1f}%  {name}")
    print("\ncross-cut by leaf frame (any stage):")
    for name, _ in LEAVES:
        if leaves[name]:
            print(f"  {100 * leaves[name] / total:5.1f}%  {name}")


def cprofile(path: Path, top: int) -> None:
    stats = pstats.Stats(str(path))
    stats.strip_dirs()
    for key in ("cumulative", "tottime"):
        print(f"=== top {top} by {key} ===")
        stats.sort_stats(key).print_stats(top)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("profile", type=Path)
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    head = args.profile.read_bytes()[:64]
    if head.startswith((b"{", b"process", b"thread")) or (b"(" in head and b";" in head):
        pyspy(args.profile, args.top)
    else:
        cprofile(args.profile, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""LENSGRAPH_SQLITE_WRITE_NICE reaches a real server's threads: read back from /proc, thread by thread."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.process.conftest import Spawn

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are Linux's")


def nices(pid: int) -> dict[int, int]:
    """Each thread's nice value, by thread id (field 19 of /proc/<pid>/task/<tid>/stat, after the name)."""
    out: dict[int, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = task.joinpath("stat").read_text().rpartition(")")[2].split()
        out[int(task.name)] = int(fields[16])
    return out


async def test_the_servers_write_side_threads_run_at_the_configured_nice_level(spawn: Spawn) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)  # the server inherits this process's nice value
    server = await spawn(LENSGRAPH_SQLITE_WRITE_NICE="4")
    async with aiohttp.ClientSession() as http:
        event = {"sessionId": "s1", "agentId": "a1", "eventType": "custom", "payload": {"type": "probe", "data": {}}}
        body = {"events": [event]}
        async with http.post(f"{server.url}/api/events", json=body) as r:
            assert r.status == 201
    by_thread = nices(server.proc.pid)
    assert by_thread[server.proc.pid] == base  # the event loop's thread
    low = min(base + 4, 19)
    lowered = [tid for tid, nice in by_thread.items() if nice == low]
    # The writer and the search follower start with the store; the checkpointer's thread when first needed.
    assert 2 <= len(lowered) <= 3
    assert set(by_thread.values()) <= {base, low}

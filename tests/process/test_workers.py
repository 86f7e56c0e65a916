"""`lensgraph serve --workers 2`: two worker processes on one port (SO_REUSEPORT), supervised by the parent."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from graph.app.workers import supported
from tests.process.conftest import Spawn
from tests.process.test_two_processes import post, stored_keys
from tests.server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not supported(), reason="--workers needs Linux SO_REUSEPORT")


@pytest.fixture
def group(spawn: Spawn, tmp_path: Path) -> Spawn:
    """`serve --workers 2` with its temp dir (the metrics dir) under tmp_path: the fixture's kill -9 at the end
    leaves the dir for pytest to remove, not in /tmp."""
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)

    async def start(database_url: str | None = None) -> ServerProcess:
        return await spawn(database_url, "--workers", "2", TMPDIR=str(tmp))

    return start


def fresh_connections() -> aiohttp.ClientSession:
    """A connection per request, so the kernel picks a worker for each."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True),
                                 timeout=aiohttp.ClientTimeout(total=30))


async def pids_answering(server: ServerProcess, want: int = 2, tries: int = 200) -> dict[int, int]:
    """Requests to /readyz until `want` distinct workers answered: {pid: answers}."""
    seen: dict[int, int] = {}
    async with fresh_connections() as http:
        for _ in range(tries):
            async with http.get(f"{server.url}/readyz") as r:
                assert r.status == 200
                pid = (await r.json())["pid"]
            seen[pid] = seen.get(pid, 0) + 1
            if len(seen) >= want:
                break
    return seen


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_two_workers_answer_on_one_port_and_a_replayed_batch_is_stored_once(group: Spawn) -> None:
    server = await group()
    assert server.log.count("listening on http://") == 1  # the banner, once
    seen = await pids_answering(server)
    assert len(seen) == 2 and server.proc.pid not in seen
    async with fresh_connections() as http:
        answers = await asyncio.gather(*(post(http, server, k) for k in range(30) for _ in range(2)))
        stored = await stored_keys(http, server)
    assert sorted(stored) == sorted(k for k in range(30) for _ in range(5))  # 150 events, not 300
    for k in range(30):
        (sa, ba, ra), (sb, bb, rb) = answers[2 * k], answers[2 * k + 1]
        assert sa == sb == 201 and ba == bb
        assert sorted([ra, rb]) == [False, True]


async def test_a_worker_killed_with_9_is_restarted_and_the_port_keeps_answering(group: Spawn) -> None:
    server = await group()
    victim, survivor = list(await pids_answering(server))
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while "died (signal 9)" not in server.log:
        assert time.monotonic() < deadline, server.log
        await asyncio.sleep(0.05)
    assert list(await pids_answering(server, want=1)) == [survivor]  # while the victim is down
    deadline = time.monotonic() + 30
    while True:  # the replacement listens within the backoff and its start-up
        seen = await pids_answering(server, tries=40)
        if len(seen) == 2:
            break
        assert time.monotonic() < deadline, server.log
        await asyncio.sleep(0.2)
    assert survivor in seen and victim not in seen
    assert len(re.findall(r"worker \d \(pid \d+\) died", server.log)) == 1


async def test_sigterm_ends_the_group_with_exit_0_and_removes_its_metrics_dir(spawn: Spawn, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    server = await spawn(None, "--workers", "2", TMPDIR=str(tmp))
    workers = list(await pids_answering(server))
    assert [p.name for p in tmp.iterdir() if p.name.startswith("lensgraph-metrics-")]
    seconds = await server.terminate(timeout=30)
    assert server.proc.returncode == 0, server.log
    assert seconds < 5, server.log
    assert not any(alive(pid) for pid in workers)
    assert not [p for p in tmp.iterdir() if p.name.startswith("lensgraph-metrics-")]
    print(f"SIGTERM to exit of a 2-worker group: {seconds:.2f} s")


async def test_a_killed_supervisors_metrics_dir_is_removed_by_the_next_start(spawn: Spawn, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    first = await spawn(None, "--workers", "2", TMPDIR=str(tmp))
    left = [p for p in tmp.iterdir() if p.name.startswith("lensgraph-metrics-")]
    first.kill()  # -9: it cannot remove its dir; its workers get SIGTERM from the kernel
    assert all(p.exists() for p in left) and len(left) == 1
    second = await spawn(None, "--workers", "2", TMPDIR=str(tmp))
    assert not left[0].exists()
    names = [p.name for p in tmp.iterdir()]
    assert len(names) == 1 and names[0].startswith(f"lensgraph-metrics-{second.proc.pid}-")


async def test_metrics_sum_a_counter_over_the_workers(group: Spawn) -> None:
    server = await group()
    seen = await pids_answering(server, want=2)
    more = await pids_answering(server, want=3, tries=20)  # 20 more, spread by the kernel
    total = sum(seen.values()) + sum(more.values())
    assert len(seen) == 2
    async with fresh_connections() as http, http.get(f"{server.url}/metrics") as r:
        text = await r.text()
    found = re.search(r'lensgraph_http_requests_total\{[^}]*route="/readyz"[^}]*status="200"[^}]*\} (\S+)', text)
    assert found, text
    assert float(found.group(1)) == total


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "graph.app.cli", "serve", "--host", "127.0.0.1", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_a_port_in_use_or_a_bad_database_stops_the_group_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve("--port", str(port), "--workers", "2", "--database", f"sqlite:///{tmp_path}/x.db")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"lensgraph: cannot listen on 127.0.0.1:{port}: Address already in use"]
    done = serve("--port", "0", "--workers", "2", "--database", "bogus://x")
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("lensgraph: unsupported database URL")


async def test_restore_refuses_while_workers_hold_the_database(group: Spawn, tmp_path: Path) -> None:
    database = tmp_path / "shared.db"
    server = await group(f"sqlite:///{database}")
    await pids_answering(server)
    backup = tmp_path / "copy.db"
    taken = subprocess.run([sys.executable, "-m", "graph.app.cli", "backup", str(backup), "--database",
                            f"sqlite:///{database}"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert taken.returncode == 0, taken.stderr
    refused = subprocess.run([sys.executable, "-m", "graph.app.cli", "restore", str(backup), "--database",
                              f"sqlite:///{database}"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().endswith("is in use by a running server; stop it before restoring")

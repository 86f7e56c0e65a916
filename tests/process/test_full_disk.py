"""A real server process on a full disk: ingest fills it and is refused with 503, nothing partial is stored,
the server restarts on the full disk serving reads (writes 503, /readyz degraded), and once space is freed
the client's retry is stored once, without another restart.

Two disks. size-limit, everywhere: the database's size limit (LENSGRAPH_SQLITE_MAX_BYTES), which SQLite
enforces with the SQLITE_FULL a full disk gives, and a filler table an operator's DROP frees. tmpfs, where
Linux lets this user make user and mount namespaces (`unshare -Urm`): a real 48 MB filesystem, a real filler
file, SQLite's real ENOSPC path with its WAL and shared-memory files; the server runs inside the namespace
(nsenter) and the test reaches the disk through /proc/<pid>/root.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from storage.sqlite.faults import FULL
from tests.faults import drop_filler, fill_to, typed_batch
from tests.process.conftest import Spawn
from tests.server_process import ServerProcess

LIMIT = 2 * 1024 * 1024
TMPFS = "48m"  # room for the demo with the WAL at its most (storage/sqlite/database.py, WRITER_CHECKPOINT_PAGES)
MAX_BATCHES = 400  # hang guard for the loops that fill the disk
FULL_ERROR = f"Service unavailable: {FULL} (SQLITE_FULL); retry after 30 s"


@dataclass
class SizeLimit:
    """The database may not grow past LIMIT; its filler table is the space an operator can free."""

    root: Path
    wrapper: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        return self.root / "db.sqlite"

    @property
    def env(self) -> dict[str, str]:
        return {"LENSGRAPH_SQLITE_MAX_BYTES": str(LIMIT)}

    def fill(self, leave_bytes: int) -> None:
        fill_to(self.path, LIMIT, leave_bytes)

    def free(self) -> None:
        drop_filler(self.path)


@dataclass
class Tmpfs:
    """A 48 MB tmpfs in a user and mount namespace held open by a sleeping process."""

    holder: subprocess.Popen[bytes]
    mountpoint: Path  # the path inside the namespace
    env: dict[str, str] = field(default_factory=dict)

    @property
    def wrapper(self) -> tuple[str, ...]:
        return ("nsenter", "-t", str(self.holder.pid), "-U", "-m", "--preserve-credentials")

    @property
    def root(self) -> Path:  # the same directory, as this process reaches it
        return Path(f"/proc/{self.holder.pid}/root{self.mountpoint}")

    @property
    def path(self) -> Path:
        return self.mountpoint / "db.sqlite"

    def available(self) -> int:
        return shutil.disk_usage(self.root).free

    def fill(self, leave_bytes: int) -> None:
        with (self.root / "filler").open("ab", buffering=0) as filler:
            try:
                while (room := self.available()) > leave_bytes:
                    filler.write(b"\0" * min(64 * 1024, room - leave_bytes))
            except OSError as exc:  # ENOSPC: full to the last block
                assert exc.errno == 28, exc

    def free(self) -> None:
        (self.root / "filler").unlink()


def _tmpfs(tmp_path: Path) -> Tmpfs:
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    tools = [shutil.which(tool) for tool in ("unshare", "nsenter")]
    if not all(tools):
        pytest.skip("needs util-linux's unshare and nsenter")
    holder = subprocess.Popen(
        ["unshare", "-Urm", "sh", "-c", f'mount -t tmpfs -o size={TMPFS} tmpfs "$0" && echo mounted && exec sleep 600',
         str(mountpoint)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert holder.stdout is not None
    if holder.stdout.readline().strip() != b"mounted":
        holder.kill()
        _, err = holder.communicate()
        pytest.skip(f"this machine does not let an unprivileged process mount a tmpfs: {err.decode().strip()}")
    return Tmpfs(holder, mountpoint)


@pytest.fixture(params=["size-limit", "tmpfs"])
async def disk(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SizeLimit | Tmpfs]:
    if request.param == "size-limit":
        yield SizeLimit(tmp_path)
        return
    made = _tmpfs(tmp_path)
    try:
        yield made
    finally:
        made.holder.kill()
        made.holder.wait()


async def post(
    http: aiohttp.ClientSession, server: ServerProcess, body: dict[str, Any], key: str
) -> tuple[int, Any, Any]:
    async with http.post(f"{server.url}/api/events", json=body, headers={"Idempotency-Key": key}) as r:
        return r.status, await r.json(), r.headers


async def get(http: aiohttp.ClientSession, server: ServerProcess, path: str, **params: Any) -> tuple[int, Any]:
    async with http.get(f"{server.url}{path}", params=params) as r:
        return r.status, await r.json()


async def fill_with_ingest(
    http: aiohttp.ClientSession, server: ServerProcess, prefix: str, size: int, text_bytes: int
) -> tuple[int, str]:
    """POST batches until one is refused; returns (batches stored, the refused batch's key)."""
    for n in range(MAX_BATCHES):
        key = f"{prefix}-{n}"
        status, body, headers = await post(http, server, typed_batch(key, size, text_bytes), key)
        if status != 201:
            assert (status, body, headers["Retry-After"]) == (503, {"error": FULL_ERROR}, "30")
            return n, key
    raise AssertionError(f"still taking writes after {MAX_BATCHES} batches")


async def state(http: aiohttp.ClientSession, server: ServerProcess) -> tuple[int, int, bool]:
    """(events stored, the sum of the sessions' counters, whether every session's chain verifies)."""
    _, events = await get(http, server, "/api/events", limit=1)
    _, sessions = await get(http, server, "/api/sessions", limit=500)
    valid = True
    for session in sessions["sessions"]:
        _, timeline = await get(http, server, f"/api/sessions/{session['id']}/timeline")
        valid = valid and timeline["chainValid"] and len(timeline["events"]) == session["eventCount"]
    return events["total"], sum(s["eventCount"] for s in sessions["sessions"]), valid


async def test_ingest_fills_the_disk_the_server_restarts_on_it_and_recovers_in_place_once_space_is_freed(
    disk: SizeLimit | Tmpfs, spawn: Spawn
) -> None:
    url = f"sqlite:///{disk.path}"
    env = {**disk.env, "LENSGRAPH_ACCESS_LOG": "false"}
    server = await spawn(url, wrapper=disk.wrapper, **env)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        disk.fill(leave_bytes=1024 * 1024)
        # Big batches until one does not fit, then single short events until none does.
        big, refused = await fill_with_ingest(http, server, "big", 20, 1500)
        small, _ = await fill_with_ingest(http, server, "small", 1, 10)
        assert big >= 3, (big, small)  # ingest filled the disk
        stored = 20 * big + small
        assert await state(http, server) == (stored, stored, True)  # nothing of a refused batch
        status, ready = await get(http, server, "/readyz")
        assert (status, ready["status"]) == (503, "degraded")
        assert ready["checks"] == {"store": f"read-only: {FULL} (SQLITE_FULL)", "live": "ok"}

        # A restart on the full disk (a deploy, an orchestrator): it starts, since start-up writes nothing.
        filled = server
        await server.terminate()
        disk.fill(leave_bytes=0)
        server = await spawn(url, wrapper=disk.wrapper, **env)
        assert await state(http, server) == (stored, stored, True)
        retry = typed_batch(refused, 20)
        status, body, headers = await post(http, server, retry, refused)
        assert (status, body, headers["Retry-After"]) == (503, {"error": FULL_ERROR}, "30")
        status, ready = await get(http, server, "/readyz")
        assert (status, ready["checks"]["store"]) == (503, f"read-only: {FULL} (SQLITE_FULL)")

        wal = disk.root / "db.sqlite-wal"
        real = isinstance(disk, Tmpfs)
        if real:  # on a real full disk the WAL holds what the database file has no room to take
            assert wal.stat().st_size > 512 * 1024
        disk.free()
        status, ready = await get(http, server, "/readyz")  # readiness returns with no client write
        assert (status, ready["status"]) == (200, "ready")
        if real:  # and once space is back it is checkpointed and truncated: its space is the disk's again
            assert wal.stat().st_size == 0
        status, first, headers = await post(http, server, retry, refused)
        assert (status, first["ingested"], "Idempotent-Replayed" in headers) == (201, 20, False)
        status, again, headers = await post(http, server, retry, refused)
        assert (status, again, headers["Idempotent-Replayed"]) == (201, first, "true")
        assert await state(http, server) == (stored + 20, stored + 20, True)
    for run in (filled, server):  # one WARNING line per refused write, and no traceback
        assert f"WARNING lensgraph.rest: unavailable POST /api/events: 503 {FULL} (SQLITE_FULL)" in run.log
        assert "Traceback" not in run.log and " ERROR " not in run.log


def test_a_database_closed_before_a_real_disk_filled_up_cannot_be_opened_and_says_why(tmp_path: Path) -> None:
    """The documented limit: a clean close removes SQLite's shared-memory index, which it must recreate (32 KB)
    before it can read at all. With not one block free, start-up is one line and exit status 1, not a trace."""
    disk = _tmpfs(tmp_path)
    repo = Path(__file__).resolve().parents[2]

    def lensgraph(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*disk.wrapper, sys.executable, "-m", "graph.app.cli", *args, "--database",
                               f"sqlite:///{disk.path}"], capture_output=True, timeout=60, cwd=repo)

    try:
        assert lensgraph("demo").returncode == 0  # made, filled with the demo and closed cleanly
        assert sorted(f.name for f in disk.root.iterdir()) == [
            "db.sqlite", "db.sqlite.lock", "db.sqlite.search", "db.sqlite.write-lock"]
        disk.fill(leave_bytes=0)
        refused = lensgraph("serve", "--port", "0")
        why = "the disk failed an I/O operation (SQLITE_IOERR_SHMSIZE)"
        assert refused.returncode == 1
        assert refused.stderr.decode() == f"lensgraph: cannot open the database {disk.path}: {why}\n"
        disk.free()  # with room for the index, the same database opens and reads
        again = lensgraph("demo")
        assert (again.returncode, again.stdout) == (0, b"demo data already present\n")
    finally:
        disk.holder.kill()
        disk.holder.wait()

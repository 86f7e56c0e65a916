"""MongoDB servers for the tests: SecantusDB started by pytest, and a real MongoDB when one is named.

SecantusDB (`python -m secantus`, a MongoDB-compatible server on WiredTiger)
runs twice per test session, each started on first use: as a one-node
replica set (transactions, change streams) and with --standalone, so both of
MongoStore's write paths run against a real server. LENSGRAPH_TEST_MONGODB_URL,
when set, adds a real MongoDB. Each test works in its own database
(lensgraph_test_<uuid>) and drops it after.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from pymongo import AsyncMongoClient, MongoClient
from pymongo.errors import PyMongoError

from storage.mongo.store import MongoStore

MONGODB_URL_ENV = "LENSGRAPH_TEST_MONGODB_URL"
MONGODB_URL = os.environ.get(MONGODB_URL_ENV)
START_TIMEOUT_S = 30.0
STOP_GRACE_S = 10.0


@dataclass(frozen=True, slots=True)
class MongoServer:
    name: str  # the test id
    base_url: str  # no database in the path
    replicated: bool
    description: str
    secantus: bool  # a SecantusDB started here, not LENSGRAPH_TEST_MONGODB_URL's server

    def url(self, database: str) -> str:
        return urlunsplit(urlsplit(self.base_url)._replace(path="/" + database))


def new_database_name() -> str:
    return f"lensgraph_test_{uuid.uuid4().hex[:12]}"


# -- SecantusDB ------------------------------------------------------------------


@dataclass
class _Process:
    server: MongoServer
    process: subprocess.Popen[bytes]
    stderr: Path
    port: int


@dataclass
class SecantusServers:
    """The session's SecantusDB processes, started on first use, stopped together at the end."""

    root: Path
    running: dict[bool, _Process] = field(default_factory=dict)  # by standalone
    stopped: dict[bool, int] = field(default_factory=dict)  # the port of each server stopped by stop()
    durable: bool = False  # --sync-on-commit: an acknowledged write survives kill -9, as with a journal

    def get(self, standalone: bool) -> MongoServer:
        if standalone not in self.running:
            self.running[standalone] = self._start(standalone)
        return self.running[standalone].server

    def stop(self, standalone: bool) -> None:
        """Kill one server, as a crash would (an outage); restart() brings it back on the same port and data."""
        stopped = self.running.pop(standalone)
        stopped.process.kill()
        stopped.process.wait()
        self.stopped[standalone] = stopped.port

    def restart(self, standalone: bool) -> MongoServer:
        self.running[standalone] = self._start(standalone, self.stopped.pop(standalone))
        return self.running[standalone].server

    def _start(self, standalone: bool, port: int | None = None) -> _Process:
        mode = "standalone" if standalone else "replset"
        home = self.root / mode
        home.mkdir(exist_ok=port is not None)
        port = port or _free_port()
        # --config on an empty file: no secantusd.toml found in ~ or /etc can change what is tested.
        (home / "secantusd.toml").write_text("")
        args = [sys.executable, "-m", "secantus", "--config", str(home / "secantusd.toml"), "--host", "127.0.0.1",
                "--port", str(port), "--storage-path", str(home / "data"), "--log-level", "WARNING"]
        # A directory rather than :memory:, so a server that has to be killed leaves nothing outside pytest's tmp.
        base = f"mongodb://127.0.0.1:{port}/?" + ("directConnection=true" if standalone else "replicaSet=secantus")
        if standalone:
            args.append("--standalone")
        if self.durable:
            args.append("--sync-on-commit")
        stderr = home / "stderr.log"
        with stderr.open("wb") as sink:  # a file, not a pipe nobody reads: the server never blocks on its log
            process = subprocess.Popen(args, cwd=home, stdout=sink, stderr=subprocess.STDOUT)
        server = MongoServer(f"mongodb-{mode}", base, not standalone,
                             f"SecantusDB {version('secantusdb')} {mode} on 127.0.0.1:{port}", secantus=True)
        started = _Process(server, process, stderr, port)
        try:
            _wait_for_ping(started)
        except BaseException:
            _stop([started])
            raise
        return started

    def stop_all(self) -> None:
        _stop(list(self.running.values()))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_ping(started: _Process) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if started.process.poll() is not None:
            raise RuntimeError(f"{started.server.description} exited with {started.process.returncode}: "
                               f"{started.stderr.read_text(errors='replace')[-4000:]}")
        try:
            with MongoClient(started.server.base_url, serverSelectionTimeoutMS=250) as client:
                client.admin.command("ping")
            return
        except PyMongoError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{started.server.description} did not answer ping within {START_TIMEOUT_S:.0f} s: "
                                   f"{started.stderr.read_text(errors='replace')[-4000:]}") from None
            time.sleep(0.05)


def _stop(processes: list[_Process]) -> None:
    # SecantusDB can wait for connected clients before exiting on SIGTERM: signal all, then kill what lingers.
    for p in processes:
        p.process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for p in processes:
        try:
            p.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.process.kill()
            p.process.wait()


# -- a real MongoDB, when named ----------------------------------------------------


@cache
def external_server() -> MongoServer | None:
    """LENSGRAPH_TEST_MONGODB_URL's server, its topology read once (at collection: it decides which tests it joins)."""
    if not MONGODB_URL:
        return None
    with MongoClient(MONGODB_URL, serverSelectionTimeoutMS=10_000) as client:
        hello = client.admin.command("hello")
        server_version = client.server_info()["version"]
    replicated = "setName" in hello or hello.get("msg") == "isdbgrid"
    topology = "replica set" if replicated else "standalone"
    return MongoServer("mongodb", MONGODB_URL, replicated,
                       f"MongoDB {server_version} {topology} at {MongoStore(MONGODB_URL).hosts}", secantus=False)


# -- fixtures ------------------------------------------------------------------------

_session_servers: list[MongoServer] = []  # what this run started or used, for the summary


def servers_used() -> list[MongoServer]:
    return list(_session_servers)


@pytest.fixture(scope="session")
def secantus_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecantusServers]:
    servers = SecantusServers(tmp_path_factory.mktemp("secantus"))
    yield servers
    servers.stop_all()


@pytest.fixture(scope="session")
def secantus_replset(secantus_servers: SecantusServers) -> MongoServer:
    """SecantusDB as a one-node replica set named `secantus`: transactions and change streams."""
    server = secantus_servers.get(standalone=False)
    _session_servers.append(server)
    return server


@pytest.fixture(scope="session")
def secantus_standalone(secantus_servers: SecantusServers) -> MongoServer:
    """SecantusDB --standalone: no replica set, so MongoStore takes its compare-and-set path."""
    server = secantus_servers.get(standalone=True)
    _session_servers.append(server)
    return server


@pytest.fixture(scope="session")
def real_mongodb() -> MongoServer:
    server = external_server()
    assert server is not None, f"{MONGODB_URL_ENV} is not set"
    _session_servers.append(server)
    return server


SERVER_FIXTURES = {"mongodb-replset": "secantus_replset", "mongodb-standalone": "secantus_standalone",
                   "mongodb": "real_mongodb"}


def server_ids(replicated: bool | None = None) -> list[str]:
    """The Mongo servers this run tests on, optionally only those of one topology."""
    ids = ["mongodb-replset", "mongodb-standalone"]
    if (real := external_server()) is not None:
        ids.append(real.name)
    wanted = {"mongodb-replset": True, "mongodb-standalone": False, "mongodb": real and real.replicated}
    return [i for i in ids if replicated is None or wanted[i] == replicated]


def server_for(request: pytest.FixtureRequest, name: str) -> MongoServer:
    return request.getfixturevalue(SERVER_FIXTURES[name])


OpenStore = Callable[..., Awaitable[MongoStore]]


@pytest.fixture
async def open_mongo() -> AsyncIterator[OpenStore]:
    """open_mongo(server, database=None, **store_options): a started MongoStore on a fresh database (or the
    named one, to be a second process on it); every store is closed and every database dropped after."""
    stores: list[MongoStore] = []
    databases: dict[str, MongoServer] = {}

    async def open_store(server: MongoServer, database: str | None = None, **options: object) -> MongoStore:
        name = database or new_database_name()
        databases.setdefault(name, server)
        store = MongoStore(server.url(name), **options)  # type: ignore[arg-type]
        stores.append(store)
        await store.start()
        return store

    yield open_store
    for store in stores:
        await store.close()
    for name, server in databases.items():
        async with AsyncMongoClient(server.base_url) as admin:
            await admin.drop_database(name)

"""Fixtures that start real server processes and stop them, whatever the test did."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from tests.server_process import ServerProcess

Spawn = Callable[..., Awaitable[ServerProcess]]


@pytest.fixture
async def spawn(tmp_path: Path) -> AsyncIterator[Spawn]:
    started: list[ServerProcess] = []

    async def start(
        database_url: str | None = None, *args: str, wrapper: Sequence[str] = (), **env: str
    ) -> ServerProcess:
        url = database_url or f"sqlite:///{tmp_path}/shared.db"
        server = await ServerProcess.start(url, tmp_path / f"server-{len(started)}.log", *args, wrapper=wrapper, **env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()

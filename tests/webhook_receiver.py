"""A real webhook receiver: an aiohttp server on 127.0.0.1 that records every request (headers, body, arrival
time) and answers the statuses it is told to, in order (then 200)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from tests.local_http import LocalHttp


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()

    @property
    def json(self) -> dict:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    port: int = 0
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    delay: float = 0.0  # seconds before answering
    received: list[Received] = field(default_factory=list)
    _http: LocalHttp = field(default_factory=LocalHttp)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(dict(request.headers), await request.read(), time.monotonic()))
        self._arrived.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200, text="ok")

    async def start(self) -> Receiver:
        self.port = await self._http.serve("/hook", self._handle, self.port)
        return self

    async def stop(self) -> None:
        await self._http.stop()

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            left = deadline - time.monotonic()
            assert left > 0, f"{len(self.received)} of {count} webhook requests arrived within {timeout} s"
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(left, 0.2))
        return self.received


def free_port() -> int:
    """A port nothing listens on (for a receiver that is down, then started there)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

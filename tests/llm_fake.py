"""A real OpenAI-compatible chat completions endpoint for the assistant's tests: an aiohttp server on 127.0.0.1
at /v1/chat/completions that records every request and answers what it is told to (a content, a status, a raw
body, after a delay)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from tests.local_http import LocalHttp


@dataclass
class Asked:
    headers: dict[str, str]
    json: dict


@dataclass
class FakeLlm:
    content: str | None = "ok"  # the reply's choices[0].message.content
    replies: list[str] = field(default_factory=list)  # contents answered in order first, then content
    status: int = 200
    raw: bytes | None = None  # a body to answer instead of a chat completion
    delay: float = 0.0
    asked: list[Asked] = field(default_factory=list)
    port: int = 0
    _http: LocalHttp = field(default_factory=LocalHttp)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _handle(self, request: web.Request) -> web.Response:
        self.asked.append(Asked(dict(request.headers), orjson.loads(await request.read())))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.raw is not None:
            return web.Response(status=self.status, body=self.raw, content_type="application/json")
        body = {"id": "chatcmpl-1", "object": "chat.completion", "model": self.asked[-1].json.get("model"),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant",
                                         "content": self.replies.pop(0) if self.replies else self.content}}]}
        return web.json_response(body, status=self.status)

    async def start(self) -> FakeLlm:
        self.port = await self._http.serve("/v1/chat/completions", self._handle)
        return self

    async def stop(self) -> None:
        await self._http.stop()

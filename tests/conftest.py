"""Fixtures: the real app on a loopback port, real HTTP and websocket clients, a real SQLite file."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from graph.app.factory import create_app, store_for
from graph.app.settings import Settings
from tests.mongo_server import (  # noqa: F401  (fixtures, shared with every suite)
    open_mongo,
    real_mongodb,
    secantus_replset,
    secantus_servers,
    secantus_standalone,
    servers_used,
)


class CountingStore:
    """Wraps a real store and counts calls per method of every domain (traces, projects...), to prove batching."""

    DOMAINS = ("traces", "projects", "idempotency", "counters", "analytics", "experiments", "revenue", "anomalies",
               "webhooks")

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        for domain in self.DOMAINS:
            setattr(self, domain, _CountingDomain(getattr(inner, domain), self.calls))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # start, close, live, path...

    def reset(self) -> None:
        self.calls.clear()

    @property
    def total(self) -> int:
        return sum(self.calls.values())


class _CountingDomain:
    def __init__(self, inner: Any, calls: Counter[str]) -> None:
        self.inner = inner
        self.calls = calls

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await attr(*args, **kwargs)

        return counted


class Api:
    """A client of one running server, with shortcuts for both ingest formats and GraphQL."""

    def __init__(self, client: TestClient, store: CountingStore) -> None:
        self.client = client
        self.store = store

    async def gql(self, query: str, variables: dict | None = None, headers: dict | None = None) -> dict:
        resp = await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def data(self, query: str, variables: dict | None = None) -> dict:
        body = await self.gql(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def post_typed(self, events: list[dict], expect: int = 201) -> dict:
        resp = await self.client.post("/api/events", json={"events": events})
        body = await resp.json()
        assert resp.status == expect, body
        return body

    async def post_sdk(self, events: list[dict], expect: int = 200) -> dict:
        resp = await self.client.post("/events", json={"events": events})
        body = await resp.json()
        assert resp.status == expect, body
        return body

    async def get(self, path: str, expect: int = 200, **params: Any) -> Any:
        resp = await self.client.get(path, params=params)
        body = await resp.json()
        assert resp.status == expect, body
        return body


ApiFactory = Callable[..., Awaitable[Api]]


@pytest.fixture
async def make_api(tmp_path: Path) -> AsyncIterator[ApiFactory]:
    clients: list[TestClient] = []

    async def make(**settings: Any) -> Api:
        settings.setdefault("database_url", f"sqlite:///{tmp_path}/lensgraph-{len(clients)}.db")
        settings.setdefault("rate_limits", False)  # on only where a test turns them on
        # The background jobs read and write the store on their own schedule; on only where a test turns them
        # on, so a test that counts store calls counts its own requests' calls alone.
        for job in ("anomaly_detection", "reports", "webhook_delivery"):
            settings.setdefault(job, False)
        config = Settings(**settings)
        store = CountingStore(store_for(config))  # the server's own store, with every sqlite_ setting
        client = TestClient(TestServer(create_app(config, store=store), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return Api(client, store)

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def api(make_api: ApiFactory) -> Api:
    return await make_api()


def typed(event_type: str, payload: dict, session: str = "s1", agent: str = "agent-1", **extra: Any) -> dict:
    """One event in the typed (seed 004) format."""
    return {"sessionId": session, "agentId": agent, "eventType": event_type, "payload": payload, **extra}


def pytest_report_header() -> str:
    # pytest reads this hook only from the root conftest: say which backends the contract suite covers.
    from tests.storage.conftest import contract_backends

    return contract_backends()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    used = servers_used()
    terminalreporter.write_line(
        "MongoDB servers this run used: " + ("; ".join(s.description for s in used) if used else "none")
    )

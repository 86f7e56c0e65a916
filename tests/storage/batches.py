"""Events for the MongoStore tests, and a gate that makes concurrent commits really race."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from storage.models import Event
from storage.mongo.store import MongoStore

P = "proj"
T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def ev(i: int, session: str = "s1", type_: str = "custom", **kw: Any) -> Event:
    return Event(
        project_id=kw.pop("project_id", P),
        id=kw.pop("id", f"{session}-e{i:04d}"),
        session_id=session,
        agent_id=kw.pop("agent_id", "agent"),
        type=type_,
        timestamp=T0 + timedelta(seconds=kw.pop("second", i)),
        received_at=T0,
        payload=kw.pop("payload", {"i": i, "text": f"Item number {i}", "nested": [{"k": f"v{i % 3}"}]}),
        **kw,
    )


def steps(session: str, first: int, n: int, word: str = "") -> list[Event]:
    """Events first..first+n-1 of a session, each payload's text naming its step (and word, to search for)."""
    return [
        ev(i, session, id=f"{session}-{i:04d}", payload={"text": f"step {i} {word}".strip()})
        for i in range(first, first + n)
    ]


def race(monkeypatch: pytest.MonkeyPatch, *stores: MongoStore) -> None:
    """Hold each store's first commit attempt, once it has read the current state, until all have read it.

    Every store then plans from the same state, so their commits must conflict: without this, one
    commit may simply finish before the other starts, and a test of the conflict path proves nothing.
    """
    barrier = asyncio.Barrier(len(stores))
    for store in stores:
        original = store.traces._prepare
        first = [True]

        async def gated(*args: Any, _original: Any = original, _first: list[bool] = first, **kwargs: Any) -> Any:
            prepared = await _original(*args, **kwargs)
            if _first[0]:
                _first[0] = False
                await barrier.wait()
            return prepared

        monkeypatch.setattr(store.traces, "_prepare", gated)

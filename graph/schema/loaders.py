"""Per-request DataLoaders: one grouped store call per batch, results in key order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from storage.contract import EventQuery, Page, PageResult, SessionQuery, Store
from storage.models import Agent, Event, Session

K = TypeVar("K", bound=Hashable)
Q = TypeVar("Q", bound=Hashable)


@dataclass(frozen=True, slots=True)
class ChildrenKey:
    """The events of one parent, filtered and paged: queries sharing (query, page) batch together."""

    parent_id: str
    query: Any
    page: Page


def _by_id(fetch: Callable[[Sequence[str]], Any]) -> Callable[[list[str]], Any]:
    async def load(ids: list[str]) -> list[Any]:
        found = {doc.id: doc for doc in await fetch(ids)}
        return [found.get(i) for i in ids]

    return load


def _grouped(fetch: Callable[[Sequence[str], Any, Page], Any]) -> Callable[[list[ChildrenKey]], Any]:
    async def load(keys: list[ChildrenKey]) -> list[PageResult[Any]]:
        groups: dict[tuple[Any, Page], list[str]] = defaultdict(list)
        for key in keys:
            groups[(key.query, key.page)].append(key.parent_id)
        results: dict[ChildrenKey, PageResult[Any]] = {}
        for (query, page), parent_ids in groups.items():
            found = await fetch(parent_ids, query, page)
            for parent_id in parent_ids:
                results[ChildrenKey(parent_id, query, page)] = found.get(
                    parent_id, PageResult([], 0, False)
                )
        return [results[k] for k in keys]

    return load


class Loaders:
    """Built fresh for every request (and per message on long-lived websockets)."""

    def __init__(self, store: Store, project_id: str, *, cache: bool = True) -> None:
        p = project_id
        self.session: DataLoader[str, Session | None] = DataLoader(
            _by_id(lambda ids: store.traces.sessions_by_ids(p, ids)), cache=cache
        )
        self.event: DataLoader[str, Event | None] = DataLoader(
            _by_id(lambda ids: store.traces.events_by_ids(p, ids)), cache=cache
        )
        self.agent: DataLoader[str, Agent | None] = DataLoader(
            _by_id(lambda ids: store.traces.agents_by_ids(p, ids)), cache=cache
        )
        self.session_events: DataLoader[ChildrenKey, PageResult[Event]] = DataLoader(
            _grouped(lambda ids, q, page: store.traces.events_for_sessions(p, ids, q, page)), cache=cache
        )
        self.agent_sessions: DataLoader[ChildrenKey, PageResult[Session]] = DataLoader(
            _grouped(lambda ids, q, page: store.traces.sessions_for_agents(p, ids, q, page)), cache=cache
        )
        self.calls: DataLoader[tuple[str, str], list[Event]] = DataLoader(self._calls(store, p), cache=cache)

    @staticmethod
    def _calls(store: Store, project_id: str) -> Callable[[list[tuple[str, str]]], Any]:
        async def load(keys: list[tuple[str, str]]) -> list[list[Event]]:
            found: dict[tuple[str, str], list[Event]] = defaultdict(list)
            for event in await store.traces.events_by_call_ids(project_id, keys):
                found[(event.session_id, event.call_id or "")].append(event)
            return [found.get(k, []) for k in keys]

        return load


__all__ = ["ChildrenKey", "EventQuery", "Loaders", "SessionQuery"]

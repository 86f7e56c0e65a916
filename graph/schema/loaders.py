"""Per-request DataLoaders: one grouped store call per batch, results in key order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from resolvers.core.services import Services
from resolvers.revenue import attribution
from storage.contract import EventQuery, Page, PageResult, SessionQuery, Store
from storage.models import Agent, Customer, Event, Goal, GoalType, Revenue, Session
from storage.models.records import EventView

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


@dataclass(frozen=True, slots=True)
class EarningsKey:
    """An agent's revenue against its cost over a range: agents asked about one range batch together."""

    agent_id: str
    since: Any = None
    until: Any = None


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
        # Views, not models: what GraphQL's Event shows, built from fewer columns (storage/models/records.py).
        self.session_events: DataLoader[ChildrenKey, PageResult[EventView]] = DataLoader(
            _grouped(lambda ids, q, page: store.traces.event_views_for_sessions(p, ids, q, page)), cache=cache
        )
        self.agent_sessions: DataLoader[ChildrenKey, PageResult[Session]] = DataLoader(
            _grouped(lambda ids, q, page: store.traces.sessions_for_agents(p, ids, q, page)), cache=cache
        )
        self.calls: DataLoader[tuple[str, str], list[Event]] = DataLoader(self._calls(store, p), cache=cache)
        # Revenue (seed 000): records by id, and totals per agent, session and customer, each one grouped call.
        self.customer: DataLoader[str, Customer | None] = DataLoader(
            _by_id(lambda ids: store.revenue.records_by_ids(Customer, p, ids)), cache=cache)
        self.goal: DataLoader[str, Goal | None] = DataLoader(
            _by_id(lambda ids: store.revenue.records_by_ids(Goal, p, ids)), cache=cache)
        self.goal_type: DataLoader[str, GoalType | None] = DataLoader(
            _by_id(lambda ids: store.revenue.records_by_ids(GoalType, p, ids)), cache=cache)
        self.goal_completions: DataLoader[str, int] = DataLoader(self._completions(store, p), cache=cache)
        self.agent_revenue: DataLoader[str, list[attribution.Total]] = DataLoader(
            self._totals(p, "agent_id"), cache=cache)
        self.customer_revenue: DataLoader[str, list[attribution.Total]] = DataLoader(
            self._totals(p, "customer_id"), cache=cache)
        self.session_revenue: DataLoader[str, list[attribution.Total]] = DataLoader(
            self._totals(p, "session_id"), cache=cache)
        # A customer's revenues, one page: keys (customer_id, first, offset), one call per page shape.
        self.customer_revenues: DataLoader[tuple[str, int, int], PageResult[Revenue]] = DataLoader(
            self._per_group(store, p, Revenue, "customer_id"), cache=cache)
        self._services: Services | None = None
        self.agent_earnings: DataLoader[EarningsKey, attribution.Earnings] = DataLoader(
            self._earnings(p), cache=cache)

    def clear(self) -> None:
        """Forget every cached answer. graphql-core's executor is a reference cycle (its bound methods),
        and it holds the context, so whatever the caches hold (a 1,000-event page: some 5,000 objects)
        would otherwise wait for a full garbage collection: 30-80 ms, every few large reads."""
        for value in vars(self).values():
            if isinstance(value, DataLoader):
                value.clear_all()
                if value.batch is not None and value.batch.dispatched:  # its tasks hold the answers too
                    value.batch = None

    def bind(self, services: Services) -> Loaders:
        """The services the loaders that run the analytics engine need (revenue totals, an agent's cost)."""
        self._services = services
        return self

    @staticmethod
    def _completions(store: Store, project_id: str) -> Callable[[list[str]], Any]:
        async def load(goal_ids: list[str]) -> list[int]:
            found = await store.revenue.outcome_counts(project_id, goal_ids)
            return [found.get(g, 0) for g in goal_ids]

        return load

    @staticmethod
    def _per_group(store: Store, project_id: str, kind: type[Any], field: str) -> Callable[[list[Any]], Any]:
        async def load(keys: list[tuple[str, int, int]]) -> list[PageResult[Any]]:
            shapes: dict[tuple[int, int], list[str]] = defaultdict(list)
            for value, first, offset in keys:
                shapes[(first, offset)].append(value)
            found: dict[tuple[str, int, int], PageResult[Any]] = {}
            for (first, offset), values in shapes.items():
                pages = await store.revenue.find_records_per_group(
                    kind, project_id, field, values, Page(limit=first, offset=offset))
                found.update(((v, first, offset), pages.get(v, PageResult([], 0, False))) for v in values)
            return [found[k] for k in keys]

        return load

    def _totals(self, project_id: str, field: str) -> Callable[[list[str]], Any]:
        async def load(ids: list[str]) -> list[list[attribution.Total]]:
            assert self._services is not None, "Loaders.bind(services) first"
            found = await attribution.revenue_of(self._services, project_id, field, ids)
            return [found.get(i, []) for i in ids]

        return load

    def _earnings(self, project_id: str) -> Callable[[list[EarningsKey]], Any]:
        async def load(keys: list[EarningsKey]) -> list[attribution.Earnings]:
            assert self._services is not None, "Loaders.bind(services) first"
            ranges: dict[tuple[Any, Any], list[str]] = defaultdict(list)
            for key in keys:
                ranges[(key.since, key.until)].append(key.agent_id)
            found: dict[EarningsKey, attribution.Earnings] = {}
            for (since, until), agent_ids in ranges.items():
                earned = await attribution.agent_earnings(self._services, project_id, agent_ids, since, until)
                found.update((EarningsKey(a, since, until), e) for a, e in earned.items())
            return [found[k] for k in keys]

        return load

    @staticmethod
    def _calls(store: Store, project_id: str) -> Callable[[list[tuple[str, str]]], Any]:
        async def load(keys: list[tuple[str, str]]) -> list[list[Event]]:
            found: dict[tuple[str, str], list[Event]] = defaultdict(list)
            for event in await store.traces.events_by_call_ids(project_id, keys):
                found[(event.session_id, event.call_id or "")].append(event)
            return [found.get(k, []) for k in keys]

        return load


__all__ = ["ChildrenKey", "EarningsKey", "EventQuery", "Loaders", "SessionQuery"]

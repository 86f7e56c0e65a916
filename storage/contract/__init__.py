"""The Store contract: one Protocol per domain, bundled as Store.

A backend is a Store whose attributes implement each domain's contract over
one shared connection; a new domain adds one attribute here and one module
per backend, and touches no other domain's code.
"""

from __future__ import annotations

from typing import Protocol

from storage.contract.analytics import AnalyticsStore
from storage.contract.anomalies import AnomalyQuery, AnomalyStore, RuleTriggers
from storage.contract.common import (
    CommitConflict,
    Conflict,
    Page,
    PageResult,
    SchemaTooNew,
    StoreBusy,
    StoreReadOnly,
    StoreUnavailable,
)
from storage.contract.counters import CounterStore
from storage.contract.experiments import ExperimentStore
from storage.contract.idempotency import IdempotencyStore
from storage.contract.live import Change, ChangeFeed
from storage.contract.projects import ProjectStore
from storage.contract.revenue import Created, RecordQuery, RevenueStore
from storage.contract.traces import (
    BatchPlan,
    Claim,
    CommitResult,
    EventKey,
    EventQuery,
    Planner,
    SessionKey,
    SessionQuery,
    TraceStore,
)
from storage.contract.webhooks import DeliveryQuery, WebhookStore


class Store(Protocol):
    # Read-only members, so a backend's own classes satisfy them (mutable protocol members are invariant).
    @property
    def traces(self) -> TraceStore: ...
    @property
    def projects(self) -> ProjectStore: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def counters(self) -> CounterStore: ...
    @property
    def live(self) -> ChangeFeed: ...
    @property
    def analytics(self) -> AnalyticsStore: ...
    @property
    def experiments(self) -> ExperimentStore: ...
    @property
    def revenue(self) -> RevenueStore: ...
    @property
    def anomalies(self) -> AnomalyStore: ...
    @property
    def webhooks(self) -> WebhookStore: ...

    async def start(self) -> None:
        """Connects, applies migrations, and refuses a database from a newer version (SchemaTooNew)."""
        ...

    async def check_writes(self) -> None:
        """Raises StoreUnavailable (StoreReadOnly while writes fail) if a write would fail now.

        Cheap while writes succeed: a backend may answer from the outcome of the last write,
        and only probe (and repair what it can) once one has failed.
        """
        ...

    async def close(self) -> None: ...


__all__ = [
    "AnalyticsStore",
    "AnomalyQuery",
    "AnomalyStore",
    "BatchPlan",
    "Change",
    "ChangeFeed",
    "Claim",
    "CommitConflict",
    "CommitResult",
    "Conflict",
    "CounterStore",
    "Created",
    "DeliveryQuery",
    "EventKey",
    "EventQuery",
    "ExperimentStore",
    "IdempotencyStore",
    "Page",
    "PageResult",
    "Planner",
    "ProjectStore",
    "RecordQuery",
    "RevenueStore",
    "RuleTriggers",
    "SchemaTooNew",
    "SessionKey",
    "SessionQuery",
    "Store",
    "StoreBusy",
    "StoreReadOnly",
    "StoreUnavailable",
    "TraceStore",
    "WebhookStore",
]

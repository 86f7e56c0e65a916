"""Persistence: documents, the Store contract and its backends."""

from storage.contract import (
    BatchPlan,
    CommitResult,
    EventQuery,
    Page,
    PageResult,
    Planner,
    SessionQuery,
    Store,
)
from storage.models import Agent, Event, Session, SessionStatus
from storage.open import open_store

__all__ = [
    "Agent",
    "BatchPlan",
    "CommitResult",
    "Event",
    "EventQuery",
    "Page",
    "PageResult",
    "Planner",
    "Session",
    "SessionQuery",
    "SessionStatus",
    "Store",
    "open_store",
]

"""Persistence: documents (models/), one contract per domain (contract/), and the SQLite and MongoDB backends."""

from storage.contract import (
    BatchPlan,
    Claim,
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
    "Agent", "BatchPlan", "Claim", "CommitResult", "Event", "EventQuery", "Page", "PageResult", "Planner",
    "Session", "SessionQuery", "SessionStatus", "Store", "open_store",
]

"""The ingest pipeline every surface calls: validate, seal, commit.

Live subscribers hear of a commit from the store's change feed, in commit
order, whichever process made it; ingest publishes nothing itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resolvers.core.auth import NO_PROJECT, Forbidden
from resolvers.core.bounds import json_problem
from resolvers.core.errors import InputError, Problem
from resolvers.core.idempotency import check_replay
from resolvers.core.ids import new_ids
from resolvers.core.metrics import BATCH_SIZE, EVENTS_DUPLICATE, EVENTS_INGESTED
from resolvers.core.services import Services
from resolvers.traces.event_types import to_event, validate_events
from resolvers.traces.planner import BatchPlanner, Lifecycle
from storage.contract import Claim, CommitResult
from storage.models import Event
from storage.timeutil import now_ms


@dataclass(slots=True)
class Incoming:
    """One event as a shim translated it from its wire format."""

    event: Event  # unsealed: seq and hashes are set in the store's transaction
    hint: Lifecycle | None = None


async def ingest(
    services: Services, project_id: str, items: Sequence[Incoming], claim: Claim | None = None, *,
    kind: str = "agent", documents_checked: bool = False,
) -> CommitResult:
    """Store a batch atomically (with its idempotency claim, if any).

    documents_checked: every event's payload and metadata is known storable already (a REST handler walked
    the request body they were taken from, integers included: graph/rest/http.py read_events_json), so they
    are not walked again here.

    Shielded: a caller that goes away mid-commit must not cut the commit short;
    its retry then finds the claim and gets the first answer.
    """
    if project_id == NO_PROJECT:
        raise Forbidden("an account key names no project to send events to: use the project's key or token")
    if not documents_checked:
        _check_documents(items)
    planner = BatchPlanner(project_id, {i.event.id: i.hint for i in items if i.hint is not None}, kind)
    commit = services.store.traces.commit_batch(project_id, [i.event for i in items], planner, claim)
    result = check_replay(await asyncio.shield(commit), claim)
    if not result.replayed:
        BATCH_SIZE.observe(len(items))
        EVENTS_INGESTED.labels(kind).inc(len(result.inserted))
        EVENTS_DUPLICATE.inc(len(items) - len(result.inserted))
    return result


def _check_documents(items: Sequence[Incoming]) -> None:
    """Every surface's events pass here: what no backend can store is refused before the transaction."""
    problems = [
        Problem(f"events[{index}].{name}", problem)
        for index, item in enumerate(items)
        for name in ("payload", "metadata")
        if (problem := json_problem(getattr(item.event, name))) is not None
    ]
    if problems:
        raise InputError(problems)


def typed_items(services: Services, project_id: str, raw_events: Any, *, prefix: str = "events") -> list[Incoming]:
    """The typed format (seed 004 and GraphQL), validated as a whole batch first."""
    validated = validate_events(raw_events, prefix=prefix, max_events=services.limits.max_batch_events)
    received = now_ms()
    ids = new_ids(len(validated))
    return [
        Incoming(*to_event(project_id, item, payload, doc, received, event_id))
        for (item, payload, doc), event_id in zip(validated, ids, strict=True)
    ]


async def ingest_typed(
    services: Services, project_id: str, raw_events: Any, *, prefix: str = "events", claim: Claim | None = None
) -> CommitResult:
    return await ingest(services, project_id, typed_items(services, project_id, raw_events, prefix=prefix), claim)

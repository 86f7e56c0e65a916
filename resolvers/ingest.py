"""The ingest pipeline every surface calls: validate, seal, commit, publish."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resolvers.event_types import to_event, validate_events
from resolvers.planner import BatchPlanner, Lifecycle
from resolvers.services import Services
from storage.contract import CommitResult
from storage.models import Event
from storage.timeutil import now_ms


@dataclass(slots=True)
class Incoming:
    """One event as a shim translated it from its wire format."""

    event: Event  # unsealed: seq and hashes are set in the store's transaction
    hint: Lifecycle | None = None


async def ingest(services: Services, project_id: str, items: Sequence[Incoming]) -> CommitResult:
    """Store a batch atomically; publish what was new once it is committed.

    Shielded: a caller that goes away mid-commit must not leave a committed
    batch unpublished.
    """
    return await asyncio.shield(_commit_and_publish(services, project_id, items))


async def _commit_and_publish(services: Services, project_id: str, items: Sequence[Incoming]) -> CommitResult:
    planner = BatchPlanner(project_id, {i.event.id: i.hint for i in items if i.hint is not None})
    result = await services.store.commit_batch(project_id, [i.event for i in items], planner)
    if result.inserted:  # no await since the commit: publish order is commit order
        services.bus.publish_batch(project_id, result.inserted, result.sessions)
    return result


async def ingest_typed(
    services: Services, project_id: str, raw_events: Any, *, prefix: str = "events"
) -> CommitResult:
    """The typed format (seed 004 and GraphQL): validate the whole batch first."""
    validated = validate_events(raw_events, prefix=prefix, max_events=services.limits.max_batch_events)
    received = now_ms()
    items = [Incoming(*to_event(project_id, item, payload, received)) for item, payload in validated]
    return await ingest(services, project_id, items)

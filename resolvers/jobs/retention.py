"""Retention: whole sessions older than their project's limit go, with their events and search entries.

Days count from a session's last event. Deletion runs in batches of at most
BATCH_EVENTS events, yielding between batches, so ingest is never held for
long; what is left of a chain always verifies, because sessions go whole.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from resolvers.core.errors import InputError, Problem
from resolvers.core.services import Services
from resolvers.jobs.loop import every_project, forever
from storage.models import Project
from storage.timeutil import now_ms

log = logging.getLogger(__name__)

BATCH_EVENTS = 2000
MAX_DAYS = 36_500


def check_days(days: int | None, field: str = "retentionDays") -> int | None:
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise InputError(Problem(field, f"must be between 1 and {MAX_DAYS} days, or null for the server's default"))
    return days


def in_force(project: Project, default_days: int | None) -> int | None:
    """The retention that applies to the project: its own, else the server's; None keeps everything."""
    return project.retention_days if project.retention_days is not None else default_days


async def apply_retention(services: Services, default_days: int | None, now: datetime | None = None) -> dict[str, int]:
    """Sessions deleted per project in one pass over every project."""
    now = now or now_ms()
    deleted: dict[str, int] = {}
    async for project in every_project(services):
        days = in_force(project, default_days)
        if days is None:
            continue
        cutoff = now - timedelta(days=days)
        while n := await services.store.traces.delete_sessions_before(project.id, cutoff, BATCH_EVENTS):
            deleted[project.id] = deleted.get(project.id, 0) + n
            await asyncio.sleep(0)  # let requests in between batches
    return deleted


async def _pass(services: Services, default_days: int | None) -> None:
    deleted = await apply_retention(services, default_days)
    if deleted:
        log.info("retention deleted %d sessions in %d projects", sum(deleted.values()), len(deleted))


async def retention_loop(services: Services, default_days: int | None, every_seconds: float) -> None:
    await forever(services, "retention", every_seconds, lambda: _pass(services, default_days))

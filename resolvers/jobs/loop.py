"""The shape every background job shares: once per interval, in the one process that claims the interval.

A run that fails is counted and logged, and the next interval runs again; jobs write with ids derived from
what they compute (or delete what is past a cutoff), so a rerun after a crash adds nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from resolvers.core.metrics import JOB_FAILURES, JOB_RUNS
from resolvers.core.services import Services
from resolvers.jobs.lease import claim_window
from storage.contract import Page, StoreUnavailable
from storage.models import Project

log = logging.getLogger(__name__)

PROJECTS_PAGE = 200
T = TypeVar("T")


async def every_project(services: Services) -> AsyncIterator[Project]:
    offset = 0
    while True:
        page = await services.store.projects.find_projects(Page(limit=PROJECTS_PAGE, offset=offset))
        for project in page.items:
            yield project
        if not page.has_more:
            return
        offset += PROJECTS_PAGE


async def run_claimed(services: Services, job: str, every_seconds: float, run: Callable[[], Awaitable[None]]) -> bool:
    """One run if this process claims the current interval; whether it ran."""
    if not await claim_window(services, job, every_seconds):
        return False
    JOB_RUNS.labels(job).inc()
    await run()
    return True


async def guarded(job: str, run: Awaitable[T]) -> T | None:
    """run's result; None when it failed, counted and logged (a down store as a warning, without a traceback:
    the requests say so too). The caller's loop goes on to its next round."""
    try:
        return await run
    except asyncio.CancelledError:
        raise
    except StoreUnavailable as exc:
        JOB_FAILURES.labels(job).inc()
        log.warning("%s skipped: %s", job, exc.for_log())
    except Exception:
        JOB_FAILURES.labels(job).inc()
        log.exception("%s failed", job)
    return None


async def forever(services: Services, job: str, every_seconds: float, run: Callable[[], Awaitable[None]]) -> None:
    while True:
        await guarded(job, run_claimed(services, job, every_seconds, run))
        await asyncio.sleep(every_seconds)

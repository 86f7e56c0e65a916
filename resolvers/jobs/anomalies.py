"""The anomaly detector as a background job: one pass per interval, in the one process that claims it."""

from __future__ import annotations

import logging
from datetime import datetime

from resolvers.anomalies.detector import Outcome, detect_project
from resolvers.core.services import Services
from resolvers.jobs.loop import every_project, forever
from storage.timeutil import now_ms

log = logging.getLogger(__name__)

JOB = "anomalies"


async def detect(services: Services, now: datetime | None = None) -> Outcome:
    """One pass over every project's enabled rules. A pass that fails half way leaves what it wrote, and the
    next one's deterministic ids add nothing twice."""
    now = now or now_ms()
    total = Outcome()
    async for project in every_project(services):
        one = await detect_project(services, project, now)
        total.detected += one.detected
        total.resolved += one.resolved
        total.skipped += one.skipped
    return total


async def _pass(services: Services) -> None:
    outcome = await detect(services)
    if outcome.detected or outcome.resolved:
        log.info("anomaly detection: %d detected, %d resolved", len(outcome.detected), len(outcome.resolved))


async def detector_loop(services: Services, every_seconds: float) -> None:
    await forever(services, JOB, every_seconds, lambda: _pass(services))

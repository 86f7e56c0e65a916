"""Scheduled reports as a background job: each project's last complete day and week, stored once."""

from __future__ import annotations

import logging
from datetime import datetime

from resolvers.anomalies import reports
from resolvers.anomalies.present import report_detail
from resolvers.core.services import Services
from resolvers.jobs.loop import every_project, forever
from resolvers.webhooks.service import announcement
from storage.models.anomalies import Report
from storage.timeutil import now_ms

log = logging.getLogger(__name__)

JOB = "reports"
REPORT_GENERATED = "report.generated"


async def generate(services: Services, now: datetime | None = None) -> list[Report]:
    """Every report that is due and not yet stored; the ones this pass stored."""
    now = now or now_ms()
    stored = []
    async for project in every_project(services):
        for period in await reports.due(services, project, now):
            report = await reports.build(services, project, period, now)
            # Announced in the report's own transaction, as anomalies are: both are stored or neither.
            announce = await announcement(services, project.id, REPORT_GENERATED, report.id,
                                          report_detail(report), now)
            report, new = await services.store.anomalies.insert_report(report, announce)
            if new:
                stored.append(report)
    return stored


async def _pass(services: Services) -> None:
    stored = await generate(services)
    if stored:
        log.info("reports: %d generated", len(stored))


async def reports_loop(services: Services, every_seconds: float) -> None:
    await forever(services, JOB, every_seconds, lambda: _pass(services))

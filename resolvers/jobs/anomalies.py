"""The anomaly detector as a background job: one pass per interval, in the one process that claims it."""

from __future__ import annotations

import asyncio
import logging

from resolvers.anomalies.detector import detect
from resolvers.core.metrics import JOB_FAILURES, JOB_RUNS
from resolvers.core.services import Services
from resolvers.jobs.lease import claim_window
from storage.contract import StoreUnavailable

log = logging.getLogger(__name__)

JOB = "anomalies"


async def run_once(services: Services, every_seconds: float) -> bool:
    """One pass if this process claims the current interval; whether it ran."""
    if not await claim_window(services, JOB, every_seconds):
        return False
    JOB_RUNS.labels(JOB).inc()
    outcome = await detect(services)
    if outcome.detected or outcome.resolved:
        log.info("anomaly detection: %d detected, %d resolved", len(outcome.detected), len(outcome.resolved))
    return True


async def detector_loop(services: Services, every_seconds: float) -> None:
    """Forever: once per interval. A pass that fails is counted and logged, and the next interval runs again;
    what it wrote stays, and its deterministic ids make the rerun add nothing twice."""
    while True:
        try:
            await run_once(services, every_seconds)
        except asyncio.CancelledError:
            raise
        except StoreUnavailable as exc:  # the store is down: the requests say so too; no traceback
            JOB_FAILURES.labels(JOB).inc()
            log.warning("anomaly detection skipped: %s", exc.for_log())
        except Exception:
            JOB_FAILURES.labels(JOB).inc()
            log.exception("anomaly detection failed")
        await asyncio.sleep(every_seconds)

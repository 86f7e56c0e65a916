"""The detector's webhooks: anomaly.detected and anomaly.resolved, each carrying the anomaly as the LENS API
shows it. Both are emitted before the write they announce, so a crash between the two re-emits on the next
pass, and the event ids (from the anomaly's derived id) make that a no-op: at least once, never twice."""

from __future__ import annotations

from datetime import datetime

from resolvers.anomalies.present import anomaly_detail
from resolvers.core.services import Services
from resolvers.webhooks.service import emit
from storage.models.anomalies import Anomaly

DETECTED, RESOLVED = "anomaly.detected", "anomaly.resolved"


async def detected(services: Services, anomaly: Anomaly, now: datetime) -> None:
    await emit(services, anomaly.project_id, DETECTED, anomaly.id, anomaly_detail(anomaly), now)


async def resolved(services: Services, anomaly: Anomaly, now: datetime) -> None:
    await emit(services, anomaly.project_id, RESOLVED, anomaly.id, anomaly_detail(anomaly), now)

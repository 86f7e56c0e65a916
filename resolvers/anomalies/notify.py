"""The detector's webhooks: anomaly.detected and anomaly.resolved, each carrying the anomaly as the LENS API
shows it. Each is built here and stored by the store with the write it announces, in the same transaction
(AnomalyStore.insert_anomaly, update_anomaly): a crash stores both or neither, so no event is lost and none
announces an anomaly that was not stored, or a resolution that lost its compare-and-set."""

from __future__ import annotations

from datetime import datetime

from resolvers.anomalies.present import anomaly_detail
from resolvers.core.services import Services
from resolvers.webhooks.service import announcement
from storage.models.anomalies import Anomaly
from storage.models.webhooks import Delivery

DETECTED, RESOLVED = "anomaly.detected", "anomaly.resolved"


async def detected(services: Services, anomaly: Anomaly, now: datetime) -> list[Delivery]:
    return await announcement(services, anomaly.project_id, DETECTED, anomaly.id, anomaly_detail(anomaly), now)


async def resolved(services: Services, anomaly: Anomaly, now: datetime) -> list[Delivery]:
    return await announcement(services, anomaly.project_id, RESOLVED, anomaly.id, anomaly_detail(anomaly), now)

"""anomalyDetected: each new anomaly of the caller's project, from the live bus, in every server process."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from graph.schema.anomalies.types import Anomaly, AnomalySeverity
from graph.schema.context import Context
from graph.schema.errors import overflow_error
from graph.schema.project_ref import ProjectRef, project_for
from resolvers.live.bus import SubscriberOverflow
from storage.models import anomalies as models


@strawberry.type
class AnomalySubscription:
    @strawberry.subscription(description="Each anomaly the detector raises in the project, as it is stored; "
                                         "severity keeps only those of the given severities.")
    async def anomaly_detected(
        self, info: Info[Context, None], project: ProjectRef = None, severity: list[AnomalySeverity] | None = None
    ) -> AsyncGenerator[Anomaly, None]:
        found = await project_for(info, project)
        wanted = None if severity is None else frozenset(s.value for s in severity)
        sub = await info.context.services.bus.subscribe_anomalies(found.id, wanted)
        try:
            async for doc in sub:
                assert isinstance(doc, models.Anomaly)  # the stream only takes anomalies
                yield Anomaly(doc=doc)
        except SubscriberOverflow as exc:
            yield overflow_error(exc)  # type: ignore[misc]  # graphql-core sends it as the last message's error
        finally:
            sub.close()

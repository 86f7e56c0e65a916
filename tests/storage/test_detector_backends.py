"""The detector on every backend: the same planted drop (tests/resolvers/test_detector.py) gives the same
anomaly, drill-down and recovery on SQLite and on MongoDB (SecantusDB replica set and standalone)."""

from __future__ import annotations

from datetime import timedelta

from resolvers.anomalies.ids import anomaly_id
from resolvers.core.services import Services
from resolvers.jobs.anomalies import detect
from resolvers.projects.service import ensure_default
from storage.contract import AnomalyQuery, Page
from storage.models.anomalies import AnomalyStatus, SegmentChange
from tests.resolvers.test_detector import NOW, RULE, D, P, plant


async def test_the_planted_drop_is_detected_alike_and_resolved_on_recovery(store) -> None:
    services = Services.build(store)
    await ensure_default(services, P)
    await plant(services, D - timedelta(days=1), 20, 20)
    await plant(services, D, 5, 18)

    (found,) = (await detect(services, NOW)).detected
    assert found.id == anomaly_id(P, RULE, D, D + timedelta(days=1))
    assert (found.metric.current_value, found.metric.baseline_value, found.metric.change_percentage) == (
        0.115, 0.2, -42.5)
    assert found.segments["device"] == {"mobile": SegmentChange(current=0.05, baseline=0.2, change=-75.0),
                                        "desktop": SegmentChange(current=0.18, baseline=0.2, change=-10.0)}
    assert found.segments["referrer_domain"]["bing.com"].change == -45.0
    assert (await detect(services, NOW + timedelta(minutes=30))).detected == []  # the same window: stored once

    await plant(services, D + timedelta(days=1), 20, 20)
    assert [a.id for a in (await detect(services, NOW + timedelta(days=1))).resolved] == [found.id]
    (stored,) = (await store.anomalies.find_anomalies(P, AnomalyQuery(), Page(limit=10))).items
    assert (stored.id, stored.status) == (found.id, AnomalyStatus.RESOLVED)

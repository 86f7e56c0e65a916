"""The detector's webhooks on the real SQLite store (tests/resolvers/test_detector.py's planted drop): stored in
the transaction that stores what they announce, so a fault keeps both or neither, a rerun stores no second
delivery, and a resolution that loses its compare-and-set announces nothing."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

import orjson
import pytest

from resolvers.anomalies.service import acknowledge
from resolvers.core.services import Services
from resolvers.jobs.anomalies import detect
from resolvers.webhooks import ids
from storage.contract import DeliveryQuery, Page
from storage.models.anomalies import AnomalyStatus
from storage.models.webhooks import Delivery, Webhook
from tests.resolvers.test_detector import NOW, D, P, anomalies, plant, services  # noqa: F401  (the fixture)

EVERY = Page(limit=100, offset=0)


async def subscribe(services: Services, id_: str = "wh_1") -> Webhook:  # noqa: F811
    hook = Webhook(project_id=P, id=id_, url=f"https://93.184.215.14/{id_}",
                   events=["anomaly.detected", "anomaly.resolved"], secret="whsec_test", created_at=NOW,
                   updated_at=NOW)
    assert await services.store.webhooks.create_webhook(hook, 10)
    return hook


async def deliveries(services: Services) -> list[Delivery]:  # noqa: F811
    return (await services.store.webhooks.find_deliveries(P, DeliveryQuery(), EVERY)).items


def refuse(services: Services, table: str | None) -> None:  # noqa: F811
    """A real fault in the store, set from another connection to the file: a trigger that makes SQLite refuse
    any new row of the table (None: drops it)."""
    conn = sqlite3.connect(services.store.path)  # type: ignore[attr-defined]
    try:
        conn.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'refused'); END"
                     if table else "DROP TRIGGER refuse")
    finally:
        conn.close()


# The anomaly's row is written first, its deliveries last: a fault at either stores neither.
@pytest.mark.parametrize("table", ["anomalies", "webhook_deliveries"])
async def test_a_fault_storing_the_anomaly_or_its_event_stores_neither_and_the_next_pass_both_once(
        services: Services, table: str) -> None:  # noqa: F811
    await subscribe(services)
    refuse(services, table)
    with pytest.raises(sqlite3.IntegrityError, match="refused"):
        await detect(services, NOW)
    assert await anomalies(services) == []
    assert await deliveries(services) == []  # nothing announces an anomaly that is not stored

    refuse(services, None)
    (found,) = (await detect(services, NOW + timedelta(minutes=5))).detected  # the next pass
    (sent,) = await deliveries(services)
    assert (sent.event, sent.event_id) == ("anomaly.detected", ids.event_id(P, "anomaly.detected", found.id))
    assert orjson.loads(sent.body)["data"]["id"] == found.id
    assert (await detect(services, NOW + timedelta(minutes=10))).detected == []  # the same window again
    assert [d.id for d in await deliveries(services)] == [sent.id]  # still one delivery


async def test_a_resolution_lost_to_an_acknowledgement_announces_nothing_until_it_wins(
        services: Services) -> None:  # noqa: F811
    await subscribe(services)
    (found,) = (await detect(services, NOW)).detected
    await plant(services, D + timedelta(days=1), 20, 20)  # the metric recovers
    (project,) = await services.store.projects.projects_by_ids([P])
    store = services.store.anomalies
    read = store.find_anomalies

    async def read_then_acknowledged(*args: Any, **kwargs: Any) -> Any:
        page = await read(*args, **kwargs)
        del store.find_anomalies  # once: between the detector's read and its compare-and-set
        await acknowledge(services, project, found.id, "ops@example.com", "on it")
        return page

    store.find_anomalies = read_then_acknowledged  # type: ignore[method-assign]
    assert (await detect(services, NOW + timedelta(days=1))).resolved == []  # its compare-and-set lost
    (stored,) = await anomalies(services)
    assert stored.status == AnomalyStatus.ACKNOWLEDGED
    assert [d.event for d in await deliveries(services)] == ["anomaly.detected"]  # no resolution announced

    (resolved,) = (await detect(services, NOW + timedelta(days=1, minutes=5))).resolved  # the next pass wins
    assert resolved.id == found.id
    (sent,) = [d for d in await deliveries(services) if d.event == "anomaly.resolved"]
    data = orjson.loads(sent.body)["data"]
    assert (data["id"], data["status"], data["acknowledged_by"]) == (found.id, "resolved", "ops@example.com")
    assert (await anomalies(services))[0].status == AnomalyStatus.RESOLVED


async def test_an_anomaly_already_stored_is_not_announced_again(services: Services) -> None:  # noqa: F811
    assert len((await detect(services, NOW)).detected) == 1  # before any endpoint existed
    await subscribe(services)
    assert (await detect(services, NOW + timedelta(minutes=5))).detected == []  # the same window
    assert await deliveries(services) == []  # the new endpoint is not sent an old anomaly


async def test_each_endpoint_gets_the_event_once_and_a_disabled_one_none(services: Services) -> None:  # noqa: F811
    await subscribe(services, "wh_1")
    await subscribe(services, "wh_2")
    off = await subscribe(services, "wh_3")
    assert await services.store.webhooks.update_webhook(off.model_copy(update={"enabled": False}))
    (found,) = (await detect(services, NOW)).detected
    stored = await deliveries(services)
    assert sorted(d.webhook_id for d in stored) == ["wh_1", "wh_2"]
    assert {d.event_id for d in stored} == {ids.event_id(P, "anomaly.detected", found.id)}
    assert {d.id for d in stored} == {ids.delivery_id(P, w, stored[0].event_id) for w in ("wh_1", "wh_2")}

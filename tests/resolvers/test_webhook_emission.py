"""The detector's webhooks on the real SQLite store (tests/resolvers/test_detector.py's planted drop): emitted
before the anomaly is stored, so a crash between the two loses nothing and the rerun stores no second delivery."""

from __future__ import annotations

from datetime import timedelta

import pytest

from resolvers.core.services import Services
from resolvers.jobs.anomalies import detect
from resolvers.webhooks import ids
from storage.contract import DeliveryQuery, Page, StoreUnavailable
from storage.models.webhooks import Delivery, Webhook
from tests.resolvers.test_detector import NOW, P, anomalies, services  # noqa: F401  (the fixture)

EVERY = Page(limit=100, offset=0)


async def subscribe(services: Services, id_: str = "wh_1") -> Webhook:  # noqa: F811
    hook = Webhook(project_id=P, id=id_, url=f"https://93.184.215.14/{id_}",
                   events=["anomaly.detected", "anomaly.resolved"], secret="whsec_test", created_at=NOW,
                   updated_at=NOW)
    assert await services.store.webhooks.create_webhook(hook, 10)
    return hook


async def deliveries(services: Services) -> list[Delivery]:  # noqa: F811
    return (await services.store.webhooks.find_deliveries(P, DeliveryQuery(), EVERY)).items


async def test_a_crash_between_the_event_and_the_anomaly_loses_nothing_and_sends_once(
        services: Services) -> None:  # noqa: F811
    await subscribe(services)
    domain = services.store.anomalies

    async def crash(*args: object, **kwargs: object) -> None:
        raise StoreUnavailable("the disk went away")

    domain.insert_anomaly = crash  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailable):
        await detect(services, NOW)
    del domain.insert_anomaly
    (pending,) = await deliveries(services)  # the event is queued, the anomaly is not stored yet
    assert await anomalies(services) == []

    (found,) = (await detect(services, NOW + timedelta(minutes=5))).detected  # the next pass
    assert pending.event_id == ids.event_id(P, "anomaly.detected", found.id)
    assert [d.id for d in await deliveries(services)] == [pending.id]  # still one delivery


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

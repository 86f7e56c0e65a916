"""The webhooks contract: the same answers on SQLite and on the MongoDB wire servers (tests/storage/conftest.py's
`store`): endpoints per project, deliveries stored once per id, and the sender's lease (compare and set)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage.contract import DeliveryQuery, Page
from storage.models.webhooks import Attempt, Delivery, DeliveryStatus, Webhook

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
P, OTHER = "proj", "other"


def hook(id_: str, project: str = P, minute: int = 0, **kw) -> Webhook:
    at = T0 + timedelta(minutes=minute)
    return Webhook(project_id=project, id=id_, url=kw.pop("url", f"https://hooks.example.com/{id_}"),
                   events=kw.pop("events", ["anomaly.detected"]), secret=f"whsec_{id_}", created_at=at,
                   updated_at=at, **kw)


def delivery(id_: str, project: str = P, minute: int = 0, webhook: str = "wh_1", **kw) -> Delivery:
    at = T0 + timedelta(minutes=minute)
    return Delivery(project_id=project, id=id_, webhook_id=webhook, event="anomaly.detected",
                    event_id=kw.pop("event_id", f"evt_{id_}"), body='{"id":"evt"}',
                    next_attempt_at=kw.pop("next_attempt_at", at), created_at=at, **kw)


async def test_endpoints_are_created_listed_updated_and_deleted_per_project(store) -> None:
    assert await store.webhooks.create_webhook(hook("wh_2", minute=2), 3)
    assert await store.webhooks.create_webhook(hook("wh_1", minute=1, description="pager"), 3)
    assert await store.webhooks.create_webhook(hook("wh_1", project=OTHER), 3)
    assert [w.id for w in await store.webhooks.list_webhooks(P)] == ["wh_1", "wh_2"]
    found = await store.webhooks.webhook_by_id(P, "wh_1")
    assert found == hook("wh_1", minute=1, description="pager")
    assert await store.webhooks.webhook_by_id(P, "wh_9") is None

    changed = found.model_copy(update={"enabled": False, "events": ["anomaly.resolved", "report.generated"]})
    assert await store.webhooks.update_webhook(changed)
    assert await store.webhooks.webhook_by_id(P, "wh_1") == changed
    assert not await store.webhooks.update_webhook(hook("wh_9"))

    await store.webhooks.insert_deliveries([delivery("d1", webhook="wh_1"), delivery("d2", webhook="wh_2")])
    assert await store.webhooks.delete_webhook(P, "wh_1")
    assert not await store.webhooks.delete_webhook(P, "wh_1")
    assert [w.id for w in await store.webhooks.list_webhooks(P)] == ["wh_2"]
    assert [w.id for w in await store.webhooks.list_webhooks(OTHER)] == ["wh_1"]  # the other project's stays
    left = await store.webhooks.find_deliveries(P, DeliveryQuery(), Page(limit=10, offset=0))
    assert [d.id for d in left.items] == ["d2"]  # the endpoint's deliveries went with it


async def test_a_project_holds_at_most_its_limit_of_endpoints(store) -> None:
    assert await store.webhooks.create_webhook(hook("wh_1"), 2)
    assert await store.webhooks.create_webhook(hook("wh_2"), 2)
    assert not await store.webhooks.create_webhook(hook("wh_3"), 2)
    assert await store.webhooks.create_webhook(hook("wh_3", project=OTHER), 2)
    assert [w.id for w in await store.webhooks.list_webhooks(P)] == ["wh_1", "wh_2"]


async def test_creations_racing_for_the_last_endpoints_never_pass_the_limit(store) -> None:
    for project in ("race1", "race2", "race3"):  # a count-then-insert let 4-8 of 8 in, on every MongoDB round
        racing = await asyncio.gather(*(store.webhooks.create_webhook(hook(f"wh_{i}", project, minute=i), 3)
                                        for i in range(8)))
        assert sorted(racing) == [False] * 5 + [True] * 3, project
        assert len(await store.webhooks.list_webhooks(project)) == 3

    (first, *_) = await store.webhooks.list_webhooks("race1")
    assert await store.webhooks.delete_webhook("race1", first.id)  # a deleted endpoint frees its place
    assert await store.webhooks.create_webhook(hook("wh_b", "race1", minute=30), 3)
    assert not await store.webhooks.create_webhook(hook("wh_c", "race1", minute=31), 3)
    changed = hook("wh_b", "race1", minute=30, url="https://hooks.example.com/changed")
    assert await store.webhooks.update_webhook(changed)  # a change keeps the endpoint's place
    assert not await store.webhooks.create_webhook(hook("wh_c", "race1", minute=31), 3)
    assert await store.webhooks.webhook_by_id("race1", "wh_b") == changed


async def test_deliveries_are_stored_once_per_id_and_listed_newest_first(store) -> None:
    assert await store.webhooks.insert_deliveries([delivery("d1", minute=1), delivery("d2", minute=2)]) == 2
    again = delivery("d1", minute=5).model_copy(update={"body": '{"changed":true}'})
    assert await store.webhooks.insert_deliveries([again, delivery("d3", minute=3, webhook="wh_2")]) == 1
    assert await store.webhooks.insert_deliveries([again]) == 0
    assert (await store.webhooks.delivery_by_id(P, "d1")) == delivery("d1", minute=1)  # the first one stays
    assert await store.webhooks.delivery_by_id(OTHER, "d1") is None

    page = await store.webhooks.find_deliveries(P, DeliveryQuery(), Page(limit=2, offset=0))
    assert ([d.id for d in page.items], page.total, page.has_more) == (["d3", "d2"], 3, True)
    by_hook = await store.webhooks.find_deliveries(P, DeliveryQuery(webhook_id="wh_2"), Page(limit=10, offset=0))
    assert [d.id for d in by_hook.items] == ["d3"]
    by_event = await store.webhooks.find_deliveries(P, DeliveryQuery(event_id="evt_d2"), Page(limit=10, offset=0))
    assert [d.id for d in by_event.items] == ["d2"]
    none = await store.webhooks.find_deliveries(P, DeliveryQuery(statuses=("delivered",)), Page(limit=10, offset=0))
    assert (none.items, none.total) == ([], 0)


async def test_a_claim_leases_due_deliveries_once_and_a_lost_lease_writes_nothing(store) -> None:
    now = T0 + timedelta(minutes=10)
    await store.webhooks.insert_deliveries([
        delivery("late", minute=1), delivery("early", minute=0), delivery("other", project=OTHER, minute=2),
        delivery("future", minute=20),
        delivery("done", minute=0, status=DeliveryStatus.DELIVERED),
    ])
    lease = now + timedelta(seconds=30)
    first = await store.webhooks.claim_due(now, "a", lease, 2)
    assert [(d.id, d.lease_owner, d.locked_until) for d in first] == [("early", "a", lease), ("late", "a", lease)]
    second = await store.webhooks.claim_due(now, "b", lease, 10)
    assert [d.id for d in second] == ["other"]  # any project; never what "a" holds, nor future or delivered ones
    assert await store.webhooks.claim_due(now, "c", lease, 10) == []

    # "a" finishes one: the attempt is written and the lease released.
    early = first[0]
    tried = early.model_copy(update={
        "attempts": [Attempt(at=now, status_code=500, error="HTTP 500", duration_ms=12)],
        "next_attempt_at": now + timedelta(seconds=30)})
    assert await store.webhooks.finish_attempt(tried, "a")
    stored = await store.webhooks.delivery_by_id(P, "early")
    assert (stored.attempts, stored.lease_owner, stored.locked_until) == (tried.attempts, None, None)
    assert stored.last_status_code == 500 and stored.last_error == "HTTP 500"

    # "a" stalls past its lease on "late": "c" takes it over, and then "a"'s late write is refused.
    after = lease + timedelta(seconds=1)
    (taken,) = [d for d in await store.webhooks.claim_due(after, "c", after + timedelta(seconds=30), 10)
                if d.id == "late"] or [None]
    assert taken is not None and taken.lease_owner == "c"
    stale = first[1].model_copy(update={"status": DeliveryStatus.DELIVERED, "delivered_at": after})
    assert not await store.webhooks.finish_attempt(stale, "a")
    assert (await store.webhooks.delivery_by_id(P, "late")).status == DeliveryStatus.PENDING
    delivered = taken.model_copy(update={"status": DeliveryStatus.DELIVERED, "delivered_at": after})
    assert await store.webhooks.finish_attempt(delivered, "c")
    assert (await store.webhooks.delivery_by_id(P, "late")).status == DeliveryStatus.DELIVERED
    # and it is due no more
    assert "late" not in [d.id for d in await store.webhooks.claim_due(after + timedelta(hours=1), "d",
                                                                       after + timedelta(hours=2), 10)]


async def test_concurrent_claims_never_share_a_delivery(store) -> None:
    await store.webhooks.insert_deliveries([delivery(f"d{i:02}", minute=i % 5) for i in range(30)])
    now = T0 + timedelta(minutes=10)
    lease = now + timedelta(minutes=1)
    claims = await asyncio.gather(*(store.webhooks.claim_due(now, f"s{i}", lease, 4) for i in range(10)))
    ids = [d.id for c in claims for d in c]
    assert len(ids) == len(set(ids)) == 30


async def test_a_requeue_is_compare_and_set_on_the_status(store) -> None:
    failed = delivery("d1", status=DeliveryStatus.FAILED,
                      attempts=[Attempt(at=T0, status_code=500, error="HTTP 500")])
    await store.webhooks.insert_deliveries([failed])
    later = T0 + timedelta(hours=1)
    again = failed.model_copy(update={"status": DeliveryStatus.PENDING, "next_attempt_at": later,
                                      "requeued_at": later})
    assert not await store.webhooks.requeue_delivery(again, DeliveryStatus.DELIVERED)  # not what is stored
    assert (await store.webhooks.delivery_by_id(P, "d1")).status == DeliveryStatus.FAILED
    assert await store.webhooks.requeue_delivery(again, DeliveryStatus.FAILED)
    stored = await store.webhooks.delivery_by_id(P, "d1")
    assert stored == again and stored.attempts_since_requeue == 0
    assert [d.id for d in await store.webhooks.claim_due(later, "a", later + timedelta(seconds=30), 10)] == ["d1"]
    assert not await store.webhooks.requeue_delivery(again, DeliveryStatus.FAILED)  # pending now

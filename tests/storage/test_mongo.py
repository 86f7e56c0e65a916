"""MongoStore beyond the shared contract: configuration, start-up, indexes, migrations.

On SecantusDB (replica set and --standalone) and, when LENSGRAPH_TEST_MONGODB_URL
is set, a real MongoDB. Writes, live events and parity with SQLite have their
own modules (test_mongo_writes.py, test_mongo_live.py, test_mongo_parity.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import ServerSelectionTimeoutError

from resolvers.traces.chain import verify
from resolvers.traces.planner import BatchPlanner
from storage.contract import SchemaTooNew, StoreUnavailable
from storage.models.webhooks import Webhook
from storage.mongo.client import SERVER_SELECTION_MS
from storage.mongo.layout import (
    ANOMALIES,
    ANOMALY_RULES,
    CUSTOMERS,
    DELIVERIES,
    EVENTS,
    GOAL_TYPES,
    GOALS,
    INDEXES,
    META,
    OUTCOMES,
    QUESTION_USAGE,
    REPORTS,
    REVENUES,
    SCHEMA_VERSION,
    WEBHOOKS,
)
from storage.mongo.store import MongoStore
from tests.mongo_server import MongoServer, OpenStore, new_database_name
from tests.storage.batches import P, ev

# -- configuration and start-up ------------------------------------------------


def test_database_name_from_url_then_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LENSGRAPH_MONGODB_DB", raising=False)
    assert MongoStore("mongodb://h:27017/analytics?replicaSet=rs0").database_name == "analytics"
    assert MongoStore("mongodb://h:27017/?replicaSet=rs0").database_name == "lensgraph"
    monkeypatch.setenv("LENSGRAPH_MONGODB_DB", "from_env")
    assert MongoStore("mongodb://h:27017").database_name == "from_env"
    assert MongoStore("mongodb+srv://u:p@cluster.example.net/in_url").database_name == "in_url"


async def test_unreachable_server_fails_fast_naming_the_host_not_the_password() -> None:
    store = MongoStore("mongodb://user:secret@127.0.0.1:1/db?serverSelectionTimeoutMS=500")
    with pytest.raises(StoreUnavailable) as caught:
        await store.start()
    message = str(caught.value)
    assert message.startswith("MongoDB unavailable at 127.0.0.1:1 (database 'db'): ")
    assert "secret" not in message and "\n" not in message
    # Fast by construction: the failure is server selection giving up, bounded by the URL's 0.5 s.
    assert isinstance(caught.value.__cause__, ServerSelectionTimeoutError)
    assert store.mongo.client is not None and store.mongo.client.options.server_selection_timeout == 0.5


async def test_without_a_url_timeout_server_selection_is_bounded(
    mongo_server: MongoServer, open_mongo: OpenStore
) -> None:
    store = await open_mongo(mongo_server)
    assert store.mongo.client.options.server_selection_timeout == SERVER_SELECTION_MS / 1000


async def test_malformed_url_is_reported_without_the_password() -> None:
    with pytest.raises(StoreUnavailable) as caught:
        await MongoStore("mongodb://user:pa@ssw0rd@db.example.net/x").start()
    assert "db.example.net" in str(caught.value) and "ssw0rd" not in str(caught.value)


async def test_topology_is_read_from_the_server(mongo_server: MongoServer, open_mongo: OpenStore) -> None:
    store = await open_mongo(mongo_server)
    assert store.replicated is {"mongodb-replset": True, "mongodb-standalone": False}.get(
        mongo_server.name, mongo_server.replicated
    )


# -- indexes -------------------------------------------------------------------------


async def test_indexes_are_created_idempotently(mongo_server: MongoServer, open_mongo: OpenStore) -> None:
    first = await open_mongo(mongo_server)
    await first.start()  # a second start of the same process
    await open_mongo(mongo_server, first.database_name)  # another replica booting on the same database
    async with AsyncMongoClient(mongo_server.base_url) as client:  # what the server itself holds
        db = client.get_database(first.database_name)
        for collection, models in INDEXES.items():
            info = await db[collection].index_information()
            assert set(info) == {"_id_", *(m.document["name"] for m in models)}, collection
            for model in models:
                wanted = model.document
                found = info[wanted["name"]]
                assert found["key"] == list(wanted["key"].items()), wanted["name"]
                for option in ("unique", "partialFilterExpression", "expireAfterSeconds"):
                    assert found.get(option) == wanted.get(option), (wanted["name"], option)
        chain = (await db[EVENTS].index_information())["events_by_chain"]
    assert chain["key"] == [("project_id", 1), ("session_id", 1), ("seq", 1)] and chain["unique"] is True


# -- migrations ------------------------------------------------------------------------


async def test_a_layout_5_database_gains_the_revenue_collections_and_their_indexes(
    mongo_server: MongoServer, open_mongo: OpenStore
) -> None:
    old = await open_mongo(mongo_server)
    await old.traces.commit_batch(P, [ev(i) for i in range(2)], BatchPlanner(P))
    for name in (CUSTOMERS, GOAL_TYPES, GOALS, OUTCOMES, REVENUES):
        await old.mongo.db.drop_collection(name)  # layout 5 had none of them
    await old.mongo.db[META].update_one({"_id": "schema"}, {"$set": {"version": 5}})

    upgraded = await open_mongo(mongo_server, old.database_name)
    assert await upgraded.mongo.db[META].find_one({"_id": "schema"}) == {"_id": "schema", "version": SCHEMA_VERSION}
    indexes = await upgraded.mongo.db[REVENUES].index_information()
    assert indexes["revenues_by_agent"]["key"] == [
        ("project_id", 1), ("agent_id", 1), ("recorded_at", 1), ("currency", 1), ("amount_nanos", 1)]
    assert len(await upgraded.traces.session_chain(P, "s1")) == 2  # the data from before is still there


async def test_a_layout_6_database_gains_the_anomaly_collections_and_their_indexes(
    mongo_server: MongoServer, open_mongo: OpenStore
) -> None:
    old = await open_mongo(mongo_server)
    await old.traces.commit_batch(P, [ev(i) for i in range(2)], BatchPlanner(P))
    for name in (ANOMALY_RULES, ANOMALIES, REPORTS, QUESTION_USAGE):
        await old.mongo.db.drop_collection(name)  # layout 6 had none of them
    await old.mongo.db[META].update_one({"_id": "schema"}, {"$set": {"version": 6}})

    upgraded = await open_mongo(mongo_server, old.database_name)
    assert await upgraded.mongo.db[META].find_one({"_id": "schema"}) == {"_id": "schema", "version": SCHEMA_VERSION}
    indexes = await upgraded.mongo.db[ANOMALIES].index_information()
    assert indexes["anomalies_by_detected"]["key"] == [("project_id", 1), ("detected_at", 1), ("id", 1)]
    assert await upgraded.anomalies.count_question(P, "2026-04-01", "ann") == 1
    assert len(await upgraded.traces.session_chain(P, "s1")) == 2  # the data from before is still there


async def test_a_layout_7_database_gains_the_webhook_collections_and_their_indexes(
    mongo_server: MongoServer, open_mongo: OpenStore
) -> None:
    old = await open_mongo(mongo_server)
    await old.traces.commit_batch(P, [ev(i) for i in range(2)], BatchPlanner(P))
    for name in (WEBHOOKS, DELIVERIES):
        await old.mongo.db.drop_collection(name)  # layout 7 had neither
    await old.mongo.db[META].update_one({"_id": "schema"}, {"$set": {"version": 7}})

    upgraded = await open_mongo(mongo_server, old.database_name)
    assert await upgraded.mongo.db[META].find_one({"_id": "schema"}) == {"_id": "schema", "version": SCHEMA_VERSION}
    indexes = await upgraded.mongo.db[DELIVERIES].index_information()
    assert indexes["deliveries_due"]["key"] == [("status", 1), ("next_attempt_at", 1)]
    assert await upgraded.webhooks.list_webhooks(P) == []
    assert len(await upgraded.traces.session_chain(P, "s1")) == 2


async def test_a_layout_8_database_numbers_its_webhook_endpoints_and_keeps_their_limit(
    mongo_server: MongoServer, open_mongo: OpenStore
) -> None:
    old = await open_mongo(mongo_server)
    at = datetime(2026, 4, 1, tzinfo=UTC)
    for i, project in ((2, P), (0, P), (1, P), (0, "other")):  # created out of id order
        hook = Webhook(project_id=project, id=f"wh_{i}", url=f"https://hooks.example.com/{i}",
                       events=["anomaly.detected"], secret="whsec_x", updated_at=at,
                       created_at=at + timedelta(minutes=len(project) + i))
        assert await old.webhooks.create_webhook(hook, 10)
    # Layout 8 had no slots and no index on them.
    await old.mongo.db[WEBHOOKS].drop_index("webhooks_by_slot")
    await old.mongo.db[WEBHOOKS].update_many({}, {"$unset": {"slot": ""}})
    await old.mongo.db[META].update_one({"_id": "schema"}, {"$set": {"version": 8}})

    upgraded = await open_mongo(mongo_server, old.database_name)
    assert await upgraded.mongo.db[META].find_one({"_id": "schema"}) == {"_id": "schema", "version": SCHEMA_VERSION}
    docs = await upgraded.mongo.db[WEBHOOKS].find({}, {"_id": 0, "project_id": 1, "id": 1, "slot": 1}).sort(
        [("project_id", 1), ("slot", 1)]).to_list(None)
    assert [(d["project_id"], d["slot"], d["id"]) for d in docs] == [
        ("other", 0, "wh_0"), (P, 0, "wh_0"), (P, 1, "wh_1"), (P, 2, "wh_2")]  # in creation order per project
    assert (await upgraded.mongo.db[WEBHOOKS].index_information())["webhooks_by_slot"]["unique"] is True
    extra = Webhook(project_id=P, id="wh_9", url="https://hooks.example.com/9", events=["anomaly.detected"],
                    secret="whsec_x", created_at=at, updated_at=at)
    assert not await upgraded.webhooks.create_webhook(extra, 3)  # the three from before hold the limit
    assert await upgraded.webhooks.create_webhook(extra, 4)
    assert [w.id for w in await upgraded.webhooks.list_webhooks(P)] == ["wh_9", "wh_0", "wh_1", "wh_2"]


async def test_a_version_1_database_opens_and_is_recorded_as_version_3(
    mongo_server: MongoServer, open_mongo: OpenStore
) -> None:
    # Version 1 is today's layout without the version document and without the product fields:
    # write data, then take those away as the old code never wrote them.
    old = await open_mongo(mongo_server)
    await old.traces.commit_batch(P, [ev(i) for i in range(3)], BatchPlanner(P))
    tracked = ev(0, session="visitor")
    tracked.agent_id, tracked.metadata = "user-7", {"source": "tracker"}
    await old.traces.commit_batch(P, [tracked], BatchPlanner(P))
    await old.mongo.db.drop_collection(META)
    await old.mongo.db[EVENTS].update_many({}, {"$unset": {"kind": "", "user_id": ""}})
    assert await old.mongo.db[META].find_one({"_id": "schema"}) is None

    upgraded = await open_mongo(mongo_server, old.database_name)
    assert await upgraded.mongo.db[META].find_one({"_id": "schema"}) == {"_id": "schema", "version": SCHEMA_VERSION}
    assert SCHEMA_VERSION == 9
    (moved,) = await upgraded.traces.session_chain(P, "visitor")
    assert (moved.kind, moved.user_id, moved.agent_id) == ("tracker", "user-7", None)
    kinds = {e.kind for e in await upgraded.traces.session_chain(P, "s1")}
    assert kinds == {"agent"}
    chain = await upgraded.traces.session_chain(P, "s1")
    assert [e.id for e in chain] == ["s1-e0000", "s1-e0001", "s1-e0002"] and verify(chain)
    more = await upgraded.traces.commit_batch(P, [ev(3)], BatchPlanner(P))
    assert [(e.seq, e.position) for e in more.inserted] == [(4, 5)]  # positions 1-4 taken, visitor one of them


async def test_a_database_from_a_newer_version_is_refused(mongo_server: MongoServer, open_mongo: OpenStore) -> None:
    name = new_database_name()
    async with AsyncMongoClient(mongo_server.base_url) as client:
        await client.get_database(name)[META].insert_one({"_id": "schema", "version": 99})
    with pytest.raises(SchemaTooNew) as caught:
        await open_mongo(mongo_server, name)
    message = str(caught.value)
    assert "\n" not in message
    assert message == (
        f"MongoDB database {name!r} at {MongoStore(mongo_server.url(name)).hosts} has schema version 99, newer than "
        f"this LensGraph's {SCHEMA_VERSION}: upgrade LensGraph"
    )
    async with AsyncMongoClient(mongo_server.base_url) as client:
        db = client.get_database(name)
        # Refused before touching anything: no index built, the version left as found.
        assert await db.list_collection_names() == [META]
        assert await db[META].find_one({"_id": "schema"}) == {"_id": "schema", "version": 99}

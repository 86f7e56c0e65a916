"""The fast read paths answer exactly what the model-based paths answered, byte for byte.

REST: GET /api/sessions/{id}/timeline, GET /api/events and GET /sessions/{id} (seed 002) render
records straight from rows (storage/models/records.py). Each answer here is compared with one built
the way those handlers built it before: Event models from the store, the renderers as they were
(copied below, frozen), orjson as json_response calls it.
GraphQL: fields the executor reads itself (graph/schema/fast_fields.py) against graphql-core's own
path for every field, on the same data, errors included; a session's events built from EventViews
against the same built from Event models, as they were.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest
import strawberry
from hypothesis import given, settings
from hypothesis import strategies as st

import graph.schema.connection as connection
import graph.schema.execution as execution
import graph.schema.traces.types as traces_types
from graph.rest.http import json_body
from graph.schema.fast_fields import SLOW_PLAN
from resolvers.traces.chain import verify
from resolvers.traces.reads import LIFECYCLE_TYPES
from storage.contract import EventQuery, Page
from storage.models import Event
from storage.timeutil import iso_ms, utc_ms
from tests.conftest import Api, typed
from tests.graph.test_agentlens_reads import RUN_A, RUN_B
from tests.graph.test_graphql import seed_trace
from tests.payloads import VALID

ODD = [
    {"text": "héllo wörld ✓ 日本語 \U0001f600", "quote": "\"'\\/\n\t\u2028"},
    {"nested": {"a": [1, 2.5, None, {"b": [True, False, {}]}], "z": {"y": {"x": "deep"}}}, "empty": {}},
    {"big": 2**53 + 1, "neg": -(2**62), "small": 1e-300, "huge": 1.7976931348623157e308, "float": 0.1},
    {"nulls": None, "list": [None, None], "": "empty key", "unicode_key_é": 1},
    {"input_data": {"prompt": "p"}, "output_data": "o", "tool_call": {"name": "t"}, "decision_trace": [1]},
]


def v004_event(e: Event) -> dict[str, Any]:
    """graph/rest/agentlens_server/handlers.py's event_json before records, on the model."""
    return {"id": e.id, "timestamp": iso_ms(e.timestamp), "sessionId": e.session_id, "agentId": e.agent_id,
            "eventType": e.type, "severity": e.severity, "payload": e.payload, "metadata": e.metadata,
            "prevHash": e.prev_hash, "hash": e.hash}


def v002_event(e: Event) -> dict[str, Any]:
    """graph/rest/agentlens/reads.py's event_json before records, on the model."""
    return {"event_id": e.id, "session_id": e.session_id, "event_type": e.type, "timestamp": iso_ms(e.timestamp),
            "model": e.model, "tokens_in": e.tokens_in, "tokens_out": e.tokens_out, "duration_ms": e.duration_ms,
            "input_data": e.payload.get("input_data"), "output_data": e.payload.get("output_data"),
            "tool_call": e.payload.get("tool_call"), "decision_trace": e.payload.get("decision_trace")}


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


async def raw(api: Api, path: str, **params: Any) -> bytes:
    resp = await api.client.get(path, params=params)
    assert resp.status == 200, await resp.text()
    return await resp.read()


@pytest.fixture
async def loaded(api: Api) -> Api:
    await seed_trace(api)
    # Odd payloads and metadata, several events in one millisecond (ordered by seq), tracked-style actors.
    await api.post_typed([typed("custom", {"type": "odd", "data": p}, session="odd", metadata={"m": p, "i": i},
                                timestamp="2026-05-01T10:00:00.123Z" if i < 3 else f"2026-05-01T10:00:0{i}.5Z")
                          for i, p in enumerate(ODD)])
    await api.post_typed([typed("session_started", {"agentName": "Ünï"}, session="odd2", agent="a/b c"),
                          typed("llm_call", VALID["llm_call"], session="odd2", agent="a/b c", severity="warn")])
    assert (await api.post_sdk(RUN_A + RUN_B))["processed"] == len(RUN_A) + len(RUN_B)
    return api


async def test_timeline_is_the_model_paths_bytes(loaded: Api) -> None:
    for sid in ("s1", "odd", "odd2", "run-a", "run-b"):
        chain = await _chain(loaded, sid)
        want = {"events": [v004_event(e) for e in sorted(chain, key=lambda e: (e.timestamp, e.seq))],
                "chainValid": verify(chain)}
        assert await raw(loaded, f"/api/sessions/{sid}/timeline") == dumps(want), sid


async def test_event_pages_are_the_model_paths_bytes(loaded: Api) -> None:
    cases: list[dict[str, str]] = [
        {}, {"sessionId": "odd"}, {"sessionId": "odd,s1", "order": "asc", "limit": "3", "offset": "2"},
        {"severity": "error"}, {"eventType": "custom", "limit": "500"}, {"agentId": "a/b c"},
        {"search": "needle"}, {"from": "2026-05-01T10:00:02Z", "to": "2026-05-01T10:00:05Z", "order": "asc"},
    ]
    for params in cases:
        body = await raw(loaded, "/api/events", **params)
        want = await _events_page(loaded, params)
        assert body == dumps(want), params


async def test_seed_002_session_is_the_model_paths_bytes(loaded: Api) -> None:
    for sid in ("run-a", "run-b", "s1", "odd"):
        body = orjson.loads(await raw(loaded, f"/sessions/{sid}"))
        chain = await _chain(loaded, sid)
        steps = sorted((e for e in chain if e.type not in LIFECYCLE_TYPES), key=lambda e: (e.timestamp, e.seq))
        events_bytes = dumps([v002_event(e) for e in steps])
        assert dumps(body["events"]) == events_bytes, sid
        assert (await raw(loaded, f"/sessions/{sid}")).endswith(b',"events":' + events_bytes + b"}")


async def _project(api: Api) -> str:
    """The one project the test's data went to (the handlers scope every read to the caller's)."""
    rows = await api.store.inner.db.fetch("SELECT DISTINCT project_id FROM sessions", ())
    assert len(rows) == 1
    return str(rows[0][0])


async def _chain(api: Api, session_id: str) -> list[Event]:
    return await api.store.inner.traces.session_chain(await _project(api), session_id)


async def _events_page(api: Api, params: dict[str, str]) -> dict[str, Any]:

    def csv(name: str) -> tuple[str, ...] | None:
        return tuple(params[name].split(",")) if name in params else None

    def when(name: str) -> Any:
        return utc_ms(datetime.fromisoformat(params[name].replace("Z", "+00:00"))) if name in params else None

    query = EventQuery(session_ids=csv("sessionId"), agent_ids=csv("agentId"), types=csv("eventType"),
                       severities=csv("severity"), since=when("from"), until=when("to"),
                       search=params.get("search") or None)
    page = Page(limit=int(params.get("limit", 50)), offset=int(params.get("offset", 0)),
                descending=params.get("order", "desc") == "desc")
    result = await api.store.inner.traces.find_events(await _project(api), query, page)
    return {"events": [v004_event(e) for e in result.items], "total": result.total, "hasMore": result.has_more}


GRAPHQL = [
    ("""query($id: ID!) { session(id: $id) { id eventCount agent { name } events(first: 1000) { totalCount
        edges { cursor node { id type severity timestamp receivedAt sequence sessionId agentId callId payload
        metadata model tokensIn tokensOut durationMs costUsd hash prevHash session { id status tags }
        parent { id type parent { id } children { id } } children { id type session { id } } } } } } }""", {}),
    ("""query($id: ID!) { session(id: $id) { events(first: 2) { pageInfo { hasNextPage endCursor }
        nodes { __typename id parent { id } children { id } session { id agent { id } } } } } }""", {}),
    ("""query($id: ID!) { session(id: $id) { ...S events(first: 50, order: DESC) { edges { node { ...E
        p: parent { ...E } } } } } } fragment S on Session { id durationMs costUsd }
        fragment E on Event { id t: type ts: timestamp @include(if: true) hash @skip(if: true) }""", {}),
    ("""query($id: ID!) { session(id: $id) { events(first: 1000, filter: {types: ["llm_response", "tool_error"]}) {
        nodes { id parent { id type } session { id } } } } }""", {}),
    ("""{ events(first: 100) { edges { node { id type session { id eventCount } parent { id }
        children { id } } } } }""", {"skip_id": True}),
    ("""query($id: ID!) { session(id: $id) { events(first: 1000) { nodes { id payload metadata } } } }""", {}),
    ("""query($id: ID!) { session(id: $id) { id events(first: 1000) { edges { node { id nope } } } } }""", {}),
]


@pytest.mark.parametrize("index", range(len(GRAPHQL)))
async def test_graphql_fast_fields_answer_what_graphql_core_answers(
    loaded: Api, monkeypatch: pytest.MonkeyPatch, index: int
) -> None:
    query, options = GRAPHQL[index]
    for sid in ("s1", "odd", "odd2", "run-a", "missing"):
        variables = {} if options.get("skip_id") else {"id": sid}
        body = {"query": query, "variables": variables}
        fast = await (await loaded.client.post("/graphql", json=body)).read()
        with monkeypatch.context() as m:
            m.setattr(execution, "plan_of", lambda field: SLOW_PLAN)
            slow = await (await loaded.client.post("/graphql", json=body)).read()
        assert fast == slow, (sid, fast[:300], slow[:300])
        if options.get("skip_id"):
            break


def _event_before_views(doc: Any, session: Any = None, calls: Any = None) -> Any:
    """graph/schema/traces/types.py's Event.of before views: the dataclass constructor, on a model."""
    return traces_types.Event(
        id=strawberry.ID(doc.id), type=doc.type, severity=doc.severity, timestamp=doc.timestamp,
        received_at=doc.received_at, sequence=doc.seq, session_id=strawberry.ID(doc.session_id),
        agent_id=strawberry.ID(doc.agent_id) if doc.agent_id else None, call_id=doc.call_id,
        payload=doc.payload, metadata=doc.metadata, model=doc.model, tokens_in=doc.tokens_in,
        tokens_out=doc.tokens_out, duration_ms=doc.duration_ms, cost_usd=doc.cost_usd, hash=doc.hash,
        prev_hash=doc.prev_hash, doc=doc, known_session=session, calls=calls,
    )


@pytest.mark.parametrize("index", range(len(GRAPHQL)))
async def test_graphql_event_views_answer_what_models_answered(
    loaded: Api, monkeypatch: pytest.MonkeyPatch, index: int
) -> None:
    """A session's events over GraphQL are built from EventViews (half the columns, no pydantic model, the
    instance's dict set at once), their edges' cursors encoded when read, their scalars read by attrgetter;
    before, from Event models through the dataclass constructor, every cursor encoded, every scalar through
    its resolver. Same bytes, on the fast fields and on graphql-core's path."""
    query, options = GRAPHQL[index]
    traces = loaded.store.inner.traces
    for sid in ("s1", "odd", "odd2", "run-a", "missing"):
        variables = {} if options.get("skip_id") else {"id": sid}
        body = {"query": query, "variables": variables}
        for plan in (None, SLOW_PLAN):
            with monkeypatch.context() as m:
                if plan is not None:
                    m.setattr(execution, "plan_of", lambda field: SLOW_PLAN)
                views = await (await loaded.client.post("/graphql", json=body)).read()
                m.setattr(traces, "event_views_for_sessions", traces.events_for_sessions)
                m.setattr(traces_types, "view_key", traces_types.event_key)
                m.setattr(traces_types.Event, "of", staticmethod(_event_before_views))
                # Cursors encoded with each edge, scalars read through their resolvers: as before.
                m.setattr(connection, "_edge", lambda node, key, doc: connection.Edge(
                    node=node, cursor=connection.encode_cursor(key(doc))))
                m.setattr(execution, "leaf_reader", lambda field: lambda source: field.resolve(source, None))
                models = await (await loaded.client.post("/graphql", json=body)).read()
            assert views == models, (sid, plan, views[:300], models[:300])
        if options.get("skip_id"):
            break


JSON_KEYS = st.text(max_size=4) | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JSON_KEYS, inner, max_size=3)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=15,
)


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES)
def test_json_body_is_the_non_str_keys_encoding(value: Any) -> None:
    """json_response's body: orjson's default first, OPT_NON_STR_KEYS when a key needs it. Same bytes, same
    refusals (a huge integer, NaN is written as null by both)."""
    try:
        want: bytes | type[Exception] = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        want = TypeError
    if want is TypeError:
        with pytest.raises(TypeError):
            json_body(value)
    else:
        assert json_body(value) == want

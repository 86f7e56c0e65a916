"""Event records (storage/models/records.py) are the models' fields, on every backend: the REST reads
that use them cannot drift from the model reads the rest of the API uses."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson

from graph.rest.agentlens_server.handlers import record_json
from resolvers.traces.chain import event_hash, verify, verify_wire
from storage.contract import EventQuery, Page
from storage.models.records import record_of, view_of
from storage.timeutil import from_ms, iso_ms, iso_of_ms, to_ms
from tests.storage.test_contract import T0, P, commit, ev

ODD_PAYLOADS = [
    {"text": "héllo wörld ✓ 日本語 \U0001f600", "quote": "\"'\\/\n\t\u2028"},
    {"nested": {"a": [1, 2.5, None, {"b": [True, False, {}]}], "z": {"y": {"x": "deep"}}}, "empty": {}},
    {"big": 2**63 - 1, "neg": -(2**63), "small": 1e-300, "huge": 1.7976931348623157e308, "zero": -0.0},
    {"nulls": None, "list": [None, None], "": "empty key"},
    {"input_data": {"prompt": "p"}, "output_data": "o", "tool_call": {"name": "t"}, "decision_trace": [1]},
    {},
]


async def test_records_are_the_models_fields(store) -> None:
    await commit(store, [ev(i, payload=p, metadata={"m": i, "ü": [p]}) for i, p in enumerate(ODD_PAYLOADS)])
    await commit(store, [ev(i, session="s2", agent_id=None, user_id="u1", severity="error") for i in range(3)])
    for session in ("s1", "s2"):
        models = await store.traces.session_chain(P, session)
        records = await store.traces.session_chain_records(P, session)
        assert records == [record_of(e) for e in models]
        assert [orjson.dumps(r.payload) for r in records] == [orjson.dumps(e.payload) for e in models]
        assert verify(records) and verify(models)
        assert [event_hash(r, r.prev_hash) for r in records] == [event_hash(e, e.prev_hash) for e in models]
    for query in (EventQuery(), EventQuery(session_ids=("s1",)), EventQuery(severities=("error",))):
        for page in (Page(limit=4), Page(limit=4, offset=2, descending=True), Page(limit=500, count_total=False)):
            models_page = await store.traces.find_events(P, query, page)
            records_page = await store.traces.find_event_records(P, query, page)
            assert records_page.items == [record_of(e) for e in models_page.items]
            assert (records_page.total, records_page.has_more) == (models_page.total, models_page.has_more)


async def test_views_are_the_models_fields(store) -> None:
    """GraphQL's session events (event_views_for_sessions) hold the model read's values, of the same types,
    on every page the grouped read can give: one session or several, limits, cursors, filters, both orders."""
    await commit(store, [ev(i, payload=p, metadata={"m": i, "ü": [p]}) for i, p in enumerate(ODD_PAYLOADS)])
    await commit(store, [ev(i, session="s2", agent_id=None, severity="error", cost_nanos=1234567 * i, tokens_in=i,
                            tokens_out=2, model="m", duration_ms=1.5 * i, call_id=f"c{i % 2}") for i in range(3)])
    models = await store.traces.session_chain(P, "s1")
    after = (models[2].timestamp, models[2].session_id, models[2].seq)
    pages = [Page(limit=1000), Page(limit=2), Page(limit=4, descending=True), Page(limit=3, after=after),
             Page(limit=500, count_total=False)]
    for sessions in (["s1"], ["s2"], ["s1", "s2", "none"]):
        for query in (EventQuery(), EventQuery(severities=("error",)), EventQuery(types=("custom",))):
            for page in pages:
                by_models = await store.traces.events_for_sessions(P, sessions, query, page)
                by_views = await store.traces.event_views_for_sessions(P, sessions, query, page)
                assert by_views.keys() == by_models.keys()
                for key, found in by_views.items():
                    want = by_models[key]
                    assert found.items == [view_of(e) for e in want.items], (sessions, query, page)
                    assert (found.total, found.has_more) == (want.total, want.has_more)
                    for view, model in zip(found.items, want.items, strict=True):
                        assert [type(v) for v in view] == [type(v) for v in view_of(model)]
                        assert view.cost_usd == model.cost_usd
                        assert orjson.dumps(view.payload) == orjson.dumps(model.payload)
    whole = await store.traces.event_views_for_sessions(P, ["s1", "s2"], EventQuery(), pages[0])
    assert [len(whole[s].items) for s in ("s1", "s2")] == [len(ODD_PAYLOADS), 3]


def test_iso_of_ms_is_iso_ms() -> None:
    edges = [0, -1, -999, -1000, -1001, 1, 999, 1000, to_ms(datetime(1, 1, 1, tzinfo=UTC)),
             to_ms(datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)), to_ms(datetime(999, 5, 1, tzinfo=UTC)) + 7]
    start = to_ms(datetime(2026, 1, 1, tzinfo=UTC))
    for value in [*edges, *range(start, start + 5000, 7)]:
        assert iso_of_ms(value) == iso_ms(from_ms(value)), value
    assert iso_of_ms(to_ms(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=5))) == "2026-01-01T00:00:00.005Z"


async def test_timelines_match_the_former_path_on_random_sessions(store) -> None:
    """verify_wire over the store's chain records (SQLite's _records, MongoDB's record_of) gives the answer the
    timeline gave from models before: record_json of each, by time then seq, with verify's verdict. Random
    sessions: times out of seq order and shared seconds, repeated and varied metadata, odd payloads, tracked
    events (a user, no agent)."""
    rnd = random.Random(20261124)
    for n in range(6):
        session = f"r{n}"
        events = []
        for i in range(rnd.randint(1, 40)):
            tracked = rnd.random() < 0.2
            events.append(ev(
                i, session=session, agent_id=None if tracked else rnd.choice(["a", "b"]),
                user_id="u" if tracked else rnd.choice([None, "v"]),
                payload=rnd.choice([*ODD_PAYLOADS, {"i": i, "z": {"b": [i, 0.5], "a": None}}]),
                metadata=rnd.choice([{}, {"env": "x"}, {"env": "x", "n": rnd.randint(0, 3)}, {"ü": [i]}]),
            ).model_copy(update={
                "timestamp": T0 + timedelta(milliseconds=rnd.choice([0, 1, 999, 1000, rnd.randint(0, 10**7)]))
            }))
        await commit(store, events)
        models = await store.traces.session_chain(P, session)
        former = orjson.dumps({
            "events": [record_json(record_of(e)) for e in sorted(models, key=lambda e: (e.timestamp, e.seq))],
            "chainValid": verify(models),
        })
        wire, valid = verify_wire(await store.traces.session_chain_records(P, session))
        assert valid is True
        assert orjson.dumps({"events": wire, "chainValid": valid}) == former

"""The third ingest pass's fast paths give exactly what the code they replaced gave (bench/README.md, "Ingest,
third pass"): SDK batches validated in one pydantic call, with the event-by-event path for any batch that has
a problem.

reference_translate is the previous translate, verbatim."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from graph.rest.agentlens.handlers import CORE_FIELDS, SESSION_STATUSES, WireEvent, translate
from resolvers.core.errors import InputError, Problem, from_pydantic
from resolvers.core.ids import new_uuid
from resolvers.traces.event_types import unsealed_event
from resolvers.traces.ingest import Incoming
from resolvers.traces.planner import END_TYPES, START_TYPES, Lifecycle
from storage.models import SessionStatus
from storage.timeutil import now_ms
from tests.resolvers.test_typed_batch import documents, scalars


def reference_translate(project_id: str, raw: list[Any], received: datetime, max_events: int) -> list[Incoming]:
    if len(raw) > max_events:
        raise InputError(Problem("events", f"holds {len(raw)} events; at most {max_events} are allowed"))
    problems: list[Problem] = []
    out: list[Incoming] = []
    for index, item in enumerate(raw):
        try:
            wire = WireEvent.model_validate(item)
        except ValidationError as exc:
            problems.extend(from_pydantic(exc, ("events", index)).problems)
            continue
        starts, ends = wire.event_type in START_TYPES, wire.event_type in END_TYPES
        if starts and wire.agent_name is None:
            problems.append(Problem(f"events[{index}].agent_name", "is required for session_start"))
            continue
        if starts and "session_id" not in item:
            problems.append(Problem(f"events[{index}].session_id", "is required for session_start"))
            continue
        if ends and wire.status not in (None, *SESSION_STATUSES):
            problems.append(Problem(f"events[{index}].status", "must be completed or error"))
            continue
        payload = {k: v for k, v in item.items() if k not in CORE_FIELDS}
        hint = None
        if starts:
            hint = Lifecycle(agent_name=wire.agent_name, metadata=wire.metadata or {})
        elif ends:
            # The SDK's totals when it counted any (as the reference backend, a 0 keeps what was counted
            # here), else tokens_in/tokens_out as final counts.
            hint = Lifecycle(
                agent_name=wire.agent_name,
                end_status=SessionStatus(wire.status) if wire.status in ("completed", "error") else None,
                final_tokens_in=wire.total_tokens_in or wire.tokens_in,
                final_tokens_out=wire.total_tokens_out or wire.tokens_out,
            )
            for key in ("tokens_in", "tokens_out"):
                if key in item:
                    payload[key] = item[key]
        elif wire.agent_name:
            hint = Lifecycle(agent_name=wire.agent_name)
        counted = not ends  # a session_end's tokens are final totals, not more usage
        # The SDK sends a session_end with ended_at and no timestamp: that is when the session ended
        # (the planner closes the session at its end event's time, and the hash chain seals that time).
        at = (wire.ended_at if ends else None) or wire.timestamp or received
        tool = wire.tool_call or {}
        out.append(
            Incoming(
                # Validated values (WireEvent's), so the Event is built without validating them again.
                unsealed_event({
                    "project_id": project_id,
                    "id": wire.event_id or new_uuid(),
                    "session_id": wire.session_id,
                    "agent_id": wire.agent_id or wire.agent_name,
                    "type": wire.event_type,
                    "severity": "error" if wire.event_type == "error" else "info",
                    "timestamp": at,
                    "received_at": received,
                    "call_id": tool.get("call_id") if isinstance(tool.get("call_id"), str) else None,
                    "model": wire.model,
                    "tokens_in": wire.tokens_in if counted else None,
                    "tokens_out": wire.tokens_out if counted else None,
                    "duration_ms": wire.duration_ms,
                    "payload": payload,
                    "metadata": wire.metadata or {},
                }),
                hint,
            )
        )
    if problems:
        raise InputError(problems)
    return out


def sdk_event(broken: bool) -> Any:
    def bad(good: Any, *wrong: Any) -> Any:
        return st.one_of(good, st.sampled_from(wrong)) if broken else good

    return st.fixed_dictionaries(
        {"event_type": bad(
            st.sampled_from(["llm_call", "tool_call", "error", "session_start", "session_end", "custom"]), "", 7
        )},
        optional={
            "session_id": bad(st.sampled_from(["s1", "s2"]), "", "x" * 257, None),
            "event_id": bad(st.sampled_from(["e1", "e2", "e3"]), "", 3),
            "timestamp": bad(
                st.sampled_from(["2026-02-08T10:00:00.123456Z", "2026-02-08T10:00:00+05:30", 1770544800]),
                "yesterday", [],
            ),
            "ended_at": bad(st.sampled_from(["2026-02-08T11:00:00Z"]), "later"),
            "agent_name": bad(st.sampled_from(["bot"]), "", 1),
            "agent_id": st.sampled_from(["agent-1"]),
            "model": bad(st.sampled_from(["gpt-4o"]), 4),
            "tokens_in": bad(st.integers(0, 10**12), -1, "3", 1.5),
            "tokens_out": st.integers(0, 10**12),
            "duration_ms": bad(st.one_of(st.integers(0, 10**6), st.floats(0, 1e6)), -2, "slow"),
            "metadata": bad(st.dictionaries(st.text(max_size=3), scalars, max_size=2), [], "m"),
            "status": bad(st.sampled_from(["completed", "error"]), "done", 0),
            "tool_call": st.dictionaries(st.sampled_from(["call_id", "tool_name"]), scalars, max_size=2),
            "input_data": documents,
            "total_tokens_in": bad(st.integers(0, 99), -5),
            "total_tokens_out": st.integers(0, 99),
        },
    )


sdk_batches = st.one_of(
    st.lists(sdk_event(False), min_size=1, max_size=8),
    st.lists(
        st.one_of(st.booleans().flatmap(sdk_event), st.sampled_from([None, 3, "event", [], [{}]])), max_size=6
    ),
)


RECEIVED = now_ms()


def outcome(fn: Any, batch: list[Any]) -> Any:
    """The problems, or each event (its id only where the sender named one: the others are new UUIDs) and hint."""
    try:
        items = fn("proj", batch, RECEIVED, 5)
    except InputError as exc:
        return [(p.path, p.message) for p in exc.problems]
    out = []
    for raw, item in zip(batch, items, strict=True):
        values = dict(item.event.__dict__)
        if "event_id" not in raw:
            assert isinstance(values.pop("id"), str)
        out.append((values, [type(v) for v in values.values()], item.hint))
    return out


@settings(max_examples=400, deadline=None)
@given(sdk_batches)
def test_sdk_translation_matches_the_previous_code(batch: list[Any]) -> None:
    assert outcome(translate, batch) == outcome(reference_translate, batch)


def test_a_bad_sdk_event_among_good_ones_is_named_as_before() -> None:
    batch: list[Any] = [
        {"event_type": "llm_call", "session_id": "s"},
        {"event_type": "llm_call", "tokens_in": -1},
        {"event_type": "session_start", "session_id": "s"},
        "junk",
    ]
    problems = outcome(translate, batch)
    assert problems == outcome(reference_translate, batch)
    assert [path for path, _ in problems] == ["events[1].tokens_in", "events[2].agent_name", "events[3]"]


# One walk of the request body fewer: read_events_json checks the body's integers on its depth walk, and ingest
# skips its own walk of each event's payload and metadata when the body had nothing to refuse.

deep_documents = st.recursive(
    st.one_of(  # what orjson reads and writes: integers from -2**63 to 2**64 - 1
        st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=4),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=2), st.dictionaries(st.text(max_size=2), inner, max_size=2)),
    max_leaves=80,
)


def nest(value: Any, levels: int) -> Any:
    for _ in range(levels):
        value = [value]
    return value


class _Body:
    """What read_body needs of a request."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.headers: dict[str, str] = {}

    async def read(self) -> bytes:
        return self.data


def _read(fn: Any, value: Any) -> Any:
    import asyncio

    import orjson

    try:
        return "ok", asyncio.run(fn(_Body(orjson.dumps(value))))
    except InputError as exc:
        return "refused", [(p.path, p.message) for p in exc.problems]


def _containers(node: Any) -> Any:
    if isinstance(node, dict | list):
        yield node
        for child in node.values() if isinstance(node, dict) else node:
            yield from _containers(child)


@settings(max_examples=300, deadline=None)
@given(deep_documents, st.integers(0, 60))
def test_a_storable_body_holds_only_storable_documents(document: Any, levels: int) -> None:
    from graph.rest.http import read_events_json, read_json
    from resolvers.core.bounds import json_problem

    body = {"events": [{"payload": nest(document, levels)}]}
    kind, got = _read(read_events_json, body)
    before = _read(read_json, body)
    if kind == "refused":  # refused exactly as read_json refuses it
        assert (kind, got) == before
        return
    value, storable = got
    assert before == ("ok", value)
    if storable:  # then ingest's own check of any document taken from it would find nothing
        assert all(json_problem(node) is None for node in _containers(body))
    else:
        assert any(json_problem(node) is not None for node in _containers(body))


async def test_documents_past_64_bits_are_still_named_by_event_and_field(api: Any) -> None:
    from tests.conftest import typed
    from tests.payloads import VALID

    good = typed("custom", VALID["custom"])
    bad = {**typed("custom", VALID["custom"]), "metadata": {"n": 2**63}}
    resp = await api.client.post("/api/events", json={"events": [good, bad]})
    assert resp.status == 400 and [d["path"] for d in (await resp.json())["details"]] == ["events[1].metadata"]
    resp = await api.client.post("/events", json={"events": [{"event_type": "x"}, {"event_type": "x", "n": 2**63}]})
    assert resp.status == 400 and "events[1].payload" in (await resp.json())["error"]
    # Too deep as well: the body's own problem comes first, as before.
    deep = {**typed("custom", VALID["custom"]), "payload": {"type": "t", "data": nest(2**63, 70)}}
    resp = await api.client.post("/api/events", json={"events": [deep]})
    assert resp.status == 400 and (await resp.json())["details"][0]["path"] == "body"
    assert (await api.get("/api/events"))["total"] == 0

"""The typed format's fast paths give exactly what the code they replaced gave (bench/README.md, "Ingest,
second pass"): one pydantic call per valid batch, events built without validating them again, ids drawn a
batch at a time.

The references below are the previous validate_events and to_event, verbatim but for the id, which the
reference takes as an argument (it drew one from python-ulid itself)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from ulid import ULID

from resolvers.core import ids
from resolvers.core.errors import InputError, Problem, from_pydantic
from resolvers.traces.event_types import (
    EVENT_TYPES,
    PAYLOADS,
    CostTracked,
    EventIn,
    FormCompleted,
    LlmCall,
    LlmResponse,
    SessionEnded,
    SessionStarted,
    ToolError,
    ToolResponse,
    _call_id,
    _Payload,
    to_event,
    usd_to_nanos,
    validate_events,
)
from resolvers.traces.planner import Lifecycle
from storage.models import Event, SessionStatus
from storage.timeutil import now_ms
from tests.payloads import REQUIRED, VALID


def reference_validate_events(
    items: Any, *, prefix: str = "events", max_events: int = 1000
) -> list[tuple[EventIn, _Payload]]:
    if not isinstance(items, list):
        raise InputError(Problem(prefix, "must be an array of events"))
    if not items:
        raise InputError(Problem(prefix, "must hold at least 1 event"))
    if len(items) > max_events:
        raise InputError(Problem(prefix, f"holds {len(items)} events; at most {max_events} are allowed"))
    problems: list[Problem] = []
    out: list[tuple[EventIn, _Payload]] = []
    for index, raw in enumerate(items):
        try:
            item = EventIn.model_validate(raw)
        except ValidationError as exc:
            problems.extend(from_pydantic(exc, (prefix, index)).problems)
            continue
        model = PAYLOADS.get(item.eventType)
        if model is None:
            problems.append(
                Problem(
                    f"{prefix}[{index}].eventType",
                    f"unknown event type {item.eventType!r}; expected one of {', '.join(EVENT_TYPES)}",
                )
            )
            continue
        try:
            payload = model.model_validate(item.payload)
        except ValidationError as exc:
            problems.extend(from_pydantic(exc, (prefix, index, "payload")).problems)
            continue
        out.append((item, payload))
    if problems:
        raise InputError(problems)
    return out


def reference_to_event(
    project_id: str, item: EventIn, payload: _Payload, received_at: datetime, event_id: str
) -> tuple[Event, Lifecycle | None]:
    tokens_in = tokens_out = cost = None
    duration = None
    model = None
    if isinstance(payload, LlmResponse):
        tokens_in, tokens_out = payload.usage.inputTokens, payload.usage.outputTokens
        cost, duration, model = usd_to_nanos(payload.costUsd), payload.latencyMs, payload.model
    elif isinstance(payload, CostTracked):
        tokens_in, tokens_out = payload.inputTokens, payload.outputTokens
        cost, model = usd_to_nanos(payload.costUsd), payload.model
    elif isinstance(payload, LlmCall):
        model = payload.model
    elif isinstance(payload, (ToolResponse, ToolError, FormCompleted)):
        duration = payload.durationMs

    event = Event(
        project_id=project_id,
        id=event_id,
        session_id=item.sessionId,
        agent_id=item.agentId,
        type=item.eventType,
        severity=item.severity,
        timestamp=item.timestamp or received_at,
        received_at=received_at,
        seq=0,
        call_id=_call_id(payload),
        model=model,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        duration_ms=duration,
        cost_nanos=cost,
        payload=item.payload,
        metadata=item.metadata,
        prev_hash=None,
        hash=None,
    )
    hint = None
    if isinstance(payload, SessionStarted):
        hint = Lifecycle(agent_name=payload.agentName, metadata=item.metadata, tags=payload.tags)
    elif isinstance(payload, SessionEnded):
        hint = Lifecycle(
            end_status=SessionStatus.ERROR
            if payload.reason in ("error", "timeout")
            else SessionStatus.COMPLETED
        )
    return event, hint


# JSON values as a request body holds them; numbers include what the bounds refuse.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6), st.sampled_from(["", "x" * 300, "2026-02-08T10:00:00.123456+02:00", "stop"]),
)
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
), max_leaves=8)


@st.composite
def payloads(draw: st.DrawFn, event_type: str, broken: bool) -> Any:
    base = dict(VALID.get(event_type, VALID["custom"]))
    if draw(st.booleans()):  # anything else in a payload is kept
        base[draw(st.text(min_size=1, max_size=5).filter(lambda k: k not in base))] = draw(documents)
    if event_type == "llm_response" and draw(st.booleans()):
        base["usage"] = {"inputTokens": draw(st.integers(0, 10**12)), "outputTokens": draw(st.integers(0, 99))}
        base["costUsd"] = draw(st.one_of(st.floats(0, 1e6), st.integers(0, 10)))
        base["latencyMs"] = draw(st.one_of(st.floats(0, 1e6), st.integers(0, 10)))
    if event_type in ("tool_response", "tool_error", "form_completed"):
        base["durationMs"] = draw(st.one_of(st.floats(0, 1e6), st.integers(0, 10**12)))
    if event_type == "session_ended":
        base["reason"] = draw(st.sampled_from(["completed", "error", "timeout", "manual"]))
    if event_type == "tool_call" and draw(st.booleans()):
        base["callId"] = draw(st.sampled_from(["c", "x" * 300]))
    if not broken:
        return base
    mode = draw(st.sampled_from(["drop", "retype", "junk", "numbers"]))
    if mode == "drop" and event_type in REQUIRED:
        del base[REQUIRED[event_type]]
    elif mode == "retype":
        base[draw(st.sampled_from(sorted(base)))] = draw(documents)
    elif mode == "numbers" and event_type == "llm_response":
        base["usage"] = {"inputTokens": draw(st.integers(-1, 10**13)), "outputTokens": -1}
        base["costUsd"] = draw(st.floats(-1, 2e6))
    elif mode == "junk":
        return draw(documents)
    return base


@st.composite
def raw_events(draw: st.DrawFn, broken: bool) -> Any:
    """One event of a batch; a broken one may be wrong anywhere (or may turn out valid all the same)."""
    types = st.sampled_from(EVENT_TYPES)
    event_type = draw(st.one_of(types, st.sampled_from(["", "nope", "Custom"])) if broken else types)
    raw: dict[str, Any] = {
        "sessionId": draw(st.sampled_from(["s1", "s2", "", "x" * 257] if broken else ["s1", "s2", "x" * 256])),
        "agentId": draw(st.sampled_from(["a1", "agent-2"])),
        "eventType": event_type,
        "payload": draw(payloads(event_type, broken)),
    }
    timestamps = ["2026-02-08T10:00:00.123456Z", "2026-02-08T10:00:00+05:30", "2026-02-08T10:00:00", 1770544800, None]
    for key, values in (
        ("severity", st.sampled_from(["info", "error", "critical", "debug", "warn", *(["loud", 3] if broken else [])])),
        ("metadata", st.one_of(
            st.dictionaries(st.text(max_size=3), scalars, max_size=2), *([st.just([])] if broken else [])
        )),
        ("timestamp", st.sampled_from([*timestamps, *(["yesterday", "0001-01-01T00:00:00+01:00"] if broken else [])])),
        ("unknownField", st.just(1)),
    ):
        if draw(st.integers(0, 2)) == 0:
            raw[key] = draw(values)
    if broken and draw(st.integers(0, 10)) == 0:
        del raw[draw(st.sampled_from(["sessionId", "agentId", "eventType", "payload"]))]
    if broken and draw(st.integers(0, 20)) == 0:
        return draw(documents)
    return raw


batches = st.one_of(
    st.lists(raw_events(False), min_size=1, max_size=8),
    st.lists(st.booleans().flatmap(lambda broken: raw_events(broken)), max_size=6),
)


def outcome(fn: Any, batch: Any) -> Any:
    try:
        return fn(batch)
    except InputError as exc:
        return exc.problems


@settings(max_examples=400, deadline=None)
@given(batches)
def test_validation_and_events_match_the_previous_code(batch: list[Any]) -> None:
    before = outcome(reference_validate_events, batch)
    after = outcome(validate_events, batch)
    if not before or isinstance(before[0], Problem):
        assert after == before  # the same problems, in the same order (or the same refusal of the whole body)
        return
    assert len(after) == len(before)
    received = now_ms()
    for index, ((item, payload), (new_item, new_payload, doc)) in enumerate(zip(before, after, strict=True)):
        assert new_payload.model_dump() == payload.model_dump() and type(new_payload) is type(payload)
        assert doc == item.payload and doc is not batch[index]["payload"]
        event_id = f"id-{index}"
        old_event, old_hint = reference_to_event("proj", item, payload, received, event_id)
        new_event, new_hint = to_event("proj", new_item, new_payload, doc, received, event_id)
        assert new_event.__dict__ == old_event.__dict__
        assert [type(v) for v in new_event.__dict__.values()] == [type(v) for v in old_event.__dict__.values()]
        assert new_hint == old_hint


def test_a_batch_with_one_bad_event_names_it_as_before() -> None:
    good = {"sessionId": "s", "agentId": "a", "eventType": "custom", "payload": VALID["custom"]}
    bad = {**good, "eventType": "tool_call", "payload": {"toolName": "t"}}
    with pytest.raises(InputError) as caught:
        validate_events([good, bad, {**good, "eventType": "nope"}])
    assert [str(p) for p in caught.value.problems] == [
        "events[1].payload.callId: Field required",
        "events[1].payload.arguments: Field required",
        f"events[2].eventType: unknown event type 'nope'; expected one of {', '.join(EVENT_TYPES)}",
    ]


def test_ids_are_ulids_strictly_increasing_across_batches() -> None:
    drawn = [*ids.new_ids(300), ids.new_id(), *ids.new_ids(1), *ids.new_ids(50)]
    assert drawn == sorted(drawn) and len(set(drawn)) == len(drawn)
    for value in drawn:
        assert str(ULID.from_str(value)) == value  # python-ulid reads it back to the same 26 characters
    assert abs(ULID.from_str(drawn[-1]).timestamp - now_ms().timestamp()) < 5


@given(st.integers(0, 2**128 - 400), st.integers(1, 300))
def test_id_encoding_matches_python_ulid(first: int, count: int) -> None:
    before, ids._last = ids._last, first - 1
    try:
        drawn = ids.new_ids(count)  # when the clock is behind `first`, the ids continue from it
    finally:
        ids._last = before
    if first >= (ids.time.time_ns() // 1_000_000) << 80:  # the clock's value would have come first otherwise
        assert drawn == [str(ULID.from_int(first + i)) for i in range(count)]
    else:
        assert drawn == sorted(drawn) and all(len(v) == 26 for v in drawn)


sdk_events = st.fixed_dictionaries(
    {"event_type": st.sampled_from(["llm_call", "tool_call", "error", "session_start", "session_end", "custom"])},
    optional={
        "session_id": st.sampled_from(["s1", "s2"]),
        "event_id": st.sampled_from(["e1", "e2", "e3"]),
        "timestamp": st.sampled_from(["2026-02-08T10:00:00.123456Z", "2026-02-08T10:00:00+05:30", 1770544800]),
        "ended_at": st.sampled_from(["2026-02-08T11:00:00Z"]),
        "agent_name": st.sampled_from(["bot"]),
        "agent_id": st.sampled_from(["agent-1"]),
        "model": st.sampled_from(["gpt-4o"]),
        "tokens_in": st.integers(0, 10**12),
        "tokens_out": st.integers(0, 10**12),
        "duration_ms": st.one_of(st.integers(0, 10**6), st.floats(0, 1e6)),
        "metadata": st.dictionaries(st.text(max_size=3), scalars, max_size=2),
        "status": st.sampled_from(["completed", "error"]),
        "tool_call": st.dictionaries(st.sampled_from(["call_id", "tool_name"]), scalars, max_size=2),
        "input_data": documents,
        "total_tokens_in": st.integers(0, 99),
    },
)


@settings(max_examples=200, deadline=None)
@given(st.lists(sdk_events, min_size=1, max_size=6))
def test_sdk_events_are_what_validating_them_gives(batch: list[Any]) -> None:
    """POST /events builds its events without validating them again: each is what Event(...) makes of it."""
    from graph.rest.agentlens.handlers import translate

    try:
        items = translate("proj", batch, now_ms(), 1000)
    except InputError:
        return
    for item in items:
        event = item.event
        again = Event(**event.__dict__)
        assert again.__dict__ == event.__dict__
        assert [type(v) for v in again.__dict__.values()] == [type(v) for v in event.__dict__.values()]


def test_an_unsealed_event_needs_its_own_documents() -> None:
    from resolvers.traces.event_types import unsealed_event

    values = {"project_id": "p", "id": "i", "session_id": "s", "type": "custom", "timestamp": now_ms(),
              "received_at": now_ms(), "payload": {"a": 1}, "metadata": {}}
    assert unsealed_event(values).__dict__ == Event(**values).__dict__
    with pytest.raises(TypeError):
        unsealed_event({**values, "metadata": None})


def test_a_payload_that_is_not_a_document_takes_the_plain_path() -> None:
    from resolvers.traces.typed_batch import validate_batch

    good = {"sessionId": "s", "agentId": "a", "eventType": "custom", "payload": VALID["custom"]}
    assert validate_batch([good]) is not None
    model = PAYLOADS["custom"].model_validate(VALID["custom"])
    assert validate_batch([{**good, "payload": model}]) is None
    with pytest.raises(InputError) as caught:
        validate_events([{**good, "payload": model}])
    assert [p.path for p in caught.value.problems] == ["events[0].payload"]

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

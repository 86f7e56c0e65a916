"""Ingest's fast paths give exactly what the plain code they replaced gave (bench/README.md, "Fast ingest").

The references below are the previous implementations, verbatim: search text, the storability check, and
the planner (whose sessions, events and hashes must match field for field)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from resolvers.core.bounds import INT64_MAX, MAX_JSON_DEPTH, json_problem, saturating_add
from resolvers.traces.chain import event_hash
from resolvers.traces.planner import END_TYPES, ERROR_SEVERITIES, ERROR_TYPES, START_TYPES, BatchPlanner, Lifecycle
from storage.models import Event, Session, SessionStatus
from storage.search import search_text


def reference_search_text(payload: Any) -> str:
    parts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            parts.append(value)
        elif isinstance(value, bool) or value is None:
            return
        else:
            parts.append(str(value))

    walk(payload)
    return "\n".join(parts).lower()


def reference_json_problem(value: Any, limit: int = MAX_JSON_DEPTH, *, integers: bool = True) -> str | None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if integers and isinstance(node, int) and not isinstance(node, bool):
            if not -INT64_MAX - 1 <= node <= INT64_MAX:
                return "holds an integer outside the signed 64-bit range; send it as a string"
            continue
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return f"nests objects and arrays deeper than {limit} levels"
        stack.extend((child, depth + 1) for child in children)
    return None


scalars = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8), st.floats(allow_nan=False),
    st.integers(min_value=-(2**65), max_value=2**65),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(documents, st.integers(min_value=0, max_value=5), st.booleans())
def test_search_text_and_json_problem_match_their_references(doc: Any, limit: int, integers: bool) -> None:
    assert search_text(doc) == reference_search_text(doc)
    assert json_problem(doc, limit, integers=integers) == reference_json_problem(doc, limit, integers=integers)
    wrapped = {"a": doc, "b": 1, "c": "x"}
    assert json_problem(wrapped, limit, integers=integers) == reference_json_problem(wrapped, limit, integers=integers)


class ReferencePlanner(BatchPlanner):
    """The planner before it wrote to the models' __dict__ (attribute assignment through pydantic)."""

    def __call__(self, current: Any, events: list[Event]) -> Any:
        sessions: dict[str, Session] = {}
        for event in events:
            session = sessions.get(event.session_id)
            if session is None:
                existing = current.get(event.session_id)
                if existing is not None:
                    session = existing.model_copy(
                        update={"metadata": dict(existing.metadata), "tags": list(existing.tags)}
                    )
                else:
                    session = Session(
                        project_id=self.project_id, id=event.session_id, started_at=event.timestamp, kind=self.kind
                    )
                sessions[event.session_id] = session
            hint = self.hints.get(event.id)
            _reference_apply(session, event, hint)
            if event.agent_id is None and session.agent_id is not None:
                event.agent_id = session.agent_id
            seq = session.chain_seq + 1
            event.seq, event.prev_hash = seq, session.chain_head
            event.hash = event_hash(event, session.chain_head)
            session.chain_seq, session.chain_head = seq, event.hash
        return list(sessions.values())


def _reference_apply(session: Session, event: Event, hint: Lifecycle | None) -> None:
    if event.agent_id and not session.agent_id:
        session.agent_id = event.agent_id
    if event.user_id and not session.user_id:
        session.user_id = event.user_id
    if event.path is not None:
        if session.entry_path is None or event.timestamp < session.started_at:
            session.entry_path = event.path
        if session.exit_path is None or session.last_event_at is None or event.timestamp >= session.last_event_at:
            session.exit_path = event.path
    session.started_at = min(session.started_at, event.timestamp)
    if session.last_event_at is None or event.timestamp > session.last_event_at:
        session.last_event_at = event.timestamp
    session.event_count += 1
    if event.type == "tool_call":
        session.tool_call_count += 1
    elif event.type == "llm_call":
        session.llm_call_count += 1
    if event.type in ERROR_TYPES or event.severity in ERROR_SEVERITIES:
        session.error_count += 1
    session.tokens_in = saturating_add(session.tokens_in, event.tokens_in or 0)
    session.tokens_out = saturating_add(session.tokens_out, event.tokens_out or 0)
    session.cost_nanos = saturating_add(session.cost_nanos, event.cost_nanos or 0)
    session.processing_ms += event.duration_ms or 0.0
    if event.type in START_TYPES:
        session.started_at = event.timestamp
        if hint is not None:
            if hint.agent_name:
                session.agent_name = hint.agent_name
            if hint.metadata:
                session.metadata = {**session.metadata, **hint.metadata}
            if hint.tags is not None:
                session.tags = list(dict.fromkeys([*session.tags, *hint.tags]))
        if session.agent_id is None and session.agent_name:
            session.agent_id = session.agent_name
    elif event.type in END_TYPES:
        session.ended_at = event.timestamp
        session.status = (hint.end_status if hint else None) or SessionStatus.COMPLETED
        if hint is not None:
            if hint.final_tokens_in is not None:
                session.tokens_in = hint.final_tokens_in
            if hint.final_tokens_out is not None:
                session.tokens_out = hint.final_tokens_out
    if session.agent_name is None and hint is not None and hint.agent_name:
        session.agent_name = hint.agent_name


T0 = datetime(2026, 4, 1, tzinfo=UTC)
TYPES = ["session_started", "llm_call", "llm_response", "tool_call", "tool_error", "custom", "session_ended", "page"]
step = st.tuples(
    st.sampled_from(["s1", "s2", "s3"]), st.sampled_from(TYPES), st.integers(-5, 5),
    st.sampled_from(["info", "error", "critical"]), st.one_of(st.none(), st.integers(0, 2**63 - 1)),
    st.one_of(st.none(), st.sampled_from(["agent-a", "agent-b"])), st.one_of(st.none(), st.sampled_from(["/a", "/b"])),
    st.one_of(st.none(), st.floats(0, 1e6)), st.booleans(),
)


def _events(steps: list[Any], offset: int) -> tuple[list[Event], dict[str, Lifecycle]]:
    events, hints = [], {}
    for n, (sid, type_, sec, severity, tokens, agent, path, duration, hinted) in enumerate(steps):
        e = Event(project_id="p", id=f"e{offset + n}", session_id=sid, agent_id=agent, type=type_, severity=severity,
                  timestamp=T0 + timedelta(seconds=sec), received_at=T0, tokens_in=tokens, tokens_out=tokens,
                  cost_nanos=tokens, duration_ms=duration, path=path, payload={"n": n})
        events.append(e)
        if hinted:
            hints[e.id] = Lifecycle(agent_name="Named", metadata={"k": n}, tags=["t", str(n % 2)],
                                    end_status=SessionStatus.ERROR, final_tokens_in=7)
    return events, hints


@settings(max_examples=200, deadline=None)
@given(st.lists(step, min_size=1, max_size=25), st.lists(step, min_size=1, max_size=25))
def test_the_planner_matches_its_reference_over_two_batches(first: list[Any], second: list[Any]) -> None:
    current_new: dict[str, Session] = {}
    current_ref: dict[str, Session] = {}
    for offset, steps in ((0, first), (100, second)):
        new_events, hints = _events(steps, offset)
        ref_events, _ = _events(steps, offset)
        plan = BatchPlanner("p", hints)(current_new, new_events)
        ref_sessions = ReferencePlanner("p", hints)(current_ref, ref_events)
        assert [e.model_dump() for e in plan.events] == [e.model_dump() for e in ref_events]
        assert [s.model_dump() for s in plan.sessions] == [s.model_dump() for s in ref_sessions]
        current_new.update((s.id, s) for s in plan.sessions)
        current_ref.update((s.id, s) for s in ref_sessions)

"""verify_records (the timeline's chain check) is verify: same hashes, same verdicts, tampered or not; verify_wire
is verify_records and the seed 004 handler's former rendering (record_json over the chain sorted by time)."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.rest.agentlens_server.handlers import record_json
from resolvers.traces.chain import event_hash, verify, verify_records, verify_wire
from storage.models.records import EventRecord
from storage.timeutil import iso_of_ms

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
SCALARS = st.none() | st.booleans() | INT64 | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
OBJECTS = st.dictionaries(st.text(max_size=6), JSON, max_size=5)
IDS = st.none() | st.text(min_size=1, max_size=6)

EVENT = st.tuples(
    st.text(min_size=1, max_size=8), IDS, IDS, st.sampled_from(["custom", "llm_call", "tool_error", "é"]),
    st.sampled_from(["info", "warn", "error"]), st.integers(min_value=-(10**13), max_value=10**13),
    OBJECTS, OBJECTS,
)


def chain_of(events: list[tuple[Any, ...]], session: str) -> list[EventRecord]:
    out: list[EventRecord] = []
    prev: str | None = None
    for seq, (id_, agent, user, type_, severity, ts, payload, metadata) in enumerate(events, 1):
        draft = EventRecord(id_, session, agent, user, type_, severity, ts, iso_of_ms(ts), seq, None, None, None,
                            None, payload, metadata, prev, None)
        record = draft._replace(hash=event_hash(draft, prev))
        out.append(record)
        prev = record.hash
    return out


TAMPER = ["id", "session_id", "agent_id", "user_id", "type", "severity", "time", "seq", "payload", "metadata",
          "prev_hash", "hash", "model", "ts_ms"]


@settings(max_examples=300, deadline=None)
@given(st.lists(EVENT, max_size=6), st.text(max_size=5), st.integers(min_value=0, max_value=20),
       st.sampled_from(TAMPER), JSON)
def test_verify_records_is_verify(events: list[tuple[Any, ...]], session: str, at: int, field: str, value: Any) -> None:
    chain = chain_of(events, session)
    assert verify_records(chain) is True and verify(chain) is True
    if chain:
        i = at % len(chain)
        tampered = [*chain[:i], chain[i]._replace(**{field: value}), *chain[i + 1 :]]
        assert verify_records(tampered) == verify(tampered)
        swapped = list(reversed(chain))
        assert verify_records(swapped) == verify(swapped)
        assert verify_records(chain[1:]) == verify(chain[1:])


def test_a_changed_key_order_or_value_breaks_the_chain_alike() -> None:
    chain = chain_of([("e1", "a", None, "custom", "info", 0, {"b": 1, "a": [{"y": 2, "x": 1}]}, {}),
                      ("e2", None, "u", "custom", "info", 5, {"k": 1.5}, {"m": None})], "s")
    assert verify_records(chain) and verify(chain)
    reordered = [chain[0]._replace(payload={"a": [{"x": 1, "y": 2}], "b": 1}), chain[1]]
    assert verify_records(reordered) and verify(reordered)  # sorted keys: the order of a dict is not hashed
    changed = [chain[0]._replace(payload={"a": [{"x": 1, "y": 2}], "b": 1.0}), chain[1]]
    assert not verify_records(changed) and not verify(changed)
    # The actor is the agent, else the user: the user as agent hashes the same, another agent does not.
    as_agent = [chain[0], chain[1]._replace(agent_id="u")]
    assert verify_records(as_agent) and verify(as_agent)
    assert not verify_records([chain[0], chain[1]._replace(agent_id="v")])
    assert not verify([chain[0], chain[1]._replace(agent_id="v")])


def former_timeline(chain: list[EventRecord]) -> bytes | str:
    """The timeline's answer as the handler built it before verify_wire (timeline_records, record_json); a
    tampered time or seq of another type fails the sort: then the exception's name."""
    try:
        events = sorted(chain, key=attrgetter("ts_ms", "seq"))
    except TypeError as exc:
        return type(exc).__name__
    return orjson.dumps({"events": [record_json(e) for e in events], "chainValid": verify_records(chain)})


def wire_timeline(chain: list[EventRecord]) -> bytes | str:
    try:
        events, valid = verify_wire(chain)
    except TypeError as exc:
        return type(exc).__name__
    assert valid is verify_records(chain)
    return orjson.dumps({"events": events, "chainValid": valid})


@settings(max_examples=300, deadline=None)
@given(st.lists(EVENT, max_size=7), st.text(max_size=5), st.integers(min_value=0, max_value=20),
       st.sampled_from(TAMPER), JSON, st.booleans(), st.randoms(use_true_random=False))
def test_verify_wire_is_the_former_timeline(
    events: list[tuple[Any, ...]], session: str, at: int, field: str, value: Any, in_time_order: bool, rnd: Any
) -> None:
    if in_time_order:  # the usual chain: times rise with seq, ties included
        events = [(*e[:5], ts, *e[6:]) for e, ts in zip(events, sorted(e[5] for e in events), strict=True)]
    chain = chain_of(events, session)
    assert wire_timeline(chain) == former_timeline(chain)
    if chain:
        i = at % len(chain)
        tampered = [*chain[:i], chain[i]._replace(**{field: value}), *chain[i + 1 :]]
        assert wire_timeline(tampered) == former_timeline(tampered)
        shuffled = list(chain)
        rnd.shuffle(shuffled)
        for other in (shuffled, list(reversed(chain)), chain[1:], chain[:-1], [*chain, chain[-1]]):
            assert wire_timeline(other) == former_timeline(other)


def test_verify_wire_on_users_and_ties() -> None:
    chain = chain_of([("e1", None, "u", "custom", "info", 7, {"b": 1, "a": 2}, {"m": 1}),
                      ("e2", None, None, "custom", "info", 7, {}, {}),
                      ("e3", "a", "u", "custom", "info", 3, {"z": [1, {"y": None}]}, {})], "s")
    events, valid = verify_wire(chain)
    assert valid and [e["id"] for e in events] == ["e3", "e1", "e2"]
    assert events[1]["agentId"] is None and list(events[0]) == [
        "id", "timestamp", "sessionId", "agentId", "eventType", "severity", "payload", "metadata", "prevHash", "hash"]
    assert wire_timeline(chain) == former_timeline(chain)
    assert not verify_wire([chain[0], chain[1]._replace(agent_id="u")])[1]  # e2 was hashed without an actor

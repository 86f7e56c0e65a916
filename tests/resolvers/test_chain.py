"""verify_records (the timeline's chain check) is verify: same hashes, same verdicts, tampered or not."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from resolvers.traces.chain import event_hash, verify, verify_records
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

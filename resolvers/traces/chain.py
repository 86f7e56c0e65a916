"""The per-session hash chain: each event's hash covers its content and its predecessor's hash."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from storage.models import Event
from storage.models.records import EventRecord
from storage.timeutil import iso_ms


def canonical(event: Event | EventRecord, prev_hash: str | None) -> bytes:
    """Sorted keys, no whitespace, times as ISO-8601 milliseconds: the hashed form."""
    return orjson.dumps(
        {
            "id": event.id,
            "sessionId": event.session_id,
            # The actor: the agent of a trace step, the user of a tracked event (before schema
            # version 3 the tracker kept its user in agent_id, so old chains still verify).
            "agentId": event.agent_id if event.agent_id is not None else event.user_id,
            "eventType": event.type,
            "severity": event.severity,
            "timestamp": event.time if isinstance(event, EventRecord) else iso_ms(event.timestamp),
            "payload": event.payload,
            "metadata": event.metadata,
            "prevHash": prev_hash,
        },
        option=orjson.OPT_SORT_KEYS,
    )


def event_hash(event: Event | EventRecord, prev_hash: str | None) -> str:
    return hashlib.sha256(canonical(event, prev_hash)).hexdigest()


def verify_records(chain: Iterable[EventRecord]) -> bool:
    """verify on records, for 1,000-event timelines: the same dict as canonical builds (same keys, same
    values, so the same bytes and hashes; tests/resolvers/test_chain.py holds it to verify), with each
    record unpacked once and no two calls per event. Sorted keys are orjson's, as in canonical."""
    prev: str | None = None
    expected_seq = 1
    for (id_, session_id, agent_id, user_id, type_, severity, _ts_ms, time, seq, _model, _tin, _tout, _dur,
         payload, metadata, prev_hash, hash_) in chain:
        if seq != expected_seq or prev_hash != prev:
            return False
        body = _dumps(
            {
                "id": id_,
                "sessionId": session_id,
                "agentId": agent_id if agent_id is not None else user_id,
                "eventType": type_,
                "severity": severity,
                "timestamp": time,
                "payload": payload,
                "metadata": metadata,
                "prevHash": prev,
            },
            option=_SORT_KEYS,
        )
        if hash_ != _sha256(body).hexdigest():
            return False
        prev = hash_
        expected_seq += 1
    return True


_dumps, _SORT_KEYS, _sha256 = orjson.dumps, orjson.OPT_SORT_KEYS, hashlib.sha256


def verify_wire(chain: Sequence[EventRecord]) -> tuple[list[dict[str, Any]], bool]:
    """The chain's events as seed 004's wire writes them, in time order, and verify_records(chain): one pass.

    That wire's event is canonical's dict under the same names (the chain was defined on them) plus the
    hash, in the wire's key order: id, timestamp, sessionId, agentId, eventType, severity, payload, metadata,
    prevHash, hash. So each event's answer dict is built once and, before its hash is added, hashed as it
    is: the keys are sorted when hashed, so their order does not matter. Two differences need care: the
    hashed prevHash is the predecessor's hash (the answer's is the stored one; hashed only once they are
    equal, as verify_records checks first) and the hashed agentId falls back to the user (a tracked
    event's), a dict of its own for those. Past the first failure, as verify_records returns there, nothing
    more is hashed. The order is sorted(chain, key=(ts_ms, seq)), stable: the chain is in seq order, so
    usually in time order already, and then it is not sorted. tests/resolvers/test_chain.py holds the
    answers and verdicts to verify_records and the handler's former rendering."""
    out: list[dict[str, Any]] = []
    append = out.append
    prev: str | None = None
    expected_seq = 1
    valid = True
    ordered = True
    last_key: tuple[Any, Any] | None = None
    for (id_, session_id, agent_id, user_id, type_, severity, ts_ms, time, seq, _model, _tin, _tout, _dur,
         payload, metadata, prev_hash, hash_) in chain:
        key = (ts_ms, seq)  # sorted's key, compared as sorted compares it: no sort when no key is below the last
        if last_key is not None and key < last_key:
            ordered = False
        last_key = key
        event = {
            "id": id_,
            "timestamp": time,
            "sessionId": session_id,
            "agentId": agent_id,
            "eventType": type_,
            "severity": severity,
            "payload": payload,
            "metadata": metadata,
            "prevHash": prev_hash,
        }
        if valid:
            if seq != expected_seq or prev_hash != prev:
                valid = False
            else:
                hashed = event if agent_id is not None or user_id is None else {**event, "agentId": user_id}
                if hash_ != _sha256(_dumps(hashed, option=_SORT_KEYS)).hexdigest():
                    valid = False
                prev = hash_
                expected_seq += 1
        event["hash"] = hash_
        append(event)
    if not ordered:
        keys = [(r.ts_ms, r.seq) for r in chain]
        out = [out[i] for i in sorted(range(len(out)), key=keys.__getitem__)]
    return out, valid


def verify(chain: Iterable[Event] | Iterable[EventRecord]) -> bool:
    """True when the events, in seq order, link and hash exactly as stored."""
    prev: str | None = None
    expected_seq = 1
    for event in chain:
        if event.seq != expected_seq or event.prev_hash != prev:
            return False
        if event.hash != event_hash(event, prev):
            return False
        prev = event.hash
        expected_seq += 1
    return True

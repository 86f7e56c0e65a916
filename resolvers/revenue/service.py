"""Customers, goal types, goals, outcomes and revenues: create, read, list, change, delete, per project.

Shared by seed 000's REST routes and the GraphQL mutations. Fields arrive in snake_case, already of
the right JSON types (each surface checks its own wire format); here their meaning is checked:
exact amounts, ISO 4217 currencies, and that every reference (agent, goal, goal type, customer,
event) names a record of the same project, or the request is answered 404 and nothing is stored.
A revenue or outcome naming an event belongs to the event's session, kept with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from resolvers.core.errors import InputError, NotFound, Problem
from resolvers.core.idempotency import new_claim
from resolvers.core.ids import new_uuid
from resolvers.core.services import Services
from resolvers.revenue.ids import check_agent_id, check_id, keyed_short_id, new_short_id
from resolvers.revenue.money import parse_amount, parse_currency
from storage.contract import Conflict, Created, Page, PageResult, RecordQuery
from storage.models.revenue import Customer, Goal, GoalType, Outcome, Revenue, RevenueRecord
from storage.timeutil import now_ms, utc_ms

R = TypeVar("R", bound=RevenueRecord)
MAX_TEXT = 2000
MAX_NAME = 200
MAX_KEY = 255
NAMES: dict[type[RevenueRecord], str] = {
    Customer: "customer", GoalType: "goal type", Goal: "goal", Outcome: "outcome", Revenue: "revenue",
}
# Reference fields and the kind each names ("agent" and "event" are trace records).
REFERENCES: dict[str, str | type[RevenueRecord]] = {
    "agent_id": "agent", "event_id": "event", "goal_id": Goal, "goal_type_id": GoalType, "customer_id": Customer,
}
REQUIRED: dict[type[RevenueRecord], tuple[str, ...]] = {
    Customer: (), GoalType: ("name",), Goal: ("name",), Outcome: ("name",), Revenue: ("amount",),
}


@dataclass(frozen=True, slots=True)
class Keyed:
    """An Idempotency-Key on a create: the request's fingerprint and how its answer is stored."""

    key: str
    fingerprint: str
    answer: Callable[[Any], tuple[int, bytes, str]]


def _text(value: Any, where: str, limit: int = MAX_TEXT) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InputError(Problem(where, f"a string of at most {limit} characters"))
    return value


def _name(value: Any, where: str = "name") -> str:
    text = _text(value, where, MAX_NAME)
    if text is None or not text.strip():
        raise InputError(Problem(where, f"a non-empty string of at most {MAX_NAME} characters"))
    return text


async def _check_reference(services: Services, project_id: str, name: str, value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(Problem(where, "must be an id (a string)"))
    target = REFERENCES[name]
    if target == "agent":
        check_agent_id(value, where)
        if not await services.store.traces.agents_by_ids(project_id, [value]):
            raise NotFound("agent", value)
    elif target == "event":
        check_agent_id(value, where)  # event ids are the SDK's, as agent ids are
    else:
        assert isinstance(target, type)
        check_id(value, where)
        if not await services.store.revenue.records_by_ids(target, project_id, [value]):
            raise NotFound(NAMES[target], value)
    return value


async def _event_session(services: Services, project_id: str, event_id: str) -> str:
    found = await services.store.traces.events_by_ids(project_id, [event_id])
    if not found:
        raise NotFound("event", event_id)
    return found[0].session_id


async def _values(
    services: Services, project_id: str, kind: type[RevenueRecord], fields: Mapping[str, Any], *, creating: bool
) -> dict[str, Any]:
    """The stored values for the given fields (all of a create's, or a change's), checked."""
    if creating:
        missing = [f for f in REQUIRED[kind] if fields.get(f) is None]
        if missing:
            raise InputError([Problem(_camel(f), "is required") for f in missing])
    out: dict[str, Any] = {}
    for name, value in fields.items():
        where = _camel(name)
        if name in REFERENCES:
            out[name] = await _check_reference(services, project_id, name, value, where)
            if name == "event_id":
                out["session_id"] = None if value is None else await _event_session(services, project_id, value)
        elif name == "amount":
            if value is None:
                raise InputError(Problem(where, "is required"))
            out["amount_nanos"] = parse_amount(value, where)
        elif name == "value":
            out["value_nanos"] = None if value is None else parse_amount(value, where)
        elif name == "currency":
            out["currency"] = parse_currency(value, where)
        elif name == "name":
            out["name"] = _name(value, where)
        elif name in ("key", "source", "email"):
            text = _text(value, where, MAX_KEY)
            if name == "source" and not (text or "").strip():
                raise InputError(Problem(where, f"a non-empty string of at most {MAX_KEY} characters"))
            if text is not None or name == "email" or kind is Customer:
                out[name] = text
        elif name == "description":
            out["description"] = _text(value, where)
        elif name == "metadata":
            if not isinstance(value, dict):
                raise InputError(Problem(where, "must be a JSON object"))
            out["metadata"] = value
        elif name == "recorded_at":
            if not isinstance(value, datetime):
                raise InputError(Problem(where, "must be an ISO 8601 timestamp"))
            out["recorded_at"] = utc_ms(value)
        else:
            raise InputError(Problem(where, "is not a field of this record"))
    return out


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(p.capitalize() for p in rest)


async def create(
    services: Services, project_id: str, kind: type[R], fields: Mapping[str, Any], keyed: Keyed | None = None
) -> Created[R]:
    """A new record; under an Idempotency-Key at most one per key, the first answer replayed after."""
    values = await _values(services, project_id, kind, fields, creating=True)
    now = now_ms()
    record_id = keyed_short_id(project_id, kind.__name__, keyed.key) if keyed else new_short_id()
    if kind in (Revenue, Outcome):
        values.setdefault("key", None)
        values["key"] = values["key"] or new_uuid()
        values.setdefault("recorded_at", now)
    record = kind(project_id=project_id, id=record_id, created_at=now, updated_at=now, **values)
    if keyed is None:
        return await services.store.revenue.create_record(record)
    claim = new_claim(project_id, keyed.key, keyed.fingerprint, services.limits.idempotency_window.total_seconds(),
                      keyed.answer)
    created = await services.store.revenue.create_record(record, claim)
    if created.response is not None and created.response.fingerprint != keyed.fingerprint:
        raise Conflict(f"Idempotency-Key {keyed.key!r} was already used with a different request")
    return created


async def get(services: Services, project_id: str, kind: type[R], record_id: str) -> R:
    check_id(record_id)
    found = await services.store.revenue.records_by_ids(kind, project_id, [record_id])
    if not found:
        raise NotFound(NAMES[kind], record_id)
    return found[0]


def check_references(query: RecordQuery) -> None:
    """A filter naming a record by an id that cannot be one is refused ("Invalid ID"), as on a path."""
    for name, value in query.where.items():
        if name in REFERENCES and isinstance(value, str):
            (check_agent_id if REFERENCES[name] in ("agent", "event") else check_id)(value, _camel(name))


async def find(services: Services, project_id: str, kind: type[R], query: RecordQuery, page: Page) -> PageResult[R]:
    check_references(query)
    return await services.store.revenue.find_records(kind, project_id, query, page)


async def update(services: Services, project_id: str, kind: type[R], record_id: str, fields: Mapping[str, Any]) -> R:
    current = await get(services, project_id, kind, record_id)
    values = await _values(services, project_id, kind, fields, creating=False)
    changed = current.model_copy(update={**values, "updated_at": now_ms()})
    if not await services.store.revenue.update_record(changed):
        raise NotFound(NAMES[kind], record_id)  # deleted since it was read
    return changed


async def delete(services: Services, project_id: str, kind: type[RevenueRecord], record_id: str) -> None:
    check_id(record_id)
    if not await services.store.revenue.delete_record(kind, project_id, record_id):
        raise NotFound(NAMES[kind], record_id)

"""The analytics engine: validated AnalyticsQuery runs, funnels and retention, on either store.

Every surface (seed 003's routes, seed 002's /analytics, GraphQL, and the
anomaly, experiment and revenue domains) asks through here, so caps and
semantics are the same everywhere:

- a query spans at most MAX_RANGE (and ends after it starts);
- it returns at most MAX_ROWS groups (funnel and retention scan at most
  MAX_SCAN rows; past that they answer 400 asking for a narrower range);
- at most 3 group-bys, 10 metrics, 20 filters.

The store compiles the query (storage/models/analytics.py says what each part
means); the engine rounds floats to 9 decimal places so both stores agree. Sums of
money (revenues' amount_nanos) come back as exact ints and are never rounded.
Funnels (funnels.py) and retention (retention.py) are built on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from resolvers.core.errors import InputError, Problem
from resolvers.core.services import Services
from storage.models.analytics import (
    FIELDS,
    HAS_USERS,
    PROPERTIES,
    AnalyticsQuery,
    Filter,
    Ref,
    Row,
)

MAX_RANGE = timedelta(days=400)
MAX_ROWS = 10_000
UNCAPPED_ROWS = 2**31 - 1  # aggregate_all's limit: every group
MAX_SCAN = 2_000_000
MAX_GROUPS, MAX_METRICS, MAX_FILTERS, MAX_STEPS = 3, 10, 20, 10
NUMERIC_METRICS = ("sum", "avg", "min", "max", "percentile")
ACTORS = ("user_id", "anonymous_id", "session_id")


def check_range(start: datetime, end: datetime, where: str = "since") -> None:
    if end <= start:
        raise InputError(Problem(where, "the range must end after it starts"))
    if end - start > MAX_RANGE:
        raise InputError(Problem(where, f"a range spans at most {MAX_RANGE.days} days"))


def check_ref(ref: Ref, source: str, where: str) -> None:
    if ref.kind == "field" and ref.name not in FIELDS[source]:
        raise InputError(Problem(where, f"unknown field {ref.name!r}; fields: {', '.join(FIELDS[source])}"))
    if ref.kind == "property" and source not in PROPERTIES:
        raise InputError(Problem(where, f"{source} have no properties; fields: {', '.join(FIELDS[source])}"))
    if ref.kind == "property" and not (0 < len(ref.name) <= 128):
        raise InputError(Problem(where, "a property name has 1 to 128 characters"))


SCALARS = (str, int, float, bool, type(None))
INT64 = 2**63


def _scalar(value: Any) -> bool:
    """A value both stores can compare: a string, a 64-bit integer, a finite number, a boolean or null."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return -INT64 <= value < INT64
    return isinstance(value, float) and value == value and abs(value) != float("inf")


def check_filters(filters: Sequence[Filter], source: str, where: str = "filters") -> None:
    if len(filters) > MAX_FILTERS:
        raise InputError(Problem(where, f"at most {MAX_FILTERS} filters"))
    for i, f in enumerate(filters):
        check_ref(f.ref, source, f"{where}[{i}]")
        if f.op in ("eq", "neq") and not _scalar(f.value):
            raise InputError(Problem(f"{where}[{i}].value", "a string, a number, a boolean or null"))
        if f.op in ("gt", "gte", "lt", "lte") and (isinstance(f.value, bool) or f.value is None
                                                   or not _scalar(f.value)):
            raise InputError(Problem(f"{where}[{i}].value", "a number or a string to compare with"))
        if f.op == "in" and isinstance(f.value, tuple) and not all(_scalar(v) for v in f.value):
            raise InputError(Problem(f"{where}[{i}].value", "a list of strings, numbers, booleans or nulls"))
        if f.op == "in" and (not isinstance(f.value, tuple) or not f.value or len(f.value) > 100):
            raise InputError(Problem(f"{where}[{i}].value", "in takes a list of 1 to 100 values"))
        if f.op == "exists" and not isinstance(f.value, bool):
            raise InputError(Problem(f"{where}[{i}].value", "exists takes true or false"))
        if f.op == "contains" and not isinstance(f.value, str):
            raise InputError(Problem(f"{where}[{i}].value", "contains takes a string"))


def validate(query: AnalyticsQuery) -> None:
    check_range(query.start, query.end, "from")
    check_filters(query.filters, query.source)
    if len(query.group_by) > MAX_GROUPS:
        raise InputError(Problem("group_by", f"at most {MAX_GROUPS} group-bys"))
    for i, g in enumerate(query.group_by):
        if (g.ref is None) == (g.bucket is None):
            raise InputError(Problem(f"group_by[{i}]", "group by a field, a property or a time bucket"))
        if g.ref is not None:
            check_ref(g.ref, query.source, f"group_by[{i}]")
    if not query.metrics or len(query.metrics) > MAX_METRICS:
        raise InputError(Problem("metrics", f"1 to {MAX_METRICS} metrics"))
    for i, m in enumerate(query.metrics):
        if m.kind == "unique_users" and query.source not in HAS_USERS:
            raise InputError(Problem(f"metrics[{i}]", f"{query.source} have no user_id"))
        if m.kind in NUMERIC_METRICS:
            if m.ref is None:
                raise InputError(Problem(f"metrics[{i}]", f"{m.kind} needs a numeric field or property"))
            check_ref(m.ref, query.source, f"metrics[{i}]")
        if m.kind == "percentile" and not (m.p is not None and 0 < m.p <= 1):
            raise InputError(Problem(f"metrics[{i}].p", "a percentile is between 0 (exclusive) and 1"))
        if m.where and m.kind != "rate":  # only a rate has hits; silently counting every row would mislead
            raise InputError(Problem(f"metrics[{i}].where", f"only a rate takes filters for its hits, not {m.kind}"))
        if m.kind == "rate":
            if not m.where:
                raise InputError(Problem(f"metrics[{i}]", "a rate needs the filters its hits match"))
            check_filters(m.where, query.source, f"metrics[{i}].where")
    if not (1 <= query.limit <= MAX_ROWS):
        raise InputError(Problem("limit", f"between 1 and {MAX_ROWS}"))


def _rounded(value: Any) -> Any:
    return round(value, 9) if isinstance(value, float) else value


def _rounded_row(row: Row) -> Row:
    """The row with its floats rounded; the row itself when it has none (sums and counts are ints)."""
    if any(isinstance(v, float) for v in row.values):
        return Row(row.keys, tuple(_rounded(v) for v in row.values))
    return row


async def aggregate(services: Services, query: AnalyticsQuery) -> list[Row]:
    validate(query)
    rows = await services.store.analytics.aggregate(query)
    return [_rounded_row(r) for r in rows]


async def aggregate_all(services: Services, query: AnalyticsQuery) -> list[Row]:
    """aggregate() without the MAX_ROWS cap, for LensGraph's own roll-ups that must see every group (revenue by
    customer has tens of thousands); never for a caller's query. One statement: paging by key re-read the rest of
    the index per page (revenue by customer, 59,685 groups: 1.5 s in six pages)."""
    validate(replace(query, limit=1))
    rows = await services.store.analytics.aggregate(replace(query, limit=UNCAPPED_ROWS))
    return [_rounded_row(r) for r in rows]


async def total(services: Services, query: AnalyticsQuery) -> tuple[Any, ...]:
    """The metrics over the whole range (no groups): one value per metric."""
    rows = await aggregate(services, replace(query, group_by=(), order_by=(), limit=1))
    if rows:
        return rows[0].values
    return tuple(0 if m.kind in ("count", "unique_users", "unique_sessions") else None for m in query.metrics)

"""What every ingest and read accepts, bounded where the input is parsed.

The limits keep every accepted value storable and readable on both backends
(64-bit integers, JSON documents orjson can write back, instants Python and
BSON represent exactly), so no accepted input can fail later with a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from storage.timeutil import MAX_TIME, MIN_TIME, utc_ms

INT64_MAX = 2**63 - 1
# Per event: generous for any real call, far below what a session's 64-bit totals can hold.
MAX_TOKENS = 10**12
MAX_COST_USD = 10**6
MAX_DURATION_MS = 10**12  # about 31 years
MAX_OFFSET = 10**9
MAX_PROJECT_REF = 200  # a project id or name, as a request names it (seed 001's account_id, seed 000's project)
# orjson writes documents up to 255 levels deep; agent payloads need far fewer.
MAX_JSON_DEPTH = 64


def to_instant(value: datetime) -> datetime:
    """Aware UTC at millisecond precision; naive input is UTC. Raises ValueError past years 1-9999 in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        converted = utc_ms(value)
    except OverflowError:
        converted = None
    if converted is None or not MIN_TIME <= converted <= MAX_TIME:
        raise ValueError("must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z")
    return converted


# A client-supplied instant, for pydantic models.
Instant = Annotated[datetime, Field(strict=False), AfterValidator(to_instant)]
Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
CostUsd = Annotated[float, Field(ge=0, le=MAX_COST_USD)]
DurationMs = Annotated[float, Field(ge=0, le=MAX_DURATION_MS)]
ProjectRef = Annotated[str, Field(min_length=1, max_length=MAX_PROJECT_REF)]


def json_problem(value: Any, limit: int = MAX_JSON_DEPTH, *, integers: bool = True) -> str | None:
    """Why a JSON document cannot be stored on every backend, or None: too deep, or (with integers) an
    integer past 64 bits (orjson reads unsigned 64-bit integers, BSON holds signed ones). Request bodies
    are checked for depth as they are read; what is stored, field by field, for both in ingest."""
    if type(value) is dict:
        # The common case, walked without a stack: a flat object of strings, numbers, booleans and nulls.
        flat = True
        for child in value.values():
            kind = type(child)
            if kind is str or kind is float or kind is bool or child is None:
                continue
            if kind is int and (not integers or -INT64_MAX - 1 <= child <= INT64_MAX):
                continue
            flat = False
            break
        if flat:
            return None if limit >= 1 else f"nests objects and arrays deeper than {limit} levels"
    return _problem(value, 1, limit, integers)


def _problem(node: Any, depth: int, limit: int, integers: bool) -> str | None:
    """json_problem's walk, depth first with the last child first (the order its stack walk had, so the
    same problem is named first); exact JSON types are tested before isinstance."""
    kind = type(node)
    if kind is dict:
        children: Any = node.values()
    elif kind is list:
        children = node
    elif kind is str or kind is float or kind is bool or node is None:
        return None
    elif integers and isinstance(node, int) and not isinstance(node, bool):
        if not -INT64_MAX - 1 <= node <= INT64_MAX:
            return "holds an integer outside the signed 64-bit range; send it as a string"
        return None
    elif isinstance(node, dict):
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    if depth > limit:
        return f"nests objects and arrays deeper than {limit} levels"
    for child in reversed(children):
        kind = type(child)
        if kind is str or kind is float or kind is bool or child is None:
            continue
        if kind is int and (not integers or -INT64_MAX - 1 <= child <= INT64_MAX):
            continue
        problem = _problem(child, depth + 1, limit, integers)
        if problem is not None:
            return problem
    return None


def saturating_add(total: int, more: int) -> int:
    """Session totals stop at the largest 64-bit integer instead of overflowing the store."""
    return min(total + more, INT64_MAX)

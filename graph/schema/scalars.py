"""Scalars with LensGraph's one wire form, shared with the REST families."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graphql import GraphQLError
from strawberry.types.scalar import ScalarDefinition, scalar

from resolvers.core.bounds import to_instant
from storage.timeutil import iso_ms


def parse_datetime(value: Any) -> datetime:
    """ISO 8601; an input without an offset is UTC. Kept at millisecond precision, as stored.

    Raises GraphQLError: graphql-core reports it as the input's problem (for literals and variables
    alike), where another exception from a literal would surface as an internal error."""
    if not isinstance(value, str):
        raise GraphQLError("DateTime must be an ISO 8601 string, e.g. 2026-02-08T10:00:00.000Z")
    try:
        return to_instant(datetime.fromisoformat(value))
    except ValueError as exc:
        reason = str(exc) if "between" in str(exc) else "is not an ISO 8601 date-time"
        raise GraphQLError(f"DateTime {value[:40]!r} {reason}, e.g. 2026-02-08T10:00:00.000Z") from None


def serialize_datetime(value: datetime) -> str:
    return iso_ms(value)


DateTime: ScalarDefinition = scalar(
    name="DateTime",
    description="An instant as ISO 8601 in UTC with milliseconds, e.g. 2026-02-08T10:00:00.000Z "
    "(the REST routes' form). Input without an offset is read as UTC.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)

SCALAR_MAP: dict[object, ScalarDefinition] = {datetime: DateTime}

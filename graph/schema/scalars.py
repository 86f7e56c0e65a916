"""Scalars with LensGraph's one wire form, shared with the REST families."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types.scalar import ScalarDefinition, scalar

from storage.timeutil import iso_ms, utc_ms


def parse_datetime(value: Any) -> datetime:
    """ISO 8601; an input without an offset is UTC. Kept at millisecond precision, as stored."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string, e.g. 2026-02-08T10:00:00.000Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date-time, e.g. 2026-02-08T10:00:00.000Z") from None
    return utc_ms(parsed)


def serialize_datetime(value: datetime) -> str:
    return iso_ms(value)


DateTime: ScalarDefinition = scalar(
    datetime,
    name="DateTime",
    description="An instant as ISO 8601 in UTC with milliseconds, e.g. 2026-02-08T10:00:00.000Z "
    "(the REST routes' form). Input without an offset is read as UTC.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)._scalar_definition  # type: ignore[attr-defined]

SCALAR_OVERRIDES: dict[object, Any] = {datetime: DateTime}

__all__ = ["SCALAR_OVERRIDES", "DateTime", "strawberry"]

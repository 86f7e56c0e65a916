"""Millisecond UTC time, the precision every backend keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000 + (0.5 if value.timestamp() >= 0 else -0.5))


@overload
def from_ms(value: int) -> datetime: ...
@overload
def from_ms(value: None) -> None: ...
def from_ms(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def utc_ms(value: datetime) -> datetime:
    """Aware UTC, truncated to the millisecond (naive input is taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def now_ms() -> datetime:
    return utc_ms(datetime.now(UTC))


def iso_ms(value: datetime) -> str:
    """2026-02-08T10:00:00.000Z, the seeds' wire form."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

"""Time-ordered ids: ULIDs (and their UUID form where a seed promises a UUID)."""

from __future__ import annotations

from ulid import ULID


def new_id() -> str:
    return str(ULID())


def new_uuid() -> str:
    return str(ULID().to_uuid())

"""What every backend's retention deletes in one batch: whole sessions, oldest first, within a budget of events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def whole_sessions_within(rows: Iterable[Sequence[Any]], max_events: int) -> list[str]:
    """(id, event_count) rows, oldest first -> the ids to delete: at least one session, then as many as fit."""
    chosen: list[str] = []
    events = 0
    for session_id, count in rows:
        if chosen and events + count > max_events:
            break
        chosen.append(session_id)
        events += count
    return chosen

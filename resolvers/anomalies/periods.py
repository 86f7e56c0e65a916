"""Named date ranges as seed 001 writes them (`last_7_days`): half-open UTC ranges [start, end).

Days are UTC calendar days; `last_N_days` is the N days ending with today (today included), as the
chat's context uses it; an explicit range is `YYYY-MM-DD..YYYY-MM-DD` (or with a comma), both days included.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from resolvers.core.errors import InputError, Problem

DAY = timedelta(days=1)
MAX_DAYS = 400
NAMED = ("today", "yesterday", "last_24_hours", "last_N_days", "this_week", "last_week", "this_month",
         "last_month", "YYYY-MM-DD..YYYY-MM-DD")
_LAST_DAYS = re.compile(r"last_(\d{1,3})_days")
_BETWEEN = re.compile(r"(\d{4}-\d\d-\d\d)(?:\.\.|,)(\d{4}-\d\d-\d\d)")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def date_range(raw: str, now: datetime, where: str = "date_range") -> tuple[datetime, datetime]:
    today = now.astimezone(UTC).date()
    tomorrow = _midnight(today) + DAY
    if raw == "today":
        return _midnight(today), tomorrow
    if raw == "yesterday":
        return _midnight(today) - DAY, _midnight(today)
    if raw == "last_24_hours":
        return now - DAY, now
    if raw in ("this_week", "last_week"):
        monday = _midnight(today) - timedelta(days=today.weekday())
        return (monday, tomorrow) if raw == "this_week" else (monday - 7 * DAY, monday)
    if raw == "this_month":
        return _midnight(month_start(today)), tomorrow
    if raw == "last_month":
        first = month_start(today)
        return _midnight(month_start(first - DAY)), _midnight(first)
    if m := _LAST_DAYS.fullmatch(raw):
        days = int(m.group(1))
        if not 1 <= days <= MAX_DAYS:
            raise InputError(Problem(where, f"last_N_days takes 1 to {MAX_DAYS} days"))
        return tomorrow - days * DAY, tomorrow
    if m := _BETWEEN.fullmatch(raw):
        try:
            first, last = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
        except ValueError as exc:
            raise InputError(Problem(where, f"not a calendar date ({exc})")) from None
        if last < first:
            raise InputError(Problem(where, "the range ends before it starts"))
        return _midnight(first), _midnight(last) + DAY
    raise InputError(Problem(where, f"unknown date range {raw[:40]!r}; one of {', '.join(NAMED)}"))

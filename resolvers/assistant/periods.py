"""Periods in plain words: "yesterday", "last week", "since Monday", "the last 30 days", "in March".

Every period is a half-open UTC range [start, end) with the period before it to compare against: the
same length immediately before (the week before last week, the day before yesterday; for a period
still running, such as "this week" or "since Monday", the same stretch of the previous week or month
up to the same point). Weeks start on Monday, as the analytics engine's buckets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
UNITS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10, "fourteen": 14,
           "thirty": 30, "ninety": 90, "a": 1}
# The seed's context.date_range values, and the like
NAMED_RANGES = re.compile(r"\b(?:last|past)_(\d+)_(hour|day|week)s?\b")


@dataclass(frozen=True, slots=True)
class Period:
    label: str  # how an answer names it: "last week", "yesterday"
    start: datetime
    end: datetime
    previous_label: str
    previous_start: datetime
    previous_end: datetime


def _day(at: datetime) -> datetime:
    return datetime(at.year, at.month, at.day, tzinfo=UTC)


def _month_start(year: int, month: int) -> datetime:
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def _shifted(label: str, start: datetime, end: datetime, before: str) -> Period:
    """A period compared with the same length immediately before it."""
    return Period(label, start, end, before, start - (end - start), start)


def _trailing(n: int, unit: str, now: datetime) -> Period:
    span = UNITS[unit] * n
    label = f"the last {n} {unit}s" if n != 1 else f"the last {unit}"
    if unit == "hour":
        return _shifted(label, now - span, now, f"the {label[4:]} before")
    # whole days, today included (as the insights endpoint counts "the last 7 days")
    end = _day(now) + timedelta(days=1)
    return _shifted(label, end - span, end, f"the {n} {unit}{'s' if n != 1 else ''} before")


def parse_period(text: str, now: datetime) -> Period | None:
    """The period a question names, or None when it names none."""
    t = text.lower().replace("-", " ")
    today = _day(now)
    monday = today - timedelta(days=today.weekday())
    month = _month_start(today.year, today.month)
    if m := NAMED_RANGES.search(t):
        return _trailing(int(m.group(1)), m.group(2), now)
    number = r"(\d+|" + "|".join(NUMBERS) + r")"
    if m := re.search(rf"\b(?:last|past|previous)\s+{number}\s+(hour|day|week)s?\b", t):
        raw = m.group(1)
        return _trailing(int(raw) if raw.isdigit() else NUMBERS[raw], m.group(2), now)
    if re.search(r"\byesterday\b", t) and not re.search(r"\bsince yesterday\b", t):
        return _shifted("yesterday", today - timedelta(days=1), today, "the day before")
    if re.search(r"\bsince yesterday\b", t):
        return Period("since yesterday", today - timedelta(days=1), now, "the same hours a day earlier",
                      today - timedelta(days=2), now - timedelta(days=1))
    if re.search(r"\btoday\b", t):
        return Period("today", today, now, "yesterday at this time", today - timedelta(days=1),
                      now - timedelta(days=1))
    if m := re.search(r"\bsince (?:last )?(" + "|".join(WEEKDAYS) + r")\b", t):
        start = monday + timedelta(days=WEEKDAYS.index(m.group(1)))
        if start > today:
            start -= timedelta(weeks=1)
        return Period(f"since {m.group(1).title()}", start, now, "the same stretch a week earlier",
                      start - timedelta(weeks=1), now - timedelta(weeks=1))
    if re.search(r"\b(?:last|previous|past) week\b", t):
        return _shifted("last week", monday - timedelta(weeks=1), monday, "the week before")
    if re.search(r"\bthis week\b", t):
        return Period("this week", monday, now, "last week to the same point", monday - timedelta(weeks=1),
                      now - timedelta(weeks=1))
    if re.search(r"\b(?:last|previous|past) month\b", t):
        start = _month_start(today.year, today.month - 1)
        return Period("last month", start, month, "the month before", _month_start(today.year, today.month - 2),
                      start)
    if re.search(r"\bthis month\b", t):
        before = _month_start(today.year, today.month - 1)
        return Period("this month", month, now, "last month to the same point", before,
                      min(before + (now - month), month))
    if m := re.search(r"\b(?:on|last) (" + "|".join(WEEKDAYS) + r")\b", t):
        day = monday + timedelta(days=WEEKDAYS.index(m.group(1)))
        if day >= today:
            day -= timedelta(weeks=1)
        return _shifted(f"on {m.group(1).title()}", day, day + timedelta(days=1), "the day before")
    if m := re.search(r"\bin (" + "|".join(MONTHS) + r")\b", t):
        number_of = MONTHS.index(m.group(1)) + 1
        year = today.year if number_of <= today.month else today.year - 1
        start = _month_start(year, number_of)
        end = min(_month_start(year, number_of + 1), now)
        return Period(f"in {m.group(1).title()}", start, end, "the month before", _month_start(year, number_of - 1),
                      start)
    return None


def default_period(now: datetime) -> Period:
    """What a question that names no period is about: the last 7 days."""
    return _trailing(7, "day", now)


__all__ = ["Period", "default_period", "parse_period"]

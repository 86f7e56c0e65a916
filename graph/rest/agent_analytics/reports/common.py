"""Parameters and helpers every seed-003 report shares: the project read, `since`, limits, the tracked-events filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from graph.rest.agent_analytics.reports_wire import (
    RawEventOut,
)
from graph.rest.http import query_int
from graph.rest.keys import PRINCIPAL, SERVICES
from resolvers.core.errors import InputError, Problem
from resolvers.projects import service as projects
from storage.models import Event
from storage.models.analytics import TRACKED, AnalyticsQuery, Ref
from storage.timeutil import now_ms, to_ms

DAY = timedelta(days=1)


DEFAULT_DAYS = 7


TOP = 20


MAX_LIMIT = 1000


DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


# Product fields kept as columns: a breakdown by one reads the column (which holds what the tracker
# sent, or what the server derived), any other name a property.
COLUMN_PROPERTIES = (
    "country", "device", "browser", "os", "path", "url", "referrer", "referrer_domain",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
)


PROPERTY_KEY = r"^[A-Za-z0-9_]{1,128}$"


def day_start(value: datetime) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def iso_date(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def parse_since(raw: str | None, name: str = "since", default_days: int = DEFAULT_DAYS) -> datetime:
    """Start of the UTC day `raw` names: an ISO date or time, or N days ago ("7d")."""
    today = day_start(now_ms())
    if raw is None or raw == "":
        return today - timedelta(days=default_days)
    if raw.endswith("d") and raw[:-1].isdigit():
        days = int(raw[:-1])
        if days > 400:
            raise InputError(Problem(name, "at most 400d"))
        return today - timedelta(days=days)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        start = day_start(parsed.astimezone(UTC))
    except (ValueError, OverflowError):  # OverflowError: year 1 at +01:00 is before year 1 in UTC
        raise InputError(Problem(name, f"must be an ISO 8601 date or time or <N>d, got {raw[:40]!r}")) from None
    if start > today:
        raise InputError(Problem(name, "is in the future"))
    if today - start > timedelta(days=400):
        raise InputError(Problem(name, "reaches back at most 400 days"))
    return start


def until_today() -> datetime:
    """The end of today (UTC), exclusive: ranges run through today."""
    return day_start(now_ms()) + DAY


def row_limit(request: web.Request, default: int) -> int:
    return query_int(request, "limit", default, low=1, high=MAX_LIMIT)


async def read_project(request: web.Request, ref: Any = None) -> tuple[str, str]:
    """(project id, the name the caller used) for this read."""
    services, principal = request.config_dict[SERVICES], request[PRINCIPAL]
    ref = request.query.get("project") if ref is None else ref
    if ref is None or ref == "":
        if principal.admin or principal.account_id is not None:  # neither has a project of its own
            raise InputError(Problem("project", "project query parameter required"))
        return principal.project_id, principal.project_id
    if not isinstance(ref, str) or len(ref) > 200:
        raise InputError(Problem("project", "must be a project id or name"))
    project = await projects.resolve_project(services, principal, ref)
    return project.id, ref


def tracked_query(project_id: str, start: datetime, end: datetime, **kw: Any) -> AnalyticsQuery:
    return AnalyticsQuery(project_id, start, end, filters=(TRACKED, *kw.pop("filters", ())), **kw)


def tracked_sessions(project_id: str, start: datetime, end: datetime, **kw: Any) -> AnalyticsQuery:
    return AnalyticsQuery(
        project_id, start, end, source="sessions", filters=(TRACKED, *kw.pop("filters", ())), **kw
    )


def raw_event(e: Event) -> RawEventOut:
    return {
        "id": e.id,
        "project_id": e.project_id,
        "event": e.type,
        "properties": e.payload,
        "user_id": e.user_id,
        "session_id": e.session_id,
        "timestamp": to_ms(e.timestamp),
        "date": iso_date(e.timestamp),
        "country": e.country,
    }


def breakdown_ref(prop: str) -> Ref:
    return Ref(prop) if prop in COLUMN_PROPERTIES else Ref(prop, "property")

"""SQL fragments for SQLite reads: filters, keyset cursors and IN-list helpers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from storage.contract import EventQuery, Page, SessionQuery
from storage.search import normalize_term
from storage.sqlite import search_file
from storage.timeutil import to_ms

CHUNK = 500  # ids per IN (...) list


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _names(columns: str) -> tuple[str, ...]:
    """A column list's names, in order."""
    return tuple(c.strip() for c in columns.split(","))


def _prefixed(columns: str, alias: str) -> str:
    return ", ".join(f"{alias}.{c}" for c in _names(columns))


def _match_any(
    where: list[str], args: list[Any], filters: Iterable[tuple[str, Sequence[str] | None]]
) -> None:
    """column IN (...) for each filter given; an empty list matches nothing."""
    for column, values in filters:
        if values is not None:
            where.append(f"{column} IN ({_marks(len(values))})" if values else "0")
            args.extend(values)


def _between(where: list[str], args: list[Any], column: str, since: datetime | None, until: datetime | None) -> None:
    if since is not None:
        where.append(f"{column} >= ?")
        args.append(to_ms(since))
    if until is not None:
        where.append(f"{column} <= ?")
        args.append(to_ms(until))


def _event_where(project_id: str, q: EventQuery, *, indexed: bool = True) -> tuple[list[str], list[Any]]:
    """indexed: whether the search index holds every event (storage/sqlite/search_index.py); if not, a search
    scans."""
    where, args = ["e.project_id = ?"], [project_id]
    _match_any(
        where,
        args,
        (
            ("e.session_id", q.session_ids),
            ("e.agent_id", q.agent_ids),
            ("e.type", q.types),
            ("e.severity", q.severities),
            ("e.kind", q.kinds),
            ("e.user_id", q.user_ids),
        ),
    )
    _between(where, args, "e.ts", q.since, q.until)
    if q.search:
        term = normalize_term(q.search)
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        if len(term) >= 3 and indexed:
            # The trigram index narrows to the rows with every trigram of the term; the LIKE decides.
            where.append(f"e.rowid IN (SELECT rowid FROM {search_file.SCHEMA}.events_fts WHERE events_fts MATCH ?)")
            args.append(search_file.match_expression(term))
        where.append("e.search_text LIKE ? ESCAPE '\\'")
        args.append(pattern)
    return where, args


def _session_where(project_id: str, q: SessionQuery) -> tuple[list[str], list[Any]]:
    where, args = ["s.project_id = ?"], [project_id]
    _match_any(
        where,
        args,
        (("s.agent_id", q.agent_ids), ("s.status", q.statuses), ("s.kind", q.kinds), ("s.user_id", q.user_ids)),
    )
    if q.bounced is not None:
        where.append("s.event_count = 1" if q.bounced else "s.event_count > 1")
    _between(where, args, "s.started_at", q.since, q.until)
    for tag in q.tags or ():
        where.append(
            "s.id IN (SELECT session_id FROM session_tags WHERE project_id = s.project_id AND tag = ?)"
        )
        args.append(tag)
    return where, args


def _event_after(page: Page) -> tuple[str, list[Any]]:
    if page.after is None:
        return "", []
    ts, session_id, seq = page.after
    op = "<" if page.descending else ">"
    return f"(e.ts, e.session_id, e.seq) {op} (?, ?, ?)", [to_ms(ts), session_id, seq]


def _session_after(page: Page) -> tuple[str, list[Any]]:
    if page.after is None:
        return "", []
    started_at, sid = page.after
    # sessions list newest first unless asked otherwise; keyset follows that order
    op = "<" if page.descending else ">"
    return f"(s.started_at, s.id) {op} (?, ?)", [to_ms(started_at), sid]

"""SQL fragments for SQLite reads: filters, keyset cursors and IN-list helpers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from storage.contract import EventQuery, Page, SessionQuery
from storage.search import normalize_term
from storage.timeutil import to_ms

CHUNK = 500  # ids per IN (...) list


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _prefixed(columns: str, alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def _event_where(project_id: str, q: EventQuery) -> tuple[list[str], list[Any]]:
    where, args = ["e.project_id = ?"], [project_id]
    for column, values in (
        ("e.session_id", q.session_ids),
        ("e.agent_id", q.agent_ids),
        ("e.type", q.types),
        ("e.severity", q.severities),
    ):
        if values is not None:
            where.append(f"{column} IN ({_marks(len(values))})" if values else "0")
            args.extend(values)
    if q.since is not None:
        where.append("e.ts >= ?")
        args.append(to_ms(q.since))
    if q.until is not None:
        where.append("e.ts <= ?")
        args.append(to_ms(q.until))
    if q.search:
        term = normalize_term(q.search)
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        if len(term) >= 3:
            # The trigram index answers LIKE itself; the outer LIKE keeps the exact semantics.
            where.append(
                "e.rowid IN (SELECT rowid FROM events_fts WHERE search_text LIKE ? ESCAPE '\\')"
            )
            args.append(pattern)
        where.append("e.search_text LIKE ? ESCAPE '\\'")
        args.append(pattern)
    return where, args


def _session_where(project_id: str, q: SessionQuery) -> tuple[list[str], list[Any]]:
    where, args = ["s.project_id = ?"], [project_id]
    for column, values in (("s.agent_id", q.agent_ids), ("s.status", q.statuses)):
        if values is not None:
            where.append(f"{column} IN ({_marks(len(values))})" if values else "0")
            args.extend(values)
    if q.since is not None:
        where.append("s.started_at >= ?")
        args.append(to_ms(q.since))
    if q.until is not None:
        where.append("s.started_at <= ?")
        args.append(to_ms(q.until))
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

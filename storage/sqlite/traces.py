"""Trace writes on SQLite: commit_batch, the one event write, in one IMMEDIATE transaction (which it may share
with other batches queued beside it, each in a savepoint of its own: Database.run_grouped)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from storage.contract import Claim, CommitResult, Planner
from storage.contract.live import ChangeFeed
from storage.models import Event, Session
from storage.models.experiments import EXPOSURE_EVENT
from storage.models.traces import PRODUCT_FIELDS
from storage.retention import whole_sessions_within
from storage.sqlite import exposures
from storage.sqlite.database import Database
from storage.sqlite.idempotency import recall, remember
from storage.sqlite.multirow import SparseInsert, insert_many
from storage.sqlite.query import _chunks, _marks, _names
from storage.sqlite.rows import (
    AGENT_COLUMNS,
    EVENT_COLUMNS,
    INSERT_EVENT_COLUMNS,
    SESSION_COLUMNS,
    _event,
    _event_row,
    _prepare,
    _session,
    _session_row,
)
from storage.sqlite.search_index import LAST_POSITION, SearchIndex
from storage.sqlite.traces_reads import TraceReads
from storage.timeutil import to_ms

# Column groups a batch often leaves empty in every row: a trace event has no product fields, a product event
# no LLM call (storage/sqlite/multirow.py, SparseInsert).
LLM_COLUMNS = ("call_id", "model", "tokens_in", "tokens_out", "duration_ms", "cost_nanos")
PRODUCT_COLUMNS = tuple(f for f in PRODUCT_FIELDS if f != "kind")  # every event has a kind
SESSION_PRODUCT_COLUMNS = ("user_id", "entry_path", "exit_path")
INSERT_TAGS = "INSERT OR IGNORE INTO session_tags (project_id, tag, session_id)"
INSERT_AGENTS = f"INSERT INTO agents ({AGENT_COLUMNS})"
# A batch's agents are distinct (the planner keys them by id), so no row of one statement updates another's.
UPSERT_AGENT_TAIL = (
    " ON CONFLICT (project_id, id) DO UPDATE SET"
    " name = COALESCE(excluded.name, agents.name),"
    " first_seen = MIN(agents.first_seen, excluded.first_seen),"
    " last_seen = MAX(agents.last_seen, excluded.last_seen)"
)
UPSERT_SESSION_TAIL = " ON CONFLICT (project_id, id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in [*_names(SESSION_COLUMNS)[2:], "position"]
)
INSERT_EVENTS = SparseInsert("events", _names(INSERT_EVENT_COLUMNS), (LLM_COLUMNS, PRODUCT_COLUMNS))
# A column left out is NULL in `excluded` too, so the tail sets it to NULL, as a bound None did.
UPSERT_SESSIONS = SparseInsert(
    "sessions", (*_names(SESSION_COLUMNS), "position"), (SESSION_PRODUCT_COLUMNS,), UPSERT_SESSION_TAIL
)


class SQLiteTraces(TraceReads):
    def __init__(self, db: Database, feed: ChangeFeed) -> None:
        super().__init__(db, SearchIndex(db))
        self.feed = feed

    async def commit_batch(
        self, project_id: str, events: list[Event], plan: Planner, claim: Claim | None = None
    ) -> CommitResult:
        prepared = {e.id: _prepare(e) for e in events}

        def handed_over(result: CommitResult) -> None:
            if result.inserted and not result.replayed:
                self.feed.committed(project_id, result.inserted, result.sessions)
                self.search.wake()  # it follows in transactions on a file of its own (storage/sqlite/search_index.py)

        return await self.db.run_grouped(
            lambda db: self._commit(db, project_id, events, plan, prepared, claim), handed_over
        )

    def _commit(
        self,
        db: sqlite3.Connection,
        project_id: str,
        events: list[Event],
        plan: Planner,
        prepared: dict[str, tuple[bytes, bytes, str]],
        claim: Claim | None,
    ) -> CommitResult:
        if claim is not None:
            prior = recall(db, claim.project_id, claim.key, claim.created_at)
            if prior is not None:
                return CommitResult(events=[], sessions=[], inserted=[], response=prior, replayed=True)
        result = self._commit_events(db, project_id, events, plan, prepared)
        if claim is not None:
            result.response = claim.record(result)
            remember(db, result.response)
        return result

    def _commit_events(
        self,
        db: sqlite3.Connection,
        project_id: str,
        events: list[Event],
        plan: Planner,
        prepared: dict[str, tuple[bytes, bytes, str]],
    ) -> CommitResult:
        existing: dict[str, Event] = {}
        ids = list(dict.fromkeys(e.id for e in events))
        for chunk in _chunks(ids):
            rows = db.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE project_id = ? AND id IN ({_marks(len(chunk))})",
                (project_id, *chunk),
            ).fetchall()
            existing.update((row[1], _event(row)) for row in rows)
        fresh: list[Event] = []
        seen: set[str] = set(existing)
        for e in events:
            if e.id not in seen:
                seen.add(e.id)
                fresh.append(e)
        if not fresh:
            return CommitResult(events=[existing[e.id] for e in events], sessions=[], inserted=[])

        session_ids = list(dict.fromkeys(e.session_id for e in fresh))
        current: dict[str, Session] = {}
        for chunk in _chunks(session_ids):
            rows = db.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE project_id = ? AND id IN ({_marks(len(chunk))})",
                (project_id, *chunk),
            ).fetchall()
            current.update((row[1], _session(row)) for row in rows)

        result = plan(current, fresh)
        ((last,),) = db.execute(LAST_POSITION).fetchall()
        for offset, event in enumerate(result.events, start=1):
            event.position = last + offset

        INSERT_EVENTS(db, [_event_row(e, prepared[e.id]) for e in result.events])
        if any(e.type == EXPOSURE_EVENT for e in result.events):
            db.execute(exposures.INDEX_BATCH, (last, last + len(result.events)))
        # A session's position is the last commit position that changed it: what other processes tail.
        position = last + len(result.events)
        sessions = [(*_session_row(s), position) for s in result.sessions]
        UPSERT_SESSIONS(db, sessions)
        retagged = [s for s in result.sessions if s.tags != (current[s.id].tags if s.id in current else [])]
        if retagged:
            # Multi-row statements, as for the events: each statement's step hands the GIL back once.
            for chunk in _chunks([s.id for s in retagged]):
                db.execute(
                    f"DELETE FROM session_tags WHERE project_id = ? AND session_id IN ({_marks(len(chunk))})",
                    (project_id, *chunk),
                )
            tags = [(project_id, tag, s.id) for s in retagged for tag in s.tags]
            insert_many(db, INSERT_TAGS, tags)
        if result.agents:
            agents = [(a.project_id, a.id, a.name, to_ms(a.first_seen), to_ms(a.last_seen)) for a in result.agents]
            insert_many(db, INSERT_AGENTS, agents, UPSERT_AGENT_TAIL)
        stored = {e.id: e for e in result.events}
        stored.update(existing)
        return CommitResult(events=[stored[e.id] for e in events], sessions=result.sessions, inserted=result.events)

    async def delete_sessions_before(self, project_id: str, cutoff: datetime, limit: int) -> int:
        """Oldest sessions first, as many whole sessions as fit in limit events (at least one), so a
        batch holds the writer briefly; the FTS delete trigger removes their search entries."""

        def work(db: sqlite3.Connection) -> int:
            rows = db.execute(
                "SELECT id, event_count FROM sessions WHERE project_id = ? AND COALESCE(last_event_at, started_at) < ?"
                " ORDER BY last_event_at LIMIT ?",
                (project_id, to_ms(cutoff), max(limit, 1)),
            ).fetchall()
            ids = whole_sessions_within(rows, limit)
            if not ids:
                return 0
            marks = _marks(len(ids))
            for table, column in (("events", "session_id"), ("session_tags", "session_id"), ("sessions", "id")):
                db.execute(f"DELETE FROM {table} WHERE project_id = ? AND {column} IN ({marks})", (project_id, *ids))
            return len(ids)

        return await self.db.run(work)

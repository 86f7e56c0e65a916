"""The full-text index (events_fts) as a follower of the commit positions, off ingest's critical path.

An event's rowid is its commit position. `meta.search_indexed` is the last position whose search text is
in events_fts: every event at or below it is indexed, none above it is. Ingest no longer feeds the index in
its own transaction; the writer catches the index up in transactions of its own, a few thousand rows at a
time or when it has had no batch for a moment (Database.follow), which costs FTS5 far less per row than
a segment per batch did.

Search stays exact: before a query that uses the index, the reader checks the index is current and, if not,
has the writer catch it up first (`ready`). If that cannot be done (a write fault), the query leaves the
index out and scans (the LIKE on search_text is what decides a match anyway). The delete trigger removes
only what was indexed (schema version 10), and a batch never takes a position at or below the mark, so an
event is never indexed twice or left out, whichever process wrote it.
"""

from __future__ import annotations

import sqlite3

from storage.contract.common import StoreUnavailable
from storage.sqlite.database import Database

MARK = "search_indexed"
INDEXED = f"COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = '{MARK}'), 0)"
# The next batch's first position is one past this: past every event, and past the mark (after a delete
# of the newest events their positions are not reused, so the index never misses one).
LAST_POSITION = f"SELECT MAX(COALESCE((SELECT MAX(rowid) FROM events), 0), {INDEXED})"


def catch_up(db: sqlite3.Connection) -> int:
    """Inside a write transaction: index every event past the mark; returns how many."""
    ((indexed, last),) = db.execute(f"SELECT {INDEXED}, COALESCE((SELECT MAX(rowid) FROM events), 0)").fetchall()
    if last <= indexed:
        return 0
    cursor = db.execute(
        "INSERT INTO events_fts (rowid, search_text) SELECT rowid, search_text FROM events"
        " WHERE rowid > ? AND rowid <= ?",
        (indexed, last),
    )
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (MARK, str(last)))
    return cursor.rowcount


class SearchIndex:
    """The follower registered with the writer (storage.sqlite.database.Follower)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._behind = 0
        db.follow(self)

    def committed(self, rows: int) -> None:
        """On the writer thread, in the batch's transaction (as is every change of the hint but failed's): a
        batch rolled back later leaves the hint high, which costs one catch-up that finds nothing."""
        self._behind += rows

    def behind(self) -> int:
        return self._behind

    def catch_up(self, db: sqlite3.Connection) -> None:
        self._behind = 0
        catch_up(db)

    def failed(self) -> None:
        self._behind = 0

    async def ready(self) -> bool:
        """Whether events_fts holds every committed event (caught up first if it did not)."""
        ((lagging,),) = await self.db.fetch(f"SELECT COALESCE((SELECT MAX(rowid) FROM events), 0) > {INDEXED}", ())
        if not lagging:
            return True
        try:
            await self.db.run(self.catch_up)
        except StoreUnavailable:
            return False
        return True

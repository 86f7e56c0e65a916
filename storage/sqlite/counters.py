"""Rate-limit windows on SQLite: one upsert per counted request, on the writer thread."""

from __future__ import annotations

import sqlite3

from storage.sqlite.database import Database

SWEEP_EVERY = 1000  # hits between deletions of ended windows


class SQLiteCounters:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._hits = 0

    async def hit(self, bucket: str, window_start_ms: int, window_ms: int) -> int:
        self._hits += 1
        sweep = self._hits % SWEEP_EVERY == 0
        expires = window_start_ms + 2 * window_ms

        def count(db: sqlite3.Connection) -> int:
            if sweep:
                db.execute("DELETE FROM rate_windows WHERE expires_at < ?", (window_start_ms,))
            (n,) = db.execute(
                "INSERT INTO rate_windows (bucket, window_start, count, expires_at) VALUES (?, ?, 1, ?)"
                " ON CONFLICT (bucket, window_start) DO UPDATE SET count = count + 1 RETURNING count",
                (bucket, window_start_ms, expires),
            ).fetchone()
            return int(n)

        return await self.db.run(count)

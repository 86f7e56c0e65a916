"""What SQLite may keep in memory is bounded: every connection's page cache has its cap."""

from __future__ import annotations

from pathlib import Path

from storage.sqlite import database
from storage.sqlite.store import SQLiteStore


async def test_every_connection_caps_its_page_cache(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "caps.db")
    await store.start()
    try:
        db = store.db
        writer = await db.in_writer(lambda: db._writer.execute("PRAGMA cache_size").fetchone()[0])  # type: ignore[union-attr]
        readers = [(await (await conn.execute("PRAGMA cache_size")).fetchone())[0] for conn in db._all_readers]
        assert writer == -database.WRITER_CACHE_KIB
        assert readers == [-database.READER_CACHE_KIB] * database.READERS
        # All of them together: a small part of the server's memory, whatever the size of the database.
        assert database.WRITER_CACHE_KIB + database.READERS * database.READER_CACHE_KIB <= 32 * 1024
    finally:
        await store.close()

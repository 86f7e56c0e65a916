"""The full-text index's own file, `<database>.search`, beside the database (storage/sqlite/search_index.py).

SQLite takes one write lock per file. With the index in the database file, every catch-up held the lock
that ingest's commits wait for; in a file of its own it is written on a thread and connection of its own
while the writer commits, and SQLite does that work (about 19 µs an event, a quarter of the writer's time)
with the GIL released, on the other core.

The index holds no text of its own (content=''): a query gets candidate rowids from it, and the LIKE on
`events.search_text` decides. FTS5 answers LIKE only from content it can read, which a contentless table
does not have, so a query asks for every trigram of the term instead (`match_expression`). A contentless
FTS5 table deletes a row only when told the text it indexed, which the database's delete log keeps
(`search_deletes`, schema version 11).

Nothing in it is precious: a file that is missing, belongs to another database or is ahead of the
database's history (a restored backup) is emptied and rebuilt by the follower, and searches scan meanwhile.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = "search"  # the name readers attach it under
SUFFIXES = ("", "-wal", "-shm")
ATTACH = f"ATTACH DATABASE ? AS {SCHEMA}"  # for a read-only connection, with attach_uri(database)

DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5"
    " (search_text, content='', tokenize='trigram', detail='none')",
    "CREATE TABLE IF NOT EXISTS search_meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
)
# search_meta keys: the database it indexes (its meta.search_id), the last position indexed (every event at or
# below it is in events_fts, none above it), and the last entry of the database's delete log applied.
DATABASE, INDEXED, DELETES_DONE = "database", "indexed", "deletes_done"

# A term's trigrams, at most this many (spread over it): the index only narrows, the LIKE decides.
MAX_TRIGRAMS = 12


def search_path(database: Path) -> Path:
    return database.with_name(database.name + ".search")


def create(database: Path, busy_timeout_ms: int) -> None:
    """Create the file and its tables if they are not there (every process at start; the first one wins)."""
    conn = sqlite3.connect(search_path(database), isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        for statement in DDL:
            conn.execute(statement)
        conn.execute("COMMIT")
    finally:
        conn.close()


def remove(database: Path) -> None:
    """Delete the file (a restore puts another database in place: the index is rebuilt for it)."""
    for suffix in SUFFIXES:
        Path(f"{search_path(database)}{suffix}").unlink(missing_ok=True)


def attach_uri(database: Path) -> str:
    return f"file:{search_path(database).resolve()}?mode=ro"


def match_expression(term: str) -> str:
    """An FTS5 query for the rows holding every trigram of term (3 characters or more, normalized)."""
    grams = list(dict.fromkeys(term[i : i + 3] for i in range(len(term) - 2)))
    if len(grams) > MAX_TRIGRAMS:
        step = (len(grams) - 1) / (MAX_TRIGRAMS - 1)
        grams = [grams[round(k * step)] for k in range(MAX_TRIGRAMS)]
    return " AND ".join('"' + gram.replace('"', '""') + '"' for gram in grams)

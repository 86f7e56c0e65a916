"""Storage faults made for real, for the tests: a write lock or write turn held by another process, and a full disk.

A full disk is simulated two ways. Everywhere: the database's size limit
(`sqlite_max_bytes`, SQLite's max_page_count), which fails writes with the
same SQLITE_FULL a full disk gives, on the same code path, plus a filler table
whose DROP frees space as deleting a file would. Where Linux lets an
unprivileged process make user and mount namespaces: a real tmpfs of a few
MB, filled with a real file (tests/process/test_full_disk.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from storage.sqlite.lock import WriteTurn

FILLER_ROW = 64 * 1024


@contextlib.contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Another process's long write transaction: BEGIN IMMEDIATE held on the file until the block ends."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        yield
        db.execute("ROLLBACK")
    finally:
        db.close()


@contextlib.contextmanager
def write_turn(path: Path) -> Iterator[None]:
    """Another LensGraph process's write turn (storage/sqlite/lock.py, WriteTurn), held until the block ends."""
    fd = os.open(WriteTurn(path).path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def size_of(path: Path) -> tuple[int, int, int]:
    """(pages in use, free pages, page size) of the database, WAL included."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        pages, free, page_size = (db.execute(f"PRAGMA {p}").fetchone()[0]
                                  for p in ("page_count", "freelist_count", "page_size"))
        return pages - free, free, page_size
    finally:
        db.close()


def fill_to(path: Path, limit_bytes: int, leave_bytes: int) -> None:
    """Grow a filler table until at most leave_bytes remain under the database's size limit."""
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        ((page_size,),) = db.execute("PRAGMA page_size").fetchall()
        db.execute(f"PRAGMA max_page_count={limit_bytes // page_size}")
        db.execute("CREATE TABLE IF NOT EXISTS filler (b BLOB NOT NULL)")
        while True:
            ((pages,),) = db.execute("PRAGMA page_count").fetchall()
            ((free,),) = db.execute("PRAGMA freelist_count").fetchall()
            room = limit_bytes - (pages - free) * page_size
            if room <= leave_bytes:
                return
            row = min(FILLER_ROW, room - leave_bytes)
            try:
                db.execute("INSERT INTO filler VALUES (zeroblob(?))", (max(1, row - 200),))
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorname != "SQLITE_FULL":
                    raise
                return
    finally:
        db.close()


def drop_filler(path: Path) -> None:
    """Free the filler's space, as an operator deleting old files would."""
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        db.execute("DROP TABLE filler")
    finally:
        db.close()


def note(session: str, key: str, i: int, text_bytes: int) -> dict[str, Any]:
    """One typed event whose text is text_bytes long and unlike every other's (so the search index grows too)."""
    text = (f"{key}-{i} " * (text_bytes // (len(key) + 6) + 1))[:text_bytes]
    return {"sessionId": session, "agentId": "filler-bot", "eventType": "custom",
            "payload": {"type": "note", "data": {"key": key, "i": i, "text": text}}}


def typed_batch(key: str, size: int = 20, text_bytes: int = 1500, sessions: int = 3) -> dict[str, Any]:
    return {"events": [note(f"s-{i % sessions}", key, i, text_bytes) for i in range(size)]}

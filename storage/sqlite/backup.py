"""Online backup and restore of the embedded database.

A backup uses SQLite's backup API from a read-only connection in one step,
while the server keeps ingesting: WAL lets it read one consistent snapshot
beside the writer, and the copy is checked before it is published under its
name. One step, not page by page: SQLite restarts a stepwise backup whenever
another process writes between two steps, so under steady ingest a copy of
more than a few steps never finished (tests/process/test_backup.py).

A restore replaces a database only when no server holds it, and only with a
LensGraph database this version can open.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from storage.contract.common import SchemaTooNew
from storage.sqlite import search_file
from storage.sqlite.lock import in_use
from storage.sqlite.migrations import SCHEMA_VERSION, current_version

# Every page in one step, inside one read transaction: in WAL mode the writer is not held by it.
ALL_PAGES = -1


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is one line."""


def backup(database: Path, destination: Path) -> int:
    """Copy the live database to destination; returns the bytes written."""
    if not database.exists():
        raise BackupError(f"no database at {database}")
    if destination.exists():
        raise BackupError(f"{destination} exists; choose a new file name")
    partial = destination.with_name(destination.name + ".partial")
    try:
        source = sqlite3.connect(f"file:{database.resolve()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {database}: {exc}") from None
    try:
        try:
            target = sqlite3.connect(partial)
        except sqlite3.Error as exc:
            raise BackupError(f"cannot write {destination}: {exc}") from None
        try:
            source.backup(target, pages=ALL_PAGES)
            _check(target, destination)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            target.close()
        os.replace(partial, destination)
    except (sqlite3.Error, OSError) as exc:
        raise BackupError(f"backup to {destination} failed: {exc}") from None
    finally:
        source.close()
        partial.unlink(missing_ok=True)
    return destination.stat().st_size


def restore(source: Path, database: Path) -> None:
    """Put a backup in place of the database; refuses while a server holds the database."""
    if not source.exists():
        raise BackupError(f"no backup at {source}")
    try:
        copy = sqlite3.connect(f"file:{source.resolve()}?mode=ro", uri=True)
        try:
            _check(copy, source)
        finally:
            copy.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not a LensGraph database ({exc})") from None
    if database.exists():
        _refuse_if_in_use(database)
    staged = database.with_name(database.name + ".restoring")
    try:
        with sqlite3.connect(f"file:{source.resolve()}?mode=ro", uri=True) as reader, sqlite3.connect(staged) as out:
            reader.backup(out)
        for suffix in ("-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        os.replace(staged, database)
        search_file.remove(database)  # it indexed the database replaced; the next start rebuilds it
    except (sqlite3.Error, OSError) as exc:
        raise BackupError(f"restore into {database} failed: {exc}") from None
    finally:
        staged.unlink(missing_ok=True)


def _check(conn: sqlite3.Connection, name: Path) -> None:
    has_events = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone()
    version = current_version(conn)
    if not has_events or version < 1:
        raise BackupError(f"{name} is not a LensGraph database")
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(f"{name} has schema version {version}, newer than this LensGraph's {SCHEMA_VERSION}")
    (result,) = conn.execute("PRAGMA quick_check").fetchone()
    if result != "ok":
        raise BackupError(f"{name} failed its integrity check: {result}")


def _refuse_if_in_use(database: Path) -> None:
    if in_use(database):
        raise BackupError(f"{database} is in use by a running server; stop it before restoring")

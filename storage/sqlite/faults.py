"""SQLite failures that waiting can cure, as the store contract's StoreUnavailable family.

Classified by SQLite's own result code (Python 3.11's sqlite_errorcode), not by
message: the primary code is the low byte of the extended one (SQLITE_IOERR_SHMSIZE
is SQLITE_IOERR | 19 << 8). Everything else (a constraint, a corrupt file, a
programming error) is left alone and stays a 500.
"""

from __future__ import annotations

import sqlite3

from storage.contract.common import StoreBusy, StoreReadOnly, StoreUnavailable

SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_PROTOCOL = 15

# After these the WAL may hold pages the database file could not take: checkpoint it once space returns.
CHECKPOINT_AFTER = (SQLITE_IOERR, SQLITE_FULL)
# After these SQLite advises a fresh connection: the old one's file handles may be in an unknown state.
REOPEN_AFTER = (SQLITE_IOERR, SQLITE_CANTOPEN)


FULL = "the disk is full, or the database reached its size limit"


def primary_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def classify(exc: BaseException, busy_timeout_ms: int) -> StoreUnavailable | None:
    """The domain exception for exc, or None when exc is not a fault that passes."""
    if not isinstance(exc, sqlite3.Error):
        return None
    code = primary_code(exc)
    name = getattr(exc, "sqlite_errorname", None) or "SQLITE_ERROR"
    if code in (SQLITE_BUSY, SQLITE_LOCKED, SQLITE_PROTOCOL):
        return StoreBusy(f"the database stayed locked by another writer for over {busy_timeout_ms} ms ({name})")
    if code == SQLITE_FULL:
        return StoreReadOnly(f"{FULL} ({name})")
    if code == SQLITE_READONLY:
        return StoreReadOnly(f"the database file cannot be written ({name})")
    if code == SQLITE_IOERR:
        return StoreUnavailable(f"the disk failed an I/O operation ({name})")
    if code == SQLITE_CANTOPEN:
        return StoreUnavailable(f"the database file cannot be opened ({name})")
    return None

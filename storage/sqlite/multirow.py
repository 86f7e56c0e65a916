"""Many rows in few statements: a multi-row INSERT runs in one sqlite3_step, executemany in one per row.

Python's sqlite3 releases the GIL around every step and has to take it back after. On the writer thread,
beside an event loop that is busy parsing the next requests, each take-back can wait for the loop to let
go (up to the interpreter's switch interval, 5 ms): a batch of 100 rows paid that up to 100 times, now a
handful. Statements hold 64, 32, ... 1 rows, so only a few distinct texts are prepared (and cached).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

MAX_ROWS = 64


@lru_cache(maxsize=256)
def _statement(head: str, width: int, rows: int, tail: str) -> str:
    row = "(" + ",".join("?" * width) + ")"
    return f"{head} VALUES {','.join([row] * rows)}{tail}"


def insert_many(db: sqlite3.Connection, head: str, rows: Sequence[Sequence[Any]], tail: str = "") -> None:
    """`head` is "INSERT INTO table (columns)", `tail` what follows the VALUES (an ON CONFLICT clause). Every
    row has one value per column, so the first row's length is the statement's width."""
    if not rows:
        return
    width = len(rows[0])
    most = MAX_ROWS
    variables = db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    while most > 1 and most * width > variables:
        most //= 2
    start, total = 0, len(rows)
    while start < total:
        size = most
        while size > total - start:
            size //= 2
        db.execute(_statement(head, width, size, tail), [value for row in rows[start : start + size] for value in row])
        start += size

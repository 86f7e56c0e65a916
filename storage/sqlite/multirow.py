"""Many rows in few statements: a multi-row INSERT runs in one sqlite3_step, executemany in one per row.

Python's sqlite3 releases the GIL around every step and has to take it back after. On the writer thread,
beside an event loop that is busy parsing the next requests, each take-back can wait for the loop to let
go (up to the interpreter's switch interval, 5 ms): a batch of 100 rows paid that up to 100 times, now a
handful. Statements hold 64, 32, ... 1 rows, so only a few distinct texts are prepared (and cached).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import repeat
from operator import itemgetter, ne
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


class SparseInsert:
    """insert_many for a table with groups of optional columns: a group that every row of a call leaves None
    is left out of its statements.

    Python's sqlite3 binds None (and bytes) through its adaptation protocol, a tuple built and a dict and two
    attributes looked up for each value, all with the GIL held: about 210 ns a None against 15 for an int and
    50 for a str (bench/README.md, "None costs a bound variable"). A trace event leaves the 15 product columns
    empty and a product event the 6 LLM ones. Leaving a column out stores what binding None would only when
    NULL is its default: each optional column must be nullable with no other default (a test checks the
    schema). Whole groups rather than single columns keep the statements few, so they stay cached.
    """

    def __init__(self, table: str, columns: Sequence[str], optional: Sequence[Sequence[str]], tail: str = "") -> None:
        self.table, self.columns, self.tail = table, tuple(columns), tail
        self.optional = tuple(tuple(group) for group in optional)
        index = {c: i for i, c in enumerate(self.columns)}
        self._indexes = [[index[c] for c in group] for group in optional]
        self._groups = [_getter(indexes) for indexes in self._indexes]
        self._empty = [(None,) * len(group) for group in optional]
        # Filled on first use, by whichever writer thread gets there (one per open database): a race only
        # builds the same entry twice.
        self._shapes: dict[tuple[bool, ...], tuple[str, Callable[[Sequence[Any]], tuple[Any, ...]] | None]] = {}

    def head(self, left_out: tuple[bool, ...]) -> tuple[str, Callable[[Sequence[Any]], tuple[Any, ...]] | None]:
        """The statement head for the groups left out (one flag a group), and what narrows a row to it."""
        shape = self._shapes.get(left_out)
        if shape is None:
            dropped: set[int] = set()
            for out, indexes in zip(left_out, self._indexes, strict=True):
                if out:
                    dropped.update(indexes)
            kept = [i for i in range(len(self.columns)) if i not in dropped]
            head = f"INSERT INTO {self.table} ({', '.join(self.columns[i] for i in kept)})"
            shape = self._shapes[left_out] = (head, _getter(kept) if dropped else None)
        return shape

    def __call__(self, db: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        # Whether any row has a value in the group, compared in C (map, ne, any): it runs for every batch.
        left_out = tuple(
            not any(map(ne, map(group, rows), repeat(empty)))
            for group, empty in zip(self._groups, self._empty, strict=True)
        )
        head, narrow = self.head(left_out)
        insert_many(db, head, rows if narrow is None else [narrow(row) for row in rows], self.tail)


def _getter(indexes: Sequence[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """The values at indexes of a row, always as a tuple (itemgetter gives one index's value bare)."""
    if len(indexes) == 1:
        (only,) = indexes
        return lambda row: (row[only],)
    return itemgetter(*indexes)

"""Multi-row INSERTs (storage/sqlite/multirow.py): every row stored once, in order, in few statements, within
SQLite's limit on bound variables, and an upsert tail applied to rows of the same statement in order; groups
of columns every row leaves empty are left out, and store NULL all the same."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage.sqlite.migrations import migrate
from storage.sqlite.multirow import SparseInsert, insert_many
from storage.sqlite.traces import INSERT_EVENTS, UPSERT_SESSIONS


def connection(table: str = "t (k INTEGER PRIMARY KEY, a TEXT, b REAL)") -> tuple[sqlite3.Connection, list[str]]:
    """An in-memory database with one table, and the statements it runs."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute(f"CREATE TABLE {table}")
    statements: list[str] = []
    db.set_trace_callback(statements.append)
    return db, statements


@pytest.mark.parametrize(("count", "statements"), [(0, 0), (1, 1), (63, 6), (64, 1), (65, 2), (100, 3), (200, 4)])
def test_rows_are_stored_in_order_in_few_statements(count: int, statements: int) -> None:
    db, seen = connection()
    rows = [(k, f"row {k}", k / 3) for k in range(count)]
    insert_many(db, "INSERT INTO t (k, a, b)", rows)
    assert db.execute("SELECT k, a, b FROM t ORDER BY rowid").fetchall() == rows
    assert len([s for s in seen if s.startswith("INSERT")]) == statements  # 64, 32, ... rows each


def test_a_statement_stays_within_the_bound_variables_limit() -> None:
    db, seen = connection()
    db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 50)  # 16 rows of 3 fit, 32 do not
    rows = [(k, str(k), None) for k in range(40)]
    insert_many(db, "INSERT INTO t (k, a, b)", rows)
    assert db.execute("SELECT k, a, b FROM t ORDER BY k").fetchall() == rows
    assert [s.count("(") - 1 for s in seen if s.startswith("INSERT")] == [16, 16, 8]  # rows per statement


def test_an_upsert_tail_applies_in_row_order_within_one_statement() -> None:
    db, _ = connection()
    insert_many(db, "INSERT INTO t (k, a, b)", [(1, "old", 1.0)])
    tail = " ON CONFLICT (k) DO UPDATE SET a = excluded.a, b = t.b + excluded.b"
    insert_many(db, "INSERT INTO t (k, a, b)", [(1, "first", 1.0), (2, "new", 5.0), (1, "second", 1.0)], tail)
    assert db.execute("SELECT k, a, b FROM t ORDER BY k").fetchall() == [(1, "second", 3.0), (2, "new", 5.0)]


def sparse_connection() -> tuple[sqlite3.Connection, list[str]]:
    return connection("s (k INTEGER PRIMARY KEY, a TEXT, b REAL, c TEXT, d TEXT DEFAULT 'kept')")


def test_a_group_every_row_leaves_empty_is_left_out_and_stored_as_null() -> None:
    db, seen = sparse_connection()
    insert = SparseInsert("s", ("k", "a", "b", "c"), (("a", "b"), ("c",)))
    rows = [(1, None, None, "x"), (2, None, None, None)]
    insert(db, rows)
    assert db.execute("SELECT k, a, b, c FROM s ORDER BY k").fetchall() == rows
    (statement,) = [s for s in seen if s.startswith("INSERT")]
    assert statement.startswith("INSERT INTO s (k, c) VALUES")  # a and b bound nowhere


def test_a_group_one_row_fills_is_kept_for_every_row() -> None:
    db, seen = sparse_connection()
    insert = SparseInsert("s", ("k", "a", "b", "c"), (("a", "b"), ("c",)))
    rows = [(1, None, None, None), (2, None, 0.0, None), (3, "", None, None)]  # falsy values are values
    insert(db, rows)
    assert db.execute("SELECT k, a, b, c FROM s ORDER BY k").fetchall() == rows
    assert [s.split(" VALUES")[0] for s in seen if s.startswith("INSERT")] == [
        "INSERT INTO s (k, a, b)",  # 2 rows, then 1, without c
        "INSERT INTO s (k, a, b)",
    ]


def test_no_group_left_out_keeps_every_column_and_an_upsert_tail_sets_null() -> None:
    db, seen = sparse_connection()
    tail = " ON CONFLICT (k) DO UPDATE SET a = excluded.a, b = excluded.b, c = excluded.c"
    insert = SparseInsert("s", ("k", "a", "b", "c"), (("a", "b"), ("c",)), tail)
    insert(db, [(1, "a", 1.5, "c")])
    insert(db, [(1, None, None, "c2")])  # a and b left out: the upsert clears them as bound Nones would
    assert db.execute("SELECT k, a, b, c, d FROM s").fetchall() == [(1, None, None, "c2", "kept")]
    assert [s.split(" VALUES")[0] for s in seen if s.startswith("INSERT")] == [
        "INSERT INTO s (k, a, b, c)",
        "INSERT INTO s (k, c)",
    ]


@pytest.mark.parametrize("insert", [INSERT_EVENTS, UPSERT_SESSIONS], ids=["events", "sessions"])
def test_the_ingest_inserts_leave_out_only_nullable_columns_whose_default_is_null(
    tmp_path: Path, insert: SparseInsert
) -> None:
    path = tmp_path / "schema.db"
    db = sqlite3.connect(path, isolation_level=None)
    migrate(db, path)
    info = {row[1]: (row[3], row[4]) for row in db.execute(f"PRAGMA table_info({insert.table})")}
    optional = [c for group in insert.optional for c in group]
    assert len(optional) >= 3 and set(insert.columns) - {"rowid"} <= set(info)
    assert {c: info[c] for c in optional} == dict.fromkeys(optional, (0, None))  # (notnull, default)

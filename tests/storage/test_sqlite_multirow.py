"""Multi-row INSERTs (storage/sqlite/multirow.py): every row stored once, in order, in few statements, within
SQLite's limit on bound variables, and an upsert tail applied to rows of the same statement in order."""

from __future__ import annotations

import sqlite3

import pytest

from storage.sqlite.multirow import insert_many


def connection() -> tuple[sqlite3.Connection, list[str]]:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, a TEXT, b REAL)")
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


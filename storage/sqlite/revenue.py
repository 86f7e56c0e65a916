"""Revenue attribution records on SQLite: one table per kind, one generic mapping from model to row.

A create with a claim checks and records the key on the writer's connection inside the
record's own transaction (as commit_batch does), so it is applied once across processes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

import orjson

from storage.contract import Claim, Conflict, Created, Page, PageResult, RecordQuery
from storage.models.revenue import (
    DAY_MS,
    KINDS,
    Customer,
    Goal,
    GoalType,
    Outcome,
    Revenue,
    RevenueRecord,
)
from storage.sqlite.database import Database
from storage.sqlite.idempotency import recall, remember
from storage.sqlite.query import _chunks, _marks
from storage.timeutil import from_ms, to_ms

R = TypeVar("R", bound=RevenueRecord)
NEWEST_FIRST = "ORDER BY created_at DESC, id DESC"


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    fields: tuple[str, ...]  # the model's, in its order
    times: frozenset[str]
    objects: frozenset[str]  # dicts, kept as JSON text
    derived: tuple[tuple[str, Callable[[Any], Any]], ...] = ()  # columns computed from the record

    @property
    def columns(self) -> str:
        return ", ".join((*self.fields, *(name for name, _ in self.derived)))

    def row(self, record: RevenueRecord) -> tuple[Any, ...]:
        values = []
        for name in self.fields:
            value = getattr(record, name)
            if name in self.times:
                value = to_ms(value)
            elif name in self.objects:
                value = orjson.dumps(value)
            values.append(value)
        return (*values, *(compute(record) for _, compute in self.derived))

    def model(self, kind: type[R], row: Sequence[Any]) -> R:
        data: dict[str, Any] = {}
        for name, value in zip(self.fields, row, strict=False):
            if name in self.times:
                value = from_ms(value)
            elif name in self.objects:
                value = orjson.loads(value)
            data[name] = value
        return cast(R, kind.model_construct(**data))  # our own rows: no re-validation on every read


def _table(name: str, kind: type[RevenueRecord], **derived: Callable[[Any], Any]) -> Table:
    fields = tuple(kind.model_fields)
    times = frozenset(f for f, info in kind.model_fields.items() if info.annotation in (datetime, "datetime"))
    objects = frozenset(f for f, info in kind.model_fields.items() if "dict" in str(info.annotation))
    return Table(name, fields, times, objects, tuple(derived.items()))


TABLES: dict[type[RevenueRecord], Table] = {
    Customer: _table("customers", Customer),
    GoalType: _table("goal_types", GoalType),
    Goal: _table("goals", Goal),
    Outcome: _table("outcomes", Outcome),
    Revenue: _table("revenues", Revenue, day=lambda r: to_ms(r.recorded_at) // DAY_MS),
}
TIMED = (Outcome, Revenue)  # the kinds with recorded_at


def _where(kind: type[RevenueRecord], project_id: str, query: RecordQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = ["project_id = ?"]
    args: list[Any] = [project_id]
    for name, value in query.where.items():
        if name not in KINDS[kind]:
            raise ValueError(f"{kind.__name__} has no filter {name!r}")
        if value is None:
            clauses.append(f"{name} IS NULL")
        elif isinstance(value, tuple):
            clauses.append(f"{name} IN ({_marks(len(value))})" if value else "0")
            args.extend(value)
        else:
            clauses.append(f"{name} = ?")
            args.append(value)
    if kind in TIMED:
        if query.since is not None:
            clauses.append("recorded_at >= ?")
            args.append(to_ms(query.since))
        if query.until is not None:
            clauses.append("recorded_at < ?")
            args.append(to_ms(query.until))
    return " AND ".join(clauses), args


class SQLiteRevenue:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_record(self, record: R, claim: Claim[R] | None = None) -> Created[R]:
        table = TABLES[type(record)]
        insert = f"INSERT INTO {table.name} ({table.columns}) VALUES ({_marks(len(table.columns.split(',')))})"
        row = table.row(record)

        def work(db: sqlite3.Connection) -> Created[R]:
            if claim is not None:
                prior = recall(db, claim.project_id, claim.key, claim.created_at)
                if prior is not None:
                    return Created(None, prior, replayed=True)
            try:
                db.execute(insert, row)
            except sqlite3.IntegrityError:
                raise Conflict(f"{type(record).__name__} {record.id!r} exists") from None
            response = remember(db, claim.record(record)) if claim is not None else None
            return Created(record, response)

        return await self.db.run(work)

    async def records_by_ids(self, kind: type[R], project_id: str, ids: Sequence[str]) -> list[R]:
        table = TABLES[kind]
        out: list[R] = []
        for chunk in _chunks(list(dict.fromkeys(ids))):
            rows = await self.db.fetch(
                f"SELECT {table.columns} FROM {table.name} WHERE project_id = ? AND id IN ({_marks(len(chunk))})",
                (project_id, *chunk),
            )
            out.extend(table.model(kind, r) for r in rows)
        return out

    async def find_records(self, kind: type[R], project_id: str, query: RecordQuery, page: Page) -> PageResult[R]:
        table = TABLES[kind]
        where, args = _where(kind, project_id, query)
        rows = await self.db.fetch(
            f"SELECT {table.columns} FROM {table.name} WHERE {where} {NEWEST_FIRST} LIMIT ? OFFSET ?",
            (*args, page.limit + 1, page.offset),
        )
        items = [table.model(kind, r) for r in rows[: page.limit]]
        total = -1
        if page.count_total:
            ((total,),) = await self.db.fetch(f"SELECT COUNT(*) FROM {table.name} WHERE {where}", args)
        return PageResult(items, total, len(rows) > page.limit)

    async def find_records_per_group(
        self, kind: type[R], project_id: str, field: str, values: Sequence[str], page: Page
    ) -> dict[str, PageResult[R]]:
        if field not in KINDS[kind]:
            raise ValueError(f"{kind.__name__} has no filter {field!r}")
        table = TABLES[kind]
        out: dict[str, PageResult[R]] = {v: PageResult([], 0, False) for v in values}
        width = len(table.fields) + len(table.derived)
        for chunk in _chunks(list(dict.fromkeys(values))):
            # Each group's rows numbered newest first and counted in one statement; only the page's rows (and
            # one more, for has_more) leave the database, and each group's first row, which carries its total
            # when the offset is past the group's end.
            rows = await self.db.fetch(
                f"SELECT * FROM (SELECT {table.columns}, {field},"
                f" ROW_NUMBER() OVER (PARTITION BY {field} {NEWEST_FIRST}) AS rn,"
                f" COUNT(*) OVER (PARTITION BY {field}) AS n"
                f" FROM {table.name} WHERE project_id = ? AND {field} IN ({_marks(len(chunk))}))"
                f" WHERE rn = 1 OR (rn > ? AND rn <= ?) ORDER BY {field}, rn",
                (project_id, *chunk, page.offset, page.offset + page.limit + 1),
            )
            for row in rows:
                group, rn, total = row[width], row[width + 1], row[width + 2]
                result = out[group]
                result.total = total
                if rn <= page.offset:
                    continue
                if len(result.items) < page.limit:
                    result.items.append(table.model(kind, row[:width]))
                else:
                    result.has_more = True
        return out

    async def update_record(self, record: RevenueRecord) -> bool:
        table = TABLES[type(record)]
        project_id, id_ = record.project_id, record.id
        names = [*table.fields, *(n for n, _ in table.derived)]
        values = table.row(record)
        sets = [(n, v) for n, v in zip(names, values, strict=True) if n not in ("project_id", "id")]
        (changed,) = await self.db.write([(
            f"UPDATE {table.name} SET {', '.join(f'{n} = ?' for n, _ in sets)} WHERE project_id = ? AND id = ?",
            (*(v for _, v in sets), project_id, id_),
        )])
        return changed > 0

    async def delete_record(self, kind: type[RevenueRecord], project_id: str, record_id: str) -> bool:
        (changed,) = await self.db.write(
            [(f"DELETE FROM {TABLES[kind].name} WHERE project_id = ? AND id = ?", (project_id, record_id))])
        return changed > 0

    async def revenue_span(self, project_id: str) -> tuple[datetime, datetime] | None:
        # Two subqueries: each of MIN and MAX alone is one seek in revenues_by_time; together they would scan it.
        ((first, last),) = await self.db.fetch(
            "SELECT (SELECT MIN(recorded_at) FROM revenues WHERE project_id = :p),"
            " (SELECT MAX(recorded_at) FROM revenues WHERE project_id = :p)", {"p": project_id})
        return None if first is None else (from_ms(first), from_ms(last))

    async def outcome_counts(self, project_id: str, goal_ids: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for chunk in _chunks(list(dict.fromkeys(goal_ids))):
            rows = await self.db.fetch(
                f"SELECT goal_id, COUNT(*) FROM outcomes WHERE project_id = ? AND goal_id IN ({_marks(len(chunk))})"
                " GROUP BY goal_id", (project_id, *chunk))
            out.update((r[0], r[1]) for r in rows)
        return out

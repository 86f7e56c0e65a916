"""Experiments (A/B test definitions) on SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from storage.contract import Conflict
from storage.models import Experiment, ExperimentStatus, Variant
from storage.sqlite.database import Database
from storage.timeutil import from_ms, to_ms

EXPERIMENT_COLUMNS = (
    "project_id, id, name, description, variants, goal_event, status, winner, created_at, updated_at"
)
# Newest first; the id breaks ties between experiments created in the same millisecond.
NEWEST_FIRST = "ORDER BY created_at DESC, id DESC"


def _experiment(row: Sequence[Any]) -> Experiment:
    return Experiment(
        project_id=row[0], id=row[1], name=row[2], description=row[3],
        variants=[Variant.model_validate(v) for v in orjson.loads(row[4])], goal_event=row[5],
        status=ExperimentStatus(row[6]), winner=row[7], created_at=from_ms(row[8]), updated_at=from_ms(row[9]),
    )


def _row(e: Experiment) -> tuple[Any, ...]:
    return (
        e.project_id, e.id, e.name, e.description, orjson.dumps([v.model_dump() for v in e.variants]), e.goal_event,
        e.status.value, e.winner, to_ms(e.created_at), to_ms(e.updated_at),
    )


class SQLiteExperiments:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_experiment(self, experiment: Experiment) -> Experiment:
        try:
            await self.db.write([(
                f"INSERT INTO experiments ({EXPERIMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _row(experiment),
            )])
        except sqlite3.IntegrityError:
            raise Conflict(f"an experiment named {experiment.name!r} exists") from None
        return experiment

    async def experiment_by_id(self, project_id: str, experiment_id: str) -> Experiment | None:
        rows = await self.db.fetch(
            f"SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE project_id = ? AND id = ?",
            (project_id, experiment_id),
        )
        return _experiment(rows[0]) if rows else None

    async def experiment_by_name(self, project_id: str, name: str) -> Experiment | None:
        rows = await self.db.fetch(
            f"SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE project_id = ? AND name = ?", (project_id, name))
        return _experiment(rows[0]) if rows else None

    async def list_experiments(self, project_id: str) -> list[Experiment]:
        rows = await self.db.fetch(
            f"SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE project_id = ? {NEWEST_FIRST}", (project_id,))
        return [_experiment(r) for r in rows]

    async def update_experiment(self, experiment: Experiment) -> Experiment:
        project_id, id_, *rest = _row(experiment)
        try:
            await self.db.write([(
                "UPDATE experiments SET name = ?, description = ?, variants = ?, goal_event = ?, status = ?,"
                " winner = ?, created_at = ?, updated_at = ? WHERE project_id = ? AND id = ?",
                (*rest, project_id, id_),
            )])
        except sqlite3.IntegrityError:
            raise Conflict(f"an experiment named {experiment.name!r} exists") from None
        return experiment

    async def delete_experiment(self, project_id: str, experiment_id: str) -> bool:
        (changed,) = await self.db.write(
            [("DELETE FROM experiments WHERE project_id = ? AND id = ?", (project_id, experiment_id))])
        return changed > 0

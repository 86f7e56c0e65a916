"""Experiments (A/B test definitions) on MongoDB."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from storage.contract import Conflict
from storage.models import Experiment
from storage.mongo.client import Mongo
from storage.mongo.faults import translated
from storage.mongo.layout import EXPERIMENTS, NO_ID, doc_id, maybe_model

# Newest first; the id breaks ties between experiments created in the same millisecond (as on SQLite).
NEWEST_FIRST = [("created_at", DESCENDING), ("id", DESCENDING)]


def experiment_doc(e: Experiment) -> dict[str, Any]:
    return {"_id": doc_id(e.project_id, e.id), **e.model_dump(), "status": e.status.value}


@translated
class MongoExperiments:
    def __init__(self, mongo: Mongo) -> None:
        self.m = mongo

    @property
    def _experiments(self) -> Any:
        return self.m.db[EXPERIMENTS]

    async def create_experiment(self, experiment: Experiment) -> Experiment:
        try:
            await self._experiments.insert_one(experiment_doc(experiment))
        except DuplicateKeyError:
            raise Conflict(f"an experiment named {experiment.name!r} exists") from None
        return experiment

    async def experiment_by_id(self, project_id: str, experiment_id: str) -> Experiment | None:
        doc = await self._experiments.find_one({"_id": doc_id(project_id, experiment_id)}, NO_ID)
        return maybe_model(Experiment, doc)

    async def experiment_by_name(self, project_id: str, name: str) -> Experiment | None:
        doc = await self._experiments.find_one({"project_id": project_id, "name": name}, NO_ID)
        return maybe_model(Experiment, doc)

    async def list_experiments(self, project_id: str) -> list[Experiment]:
        cursor = self._experiments.find({"project_id": project_id}, NO_ID).sort(NEWEST_FIRST)
        return [Experiment.model_validate(d) for d in await cursor.to_list(None)]

    async def update_experiment(self, experiment: Experiment) -> Experiment:
        try:
            await self._experiments.replace_one({"_id": doc_id(experiment.project_id, experiment.id)},
                                                experiment_doc(experiment))
        except DuplicateKeyError:
            raise Conflict(f"an experiment named {experiment.name!r} exists") from None
        return experiment

    async def delete_experiment(self, project_id: str, experiment_id: str) -> bool:
        result = await self._experiments.delete_one({"_id": doc_id(project_id, experiment_id)})
        return result.deleted_count > 0

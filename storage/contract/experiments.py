"""The experiments contract: A/B test definitions, per project."""

from __future__ import annotations

from typing import Protocol

from storage.models.experiments import Experiment


class ExperimentStore(Protocol):
    async def create_experiment(self, experiment: Experiment) -> Experiment:
        """Raises Conflict when the project already has an experiment of that name."""
        ...

    async def experiment_by_id(self, project_id: str, experiment_id: str) -> Experiment | None: ...
    async def experiment_by_name(self, project_id: str, name: str) -> Experiment | None: ...

    async def list_experiments(self, project_id: str) -> list[Experiment]:
        """Newest first."""
        ...

    async def update_experiment(self, experiment: Experiment) -> Experiment:
        """Replaces the stored definition (same project and id); raises Conflict on a name taken by another."""
        ...

    async def delete_experiment(self, project_id: str, experiment_id: str) -> bool: ...

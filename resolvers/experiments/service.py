"""Experiments: define, list, change and delete A/B tests, scoped to the caller's projects.

An experiment's traffic is tracked events: tracker.js (or any client using the same
assignment rule, resolvers/experiments/assignment.py) sends one `$experiment_exposure`
event naming the experiment and the variant, then the goal event as usual. Results
(results.py) read those through the analytics engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from resolvers.core.auth import Principal
from resolvers.core.errors import InputError, NotFound, Problem
from resolvers.core.ids import new_id
from resolvers.core.services import Services
from resolvers.experiments.assignment import check_weights, even_weights
from resolvers.projects import service as projects
from storage.contract import Page
from storage.models import Project
from storage.models.experiments import EXPOSURE_EVENT, Experiment, ExperimentStatus, Variant
from storage.timeutil import now_ms

EXPOSURE = EXPOSURE_EVENT
MAX_VARIANTS = 10
MAX_NAME = 100


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise InputError(Problem(where, f"a non-empty string of at most {MAX_NAME} characters"))
    return value.strip()


def build_variants(raw: Any, weights: Any) -> list[Variant]:
    """Variant names (the first is the control) and optional whole-percent weights summing to 100."""
    if not isinstance(raw, list) or not (2 <= len(raw) <= MAX_VARIANTS):
        raise InputError(Problem("variants", f"a list of 2 to {MAX_VARIANTS} variant names"))
    keys = [_name(v, f"variants[{i}]") for i, v in enumerate(raw)]
    if len(set(keys)) != len(keys):
        raise InputError(Problem("variants", "variant names must differ"))
    if weights is None:
        split = even_weights(len(keys))
    else:
        if not isinstance(weights, list) or len(weights) != len(keys):
            raise InputError(Problem("weights", "one weight per variant"))
        problem = check_weights(weights)
        if problem:
            raise InputError(Problem("weights", problem))
        split = weights
    return [Variant(key=k, weight=w) for k, w in zip(keys, split, strict=True)]


async def create(
    services: Services, project_id: str, *, name: Any, variants: Any, goal_event: Any, weights: Any = None,
    description: Any = None,
) -> Experiment:
    name = _name(name, "name")
    goal = _name(goal_event, "goal_event")
    if goal.startswith("$experiment"):
        raise InputError(Problem("goal_event", "the goal is a product event, not an experiment's own event"))
    if description is not None and (not isinstance(description, str) or len(description) > 2000):
        raise InputError(Problem("description", "a string of at most 2000 characters"))
    now = now_ms()
    experiment = Experiment(
        project_id=project_id, id=new_id(), name=name, description=description,
        variants=build_variants(variants, weights), goal_event=goal, created_at=now, updated_at=now,
    )
    return await services.store.experiments.create_experiment(experiment)


async def find(
    services: Services, principal: Principal, experiment_id: str, project_ref: str | None = None
) -> Experiment:
    """An experiment by id in the named project (id or name), or in any project the caller may read."""
    if project_ref:
        candidates: Sequence[str] = [(await projects.resolve_project(services, principal, project_ref)).id]
    elif principal.project_id:
        candidates = [principal.project_id]
    else:
        listed = await projects.list_projects(services, principal, Page(limit=1000, count_total=False))
        candidates = [p.id for p in listed.items]
    for candidate in candidates:
        found = await services.store.experiments.experiment_by_id(candidate, experiment_id)
        if found is not None:  # every candidate is a project this caller may read
            return found
    raise NotFound("experiment", experiment_id)


async def project_for(services: Services, principal: Principal, ref: str | None) -> Project:
    """The project a request names (id or name), else the caller's own; an account key has none and must name one."""
    if ref:
        return await projects.resolve_project(services, principal, ref)
    if not principal.project_id:
        raise InputError(Problem("project", "required with an account key: a project id or name"))
    return await projects.get_project(services, principal, principal.project_id)


async def list_in(services: Services, project_id: str, status: ExperimentStatus | None = None) -> list[Experiment]:
    """A project's experiments, newest first, optionally of one status."""
    found = await services.store.experiments.list_experiments(project_id)
    return found if status is None else [e for e in found if e.status is status]


TRANSITIONS = {
    ExperimentStatus.ACTIVE: {ExperimentStatus.ACTIVE, ExperimentStatus.PAUSED, ExperimentStatus.COMPLETED},
    ExperimentStatus.PAUSED: {ExperimentStatus.PAUSED, ExperimentStatus.ACTIVE, ExperimentStatus.COMPLETED},
    ExperimentStatus.COMPLETED: {ExperimentStatus.COMPLETED},
}


async def update(services: Services, experiment: Experiment, *, status: Any, winner: Any = None) -> Experiment:
    """The seed's PATCH: an explicit status; completed may name a winner (or not: it stays null)."""
    try:
        target = ExperimentStatus(status)
    except ValueError:
        raise InputError(Problem("status", "one of active, paused, completed")) from None
    if target not in TRANSITIONS[experiment.status]:
        raise InputError(Problem("status", f"a {experiment.status.value} experiment cannot become {target.value}"))
    if winner is not None:
        if target is not ExperimentStatus.COMPLETED:
            raise InputError(Problem("winner", "only a completed experiment has a winner"))
        if winner not in {v.key for v in experiment.variants}:
            raise InputError(Problem("winner", f"not a variant of this experiment: {str(winner)[:60]!r}"))
    changed = experiment.model_copy(update={
        "status": target, "winner": winner if target is ExperimentStatus.COMPLETED else None, "updated_at": now_ms(),
    })
    return await services.store.experiments.update_experiment(changed)


async def delete(services: Services, experiment: Experiment) -> bool:
    return await services.store.experiments.delete_experiment(experiment.project_id, experiment.id)


def assignable(experiments: Sequence[Experiment]) -> list[Experiment]:
    """What tracker.js assigns: active experiments only (paused and completed ones stop new assignment)."""
    return [e for e in experiments if e.status is ExperimentStatus.ACTIVE]

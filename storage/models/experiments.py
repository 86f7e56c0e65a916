"""Experiments: an A/B test's definition. Exposures and conversions are tracked events, read by the
analytics engine (an exposure is a `$experiment_exposure` event naming the experiment and variant)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from pydantic import BaseModel, Field

from storage.models.analytics import TRACKED, Filter, Ref, StepQuery

EXPOSURE_EVENT = "$experiment_exposure"
VARIANT = Ref("variant", "property")


class ExperimentStatus(str, Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"


class Variant(BaseModel):
    key: str
    weight: int  # a whole percentage; an experiment's weights sum to 100


class Experiment(BaseModel):
    project_id: str
    id: str
    name: str  # unique within its project; tracker.js and exposure events name experiments by it
    description: str | None = None
    variants: list[Variant] = Field(default_factory=list)  # the first is the control
    goal_event: str
    status: ExperimentStatus = ExperimentStatus.ACTIVE
    winner: str | None = None
    created_at: datetime
    updated_at: datetime


def exposure_step(experiment: str) -> tuple[Filter, ...]:
    """The events exposing a user to the named experiment: step 0 of its results."""
    return (Filter(Ref("type"), "eq", EXPOSURE_EVENT), Filter(Ref("experiment", "property"), "eq", experiment))


def results_query(project_id: str, experiment: str, goal_event: str, start: datetime, end: datetime) -> StepQuery:
    """Who was exposed (per variant) and who then sent the goal event: tracked events, per user."""
    return StepQuery(
        project_id, start, end, (exposure_step(experiment), (Filter(Ref("type"), "eq", goal_event),)),
        "user_id", (TRACKED,), VARIANT,
    )


def exposed_experiment(query: StepQuery) -> str | None:
    """The experiment a StepQuery reads the results of, when it has results_query's shape (any goal);
    a store may answer such a query from an index of exposures."""
    if (len(query.steps) != 2 or query.actor != "user_id" or query.filters != (TRACKED,)
            or query.breakdown != VARIANT or len(query.steps[0]) != 2):
        return None
    name = next((f.value for f in query.steps[0] if f.ref == Ref("experiment", "property")), None)
    if not isinstance(name, str) or set(query.steps[0]) != set(exposure_step(name)):
        return None
    return name

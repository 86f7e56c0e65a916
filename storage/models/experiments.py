"""Experiments: an A/B test's definition. Exposures and conversions are tracked events, read by the
analytics engine (an exposure is a `$experiment_exposure` event naming the experiment and variant)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from pydantic import BaseModel, Field


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

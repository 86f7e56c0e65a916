"""The Experiment type, its variants and its results (resolvers/experiments/results.py, as REST reports them)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from graph.schema.context import Context
from resolvers.experiments import results, stats
from storage.models import experiments as models


@strawberry.enum(description="Active experiments assign traffic; paused ones stop; completed is final.")
class ExperimentStatus(Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"


@strawberry.type
class ExperimentVariant:
    key: str
    weight: int = strawberry.field(description="Whole percent of traffic; an experiment's weights sum to 100.")


@strawberry.type(description="A 95% interval.")
class Interval:
    low: float
    high: float


def _interval(found: stats.Interval | None) -> Interval | None:
    return None if found is None else Interval(low=found.low, high=found.high)


@strawberry.type(description="One variant's counts and, for a non-control variant, how it compares with the "
                             "control (lifts are variant minus, or over, control). Null where undefined.")
class VariantResult:
    key: str
    is_control: bool
    weight: int
    exposed_users: int = strawberry.field(description="Users whose first exposure named this variant.")
    converting_users: int = strawberry.field(description="Of those, users with a goal event after that exposure.")
    conversion_rate: float | None
    conversion_rate_interval: Interval | None = strawberry.field(description="Wilson score interval.")
    absolute_lift: float | None
    absolute_lift_interval: Interval | None = strawberry.field(description="Newcombe's hybrid score interval.")
    relative_lift: float | None
    relative_lift_interval: Interval | None = strawberry.field(description="Delta method on the log ratio.")
    fixed_horizon_p_value: float | None = strawberry.field(
        description="Two-sided pooled z-test: valid at one look at a sample size fixed in advance only.")
    always_valid_p_value: float | None = strawberry.field(
        description="mSPRT always-valid p-value: valid however often results are read.")
    significant: bool = strawberry.field(description="alwaysValidPValue below the experiment's alpha.")
    probability_to_beat_control: float | None = strawberry.field(description="Beta(1, 1) priors.")
    probability_best: float | None = strawberry.field(
        description="Two variants: the chance this one is the better (the control's too); more: the chance to beat "
                    "the control.")


@strawberry.type(description="Pearson's chi-square of the exposed users against the weights.")
class SampleRatioCheck:
    chi_square: float | None
    degrees_of_freedom: int
    p_value: float | None
    mismatch: bool = strawberry.field(description="p below 0.001: exposures do not follow the weights.")


@strawberry.type(description="Live results from tracked events: the same computation as REST GET /experiments/{id}.")
class ExperimentResults:
    control: str
    confidence: float
    alpha: float
    tau: float = strawberry.field(description="The mSPRT mixing standard deviation (absolute scale).")
    variants: list[VariantResult]
    sample_ratio: SampleRatioCheck
    significance_method: str
    sufficient_data: bool
    recommendation: str


def results_of(found: results.ExperimentResults) -> ExperimentResults:
    s = found.stats
    variants = []
    for v in s.variants:
        c = v.comparison
        variants.append(VariantResult(
            key=v.name, is_control=v.is_control, weight=int(v.weight), exposed_users=v.exposed,
            converting_users=v.converted, conversion_rate=v.conversion_rate,
            conversion_rate_interval=_interval(v.conversion_rate_interval),
            absolute_lift=c.absolute_lift if c else None,
            absolute_lift_interval=_interval(c.absolute_lift_interval) if c else None,
            relative_lift=c.relative_lift if c else None,
            relative_lift_interval=_interval(c.relative_lift_interval) if c else None,
            fixed_horizon_p_value=c.fixed_horizon_p_value if c else None,
            always_valid_p_value=c.always_valid_p_value if c else None,
            significant=bool(c and c.significant),
            probability_to_beat_control=c.probability_to_beat_control if c else None,
            probability_best=found.probability_best.get(v.name),
        ))
    r = s.sample_ratio
    return ExperimentResults(
        control=s.control, confidence=s.confidence, alpha=s.alpha, tau=s.tau, variants=variants,
        sample_ratio=SampleRatioCheck(chi_square=r.chi_square, degrees_of_freedom=r.degrees_of_freedom,
                                      p_value=r.p_value, mismatch=r.mismatch),
        significance_method=found.significance_method, sufficient_data=found.sufficient_data,
        recommendation=found.recommendation,
    )


@strawberry.type(description="An A/B test: exposures and goal events are tracked events; the first variant is the "
                             "control.")
class Experiment:
    doc: strawberry.Private[models.Experiment]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.id)

    @strawberry.field(description="Its project's id (`project(id:)` reads the project).")
    def project_id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.project_id)

    @strawberry.field(description="Unique in its project; trackers and exposure events name the experiment by it.")
    def name(self) -> str:
        return self.doc.name

    @strawberry.field
    def description(self) -> str | None:
        return self.doc.description

    @strawberry.field
    def status(self) -> ExperimentStatus:
        return ExperimentStatus(self.doc.status.value)

    @strawberry.field(description="The event that counts as a conversion after a user's first exposure.")
    def goal_event(self) -> str:
        return self.doc.goal_event

    @strawberry.field(description="In order; the first is the control.")
    def variants(self) -> list[ExperimentVariant]:
        return [ExperimentVariant(key=v.key, weight=v.weight) for v in self.doc.variants]

    @strawberry.field(description="Named when completed, or null.")
    def winner(self) -> str | None:
        return self.doc.winner

    @strawberry.field
    def created_at(self) -> datetime:
        return self.doc.created_at

    @strawberry.field
    def updated_at(self) -> datetime:
        return self.doc.updated_at

    @strawberry.field(description="Counted now from the tracked exposure and goal events.")
    async def results(self, info: Info[Context, None]) -> ExperimentResults:
        return results_of(await results.experiment_results(info.context.services, self.doc))

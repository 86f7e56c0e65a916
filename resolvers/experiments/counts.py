"""Who saw each variant and who then converted, from tracked events through the analytics engine.

An actor's exposure is their first `$experiment_exposure` event naming the experiment (once per
actor, whatever they send after); they convert when a goal event follows it. The store counts
(first_step_conversions: one SQL statement on SQLite, no rows returned), and both stores answer as the
reference walk storage.models.analytics.first_step_groups over the engine's step rows.
"""

from __future__ import annotations

from datetime import timedelta

from resolvers.analytics.engine import MAX_RANGE
from resolvers.core.services import Services
from resolvers.experiments.service import EXPOSURE
from resolvers.experiments.stats import VariantCounts
from storage.models.analytics import TRACKED, Filter, Ref, StepQuery
from storage.models.experiments import Experiment
from storage.timeutil import now_ms


async def variant_counts(services: Services, experiment: Experiment, actor: str = "user_id") -> list[VariantCounts]:
    """Per configured variant, in order; exposures naming another variant are not counted."""
    end = now_ms() + timedelta(days=1)
    start = max(experiment.created_at - timedelta(days=1), end - MAX_RANGE)
    steps = (
        (Filter(Ref("type"), "eq", EXPOSURE), Filter(Ref("experiment", "property"), "eq", experiment.name)),
        (Filter(Ref("type"), "eq", experiment.goal_event),),
    )
    groups = await services.store.analytics.first_step_conversions(StepQuery(
        experiment.project_id, start, end, steps, actor, (TRACKED,), Ref("variant", "property"),
    ))
    found = {g.value: g for g in groups}
    return [
        VariantCounts(v.key, found[v.key].actors if v.key in found else 0,
                      found[v.key].converted if v.key in found else 0, float(v.weight))
        for v in experiment.variants
    ]

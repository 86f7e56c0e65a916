"""Who saw each variant and who then converted, from tracked events through the analytics engine.

An actor's exposure is their first `$experiment_exposure` event naming the experiment (once per
actor, whatever they send after); they convert when a goal event follows it. Both stores return
the same step rows (StepQuery), so both count alike.
"""

from __future__ import annotations

from datetime import timedelta

from resolvers.analytics.engine import MAX_RANGE, MAX_SCAN
from resolvers.core.errors import InputError, Problem
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
    rows = await services.store.analytics.steps(StepQuery(
        experiment.project_id, start, end, steps, actor, (TRACKED,), Ref("variant", "property"), MAX_SCAN + 1,
    ))
    if len(rows) > MAX_SCAN:
        raise InputError(Problem("experiment", f"more than {MAX_SCAN} exposure and goal events"))
    exposed: dict[str, tuple[str, int]] = {}  # actor -> (variant, first exposure time)
    converted: set[str] = set()
    for row in rows:  # by actor, then time
        if row.step == 0:
            if row.actor not in exposed and isinstance(row.breakdown, str):
                exposed[row.actor] = (row.breakdown, row.at_ms)
        elif row.actor in exposed and row.at_ms >= exposed[row.actor][1]:
            converted.add(row.actor)
    out = []
    for variant in experiment.variants:
        members = [a for a, (v, _) in exposed.items() if v == variant.key]
        out.append(VariantCounts(variant.key, len(members), sum(1 for a in members if a in converted),
                                 float(variant.weight)))
    return out

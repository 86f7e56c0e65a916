"""Who saw each variant and who then converted, from tracked events through the analytics engine.

A user's exposure is their first `$experiment_exposure` event naming the experiment (once per user,
whatever they send after); they convert when a goal event follows it. The store counts
(first_step_conversions: on SQLite one statement over its index of exposures, no rows returned), and both
stores answer as the reference walk storage.models.analytics.first_step_groups over the engine's step rows.
"""

from __future__ import annotations

from datetime import timedelta

from resolvers.analytics.engine import MAX_RANGE
from resolvers.core.services import Services
from resolvers.experiments.stats import VariantCounts
from storage.models.experiments import Experiment, results_query
from storage.timeutil import now_ms


async def variant_counts(services: Services, experiment: Experiment) -> list[VariantCounts]:
    """Per configured variant, in order; exposures naming another variant are not counted."""
    end = now_ms() + timedelta(days=1)
    start = max(experiment.created_at - timedelta(days=1), end - MAX_RANGE)
    groups = await services.store.analytics.first_step_conversions(
        results_query(experiment.project_id, experiment.name, experiment.goal_event, start, end))
    found = {g.value: g for g in groups}
    return [
        VariantCounts(v.key, found[v.key].actors if v.key in found else 0,
                      found[v.key].converted if v.key in found else 0, float(v.weight))
        for v in experiment.variants
    ]

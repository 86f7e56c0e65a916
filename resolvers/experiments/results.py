"""An experiment's results, as every API surface reports them: the counts (counts.py), their statistics
(stats.py), and the summary read off them (chance to be best, enough data, a recommendation).

REST (GET /experiments/{id}) and GraphQL (Experiment.results) both render this one value.
"""

from __future__ import annotations

from dataclasses import dataclass

from resolvers.core.services import Services
from resolvers.experiments.counts import variant_counts
from resolvers.experiments.stats import ExperimentStats, VariantStats, analyze
from storage.models.experiments import Experiment

# Below this many exposed users per variant, the seed's "sufficient data" stays false.
MIN_USERS = 100


@dataclass(frozen=True, slots=True)
class ExperimentResults:
    stats: ExperimentStats
    # Two variants: each one's chance to be the better. More: each non-control variant's chance to beat control.
    probability_best: dict[str, float]
    sufficient_data: bool
    recommendation: str
    significance_method: str


def summarize(found: ExperimentStats) -> ExperimentResults:
    sufficient = all(v.exposed >= MIN_USERS for v in found.variants)
    return ExperimentResults(
        stats=found, probability_best=_probability_best(found), sufficient_data=sufficient,
        recommendation=_recommendation(found, sufficient),
        significance_method=f"mSPRT always-valid p-value (tau={found.tau}), alpha {found.alpha}",
    )


async def experiment_results(services: Services, experiment: Experiment) -> ExperimentResults:
    """The live results: the first variant is the control."""
    counts = await variant_counts(services, experiment)
    return summarize(analyze(counts, experiment.variants[0].key))


def _recommendation(found: ExperimentStats, sufficient: bool) -> str:
    winners: list[VariantStats] = [
        v for v in found.variants
        if v.comparison is not None and v.comparison.significant and (v.comparison.absolute_lift or 0) > 0
    ]
    if found.sample_ratio.mismatch:
        return ("Sample ratio mismatch: exposures do not follow the weights; check the assignment before "
                "reading results.")
    if winners:
        top = max(winners, key=lambda v: v.conversion_rate or 0)
        return f"{top.name} beats {found.control} (always-valid p < {found.alpha}); consider completing with it."
    if not sufficient:
        return f"Keep running: fewer than {MIN_USERS} users in some variant."
    return "No significant difference yet; keep running or stop if the effect you care about is excluded."


def _probability_best(found: ExperimentStats) -> dict[str, float]:
    out: dict[str, float] = {}
    for v in found.variants:
        if v.comparison is not None and v.comparison.probability_to_beat_control is not None:
            out[v.name] = v.comparison.probability_to_beat_control
    if len(found.variants) == 2 and out:
        ((_, p),) = out.items()
        out[found.control] = 1 - p
    return out

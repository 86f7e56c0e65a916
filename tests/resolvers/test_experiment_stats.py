"""resolvers/experiments/stats.py against scipy and statsmodels, the published mSPRT formula, and an A/A simulation.

scipy, statsmodels and numpy are test-only (the `test` extra): the module itself uses `math` alone.
The A/A figures quoted in docs/experiments-statistics.md come from
`.venv/bin/python -m pytest tests/resolvers/test_experiment_stats.py -k a_a -s`.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from scipy import integrate, stats  # type: ignore[import-untyped]
from statsmodels.stats.proportion import (  # type: ignore[import-untyped]
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

from resolvers.experiments import stats as ab
from resolvers.experiments.stats import VariantCounts

# (converted, exposed) pairs covering 0%, 100%, tiny and large samples.
PROPORTIONS = [
    (0, 1),
    (1, 1),
    (0, 10),
    (10, 10),
    (1, 10),
    (3, 7),
    (50, 1000),
    (999, 1000),
    (12, 100_000),
    (4_321, 9_876),
]
# (x_v, n_v, x_c, n_c) pairs for the comparisons, balanced and not.
PAIRS = [
    (130, 1000, 100, 1000),
    (100, 1000, 130, 1000),
    (3, 10, 5, 12),
    (0, 50, 4, 60),
    (7, 40, 0, 35),
    (50, 50, 48, 50),
    (1_200, 20_000, 1_050, 19_500),
    (40, 5_000, 55, 4_000),
]


def test_z_95_is_the_normal_quantile() -> None:
    quantile = ab.Z_95
    assert quantile == pytest.approx(stats.norm.isf(0.025), abs=1e-15)


@pytest.mark.parametrize(("converted", "exposed"), PROPORTIONS)
def test_wilson_matches_statsmodels(converted: int, exposed: int) -> None:
    ours = ab.wilson_interval(converted, exposed)
    low, high = proportion_confint(converted, exposed, alpha=0.05, method="wilson")
    assert ours is not None
    assert ours.low == pytest.approx(low, abs=1e-12)
    assert ours.high == pytest.approx(high, abs=1e-12)


@pytest.mark.parametrize(("x_v", "n_v", "x_c", "n_c"), PAIRS)
def test_pooled_z_test_matches_statsmodels(x_v: int, n_v: int, x_c: int, n_c: int) -> None:
    _, p_value = proportions_ztest([x_v, x_c], [n_v, n_c], alternative="two-sided")
    assert ab.two_proportion_z_test(x_v, n_v, x_c, n_c) == pytest.approx(p_value, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(("x_v", "n_v", "x_c", "n_c"), PAIRS)
def test_newcombe_matches_statsmodels(x_v: int, n_v: int, x_c: int, n_c: int) -> None:
    low, high = confint_proportions_2indep(x_v, n_v, x_c, n_c, method="newcomb", compare="diff", alpha=0.05)
    ours = ab.newcombe_interval(x_v, n_v, x_c, n_c)
    assert ours is not None
    assert ours.low == pytest.approx(low, abs=1e-12)
    assert ours.high == pytest.approx(high, abs=1e-12)
    assert ours.low <= x_v / n_v - x_c / n_c <= ours.high


@pytest.mark.parametrize(("x_v", "n_v", "x_c", "n_c"), [pair for pair in PAIRS if pair[0] and pair[2]])
def test_relative_lift_interval_matches_statsmodels_log_ratio(x_v: int, n_v: int, x_c: int, n_c: int) -> None:
    low, high = confint_proportions_2indep(x_v, n_v, x_c, n_c, method="log", compare="ratio", alpha=0.05)
    ours = ab.relative_lift_interval(x_v, n_v, x_c, n_c)
    assert ours is not None
    assert ours.low == pytest.approx(low - 1.0, rel=1e-10, abs=1e-12)
    assert ours.high == pytest.approx(high - 1.0, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("degrees_of_freedom", range(1, 13))
def test_chi_square_survival_matches_scipy(degrees_of_freedom: int) -> None:
    for statistic in (1e-6, 0.01, 0.5, 1.0, 2.7, degrees_of_freedom, 10.0, 33.3, 80.0, 250.0):
        expected = stats.chi2.sf(statistic, degrees_of_freedom)
        assert ab.chi_square_sf(statistic, degrees_of_freedom) == pytest.approx(expected, rel=1e-10, abs=1e-300)
    assert ab.chi_square_sf(0.0, degrees_of_freedom) == 1.0
    assert ab.chi_square_sf(math.inf, degrees_of_freedom) == 0.0


@pytest.mark.parametrize(
    ("exposed", "weights"),
    [
        ([5_000, 5_100], [1, 1]),
        ([5_000, 5_400], [50, 50]),
        ([1_000, 2_050, 980], [1, 2, 1]),
        ([900, 1_000, 1_100, 1_000, 1_020], [0.2, 0.2, 0.2, 0.2, 0.2]),
        ([10, 3], [0.9, 0.1]),
    ],
)
def test_sample_ratio_check_matches_scipy_chisquare(exposed: list[int], weights: list[float]) -> None:
    total, weight_sum = sum(exposed), sum(weights)
    expected = [total * weight / weight_sum for weight in weights]
    statistic, p_value = stats.chisquare(exposed, expected)
    check = ab.sample_ratio_check(exposed, weights)
    assert check.chi_square == pytest.approx(statistic, rel=1e-10, abs=1e-12)
    assert check.p_value == pytest.approx(p_value, rel=1e-9, abs=1e-300)
    assert check.degrees_of_freedom == len(exposed) - 1
    assert check.mismatch == (p_value < 0.001)


def test_sample_ratio_mismatch_is_flagged() -> None:
    assert ab.sample_ratio_check([5_000, 5_400], [1, 1]).mismatch  # p ≈ 9e-5
    assert not ab.sample_ratio_check([5_000, 5_100], [1, 1]).mismatch
    # A variant switched off (weight 0) takes no part while it has no exposures, and is certain SRM when it has.
    off = ab.sample_ratio_check([1_000, 1_010, 0], [1, 1, 0])
    assert off.degrees_of_freedom == 1 and not off.mismatch
    leaked = ab.sample_ratio_check([1_000, 1_010, 3], [1, 1, 0])
    assert leaked.p_value == 0.0 and leaked.mismatch


def _probability_by_integration(x_v: int, n_v: int, x_c: int, n_c: int) -> float:
    """P(p_v > p_c) = ∫ f_v(t) F_c(t) dt with scipy's Beta pdf and cdf, over the variant's posterior mass."""
    a_v, b_v, a_c, b_c = 1 + x_v, 1 + n_v - x_v, 1 + x_c, 1 + n_c - x_c
    mean = a_v / (a_v + b_v)
    sd = math.sqrt(a_v * b_v / ((a_v + b_v) ** 2 * (a_v + b_v + 1)))
    low, high = max(0.0, mean - 20 * sd), min(1.0, mean + 20 * sd)
    value, _ = integrate.quad(
        lambda t: stats.beta.pdf(t, a_v, b_v) * stats.beta.cdf(t, a_c, b_c), low, high, epsabs=1e-13, limit=500
    )
    return float(value)


@pytest.mark.parametrize(
    ("x_v", "n_v", "x_c", "n_c"),
    [*PAIRS, (0, 0, 0, 0), (0, 0, 5, 10), (10, 10, 0, 10), (990, 1_000, 985, 1_000), (5, 100, 2, 100_000)],
)
def test_probability_to_beat_exact_sum_matches_integration(x_v: int, n_v: int, x_c: int, n_c: int) -> None:
    probability, method = ab.probability_to_beat(x_v, n_v, x_c, n_c)
    assert method == "exact"
    # quad's own error is below 1e-10 here; the sum is exact up to rounding.
    assert probability == pytest.approx(_probability_by_integration(x_v, n_v, x_c, n_c), abs=1e-9)


def test_probability_to_beat_exact_sum_for_each_of_the_four_smallest_parameters() -> None:
    # The sum runs over whichever Beta parameter is smallest: a_v, a_c, b_v or b_c.
    for counts in [(3, 400, 9, 300), (9, 300, 3, 400), (397, 400, 291, 300), (291, 300, 397, 400)]:
        assert ab.probability_to_beat(*counts)[0] == pytest.approx(_probability_by_integration(*counts), abs=1e-9)


@pytest.mark.parametrize(
    ("x_v", "n_v", "x_c", "n_c"),
    [(30_000, 300_000, 30_500, 300_000), (25_500, 250_000, 25_000, 251_000), (60_000, 100_000, 60_400, 100_000)],
)
def test_probability_to_beat_normal_approximation_when_the_sum_is_long(x_v: int, n_v: int, x_c: int, n_c: int) -> None:
    probability, method = ab.probability_to_beat(x_v, n_v, x_c, n_c)
    assert method == "normal-approximation"
    # Every Beta parameter is above 20,000 here: the posteriors' skew is negligible.
    assert probability == pytest.approx(_probability_by_integration(x_v, n_v, x_c, n_c), abs=1e-4)


def test_probability_to_beat_agrees_with_seeded_monte_carlo() -> None:
    rng = np.random.default_rng(20_240_601)
    draws = 2_000_000
    for x_v, n_v, x_c, n_c in [(130, 1000, 100, 1000), (3, 10, 5, 12)]:
        p_v = rng.beta(1 + x_v, 1 + n_v - x_v, draws)
        p_c = rng.beta(1 + x_c, 1 + n_c - x_c, draws)
        estimate = float(np.mean(p_v > p_c))
        # Five standard errors of a proportion estimated from 2M draws: at most 5 * 0.5 / sqrt(2e6) ≈ 0.0018.
        assert ab.probability_to_beat(x_v, n_v, x_c, n_c)[0] == pytest.approx(estimate, abs=0.0018)


def _msprt_p_published(mean_difference: float, pairs: float, pair_variance: float, tau: float) -> float:
    """Johari et al.: Λ_n = sqrt(V / (V + nτ²)) exp(n²τ²(Ȳ_n − X̄_n)² / (2V(V + nτ²))), p_n = min(1, 1/Λ_n)."""
    v, n = pair_variance, pairs
    likelihood_ratio = math.sqrt(v / (v + n * tau**2)) * math.exp(
        n**2 * tau**2 * mean_difference**2 / (2 * v * (v + n * tau**2))
    )
    return min(1.0, 1.0 / likelihood_ratio)


@pytest.mark.parametrize("tau", [ab.DEFAULT_TAU, 0.001, 0.05])
@pytest.mark.parametrize(("x_v", "n_v", "x_c", "n_c"), PAIRS)
def test_msprt_matches_the_published_formula(x_v: int, n_v: int, x_c: int, n_c: int, tau: float) -> None:
    # n pairs (Y_i − X_i) of variance V = 2 p̄(1 − p̄) under H0; with unequal arms, n is their harmonic mean
    # (then V/n is the pooled variance of p̂_v − p̂_c, as in the module).
    pooled = (x_v + x_c) / (n_v + n_c)
    pairs = 2.0 / (1.0 / n_v + 1.0 / n_c)
    expected = _msprt_p_published(x_v / n_v - x_c / n_c, pairs, 2 * pooled * (1 - pooled), tau)
    assert ab.msprt_always_valid_p(x_v, n_v, x_c, n_c, tau) == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_always_valid_p_is_never_below_the_fixed_horizon_p_for_a_clear_effect() -> None:
    # Always-valid inference pays for peeking: the same data are less significant than at a fixed horizon.
    for x_v, n_v, x_c, n_c in PAIRS:
        fixed = ab.two_proportion_z_test(x_v, n_v, x_c, n_c)
        always = ab.msprt_always_valid_p(x_v, n_v, x_c, n_c)
        assert fixed is not None and always is not None
        assert always >= fixed


def test_analyze_reports_every_figure_for_two_variants() -> None:
    result = ab.analyze([VariantCounts("control", 10_000, 1_000), VariantCounts("b", 10_000, 1_150)], "control")
    control, variant = result.variants
    assert control.is_control and control.comparison is None
    assert control.conversion_rate == 0.1
    assert variant.comparison is not None
    comparison = variant.comparison
    assert comparison.absolute_lift == pytest.approx(0.015)
    assert comparison.relative_lift == pytest.approx(0.15)
    assert comparison.fixed_horizon_p_value is not None and comparison.fixed_horizon_p_value < 0.001
    assert comparison.always_valid_p_value is not None and comparison.always_valid_p_value < 0.05
    assert comparison.significant
    assert comparison.probability_to_beat_control is not None and comparison.probability_to_beat_control > 0.99
    assert comparison.probability_method == "exact"
    assert result.sample_ratio.degrees_of_freedom == 1 and not result.sample_ratio.mismatch
    assert result.tau == ab.DEFAULT_TAU and result.alpha == 0.05 and result.confidence == 0.95


def test_analyze_handles_zeros_without_exceptions() -> None:
    # No exposures at all.
    empty = ab.analyze([VariantCounts("a", 0, 0), VariantCounts("b", 0, 0)], "a")
    comparison = empty.variants[1].comparison
    assert comparison is not None
    assert empty.variants[0].conversion_rate is None and empty.variants[0].conversion_rate_interval is None
    assert comparison.absolute_lift is None and comparison.absolute_lift_interval is None
    assert comparison.relative_lift is None and comparison.relative_lift_interval is None
    assert comparison.fixed_horizon_p_value is None and comparison.always_valid_p_value is None
    assert not comparison.significant
    assert comparison.probability_to_beat_control == pytest.approx(0.5)  # the prior, Beta(1, 1) each
    assert empty.sample_ratio.p_value is None and not empty.sample_ratio.mismatch

    # 0% in both arms: rates and intervals exist, the tests have nothing to test.
    zero = ab.analyze([VariantCounts("a", 500, 0), VariantCounts("b", 500, 0)], "a").variants[1].comparison
    assert zero is not None
    assert zero.absolute_lift == 0.0 and zero.absolute_lift_interval is not None
    assert zero.relative_lift is None and zero.relative_lift_interval is None
    assert zero.fixed_horizon_p_value is None and zero.always_valid_p_value is None and not zero.significant

    # 100% in both arms.
    full = ab.analyze([VariantCounts("a", 500, 500), VariantCounts("b", 400, 400)], "a").variants[1].comparison
    assert full is not None
    assert full.relative_lift == 0.0 and full.relative_lift_interval is not None
    assert full.fixed_horizon_p_value is None and full.always_valid_p_value is None

    # Control at 0%, variant converting: no relative lift, but the difference is testable.
    lifted = ab.analyze([VariantCounts("a", 500, 0), VariantCounts("b", 500, 20)], "a").variants[1].comparison
    assert lifted is not None
    assert lifted.relative_lift is None and lifted.relative_lift_interval is None
    assert lifted.fixed_horizon_p_value is not None and lifted.always_valid_p_value is not None

    # One arm without exposures.
    half = ab.analyze([VariantCounts("a", 500, 50), VariantCounts("b", 0, 0)], "a").variants[1].comparison
    assert half is not None and half.absolute_lift is None and half.always_valid_p_value is None

    # A single variant: its rate, no comparison, no SRM test.
    single = ab.analyze([VariantCounts("a", 300, 30)], "a")
    assert single.variants[0].conversion_rate == 0.1 and single.variants[0].comparison is None
    assert single.sample_ratio.chi_square is None and single.sample_ratio.degrees_of_freedom == 0

    # No variants at all is not a zero but a missing control.
    with pytest.raises(ValueError):
        ab.analyze([], "a")


@pytest.mark.parametrize(
    "variants",
    [
        [VariantCounts("a", 10, 11), VariantCounts("b", 10, 1)],
        [VariantCounts("a", -1, 0), VariantCounts("b", 10, 1)],
        [VariantCounts("a", 10, 1), VariantCounts("a", 10, 1)],
        [VariantCounts("a", 10, 1, weight=-1), VariantCounts("b", 10, 1)],
    ],
)
def test_analyze_rejects_inconsistent_input(variants: list[VariantCounts]) -> None:
    with pytest.raises(ValueError):
        ab.analyze(variants, "a")


def _simulate_peeking(
    rate_control: float, rate_variant: float, experiments: int, looks: int, users_per_look: int, seed: int
) -> tuple[float, float]:
    """Share of experiments ever called significant, by the always-valid p and by the fixed-horizon p.

    Every look adds users_per_look users, each assigned to either arm with probability ½ (a dashboard refreshed
    every minute); both p-values are computed by the module at every look on the cumulative counts.
    """
    rng = np.random.default_rng(seed)
    to_variant = rng.binomial(users_per_look, 0.5, size=(experiments, looks))
    to_control = users_per_look - to_variant
    n_v, n_c = np.cumsum(to_variant, axis=1), np.cumsum(to_control, axis=1)
    x_v = np.cumsum(rng.binomial(to_variant, rate_variant), axis=1)
    x_c = np.cumsum(rng.binomial(to_control, rate_control), axis=1)
    ever_always_valid = ever_fixed = 0
    for counts in zip(x_v.tolist(), n_v.tolist(), x_c.tolist(), n_c.tolist(), strict=True):
        always_hit = fixed_hit = False
        for look_x_v, look_n_v, look_x_c, look_n_c in zip(*counts, strict=True):
            always = ab.msprt_always_valid_p(look_x_v, look_n_v, look_x_c, look_n_c)
            fixed = ab.two_proportion_z_test(look_x_v, look_n_v, look_x_c, look_n_c)
            always_hit = always_hit or (always is not None and always < ab.ALPHA)
            fixed_hit = fixed_hit or (fixed is not None and fixed < 0.05)
        ever_always_valid += always_hit
        ever_fixed += fixed_hit
    return ever_always_valid / experiments, ever_fixed / experiments


def test_a_a_peeking_false_positive_rate() -> None:
    experiments, looks, users_per_look, rate = 2_000, 30, 400, 0.10
    started = time.perf_counter()
    always_valid, fixed = _simulate_peeking(rate, rate, experiments, looks, users_per_look, seed=7)
    elapsed = time.perf_counter() - started
    print(
        f"\nA/A, {experiments} experiments, {looks} looks of {users_per_look} users"
        f" (rate {rate}, tau {ab.DEFAULT_TAU}):"
        f" ever significant by the always-valid p {always_valid:.2%}, by the fixed-horizon p peeked at"
        f" every look {fixed:.2%} ({elapsed:.1f} s)"
    )
    assert always_valid <= 0.05
    assert fixed > 0.05


def test_a_b_the_always_valid_call_still_finds_a_real_lift() -> None:
    experiments, looks, users_per_look = 300, 30, 400
    always_valid, fixed = _simulate_peeking(0.10, 0.13, experiments, looks, users_per_look, seed=11)
    print(
        f"\nA/B 10% vs 13%, {experiments} experiments, {looks} looks of {users_per_look} users: always-valid"
        f" power {always_valid:.2%}, fixed-horizon peeked {fixed:.2%}"
    )
    assert always_valid >= 0.9

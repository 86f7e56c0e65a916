"""The statistics behind A/B experiment results: pure Python and `math`, no numpy or scipy at run time.

Input: per variant the exposed users n, the converting users x and the configured traffic weight, and
which variant is the control. Output (frozen dataclasses, None wherever a value is undefined):

- per variant, the conversion rate x/n with a 95% Wilson score interval;
- per non-control variant against the control: the absolute lift p_v − p_c with Newcombe's hybrid score
  interval (Newcombe 1998, method 10), the relative lift p_v/p_c − 1 with a log-ratio delta-method interval,
  the classical fixed-horizon two-sided p-value of the pooled two-proportion z-test, the always-valid
  p-value of the Gaussian-mixture mSPRT (Johari, Koomen, Pekelis, Walsh, "Always valid inference",
  2017/2022) that the default significance call uses, and the Bayesian probability that the variant beats
  the control under uniform Beta(1, 1) priors;
- a sample-ratio-mismatch check: Pearson's chi-square of the exposed counts against the weights.

docs/experiments-statistics.md states every formula, the defaults and the A/A simulation figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

CONFIDENCE = 0.95
# The standard normal quantile for a two-sided 95% interval, Φ⁻¹(0.975) (the tests check it against scipy).
Z_95 = 1.959963984540054
# The significance call: always-valid p below this.
ALPHA = 0.05
# Mixing standard deviation of the mSPRT's normal mixture N(0, τ²) over the true difference of proportions,
# on the absolute scale (0.01 = one percentage point). A τ larger than the lifts that occur costs only
# logarithmically (½·log(1 + nτ²/V) in the log-likelihood ratio), a τ much smaller shrinks the evidence, so the
# default sits at the large end of the lifts conversion experiments usually look for (0.1 to a few points).
DEFAULT_TAU = 0.01
# The sample-ratio-mismatch flag: chi-square p-value below this.
SRM_THRESHOLD = 0.001
# The exact P(beat control) sum has as many terms as the smallest of the four Beta parameters; beyond this
# every parameter exceeds it and the normal approximation of the two posteriors is used instead.
EXACT_SUM_MAX_TERMS = 20_000

ProbabilityMethod = Literal["exact", "normal-approximation"]


@dataclass(frozen=True, slots=True)
class VariantCounts:
    """What the experiment observed for one variant, and its configured traffic weight."""

    name: str
    exposed: int
    converted: int
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Comparison:
    """One variant against the control. Lifts are variant minus (or over) control."""

    absolute_lift: float | None
    # Newcombe's hybrid score interval (from the two Wilson intervals), 95%.
    absolute_lift_interval: Interval | None
    relative_lift: float | None
    # exp(log(p_v/p_c) ± z·se) − 1 with se² = 1/x_v − 1/n_v + 1/x_c − 1/n_c; None when either arm has 0 conversions.
    relative_lift_interval: Interval | None
    # Classical pooled two-proportion z-test: valid only if looked at once, at a sample size fixed in advance.
    fixed_horizon_p_value: float | None
    # mSPRT always-valid p-value at the current counts: valid however often it is looked at.
    always_valid_p_value: float | None
    # The default, peeking-safe call: always_valid_p_value < ALPHA.
    significant: bool
    probability_to_beat_control: float | None
    probability_method: ProbabilityMethod | None


@dataclass(frozen=True, slots=True)
class VariantStats:
    name: str
    is_control: bool
    exposed: int
    converted: int
    weight: float
    conversion_rate: float | None
    conversion_rate_interval: Interval | None
    # None for the control itself.
    comparison: Comparison | None


@dataclass(frozen=True, slots=True)
class SampleRatioCheck:
    chi_square: float | None
    degrees_of_freedom: int
    p_value: float | None
    # p_value < SRM_THRESHOLD: the exposures do not follow the configured weights; results are suspect.
    mismatch: bool


@dataclass(frozen=True, slots=True)
class ExperimentStats:
    control: str
    confidence: float
    alpha: float
    tau: float
    variants: tuple[VariantStats, ...]
    sample_ratio: SampleRatioCheck


# ---------------------------------------------------------------------------------------------------------
# Building blocks (module-level so the tests and the A/A simulation can call them directly).


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def wilson_interval(converted: int, exposed: int, z: float = Z_95) -> Interval | None:
    """Wilson score interval for a binomial proportion; None without exposures."""
    if exposed <= 0:
        return None
    n = float(exposed)
    p = converted / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    center = (p + z2 / (2.0 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denominator
    return Interval(max(0.0, center - half), min(1.0, center + half))


def newcombe_interval(x_v: int, n_v: int, x_c: int, n_c: int, z: float = Z_95) -> Interval | None:
    """Newcombe's hybrid score interval for p_v − p_c (his method 10); None if either arm has no exposures."""
    wilson_v = wilson_interval(x_v, n_v, z)
    wilson_c = wilson_interval(x_c, n_c, z)
    if wilson_v is None or wilson_c is None:
        return None
    p_v, p_c = x_v / n_v, x_c / n_c
    diff = p_v - p_c
    below = math.sqrt((p_v - wilson_v.low) ** 2 + (wilson_c.high - p_c) ** 2)
    above = math.sqrt((wilson_v.high - p_v) ** 2 + (p_c - wilson_c.low) ** 2)
    return Interval(diff - below, diff + above)


def relative_lift_interval(x_v: int, n_v: int, x_c: int, n_c: int, z: float = Z_95) -> Interval | None:
    """Delta-method interval on log(p_v/p_c), returned as an interval for p_v/p_c − 1.

    None when either arm has no exposures or no conversions (log ratio or its variance undefined).
    """
    if n_v <= 0 or n_c <= 0 or x_v <= 0 or x_c <= 0:
        return None
    log_ratio = math.log((x_v / n_v) / (x_c / n_c))
    se = math.sqrt(max(0.0, 1.0 / x_v - 1.0 / n_v + 1.0 / x_c - 1.0 / n_c))
    return Interval(math.exp(log_ratio - z * se) - 1.0, math.exp(log_ratio + z * se) - 1.0)


def pooled_variance_of_difference(x_v: int, n_v: int, x_c: int, n_c: int) -> float | None:
    """Var(p̂_v − p̂_c) under H0 (one common rate), p̄(1 − p̄)(1/n_v + 1/n_c); None when undefined."""
    if n_v <= 0 or n_c <= 0:
        return None
    pooled = (x_v + x_c) / (n_v + n_c)
    return pooled * (1.0 - pooled) * (1.0 / n_v + 1.0 / n_c)


def two_proportion_z_test(x_v: int, n_v: int, x_c: int, n_c: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test (fixed horizon).

    None without exposures in either arm or when the pooled rate is 0 or 1 (no variation to test).
    """
    variance = pooled_variance_of_difference(x_v, n_v, x_c, n_c)
    if variance is None or variance <= 0.0:
        return None
    z = (x_v / n_v - x_c / n_c) / math.sqrt(variance)
    return min(1.0, 2.0 * normal_sf(abs(z)))


def msprt_log_likelihood_ratio(difference: float, variance: float, tau: float) -> float:
    """log Λ of the Gaussian-mixture mSPRT for H0: θ = 0 with θ̂ ~ N(θ, s²) and mixture θ ~ N(0, τ²).

    Λ = sqrt(s² / (s² + τ²)) · exp(τ² θ̂² / (2 s² (s² + τ²))). With n paired observations of variance V
    (s² = V/n) this is the published form sqrt(V / (V + nτ²)) · exp(n² τ² θ̂² / (2V (V + nτ²))).
    """
    total = variance + tau * tau
    return 0.5 * math.log(variance / total) + tau * tau * difference * difference / (2.0 * variance * total)


def msprt_always_valid_p(x_v: int, n_v: int, x_c: int, n_c: int, tau: float = DEFAULT_TAU) -> float | None:
    """Always-valid p-value min(1, 1/Λ) for p_v − p_c = 0 at the current counts.

    θ̂ = p̂_v − p̂_c and s² its variance under H0 with the pooled rate (the normal approximation of the paper's
    two-proportion case). Under H0, Λ is (asymptotically) a nonnegative martingale with mean 1, so by Ville's
    inequality P(Λ ever reaches 1/α) ≤ α: the value may be checked at every look. The paper's p-value sequence is
    the running minimum over looks; a caller that keeps history may take it, the call at each look is the same.
    None when either arm has no exposures or the pooled rate is 0 or 1.
    """
    if tau <= 0.0:
        raise ValueError("tau must be positive")
    variance = pooled_variance_of_difference(x_v, n_v, x_c, n_c)
    if variance is None or variance <= 0.0:
        return None
    log_lr = msprt_log_likelihood_ratio(x_v / n_v - x_c / n_c, variance, tau)
    return 1.0 if log_lr <= 0.0 else math.exp(-log_lr)


def _sum_probability_b_beats_a(a_a: int, b_a: int, a_b: int, b_b: int) -> float:
    """P(p_B > p_A) for p_A ~ Beta(a_a, b_a), p_B ~ Beta(a_b, b_b), integer a_b: a sum of a_b positive terms.

    term_i = B(a_a + i, b_a + b_b) / ((b_b + i) B(1 + i, b_b) B(a_a, b_a)), i = 0 .. a_b − 1, with
    term_0 = B(a_a, b_a + b_b) / B(a_a, b_a) and
    term_{i+1} / term_i = (a_a + i)(b_b + i) / ((a_a + b_a + b_b + i)(i + 1)).
    Summed in log space (terms can underflow one by one while their sum does not).
    """
    log_term = _log_beta(a_a, b_a + b_b) - _log_beta(a_a, b_a)
    logs = [log_term]
    for i in range(a_b - 1):
        log_term += math.log((a_a + i) * (b_b + i) / ((a_a + b_a + b_b + i) * (i + 1.0)))
        logs.append(log_term)
    peak = max(logs)
    return math.exp(peak) * math.fsum(math.exp(value - peak) for value in logs)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def probability_to_beat(x_v: int, n_v: int, x_c: int, n_c: int) -> tuple[float, ProbabilityMethod]:
    """P(p_v > p_c) with posteriors Beta(1 + x, 1 + n − x), and how it was computed.

    Exact when cheap: the closed-form sum for integer parameters, over whichever of the four parameters is
    smallest (by P(B > A) = 1 − P(A > B) and p ↦ 1 − p, which swaps the two parameters of each Beta). When all
    four exceed EXACT_SUM_MAX_TERMS, the two posteriors are replaced by normals with their means and variances:
    Φ((m_v − m_c) / sqrt(v_v + v_c)), deterministic, with no sampling. With no data it is the prior's 0.5.
    """
    a_v, b_v = 1 + x_v, 1 + n_v - x_v
    a_c, b_c = 1 + x_c, 1 + n_c - x_c
    smallest = min(a_v, b_v, a_c, b_c)
    if smallest <= EXACT_SUM_MAX_TERMS:
        # A = control, B = variant.
        if smallest == a_v:
            value = _sum_probability_b_beats_a(a_c, b_c, a_v, b_v)
        elif smallest == a_c:
            value = 1.0 - _sum_probability_b_beats_a(a_v, b_v, a_c, b_c)
        elif smallest == b_c:
            # p_v > p_c  ⇔  1 − p_c > 1 − p_v, with 1 − p ~ Beta(b, a): the control's complement is "B".
            value = _sum_probability_b_beats_a(b_v, a_v, b_c, a_c)
        else:
            value = 1.0 - _sum_probability_b_beats_a(b_c, a_c, b_v, a_v)
        return min(1.0, max(0.0, value)), "exact"
    mean_v, mean_c = a_v / (a_v + b_v), a_c / (a_c + b_c)
    var_v = a_v * b_v / ((a_v + b_v) ** 2 * (a_v + b_v + 1))
    var_c = a_c * b_c / ((a_c + b_c) ** 2 * (a_c + b_c + 1))
    return normal_sf(-(mean_v - mean_c) / math.sqrt(var_v + var_c)), "normal-approximation"


def chi_square_sf(statistic: float, degrees_of_freedom: int) -> float:
    """P(χ²_k > statistic) for an integer k ≥ 1: the regularized upper gamma Q(k/2, statistic/2) in closed form.

    Even k: Q(m, y) = e^(−y) Σ_{j<m} y^j / j!.
    Odd k: Q(½, y) = erfc(√y), then Q(a + 1, y) = Q(a, y) + y^a e^(−y) / Γ(a + 1).
    """
    if degrees_of_freedom < 1:
        raise ValueError("degrees_of_freedom must be at least 1")
    if statistic <= 0.0:
        return 1.0
    if math.isinf(statistic):
        return 0.0
    y = statistic / 2.0
    log_y = math.log(y)
    if degrees_of_freedom % 2 == 0:
        terms = [math.exp(j * log_y - y - math.lgamma(j + 1.0)) for j in range(degrees_of_freedom // 2)]
    else:
        terms = [math.erfc(math.sqrt(y))]
        terms += [math.exp((j + 0.5) * log_y - y - math.lgamma(j + 1.5)) for j in range(degrees_of_freedom // 2)]
    return min(1.0, math.fsum(terms))


def sample_ratio_check(exposed: Sequence[int], weights: Sequence[float]) -> SampleRatioCheck:
    """Pearson's chi-square of the exposed counts against the configured weights.

    Variants with weight 0 take no part, unless they have exposures: then the mismatch is certain (χ² = ∞, p = 0).
    Undefined (None, no flag) with fewer than two weighted variants or no exposures at all.
    """
    if len(exposed) != len(weights):
        raise ValueError("one weight per variant")
    if any(weight < 0 or not math.isfinite(weight) for weight in weights):
        raise ValueError("weights must be finite and not negative")
    cells = [(count, weight) for count, weight in zip(exposed, weights, strict=True) if weight > 0]
    degrees_of_freedom = len(cells) - 1
    total = sum(count for count, _ in cells)
    unweighted = sum(count for count, weight in zip(exposed, weights, strict=True) if weight == 0)
    if degrees_of_freedom < 1 or total + unweighted == 0:
        return SampleRatioCheck(None, max(0, degrees_of_freedom), None, False)
    if unweighted > 0:
        return SampleRatioCheck(math.inf, degrees_of_freedom, 0.0, True)
    weight_sum = math.fsum(weight for _, weight in cells)
    statistic = math.fsum(
        (count - total * weight / weight_sum) ** 2 / (total * weight / weight_sum) for count, weight in cells
    )
    p_value = chi_square_sf(statistic, degrees_of_freedom)
    return SampleRatioCheck(statistic, degrees_of_freedom, p_value, p_value < SRM_THRESHOLD)


# ---------------------------------------------------------------------------------------------------------


def compare(variant: VariantCounts, control: VariantCounts, *, tau: float = DEFAULT_TAU) -> Comparison:
    """Everything about one variant against the control."""
    x_v, n_v, x_c, n_c = variant.converted, variant.exposed, control.converted, control.exposed
    both_exposed = n_v > 0 and n_c > 0
    absolute_lift = x_v / n_v - x_c / n_c if both_exposed else None
    relative_lift = (x_v / n_v) / (x_c / n_c) - 1.0 if both_exposed and x_c > 0 else None
    always_valid = msprt_always_valid_p(x_v, n_v, x_c, n_c, tau)
    probability, method = probability_to_beat(x_v, n_v, x_c, n_c)
    return Comparison(
        absolute_lift=absolute_lift,
        absolute_lift_interval=newcombe_interval(x_v, n_v, x_c, n_c),
        relative_lift=relative_lift,
        relative_lift_interval=relative_lift_interval(x_v, n_v, x_c, n_c),
        fixed_horizon_p_value=two_proportion_z_test(x_v, n_v, x_c, n_c),
        always_valid_p_value=always_valid,
        significant=always_valid is not None and always_valid < ALPHA,
        probability_to_beat_control=probability,
        probability_method=method,
    )


def analyze(variants: Sequence[VariantCounts], control: str, *, tau: float = DEFAULT_TAU) -> ExperimentStats:
    """The results of an experiment. Raises ValueError only for inconsistent input, never for zeros."""
    names = [variant.name for variant in variants]
    if len(set(names)) != len(names):
        raise ValueError("variant names must be unique")
    if control not in names:
        raise ValueError(f"control {control!r} is not one of the variants")
    if tau <= 0.0 or not math.isfinite(tau):
        raise ValueError("tau must be positive")
    for variant in variants:
        if variant.exposed < 0 or variant.converted < 0 or variant.converted > variant.exposed:
            raise ValueError(f"variant {variant.name!r}: need 0 <= converted <= exposed")
    control_counts = variants[names.index(control)]
    results = tuple(
        VariantStats(
            name=variant.name,
            is_control=variant.name == control,
            exposed=variant.exposed,
            converted=variant.converted,
            weight=variant.weight,
            conversion_rate=variant.converted / variant.exposed if variant.exposed > 0 else None,
            conversion_rate_interval=wilson_interval(variant.converted, variant.exposed),
            comparison=None if variant.name == control else compare(variant, control_counts, tau=tau),
        )
        for variant in variants
    )
    return ExperimentStats(
        control=control,
        confidence=CONFIDENCE,
        alpha=ALPHA,
        tau=tau,
        variants=results,
        sample_ratio=sample_ratio_check([v.exposed for v in variants], [v.weight for v in variants]),
    )

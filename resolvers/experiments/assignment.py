"""Variant assignment: one deterministic rule, the same on the server and in tracker.js.

    bucket(experiment, actor) = fmix32(fnv1a32(utf8(experiment + "." + actor))) mod 10000

FNV-1a (32-bit, offset basis 0x811C9DC5, prime 0x01000193) over the UTF-8 bytes, then
MurmurHash3's 32-bit finaliser to spread the bits, then the remainder by 10,000: a bucket
in basis points. Variants take consecutive ranges of buckets by their weights (integer
percentages summing to 100, in the configured order), so a weight of 25 holds buckets
[cumulative, cumulative + 2500).

Why not the seed system's rule (a Java-style string hash of name + "." + user, mod 100):
that hash is linear in its input, so two experiments put users in shifted, correlated
buckets, and sequential user ids land in sequential buckets. The finaliser makes each
experiment's split independent of the others' and of how ids are numbered
(tests/resolvers/test_assignment.py checks both). Every step is 32-bit integer arithmetic
(JavaScript: Math.imul and >>> 0), and the vectors in
tests/resolvers/assignment_vectors.json pin the rule for any other implementation.
"""

from __future__ import annotations

from collections.abc import Sequence

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
MASK = 0xFFFFFFFF
BUCKETS = 10_000


def fnv1a32(data: bytes) -> int:
    h = FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & MASK
    return h


def fmix32(h: int) -> int:
    """MurmurHash3's finaliser: every input bit affects every output bit."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & MASK
    h ^= h >> 16
    return h


def bucket(experiment: str, actor: str) -> int:
    """0..9999: where this actor falls in this experiment."""
    return fmix32(fnv1a32(f"{experiment}.{actor}".encode())) % BUCKETS


def check_weights(weights: Sequence[int]) -> str | None:
    """Why these weights cannot split traffic, or None: positive integer percentages summing to 100."""
    if not weights:
        return "at least one weight"
    if any(isinstance(w, bool) or not isinstance(w, int) or w <= 0 for w in weights):
        return "weights are positive whole percentages"
    if sum(weights) != 100:
        return f"weights sum to 100, not {sum(weights)}"
    return None


def even_weights(count: int) -> list[int]:
    """The seed system's default split: equal shares, the remainder to the first variant."""
    share = 100 // count
    return [share + (100 - share * count if i == 0 else 0) for i in range(count)]


def assign(experiment: str, actor: str, variants: Sequence[tuple[str, int]]) -> str:
    """The variant whose bucket range holds this actor; variants are (key, weight percent) in order."""
    problem = check_weights([w for _, w in variants])
    if problem:
        raise ValueError(problem)
    at = bucket(experiment, actor)
    cumulative = 0
    for key, weight in variants:
        cumulative += weight * (BUCKETS // 100)
        if at < cumulative:
            return key
    return variants[-1][0]  # unreachable: the weights cover every bucket

"""Variant assignment: the published vectors, the same rule in a real browser's JavaScript, and fairness."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from resolvers.experiments.assignment import assign, bucket, check_weights, even_weights, fmix32, fnv1a32

VECTORS = json.loads((Path(__file__).parent / "assignment_vectors.json").read_text())["vectors"]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# The rule as tracker.js will run it: 32-bit integer steps with Math.imul and >>> 0, over UTF-8 bytes.
JS_RULE = """
(pairs) => {
  const fnv = (s) => {
    let h = 0x811c9dc5;
    for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    return h;
  };
  const fmix = (h) => {
    h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16; return h >>> 0;
  };
  return pairs.map(([e, a]) => fmix(fnv(e + "." + a)) % 10000);
}
"""


def test_the_published_vectors_hold() -> None:
    for v in VECTORS:
        joined = f"{v['experiment']}.{v['actor']}".encode()
        assert (fnv1a32(joined), fmix32(fnv1a32(joined)), bucket(v["experiment"], v["actor"])) == (
            v["fnv1a32"], v["fmix32"], v["bucket"]), v


async def test_javascript_in_chromium_assigns_exactly_as_the_server() -> None:
    from playwright.async_api import async_playwright

    pairs = [[v["experiment"], v["actor"]] for v in VECTORS]
    pairs += [[f"exp-{i % 7}", f"user-{i}"] for i in range(500)] + [["checkout", f"anon_{i:x}é"] for i in range(100)]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = await browser.new_page()
            buckets = await page.evaluate(JS_RULE, pairs)
        finally:
            await browser.close()
    assert buckets == [bucket(e, a) for e, a in pairs]


def test_the_same_actor_always_gets_the_same_variant() -> None:
    variants = [("control", 50), ("new_cta", 50)]
    first = [assign("cta", f"user-{i}", variants) for i in range(1000)]
    assert first == [assign("cta", f"user-{i}", variants) for i in range(1000)]


def test_sequential_ids_spread_evenly_over_buckets() -> None:
    # 100,000 sequential ids into 10 deciles: expected 10,000 each, sd ~95; 500 is over five sd.
    deciles = Counter(bucket("signup-flow", f"user-{i}") // 1000 for i in range(100_000))
    assert sorted(deciles) == list(range(10))
    assert all(abs(count - 10_000) < 500 for count in deciles.values()), deciles


def test_weights_are_respected() -> None:
    variants = [("a", 10), ("b", 30), ("c", 60)]
    counts = Counter(assign("weighted", f"visitor-{i}", variants) for i in range(50_000))
    for key, weight in variants:
        assert abs(counts[key] / 50_000 - weight / 100) < 0.015, counts


def test_two_experiments_split_users_independently() -> None:
    # With the seed system's linear hash, the split of one experiment predicts another's; here each
    # quarter of the 2x2 table holds a quarter of the users.
    halves = [("control", 50), ("treatment", 50)]
    table = Counter((assign("exp-a", f"u{i}", halves), assign("exp-b", f"u{i}", halves)) for i in range(20_000))
    assert len(table) == 4
    assert all(abs(count - 5_000) < 300 for count in table.values()), table


@pytest.mark.parametrize(
    ("weights", "problem"),
    [([], "at least one weight"), ([50, 40], "weights sum to 100, not 90"), ([100, 0], "positive"),
     ([50.5, 49.5], "positive whole"), ([True, 99], "positive whole")],
)
def test_weights_that_cannot_split_traffic_are_named(weights: list, problem: str) -> None:
    found = check_weights(weights)
    assert found is not None and problem in found
    with pytest.raises(ValueError):
        assign("e", "u", [(f"v{i}", w) for i, w in enumerate(weights)])


def test_even_weights_follow_the_seed_system() -> None:
    assert even_weights(3) == [34, 33, 33]
    assert even_weights(2) == [50, 50]
    assert check_weights(even_weights(7)) is None

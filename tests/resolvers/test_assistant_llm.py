"""The number guard of the assistant's optional language model (resolvers/assistant/llm.py): what a text states,
and which wordings of a deterministic answer state nothing it does not."""

from __future__ import annotations

from decimal import Decimal

import pytest

from resolvers.assistant.llm import allowed_figures, dropped, figures_in, invented, numbers_in

# answer.py's wording of "Why did conversions drop last week?" (tests/resolvers/test_assistant.py)
ENGINE = ("Your conversions were 10 last week, down 37.5% from 16 the week before.\n\nThe segments that moved "
          "most:\n1. Device mobile: 8 → 2 (-75%)\n2. Referrer google.com: 8 → 2 (-75%)")
METRICS = [{"name": "conversions", "value": 10.0, "change": -37.5}]


@pytest.mark.parametrize(("text", "numbers"), [
    ("$3.00", ["3"]),
    ("1,200", ["1200"]),
    ("$1,200.50 and €0.000123", ["1200.5", "0.000123"]),
    ("\u221275%", ["75"]),  # a minus sign
    ("(-75%)", ["75"]),
    ("37.5%", ["37.5"]),
    ("down 37.5% from 16.", ["37.5", "16"]),
    ("on 2024-01-15 at 14:32", []),  # a date and a time are not numbers
    ("agent a1 on gpt-4o, p95 latency", []),  # ids, models, labels
    ("12,34 and 1,2000", ["12", "34", "1", "2000"]),  # not thousands separators
    ("8 → 2", ["8", "2"]),
    ("1.2.3 and .5", ["1.2", "3", "0.5"]),
    ("no figures here", []),
])
def test_numbers_are_read_as_magnitudes(text: str, numbers: list[str]) -> None:
    assert numbers_in(text) == [Decimal(n) for n in numbers]


def test_dates_and_mixed_tokens_are_kept_as_written() -> None:
    found = figures_in("Since 2024-01-15 14:32, agent A1 on gpt-4o spent $3.00 (5k tokens)")
    assert found.dates == {"2024-01-15", "14:32"}
    assert found.tokens == {"a1", "gpt-4o", "5k"}
    assert found.numbers == {Decimal(3)}


@pytest.mark.parametrize("wording", [
    "Conversions fell 37.5% last week, from 16 to 10. Mobile dropped 75% (8 to 2), as did google.com.",
    "Last week you had 10 conversions: 37.5 percent fewer than the 16 of the week before.",
    "Your conversions were 10.0 last week, down 37.50% from 16.00.",  # the same values, written otherwise
    "Conversions dropped to 10 last week.",  # a wording may leave numbers out, but for the referenced values
])
def test_a_faithful_wording_states_nothing_new(wording: str) -> None:
    assert invented(wording, allowed_figures(ENGINE, METRICS)) == []


@pytest.mark.parametrize(("wording", "extra"), [
    ("Conversions fell 38% last week, from 16 to 10.", ["38"]),  # rounded
    ("Conversions fell 37.5% last week, from 16 to 10, about 1,200 fewer visits.", ["1200"]),
    ("Conversions fell 37.5% to 10 on 2026-11-16.", ["2026-11-16"]),
    ("Conversions fell 37.5% to 10 for agent a7.", ["a7"]),
    ("Conversions fell 37.5% to 10, some 3k sessions.", ["3k"]),
    ("Conversions halved to 10, three times the drop on desktop.", ["3", "50"]),  # numbers in words
])
def test_an_invented_figure_is_named(wording: str, extra: list[str]) -> None:
    assert invented(wording, allowed_figures(ENGINE, METRICS)) == extra


def test_metrics_referenced_count_as_figures() -> None:
    allowed = allowed_figures("Your LLM cost was $3.00 last week.", [{"name": "cost", "value": 3.0, "change": 200.0}])
    assert invented("Your LLM cost tripled to $3 last week, up 200%.", allowed) == []
    assert invented("Your LLM cost rose 150% to $3.", allowed) == ["150"]


def test_a_wording_must_keep_each_referenced_value_to_the_precision_it_writes() -> None:
    metrics = [{"name": "conversion_rate", "value": 33.3333, "change": None},
               {"name": "latency", "value": 1234.5, "change": -3.0}, {"name": "cost", "value": None, "change": None}]
    assert dropped("33.33% and 1,234 ms", metrics) == []
    assert dropped("33% and 1,235 ms", metrics) == []
    assert dropped("33.34% and 1,234.5 ms", metrics) == ["33.3333"]
    assert dropped("Conversions dropped.", METRICS) == ["10.0"]
    assert dropped("How many conversions on mobile?", metrics) == ["33.3333", "1234.5"]

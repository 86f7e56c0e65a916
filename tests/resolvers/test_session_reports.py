"""The seed-002 report helpers against what Node.js answers (values worked out with Node's rules;
the CSV cells are the reference backend's own csv-export tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from resolvers.traces.compare import pct_delta
from resolvers.traces.explain import format_duration, truncate
from resolvers.traces.export import csv_cell
from resolvers.traces.jsfmt import js_num, js_round, js_string, js_stringify, round2, to_fixed


@pytest.mark.parametrize(("value", "expected"), [
    (None, ""), ("hello", "hello"), ("a,b", '"a,b"'), ('say "hi"', '"say ""hi"""'),
    ("=SUM(A1)", "'=SUM(A1)"), ("+cmd|'/C calc'!A0", "'+cmd|'/C calc'!A0"), ("-1+1", "'-1+1"), ("@import", "'@import"),
    ("-5", "-5"), ("+3.14", "+3.14"), ("42", "42"),
    (" =SUM(1)", "'=SUM(1)"), ("\t=SUM(1)", "'=SUM(1)"), ("  +cmd|/c calc", "'+cmd|/c calc"), ("\r\n@hi", "'@hi"),
    ("   -1+1", "'-1+1"), (" hello", " hello"), ("  some note", "  some note"),
    ("1,000", '"1,000"'), ("1e3\n", '"1e3\n"'), ("\tvalue", "'\tvalue"), ("\rvalue", "'\rvalue"),
    ({"key": "val"}, '"{""key"":""val""}"'), ([1, 2.0], '"[1,2]"'), (150.0, "150"), (0.1, "0.1"), (True, "true"),
    ("-Infinity", "'-Infinity"), ("0x1A", "0x1A"), ("-0x1A", "'-0x1A"),
])
def test_csv_cells_as_the_reference_escapes_them(value: object, expected: str) -> None:
    assert csv_cell(value) == expected


def test_numbers_and_text_as_node_writes_them() -> None:
    assert [js_round(x) for x in (2.5, -2.5, 0.49999999999999994, -0.5)] == [3, -2, 0, 0]
    assert [round2(x) for x in (350.08333, 1.005, -79.90999999999997)] == [350.08, 1.0, -79.91]
    assert [to_fixed(x, 1) for x in (1.25, 0.05, 95.0, 61.25)] == ["1.3", "0.1", "95.0", "61.3"]
    assert [js_string(x) for x in (1e21, 1.5e-7, 123.0, 0.000001)] == ["1e+21", "1.5e-7", "123", "0.000001"]
    assert js_stringify({"a": [1, 2.5, None, True], "b": "é\n"}) == '{"a":[1,2.5,null,true],"b":"é\\n"}'
    assert (js_num(150.0), js_num(150.5)) == (150, 150.5)
    assert truncate("😀" * 61) == "😀" * 60 + "…"  # 122 UTF-16 units, cut at 120
    assert truncate("a" * 120) == "a" * 120


def test_percent_change_and_durations() -> None:
    assert (pct_delta(0, 0), pct_delta(0, 5), pct_delta(0, -5)) == (0, 100, -100)
    assert (pct_delta(1550, 1350), pct_delta(1200, 1050), pct_delta(350, 300)) == (-12.9, -12.5, -14.29)
    assert pct_delta(4250.5, 3250.0) == -23.54  # the seed's own example values
    start = datetime(2026, 2, 14, 10, 30, tzinfo=UTC)
    assert format_duration(start, None) == "ongoing"
    # toFixed rounds the binary value half up: 45.25 is exact (45.3), 45.15 is just under (45.1)
    durations = (0, 999, 1250, 45_250, 45_150, 60_000, 135_000)
    assert [format_duration(start, start + timedelta(milliseconds=ms)) for ms in durations] == [
        "0ms", "999ms", "1.3s", "45.3s", "45.1s", "1.0m", "2.3m"]

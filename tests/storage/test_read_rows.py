"""read_rows._records (the timeline's rows -> records) is [_record(row) for row in rows]: the same values."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.sqlite.read_rows import _record, _records
from tests.resolvers.test_chain import IDS, OBJECTS

# A RECORD_COLUMNS row: id, session_id, agent_id, user_id, type, severity, ts, seq, model, tokens_in,
# tokens_out, duration_ms, payload, metadata, prev_hash, hash. Times from year 1 to 9999 (iso_of_ms's range),
# some of them close together so that runs of events share a second; metadata often repeated, "{}" included.
TS = st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999) | st.integers(
    min_value=1_700_000_000_000, max_value=1_700_000_003_000
)
METADATA = st.sampled_from(["{}", '{"env":"bench"}', '{"a":[1,{"b":null}]}']) | OBJECTS.map(
    lambda o: orjson.dumps(o).decode()
)
ROW = st.tuples(
    st.text(min_size=1, max_size=6), st.text(max_size=4), IDS, IDS, st.sampled_from(["custom", "llm_call"]),
    st.sampled_from(["info", "error"]), TS, st.integers(min_value=1, max_value=10**6), IDS,
    st.none() | st.integers(min_value=0, max_value=10**6), st.none() | st.integers(min_value=0, max_value=10**6),
    st.none() | st.floats(allow_nan=False), OBJECTS.map(lambda o: orjson.dumps(o).decode()), METADATA, IDS, IDS,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(ROW, max_size=12))
def test_records_is_record_per_row(rows: list[tuple[Any, ...]]) -> None:
    records = _records(rows)
    expected = [_record(row) for row in rows]
    assert records == expected
    # The same types too (== holds between 1 and 1.0 or True): the answers encode them.
    assert [[type(v) for v in r] for r in records] == [[type(v) for v in r] for r in expected]
    assert [orjson.dumps(list(r)) for r in records] == [orjson.dumps(list(r)) for r in expected]


def test_records_share_only_equal_metadata() -> None:
    base = ("e", "s", "a", None, "custom", "info", 1_700_000_000_123, 1, None, None, None, None, "{}")
    rows = [(*base, '{"env":"x"}', None, "h1"), (*base, '{"env":"x"}', "h1", "h2"), (*base, '{"env":"y"}', "h2", "h3")]
    records = _records(rows)
    assert [r.metadata for r in records] == [{"env": "x"}, {"env": "x"}, {"env": "y"}]
    assert records[0].time == "2023-11-14T22:13:20.123Z"

"""The time conversions ingest runs several times an event give exactly what their previous versions gave
(bench/README.md, "Ingest, second pass"); the references are those versions, verbatim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from storage.timeutil import EPOCH, ONE_MS, from_ms, iso_ms, iso_of_ms, to_ms, utc_ms


def reference_to_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - EPOCH
    return delta // ONE_MS + (1 if (delta % ONE_MS) * 2 >= ONE_MS else 0)


def reference_utc_ms(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def reference_iso_ms(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


zones = st.one_of(
    st.none(), st.just(UTC), st.just(timezone(timedelta(0))),
    st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)
instants = st.builds(
    lambda d, zone: d.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    zones,
)
# What ingest mostly sees: UTC at whole milliseconds, near the epoch and far from it.
stored = st.integers(-62_000_000_000_000, 253_000_000_000_000).map(from_ms)


@given(st.one_of(instants, stored))
def test_conversions_match_the_previous_code(value: datetime) -> None:
    assert to_ms(value) == reference_to_ms(value)
    converted = utc_ms(value)
    expected = reference_utc_ms(value)
    assert converted == expected and converted.tzinfo is UTC and converted.microsecond == expected.microsecond
    if value.tzinfo is not None:  # naive values are local time to iso_ms, as before: the machine's zone
        assert iso_ms(value) == reference_iso_ms(value)
    assert iso_ms(converted) == reference_iso_ms(converted) == iso_of_ms(to_ms(converted))

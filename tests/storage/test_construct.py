"""Models built from stored rows are the same models model_construct builds, field for field."""

from __future__ import annotations

import pytest

from storage.models import Event, Session, SessionStatus
from storage.models.construct import from_stored
from storage.models.traces import PRODUCT_FIELDS
from storage.sqlite.rows import _event, _session
from storage.timeutil import from_ms


def test_rows_build_the_models_model_construct_builds() -> None:
    event_row = ["p", "e1", "s1", "a1", "llm_call", "info", 1_700_000_000_123, 1_700_000_000_456, 3, "c1", "gpt-4o",
                 10, 20, 12.5, 1_000, b'{"prompt":"hi","n":[1,2]}', b'{"source":"sdk"}', "h0", "h1", 7,
                 *[f"v{i}" for i in range(len(PRODUCT_FIELDS))]]
    built = _event(event_row)
    expected = Event.model_construct(**built.__dict__)
    assert built == expected and built.model_dump() == expected.model_dump()
    assert (built.payload, built.timestamp, built.position) == ({"prompt": "hi", "n": [1, 2]},
                                                                 from_ms(1_700_000_000_123), 7)
    assert built.model_fields_set == expected.model_fields_set
    assert built.model_copy(update={"seq": 4}).seq == 4  # behaves as a model, copies included

    session_row = ["p", "s1", "a1", "Agent", "active", 1, None, 2, b"{}", b'["x"]', 5, 1, 2, 2, 30, 40, 900,
                   12.0, "h1", 5, "agent", None, None, None]
    session = _session(session_row)
    assert session == Session.model_construct(**session.__dict__)
    assert (session.status, session.tags, session.ended_at) == (SessionStatus.ACTIVE, ["x"], None)


def test_an_incomplete_row_is_refused() -> None:
    with pytest.raises(TypeError, match="every field"):
        from_stored(Session, {"project_id": "p", "id": "s1"})

"""GraphQL's events from rows: EventView (storage/models/records.py) from the 18 columns it needs.

Read-side only, beside rows.py's builders: _event reads 36 columns (the product context of tracked
events included) into a pydantic model; this reads half of them into a tuple, with the same values
(from_ms, orjson.loads), so the GraphQL answers are the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from storage.models.records import EventView
from storage.timeutil import from_ms

# EventView's fields in its order; ts gives both ts_ms and timestamp.
VIEW_COLUMNS = (
    "id, session_id, agent_id, type, severity, ts, received_at, seq, call_id, model, tokens_in, tokens_out,"
    " duration_ms, cost_nanos, payload, metadata, prev_hash, hash"
)

_new = tuple.__new__
_loads = orjson.loads


def _view(row: Sequence[Any]) -> EventView:
    ts = row[5]
    return _new(EventView, (
        row[0], row[1], row[2], row[3], row[4], ts, from_ms(ts), from_ms(row[6]), row[7], row[8], row[9], row[10],
        row[11], row[12], row[13], _loads(row[14]), _loads(row[15]), row[16], row[17],
    ))

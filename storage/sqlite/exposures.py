"""The experiment_exposures index (schema V7): each tracked `$experiment_exposure` event with a user and a
string experiment and variant, keyed so that a user's exposures to one experiment are in (time, commit) order.
Experiment results read it (analytics.compile_exposure_conversions) instead of every tracked event's JSON.

Ingest adds a batch's exposures in one statement after the batch's events (commit_batch), as it feeds the
search index, by commit position (rowid): an INSERT trigger would cost a statement journal per event, which
nearly tripled the time to insert 100,000 events (2.2 s vs 0.8 s) even when its WHEN was false. Deletes and
updates, rare and whole-statement, are followed by triggers (migrations V7).
"""

from __future__ import annotations

from storage.models.experiments import EXPOSURE_EVENT

COLUMNS = "project_id, experiment, user_id, ts, event_rowid, variant"
# The index's rows, read from events; the V7 migration backfills with the same definition.
ROWS = (
    "SELECT project_id, payload ->> '$.\"experiment\"', user_id, ts, rowid, payload ->> '$.\"variant\"' FROM events"
    f" WHERE type = '{EXPOSURE_EVENT}' AND kind = 'tracker' AND user_id IS NOT NULL"
    " AND json_type(payload, '$.\"experiment\"') = 'text' AND json_type(payload, '$.\"variant\"') = 'text'"
)
# Parameters: the commit positions (rowids) before and after a batch: (first - 1, last).
INDEX_BATCH = f"INSERT INTO experiment_exposures ({COLUMNS}) {ROWS} AND rowid > ? AND rowid <= ?"

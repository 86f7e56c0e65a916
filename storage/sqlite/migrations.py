"""SQLite schema: numbered migrations, applied at start-up under PRAGMA user_version.

Each migration runs in its own transaction and sets user_version when it
commits, so a crash between two leaves a database at a known version. A
database stamped with a version above the newest here was written by a newer
LensGraph and is refused. Version 1 databases from before user_version was
used say so in their meta table instead.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storage.contract.common import SchemaTooNew
from storage.models.experiments import EXPOSURE_EVENT
from storage.sqlite.exposures import COLUMNS as EXPOSURES
from storage.sqlite.exposures import ROWS as EXPOSURE_ROWS

# Version 1: the first schema, an index for every filter and sort the API offers.
V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS sessions (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    agent_id TEXT,
    agent_name TEXT,
    status TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    last_event_at INTEGER,
    metadata TEXT NOT NULL,
    tags TEXT NOT NULL,
    event_count INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    tool_call_count INTEGER NOT NULL,
    llm_call_count INTEGER NOT NULL,
    tokens_in INTEGER NOT NULL,
    tokens_out INTEGER NOT NULL,
    cost_nanos INTEGER NOT NULL,
    processing_ms REAL NOT NULL,
    chain_head TEXT,
    chain_seq INTEGER NOT NULL,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_start ON sessions (project_id, started_at, id);
CREATE INDEX IF NOT EXISTS sessions_by_agent ON sessions (project_id, agent_id, started_at, id);
CREATE INDEX IF NOT EXISTS sessions_by_status ON sessions (project_id, status, started_at, id);

CREATE TABLE IF NOT EXISTS session_tags (
    project_id TEXT NOT NULL,
    tag TEXT NOT NULL,
    session_id TEXT NOT NULL,
    PRIMARY KEY (project_id, tag, session_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS events (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    agent_id TEXT,
    type TEXT NOT NULL,
    severity TEXT NOT NULL,
    ts INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    call_id TEXT,
    model TEXT,
    tokens_in INTEGER,
    tokens_out INTEGER,
    duration_ms REAL,
    cost_nanos INTEGER,
    payload TEXT NOT NULL,
    metadata TEXT NOT NULL,
    search_text TEXT NOT NULL,
    prev_hash TEXT,
    hash TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_id ON events (project_id, id);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_chain ON events (project_id, session_id, seq);
CREATE INDEX IF NOT EXISTS events_by_time ON events (project_id, ts, session_id, seq);
CREATE INDEX IF NOT EXISTS events_by_session ON events (project_id, session_id, ts, seq);
CREATE INDEX IF NOT EXISTS events_by_agent ON events (project_id, agent_id, ts);
CREATE INDEX IF NOT EXISTS events_by_type ON events (project_id, type, ts);
CREATE INDEX IF NOT EXISTS events_by_severity ON events (project_id, severity, ts);
CREATE INDEX IF NOT EXISTS events_by_call ON events (project_id, session_id, call_id)
    WHERE call_id IS NOT NULL;

-- Trigram index: substring search that uses an index for terms of 3+ characters.
-- Fed once per batch by commit_batch (a per-row trigger flushed the index per row,
-- over half the writer's time); detail=none is enough for LIKE and a third smaller.
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5 (
    search_text, content='events', content_rowid='rowid', tokenize='trigram', detail='none'
);
DROP TRIGGER IF EXISTS events_fts_insert;

CREATE TRIGGER IF NOT EXISTS events_fts_delete AFTER DELETE ON events BEGIN
    INSERT INTO events_fts (events_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;

CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    allowed_origins TEXT NOT NULL,
    tracker_token TEXT NOT NULL UNIQUE
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS api_keys (
    hash TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    prefix TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS api_keys_by_project ON api_keys (project_id);

CREATE TABLE IF NOT EXISTS idempotency (
    project_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    body BLOB NOT NULL,
    content_type TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_by_expiry ON idempotency (expires_at);

CREATE TABLE IF NOT EXISTS agents (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS agents_by_seen ON agents (project_id, last_seen, id);
"""

# Version 2: rate-limit windows shared by processes; per-project retention; sessions know their kind
# (agent or tracker) and carry the commit position of the batch that last changed them, so another
# process tailing the database by position sees session changes as well as events.
V2 = """
ALTER TABLE sessions ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET position = COALESCE((
    SELECT MAX(e.rowid) FROM events e WHERE e.project_id = sessions.project_id AND e.session_id = sessions.id
), 0);
CREATE INDEX IF NOT EXISTS sessions_by_position ON sessions (position);
ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'agent';
UPDATE sessions SET kind = 'tracker' WHERE EXISTS (
    SELECT 1 FROM events e WHERE e.project_id = sessions.project_id AND e.session_id = sessions.id
    AND json_extract(e.metadata, '$.source') = 'tracker'
);

-- Per-project retention (days after a session's last event), NULL: the server's default.
ALTER TABLE projects ADD COLUMN retention_days INTEGER;
CREATE INDEX IF NOT EXISTS sessions_by_last_event ON sessions (project_id, last_event_at);

-- Rate-limit windows every process counts in (per-key budgets hold across processes).
CREATE TABLE IF NOT EXISTS rate_windows (
    bucket TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rate_windows_by_expiry ON rate_windows (expires_at);
"""

# Version 3: product analytics. Events keep their kind (agent step or tracked product event) and the
# product context analytics slices by: the product's user apart from the agent, the anonymous id,
# page, referrer, UTM, device, browser, OS and country. Tracked events written before version 3
# are recognised by their metadata and their user moved out of agent_id.
V3 = """
ALTER TABLE events ADD COLUMN kind TEXT NOT NULL DEFAULT 'agent';
ALTER TABLE events ADD COLUMN user_id TEXT;
ALTER TABLE events ADD COLUMN anonymous_id TEXT;
ALTER TABLE events ADD COLUMN url TEXT;
ALTER TABLE events ADD COLUMN path TEXT;
ALTER TABLE events ADD COLUMN referrer TEXT;
ALTER TABLE events ADD COLUMN referrer_domain TEXT;
ALTER TABLE events ADD COLUMN utm_source TEXT;
ALTER TABLE events ADD COLUMN utm_medium TEXT;
ALTER TABLE events ADD COLUMN utm_campaign TEXT;
ALTER TABLE events ADD COLUMN utm_term TEXT;
ALTER TABLE events ADD COLUMN utm_content TEXT;
ALTER TABLE events ADD COLUMN device TEXT;
ALTER TABLE events ADD COLUMN browser TEXT;
ALTER TABLE events ADD COLUMN os TEXT;
ALTER TABLE events ADD COLUMN country TEXT;
UPDATE events SET kind = 'tracker', user_id = agent_id, agent_id = NULL
    WHERE json_extract(metadata, '$.source') = 'tracker';
-- Tracked sessions: their visitor and first and last page, what session reports group by.
ALTER TABLE sessions ADD COLUMN user_id TEXT;
ALTER TABLE sessions ADD COLUMN entry_path TEXT;
ALTER TABLE sessions ADD COLUMN exit_path TEXT;
UPDATE sessions SET user_id = agent_id, agent_id = NULL WHERE kind = 'tracker';
-- Analytics reports: a kind and a time range, counted, with distinct users and sessions, or by type. Covering,
-- so those read the index alone; other breakdowns (path, country...) read their rows through it. One index per
-- table, as each slows ingest (bench/analytics_store.py has the figures).
CREATE INDEX IF NOT EXISTS events_by_kind_time ON events (project_id, kind, ts, user_id, session_id, type);
CREATE INDEX IF NOT EXISTS sessions_by_kind_start ON sessions (
    project_id, kind, started_at, user_id, ended_at, last_event_at, event_count, entry_path, exit_path
);
"""

# Version 4: accounts (seed 003's account model). An account owns projects, and its keys (stored hashed, as
# project keys are) manage every project it owns. Projects from before have no account: the admin key manages them.
V4 = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    tier TEXT NOT NULL,
    projects_limit INTEGER,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS account_keys (
    hash TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    prefix TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS account_keys_by_account ON account_keys (account_id);

ALTER TABLE projects ADD COLUMN account_id TEXT;
CREATE INDEX IF NOT EXISTS projects_by_account ON projects (account_id, created_at, id);
"""

# Version 5: experiments (A/B test definitions), per project; a name is unique within its project. Variants are
# JSON text (a short list, always read whole); listing is newest first.
V5 = """
CREATE TABLE IF NOT EXISTS experiments (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    variants TEXT NOT NULL,
    goal_event TEXT NOT NULL,
    status TEXT NOT NULL,
    winner TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS experiments_by_name ON experiments (project_id, name);
CREATE INDEX IF NOT EXISTS experiments_by_created ON experiments (project_id, created_at, id);
"""

# Version 6: revenue attribution (seed 000): customers, goal types, goals, outcomes and revenues, per project.
# Money is integer nano-units of an ISO 4217 currency. A revenue keeps the UTC day of recorded_at (epoch days)
# for reports by period. The revenue indexes by agent, goal, customer, source and time cover the totals (group,
# time, currency, amount), so attribution reads an index alone; the time comes second so that a group's index
# with a range beats the time index alone, which SQLite's planner (without ANALYZE) picks otherwise
# (bench/revenue.py has the figures).
V6 = """
CREATE TABLE IF NOT EXISTS customers (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    key TEXT,
    name TEXT,
    email TEXT,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS customers_by_created ON customers (project_id, created_at, id);
CREATE INDEX IF NOT EXISTS customers_by_key ON customers (project_id, key);
CREATE INDEX IF NOT EXISTS customers_by_email ON customers (project_id, email);

CREATE TABLE IF NOT EXISTS goal_types (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS goal_types_by_created ON goal_types (project_id, created_at, id);
CREATE INDEX IF NOT EXISTS goal_types_by_name ON goal_types (project_id, name);

CREATE TABLE IF NOT EXISTS goals (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    goal_type_id TEXT,
    agent_id TEXT,
    description TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS goals_by_created ON goals (project_id, created_at, id);
CREATE INDEX IF NOT EXISTS goals_by_type ON goals (project_id, goal_type_id);
CREATE INDEX IF NOT EXISTS goals_by_agent ON goals (project_id, agent_id);

CREATE TABLE IF NOT EXISTS outcomes (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    agent_id TEXT,
    customer_id TEXT,
    event_id TEXT,
    session_id TEXT,
    goal_id TEXT,
    value_nanos INTEGER,
    currency TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS outcomes_by_created ON outcomes (project_id, created_at, id);
CREATE INDEX IF NOT EXISTS outcomes_by_goal ON outcomes (project_id, goal_id);
CREATE INDEX IF NOT EXISTS outcomes_by_agent ON outcomes (project_id, agent_id);
CREATE INDEX IF NOT EXISTS outcomes_by_customer ON outcomes (project_id, customer_id);
CREATE INDEX IF NOT EXISTS outcomes_by_session ON outcomes (project_id, session_id);
CREATE INDEX IF NOT EXISTS outcomes_by_event ON outcomes (project_id, event_id);

CREATE TABLE IF NOT EXISTS revenues (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    key TEXT NOT NULL,
    amount_nanos INTEGER NOT NULL,
    currency TEXT NOT NULL,
    agent_id TEXT,
    customer_id TEXT,
    description TEXT,
    event_id TEXT,
    session_id TEXT,
    goal_id TEXT,
    source TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    day INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS revenues_by_created ON revenues (project_id, created_at, id);
CREATE INDEX IF NOT EXISTS revenues_by_agent ON revenues (project_id, agent_id, recorded_at, currency, amount_nanos);
CREATE INDEX IF NOT EXISTS revenues_by_goal ON revenues (project_id, goal_id, recorded_at, currency, amount_nanos);
CREATE INDEX IF NOT EXISTS revenues_by_customer ON revenues (
    project_id, customer_id, recorded_at, currency, amount_nanos
);
CREATE INDEX IF NOT EXISTS revenues_by_source ON revenues (project_id, source, recorded_at, currency, amount_nanos);
CREATE INDEX IF NOT EXISTS revenues_by_session ON revenues (project_id, session_id);
CREATE INDEX IF NOT EXISTS revenues_by_event ON revenues (project_id, event_id);
CREATE INDEX IF NOT EXISTS revenues_by_time ON revenues (project_id, recorded_at, day, currency, amount_nanos);
"""

# Version 7: experiment exposures, an index of the tracked `$experiment_exposure` events that experiment results
# read instead of every tracked event's JSON (storage/sqlite/exposures.py says what it holds and who feeds it).
# Triggers follow deletes (retention) and updates, in the same statement; ingest adds each batch's exposures.
# It names events by rowid, as events_fts does. The backfill indexes events written before this version.
V7 = f"""
CREATE TABLE IF NOT EXISTS experiment_exposures (
    project_id TEXT NOT NULL,
    experiment TEXT NOT NULL,
    user_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    event_rowid INTEGER NOT NULL,
    variant TEXT NOT NULL,
    PRIMARY KEY (project_id, experiment, user_id, ts, event_rowid)
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS experiment_exposures_delete AFTER DELETE ON events
WHEN old.type = '{EXPOSURE_EVENT}' AND old.user_id IS NOT NULL
BEGIN
    DELETE FROM experiment_exposures WHERE project_id = old.project_id
        AND experiment = old.payload ->> '$."experiment"' AND user_id = old.user_id AND ts = old.ts
        AND event_rowid = old.rowid;
END;

CREATE TRIGGER IF NOT EXISTS experiment_exposures_update AFTER UPDATE OF project_id, type, kind, user_id, ts, payload
ON events
BEGIN
    DELETE FROM experiment_exposures WHERE old.type = '{EXPOSURE_EVENT}' AND old.user_id IS NOT NULL
        AND project_id = old.project_id AND experiment = old.payload ->> '$."experiment"'
        AND user_id = old.user_id AND ts = old.ts AND event_rowid = old.rowid;
    INSERT INTO experiment_exposures ({EXPOSURES}) {EXPOSURE_ROWS} AND rowid = new.rowid;
END;

INSERT OR IGNORE INTO experiment_exposures ({EXPOSURES}) {EXPOSURE_ROWS};
"""

# Version 8: anomaly detection (seed 001, the LENS API), per project. Each row keeps the model whole as JSON (doc),
# beside the columns its listings filter and sort on, so fields the detector adds later need no migration.
# anomaly_rules holds custom rules and projects' changes to system rules (defined in code). An anomaly's id is
# derived from its rule and window, so the primary key is what makes a detector's retry write nothing twice.
# question_usage counts the assistant's questions per project, UTC day and user.
V8 = """
CREATE TABLE IF NOT EXISTS anomaly_rules (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS anomalies (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    detected_at INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS anomalies_by_detected ON anomalies (project_id, detected_at, id);
CREATE INDEX IF NOT EXISTS anomalies_by_rule ON anomalies (project_id, rule_id, detected_at);
CREATE INDEX IF NOT EXISTS anomalies_by_status ON anomalies (project_id, status, detected_at);

CREATE TABLE IF NOT EXISTS reports (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    period_start INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS reports_by_period ON reports (project_id, period_start, id);

CREATE TABLE IF NOT EXISTS question_usage (
    project_id TEXT NOT NULL,
    day TEXT NOT NULL,
    user TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (project_id, day, user)
) WITHOUT ROWID;
"""

# Version 9: webhooks, per project. An endpoint's doc holds its signing secret. A delivery's id derives from its
# endpoint and event, so the primary key makes emitting an event twice store it once; deliveries_due serves the
# sender's claim (pending, due, lease free or expired) across every project.
V9 = """
CREATE TABLE IF NOT EXISTS webhooks (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS webhook_deliveries (
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    status TEXT NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    locked_until INTEGER,
    lease_owner TEXT,
    created_at INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_by_created ON webhook_deliveries (project_id, created_at, id);
CREATE INDEX IF NOT EXISTS deliveries_by_webhook ON webhook_deliveries (project_id, webhook_id, created_at);
"""

# Version 10: the full-text index follows the commits instead of being fed inside each batch's transaction
# (storage/sqlite/search_index.py). meta.search_indexed is the last position indexed; everything stored so far
# is. The delete trigger removes only what was indexed: FTS5 must not be told to delete what it never held.
V10 = """
INSERT OR REPLACE INTO meta (key, value) SELECT 'search_indexed', COALESCE(MAX(rowid), 0) FROM events;
DROP TRIGGER IF EXISTS events_fts_delete;
CREATE TRIGGER events_fts_delete AFTER DELETE ON events
WHEN old.rowid <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'search_indexed')
BEGIN
    INSERT INTO events_fts (events_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
"""

# Version 11: the full-text index moves to a file of its own (storage/sqlite/search_file.py), written beside the
# writer instead of taking the database's write lock. What stays here:
# - search_id, which names this database to its index file (a file indexing another database is rebuilt);
# - position_floor, the highest position ever deleted: a batch's first position is past it and past every
#   event, so a position the index may hold is never given to another event (the index's mark lies below);
# - the delete log, the text each deleted event was indexed with, which a contentless FTS5 table needs to
#   delete it. The follower applies it in order and the log is trimmed behind it.
# The old index is dropped; the follower builds the new one from position 0 while searches scan.
V11 = """
DROP TRIGGER IF EXISTS events_fts_delete;
DROP TABLE IF EXISTS events_fts;
INSERT OR REPLACE INTO meta (key, value) SELECT 'position_floor', MAX(
    COALESCE((SELECT MAX(rowid) FROM events), 0),
    COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'search_indexed'), 0));
DELETE FROM meta WHERE key = 'search_indexed';
INSERT OR REPLACE INTO meta (key, value) VALUES ('search_id', lower(hex(randomblob(16))));
CREATE TABLE IF NOT EXISTS search_deletes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    position INTEGER NOT NULL,
    search_text TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS events_search_delete AFTER DELETE ON events
BEGIN
    INSERT INTO search_deletes (position, search_text) VALUES (old.rowid, old.search_text);
    UPDATE meta SET value = MAX(CAST(value AS INTEGER), old.rowid) WHERE key = 'position_floor';
END;
"""

MIGRATIONS: tuple[str, ...] = (V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11)
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: sqlite3.Connection) -> int:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version == 0:
        has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
        if has_meta:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 0
    return int(version)


def migrate(conn: sqlite3.Connection, path: Path | str = "") -> int:
    """Bring the database up to SCHEMA_VERSION; returns the version it was at.

    A current database is only read: start-up then needs neither the write lock nor
    free disk space, so a server starts beside a long write or on a full disk.
    """
    found = current_version(conn)
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"database {path} has schema version {found}, newer than this LensGraph's {SCHEMA_VERSION}: "
            "upgrade LensGraph, or restore a backup taken before the upgrade"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")  # two processes starting together migrate one after the other
        try:
            if current_version(conn) >= version:  # another process got here first
                conn.execute("ROLLBACK")
                continue
            for statement in _statements(MIGRATIONS[version - 1]):
                conn.execute(statement)
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(version),))
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk, an I/O error)
                conn.execute("ROLLBACK")
            raise
    return found


def _statements(script: str) -> list[str]:
    """Split a script into statements; executescript would commit the open transaction."""
    out: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    if pending.strip():
        out.append(pending.strip())
    return out

"""MongoDB layout: collection names, indexes, and documents to and from models."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from pymongo import ASCENDING, IndexModel

from storage.contract import Page, PageResult
from storage.models import Event, Session
from storage.search import search_text

M = TypeVar("M", bound=BaseModel)

EVENTS, SESSIONS, AGENTS, COUNTERS = "events", "sessions", "agents", "counters"
PROJECTS, KEYS, IDEMPOTENCY = "projects", "api_keys", "idempotency"
RATE_WINDOWS = "rate_windows"
ACCOUNTS, ACCOUNT_KEYS = "accounts", "account_keys"
EXPERIMENTS = "experiments"
CUSTOMERS, GOAL_TYPES, GOALS, OUTCOMES, REVENUES = "customers", "goal_types", "goals", "outcomes", "revenues"
ANOMALY_RULES, ANOMALIES, REPORTS, QUESTION_USAGE = "anomaly_rules", "anomalies", "reports", "question_usage"
WEBHOOKS, DELIVERIES = "webhooks", "webhook_deliveries"
META = "lensgraph_meta"  # {_id: "schema", version: N}
# Version 1: the first layout. Version 2: nothing to convert; the version document itself.
# Version 3: events carry kind and product context (see Mongo._product_fields).
# Version 4: accounts and their keys; projects may carry account_id (absent on older ones: no account).
# Version 5: experiments (nothing to convert: a new collection and its indexes).
# Version 6: revenue attribution, seed 000 (nothing to convert: five new collections and their indexes).
# Version 7: anomaly detection, seed 001 (nothing to convert: four new collections and their indexes).
# Version 8: webhooks (nothing to convert: two new collections and their indexes).
# Version 9: each webhook endpoint holds a slot, unique per project (MongoWebhooks.create_webhook keeps the
# per-project limit with it); the endpoints from before are numbered in creation order (Mongo._webhook_slots).
SCHEMA_VERSION = 9
# Models leave out the derived _id, and search_text and pending, which only the store itself uses.
EVENT_PROJECTION = {"_id": 0, "search_text": 0}
SESSION_PROJECTION = {"_id": 0, "pending": 0}
AGENT_PROJECTION = {"_id": 0}
NO_ID = {"_id": 0}


def _index(name: str, *fields: str, **options: Any) -> IndexModel:
    return IndexModel([(f, ASCENDING) for f in fields], name=name, **options)


# The SQLite indexes, one for one; _id stands in for the (project_id, id) keys.
# Search has none: a substring of any length needs a scan, bounded by the
# other filters' index.
INDEXES: dict[str, list[IndexModel]] = {
    EVENTS: [
        _index("events_by_chain", "project_id", "session_id", "seq", unique=True),
        _index("events_by_time", "project_id", "timestamp", "session_id", "seq"),
        _index("events_by_session", "project_id", "session_id", "timestamp", "seq"),
        _index("events_by_agent", "project_id", "agent_id", "timestamp"),
        _index("events_by_type", "project_id", "type", "timestamp"),
        _index("events_by_severity", "project_id", "severity", "timestamp"),
        _index("events_by_position", "project_id", "position"),
        # Analytics reports (storage/sqlite/migrations.py V3 has the same two).
        _index("events_by_kind_time", "project_id", "kind", "timestamp", "user_id", "session_id", "type"),
        _index(
            "events_by_call",
            "project_id",
            "session_id",
            "call_id",
            partialFilterExpression={"call_id": {"$type": "string"}},
        ),
    ],
    SESSIONS: [
        _index("sessions_by_start", "project_id", "started_at", "id"),
        _index("sessions_by_agent", "project_id", "agent_id", "started_at", "id"),
        _index("sessions_by_status", "project_id", "status", "started_at", "id"),
        _index("sessions_by_tag", "project_id", "tags", "started_at", "id"),
        _index("sessions_by_last_event", "project_id", "last_event_at"),
        _index("sessions_by_kind_start", "project_id", "kind", "started_at", "user_id", "ended_at", "last_event_at",
               "event_count", "entry_path", "exit_path"),
    ],
    AGENTS: [_index("agents_by_seen", "project_id", "last_seen", "id")],
    # Projects and keys are looked up before a request has a project: not scoped by one.
    PROJECTS: [
        _index("projects_by_name", "name", unique=True),
        _index("projects_by_tracker_token", "tracker_token", unique=True),
        _index("projects_by_created", "created_at", "_id"),
        _index("projects_by_account", "account_id", "created_at", "_id"),
    ],
    ACCOUNTS: [_index("accounts_by_name", "name", unique=True)],
    ACCOUNT_KEYS: [
        _index("account_keys_by_id", "id", unique=True),
        _index("account_keys_by_account", "account_id", "created_at", "id"),
    ],
    KEYS: [
        _index("api_keys_by_id", "id", unique=True),
        _index("api_keys_by_project", "project_id", "created_at", "id"),
    ],
    # The SQLite V5 indexes: a name is unique within its project; listing is newest first.
    EXPERIMENTS: [
        _index("experiments_by_name", "project_id", "name", unique=True),
        _index("experiments_by_created", "project_id", "created_at", "id"),
    ],
    # The SQLite V6 indexes: listings newest first, filters by reference, totals by agent, goal and customer.
    CUSTOMERS: [
        _index("customers_by_created", "project_id", "created_at", "id"),
        _index("customers_by_key", "project_id", "key"),
        _index("customers_by_email", "project_id", "email"),
    ],
    GOAL_TYPES: [
        _index("goal_types_by_created", "project_id", "created_at", "id"),
        _index("goal_types_by_name", "project_id", "name"),
    ],
    GOALS: [
        _index("goals_by_created", "project_id", "created_at", "id"),
        _index("goals_by_type", "project_id", "goal_type_id"),
        _index("goals_by_agent", "project_id", "agent_id"),
    ],
    OUTCOMES: [
        _index("outcomes_by_created", "project_id", "created_at", "id"),
        *(_index(f"outcomes_by_{ref}", "project_id", f"{ref}_id") for ref in ("goal", "agent", "customer",
                                                                                "session", "event")),
    ],
    REVENUES: [
        _index("revenues_by_created", "project_id", "created_at", "id"),
        *(_index(f"revenues_by_{ref}", "project_id", f"{ref}_id", "recorded_at", "currency", "amount_nanos")
          for ref in ("agent", "goal", "customer")),
        *(_index(f"revenues_by_{ref}", "project_id", f"{ref}_id") for ref in ("session", "event")),
        _index("revenues_by_source", "project_id", "source", "recorded_at", "currency", "amount_nanos"),
        _index("revenues_by_time", "project_id", "recorded_at", "day", "currency", "amount_nanos"),
    ],
    # The SQLite V8 indexes: anomalies newest first, by rule (trigger counts) and by status.
    ANOMALY_RULES: [_index("anomaly_rules_by_created", "project_id", "created_at", "id")],
    ANOMALIES: [
        _index("anomalies_by_detected", "project_id", "detected_at", "id"),
        _index("anomalies_by_rule", "project_id", "rule_id", "detected_at"),
        _index("anomalies_by_status", "project_id", "status", "detected_at"),
    ],
    REPORTS: [_index("reports_by_period", "project_id", "period_start", "id")],
    QUESTION_USAGE: [_index("question_usage_by_day", "project_id", "day", "user")],
    # The SQLite V9 indexes: the sender's claim (pending and due, any project), listings newest first.
    WEBHOOKS: [
        _index("webhooks_by_created", "project_id", "created_at", "id"),
        _index("webhooks_by_slot", "project_id", "slot", unique=True),
    ],
    DELIVERIES: [
        _index("deliveries_due", "status", "next_attempt_at"),
        _index("deliveries_by_created", "project_id", "created_at", "id"),
        _index("deliveries_by_webhook", "project_id", "webhook_id", "created_at"),
    ],
    RATE_WINDOWS: [_index("rate_windows_expiry", "expires_at", expireAfterSeconds=0)],
    IDEMPOTENCY: [
        _index("idempotency_by_key", "project_id", "key", unique=True),
        # The server drops records once they expire; recall_response checks expiry itself as well.
        _index("idempotency_expiry", "expires_at", expireAfterSeconds=0),
    ],
}


def doc_id(project_id: str, id_: str) -> dict[str, str]:
    """The _id of a project's event, session or agent (storage/mongo/traces.py says why a sub-document)."""
    return {"p": project_id, "i": id_}


def event_doc(e: Event) -> dict[str, Any]:
    return {"_id": doc_id(e.project_id, e.id), **e.model_dump(), "search_text": search_text(e.payload)}


def session_doc(s: Session) -> dict[str, Any]:
    return {"_id": doc_id(s.project_id, s.id), **s.model_dump(), "status": s.status.value}


def maybe_model(model: type[M], doc: dict[str, Any] | None) -> M | None:
    return None if doc is None else model.model_validate(doc)


def page_result(items: list[Any], total: int, page: Page) -> PageResult[Any]:
    """items: up to page.limit + 1 fetched, the extra one only telling that more follow."""
    return PageResult(items=items[: page.limit], total=total, has_more=len(items) > page.limit)

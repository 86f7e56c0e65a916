"""Scheduled reports on the real SQLite store, over the detector's planted days and a few agent runs.

Product (tests/resolvers/test_detector.py's data): day D (Sunday 2026-11-22) has 200 visits of which 23
convert (11.5%) and 177 bounce (88.5%); D-1 has 200 visits, 40 converting (20%), 160 bouncing (80%).
Agents on D: support-bot runs twice ($1.50 each, one run with an error event), writer once ($0.50);
on D-1 support-bot runs once ($1.00). So cost $3.50 against $1.00 (+250%), runs 3 against 1 (+200%),
error rate 1/3 against 0/1 (no change percentage: the baseline is zero).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from resolvers.anomalies import reports
from resolvers.anomalies.ids import anomaly_id, report_id
from resolvers.core.services import Services
from resolvers.jobs.reports import generate
from resolvers.traces.planner import BatchPlanner
from resolvers.webhooks import service as webhooks
from storage.contract import Page
from storage.contract.webhooks import DeliveryQuery
from storage.models import Event, Project
from storage.models.anomalies import Anomaly, AnomalyMetric, Severity
from storage.sqlite.store import SQLiteStore
from tests.resolvers.test_detector import D, P, plant

NOW = D + timedelta(days=1, hours=3)  # Monday 2026-11-23, 03:00 UTC


def run(session: str, agent: str, day: datetime, usd: float, error: bool = False) -> list[Event]:
    at = day + timedelta(hours=9)
    common = {"project_id": P, "session_id": session, "agent_id": agent, "received_at": at}
    out = [Event(id=f"{session}-call", type="llm_call", timestamp=at, **common),
           Event(id=f"{session}-resp", type="llm_response", timestamp=at + timedelta(seconds=2), model="gpt-4o",
                 cost_nanos=int(usd * 1e9), tokens_in=100, tokens_out=50, duration_ms=2000, **common)]
    if error:
        out.append(Event(id=f"{session}-err", type="error", severity="error", timestamp=at + timedelta(seconds=3),
                         **common))
    return out


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    store = SQLiteStore(tmp_path / "reports.db")
    await store.start()
    services = Services.build(store)
    await store.projects.create_project(Project(project_id=P, id=P, name=P, created_at=D - timedelta(days=30),
                                                tracker_token="t" * 32))
    await plant(services, D - timedelta(days=1), 20, 20)
    await plant(services, D, 5, 18)
    runs = [*run("r1", "support-bot", D, 1.5), *run("r2", "support-bot", D, 1.5, error=True),
            *run("r3", "writer", D, 0.5), *run("r0", "support-bot", D - timedelta(days=1), 1.0)]
    await store.traces.commit_batch(P, runs, BatchPlanner(P))
    yield services
    await store.close()


def test_periods_are_the_last_whole_utc_day_and_monday_week() -> None:
    assert reports.last_complete("daily", NOW) == reports.Period("daily", D, D + timedelta(days=1))
    week = reports.last_complete("weekly", NOW)
    assert (week.start, week.end) == (datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))
    assert week.previous.start == datetime(2026, 11, 9, tzinfo=UTC)
    sunday_night = datetime(2026, 11, 22, 23, 59, tzinfo=UTC)  # the week has not ended yet
    assert reports.last_complete("weekly", sunday_night).end == datetime(2026, 11, 16, tzinfo=UTC)


async def test_the_daily_report_sums_up_the_day_against_the_day_before(services: Services) -> None:
    anomaly = Anomaly(project_id=P, id=anomaly_id(P, "conversion_rate_drop", D, D + timedelta(days=1)),
                      rule_id="conversion_rate_drop", rule_name="Conversion Rate Drop", severity=Severity.CRITICAL,
                      window_start=D, window_end=D + timedelta(days=1), detected_at=D + timedelta(hours=20),
                      updated_at=D + timedelta(hours=20),
                      metric=AnomalyMetric(name="conversion_rate", current_value=0.115, baseline_value=0.2,
                                           change_percentage=-42.5))
    await services.store.anomalies.insert_anomaly(anomaly)

    (project,) = await services.store.projects.projects_by_ids([P])
    hook = await webhooks.create(services, project, {"url": "https://93.184.215.14/hooks", "events": [
        "report.generated"]})

    stored = await generate(services, NOW)

    assert sorted(r.kind for r in stored) == ["daily", "weekly"]
    sent = (await services.store.webhooks.find_deliveries(P, DeliveryQuery(webhook_id=hook.id), Page(limit=10))).items
    bodies = {orjson.loads(d.body)["data"]["id"]: orjson.loads(d.body) for d in sent}
    assert sorted(bodies) == sorted(r.id for r in stored) and {d.event for d in sent} == {"report.generated"}
    announced = bodies[report_id(P, "daily", D)]
    assert announced["data"]["summary"]["metrics"]["conversions"]["current"] == 23
    assert announced["data"]["period"] == {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}
    daily = next(r for r in stored if r.kind == "daily")
    assert daily.id == report_id(P, "daily", D)
    assert (daily.period_start, daily.period_end, daily.title) == (D, D + timedelta(days=1), "Daily report, 2026-11-22")
    m = daily.summary["metrics"]
    assert m["visits"] == {"current": 200, "previous": 200, "change_percentage": 0.0}
    assert m["conversions"] == {"current": 23, "previous": 40, "change_percentage": -42.5}
    assert m["conversion_rate"] == {"current": 0.115, "previous": 0.2, "change_percentage": -42.5}
    assert m["bounce_rate"] == {"current": 0.885, "previous": 0.8, "change_percentage": 10.6}
    assert m["agent_cost_usd"] == {"current": 3.5, "previous": 1.0, "change_percentage": 250.0}
    assert m["agent_runs"] == {"current": 3, "previous": 1, "change_percentage": 200.0}
    assert m["agent_error_rate"] == {"current": 0.333333, "previous": 0.0, "change_percentage": None}
    assert m["agent_tokens"] == {"current": 450, "previous": 150, "change_percentage": 200.0}
    assert daily.summary["top_agents"] == {
        "by_cost": [{"agent_id": "support-bot", "cost_usd": 3.0, "errors": 1, "events": 5},
                    {"agent_id": "writer", "cost_usd": 0.5, "errors": 0, "events": 2}],
        "by_errors": [{"agent_id": "support-bot", "cost_usd": 3.0, "errors": 1, "events": 5}],
    }
    assert daily.summary["anomalies"]["total"] == 1
    assert daily.summary["anomalies"]["by_severity"] == {"critical": 1}
    assert daily.summary["anomalies"]["items"][0]["id"] == anomaly.id
    assert daily.summary["headline"] == [
        "Agent cost usd rose 250% against the day before.", "Agent tokens rose 200% against the day before.",
        "Agent runs rose 200% against the day before.", "1 anomaly detected."]


async def test_reports_are_stored_once_and_not_before_the_project_existed(services: Services) -> None:
    first = await generate(services, NOW)
    assert len(first) == 2
    assert await generate(services, NOW + timedelta(hours=5)) == []  # the same day and week: nothing new
    listed = await services.store.anomalies.find_reports(P, Page(limit=10))
    assert sorted(r.id for r in listed.items) == sorted(r.id for r in first)

    (project,) = await services.store.projects.projects_by_ids([P])
    assert await reports.due(services, project.model_copy(update={"created_at": NOW}), NOW + timedelta(days=1)) == [
        reports.Period("daily", D + timedelta(days=1), D + timedelta(days=2))]  # its first whole day, no week yet

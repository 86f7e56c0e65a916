"""Seed 001 (the LENS API) under /api/lens over real HTTP: every route, its envelope, its error bodies, its rate
limits, pages and scoping. Anomalies and reports are planted through the store (the detector comes later)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from graph.rest.keys import SERVICES
from resolvers.anomalies import metrics
from resolvers.anomalies.ids import anomaly_id, report_id
from storage.contract import AnomalyQuery, Page
from storage.models.anomalies import (
    Anomaly,
    AnomalyMetric,
    AnomalyStatus,
    Report,
    RuleMetric,
    SegmentChange,
    SeriesPoint,
    Severity,
)
from storage.timeutil import now_ms
from tests.conftest import Api, typed
from tests.graph.test_accounts import call as agent_analytics_call
from tests.graph.test_accounts import new_account
from tests.graph.test_security import ADMIN, new_project
from tests.payloads import VALID

P = "default"
SYSTEM_IDS = ["conversion_rate_drop", "traffic_drop", "bounce_rate_spike", "error_rate_spike", "cost_spike",
              "latency_spike", "token_usage_spike", "tool_error_spike"]
SEED_RULE = {
    "account_id": P, "name": "High-Value Orders Drop", "description": "Alert when orders over €500 decrease",
    "metric": {"type": "count", "event": "conversion",
               "filters": [{"field": "amount", "operator": "greater_than", "value": 500}]},
    "comparison": {"type": "vs_previous_7_days"}, "threshold": {"direction": "decrease", "percentage": 30},
    "alert": {"severity": "high", "cooldown_hours": 8, "channels": ["email", "slack"]},
}


async def lens(api: Api, method: str, path: str, expect: int, key: str | None = None, **kwargs: Any) -> Any:
    headers = kwargs.pop("headers", {})
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    resp = await api.client.request(method, "/api/lens" + path, headers=headers, **kwargs)
    body = await resp.json()
    assert resp.status == expect, (method, path, resp.status, body)
    return body


def assert_error(body: dict, code: str, field: str | None = None) -> dict:
    assert set(body) == {"status", "error"} and body["status"] == "error", body
    assert body["error"]["code"] == code and body["error"]["message"], body
    if field is not None:
        assert field in [d["field"] for d in body["error"]["details"]], body
    return body["error"]


def anomaly(project: str = P, rule_id: str = "conversion_rate_drop", hours_ago: float = 1, **kw: Any) -> Anomaly:
    end = now_ms().replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)
    start = end - timedelta(days=1)
    return Anomaly(
        project_id=project, id=anomaly_id(project, rule_id, start, end), rule_id=rule_id,
        rule_name=kw.pop("rule_name", "Conversion Rate Drop"), severity=kw.pop("severity", Severity.CRITICAL),
        window_start=start, window_end=end, detected_at=end, updated_at=end,
        metric=AnomalyMetric(name="conversion_rate", current_value=0.012, baseline_value=0.0185,
                             change_percentage=-35.1,
                             time_series=[SeriesPoint(date="2024-01-14", value=0.013),
                                          SeriesPoint(date="2024-01-15", value=0.012)]),
        segments={"device": {"mobile": SegmentChange(current=0.008, baseline=0.014, change=-42),
                             "desktop": SegmentChange(current=0.015, baseline=0.019, change=-21)}},
        ai_analysis="Mobile conversion fell most.",
        recommended_actions=["Investigate mobile page performance"], **kw,
    )


async def plant(api: Api, *anomalies: Anomaly) -> list[Anomaly]:
    for a in anomalies:
        await api.store.inner.anomalies.insert_anomaly(a)
    return list(anomalies)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_anomalies_are_listed_in_the_envelope_filtered_and_paged(api: Api) -> None:
    newest, acked, low, old = await plant(
        api, anomaly(hours_ago=1), anomaly(hours_ago=2, status=AnomalyStatus.ACKNOWLEDGED, severity=Severity.HIGH),
        anomaly(rule_id="traffic_drop", rule_name="Traffic Drop", hours_ago=3, severity=Severity.LOW),
        anomaly(hours_ago=24 * 40))
    body = await lens(api, "GET", "/anomalies", 200, params={"account_id": P})
    assert set(body) == {"status", "data", "pagination"} and body["status"] == "ok"
    assert [a["id"] for a in body["data"]] == [newest.id, acked.id, low.id, old.id]
    assert body["pagination"] == {"total": 4, "limit": 50, "offset": 0}
    assert body["data"][0] == {  # exactly the seed's item
        "id": newest.id, "rule_id": "conversion_rate_drop", "rule_name": "Conversion Rate Drop",
        "severity": "critical", "status": "open", "detected_at": iso(newest.detected_at),
        "metric": {"name": "conversion_rate", "current_value": 0.012, "baseline_value": 0.0185,
                   "change_percentage": -35.1},
        "segments": {"device": {"mobile": -42, "desktop": -21}},
    }

    async def ids(**params: Any) -> tuple[list[str], dict]:
        found = await lens(api, "GET", "/anomalies", 200, params={"account_id": P, **params})
        return [a["id"] for a in found["data"]], found["pagination"]

    assert (await ids(severity="critical"))[0] == [newest.id, old.id]
    assert (await ids(severity="high,low"))[0] == [acked.id, low.id]
    assert (await ids(status="acknowledged"))[0] == [acked.id]
    assert (await ids(status="dismissed"))[0] == []
    assert (await ids(rule_id="traffic_drop"))[0] == [low.id]
    assert (await ids(date_range="last_7_days"))[0] == [newest.id, acked.id, low.id]
    assert await ids(limit=2, offset=1) == ([acked.id, low.id], {"total": 4, "limit": 2, "offset": 1})
    assert await ids(limit=2, offset=4) == ([], {"total": 4, "limit": 2, "offset": 4})


@pytest.mark.parametrize(("params", "field"), [
    ({}, "account_id"),
    ({"account_id": P, "severity": "dire"}, "severity"),
    ({"account_id": P, "status": "closed"}, "status"),
    ({"account_id": P, "date_range": "sometime"}, "date_range"),
    ({"account_id": P, "date_range": "2024-02-10..2024-02-01"}, "date_range"),
    ({"account_id": P, "limit": "0"}, "limit"),
    ({"account_id": P, "offset": "-1"}, "offset"),
    ({"account_id": P, "limit": "many"}, "limit"),
])
async def test_bad_listing_parameters_are_400s_naming_the_parameter(api: Api, params: dict, field: str) -> None:
    assert_error(await lens(api, "GET", "/anomalies", 400, params=params), "INVALID_REQUEST", field)


async def test_details_acknowledge_and_dismiss(api: Api) -> None:
    (planted,) = await plant(api, anomaly())
    detail = (await lens(api, "GET", f"/anomalies/{planted.id}", 200))["data"]
    assert detail["metric"]["time_series"] == [{"date": "2024-01-14", "value": 0.013},
                                               {"date": "2024-01-15", "value": 0.012}]
    assert detail["segments"]["device"]["mobile"] == {"current": 0.008, "baseline": 0.014, "change": -42}
    assert (detail["ai_analysis"], detail["recommended_actions"]) == (
        "Mobile conversion fell most.", ["Investigate mobile page performance"])
    assert (detail["acknowledged_at"], detail["dismissed_at"], detail["resolved_at"]) == (None, None, None)

    acked = (await lens(api, "POST", f"/anomalies/{planted.id}/acknowledge", 200,
                        json={"note": "Investigating with engineering team"}))["data"]
    assert set(acked) == {"id", "status", "acknowledged_at", "acknowledged_by", "note"}
    assert (acked["id"], acked["status"], acked["note"]) == (planted.id, "acknowledged",
                                                              "Investigating with engineering team")
    assert acked["acknowledged_by"] == "admin" and abs(
        datetime.fromisoformat(acked["acknowledged_at"]) - now_ms()) < timedelta(minutes=1)
    assert (await lens(api, "GET", f"/anomalies/{planted.id}", 200))["data"]["status"] == "acknowledged"

    for body, field in (({"reason": "bored"}, "reason"), ({"reason": "other"}, "note"), ({}, "reason"),
                        ({"reason": "false_positive", "colour": "red"}, "colour"),
                        ({"reason": "false_positive", "note": 7}, "note")):
        assert_error(await lens(api, "POST", f"/anomalies/{planted.id}/dismiss", 400, json=body),
                     "INVALID_REQUEST", field)
    assert (await api.store.inner.anomalies.anomaly_by_id(P, planted.id)).status == AnomalyStatus.ACKNOWLEDGED

    gone = (await lens(api, "POST", f"/anomalies/{planted.id}/dismiss", 200,
                       json={"reason": "expected_change", "note": "Planned site maintenance"}))["data"]
    assert {k: gone[k] for k in ("id", "status", "reason", "note", "dismissed_by")} == {
        "id": planted.id, "status": "dismissed", "reason": "expected_change", "note": "Planned site maintenance",
        "dismissed_by": "admin"}
    # Acknowledging (or dismissing again) a dismissed anomaly: 409, and nothing changes.
    error = assert_error(await lens(api, "POST", f"/anomalies/{planted.id}/acknowledge", 409, json={"note": "x"}),
                         "CONFLICT")
    assert "dismissed" in error["message"]
    assert_error(await lens(api, "POST", f"/anomalies/{planted.id}/dismiss", 409, json={"reason": "other",
                                                                                         "note": "again"}), "CONFLICT")
    stored = await api.store.inner.anomalies.anomaly_by_id(P, planted.id)
    assert (stored.status, stored.dismiss_note, stored.acknowledge_note) == (
        AnomalyStatus.DISMISSED, "Planned site maintenance", "Investigating with engineering team")
    final = (await lens(api, "GET", f"/anomalies/{planted.id}", 200))["data"]
    assert (final["dismiss_reason"], final["note"]) == ("expected_change", "Investigating with engineering team")

    for path in ("/anomalies/anom_nothing", "/anomalies/anom_nothing/acknowledge"):
        method = "GET" if path.count("/") == 2 else "POST"
        assert_error(await lens(api, method, path, 404), "NOT_FOUND")


async def test_an_acknowledgement_needs_no_body_but_json_when_it_has_one(api: Api) -> None:
    first, second = await plant(api, anomaly(hours_ago=1), anomaly(hours_ago=2))
    acked = (await lens(api, "POST", f"/anomalies/{first.id}/acknowledge", 200))["data"]
    assert (acked["status"], acked["note"]) == ("acknowledged", None)
    resp = await api.client.post(f"/api/lens/anomalies/{second.id}/acknowledge", data="note=hi",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 415
    assert_error(await resp.json(), "UNSUPPORTED_MEDIA_TYPE")
    assert_error(await lens(api, "POST", f"/anomalies/{second.id}/acknowledge", 400, data=b"{not json",
                            headers={"Content-Type": "application/json"}), "INVALID_REQUEST", "body")
    assert (await api.store.inner.anomalies.anomaly_by_id(P, second.id)).status == AnomalyStatus.OPEN


async def test_another_tenants_anomalies_and_rules_are_not_visible(make_api) -> None:
    api = await make_api(api_key=ADMIN)
    project_a, key_a, _ = await new_project(api, "shop-a")
    project_b, key_b, _ = await new_project(api, "shop-b")
    (theirs,) = await plant(api, anomaly(project=project_a))
    await lens(api, "POST", "/rules", 201, key_a, json={**SEED_RULE, "account_id": project_a})
    assert (await lens(api, "GET", f"/anomalies/{theirs.id}", 200, key_a))["data"]["id"] == theirs.id
    assert_error(await lens(api, "GET", f"/anomalies/{theirs.id}", 404, key_b), "NOT_FOUND")
    assert_error(await lens(api, "POST", f"/anomalies/{theirs.id}/dismiss", 404, key_b,
                            json={"reason": "false_positive"}), "NOT_FOUND")
    assert (await api.store.inner.anomalies.anomaly_by_id(project_a, theirs.id)).status == AnomalyStatus.OPEN
    own = await lens(api, "GET", "/anomalies", 200, key_b, params={"account_id": project_b})
    assert (own["data"], own["pagination"]["total"]) == ([], 0)
    assert_error(await lens(api, "GET", "/anomalies", 403, key_b, params={"account_id": project_a}), "FORBIDDEN")
    assert_error(await lens(api, "GET", "/rules/custom_rule_001", 404, key_b), "NOT_FOUND")
    assert [r["id"] for r in (await lens(api, "GET", "/rules", 200, key_b))["data"]] == SYSTEM_IDS
    # The admin names any project; no key, or a wrong one, is a 401 in the seed's shape.
    listed = await lens(api, "GET", "/anomalies", 200, ADMIN, params={"account_id": "shop-a"})
    assert [a["id"] for a in listed["data"]] == [theirs.id]
    assert_error(await lens(api, "GET", "/rules", 401), "UNAUTHORIZED")
    assert_error(await lens(api, "GET", "/rules", 401, "wrong-key-0123456789"), "UNAUTHORIZED")


async def test_an_account_key_names_its_projects_or_its_own_account(make_api) -> None:
    api = await make_api(api_key=ADMIN)
    account_id, account_key = await new_account(api, "acme")
    _, other_key = await new_account(api, "globex")
    first = await agent_analytics_call(api, "POST", "/projects", account_key, 201, json={"name": "first"})
    second = await agent_analytics_call(api, "POST", "/projects", account_key, 201, json={"name": "second"})
    elsewhere = await agent_analytics_call(api, "POST", "/projects", other_key, 201, json={"name": "elsewhere"})
    first_id, second_id = first["id"], second["id"]
    a1, a2 = await plant(api, anomaly(project=first_id), anomaly(project=second_id))

    async def ids(key: str, account: str) -> list[str]:
        found = await lens(api, "GET", "/anomalies", 200, key, params={"account_id": account})
        return [a["id"] for a in found["data"]]

    assert await ids(account_key, account_id) == [a1.id]  # its account: its oldest project
    assert await ids(account_key, "second") == [a2.id]
    assert await ids(account_key, second_id) == [a2.id]
    assert_error(await lens(api, "GET", "/anomalies", 404, other_key, params={"account_id": "first"}), "NOT_FOUND")
    assert await ids(other_key, elsewhere["id"]) == []


async def test_system_rules_custom_rules_and_updates(api: Api) -> None:
    await plant(api, anomaly(rule_id="traffic_drop", hours_ago=2), anomaly(rule_id="traffic_drop", hours_ago=5),
                anomaly(rule_id="traffic_drop", hours_ago=24 * 45))
    rules = (await lens(api, "GET", "/rules", 200, params={"account_id": P}))["data"]
    assert [r["id"] for r in rules] == SYSTEM_IDS
    assert rules[0] == {"id": "conversion_rate_drop", "name": "Conversion Rate Drop", "category": "conversions",
                        "type": "system", "enabled": True, "threshold": {"direction": "decrease", "percentage": 20},
                        "last_triggered": None, "trigger_count_30d": 0}
    traffic = rules[1]
    assert (traffic["trigger_count_30d"], traffic["last_triggered"]) == (
        2, iso(anomaly(rule_id="traffic_drop", hours_ago=2).detected_at))
    agents = (await lens(api, "GET", "/rules", 200, params={"category": "agents"}))["data"]
    assert [r["id"] for r in agents] == SYSTEM_IDS[3:]
    detail = (await lens(api, "GET", "/rules/latency_spike", 200))["data"]
    assert detail["metric"]["type"] == "latency_p95" and detail["threshold"] == {
        "direction": "increase", "percentage": 50, "min_volume": 20}

    created = await lens(api, "POST", "/rules", 201, json=SEED_RULE)
    assert created["status"] == "ok" and set(created["data"]) == {"id", "name", "created_at", "enabled"}
    assert (created["data"]["id"], created["data"]["name"], created["data"]["enabled"]) == (
        "custom_rule_001", "High-Value Orders Drop", True)
    second = await lens(api, "POST", "/rules", 201, json={**SEED_RULE, "name": "Tool calls", "metric": {
        "type": "count", "event": "tool_call"}, "threshold": {"direction": "increase", "percentage": 200}})
    assert second["data"]["id"] == "custom_rule_002"
    custom = (await lens(api, "GET", "/rules/custom_rule_001", 200))["data"]
    assert custom["metric"] == {"type": "count", "event": "conversion", "source": "events", "field": None,
                                "percentile": None, "hits": [],
                                "filters": [{"field": "amount", "operator": "greater_than", "value": 500}]}
    assert (custom["comparison"], custom["alert"], custom["type"], custom["category"]) == (
        {"type": "vs_previous_7_days", "window_hours": 24},
        {"severity": "high", "cooldown_hours": 8, "channels": ["email", "slack"]}, "custom", "custom")
    listed = (await lens(api, "GET", "/rules", 200, params={"category": "custom"}))["data"]
    assert [r["id"] for r in listed] == ["custom_rule_001", "custom_rule_002"]

    changed = (await lens(api, "PATCH", "/rules/conversion_rate_drop", 200,
                          json={"enabled": False, "threshold": {"percentage": 25}}))["data"]
    assert (changed["enabled"], changed["threshold"]) == (False, {"direction": "decrease", "percentage": 25,
                                                                  "min_volume": 100})
    disabled = (await lens(api, "GET", "/rules", 200, params={"enabled": "false"}))["data"]
    assert [r["id"] for r in disabled] == ["conversion_rate_drop"]
    assert len((await lens(api, "GET", "/rules", 200, params={"enabled": "true"}))["data"]) == 9
    renamed = (await lens(api, "PATCH", "/rules/custom_rule_002", 200,
                          json={"metric": {"type": "avg", "field": "duration_ms", "event": "tool_response"}}))["data"]
    assert (renamed["metric"]["type"], renamed["metric"]["field"]) == ("avg", "duration_ms")
    assert_error(await lens(api, "PATCH", "/rules/traffic_drop", 400, json={"metric": {"type": "count"}}),
                 "INVALID_REQUEST", "metric")
    assert_error(await lens(api, "PATCH", "/rules/custom_rule_999", 404, json={"enabled": False}), "NOT_FOUND")
    assert_error(await lens(api, "PATCH", "/rules/traffic_drop", 400, json={"threshold": {"percentage": 101,
                                                                                          "direction": "decrease"}}),
                 "INVALID_REQUEST", "threshold.percentage")
    assert (await lens(api, "GET", "/rules/traffic_drop", 200))["data"]["threshold"]["percentage"] == 30


@pytest.mark.parametrize(("change", "field"), [
    ({"metric": {"type": "vibes"}}, "metric.type"),
    ({"metric": {"type": "count", "event": "purchase_of_the_century"}}, "metric.event"),
    ({"metric": {"type": "count", "filters": [{"field": "amount", "operator": "bigger", "value": 1}]}},
     "metric.filters[0].operator"),
    ({"metric": {"type": "sum"}}, "metric.field"),
    ({"metric": {"type": "sum", "field": "url"}}, "metric.field"),
    ({"metric": {"type": "percentile", "field": "duration_ms", "percentile": 95}}, "metric.percentile"),
    ({"metric": {"type": "count", "filters": [{"field": "amount", "operator": "in", "value": []}]}},
     "metric.filters[0].value"),
    ({"metric": {"type": "rate"}}, "metric.hits"),
    ({"threshold": {"direction": "decrease", "percentage": 0}}, "threshold.percentage"),
    ({"threshold": {"direction": "decrease", "percentage": 150}}, "threshold.percentage"),
    ({"threshold": {"direction": "increase", "percentage": 5000}}, "threshold.percentage"),
    ({"threshold": {"direction": "sideways", "percentage": 10}}, "threshold.direction"),
    ({"threshold": {"direction": "decrease", "percentage": "30"}}, "threshold.percentage"),
    ({"alert": {"severity": "apocalyptic"}}, "alert.severity"),
    ({"alert": {"channels": ["carrier_pigeon"]}}, "alert.channels"),
    ({"alert": {"cooldown_hours": 1000}}, "alert.cooldown_hours"),
    ({"comparison": {"type": "vs_the_neighbours"}}, "comparison.type"),
    ({"name": "  "}, "name"),
    ({"planet": "Mars"}, "planet"),
    ({"category": "astrology"}, "category"),
])
async def test_bad_rules_are_400s_and_store_nothing(api: Api, change: dict, field: str) -> None:
    error = assert_error(await lens(api, "POST", "/rules", 400, json={**SEED_RULE, **change}), "INVALID_REQUEST",
                         field)
    assert field.split(".")[0] in error["message"]
    assert await api.store.inner.anomalies.list_rules(P) == []
    assert len((await lens(api, "GET", "/rules", 200))["data"]) == 8


async def test_reports_are_listed_and_paged(api: Api) -> None:
    start = datetime(2026, 4, 1, tzinfo=UTC)
    for day in range(3):
        period = start + timedelta(days=day)
        await api.store.inner.anomalies.insert_report(Report(
            project_id=P, id=report_id(P, "daily", period), kind="daily", period_start=period,
            period_end=period + timedelta(days=1), generated_at=period + timedelta(days=1, minutes=5),
            title=f"Daily summary {period.date()}", summary={"sessions": 100 + day, "anomalies": day}))
    body = await lens(api, "GET", "/reports", 200, params={"limit": 2})
    assert body["pagination"] == {"total": 3, "limit": 2, "offset": 0}
    assert body["data"][0] == {
        "id": report_id(P, "daily", start + timedelta(days=2)), "type": "daily", "title": "Daily summary 2026-04-03",
        "period": {"start": "2026-04-03T00:00:00Z", "end": "2026-04-04T00:00:00Z"},
        "generated_at": "2026-04-04T00:05:00Z", "summary": {"sessions": 102, "anomalies": 2}}
    rest = await lens(api, "GET", "/reports", 200, params={"limit": 2, "offset": 2})
    assert [r["title"] for r in rest["data"]] == ["Daily summary 2026-04-01"]


async def test_usage_counts_this_months_questions(make_api) -> None:
    api = await make_api(lens_questions_per_month=5)
    now = now_ms()
    today = now.date()
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    earlier = (first - timedelta(days=1)).isoformat()  # last month: not counted
    counted = api.store.inner.anomalies.count_question
    for _ in range(4):
        await counted(P, today.isoformat(), "analyst@company.com")
    await counted(P, first.isoformat(), "manager@company.com", 3)
    await counted(P, earlier, "analyst@company.com", 50)
    await counted("someone-else", today.isoformat(), "analyst@company.com", 9)
    body = await lens(api, "GET", "/usage", 200, params={"account_id": P})
    daily = [{"date": today.isoformat(), "count": 4}]
    if first != today:
        daily.append({"date": first.isoformat(), "count": 3})
    else:
        daily = [{"date": today.isoformat(), "count": 7}]
    assert body == {"status": "ok", "data": {
        "period": {"start": first.isoformat(), "end": (following - timedelta(days=1)).isoformat()},
        "questions": {"limit": 5, "used": 7, "remaining": 0},
        "daily_usage": daily,
        "by_user": [{"email": "analyst@company.com", "count": 4}, {"email": "manager@company.com", "count": 3}],
        "overage": {"count": 2, "cost": 0},
        "resets_at": f"{following.isoformat()}T00:00:00Z",
    }}


async def test_rate_limits_per_route_with_headers_on_every_answer(make_api) -> None:
    api = await make_api(rate_limits=True)
    for i in range(10):
        resp = await api.client.get("/api/lens/usage")
        assert resp.status == 200
        assert (resp.headers["X-RateLimit-Limit"], resp.headers["X-RateLimit-Remaining"]) == ("10", str(9 - i))
        assert int(resp.headers["X-RateLimit-Reset"]) > now_ms().timestamp()
    resp = await api.client.get("/api/lens/usage")
    assert resp.status == 429
    assert resp.headers["X-RateLimit-Remaining"] == "0"
    assert await resp.json() == {"status": "error", "error": {
        "code": "RATE_LIMIT_EXCEEDED", "message": "Too many requests to LENS API",
        "retry_after": int(resp.headers["Retry-After"])}}
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    # Each route group has its own budget, and errors carry the headers too.
    for path, limit in (("/rules", "30"), ("/anomalies?account_id=default", "60"), ("/reports", "60"),
                        ("/anomalies/anom_missing", "60"), ("/chat", "10"), ("/nowhere", "600")):
        resp = await api.client.get("/api/lens" + path)
        assert resp.headers["X-RateLimit-Limit"] == limit, path
        assert resp.status in (200, 404, 405), path
    resp = await api.client.post("/api/lens/chat", json={"account_id": P, "question": "why?"})
    assert resp.status == 400 and resp.headers["X-RateLimit-Remaining"] == "8"  # the GET above spent one
    assert_error(await resp.json(), "INVALID_QUESTION")


async def test_the_lens_prefix_is_routed_ahead_of_the_api_family(api: Api) -> None:
    await api.post_typed([typed("custom", VALID["custom"])])
    served = await api.get("/api/sessions")  # seed 004 keeps /api
    assert "sessions" in served or "data" in served
    rules = await lens(api, "GET", "/rules", 200)
    assert rules["status"] == "ok" and len(rules["data"]) == 8
    assert_error(await lens(api, "GET", "/nothing-here", 404), "NOT_FOUND")


async def test_system_rule_metrics_compute_on_the_engine(api: Api) -> None:
    """Each agent rule's definition, measured on planted traces: the queries the detector will run."""
    await api.post_typed([
        typed("tool_call", VALID["tool_call"], session="s1"),
        typed("tool_response", VALID["tool_response"], session="s1"),
        typed("tool_error", VALID["tool_error"], session="s1"),
        typed("tool_response", {**VALID["tool_response"], "durationMs": 100}, session="s2"),
        typed("tool_response", {**VALID["tool_response"], "durationMs": 20}, session="s3"),
    ])
    services = api.client.app[SERVICES]
    start, end = now_ms() - timedelta(hours=1), now_ms() + timedelta(minutes=1)

    async def measured(name: str) -> float | None:
        return await metrics.measure(services, metrics.check(P, RuleMetric(type=name)), start, end)

    assert await measured("tool_error_rate") == pytest.approx(1 / 4)  # 1 tool_error of 4 tool results
    assert await measured("error_rate") == pytest.approx(1 / 3)  # s1 of s1..s3 had an error
    assert await measured("latency_p95") == 100.0  # nearest rank over 42, 100, 20
    assert await measured("sessions") is not None and await measured("sessions") == 0  # no tracked visits
    assert await measured("conversion_rate") is None  # a ratio over no visits
    assert (await services.store.anomalies.find_anomalies(P, AnomalyQuery(), Page())).total == 0

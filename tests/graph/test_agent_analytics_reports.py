"""Seed 003's analytics routes on a known data set, over real HTTP, with values computed by hand.

The data: five visitors' sessions over the last two days plus one visit seconds ago, an agent trace
in the same project (which no product report may count), and another project's visits (which no
report of this project may see).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Api, ApiFactory

PREFIX = "/agent-analytics"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.2 Mobile/15E148 Safari/604.1")
NOW = datetime.now(UTC)
TODAY = datetime(NOW.year, NOW.month, NOW.day, tzinfo=UTC)
DAY2 = TODAY - timedelta(days=2)
DAY1 = TODAY - timedelta(days=1)


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def track(event: str, user: str, session: str, at: datetime, path: str | None = None, **props: Any) -> dict:
    properties = dict(props)
    if path is not None:
        properties.setdefault("path", path)
        properties.setdefault("url", f"https://shop.example{path}")
    return {"event": event, "user_id": user, "session_id": session, "timestamp": ms(at), "properties": properties}


VISITS: list[tuple[dict[str, str], list[dict]]] = [
    # s1: u1 from Google via the newsletter, three pages in a minute; GB by the proxy's forwarded address.
    ({"X-Forwarded-For": "81.2.69.160"}, [
        track("page_view", "u1", "s1", DAY2 + timedelta(hours=10), "/home",
              url="https://shop.example/home?utm_source=newsletter&utm_medium=email",
              referrer="https://www.google.com/search"),
        track("page_view", "u1", "s1", DAY2 + timedelta(hours=10, seconds=20), "/pricing"),
        track("signup", "u1", "s1", DAY2 + timedelta(hours=10, minutes=1), "/signup"),
    ]),
    ({}, [
        track("page_view", "u2", "s2", DAY2 + timedelta(hours=11), "/home"),
        track("signup", "u2", "s2", DAY2 + timedelta(hours=11, minutes=5), "/signup"),
        track("page_view", "u2", "s3", DAY1 + timedelta(hours=9), "/pricing"),
    ]),
    # s4: u3 on an iPhone; the proxy says US.
    ({"User-Agent": IPHONE, "CF-IPCountry": "US"},
     [track("page_view", "u3", "s4", DAY1 + timedelta(hours=15), "/home")]),
    ({}, [track("page_view", "anon_x", "s5", DAY1 + timedelta(hours=15, minutes=30), "/home", plan="pro")]),
    # s6: u9 seconds ago (added when loaded, so the live window holds it).
]


async def _load(api: Api) -> None:
    just_now = datetime.now(UTC) - timedelta(seconds=5)
    for headers, events in [*VISITS, ({}, [track("page_view", "u9", "s6", just_now, "/live-page")])]:
        resp = await api.client.post(f"{PREFIX}/track/batch", json={"events": events}, headers=headers)
        assert resp.status == 202, await resp.text()
    # An agent's trace in the same project: never a product event.
    await api.post_typed([{"sessionId": "agent-run", "agentId": "bot", "eventType": "session_started",
                           "payload": {"agentName": "bot"}, "timestamp": (DAY1 + timedelta(hours=15)).isoformat()}])
    # Another project's visitors: never in this project's reports.
    created = await api.client.post(f"{PREFIX}/projects", json={"name": "other-site"})
    other = await created.json()
    resp = await api.client.post(
        f"{PREFIX}/track/batch?token={other['project_token']}",
        json={"events": [track("page_view", "z1", "z-s1", DAY1 + timedelta(hours=15), "/home"),
                         track("signup", "z1", "z-s1", DAY1 + timedelta(hours=15, minutes=1), "/signup")]},
    )
    assert resp.status == 202, await resp.text()


@pytest.fixture
async def site(make_api: ApiFactory) -> Api:
    api = await make_api(trusted_proxy_hops=1, country_header="CF-IPCountry")
    await _load(api)
    return api


async def get(api: Api, path: str, expect: int = 200, **params: Any) -> Any:
    params.setdefault("project", "default")
    return await api.get(f"{PREFIX}{path}", expect, **{k: str(v) for k, v in params.items()})


async def post(api: Api, path: str, body: dict, expect: int = 200) -> Any:
    resp = await api.client.post(f"{PREFIX}{path}", json={"project": "default", **body})
    answer = await resp.json()
    assert resp.status == expect, answer
    return answer


def dow(at: datetime) -> int:
    return (at.weekday() + 1) % 7  # 0 = Sunday


async def test_stats_totals_series_events_and_sessions(site: Api) -> None:
    stats = await get(site, "/stats")
    assert stats["project"] == "default"
    assert stats["period"] == {"from": (TODAY - timedelta(days=7)).strftime("%Y-%m-%d"),
                               "to": TODAY.strftime("%Y-%m-%d"), "groupBy": "day"}
    assert stats["totals"] == {"unique_users": 5, "total_events": 9}
    assert stats["timeSeries"] == [
        {"bucket": DAY2.strftime("%Y-%m-%d"), "unique_users": 2, "total_events": 5},
        {"bucket": DAY1.strftime("%Y-%m-%d"), "unique_users": 3, "total_events": 3},
        {"bucket": TODAY.strftime("%Y-%m-%d"), "unique_users": 1, "total_events": 1},
    ]
    assert stats["events"] == [{"event": "page_view", "count": 7, "unique_users": 5},
                               {"event": "signup", "count": 2, "unique_users": 2}]
    sessions = stats["sessions"]
    assert sessions["total_sessions"] == 6
    assert sessions["bounce_rate"] == pytest.approx(4 / 6, abs=1e-6)
    assert (sessions["avg_duration"], sessions["pages_per_session"], sessions["sessions_per_user"]) == (
        60_000, 1.5, 1.2)

    hourly = await get(site, "/stats", groupBy="hour", since=(DAY2 + timedelta(hours=10, minutes=30)).isoformat())
    # Hourly from the given time: s1's 10:00 events fall before it.
    assert hourly["timeSeries"][0] == {"bucket": (DAY2 + timedelta(hours=11)).strftime("%Y-%m-%dT%H:00"),
                                       "unique_users": 1, "total_events": 2}
    await get(site, "/stats", 400, groupBy="year")


async def test_events_are_raw_newest_first_and_only_tracked(site: Api) -> None:
    found = await get(site, "/events", event="signup")
    assert [(e["user_id"], e["session_id"]) for e in found["events"]] == [("u2", "s2"), ("u1", "s1")]
    first = found["events"][1]
    assert first["timestamp"] == ms(DAY2 + timedelta(hours=10, minutes=1))
    assert first["date"] == DAY2.strftime("%Y-%m-%d") and first["country"] == "GB"
    assert set(first) == {"id", "project_id", "event", "properties", "user_id", "session_id", "timestamp", "date",
                          "country"}
    everything = await get(site, "/events", limit=100)
    assert len(everything["events"]) == 9  # the agent's session_start is not a product event
    assert [e["session_id"] for e in (await get(site, "/events", limit=2))["events"]] == ["s6", "s5"]
    assert len((await get(site, "/events", user_id="u2"))["events"]) == 3


async def test_product_context_is_derived_from_request_and_properties(site: Api) -> None:
    rows = await post(site, "/query", {"metrics": ["event_count"], "group_by": ["country"]})
    by_country = {r["country"]: r["event_count"] for r in rows["rows"]}
    assert by_country == {"GB": 3, "US": 1, None: 5}
    devices = await get(site, "/breakdown", property="device")
    assert {"value": "mobile", "count": 1, "unique_users": 1} in devices["values"]
    referrers = await get(site, "/breakdown", property="referrer_domain")
    assert referrers["values"] == [{"value": "google.com", "count": 1, "unique_users": 1}]
    utm = await get(site, "/breakdown", property="utm_source")
    assert utm["values"] == [{"value": "newsletter", "count": 1, "unique_users": 1}]
    browsers = await get(site, "/breakdown", property="browser", event="page_view")
    assert {"value": "Mobile Safari", "count": 1, "unique_users": 1} in browsers["values"]


async def test_query_echoes_metrics_and_group_by(site: Api) -> None:
    answer = await post(site, "/query", {"metrics": ["event_count", "unique_users"], "group_by": ["event"]})
    assert answer["metrics"] == ["event_count", "unique_users"] and answer["group_by"] == ["event"]
    assert answer["rows"] == [{"event": "page_view", "event_count": 7, "unique_users": 5},
                              {"event": "signup", "event_count": 2, "unique_users": 2}]
    assert answer["count"] == 2
    pro = await post(site, "/query", {"filters": [{"field": "properties.plan", "op": "eq", "value": "pro"}]})
    assert pro["rows"] == [{"event_count": 1}]
    by_date = await post(site, "/query", {"metrics": ["session_count"], "group_by": ["date"], "order": "asc"})
    assert [(r["date"], r["session_count"]) for r in by_date["rows"]] == [
        (DAY2.strftime("%Y-%m-%d"), 2), (DAY1.strftime("%Y-%m-%d"), 3), (TODAY.strftime("%Y-%m-%d"), 1)]
    day1 = await post(site, "/query", {"filters": [{"field": "date", "op": "eq", "value": DAY1.strftime("%Y-%m-%d")}]})
    assert day1["rows"] == [{"event_count": 3}]
    bounce = await post(site, "/query", {"metrics": ["bounce_rate", "avg_duration"], "group_by": ["date"],
                                         "order_by": "date", "order": "asc"})
    assert bounce["rows"][0] == {"date": DAY2.strftime("%Y-%m-%d"), "bounce_rate": 0.0, "avg_duration": 180_000}
    for body, where in (
        ({"metrics": ["revenue"]}, "metrics"),
        ({"group_by": ["planet"]}, "group_by"),
        ({"filters": [{"field": "plan", "op": "eq", "value": "x"}]}, "filters[0].field"),
        ({"filters": [{"field": "event", "op": "like", "value": "x"}]}, "filters[0].op"),
        ({"filters": "event=x"}, "filters"),
        ({"date_from": "2020-02-30"}, "date_from"),
        ({"limit": 0}, "limit"),
    ):
        refused = await post(site, "/query", body, expect=400)
        assert refused.get("field") == where, (body, refused)


async def test_properties_and_received(site: Api) -> None:
    found = await get(site, "/properties")
    assert [(e["event"], e["count"], e["unique_users"]) for e in found["events"]] == [
        ("page_view", 7, 5), ("signup", 2, 2)]
    assert found["events"][1]["first_seen"] == DAY2.strftime("%Y-%m-%d")
    assert {"path", "url", "plan", "referrer"} <= set(found["property_keys"])
    received = await get(site, "/properties/received", sample=100)
    assert received["sample_size"] == 100
    assert {"key": "plan", "event": "page_view"} in received["properties"]
    assert {"key": "plan", "event": "signup"} not in received["properties"]


async def test_sessions_list_and_distribution(site: Api) -> None:
    listed = await get(site, "/sessions")
    assert [s["session_id"] for s in listed["sessions"]] == ["s6", "s5", "s4", "s3", "s2", "s1"]
    s1 = listed["sessions"][-1]
    assert (s1["user_id"], s1["duration"], s1["entry_page"], s1["exit_page"], s1["event_count"], s1["is_bounce"]) == (
        "u1", 60_000, "/home", "/signup", 3, 0)
    assert [s["session_id"] for s in (await get(site, "/sessions", user_id="u2"))["sessions"]] == ["s3", "s2"]
    assert len((await get(site, "/sessions", is_bounce=1))["sessions"]) == 4
    assert len((await get(site, "/sessions", limit=2))["sessions"]) == 2
    dist = await get(site, "/sessions/distribution")
    assert dist["distribution"] == [
        {"bucket": "0s", "sessions": 4, "bounces": 4, "avg_events": 1.0, "pct": 66.7},
        {"bucket": "1-3m", "sessions": 1, "bounces": 0, "avg_events": 3.0, "pct": 16.7},
        {"bucket": "3-10m", "sessions": 1, "bounces": 0, "avg_events": 2.0, "pct": 16.7},
    ]
    assert (dist["median_bucket"], dist["engaged_pct"]) == ("0s", 33.3)


async def test_breakdown(site: Api) -> None:
    plan = await get(site, "/breakdown", property="plan")
    assert plan == {"project": "default", "property": "plan", "event": None,
                    "values": [{"value": "pro", "count": 1, "unique_users": 1}], "total_events": 9,
                    "total_with_property": 1}
    paths = await get(site, "/breakdown", property="path", event="page_view", limit=1)
    assert paths["values"] == [{"value": "/home", "count": 4, "unique_users": 4}]
    assert paths["total_events"] == 7 and paths["total_with_property"] == 7
    missing = await get(site, "/breakdown", 400)
    assert missing["field"] == "property"
    assert (await get(site, "/breakdown", 400, property="a'b"))["field"] == "property"


async def test_insights_compare_periods(site: Api) -> None:
    found = await get(site, "/insights", period="7d")
    m = found["metrics"]
    assert m["total_events"] == {"current": 9, "previous": 0, "change": 9, "change_pct": None}
    assert m["unique_users"]["current"] == 5 and m["total_sessions"]["current"] == 6
    assert m["bounce_rate"]["current"] == pytest.approx(0.667)
    assert found["trend"] == "growing"
    assert found["current_period"] == {"from": (TODAY - timedelta(days=6)).strftime("%Y-%m-%d"),
                                       "to": TODAY.strftime("%Y-%m-%d")}
    # One day: today against yesterday.
    day = await get(site, "/insights", period="1d")
    assert day["metrics"]["total_events"] == {"current": 1, "previous": 3, "change": -2, "change_pct": -67}
    assert day["trend"] == "declining"
    assert (await get(site, "/insights", 400, period="5d"))["field"] == "period"


async def test_pages_entry_and_exit(site: Api) -> None:
    entry = await get(site, "/pages")
    assert entry["entry_pages"][0] == {"page": "/home", "sessions": 4, "bounces": 2, "bounce_rate": 0.5,
                                       "avg_duration": 90_000, "avg_events": 1.8}
    both = await get(site, "/pages", type="both")
    exits = {p["page"]: p["sessions"] for p in both["exit_pages"]}
    assert exits == {"/signup": 2, "/pricing": 1, "/home": 2, "/live-page": 1}
    assert "exit_pages" not in entry
    await get(site, "/pages", 400, type="middle")


async def test_heatmap(site: Api) -> None:
    found = await get(site, "/heatmap")
    cells = {(c["day"], c["hour"]): (c["events"], c["users"]) for c in found["heatmap"]}
    assert cells[(dow(DAY2), 10)] == (3, 1) and cells[(dow(DAY2), 11)] == (2, 1)
    assert cells[(dow(DAY1), 15)] == (2, 2) and cells[(dow(DAY1), 9)] == (1, 1)
    assert found["peak"]["events"] == 3 and found["peak"]["hour"] == 10
    assert found["busiest_day"] == ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                    "Saturday"][dow(DAY2)]


async def test_funnel_steps_window_and_breakdown(site: Api) -> None:
    found = await post(site, "/funnel", {"steps": ["page_view", "signup"], "conversion_window_hours": 24})
    assert [(s["event"], s["users"]) for s in found["steps"]] == [("page_view", 5), ("signup", 2)]
    assert found["steps"][1]["conversion_rate"] == 0.4 and found["overall_conversion_rate"] == 0.4
    assert found["steps"][1]["avg_time_to_convert_ms"] == (60_000 + 300_000) // 2
    # A one-minute window: u2 signed up five minutes after viewing.
    tight = await post(site, "/funnel", {"steps": ["page_view", "signup"], "conversion_window_hours": 1 / 60})
    assert tight["steps"][1]["users"] == 1
    # A step filter: only visitors who entered on /pricing.
    pricing = await post(site, "/funnel", {"steps": [
        {"event": "page_view", "filters": [{"field": "properties.path", "op": "eq", "value": "/pricing"}]},
        {"event": "signup"}]})
    assert [s["users"] for s in pricing["steps"]] == [2, 1]
    by_plan = await post(site, "/funnel", {"steps": ["page_view", "signup"], "breakdown": "path"})
    groups = {b["value"]: [s["users"] for s in b["steps"]] for b in by_plan["breakdowns"]}
    assert groups["/home"] == [4, 2]
    # With a breakdown every visitor is walked; without one only those who reached step 2 are (and
    # the first step is one distinct count): both must agree.
    assert [sum(g[k] for g in groups.values()) for k in (0, 1)] == [5, 2]
    assert (await post(site, "/funnel", {"steps": ["page_view"]}, expect=400))["field"] == "steps"


async def test_retention_cohorts(site: Api) -> None:
    found = await get(site, "/retention", period="day", cohorts=3)
    cohorts = {c["date"]: (c["users"], c["retained"]) for c in found["cohorts"]}
    assert cohorts == {
        DAY2.strftime("%Y-%m-%d"): (2, [2, 1, 0]),
        DAY1.strftime("%Y-%m-%d"): (2, [2, 0]),
        TODAY.strftime("%Y-%m-%d"): (1, [1]),
    }
    assert found["average_rates"] == [1.0, 0.25, 0.0]
    assert found["users_analyzed"] == 5
    signups = await get(site, "/retention", period="day", cohorts=3, event="signup")
    assert [(c["users"], c["retained"]) for c in signups["cohorts"]] == [(2, [2, 1, 0])]
    await get(site, "/retention", 400, period="year")


async def test_live_snapshot(site: Api) -> None:
    found = await get(site, "/live", window=60)
    assert (found["active_visitors"], found["active_sessions"], found["events_per_minute"]) == (1, 1, 1.0)
    assert found["top_pages"] == [{"path": "/live-page", "visitors": 1}]
    assert found["top_events"] == [{"event": "page_view", "count": 1}]
    assert [e["user_id"] for e in found["recent_events"]] == ["u9"]


async def test_reads_are_scoped_to_the_project(site: Api) -> None:
    other = await get(site, "/stats", project="other-site")
    assert other["totals"] == {"unique_users": 1, "total_events": 2}
    await get(site, "/stats", 404, project="no-such-site")
    # The other project's own key cannot read this one.
    created = await site.client.post(f"{PREFIX}/projects", json={"name": "third"})
    key = (await created.json())["api_key"]
    resp = await site.client.get(f"{PREFIX}/stats", params={"project": "default"}, headers={"X-API-Key": key})
    assert resp.status == 404
    own = await site.client.get(f"{PREFIX}/stats", headers={"X-API-Key": key})
    assert (await own.json())["totals"] == {"unique_users": 0, "total_events": 0}


async def test_reads_answer_while_ingest_runs(site: Api) -> None:
    async def ingest(i: int) -> None:
        resp = await site.client.post(f"{PREFIX}/track", json=track("click", f"c{i}", f"c-s{i}", NOW, "/x"))
        assert resp.status == 202

    await asyncio.gather(*(ingest(i) for i in range(10)), *(get(site, "/stats") for _ in range(5)))
    clicks = await get(site, "/breakdown", property="path", event="click")
    assert clicks["values"] == [{"value": "/x", "count": 10, "unique_users": 10}]

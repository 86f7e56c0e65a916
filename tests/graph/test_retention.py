"""Retention through the running server: the job deletes whole sessions past the limit everywhere, nothing newer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.conftest import Api, typed
from tests.graph.test_security import ADMIN, gql, new_project


def at(days_ago: float, session: str, marker: str) -> dict:
    when = datetime.now(UTC) - timedelta(days=days_ago)
    return {**typed("custom", {"type": "t", "data": marker}, session=session),
            "timestamp": when.isoformat(timespec="milliseconds").replace("+00:00", "Z")}


async def test_the_job_deletes_sessions_past_the_limit_everywhere_and_nothing_newer(make_api) -> None:
    api: Api = await make_api(retention_days=30, retention_interval_seconds=1)
    await api.post_typed([at(45, "ancient", "zebra-old"), at(44, "ancient", "zebra-old")])
    await api.post_typed([at(29, "recent", "zebra-new"), at(0, "recent", "zebra-new")])
    await api.post_typed([at(40, "spans", "zebra-span"), at(1, "spans", "zebra-span")])  # its last event is new
    for _ in range(200):  # the job runs within a second; a hang guard, not a timing assertion
        if (await api.get("/api/sessions"))["total"] == 2:
            break
        await asyncio.sleep(0.05)
    sessions = {s["id"]: s for s in (await api.get("/api/sessions"))["sessions"]}
    assert sorted(sessions) == ["recent", "spans"]
    assert sessions["recent"]["eventCount"] == 2 and sessions["spans"]["eventCount"] == 2
    assert (await api.get("/api/events", search="zebra-old"))["total"] == 0
    assert (await api.get("/api/events", search="zebra"))["total"] == 4
    assert (await api.get("/api/sessions/spans/timeline"))["chainValid"] is True
    data = await api.data('{ session(id: "ancient") { id } sessions { totalCount } projects { nodes { '
                          "retentionDays retentionInForce } } }")
    assert data["session"] is None and data["sessions"]["totalCount"] == 2
    assert data["projects"]["nodes"][0] == {"retentionDays": None, "retentionInForce": 30}
    account = await api.get("/agent-analytics/account")
    assert account["tier_limits"]["retention_days"] == 30


async def test_a_projects_retention_is_set_by_the_admin_within_range(make_api) -> None:
    api: Api = await make_api(api_key=ADMIN)
    project, key, _ = await new_project(api, "kept-a-week")
    update = "mutation($id: ID!, $days: Int) { updateProject(id: $id, retentionDays: $days) { retentionDays " \
             "retentionInForce } }"
    body = await gql(api, update, {"id": project, "days": 7}, key=ADMIN)
    assert body["data"]["updateProject"] == {"retentionDays": 7, "retentionInForce": 7}
    body = await gql(api, update, {"id": project, "days": 0}, key=ADMIN)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    body = await gql(api, update, {"id": project, "days": 3}, key=key)  # a project key cannot shorten it
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql(api, update, {"id": project, "days": None}, key=ADMIN)  # back to the server's default
    assert body["data"]["updateProject"] == {"retentionDays": None, "retentionInForce": None}

"""Seed 003's account model over real HTTP: an account key manages its account's projects, and no other's."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.graph.test_security import ADMIN, gql, new_project

CREATE_ACCOUNT = """mutation($name: String!, $limit: Int) {
  createAccount(name: $name, projectsLimit: $limit) { account { id name tier projectsLimit } apiKey }
}"""


async def new_account(api: Api, name: str, limit: int | None = None) -> tuple[str, str]:
    body = await gql(api, CREATE_ACCOUNT, {"name": name, "limit": limit}, key=ADMIN)
    assert "errors" not in body, body
    created = body["data"]["createAccount"]
    assert created["account"]["name"] == name and created["account"]["projectsLimit"] == limit
    return created["account"]["id"], created["apiKey"]


async def call(api: Api, method: str, path: str, key: str, expect: int, **kwargs: Any) -> Any:
    resp = await api.client.request(method, "/agent-analytics" + path, headers={"X-API-Key": key}, **kwargs)
    body = await resp.json()
    assert resp.status == expect, (method, path, resp.status, body)
    return body


@pytest.fixture
async def secured(make_api) -> Api:
    return await make_api(api_key=ADMIN)


async def test_only_the_admin_creates_accounts_and_keys_are_shown_once(secured: Api) -> None:
    account_id, key = await new_account(secured, "acme", 3)
    assert key.startswith("lga_") and len(key) > 40
    _, project_key, _ = await new_project(secured, "solo")
    for caller in (project_key, key):
        body = await gql(secured, CREATE_ACCOUNT, {"name": "sneaky"}, key=caller, bearer=False)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    dup = await gql(secured, CREATE_ACCOUNT, {"name": "acme"}, key=ADMIN)
    assert dup["errors"][0]["extensions"]["code"] == "CONFLICT"
    me = await gql(secured, "{ account { id name tier projectsLimit } }", key=key, bearer=False)
    assert me["data"]["account"] == {"id": account_id, "name": "acme", "tier": "self-hosted", "projectsLimit": 3}
    assert (await gql(secured, "{ account { id } }", key=ADMIN))["data"]["account"] is None
    keys = await secured.store.inner.projects.keys_for_account(account_id)
    assert len(keys) == 1 and keys[0].hash != key and key not in keys[0].model_dump_json()


async def test_an_account_creates_finds_and_lists_its_projects(secured: Api) -> None:
    _, key = await new_account(secured, "acme")
    created = await call(secured, "POST", "/projects", key, 201,
                         json={"name": "docs", "allowed_origins": "https://a.example, https://b.example"})
    assert created["existing"] is False and created["api_key"].startswith("lg_") and created["project_token"]
    assert created["allowed_origins"] == ["https://a.example", "https://b.example"]
    again = await call(secured, "POST", "/projects", key, 200, json={"name": "docs"})
    assert again["existing"] is True and again["id"] == created["id"] and "api_key" not in again
    star = await call(secured, "POST", "/projects", key, 201, json={"name": "blog", "allowed_origins": "*"})
    assert star["allowed_origins"] == []
    listed = await call(secured, "GET", "/projects", key, 200)
    assert listed["total"] == 2
    assert [(p["name"], p["has_api_key"]) for p in listed["projects"]] == [("docs", True), ("blog", True)]
    # The admin sees them too, beside its own; the account does not see the admin's.
    everything = await call(secured, "GET", "/projects", ADMIN, 200)
    assert {p["name"] for p in everything["projects"]} == {"default", "docs", "blog"}
    detail = await call(secured, "GET", f"/projects/{created['id']}", key, 200)
    assert detail["name"] == "docs" and detail["usage_today"] == 0 and detail["has_api_key"] is True
    patched = await call(secured, "PATCH", f"/projects/{created['id']}", key, 200,
                         json={"name": "docs-2", "allowed_origins": "https://c.example"})
    assert patched["name"] == "docs-2" and patched["allowed_origins"] == ["https://c.example"]
    assert (await call(secured, "DELETE", f"/projects/{star['id']}", key, 200)) == {"deleted": True, "id": star["id"]}
    assert (await call(secured, "GET", "/projects", key, 200))["total"] == 1
    # Its projects' own keys still act for their project alone.
    project_key = created["api_key"]
    own = await call(secured, "GET", "/projects", project_key, 200)
    assert [p["name"] for p in own["projects"]] == ["docs-2"]
    await call(secured, "DELETE", f"/projects/{created['id']}", project_key, 403)


async def test_names_held_elsewhere_conflict_and_the_limit_holds(secured: Api) -> None:
    _, key_a = await new_account(secured, "acme", 2)
    _, key_b = await new_account(secured, "bolt")
    await call(secured, "POST", "/projects", key_b, 201, json={"name": "taken"})
    conflict = await call(secured, "POST", "/projects", key_a, 409, json={"name": "taken"})
    assert "'taken'" in conflict["error"] and "another account" in conflict["error"]
    await call(secured, "POST", "/projects", key_a, 409, json={"name": "default"})  # the admin's, no account's
    await call(secured, "POST", "/projects", key_a, 201, json={"name": "one"})
    await call(secured, "POST", "/projects", key_a, 201, json={"name": "two"})
    over = await call(secured, "POST", "/projects", key_a, 403, json={"name": "three"})
    assert "2 of 2" in over["error"]
    await call(secured, "POST", "/projects", key_a, 200, json={"name": "two"})  # finding one is not creating
    account = await call(secured, "GET", "/account", key_a, 200)
    assert account["projects_count"] == 2 and account["projects_limit"] == 2
    _, project_key, _ = await new_project(secured, "keyed")
    await call(secured, "POST", "/projects", project_key, 403, json={"name": "by-a-project-key"})


async def test_account_reports_its_tier_and_limits(secured: Api) -> None:
    account_id, key = await new_account(secured, "acme", 5)
    await call(secured, "POST", "/projects", key, 201, json={"name": "p1"})
    account = await call(secured, "GET", "/account", key, 200)
    assert account.pop("created_at")
    assert account == {
        "tier": "self-hosted", "admin": False, "id": account_id, "name": "acme", "projects_count": 1,
        "projects_limit": 5, "rate_limit_rpm": account["rate_limit_rpm"],
        "tier_limits": {"max_events_lifetime": None, "retention_days": None},
    }
    assert isinstance(account["rate_limit_rpm"], int) and account["rate_limit_rpm"] > 0


async def test_revoking_the_account_key_issues_a_new_one_once(secured: Api) -> None:
    account_id, old = await new_account(secured, "acme")
    created = await call(secured, "POST", "/projects", old, 201, json={"name": "kept"})
    renewed = await call(secured, "POST", "/account/revoke-key", old, 200)
    new = renewed["api_key"]
    assert renewed == {"api_key": new, "account_id": account_id, "revoked": True}
    assert new.startswith("lga_") and new != old
    assert "Unauthorized" in (await call(secured, "GET", "/projects", old, 401))["error"]
    await call(secured, "POST", "/account/revoke-key", old, 401)
    listed = await call(secured, "GET", "/projects", new, 200)
    assert [p["id"] for p in listed["projects"]] == [created["id"]]
    # The project's own key is untouched by the account's rotation.
    await call(secured, "GET", f"/projects/{created['id']}", created["api_key"], 200)


async def test_accounts_never_see_each_others_projects(secured: Api) -> None:
    _, key_a = await new_account(secured, "acme")
    _, key_b = await new_account(secured, "bolt")
    mine = await call(secured, "POST", "/projects", key_a, 201, json={"name": "a-site"})
    theirs = await call(secured, "POST", "/projects", key_b, 201, json={"name": "b-site"})
    track = await secured.client.post("/agent-analytics/track", json={"event": "page_view", "user_id": "u1"},
                                      params={"token": theirs["project_token"]})
    assert track.status == 202
    assert [p["name"] for p in (await call(secured, "GET", "/projects", key_a, 200))["projects"]] == ["a-site"]
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"name": "stolen"}}), ("DELETE", {})):
        await call(secured, method, f"/projects/{theirs['id']}", key_a, 404, **kwargs)
    for ref in (theirs["id"], "b-site", "default"):
        await call(secured, "GET", "/stats", key_a, 404, params={"project": ref})
    await call(secured, "GET", "/stats", key_a, 200, params={"project": "a-site"})
    await call(secured, "GET", "/stats", key_a, 200, params={"project": mine["id"]})
    missing = await call(secured, "GET", "/stats", key_a, 400)  # an account key names its project
    assert missing["field"] == "project"
    # B's project is whole: name, data and key.
    await call(secured, "GET", f"/projects/{theirs['id']}", key_b, 200)
    stats = await call(secured, "GET", "/stats", key_b, 200, params={"project": "b-site", "since": "1d"})
    assert stats["totals"]["total_events"] >= 1
    # GraphQL: the account's projects only, each readable; another's is not found.
    listed = await gql(secured, "{ projects { totalCount nodes { name } } }", key=key_a, bearer=False)
    assert listed["data"]["projects"] == {"totalCount": 1, "nodes": [{"name": "a-site"}]}
    other = await gql(secured, "query($id: ID!) { project(id: $id) { name } }", {"id": theirs["id"]}, key=key_a,
                      bearer=False)
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    gone = await gql(secured, "mutation($id: ID!) { deleteProject(id: $id) }", {"id": theirs["id"]}, key=key_a,
                     bearer=False)
    assert gone["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_an_account_key_sends_no_events_without_a_project(secured: Api) -> None:
    _, key = await new_account(secured, "acme")
    refused = await call(secured, "POST", "/track", key, 403, json={"event": "page_view"})
    assert "account key" in refused["error"]
    assert (await call(secured, "GET", "/projects", ADMIN, 200))["total"] == 1  # nothing made on the way

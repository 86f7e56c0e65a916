"""Seed 003, Agent Analytics, under /agent-analytics: tracking, projects, account, live stream.

Wire format: snake_case. Secret keys come as X-API-Key; browser trackers send
the project's public token as ?token= (or "token" in the body), checked
against the project's allowed origins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graph.rest.auth import any_of, bearer, credentials, public, query_token, x_api_key
from graph.rest.http import json_response, query_int, read_json
from graph.rest.idempotency import ingest_once
from graph.rest.keys import PRINCIPAL, PROJECT, SERVICES
from graph.rest.ratelimit import Rule
from graph.rest.sse import stream_events, stream_filter
from resolvers.core.auth import Principal
from resolvers.core.bounds import Instant
from resolvers.core.errors import InputError, Problem, from_pydantic, join_path
from resolvers.core.ids import new_id
from resolvers.jobs.retention import in_force
from resolvers.projects import service as projects
from resolvers.traces.ingest import Incoming
from resolvers.traces.reads import usage_today
from storage.contract import Page
from storage.models import Event, Project
from storage.timeutil import iso_ms, now_ms


def render_error(status: int, message: str, problems: Sequence[Problem]) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if problems:
        body["field"] = problems[0].path
    return json_response(body, status)


def event_json(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "event": e.type,
        "session_id": e.session_id,
        "user_id": e.agent_id,
        "properties": e.payload,
        "timestamp": iso_ms(e.timestamp),
    }


# Product events land in tracker sessions only, never in an agent's trace and its hash chain.
TRACKER = "tracker"


class Track(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    event: str = Field(min_length=1, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)
    user_id: str | None = Field(default=None, max_length=256)
    session_id: str | None = Field(default=None, min_length=1, max_length=256)
    timestamp: Instant | None = None


def _to_incoming(project_id: str, raw: Any, path: tuple[str | int, ...], received: datetime) -> Incoming:
    if not isinstance(raw, dict):
        where = join_path(path) or "body"
        raise InputError(Problem(where, "must be a JSON object with an event name, e.g. {\"event\": \"signup\"}"))
    try:
        item = Track.model_validate(raw)
    except ValidationError as exc:
        raise from_pydantic(exc, path) from None
    return Incoming(
        Event(
            project_id=project_id,
            id=new_id(),
            session_id=item.session_id or (f"user-{item.user_id}" if item.user_id else "anonymous"),
            agent_id=item.user_id,
            type=item.event,
            timestamp=item.timestamp or received,
            received_at=received,
            payload=item.properties,
            metadata={"source": "tracker"},
        )
    )


async def tracker_auth(request: web.Request) -> Principal:
    """A tracker token (query or body) with its origin check, else a secret key."""
    services = request.config_dict[SERVICES]
    token = request.query.get("token")
    if not token:
        try:
            body = await read_json(request)  # aiohttp keeps the body for the handler
        except InputError:
            body = None
        token = body.get("token") if isinstance(body, dict) else None
    if isinstance(token, str) and token:
        principal, _ = await services.auth.authenticate_tracker(token, request.headers.get("Origin"))
        return principal
    return await services.auth.authenticate(x_api_key(request))


@credentials(tracker_auth)
async def track(request: web.Request) -> web.Response:
    body = await read_json(request)
    project_id = request[PROJECT]
    items = [_to_incoming(project_id, body, (), now_ms())]
    return await ingest_once(request, project_id, items, lambda _: json_response({"queued": True}, 202), kind=TRACKER)


@credentials(tracker_auth)
async def track_batch(request: web.Request) -> web.Response:
    body = await read_json(request)
    project_id = request[PROJECT]
    raw = body.get("events") if isinstance(body, dict) else None
    services = request.config_dict[SERVICES]
    if not isinstance(raw, list) or not raw:
        raise InputError(Problem("events", "must be a non-empty array"))
    if len(raw) > services.limits.max_batch_events:
        raise InputError(Problem("events", f"at most {services.limits.max_batch_events} events per batch"))
    received = now_ms()
    items = [_to_incoming(project_id, e, ("events", i), received) for i, e in enumerate(raw)]
    return await ingest_once(
        request, project_id, items, lambda _: json_response({"queued": True, "count": len(items)}, 202), kind=TRACKER
    )


def project_json(p: Project, has_key: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id,
        "name": p.name,
        "project_token": p.tracker_token,
        "allowed_origins": p.allowed_origins,
        "created_at": iso_ms(p.created_at),
    }
    if has_key is not None:
        out["has_api_key"] = has_key
    return out


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    name: str | None = None
    allowed_origins: list[str] | None = None


async def _project_body(request: web.Request) -> ProjectIn:
    try:
        return ProjectIn.model_validate(await read_json(request))
    except ValidationError as exc:
        raise from_pydantic(exc) from None


async def list_projects(request: web.Request) -> web.Response:
    page = Page(limit=query_int(request, "limit", 100, low=1, high=1000), offset=query_int(request, "offset", 0))
    result, keyed = await projects.list_projects_with_keys(request.config_dict[SERVICES], request[PRINCIPAL], page)
    return json_response({"projects": [project_json(p, p.id in keyed) for p in result.items], "total": result.total})


async def create_project(request: web.Request) -> web.Response:
    services, principal = request.config_dict[SERVICES], request[PRINCIPAL]
    projects.require_admin(principal)
    body = await _project_body(request)
    if body.name is None:
        raise InputError(Problem("name", "is required"))
    existing, issued = await projects.create_or_find_project(services, body.name, body.allowed_origins)
    if issued is None:
        return json_response({**project_json(existing), "existing": True}, 200)
    return json_response({**project_json(issued.project), "api_key": issued.api_key, "existing": False}, 201)


async def get_project(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project = await projects.get_project(services, request[PRINCIPAL], request.match_info["id"])
    keyed = await services.store.projects.projects_with_live_keys([project.id])
    usage = await usage_today(services, project.id)
    return json_response({**project_json(project, project.id in keyed), "usage_today": usage})


async def update_project(request: web.Request) -> web.Response:
    body = await _project_body(request)
    project = await projects.update_project(
        request.config_dict[SERVICES], request[PRINCIPAL], request.match_info["id"],
        name=body.name, allowed_origins=body.allowed_origins,
    )
    return json_response(project_json(project))


async def delete_project(request: web.Request) -> web.Response:
    project_id = request.match_info["id"]
    deleted = await projects.delete_project(request.config_dict[SERVICES], request[PRINCIPAL], project_id)
    if not deleted:
        return render_error(404, "Project not found", [Problem("id", project_id)])
    return json_response({"deleted": True, "id": project_id})


async def account(request: web.Request) -> web.Response:
    services, principal = request.config_dict[SERVICES], request[PRINCIPAL]
    listed = await projects.list_projects(services, principal, Page(limit=0))
    own = await services.store.projects.projects_by_ids([principal.project_id])
    retention = in_force(own[0], services.limits.retention_days) if own else services.limits.retention_days
    return json_response({
        "tier": "self-hosted",
        "admin": principal.admin,
        "project_id": principal.project_id,
        "projects_count": listed.total,
        "projects_limit": None,
        "rate_limit_rpm": request.config_dict[RATE_PER_MINUTE],
        "tier_limits": {"max_events_lifetime": None, "retention_days": retention},
    })


async def revoke_key(request: web.Request) -> web.Response:
    services, principal = request.config_dict[SERVICES], request[PRINCIPAL]
    if principal.key_id == "admin":
        raise InputError(Problem("X-API-Key", "the admin key is set by LENSGRAPH_API_KEY; change it there"))
    issued = await projects.rotate_key(services, principal, principal.project_id)
    return json_response({"api_key": issued.api_key, "project_id": issued.project.id, "revoked": True})


@credentials(any_of(x_api_key, query_token, bearer))
async def stream(request: web.Request) -> web.StreamResponse:
    return await stream_events(request, stream_filter(request, "event", "session_id", "user_id"), event_json)


@public
async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "timestamp": iso_ms(now_ms())})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/health", health),
        web.post("/track", track),
        web.post("/track/batch", track_batch),
        web.get("/projects", list_projects),
        web.post("/projects", create_project),
        web.get("/projects/{id}", get_project),
        web.patch("/projects/{id}", update_project),
        web.delete("/projects/{id}", delete_project),
        web.get("/account", account),
        web.post("/account/revoke-key", revoke_key),
        web.get("/stream", stream),
    ]


RATE_PER_MINUTE = web.AppKey("rate_limit_per_minute", int)
DEFAULT_CREDENTIAL = x_api_key
RATE_STYLE = "x"


def rate_rules(per_minute: int) -> list[Rule]:
    return [Rule("/track", per_minute * 10, 60), Rule("/", per_minute, 60)]


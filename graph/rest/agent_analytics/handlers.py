"""Seed 003, Agent Analytics, under /agent-analytics: tracking, projects, account, live stream.

Wire format: snake_case. Secret keys come as X-API-Key; browser trackers send
the project's public token as ?token= (or "token" in the body), checked
against the project's allowed origins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, NotRequired

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from typing_extensions import TypedDict

from graph.rest.agent_analytics import experiments, reports
from graph.rest.agent_analytics.experiments import (
    ConfigOut,
    ExperimentDeletedOut,
    ExperimentIn,
    ExperimentListOut,
    ExperimentOut,
    ExperimentPatchIn,
    ExperimentWithResultsOut,
)
from graph.rest.agent_analytics.reports_wire import (
    BreakdownOut,
    DistributionOut,
    EventsOut,
    FunnelOut,
    HeatmapOut,
    InsightsOut,
    LiveOut,
    PagesOut,
    PropertiesOut,
    PropertiesReceivedOut,
    QueryOut,
    RetentionOut,
    SessionsOut,
    StatsOut,
)
from graph.rest.agent_analytics.tracker_script import tracker_script
from graph.rest.agent_analytics.trackers import tracker_auth
from graph.rest.agent_analytics.wire import (
    AccountOut,
    DeletedOut,
    ErrorOut,
    EventOut,
    HealthOut,
    ProjectCreatedOut,
    ProjectDetailOut,
    ProjectExistingOut,
    ProjectListOut,
    ProjectOut,
    QueuedBatchOut,
    QueuedOut,
    RevokedOut,
)
from graph.rest.auth import any_of, bearer, credentials, public, query_token, x_api_key
from graph.rest.client import client_address, client_country
from graph.rest.http import json_response, query_int, read_json
from graph.rest.idempotency import ingest_once
from graph.rest.keys import PRINCIPAL, PROJECT, SERVICES
from graph.rest.openapi import EVENT_STREAM, Example, Offset, Operation, Param, Spec
from graph.rest.ratelimit import Rule
from graph.rest.sse import stream_events, stream_filter
from resolvers.analytics.context import product_context
from resolvers.core.bounds import Instant
from resolvers.core.errors import InputError, Problem, from_pydantic, join_path
from resolvers.core.ids import new_id
from resolvers.jobs.retention import in_force
from resolvers.projects import accounts
from resolvers.projects import service as projects
from resolvers.traces.ingest import Incoming
from resolvers.traces.reads import usage_today
from storage.contract import Page
from storage.models import Event, Project
from storage.timeutil import iso_ms, now_ms


def render_error(status: int, message: str, problems: Sequence[Problem]) -> web.Response:
    body: ErrorOut = {"error": message}
    if problems:
        body["field"] = problems[0].path
    return json_response(body, status)


def event_json(e: Event) -> EventOut:
    return {
        "id": e.id,
        "event": e.type,
        "session_id": e.session_id,
        "user_id": e.user_id,
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
    anonymous_id: str | None = Field(default=None, max_length=256)
    session_id: str | None = Field(default=None, min_length=1, max_length=256)
    timestamp: Instant | None = None


# The seed's tracker sends its anonymous visitor id as user_id until identify() names the user.
ANONYMOUS_PREFIX = "anon_"


def _to_incoming(
    request: web.Request, project_id: str, raw: Any, path: tuple[str | int, ...], received: datetime
) -> Incoming:
    if not isinstance(raw, dict):
        where = join_path(path) or "body"
        raise InputError(Problem(where, "must be a JSON object with an event name, e.g. {\"event\": \"signup\"}"))
    try:
        item = Track.model_validate(raw)
    except ValidationError as exc:
        raise from_pydantic(exc, path) from None
    anonymous = item.anonymous_id or (
        item.user_id if item.user_id and item.user_id.startswith(ANONYMOUS_PREFIX) else None
    )
    context = product_context(
        item.properties,
        user_id=item.user_id,
        anonymous_id=anonymous,
        user_agent=request.headers.get("User-Agent"),
        client_address=client_address(request),
        country=client_country(request),
    )
    return Incoming(
        Event(
            project_id=project_id,
            id=new_id(),
            session_id=item.session_id or (f"user-{item.user_id}" if item.user_id else "anonymous"),
            type=item.event,
            timestamp=item.timestamp or received,
            received_at=received,
            payload=item.properties,
            metadata={"source": "tracker"},
            kind=TRACKER,
            **context,
        )
    )


@credentials(tracker_auth)
async def track(request: web.Request) -> web.Response:
    body = await read_json(request)
    project_id = request[PROJECT]
    items = [_to_incoming(request, project_id, body, (), now_ms())]
    queued: QueuedOut = {"queued": True}
    return await ingest_once(request, project_id, items, lambda _: json_response(queued, 202), kind=TRACKER)


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
    items = [_to_incoming(request, project_id, e, ("events", i), received) for i, e in enumerate(raw)]
    queued: QueuedBatchOut = {"queued": True, "count": len(items)}
    return await ingest_once(request, project_id, items, lambda _: json_response(queued, 202), kind=TRACKER)


def project_json(p: Project, has_key: bool | None = None) -> ProjectOut:
    out: ProjectOut = {
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
    allowed_origins: list[str] | str | None = Field(
        default=None,
        description='Origins its tracker token is accepted from: a list, or one comma-separated string (as the '
                    'seed\'s CLI sends); "*" or none: any origin',
    )

    def origins(self) -> list[str] | None:
        if self.allowed_origins is None:
            return None
        raw = self.allowed_origins.split(",") if isinstance(self.allowed_origins, str) else self.allowed_origins
        origins = [o.strip() for o in raw if o.strip()]
        return [] if "*" in origins else origins


async def _project_body(request: web.Request) -> ProjectIn:
    try:
        return ProjectIn.model_validate(await read_json(request))
    except ValidationError as exc:
        raise from_pydantic(exc) from None


async def list_projects(request: web.Request) -> web.Response:
    page = Page(limit=query_int(request, "limit", 100, low=1, high=1000), offset=query_int(request, "offset", 0))
    result, keyed = await projects.list_projects_with_keys(request.config_dict[SERVICES], request[PRINCIPAL], page)
    answer: ProjectListOut = {"projects": [project_json(p, p.id in keyed) for p in result.items], "total": result.total}
    return json_response(answer)


async def create_project(request: web.Request) -> web.Response:
    services, principal = request.config_dict[SERVICES], request[PRINCIPAL]
    projects.require_manager(principal)
    body = await _project_body(request)
    if body.name is None:
        raise InputError(Problem("name", "is required"))
    existing, issued = await projects.create_or_find_project(services, principal, body.name, body.origins())
    if issued is None:
        found: ProjectExistingOut = {**project_json(existing), "existing": True}
        return json_response(found, 200)
    created: ProjectCreatedOut = {**project_json(issued.project), "api_key": issued.api_key, "existing": False}
    return json_response(created, 201)


async def get_project(request: web.Request) -> web.Response:
    services = request.config_dict[SERVICES]
    project = await projects.get_project(services, request[PRINCIPAL], request.match_info["id"])
    keyed = await services.store.projects.projects_with_live_keys([project.id])
    usage = await usage_today(services, project.id)
    answer: ProjectDetailOut = {**project_json(project, project.id in keyed), "usage_today": usage}
    return json_response(answer)


async def update_project(request: web.Request) -> web.Response:
    body = await _project_body(request)
    project = await projects.update_project(
        request.config_dict[SERVICES], request[PRINCIPAL], request.match_info["id"],
        name=body.name, allowed_origins=body.origins(),
    )
    return json_response(project_json(project))


async def delete_project(request: web.Request) -> web.Response:
    project_id = request.match_info["id"]
    deleted = await projects.delete_project(request.config_dict[SERVICES], request[PRINCIPAL], project_id)
    if not deleted:
        return render_error(404, "Project not found", [Problem("id", project_id)])
    answer: DeletedOut = {"deleted": True, "id": project_id}
    return json_response(answer)


async def account(request: web.Request) -> web.Response:
    services, principal = request.config_dict[SERVICES], request[PRINCIPAL]
    listed = await projects.list_projects(services, principal, Page(limit=0))
    if principal.account_id is not None:
        found = await accounts.get_account(services, principal)
        mine: AccountOut = {
            "tier": found.tier,
            "admin": False,
            "id": found.id,
            "name": found.name,
            "created_at": iso_ms(found.created_at),
            "projects_count": listed.total,
            "projects_limit": found.projects_limit,
            "rate_limit_rpm": request.config_dict[RATE_PER_MINUTE],
            "tier_limits": {"max_events_lifetime": None, "retention_days": services.limits.retention_days},
        }
        return json_response(mine)
    own = await services.store.projects.projects_by_ids([principal.project_id])
    retention = in_force(own[0], services.limits.retention_days) if own else services.limits.retention_days
    answer: AccountOut = {
        "tier": "self-hosted",
        "admin": principal.admin,
        "project_id": principal.project_id,
        "projects_count": listed.total,
        "projects_limit": None,
        "rate_limit_rpm": request.config_dict[RATE_PER_MINUTE],
        "tier_limits": {"max_events_lifetime": None, "retention_days": retention},
    }
    return json_response(answer)


async def revoke_key(request: web.Request) -> web.Response:
    services, principal = request.config_dict[SERVICES], request[PRINCIPAL]
    if principal.key_id == "admin":
        raise InputError(Problem("X-API-Key", "the admin key is set by LENSGRAPH_API_KEY; change it there"))
    if principal.account_id is not None:
        rotated = await accounts.rotate_account_key(services, principal)
        renewed: RevokedOut = {"api_key": rotated.api_key, "account_id": rotated.account.id, "revoked": True}
        return json_response(renewed)
    issued = await projects.rotate_key(services, principal, principal.project_id)
    answer: RevokedOut = {"api_key": issued.api_key, "project_id": issued.project.id, "revoked": True}
    return json_response(answer)


@credentials(any_of(x_api_key, query_token, bearer))
async def stream(request: web.Request) -> web.StreamResponse:
    return await stream_events(request, stream_filter(request, "event", "session_id", "user_id"), event_json)


@public
async def health(request: web.Request) -> web.Response:
    answer: HealthOut = {"status": "ok", "timestamp": iso_ms(now_ms())}
    return json_response(answer)


class TrackIn(Track):
    """POST /track: one event; a browser sends its project's public token here or as ?token=."""

    token: str | None = None


class TrackBatchIn(TypedDict):
    """POST /track/batch."""

    events: list[Track]
    token: NotRequired[str]


ADMIN = ("ApiKey",)  # secret keys: an account's, a project's, or the admin key (LENSGRAPH_API_KEY)
TRACKER_AUTH = ("ProjectToken", "ApiKey")
Limit = Annotated[int, Field(ge=1, le=1000)]
ID = Param("id", "path", "The project's id")
TOKEN = Param("token", "query", "The project's public token (browser trackers), checked against its allowed origins")
TRACKED = {"event": "signup", "user_id": "user-42", "session_id": "web-1",
           "properties": {"plan": "pro", "source": "docs"}, "timestamp": "2025-01-01T12:00:00Z"}

PROJECT_Q = Param("project", "query", "The project (id or name); optional with a project's own key")
SINCE = Param("since", "query", "From the start of this UTC day: an ISO 8601 date or time, or <N>d (default 7d)")
ROWS = Param("limit", "query", "Most rows (at most 1000)", Limit)
DEFAULT_Q = {"project": "default"}


class QueryIn(TypedDict):
    """POST /query: metrics and group_by shape the rows (see the seed's Response Tips)."""

    project: str
    metrics: NotRequired[list[str]]
    group_by: NotRequired[list[str]]
    filters: NotRequired[list[dict[str, Any]]]
    date_from: NotRequired[str]
    date_to: NotRequired[str]
    order_by: NotRequired[str]
    order: NotRequired[str]
    limit: NotRequired[int]
    count_mode: NotRequired[str]


class FunnelIn(TypedDict):
    """POST /funnel: ordered steps (event names, or {event, filters, label})."""

    project: str
    steps: list[Any]
    conversion_window_hours: NotRequired[float]
    since: NotRequired[str]
    count_by: NotRequired[str]
    breakdown: NotRequired[str]
    breakdown_limit: NotRequired[int]


def _read(path: str, handler: Any, summary: str, answer: Any, *params: Param, bad: Any = None,
          method: str = "GET", body: Any = None, good: Any = None) -> Operation:
    examples = [Example("default", 200, query={**DEFAULT_Q, **(good or {})}) if body is None else
                Example("default", 200, body=good)]
    if bad is not None:
        examples.append(Example("bad", 400, query={**DEFAULT_Q, **bad}) if body is None else
                        Example("bad", 400, body=bad))
    return Operation(
        method, path, handler, summary, {200: (answer, summary)}, body=body,
        params=(PROJECT_Q, *params) if body is None else (),
        errors={404: "No such project (or not this key's)"}, examples=tuple(examples),
    )


REPORTS = (
    _read("/stats", reports.stats, "Aggregated stats overview", StatsOut, SINCE,
          Param("groupBy", "query", "hour, day, week or month (default day)"), bad={"groupBy": "year"}),
    _read("/events", reports.events, "Raw event log, newest first", EventsOut, SINCE, ROWS,
          Param("event", "query", "Only this event name"), Param("session_id", "query", "Only this session"),
          Param("user_id", "query", "Only this user"), bad={"since": "last tuesday"}),
    _read("/query", reports.query, "Flexible analytics query", QueryOut, method="POST", body=QueryIn,
          good={"project": "default", "metrics": ["event_count", "unique_users"], "group_by": ["event"]},
          bad={"project": "default", "metrics": ["revenue"]}),
    _read("/properties", reports.properties, "Event names and property keys", PropertiesOut, SINCE),
    _read("/properties/received", reports.properties_received, "Property keys by event name",
          PropertiesReceivedOut, SINCE, Param("sample", "query", "Latest events sampled (100 to 10000)", int)),
    _read("/sessions", reports.sessions, "Sessions, newest first", SessionsOut, SINCE, ROWS,
          Param("user_id", "query", "Only this user"), Param("is_bounce", "query", "1: bounced only; 0: not"),
          bad={"is_bounce": "maybe"}),
    _read("/sessions/distribution", reports.distribution, "Session duration histogram", DistributionOut, SINCE),
    _read("/breakdown", reports.breakdown, "Top values of a property", BreakdownOut, SINCE, ROWS,
          Param("property", "query", "The property key (or country, device, browser, os, path, referrer_domain, "
                                     "utm_*)", required=True),
          Param("event", "query", "Only this event name"), bad={"property": "a b"}, good={"property": "path"}),
    _read("/insights", reports.insights, "Period-over-period comparison", InsightsOut,
          Param("period", "query", "1d, 7d, 14d, 30d or 90d (default 7d)"), bad={"period": "5d"}),
    _read("/pages", reports.pages, "Entry and exit pages", PagesOut, SINCE, ROWS,
          Param("type", "query", "entry, exit or both (default entry)"), bad={"type": "middle"}),
    _read("/heatmap", reports.heatmap, "Day-of-week x hour traffic grid (UTC)", HeatmapOut, SINCE),
    _read("/funnel", reports.funnel_report, "Funnel analysis", FunnelOut, method="POST", body=FunnelIn,
          good={"project": "default", "steps": ["page_view", "signup"], "conversion_window_hours": 24},
          bad={"project": "default", "steps": ["page_view"]}),
    _read("/retention", reports.retention_report, "Cohort retention", RetentionOut,
          Param("period", "query", "day, week or month (default week)"),
          Param("cohorts", "query", "How many periods (default 8)", int),
          Param("event", "query", "Cohorts by their first of this event (default: any)"),
          Param("returning_event", "query", "Only this event counts as a return (default: any)"), SINCE,
          bad={"period": "year"}),
    _read("/live", reports.live, "Live snapshot of the last window seconds", LiveOut,
          Param("window", "query", "Seconds (10 to 3600, default 60)", int)),
)

EXPERIMENT_ID = Param("id", "path", "The experiment's id")
EXPERIMENT_PROJECT = Param("project", "query", "The project (id or name); optional, the caller's projects are searched")
NEW_EXPERIMENT = {"project": "default", "name": "cta-color", "variants": ["control", "green"], "goal_event": "signup"}
EXPERIMENTS = (
    Operation(
        "GET", "/experiments/config", experiments.experiment_config, "Active experiments for tracker.js",
        {200: (ConfigOut, "Each active experiment by name, with its variants and weights")}, params=(TOKEN,),
        security=TRACKER_AUTH, examples=(Example("default", 200),),
    ),
    Operation(
        "POST", "/experiments", experiments.create_experiment, "Create an A/B experiment",
        {201: (ExperimentOut, "Created; the first variant is the control")}, body=ExperimentIn,
        errors={404: "No such project (or not this key's)", 409: "The project has an experiment of that name"},
        examples=(Example("create", 201, body=NEW_EXPERIMENT),
                  Example("one_variant", 400, body={**NEW_EXPERIMENT, "name": "x", "variants": ["only"]})),
    ),
    Operation(
        "GET", "/experiments", experiments.list_experiments, "A project's experiments, newest first",
        {200: (ExperimentListOut, "The experiments")}, params=(PROJECT_Q,),
        errors={404: "No such project (or not this key's)"}, examples=(Example("default", 200, query=DEFAULT_Q),),
    ),
    Operation(
        "GET", "/experiments/{id}", experiments.get_experiment, "One experiment with live results",
        {200: (ExperimentWithResultsOut, "The experiment and per-variant results")},
        params=(EXPERIMENT_ID, EXPERIMENT_PROJECT), errors={404: "No such experiment"},
        examples=(Example("missing", 404, path={"id": "nope"}),),
    ),
    Operation(
        "PATCH", "/experiments/{id}", experiments.update_experiment, "Change an experiment's status",
        {200: (ExperimentOut, "The experiment as it is now")}, body=ExperimentPatchIn,
        params=(EXPERIMENT_ID, EXPERIMENT_PROJECT), errors={404: "No such experiment"},
        examples=(Example("missing", 404, path={"id": "nope"}, body={"status": "paused"}),),
    ),
    Operation(
        "DELETE", "/experiments/{id}", experiments.delete_experiment, "Delete an experiment",
        {200: (ExperimentDeletedOut, "Deleted")}, params=(EXPERIMENT_ID, EXPERIMENT_PROJECT),
        errors={404: "No such experiment"}, examples=(Example("missing", 404, path={"id": "nope"}),),
    ),
)

OPERATIONS = (
    Operation("GET", "/health", health, "Liveness", {200: (HealthOut, "Up")}, examples=(Example("up", 200),)),
    Operation(
        "POST", "/track", track, "Track one product event",
        {202: (QueuedOut, "Accepted")}, body=TrackIn, params=(TOKEN,), security=TRACKER_AUTH,
        errors={403: "The token's project does not allow this Origin"},
        examples=(Example("signup", 202, body=TRACKED), Example("no_event", 400, body={"properties": {}})),
    ),
    Operation(
        "POST", "/track/batch", track_batch, "Track many product events",
        {202: (QueuedBatchOut, "Accepted; count says how many")}, body=TrackBatchIn, params=(TOKEN,),
        security=TRACKER_AUTH, errors={403: "The token's project does not allow this Origin"},
        examples=(
            Example("two", 202, body={"events": [TRACKED, {"event": "page_view", "properties": {"path": "/"}}]}),
            Example("empty", 400, body={"events": []}),
        ),
    ),
    Operation(
        "GET", "/projects", list_projects, "Projects this key can see",
        {200: (ProjectListOut, "One page of projects")},
        params=(Param("limit", "query", "Page size (at most 1000)", Limit, default=100),
                Param("offset", "query", "Projects to skip", Offset, default=0)),
        examples=(Example("all", 200), Example("bad_limit", 400, query={"limit": "many"})),
    ),
    Operation(
        "POST", "/projects", create_project, "Create a project in the caller's account, or find it by name",
        {200: (ProjectExistingOut, "The caller has a project of that name; no key is issued"),
         201: (ProjectCreatedOut, "Created, with its secret key (shown once)")},
        body=ProjectIn, errors={403: "A project key, or the account is at its projects_limit",
                                409: "Another account holds that name (the error names it)"},
        examples=(
            Example("create", 201, body={"name": "docs-site", "allowed_origins": ["https://example.com"]}),
            Example("again", 200, body={"name": "docs-site"}),
            Example("origins_string", 201, body={"name": "cli-site",
                                                  "allowed_origins": "https://a.example,https://b.example"}),
            Example("no_name", 400, body={"allowed_origins": []}),
        ),
    ),
    Operation(
        "GET", "/projects/{id}", get_project, "One project with today's usage",
        {200: (ProjectDetailOut, "The project")}, params=(ID,),
        errors={404: "No such project (or not this key's)"},
        examples=(Example("default", 200, path={"id": "default"}), Example("missing", 404, path={"id": "nope"})),
    ),
    Operation(
        "PATCH", "/projects/{id}", update_project, "Rename a project or change its allowed origins",
        {200: (ProjectOut, "The project as it is now")}, body=ProjectIn, params=(ID,),
        errors={404: "No such project (or not this key's)"},
        examples=(Example("origins", 200, path={"id": "default"}, body={"allowed_origins": ["http://localhost"]}),
                  Example("any_origin", 200, path={"id": "default"}, body={"allowed_origins": "*"}),
                  Example("missing", 404, path={"id": "nope"}, body={"name": "x"})),
    ),
    Operation(
        "DELETE", "/projects/{id}", delete_project, "Delete a project and its data",
        {200: (DeletedOut, "Deleted")}, params=(ID,),
        errors={403: "A project key cannot delete projects", 404: "No such project (or not this key's)"},
        examples=(Example("missing", 404, path={"id": "nope"}),),
    ),
    Operation("GET", "/account", account, "The caller's plan, limits and projects", {200: (AccountOut, "The account")},
              examples=(Example("me", 200),)),
    Operation(
        "POST", "/account/revoke-key", revoke_key,
        "Revoke the calling key (an account's or a project's) and issue a new one",
        {200: (RevokedOut, "The new key (shown once); the old one no longer works")},
        errors={400: "The admin key cannot be rotated here"},
        examples=(Example("rotate", 200),),
    ),
    *REPORTS,
    *EXPERIMENTS,
    Operation(
        "GET", "/tracker.js", tracker_script, "JavaScript tracker script",
        {200: (None, "tracker.js, minified (gzipped when accepted); it posts to the prefix it is loaded from")},
        media="application/javascript", examples=(Example("script", 200),),
        description="The snippet: `<script defer src=\"{prefix}/tracker.js\" data-project=\"my-site\" "
                    "data-token=\"...\"></script>`. README: tracker.js.",
    ),
    Operation(
        "GET", "/stream", stream, "Live events as Server-Sent Events",
        {200: (None, "An event stream: each `data:` line is one event as JSON (EventOut)")},
        media=EVENT_STREAM, security=("ApiKey", "ProjectToken", "Bearer"),
        params=(Param("event", "query", "Only these event names (comma-separated)"),
                Param("session_id", "query", "Only these sessions (comma-separated)"),
                Param("user_id", "query", "Only these users (comma-separated)"), TOKEN),
        examples=(Example("all", 200),),
    ),
)

SPEC = Spec(
    slug="agent_analytics",
    title="Agent Analytics (seed 003)",
    version="1.0.0",
    description=(__doc__ or "").strip(),
    error=ErrorOut,
    schemes={
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "ProjectToken": {"type": "apiKey", "in": "query", "name": "token"},
        "Bearer": {"type": "http", "scheme": "bearer"},
    },
    default_security=ADMIN,
    operations=OPERATIONS,
)


RATE_PER_MINUTE = web.AppKey("rate_limit_per_minute", int)
DEFAULT_CREDENTIAL = x_api_key
RATE_STYLE = "x"


def rate_rules(per_minute: int) -> list[Rule]:
    # Every page view of a tracked site asks for the script and the experiment config: they share the
    # tracking budget, not the API's.
    tracking = per_minute * 10
    return [Rule("/track", tracking, 60), Rule("/experiments/config", tracking, 60),
            Rule("/tracker.js", tracking, 60), Rule("/", per_minute, 60)]


"""The aiohttp application: GraphQL at /graphql and each REST family under its prefix."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp_cors
from aiohttp import web

from graph.app.health import add_health_routes
from graph.app.llm import LlmHttp
from graph.app.metrics import family_labeller, metrics_handler, metrics_middleware
from graph.app.reference import add_reference_routes, family_document
from graph.app.settings import Settings
from graph.app.webhooks import HttpTransport
from graph.rest import agent_analytics, agentlens, agentlens_server, lens, lensai
from graph.rest.agent_analytics.handlers import RATE_PER_MINUTE
from graph.rest.auth import (
    any_of,
    auth_middleware,
    bearer,
    credentials,
    public,
    query_token,
    self_authenticating,
    x_api_key,
)
from graph.rest.client import NETWORK, Network
from graph.rest.family import Family
from graph.rest.http import error_middleware
from graph.rest.keys import SERVICES
from graph.rest.ratelimit import LIMITER, new_limiter, ratelimit_middleware
from graph.rest.sse import HEARTBEAT
from graph.schema.build import build_schema
from graph.schema.ide import add_ide_routes
from graph.schema.view import WEBSOCKETS, LensGraphView
from resolvers.assistant.llm import ChatCompletions, ChatTransport, Phraser
from resolvers.core.metrics import watch_live
from resolvers.core.services import DEFAULT_PROJECT, Limits, Services
from resolvers.jobs.anomalies import detector_loop
from resolvers.jobs.reports import reports_loop
from resolvers.jobs.retention import retention_loop
from resolvers.jobs.webhooks import SenderConfig, sender_loop
from resolvers.projects.service import ensure_default
from storage import Store, open_store
from storage.contract import StoreUnavailable

log = logging.getLogger("lensgraph")

SETTINGS = web.AppKey("settings", Settings)
# A failed attempt is one small write: cheap, and the project appears soon after the store takes writes.
DEFAULT_PROJECT_RETRY_S = 1.0


def _middlewares(family: Family, settings: Settings, mount: str, root: bool) -> list:
    # Outermost first: errors render everything below them in the family's shape;
    # rate limits come before authentication so floods of bad keys are limited too.
    return [
        *family.middlewares,
        error_middleware(family.render_error, settings.max_body_bytes, family.name),
        ratelimit_middleware(
            family.rate_rules(settings.rate_limit_per_minute), family.rate_style, mount, settings.rate_limits,
            family.default_credential,
        ),
        auth_middleware(family.default_credential, root=root),
    ]


def _cors(app: web.Application, origins: str) -> None:
    allowed = [o.strip() for o in origins.split(",") if o.strip()] or ["*"]
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=False, expose_headers="*", allow_headers="*", allow_methods="*", max_age=600
    )
    cors = aiohttp_cors.setup(app, defaults=dict.fromkeys(allowed, options))
    for route in list(app.router.routes()):
        cors.add(route)


def families(settings: Settings) -> list[tuple[str, Family]]:
    """(prefix, family), most specific prefix first: /api/lens before /api before /."""
    mounted = [
        ("/" + settings.prefix_agentlens_server.strip("/"), agentlens_server.FAMILY),
        ("/" + settings.prefix_agent_analytics.strip("/"), agent_analytics.FAMILY),
        ("/" + settings.prefix_lensai.strip("/"), lensai.FAMILY),
        ("/" + settings.prefix_lens.strip("/"), lens.FAMILY),
        ("/" + settings.prefix_agentlens.strip("/"), agentlens.FAMILY),
    ]
    return sorted(mounted, key=lambda pf: len(pf[0].rstrip("/")), reverse=True)


def store_for(settings: Settings) -> Store:
    return open_store(
        settings.database_url,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        sqlite_max_bytes=settings.sqlite_max_bytes,
        sqlite_write_nice=settings.sqlite_write_nice,
    )


async def _default_project(services: Services) -> asyncio.Task[None] | None:
    """Make the default project; on a store that cannot write yet (a full disk), keep trying in the background
    while the server starts and serves reads. Returns that background task, if one was needed."""
    try:
        await ensure_default(services, DEFAULT_PROJECT)
        return None
    except StoreUnavailable as exc:
        log.warning("the default project cannot be created yet (%s); retrying every %.0f s",
                    exc.for_log(), DEFAULT_PROJECT_RETRY_S)

    async def retry() -> None:
        while True:
            await asyncio.sleep(DEFAULT_PROJECT_RETRY_S)
            with contextlib.suppress(StoreUnavailable):
                await ensure_default(services, DEFAULT_PROJECT)
                log.info("default project created")
                return

    return asyncio.create_task(retry(), name="lensgraph-default-project")


def phraser_for(settings: Settings, http: ChatTransport | None) -> Phraser | None:
    """The assistant's language model, if one is configured (off by default)."""
    if not settings.assistant_llm_base_url or http is None:
        return None
    key = settings.assistant_llm_api_key
    return ChatCompletions(settings.assistant_llm_base_url, key.get_secret_value() if key else None,
                           settings.assistant_llm_model, http, settings.assistant_llm_timeout_seconds)


def build_services(store: Store, settings: Settings, llm_http: ChatTransport | None = None) -> Services:
    return Services.build(
        store,
        limits=Limits(
            max_batch_events=settings.max_batch_events,
            max_page_size=settings.max_page_size,
            idempotency_window=timedelta(hours=settings.idempotency_window_hours),
            retention_days=settings.retention_days,
            questions_per_month=settings.lens_questions_per_month,
            webhooks_per_project=settings.webhooks_per_project,
            webhook_allow_private=settings.webhook_allow_private,
        ),
        admin_key=settings.api_key,
        project_key=settings.agentlens_api_key,
        require_auth=settings.require_auth,
        queue_size=settings.subscriber_queue_size,
        anomaly_poll_seconds=settings.anomaly_poll_seconds,
        phraser=phraser_for(settings, llm_http),
    )


def sender_config(settings: Settings) -> SenderConfig:
    return SenderConfig(max_attempts=settings.webhook_max_attempts,
                        retry_base_seconds=settings.webhook_retry_base_seconds,
                        timeout_seconds=settings.webhook_timeout_seconds, poll_seconds=settings.webhook_poll_seconds)


def create_app(settings: Settings | None = None, store: Store | None = None) -> web.Application:
    """Build the server; the store is opened and closed with the application."""
    settings = settings or Settings.from_env()
    max_body = settings.max_body_bytes
    mounted = families(settings)
    root_family = next((f for prefix, f in mounted if prefix == "/"), agentlens_server.FAMILY)
    family_of = family_labeller([(prefix, family.name) for prefix, family in mounted])
    app = web.Application(
        middlewares=[metrics_middleware(family_of), *_middlewares(root_family, settings, "/", root=True)],
        client_max_size=max_body,
    )
    app[SETTINGS] = settings
    app[LIMITER] = new_limiter()
    app[RATE_PER_MINUTE] = settings.rate_limit_per_minute
    app[HEARTBEAT] = settings.sse_heartbeat_seconds
    app[NETWORK] = Network(settings.trusted_proxy_hops, settings.country_header)
    app[WEBSOCKETS] = weakref.WeakSet[web.WebSocketResponse]()

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        backend = store or store_for(settings)
        await backend.start()
        llm_http = LlmHttp(settings.assistant_llm_timeout_seconds) if settings.assistant_llm_base_url else None
        services = build_services(backend, settings, llm_http)
        await services.bus.start()
        watch_live(services.bus)
        app[SERVICES] = services
        retention = asyncio.create_task(
            retention_loop(services, settings.retention_days, settings.retention_interval_seconds),
            name="lensgraph-retention",
        )
        jobs = [retention]
        if settings.anomaly_detection:
            jobs.append(asyncio.create_task(detector_loop(services, settings.anomaly_interval_seconds),
                                            name="lensgraph-anomalies"))
        if settings.reports:
            jobs.append(asyncio.create_task(reports_loop(services, settings.report_interval_seconds),
                                            name="lensgraph-reports"))
        transport = HttpTransport(settings.webhook_timeout_seconds, settings.webhook_allow_private)
        if settings.webhook_delivery:
            jobs.append(asyncio.create_task(sender_loop(services, transport, sender_config(settings)),
                                            name="lensgraph-webhooks"))
        retrying = None
        try:
            retrying = await _default_project(services)
            yield
        finally:
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            await transport.close()
            if llm_http is not None:
                await llm_http.close()
            if retrying is not None:
                retrying.cancel()
            await services.bus.close()
            await backend.close()

    async def close_streams(app: web.Application) -> None:
        # Shutdown: end every live stream now, so draining takes milliseconds, not the clients' patience.
        # Websockets first (1001, going away): their subscriptions end with them, and nothing is
        # left to send on a closing socket; then the bus, which ends the SSE streams.
        sockets = app[WEBSOCKETS]
        for ws in list(sockets):
            await ws.close(code=1001, message=b"server shutting down")
        if SERVICES in app:
            await app[SERVICES].bus.close()

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(close_streams)
    view = self_authenticating(
        LensGraphView(
            schema=build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            max_body_bytes=max_body,
        )
    )
    # GET (queries, GraphiQL, websocket upgrades) and POST; not "*", which CORS preflight can't share.
    app.router.add_route("GET", "/graphql", view)
    app.router.add_route("POST", "/graphql", view)
    app.router.add_get("/", _to_graphql, allow_head=True)
    add_health_routes(app)
    app.router.add_get("/metrics", metrics_handler(settings))
    if settings.graphiql:
        add_ide_routes(app)
    stream = credentials(any_of(bearer, x_api_key, query_token))(agentlens_server.handlers.stream)
    app.router.add_get("/stream", stream, allow_head=False)
    add_reference_routes(app, [(prefix, family.spec) for prefix, family in mounted])
    for prefix, family in mounted:
        if prefix == "/":
            app.add_routes(family.routes())
            continue
        sub = web.Application(middlewares=_middlewares(family, settings, prefix, root=False), client_max_size=max_body)
        sub.add_routes(family.routes())
        sub.router.add_get("/openapi.json", family_document(family.spec, prefix))
        app.add_subapp(prefix, sub)
    _cors(app, settings.cors_origins)  # the root's routes include the sub-applications' routes
    return app


@public
async def _to_graphql(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/graphql")

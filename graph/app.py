"""The aiohttp application: GraphQL at /graphql and each REST family under its prefix."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from types import ModuleType

import aiohttp_cors
from aiohttp import web

from graph.auth import any_of, auth_middleware, bearer, credentials, query_token, self_authenticating, x_api_key
from graph.keys import SERVICES
from graph.ratelimit import LIMITER, new_limiter, ratelimit_middleware
from graph.rest import agent_analytics, agentlens, agentlens_server, sse
from graph.rest.common import error_middleware
from graph.schema import build_schema
from graph.settings import Settings
from graph.view import LensGraphView
from resolvers.auth import Authenticator
from resolvers.live_mongo import choose_bus
from resolvers.projects import ensure_default
from resolvers.services import DEFAULT_PROJECT, Limits, Services
from storage import Store, open_store

log = logging.getLogger("lensgraph")

SETTINGS = web.AppKey("settings", Settings)


def _middlewares(family: ModuleType, settings: Settings, mount: str, root: bool) -> list:
    # Outermost first: errors render everything below them in the family's shape;
    # rate limits come before authentication so floods of bad keys are limited too.
    return [
        error_middleware(family.render_error, settings.max_body_bytes),
        ratelimit_middleware(
            family.rate_rules(settings.rate_limit_per_minute), family.RATE_STYLE, mount, settings.rate_limits,
            family.DEFAULT_CREDENTIAL,
        ),
        auth_middleware(family.DEFAULT_CREDENTIAL, root=root),
    ]


def _cors(app: web.Application, origins: str) -> None:
    allowed = [o.strip() for o in origins.split(",") if o.strip()] or ["*"]
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=False, expose_headers="*", allow_headers="*", allow_methods="*", max_age=600
    )
    cors = aiohttp_cors.setup(app, defaults={origin: options for origin in allowed})
    for route in list(app.router.routes()):
        cors.add(route)


def create_app(settings: Settings | None = None, store: Store | None = None) -> web.Application:
    """Build the server; the store is opened and closed with the application."""
    settings = settings or Settings.from_env()
    max_body = settings.max_body_bytes
    root_family = agentlens if settings.prefix_agentlens.strip("/") == "" else agentlens_server
    app = web.Application(
        middlewares=_middlewares(root_family, settings, "/", root=True), client_max_size=max_body
    )
    app[SETTINGS] = settings
    app[LIMITER] = new_limiter()
    app[agent_analytics.RATE_PER_MINUTE] = settings.rate_limit_per_minute
    app[sse.HEARTBEAT] = settings.sse_heartbeat_seconds

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        backend = store or open_store(settings.database_url)
        await backend.start()
        bus = choose_bus(backend, settings.subscriber_queue_size)  # after start(): it reads the topology
        await bus.start()
        services = Services(
            store=backend,
            bus=bus,
            limits=Limits(
                max_batch_events=settings.max_batch_events,
                max_page_size=settings.max_page_size,
                idempotency_window=timedelta(hours=settings.idempotency_window_hours),
            ),
            auth=Authenticator(backend, settings.api_key, DEFAULT_PROJECT),
        )
        app[SERVICES] = services
        await ensure_default(services, DEFAULT_PROJECT)
        if await services.auth.dev_mode():
            log.warning(
                "DEV MODE: no LENSGRAPH_API_KEY and no project keys, so every request is accepted "
                "without authentication. Set LENSGRAPH_API_KEY before exposing this server."
            )
        log.info("store ready: %s", type(backend).__name__)
        yield
        await bus.close()
        await backend.close()

    app.cleanup_ctx.append(lifecycle)
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
    app.router.add_get("/stream", credentials(any_of(bearer, x_api_key, query_token))(sse.graphql_stream))
    for prefix, family in (
        (settings.prefix_agentlens_server, agentlens_server),
        (settings.prefix_agent_analytics, agent_analytics),
        (settings.prefix_agentlens, agentlens),
    ):
        prefix = "/" + prefix.strip("/")
        if prefix == "/":
            app.add_routes(family.routes())
            continue
        sub = web.Application(middlewares=_middlewares(family, settings, prefix, root=False), client_max_size=max_body)
        sub.add_routes(family.routes())
        app.add_subapp(prefix, sub)
    _cors(app, settings.cors_origins)  # the root's routes include the sub-applications' routes
    return app

"""The aiohttp application: GraphQL at /graphql and each REST family under its prefix."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from graph.auth import project_middleware
from graph.rest import agent_analytics, agentlens, agentlens_server, sse
from graph.keys import SERVICES
from graph.schema import build_schema
from graph.settings import Settings
from graph.view import LensGraphView
from resolvers.live import LocalBus
from resolvers.services import Limits, Services
from storage import Store, open_store

log = logging.getLogger("lensgraph")

SETTINGS = web.AppKey("settings", Settings)


def _mount(root: web.Application, prefix: str, family: Any, max_body: int) -> None:
    prefix = "/" + prefix.strip("/")
    if prefix == "/":
        root.add_routes(family.routes())
        return
    sub = web.Application(middlewares=[family.middleware(max_body)], client_max_size=max_body)
    sub.add_routes(family.routes())
    root.add_subapp(prefix, sub)


def create_app(settings: Settings | None = None, store: Store | None = None) -> web.Application:
    """Build the server; the store is opened and closed with the application."""
    settings = settings or Settings.from_env()
    max_body = settings.max_body_bytes
    root_render = agentlens if settings.prefix_agentlens.strip("/") == "" else agentlens_server
    app = web.Application(
        middlewares=[root_render.middleware(max_body), project_middleware],
        client_max_size=max_body,
    )
    app[SETTINGS] = settings

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        backend = store or open_store(settings.database_url)
        await backend.start()
        bus = LocalBus(queue_size=settings.subscriber_queue_size)
        await bus.start()
        app[SERVICES] = Services(
            store=backend,
            bus=bus,
            limits=Limits(max_batch_events=settings.max_batch_events, max_page_size=settings.max_page_size),
        )
        log.info("store ready: %s", type(backend).__name__)
        yield
        await bus.close()
        await backend.close()

    app.cleanup_ctx.append(lifecycle)
    view = LensGraphView(
        schema=build_schema(settings),
        graphql_ide="graphiql" if settings.graphiql else None,
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        max_body_bytes=max_body,
    )
    app.router.add_route("*", "/graphql", view)
    app.router.add_get("/stream", sse.graphql_stream)
    app[sse.HEARTBEAT] = settings.sse_heartbeat_seconds
    _mount(app, settings.prefix_agentlens_server, agentlens_server, max_body)
    _mount(app, settings.prefix_agent_analytics, agent_analytics, max_body)
    _mount(app, settings.prefix_agentlens, agentlens, max_body)
    return app

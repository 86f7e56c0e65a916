"""Metrics over HTTP: a middleware that counts and times every request, and GET /metrics.

Requests are labelled by family (which API answered) and route template, never
the raw path, so the number of series stays bounded whatever clients send.
/metrics is open in dev mode; with authentication on it takes the admin key or
the metrics token (LENSGRAPH_METRICS_TOKEN), as a Bearer token.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from graph.app.settings import Settings
from graph.rest.auth import bearer, public
from graph.rest.http import Handler
from resolvers.core.auth import hash_key
from resolvers.core.metrics import REQUEST_SECONDS, REQUESTS

# (path) -> family label: the REST families by prefix, then GraphQL, SSE and the operational routes.
FamilyOf = Callable[[str], str]


def family_labeller(prefixes: list[tuple[str, str]]) -> FamilyOf:
    ordered = sorted(prefixes, key=lambda p: len(p[0].rstrip("/")), reverse=True)

    def family(path: str) -> str:
        if path.startswith("/graphql"):
            return "graphql"
        if path == "/stream":
            return "sse"
        if path in ("/metrics", "/healthz", "/readyz", "/"):
            return "ops"
        for prefix, name in ordered:
            base = prefix.rstrip("/")
            if path == base or path.startswith(base + "/"):
                return name
        return "unknown"

    return family


def metrics_middleware(family_of: FamilyOf) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        began = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else "unmatched"
            family = family_of(request.path)
            REQUESTS.labels(family, route, request.method, str(status)).inc()
            REQUEST_SECONDS.labels(family, route).observe(time.perf_counter() - began)

    return middleware


def metrics_handler(settings: Settings) -> Handler:
    allowed = [hash_key(k) for k in (settings.api_key, settings.metrics_token) if k]

    @public  # checked here: the admin key or the metrics token, never a project's key
    async def metrics(request: web.Request) -> web.Response:
        if not settings.dev_mode:
            presented = bearer(request)
            digest = hash_key(presented) if presented else ""
            if not any(hmac.compare_digest(digest, ok) for ok in allowed):
                return web.json_response({"error": "metrics need the admin key or the metrics token"}, status=401)
        registry: CollectorRegistry = REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return metrics

"""Process health for operators and orchestrators, beside the seeds' own /health routes.

/healthz: the process answers. /readyz: the store answers a read and the live
feed is running; 503 otherwise. Both are public and tenant-free.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from graph.rest.auth import public
from graph.rest.http import json_response
from graph.rest.keys import SERVICES
from resolvers.core.services import DEFAULT_PROJECT

READY_TIMEOUT_S = 2.0


@public
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@public
async def readyz(request: web.Request) -> web.Response:
    services = request.config_dict.get(SERVICES)
    if services is None:
        return json_response({"status": "starting"}, 503)
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await services.store.projects.projects_by_ids([DEFAULT_PROJECT])
        checks["store"] = "ok"
    except Exception as exc:  # any failure to read is "not ready", never a 500
        checks["store"] = f"unavailable: {type(exc).__name__}"
    checks["live"] = "ok" if services.bus.running else "stopped"
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "unavailable", "checks": checks,
            "live_subscribers": services.bus.subscriber_count}
    return json_response(body, 200 if ready else 503)


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)

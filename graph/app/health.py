"""Process health for operators and orchestrators, beside the seeds' own /health routes.

/healthz: the process answers. /readyz: the store answers a read, takes writes
and the live feed is running; 503 otherwise. A store that reads but cannot write
(a full disk) is "degraded", its check "read-only: <why>"; while it is, each
/readyz tries a small write, so readiness returns on its own once space is freed
even with no traffic. Both are public and tenant-free.
"""

from __future__ import annotations

import asyncio
import os

from aiohttp import web

from graph.rest.auth import public
from graph.rest.http import json_response
from graph.rest.keys import SERVICES
from resolvers.core.services import DEFAULT_PROJECT
from storage.contract import StoreReadOnly, StoreUnavailable

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
            await services.store.check_writes()
        checks["store"] = "ok"
    except StoreReadOnly as exc:
        checks["store"] = f"read-only: {exc}"
    except StoreUnavailable as exc:
        checks["store"] = f"unavailable: {exc}"
    except Exception as exc:  # any other failure is "not ready", never a 500
        checks["store"] = f"unavailable: {type(exc).__name__}"
    checks["live"] = "ok" if services.bus.running else "stopped"
    ready = all(v == "ok" for v in checks.values())
    degraded = checks["store"].startswith("read-only") and checks["live"] == "ok"
    body = {"status": "ready" if ready else "degraded" if degraded else "unavailable", "checks": checks,
            "live_subscribers": services.bus.subscriber_count, "pid": os.getpid()}
    return json_response(body, 200 if ready else 503)


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)

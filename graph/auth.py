"""Which project a request acts for.

Until projects and keys exist every request acts for the default project;
the request key PROJECT is the one place the rest of the code reads it from.
"""

from __future__ import annotations

from aiohttp import web

from graph.keys import PROJECT
from graph.rest.common import Handler

DEFAULT_PROJECT = "default"


@web.middleware
async def project_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[PROJECT] = DEFAULT_PROJECT
    return await handler(request)

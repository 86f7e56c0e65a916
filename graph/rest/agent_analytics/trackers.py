"""How a browser tracker proves which project it writes to: the project's public token."""

from __future__ import annotations

from aiohttp import web

from graph.rest.auth import x_api_key
from graph.rest.http import read_json
from graph.rest.keys import SERVICES
from resolvers.core.auth import Principal
from resolvers.core.errors import InputError


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

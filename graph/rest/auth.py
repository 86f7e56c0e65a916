"""Authentication at the edge: each handler says how its caller proves who they are.

Handlers are marked with @public, @credentials(extractor or async authenticator)
or @self_authenticating;
unmarked handlers use their family's default extractor. The middleware resolves
the Principal and the project every store call is scoped by.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from graph.rest.http import Handler
from graph.rest.keys import PRINCIPAL, PROJECT, SERVICES
from resolvers.core.auth import Principal

Extractor = Callable[[web.Request], str | None]
# A route with its own way of proving identity (trackers): resolves the Principal itself.
Authenticate = Callable[[web.Request], Awaitable[Principal]]

PUBLIC = "public"
SELF = "self"


def x_api_key(request: web.Request) -> str | None:
    return request.headers.get("X-API-Key") or None


def bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def query_token(request: web.Request) -> str | None:
    return request.query.get("token") or None


def any_of(*extractors: Extractor) -> Extractor:
    def extract(request: web.Request) -> str | None:
        return next((v for e in extractors if (v := e(request))), None)

    return extract


def public(handler: Any) -> Any:
    handler.auth = PUBLIC
    return handler


def self_authenticating(handler: Any) -> Any:
    handler.auth = SELF
    return handler


def credentials(extractor: Extractor | Authenticate) -> Callable[[Any], Any]:
    def mark(handler: Any) -> Any:
        handler.auth = extractor
        return handler

    return mark


def auth_middleware(default: Extractor, *, root: bool = False) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if root and len(request.match_info.apps) > 1:
            return await handler(request)  # a sub-application authenticates its own routes
        mode = getattr(request.match_info.handler, "auth", default)
        if mode in (PUBLIC, SELF) or request.method == "OPTIONS":
            return await handler(request)
        if inspect.iscoroutinefunction(mode):
            principal = await mode(request)  # a route with its own way of proving identity
        else:
            principal = await request.config_dict[SERVICES].auth.authenticate(mode(request))
        request[PRINCIPAL] = principal
        request[PROJECT] = principal.project_id
        return await handler(request)

    return middleware

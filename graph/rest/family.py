"""What the app needs to mount one seed's REST family under its prefix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from graph.rest.auth import Extractor
from graph.rest.http import ErrorRenderer
from graph.rest.openapi import Spec
from graph.rest.ratelimit import Rule


@dataclass(frozen=True, slots=True)
class Family:
    name: str  # the seed's system, for logs and the start-up banner
    spec: Spec  # its operations, from which both its routes and its OpenAPI document come
    render_error: ErrorRenderer  # (status, message, problems) -> the seed's error body
    default_credential: Extractor  # how an unmarked route's caller presents a key
    rate_style: str  # "x" (X-RateLimit-*) or "ietf" (RateLimit-*)
    rate_rules: Callable[[int], list[Rule]]  # per-minute budget -> the seed's windows
    # Outermost middlewares of the family's own (a renderer that needs the request reads what they keep).
    middlewares: tuple[Any, ...] = ()

    def routes(self) -> list[web.RouteDef]:
        return self.spec.routes()

"""What the app needs to mount one seed's REST family under its prefix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from graph.rest.auth import Extractor
from graph.rest.http import ErrorRenderer
from graph.rest.ratelimit import Rule


@dataclass(frozen=True, slots=True)
class Family:
    name: str  # the seed's system, for logs and the start-up banner
    routes: Callable[[], list[web.RouteDef]]
    render_error: ErrorRenderer  # (status, message, problems) -> the seed's error body
    default_credential: Extractor  # how an unmarked route's caller presents a key
    rate_style: str  # "x" (X-RateLimit-*) or "ietf" (RateLimit-*)
    rate_rules: Callable[[int], list[Rule]]  # per-minute budget -> the seed's windows

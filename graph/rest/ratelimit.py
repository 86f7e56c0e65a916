"""Rate limits per route family, with each seed's documented windows and headers.

Budgets per key (what documents describe per account) are counted in the
store in fixed windows, so they hold across every process serving the
database. Budgets per IP address (seed 002's) are moving windows in each
process's memory, bounded (windows.py): a client's address reaches one
process per connection, and these limits guard that process.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from graph.rest.http import Handler, RateLimited
from graph.rest.keys import RATE_HEADERS, SERVICES
from graph.rest.windows import MovingWindows, Verdict
from resolvers.core.auth import hash_key
from storage.contract import StoreUnavailable

LIMITER = web.AppKey("rate_limiter", MovingWindows)


@dataclass(frozen=True, slots=True)
class Rule:
    prefix: str  # path below the family's mount point
    limit: int
    window_seconds: int
    per: str = "key"  # "ip" or "key" (the caller's key; the IP when there is none)


def new_limiter() -> MovingWindows:
    return MovingWindows()


async def _in_memory(request: web.Request, rule: Rule, who: str) -> Verdict:
    return request.config_dict[LIMITER].hit(f"{who}|{rule.prefix}", rule.limit, rule.window_seconds)


async def _shared(request: web.Request, rule: Rule, who: str) -> Verdict:
    window_ms = rule.window_seconds * 1000
    now_ms = int(time.time() * 1000)
    start = now_ms - now_ms % window_ms
    try:
        count = await request.config_dict[SERVICES].store.counters.hit(f"{who}|{rule.prefix}", start, window_ms)
    except StoreUnavailable:
        # Counting is a write: on a store that cannot write (a full disk) reads must still be served,
        # so this process counts in memory until the store takes writes again.
        return await _in_memory(request, rule, who)
    return Verdict(count <= rule.limit, max(0, rule.limit - count), (start + window_ms) / 1000)


def _identity(request: web.Request, rule: Rule, credential: Any) -> str:
    # Runs before authentication, so floods of bad keys are limited too.
    # Routes with their own async authenticator (trackers) are limited by IP.
    keyed = rule.per == "key" and callable(credential) and not inspect.iscoroutinefunction(credential)
    presented = credential(request) if keyed else None
    return f"key:{hash_key(presented)[:24]}" if presented else f"ip:{request.remote}"


def _headers(style: str, limit: int, remaining: int, reset_at: float) -> dict[str, str]:
    seconds = max(0, math.ceil(reset_at - time.time()))
    if style == "ietf":  # RateLimit-* (draft-ietf-httpapi-ratelimit-headers): reset in seconds
        return {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(remaining), "RateLimit-Reset": str(seconds)}
    return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(math.ceil(reset_at))}


def ratelimit_middleware(rules: list[Rule], style: str, mount: str, enabled: bool, credential: Any) -> Any:
    """Rules match by path prefix below `mount`; the first match applies."""
    mount = "" if mount.strip("/") == "" else "/" + mount.strip("/")

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path[len(mount):] if request.path.startswith(mount) else request.path
        rule = next((r for r in rules if path.startswith(r.prefix)), None)
        if not enabled or rule is None or request.method == "OPTIONS":
            return await handler(request)
        extractor = getattr(request.match_info.handler, "auth", credential)
        who = _identity(request, rule, extractor)
        verdict = await (_shared if who.startswith("key:") else _in_memory)(request, rule, who)
        headers = _headers(style, rule.limit, verdict.remaining, verdict.reset_at)
        request[RATE_HEADERS] = headers  # the error middleware adds them to error responses
        if not verdict.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(verdict.reset_at - time.time())))
            raise RateLimited(
                f"Too many requests: {rule.limit} per {rule.window_seconds}s on {mount}{rule.prefix}; "
                f"retry after {headers['Retry-After']}s",
                headers,
            )
        response = await handler(request)
        if not response.prepared:  # a stream's headers are already sent
            response.headers.update(headers)
        return response

    return middleware

"""What every REST family shares: JSON in and out, and errors in the family's shape."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from pydantic import TypeAdapter, ValidationError

from graph.rest.keys import RATE_HEADERS
from resolvers.core.auth import Forbidden, Unauthorized
from resolvers.core.bounds import MAX_OFFSET, Instant, json_problem
from resolvers.core.errors import InputError, NotFound, Problem
from resolvers.core.metrics import REQUESTS_REJECTED
from storage.contract import Conflict, StoreUnavailable

log = logging.getLogger("lensgraph.rest")

# (status, message, problems) -> the family's error response
ErrorRenderer = Callable[[int, str, Sequence[Problem]], web.Response]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_instant = TypeAdapter(Instant)


def json_body(data: Any) -> bytes:
    """orjson.dumps(data, option=OPT_NON_STR_KEYS). Most answers hold str keys only (our literals, parsed JSON),
    which orjson's default writes identically and faster (a 1,000-event timeline: 0.23 ms against 0.39); it
    refuses any other key with a TypeError, and only then is the option needed."""
    try:
        return orjson.dumps(data)
    except TypeError:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json_body(data),
        status=status,
        content_type="application/json",
        headers=headers,
    )


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; too large or malformed bodies are InputErrors or 413s."""
    value = await _decode(request)
    if (problem := json_problem(value, integers=False)) is not None:
        raise InputError(Problem("body", problem))
    return value


async def read_events_json(request: web.Request) -> tuple[Any, bool]:
    """read_json for ingest, and whether every document inside the body can be stored as it is.

    The body's depth check walks the whole body anyway; checking its integers on the same walk tells ingest
    that each event's payload and metadata (parts of the body, nested inside it, so within the depth limit
    too) needs no walk of its own (ingest's _check_documents: one walk of the request fewer). Only a body
    with an integer past 64 bits is walked again, for the depth check exactly as read_json makes it, and its
    documents are then checked in ingest as before, naming the event and field.
    """
    value = await _decode(request)
    if json_problem(value, integers=True) is None:
        return value, True
    if (problem := json_problem(value, integers=False)) is not None:
        raise InputError(Problem("body", problem))
    return value, False


async def _decode(request: web.Request) -> Any:
    body = await read_body(request)
    if not body:
        raise InputError(Problem("body", "is empty; send a JSON object"))
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(Problem("body", f"is not valid JSON ({exc})")) from None


async def read_body(request: web.Request) -> bytes:
    """The body, decompressed; 413 past the size limit, 400 for a body that cannot be decoded."""
    try:
        return await request.read()  # aiohttp raises 413 past client_max_size
    except web.HTTPException:
        raise
    except (ClientPayloadError, RequestPayloadError, HttpProcessingError, ValueError, zlib.error) as exc:
        # Nothing more of this body can be read: say so, or aiohttp reads it again after our answer
        # (its lingering close) and logs the same failure as an unhandled exception.
        request.content.feed_eof()
        encoding = request.headers.get("Content-Encoding", "identity")
        raise InputError(Problem("body", f"cannot be read as Content-Encoding {encoding} ({exc})")) from None


def query_list(request: web.Request, name: str) -> tuple[str, ...] | None:
    """Comma lists and repeated parameters alike: ?a=x,y&a=z -> (x, y, z)."""
    values = [v.strip() for raw in request.query.getall(name, []) for v in raw.split(",")]
    values = [v for v in values if v]
    return tuple(dict.fromkeys(values)) if values else None


def query_int(request: web.Request, name: str, default: int, *, low: int = 0, high: int | None = None) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(Problem(name, f"must be an integer, got {raw[:40]!r}")) from None
    if value < low:
        raise InputError(Problem(name, f"must be at least {low}"))
    if high is not None:
        return min(value, high)
    if value > MAX_OFFSET:
        raise InputError(Problem(name, f"must be at most {MAX_OFFSET}"))
    return value


def query_time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return _instant.validate_python(raw)
    except ValidationError as exc:
        reason = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise InputError(Problem(name, f"must be an ISO 8601 timestamp ({reason}), got {raw[:40]!r}")) from None


def query_choice(request: web.Request, name: str, allowed: Sequence[str]) -> tuple[str, ...] | None:
    values = query_list(request, name)
    bad = [v for v in values or () if v not in allowed]
    if bad:
        raise InputError(Problem(name, f"unknown value {bad[0]!r}; expected one of {', '.join(allowed)}"))
    return values


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class RateLimited(Exception):
    def __init__(self, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.headers = headers


def error_middleware(render: ErrorRenderer, max_body_bytes: int, family: str = "") -> Any:
    """Turn every failure under a family's prefix into that family's error shape."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await _render_failures(request, handler)
        rate_headers = request.get(RATE_HEADERS)
        if rate_headers and not response.prepared:
            response.headers.update(rate_headers)
        return response

    async def _render_failures(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except InputError as exc:
            # One line, no traceback: a client's mistake, worth seeing, not worth an alarm.
            log.warning("rejected %s %s: 400 %s", request.method, request.path, _short(str(exc)))
            REQUESTS_REJECTED.labels(family).inc()
            return render(400, str(exc), exc.problems)
        except NotFound as exc:
            return render(404, f"{exc.what.capitalize()} not found", [Problem("id", str(exc))])
        except Unauthorized as exc:
            return render(401, f"Unauthorized: {exc}", [])
        except Forbidden as exc:
            return render(403, f"Forbidden: {exc}", [])
        except Conflict as exc:
            return render(409, str(exc), [])
        except StoreUnavailable as exc:
            # One line, no traceback: the store said what passes; nothing of this request was stored.
            log.warning("unavailable %s %s: 503 %s", request.method, request.path, exc.for_log())
            response = render(503, f"Service unavailable: {exc}; retry after {exc.retry_after} s", [])
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except RateLimited as exc:
            response = render(429, str(exc), [])
            response.headers["Retry-After"] = exc.headers["Retry-After"]
            return response
        except web.HTTPRequestEntityTooLarge:
            log.warning("rejected %s %s: 413 body over %d bytes", request.method, request.path, max_body_bytes)
            problem = Problem("body", f"exceeds the limit of {max_body_bytes} bytes")
            return render(413, str(problem), [problem])
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return render(exc.status, exc.reason, [])
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            return render(500, "Internal server error", [])

    return middleware

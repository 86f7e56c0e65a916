"""Strawberry's aiohttp view, with our authentication, context, JSON encoder and error shapes."""

from __future__ import annotations

import json
import weakref
from typing import Any

import orjson
from aiohttp import web
from cross_web import HTTPException
from strawberry.aiohttp.views import GraphQLView
from strawberry.exceptions import ConnectionRejectionError

from graph.rest.auth import any_of, bearer, x_api_key
from graph.rest.http import json_response, read_body
from graph.rest.keys import PRINCIPAL, PROJECT, SERVICES
from graph.schema import ide
from graph.schema.context import Context
from graph.schema.errors import with_code
from graph.schema.loaders import Loaders
from graph.schema.websocket import CheckedWebSocketAdapter
from resolvers.core.auth import Principal, Unauthorized
from resolvers.core.bounds import json_problem
from resolvers.core.errors import InputError

http_credential = any_of(bearer, x_api_key)

# The request's DataLoaders, emptied once its answer is built (Loaders.clear).
LOADERS = web.RequestKey("graphql_loaders", Loaders)

# Open websockets, closed with 1001 (going away) when the server shuts down.
WEBSOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("websockets", weakref.WeakSet)


def ws_credential(params: dict[str, Any], request: web.Request) -> str | None:
    """The key from connection_init's payload, else from the upgrade request's headers."""
    for name in ("Authorization", "authorization"):
        value = params.get(name)
        if isinstance(value, str) and value.lower().startswith("bearer "):
            return value[7:].strip() or None
    for name in ("apiKey", "api_key", "X-API-Key", "x-api-key", "token"):
        value = params.get(name)
        if isinstance(value, str) and value:
            return value
    return http_credential(request)


def _graphql_error(status: int, message: str, code: str) -> web.Response:
    return json_response({"errors": [{"message": message, "extensions": {"code": code}}]}, status)


class LensGraphView(GraphQLView[Context, None]):
    websocket_adapter_class = CheckedWebSocketAdapter
    def __init__(self, *args: Any, max_body_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_body_bytes = max_body_bytes

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        # Websockets authenticate in on_ws_connect; the GraphiQL page itself is public.
        if not self.is_websocket_request(request) and not self._is_ide(request):
            try:
                principal = await request.config_dict[SERVICES].auth.authenticate(http_credential(request))
            except Unauthorized as exc:
                return _graphql_error(401, f"Unauthorized: {exc}", "UNAUTHENTICATED")
            request[PRINCIPAL], request[PROJECT] = principal, principal.project_id
        try:
            if request.body_exists:
                await read_body(request)  # read (and decoded) once here, where a bad encoding is a 400
            response = await super().__call__(request)
        except web.HTTPRequestEntityTooLarge:
            return _graphql_error(413, f"body exceeds the limit of {self.max_body_bytes} bytes", "PAYLOAD_TOO_LARGE")
        except InputError as exc:
            return _graphql_error(400, str(exc), "BAD_REQUEST")
        finally:
            if (loaders := request.get(LOADERS)) is not None:
                loaders.clear()
        # strawberry answers malformed requests in plain text; clients expect GraphQL errors
        if isinstance(response, web.Response) and response.status >= 400 and "json" not in response.content_type:
            return _graphql_error(response.status, response.text or "Bad request", "BAD_REQUEST")
        return response

    async def render_graphql_ide(self, request: web.Request) -> web.Response:
        return web.Response(text=ide.page(), content_type="text/html")

    async def create_websocket_response(
        self, request: web.Request, subprotocol: str | None
    ) -> web.WebSocketResponse:
        ws = await super().create_websocket_response(request, subprotocol)
        request.config_dict[WEBSOCKETS].add(ws)
        return ws

    def _is_ide(self, request: web.Request) -> bool:
        # Exactly strawberry's rule for serving the IDE page: a GET that carries a query is executed,
        # whatever its Accept header, so it must authenticate like any other.
        return (
            request.method == "GET"
            and request.query.get("query") is None
            and any(h in request.headers.get("Accept", "") for h in ("text/html", "*/*"))
        )

    async def get_context(self, request: web.Request, response: Any) -> Context:
        services = request.config_dict[SERVICES]
        websocket = isinstance(response, web.WebSocketResponse)
        principal = request.get(PRINCIPAL) or Principal(project_id="")  # websockets: set on connect
        # A websocket context lives as long as the connection: never cache across messages.
        loaders = Loaders(services.store, principal.project_id, cache=not websocket).bind(services)
        if not websocket:
            request[LOADERS] = loaders
        return Context(
            request=request,
            response=response,
            services=services,
            project_id=principal.project_id,
            principal=principal,
            loaders=loaders,
            websocket=websocket,
        )

    async def on_ws_connect(self, context: Context) -> Any:
        credential = ws_credential(context.connection_params or {}, context.request)
        try:
            principal = await context.services.auth.authenticate(credential)
        except Unauthorized as exc:
            raise ConnectionRejectionError({"message": f"Unauthorized: {exc}", "code": "UNAUTHENTICATED"}) from None
        context.principal, context.project_id = principal, principal.project_id
        context.loaders = Loaders(context.services.store, principal.project_id, cache=False).bind(context.services)
        return await super().on_ws_connect(context)

    async def process_result(self, request: web.Request, result: Any) -> Any:
        # Parse errors never reach the schema extensions; code them here too.
        if result.errors:
            result.errors = [with_code(e) for e in result.errors]
        return await super().process_result(request, result)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return self.decode_json(data)
        except json.JSONDecodeError as exc:
            raise HTTPException(400, f"The request body {exc.msg}") from None

    def decode_json(self, data: str | bytes) -> object:
        """A request body or websocket message: a JSON object, no deeper than the ingest routes allow.

        Raising JSONDecodeError makes strawberry answer HTTP with a 400 and close a websocket with
        its protocol's own code (4400), rather than either failing with a 500."""
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise json.JSONDecodeError(f"not valid JSON ({exc})", "", 0) from None
        if not isinstance(value, dict):
            raise json.JSONDecodeError("must be a JSON object", "", 0)
        if (problem := json_problem(value, integers=False)) is not None:
            raise json.JSONDecodeError(problem, "", 0)
        return value

    def encode_json(self, data: object) -> str:
        # str, not bytes: the websocket adapter sends bytes as binary frames,
        # which graphql-transport-ws clients reject.
        return orjson.dumps(data).decode()

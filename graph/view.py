"""Strawberry's aiohttp view, with our context, JSON encoder and error shapes."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from strawberry.aiohttp.views import GraphQLView

from graph.auth import DEFAULT_PROJECT
from graph.context import Context
from graph.errors import with_code
from graph.keys import PROJECT, SERVICES
from graph.rest.common import json_response
from resolvers.loaders import Loaders


class LensGraphView(GraphQLView):
    def __init__(self, *args: Any, max_body_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_body_bytes = max_body_bytes

    async def get_context(self, request: web.Request, response: Any) -> Context:  # type: ignore[override]
        services = request.config_dict[SERVICES]
        project = request.get(PROJECT, DEFAULT_PROJECT)
        websocket = isinstance(response, web.WebSocketResponse)
        return Context(
            request=request,
            response=response,
            services=services,
            project_id=project,
            # A websocket context lives as long as the connection: never cache across messages.
            loaders=Loaders(services.store, project, cache=not websocket),
            websocket=websocket,
        )

    async def process_result(self, request: web.Request, result: Any) -> Any:
        # Parse errors never reach the schema extensions; code them here too.
        if result.errors:
            result.errors = [with_code(e) for e in result.errors]
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> str:
        # str, not bytes: the websocket adapter sends bytes as binary frames,
        # which graphql-transport-ws clients reject.
        return orjson.dumps(data).decode()

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        try:
            return await super().__call__(request)
        except web.HTTPRequestEntityTooLarge:
            return json_response(
                {
                    "errors": [
                        {
                            "message": f"body exceeds the limit of {self.max_body_bytes} bytes",
                            "extensions": {"code": "PAYLOAD_TOO_LARGE", "field": "body"},
                        }
                    ]
                },
                413,
            )

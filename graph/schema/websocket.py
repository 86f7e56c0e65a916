"""Websocket messages checked for shape before strawberry's protocol handlers see them.

The handlers index into messages (message["payload"]["query"]) and fail with a
TypeError on, say, a subscribe whose payload is null. A message that is not of
its protocol's shape closes the socket with 4400, the graphql-transport-ws code
for an invalid message, instead.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any

from strawberry.aiohttp.views import AiohttpWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived

# Message types whose payload is an operation (graphql-transport-ws "subscribe", legacy graphql-ws "start").
OPERATION_TYPES = frozenset({"subscribe", "start"})
OPTIONAL_OBJECTS = ("variables", "extensions")


def well_formed(message: object) -> bool:
    if not isinstance(message, Mapping) or not isinstance(message.get("type"), str):
        return False
    if "id" in message and not isinstance(message["id"], str):
        return False
    payload = message.get("payload")
    if message["type"] in OPERATION_TYPES:
        return (
            isinstance(payload, Mapping)
            and isinstance(payload.get("query"), str)
            and all(payload.get(k) is None or isinstance(payload[k], Mapping) for k in OPTIONAL_OBJECTS)
            and (payload.get("operationName") is None or isinstance(payload["operationName"], str))
        )
    if message["type"] == "connection_init":
        return payload is None or isinstance(payload, Mapping)
    return True


class CheckedWebSocketAdapter(AiohttpWebSocketAdapter):
    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[Any, None]:
        async for message in super().iter_json(ignore_parsing_errors=ignore_parsing_errors):
            if not well_formed(message):
                if ignore_parsing_errors:
                    continue
                raise NonJsonMessageReceived
            yield message

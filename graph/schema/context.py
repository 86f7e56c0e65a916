"""The per-request GraphQL context: caller's project, services, fresh DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from graph.schema.loaders import Loaders
from resolvers.core.auth import Principal
from resolvers.core.services import Services


@dataclass(slots=True)
class Context:
    request: web.Request
    response: web.StreamResponse | None
    services: Services
    project_id: str
    loaders: Loaders
    principal: Principal
    websocket: bool = False
    connection_params: dict[str, Any] | None = field(default=None)

    @property
    def max_page(self) -> int:
        return self.services.limits.max_page_size

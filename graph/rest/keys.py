"""Keys on the aiohttp application and request that the API surface shares."""

from aiohttp import web

from resolvers.core.auth import Principal
from resolvers.core.services import Services

SERVICES = web.AppKey("services", Services)
PROJECT = web.RequestKey("project_id", str)  # the project the caller acts for
PRINCIPAL = web.RequestKey("principal", Principal)
RATE_HEADERS = web.RequestKey("rate_limit_headers", dict)

"""Keys on the aiohttp application and request that the API surface shares."""

from aiohttp import web

from resolvers.services import Services

SERVICES = web.AppKey("services", Services)
PROJECT = web.RequestKey("project_id", str)  # the project the caller acts for

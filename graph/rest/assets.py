"""Static files served from an installed package, so pages work with no network beyond this server."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files

from aiohttp import web

from graph.rest.auth import public
from graph.rest.http import Handler


def package_assets(package: str, folder: str, content_types: Mapping[str, str]) -> Handler:
    """GET …/{name} for the listed files of package/folder only: no path from a request reaches the file
    system. Files are read once, on first request."""
    directory = files(package).joinpath(*folder.split("/"))
    loaded: dict[str, bytes] = {}

    @public
    async def asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        content_type = content_types.get(name)
        if content_type is None:
            raise web.HTTPNotFound()
        if name not in loaded:
            loaded[name] = directory.joinpath(name).read_bytes()
        text = content_type.startswith("text/") or content_type.endswith("javascript")
        return web.Response(
            body=loaded[name], content_type=content_type, charset="utf-8" if text else None,
            headers={"Cache-Control": "public, max-age=86400"},
        )

    return asset

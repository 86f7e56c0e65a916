"""The REST API reference: OpenAPI 3.1 documents and a Swagger UI page that needs no network.

Each family's document is served under its prefix ({prefix}/openapi.json) and at
/openapi/{slug}.json; /openapi.json combines them all. The family mounted at "/" has only
the latter two: its {prefix}/openapi.json would be the combined document's address.
Swagger UI 5 (the first to render OpenAPI 3.1) comes from the openapi-ui-bundles package
as plain files, served under /docs/assets/ from an allow-list of names, never a path taken
from the request.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import orjson
from aiohttp import web

from graph.rest.assets import package_assets
from graph.rest.auth import public
from graph.rest.openapi import Spec, combine

ASSET_PACKAGE = "openapi_ui_bundles.swagger_ui"
ASSET_PREFIX = "/docs/assets"
ASSETS = {
    "swagger-ui.css": "text/css",
    "index.css": "text/css",
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui-standalone-preset.js": "application/javascript",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
TITLE = "LensGraph REST API"

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>LensGraph REST API reference</title>
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
  <link rel="stylesheet" href="{assets}/index.css">
  <link rel="icon" type="image/png" href="{assets}/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{assets}/swagger-ui-bundle.js"></script>
  <script src="{assets}/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      urls: {urls},
      dom_id: "#swagger-ui",
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout",
      validatorUrl: null,  // the default badge asks a public validator: stay offline
    });
  </script>
</body>
</html>
"""


def json_handler(build: Callable[[], dict[str, Any]]) -> Callable[[web.Request], Any]:
    """A public handler answering one document, built on first use (startup stays fast)."""
    document = cache(lambda: orjson.dumps(build()))

    @public
    async def openapi_document(request: web.Request) -> web.Response:
        return web.Response(body=document(), content_type="application/json")

    return openapi_document


def family_document(spec: Spec, prefix: str) -> Callable[[web.Request], Any]:
    return json_handler(lambda: spec.document(prefix))


def page(mounted: list[tuple[str, Spec]]) -> str:
    urls = [{"url": "/openapi.json", "name": "All families"}]
    urls += [{"url": f"/openapi/{spec.slug}.json", "name": spec.title} for _, spec in mounted]
    return PAGE.replace("{assets}", ASSET_PREFIX).replace("{urls}", orjson.dumps(urls).decode())


def add_reference_routes(app: web.Application, mounted: list[tuple[str, Spec]]) -> None:
    """The combined document, each family's at /openapi/{slug}.json, and the page at /docs."""
    app.router.add_get("/openapi.json", json_handler(lambda: combine(mounted, TITLE, "1.0.0")))
    for prefix, spec in mounted:
        app.router.add_get(f"/openapi/{spec.slug}.json", family_document(spec, prefix))
    html = page(mounted)

    @public
    async def docs(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app.router.add_get("/docs", docs)
    app.router.add_get(ASSET_PREFIX + "/{name}", package_assets(ASSET_PACKAGE, "vendor", ASSETS))

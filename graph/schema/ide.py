"""GraphiQL served by LensGraph itself, so the IDE works with no network beyond this server.

The assets (GraphiQL 2, React 17, graphql-ws, the CSS) come from the
graphene-django-graphiql-static wheel, which ships them as plain files and
needs nothing of Django for that; they are read from the installed package and
served under /graphql-ide/. Subscriptions run over graphql-ws on /graphql.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

from aiohttp import web

from graph.rest.auth import public

ASSET_PACKAGE = "graphene_django_graphiql_static"
ASSET_PREFIX = "/graphql-ide"
ASSETS = {
    "graphiql.min.css": "text/css",
    "react.production.min.js": "application/javascript",
    "react-dom.production.min.js": "application/javascript",
    "graphiql.min.js": "application/javascript",
    "graphql-ws.min.js": "application/javascript",
}

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>LensGraph GraphiQL</title>
  <style>html, body, #graphiql { height: 100%; margin: 0; width: 100%; overflow: hidden; }</style>
  <link rel="stylesheet" href="{prefix}/graphiql.min.css">
  <script src="{prefix}/react.production.min.js"></script>
  <script src="{prefix}/react-dom.production.min.js"></script>
  <script src="{prefix}/graphiql.min.js"></script>
  <script src="{prefix}/graphql-ws.min.js"></script>
</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
  <script>
    const http = new URL("/graphql", window.location.href);
    const ws = new URL(http);
    ws.protocol = http.protocol === "https:" ? "wss:" : "ws:";
    // An initial query may come in the fragment (/graphql#query=...): a ?query= would be executed instead.
    const initial = new URLSearchParams(window.location.hash.slice(1)).get("query") || undefined;
    const fetcher = GraphiQL.createFetcher({
      url: http.toString(),
      wsClient: graphqlWs.createClient({ url: ws.toString(), lazy: true }),
    });
    ReactDOM.render(
      React.createElement(GraphiQL, { fetcher: fetcher, query: initial, defaultEditorToolsVisibility: true }),
      document.getElementById("graphiql"),
    );
  </script>
</body>
</html>
"""


def _asset_dir() -> Traversable:
    return files(ASSET_PACKAGE) / "static" / ASSET_PACKAGE


def page() -> str:
    return PAGE.replace("{prefix}", ASSET_PREFIX)


@public
async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    content_type = ASSETS.get(name)
    if content_type is None:  # only the listed files: no path from the request reaches the file system
        raise web.HTTPNotFound()
    body = (_asset_dir() / name).read_bytes()
    return web.Response(
        body=body, content_type=content_type, charset="utf-8",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def add_ide_routes(app: web.Application) -> None:
    app.router.add_get(ASSET_PREFIX + "/{name}", asset)

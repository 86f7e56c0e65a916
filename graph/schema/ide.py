"""GraphiQL served by LensGraph itself, so the IDE works with no network beyond this server.

The assets (GraphiQL 2, React 17, graphql-ws, the CSS) come from the
graphene-django-graphiql-static wheel, which ships them as plain files and
needs nothing of Django for that; they are read from the installed package and
served under /graphql-ide/. Subscriptions run over graphql-ws on /graphql.
"""

from __future__ import annotations

from aiohttp import web

from graph.rest.assets import package_assets

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


def page() -> str:
    return PAGE.replace("{prefix}", ASSET_PREFIX)


def add_ide_routes(app: web.Application) -> None:
    app.router.add_get(ASSET_PREFIX + "/{name}", package_assets(ASSET_PACKAGE, f"static/{ASSET_PACKAGE}", ASSETS))

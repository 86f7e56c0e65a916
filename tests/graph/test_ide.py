"""GraphiQL is served by LensGraph itself and works in a real browser with no other network."""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlsplit

from tests.conftest import Api, typed

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@contextlib.asynccontextmanager
async def browser_on(api: Api) -> AsyncIterator[tuple[Any, str, list[str]]]:
    """A Chromium page whose requests to any host but this server are refused and listed."""
    from playwright.async_api import async_playwright

    base = str(api.client.make_url("/"))
    host = urlsplit(base).netloc
    elsewhere: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        try:
            page = await browser.new_page()

            async def only_this_server(route: Any) -> None:
                if urlsplit(route.request.url).netloc != host:
                    elsewhere.append(route.request.url)
                    await route.abort()
                else:
                    await route.continue_()

            await page.route("**/*", only_this_server)
            yield page, base, elsewhere
        finally:
            await browser.close()


async def test_the_ide_page_loads_only_this_servers_assets(api: Api) -> None:
    resp = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert resp.status == 200 and resp.content_type == "text/html"
    page = await resp.text()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(sources) == 5 and all(s.startswith("/graphql-ide/") for s in sources), sources
    for source in sources:
        asset = await api.client.get(source)
        assert asset.status == 200, source
        assert len(await asset.read()) > 5_000
        assert asset.content_type == ("text/css" if source.endswith(".css") else "application/javascript")
    assert (await api.client.get("/graphql-ide/../../etc/passwd")).status == 404
    assert (await api.client.get("/graphql-ide/views.py")).status == 404
    root = await api.client.get("/", allow_redirects=False)
    assert (root.status, root.headers["Location"]) == (302, "/graphql")


async def test_graphiql_runs_a_query_in_chromium_without_leaving_the_server(api: Api) -> None:
    await api.post_typed([typed("custom", {"type": "t", "data": 1}, session="ide-session")])
    async with browser_on(api) as (page, base, elsewhere):
        query = "{ sessions { totalCount nodes { id } } }"
        await page.goto(f"{base}graphql#query={quote(query)}")
        await page.wait_for_selector(".graphiql-container", timeout=20_000)
        await page.click(".graphiql-execute-button")
        result = page.locator(".result-window")
        await result.get_by_text('"ide-session"').wait_for(timeout=20_000)
        text = await result.inner_text()
    assert '"totalCount": 1' in text
    assert elsewhere == []



async def test_a_get_query_with_an_html_accept_header_still_needs_a_key(make_api) -> None:
    api = await make_api(api_key="admin-key-for-tests-0123456789")
    resp = await api.client.get(
        "/graphql", params={"query": "{ sessions { totalCount } }"}, headers={"Accept": "text/html"}
    )
    assert resp.status == 401
    assert (await resp.json())["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    page = await api.client.get("/graphql", headers={"Accept": "text/html"})  # the IDE page itself is public
    assert page.status == 200 and "graphiql" in await page.text()


async def test_the_api_reference_renders_every_family_in_chromium_offline(api: Api) -> None:
    async with browser_on(api) as (page, base, elsewhere):
        await page.goto(f"{base}docs")
        await page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
        paths = await page.locator(".opblock-summary-path").all_inner_texts()
    assert elsewhere == []
    # The combined document: every family's routes under their prefixes.
    assert {"/events", "/api/events", "/agent-analytics/track"} <= {p.strip() for p in paths}

"""tracker.js in a real browser: headless Chromium (Debian's, through Playwright) opens pages of a
customer's site on another origin, which load the tracker from the running server; the test reads
what arrived back through the API.

`make test` installs Chromium where it is missing; without it every test here fails (never skips).
"""

from __future__ import annotations

import asyncio
import gzip
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from resolvers.experiments.assignment import assign
from tests.conftest import Api, ApiFactory

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
AA = "/agent-analytics"

PAGE = """<!doctype html>
<html class="aa-loading"><head><title>{title}</title>
<script defer src="{lensgraph}{prefix}/tracker.js" data-project="{project}" data-token="{token}" {attrs}></script>
</head><body>
<a id="pricing" href="/pricing">Pricing</a>
<button id="cta" data-aa-experiment="cta" data-aa-variant-control="Sign up"
        data-aa-variant-green="Start free">Sign up</button>
<button id="buy" data-aa-event="signup" data-aa-event-plan="pro">Buy</button>
<button id="route" onclick="history.pushState({{}}, '', '/app/settings')">Settings</button>
<a id="out" href="https://elsewhere.example/">Away</a>
</body></html>"""


class Site:
    """A customer's site on its own origin: every path serves the same page, with the tracker snippet."""

    def __init__(self, lensgraph: str) -> None:
        self.lensgraph = lensgraph
        self.snippet: dict[str, str] = {"project": "default", "token": "", "attrs": "", "prefix": AA}
        self.server: TestServer | None = None

    async def start(self) -> str:
        async def page(request: web.Request) -> web.Response:
            html = PAGE.format(title=f"Page {request.path}", lensgraph=self.lensgraph, **self.snippet)
            return web.Response(text=html, content_type="text/html")

        app = web.Application()
        app.router.add_get("/{tail:.*}", page)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self.origin

    @property
    def origin(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"NO BROWSER: {CHROMIUM} is missing, so tracker.js is untested; `make test` installs "
                    "Debian's chromium (as root), or set CHROMIUM to a Chromium binary", pytrace=False)
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def site(api: Api) -> AsyncIterator[Site]:
    made = Site(str(api.client.make_url("")).rstrip("/"))
    await made.start()
    made.snippet["token"] = await project_token(api, "default")
    yield made
    assert made.server is not None
    await made.server.close()


async def project_token(api: Api, project: str) -> str:
    found = await api.get(f"{AA}/projects/{project}")
    return str(found["project_token"])


async def tracked(
    api: Api, count: int, project: str = "default", prefix: str = AA, **filters: str,
) -> list[dict[str, Any]]:
    """The project's events, oldest first, once at least `count` arrived (beacons are asynchronous)."""
    events: list[dict[str, Any]] = []
    for _ in range(200):
        events = (await api.get(f"{prefix}/events", project=project, limit="1000", **filters))["events"]
        if len(events) >= count:
            break
        await asyncio.sleep(0.05)
    return sorted(events, key=lambda e: (e["timestamp"], e["id"]))


# Events are ordered by their millisecond timestamps; a pause keeps two calls from sharing one.
PAUSE = "() => new Promise((done) => setTimeout(done, 5))"


async def visit(browser: Browser, url: str) -> tuple[BrowserContext, Page]:
    """A new visitor (fresh storage) opening a page, once the tracker has its experiment config."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_function("window.__lensgraphTracker && window.aa.getIdentity().anonymousId")
    await page.evaluate("new Promise((done) => window.aa.ready(done))")
    return context, page


async def test_page_views_events_and_identify_arrive_with_clean_urls(api: Api, site: Site, browser: Browser) -> None:
    context, page = await visit(browser, f"{site.origin}/landing?utm_source=newsletter&email=a%40b.example&x=1")
    anon = await page.evaluate("aa.getIdentity().anonymousId")
    assert anon.startswith("anon_")
    await page.click("#pricing")  # a full navigation: the first page's queue leaves by beacon on pagehide
    await page.wait_for_function("window.__lensgraphTracker && location.pathname === '/pricing'")
    await page.click("#buy")
    await page.evaluate(f"({PAUSE})().then(() => aa.identify('user-42'))")
    await page.evaluate(f"({PAUSE})().then(() => {{ aa.track('upgrade', {{seats: 3}}); aa.flush(); }})")
    events = await tracked(api, 5)
    assert [e["event"] for e in events] == ["page_view", "page_view", "signup", "$identify", "upgrade"]
    landing, pricing, signup, identify, upgrade = events
    assert landing["properties"]["url"] == f"{site.origin}/landing?utm_source=newsletter"  # email and x dropped
    assert (landing["properties"]["path"], landing["properties"]["page"]) == ("/landing", "Page /landing")
    assert pricing["properties"]["referrer"] == f"{site.origin}/landing"  # origin + path only
    assert pricing["properties"]["utm_source"] == "newsletter"  # kept for the whole session
    assert signup["properties"]["plan"] == "pro"
    assert [e["user_id"] for e in events] == [anon, anon, anon, "user-42", "user-42"]
    assert identify["properties"]["previous_id"] == anon
    assert upgrade["properties"]["seats"] == 3
    assert len({e["session_id"] for e in events}) == 1
    assert await context.cookies() == []  # no cookie unless data-cookie-domain asks for one
    await context.close()

    # What analytics slices arrived as columns, not only as properties.
    sources = await api.get(f"{AA}/breakdown", project="default", property="utm_source")
    assert sources["values"] == [{"value": "newsletter", "count": 5, "unique_users": 2}]
    devices = await api.get(f"{AA}/breakdown", project="default", property="device")
    assert [v["value"] for v in devices["values"]] == ["desktop"]
    browsers = await api.get(f"{AA}/breakdown", project="default", property="browser")
    assert "Chrome" in browsers["values"][0]["value"]
    pages = await api.get(f"{AA}/pages", project="default", type="entry")
    assert pages["entry_pages"][0]["page"] == "/landing"


async def test_spa_navigation_is_tracked_only_when_opted_in(api: Api, site: Site, browser: Browser) -> None:
    context, page = await visit(browser, f"{site.origin}/app")
    await page.click("#route")
    await page.evaluate("aa.flush()")
    await asyncio.sleep(0.3)
    await context.close()
    assert [e["properties"]["path"] for e in await tracked(api, 1)] == ["/app"]

    site.snippet["attrs"] = 'data-track-spa="true"'
    context, page = await visit(browser, f"{site.origin}/app")
    await page.click("#route")
    await page.evaluate("history.back()")
    await page.wait_for_function("location.pathname === '/app'")
    await page.evaluate("aa.flush()")
    paths = [e["properties"]["path"] for e in await tracked(api, 4)]
    await context.close()
    assert paths == ["/app", "/app", "/app/settings", "/app"]


async def test_do_not_track_is_honoured_when_the_site_opts_in(api: Api, site: Site, browser: Browser) -> None:
    site.snippet["attrs"] = 'data-do-not-track="true"'
    context = await browser.new_context()
    await context.add_init_script("Object.defineProperty(navigator, 'doNotTrack', {get: () => '1'})")
    page = await context.new_page()
    await page.goto(f"{site.origin}/private")
    await page.evaluate("aa.track('ignored'); aa.flush()")
    # The same visitor without the site's opt-in is tracked: proof the page and the tracker did run.
    site.snippet["attrs"] = ""
    await page.goto(f"{site.origin}/public")
    await page.wait_for_function("window.__lensgraphTracker")
    await page.evaluate("aa.flush()")
    events = await tracked(api, 1)
    await context.close()
    assert [(e["event"], e["properties"]["path"]) for e in events] == [("page_view", "/public")]


async def test_experiment_assignment_exposure_and_results(api: Api, site: Site, browser: Browser) -> None:
    made = await api.client.post(f"{AA}/experiments", json={
        "project": "default", "name": "cta", "variants": ["control", "green"], "goal_event": "signup"})
    experiment = await made.json()
    assert made.status == 201, experiment
    seen: dict[str, str] = {}
    converted: set[str] = set()
    for visitor in range(10):
        context, page = await visit(browser, f"{site.origin}/")
        anon = await page.evaluate("aa.getIdentity().anonymousId")
        variant = await page.evaluate("aa.experiment('cta')")
        assert variant == assign("cta", anon, [("control", 50), ("green", 50)])  # the server's rule
        label = {"control": "Sign up", "green": "Start free"}[variant]
        assert await page.text_content("#cta") == label
        assert "aa-loading" not in (await page.get_attribute("html", "class") or "")
        if visitor % 3 == 0:
            await page.click("#buy")
            converted.add(anon)
        await page.reload()  # a second view: the same variant, and no second exposure
        await page.wait_for_function("window.aa.getIdentity().anonymousId")
        await page.evaluate("new Promise((done) => window.aa.ready(done))")
        assert await page.evaluate("aa.experiment('cta')") == variant
        # Identifying keeps this device's variant (the rule would hash the new id) and sends no exposure.
        await page.evaluate(f"aa.identify('customer-{visitor}')")
        assert await page.evaluate("aa.experiment('cta')") == variant
        await page.evaluate("aa.flush()")
        seen[anon] = variant
        await context.close()

    exposures = await tracked(api, 10, event="$experiment_exposure")
    assert sorted((e["user_id"], e["properties"]["variant"]) for e in exposures) == sorted(seen.items())
    await tracked(api, 20, event="page_view")
    await tracked(api, len(converted), event="signup")
    results = await api.get(f"{AA}/experiments/{experiment['id']}")
    by_variant = {v["key"]: v for v in results["results"]["variants"]}
    for key in ("control", "green"):
        members = [a for a, v in seen.items() if v == key]
        assert by_variant[key]["unique_users"] == len(members), results
        assert by_variant[key]["conversions"] == len([a for a in members if a in converted]), results

    # Paused: no new assignment, no exposure; the button keeps the page's own text.
    paused = await api.client.patch(f"{AA}/experiments/{experiment['id']}", json={"status": "paused"})
    assert paused.status == 200
    context, page = await visit(browser, f"{site.origin}/")
    assert await page.evaluate("aa.experiment('cta')") is None
    assert await page.text_content("#cta") == "Sign up"
    await page.evaluate("aa.flush()")
    await tracked(api, 21, event="page_view")
    await context.close()
    assert len(await tracked(api, 0, event="$experiment_exposure")) == 10


async def test_events_from_an_origin_the_project_refuses_are_not_stored(
    api: Api, site: Site, browser: Browser,
) -> None:
    made = await api.client.post(f"{AA}/projects", json={"name": "shop", "allowed_origins": ["https://shop.example"]})
    assert made.status == 201, await made.text()
    site.snippet.update(project="shop", token=(await made.json())["project_token"])
    context = await browser.new_context()
    page = await context.new_page()
    refused: list[int] = []
    page.on("response", lambda r: refused.append(r.status) if "/experiments/config" in r.url else None)
    await page.goto(f"{site.origin}/")
    await page.evaluate("new Promise((done) => window.aa.ready(done))")
    await page.evaluate("aa.track('signup'); aa.flush()")
    await asyncio.sleep(0.5)
    await context.close()
    assert refused == [403]
    assert (await api.get(f"{AA}/events", project="shop"))["events"] == []


async def test_the_tracker_posts_to_the_prefix_it_was_loaded_from(make_api: ApiFactory, browser: Browser) -> None:
    api = await make_api(prefix_agent_analytics="/analytics/v2")
    site = Site(str(api.client.make_url("")).rstrip("/"))
    site.snippet["prefix"] = "/analytics/v2"
    await site.start()
    site.snippet["token"] = str((await api.get("/analytics/v2/projects/default"))["project_token"])
    context, page = await visit(browser, f"{site.origin}/moved")
    await page.evaluate("aa.flush()")
    events = await tracked(api, 1, prefix="/analytics/v2")
    await context.close()
    assert site.server is not None
    await site.server.close()
    assert [(e["event"], e["properties"]["path"]) for e in events] == [("page_view", "/moved")]


async def test_the_script_is_minified_gzipped_and_cached(api: Api) -> None:
    resp = await api.client.get(f"{AA}/tracker.js", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert resp.status == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.content_type == "application/javascript"
    body = gzip.decompress(await resp.read())
    assert b"/track/batch" in body and b"Math.imul" in body
    assert b"The server minifies" not in body  # comments are gone
    assert len(await resp.read()) < 4096, "tracker.js should stay under 4 KiB gzipped"
    cached = await api.client.get(f"{AA}/tracker.js", headers={"If-None-Match": resp.headers["ETag"]})
    assert cached.status == 304
    plain = await api.client.get(f"{AA}/tracker.js", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert await plain.read() == body

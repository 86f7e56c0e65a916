"""The published OpenAPI documents against the live server, so they cannot drift from the code.

Every documented example request is sent; its answer must have the status the example
names, a status the document lists for the operation, and a body valid against the schema
the document gives for that status (the answer types are closed: a field the code adds but
the type does not name fails here). No route may be served under a family without a document.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec

from graph.app.factory import create_app, families
from graph.app.settings import Settings
from graph.rest.lensai.spec import MISSING
from graph.rest.openapi import EVENT_STREAM, Spec
from tests.conftest import Api

MOUNTED = families(Settings())
SPECS = {spec.slug: (prefix, spec) for prefix, spec in ((p, f.spec) for p, f in MOUNTED)}
# Served at the root but by no family: GraphQL, operations, the reference itself, and the
# root /stream (the GraphQL eventAdded subscription over SSE, beside the families).
NOT_FAMILY = {
    ("GET", "/"), ("GET", "/graphql"), ("POST", "/graphql"), ("GET", "/graphql-ide/{name}"), ("GET", "/healthz"),
    ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/stream"), ("GET", "/openapi.json"), ("GET", "/docs"),
    ("GET", "/docs/assets/{name}"),
    *(("GET", f"/openapi/{slug}.json") for slug in SPECS),
    *(("GET", prefix.rstrip("/") + "/openapi.json") for prefix, _ in SPECS.values() if prefix != "/"),
}


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    # The document's "#/components/schemas/..." refs resolve against the root we build here.
    return Draft202012Validator({**schema, "components": doc["components"]})


def _url(prefix: str, path: str, values: dict[str, str]) -> str:
    filled = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    return prefix.rstrip("/") + filled


async def _document(api: Api, slug: str) -> dict[str, Any]:
    prefix, _ = SPECS[slug]
    # A family mounted at "/" shares /openapi.json with the combined document; /openapi/{slug}.json is always its own.
    own = await api.get(f"/openapi/{slug}.json")
    if prefix != "/":
        assert await api.get(prefix.rstrip("/") + "/openapi.json") == own
    return own


@pytest.mark.parametrize("slug", sorted(SPECS))
async def test_every_example_answers_as_documented(api: Api, slug: str) -> None:
    prefix, spec = SPECS[slug]
    doc = await _document(api, slug)
    validate_spec(doc)
    checked = 0
    for op in spec.operations:
        documented = doc["paths"][op.path][op.method.lower()]
        assert op.examples, f"{op.method} {op.path} has no example request"
        for example in op.examples:
            where = f"{op.method} {prefix}{op.path} ({example.name})"
            url = _url(prefix, op.path, dict(example.path))
            kwargs: dict[str, Any] = {"params": dict(example.query)}
            if example.body is not None:
                kwargs["json"] = example.body
            async with api.client.request(op.method, url, **kwargs) as resp:
                assert resp.status == example.status, f"{where}: {resp.status} {await resp.text()}"
                answer = documented["responses"].get(str(resp.status))
                assert answer is not None, f"{where}: status {resp.status} is not documented"
                if op.media == EVENT_STREAM and resp.status < 300:
                    assert resp.content_type == EVENT_STREAM, where
                    continue  # a live stream: its headers are the answer; closing ends it
                if resp.content_type != "application/json" and resp.status < 300:
                    assert resp.content_type in answer["content"], f"{where}: {resp.content_type} is not documented"
                    assert await resp.text(), where
                    continue  # text in a documented type (a CSV export): its schema is a string
                assert resp.content_type == "application/json", where
                body = await resp.json()
            schema = answer["content"]["application/json"]["schema"]
            errors = sorted(_validator(doc, schema).iter_errors(body), key=str)
            assert not errors, f"{where}: {errors[0].message} at {list(errors[0].absolute_path)}"
            if resp.status >= 400:  # a message in the family's shape: {"error": ...}, seed 000's {code, message...}
                # or seed 001's {"status": "error", "error": {"code", "message"}}
                message = body.get("error") or body.get("message") if isinstance(body, dict) else None
                if isinstance(message, dict):
                    message = message.get("message")
                assert isinstance(message, str) and message, where
            checked += 1
    assert checked >= len(spec.operations) - 1


@pytest.mark.parametrize("slug", sorted(SPECS))
async def test_documented_examples_match_request_schemas(api: Api, slug: str) -> None:
    """The request bodies the document shows as examples validate against its own schema;
    the failing examples are the ones the server refuses."""
    _, spec = SPECS[slug]
    doc = await _document(api, slug)
    for op in spec.operations:
        body = doc["paths"][op.path][op.method.lower()].get("requestBody")
        if body is None:
            assert all(ex.body is None for ex in op.examples), f"{op.path}: example body for a route without one"
            continue
        content = body["content"]["application/json"]
        validator = _validator(doc, content["schema"])
        for example in op.examples:
            if 200 <= example.status < 300:
                assert validator.is_valid(example.body), f"{op.path} {example.name}"
                assert content["examples"][example.name]["value"] == example.body


def _probes(schema: dict[str, Any]) -> tuple[str | None, str | None]:
    """A value the parameter's schema allows and one it refuses, for the constraints the server enforces by
    refusing (limits are clamped instead, so their maximum is not probed)."""
    if "pattern" in schema:
        good = schema.get("examples", [MISSING])[0]  # a comma list's example, or a well-formed short id
        return good, "!"
    if schema.get("format") == "date-time":
        return "2025-01-01T00:00:00Z", "last tuesday"
    if "maxLength" in schema:
        return None, "x" * (schema["maxLength"] + 1)
    return None, None


@pytest.mark.parametrize("slug", sorted(SPECS))
async def test_documented_query_constraints_are_the_servers(api: Api, slug: str) -> None:
    """What a list's query parameters are documented to take is what the server takes: a value the schema
    allows is answered (200), one it refuses gets a 400 naming the parameter. Offsets past the documented
    maximum are refused too."""
    prefix, spec = SPECS[slug]
    doc = await _document(api, slug)
    probed = 0
    for op in spec.operations:
        base = next((ex for ex in op.examples if ex.status == 200 and not ex.path and ex.body is None), None)
        if op.method != "GET" or base is None or op.media == EVENT_STREAM:
            continue
        for param in doc["paths"][op.path]["get"].get("parameters", []):
            if param["in"] != "query":
                continue
            schema = param["schema"]
            good, bad = _probes(schema)
            if param["name"] == "offset":
                good, bad = str(schema["maximum"]), str(schema["maximum"] + 1)
            validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
            url = _url(prefix, op.path, {})
            where = f"GET {url} {param['name']}"
            if good is not None:
                assert validator.is_valid(int(good) if schema.get("type") == "integer" else good), where
                resp = await api.client.get(url, params={**base.query, param["name"]: good})
                assert resp.status == 200, f"{where}={good!r}: {resp.status} {await resp.text()}"
            if bad is not None:
                assert not validator.is_valid(int(bad) if schema.get("type") == "integer" else bad), where
                resp = await api.client.get(url, params={**base.query, param["name"]: bad})
                assert resp.status == 400, f"{where}={bad!r}: {resp.status} {await resp.text()}"
                text = await resp.text()  # seed 000 answers a malformed id with its documented bare "Invalid ID"
                assert param["name"] in text or (slug == "lensai" and '"code":"Invalid ID"' in text), f"{where}: {text}"
                probed += 1
    assert probed, f"{slug}: no constrained query parameter was probed"


async def test_seed_000_creates_document_the_fields_they_require(api: Api) -> None:
    """A create's documented body requires what the server requires: an empty body is refused exactly where
    the schema refuses it, naming the missing field, and a body with just the required fields is created."""
    doc = await _document(api, "lensai")
    required_seen = set()
    for path, item in doc["paths"].items():
        if "post" not in item or "{" in path:
            continue
        schema = item["post"]["requestBody"]["content"]["application/json"]["schema"]
        validator = _validator(doc, schema)
        resolved = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        required = resolved.get("required", [])
        required_seen.update(required)
        prefix = SPECS["lensai"][0].rstrip("/")
        resp = await api.client.post(prefix + path, json={})
        text = await resp.text()
        if validator.is_valid({}):
            assert resp.status == 201, f"POST {path} {{}}: {resp.status} {text}"
        else:
            assert resp.status == 400 and f"{required[0]}: is required" in text, f"POST {path} {{}}: {text}"
        minimal = {name: {"amount": "12.5"}.get(name, "minimal") for name in required}
        assert validator.is_valid(minimal), path
        created = await api.client.post(prefix + path, json=minimal)
        assert created.status == 201, f"POST {path} {minimal}: {await created.text()}"
        assert {k: (await created.json())[k] for k in minimal} == minimal
    assert required_seen == {"amount", "name"}


async def test_agent_analytics_answers_carry_typed_values(api: Api) -> None:
    """Values, not only shapes: the documented create/find-again sequence on projects."""
    created = await api.client.post("/agent-analytics/projects", json={"name": "typed"})
    assert created.status == 201
    body = await created.json()
    assert body["existing"] is False and body["api_key"] and body["name"] == "typed"
    again = await (await api.client.post("/agent-analytics/projects", json={"name": "typed"})).json()
    assert again["existing"] is True
    assert again["id"] == body["id"] and "api_key" not in again


async def test_combined_document_covers_every_family_route(api: Api) -> None:
    combined = await api.get("/openapi.json")
    validate_spec(combined)
    documented = {(method.upper(), path) for path, item in combined["paths"].items() for method in item}
    expected = {(op.method, prefix.rstrip("/") + op.path) for prefix, spec in SPECS.values() for op in spec.operations}
    assert documented == expected
    served = {
        (route.method, route.resource.canonical)
        for route in create_app(Settings()).router.routes()
        if route.method not in ("HEAD", "OPTIONS") and route.resource is not None
    }
    undocumented = served - documented - NOT_FAMILY
    assert not undocumented, f"routes without an OpenAPI operation: {sorted(undocumented)}"
    # Each family's components keep their own names in the combined document.
    assert {"agentlens.EventOut", "agentlens_server.EventOut", "agent_analytics.ErrorOut"} <= set(
        combined["components"]["schemas"]
    )


def test_family_routes_come_from_its_operations() -> None:
    for _, spec in SPECS.values():
        assert isinstance(spec, Spec)
        routes = [(r.method, r.path, r.handler) for r in spec.routes()]  # type: ignore[attr-defined]
        assert routes == [(op.method, op.path, op.handler) for op in spec.operations]


async def test_reference_page_uses_only_local_assets(api: Api) -> None:
    resp = await api.client.get("/docs")
    assert resp.status == 200 and resp.content_type == "text/html"
    html = await resp.text()
    assert "http://" not in html and "https://" not in html
    links = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert links and all(link.startswith("/docs/assets/") for link in links), links
    for link in links:
        asset = await api.client.get(link)
        assert asset.status == 200, link
        assert len(await asset.read()) > 100
    for url in re.findall(r'"url":\s*"([^"]+)"', html):
        assert (await api.get(url))["openapi"] == "3.1.0"
    assert (await api.client.get("/docs/assets/..%2F__init__.py")).status == 404
    assert (await api.client.get("/docs/assets/index.html")).status == 404

"""OpenAPI 3.1 documents built from the same types that validate requests and shape answers.

Each family lists its operations once (an `Operation` per route, with its handler); the
family's routes are derived from that list, so no route exists without its document, and the
request bodies and answers are described by the pydantic models and TypedDicts the handlers
use (mypy holds the handlers to the TypedDicts; pydantic turns both into JSON Schema).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from graph.rest.auth import PUBLIC
from graph.rest.http import Handler
from resolvers.core.bounds import MAX_OFFSET

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"
JSON = "application/json"
EVENT_STREAM = "text/event-stream"
_UNSET: Any = object()

# Every operation may answer these, whatever it declares: the middlewares produce them.
RATE_LIMITED = "Too many requests in the current window; Retry-After says when to try again"
UNAUTHORIZED = "No valid credential for this route"
BAD_REQUEST = "The request is malformed or a field is invalid; the body names what is wrong"
TOO_LARGE = "The body exceeds the server's size limit"
NO_PROJECT = "No such project, or not one the caller may use"

# The offset every family's pages take (graph/rest/http.query_int refuses more than MAX_OFFSET).
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    where: Literal["query", "path", "header"]
    description: str
    type: Any = str
    required: bool = False
    default: Any = _UNSET
    enum: tuple[str, ...] = ()  # for comma-list parameters: the values each item may take
    names_project: bool = False  # the operation answers 404 when it names no project the caller may use


@dataclass(frozen=True, slots=True)
class Example:
    """A request the test suite sends to the live server; its answer must match the document."""

    name: str
    status: int
    body: Any = None
    query: Mapping[str, str] = field(default_factory=dict)
    path: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str  # relative to the family's prefix, in aiohttp's {name} syntax (also OpenAPI's)
    handler: Handler
    summary: str
    answers: Mapping[int, tuple[Any, str]]  # status -> (answer type, or None for no schema; description)
    body: Any = None  # the request body's type
    params: tuple[Param, ...] = ()
    errors: Mapping[int, str] = field(default_factory=dict)  # status -> when, beyond the common ones
    examples: tuple[Example, ...] = ()
    media: str = JSON  # of the answers in `answers`
    also_media: tuple[str, ...] = ()  # other types a success answer may take (text, chosen by a parameter)
    security: tuple[str, ...] | None = None  # scheme names, any of; None: public or the family's default
    description: str = ""

    @property
    def operation_id(self) -> str:
        return self.handler.__name__.strip("_")

    def is_public(self) -> bool:
        return getattr(self.handler, "auth", None) == PUBLIC


@dataclass(frozen=True, slots=True)
class Spec:
    """One family's published API: what its document says and which routes it serves."""

    slug: str  # names the family in the combined document and in /openapi/{slug}.json
    title: str
    version: str
    description: str
    error: Any  # the type of the family's error body
    schemes: Mapping[str, dict[str, Any]]  # OpenAPI securitySchemes
    default_security: tuple[str, ...]  # schemes of routes without their own marker
    operations: tuple[Operation, ...]

    def routes(self) -> list[web.RouteDef]:
        return [web.route(op.method, op.path, op.handler) for op in self.operations]

    def document(self, prefix: str = "/") -> dict[str, Any]:
        return build_document(self, prefix)


def _security(spec: Spec, op: Operation) -> list[dict[str, list[str]]]:
    if op.security is not None:
        names = op.security
    elif op.is_public():
        names = ()
    else:
        names = spec.default_security
    return [{name: []} for name in names]


def _parameter(param: Param, schema: dict[str, Any]) -> dict[str, Any]:
    if param.enum:
        # At least one value; items split on commas, blanks around them and empty items ignored, as every
        # family reads such a list (http.query_list; seed 001's also refuses a list without a value).
        value = "(?:" + "|".join(re.escape(v) for v in param.enum) + ")"
        schema = {"type": "string", "description": "one or more of these, comma-separated",
                  "pattern": rf"^[\s,]*{value}(?:\s*,[\s,]*{value})*[\s,]*$", "examples": [",".join(param.enum[:2])]}
    if param.default is not _UNSET:
        schema = {**schema, "default": param.default}
    return {
        "name": param.name,
        "in": param.where,
        "description": param.description + (f" (each one of: {', '.join(param.enum)})" if param.enum else ""),
        "required": param.required or param.where == "path",
        "schema": schema,
    }


class _Schemas:
    """Collects every type an operation names and turns them into components in one pass,
    so shared types (an event inside a list and a detail) become one component."""

    def __init__(self) -> None:
        self.wanted: dict[tuple[int, JsonSchemaMode], tuple[Any, JsonSchemaMode]] = {}

    def want(self, tp: Any, mode: JsonSchemaMode) -> tuple[int, JsonSchemaMode]:
        key = (id(tp), mode)
        self.wanted[key] = (tp, mode)
        return key

    def build(self) -> tuple[dict[tuple[int, JsonSchemaMode], dict[str, Any]], dict[str, Any]]:
        inputs = [(key, mode, TypeAdapter(tp)) for key, (tp, mode) in self.wanted.items()]
        refs, defs = TypeAdapter.json_schemas(inputs, ref_template=REF)
        return {key: schema for (key, _), schema in refs.items()}, defs.get("$defs", {})


def build_document(spec: Spec, prefix: str = "/") -> dict[str, Any]:
    """The family's OpenAPI 3.1 document, with paths relative to `prefix` (given as its server)."""
    schemas = _Schemas()
    error_key = schemas.want(spec.error, "serialization")
    pending: list[tuple[Operation, Any, dict[int, Any], list[tuple[Param, Any]]]] = []
    for op in spec.operations:
        body_key = schemas.want(op.body, "validation") if op.body is not None else None
        answer_keys = {status: schemas.want(tp, "serialization") for status, (tp, _) in op.answers.items()
                       if tp is not None}
        param_keys = [(p, None if p.enum else schemas.want(p.type, "validation")) for p in op.params]
        pending.append((op, body_key, answer_keys, param_keys))
    refs, components = schemas.build()

    paths: dict[str, dict[str, Any]] = {}
    for op, body_key, answer_keys, param_keys in pending:
        responses: dict[str, Any] = {}
        for status, (_, description) in sorted(op.answers.items()):
            answer: dict[str, Any] = {"description": description}
            if status in answer_keys:
                answer["content"] = {op.media: {"schema": refs[answer_keys[status]]}}
            elif op.media != JSON:
                answer["content"] = {op.media: {"schema": {"type": "string"}}}
            if 200 <= status < 300 and op.also_media:
                answer.setdefault("content", {}).update({m: {"schema": {"type": "string"}} for m in op.also_media})
            responses[str(status)] = answer
        security = _security(spec, op)
        errors = dict(op.errors)
        if op.body is not None or op.params:
            errors.setdefault(400, BAD_REQUEST)
        if op.body is not None:
            errors.setdefault(413, TOO_LARGE)
        if any(p.names_project for p in op.params):
            errors.setdefault(404, NO_PROJECT)
        if security:
            errors.setdefault(401, UNAUTHORIZED)
        errors.setdefault(429, RATE_LIMITED)
        for status, description in sorted(errors.items()):
            responses[str(status)] = {"description": description, "content": {JSON: {"schema": refs[error_key]}}}
        entry: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [spec.slug],
            "responses": responses,
            "security": security,
        }
        if op.description:
            entry["description"] = op.description
        if param_keys:
            entry["parameters"] = [_parameter(p, refs[key] if key else {}) for p, key in param_keys]
        if body_key is not None:
            content: dict[str, Any] = {"schema": refs[body_key]}
            bodies = [ex for ex in op.examples if ex.body is not None and 200 <= ex.status < 300]
            if bodies:
                content["examples"] = {ex.name: {"value": ex.body} for ex in bodies}
            entry["requestBody"] = {"required": True, "content": {JSON: content}}
        paths.setdefault(op.path, {})[op.method.lower()] = entry

    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": spec.title, "version": spec.version, "description": spec.description},
        "servers": [{"url": prefix}],
        "tags": [{"name": spec.slug, "description": spec.title}],
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": dict(spec.schemes)},
    }


def combine(mounted: list[tuple[str, Spec]], title: str, version: str) -> dict[str, Any]:
    """One document for every family: paths under their prefixes, components named per family
    (two seeds each have their own "EventOut")."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    schemes: dict[str, Any] = {}
    tags: list[dict[str, str]] = []
    for prefix, spec in mounted:
        doc = _renamed(spec.document(prefix), f"{spec.slug}.")
        base = prefix.rstrip("/")
        for path, item in doc["paths"].items():
            for entry in item.values():  # operation ids must be unique across the whole document
                entry["operationId"] = f"{spec.slug}.{entry['operationId']}"
            paths[base + path] = item
        schemas.update(doc["components"]["schemas"])
        schemes.update(doc["components"]["securitySchemes"])
        tags.extend(doc["tags"])
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version,
                 "description": "Every REST family this server speaks, each under its prefix."},
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": schemas, "securitySchemes": schemes},
    }


def _renamed(doc: dict[str, Any], prefix: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    base = REF.removesuffix("{model}")

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (base + prefix + v.removeprefix(base) if k == "$ref" and isinstance(v, str) else walk(v))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    doc = walk(doc)
    doc["components"]["schemas"] = {prefix + name: s for name, s in doc["components"]["schemas"].items()}
    return doc

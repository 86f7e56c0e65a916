"""Seed 001, the LENS API, under /api/lens: anomalies (list, details, acknowledge, dismiss), detection rules
(list, details, create, update), generated reports and the assistant's question usage.

Authorization: Bearer with an account key (`lga_...`), a project key (`lg_...`) or the admin key. The seed's
`account_id` names the project acted on (its id or name; an account key may name its own account's id for its
oldest project); without it, the key's own project (an account's oldest, the admin's default). GET /anomalies
requires it, as the seed says. Lists take `limit` (default 50, at most 1000) and `offset` and answer a
`pagination` block. Each route group has the seed's per-minute budget, with X-RateLimit-* headers on every
answer. POST /chat answers from the project's data (resolvers/assistant); when the optional language model
worded the answer's text, the X-LENS-Phrased-By header names the model, and X-LENS-Question-Rewritten-By
when it put a question the parser refused in its words (the seed's answer has no field for either).
/webhooks manages the project's webhook endpoints (graph/rest/lens/webhooks.py; the README's Webhooks
section). Not served yet: scheduled reports.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from graph.rest.http import query_int, read_body, read_json
from graph.rest.keys import PRINCIPAL, SERVICES
from graph.rest.lens.wire import (
    acknowledged,
    anomaly_detail,
    anomaly_summary,
    chat_json,
    chat_usage_json,
    dismissed,
    invalid_question,
    ok,
    question_limit,
    report_json,
    rule_created,
    rule_detail,
    rule_summary,
    usage_json,
)
from resolvers.anomalies import service
from resolvers.anomalies.rules import parse
from resolvers.anomalies.service import DismissIn, NoteIn
from resolvers.assistant import service as assistant
from resolvers.assistant.questions import Unanswerable
from resolvers.core.errors import InputError, Problem
from storage.contract import Page
from storage.models import Project
from storage.timeutil import now_ms

DEFAULT_LIMIT, MAX_LIMIT = 50, 1000
PHRASED_BY = "X-LENS-Phrased-By"
REWRITTEN_BY = "X-LENS-Question-Rewritten-By"


async def _project(request: web.Request, account_id: Any = None, *, required: bool = False) -> Project:
    if account_id is None:
        account_id = request.query.get("account_id")
    if account_id is None and required:
        raise InputError(Problem("account_id", "is required: the account (project id or name) to query"))
    if account_id is not None and not isinstance(account_id, str):
        raise InputError(Problem("account_id", "a string: a project id or name"))
    return await service.project_for(request.config_dict[SERVICES], request[PRINCIPAL], account_id)


def _page(request: web.Request) -> Page:
    return Page(limit=query_int(request, "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT),
                offset=query_int(request, "offset", 0))


def _pagination(total: int, page: Page) -> dict[str, int]:
    return {"total": total, "limit": page.limit, "offset": page.offset}


async def _body(request: web.Request, *, required: bool) -> dict[str, Any]:
    """The JSON object a POST or PATCH sends; an empty body is {} where the seed's fields are all optional."""
    if not required and not await read_body(request):
        return {}
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(reason="Content-Type must be application/json")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InputError(Problem("body", "must be a JSON object"))
    return body


def _bool(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise InputError(Problem(name, "true or false"))
    return raw == "true"


# -- the assistant --------------------------------------------------------------------------------------------


async def chat(request: web.Request) -> web.Response:
    body = await _body(request, required=True)
    project = await _project(request, body.get("account_id"), required=True)
    principal = request[PRINCIPAL]
    try:
        found = await assistant.ask(request.config_dict[SERVICES], project, service.actor(principal), body, now_ms())
    except Unanswerable as exc:
        return invalid_question(exc)
    except assistant.QuestionLimitExceeded as exc:
        return question_limit(exc.usage)
    resp = ok(chat_json(found), usage=chat_usage_json(found.usage))
    # the seed's answer has no field for them: headers say a model worded the text or reworded the question
    if found.phrased_by:
        resp.headers[PHRASED_BY] = found.phrased_by
    if found.rewritten_by:
        resp.headers[REWRITTEN_BY] = found.rewritten_by
    return resp


# -- anomalies ------------------------------------------------------------------------------------------------


async def list_anomalies(request: web.Request) -> web.Response:
    project = await _project(request, required=True)
    q = request.query
    query = service.anomaly_query(date_range=q.get("date_range"), severity=q.get("severity"),
                                  status=q.get("status"), rule_id=q.get("rule_id"), now=now_ms())
    page = _page(request)
    found = await service.list_anomalies(request.config_dict[SERVICES], project, query, page)
    return ok([anomaly_summary(a) for a in found.items], pagination=_pagination(found.total, page))


async def get_anomaly(request: web.Request) -> web.Response:
    project = await _project(request)
    found = await service.get_anomaly(request.config_dict[SERVICES], project, request.match_info["anomaly_id"])
    return ok(anomaly_detail(found))


async def acknowledge_anomaly(request: web.Request) -> web.Response:
    body: NoteIn = parse(NoteIn, await _body(request, required=False))
    project = await _project(request, body.account_id)
    changed = await service.acknowledge(request.config_dict[SERVICES], project, request.match_info["anomaly_id"],
                                        service.actor(request[PRINCIPAL]), body.note)
    return ok(acknowledged(changed))


async def dismiss_anomaly(request: web.Request) -> web.Response:
    body: DismissIn = parse(DismissIn, await _body(request, required=True))
    project = await _project(request, body.account_id)
    changed = await service.dismiss(request.config_dict[SERVICES], project, request.match_info["anomaly_id"],
                                    service.actor(request[PRINCIPAL]), body.reason, body.note)
    return ok(dismissed(changed))


# -- rules ----------------------------------------------------------------------------------------------------


async def list_rules(request: web.Request) -> web.Response:
    project = await _project(request)
    category = request.query.get("category") or None
    views = await service.list_rules(request.config_dict[SERVICES], project, category, _bool(request, "enabled"))
    return ok([rule_summary(v) for v in views])


async def get_rule(request: web.Request) -> web.Response:
    project = await _project(request)
    found = await service.get_rule(request.config_dict[SERVICES], project, request.match_info["rule_id"])
    return ok(rule_detail(found))


async def create_rule(request: web.Request) -> web.Response:
    body = await _body(request, required=True)
    project = await _project(request, body.get("account_id"))
    created = await service.create_rule(request.config_dict[SERVICES], project, body)
    return ok(rule_created(service.RuleView(created, None, 0)), 201)


async def update_rule(request: web.Request) -> web.Response:
    body = await _body(request, required=True)
    project = await _project(request, body.get("account_id"))
    changed = await service.update_rule(request.config_dict[SERVICES], project, request.match_info["rule_id"], body)
    return ok(rule_detail(changed))


# -- reports and usage ----------------------------------------------------------------------------------------


async def list_reports(request: web.Request) -> web.Response:
    project = await _project(request)
    page = _page(request)
    found = await service.list_reports(request.config_dict[SERVICES], project, page)
    return ok([report_json(r) for r in found.items], pagination=_pagination(found.total, page))


async def get_usage(request: web.Request) -> web.Response:
    project = await _project(request)
    return ok(usage_json(await service.usage(request.config_dict[SERVICES], project, now_ms())))

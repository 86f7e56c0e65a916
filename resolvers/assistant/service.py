"""POST /chat: a question about the project's data, answered from the analytics engine within the monthly
question limit, in a conversation. With a language model configured (resolvers/assistant/llm.py), the model
may word the answer's text, and put a question the parser refuses in its words; the figures, confidence and
follow-ups are the engine's all the same.

A conversation needs no server-side state: its id carries the last question's Intent (metric, period,
segments, breakdown) as JSON, base64url-encoded. Any process answers the next question, and nothing is kept
to expire. A client that edits it only asks another question of its own project, which it may do anyway:
the project comes from the key, and every value in it goes through the same checks as a question's.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from resolvers.analytics import engine
from resolvers.anomalies import periods as named_ranges
from resolvers.anomalies.service import Usage, usage
from resolvers.assistant.answer import Answer, answer
from resolvers.assistant.llm import phrased, rewritten
from resolvers.assistant.periods import Period
from resolvers.assistant.questions import LABELS, MAX_QUESTION, Intent, Unanswerable, parse, segments_in
from resolvers.core.errors import InputError, Problem
from resolvers.core.ids import new_id
from resolvers.core.services import Services
from resolvers.webhooks import service as webhooks
from storage.models import Project
from storage.models.analytics import AGENT, AnalyticsQuery, GroupBy, Ref

CONVERSATION = "conv_"
QUESTION_ANSWERED = "question.answered"
MAX_CONVERSATION = 4096
VOCABULARY_DAYS = 90  # agent and model names a question may use: those seen this recently
MAX_NAMES = 500


class ContextIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    date_range: str | None = None
    segments: list[str] | None = Field(default=None, max_length=10)


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    account_id: str
    question: str = Field(max_length=MAX_QUESTION * 4)  # a longer one is INVALID_QUESTION, said in words
    context: ContextIn | None = None
    conversation_id: str | None = Field(default=None, max_length=MAX_CONVERSATION)


class QuestionLimitExceeded(Exception):
    def __init__(self, spent: Usage) -> None:
        super().__init__("Monthly question limit reached")
        self.usage = spent


@dataclass(frozen=True)
class Chat:
    answer: Answer
    conversation_id: str
    usage: Usage
    phrased_by: str | None = None  # the model whose wording the answer's text is, if any
    rewritten_by: str | None = None  # the model that put the question in the parser's words, if one did


def _period_doc(p: Period) -> dict[str, Any]:
    return {k: (v.timestamp() if isinstance(v, datetime) else v) for k, v in asdict(p).items()}


def conversation_id(intent: Intent) -> str:
    state = {"metric": intent.metric, "period": _period_doc(intent.period), "segments": intent.segments,
             "breakdown": intent.breakdown}
    return CONVERSATION + base64.urlsafe_b64encode(orjson.dumps(state)).decode().rstrip("=")


def resume(raw: str) -> Intent:
    """The Intent a conversation id carries; InputError naming conversation_id if it carries none."""
    bad = InputError(Problem("conversation_id", "not a conversation this server started"))
    if not raw.startswith(CONVERSATION):
        raise bad
    text = raw[len(CONVERSATION):]
    try:
        state = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        p = state["period"]
        at = {k: datetime.fromtimestamp(float(p[k]), UTC) for k in ("start", "end", "previous_start", "previous_end")}
        period = Period(str(p["label"]), at["start"], at["end"], str(p["previous_label"]), at["previous_start"],
                        at["previous_end"])
        segments = tuple((str(f), str(v)) for f, v in state["segments"])
        metric, breakdown = state["metric"], state["breakdown"]
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise bad from None
    if metric not in LABELS or (breakdown is not None and not isinstance(breakdown, str)):
        raise bad
    engine.check_range(period.start, period.end, "conversation_id")
    return Intent(metric, period, segments, breakdown)


def _context_period(raw: str | None, now: datetime) -> Period | None:
    if raw is None:
        return None
    start, end = named_ranges.date_range(raw, now, "context.date_range")
    span = end - start
    before = f"the {span.days} days before" if not span % timedelta(days=1) else "the period before"
    return Period(raw.replace("_", " "), start, end, before, start - span, start)


async def _names(services: Services, project_id: str, now: datetime) -> tuple[dict[str, str], set[str]]:
    """The agents (by id and name, lower-cased) and models a question may name."""
    start = now - timedelta(days=VOCABULARY_DAYS)
    agents = await engine.aggregate(services, AnalyticsQuery(
        project_id, start, now + timedelta(days=1), "sessions", (AGENT,),
        (GroupBy(Ref("agent_id")), GroupBy(Ref("agent_name"))), limit=MAX_NAMES))
    models = await engine.aggregate(services, AnalyticsQuery(
        project_id, start, now + timedelta(days=1), "events", (AGENT,),
        (GroupBy(Ref("model")),), limit=MAX_NAMES))
    named: dict[str, str] = {}
    for r in agents:
        agent_id, name = r.keys
        if isinstance(agent_id, str):
            named[agent_id.lower()] = agent_id
            if isinstance(name, str) and len(name) >= 3:
                named.setdefault(name.lower(), agent_id)
    return named, {m for (m,) in (r.keys for r in models) if isinstance(m, str) and len(m) >= 2}


async def ask(services: Services, project: Project, user: str, raw: Any, now: datetime) -> Chat:
    try:
        body = ChatIn.model_validate(raw)
    except ValidationError as exc:
        raise InputError([Problem(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]) from None
    spent = await usage(services, project, now)
    if spent.remaining <= 0:
        raise QuestionLimitExceeded(spent)
    previous = resume(body.conversation_id) if body.conversation_id else None
    context = body.context or ContextIn()
    agents, models = await _names(services, project.id, now)
    phraser, rewritten_by = services.phraser, None

    def parsed(question: str) -> Intent:
        return parse(question, now, previous=previous, context_period=_context_period(context.date_range, now),
                     context_segments=segments_in(" ".join(context.segments or ()).lower(), agents, models),
                     agents=agents, models=models)

    try:
        intent = parsed(body.question)
    except Unanswerable as refused:
        # a model may put the question in the parser's words; the engine answers that, or the refusal stands
        if phraser is None or not body.question.strip() or len(body.question) > MAX_QUESTION:
            raise
        rewrite = await rewritten(phraser, body.question)
        if rewrite is None:
            raise
        try:
            # the model, not the asker, named what is answered: nothing counts as the question's own
            intent = replace(parsed(rewrite), explicit=frozenset())
        except Unanswerable:
            raise refused from None
        rewritten_by = phraser.model
    found = await answer(services, project.id, intent)
    phrased_by = None
    # a model may word the text; the figures, confidence and follow-ups stay the engine's
    if phraser is not None and (text := await phrased(phraser, body.question, found.text, found.metrics)):
        found, phrased_by = replace(found, text=text), phraser.model
    await services.store.anomalies.count_question(project.id, now.date().isoformat(), user)
    chat = Chat(found, conversation_id(intent), await usage(services, project, now), phrased_by, rewritten_by)
    # Each question answered is its own event: a fresh subject id.
    await webhooks.emit(services, project.id, QUESTION_ANSWERED, "q_" + new_id(), {
        "question": body.question, "answer": found.text, "conversation_id": chat.conversation_id,
        "metrics_referenced": found.metrics, "confidence": found.confidence, "follow_ups": found.follow_ups,
        "asked_by": user}, now)
    return chat


__all__ = ["Chat", "ChatIn", "QuestionLimitExceeded", "Unanswerable", "ask", "conversation_id", "resume"]

"""A realistic sample so a newcomer sees data at once: agents, tool and LLM calls, errors, and a
week of a small site's visitors (page views, signups, purchases) for the analytics reports."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from resolvers.analytics.context import referrer_domain
from resolvers.core.ids import new_id
from resolvers.core.services import Services
from resolvers.experiments.assignment import assign
from resolvers.experiments.service import EXPOSURE
from resolvers.traces.ingest import Incoming, ingest, ingest_typed
from storage.models import Event
from storage.models.experiments import Experiment, Variant
from storage.timeutil import iso_ms, now_ms

AGENTS = [
    ("research-agent", "Research Agent", ["web_search", "fetch_page", "summarize"]),
    ("support-bot", "Support Bot", ["lookup_order", "refund", "send_email"]),
    ("code-reviewer", "Code Reviewer", ["read_file", "run_tests", "post_comment"]),
]
MODELS = [("openai", "gpt-4o", 2.5e-6, 1e-5), ("anthropic", "claude-sonnet-4", 3e-6, 1.5e-5)]


def _session_events(rng: random.Random, index: int) -> list[dict[str, Any]]:
    agent_id, agent_name, tools = AGENTS[index % len(AGENTS)]
    session_id = f"demo-{agent_id}-{index:03d}"
    t = now_ms() - timedelta(hours=rng.randint(1, 72), minutes=rng.randint(0, 59))
    out: list[dict[str, Any]] = []

    def emit(event_type: str, payload: dict[str, Any], severity: str = "info") -> None:
        nonlocal t
        t += timedelta(milliseconds=rng.randint(50, 2500))
        out.append(
            {
                "sessionId": session_id,
                "agentId": agent_id,
                "eventType": event_type,
                "severity": severity,
                "payload": payload,
                "metadata": {"env": "demo"},
                "timestamp": iso_ms(t),
            }
        )

    emit("session_started", {"agentName": agent_name, "agentVersion": "1.4.2", "tags": ["demo", agent_id]})
    failed = False
    for step in range(rng.randint(2, 6)):
        provider, model, price_in, price_out = rng.choice(MODELS)
        call = f"llm-{index}-{step}"
        emit("llm_call", {"callId": call, "provider": provider, "model": model,
                          "messages": [{"role": "user", "content": f"step {step} of task {index}"}]})
        tokens_in, tokens_out = rng.randint(200, 4000), rng.randint(50, 800)
        emit("llm_response", {
            "callId": call, "provider": provider, "model": model,
            "completion": f"I will use {tools[step % len(tools)]}.", "finishReason": "tool_calls",
            "usage": {"inputTokens": tokens_in, "outputTokens": tokens_out, "totalTokens": tokens_in + tokens_out},
            "costUsd": round(tokens_in * price_in + tokens_out * price_out, 6),
            "latencyMs": rng.randint(300, 4000)})
        tool, tool_call = tools[step % len(tools)], f"tool-{index}-{step}"
        emit("tool_call", {"toolName": tool, "callId": tool_call, "arguments": {"query": f"item {step}"}})
        if rng.random() < 0.12:
            failed = True
            emit("tool_error", {"callId": tool_call, "toolName": tool, "error": "upstream timed out",
                                "errorCode": "ETIMEDOUT", "durationMs": 30000}, severity="error")
        else:
            emit("tool_response", {"callId": tool_call, "toolName": tool, "result": {"ok": True, "items": step + 1},
                                   "durationMs": rng.randint(20, 1500)})
    if index % 7 != 0:  # a few sessions stay active
        emit("session_ended", {"reason": "error" if failed and rng.random() < 0.5 else "completed",
                               "summary": f"task {index} done"})
    return out


PAGES = ["/", "/pricing", "/docs", "/blog/launch", "/signup"]
REFERRERS = [None, None, "https://www.google.com/", "https://news.ycombinator.com/", "https://twitter.com/x"]
DEVICES = [("desktop", "Chrome", "Windows"), ("desktop", "Firefox", "Linux"), ("mobile", "Mobile Safari", "iOS"),
           ("mobile", "Chrome Mobile", "Android"), ("tablet", "Mobile Safari", "iOS")]
COUNTRIES = ["US", "DE", "FR", "GB", "JP", "BR", "IN"]


# An A/B test running over the week: the green button lifts signups a little.
EXPERIMENT = "signup-cta"
ARMS = [("control", 50), ("green", 50)]
SIGNUP_ODDS = {"control": 0.3, "green": 0.4}


def _visit(rng: random.Random, index: int, project_id: str) -> list[Incoming]:
    """One visitor's session: page views, now and then a signup and a purchase; each is exposed to the
    experiment on their first page view, as tracker.js would do."""
    user = f"visitor-{rng.randrange(40):02d}"
    variant = assign(EXPERIMENT, user, ARMS)
    session_id = f"demo-visit-{index:03d}"
    t = now_ms() - timedelta(days=rng.randint(0, 6), hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
    referrer = rng.choice(REFERRERS)
    device, browser, os_name = rng.choice(DEVICES)
    country = rng.choice(COUNTRIES)
    names = ["page_view", EXPOSURE] + ["page_view"] * rng.randint(0, 3)
    if rng.random() < SIGNUP_ODDS[variant]:
        names.append("signup")
        if rng.random() < 0.4:
            names.append("purchase")
    out = []
    for name in names:
        t += timedelta(seconds=rng.randint(5, 90))
        path = "/signup" if name in ("signup", "purchase") else rng.choice(PAGES)
        props: dict[str, Any] = {"path": path, "url": f"https://shop.example{path}"}
        if name == EXPOSURE:
            props.update(experiment=EXPERIMENT, variant=variant)
        if name == "purchase":
            props["plan"] = rng.choice(["pro", "team"])
        out.append(Incoming(Event(
            project_id=project_id, id=new_id(), session_id=session_id, type=name, timestamp=t, received_at=t,
            payload=props, metadata={"source": "tracker"}, kind="tracker", user_id=user, url=props["url"], path=path,
            referrer=referrer, referrer_domain=referrer_domain(referrer), device=device, browser=browser, os=os_name,
            country=country,
        )))
    return out


async def load_demo(services: Services, project_id: str, sessions: int = 24, seed: int = 7, visits: int = 60) -> int:
    """Ingest the sample once; a second call finds it and stores nothing."""
    first = f"demo-{AGENTS[0][0]}-000"
    if await services.store.traces.sessions_by_ids(project_id, [first]):
        return 0
    rng = random.Random(seed)
    stored = 0
    for index in range(sessions):
        result = await ingest_typed(services, project_id, _session_events(rng, index))
        stored += len(result.inserted)
    started = now_ms() - timedelta(days=8)
    await services.store.experiments.create_experiment(Experiment(
        project_id=project_id, id=new_id(), name=EXPERIMENT, description="Green signup button (demo)",
        variants=[Variant(key=k, weight=w) for k, w in ARMS], goal_event="signup", created_at=started,
        updated_at=started,
    ))
    for index in range(visits):
        items = _visit(rng, index, project_id)
        stored += len((await ingest(services, project_id, items, kind="tracker")).inserted)
    return stored

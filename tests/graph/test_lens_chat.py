"""POST /api/lens/chat over real HTTP: answers from the project's tracked events, conversations that keep their
context, the seed's context block, the monthly question limit, and refusals that cost no question."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from resolvers.traces.planner import BatchPlanner
from storage.models import Event
from storage.timeutil import now_ms
from tests.conftest import Api
from tests.graph.test_lens_api import assert_error, lens

P = "default"


async def plant_visits(api: Api) -> None:
    """Today: 6 mobile sessions (3 converted) and 4 desktop ones (1 converted); nothing before."""
    at = now_ms().replace(hour=0, minute=30, second=0, microsecond=0)
    events = []
    for device, sessions, converted in (("mobile", 6, 3), ("desktop", 4, 1)):
        for i in range(sessions):
            common: dict[str, Any] = {"project_id": P, "session_id": f"{device}-{i}", "agent_id": None,
                                      "kind": "tracker", "user_id": f"u-{device}-{i}", "device": device,
                                      "received_at": at}
            events.append(Event(id=f"{device}-{i}-pv", type="page_view", timestamp=at, **common))
            if i < converted:
                events.append(Event(id=f"{device}-{i}-su", type="signup", timestamp=at + timedelta(minutes=1),
                                    **common))
    await api.store.inner.traces.commit_batch(P, events, BatchPlanner(P, kind="tracker"))


async def chat(api: Api, expect: int = 200, **body: Any) -> Any:
    return await lens(api, "POST", "/chat", expect, json={"account_id": P, **body})


async def test_answers_follow_ups_context_and_the_monthly_limit(make_api) -> None:
    api = await make_api(lens_questions_per_month=3)
    await plant_visits(api)

    first = await chat(api, question="What's the conversion rate on mobile in the last 7 days?")
    data = first["data"]
    assert data["answer"] == "Your conversion rate on mobile was 50.00% the last 7 days (no data the 7 days before)."
    assert data["metrics_referenced"] == [{"name": "conversion_rate_mobile", "value": 50.0, "change": None}]
    assert data["confidence"] == 0.7  # named metric and period, but only 6 sessions behind the number
    assert len(data["follow_ups"]) == 3 and data["conversation_id"].startswith("conv_")
    assert first["usage"] == {"questions_used": 1, "questions_limit": 3, "questions_remaining": 2}

    follow = await chat(api, question="and on desktop?", conversation_id=data["conversation_id"])
    assert follow["data"]["answer"] == (
        "Your conversion rate on desktop was 25.00% the last 7 days (no data the 7 days before).")

    framed = await chat(api, question="How many sessions?", context={"date_range": "last_7_days",
                                                                   "segments": ["mobile"]})
    assert framed["data"]["answer"] == "Your sessions on mobile were 6 last 7 days (none the 7 days before)."
    assert framed["usage"] == {"questions_used": 3, "questions_limit": 3, "questions_remaining": 0}

    over = assert_error(await chat(api, 429, question="How many sessions this week?"), "QUESTION_LIMIT_EXCEEDED")
    assert (over["message"], over["limit"], over["used"], over["overage_available"]) == (
        "Monthly question limit reached", 3, 3, False)
    assert over["resets_at"].endswith("-01T00:00:00Z")
    usage = (await lens(api, "GET", "/usage", 200))["data"]
    assert usage["questions"] == {"limit": 3, "used": 3, "remaining": 0}
    assert usage["by_user"] == [{"email": "admin", "count": 3}]  # dev mode: no key, acting as the admin


async def test_refusals_name_what_is_wrong_and_cost_no_question(make_api) -> None:
    api = await make_api()
    await plant_visits(api)
    vague = assert_error(await chat(api, 400, question="hello there"), "INVALID_QUESTION")
    assert vague["message"] == "Question is too vague or cannot be answered with available data"
    assert vague["suggestions"][0] == "Try being more specific about the time period"
    assert "longer than 1000" in assert_error(await chat(api, 400, question="x" * 1500), "INVALID_QUESTION")["message"]
    assert assert_error(await chat(api, 400, question=" "), "INVALID_QUESTION")["message"] == "The question is empty"
    split = assert_error(await chat(api, 400, question="bounce rate on mobile last week"), "INVALID_QUESTION")
    assert "cannot be split by device" in split["message"]
    assert_error(await chat(api, 400, question="sessions?", conversation_id="conv_!!not-base64"), "INVALID_REQUEST",
                 "conversation_id")
    assert_error(await chat(api, 400, question="sessions?", context={"date_range": "someday"}), "INVALID_REQUEST",
                 "context.date_range")
    assert_error(await chat(api, 400, question=7), "INVALID_REQUEST", "question")
    assert_error(await lens(api, "POST", "/chat", 400, json={"question": "sessions last week"}), "INVALID_REQUEST",
                 "account_id")
    resp = await api.client.post("/api/lens/chat", data="question=sessions", headers={"Content-Type": "text/plain"})
    assert resp.status == 415
    assert (await lens(api, "GET", "/usage", 200))["data"]["questions"]["used"] == 0

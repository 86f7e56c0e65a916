"""POST /api/lens/chat with the optional language model (settings assistant_llm_*): a real OpenAI-compatible
endpoint on 127.0.0.1 (tests/llm_fake.py) and the real server over HTTP on the real SQLite store. The model may
word the answer; a wording that states a number the engine did not give, and any failure, leave the engine's
text, and the question is answered all the same."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ValidationError

from graph.app.settings import Settings
from tests.conftest import Api, ApiFactory
from tests.graph.test_lens_chat import P, plant_visits
from tests.llm_fake import FakeLlm

QUESTION = "What's the conversion rate on mobile in the last 7 days?"
ENGINE = "Your conversion rate on mobile was 50.00% the last 7 days (no data the 7 days before)."
METRICS = [{"name": "conversion_rate_mobile", "value": 50.0, "change": None}]
KEY = "sk-test-0123456789abcdef"
PHRASED = "Over the last 7 days, 50% of your mobile sessions converted; there is no data for the 7 days before."


@pytest.fixture
async def llm() -> AsyncIterator[FakeLlm]:
    fake = await FakeLlm().start()
    yield fake
    await fake.stop()


async def with_llm(make_api: ApiFactory, llm: FakeLlm, **settings: Any) -> Api:
    api = await make_api(assistant_llm_base_url=llm.base_url + "/", assistant_llm_api_key=KEY, **settings)
    await plant_visits(api)
    return api


async def chat(api: Api, question: str = QUESTION) -> tuple[dict, str | None]:
    resp = await api.client.post("/api/lens/chat", json={"account_id": P, "question": question})
    body = await resp.json()
    assert resp.status == 200, body
    return body["data"], resp.headers.get("X-LENS-Phrased-By")


async def test_off_by_default_the_engine_words_the_answer(make_api: ApiFactory, llm: FakeLlm) -> None:
    api = await make_api()
    await plant_visits(api)
    data, phrased_by = await chat(api)
    assert (data["answer"], data["metrics_referenced"], phrased_by) == (ENGINE, METRICS, None)
    assert llm.asked == []


async def test_a_faithful_wording_is_the_answer_and_the_figures_stay_the_engines(
        make_api: ApiFactory, llm: FakeLlm, caplog: pytest.LogCaptureFixture) -> None:
    llm.content = PHRASED
    api = await with_llm(make_api, llm, assistant_llm_model="tiny-model")
    data, phrased_by = await chat(api)
    assert data["answer"] == PHRASED and phrased_by == "tiny-model"
    assert data["metrics_referenced"] == METRICS and data["confidence"] == 0.7 and len(data["follow_ups"]) == 3
    assert set(data) == {"answer", "conversation_id", "metrics_referenced", "confidence", "follow_ups"}  # the seed's

    (asked,) = llm.asked
    assert asked.headers["Authorization"] == f"Bearer {KEY}"
    assert asked.json["model"] == "tiny-model" and asked.json["temperature"] == 0
    system, user = asked.json["messages"]
    assert system["role"] == "system"
    assert "Do not add, remove, round, recompute or change any number" in system["content"]
    assert user["role"] == "user" and QUESTION in user["content"] and ENGINE in user["content"]
    assert "conversion_rate_mobile: value 50.0" in user["content"]
    assert KEY not in caplog.text

    # a follow-up in the same conversation is worded too, and keeps its context
    llm.content = "On desktop it was 25% over the last 7 days, with no data for the 7 days before."
    resp = await api.client.post("/api/lens/chat", json={"account_id": P, "question": "and on desktop?",
                                                          "conversation_id": data["conversation_id"]})
    follow = (await resp.json())["data"]
    assert follow["answer"] == llm.content
    assert follow["metrics_referenced"] == [{"name": "conversion_rate_desktop", "value": 25.0, "change": None}]


@pytest.mark.parametrize("invented", [
    "Your mobile conversion rate was 50% over the last 7 days, up 12% from the 7 days before.",
    "Your mobile conversion rate was 50.5% over the last 7 days.",  # a number changed
    "Your mobile conversion rate was 50% over the last 7 days, about 3k sessions.",
    "Your mobile conversion rate was 50% since 2026-01-15.",
    "Your mobile conversion rate was fifty percent, twice the 7 days before.",
    "How many of your mobile sessions converted over the last 7 days?",  # the referenced value left out
])
async def test_a_wording_that_invents_or_drops_a_number_is_not_used(make_api: ApiFactory, llm: FakeLlm, invented: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    llm.content = invented
    api = await with_llm(make_api, llm)
    with caplog.at_level(logging.WARNING, "lensgraph.assistant"):
        data, phrased_by = await chat(api)
    assert (data["answer"], data["metrics_referenced"], phrased_by) == (ENGINE, METRICS, None)
    assert len(llm.asked) == 1 and ("not in the answer" in caplog.text or "leaves out 50.0" in caplog.text)


@pytest.mark.parametrize(("reply", "reason"), [
    ({"status": 500}, "status 500"),
    ({"status": 401, "raw": b'{"error": {"message": "bad key"}}'}, "status 401"),
    ({"delay": 3.0}, "no answer within 0.5 s"),
    ({"raw": b"not json"}, "not a chat completion"),
    ({"raw": b'{"choices": []}'}, "not a chat completion"),
    ({"content": "   "}, "empty content"),
    ({"content": None}, "empty content"),
])
async def test_a_failing_model_leaves_the_engines_answer(make_api: ApiFactory, llm: FakeLlm, reply: dict,
                                                         reason: str, caplog: pytest.LogCaptureFixture) -> None:
    for name, v in reply.items():
        setattr(llm, name, v)
    api = await with_llm(make_api, llm, assistant_llm_timeout_seconds=0.5)
    with caplog.at_level(logging.WARNING, "lensgraph.assistant"):
        data, phrased_by = await chat(api)
    assert (data["answer"], data["metrics_referenced"], phrased_by) == (ENGINE, METRICS, None)
    assert len(llm.asked) == 1
    assert reason in caplog.text and KEY not in caplog.text
    used = (await (await api.client.get("/api/lens/usage")).json())["data"]["questions"]["used"]
    assert used == 1  # answered, so counted


async def test_a_model_that_is_down_leaves_the_engines_answer(make_api: ApiFactory, llm: FakeLlm) -> None:
    api = await with_llm(make_api, llm)
    await llm.stop()  # nothing listens at the base URL any more
    data, phrased_by = await chat(api)
    assert (data["answer"], phrased_by) == (ENGINE, None)


async def test_empty_and_overlong_questions_are_not_sent_to_the_model(make_api: ApiFactory, llm: FakeLlm) -> None:
    api = await with_llm(make_api, llm)
    for question in ("  ", "x" * 1500):
        resp = await api.client.post("/api/lens/chat", json={"account_id": P, "question": question})
        assert resp.status == 400 and (await resp.json())["error"]["code"] == "INVALID_QUESTION"
    assert llm.asked == []


def test_the_settings_take_an_http_url_and_keep_the_key_out_of_sight() -> None:
    s = Settings.from_env({"LENSGRAPH_ASSISTANT_LLM_BASE_URL": "https://api.example.com/v1/",
                           "LENSGRAPH_ASSISTANT_LLM_API_KEY": KEY})
    assert s.assistant_llm_base_url == "https://api.example.com/v1"
    assert s.assistant_llm_model == "gpt-4o-mini" and s.assistant_llm_timeout_seconds == 8.0
    assert KEY not in repr(s) and KEY not in str(s.model_dump())
    assert Settings().assistant_llm_base_url is None  # off by default
    for bad in ("ftp://api.example.com", "api.example.com/v1", "https://", "https://user:pw@example.com/v1"):
        with pytest.raises(ValidationError, match="assistant_llm_base_url"):
            Settings(assistant_llm_base_url=bad)


async def test_a_refused_question_is_rewritten_by_the_model_and_answered_by_the_engine(
        make_api: ApiFactory, llm: FakeLlm) -> None:
    api = await with_llm(make_api, llm)
    question = "How is my signup funnel doing on phones?"
    llm.replies = ["How many conversions on mobile?", "Phones signed up 9 times."]  # the wording invents 9
    data, phrased_by = await chat(api, question)
    assert data["answer"] == "Your conversions on mobile were 3 the last 7 days (none the 7 days before)."
    assert data["metrics_referenced"] == [{"name": "conversions_mobile", "value": 3.0, "change": None}]
    assert data["confidence"] == 0.6  # the model, not the question, named the period; and 3 is a small volume
    assert phrased_by is None
    rewrite, phrasing = llm.asked
    assert rewrite.json["messages"][1]["content"] == question and "NONE" in rewrite.json["messages"][0]["content"]
    assert question in phrasing.json["messages"][1]["content"]

    llm.replies = ["What was the conversion rate in the last 7 days?"]
    llm.content = "Your conversion rate was 40% over the last 7 days, with no data for the 7 days before."
    resp = await api.client.post("/api/lens/chat", json={"account_id": P, "question": "how well do we sell"})
    assert resp.status == 200 and resp.headers["X-LENS-Question-Rewritten-By"] == "gpt-4o-mini"
    assert resp.headers["X-LENS-Phrased-By"] == "gpt-4o-mini"
    assert (await resp.json())["data"]["answer"] == llm.content


@pytest.mark.parametrize("rewrite", ["NONE", "Tell me about the weather", None])
async def test_a_rewrite_the_parser_refuses_too_leaves_the_refusal(make_api: ApiFactory, llm: FakeLlm,
                                                                   rewrite: str | None) -> None:
    llm.content = rewrite
    api = await with_llm(make_api, llm)
    resp = await api.client.post("/api/lens/chat", json={"account_id": P, "question": "hello there"})
    body = await resp.json()
    assert resp.status == 400 and body["error"]["code"] == "INVALID_QUESTION"
    assert body["error"]["message"] == "Question is too vague or cannot be answered with available data"
    assert len(llm.asked) == 1 and "X-LENS-Question-Rewritten-By" not in resp.headers
    assert (await (await api.client.get("/api/lens/usage")).json())["data"]["questions"]["used"] == 0

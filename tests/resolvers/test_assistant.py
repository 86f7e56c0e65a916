"""The assistant answers a dozen phrasings from a known data set on the real SQLite store, with the numbers
worked out by hand from the data below; what it cannot answer is refused with suggestions.

The data (now is Monday 2026-11-23 15:00 UTC; last week is Nov 16-22, the week before Nov 9-15): each week
80 tracked sessions, one visitor each, one page view each; 40 on mobile from google.com, 40 on desktop from
bing.com. The week before, 8 mobile and 8 desktop sessions converted (a signup); last week 2 mobile and 8
desktop. Agents: support-bot (gpt-4o) spent $1 the week before and $3 last week, researcher (claude) $1 in each.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from resolvers.assistant.answer import answer
from resolvers.assistant.questions import Intent, Unanswerable, parse
from resolvers.core.services import Services
from resolvers.traces.planner import BatchPlanner
from storage.models import Event
from storage.sqlite.store import SQLiteStore

P = "shop"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
WEEKS = {"before": datetime(2026, 11, 9, tzinfo=UTC), "last": datetime(2026, 11, 16, tzinfo=UTC)}
CONVERTED = {("before", "mobile"): 8, ("before", "desktop"): 8, ("last", "mobile"): 2, ("last", "desktop"): 8}
AGENTS = {"support-bot": "a1", "a1": "a1", "researcher": "a2", "a2": "a2"}
MODELS = {"gpt-4o", "claude"}


def product_events() -> list[Event]:
    out = []
    for week, monday in WEEKS.items():
        for device, referrer in (("mobile", "google.com"), ("desktop", "bing.com")):
            for i in range(40):
                at = monday + timedelta(days=i % 7, hours=9, minutes=i)
                sid, user = f"{week}-{device}-{i}", f"u-{week}-{device}-{i}"
                common = {"project_id": P, "session_id": sid, "agent_id": None, "kind": "tracker", "user_id": user,
                          "device": device, "referrer_domain": referrer, "received_at": at}
                out.append(Event(id=f"{sid}-pv", type="page_view", timestamp=at, **common))
                if i < CONVERTED[(week, device)]:
                    out.append(Event(id=f"{sid}-su", type="signup", timestamp=at + timedelta(minutes=1), **common))
    return out


def agent_events() -> list[Event]:
    spend = {("before", "a1"): 1, ("last", "a1"): 3, ("before", "a2"): 1, ("last", "a2"): 1}
    out = []
    for (week, agent), usd in spend.items():
        model = "gpt-4o" if agent == "a1" else "claude"
        for i in range(4):  # four calls of a quarter of the week's spend each
            at = WEEKS[week] + timedelta(days=i, hours=12)
            out.append(Event(project_id=P, id=f"{week}-{agent}-{i}", session_id=f"run-{week}-{agent}", agent_id=agent,
                             type="llm_call", timestamp=at, received_at=at, model=model,
                             cost_nanos=usd * 250_000_000, tokens_in=100, tokens_out=50))
    return out


@pytest.fixture
async def services(tmp_path: Path) -> Services:
    store = SQLiteStore(tmp_path / "assistant.db")
    await store.start()
    await store.traces.commit_batch(P, product_events(), BatchPlanner(P, kind="tracker"))
    await store.traces.commit_batch(P, agent_events(), BatchPlanner(P))
    yield Services.build(store)
    await store.close()


async def ask(services: Services, question: str, previous: Intent | None = None) -> tuple[str, Intent]:
    intent = parse(question, NOW, previous=previous, agents=AGENTS, models=MODELS)
    found = await answer(services, P, intent)
    return found.text, intent


async def test_a_dozen_phrasings_answered_from_the_data(services: Services) -> None:
    text, _ = await ask(services, "Why did conversions drop last week?")
    assert text.startswith("Your conversions were 10 last week, down 37.5% from 16 the week before.")
    assert "1. Device mobile: 8 → 2 (-75%)" in text  # the segment that moved most, named first

    text, first = await ask(services, "What's the conversion rate on mobile last week?")
    assert text == ("Your conversion rate on mobile was 5.00% last week, down 75% from 20.00% the week before.\n\n"
                    "The segments that moved most:\n1. Referrer google.com: 20.00% → 5.00% (-75%)")
    text, follow = await ask(services, "and on desktop?", first)
    assert text == "Your conversion rate on desktop was 20.00% last week, unchanged from the week before."
    # Nov 10-23 (today included): desktop sessions 34 + 40, converted 6 + 8 (the week before loses Nov 9's
    # sessions i = 0, 7, 14... of which i = 0 and 7 converted); the 14 days before hold Nov 9: 2 of 6
    text, _ = await ask(services, "what about the last 14 days?", follow)
    assert text.startswith("Your conversion rate on desktop was 18.92% the last 14 days, down 43.2% from 33.33% the"
                           " 14 days before.")

    text, _ = await ask(services, "What were my top traffic sources last week?")
    assert text == ("Top referrers by sessions last week:\n1. bing.com: 40 (+0% vs the week before)\n"
                    "2. google.com: 40 (+0% vs the week before)")
    text, _ = await ask(services, "How many visitors did we have last week?")
    assert text == "Your visitors were 80 last week, unchanged from the week before."
    text, _ = await ask(services, "How much did support-bot cost last week?")
    assert text.startswith("Your LLM cost for agent a1 was $3.00 last week, up 200% from $1.00 the week before.")
    text, _ = await ask(services, "Which agents cost the most last week?")
    assert text == ("Top agents by LLM cost last week:\n1. a1: $3.00 (+200% vs the week before)\n"
                    "2. a2: $1.00 (+0% vs the week before)")
    text, _ = await ask(services, "bounce rate last week")
    assert text == "Your bounce rate was 87.50% last week, up 9.4% from 80.00% the week before."
    # Sunday Nov 22 holds sessions i = 6, 13, 20, 27, 34 of each device, Saturday i = 5, 12, 19, 26, 33
    text, _ = await ask(services, "How many sessions on Sunday?")
    assert text == "Your sessions were 10 on Sunday, unchanged from the day before."
    text, _ = await ask(services, "tokens used last week by model")
    assert text == ("Top models by tokens last week:\n1. claude: 600 (+0% vs the week before)\n"
                    "2. gpt-4o: 600 (+0% vs the week before)")  # a tie ranks by name
    # Nov 17-23: last week's 40 google.com views less Nov 16's six (i = 0, 7, ... 35); Nov 10-16: 34 + 6
    text, _ = await ask(services, "How many page views from google in the last 7 days?")
    assert text.startswith("Your page views from google were 34 the last 7 days, down 15% from 40 the 7 days before.")


async def test_what_it_cannot_answer_is_refused_with_suggestions(services: Services) -> None:
    for question, message in [
        ("hello there", "too vague"),
        ("   ", "empty"),
        ("x" * 1001, "longer than 1000"),
        ("What's the bounce rate on mobile last week?", "cannot be split by device"),
        ("How much did we spend on mobile?", "cannot be split by device"),
    ]:
        with pytest.raises(Unanswerable) as caught:
            await ask(services, question)
        assert message in caught.value.message, question
        assert caught.value.suggestions

"""Questions in plain words, parsed without a network: which metric, over which period, in which segment,
broken down by what. The vocabulary is the analytics engine's (resolvers/assistant/plans.py turns an Intent
into engine queries); anything outside it is INVALID_QUESTION with suggestions, never a guess.

A follow-up ("and on desktop?", "what about last month?") names only what changes: the conversation's last
Intent supplies the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime

import pycountry

from resolvers.assistant.periods import Period, default_period, parse_period

MAX_QUESTION = 1000  # characters

# metric key -> the phrases that name it, most specific first (matched longest first across all metrics)
METRIC_WORDS: dict[str, tuple[str, ...]] = {
    "conversion_rate": ("conversion rate", "conversion rates", "cr", "convert", "converting"),
    "conversions": ("conversions", "conversion", "signups", "sign ups", "converted"),
    "bounce_rate": ("bounce rate", "bounces", "bounce", "bouncing"),
    "sessions": ("sessions", "visits", "traffic"),
    "visitors": ("visitors", "unique users", "users", "people"),
    "pageviews": ("pageviews", "page views", "views"),
    "cost": ("cost", "costs", "spend", "spent", "spending", "expensive", "cheapest"),
    "tokens": ("tokens", "token usage"),
    "latency": ("latency", "response time", "slow", "slowest", "fastest"),
    "error_rate": ("error rate", "errors", "failures", "failing", "failed"),
    "tool_error_rate": ("tool error rate", "tool errors", "tool failures"),
    "llm_calls": ("llm calls", "model calls", "calls"),
    "traces": ("traces", "runs", "agent sessions"),
}
LABELS = {
    "conversion_rate": "conversion rate", "conversions": "conversions", "bounce_rate": "bounce rate",
    "sessions": "sessions", "visitors": "visitors", "pageviews": "page views", "cost": "LLM cost",
    "tokens": "tokens", "latency": "p95 latency", "error_rate": "error rate", "tool_error_rate": "tool error rate",
    "llm_calls": "LLM calls", "traces": "agent traces",
}
AGENT_METRICS = frozenset({"cost", "tokens", "latency", "error_rate", "tool_error_rate", "llm_calls", "traces"})
DEVICES = ("mobile", "desktop", "tablet")
# breakdown word -> the field it groups by
BREAKDOWNS: dict[str, str] = {
    "device": "device", "devices": "device", "source": "referrer_domain", "sources": "referrer_domain",
    "referrer": "referrer_domain", "referrers": "referrer_domain", "channel": "utm_source", "channels": "utm_source",
    "campaign": "utm_campaign", "campaigns": "utm_campaign", "country": "country", "countries": "country",
    "browser": "browser", "browsers": "browser", "page": "path", "pages": "path", "agent": "agent_id",
    "agents": "agent_id", "model": "model", "models": "model", "os": "os",
}
SUGGESTIONS = (
    "Try being more specific about the time period",
    "Specify which metric you're interested in",
    "Add context about segments or filters",
)


class Unanswerable(Exception):
    """The question is outside the vocabulary: INVALID_QUESTION, with what to try instead."""

    def __init__(self, message: str, suggestions: tuple[str, ...] = SUGGESTIONS) -> None:
        super().__init__(message)
        self.message = message
        self.suggestions = suggestions


@dataclass(frozen=True)
class Intent:
    metric: str
    period: Period
    segments: tuple[tuple[str, str], ...] = ()  # (field, value): device mobile, country DE, agent_id ...
    breakdown: str | None = None  # a field to rank groups by ("top traffic sources")
    explicit: frozenset[str] = field(default_factory=frozenset)  # what the question itself named

    @property
    def label(self) -> str:
        return LABELS[self.metric]


def _find_metric(text: str) -> str | None:
    found: list[tuple[int, int, str]] = []  # (-length, position, key): the longest phrase wins
    for key, phrases in METRIC_WORDS.items():
        for phrase in phrases:
            m = re.search(rf"\b{re.escape(phrase)}\b", text)
            if m:
                found.append((-len(phrase), m.start(), key))
    return min(found)[2] if found else None


def _country(text: str) -> str | None:
    m = re.search(r"\b(?:in|from) (?:the )?([a-z][a-z .'-]{1,40}?)(?:\?|$|,| and | on | last | this | since "
                  r"| in | yesterday| today| over| during| vs)", text)
    if not m:
        return None
    name = m.group(1).strip()
    if name in ("us", "usa", "america", "united states"):
        return "US"
    if name in ("uk", "britain", "great britain", "england"):
        return "GB"
    try:
        return str(pycountry.countries.lookup(name).alpha_2)
    except LookupError:
        return None


KNOWN_SOURCES = ("google", "bing", "facebook", "twitter", "linkedin", "reddit", "youtube", "duckduckgo",
                 "instagram", "tiktok", "chatgpt", "perplexity")


def _source(text: str) -> str | None:
    """"from google", "from news.ycombinator.com": a referrer (matched as a substring of its domain)."""
    m = re.search(r"\bfrom ([a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}|" + "|".join(KNOWN_SOURCES) + r")\b", text)
    return m.group(1) if m else None


def segments_in(text: str, agents: dict[str, str], models: set[str]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for device in DEVICES:
        if re.search(rf"\b{device}\b", text):
            out.append(("device", device))
    if source := _source(text):
        out.append(("referrer_domain", source))
    elif country := _country(text):
        out.append(("country", country))
    for name, agent_id in sorted(agents.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
            out.append(("agent_id", agent_id))
            break
    for model in sorted(models, key=len, reverse=True):
        if re.search(rf"(?<![\w.-]){re.escape(model.lower())}(?![\w.-])", text):
            out.append(("model", model))
            break
    return tuple(out)


def _breakdown(text: str) -> str | None:
    m = re.search(r"\b(?:top|which|what|best|worst|biggest|most|by|per|each|breakdown of|split by)\b[a-z ]{0,25}?"
                  r"\b(" + "|".join(BREAKDOWNS) + r")\b", text)
    return BREAKDOWNS[m.group(1)] if m else None


def parse(
    question: str, now: datetime, *, previous: Intent | None = None, context_period: Period | None = None,
    context_segments: tuple[tuple[str, str], ...] = (), agents: dict[str, str] | None = None,
    models: set[str] | None = None,
) -> Intent:
    """The question's Intent. agents maps lower-cased agent names and ids to ids; models are known model names."""
    text = " ".join(question.lower().split())
    if not text:
        raise Unanswerable("The question is empty")
    if len(question) > MAX_QUESTION:
        raise Unanswerable(f"The question is longer than {MAX_QUESTION} characters")
    metric = _find_metric(text)
    period = parse_period(text, now)
    segments = segments_in(text, agents or {}, models or set()) or context_segments
    breakdown = _breakdown(text)
    explicit = frozenset(k for k, v in (("metric", metric), ("period", period), ("segments", segments),
                                        ("breakdown", breakdown)) if v)
    if previous is not None and metric is None:
        # a follow-up: keep what it does not change; a new segment replaces the old one of its kind
        kept = tuple(s for s in previous.segments if s[0] not in {f for f, _ in segments})
        return replace(previous, period=period or previous.period, segments=(*kept, *segments),
                       breakdown=breakdown if breakdown else previous.breakdown if not segments else None,
                       explicit=explicit)
    if metric is None:
        if breakdown in ("referrer_domain", "utm_source", "utm_campaign", "path", "country", "device", "browser"):
            metric = "sessions"  # "what were my top traffic sources?"
        else:
            raise Unanswerable("Question is too vague or cannot be answered with available data")
    return Intent(metric, period or context_period or default_period(now), segments, breakdown, explicit)


__all__ = ["BREAKDOWNS", "LABELS", "METRIC_WORDS", "Intent", "Unanswerable", "parse", "segments_in"]

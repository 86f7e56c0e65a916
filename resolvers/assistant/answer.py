"""An Intent answered from the project's data: the number for the period against the period before, the
groups that rank highest for a breakdown, and for a change worth explaining the segments that moved most.

Every number in an answer comes from an engine query made here; the wording around them is fixed text.
confidence is a rule, not a model's guess: high when the question named its metric and period and enough
rows stand behind the number, lower when the period was assumed or the volume is small.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from resolvers.assistant.plans import PLANS, Plan, by_group, check_segments, narrowed, value
from resolvers.assistant.questions import AGENT_METRICS, Intent
from resolvers.core.services import Services

# Where to look for what moved, per kind of metric
PRODUCT_DRILL = ("device", "referrer_domain", "country")
AGENT_DRILL = ("agent_id", "model")
EXPLAIN_FROM = 10.0  # percent: a smaller change is reported without drilling into segments
SMALL_VOLUME = 30
PLURAL = frozenset({"conversions", "sessions", "visitors", "pageviews", "tokens", "llm_calls", "traces"})
FIELD_NAMES = {"referrer_domain": "referrer", "agent_id": "agent", "utm_source": "source", "utm_campaign": "campaign",
               "path": "page"}


@dataclass(frozen=True)
class Answer:
    text: str
    metrics: list[dict[str, Any]]  # the seed's metrics_referenced: name, value, change
    confidence: float
    follow_ups: list[str]


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "no data"
    if unit == "percent":
        return f"{v:.2f}%"
    if unit == "usd":
        return f"${v:,.2f}" if v >= 0.01 or v == 0 else f"${v:.6f}"
    if unit == "ms":
        return f"{v:,.0f} ms"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def change_pct(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or before == 0:
        return None
    return round((now - before) / abs(before) * 100, 1)


def _name(intent: Intent) -> str:
    parts = [intent.metric, *(v.lower().replace(".", "_") for _, v in intent.segments)]
    return "_".join(parts)


def _where(intent: Intent) -> str:
    words = []
    for f, v in intent.segments:
        words.append({"device": f"on {v}", "country": f"in {v}", "referrer_domain": f"from {v}",
                      "agent_id": f"for agent {v}", "model": f"on {v}"}.get(f, f"where {f} is {v}"))
    return (" " + " ".join(words)) if words else ""


async def _movers(services: Services, intent: Intent, cur: Plan, old: Plan) -> list[str]:
    """The two segments whose value changed most between the periods, in words; a change weighs by the
    square root of the segment's earlier value, so a big segment's drop outranks a tiny one's swing."""
    if intent.metric == "bounce_rate":  # sessions carry no event segments
        return []
    taken = {f for f, _ in intent.segments}
    fields = [f for f in (AGENT_DRILL if intent.metric in AGENT_METRICS else PRODUCT_DRILL) if f not in taken]
    found: list[tuple[float, str]] = []
    for f in fields:
        now_groups, old_groups = await asyncio.gather(by_group(services, cur, f, 20), by_group(services, old, f, 20))
        for key in set(now_groups) | set(old_groups):
            a, b = now_groups.get(key) or 0.0, old_groups.get(key)
            pct = change_pct(a, b)
            if pct is None or key is None:
                continue
            text = f"{FIELD_NAMES.get(f, f).capitalize()} {key}: {fmt(b, cur.unit)} → {fmt(a, cur.unit)} ({pct:+g}%)"
            found.append((abs(pct) * (b or 0.0) ** 0.5, text))
    return [text for _, text in sorted(found, key=lambda t: (-t[0], t[1]))[:2]]


def _follow_ups(intent: Intent) -> list[str]:
    if intent.metric in AGENT_METRICS:
        return [f"Which agents had the highest {intent.label} {intent.period.label}?",
                f"How does {intent.label} compare by model?", f"What was the {intent.label} last month?"]
    return [f"How does {intent.label} compare on mobile and desktop?",
            f"Which traffic sources had the biggest {intent.label} change?", f"What was the {intent.label} last month?"]


async def answer(services: Services, project_id: str, intent: Intent) -> Answer:
    fields = {f for f, _ in intent.segments} | ({intent.breakdown} if intent.breakdown else set())
    check_segments(intent.metric, fields)
    base = PLANS[intent.metric]
    p = intent.period
    cur = narrowed(base, project_id, p.start, p.end, intent.segments)
    old = narrowed(base, project_id, p.previous_start, p.previous_end, intent.segments)
    if intent.breakdown:
        return await _breakdown(services, intent, cur, old)
    (now, volume), (before, _) = await asyncio.gather(value(services, cur), value(services, old))
    change = change_pct(now, before)
    verb = "were" if intent.metric in PLURAL else "was"
    text = f"Your {intent.label}{_where(intent)} {verb} {fmt(now, base.unit)} {p.label}"
    if change is None:  # nothing before to compare with
        text += f" ({'none' if before == 0 else fmt(before, base.unit)} {p.previous_label})."
    elif change == 0:
        text += f", unchanged from {p.previous_label}."
    else:
        text += (f", {'up' if change > 0 else 'down'} {abs(change):g}% from {fmt(before, base.unit)}"
                 f" {p.previous_label}.")
    movers = await _movers(services, intent, cur, old) if change is not None and abs(change) >= EXPLAIN_FROM else []
    if movers:
        text += "\n\nThe segments that moved most:\n" + "\n".join(f"{i}. {m}" for i, m in enumerate(movers, 1))
    metrics = [{"name": _name(intent), "value": None if now is None else round(now, 4), "change": change}]
    return Answer(text, metrics, _confidence(intent, volume), _follow_ups(intent))


async def _breakdown(services: Services, intent: Intent, cur: Plan, old: Plan) -> Answer:
    field = intent.breakdown or ""
    now_groups, old_groups = await asyncio.gather(by_group(services, cur, field), by_group(services, old, field, 50))
    p, unit = intent.period, cur.unit
    label = FIELD_NAMES.get(field, field)
    if not now_groups:
        return Answer(f"No {intent.label}{_where(intent)} {p.label}, so no {label} ranking.",
                      [], _confidence(intent, 0), _follow_ups(intent))
    lines, metrics = [], []
    for rank, (key, v) in enumerate(now_groups.items(), 1):
        change = change_pct(v, old_groups.get(key))
        name = "(none)" if key is None else str(key)
        lines.append(f"{rank}. {name}: {fmt(v, unit)}" + (f" ({change:+g}% vs {p.previous_label})"
                                                           if change is not None else ""))
        metrics.append({"name": f"{intent.metric}_{name.lower().replace('.', '_')}",
                        "value": None if v is None else round(v, 4), "change": change})
    text = f"Top {label}s by {intent.label}{_where(intent)} {p.label}:\n" + "\n".join(lines)
    volume = int(sum(v for v in now_groups.values() if v is not None))
    return Answer(text, metrics, _confidence(intent, volume), _follow_ups(intent))


def _confidence(intent: Intent, volume: int) -> float:
    score = 0.95
    if "period" not in intent.explicit:
        score -= 0.1
    if volume < SMALL_VOLUME:
        score -= 0.25
    return round(max(score, 0.3), 2)


__all__ = ["Answer", "answer", "change_pct", "fmt"]

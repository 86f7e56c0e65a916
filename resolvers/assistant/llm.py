"""An optional language model that words the assistant's answers: an OpenAI-compatible chat completions endpoint
(settings assistant_llm_*; off by default). It never supplies a number.

The deterministic answer (answer.py) is computed first, from the engine. The model is then asked to reword
that text for the question; its wording is used only if every number in it (integers, decimals, percentages,
money, with or without thousands separators), every date and every token mixing letters and digits (an agent
id, "gpt-4o", "5k") also appears in the deterministic answer or its metrics_referenced, and it still states
each value of metrics_referenced (to the precision it writes it: "33.33%" for 33.3333). Otherwise, and on any
failure (no answer, a timeout, a non-2xx status, malformed JSON, empty content), the deterministic text
stands. metrics_referenced, confidence and follow_ups always come from the engine.

A question the parser refuses may be given to the model to rewrite in the parser's vocabulary (rewritten());
the rewrite is parsed by the same parser and answered by the engine, so its numbers are the engine's too. If
the rewrite is refused as well, the question's own refusal stands.

The guard compares magnitudes: "down 37.5%" may say what "(-37.5%)" says. It cannot check the words around
the numbers ("up" for "down"); the prompt asks the model to keep them.

HTTP is injected (graph/app/llm.py, on aiohttp), since nothing below the API surface knows the web framework.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import orjson

from resolvers.assistant.questions import BREAKDOWNS, METRIC_WORDS

log = logging.getLogger("lensgraph.assistant")

MAX_PHRASING = 4000  # characters: a longer reply is not an answer to use
SYSTEM_PROMPT = (
    "You rephrase the answer of an analytics assistant so that it reads naturally as a reply to the user's "
    "question. Use only the facts in the given answer. Do not add, remove, round, recompute or change any "
    "number, percentage, amount, date or name: copy each exactly as written. Keep every direction word (up, "
    "down, unchanged). Do not guess causes or give advice that the answer does not contain. Reply with the "
    "rephrased answer only, in plain text."
)

REWRITE_PROMPT = (
    "You turn a user's question about their analytics into one short question that a simple parser "
    "understands. The parser knows these metrics: {metrics}. Breakdowns: {breakdowns}. Segments: mobile, "
    "desktop, tablet, 'in <country>', 'from <referrer domain>', an agent or model name. Periods: yesterday, "
    "today, this week, last week, this month, last month, the last N days, in <month>. Reply with the rewritten "
    "question only, using those words, for example 'What was the conversion rate on mobile last week?'. Do not "
    "answer the question and add no number but a period's. If the question is not about these metrics, reply "
    "NONE."
).format(metrics=", ".join(phrases[0] for phrases in METRIC_WORDS.values()),
         breakdowns=", ".join(sorted({w for w in BREAKDOWNS if not w.endswith("s")})))
MAX_REWRITE = 300  # characters


class LlmUnavailable(Exception):
    """No usable answer from the model: no connection, a timeout, a refused status, a malformed body."""


class ChatTransport(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """POSTs the body; returns the status code and the answer's body. Raises LlmUnavailable when there is
        no answer."""
        ...


class Phraser(Protocol):
    @property
    def model(self) -> str: ...

    async def phrase(self, question: str, text: str, figures: list[dict[str, Any]]) -> str:
        """The answer text reworded for the question; raises LlmUnavailable on any failure."""
        ...

    async def rewrite(self, question: str) -> str:
        """The question in the parser's vocabulary; raises LlmUnavailable on any failure or a NONE."""
        ...


@dataclass(frozen=True)
class ChatCompletions:
    """A Phraser on an OpenAI-compatible POST {base_url}/chat/completions."""

    base_url: str
    api_key: str | None
    model: str
    transport: ChatTransport
    timeout_seconds: float = 8.0

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return f"ChatCompletions(base_url={self.base_url!r}, model={self.model!r})"

    async def phrase(self, question: str, text: str, figures: list[dict[str, Any]]) -> str:
        lines = [f"- {m['name']}: value {m['value']}, change {m['change']}%" for m in figures]
        user = (f"Question: {question}\n\nAnswer to rephrase:\n{text}\n\nFigures from the analytics engine:\n"
                + ("\n".join(lines) if lines else "(none)"))
        return await self._complete(SYSTEM_PROMPT, user)

    async def rewrite(self, question: str) -> str:
        text = await self._complete(REWRITE_PROMPT, question)
        if text.strip(" .'\"").upper() == "NONE":
            raise LlmUnavailable("the model found no question to rewrite")
        if len(text) > MAX_REWRITE:
            raise LlmUnavailable(f"a rewrite longer than {MAX_REWRITE} characters")
        return text

    async def _complete(self, system: str, user: str) -> str:
        body = orjson.dumps({"model": self.model, "temperature": 0,
                             "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]})
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            async with asyncio.timeout(self.timeout_seconds):
                status, raw = await self.transport.post(f"{self.base_url}/chat/completions", body, headers)
        except TimeoutError:
            raise LlmUnavailable(f"no answer within {self.timeout_seconds:g} s") from None
        if not 200 <= status < 300:
            raise LlmUnavailable(f"status {status}")
        try:
            content = orjson.loads(raw)["choices"][0]["message"]["content"]
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
            raise LlmUnavailable("not a chat completion") from None
        if not isinstance(content, str) or not content.strip():
            raise LlmUnavailable("empty content")
        if len(content) > MAX_PHRASING:
            raise LlmUnavailable(f"content longer than {MAX_PHRASING} characters")
        return content.strip()


# -- the number guard -----------------------------------------------------------------------------------------

MINUS = "\u2212\u2012\u2013\u2014"  # minus sign and dashes a model may write for "-"
DATE = re.compile(r"(?<![\w.])\d{4}-\d{1,2}-\d{1,2}(?![\w])|(?<![\w.:])\d{1,2}:\d{2}(?::\d{2})?(?![\w:])")
# a token mixing letters and digits: an id ("a1"), a model ("gpt-4o"), "p95", "5k", "Q3", "1st"
MIXED = re.compile(r"(?<![\w])(?=[\w.-]*[^\W\d_])(?=[\w.-]*\d)\w(?:[\w.-]*\w)?")
NUMBER = re.compile(r"(?<!\w)(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|(?<!\w)\.\d+")
WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
         "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
         "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
         "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
         "million": 1_000_000, "billion": 1_000_000_000, "dozen": 12, "half": 50, "halved": 50, "twice": 2, "double": 2,
         "doubled": 2, "triple": 3, "tripled": 3}
NUMBER_WORDS = re.compile(r"\b(" + "|".join(WORDS) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class Figures:
    """What a text states: number magnitudes, dates and times as written, tokens mixing letters and digits."""

    numbers: frozenset[Decimal]
    dates: frozenset[str]
    tokens: frozenset[str]

    def within(self, allowed: Figures) -> bool:
        return self.numbers <= allowed.numbers and self.dates <= allowed.dates and self.tokens <= allowed.tokens


def _split(text: str) -> tuple[frozenset[str], frozenset[str], list[Decimal]]:
    text = text.translate({ord(c): "-" for c in MINUS})
    dates = frozenset(m.group() for m in DATE.finditer(text))
    text = DATE.sub(" ", text)
    tokens = frozenset(m.group().lower() for m in MIXED.finditer(text))
    text = MIXED.sub(" ", text)
    return dates, tokens, [Decimal(m.group().replace(",", "")) for m in NUMBER.finditer(text)]


def figures_in(text: str) -> Figures:
    """Every figure in the text. "$1,200.50" is 1200.5, "−75%" is 75, "2024-01-15" a date, "a1" a token."""
    dates, tokens, numbers = _split(text)
    return Figures(frozenset(numbers), dates, tokens)


def numbers_in(text: str) -> list[Decimal]:
    """The magnitudes of the numbers a text states, in order of appearance (dates and ids are not numbers)."""
    return _split(text)[2]


def _magnitude(v: Any) -> Decimal | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    try:
        return abs(Decimal(str(v)))
    except InvalidOperation:
        return None


def allowed_figures(text: str, metrics: Iterable[Mapping[str, Any]]) -> Figures:
    """What a phrasing may state: the deterministic text's figures and metrics_referenced's values and changes."""
    found = figures_in(text)
    extra = {d for m in metrics for d in (_magnitude(m.get("value")), _magnitude(m.get("change"))) if d is not None}
    return Figures(found.numbers | extra, found.dates, found.tokens)


def invented(candidate: str, allowed: Figures) -> list[str]:
    """The figures of a candidate phrasing that the allowed ones do not contain, in words (empty: none)."""
    found = figures_in(candidate)
    words = {WORDS[w.lower()] for w in NUMBER_WORDS.findall(candidate)}
    out = [f"{n:f}" for n in sorted(found.numbers - allowed.numbers)]
    out += [str(w) for w in sorted(words) if Decimal(w) not in allowed.numbers]
    out += sorted(found.dates - allowed.dates) + sorted(found.tokens - allowed.tokens)
    return out


def dropped(candidate: str, metrics: Iterable[Mapping[str, Any]]) -> list[str]:
    """The values of metrics_referenced a candidate phrasing does not state, to any precision it writes."""
    stated = figures_in(candidate).numbers
    out = []
    for m in metrics:
        v = _magnitude(m.get("value"))
        if v is not None and not any(abs(n - v) <= _half_unit(n) for n in stated):
            out.append(f"{v:f}")
    return out


def _half_unit(n: Decimal) -> Decimal:
    """Half the last written digit: 33.33 stands for anything that rounds to it, 33.325 to 33.335."""
    exponent = n.as_tuple().exponent
    return Decimal(5).scaleb(exponent - 1) if isinstance(exponent, int) else Decimal(0)


async def phrased(phraser: Phraser, question: str, text: str, metrics: list[dict[str, Any]]) -> str | None:
    """The model's wording of the answer if it states no figure the answer does not; None keeps the text."""
    try:
        candidate = await phraser.phrase(question, text, metrics)
    except LlmUnavailable as exc:
        log.warning("assistant phrasing by %s not used: %s", phraser.model, exc)
        return None
    except Exception as exc:  # a phrasing is optional: nothing it does may fail the question
        log.warning("assistant phrasing by %s not used: %s", phraser.model, type(exc).__name__)
        return None
    extra = invented(candidate, allowed_figures(text, metrics))
    if extra:
        log.warning("assistant phrasing by %s not used: it states %s, not in the answer", phraser.model,
                    ", ".join(extra[:5]))
        return None
    if missing := dropped(candidate, metrics):
        log.warning("assistant phrasing by %s not used: it leaves out %s", phraser.model, ", ".join(missing[:5]))
        return None
    return candidate


async def rewritten(phraser: Phraser, question: str) -> str | None:
    """The question in the parser's words, as the model puts it; None on any failure."""
    try:
        return await phraser.rewrite(question)
    except LlmUnavailable as exc:
        log.warning("assistant rewrite by %s not used: %s", phraser.model, exc)
    except Exception as exc:  # optional, as a phrasing
        log.warning("assistant rewrite by %s not used: %s", phraser.model, type(exc).__name__)
    return None


__all__ = ["ChatCompletions", "ChatTransport", "Figures", "LlmUnavailable", "Phraser", "allowed_figures",
           "dropped", "figures_in", "invented", "numbers_in", "phrased", "rewritten"]

"""Numbers and text as the seed-002 reference backend (Node.js) writes them.

Seed 002's explain, export and compare answers are documented by example and computed by
JavaScript: Math.round, Number#toFixed, String(number), JSON.stringify. Python rounds and
prints differently in places (round() is banker's, f"{0.25:.1f}" is "0.2", 150.0 prints as
"150.0"), so the reports use these instead, and answer what the reference answers.
"""

from __future__ import annotations

import json
import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any


def js_round(x: float) -> int:
    """Math.round: to the nearest integer, halves toward +infinity."""
    low = math.floor(x)
    return low + 1 if x - low >= 0.5 else low


def round2(x: float) -> float:
    """The reference's round2: Math.round(x * 100) / 100."""
    return js_round(x * 100) / 100


def js_num(x: float) -> int | float:
    """A number as JSON.stringify writes it: an integral value without its ".0"."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e21:
        return int(x)
    return x


def to_fixed(x: float, digits: int) -> str:
    """Number#toFixed: the exact binary value rounded half away from zero."""
    if not math.isfinite(x) or abs(x) >= 1e21:
        return js_string(x)
    return str(Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def js_string(value: Any) -> str:
    """String(value) for the JSON values an event holds (objects as JSON, not "[object Object]")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str):
        return value
    return js_stringify(value)


def js_stringify(value: Any) -> str:
    """JSON.stringify(value): compact, keys in their order, numbers as JavaScript prints them."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value) if math.isfinite(value) else "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{js_stringify(v)}"
                              for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(js_stringify(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def truthy(value: Any) -> bool:
    """JavaScript truthiness: an empty object or list is true, 0, "" and null are false."""
    if isinstance(value, dict | list):
        return True
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)


def utf16_len(text: str) -> int:
    """A string's length as JavaScript counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf16_prefix(text: str, units: int) -> str:
    """str.slice(0, units), without leaving half of a surrogate pair behind."""
    return text.encode("utf-16-le", "surrogatepass")[: 2 * units].decode("utf-16-le", "ignore")


def _number(x: float) -> str:
    """Number#toString for a float (ECMA-262 Number::toString, radix 10)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # repr gives the shortest digits that round-trip, as JavaScript does; only the layout differs.
    _, digit_tuple, exponent = Decimal(repr(abs(x))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = k + int(exponent)  # the value is 0.digits x 10^n
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * -n + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        body = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + body

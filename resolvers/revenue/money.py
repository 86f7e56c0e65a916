"""Exact money: decimal strings on the wire, integer nano-units in the store, ISO 4217 currencies.

A float never holds an amount: strings are parsed with decimal.Decimal and scaled to integers.
Currencies are checked against pycountry's ISO 4217 table (a maintained list, not our own).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pycountry

from resolvers.core.errors import InputError, Problem
from storage.models.revenue import DEFAULT_CURRENCY

NANOS = 10**9
DIGITS = 9  # nano-units: nine decimal places, enough for every ISO 4217 minor unit and per-token prices
# One amount at most a billion units (10**18 nanos): far past any real payment, and inside the 64-bit
# integer both stores keep (SQLite's INTEGER and BSON's int64 end at 9.2 * 10**18; a trillion units, the
# bound before, passed it and answered 500). Sums of millions of them still add exactly: the stores sum
# integers, spilling past 64 bits into exact decimals.
MAX_UNITS = 10**9
MAX_LENGTH = 40


def parse_amount(raw: object, where: str = "amount", *, signed: bool = False) -> int:
    """A decimal string ("100", "19.99") as nanos; numbers are refused, as JSON numbers may be floats."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_LENGTH or raw.strip() != raw:
        raise InputError(Problem(where, 'must be a decimal string such as "100" or "19.99"'))
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InputError(Problem(where, f"is not a decimal number: {raw[:MAX_LENGTH]!r}")) from None
    if not value.is_finite() or "e" in raw.lower():
        raise InputError(Problem(where, f"is not a plain decimal number: {raw[:MAX_LENGTH]!r}"))
    if value < 0 and not signed:
        raise InputError(Problem(where, "must not be negative"))
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > DIGITS:
        raise InputError(Problem(where, f"has more than {DIGITS} decimal places"))
    if abs(value) > MAX_UNITS:
        raise InputError(Problem(where, f"must be at most {MAX_UNITS}"))
    return int(value * NANOS)


def format_amount(nanos: int) -> str:
    """Nanos as the shortest exact decimal string: 100000000000 -> "100", 19990000000 -> "19.99"."""
    sign = "-" if nanos < 0 else ""
    units, frac = divmod(abs(nanos), NANOS)
    if not frac:
        return f"{sign}{units}"
    return f"{sign}{units}.{str(frac).rjust(DIGITS, '0').rstrip('0')}"


def parse_currency(raw: object, where: str = "currency") -> str:
    if raw is None:
        return DEFAULT_CURRENCY
    if not isinstance(raw, str) or len(raw) != 3 or not raw.isascii() or not raw.isalpha():
        raise InputError(Problem(where, "must be an ISO 4217 code such as USD or EUR"))
    code = raw.upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise InputError(Problem(where, f"is not an ISO 4217 currency: {raw!r}"))
    return code

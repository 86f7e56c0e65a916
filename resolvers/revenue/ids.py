"""Seed 000's ids: 22 characters of base 57 (128 bits), as in "5mczBhCjbBgoWwf6Vbp5sC".

An id that cannot be one is refused as the seed documents ("Invalid ID", 400) before any look-up.
A create under an Idempotency-Key derives its id from the key, so two attempts of one request
(a retry after a crash, two processes racing) can only ever store one record.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from pydantic import Field
from ulid import ULID

from resolvers.core.errors import InputError, Problem

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # no 0, 1, I, O, l
LENGTH = 22
PATTERN = re.compile(f"[{ALPHABET}]{{{LENGTH}}}")
INVALID_ID = "Invalid ID"
ShortId = Annotated[str, Field(pattern=f"^{PATTERN.pattern}$")]  # for the documents: what is not one is refused
# Agents are named by the SDKs that send their events: any printable id up to this long.
MAX_AGENT_ID = 256


def _encode(number: int) -> str:
    out = []
    for _ in range(LENGTH):
        number, digit = divmod(number, len(ALPHABET))
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def new_short_id() -> str:
    """A ULID's 128 bits: the alphabet is in ASCII order, so ids sort by creation time (to the millisecond)."""
    return _encode(int(ULID()))


def keyed_short_id(*parts: str) -> str:
    """The same id for the same parts (project, kind, idempotency key)."""
    return _encode(int.from_bytes(hashlib.sha256("\x00".join(parts).encode()).digest()[:16], "big"))


def check_id(value: str, where: str = "id") -> str:
    if not PATTERN.fullmatch(value):
        raise InputError(Problem(where, INVALID_ID))
    return value


def check_agent_id(value: str, where: str = "id") -> str:
    if not value or len(value) > MAX_AGENT_ID or not value.isprintable():
        raise InputError(Problem(where, INVALID_ID))
    return value

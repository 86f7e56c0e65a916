"""Time-ordered ids: ULIDs (and their UUID form where a seed promises a UUID)."""

from __future__ import annotations

import os
import threading
import time

from ulid import ULID

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # ULID's base32 alphabet
# Two characters for each 10-bit value: an id's last 40 bits are 8 characters in four lookups.
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]
_LOW = (1 << 40) - 1
_lock = threading.Lock()
_last = 0  # the last ULID handed out, as an integer: every next one is larger
# os.urandom releases the GIL for its getrandom call, and in the server the writer thread, waiting for the
# GIL, takes it there: the loop then waits for it back (py-spy, typed batches of 100: ~12% of the loop's
# samples sat on that call). So 80-bit draws are taken from a pool filled 256 draws at a time.
_POOL_DRAWS = 256
_pool = b""
_taken = 0  # bytes of _pool handed out


def _forget_pool() -> None:
    """In a forked child: never hand out the bytes the parent may hand out too."""
    global _pool, _taken
    _pool, _taken = b"", 0


os.register_at_fork(after_in_child=_forget_pool)


def _random80() -> int:
    """80 bits from os.urandom (under _lock)."""
    global _pool, _taken
    if _taken >= len(_pool):
        _pool, _taken = os.urandom(10 * _POOL_DRAWS), 0
    _taken += 10
    return int.from_bytes(_pool[_taken - 10 : _taken], "big")


def new_ids(count: int) -> list[str]:
    """count ULIDs, strictly increasing here and after every earlier one of this process.

    One clock read and one draw of 80 random bits per call: the ids of a batch follow the first by +1, as
    python-ulid's monotonic generator does within a millisecond (it cost ~2.9 us an id; this ~0.4).
    """
    global _last
    with _lock:
        first = (time.time_ns() // 1_000_000) << 80 | _random80()
        if first <= _last:  # the same millisecond as the last call (or the clock stepped back)
            first = _last + 1
        _last = first + count - 1
    out: list[str] = []
    head_of = -1
    head = ""
    for value in range(first, first + count):
        if value >> 40 != head_of:  # the first 18 characters (88 bits) change only on a carry
            head_of = value >> 40
            head = "".join(_CROCKFORD[head_of >> shift & 31] for shift in range(85, -1, -5))
        low = value & _LOW
        out.append(head + _PAIRS[low >> 30] + _PAIRS[low >> 20 & 1023] + _PAIRS[low >> 10 & 1023] + _PAIRS[low & 1023])
    return out


def new_id() -> str:
    return new_ids(1)[0]


def new_uuid() -> str:
    return str(ULID().to_uuid())

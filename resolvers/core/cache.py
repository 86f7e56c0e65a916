"""A small in-process cache with both bounds a long-running server needs: entries and age."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """At most max_entries values, least recently used evicted first; each expires ttl seconds after it was put.

    An expired entry is dropped when it is next looked up, or when it reaches the
    front of the order: the size bound holds whatever the keys, and nothing is swept
    on a timer.
    """

    def __init__(self, max_entries: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1 or ttl <= 0:
            raise ValueError("a TTLCache needs max_entries >= 1 and ttl > 0")
        self.max_entries = max_entries
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: K) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry[0] > self._clock()

    def get(self, key: K, default: V | None = None) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return default
        if entry[0] <= self._clock():
            del self._entries[key]
            return default
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: K, value: V) -> None:
        now = self._clock()
        self._entries[key] = (now + self.ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        # The least recently used entry is the likeliest to have expired: drop it now rather than
        # keep it until the bound pushes it out.
        oldest = next(iter(self._entries.values()))
        if oldest[0] <= now:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

"""Moving-window rate limits in this process's memory, within a bound on what they remember.

The same windows as the `limits` library's moving window (a hit is allowed while
fewer than `limit` allowed hits fall within the last `window` seconds; a refused
hit is not counted), which this replaces: its MemoryStorage keeps an object per
hit for every key seen in the window with no bound on the number of keys (one
window per client address, and IPv6 clients have many), and its expiry pass
walks every key with a thread hop each.

Here a key's window is a list of its allowed hits' times. All windows together
remember at most max_hits times and max_keys keys (about 40 bytes a time and
200 a key: some 30 MB at the defaults); past either, the least recently hit
keys are forgotten whole and their clients start afresh. A key whose last hit
has left its window is dropped once it is the least recently hit.
"""

from __future__ import annotations

import bisect
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_KEYS = 50_000
MAX_HITS = 500_000


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    remaining: int
    reset_at: float  # epoch seconds: when the oldest hit in the window leaves it


@dataclass(slots=True)
class _Window:
    seconds: float
    times: list[float]


class MovingWindows:
    def __init__(
        self, max_keys: int = MAX_KEYS, max_hits: int = MAX_HITS, clock: Callable[[], float] = time.time
    ) -> None:
        self.max_keys = max_keys
        self.max_hits = max_hits
        self._clock = clock
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        self._hits = 0

    def __len__(self) -> int:
        return len(self._windows)

    @property
    def hits(self) -> int:
        """Hit times remembered, across all keys."""
        return self._hits

    def hit(self, key: str, limit: int, seconds: float) -> Verdict:
        now = self._clock()
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(seconds, [])
        else:
            self._windows.move_to_end(key)
            self._expire(window, now)
        times = window.times
        allowed = len(times) < limit
        if allowed:
            times.append(now)
            self._hits += 1
        reset_at = (times[0] if times else now) + seconds
        self._bound(now)
        return Verdict(allowed, max(0, limit - len(times)), reset_at)

    def _expire(self, window: _Window, now: float) -> None:
        gone = bisect.bisect_right(window.times, now - window.seconds)
        if gone:
            del window.times[:gone]
            self._hits -= gone

    def _bound(self, now: float) -> None:
        windows = self._windows
        while len(windows) > self.max_keys or self._hits > self.max_hits:
            _, oldest = windows.popitem(last=False)
            self._hits -= len(oldest.times)
        # Amortized sweep: the least recently hit key goes once its last hit has left its window.
        for _ in range(2):
            if not windows:
                return
            key, oldest = next(iter(windows.items()))
            if oldest.times and oldest.times[-1] > now - oldest.seconds:
                return
            del windows[key]
            self._hits -= len(oldest.times)

"""Per-address rate-limit windows: exact moving windows, within bounds on keys and hits."""

from __future__ import annotations

from graph.rest.windows import MovingWindows


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_moving_window_allows_limit_hits_per_window_and_counts_only_allowed_ones() -> None:
    clock = Clock()
    windows = MovingWindows(clock=clock)
    verdicts = [windows.hit("ip:1|/events", limit=3, seconds=60) for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert [v.remaining for v in verdicts] == [2, 1, 0, 0, 0]
    assert verdicts[-1].reset_at == 1_060.0  # when the oldest hit leaves the window
    assert windows.hits == 3  # refused hits are not remembered
    clock.now += 60  # the three hits leave the window together
    assert windows.hit("ip:1|/events", limit=3, seconds=60).remaining == 2
    assert windows.hit("ip:2|/events", limit=3, seconds=60).remaining == 2  # keys are independent


def test_moving_windows_forget_the_least_recently_hit_keys_past_their_bounds() -> None:
    clock = Clock()
    windows = MovingWindows(max_keys=100, max_hits=150, clock=clock)
    for i in range(1_000):  # a flood from 1,000 addresses
        clock.now += 0.001
        windows.hit(f"ip:{i}|/", limit=60, seconds=60)
    assert len(windows) == 100 and windows.hits == 100
    for _ in range(5):
        windows.hit("ip:999|/", limit=60, seconds=60)
    for _ in range(50):  # hits, not only keys, are bounded
        windows.hit("ip:busy|/", limit=60, seconds=60)
    assert windows.hits <= 150 and len(windows) <= 100
    assert windows.hit("ip:999|/", limit=60, seconds=60).remaining == 53  # a recent key kept its 7 hits


def test_moving_windows_drop_idle_keys_as_traffic_goes_on() -> None:
    clock = Clock()
    windows = MovingWindows(clock=clock)
    for i in range(50):
        windows.hit(f"ip:{i}|/", limit=10, seconds=60)
    clock.now += 61
    for _ in range(50):
        windows.hit("ip:other|/", limit=1_000, seconds=60)
    assert len(windows) == 1 and windows.hits == 50

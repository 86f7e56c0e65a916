"""The in-process caches of resolvers/core have a bound on entries and on age: a fake clock, nothing timed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from resolvers.core import auth
from resolvers.core.auth import Authenticator
from resolvers.core.cache import TTLCache
from storage.models import ApiKey


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_ttl_cache_keeps_the_most_recently_used_within_its_bound() -> None:
    cache: TTLCache[int, str] = TTLCache(max_entries=3, ttl=10, clock=Clock())
    for i in range(3):
        cache.put(i, str(i))
    assert cache.get(0) == "0"  # 0 is now the most recently used
    cache.put(3, "3")
    assert len(cache) == 3
    assert 1 not in cache and cache.get(1) is None
    assert [cache.get(i) for i in (0, 2, 3)] == ["0", "2", "3"]


def test_ttl_cache_entries_expire() -> None:
    clock = Clock()
    cache: TTLCache[str, int] = TTLCache(max_entries=100, ttl=10, clock=clock)
    cache.put("a", 1)
    clock.now += 9.9
    assert cache.get("a") == 1
    clock.now += 0.2
    assert cache.get("a") is None and len(cache) == 0
    cache.put("b", 2)
    clock.now += 11
    cache.put("c", 3)  # the expired least recently used entry goes at the next put
    assert len(cache) == 1 and cache.get("c") == 3


class KeyStore:
    """The one store call authentication makes, counted."""

    def __init__(self, keys: dict[str, ApiKey]) -> None:
        self.keys, self.lookups = keys, 0
        self.projects = SimpleNamespace(key_by_hash=self.key_by_hash)

    async def key_by_hash(self, digest: str) -> ApiKey | None:
        self.lookups += 1
        return self.keys.get(digest)


async def test_a_flood_of_wrong_keys_neither_grows_the_key_cache_nor_evicts_good_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(auth, "KEY_CACHE_ENTRIES", 50)
    plain, record = auth.new_key("p1")
    store = KeyStore({record.hash: record})
    authenticator = Authenticator(store, admin_key="admin-key-0123456789", default_project="default")  # type: ignore[arg-type]
    assert (await authenticator.authenticate(plain)).project_id == "p1"
    for i in range(500):
        with pytest.raises(auth.Unauthorized):
            await authenticator.authenticate(f"lg_wrong_{i}")
    caches: Any = (authenticator._valid, authenticator._invalid)
    assert [len(c) for c in caches] == [1, 50]
    before = store.lookups
    assert (await authenticator.authenticate(plain)).project_id == "p1"
    assert store.lookups == before  # still cached

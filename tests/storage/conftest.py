"""Every Store-contract test runs on each backend: SQLite always; MongoDB where one is configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.sqlite import SQLiteStore

BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[object]:
    if request.param == "sqlite":
        backend = SQLiteStore(tmp_path / "contract.db")
    else:  # pragma: no cover - filled in by the backends that exist
        raise AssertionError(request.param)
    await backend.start()
    yield backend
    await backend.close()

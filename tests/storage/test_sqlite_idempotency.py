"""Expired Idempotency-Key records leave the SQLite table as new ones arrive (MongoDB has a TTL index)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.models import IdempotentResponse
from storage.sqlite import idempotency
from storage.sqlite.store import SQLiteStore

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def record(key: str, at: datetime) -> IdempotentResponse:
    return IdempotentResponse(project_id="p", key=key, fingerprint="f", status=201, body=b"{}",
                              content_type="application/json", created_at=at, expires_at=at + timedelta(hours=1))


async def test_each_new_record_sweeps_expired_ones(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "idem.db")
    await store.start()
    try:
        for i in range(250):
            await store.idempotency.remember_response(record(f"old-{i}", T0))
        later = T0 + timedelta(hours=2)  # all 250 have expired
        for i in range(3):
            await store.idempotency.remember_response(record(f"new-{i}", later))
        ((left,),) = await store.db.fetch("SELECT COUNT(*) FROM idempotency", ())
        assert left == 3 + max(0, 250 - 3 * idempotency.SWEEP)
        assert (await store.idempotency.recall_response("p", "new-0", later)) is not None
    finally:
        await store.close()

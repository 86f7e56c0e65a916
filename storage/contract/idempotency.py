"""The idempotency contract: answers remembered under an Idempotency-Key.

Writes that a key guards record their answer in their own transaction
(storage.contract.traces.Claim); these calls read records back and store the
answers of work that has no transaction of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from storage.models import IdempotentResponse


class IdempotencyStore(Protocol):
    async def remember_response(self, record: IdempotentResponse) -> IdempotentResponse:
        """Stores the record, or returns the live one already stored under its key."""
        ...

    async def recall_response(self, project_id: str, key: str, now: datetime) -> IdempotentResponse | None: ...

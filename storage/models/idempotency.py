"""Idempotency records: the first answer to a request that carried an Idempotency-Key."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class IdempotentResponse(BaseModel):
    """The first answer to a request carrying an Idempotency-Key."""

    project_id: str
    key: str
    fingerprint: str  # hash of method, path and body: the same key with another request is refused
    status: int
    body: bytes
    content_type: str
    created_at: datetime
    expires_at: datetime

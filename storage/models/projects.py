"""Tenancy: projects and their API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Project(BaseModel):
    """A tenant. Every other document carries its id."""

    project_id: str  # equal to id: keeps "every document carries project_id" uniform
    id: str
    name: str
    created_at: datetime
    allowed_origins: list[str] = Field(default_factory=list)
    # Public, ingest-only token for browser trackers (seed 003's ?token=), checked against allowed_origins.
    tracker_token: str
    # Days its sessions are kept after their last event; None: the server's default (which may be forever).
    retention_days: int | None = None


class ApiKey(BaseModel):
    """A secret key, stored only as its SHA-256 hash; the prefix identifies it in listings."""

    project_id: str
    id: str
    prefix: str
    hash: str
    created_at: datetime
    revoked_at: datetime | None = None

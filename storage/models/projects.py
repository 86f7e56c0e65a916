"""Tenancy: accounts, their projects, and the API keys of each."""

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
    # The account that owns it (seed 003's account key manages it); None: only the admin key manages it.
    account_id: str | None = None


class ApiKey(BaseModel):
    """A secret key, stored only as its SHA-256 hash; the prefix identifies it in listings."""

    project_id: str
    id: str
    prefix: str
    hash: str
    created_at: datetime
    revoked_at: datetime | None = None


class Account(BaseModel):
    """Owns projects: its keys (seed 003's account key) manage every project it owns, and no other."""

    id: str
    name: str
    tier: str = "self-hosted"
    projects_limit: int | None = None  # None: no limit
    created_at: datetime


class AccountKey(BaseModel):
    """An account's secret key, stored only as its SHA-256 hash."""

    account_id: str
    id: str
    prefix: str
    hash: str
    created_at: datetime
    revoked_at: datetime | None = None

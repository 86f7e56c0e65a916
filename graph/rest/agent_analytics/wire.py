"""Seed 003's answers as types: the handlers build them (mypy checks each field) and the
OpenAPI document describes them. A TypedDict is a plain dict at run time; extra="forbid"
closes the published schema, so the test against live answers catches an unnamed field."""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

CLOSED = ConfigDict(extra="forbid")


@with_config(CLOSED)
class ErrorOut(TypedDict):
    """Every failure; a validation failure names its first bad field."""

    error: str
    field: NotRequired[str]


@with_config(CLOSED)
class HealthOut(TypedDict):
    status: Literal["ok"]
    timestamp: str


@with_config(CLOSED)
class QueuedOut(TypedDict):
    queued: bool


@with_config(CLOSED)
class QueuedBatchOut(TypedDict):
    queued: bool
    count: int


@with_config(CLOSED)
class EventOut(TypedDict):
    """One tracked event, as GET /stream sends it."""

    id: str
    event: str
    session_id: str
    user_id: str | None
    properties: dict[str, Any]
    timestamp: str


@with_config(CLOSED)
class ProjectOut(TypedDict):
    id: str
    name: str
    project_token: str
    allowed_origins: list[str]
    created_at: str
    has_api_key: NotRequired[bool]


@with_config(CLOSED)
class ProjectListOut(TypedDict):
    projects: list[ProjectOut]
    total: int


@with_config(CLOSED)
class ProjectExistingOut(ProjectOut):
    existing: Literal[True]


@with_config(CLOSED)
class ProjectCreatedOut(ProjectOut):
    api_key: str
    existing: Literal[False]


@with_config(CLOSED)
class ProjectDetailOut(ProjectOut):
    usage_today: int


@with_config(CLOSED)
class DeletedOut(TypedDict):
    deleted: Literal[True]
    id: str


@with_config(CLOSED)
class TierLimits(TypedDict):
    max_events_lifetime: None
    retention_days: int | None


@with_config(CLOSED)
class AccountOut(TypedDict):
    """An account key's account (id, name, created_at); a project key's project (project_id) and the admin's."""

    tier: str
    admin: bool
    id: NotRequired[str]
    name: NotRequired[str]
    created_at: NotRequired[str]
    project_id: NotRequired[str]
    projects_count: int
    projects_limit: int | None
    rate_limit_rpm: int
    tier_limits: TierLimits


@with_config(CLOSED)
class RevokedOut(TypedDict):
    """The new key, shown once: an account key's (account_id) or a project key's (project_id)."""

    api_key: str
    account_id: NotRequired[str]
    project_id: NotRequired[str]
    revoked: Literal[True]

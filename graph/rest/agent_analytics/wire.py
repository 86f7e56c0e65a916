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
    tier: str
    admin: bool
    project_id: str
    projects_count: int
    projects_limit: None
    rate_limit_rpm: int
    tier_limits: TierLimits


@with_config(CLOSED)
class RevokedOut(TypedDict):
    api_key: str
    project_id: str
    revoked: Literal[True]

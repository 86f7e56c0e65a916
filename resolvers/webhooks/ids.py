"""Derived ids: an event's id comes from what happened (the event and its subject), and a delivery's from its
endpoint and the event, so emitting the same event again (a detector rerun after a crash) stores nothing new
and a receiver sees one event id however often it is delivered."""

from __future__ import annotations

import hashlib
import secrets

from resolvers.core.ids import new_id


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def event_id(project_id: str, event: str, subject_id: str) -> str:
    return "evt_" + _digest(project_id, event, subject_id)


def delivery_id(project_id: str, webhook_id: str, event_id: str) -> str:
    return "whd_" + _digest(project_id, webhook_id, event_id)


def webhook_id() -> str:
    return "wh_" + new_id()


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)

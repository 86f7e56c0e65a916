"""What a request needs from the running server, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from resolvers.assistant.llm import Phraser
from resolvers.core.auth import Authenticator
from resolvers.core.metrics import TimedStore
from resolvers.live.bus import DEFAULT_QUEUE, Bus
from resolvers.live.feed import FeedBus
from storage.contract import Store

DEFAULT_PROJECT = "default"


@dataclass(frozen=True, slots=True)
class Limits:
    max_batch_events: int = 1000
    max_page_size: int = 1000
    idempotency_window: timedelta = timedelta(hours=24)
    retention_days: int | None = None  # the server's default; a project may set its own
    questions_per_month: int = 200  # questions to the LENS assistant per project and calendar month (seed 001)
    webhooks_per_project: int = 20
    webhook_allow_private: bool = False  # webhooks may point to private, loopback and link-local addresses


@dataclass(slots=True)
class Services:
    store: Store
    bus: Bus
    auth: Authenticator
    limits: Limits = field(default_factory=Limits)
    phraser: Phraser | None = None  # a language model that words the assistant's answers (off: None)

    @classmethod
    def build(
        cls,
        store: Store,
        *,
        limits: Limits | None = None,
        admin_key: str | None = None,
        project_key: str | None = None,
        require_auth: bool = False,
        queue_size: int = DEFAULT_QUEUE,
        anomaly_poll_seconds: float | None = None,
        phraser: Phraser | None = None,
    ) -> Services:
        timed = TimedStore(store)  # every store call timed and its failures counted (/metrics)
        return cls(
            store=timed,
            bus=FeedBus(timed.live, queue_size, timed.anomalies, anomaly_poll_seconds),
            auth=Authenticator(
                timed, admin_key, DEFAULT_PROJECT, project_key=project_key, require_auth=require_auth
            ),
            limits=limits or Limits(),
            phraser=phraser,
        )

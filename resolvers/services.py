"""What a request needs from the running server, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from resolvers.auth import Authenticator
from resolvers.live import Bus, LocalBus
from storage.contract import Store

DEFAULT_PROJECT = "default"


@dataclass(frozen=True, slots=True)
class Limits:
    max_batch_events: int = 1000
    max_page_size: int = 1000
    idempotency_window: timedelta = timedelta(hours=24)


@dataclass(slots=True)
class Services:
    store: Store
    bus: Bus = field(default_factory=LocalBus)
    limits: Limits = field(default_factory=Limits)
    auth: Authenticator = None  # type: ignore[assignment]  # set in __post_init__

    def __post_init__(self) -> None:
        if self.auth is None:
            self.auth = Authenticator(self.store, None, DEFAULT_PROJECT)

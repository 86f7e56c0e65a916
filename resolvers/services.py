"""What a request needs from the running server, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field

from resolvers.live import Bus, LocalBus
from storage.contract import Store


@dataclass(frozen=True, slots=True)
class Limits:
    max_batch_events: int = 1000
    max_page_size: int = 1000


@dataclass(slots=True)
class Services:
    store: Store
    bus: Bus = field(default_factory=LocalBus)
    limits: Limits = field(default_factory=Limits)

"""The webhook sender: claims due deliveries with a lease in the store, sends them signed, records each attempt,
and retries failures with exponential backoff.

At least once: a delivery stays pending until an endpoint answers 2xx, across restarts (it is in the store),
and a sender that dies holding a lease loses it when it expires, so another (or the restarted one) sends it
again. Receivers de-duplicate on X-LensGraph-Event-Id. The lease makes two processes never send one delivery
at the same time; a sender that outlived its lease finds its write refused (finish_attempt) and changes nothing.

Attempt n (1-based) failing schedules attempt n+1 after retry_base * 2**(n-1), at most MAX_BACKOFF; after
max_attempts the delivery is failed (counted from its last redelivery, if it was redelivered). An endpoint
deleted or disabled meanwhile fails its pending deliveries.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from resolvers.core.ids import new_id
from resolvers.core.metrics import WEBHOOK_DELIVERIES
from resolvers.core.services import Services
from resolvers.jobs.loop import guarded
from resolvers.webhooks import signing
from resolvers.webhooks.transport import DeliveryError, Transport
from storage.models.webhooks import Attempt, Delivery, DeliveryStatus
from storage.timeutil import now_ms

log = logging.getLogger(__name__)

JOB = "webhooks"
MAX_BACKOFF = timedelta(hours=6)
MAX_ERROR = 300
USER_AGENT = "LensGraph-Webhooks/1"


@dataclass(frozen=True, slots=True)
class SenderConfig:
    max_attempts: int = 8
    retry_base_seconds: float = 30.0
    timeout_seconds: float = 10.0
    poll_seconds: float = 2.0
    batch: int = 20

    @property
    def lease(self) -> timedelta:
        """Longer than one batch can take (its sends run together, each bounded by the timeout)."""
        return timedelta(seconds=2 * self.timeout_seconds + 5)


def backoff(config: SenderConfig, attempts: int) -> timedelta:
    """The wait after the attempts-th failed attempt."""
    return min(timedelta(seconds=config.retry_base_seconds * 2 ** (attempts - 1)), MAX_BACKOFF)


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()}"


async def _attempt(services: Services, transport: Transport, d: Delivery) -> tuple[Attempt, bool]:
    """The attempt, and whether the endpoint is gone (deleted or disabled): then no retry."""
    began = time.monotonic()
    at = now_ms()
    hook = await services.store.webhooks.webhook_by_id(d.project_id, d.webhook_id)
    if hook is None or not hook.enabled:
        return Attempt(at=at, error="the endpoint was deleted" if hook is None else "the endpoint is disabled"), True
    body = d.body.encode()
    headers = {
        "Content-Type": "application/json", "User-Agent": USER_AGENT,
        signing.SIGNATURE: signing.sign(hook.secret, body), signing.EVENT: d.event, signing.EVENT_ID: d.event_id,
        signing.DELIVERY: d.id, signing.ATTEMPT: str(len(d.attempts) + 1),
    }
    try:
        status = await transport.post(hook.url, body, headers)
        error = None if 200 <= status < 300 else f"HTTP {status}"
    except DeliveryError as exc:
        status, error = None, (str(exc) or type(exc).__name__)[:MAX_ERROR]
    return Attempt(at=at, status_code=status, error=error, duration_ms=int((time.monotonic() - began) * 1000)), False


def outcome(config: SenderConfig, d: Delivery, attempt: Attempt, gone: bool = False) -> Delivery:
    """The delivery after this attempt: delivered, failed for good, or pending again after the backoff."""
    attempts = [*d.attempts, attempt]
    if attempt.error is None:
        return d.model_copy(update={"attempts": attempts, "status": DeliveryStatus.DELIVERED,
                                    "delivered_at": attempt.at})
    tried = d.attempts_since_requeue + 1  # this round's attempts, this one included
    if gone or tried >= config.max_attempts:
        return d.model_copy(update={"attempts": attempts, "status": DeliveryStatus.FAILED})
    return d.model_copy(update={"attempts": attempts, "next_attempt_at": attempt.at + backoff(config, tried)})


async def send(services: Services, transport: Transport, config: SenderConfig, d: Delivery, owner: str) -> Delivery:
    attempt, gone = await _attempt(services, transport, d)
    done = outcome(config, d, attempt, gone)
    if await services.store.webhooks.finish_attempt(done, owner):
        WEBHOOK_DELIVERIES.labels("delivered" if attempt.error is None else "failed").inc()
    else:  # the lease ran out and another sender took the delivery: it records its own attempt
        log.warning("webhook delivery %s: lease lost, attempt not recorded", d.id)
    return done


async def run_once(services: Services, transport: Transport, config: SenderConfig, owner: str,
                   now: datetime | None = None) -> list[Delivery]:
    """Claims what is due and sends it; the deliveries as recorded."""
    now = now or now_ms()
    claimed = await services.store.webhooks.claim_due(now, owner, now + config.lease, config.batch)
    if not claimed:
        return []
    return list(await asyncio.gather(*(send(services, transport, config, d, owner) for d in claimed)))


async def sender_loop(services: Services, transport: Transport, config: SenderConfig) -> None:
    """Forever: send what is due, then wait poll_seconds (at once again when a full batch was due)."""
    owner = new_owner()
    while True:
        sent = await guarded(JOB, run_once(services, transport, config, owner)) or []
        if len(sent) < config.batch:
            await asyncio.sleep(config.poll_seconds)

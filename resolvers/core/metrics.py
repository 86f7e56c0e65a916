"""The server's metrics, in prometheus-client's registry.

Defined here, below the API surface, so that ingest, the live bus, the store
and (to come) jobs and webhooks count where things happen; graph/app/metrics.py
serves them. With PROMETHEUS_MULTIPROC_DIR set (several workers), each process
writes its values there and /metrics aggregates them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

REQUESTS = Counter("lensgraph_http_requests", "HTTP requests answered", ["family", "route", "method", "status"])
REQUEST_SECONDS = Histogram(
    "lensgraph_http_request_seconds", "Time to answer an HTTP request (streams: until they end)",
    ["family", "route"], buckets=LATENCY_BUCKETS,
)
EVENTS_INGESTED = Counter("lensgraph_events_ingested", "Events stored", ["kind"])
EVENTS_DUPLICATE = Counter("lensgraph_events_duplicate", "Events whose id was already stored")
REQUESTS_REJECTED = Counter("lensgraph_requests_rejected", "Requests refused as bad input (400)", ["family"])
BATCH_SIZE = Histogram("lensgraph_ingest_batch_events", "Events per ingest batch", buckets=BATCH_BUCKETS)
STORE_SECONDS = Histogram(
    "lensgraph_store_call_seconds", "Time of one store call", ["domain", "call"], buckets=LATENCY_BUCKETS,
)
STORE_FAILURES = Counter("lensgraph_store_call_failures", "Store calls that raised", ["domain", "call", "error"])
LIVE_SUBSCRIBERS = Gauge("lensgraph_live_subscribers", "Live subscribers (websocket subscriptions and SSE)",
                         multiprocess_mode="livesum")
LIVE_QUEUED = Gauge("lensgraph_live_queued_messages", "Messages waiting in live subscribers' queues",
                    multiprocess_mode="livesum")
LIVE_OVERFLOWS = Counter("lensgraph_live_overflows", "Subscribers closed for falling too far behind")
JOB_RUNS = Counter("lensgraph_job_runs", "Background job runs", ["job"])
JOB_FAILURES = Counter("lensgraph_job_failures", "Background job runs that failed", ["job"])
WEBHOOK_DELIVERIES = Counter("lensgraph_webhook_deliveries", "Webhook delivery attempts", ["outcome"])


def watch_live(bus: Any) -> None:
    """The live gauges read the bus when scraped (in one process; several workers report their own)."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        LIVE_SUBSCRIBERS.set_function(lambda: bus.subscriber_count)
        LIVE_QUEUED.set_function(lambda: bus.queued)


class TimedDomain:
    """A store domain whose calls are timed and whose failures are counted, by call name."""

    def __init__(self, domain: str, inner: Any) -> None:
        self._domain = domain
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr
        timed = _timed(self._domain, name, attr)
        setattr(self, name, timed)  # built once per call name
        return timed


def _timed(domain: str, call: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    seconds = STORE_SECONDS.labels(domain, call)

    async def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            STORE_FAILURES.labels(domain, call, type(exc).__name__).inc()
            raise
        finally:
            seconds.observe(time.perf_counter() - began)

    return timed


class TimedStore:
    """The store with every domain's calls timed; start, close and the live feed pass through."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.traces = TimedDomain("traces", inner.traces)
        self.projects = TimedDomain("projects", inner.projects)
        self.idempotency = TimedDomain("idempotency", inner.idempotency)
        self.counters = TimedDomain("counters", inner.counters)
        self.analytics = TimedDomain("analytics", inner.analytics)
        self.experiments = TimedDomain("experiments", inner.experiments)
        self.revenue = TimedDomain("revenue", inner.revenue)
        self.anomalies = TimedDomain("anomalies", inner.anomalies)
        self.webhooks = TimedDomain("webhooks", inner.webhooks)
        self.live = inner.live

    async def start(self) -> None:
        await self._inner.start()

    async def close(self) -> None:
        await self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

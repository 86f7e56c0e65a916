"""Server settings: environment variables (LENSGRAPH_<NAME>), overridden by command-line flags."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator

from storage.sqlite.priority import MAX_NICE, WRITE_NICE

DEFAULT_DATABASE_URL = "sqlite:///./data/lensgraph.db"


class Settings(BaseModel):
    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=3000, ge=0, le=65535, description="port to listen on (0: any free port)")
    database_url: str = Field(default=DEFAULT_DATABASE_URL, description="sqlite:///path.db or mongodb://...")
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, description="largest request body")
    max_batch_events: int = Field(default=1000, ge=1, description="most events in one ingest request")
    max_page_size: int = Field(default=1000, ge=1, description="largest page a list returns")
    prefix_agentlens: str = Field(default="/", description="prefix of the AgentLens backend routes (seed 002)")
    prefix_agentlens_server: str = Field(default="/api", description="prefix of the AgentLens server routes (seed 004)")
    prefix_agent_analytics: str = Field(default="/agent-analytics", description="prefix of Agent Analytics (seed 003)")
    prefix_lensai: str = Field(default="/v1", description="prefix of the LensAI API (seed 000)")
    prefix_lens: str = Field(default="/api/lens", description="prefix of the LENS API (seed 001)")
    lens_questions_per_month: int = Field(
        default=200, ge=0, description="questions to the LENS assistant per project and calendar month (seed 001)"
    )
    assistant_llm_base_url: str | None = Field(
        default=None, description="an OpenAI-compatible API (e.g. https://api.openai.com/v1) that words the LENS "
        "assistant's answers; its numbers are checked against the engine's (none: off)"
    )
    assistant_llm_api_key: SecretStr | None = Field(
        default=None, min_length=1, description="the Bearer key for assistant_llm_base_url, never logged (prefer the "
        "environment variable: a flag shows in the process list)"
    )
    assistant_llm_model: str = Field(default="gpt-4o-mini", min_length=1, description="the model to ask")
    assistant_llm_timeout_seconds: float = Field(
        default=8.0, gt=0, le=120, description="longest wait for the model; past it the engine's wording stands"
    )
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0, description="idle time between SSE keep-alives")
    max_query_depth: int = Field(default=12, ge=1, description="deepest GraphQL selection")
    max_query_tokens: int = Field(default=4000, ge=10, description="most tokens in a GraphQL document")
    max_query_aliases: int = Field(default=30, ge=0, description="most aliases in a GraphQL document")
    max_query_cost: int = Field(default=50_000, ge=1, description="most objects a GraphQL query may resolve")
    max_query_fields: int = Field(default=2000, ge=1, description="most fields of a query, fragments expanded")
    max_query_length: int = Field(default=100_000, ge=100, description="most characters of a GraphQL query text")
    max_subscriptions_per_connection: int = Field(default=20, ge=1, description="subscriptions per websocket")
    subscriber_queue_size: int = Field(default=1000, ge=1, description="messages a live subscriber may lag")
    api_key: str | None = Field(
        default=None, min_length=16, description="admin key; with no key configured the server runs in dev mode"
    )
    agentlens_api_key: str | None = Field(
        default=None, min_length=1, description="a key of the default project (seed 002's AGENTLENS_API_KEY)"
    )
    require_auth: bool = Field(default=False, description="refuse unauthenticated requests even with no admin key")
    allow_remote_dev_mode: bool = Field(
        default=False, description="let dev mode (no authentication) listen on a non-loopback address"
    )
    rate_limits: bool = Field(default=True, description="enforce each seed's rate limits")
    rate_limit_per_minute: int = Field(default=600, ge=1, description="per-key budget where a seed names none")
    sqlite_busy_timeout_ms: int = Field(
        default=10_000, ge=0, description="how long a SQLite write waits for another process's lock before a 503"
    )
    sqlite_max_bytes: int = Field(
        default=0, ge=0, description="the largest the SQLite database may grow; past it writes answer 503 as on a "
        "full disk (0: no limit)"
    )
    sqlite_write_nice: int = Field(
        default=WRITE_NICE, ge=0, le=MAX_NICE,
        description="nice levels the SQLite writer, checkpointer and search-index threads run below the request "
        "threads (Linux), so reads get a core first under ingest (0: the same priority)",
    )
    trusted_proxy_hops: int = Field(
        default=0, ge=0, le=10,
        description="reverse proxies in front whose X-Forwarded-For entries are trusted for the client address "
        "(0: the socket's peer)",
    )
    country_header: str | None = Field(
        default=None, min_length=1, description="a header a trusted proxy sets to the client's ISO country code "
        "(e.g. CF-IPCountry); otherwise the country comes from the client address"
    )
    cors_origins: str = Field(default="*", description="comma-separated allowed origins, or *")
    idempotency_window_hours: float = Field(default=24.0, gt=0, description="how long Idempotency-Keys are kept")
    graphiql: bool = Field(default=True, description="serve the GraphiQL IDE at GET /graphql")
    retention_days: int | None = Field(
        default=None, ge=1, le=36_500, description="days sessions are kept after their last event (none: forever)"
    )
    retention_interval_seconds: float = Field(default=3600.0, ge=1, description="how often retention runs")
    anomaly_detection: bool = Field(default=True, description="run the anomaly detector (one process per database)")
    anomaly_interval_seconds: float = Field(
        default=300.0, ge=1, description="how often the anomaly detector evaluates every enabled rule"
    )
    reports: bool = Field(default=True, description="generate each project's daily and weekly reports")
    report_interval_seconds: float = Field(
        default=900.0, ge=1, description="how often the report job looks for a day or week to report on"
    )
    anomaly_poll_seconds: float = Field(
        default=2.0, gt=0, le=3600, description="how often each process looks for new anomalies to stream"
    )
    webhook_delivery: bool = Field(default=True, description="run the webhook sender (any number of processes)")
    webhook_allow_private: bool = Field(
        default=False, description="let webhooks point to private, loopback and link-local addresses (tests, "
        "private networks); off, such URLs are refused when saved and at every send"
    )
    webhooks_per_project: int = Field(default=20, ge=1, le=1000, description="most webhook endpoints per project")
    webhook_max_attempts: int = Field(default=8, ge=1, le=50, description="attempts before a delivery is failed")
    webhook_retry_base_seconds: float = Field(
        default=30.0, gt=0, description="the wait after a delivery's first failed attempt; doubled after each next"
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="longest wait for an endpoint")
    webhook_poll_seconds: float = Field(default=2.0, gt=0, description="how often due deliveries are looked for")
    metrics_token: str | None = Field(
        default=None, min_length=16, description="a Bearer token for GET /metrics besides the admin key"
    )
    access_log: bool = Field(default=True, description="log one line per request at INFO")
    workers: int = Field(
        default=1, ge=1, le=64,
        description="server processes sharing the port; above 1 each is a full server listening with "
        "SO_REUSEPORT (Linux), supervised and restarted by the lensgraph process",
    )
    shutdown_seconds: float = Field(default=3.0, gt=0, le=60, description="longest drain on SIGTERM")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")

    @field_validator("assistant_llm_base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an http:// or https:// URL, such as https://api.openai.com/v1")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("a base URL without query, fragment or credentials (the key has its own setting)")
        return v.strip().rstrip("/")

    @property
    def dev_mode(self) -> bool:
        return self.api_key is None and self.agentlens_api_key is None and not self.require_auth

    @classmethod
    def env_name(cls, name: str) -> str:
        return f"LENSGRAPH_{name.upper()}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = env.get(cls.env_name(name))
            if raw is not None:
                values[name] = raw
        # The seeds' conventional names count where the LENSGRAPH_ one is not set.
        for short, name in (
            ("HOST", "host"), ("PORT", "port"), ("CORS_ORIGINS", "cors_origins"),
            ("AGENTLENS_API_KEY", "agentlens_api_key"),
        ):
            if short in env and cls.env_name(name) not in env:
                values[name] = env[short]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)


__all__ = ["Settings", "ValidationError"]

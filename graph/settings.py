"""Server settings: environment variables, overridden by command-line flags."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, Field, ValidationError

DEFAULT_DATABASE_URL = "sqlite:///./data/lensgraph.db"


class Settings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
    database_url: str = DEFAULT_DATABASE_URL
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    max_batch_events: int = Field(default=1000, ge=1)
    max_page_size: int = Field(default=1000, ge=1)
    # Route prefixes of the REST families (see README).
    prefix_agentlens: str = "/"
    prefix_agentlens_server: str = "/api"
    prefix_agent_analytics: str = "/agent-analytics"
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0)
    # GraphQL limits
    max_query_depth: int = Field(default=12, ge=1)
    max_query_tokens: int = Field(default=4000, ge=10)
    max_query_aliases: int = Field(default=30, ge=0)
    max_query_cost: int = Field(default=50_000, ge=1)
    max_query_fields: int = Field(default=2000, ge=1)  # once fragments are expanded
    max_query_length: int = Field(default=100_000, ge=100)  # characters of the query text
    max_subscriptions_per_connection: int = Field(default=20, ge=1)
    subscriber_queue_size: int = Field(default=1000, ge=1)
    # Security. api_key is the bootstrap admin key (LENSGRAPH_API_KEY); with none and no
    # project keys in the store the server runs in dev mode, unauthenticated.
    api_key: str | None = Field(default=None, min_length=16)
    rate_limits: bool = True
    rate_limit_per_minute: int = Field(default=600, ge=1)
    cors_origins: str = "*"  # CORS_ORIGINS: a comma list, or *
    idempotency_window_hours: float = Field(default=24.0, gt=0)
    graphiql: bool = True
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = env.get(f"LENSGRAPH_{name.upper()}")
            if raw is not None:
                values[name] = raw
        # The conventional names win over nothing but explicit flags.
        for short, name in (("HOST", "host"), ("PORT", "port"), ("CORS_ORIGINS", "cors_origins")):
            if short in env and f"LENSGRAPH_{name.upper()}" not in env:
                values[name] = env[short]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)


__all__ = ["Settings", "ValidationError"]

"""Seed 001, the LENS API, under /api/lens (ahead of /api): anomalies, rules, reports, usage."""

from graph.rest.auth import bearer
from graph.rest.family import Family
from graph.rest.lens.spec import SPEC
from graph.rest.lens.wire import render_error, retry_after_header
from graph.rest.ratelimit import Rule

# The seed's budgets per minute. /reports has none documented: it shares /anomalies' 60; anything else under
# the prefix (its OpenAPI document, unknown paths) the server's default, so every answer carries the headers.
ROUTE_LIMITS = (("/chat", 10), ("/anomalies", 60), ("/rules", 30), ("/usage", 10), ("/reports", 60),
               ("/webhooks", 30))


def rate_rules(per_minute: int) -> list[Rule]:
    return [*(Rule(prefix, limit, 60) for prefix, limit in ROUTE_LIMITS), Rule("/", per_minute, 60)]


FAMILY = Family(
    name="LENS (seed 001)",
    spec=SPEC,
    render_error=render_error,
    default_credential=bearer,
    rate_style="x",
    rate_rules=rate_rules,
    middlewares=(retry_after_header,),
)

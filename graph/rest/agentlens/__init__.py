"""Seed 002, the AgentLens backend: POST /events from its SDK, and its session reads.

Wire format: snake_case, every field optional, errors as {"error": "..."}.
Fields the seed does not name are kept in the event's payload, so nothing an
SDK sends is lost.
"""

from graph.rest.agentlens import handlers
from graph.rest.family import Family

FAMILY = Family(
    name="AgentLens backend (seed 002)",
    spec=handlers.SPEC,
    render_error=handlers.render_error,
    default_credential=handlers.DEFAULT_CREDENTIAL,
    rate_style=handlers.RATE_STYLE,
    rate_rules=handlers.rate_rules,
)

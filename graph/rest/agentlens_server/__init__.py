"""Seed 004, the AgentLens server: typed events with a hash chain, under /api.

Wire format: camelCase; POST /api/events answers 201 {ingested, events:[{id, hash}]};
errors are {"error": "...", "details": [{"path", "message"}]}.
"""

from graph.rest.agentlens_server import handlers
from graph.rest.family import Family

FAMILY = Family(
    name="AgentLens server (seed 004)",
    spec=handlers.SPEC,
    render_error=handlers.render_error,
    default_credential=handlers.DEFAULT_CREDENTIAL,
    rate_style=handlers.RATE_STYLE,
    rate_rules=handlers.rate_rules,
)

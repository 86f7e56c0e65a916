"""Seed 003, Agent Analytics, under /agent-analytics: tracking, projects, account, live stream.

Wire format: snake_case. Secret keys come as X-API-Key; browser trackers send
the project's public token as ?token= (or "token" in the body), checked
against the project's allowed origins.
"""

from graph.rest.agent_analytics import handlers
from graph.rest.family import Family

FAMILY = Family(
    name="Agent Analytics (seed 003)",
    spec=handlers.SPEC,
    render_error=handlers.render_error,
    default_credential=handlers.DEFAULT_CREDENTIAL,
    rate_style=handlers.RATE_STYLE,
    rate_rules=handlers.rate_rules,
)

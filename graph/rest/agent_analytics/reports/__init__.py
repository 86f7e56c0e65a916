"""Seed 003's analytics reads, each a few engine queries over the project's tracked events.

Every read names its project (`project`: id or name) unless the key belongs to
one; it reads only tracked product events (kind "tracker"), never agent steps.
`since` takes an ISO 8601 date or time, or "<N>d"; like the seed system, ranges
run from the start of that UTC day through today, and the default is 7 days.
"""

from graph.rest.agent_analytics.reports.journeys import funnel_report, retention_report
from graph.rest.agent_analytics.reports.query import query
from graph.rest.agent_analytics.reports.sessions import distribution, pages, sessions
from graph.rest.agent_analytics.reports.traffic import (
    breakdown,
    events,
    heatmap,
    insights,
    live,
    properties,
    properties_received,
    stats,
)

__all__ = [
    "breakdown", "distribution", "events", "funnel_report", "heatmap", "insights", "live", "pages", "properties",
    "properties_received", "query", "retention_report", "sessions", "stats",
]

"""Seed 000, LensAI, under /v1 (the revenue issue): agents, customers, goal types, goals, outcomes, revenues."""

from graph.rest.auth import bearer
from graph.rest.family import Family
from graph.rest.lensai.spec import SPEC
from graph.rest.lensai.wire import render_error, request_line
from graph.rest.ratelimit import Rule


def rate_rules(per_minute: int) -> list[Rule]:
    return [Rule("/", per_minute, 60)]  # "depends on your plan tier": one per-key budget


FAMILY = Family(
    name="LensAI (seed 000)",
    spec=SPEC,
    render_error=render_error,
    default_credential=bearer,
    rate_style="x",
    rate_rules=rate_rules,
    middlewares=(request_line,),
)

"""Seed 003's A/B experiments: create, list, read with live results, change status, delete, and the
config tracker.js assigns from. Results: resolvers/experiments (counts through the analytics
engine, statistics in stats.py; the significance call is the always-valid mSPRT p-value)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import with_config
from typing_extensions import TypedDict

from graph.rest.agent_analytics.reports.common import read_project
from graph.rest.agent_analytics.trackers import tracker_auth
from graph.rest.agent_analytics.wire import CLOSED
from graph.rest.auth import credentials
from graph.rest.http import json_response, read_json
from graph.rest.keys import PRINCIPAL, PROJECT, SERVICES
from resolvers.core.errors import InputError, Problem
from resolvers.experiments import service
from resolvers.experiments.results import ExperimentResults, experiment_results
from resolvers.experiments.stats import Interval
from storage.models.experiments import Experiment
from storage.timeutil import iso_ms


@with_config(CLOSED)
class VariantOut(TypedDict):
    key: str
    weight: int


@with_config(CLOSED)
class IntervalOut(TypedDict):
    low: float
    high: float


@with_config(CLOSED)
class VariantResultOut(TypedDict):
    key: str
    is_control: bool
    weight: int
    unique_users: int
    conversions: int
    conversion_rate: float | None
    conversion_rate_interval: IntervalOut | None
    absolute_lift: float | None
    absolute_lift_interval: IntervalOut | None
    relative_lift: float | None
    relative_lift_interval: IntervalOut | None
    p_value: float | None  # always valid (mSPRT)
    fixed_horizon_p_value: float | None
    significant: bool
    probability_to_beat_control: float | None


@with_config(CLOSED)
class SampleRatioOut(TypedDict):
    chi_square: float | None
    p_value: float | None
    mismatch: bool


@with_config(CLOSED)
class ResultsOut(TypedDict):
    variants: list[VariantResultOut]
    probability_best: dict[str, float]
    lift: dict[str, float]
    sample_ratio: SampleRatioOut
    significance_method: str
    sufficient_data: bool
    recommendation: str


@with_config(CLOSED)
class ExperimentOut(TypedDict):
    id: str
    project_id: str
    name: str
    description: str | None
    variants: list[VariantOut]
    goal_event: str
    status: str
    winner: str | None
    created_at: str
    updated_at: str


class ExperimentWithResultsOut(ExperimentOut):
    results: ResultsOut


@with_config(CLOSED)
class ExperimentListOut(TypedDict):
    project: str
    experiments: list[ExperimentOut]


@with_config(CLOSED)
class ConfigExperimentOut(TypedDict):
    key: str
    variants: list[VariantOut]


@with_config(CLOSED)
class ConfigOut(TypedDict):
    experiments: list[ConfigExperimentOut]


@with_config(CLOSED)
class ExperimentDeletedOut(TypedDict):
    deleted: bool
    id: str


class ExperimentIn(TypedDict, total=False):
    """POST /experiments: variants are names (the first is the control); weights whole percentages."""

    project: str
    name: str
    variants: list[str]
    goal_event: str
    weights: list[int]
    description: str


class ExperimentPatchIn(TypedDict, total=False):
    """PATCH /experiments/{id}: an explicit status; completed may name a winner."""

    status: str
    winner: str


def experiment_json(e: Experiment) -> ExperimentOut:
    return {
        "id": e.id, "project_id": e.project_id, "name": e.name, "description": e.description,
        "variants": [{"key": v.key, "weight": v.weight} for v in e.variants], "goal_event": e.goal_event,
        "status": e.status.value, "winner": e.winner, "created_at": iso_ms(e.created_at),
        "updated_at": iso_ms(e.updated_at),
    }


def _interval(i: Interval | None) -> IntervalOut | None:
    return None if i is None else {"low": i.low, "high": i.high}


def results_json(results: ExperimentResults) -> ResultsOut:
    found = results.stats
    variants: list[VariantResultOut] = []
    for v in found.variants:
        c = v.comparison
        variants.append({
            "key": v.name, "is_control": v.is_control, "weight": int(v.weight), "unique_users": v.exposed,
            "conversions": v.converted, "conversion_rate": v.conversion_rate,
            "conversion_rate_interval": _interval(v.conversion_rate_interval),
            "absolute_lift": c.absolute_lift if c else None,
            "absolute_lift_interval": _interval(c.absolute_lift_interval) if c else None,
            "relative_lift": c.relative_lift if c else None,
            "relative_lift_interval": _interval(c.relative_lift_interval) if c else None,
            "p_value": c.always_valid_p_value if c else None,
            "fixed_horizon_p_value": c.fixed_horizon_p_value if c else None,
            "significant": bool(c and c.significant),
            "probability_to_beat_control": c.probability_to_beat_control if c else None,
        })
    lift = {v.name: v.comparison.relative_lift for v in found.variants
            if v.comparison is not None and v.comparison.relative_lift is not None}
    return {
        "variants": variants, "probability_best": results.probability_best, "lift": lift,
        "sample_ratio": {"chi_square": found.sample_ratio.chi_square, "p_value": found.sample_ratio.p_value,
                         "mismatch": found.sample_ratio.mismatch},
        "significance_method": results.significance_method,
        "sufficient_data": results.sufficient_data, "recommendation": results.recommendation,
    }


async def _body(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InputError(Problem("body", "must be a JSON object"))
    return body


async def create_experiment(request: web.Request) -> web.Response:
    body = await _body(request)
    project_id, _ = await read_project(request, body.get("project") or "")
    created = await service.create(
        request.config_dict[SERVICES], project_id, name=body.get("name"), variants=body.get("variants"),
        goal_event=body.get("goal_event"), weights=body.get("weights"), description=body.get("description"),
    )
    return json_response(experiment_json(created), 201)


async def list_experiments(request: web.Request) -> web.Response:
    project_id, name = await read_project(request)
    found = await request.config_dict[SERVICES].store.experiments.list_experiments(project_id)
    answer: ExperimentListOut = {"project": name, "experiments": [experiment_json(e) for e in found]}
    return json_response(answer)


async def _found(request: web.Request) -> Experiment:
    return await service.find(request.config_dict[SERVICES], request[PRINCIPAL], request.match_info["id"],
                              request.query.get("project") or None)


async def get_experiment(request: web.Request) -> web.Response:
    experiment = await _found(request)
    results = await experiment_results(request.config_dict[SERVICES], experiment)
    answer: ExperimentWithResultsOut = {**experiment_json(experiment), "results": results_json(results)}
    return json_response(answer)


async def update_experiment(request: web.Request) -> web.Response:
    body = await _body(request)
    if "status" not in body:
        raise InputError(Problem("status", "is required: active, paused or completed"))
    changed = await service.update(request.config_dict[SERVICES], await _found(request), status=body["status"],
                                   winner=body.get("winner"))
    return json_response(experiment_json(changed))


async def delete_experiment(request: web.Request) -> web.Response:
    experiment = await _found(request)
    await service.delete(request.config_dict[SERVICES], experiment)
    answer: ExperimentDeletedOut = {"deleted": True, "id": experiment.id}
    return json_response(answer)


@credentials(tracker_auth)
async def experiment_config(request: web.Request) -> web.Response:
    """What tracker.js assigns from: the token's project's active experiments, by name."""
    found = await request.config_dict[SERVICES].store.experiments.list_experiments(request[PROJECT])
    answer: ConfigOut = {"experiments": [
        {"key": e.name, "variants": [{"key": v.key, "weight": v.weight} for v in e.variants]}
        for e in service.assignable(found)
    ]}
    return json_response(answer)

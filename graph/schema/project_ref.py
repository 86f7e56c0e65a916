"""The LENS domains' project argument (seed 001's account_id) and their input errors in camelCase: shared by
the anomalies and webhooks fields, which take the same `project` and report paths the same way."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Annotated, TypeVar

import strawberry
from strawberry.types import Info

from graph.schema.context import Context
from resolvers.anomalies.service import project_for as select
from resolvers.core.errors import InputError, Problem
from storage.models import Project

T = TypeVar("T")
ProjectRef = Annotated[str | None, strawberry.argument(
    description="A project id or name (seed 001's account_id); default the key's own project.")]


def camel(path: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), path)


async def spelled(work: Awaitable[T], prefix: str = "") -> T:
    """Input errors with their paths in camelCase, under the argument they came in."""
    try:
        return await work
    except InputError as error:
        raise InputError([Problem(prefix + camel(p.path), p.message) for p in error.problems]) from None


async def project_for(info: Info[Context, None], ref: str | None) -> Project:
    return await spelled(select(info.context.services, info.context.principal, ref))

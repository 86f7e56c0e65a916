"""Experiment queries and mutations: resolvers/experiments/service.py, as REST uses it, with its messages.

Scoping is the service's: a project key sees its project, an account key its account's projects (and names one),
the admin key any; another tenant's experiment is not found, as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from graph.schema.context import Context
from graph.schema.experiments.types import Experiment, ExperimentStatus
from graph.schema.project_ref import spelled
from resolvers.experiments import service
from storage.models.experiments import ExperimentStatus as StoredStatus

ProjectRef = Annotated[str | None, strawberry.argument(
    description="A project id or name; default the key's own (an account key must name one).")]

@strawberry.input(description="Variants are names, the first the control; weights whole percentages summing to 100 "
                              "(default: an even split).")
class CreateExperimentInput:
    name: str
    variants: list[str]
    goal_event: str
    weights: list[int] | None = None
    description: str | None = None
    project: ProjectRef = None


def _stored(status: ExperimentStatus | None) -> StoredStatus | None:
    return None if status is None else StoredStatus(status.value)


@strawberry.type
class ExperimentQuery:
    @strawberry.field(description="An experiment by id, in the named project or any the key may read.")
    async def experiment(self, info: Info[Context, None], id: strawberry.ID, project: ProjectRef = None) -> Experiment:
        ctx = info.context
        return Experiment(doc=await spelled(service.find(ctx.services, ctx.principal, str(id), project)))

    @strawberry.field(description="A project's experiments, newest first.")
    async def experiments(
        self, info: Info[Context, None], project: ProjectRef = None, status: ExperimentStatus | None = None
    ) -> list[Experiment]:
        ctx = info.context
        found = await spelled(service.project_for(ctx.services, ctx.principal, project))
        return [Experiment(doc=e) for e in await service.list_in(ctx.services, found.id, _stored(status))]


async def project_experiments(ctx: Context, project_id: str, status: ExperimentStatus | None) -> list[Experiment]:
    """Project.experiments: the caller's access to the project is checked by the Project field."""
    return [Experiment(doc=e) for e in await service.list_in(ctx.services, project_id, _stored(status))]


async def project_experiment(ctx: Context, project_id: str, name: str) -> Experiment | None:
    found = await ctx.services.store.experiments.experiment_by_name(project_id, name)
    return None if found is None else Experiment(doc=found)


@strawberry.type
class ExperimentMutation:
    @strawberry.mutation(description="Defines an A/B test; active at once (trackers assign from it).")
    async def create_experiment(self, info: Info[Context, None], input: CreateExperimentInput) -> Experiment:
        ctx = info.context

        async def create() -> Experiment:
            project = await service.project_for(ctx.services, ctx.principal, input.project)
            return Experiment(doc=await service.create(
                ctx.services, project.id, name=input.name, variants=input.variants, goal_event=input.goal_event,
                weights=input.weights, description=input.description,
            ))

        return await spelled(create(), "input.")

    @strawberry.mutation(description="Active and paused go either way; completed is final and may name a winner.")
    async def update_experiment(
        self, info: Info[Context, None], id: strawberry.ID, status: ExperimentStatus, winner: str | None = None,
        project: ProjectRef = None,
    ) -> Experiment:
        ctx = info.context

        async def update() -> Experiment:
            found = await service.find(ctx.services, ctx.principal, str(id), project)
            return Experiment(doc=await service.update(ctx.services, found, status=status.value, winner=winner))

        return await spelled(update())

    @strawberry.mutation(description="Deletes the definition; the tracked events stay.")
    async def delete_experiment(self, info: Info[Context, None], id: strawberry.ID, project: ProjectRef = None) -> bool:
        ctx = info.context

        async def delete() -> bool:
            return await service.delete(ctx.services, await service.find(ctx.services, ctx.principal, str(id), project))

        return await spelled(delete())

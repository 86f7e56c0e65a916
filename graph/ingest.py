"""The ingestEvents mutation: the same pipeline as POST /api/events."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from graph.context import Context
from graph.types.entities import Event
from graph.types.inputs import EventInput
from resolvers.errors import InputError
from resolvers.ingest import ingest_typed


@strawberry.type(description="A field that failed validation, by its path in the input.")
class FieldProblem:
    path: str
    message: str


@strawberry.type(description="The input was rejected; nothing was stored.")
class InputValidationError:
    message: str
    problems: list[FieldProblem]


@strawberry.type
class IngestSuccess:
    ingested: int
    events: list[Event]


IngestEventsResult = Annotated[
    IngestSuccess | InputValidationError, strawberry.union("IngestEventsResult")
]


@strawberry.type
class IngestMutation:
    @strawberry.mutation(description="Ingest a batch atomically: all events are stored, or none.")
    async def ingest_events(self, info: Info[Context, None], events: list[EventInput]) -> IngestEventsResult:
        ctx = info.context
        try:
            result = await ingest_typed(
                ctx.services, ctx.project_id, [e.as_wire() for e in events], prefix="events"
            )
        except InputError as exc:
            return InputValidationError(
                message=str(exc), problems=[FieldProblem(path=p.path, message=p.message) for p in exc.problems]
            )
        return IngestSuccess(ingested=len(result.events), events=[Event.of(e) for e in result.events])

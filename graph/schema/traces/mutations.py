"""The ingestEvents mutation: the same pipeline as POST /api/events."""

from __future__ import annotations

from typing import Annotated

import orjson
import strawberry
from strawberry.types import Info

from graph.schema.context import Context
from graph.schema.traces.inputs import EventInput
from graph.schema.traces.types import Event
from resolvers.core.errors import InputError
from resolvers.core.idempotency import HEADER, fingerprint, new_claim
from resolvers.traces.ingest import ingest_typed
from storage.contract import CommitResult


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
        wire = [e.as_wire() for e in events]
        try:
            key = ctx.request.headers.get(HEADER) if ctx.request is not None else None
            if key is None:
                result = await ingest_typed(ctx.services, ctx.project_id, wire, prefix="events")
                return IngestSuccess(ingested=len(result.events), events=[Event.of(e) for e in result.events])
            # The answer remembered for a retry is the event ids; a replay reads the events back.
            claim = new_claim(
                ctx.project_id, key,
                fingerprint(b"ingestEvents", orjson.dumps(wire, default=str, option=orjson.OPT_SORT_KEYS)),
                ctx.services.limits.idempotency_window.total_seconds(),
                _event_ids,
            )
            result = await ingest_typed(ctx.services, ctx.project_id, wire, prefix="events", claim=claim)
            if not result.replayed:
                return IngestSuccess(ingested=len(result.events), events=[Event.of(e) for e in result.events])
            assert result.response is not None
            ids = orjson.loads(result.response.body)
            docs = {d.id: d for d in await ctx.services.store.traces.events_by_ids(ctx.project_id, ids)}
            return IngestSuccess(ingested=len(ids), events=[Event.of(docs[i]) for i in ids if i in docs])
        except InputError as exc:
            return InputValidationError(
                message=str(exc), problems=[FieldProblem(path=p.path, message=p.message) for p in exc.problems]
            )


def _event_ids(result: CommitResult) -> tuple[int, bytes, str]:
    return 200, orjson.dumps([e.id for e in result.events]), "application/json"

"""The executor graphql-core runs operations with: strawberry's, with a fresh memo for each subscription event.

graphql-core (3.3) memoizes collected subfields on the executor, keyed by the
id() of the field list being completed, and keeps that list alive in the entry
so the id cannot be reused. A subscription's per-event executors are shallow
copies of the subscription's executor (Executor.build_per_event_executor), so
they all share its memo dict; and every event's execution collects its root
fields into fresh lists, so no entry is ever found again. Each delivered event
added ~10 objects (~2 kB) per object type it selects, kept until the
subscription ended: at 200 events/s and six subscribers, hundreds of MB within
minutes, and full garbage collections that walked them all.

GraphQL.js memoizes the same function in WeakMaps, so its entries die with
their execution. Here each event's executor gets empty memos of its own: within
one event they still serve every item of a list, which is all they ever served
(no later event could hit them), and they go away with the event's execution.
Only build_per_event_executor, graphql-core's documented point for per-event
executors, is overridden; the attributes reset are graphql-core's own, and
tests/graph/test_live_memory.py fails if a release renames them and the growth
returns.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLObjectType, Undefined
from graphql.pyutils import Path, RefMap, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graph.schema.fast_fields import MISS, leaf_value

# Memos graphql-core keeps on the executor and shares with its shallow copies (name, empty value).
PER_EXECUTION_MEMOS: tuple[tuple[str, type], ...] = (
    ("_relevant_sub_fields", dict),  # Executor.collect_subfields
    ("_stream_usages", RefMap),  # Executor.get_stream_usage
    ("_initial_execution_plans", RefMap),  # IncrementalExecutor.build_root_execution_plan
    ("_deferred_execution_plans", RefMap),  # IncrementalExecutor.build_sub_execution_plan
)


class LensGraphExecutor(StrawberryGraphQLCoreExecutionContext):
    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_fields, with scalar fields that are plain attributes read and serialized
        directly (fast_fields.py): no Path, no GraphQLResolveInfo, no complete_value for them. The rest is
        graphql-core's code: fields in order, awaitables gathered, settled in the background on an error."""
        manager = self.middleware_manager
        if manager is not None and manager.middlewares:  # an extension wraps every resolver: no shortcuts
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        fields = parent_type.fields
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                node = field_details_list[0].node
                field = fields.get(node.name.value)
                if field is not None and not node.arguments:
                    value = leaf_value(field, source_value)
                    if value is not MISS:
                        results[response_name] = value
                        continue
                result = self.execute_field(
                    parent_type, source_value, field_details_list, Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def build_per_event_executor(self, payload: Any) -> LensGraphExecutor:
        executor = super().build_per_event_executor(payload)
        for name, empty in PER_EXECUTION_MEMOS:
            if hasattr(executor, name):
                setattr(executor, name, empty())
        return executor  # type: ignore[return-value]

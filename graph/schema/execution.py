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

from graphql import GraphQLObjectType
from graphql.pyutils import RefMap
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
    def execute_field(
        self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any, path: Any, position_context: Any
    ) -> Any:
        # Scalar fields that are plain attributes skip graphql-core's per-field work (fast_fields.py),
        # unless a schema extension wraps resolvers (strawberry always passes a manager, most often empty).
        manager = self.middleware_manager
        if manager is None or not manager.middlewares:
            first = field_details_list[0].node
            field = parent_type.fields.get(first.name.value)
            if field is not None and not first.arguments:
                value = leaf_value(field, source)
                if value is not MISS:
                    return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def build_per_event_executor(self, payload: Any) -> LensGraphExecutor:
        executor = super().build_per_event_executor(payload)
        for name, empty in PER_EXECUTION_MEMOS:
            if hasattr(executor, name):
                setattr(executor, name, empty())
        return executor  # type: ignore[return-value]

"""The executor graphql-core runs operations with: strawberry's, with a fresh memo for each subscription event,
and the fields graph/schema/fast_fields.py plans read and completed in execute_fields itself.

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

from graphql import GraphQLField, GraphQLObjectType, Undefined
from graphql.pyutils import Path, RefMap, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graph.schema.fast_fields import LEAF, LIST, MISS, OBJECT, SLOW, leaf_reader, plan_of

# Memos graphql-core keeps on the executor and shares with its shallow copies (name, empty value).
PER_EXECUTION_MEMOS: tuple[tuple[str, type], ...] = (
    ("_relevant_sub_fields", dict),  # Executor.collect_subfields
    ("_stream_usages", RefMap),  # Executor.get_stream_usage
    ("_initial_execution_plans", RefMap),  # IncrementalExecutor.build_root_execution_plan
    ("_deferred_execution_plans", RefMap),  # IncrementalExecutor.build_sub_execution_plan
    ("_field_steps", dict),  # LensGraphExecutor._steps
)

_tuple_new = tuple.__new__  # Path is a NamedTuple: its own constructor is a Python-level function


def _path(prev: Path | None, key: str | int, typename: str | None) -> Path:
    return _tuple_new(Path, (prev, key, typename))


class LensGraphExecutor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (parent type, id of a grouped field set) -> (the set, kept so its id is not reused; its steps)
        self._field_steps: dict[tuple[GraphQLObjectType, int], tuple[Any, list[tuple[Any, ...]]]] = {}

    def _steps(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> list[tuple[Any, ...]]:
        """What execute_fields does with each field of a selection, worked out once per selection: a list's
        items share theirs (collect_subfields memoizes it), so 1,000 events look their fields up once.
        (response name, kind, type, nullable, getter, field or None, field details, no directives)."""
        key = (parent_type, id(grouped_field_set))
        cached = self._field_steps.get(key)
        if cached is not None:
            return cached[1]
        fields = parent_type.fields
        steps: list[tuple[Any, ...]] = []
        for response_name, field_details_list in grouped_field_set.items():
            node = field_details_list[0].node
            field = fields.get(node.name.value)
            if field is None or node.arguments:
                steps.append((response_name, SLOW, None, False, None, field, field_details_list, False))
                continue
            kind, of_type, nullable, getter = plan_of(field)
            if kind is LEAF:
                getter = leaf_reader(field)
            steps.append((response_name, kind, of_type, nullable, getter, field, field_details_list,
                          not node.directives))
        self._field_steps[key] = (grouped_field_set, steps)
        return steps

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_fields, with the fields fast_fields.py plans read and completed here: no
        GraphQLResolveInfo, no strawberry wrapper, no complete_value. The rest is graphql-core's loop:
        fields in order, awaitables gathered, settled in the background on an error."""
        manager = self.middleware_manager
        if manager is not None and manager.middlewares:  # an extension wraps every resolver: no shortcuts
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, kind, of_type, nullable, getter, field, field_details_list, plain in self._steps(
                parent_type, grouped_field_set
            ):
                result: Any = MISS
                if kind is LEAF:
                    # fast_fields.leaf_value, inline: the value read and serialized, or MISS for graphql-core.
                    try:
                        value = getter(source_value)
                        if value is None or value is Undefined:
                            result = None if nullable else MISS
                        else:
                            result = of_type.coerce_output_value(value)
                            if result is None or result is Undefined:
                                result = MISS
                    except Exception:
                        result = MISS
                    if result is not MISS:
                        results[response_name] = result  # a serialized scalar: never awaitable
                        continue
                elif kind is not SLOW and plain and position_context is None:
                    result = self._fast_object(
                        kind, of_type, nullable, getter, field, field_details_list, source_value, path,
                        response_name, parent_type,
                    )
                if result is MISS:
                    result = self.execute_field(
                        parent_type, source_value, field_details_list, _path(path, response_name, parent_type.name),
                        position_context,
                    )
                    if result is Undefined:
                        continue
                results[response_name] = result
                if type(result) is not dict and result is not None and is_awaitable(result):
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

    def _fast_object(
        self, kind: str, of_type: GraphQLObjectType, nullable: bool, getter: Any, field: GraphQLField,
        field_details_list: Any, source_value: Any, path: Path | None, response_name: str,
        parent_type: GraphQLObjectType,
    ) -> Any:
        """An OBJECT or LIST field completed as graphql-core's execute_field would (errors included), or MISS."""
        try:
            value = getter(source_value)
        except Exception:
            return MISS
        if value is MISS or self.is_awaitable(value):
            return MISS
        if kind is LIST and (type(value) is not list or any(item is None for item in value)):
            return MISS  # graphql-core's own error for a null item
        if value is None:
            return None if nullable else MISS
        grouped, new_defer_usages, _forbidden = self.collect_subfields(of_type, field_details_list)
        if new_defer_usages:
            return MISS
        field_path = _path(path, response_name, parent_type.name)
        try:
            if kind is OBJECT:
                completed = self.execute_fields(of_type, value, field_path, grouped, None)
            else:
                completed = self._fast_list(of_type, value, field_path, grouped)
        except Exception as raw_error:
            self.handle_field_error(raw_error, field.type, field_details_list, field_path)
            return None
        if type(completed) in (dict, list) or not self.is_awaitable(completed):
            return completed

        async def await_completed() -> Any:
            try:
                return await completed
            except Exception as raw_error:
                self.handle_field_error(raw_error, field.type, field_details_list, field_path)
                return None

        return await_completed()

    def _fast_list(self, of_type: GraphQLObjectType, items: list[Any], path: Path, grouped: Any) -> Any:
        """Each item's sub-selection; the items are non-null, so an item's error is the list's (fast_fields.py)."""
        is_awaitable = self.is_awaitable
        completed: list[Any] = []
        pending: list[int] = []
        try:
            for index, item in enumerate(items):
                value = self.execute_fields(of_type, item, _path(path, index, None), grouped, None)
                completed.append(value)
                if type(value) is not dict and is_awaitable(value):
                    pending.append(index)
        except Exception:
            if pending:
                self.settle_in_background([completed[index] for index in pending])
            raise
        if not pending:
            return completed

        async def gather_items() -> list[Any]:
            awaited = await gather_with_cancel(*(completed[index] for index in pending))
            for index, value in zip(pending, awaited, strict=True):
                completed[index] = value
            return completed

        return gather_items()

    def build_per_event_executor(self, payload: Any) -> LensGraphExecutor:
        executor = super().build_per_event_executor(payload)
        for name, empty in PER_EXECUTION_MEMOS:
            if hasattr(executor, name):
                setattr(executor, name, empty())
        return executor  # type: ignore[return-value]

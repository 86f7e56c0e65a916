"""A query-cost limit: the number of objects a query may resolve, at most.

Strawberry ships depth, token and alias limits but no cost limit. Cost is
computed at validation (the extension must run after ValidationCache, which
sets the validation result), with the operation's variables, so `first` passed
as a variable counts like a literal: every field costs 1, and a field with
`first: N` (or a paged field without it, at the default page size) multiplies
the cost of what it selects by N.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension

PAGED_FIELDS = frozenset({"events", "sessions", "agents"})


def _page_size(field: FieldNode, variables: Mapping[str, Any], default_page: int) -> int:
    for arg in field.arguments or ():
        if arg.name.value != "first":
            continue
        value = arg.value
        if isinstance(value, IntValueNode):
            return max(int(value.value), 1)
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            return max(given, 1) if isinstance(given, int) else default_page
    return default_page if field.name.value in PAGED_FIELDS else 1


def selection_cost(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    default_page: int,
    visiting: frozenset[str] = frozenset(),
) -> int:
    if selection_set is None:
        return 0
    total = 0
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            inner = selection_cost(node.selection_set, fragments, variables, default_page, visiting)
            total += 1 + _page_size(node, variables, default_page) * inner
        elif isinstance(node, InlineFragmentNode):
            total += selection_cost(node.selection_set, fragments, variables, default_page, visiting)
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in visiting:
                total += selection_cost(
                    fragment.selection_set, fragments, variables, default_page, visiting | {name}
                )
    return total


class QueryCostLimiter(SchemaExtension):
    def __init__(self, max_cost: int, default_page: int = 50) -> None:
        self.max_cost = max_cost
        self.default_page = default_page

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is not None and not ctx.pre_execution_errors:
            fragments = {
                d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
            }
            variables = ctx.variables or {}
            cost = max(
                (
                    selection_cost(d.selection_set, fragments, variables, self.default_page)
                    for d in document.definitions
                    if isinstance(d, OperationDefinitionNode)
                ),
                default=0,
            )
            if cost > self.max_cost:
                ctx.pre_execution_errors = [
                    GraphQLError(
                        f"query cost {cost} exceeds the maximum of {self.max_cost}; ask for smaller pages",
                        extensions={"code": "QUERY_LIMIT_EXCEEDED", "cost": cost, "maxCost": self.max_cost},
                    )
                ]
        yield

"""Depth, alias, cost and size limits of a GraphQL document, measured in time linear in the document.

Strawberry's QueryDepthLimiter and MaxAliasesLimiter, like the cost walk this
replaces, walk each operation with every fragment expanded where it is spread.
A few hundred bytes of fragments that each spread the previous one twice expand
to 2**n fields, and those walks took seconds at n = 20, twice as long per level.
Here each fragment is measured once, its measure is memoised by name, and a
spread adds the memoised measure, so the work is linear in the document however
large its expansion. Every running total is checked as it grows, and measuring
stops at the first limit exceeded: the totals of a fragment are lower bounds of
those of every operation that spreads it (a field's page size is at least 1).

Measured, as strawberry's limiters and our former cost limit did:
- depth: the levels of fields below an operation's root fields (`{ a { b } }` is 1),
  introspection fields (`__schema`, `__type`) not descended into, as strawberry did;
- aliases: aliased fields in the whole document, fragments expanded;
- cost: the objects an operation may resolve, every field 1, and a field with
  `first: N` (or a paged field without it, at the default page size) multiplying
  what it selects by N; `first` given as a variable counts as its value;
- fields: the fields in the whole document once fragments are expanded, so that
  the size of what later steps may walk is bounded whatever the page sizes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from graphql import (
    DocumentNode,
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

from graph.schema.errors import LIMIT_EXCEEDED

PAGED_FIELDS = frozenset({"events", "sessions", "agents"})


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_cost: int
    max_fields: int
    default_page: int = 50


@dataclass(slots=True)
class Measure:
    """What a selection set selects, fragments expanded."""

    fields: int = 0
    levels: int = 0  # of nested fields: `{ a { b } }` has 2
    aliases: int = 0
    cost: int = 0

    def add(self, other: Measure) -> None:
        self.fields += other.fields
        self.levels = max(self.levels, other.levels)
        self.aliases += other.aliases
        self.cost += other.cost


NOTHING = Measure()


class LimitExceeded(Exception):
    def __init__(self, error: GraphQLError) -> None:
        super().__init__(error.message)
        self.error = error


def limit_error(limit: str, maximum: int, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": LIMIT_EXCEEDED, "limit": limit, "maximum": maximum})


def check_limits(document: DocumentNode, variables: Mapping[str, Any], limits: Limits) -> GraphQLError | None:
    """The error of the first limit the document exceeds, or None."""
    try:
        _Meter(document, variables, limits).measure_document()
    except LimitExceeded as exc:
        return exc.error
    return None


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


def _spread_names(selection_set: SelectionSetNode) -> list[str]:
    """Names of the fragments spread in a selection set, not following them."""
    names: list[str] = []
    pending = [selection_set]
    while pending:
        for node in pending.pop().selections:
            if isinstance(node, FragmentSpreadNode):
                names.append(node.name.value)
            elif isinstance(node, (FieldNode, InlineFragmentNode)) and node.selection_set is not None:
                pending.append(node.selection_set)
    return names


class _Meter:
    def __init__(self, document: DocumentNode, variables: Mapping[str, Any], limits: Limits) -> None:
        self.limits = limits
        self.variables = variables
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        self.operations: list[OperationDefinitionNode] = []
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                self.operations.append(definition)
            elif isinstance(definition, FragmentDefinitionNode):
                # Duplicate names are a validation error; measuring the first is enough until then.
                self.fragments.setdefault(definition.name.value, definition)
        self.measured: dict[str, Measure] = {}
        self.operation = "anonymous"
        self.fields = 0  # of the whole document
        self.aliases = 0

    def measure_document(self) -> None:
        for operation in self.operations:
            self.operation = operation.name.value if operation.name else "anonymous"
            self._measure_fragments(operation.selection_set)
            measure = self._measure(operation.selection_set, 0)
            # Totals of the document: every operation in it is validated, whichever runs.
            self.fields += measure.fields
            self.aliases += measure.aliases
            self._check(Measure(self.fields, measure.levels, self.aliases, measure.cost), 0)

    def _measure_fragments(self, selection_set: SelectionSetNode) -> None:
        """Measure every fragment reachable from a selection set, each after those it spreads.

        Iterative, because a chain of fragments may be longer than Python's recursion
        limit allows (the parser bounds nesting within a definition, not across spreads).
        A fragment spread while it is being measured is part of a cycle, which
        validation reports; it adds nothing to the measure meanwhile.
        """
        in_progress: set[str] = set()
        stack: list[tuple[str | None, Iterator[str]]] = [(None, iter(_spread_names(selection_set)))]
        while stack:
            name, spreads = stack[-1]
            spread = next(spreads, None)
            if spread is None:
                stack.pop()
                if name is not None:
                    fragment = self.fragments[name]
                    # Measured on its own, at depth 0: a lower bound wherever it is spread.
                    # Depth is not counted on introspection types, as below introspection fields.
                    introspection = fragment.type_condition.name.value.startswith("__")
                    self.measured[name] = self._measure(fragment.selection_set, None if introspection else 0)
                    in_progress.discard(name)
            elif spread in self.fragments and spread not in self.measured and spread not in in_progress:
                in_progress.add(spread)
                stack.append((spread, iter(_spread_names(self.fragments[spread].selection_set))))

    def _measure(self, selection_set: SelectionSetNode, enclosing: int | None) -> Measure:
        """The measure of a selection set below `enclosing` fields (None: depth not counted).

        Recursive within one definition only, whose nesting the parser bounds (200 levels).
        """
        if enclosing is not None and enclosing > self.limits.max_depth:
            self._too_deep()  # before descending further: a deep query is refused for its depth
        total = Measure()
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                # Introspection fields are not descended into for depth, as strawberry's limiter did not.
                introspection = node.name.value.startswith("__")
                inner = NOTHING
                if node.selection_set is not None:
                    below = None if introspection or enclosing is None else enclosing + 1
                    inner = self._measure(node.selection_set, below)
                total.add(
                    Measure(
                        fields=1 + inner.fields,
                        levels=1 if introspection else 1 + inner.levels,
                        aliases=(1 if node.alias else 0) + inner.aliases,
                        cost=1 + _page_size(node, self.variables, self.limits.default_page) * inner.cost,
                    )
                )
            elif isinstance(node, InlineFragmentNode):
                total.add(self._measure(node.selection_set, enclosing))
            elif isinstance(node, FragmentSpreadNode):  # unknown ones are a validation error; cycles skipped above
                total.add(self.measured.get(node.name.value, NOTHING))
            self._check(total, enclosing)
        return total

    def _too_deep(self) -> NoReturn:
        limits = self.limits
        raise LimitExceeded(
            limit_error(
                "depth", limits.max_depth, f"'{self.operation}' exceeds maximum operation depth of {limits.max_depth}"
            )
        )

    def _check(self, measure: Measure, enclosing: int | None) -> None:
        limits = self.limits
        # The deepest field has `enclosing + levels - 1` fields above it; strawberry allowed max_depth.
        if enclosing is not None and enclosing + measure.levels - 1 > limits.max_depth:
            self._too_deep()
        if measure.fields > limits.max_fields:
            raise LimitExceeded(
                limit_error(
                    "fields",
                    limits.max_fields,
                    f"the query selects at least {measure.fields} fields once its fragments are expanded; "
                    f"the maximum is {limits.max_fields}",
                )
            )
        if measure.aliases > limits.max_aliases:
            raise LimitExceeded(
                limit_error(
                    "aliases",
                    limits.max_aliases,
                    f"at least {measure.aliases} aliases found; the maximum is {limits.max_aliases}",
                )
            )
        if measure.cost > limits.max_cost:
            raise LimitExceeded(
                limit_error(
                    "cost",
                    limits.max_cost,
                    f"query cost of at least {measure.cost} exceeds the maximum of {limits.max_cost}; "
                    "ask for smaller pages",
                )
            )

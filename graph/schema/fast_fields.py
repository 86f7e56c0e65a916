"""Fields read straight off their object, without graphql-core's per-field machinery.

A 1,000-event trace selects some 12,000 fields: id, type, timestamp, payload and hash of each
event, its edge and node, and its session, parent and children with their ids. For each,
graphql-core builds a Path and a GraphQLResolveInfo, looks for arguments, calls strawberry's
wrapper (which builds an Info, then calls getattr or the resolver), checks for an awaitable, and
walks complete_value down to the scalar's serializer or the object's sub-selection: about three
quarters of the nested trace query's time.

The plan of a field says what can be skipped:

- LEAF: a "basic" strawberry field (no resolver, no field extensions: only getattr) of a scalar or
  enum type, nullable or not. The executor reads it (leaf_reader) and serializes it.
- OBJECT / LIST: a field without arguments of an object type (or a list of non-null objects)
  without is_type_of, that is either basic or answered by its object's known_field(name) (a
  value the object already holds, the same one its resolver returns first). The executor
  (execution.py) then runs the object's sub-selection itself.

Anything else, and any value these paths would not complete exactly as graphql-core does (a null
for a non-null field, a value the scalar refuses, no known value), answers MISS: graphql-core's own
path then runs, and produces the same value or the same error as before.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    is_leaf_type,
)

MISS: Any = object()  # "not read here": graphql-core's path decides
KNOWN = "known_field"  # the method of a GraphQL object that answers some resolver fields without a store call
PLAN = "_lensgraph_plan"  # where a field's plan is kept: on its strawberry resolver (one per field of a schema)

LEAF, OBJECT, LIST, SLOW = "leaf", "object", "list", "slow"
# (kind, type: the leaf or object type, nullable, getter: source -> value or MISS)
Plan = tuple[str, Any, bool, Callable[[Any], Any] | None]
SLOW_PLAN: Plan = (SLOW, None, False, None)


def _basic(field: GraphQLField) -> bool:
    return field.resolve is not None and getattr(field.resolve, "_is_default", False)


def _known_getter(field: GraphQLField) -> Callable[[Any], Any] | None:
    definition = field.extensions.get("strawberry-definition")
    origin = getattr(definition, "origin", None)
    if definition is None or definition.extensions or getattr(definition, "permission_classes", None):
        return None
    if origin is None or not callable(getattr(origin, KNOWN, None)):
        return None
    name = definition.python_name
    return lambda source: getattr(source, KNOWN)(name) if hasattr(source, KNOWN) else MISS


def _build(field: GraphQLField) -> Plan:
    if field.args:
        return SLOW_PLAN
    inner, nullable = field.type, True
    if isinstance(inner, GraphQLNonNull):
        inner, nullable = inner.of_type, False
    if is_leaf_type(inner):
        return (LEAF, inner, nullable, None) if _basic(field) else SLOW_PLAN
    resolve = field.resolve
    getter = (lambda source: resolve(source, None)) if _basic(field) and resolve else _known_getter(field)
    if getter is None:
        return SLOW_PLAN
    kind = OBJECT
    if isinstance(inner, GraphQLList):
        if not isinstance(inner.of_type, GraphQLNonNull):
            return SLOW_PLAN  # a nullable item's error would be caught at the item
        inner, kind = inner.of_type.of_type, LIST
    if not isinstance(inner, GraphQLObjectType) or inner.is_type_of is not None:
        return SLOW_PLAN
    return (kind, inner, nullable, getter)


def plan_of(field: GraphQLField) -> Plan:
    resolve = field.resolve
    plan = getattr(resolve, PLAN, None)
    if plan is None:
        plan = _build(field)
        if resolve is None:
            return plan
        setattr(resolve, PLAN, plan)
    return plan


def leaf_reader(field: GraphQLField) -> Callable[[Any], Any]:
    """How a LEAF field's value is read. A basic strawberry field's resolver calls get_result, which calls the
    field's default resolver with its python_name: with the default (getattr), that is an attrgetter, three
    Python calls fewer for each of a trace's ~7,000 scalars. Anything else: its resolver, as graphql-core calls it."""
    definition = field.extensions.get("strawberry-definition")
    resolve = field.resolve
    if (
        definition is not None and getattr(definition, "default_resolver", None) is getattr
        and getattr(definition, "base_resolver", True) is None and not definition.extensions
        and isinstance(getattr(definition, "python_name", None), str) and "." not in definition.python_name
    ):
        return attrgetter(definition.python_name)
    return lambda source: resolve(source, None)  # type: ignore[misc]

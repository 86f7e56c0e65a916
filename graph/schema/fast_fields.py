"""Scalar fields read straight off their object, without graphql-core's per-field machinery.

A 1,000-event trace selects about 7,000 scalar fields (id, type, timestamp, payload, hash, and the
ids of each event's session, parent and children). For each, graphql-core builds a
GraphQLResolveInfo, looks for arguments, calls strawberry's wrapper around getattr, checks for an
awaitable, then walks complete_value (non-null, list, leaf) to the scalar's serializer: about
three quarters of the nested trace query's execution time. A "basic" strawberry field (no
resolver, no field extensions) is only getattr, so for one whose type is a scalar or an enum
(nullable or not) leaf_value reads and serializes it directly. Anything else (arguments,
middleware, a null for a non-null field, a value the scalar refuses) answers None: the caller
then runs graphql-core's own path, which produces the same value or the same error as before.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLNonNull,
    Undefined,
    is_leaf_type,
)

# Per strawberry resolver (one per field of a built schema): (leaf type, nullable), or NOT_LEAF.
PLAN = "_lensgraph_leaf_plan"
NOT_LEAF = (None, False)
MISS = object()  # "not read here": graphql-core's path decides


def _plan(field: GraphQLField) -> tuple[GraphQLLeafType | None, bool]:
    resolve = field.resolve
    plan = getattr(resolve, PLAN, None)
    if plan is None:
        plan = NOT_LEAF
        if resolve is not None and getattr(resolve, "_is_default", False) and not field.args:
            inner, nullable = field.type, True
            if isinstance(inner, GraphQLNonNull):
                inner, nullable = inner.of_type, False
            if is_leaf_type(inner):
                plan = (inner, nullable)
        setattr(resolve, PLAN, plan)
    return plan


def leaf_value(field: GraphQLField, source: Any) -> Any:
    """The field's completed value, or MISS."""
    leaf, nullable = _plan(field)
    if leaf is None or field.resolve is None:
        return MISS
    try:
        value = field.resolve(source, None)
        if value is None or value is Undefined:
            return None if nullable else MISS
        coerced = leaf.coerce_output_value(value)
    except Exception:
        return MISS
    return MISS if coerced is None or coerced is Undefined else coerced

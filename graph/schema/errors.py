"""GraphQL errors with extensions.code, and masking of the unexpected ones."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import MaskErrors, SchemaExtension

from resolvers.core.auth import Forbidden, Unauthorized
from resolvers.core.errors import InputError, NotFound, Problem
from resolvers.live.bus import SubscriberOverflow
from storage.contract import Conflict, StoreUnavailable

log = logging.getLogger("lensgraph.graphql")

BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
INTERNAL = "INTERNAL_SERVER_ERROR"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
LIMIT_EXCEEDED = "QUERY_LIMIT_EXCEEDED"
CONFLICT = "CONFLICT"
UNAVAILABLE = "UNAVAILABLE"  # the store cannot answer now: retry after extensions.retryAfter seconds


def bad_input(field: str, message: str) -> InputError:
    return InputError(Problem(field, message))


def _code_for(error: GraphQLError) -> str:
    original = error.original_error
    if isinstance(original, InputError):
        return BAD_USER_INPUT
    if isinstance(original, NotFound):
        return NOT_FOUND
    if isinstance(original, SubscriberOverflow):
        return SubscriberOverflow.code
    if isinstance(original, (Unauthorized, Forbidden)):
        return original.code
    if isinstance(original, Conflict):
        return CONFLICT
    if isinstance(original, StoreUnavailable):
        return UNAVAILABLE
    if original is not None and not isinstance(original, GraphQLError):
        return INTERNAL
    # The parser's token limit; our other limits set their code (graph/query_limits.py, graph/validation.py).
    if "tokens. Parsing aborted" in error.message:
        return LIMIT_EXCEEDED
    if error.message.startswith("Syntax Error"):
        return PARSE_FAILED
    return VALIDATION_FAILED if error.path is None else BAD_USER_INPUT


def log_unavailable(error: GraphQLError) -> None:
    """One WARNING line, no traceback, for a store that could not answer: the client is told to retry."""
    if isinstance(error.original_error, StoreUnavailable):
        log.warning("unavailable in %s: %s", error.path, error.original_error.for_log())


def with_code(error: GraphQLError) -> GraphQLError:
    extensions = dict(error.extensions or {})
    if "code" in extensions:
        return error
    code = _code_for(error)
    extensions["code"] = code
    original = error.original_error
    if isinstance(original, InputError):
        extensions["problems"] = [{"path": p.path, "message": p.message} for p in original.problems]
    if isinstance(original, StoreUnavailable):
        extensions["retryAfter"] = original.retry_after
    if code == INTERNAL:
        log.error("unexpected error in %s", error.path, exc_info=original)
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original,
        extensions=extensions,
    )


class ErrorCodes(SchemaExtension):
    """Give every error a machine-readable extensions.code."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None) if result is not None else None
        if errors:
            result.errors = [with_code(e) for e in errors]  # type: ignore[union-attr]


class MaskInternalErrors(MaskErrors):
    """Hide the message of unexpected errors, keep their code."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda e: (e.extensions or {}).get("code") == INTERNAL)

    def _process_result(self, result: object) -> None:
        # Runs for every streamed subscription result: skip the base class's
        # runtime Protocol isinstance check, which dominated live fan-out profiles.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL}
        return masked


def overflow_error(exc: SubscriberOverflow) -> GraphQLError:
    """Yielded as a subscription's last value: graphql-core turns it into the message's error.

    Streamed results skip the operation extensions, so the error brings its code.
    """
    return GraphQLError(str(exc), extensions={"code": SubscriberOverflow.code})
